/* lfs_sign: self-authorizing LFS URLs. The Hub clients send the upload PUT without any
 * credentials, so the batch reply hands out URLs that carry their own proof. Each URL has an
 * expiry time and an HMAC-SHA256 over the action, repo, object and expiry, keyed by a secret
 * that the daemon draws at start. A restart therefore invalidates URLs handed out before
 * it, and clients ask the batch API again. */
#include "hf_internal.h"

#include "http_parse.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LFS_SIGN_KEY_BYTES 32

static unsigned char sign_key[LFS_SIGN_KEY_BYTES];

static const char *const action_names[] = {"upload", "verify", "download"};

int lfs_sign_init(struct hub_error *err)
{
    if (RAND_bytes(sign_key, sizeof(sign_key)) != 1)
        return hub_error_set(err, HUB_EINTERNAL, "cannot draw the LFS URL signing key");
    return 0;
}

static void sign(char hex_out[65], enum lfs_action action, int64_t repo_id, const char *oid,
                 uint64_t size, int64_t expires)
{
    char message[256];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int n;

    n = snprintf(message, sizeof(message), "%s\n%lld\n%s\n%llu\n%lld", action_names[action],
                 (long long)repo_id, oid, (unsigned long long)size, (long long)expires);
    HMAC(EVP_sha256(), sign_key, sizeof(sign_key), (const unsigned char *)message, (size_t)n, mac,
         &mac_len);
    for (unsigned int i = 0; i < 32 && i < mac_len; i++)
        snprintf(hex_out + 2 * i, 3, "%02x", mac[i]);
}

int lfs_sign_href(char *buf, size_t cap, const char *base_url, enum lfs_action action,
                  const struct meta_repo *repo, const char *oid, uint64_t size, uint64_t ttl_s,
                  struct hub_error *err)
{
    int64_t expires = (int64_t)time(NULL) + (int64_t)ttl_s;
    char sig[65];
    int n;

    sign(sig, action, repo->id, oid, size, expires);
    n = snprintf(buf, cap, "%s/api/lfs/%s/%s/%s/%s%s?size=%llu&exp=%lld&sig=%s", base_url,
                 hub_repo_type_plural(repo->type), repo->ns, repo->name, oid,
                 action == LFS_ACTION_VERIFY ? "/verify" : "", (unsigned long long)size,
                 (long long)expires, sig);
    if (n < 0 || (size_t)n >= cap)
        return hub_error_set(err, HUB_ETOOBIG, "LFS URL does not fit in %zu bytes", cap);
    return 0;
}

static int parse_u64(uint64_t *out, const char *text)
{
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    n = strtoull(text, &end, 10);
    if (*end != '\0' || n == ULLONG_MAX)
        return -1;
    *out = n;
    return 0;
}

int lfs_sign_check(const struct http_request *req, enum lfs_action action, int64_t repo_id,
                   const char *oid, uint64_t *size_out, struct hub_error *err)
{
    const char *sig = http_request_query(req, "sig");
    uint64_t size, expires;
    char want[65];

    if (sig == NULL || strlen(sig) != 64 || parse_u64(&size, http_request_query(req, "size")) < 0 ||
        parse_u64(&expires, http_request_query(req, "exp")) < 0 || expires > INT64_MAX)
        return hub_error_set(err, HUB_EFORBIDDEN,
                             "LFS URL without a valid signature; request a new one from the "
                             "batch API");
    sign(want, action, repo_id, oid, size, (int64_t)expires);
    if (CRYPTO_memcmp(want, sig, 64) != 0)
        return hub_error_set(err, HUB_EFORBIDDEN,
                             "LFS URL signature does not match; request a new one from the "
                             "batch API");
    if ((int64_t)expires < (int64_t)time(NULL))
        return hub_error_set(err, HUB_EFORBIDDEN,
                             "LFS URL expired; request a new one from the batch API");
    *size_out = size;
    return 0;
}
