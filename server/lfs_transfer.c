/* lfs_transfer: the basic transfer behind the signed URLs of the batch API. An upload PUT
 * streams straight into the blob store while it is hashed (never buffered whole), and the
 * object becomes visible only when its SHA-256 and size match what was announced. */
#include "hf_internal.h"

#include "http_server.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_lfs.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

struct upload_state {
    struct store_upload *upload;
    struct meta_repo repo;
    char oid[65];
    bool counted; /* counted in the uploads-in-progress gauge */
};

static void upload_state_free(void *arg)
{
    struct upload_state *st = arg;

    store_upload_free(st->upload);
    if (st->counted)
        http_metrics_uploads_add(-1);
    free(st);
}

/* Finds the repo of a signed URL and checks the signature. Queues 403 or 404 on failure. */
static int signed_repo(struct meta_repo *repo, uint64_t *size, struct http_request *req,
                       enum lfs_action action)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum hub_repo_type type;
    const char *oid = http_request_param(req, "oid");
    int rc;

    if (!hf_type_from_segment(&type, http_request_param(req, "tp")) || !store_oid_is_valid(oid)) {
        http_reply_error(req, 404, "no such LFS object URL");
        return HUB_ENOTFOUND;
    }
    rc = meta_repo_get(repo, http_request_db(req), type, http_request_param(req, "ns"),
                       http_request_param(req, "name"), &err);
    if (rc == 0)
        rc = lfs_sign_check(req, action, repo->id, oid, size, &err);
    if (rc < 0) {
        if (rc == HUB_ENOTFOUND)
            http_reply_error_code(req, 404, "RepoNotFound", "repository not found");
        else
            http_reply_hub_error(req, &err);
    }
    return rc;
}

int lfs_upload_begin(struct http_request *req, void *arg, struct hub_error *err)
{
    struct upload_state *st;
    uint64_t size = 0;
    int64_t announced = http_request_content_length(req);
    int rc;

    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the upload state");
    http_request_set_state(req, st, upload_state_free);
    if (signed_repo(&st->repo, &size, req, LFS_ACTION_UPLOAD) < 0)
        return 0;
    if (announced >= 0 && (uint64_t)announced != size)
        return http_reply_error(req, 400, "Content-Length %lld differs from the object size %llu",
                                (long long)announced, (unsigned long long)size);
    if (size > http_request_config(req)->max_upload_bytes)
        return http_reply_error(
            req, 413,
            "object of %llu bytes is over the limit of %llu bytes (atelier serve "
            "--max-upload-bytes)",
            (unsigned long long)size,
            (unsigned long long)http_request_config(req)->max_upload_bytes);
    memcpy(st->oid, http_request_param(req, "oid"), 65);
    rc = store_upload_begin(&st->upload, hf_store(), st->oid, size, err);
    if (rc < 0)
        return rc;
    http_metrics_uploads_add(1);
    st->counted = true;
    return 0;
}

int lfs_upload_body(struct http_request *req, const char *data, size_t len, void *arg,
                    struct hub_error *err)
{
    struct upload_state *st = http_request_state(req);
    int rc = store_upload_write(st->upload, data, len, err);

    if (rc == HUB_ETOOBIG)
        return http_reply_error(req, 400, "%s", err->msg);
    return rc;
}

int lfs_upload_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct upload_state *st = http_request_state(req);
    struct meta *db = http_request_db(req);
    uint64_t size = store_upload_received(st->upload);
    int rc;

    rc = store_upload_finish(st->upload, err);
    if (rc == HUB_EINVAL) {
        hub_log(HUB_LOG_WARN, "lfs", "upload rejected oid=%s repo=%s/%s error=%s req=%s", st->oid,
                st->repo.ns, st->repo.name, err->msg, http_request_id(req));
        return http_reply_error(req, 400, "%s", err->msg);
    }
    if (rc < 0)
        return rc;
    rc = meta_lfs_object_add(db, st->oid, size, err);
    if (rc == 0)
        rc = meta_lfs_link(db, st->repo.id, st->oid, err);
    if (rc < 0)
        return rc;
    hub_log(HUB_LOG_INFO, "lfs", "object stored oid=%s bytes=%llu repo=%s/%s req=%s", st->oid,
            (unsigned long long)size, st->repo.ns, st->repo.name, http_request_id(req));
    return http_reply_empty(req, 200, HTTP_LENGTH_UNKNOWN);
}

int lfs_verify_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta_repo repo;
    const char *oid = http_request_param(req, "oid");
    size_t len;
    const char *body = http_request_body(req, &len);
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *size_value = json_object_get(root, "size");
    bool exists = false, linked = false;
    uint64_t signed_size = 0, stored = 0;
    int rc;

    rc = signed_repo(&repo, &signed_size, req, LFS_ACTION_VERIFY);
    if (rc < 0)
        goto out;
    rc = store_blob_stat(&exists, &stored, hf_store(), oid, err);
    if (rc == 0 && exists)
        rc = meta_lfs_is_linked(&linked, http_request_db(req), repo.id, oid, err);
    if (rc < 0)
        goto out;
    if (!exists || !linked) {
        rc = http_reply_error(req, 404, "object %s was not uploaded", oid);
        goto out;
    }
    if ((json_is_integer(size_value) && (uint64_t)json_integer_value(size_value) != stored) ||
        stored != signed_size) {
        rc = http_reply_error(req, 422, "object %s has %llu bytes, not the size announced", oid,
                              (unsigned long long)stored);
        goto out;
    }
    rc = http_reply_json(req, 200, json_object());
out:
    json_decref(root);
    return rc;
}

int lfs_download_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct meta_repo repo;
    const char *oid = http_request_param(req, "oid");
    bool linked = false;
    uint64_t size = 0;
    int rc;

    rc = signed_repo(&repo, &size, req, LFS_ACTION_DOWNLOAD);
    if (rc < 0)
        return 0;
    rc = meta_lfs_is_linked(&linked, http_request_db(req), repo.id, oid, err);
    if (rc < 0)
        return rc;
    if (!linked)
        return http_reply_error(req, 404, "object %s does not exist in this repo", oid);
    http_reply_header(req, "Accept-Ranges", "bytes");
    return hf_send_blob(req, oid, "application/octet-stream");
}
