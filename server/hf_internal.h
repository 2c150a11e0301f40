/* hf_internal: helpers and handlers shared by the hf_*.c and lfs_*.c files. Not for other
 * modules: they use http.h and hf_http.h. */
#ifndef HF_INTERNAL_H
#define HF_INTERNAL_H

#include "hf_commit_parse.h"
#include "hf_http.h"
#include "hub_name.h"
#include "meta_repo.h"
#include "repo.h"

#include <stdbool.h>
#include <stdint.h>

struct store;

/** Returns the blob store opened by hf_http_open(); shared by every thread. */
struct store *hf_store(void);

/* The request and repo that hf_lfs_store_file links the objects it stores to. */
struct hf_lfs_target {
    struct http_request *req;
    const struct meta_repo *repo;
};

/** Stores the content of a committed file that .gitattributes routes to LFS in the blob
 * store, records the object and links it to target's repo, as an upload through the LFS
 * batch API does. A repo_lfs_store_fn: set creq.lfs_store to it and creq.lfs_store_ctx to a
 * struct hf_lfs_target. Returns 0 or HUB_E* with err set. */
int hf_lfs_store_file(void *target, const char *path, const void *data, size_t len,
                      char oid_out[65], struct hub_error *err);

/* A repo addressed by a request, with the caller's rights on it. */
struct hf_repo_ctx {
    struct meta_repo row;
    struct repo *git; /* opened by hf_repo_load; closed by hf_repo_ctx_dispose */
    bool can_write;
    bool git_borrowed; /* git belongs to the thread's cache (hf_repo_load_shared) */
};

/** Maps the API type segment "models" or "datasets" to a type. Returns false otherwise. */
bool hf_type_from_segment(enum hub_repo_type *out, const char *segment);

/** Returns whether the {tp} segment 1 of an /api/{tp}/... path is "models" or "datasets". */
bool hf_match_api_type(const struct http_request *req, void *arg);

/** Looks up the repo ns/name of type, checks that the caller may read it (and write it when
 * need_write), and opens its git repo. On failure it queues the reply (404 RepoNotFound for
 * a missing repo and for a private one the caller may not read, 401 or 403 for writes) and
 * returns a negative code. out must be disposed on every path. HTTP threads. */
int hf_repo_load(struct hf_repo_ctx *out, struct http_request *req, enum hub_repo_type type,
                 const char *ns, const char *name, bool need_write);

/** Like hf_repo_load with the type, ns and name taken from the route parameters tp (absent:
 * model), ns and name. */
int hf_repo_load_params(struct hf_repo_ctx *out, struct http_request *req, bool need_write);

/** Checks that the caller may commit to the branches of ctx's repo, loaded without need_write.
 * Queues 401 or 403 when not. The 403 of a reader suggests a pull request. */
int hf_repo_check_commit_write(struct http_request *req, struct hf_repo_ctx *ctx);

/** Like hf_repo_load_params for the git-lfs routes: an anonymous caller gets 401 with
 * WWW-Authenticate for a missing or unreadable repo, because git-lfs requests a token from
 * git's credential helper only after a 401. Callers with a token still get 404. */
int hf_repo_load_lfs(struct hf_repo_ctx *out, struct http_request *req, bool need_write);

/** Like hf_repo_load_params for reading only, with a git repo borrowed from the calling
 * thread's cache of open repos (hf_info_repo_open), so it stays open after the request. Use
 * it only in handlers that finish on their thread without suspending the connection. */
int hf_repo_load_shared(struct hf_repo_ctx *out, struct http_request *req);

/** Closes the git repo unless it is borrowed. Accepts a zeroed ctx. */
void hf_repo_ctx_dispose(struct hf_repo_ctx *ctx);

/** Resolves rev in ctx's repo into commit_out. On failure queues 404 RevisionNotFound (or
 * 400 for a malformed revision) and returns a negative code. */
int hf_revision_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], struct http_request *req,
                        struct hf_repo_ctx *ctx, const char *rev);

/** Formats seconds since the epoch as "2024-05-01T12:00:00.000Z" into buf (32 bytes). */
void hf_time_format(char buf[32], int64_t seconds);

/** Returns the URL prefix of a repo on the web and git side: "" for models, "datasets/". */
const char *hf_web_prefix(enum hub_repo_type type);

/** Writes the author name and e-mail address commits made by the caller get. */
void hf_author_format(char *name, size_t name_cap, char *email, size_t email_cap,
                      const struct http_user *user);

/** Builds a JSON string of text read from git, such as a file path, with the bytes that are
 * not valid UTF-8 replaced by U+FFFD, because jansson rejects those. Returns NULL only when
 * out of memory. */
json_t *hf_json_git_text(const char *text);

/** Builds the tree-entry JSON of the 3.3 listing format for entry; with last_commit it adds
 * lastCommit. Returns NULL when out of memory. */
json_t *hf_entry_json(const struct repo_entry *entry, const struct repo_commit_info *last);

/** Queues the reply for a failed repo_* call: 404 RevisionNotFound, 404 EntryNotFound (when
 * entry_missing_code is set and the revision resolved), or the mapped status. */
int hf_reply_repo_error(struct http_request *req, const struct hub_error *err);

/** Queues 400 for the cursor query parameter of a listing that is not one this hub made. */
int hf_reply_bad_cursor(struct http_request *req);

/** Queues the 400 of an API path that ends before its revision, such as
 * /api/models/alice/pub/tree, naming the expected form. route is the route's keyword ("tree",
 * "paths-info") and form_tail what may follow the revision ("[/PATH]" or ""). Handlers call it
 * before the repo lookup, so the reply depends on the path alone and reveals nothing about
 * private repos. */
int hf_reply_missing_revision(struct http_request *req, const char *route, const char *form_tail);

/* ---- Handlers, one group per file ---- */

/* hf_repo.c */
int hf_whoami_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_repo_create_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_repo_delete_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_repo_settings_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_repo_info_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_repo_list_handle(struct http_request *req, void *arg, struct hub_error *err);

/* hf_repo_fields.c */

/** Returns whether an expand or expand[] query parameter of req names field. */
bool hf_expand_has(const struct http_request *req, const char *field);

/** Builds the config field of a model from config.json at commit: model_type and
 * architectures where the file has them. Returns NULL when the file is missing, is not a
 * JSON object or has neither. */
json_t *hf_config_build(struct repo *git, const char *commit);

/** Builds the safetensors field, {"parameters": {dtype: count}, "total": count}, from the
 * headers of the *.safetensors files among entries (a recursive listing at commit). Files
 * whose header cannot be read are logged and left out. Returns NULL when no file was read. */
json_t *hf_safetensors_build(struct meta *db, const struct meta_repo *row, struct repo *git,
                             const char *commit, const struct repo_entry *entries, size_t count,
                             const char *request_id);

/* hf_tree.c */
int hf_tree_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_paths_info_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_refs_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_commits_handle(struct http_request *req, void *arg, struct hub_error *err);
/** Parses the request body as a JSON object; an empty body is {}. Queues 400 and returns NULL
 * when the body is not a JSON object. The caller owns the result (json_decref). */
json_t *hf_optional_json_body(struct http_request *req);

int hf_branch_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_tag_handle(struct http_request *req, void *arg, struct hub_error *err);

/* hf_commit.c */
int hf_preupload_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_commit_begin(struct http_request *req, void *arg, struct hub_error *err);
int hf_commit_body(struct http_request *req, const char *data, size_t len, void *arg,
                   struct hub_error *err);
int hf_commit_handle(struct http_request *req, void *arg, struct hub_error *err);

/* hf_pr.c */
int hf_pr_list_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_pr_details_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_pr_create_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_pr_merge_handle(struct http_request *req, void *arg, struct hub_error *err);
int hf_pr_status_handle(struct http_request *req, void *arg, struct hub_error *err);

/** Sets *out to N when rev is "refs/pr/N". Returns whether it is. */
bool hf_pr_number_parse(int64_t *out, const char *rev);

/** Returns whether the caller may write ctx's repo with the credentials of this request (a
 * write token or a browser session). Queues nothing. */
bool hf_caller_can_write(struct http_request *req, const struct hf_repo_ctx *ctx);

/** Checks that the caller may open pull requests on ctx's repo, which it may read: signed in
 * (else 401) and not with a read-only token (else 403). Queues the error reply. */
int hf_pr_check_contributor(struct http_request *req, const struct hf_repo_ctx *ctx);

/** Checks that the caller may commit to pull request number of ctx's repo: it exists (else
 * 404), is open (else 409) and the caller is its author or a writer (else 403). Queues the
 * error reply. */
int hf_pr_check_commit(struct http_request *req, const struct hf_repo_ctx *ctx, int64_t number);

/** Writes the URL of pull request number of row, {base}/{wp}NS/NAME/discussions/N. */
void hf_pr_url(char *buf, size_t cap, struct http_request *req, const struct meta_repo *row,
               int64_t number);

/* hf_resolve.c */
int hf_resolve_handle(struct http_request *req, void *arg, struct hub_error *err);

/** Queues the LFS object oid from the blob store with content_type, honouring Range (206,
 * 416) and sent with sendfile. Returns 0 or a negative code when nothing could be queued. */
int hf_send_blob(struct http_request *req, const char *oid, const char *content_type);

/* Queues a reply with bytes start to start + length of git blob oid of the repo at git_dir,
 * streamed from `git cat-file blob` (see hf_blob_stream.c). Returns 0 or a HUB_E* code. */
int hf_send_git_blob_stream(struct http_request *req, unsigned status, const char *content_type,
                            const char *git_dir, const char *oid, uint64_t start, uint64_t length);

/* lfs_batch.c */
int lfs_batch_handle(struct http_request *req, void *arg, struct hub_error *err);

/* lfs_transfer.c */
int lfs_upload_begin(struct http_request *req, void *arg, struct hub_error *err);
int lfs_upload_body(struct http_request *req, const char *data, size_t len, void *arg,
                    struct hub_error *err);
int lfs_upload_handle(struct http_request *req, void *arg, struct hub_error *err);
int lfs_verify_handle(struct http_request *req, void *arg, struct hub_error *err);
int lfs_download_handle(struct http_request *req, void *arg, struct hub_error *err);

/* lfs_sign.c: self-authorizing URLs for LFS transfers. */
enum lfs_action {
    LFS_ACTION_UPLOAD = 0,
    LFS_ACTION_VERIFY = 1,
    LFS_ACTION_DOWNLOAD = 2,
};

/** Creates the signing key (random, per daemon start). Returns 0 or HUB_EINTERNAL. */
int lfs_sign_init(struct hub_error *err);

/** Writes the absolute URL for action on oid (size bytes) in repo_id into buf of cap bytes,
 * valid for ttl_s seconds. Returns 0 or HUB_ETOOBIG. */
int lfs_sign_href(char *buf, size_t cap, const char *base_url, enum lfs_action action,
                  const struct meta_repo *repo, const char *oid, uint64_t size, uint64_t ttl_s,
                  struct hub_error *err);

/** Checks the exp and sig query parameters of req for action on oid in repo_id. Returns 0,
 * or HUB_EFORBIDDEN when the signature is missing, wrong or expired. */
int lfs_sign_check(const struct http_request *req, enum lfs_action action, int64_t repo_id,
                   const char *oid, uint64_t *size_out, struct hub_error *err);

#endif
