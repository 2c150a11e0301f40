/* git_http: route table, access checks and push bookkeeping for git smart HTTP. Each request
 * looks the repo up, checks the caller (anonymous callers get 401 with WWW-Authenticate, so git
 * calls its credential helper), spools a POST body to DATA/tmp and runs git http-backend.
 * A push holds the repo lock from the start of receive-pack until it exits. Afterwards the
 * daemon records what changed: updated_at and head_commit, one audit entry per ref, and a
 * link from the repo to every LFS object the pushed commits point to. When main moved, it
 * also records the base model named by the README card or adapter_config.json. */
#include "git_http.h"

#include "git_backend.h"
#include "git_hook.h"
#include "git_locks.h"
#include "git_push_commands.h"
#include "git_settings.h"
#include "hf_base_model.h"
#include "http.h"
#include "hub_config.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_lfs.h"
#include "meta_lfs_access.h"
#include "meta_lfs_lock.h"
#include "meta_repo.h"
#include "pr_merge.h"
#include "repo.h"
#include "repo_lock.h"
#include "repo_manage.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A git-upload-pack request contains only want and have lines of about 50 bytes each, so
 * 64 MiB allows more than a million of them. Stateless negotiation resends earlier haves, so
 * the limit must stay well above one round. */
#define GITHTTP_MAX_FETCH_REQUEST_BYTES (64ull << 20)

/* A push holds the repo lock while receive-pack runs, so a hung receive-pack or hook must
 * not keep it forever. Indexing a pack of tens of GiB on a slow disk can take many minutes,
 * so the limit is generous. */
#define GITHTTP_MAX_PUSH_SECONDS 3600

/* The start of a push body that the daemon reads for the ref update commands before it takes
 * the repo lock. Each command is about 100 bytes plus the ref name, so 1 MiB fits thousands.
 * A longer command list skips the early check, and the hook still applies the same rules. */
#define GITHTTP_MAX_COMMANDS_BYTES (1u << 20)

#define LFS_MEDIA_TYPE      "application/vnd.git-lfs+json"
#define LFS_LOCKS_PAGE_SIZE 100  /* locks in one list or verify page when the client sets none */
#define LFS_LOCKS_MAX_PAGE  1000 /* the largest page a client may ask for */

/* Absolute path of the atelier binary, for the hook scripts. Written once by the service
 * start before the listener opens, read-only afterwards. */
static char hook_binary[PATH_MAX];

enum git_service {
    SERVICE_UPLOAD_PACK = 0,
    SERVICE_RECEIVE_PACK = 1,
};

/* Access that a request needs from the caller, checked by repo_authorize. */
enum git_access {
    ACCESS_READ = 0,
    /* receive-pack: an authenticated caller with a write token who may read the repo. The
     * pre-receive hook lets callers without write access update only the refs of their own
     * open pull requests (refs/pr/N). */
    ACCESS_PUSH = 1,
    ACCESS_WRITE = 2, /* write access to the repo */
};

/* Route argument: the repo type of the URL prefix and, for POST routes, the service. */
struct git_route_arg {
    enum hub_repo_type type;
    enum git_service service;
};

/* State of one git request, freed when the request completes. */
struct git_request_state {
    struct meta_repo repo;
    char repo_dir[PATH_MAX];
    enum git_service service;
    struct githttp_spool spool;
    bool can_write; /* ACCESS_PUSH: whether the caller has write access to the repo */
    bool lfs_reply; /* a git-lfs route: access errors go out as {"message"}, which git-lfs prints */
};

static void request_state_free(void *ptr)
{
    struct git_request_state *state = ptr;

    if (state == NULL)
        return;
    githttp_spool_close(&state->spool);
    free(state);
}

static const char *service_name(enum git_service service)
{
    return service == SERVICE_RECEIVE_PACK ? "git-receive-pack" : "git-upload-pack";
}

/* ---- Access ----------------------------------------------------------------------------- */

/* Finds the repo of the other type (a dataset for a model URL and the reverse) with the id
 * ns/name that the caller may read. Returns false when there is none, and also when the
 * lookup failed, after logging the error, because the hint is optional. */
static bool other_type_find(struct meta_repo *out, struct http_request *req,
                            enum hub_repo_type type, const char *ns, const char *name)
{
    enum hub_repo_type other = type == HUB_REPO_MODEL ? HUB_REPO_DATASET : HUB_REPO_MODEL;
    struct meta *db = http_request_db(req);
    struct hub_error err = HUB_ERROR_INIT;
    bool readable = false;
    int rc;

    rc = meta_repo_get(out, db, other, ns, name, &err);
    if (rc == 0)
        rc = meta_repo_can_read(&readable, db, out, http_request_user(req)->id, &err);
    if (rc < 0 && rc != HUB_ENOTFOUND)
        hub_log(HUB_LOG_ERROR, "git",
                "looking up a %s of the same id failed: repo=%s/%s error=%s req=%s",
                hub_repo_type_name(other), ns, name, err.msg, http_request_id(req));
    return rc == 0 && readable;
}

/* Queues the reply for a caller who may not use the repo, or for a missing repo, and gives
 * the same reply in both cases. Anonymous callers get 401 so git retries with
 * credentials, and they get it whether or not that repo exists. Others get 404, so a private
 * repo looks exactly like a missing one. When the caller may read a repo of the other type
 * with this id, the reply names its URL. An anonymous caller finds the URL in the 401's body,
 * which curl shows but git does not, and git shows it once the caller sends a token. */
static int reply_not_found(struct http_request *req, enum hub_repo_type type, const char *ns,
                           const char *name)
{
    const struct http_user *user = http_request_user(req);
    struct meta_repo other;
    bool has_other = hub_name_is_valid(ns) && hub_name_is_valid(name) &&
                     other_type_find(&other, req, type, ns, name);
    const char *other_prefix = has_other && other.type == HUB_REPO_DATASET ? "/datasets" : "";

    if (user->id == 0 && (!has_other || user->token_invalid))
        return http_reply_unauthorized(req);
    if (user->id == 0)
        return http_reply_unauthorized_message(
            req,
            "no %s %s/%s without a token; a %s of that name exists at %s%s/%s/%s. To use a "
            "private %s %s/%s, send a token of a user who can read it",
            hub_repo_type_name(type), ns, name, hub_repo_type_name(other.type),
            http_request_base_url(req), other_prefix, other.ns, other.name,
            hub_repo_type_name(type), ns, name);
    if (has_other)
        return http_reply_error_code(
            req, 404, "RepoNotFound", "no %s %s/%s; a %s of that name exists at %s%s/%s/%s",
            hub_repo_type_name(type), ns, name, hub_repo_type_name(other.type),
            http_request_base_url(req), other_prefix, other.ns, other.name);
    return http_reply_error_code(req, 404, "RepoNotFound", "repository %s/%s not found", ns, name);
}

static int lfs_reply_message(struct http_request *req, unsigned status, const char *message);

/* Queues a 403 with message, in the git-lfs format when the request is a git-lfs one. */
static void reply_forbidden(struct http_request *req, const struct git_request_state *state,
                            const char *message)
{
    if (state->lfs_reply)
        lfs_reply_message(req, 403, message);
    else
        http_reply_error(req, 403, "%s", message);
}

/* Looks the repo up and checks that the caller has access. operation names what the request
 * does, followed by a preposition ("push to", "unlock request for"), for the 403 messages.
 * Returns 0 when allowed, 1 when a reply was queued, or a negative HUB_E* code. */
static int repo_authorize(struct git_request_state *state, struct http_request *req,
                          enum hub_repo_type type, enum git_access access, const char *operation,
                          struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    const char *ns = http_request_param(req, "ns");
    const char *name = http_request_param(req, "repo");
    struct meta *db = http_request_db(req);
    char message[HUB_MAX_REPO_ID_BYTES + 256];
    bool allowed = false;
    int rc;

    if (ns == NULL || name == NULL || !hub_name_is_valid(ns) || !hub_name_is_valid(name)) {
        reply_not_found(req, type, ns != NULL ? ns : "", name != NULL ? name : "");
        return 1;
    }
    /* An unknown, revoked or disabled user's token makes the caller anonymous (user->id is
     * 0), so reads of public repos work as they do through the Hub API. A push needs a user,
     * so it gets the 401 that names the invalid credentials. */
    if (user->token_invalid && access != ACCESS_READ) {
        http_reply_unauthorized(req);
        return 1;
    }
    rc = meta_repo_get(&state->repo, db, type, ns, name, err);
    if (rc == HUB_ENOTFOUND) {
        reply_not_found(req, type, ns, name);
        return 1;
    }
    if (rc < 0)
        return rc;
    rc = meta_repo_can_read(&allowed, db, &state->repo, user->id, err);
    if (rc < 0)
        return rc;
    if (!allowed) {
        reply_not_found(req, type, ns, name);
        return 1;
    }
    if (access != ACCESS_READ) {
        if (user->id == 0) {
            http_reply_unauthorized(req);
            return 1;
        }
        if (user->scope < HTTP_SCOPE_WRITE) {
            snprintf(message, sizeof(message),
                     "%s %s/%s rejected: the token is read-only; create a write token in your "
                     "settings and use it as the password",
                     operation, ns, name);
            reply_forbidden(req, state, message);
            return 1;
        }
        rc = meta_repo_can_write(&state->can_write, db, &state->repo, user->id, err);
        if (rc < 0)
            return rc;
        if (!state->can_write && access == ACCESS_WRITE) {
            snprintf(message, sizeof(message),
                     "%s %s/%s rejected: user %s has no write access; ask the owner for it, or "
                     "propose the change as a pull request through the Hub API (create_pr=1)",
                     operation, ns, name, user->name);
            reply_forbidden(req, state, message);
            return 1;
        }
    }
    return repo_path_build(state->repo_dir, sizeof(state->repo_dir),
                           http_request_config(req)->data_dir, state->repo.type, state->repo.ns,
                           state->repo.name, err);
}

/* ---- Running http-backend --------------------------------------------------------------- */

struct env_strings {
    char *items[48]; /* the git settings, the hook variables and the NULL at the end */
    size_t count;
};

static int env_push(struct env_strings *env, struct hub_error *err, const char *name,
                    const char *value)
{
    if (env->count + 1 >= sizeof(env->items) / sizeof(env->items[0]))
        return hub_error_set(err, HUB_EINTERNAL, "too many hook environment entries");
    if (asprintf(&env->items[env->count], "%s=%s", name, value) < 0)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the hook environment");
    env->count++;
    env->items[env->count] = NULL;
    return 0;
}

static void env_strings_dispose(struct env_strings *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->items[i]);
    env->count = 0;
}

/* git settings of every git child besides core.hooksPath. */
static const struct {
    const char *key;
    const char *value;
} git_settings[] = {
    /* http-backend serves pushes only with this set; the daemon checks access before. */
    {"http.receivepack", "true"},
    {"uploadpack.allowFilter", "true"},
    /* Protocol v2 serves any object by id. This lets v0 and v1 do the same, which the
     * fetches of missing blobs in a partial clone and fetches of a commit by id need. */
    {"uploadpack.allowAnySHA1InWant", "true"},
    /* Rejects malformed objects, such as a commit whose author has no e-mail, that libgit2
     * cannot read back. git prints the fsck error, with the object id, to the pusher. */
    {"receive.fsckObjects", "true"},
    /* receive.fsckObjects runs fsck in strict mode, which turns its warnings into errors.
     * These two are only warnings in a plain `git fsck` (git 2.39) and occur in old real
     * histories. libgit2 reads such objects: it parses 0100644 as mode 100644, and the hub
     * shows a commit message up to its first NUL byte. The other warnings of git 2.39
     * stay errors because the hub cannot serve them: tree entry names that are empty, ".",
     * "..", ".git" or contain a slash, and entries that name the null object id. */
    {"receive.fsck.zeroPaddedFilemode", "warn"},
    {"receive.fsck.nulInCommit", "warn"},
    /* `git push -o OPTION` fails when the server does not advertise push options. The hook
     * ignores them. */
    {"receive.advertisePushOptions", "true"},
};
#define GIT_SETTING_COUNT (sizeof(git_settings) / sizeof(git_settings[0]))

/* Builds the git settings and hook variables every git child gets. report_path and protected
 * may be NULL. */
static int env_for_git(struct env_strings *env, const char *data_dir, const char *report_path,
                       const char *protected, struct hub_error *err)
{
    char hooks_dir[PATH_MAX];
    char count[16];
    int rc;

    if (snprintf(hooks_dir, sizeof(hooks_dir), "%s/hooks", data_dir) >= (int)sizeof(hooks_dir))
        return hub_error_set(err, HUB_ETOOBIG, "data directory path too long: %s", data_dir);
    /* GIT_CONFIG_COUNT/KEY/VALUE (git 2.31 and newer) set configuration for every git process
     * http-backend starts, without touching the repo's own config file. */
    snprintf(count, sizeof(count), "%zu", GIT_SETTING_COUNT + 1);
    rc = env_push(env, err, "GIT_CONFIG_COUNT", count);
    if (rc == 0)
        rc = env_push(env, err, "GIT_CONFIG_KEY_0", "core.hooksPath");
    if (rc == 0)
        rc = env_push(env, err, "GIT_CONFIG_VALUE_0", hooks_dir);
    for (size_t i = 0; rc == 0 && i < GIT_SETTING_COUNT; i++) {
        char name[32];

        snprintf(name, sizeof(name), "GIT_CONFIG_KEY_%zu", i + 1);
        rc = env_push(env, err, name, git_settings[i].key);
        snprintf(name, sizeof(name), "GIT_CONFIG_VALUE_%zu", i + 1);
        if (rc == 0)
            rc = env_push(env, err, name, git_settings[i].value);
    }
    if (rc == 0)
        rc = env_push(env, err, "ATELIER_DATA_DIR", data_dir);
    if (rc == 0)
        rc = env_push(env, err, "ATELIER_HOOK_BIN", hook_binary);
    if (rc == 0 && report_path != NULL)
        rc = env_push(env, err, "ATELIER_HOOK_REPORT", report_path);
    if (rc == 0 && protected != NULL)
        rc = env_push(env, err, "ATELIER_PROTECTED_BRANCHES", protected);
    return rc;
}

static ssize_t backend_stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    struct githttp_backend *backend = ctx;
    struct hub_error err = HUB_ERROR_INIT;
    ssize_t n;

    (void)pos;
    n = githttp_backend_read(backend, buf, max, &err);
    if (n < 0) {
        hub_log(HUB_LOG_ERROR, "git", "reading git output failed: %s", err.msg);
        return HTTP_STREAM_ERROR;
    }
    return n == 0 ? HTTP_STREAM_END : n;
}

static void backend_stream_free(void *ctx)
{
    githttp_backend_free(ctx);
}

/* Queues the reply with the status, headers and body of backend; takes over backend. */
static int reply_from_backend(struct http_request *req, struct githttp_backend *backend)
{
    static const char *const passed[] = {"Cache-Control", "Expires", "Pragma"};
    const char *content_type = githttp_backend_header(backend, "Content-Type");

    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
        const char *value = githttp_backend_header(backend, passed[i]);

        if (value != NULL)
            http_reply_header(req, passed[i], value);
    }
    return http_reply_stream(req, githttp_backend_status(backend),
                             content_type != NULL ? content_type : "text/plain", HTTP_LENGTH_UNKNOWN,
                             backend_stream_read, backend, backend_stream_free);
}

static void backend_request_init(struct githttp_backend_request *breq, struct http_request *req,
                                 const struct git_request_state *state, const char *rest,
                                 const char *const *env)
{
    const struct http_user *user = http_request_user(req);

    memset(breq, 0, sizeof(*breq));
    breq->repo_dir = state->repo_dir;
    breq->rest = rest;
    breq->method = http_request_method(req);
    breq->query = http_request_query_string(req);
    breq->content_type = http_request_header(req, "Content-Type");
    breq->content_encoding = http_request_header(req, "Content-Encoding");
    breq->git_protocol = http_request_header(req, "Git-Protocol");
    breq->remote_user = user->name;
    breq->remote_addr = http_request_remote_addr(req);
    breq->body_fd = state->spool.fd;
    breq->body_bytes = state->spool.bytes;
    breq->extra_env = env;
}

/* ---- GET info/refs ---------------------------------------------------------------------- */

static int info_refs_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct git_route_arg *route = arg;
    const char *service = http_request_query(req, "service");
    const char *data_dir = http_request_config(req)->data_dir;
    struct git_request_state state = {.spool = GITHTTP_SPOOL_INIT};
    struct githttp_backend_request breq;
    struct githttp_backend *backend = NULL;
    struct env_strings env = {{NULL}, 0};
    char tmp_dir[PATH_MAX];
    enum git_service which;
    int rc;

    if (service == NULL || (strcmp(service, "git-upload-pack") != 0 &&
                            strcmp(service, "git-receive-pack") != 0))
        return http_reply_error(req, 403, "only the smart HTTP protocol is served: request "
                                "info/refs?service=git-upload-pack or git-receive-pack (git 1.6.6 "
                                "or newer does)");
    which = strcmp(service, "git-receive-pack") == 0 ? SERVICE_RECEIVE_PACK : SERVICE_UPLOAD_PACK;
    rc = repo_authorize(&state, req, route->type,
                        which == SERVICE_RECEIVE_PACK ? ACCESS_PUSH : ACCESS_READ, "push to", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", data_dir);
    rc = env_for_git(&env, data_dir, NULL, NULL, err);
    if (rc < 0)
        goto out;
    backend_request_init(&breq, req, &state, "info/refs", (const char *const *)env.items);
    breq.tmp_dir = tmp_dir;
    rc = githttp_backend_start(&backend, &breq, err);
    if (rc < 0)
        goto out;
    rc = reply_from_backend(req, backend);
out:
    env_strings_dispose(&env);
    return rc;
}

/* ---- POST git-upload-pack and git-receive-pack ------------------------------------------ */

static int rpc_begin(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct git_route_arg *route = arg;
    const struct hub_config *config = http_request_config(req);
    struct git_request_state *state = NULL;
    char tmp_dir[PATH_MAX];
    uint64_t max_bytes;
    int rc;

    state = calloc(1, sizeof(*state));
    if (state == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate git request state");
    state->spool.fd = -1;
    http_request_set_state(req, state, request_state_free);
    rc = repo_authorize(state, req, route->type,
                        route->service == SERVICE_RECEIVE_PACK ? ACCESS_PUSH : ACCESS_READ,
                        "push to", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    state->service = route->service;
    /* NOTE: a push may carry non-LFS files of any size, so it is bounded by the largest LFS
     * object the hub accepts rather than by a git-specific setting. */
    max_bytes = route->service == SERVICE_RECEIVE_PACK ? config->max_upload_bytes
                                                       : GITHTTP_MAX_FETCH_REQUEST_BYTES;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", config->data_dir);
    return githttp_spool_open(&state->spool, tmp_dir, max_bytes, err);
}

static int rpc_body(struct http_request *req, const char *data, size_t len, void *arg,
                    struct hub_error *err)
{
    struct git_request_state *state = http_request_state(req);

    (void)arg;
    return githttp_spool_write(&state->spool, data, len, err);
}

/* Writes one "<owner>\t<path>" line of the pre-receive hook's lock list. */
static int locks_file_line(const struct meta_lfs_lock *lock, void *arg)
{
    fprintf(arg, "%s\t%s\n", lock->owner_name, lock->path);
    return 0;
}

/* Writes the git-lfs locks of repo that other users than user_id hold to locks_path, one
 * "<owner>\t<path>" line each, for the pre-receive hook. */
static int locks_file_write(const char *locks_path, struct meta *db, int64_t repo_id,
                            int64_t user_id, struct hub_error *err)
{
    FILE *out;
    int rc;

    out = fopen(locks_path, "w");
    if (out == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot write %s: %s", locks_path,
                                   strerrordesc_np(errno));
    /* Only the hook learns which paths the push changes, so the list has every path. */
    rc = meta_lfs_lock_scan_others(db, repo_id, &user_id, 1, NULL, 0, locks_file_line, out, err);
    if (fclose(out) != 0 && rc == 0)
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot write %s: %s", locks_path,
                                 strerrordesc_np(errno));
    return rc;
}

/* Writes the repo's API URL (.../api/models/NS/NAME) to buf. */
static void repo_api_url(char *buf, size_t size, struct http_request *req,
                         const struct git_request_state *state)
{
    snprintf(buf, size, "%s/api/%s/%s/%s", http_request_base_url(req),
             state->repo.type == HUB_REPO_DATASET ? "datasets" : "models", state->repo.ns,
             state->repo.name);
}

/* Runs receive-pack under the repo lock. report_path gets the hook findings. */
static int receive_pack_run(struct githttp_backend **out, struct http_request *req,
                            struct git_request_state *state, const char *report_path,
                            const char *locks_path, struct hub_error *err)
{
    const char *data_dir = http_request_config(req)->data_dir;
    struct githttp_backend_request breq;
    struct env_strings env = {{NULL}, 0};
    struct repo_lock *lock = NULL;
    char *protected = NULL;
    char tmp_dir[PATH_MAX];
    char user_id[24];
    char repo_id[24];
    char repo_url[PATH_MAX];
    char api_url[PATH_MAX];
    char max_file_bytes[24];
    int rc;

    rc = gitsettings_protected_branches(&protected, http_request_db(req), state->repo.id, err);
    if (rc < 0)
        goto out;
    snprintf(user_id, sizeof(user_id), "%lld", (long long)http_request_user(req)->id);
    snprintf(repo_id, sizeof(repo_id), "%lld", (long long)state->repo.id);
    snprintf(repo_url, sizeof(repo_url), "%s%s/%s/%s", http_request_base_url(req),
             state->repo.type == HUB_REPO_DATASET ? "/datasets" : "", state->repo.ns,
             state->repo.name);
    repo_api_url(api_url, sizeof(api_url), req, state);
    /* A push stores regular files in git as the commit API's file lines do, with the same
     * limit. */
    snprintf(max_file_bytes, sizeof(max_file_bytes), "%llu",
             (unsigned long long)http_request_config(req)->max_commit_file_bytes);
    rc = env_for_git(&env, data_dir, report_path, protected, err);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_LOCKS", locks_path);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_USER_ID", user_id);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_USER_NAME", http_request_user(req)->name);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_CAN_WRITE", state->can_write ? "1" : "0");
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_REPO_ID", repo_id);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_REPO_URL", repo_url);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_API_URL", api_url);
    if (rc == 0)
        rc = env_push(&env, err, "ATELIER_HOOK_MAX_FILE_BYTES", max_file_bytes);
    if (rc < 0)
        goto out;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", data_dir);
    backend_request_init(&breq, req, state, "git-receive-pack", (const char *const *)env.items);
    breq.tmp_dir = tmp_dir;
    breq.wait_for_exit = true;
    breq.max_seconds = GITHTTP_MAX_PUSH_SECONDS;
    /* A reader's push of a branch or tag is rejected before this point by
     * reader_push_reject_early, so only pushes the hook may accept wait here. NOTE: a reader's
     * push that skips that check (a gzip body, a command list over
     * GITHTTP_MAX_COMMANDS_BYTES, a SHA-256 repo) still holds the lock until the hook rejects
     * it. */
    rc = repo_lock_acquire(&lock, state->repo_dir, err);
    if (rc < 0)
        goto out;
    /* Read under the repo lock, so the list matches the refs the hook checks against. */
    rc = locks_file_write(locks_path, http_request_db(req), state->repo.id,
                          http_request_user(req)->id, err);
    if (rc == 0)
        rc = githttp_backend_start(out, &breq, err);
    repo_lock_release(lock);
out:
    free(protected);
    env_strings_dispose(&env);
    return rc;
}

/* Links one LFS object from the report to the repo. The hook accepted the pointer only when
 * the pushing user may read the object through some repo. The check is repeated here because
 * the database may have changed since, and an object that fails it stays unlinked. */
static void push_link_object(struct meta *db, const struct meta_repo *repo, int64_t user_id,
                             const char *oid, uint64_t size)
{
    struct hub_error err = HUB_ERROR_INIT;
    bool readable = false;

    if (meta_lfs_user_can_read(&readable, db, user_id, oid, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "git", "checking an LFS object after a push failed: repo=%s/%s "
                "oid=%s error=%s", repo->ns, repo->name, oid, err.msg);
        return;
    }
    if (!readable) {
        hub_log(HUB_LOG_WARN, "git", "LFS object of a push not linked, because the user cannot "
                "read it: repo=%s/%s oid=%s user_id=%lld", repo->ns, repo->name, oid,
                (long long)user_id);
        return;
    }
    /* A readable object is linked to some repo, so its row exists, and adding it again only
     * checks that the recorded size matches the pointer's. */
    if (meta_lfs_object_add(db, oid, size, &err) < 0 ||
        meta_lfs_link(db, repo->id, oid, &err) < 0)
        hub_log(HUB_LOG_ERROR, "git", "linking an LFS object after a push failed: repo=%s/%s "
                "oid=%s error=%s", repo->ns, repo->name, oid, err.msg);
}

/* Opens the pushed repo into *git unless it is open already, so one push opens it at most
 * once. Returns false, with a log line, when it cannot be opened. */
static bool push_repo_open(struct repo **git, struct http_request *req,
                           const struct git_request_state *state)
{
    struct hub_error err = HUB_ERROR_INIT;

    if (*git != NULL)
        return true;
    if (repo_open_path(git, state->repo_dir, &err) == 0)
        return true;
    hub_log(HUB_LOG_ERROR, "git",
            "opening the repo after a push failed: repo=%s/%s error=%s req=%s", state->repo.ns,
            state->repo.name, err.msg, http_request_id(req));
    return false;
}

/* Marks the open pull requests that the new head of branch contains as merged, as when a
 * writer merged refs/pr/N with git and pushed the result. */
static void push_record_merged_prs(struct http_request *req, const struct git_request_state *state,
                                   struct repo *git, const char *branch, const char *old_head,
                                   const char *head)
{
    struct hub_error err = HUB_ERROR_INIT;
    size_t marked = 0;

    if (pr_mark_merged_by_push(&marked, http_request_db(req), git, &state->repo, branch, old_head,
                               head, http_request_user(req)->id, &err) < 0)
        hub_log(HUB_LOG_ERROR, "git",
                "checking pull requests after a push failed: repo=%s/%s branch=%s error=%s req=%s",
                state->repo.ns, state->repo.name, branch, err.msg, http_request_id(req));
}

/* Reads the hook report and records the push: updated_at and head_commit, audit entries, LFS
 * links, pull requests the push merged and the base model. Failures are logged, because the
 * refs have moved already, so the push still succeeded. */
static void push_record(struct http_request *req, const struct git_request_state *state,
                        const char *report_path)
{
    const struct http_user *user = http_request_user(req);
    struct meta *db = http_request_db(req);
    struct hub_error err = HUB_ERROR_INIT;
    char repo_label[HUB_MAX_REPO_ID_BYTES + 16];
    char line[2048];
    char main_commit[41] = "";
    bool updated = false;
    struct repo *git = NULL;
    FILE *report;

    report = fopen(report_path, "r");
    if (report == NULL)
        return;
    snprintf(repo_label, sizeof(repo_label), "%s:%s/%s", hub_repo_type_name(state->repo.type),
             state->repo.ns, state->repo.name);
    while (fgets(line, sizeof(line), report) != NULL) {
        struct githook_update update;
        size_t len = strcspn(line, "\n");
        const char *ref = update.ref;
        const char *old_oid = update.old_oid;
        const char *new_oid = update.new_oid;
        char detail[GITHOOK_MAX_REF_BYTES + 64];

        if (strncmp(line, "rejected ", 9) == 0) {
            /* The hook's message went to the client; this line keeps a record of it. */
            hub_log(HUB_LOG_INFO, "git", "push rejected by the pre-receive hook repo=%s user=%s "
                    "status=%d req=%s", repo_label, user->name, atoi(line + 9),
                    http_request_id(req));
            continue;
        }
        if (strncmp(line, "update ", 7) != 0 ||
            githook_update_parse(&update, line + 7, len - 7, &err) < 0)
            continue;
        updated = true;
        snprintf(detail, sizeof(detail), "%s %.12s..%.12s via git", ref, old_oid, new_oid);
        if (meta_audit_add(db, user->name, "repo.push", repo_label, detail, &err) < 0)
            hub_log(HUB_LOG_ERROR, "git", "audit entry for a push failed: repo=%s error=%s",
                    repo_label, err.msg);
        if (strcmp(ref, "refs/heads/" REPO_DEFAULT_BRANCH) == 0 && strspn(new_oid, "0") != 40)
            memcpy(main_commit, new_oid, sizeof(main_commit));
        if (strncmp(ref, "refs/heads/", 11) == 0 && strspn(new_oid, "0") != 40 &&
            push_repo_open(&git, req, state))
            push_record_merged_prs(req, state, git, ref + 11, old_oid, new_oid);
        hub_log(HUB_LOG_INFO, "git", "push repo=%s user=%s ref=%s old=%.12s new=%.12s req=%s",
                repo_label, user->name, ref, old_oid, new_oid, http_request_id(req));
    }
    if (updated &&
        meta_repo_touch(db, state->repo.id, main_commit[0] != '\0' ? main_commit : NULL, &err) < 0)
        hub_log(HUB_LOG_ERROR, "git", "updating the repo after a push failed: repo=%s error=%s",
                repo_label, err.msg);
    rewind(report);
    while (updated && fgets(line, sizeof(line), report) != NULL) {
        char oid[STORE_OID_HEX_BYTES + 1];
        const char *size_text = line + 4 + STORE_OID_HEX_BYTES + 1;
        char *end = NULL;
        unsigned long long size;

        if (strncmp(line, "lfs ", 4) != 0 || strlen(line) < 4 + STORE_OID_HEX_BYTES + 2 ||
            line[4 + STORE_OID_HEX_BYTES] != ' ' || !isdigit((unsigned char)size_text[0]))
            continue;
        memcpy(oid, line + 4, STORE_OID_HEX_BYTES);
        oid[STORE_OID_HEX_BYTES] = '\0';
        errno = 0;
        size = strtoull(size_text, &end, 10);
        if (errno != 0 || (*end != '\n' && *end != '\0') || !store_oid_is_valid(oid))
            continue;
        push_link_object(db, &state->repo, user->id, oid, size);
    }
    fclose(report);
    /* Records the base model named at the new head of main, as the commit API does. */
    if (main_commit[0] != '\0' && push_repo_open(&git, req, state))
        hf_base_model_refresh(db, git, &state->repo, main_commit, "git", http_request_id(req));
    repo_close(git);
}

/* Reads the ref update commands at the start of the spooled push body into *cmds. Returns 0,
 * or a negative code when the early check cannot run and receive-pack should get the push. */
static int push_commands_read(struct gitpush_commands *cmds, struct http_request *req,
                              const struct git_request_state *state, struct hub_error *err)
{
    const char *encoding = http_request_header(req, "Content-Encoding");
    size_t len = state->spool.bytes < GITHTTP_MAX_COMMANDS_BYTES ? (size_t)state->spool.bytes
                                                                 : GITHTTP_MAX_COMMANDS_BYTES;
    size_t done = 0;
    char *data;
    int rc;

    /* git 2.39 does not compress push bodies, and other clients that do are left to
     * receive-pack, which reads gzip. */
    if (encoding != NULL && encoding[0] != '\0' && strcasecmp(encoding, "identity") != 0)
        return hub_error_set(err, HUB_EINVAL, "push body with Content-Encoding %s", encoding);
    data = malloc(len > 0 ? len : 1);
    if (data == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu bytes for the push commands",
                             len);
    while (done < len) {
        ssize_t n = pread(state->spool.fd, data + done, len - done, (off_t)done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(data);
            return hub_error_set_errno(err, HUB_EIO, n < 0 ? errno : 0,
                                       "cannot read the spooled push body: %s",
                                       n < 0 ? strerrordesc_np(errno) : "unexpected end");
        }
        done += (size_t)n;
    }
    rc = gitpush_commands_parse(cmds, data, len, err);
    free(data);
    return rc;
}

/* Writes the hook's rejection of each command in cmds that a reader may not push (all but
 * refs/pr/N) to message, and a copy of it without the newline to reasons[i]. Returns the
 * number of such commands, or HUB_ENOMEM. */
static int reader_rejections_write(char *reasons[], FILE *message,
                                   const struct gitpush_commands *cmds, const char *user_name,
                                   const char *api_url, struct hub_error *err)
{
    int rejected = 0;

    for (size_t i = 0; i < cmds->count; i++) {
        const char *ref = cmds->updates[i].ref;
        char *line = NULL;
        size_t line_len = 0;
        FILE *out;

        if (strncmp(ref, "refs/pr/", 8) == 0)
            continue;
        out = open_memstream(&line, &line_len);
        if (out == NULL)
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate the push rejection");
        /* The same order of checks as the hook's update_is_allowed. */
        if (strncmp(ref, "refs/heads/", 11) == 0 || strncmp(ref, "refs/tags/", 10) == 0)
            githook_write_access_reject(ref, user_name, api_url, out);
        else
            githook_ref_kind_reject(ref, out);
        if (fclose(out) != 0 || line == NULL) {
            free(line);
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate the push rejection");
        }
        fputs(line, message);
        line[strcspn(line, "\n")] = '\0';
        reasons[i] = line;
        rejected++;
    }
    return rejected;
}

/* Rejects a push by a caller without write access that updates a ref other than refs/pr/N
 * before receive-pack starts, so the repo lock is not held while git unpacks and checks a
 * pack that the pre-receive hook would reject anyway. The reply carries the hook's message,
 * so git prints the same as for the hook's rejection. Returns 0 after queuing the reply, 1
 * when receive-pack should run, or a negative error code. */
static int reader_push_reject_early(struct http_request *req, const struct git_request_state *state,
                                    struct hub_error *err)
{
    struct hub_error parse_err = HUB_ERROR_INIT;
    struct gitpush_commands cmds;
    char api_url[PATH_MAX];
    char **reasons = NULL;
    char *message = NULL;
    size_t message_len = 0;
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = NULL;
    int rc;

    rc = push_commands_read(&cmds, req, state, &parse_err);
    if (rc == HUB_EIO || rc == HUB_ENOMEM) {
        *err = parse_err;
        return rc;
    }
    if (rc < 0) {
        hub_log(HUB_LOG_DEBUG, "git", "early push check skipped: repo=%s/%s reason=%s req=%s",
                state->repo.ns, state->repo.name, parse_err.msg, http_request_id(req));
        return 1;
    }
    repo_api_url(api_url, sizeof(api_url), req, state);
    reasons = calloc(cmds.count, sizeof(*reasons));
    out = open_memstream(&message, &message_len);
    if (reasons == NULL || out == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the push rejection");
        goto out;
    }
    rc = reader_rejections_write(reasons, out, &cmds, http_request_user(req)->name, api_url, err);
    if (fclose(out) != 0 && rc >= 0)
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the push rejection");
    out = NULL;
    if (rc <= 0) {
        rc = rc == 0 ? 1 : rc;
        goto out;
    }
    rc = gitpush_rejection_build(&body, &body_len, &cmds, message, (const char *const *)reasons,
                                 err);
    if (rc < 0)
        goto out;
    hub_log(HUB_LOG_INFO, "git",
            "push rejected before receive-pack: repo=%s/%s user=%s refs=%zu req=%s",
            state->repo.ns, state->repo.name, http_request_user(req)->name, cmds.count,
            http_request_id(req));
    http_reply_header(req, "Cache-Control", "no-cache");
    rc = http_reply_buffer(req, 200, "application/x-git-receive-pack-result", body, body_len);
out:
    if (out != NULL)
        fclose(out);
    for (size_t i = 0; reasons != NULL && i < cmds.count; i++)
        free(reasons[i]);
    free(reasons);
    free(message);
    gitpush_commands_dispose(&cmds);
    return rc;
}

static int receive_pack_handle(struct http_request *req, struct git_request_state *state,
                               struct hub_error *err)
{
    struct githttp_backend *backend = NULL;
    char report_path[PATH_MAX];
    char locks_path[PATH_MAX];
    int fd;
    int rc;

    if (!state->can_write) {
        rc = reader_push_reject_early(req, state, err);
        if (rc <= 0)
            return rc;
    }
    if (snprintf(report_path, sizeof(report_path), "%s/tmp/git-report-XXXXXX",
                 http_request_config(req)->data_dir) >= (int)sizeof(report_path))
        return hub_error_set(err, HUB_ETOOBIG, "data directory path too long");
    fd = mkostemp(report_path, O_CLOEXEC);
    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s: %s", report_path,
                                   strerrordesc_np(errno));
    close(fd);
    if (snprintf(locks_path, sizeof(locks_path), "%s.locks", report_path) >=
        (int)sizeof(locks_path)) {
        unlink(report_path);
        return hub_error_set(err, HUB_ETOOBIG, "data directory path too long");
    }
    rc = receive_pack_run(&backend, req, state, report_path, locks_path, err);
    if (rc == 0) {
        push_record(req, state, report_path);
        rc = reply_from_backend(req, backend);
    }
    unlink(report_path);
    unlink(locks_path);
    return rc;
}

static int rpc_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct git_request_state *state = http_request_state(req);
    struct githttp_backend_request breq;
    struct githttp_backend *backend = NULL;
    struct env_strings env = {{NULL}, 0};
    const char *data_dir = http_request_config(req)->data_dir;
    char tmp_dir[PATH_MAX];
    int rc;

    (void)arg;
    if (state == NULL || state->spool.fd < 0)
        return hub_error_set(err, HUB_EINTERNAL, "git request without state");
    if (state->service == SERVICE_RECEIVE_PACK)
        return receive_pack_handle(req, state, err);
    rc = env_for_git(&env, data_dir, NULL, NULL, err);
    if (rc < 0)
        goto out;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", data_dir);
    backend_request_init(&breq, req, state, service_name(state->service),
                         (const char *const *)env.items);
    breq.tmp_dir = tmp_dir;
    rc = githttp_backend_start(&backend, &breq, err);
    if (rc < 0)
        goto out;
    rc = reply_from_backend(req, backend);
out:
    env_strings_dispose(&env);
    return rc;
}

/* ---- git-lfs locks ---------------------------------------------------------------------- */

/* Queues body (taking the reference) with the git-lfs media type. */
static int lfs_reply(struct http_request *req, unsigned status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    json_decref(body);
    if (text == NULL)
        return http_reply_error(req, 500, "cannot encode the git-lfs response");
    return http_reply_buffer(req, status, LFS_MEDIA_TYPE, text, strlen(text));
}

static int lfs_reply_message(struct http_request *req, unsigned status, const char *message)
{
    return lfs_reply(req, status, json_pack("{s:s}", "message", message));
}

static json_t *lock_to_json(const struct meta_lfs_lock *lock)
{
    char id[32];
    char locked_at[32];
    time_t when = (time_t)lock->locked_at;
    struct tm tm;

    snprintf(id, sizeof(id), "%lld", (long long)lock->id);
    gmtime_r(&when, &tm);
    strftime(locked_at, sizeof(locked_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", id, "path", lock->path, "locked_at",
                     locked_at, "owner", "name", lock->owner_name);
}

/* Parses a decimal id or cursor of at most 18 digits; returns -1 when text is not one. */
static int64_t lock_id_parse(const char *text)
{
    char *end = NULL;
    long long value;

    if (text == NULL || text[0] < '0' || text[0] > '9' || strlen(text) > 18)
        return -1;
    value = strtoll(text, &end, 10);
    return *end == '\0' ? (int64_t)value : -1;
}

/* Reads the JSON object body of a locks request; an empty body is an empty object. Returns
 * NULL after queuing a 400 reply. */
static json_t *lock_body_parse(struct http_request *req)
{
    size_t len = 0;
    const char *body = http_request_body(req, &len);
    json_error_t error;
    json_t *root;

    if (body == NULL || len == 0)
        return json_object();
    root = json_loadb(body, len, 0, &error);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        lfs_reply_message(req, 400, "invalid JSON body: expected an object");
        return NULL;
    }
    return root;
}

/* Authorises a locks request, with access and operation as for repo_authorize. Returns 0
 * when allowed and 1 when a reply was queued. */
static int lock_authorize(struct git_request_state *state, struct http_request *req, void *arg,
                          enum git_access access, const char *operation, struct hub_error *err)
{
    const struct git_route_arg *route = arg;

    memset(state, 0, sizeof(*state));
    state->lfs_reply = true;
    return repo_authorize(state, req, route->type, access, operation, err);
}

/* Authorises a locks request with a JSON body and parses the body into *body. Returns 0, 1
 * when a reply was queued, or a negative error code. */
static int lock_begin(struct git_request_state *state, json_t **body, struct http_request *req,
                      void *arg, enum git_access access, const char *operation,
                      struct hub_error *err)
{
    int rc = lock_authorize(state, req, arg, access, operation, err);

    if (rc != 0)
        return rc;
    *body = lock_body_parse(req);
    return *body == NULL ? 1 : 0;
}

/* POST ….git/info/lfs/locks: {"path"} creates a lock owned by the caller. */
static int lock_create_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct git_request_state state;
    struct meta_lfs_lock lock;
    const char *path;
    json_t *body = NULL;
    int rc;

    rc = lock_begin(&state, &body, req, arg, ACCESS_WRITE, "lock request for", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    path = json_string_value(json_object_get(body, "path"));
    if (path == NULL) {
        json_decref(body);
        return lfs_reply_message(req, 422, "missing \"path\" in the lock request");
    }
    rc = gitlocks_create(&lock, http_request_db(req), state.repo.id, path,
                         http_request_user(req)->id, err);
    json_decref(body);
    if (rc == HUB_ECONFLICT)
        return lfs_reply(req, 409, json_pack("{s:o,s:s}", "lock", lock_to_json(&lock),
                                             "message", err->msg));
    if (rc == HUB_EINVAL)
        return lfs_reply_message(req, 422, err->msg);
    if (rc < 0)
        return rc;
    return lfs_reply(req, 201, json_pack("{s:o}", "lock", lock_to_json(&lock)));
}

/* Lists one page of locks as {"locks": [...]} or, with split_owner, {"ours", "theirs"}. */
static int locks_page_reply(struct http_request *req, const struct git_request_state *state,
                            const char *path, int64_t id, int64_t cursor, int64_t limit,
                            bool split_owner, struct hub_error *err)
{
    struct meta_lfs_lock *locks = NULL;
    const struct http_user *user = http_request_user(req);
    json_t *all = json_array();
    json_t *ours = json_array();
    json_t *theirs = json_array();
    json_t *reply;
    size_t count = 0;
    int rc;

    /* One lock more than the page shows whether a next page exists. */
    rc = gitlocks_list(&locks, &count, http_request_db(req), state->repo.id, path, id, cursor,
                       (size_t)limit + 1, err);
    if (rc < 0) {
        json_decref(all);
        json_decref(ours);
        json_decref(theirs);
        return rc;
    }
    for (size_t i = 0; i < count && i < (size_t)limit; i++) {
        json_t *target = all;

        if (split_owner)
            target = locks[i].owner_id == user->id ? ours : theirs;
        json_array_append_new(target, lock_to_json(&locks[i]));
    }
    if (split_owner) {
        json_decref(all);
        reply = json_pack("{s:o,s:o}", "ours", ours, "theirs", theirs);
    } else {
        json_decref(ours);
        json_decref(theirs);
        reply = json_pack("{s:o}", "locks", all);
    }
    if (reply != NULL && count > (size_t)limit) {
        char next[32];

        snprintf(next, sizeof(next), "%lld", (long long)locks[limit - 1].id);
        json_object_set_new(reply, "next_cursor", json_string(next));
    }
    free(locks);
    return lfs_reply(req, 200, reply);
}

/* Parses the cursor and limit of a list or verify request; returns false after queuing 400. */
static bool page_parse(struct http_request *req, const char *cursor_text, const char *limit_text,
                       int64_t *cursor, int64_t *limit)
{
    *cursor = cursor_text != NULL && cursor_text[0] != '\0' ? lock_id_parse(cursor_text) : 0;
    *limit = limit_text != NULL && limit_text[0] != '\0' ? lock_id_parse(limit_text)
                                                         : LFS_LOCKS_PAGE_SIZE;
    if (*cursor < 0) {
        char message[160];

        snprintf(message, sizeof(message),
                 "invalid cursor '%.40s': use the next_cursor value of the previous page",
                 cursor_text);
        lfs_reply_message(req, 400, message);
        return false;
    }
    if (*limit < 1 || *limit > LFS_LOCKS_MAX_PAGE) {
        char message[160];

        snprintf(message, sizeof(message), "invalid limit '%.40s': use a number from 1 to %d",
                 limit_text, LFS_LOCKS_MAX_PAGE);
        lfs_reply_message(req, 400, message);
        return false;
    }
    return true;
}

/* GET ….git/info/lfs/locks?path=&id=&cursor=&limit= */
static int locks_list_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct git_request_state state;
    const char *id_text = http_request_query(req, "id");
    int64_t cursor;
    int64_t limit;
    int64_t id = 0;
    int rc;

    rc = lock_authorize(&state, req, arg, ACCESS_READ, "lock list request for", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    if (!page_parse(req, http_request_query(req, "cursor"), http_request_query(req, "limit"),
                    &cursor, &limit))
        return 0;
    if (id_text != NULL && id_text[0] != '\0') {
        id = lock_id_parse(id_text);
        if (id <= 0)
            return lfs_reply_message(req, 400, "invalid lock id");
    }
    return locks_page_reply(req, &state, http_request_query(req, "path"), id, cursor, limit,
                            false, err);
}

/* POST ….git/info/lfs/locks/verify: {"cursor"?, "limit"?} splits the locks by owner. git-lfs
 * calls it before every push, so it admits every caller who may push (ACCESS_PUSH), also a
 * reader who pushes to the ref of their pull request. An anonymous caller gets 401, so git-lfs
 * retries with credentials and the caller's own locks count as "ours". */
static int locks_verify_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct git_request_state state;
    char limit_text[32] = "";
    json_t *body = NULL;
    json_t *limit_value;
    int64_t cursor;
    int64_t limit;
    int rc;

    rc = lock_begin(&state, &body, req, arg, ACCESS_PUSH, "lock verify request for", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    limit_value = json_object_get(body, "limit");
    if (json_is_integer(limit_value))
        snprintf(limit_text, sizeof(limit_text), "%lld",
                 (long long)json_integer_value(limit_value));
    if (!page_parse(req, json_string_value(json_object_get(body, "cursor")), limit_text, &cursor,
                    &limit)) {
        json_decref(body);
        return 0;
    }
    json_decref(body);
    return locks_page_reply(req, &state, NULL, 0, cursor, limit, true, err);
}

/* POST ….git/info/lfs/locks/{id}/unlock: {"force"?} deletes a lock. Without force only the
 * owner may unlock. */
static int lock_unlock_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct git_request_state state;
    struct meta_lfs_lock lock;
    const struct http_user *user = http_request_user(req);
    int64_t id = lock_id_parse(http_request_param(req, "id"));
    json_t *body = NULL;
    bool force;
    int rc;

    rc = lock_begin(&state, &body, req, arg, ACCESS_WRITE, "unlock request for", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    force = json_is_true(json_object_get(body, "force"));
    json_decref(body);
    rc = id > 0 ? gitlocks_get(&lock, http_request_db(req), state.repo.id, id, err)
                : hub_error_set(err, HUB_ENOTFOUND, "lock not found");
    if (rc == HUB_ENOTFOUND)
        return lfs_reply_message(req, 404, err->msg);
    if (rc < 0)
        return rc;
    if (lock.owner_id != user->id && !force) {
        char message[HUB_MAX_PATH_BYTES + 160];

        snprintf(message, sizeof(message), "%s is locked by %s; unlock it with --force to "
                 "break their lock", lock.path, lock.owner_name);
        return lfs_reply_message(req, 403, message);
    }
    rc = gitlocks_delete(http_request_db(req), state.repo.id, id, err);
    if (rc < 0)
        return rc;
    return lfs_reply(req, 200, json_pack("{s:o}", "lock", lock_to_json(&lock)));
}

/* ---- Protected branches ----------------------------------------------------------------- */

/* GET /api/{models|datasets}/{ns}/{repo}/git/protected-branches: {"branches": [...]}. */
static int protected_list_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct git_route_arg *route = arg;
    struct git_request_state state;
    char *list = NULL;
    json_t *branches = NULL;
    char *saveptr = NULL;
    int rc;

    memset(&state, 0, sizeof(state));
    rc = repo_authorize(&state, req, route->type, ACCESS_READ, "protected branch list request for",
                        err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    rc = gitsettings_protected_branches(&list, http_request_db(req), state.repo.id, err);
    if (rc < 0)
        return rc;
    branches = json_array();
    for (char *word = strtok_r(list, " ", &saveptr); word != NULL;
         word = strtok_r(NULL, " ", &saveptr))
        json_array_append_new(branches, json_string(word));
    free(list);
    return http_reply_json(req, 200, json_pack("{s:o}", "branches", branches));
}

/* Sets *out to whether branch exists in the git repo at repo_dir. */
static int branch_exists(bool *out, const char *repo_dir, const char *branch, struct hub_error *err)
{
    struct repo *git = NULL;
    int rc = repo_open_path(&git, repo_dir, err);

    if (rc < 0)
        return rc;
    *out = repo_revision_is_branch(NULL, git, branch);
    repo_close(git);
    return 0;
}

/* PUT and DELETE /api/{models|datasets}/{ns}/{repo}/git/protected-branches/{branch}. The reply
 * is {"branch", "protected", "changed", "branch_exists"}: changed is false when the branch
 * already was as requested, and branch_exists is false when the rule names a branch that does
 * not exist yet. */
static int protected_change_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct git_route_arg *route = arg;
    const char *branch = http_request_param(req, "branch");
    bool protect = strcmp(http_request_method(req), "PUT") == 0;
    struct git_request_state state;
    bool changed = false;
    bool exists = false;
    int rc;

    memset(&state, 0, sizeof(state));
    rc = repo_authorize(&state, req, route->type, ACCESS_WRITE,
                        protect ? "protect request for" : "unprotect request for", err);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    rc = repo_manage_branch_protect(http_request_db(req), &state.repo, branch, protect,
                                    http_request_user(req)->name, http_request_id(req), &changed,
                                    err);
    if (rc < 0)
        return rc;
    rc = branch_exists(&exists, state.repo_dir, branch, err);
    if (rc < 0)
        return rc;
    return http_reply_json(req, 200,
                           json_pack("{s:s,s:b,s:b,s:b}", "branch", branch, "protected", protect,
                                     "changed", changed, "branch_exists", exists));
}

/* ---- Hook scripts ----------------------------------------------------------------------- */

static int hook_script_write(const char *hooks_dir, const char *hook, struct hub_error *err)
{
    char path[PATH_MAX];
    char tmp_path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", hooks_dir, hook);
    snprintf(tmp_path, sizeof(tmp_path), "%s/.%s.tmp", hooks_dir, hook);
    f = fopen(tmp_path, "w");
    if (f == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot write %s: %s", tmp_path,
                                   strerrordesc_np(errno));
    fprintf(f, "#!/bin/sh\n# Written by atelier serve at every start; edits are lost.\n"
               "exec \"$ATELIER_HOOK_BIN\" hook %s\n", hook);
    if (fclose(f) != 0 || chmod(tmp_path, 0755) != 0 || rename(tmp_path, path) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot install %s: %s", path,
                                   strerrordesc_np(errno));
    return 0;
}

static int hooks_start(void *arg, const struct hub_config *config, struct hub_error *err)
{
    char hooks_dir[PATH_MAX];
    ssize_t n;
    int rc;

    (void)arg;
    n = readlink("/proc/self/exe", hook_binary, sizeof(hook_binary) - 1);
    if (n <= 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot find the atelier binary: %s",
                                   strerrordesc_np(errno));
    hook_binary[n] = '\0';
    if (snprintf(hooks_dir, sizeof(hooks_dir), "%s/hooks", config->data_dir) >=
        (int)sizeof(hooks_dir))
        return hub_error_set(err, HUB_ETOOBIG, "data directory path too long: %s",
                             config->data_dir);
    if (mkdir(hooks_dir, 0750) != 0 && errno != EEXIST)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s: %s", hooks_dir,
                                   strerrordesc_np(errno));
    rc = hook_script_write(hooks_dir, "pre-receive", err);
    if (rc == 0)
        rc = hook_script_write(hooks_dir, "post-receive", err);
    return rc;
}

/* ---- Route table ------------------------------------------------------------------------ */

static const struct git_route_arg model_fetch = {HUB_REPO_MODEL, SERVICE_UPLOAD_PACK};
static const struct git_route_arg model_push = {HUB_REPO_MODEL, SERVICE_RECEIVE_PACK};
static const struct git_route_arg dataset_fetch = {HUB_REPO_DATASET, SERVICE_UPLOAD_PACK};
static const struct git_route_arg dataset_push = {HUB_REPO_DATASET, SERVICE_RECEIVE_PACK};

/* The smart HTTP routes send their errors as text/plain. git 2.39 prints such a reply to
 * info/refs as `remote:` lines, and for the POST routes it shows only the status. The git-lfs
 * routes below keep JSON, because git-lfs expects it. */
#define GIT_INFO_REFS(route_name, prefix, route_arg)                                               \
    {.name = route_name, .methods = "GET", .pattern = prefix "/info/refs",                         \
     .text_errors = true, .handle = info_refs_handle, .arg = (void *)(route_arg)}
#define GIT_RPC(route_name, prefix, service_path, route_arg)                                       \
    {.name = route_name, .methods = "POST", .pattern = prefix "/" service_path,                    \
     .text_errors = true, .body = HTTP_BODY_STREAM, .begin = rpc_begin, .on_body = rpc_body,       \
     .handle = rpc_handle, .arg = (void *)(route_arg)}
#define GIT_ROUTES(prefix, fetch_arg, push_arg)                                                    \
    GIT_INFO_REFS("git.info_refs", prefix, fetch_arg),                                             \
        GIT_RPC("git.upload_pack", prefix, "git-upload-pack", fetch_arg),                          \
        GIT_RPC("git.receive_pack", prefix, "git-receive-pack", push_arg)

static const struct http_route git_routes[] = {
    GIT_ROUTES("/{ns}/{repo}.git", &model_fetch, &model_push),
    GIT_ROUTES("/{ns}/{repo}", &model_fetch, &model_push),
    GIT_ROUTES("/datasets/{ns}/{repo}.git", &dataset_fetch, &dataset_push),
    GIT_ROUTES("/datasets/{ns}/{repo}", &dataset_fetch, &dataset_push),
};

#define LFS_LOCK_ROUTES(prefix, fetch_arg, push_arg)                                              \
    {.name = "git.lfs_locks_verify", .methods = "POST",                                            \
     .pattern = prefix "/info/lfs/locks/verify", .body = HTTP_BODY_BUFFER,                          \
     .max_body_bytes = 65536, .handle = locks_verify_handle, .arg = (void *)(push_arg)},           \
        {.name = "git.lfs_locks_list", .methods = "GET", .pattern = prefix "/info/lfs/locks",      \
         .handle = locks_list_handle, .arg = (void *)(fetch_arg)},                                 \
        {.name = "git.lfs_lock_create", .methods = "POST", .pattern = prefix "/info/lfs/locks",    \
         .body = HTTP_BODY_BUFFER, .max_body_bytes = 65536, .handle = lock_create_handle,          \
         .arg = (void *)(push_arg)},                                                               \
        {.name = "git.lfs_unlock", .methods = "POST",                                              \
         .pattern = prefix "/info/lfs/locks/{id}/unlock", .body = HTTP_BODY_BUFFER,                \
         .max_body_bytes = 65536, .handle = lock_unlock_handle, .arg = (void *)(push_arg)}

static const struct http_route lfs_lock_routes[] = {
    LFS_LOCK_ROUTES("/{ns}/{repo}.git", &model_fetch, &model_push),
    LFS_LOCK_ROUTES("/datasets/{ns}/{repo}.git", &dataset_fetch, &dataset_push),
};

static const struct http_route protected_routes[] = {
    {.name = "git.protected_list", .methods = "GET",
     .pattern = "/api/models/{ns}/{repo}/git/protected-branches",
     .handle = protected_list_handle, .arg = (void *)&model_fetch},
    {.name = "git.protected_change", .methods = "PUT DELETE",
     .pattern = "/api/models/{ns}/{repo}/git/protected-branches/{branch+}",
     .auth_required = true, .handle = protected_change_handle, .arg = (void *)&model_fetch},
    {.name = "git.protected_list", .methods = "GET",
     .pattern = "/api/datasets/{ns}/{repo}/git/protected-branches",
     .handle = protected_list_handle, .arg = (void *)&dataset_fetch},
    {.name = "git.protected_change", .methods = "PUT DELETE",
     .pattern = "/api/datasets/{ns}/{repo}/git/protected-branches/{branch+}",
     .auth_required = true, .handle = protected_change_handle, .arg = (void *)&dataset_fetch},
};

static const struct http_service hooks_service = {
    .name = "git.hooks",
    .start = hooks_start,
};

void git_http_register(struct http_router *router)
{
    for (size_t i = 0; i < sizeof(git_routes) / sizeof(git_routes[0]); i++)
        http_router_add(router, &git_routes[i]);
    for (size_t i = 0; i < sizeof(lfs_lock_routes) / sizeof(lfs_lock_routes[0]); i++)
        http_router_add(router, &lfs_lock_routes[i]);
    for (size_t i = 0; i < sizeof(protected_routes) / sizeof(protected_routes[0]); i++)
        http_router_add(router, &protected_routes[i]);
    http_router_add_service(router, &hooks_service);
}
