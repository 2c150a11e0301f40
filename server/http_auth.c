/* http_auth: finds the caller of a request. Tokens arrive as "Authorization: Bearer hf_..."
 * (API clients) or as the password of HTTP Basic (git and git-lfs credential helpers).
 * Browsers send the atelier_session cookie that the login page set. Secrets are never
 * logged: only the token id of a match is. */
#include "http_internal.h"

#include "hub_log.h"
#include "meta_session.h"
#include "meta_token.h"
#include "meta_user.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_CREDENTIAL_BYTES 512

/* Copies the token out of an Authorization header into buf. Returns the scheme or
 * HTTP_AUTH_NONE when the header is missing or not Bearer or Basic. */
static enum http_auth_via credential_from_header(char *buf, size_t cap, const char *header)
{
    char decoded[HTTP_MAX_CREDENTIAL_BYTES];
    const char *colon, *token;
    size_t len;
    long n;

    if (header == NULL)
        return HTTP_AUTH_NONE;
    if (strncasecmp(header, "Bearer ", 7) == 0) {
        header += 7;
        while (*header == ' ')
            header++;
        len = strlen(header);
        if (len == 0 || len >= cap)
            return HTTP_AUTH_NONE;
        memcpy(buf, header, len + 1);
        return HTTP_AUTH_BEARER;
    }
    if (strncasecmp(header, "Basic ", 6) != 0)
        return HTTP_AUTH_NONE;
    header += 6;
    while (*header == ' ')
        header++;
    len = strlen(header);
    if (len == 0 || len / 4 * 3 + 3 > sizeof(decoded) - 1)
        return HTTP_AUTH_NONE;
    n = http_base64_decode((unsigned char *)decoded, header, len);
    if (n < 0)
        return HTTP_AUTH_NONE;
    decoded[n] = '\0';
    if (memchr(decoded, '\0', (size_t)n) != NULL)
        return HTTP_AUTH_NONE;
    colon = strchr(decoded, ':');
    /* The password is the token; some tools put the token in the user name instead. */
    if (colon == NULL) {
        token = decoded;
    } else if (colon[1] != '\0') {
        token = colon + 1;
    } else {
        decoded[colon - decoded] = '\0';
        token = decoded;
    }
    len = strlen(token);
    if (len == 0 || len >= cap)
        return HTTP_AUTH_NONE;
    memcpy(buf, token, len + 1);
    return HTTP_AUTH_BASIC;
}

/* Copies the atelier_session cookie value into buf; returns false when absent. */
static bool session_from_cookie(char *buf, size_t cap, const char *cookie)
{
    const char *p = cookie;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, "atelier_session=", 16) == 0) {
            const char *value = p + 16;
            size_t len = strcspn(value, "; ");

            if (len == 0 || len >= cap)
                return false;
            memcpy(buf, value, len);
            buf[len] = '\0';
            return true;
        }
        p = strchr(p, ';');
    }
    return false;
}

static void user_fill(struct http_request *req, const struct meta_user *user, enum http_scope scope,
                      enum http_auth_via via, int64_t token_id)
{
    req->user_name = strdup(user->name);
    if (req->user_name == NULL)
        return; /* out of memory: stay anonymous */
    req->user.id = user->id;
    req->user.name = req->user_name;
    req->user.is_admin = user->is_admin;
    req->user.scope = scope;
    req->user.via = via;
    req->user.token_id = token_id;
}

static void auth_token(struct http_request *req, struct meta *db, const char *secret,
                       enum http_auth_via via)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_token token;
    struct meta_user user;
    int rc;

    rc = meta_token_lookup(&token, db, secret, &err);
    if (rc == 0)
        rc = meta_user_get_by_id(&user, db, token.user_id, &err);
    if (rc == 0) {
        user_fill(req, &user, token.scope == META_SCOPE_WRITE ? HTTP_SCOPE_WRITE : HTTP_SCOPE_READ,
                  via, token.id);
        return;
    }
    req->user.token_invalid = true;
    if (rc != HUB_EAUTH && rc != HUB_ENOTFOUND)
        hub_log(HUB_LOG_ERROR, "auth", "token lookup failed error=%s req=%s", err.msg,
                req->request_id);
}

/* Returns whether a request authenticated by the session cookie may act. Reads always may.
 * A write to the API (/api/...) or to git and LFS (.../NAME.git/...) must carry the session's
 * CSRF secret in X-CSRF-Token, as the pages' scripts send it. Page forms are left to the
 * pages, which check the csrf field of the form body. Compares in constant time. */
static bool session_csrf_ok(const struct http_request *req, const struct meta_session *session)
{
    const char *method = http_request_method(req);
    const char *path = http_request_path(req);
    const char *sent;
    size_t want_len = strlen(session->csrf);
    unsigned char diff = 0;

    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
        strcmp(method, "OPTIONS") == 0)
        return true;
    if (strncmp(path, "/api/", 5) != 0 && strstr(path, ".git/") == NULL)
        return true;
    sent = http_request_header(req, "X-CSRF-Token");
    if (sent == NULL || want_len == 0 || strlen(sent) != want_len)
        return false;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)(sent[i] ^ session->csrf[i]);
    return diff == 0;
}

static void auth_session(struct http_request *req, struct meta *db, const char *id)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_session session;
    struct meta_user user;
    int rc;

    rc = meta_session_lookup(&session, db, id, &err);
    if (rc == 0)
        rc = meta_user_get_by_id(&user, db, session.user_id, &err);
    if (rc == 0 && !session_csrf_ok(req, &session)) {
        /* A write without the session's CSRF token may come from another site's page, so
         * it runs as anonymous and gets the usual 401 where a user is needed. */
        hub_log(HUB_LOG_WARN, "auth", "session write without a valid X-CSRF-Token user=%s req=%s",
                user.name, req->request_id);
        return;
    }
    if (rc == 0) {
        user_fill(req, &user, HTTP_SCOPE_WRITE, HTTP_AUTH_SESSION, 0);
        return;
    }
    if (rc != HUB_EAUTH && rc != HUB_ENOTFOUND)
        hub_log(HUB_LOG_ERROR, "auth", "session lookup failed error=%s req=%s", err.msg,
                req->request_id);
}

bool http_auth_from_browser_page(const struct http_request *req)
{
    char secret[HTTP_MAX_CREDENTIAL_BYTES];
    const char *from;

    if (http_request_header(req, "Authorization") != NULL)
        return false;
    if (http_request_header(req, "X-CSRF-Token") != NULL)
        return true;
    /* The job page's EventSource cannot send headers, and once a logout in another tab has
     * cleared the cookie it sends none, so its URL carries from=page. */
    from = http_request_query(req, "from");
    if (from != NULL && strcmp(from, "page") == 0)
        return true;
    return session_from_cookie(secret, sizeof(secret), http_request_header(req, "Cookie"));
}

void http_auth_resolve(struct http_request *req)
{
    char secret[HTTP_MAX_CREDENTIAL_BYTES];
    struct meta *db = http_thread_db();
    enum http_auth_via via;

    if (db == NULL)
        return;
    via = credential_from_header(secret, sizeof(secret), http_request_header(req, "Authorization"));
    if (via != HTTP_AUTH_NONE) {
        auth_token(req, db, secret, via);
        req->user.password_not_token =
            req->user.token_invalid && via == HTTP_AUTH_BASIC &&
            (strncmp(secret, "hf_", 3) != 0 || strlen(secret) != META_TOKEN_SECRET_BYTES);
        return;
    }
    if (http_request_header(req, "Authorization") != NULL) {
        req->user.token_invalid = true;
        return;
    }
    /* API writes authenticated by the cookie must also carry the session's CSRF token
     * (session_csrf_ok), on top of the cookie's SameSite=Lax. */
    if (session_from_cookie(secret, sizeof(secret), http_request_header(req, "Cookie")))
        auth_session(req, db, secret);
}
