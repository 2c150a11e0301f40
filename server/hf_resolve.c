/* hf_resolve: file downloads, GET and HEAD on /{id}/resolve/{rev}/{path} (LFS files give the
 * object, sent from the blob store with sendfile) and /{id}/raw/{rev}/{path} (the git blob,
 * pointer text for LFS files). Single byte ranges get 206; see http_range_parse. */
#include "hf_internal.h"

#include "http_parse.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_lfs.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Regular files up to this size are read into memory to be sent. Larger ones are streamed
 * from git, so the memory of a request stays bounded whatever the blob size. */
#define HF_MAX_GIT_BLOB_MEMORY_BYTES (1u << 20)

static const char *content_type_for(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot == NULL)
        return "application/octet-stream";
    if (strcmp(dot, ".json") == 0)
        return "application/json";
    if (strcmp(dot, ".md") == 0 || strcmp(dot, ".txt") == 0 || strcmp(dot, ".jinja") == 0 ||
        strcmp(dot, ".py") == 0 || strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
        strcmp(dot, ".gitattributes") == 0 || strcmp(dot, ".jsonl") == 0)
        return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/* Sets Content-Disposition with the file name, keeping only bytes that are safe in a quoted
 * string, plus the exact UTF-8 name in filename* (RFC 6266). */
static void disposition_add(struct http_request *req, const char *path)
{
    const char *base = strrchr(path, '/');
    char plain[256], encoded[768], header[1100];
    size_t n = 0, e = 0;

    base = base != NULL ? base + 1 : path;
    for (const char *p = base; *p != '\0' && n + 1 < sizeof(plain); p++) {
        unsigned char c = (unsigned char)*p;

        plain[n++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '_';
    }
    plain[n] = '\0';
    for (const char *p = base; *p != '\0' && e + 4 < sizeof(encoded); p++) {
        unsigned char c = (unsigned char)*p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '-' || c == '_')
            encoded[e++] = (char)c;
        else
            e += (size_t)snprintf(encoded + e, 4, "%%%02X", c);
    }
    encoded[e] = '\0';
    snprintf(header, sizeof(header), "attachment; filename=\"%s\"; filename*=UTF-8''%s", plain,
             encoded);
    http_reply_header(req, "Content-Disposition", header);
}

/* Returns whether the Range header applies. With If-Range it applies only when If-Range is
 * the etag, compared strongly, so a weak or date validator never matches. A client resuming
 * the download of a file that changed then gets the whole new file. */
static bool range_wanted(const struct http_request *req, const char *etag)
{
    const char *if_range = http_request_header(req, "If-Range");

    if (http_request_header(req, "Range") == NULL)
        return false;
    return if_range == NULL || (etag != NULL && strcmp(if_range, etag) == 0);
}

/* Adds Content-Range and picks the status for a body of total bytes whose validator is etag.
 * Returns 0 to send [*start, *start + *length) with *status, or 1 when a 416 reply was
 * queued. */
static int range_apply(struct http_request *req, uint64_t total, const char *etag, uint64_t *start,
                       uint64_t *length, unsigned *status)
{
    char value[96];
    enum http_range_result r;

    *start = 0;
    *length = total;
    *status = 200;
    if (!range_wanted(req, etag))
        return 0;
    r = http_range_parse(start, length, http_request_header(req, "Range"), total);
    if (r == HTTP_RANGE_NONE)
        return 0;
    if (r == HTTP_RANGE_UNSATISFIABLE) {
        snprintf(value, sizeof(value), "bytes */%llu", (unsigned long long)total);
        http_reply_header(req, "Content-Range", value);
        if (total == 0) {
            /* An empty file has no satisfiable range. The Hub clients probe with bytes=0-0
             * and read the size from Content-Range, so the reply is 200 with an empty body. */
            *start = 0;
            *length = 0;
            return 0;
        }
        http_reply_error(req, 416, "range '%.80s' is not satisfiable for a file of %llu bytes",
                         http_request_header(req, "Range"), (unsigned long long)total);
        return 1;
    }
    snprintf(value, sizeof(value), "bytes %llu-%llu/%llu", (unsigned long long)*start,
             (unsigned long long)(*start + *length - 1), (unsigned long long)total);
    http_reply_header(req, "Content-Range", value);
    *status = 206;
    return 0;
}

static int send_git_blob(struct http_request *req, struct hf_repo_ctx *ctx, const char *commit,
                         const struct repo_entry *entry, const char *path, const char *etag,
                         struct hub_error *err)
{
    char *data = NULL;
    size_t len = 0;
    uint64_t start, length;
    unsigned status;
    int rc;
    /* The git blob of an LFS file is its pointer, sent by /raw. */
    uint64_t size = entry->is_lfs ? entry->pointer_size : entry->size;

    if (size > HF_MAX_GIT_BLOB_MEMORY_BYTES) {
        if (range_apply(req, size, etag, &start, &length, &status) != 0)
            return 0;
        return hf_send_git_blob_stream(req, status, content_type_for(path), repo_path_get(ctx->git),
                                       entry->oid, start, length);
    }
    rc = repo_file_read(&data, &len, ctx->git, commit, path, HF_MAX_GIT_BLOB_MEMORY_BYTES, err);
    if (rc < 0)
        return hf_reply_repo_error(req, err);
    if (range_apply(req, len, etag, &start, &length, &status) != 0) {
        free(data);
        return 0;
    }
    if (start > 0 || length < len)
        memmove(data, data + start, (size_t)length);
    return http_reply_buffer(req, status, content_type_for(path), data, (size_t)length);
}

/* Sends the LFS object oid of size bytes from the store, honouring Range and If-Range. */
int hf_send_blob(struct http_request *req, const char *oid, const char *content_type)
{
    struct hub_error err = HUB_ERROR_INIT;
    uint64_t size = 0, start, length;
    char etag[80];
    unsigned status;
    int fd = -1;
    int rc;

    rc = store_blob_open(&fd, &size, hf_store(), oid, &err);
    if (rc == HUB_ENOTFOUND) {
        hub_log(HUB_LOG_ERROR, "hf", "LFS object missing from the store oid=%s req=%s", oid,
                http_request_id(req));
        return http_reply_error_code(req, 404, "EntryNotFound",
                                     "LFS object %s is missing from the store", oid);
    }
    if (rc < 0)
        return http_reply_hub_error(req, &err);
    snprintf(etag, sizeof(etag), "\"%s\"", oid);
    if (range_apply(req, size, etag, &start, &length, &status) != 0) {
        close(fd);
        return 0;
    }
    return http_reply_fd(req, status, content_type, fd, start, length);
}

/* Sends the LFS object of entry only when it is linked to the repo being read. A pointer
 * names any oid, so without the check a commit to one repo could read the objects of
 * another, private one. The reply for an unlinked object is the same whether or not the
 * store has it, so it does not reveal the objects of other repos. */
static int send_linked_blob(struct http_request *req, const struct hf_repo_ctx *ctx,
                            const struct repo_entry *entry, const char *path, const char *rev,
                            struct hub_error *err)
{
    bool linked = false;

    if (meta_lfs_is_linked(&linked, http_request_db(req), ctx->row.id, entry->lfs_oid, err) < 0)
        return http_reply_hub_error(req, err);
    if (!linked) {
        hub_log(HUB_LOG_WARN, "hf",
                "LFS pointer to an object not linked to the repo repo=%s/%s "
                "path=%s oid=%s req=%s",
                ctx->row.ns, ctx->row.name, path, entry->lfs_oid, http_request_id(req));
        return http_reply_error_code(req, 404, "EntryNotFound",
                                     "Entry not found: %s at revision %s is an LFS pointer to "
                                     "object %s, which was never uploaded to this repo; upload "
                                     "it through the LFS batch API",
                                     path, rev, entry->lfs_oid);
    }
    return hf_send_blob(req, entry->lfs_oid, content_type_for(path));
}

/* Returns whether If-None-Match lists etag (or is "*"), so a cached copy is still current.
 * A weak validator ("W/...") matches by its opaque part, the weak comparison that
 * If-None-Match uses. */
static bool etag_matches(const struct http_request *req, const char *etag)
{
    const char *header = http_request_header(req, "If-None-Match");
    const char *p = header;
    size_t len = strlen(etag);

    if (header == NULL)
        return false;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, len) == 0 && (p[len] == '\0' || p[len] == ',' || p[len] == ' '))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* Looks for the revision that a client meant when it sent one with slashes unencoded, as in
 * resolve/refs/pr/2/README.md, where the route takes "refs" as the revision. Tries rev joined
 * with the leading segments of path, shortest first, and takes the first that names a
 * revision of git or has the form refs/pr/N. Writes it to out and returns the rest of path, or
 * returns NULL when there is none. */
static const char *unencoded_revision(char *out, size_t cap, struct repo *git, const char *rev,
                                      const char *path)
{
    char commit[REPO_OID_HEX_BYTES + 1];
    const char *slash = path;

    while ((slash = strchr(slash, '/')) != NULL) {
        struct hub_error quiet = HUB_ERROR_INIT;
        int n = snprintf(out, cap, "%s/%.*s", rev, (int)(slash - path), path);

        slash++;
        if (n < 0 || (size_t)n >= cap)
            return NULL;
        if (slash[0] != '\0' &&
            (repo_pr_ref_is_valid(out) || repo_revision_resolve(commit, git, out, &quiet) == 0))
            return slash;
    }
    return NULL;
}

/* Resolves rev as hf_revision_resolve() does. When rev is not found and the client seems to have
 * sent a revision with slashes unencoded, the 404 also gives the percent-encoded URL. The
 * message keeps its "Invalid rev id: REV" start, which clients may match. */
static int route_revision_resolve(char commit[REPO_OID_HEX_BYTES + 1], struct http_request *req,
                                  struct hf_repo_ctx *ctx, const char *route, const char *rev,
                                  const char *path)
{
    struct hub_error quiet = HUB_ERROR_INIT;
    char meant[HUB_MAX_REVISION_BYTES + 1], encoded[3 * HUB_MAX_REVISION_BYTES + 1];
    const char *rest = NULL;
    size_t used = 0;

    if (rev != NULL && path != NULL && rev[0] != '\0' &&
        repo_revision_resolve(commit, ctx->git, rev, &quiet) == HUB_ENOTFOUND)
        rest = unencoded_revision(meant, sizeof(meant), ctx->git, rev, path);
    if (rest == NULL)
        return hf_revision_resolve(commit, req, ctx, rev);
    for (const char *c = meant; *c != '\0' && used + 4 <= sizeof(encoded); c++) {
        if (*c == '/') {
            memcpy(encoded + used, "%2F", 3);
            used += 3;
        } else {
            encoded[used++] = *c;
        }
    }
    encoded[used] = '\0';
    http_reply_error_code(req, 404, "RevisionNotFound",
                          "Invalid rev id: %s: the revision in a %s URL is one path segment, so "
                          "percent-encode the slashes of %s: /%s%s/%s/%s/%s/%.300s",
                          rev, route, meant, hf_web_prefix(ctx->row.type), ctx->row.ns,
                          ctx->row.name, route, encoded, rest);
    return HUB_ENOTFOUND;
}

int hf_resolve_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct repo_entry entry = {0};
    const char *rev = http_request_param(req, "rev");
    const char *path = http_request_param(req, "path");
    bool raw = strcmp((const char *)arg, "raw") == 0;
    char commit[REPO_OID_HEX_BYTES + 1], etag[80], size_text[32];
    bool not_modified;
    int rc;

    rc = hf_repo_load_params(&ctx, req, false);
    if (rc < 0)
        goto out;
    rc = route_revision_resolve(commit, req, &ctx, raw ? "raw" : "resolve", rev, path);
    if (rc < 0)
        goto out;
    http_reply_header(req, "X-Repo-Commit", commit);
    if (hf_path_check(path, err) < 0) {
        rc = http_reply_error(req, 400, "%s", err->msg);
        goto out;
    }
    rc = repo_entry_stat(&entry, ctx.git, commit, path, err);
    if (rc == 0 && entry.type != REPO_ENTRY_FILE) {
        rc = http_reply_error_code(req, 404, "EntryNotFound",
                                   "Entry not found: %s at revision %s is a folder, not a file; "
                                   "list its files with /api/%ss/%s/%s/tree/%s/%s",
                                   path, rev, hub_repo_type_name(ctx.row.type), ctx.row.ns,
                                   ctx.row.name, rev, path);
        goto out;
    }
    if (rc < 0) {
        rc = err->code == HUB_ENOTFOUND
                 ? http_reply_error_code(req, 404, "EntryNotFound",
                                         "Entry not found: %s at revision %s", path, rev)
                 : http_reply_hub_error(req, err);
        goto out;
    }
    http_reply_header(req, "Accept-Ranges", "bytes");
    disposition_add(req, path);
    if (entry.is_lfs && !raw) {
        snprintf(etag, sizeof(etag), "\"%s\"", entry.lfs_oid);
        snprintf(size_text, sizeof(size_text), "%llu", (unsigned long long)entry.size);
        http_reply_header(req, "ETag", etag);
        http_reply_header(req, "X-Linked-Etag", etag);
        http_reply_header(req, "X-Linked-Size", size_text);
    } else {
        snprintf(etag, sizeof(etag), "\"%s\"", entry.oid);
        http_reply_header(req, "ETag", etag);
    }
    /* A 304 carries the Content-Length that the 200 would have, as RFC 9110 allows. */
    not_modified = etag_matches(req, etag);
    if (not_modified)
        rc = http_reply_empty(req, 304, entry.is_lfs && raw ? entry.pointer_size : entry.size);
    else if (entry.is_lfs && !raw)
        rc = send_linked_blob(req, &ctx, &entry, path, rev, err);
    else
        rc = send_git_blob(req, &ctx, commit, &entry, path, etag, err);
    /* A download is a GET that sends the whole config.json: range probes, revalidations and
     * HEAD requests of the same load are not counted again. */
    if (strcmp(http_request_method(req), "GET") == 0 && strcmp(path, "config.json") == 0 &&
        !not_modified && !range_wanted(req, etag))
        meta_repo_downloads_bump(http_request_db(req), ctx.row.id, err);
out:
    free(entry.path);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}
