/* hf_http: the route table of the Hub API, resolve and LFS, and the helpers every handler
 * uses: repo lookup with access checks, revision resolution, path checks and JSON pieces. */
#include "hf_internal.h"

#include "hf_info_cache.h"
#include "hub_log.h"
#include "hub_config.h"
#include "hub_utf8.h"
#include "meta.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct store *shared_store;

struct store *hf_store(void)
{
    return shared_store;
}

int hf_http_open(const struct hub_config *config, struct hub_error *err)
{
    int rc = lfs_sign_init(err);

    if (rc < 0)
        return rc;
    return store_open(&shared_store, config->data_dir, err);
}

void hf_http_close(void)
{
    store_close(shared_store);
    shared_store = NULL;
}

bool hf_type_from_segment(enum hub_repo_type *out, const char *segment)
{
    if (segment != NULL && strcmp(segment, "models") == 0) {
        *out = HUB_REPO_MODEL;
        return true;
    }
    if (segment != NULL && strcmp(segment, "datasets") == 0) {
        *out = HUB_REPO_DATASET;
        return true;
    }
    return false;
}

bool hf_match_api_type(const struct http_request *req, void *arg)
{
    enum hub_repo_type type;

    return hf_type_from_segment(&type, http_request_segment(req, 1));
}

const char *hf_web_prefix(enum hub_repo_type type)
{
    return type == HUB_REPO_DATASET ? "datasets/" : "";
}

void hf_repo_ctx_dispose(struct hf_repo_ctx *ctx)
{
    if (!ctx->git_borrowed)
        repo_close(ctx->git);
    ctx->git = NULL;
}

/* Route names that follow a repo id in the API's five-segment paths (/api/models/NS/NAME/refs).
 * A namespace-less id puts them where a two-part id has its name. */
static const char *const repo_id_routes[] = {"refs", "discussions", "tree", "commits"};

/* Message of every reply about spaces, which this hub does not host. */
static const char spaces_message[] = "spaces are not supported by this hub, which hosts models and "
                                     "datasets: use /api/models or /api/datasets";

/* Returns whether text is one of the n strings of list. */
static bool name_listed(const char *text, const char *const *list, size_t n)
{
    for (size_t i = 0; text != NULL && i < n; i++) {
        if (strcmp(text, list[i]) == 0)
            return true;
    }
    return false;
}

#define NAME_LISTED(text, list) name_listed(text, list, sizeof(list) / sizeof(list[0]))

/* Queues the 404 of a repo id without a namespace, bare being the one part it has. Repo ids
 * on this hub always have two parts, so no such repo exists. */
static int reply_no_namespace(struct http_request *req, const char *bare)
{
    return http_reply_error_code(req, 404, "RepoNotFound",
                                 "Repository not found: '%.100s' has no namespace; repo ids on "
                                 "this hub are namespace/name, such as alice/%.100s",
                                 bare, bare);
}

/* Returns the one part of a namespace-less id that the routes of two-part ids read as
 * namespace and name, or NULL. /datasets/squad/resolve/main/x reaches the model routes with
 * the namespace "datasets", which is reserved. /api/models/gpt2/refs reaches info with the
 * name "refs", and could also be a repo that the caller did not find, so the reply depends on
 * the path alone and reveals nothing about private repos. */
static const char *no_namespace_part(struct http_request *req, enum hub_repo_type type,
                                     const char *ns, const char *name)
{
    const char *first = http_request_segment(req, 0);

    if (first == NULL)
        return NULL;
    if (type == HUB_REPO_MODEL && strcmp(first, "datasets") == 0 && strcmp(ns, "datasets") == 0)
        return name;
    if (strcmp(first, "api") != 0 || http_request_segment(req, 4) != NULL)
        return NULL;
    return NAME_LISTED(name, repo_id_routes) ? ns : NULL;
}

static int reply_repo_not_found(struct http_request *req, enum hub_repo_type type, const char *ns,
                                const char *name)
{
    const char *bare = no_namespace_part(req, type, ns, name);

    if (bare != NULL)
        return reply_no_namespace(req, bare);
    return http_reply_error_code(req, 404, "RepoNotFound",
                                 "Repository not found: %s %s/%s does not exist or you have no "
                                 "access to it. If it is private, send the token of a user who "
                                 "can read it (Authorization: Bearer hf_...)",
                                 hub_repo_type_name(type), ns, name);
}

/* Checks the caller's right to change ctx's repo; queues 401 or 403 when it is missing. With
 * for_commit, the 403 of a reader points to pull requests, which readers may open. */
static int check_write(struct http_request *req, struct hf_repo_ctx *ctx, struct meta *db,
                       bool for_commit)
{
    const struct http_user *user = http_request_user(req);
    struct hub_error err = HUB_ERROR_INIT;
    bool can_write = false;
    int rc;

    if (user->id == 0) {
        http_reply_unauthorized(req);
        return HUB_EAUTH;
    }
    rc = meta_repo_can_write(&can_write, db, &ctx->row, user->id, &err);
    if (rc < 0) {
        http_reply_hub_error(req, &err);
        return rc;
    }
    if (!can_write && for_commit) {
        http_reply_error(req, 403,
                         "user %s may read but not write %s/%s; to propose the change, open a "
                         "pull request with create_pr=1 (isPullRequest in @huggingface/hub)",
                         user->name, ctx->row.ns, ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    if (!can_write) {
        http_reply_error(req, 403, "user %s may read but not write %s/%s", user->name, ctx->row.ns,
                         ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    if (user->scope != HTTP_SCOPE_WRITE) {
        http_reply_error(req, 403, "this token is read-only; create a write token to change %s/%s",
                         ctx->row.ns, ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    ctx->can_write = true;
    return 0;
}

/* Queues the reply for a repo that is missing or that the caller may not read. git-lfs sends
 * credentials from git's credential helper only after a 401, so with for_git_lfs an anonymous
 * caller gets 401 with WWW-Authenticate instead of the Hub API's 404. A revoked or mistyped
 * token also gets 401, because "send a token of a reader" would mislead its sender. */
static int reply_repo_hidden(struct http_request *req, enum hub_repo_type type, const char *ns,
                             const char *name, bool for_git_lfs)
{
    if ((for_git_lfs && http_request_user(req)->id == 0) || http_request_user(req)->token_invalid)
        return http_reply_unauthorized(req);
    return reply_repo_not_found(req, type, ns, name);
}

/* Looks the repo up and checks the caller's rights: the part of hf_repo_load before the git
 * repo is opened. */
static int repo_access_check(struct hf_repo_ctx *out, struct http_request *req,
                             enum hub_repo_type type, const char *ns, const char *name,
                             bool need_write, bool for_git_lfs)
{
    struct meta *db = http_request_db(req);
    const struct http_user *user = http_request_user(req);
    struct hub_error err = HUB_ERROR_INIT;
    bool can_read = false;
    int rc;

    memset(out, 0, sizeof(*out));
    if (ns == NULL || name == NULL || !hub_name_is_valid(ns) || !hub_name_is_valid(name)) {
        reply_repo_hidden(req, type, ns != NULL ? ns : "", name != NULL ? name : "", for_git_lfs);
        return HUB_ENOTFOUND;
    }
    rc = meta_repo_get(&out->row, db, type, ns, name, &err);
    if (rc == HUB_ENOTFOUND) {
        reply_repo_hidden(req, type, ns, name, for_git_lfs);
        return rc;
    }
    if (rc == 0)
        rc = meta_repo_can_read(&can_read, db, &out->row, user->id, &err);
    if (rc < 0) {
        http_reply_hub_error(req, &err);
        return rc;
    }
    if (!can_read) {
        /* A private repo the caller may not read looks exactly like a missing one. */
        reply_repo_hidden(req, type, ns, name, for_git_lfs);
        return HUB_ENOTFOUND;
    }
    if (need_write)
        return check_write(req, out, db, false);
    return 0;
}

/* Queues the reply for a repo whose row was found but whose git folder could not be opened.
 * A folder that is gone belongs to a repo being deleted (the folder goes before the row), so
 * the reply is the usual 404; a folder that stays missing is for `atelier admin fsck`. */
static int reply_repo_open_failed(struct http_request *req, const struct meta_repo *row,
                                  const struct hub_error *err)
{
    const char *ns = row->ns, *name = row->name;

    if (err->code == HUB_ENOTFOUND) {
        hub_log(HUB_LOG_WARN, "hf",
                "git repo of %s/%s is missing, so it counts as not found "
                "(deleted meanwhile, or run atelier admin fsck) req=%s",
                ns, name, http_request_id(req));
        return reply_repo_not_found(req, row->type, ns, name);
    }
    hub_log(HUB_LOG_ERROR, "hf", "cannot open the git repo of %s/%s error=%s req=%s", ns, name,
            err->msg, http_request_id(req));
    return http_reply_error(req, 500, "cannot open the git repo of %s/%s", ns, name);
}

/* hf_repo_load with the reply of repo_access_check for git-lfs callers when for_git_lfs. */
static int repo_load(struct hf_repo_ctx *out, struct http_request *req, enum hub_repo_type type,
                     const char *ns, const char *name, bool need_write, bool for_git_lfs)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc = repo_access_check(out, req, type, ns, name, need_write, for_git_lfs);

    if (rc < 0)
        return rc;
    /* The row has the names as stored: the lookup ignores case, the folder on disk does not. */
    rc = repo_open(&out->git, http_request_config(req)->data_dir, type, out->row.ns, out->row.name,
                   &err);
    if (rc < 0) {
        reply_repo_open_failed(req, &out->row, &err);
        return rc;
    }
    return 0;
}

int hf_repo_load(struct hf_repo_ctx *out, struct http_request *req, enum hub_repo_type type,
                 const char *ns, const char *name, bool need_write)
{
    return repo_load(out, req, type, ns, name, need_write, false);
}

/* Reads the repo type from the route parameter tp (absent: model). Queues 404 and returns
 * false for anything else. */
static bool param_type(enum hub_repo_type *type, struct hf_repo_ctx *out, struct http_request *req)
{
    const char *tp = http_request_param(req, "tp");

    *type = HUB_REPO_MODEL;
    if (tp == NULL || hf_type_from_segment(type, tp))
        return true;
    memset(out, 0, sizeof(*out));
    if (strcmp(tp, "spaces") == 0)
        http_reply_error(req, 404, "%s", spaces_message);
    else
        http_reply_error(req, 404, "unknown repo type '%s': expected models or datasets", tp);
    return false;
}

int hf_repo_load_shared(struct hf_repo_ctx *out, struct http_request *req)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum hub_repo_type type;
    const char *ns = http_request_param(req, "ns");
    const char *name = http_request_param(req, "name");
    int rc;

    if (!param_type(&type, out, req))
        return HUB_ENOTFOUND;
    rc = repo_access_check(out, req, type, ns, name, false, false);
    if (rc < 0)
        return rc;
    rc = hf_info_repo_open(&out->git, http_request_config(req)->data_dir, &out->row, &err);
    if (rc < 0) {
        reply_repo_open_failed(req, &out->row, &err);
        return rc;
    }
    out->git_borrowed = true;
    return 0;
}

int hf_repo_check_commit_write(struct http_request *req, struct hf_repo_ctx *ctx)
{
    return check_write(req, ctx, http_request_db(req), true);
}

int hf_repo_load_params(struct hf_repo_ctx *out, struct http_request *req, bool need_write)
{
    enum hub_repo_type type;

    if (!param_type(&type, out, req))
        return HUB_ENOTFOUND;
    return repo_load(out, req, type, http_request_param(req, "ns"), http_request_param(req, "name"),
                     need_write, false);
}

int hf_repo_load_lfs(struct hf_repo_ctx *out, struct http_request *req, bool need_write)
{
    enum hub_repo_type type;

    if (!param_type(&type, out, req))
        return HUB_ENOTFOUND;
    return repo_load(out, req, type, http_request_param(req, "ns"), http_request_param(req, "name"),
                     need_write, true);
}

/* Returns whether rev is 1 to 6 hex digits: too short to be a commit id prefix. */
static bool short_hex(const char *rev)
{
    size_t n = strspn(rev, "0123456789abcdefABCDEF");

    return n > 0 && n < 7 && rev[n] == '\0';
}

int hf_reply_bad_cursor(struct http_request *req)
{
    return http_reply_error(req, 400,
                            "invalid cursor '%.100s': cursors are opaque, so request the next "
                            "page with the URL in the Link header of the previous page",
                            http_request_query(req, "cursor"));
}

int hf_revision_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], struct http_request *req,
                        struct hf_repo_ctx *ctx, const char *rev)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    if (rev == NULL || rev[0] == '\0') {
        http_reply_error(req, 400, "missing revision");
        return HUB_EINVAL;
    }
    rc = repo_revision_resolve(commit_out, ctx->git, rev, &err);
    if (rc == HUB_ENOTFOUND && short_hex(rev)) {
        http_reply_error_code(req, 404, "RevisionNotFound",
                              "Invalid rev id: %s: no branch or tag has this name, and commit id "
                              "prefixes need at least 7 hex digits",
                              rev);
        return rc;
    }
    if (rc == HUB_ENOTFOUND) {
        http_reply_error_code(req, 404, "RevisionNotFound",
                              "Invalid rev id: %s: no branch, tag or commit of %s/%s has this name",
                              rev, ctx->row.ns, ctx->row.name);
        return rc;
    }
    if (rc == HUB_EINVAL) {
        http_reply_error_code(req, 404, "RevisionNotFound", "Invalid rev id: %s: %s", rev, err.msg);
        return rc;
    }
    if (rc < 0)
        http_reply_hub_error(req, &err);
    return rc;
}

int hf_reply_repo_error(struct http_request *req, const struct hub_error *err)
{
    if (err->code == HUB_ENOTFOUND)
        return http_reply_error_code(req, 404, "EntryNotFound", "%s", err->msg);
    return http_reply_hub_error(req, err);
}

void hf_time_format(char buf[32], int64_t seconds)
{
    time_t t = (time_t)seconds;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void hf_author_format(char *name, size_t name_cap, char *email, size_t email_cap,
                      const struct http_user *user)
{
    snprintf(name, name_cap, "%s", user->name != NULL ? user->name : "anonymous");
    snprintf(email, email_cap, "%s@users.atelier", user->name != NULL ? user->name : "anonymous");
}

json_t *hf_json_git_text(const char *text)
{
    size_t len = strlen(text);
    char *repaired;
    json_t *out;

    if (hub_utf8_is_valid(text, len))
        return json_stringn(text, len);
    repaired = hub_utf8_repair(text, len, NULL);
    if (repaired == NULL)
        return NULL;
    out = json_string(repaired);
    free(repaired);
    return out;
}

json_t *hf_entry_json(const struct repo_entry *entry, const struct repo_commit_info *last)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "type",
                        json_string(entry->type == REPO_ENTRY_FILE ? "file" : "directory"));
    /* NOTE: a path that is not valid UTF-8 is listed with U+FFFD, and resolve finds no file
     * at the listed path. Pushes reject such paths, so only older trees have them. */
    json_object_set_new(obj, "path", hf_json_git_text(entry->path));
    json_object_set_new(obj, "oid", json_string(entry->oid));
    json_object_set_new(obj, "size", json_integer((json_int_t)entry->size));
    if (entry->is_lfs)
        json_object_set_new(obj, "lfs",
                            json_pack("{s:s,s:I,s:I}", "oid", entry->lfs_oid, "size",
                                      (json_int_t)entry->size, "pointerSize",
                                      (json_int_t)entry->pointer_size));
    if (last != NULL) {
        char date[32];

        hf_time_format(date, last->time);
        json_object_set_new(obj, "lastCommit",
                            json_pack("{s:s,s:s,s:s}", "id", last->id, "title",
                                      last->title != NULL ? last->title : "", "date", date));
    }
    return obj;
}

/* ---- Routes ------------------------------------------------------------------------------ */

static int validate_yaml_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    /* Python clients call this before every commit that adds README.md and always parse the
     * reply as JSON. The card parser never rejects a card, so there is nothing to report. */
    return http_reply_json(req, 200, json_pack("{s:[],s:[]}", "errors", "warnings"));
}

static int xet_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    return http_reply_error(req, 501,
                            "Xet is not supported by this hub; set HF_HUB_DISABLE_XET=1 so "
                            "huggingface_hub uploads through LFS");
}

/* Replies to a repo id without a namespace (/api/models/gpt2, /gpt2/resolve/main/x). */
static int no_namespace_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    return reply_no_namespace(req, http_request_param(req, "name"));
}

/* /api/{tp}/{name}/tree/{rest+} and the other routes below also match the paths of a repo
 * whose name is "tree", "commits" and so on (/api/models/alice/tree/refs is the refs of
 * alice/tree), and would win over them, because their fourth segment is a literal. So these
 * routes skip a fifth segment that names a route of API_REPO. */
static bool match_no_namespace_route(const struct http_request *req, void *arg)
{
    static const char *const repo_routes[] = {
        "revision",        "settings", "tree",   "paths-info", "refs",        "commits",
        "branch",          "tag",      "commit", "preupload",  "discussions", "xet-read-token",
        "xet-write-token",
    };
    const char *fifth = http_request_segment(req, 4);

    return hf_match_api_type(req, arg) && fifth != NULL && !NAME_LISTED(fifth, repo_routes);
}

/* /api/{tp}/{name}/revision/{rev} also matches the five-segment routes of a repo whose name
 * is "revision" (/api/models/alice/revision/refs) and would win over them, because its third
 * segment is a literal. Leave those to the repo routes. */
static bool match_no_namespace_revision(const struct http_request *req, void *arg)
{
    return hf_match_api_type(req, arg) &&
           !NAME_LISTED(http_request_segment(req, 4), repo_id_routes);
}

/* /{name}/resolve/{rev}/{path*} also matches the paths of a repo called "resolve" or "raw",
 * such as /alice/resolve/info/refs (git) or /alice/resolve/tree/main (web), and would win
 * over their routes because its second segment is a literal. So the route skips a third
 * segment that follows a repo id in the download, git, LFS or web routes. */
static bool match_no_namespace_file(const struct http_request *req, void *arg)
{
    static const char *const repo_subpaths[] = {
        "resolve", "raw",    "info",    "git-upload-pack", "git-receive-pack", "tree",
        "blob",    "commit", "commits", "settings",        "discussions",
    };
    const char *first = http_request_segment(req, 0);

    /* /datasets/resolve/d1/... is a dataset of the namespace "resolve". */
    if (strcmp(first, "datasets") == 0 || strcmp(first, "spaces") == 0)
        return false;
    return !NAME_LISTED(http_request_segment(req, 2), repo_subpaths);
}

static int spaces_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    if (http_request_segment(req, 2) != NULL)
        return http_reply_error_code(req, 404, "RepoNotFound", "%s", spaces_message);
    return http_reply_error(req, 404, "%s", spaces_message);
}

/* POST /api/repos/move (huggingface_hub's move_repo): the hub cannot rename repos. */
static int repo_move_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    return http_reply_error(req, 501,
                            "moving or renaming repos is not supported by this hub; create the "
                            "new repo and push the history to it with git (docs/git.md, Mirror "
                            "pushes), then delete the old one");
}

#define API_REPO "/api/{tp}/{ns}/{name}"

static const struct http_route routes[] = {
    {.name = "hf.whoami",
     .methods = "GET",
     .pattern = "/api/whoami-v2",
     .auth_required = true,
     .handle = hf_whoami_handle},
    {.name = "hf.repo_create",
     .methods = "POST",
     .pattern = "/api/repos/create",
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_repo_create_handle},
    {.name = "hf.repo_delete",
     .methods = "DELETE",
     .pattern = "/api/repos/delete",
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_repo_delete_handle},
    {.name = "hf.repo_move",
     .methods = "POST",
     .pattern = "/api/repos/move",
     .body = HTTP_BODY_BUFFER,
     .handle = repo_move_handle},
    {.name = "hf.validate_yaml",
     .methods = "POST",
     .pattern = "/api/validate-yaml",
     .body = HTTP_BODY_BUFFER,
     .handle = validate_yaml_handle},
    {.name = "hf.list",
     .methods = "GET",
     .pattern = "/api/{tp}",
     .match = hf_match_api_type,
     .handle = hf_repo_list_handle},
    {.name = "hf.no_namespace",
     .methods = "GET",
     .pattern = "/api/{tp}/{name}",
     .match = hf_match_api_type,
     .handle = no_namespace_handle},
    {.name = "hf.no_namespace",
     .methods = "GET",
     .pattern = "/api/{tp}/{name}/revision/{rev}",
     .match = match_no_namespace_revision,
     .handle = no_namespace_handle},
    {.name = "hf.no_namespace",
     .methods = "GET",
     .pattern = "/api/{tp}/{name}/tree/{rest+}",
     .match = match_no_namespace_route,
     .handle = no_namespace_handle},
    {.name = "hf.no_namespace",
     .methods = "GET",
     .pattern = "/api/{tp}/{name}/commits/{rest+}",
     .match = match_no_namespace_route,
     .handle = no_namespace_handle},
    {.name = "hf.no_namespace",
     .methods = "POST",
     .pattern = "/api/{tp}/{name}/preupload/{rest+}",
     .match = match_no_namespace_route,
     .handle = no_namespace_handle},
    {.name = "hf.no_namespace",
     .methods = "POST",
     .pattern = "/api/{tp}/{name}/paths-info/{rest+}",
     .match = match_no_namespace_route,
     .handle = no_namespace_handle},
    {.name = "hf.no_namespace",
     .methods = "POST",
     .pattern = "/api/{tp}/{name}/commit/{rest+}",
     .match = match_no_namespace_route,
     .handle = no_namespace_handle},
    {.name = "hf.spaces",
     .methods = "GET POST PUT DELETE",
     .pattern = "/api/spaces",
     .handle = spaces_handle},
    {.name = "hf.spaces",
     .methods = "GET POST PUT DELETE",
     .pattern = "/api/spaces/{rest*}",
     .handle = spaces_handle},
    {.name = "hf.info",
     .methods = "GET",
     .pattern = API_REPO,
     .match = hf_match_api_type,
     .handle = hf_repo_info_handle},
    {.name = "hf.info",
     .methods = "GET",
     .pattern = API_REPO "/revision/{rev+}",
     .match = hf_match_api_type,
     .handle = hf_repo_info_handle},
    {.name = "hf.settings",
     .methods = "PUT",
     .pattern = API_REPO "/settings",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_repo_settings_handle},
    {.name = "hf.tree",
     .methods = "GET",
     .pattern = API_REPO "/tree/{rest*}",
     .match = hf_match_api_type,
     .handle = hf_tree_handle},
    {.name = "hf.paths_info",
     .methods = "POST",
     .pattern = API_REPO "/paths-info/{rev*}",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .handle = hf_paths_info_handle},
    {.name = "hf.refs",
     .methods = "GET",
     .pattern = API_REPO "/refs",
     .match = hf_match_api_type,
     .handle = hf_refs_handle},
    {.name = "hf.commits",
     .methods = "GET",
     .pattern = API_REPO "/commits/{rest*}",
     .match = hf_match_api_type,
     .handle = hf_commits_handle},
    {.name = "hf.branch",
     .methods = "POST DELETE",
     .pattern = API_REPO "/branch/{rev+}",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_branch_handle},
    {.name = "hf.tag",
     .methods = "POST DELETE",
     .pattern = API_REPO "/tag/{rev+}",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_tag_handle},
    {.name = "hf.preupload",
     .methods = "POST",
     .pattern = API_REPO "/preupload/{rev*}",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_preupload_handle},
    {.name = "hf.commit",
     .methods = "POST",
     .pattern = API_REPO "/commit/{rev+}",
     .match = hf_match_api_type,
     .body = HTTP_BODY_STREAM,
     .auth_required = true,
     .begin = hf_commit_begin,
     .on_body = hf_commit_body,
     .handle = hf_commit_handle},
    {.name = "hf.discussions",
     .methods = "GET",
     .pattern = API_REPO "/discussions",
     .match = hf_match_api_type,
     .handle = hf_pr_list_handle},
    {.name = "hf.discussions",
     .methods = "POST",
     .pattern = API_REPO "/discussions",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_pr_create_handle},
    {.name = "hf.discussion",
     .methods = "GET",
     .pattern = API_REPO "/discussions/{num}",
     .match = hf_match_api_type,
     .handle = hf_pr_details_handle},
    {.name = "hf.discussion_merge",
     .methods = "POST",
     .pattern = API_REPO "/discussions/{num}/merge",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_pr_merge_handle},
    {.name = "hf.discussion_status",
     .methods = "POST",
     .pattern = API_REPO "/discussions/{num}/status",
     .match = hf_match_api_type,
     .body = HTTP_BODY_BUFFER,
     .auth_required = true,
     .handle = hf_pr_status_handle},
    {.name = "hf.xet",
     .methods = "GET POST",
     .pattern = API_REPO "/xet-read-token/{rev}",
     .match = hf_match_api_type,
     .handle = xet_handle},
    {.name = "hf.xet",
     .methods = "GET POST",
     .pattern = API_REPO "/xet-write-token/{rev}",
     .match = hf_match_api_type,
     .handle = xet_handle},

    {.name = "hf.resolve",
     .methods = "GET HEAD",
     .pattern = "/{ns}/{name}/resolve/{rev}/{path*}",
     .handle = hf_resolve_handle,
     .arg = "resolve"},
    {.name = "hf.resolve",
     .methods = "GET HEAD",
     .pattern = "/{tp}/{ns}/{name}/resolve/{rev}/{path*}",
     .handle = hf_resolve_handle,
     .arg = "resolve"},
    {.name = "hf.no_namespace",
     .methods = "GET HEAD",
     .pattern = "/{name}/resolve/{rev}/{path*}",
     .match = match_no_namespace_file,
     .handle = no_namespace_handle,
     .arg = "resolve"},
    {.name = "hf.no_namespace",
     .methods = "GET HEAD",
     .pattern = "/{name}/raw/{rev}/{path*}",
     .match = match_no_namespace_file,
     .handle = no_namespace_handle,
     .arg = "raw"},
    {.name = "hf.raw",
     .methods = "GET HEAD",
     .pattern = "/{ns}/{name}/raw/{rev}/{path*}",
     .handle = hf_resolve_handle,
     .arg = "raw"},
    {.name = "hf.raw",
     .methods = "GET HEAD",
     .pattern = "/{tp}/{ns}/{name}/raw/{rev}/{path*}",
     .handle = hf_resolve_handle,
     .arg = "raw"},

    {.name = "lfs.batch",
     .methods = "POST",
     .pattern = "/{ns}/{name}.git/info/lfs/objects/batch",
     .body = HTTP_BODY_BUFFER,
     .lfs_errors = true,
     .handle = lfs_batch_handle},
    {.name = "lfs.batch",
     .methods = "POST",
     .pattern = "/{tp}/{ns}/{name}.git/info/lfs/objects/batch",
     .body = HTTP_BODY_BUFFER,
     .lfs_errors = true,
     .handle = lfs_batch_handle},
    {.name = "lfs.batch",
     .methods = "POST",
     .pattern = "/{ns}/{name}/info/lfs/objects/batch",
     .body = HTTP_BODY_BUFFER,
     .lfs_errors = true,
     .handle = lfs_batch_handle},
    {.name = "lfs.batch",
     .methods = "POST",
     .pattern = "/{tp}/{ns}/{name}/info/lfs/objects/batch",
     .body = HTTP_BODY_BUFFER,
     .lfs_errors = true,
     .handle = lfs_batch_handle},
    {.name = "lfs.upload",
     .methods = "PUT",
     .pattern = "/api/lfs/{tp}/{ns}/{name}/{oid}",
     .body = HTTP_BODY_STREAM,
     .begin = lfs_upload_begin,
     .on_body = lfs_upload_body,
     .lfs_errors = true,
     .handle = lfs_upload_handle},
    {.name = "lfs.download",
     .methods = "GET HEAD",
     .pattern = "/api/lfs/{tp}/{ns}/{name}/{oid}",
     .lfs_errors = true,
     .handle = lfs_download_handle},
    {.name = "lfs.verify",
     .methods = "POST",
     .pattern = "/api/lfs/{tp}/{ns}/{name}/{oid}/verify",
     .body = HTTP_BODY_BUFFER,
     .lfs_errors = true,
     .handle = lfs_verify_handle},
};

void hf_http_register(struct http_router *router)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        http_router_add(router, &routes[i]);
}
