/* lfs_batch: the git-lfs batch API, POST {id}.git/info/lfs/objects/batch, for git-lfs and the
 * Hub clients. Always replies with the basic transfer (never Xet or multipart) and signed
 * URLs, because the Hub clients send the upload PUT without credentials. */
#include "hf_internal.h"

#include "hub_log.h"
#include "meta.h"
#include "meta_lfs.h"
#include "meta_lfs_access.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

#define LFS_MEDIA_TYPE "application/vnd.git-lfs+json"

static json_t *object_error(const char *oid, json_int_t size, int code, const char *message)
{
    return json_pack("{s:s,s:I,s:{s:i,s:s}}", "oid", oid, "size", size, "error", "code", code,
                     "message", message);
}

static json_t *action_json(struct http_request *req, enum lfs_action action,
                           const struct meta_repo *repo, const char *oid, uint64_t size)
{
    uint64_t ttl = http_request_config(req)->lfs_href_ttl_s;
    struct hub_error err = HUB_ERROR_INIT;
    char href[2048];

    if (lfs_sign_href(href, sizeof(href), http_request_base_url(req), action, repo, oid, size, ttl,
                      &err) < 0)
        return NULL;
    return json_pack("{s:s,s:I}", "href", href, "expires_in", (json_int_t)ttl);
}

/* Links an object that is already stored to the repo, so the upload can be skipped. The blob
 * is touched first so that gc keeps it until the commit that references it lands. Returns
 * HUB_ENOTFOUND when gc removed the blob after the caller saw it. */
static int link_existing(struct http_request *req, const struct meta_repo *repo, const char *oid,
                         uint64_t size, struct hub_error *err)
{
    struct meta *db = http_request_db(req);
    int rc = store_blob_touch(hf_store(), oid, err);

    if (rc == 0)
        rc = meta_lfs_object_add(db, oid, size, err);
    if (rc == 0)
        rc = meta_lfs_link(db, repo->id, oid, err);
    return rc;
}

static json_t *upload_action(struct http_request *req, const struct meta_repo *repo,
                             const char *oid, json_int_t size)
{
    return json_pack("{s:s,s:I,s:b,s:{s:o,s:o}}", "oid", oid, "size", size, "authenticated", 1,
                     "actions", "upload",
                     action_json(req, LFS_ACTION_UPLOAD, repo, oid, (uint64_t)size), "verify",
                     action_json(req, LFS_ACTION_VERIFY, repo, oid, (uint64_t)size));
}

static json_t *upload_object(struct http_request *req, const struct meta_repo *repo,
                             const char *oid, json_int_t size)
{
    struct hub_error err = HUB_ERROR_INIT;
    bool exists = false, readable = false;
    uint64_t stored = 0;
    int rc;

    if ((uint64_t)size > http_request_config(req)->max_upload_bytes) {
        char message[160];

        snprintf(message, sizeof(message),
                 "object of %lld bytes is larger than this hub's upload limit of %llu bytes "
                 "(atelier serve --max-upload-bytes)",
                 (long long)size, (unsigned long long)http_request_config(req)->max_upload_bytes);
        return object_error(oid, size, 422, message);
    }
    if (store_blob_stat(&exists, &stored, hf_store(), oid, &err) < 0)
        return object_error(oid, size, 500, err.msg);
    if (!exists)
        return upload_action(req, repo, oid, size);
    /* The store keeps one copy per oid, so thirty copies of a base model cost one. Knowing
     * the oid is not proof of having the bytes, so the upload is skipped only when the caller
     * may already read the object through some repo. Otherwise the client uploads it and the
     * PUT checks the SHA-256 before it links the object to this repo. Such a caller gets the
     * same reply whether or not the object is stored, so the reply does not reveal it. */
    if (meta_lfs_user_can_read(&readable, http_request_db(req), http_request_user(req)->id, oid,
                               &err) < 0)
        return object_error(oid, size, 500, err.msg);
    if (!readable)
        return upload_action(req, repo, oid, size);
    if (stored != (uint64_t)size)
        return object_error(oid, size, 422,
                            "an object with this oid is stored with another "
                            "size");
    rc = link_existing(req, repo, oid, (uint64_t)size, &err);
    if (rc == HUB_ENOTFOUND)
        return upload_action(req, repo, oid, size);
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "lfs",
                "linking a stored object failed oid=%s repo=%s/%s "
                "error=%s req=%s",
                oid, repo->ns, repo->name, err.msg, http_request_id(req));
        return object_error(oid, size, 500, err.msg);
    }
    return json_pack("{s:s,s:I,s:b}", "oid", oid, "size", size, "authenticated", 1);
}

static json_t *download_object(struct http_request *req, const struct meta_repo *repo,
                               const char *oid, json_int_t size)
{
    struct hub_error err = HUB_ERROR_INIT;
    bool linked = false, exists = false;
    uint64_t stored = 0;

    if (meta_lfs_is_linked(&linked, http_request_db(req), repo->id, oid, &err) < 0)
        return object_error(oid, size, 500, err.msg);
    if (linked && store_blob_stat(&exists, &stored, hf_store(), oid, &err) < 0)
        return object_error(oid, size, 500, err.msg);
    if (!linked || !exists)
        return object_error(oid, size, 404, "object does not exist in this repo");
    return json_pack("{s:s,s:I,s:b,s:{s:o}}", "oid", oid, "size", (json_int_t)stored,
                     "authenticated", 1, "actions", "download",
                     action_json(req, LFS_ACTION_DOWNLOAD, repo, oid, stored));
}

static int reply_lfs(struct http_request *req, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (text == NULL)
        return HUB_ENOMEM;
    return http_reply_buffer(req, status, LFS_MEDIA_TYPE, text, strlen(text));
}

/* Loads the repo and checks the caller's right to the batch's operation. Downloads need read
 * access and uploads write access, except for pull requests. A reader with a write token may
 * upload with no ref, because Hub clients send none while they open a pull request. The
 * reader may also upload with the ref refs/pr/N of an open pull request they authored. A
 * branch or tag ref still needs write access. Queues the error reply on failure. */
static int batch_repo_load(struct hf_repo_ctx *ctx, struct http_request *req, json_t *root,
                           bool upload)
{
    const char *ref = json_string_value(json_object_get(json_object_get(root, "ref"), "name"));
    int64_t number;
    int rc;

    rc = hf_repo_load_lfs(ctx, req, false);
    if (rc < 0 || !upload || hf_caller_can_write(req, ctx))
        return rc;
    if (ref == NULL)
        return hf_pr_check_contributor(req, ctx);
    if (hf_pr_number_parse(&number, ref))
        return hf_pr_check_commit(req, ctx, number);
    /* Load again with the write check, which queues the usual 401 or 403. */
    hf_repo_ctx_dispose(ctx);
    return hf_repo_load_lfs(ctx, req, true);
}

int lfs_batch_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    size_t len, i;
    const char *body = http_request_body(req, &len);
    const char *operation, *algo;
    json_error_t jerr;
    json_t *root, *objects, *out = NULL, *obj;
    bool upload;
    int rc;

    root = json_loadb(body, len, 0, &jerr);
    operation = json_string_value(json_object_get(root, "operation"));
    objects = json_object_get(root, "objects");
    algo = json_string_value(json_object_get(root, "hash_algo"));
    if (root == NULL || operation == NULL || !json_is_array(objects) ||
        (strcmp(operation, "upload") != 0 && strcmp(operation, "download") != 0)) {
        json_decref(root);
        return http_reply_error(req, 422,
                                "invalid batch request: expected operation upload or "
                                "download and an objects array");
    }
    if (algo != NULL && strcmp(algo, "sha256") != 0 && strcmp(algo, "sha_256") != 0) {
        rc = http_reply_error(req, 422, "unsupported hash_algo '%.40s': expected sha256", algo);
        goto out;
    }
    if (json_array_size(objects) > http_request_config(req)->max_batch_objects) {
        rc = http_reply_error(req, 413,
                              "batch of %zu objects is over the limit of %llu (atelier serve "
                              "--max-batch-objects)",
                              json_array_size(objects),
                              (unsigned long long)http_request_config(req)->max_batch_objects);
        goto out;
    }
    upload = strcmp(operation, "upload") == 0;
    rc = batch_repo_load(&ctx, req, root, upload);
    if (rc < 0)
        goto out;
    out = json_array();
    json_array_foreach(objects, i, obj)
    {
        const char *oid = json_string_value(json_object_get(obj, "oid"));
        json_t *size = json_object_get(obj, "size");

        if (oid == NULL || !store_oid_is_valid(oid) || !json_is_integer(size) ||
            json_integer_value(size) < 0) {
            json_array_append_new(out,
                                  object_error(oid != NULL ? oid : "",
                                               json_is_integer(size) ? json_integer_value(size) : 0,
                                               422, "invalid oid or size"));
            continue;
        }
        json_array_append_new(
            out, upload ? upload_object(req, &ctx.row, oid, json_integer_value(size))
                        : download_object(req, &ctx.row, oid, json_integer_value(size)));
    }
    rc = reply_lfs(
        req, 200,
        json_pack("{s:s,s:s,s:o}", "transfer", "basic", "hash_algo", "sha256", "objects", out));
out:
    json_decref(root);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}
