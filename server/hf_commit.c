/* hf_commit: preupload (which files go through LFS) and the NDJSON commit API. The commit
 * body is parsed while it streams in. The commit itself is one repo_commit call, which
 * applies every operation under the repo lock or none. */
#include "hf_internal.h"

#include "hf_base_model.h"
#include "git_locks.h"
#include "http_parse.h"
#include "hub_log.h"
#include "lfs_attributes.h"
#include "lfs_pointer.h"
#include "meta.h"
#include "meta_lfs.h"
#include "meta_pr.h"
#include "pr_merge.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- who may change what ------------------------------------------------------------------ */

/* Loads the repo of a preupload or commit request and checks the caller's right to change
 * revision rev. Writers commit to branches. With create_pr, anyone who may read the repo
 * (with a write token) opens a pull request from branch rev. Commits to refs/pr/N come from
 * the pull request's author or a writer. Writes the branch or refs/pr/N into target
 * (HUB_MAX_REVISION_BYTES + 1 bytes). Queues the error reply on failure. */
static int commit_target_load(struct hf_repo_ctx *ctx, char *target, struct http_request *req,
                              const char *rev, bool create_pr)
{
    char commit[REPO_OID_HEX_BYTES + 1];
    int64_t number = 0;
    bool pr_ref = rev != NULL && hf_pr_number_parse(&number, rev);
    int rc;

    rc = hf_repo_load_params(ctx, req, false);
    if (rc == 0 && !create_pr && !pr_ref)
        rc = hf_repo_check_commit_write(req, ctx);
    if (rc < 0)
        return rc;
    if (pr_ref && create_pr) {
        http_reply_error(req, 400,
                         "create_pr=1 opens a pull request from a branch, not from %s; commit to "
                         "%s without create_pr to add to that pull request",
                         rev, rev);
        return HUB_EINVAL;
    }
    if (pr_ref) {
        rc = hf_pr_check_commit(req, ctx, number);
        if (rc == 0)
            rc = hf_revision_resolve(commit, req, ctx, rev);
        if (rc == 0)
            snprintf(target, HUB_MAX_REVISION_BYTES + 1, "%s", rev);
        return rc;
    }
    if (create_pr) {
        rc = hf_pr_check_contributor(req, ctx);
        if (rc < 0)
            return rc;
    }
    if (!repo_revision_is_branch(target, ctx->git, rev)) {
        struct hub_error err = HUB_ERROR_INIT;

        if (repo_revision_resolve(commit, ctx->git, rev, &err) < 0) {
            http_reply_error_code(req, 404, "RevisionNotFound",
                                  "branch '%.200s' not found in %s/%s; %s an existing branch such "
                                  "as main",
                                  rev, ctx->row.ns, ctx->row.name,
                                  create_pr ? "open the pull request on" : "commit to");
            return HUB_ENOTFOUND;
        }
        http_reply_error(req, 400, "cannot commit to '%s': it is a tag or a commit, not a branch",
                         rev);
        return HUB_EINVAL;
    }
    return 0;
}

/* Reads the create_pr query parameter. Queues 400 when it is not a boolean. */
static int create_pr_param(bool *out, struct http_request *req)
{
    const char *text = http_request_query(req, "create_pr");

    *out = false;
    if (text != NULL && !http_parse_bool(out, text)) {
        http_reply_error(req, 400, "invalid create_pr '%.40s': expected 1, 0, true or false", text);
        return HUB_EINVAL;
    }
    return 0;
}

/* ---- preupload ---------------------------------------------------------------------------- */

static struct lfs_attributes *attributes_load(struct http_request *req, json_t *root,
                                              struct repo *git, const char *commit)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_attributes *attrs = NULL;
    const char *text = json_string_value(json_object_get(root, "gitAttributes"));

    if (text != NULL) {
        if (lfs_attributes_parse(
                &attrs, text, json_string_length(json_object_get(root, "gitAttributes")), &err) < 0)
            return NULL;
        return attrs;
    }
    if (repo_lfs_attributes_load(&attrs, git, commit, &err) < 0)
        return NULL;
    return attrs;
}

/* Loads the .gitignore rules (sent as gitIgnore, else the file at commit) as match rules.
 * gitignore(5) globs follow the gitattributes(5) rules that lfs_attributes implements (a
 * pattern without '/' matches a name in any folder), so each ignore pattern becomes one
 * "PATTERN filter=lfs" line. A trailing slash (folders only) becomes a trailing "**".
 * NOTE: negated patterns ("!keep.txt") are skipped, so a re-included file still counts as
 * ignored. Returns NULL when there are no rules or they cannot be read. */
static struct lfs_attributes *ignore_load(json_t *root, struct repo *git, const char *commit)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_attributes *rules = NULL;
    const char *sent = json_string_value(json_object_get(root, "gitIgnore"));
    char *text = NULL, *converted = NULL;
    size_t len = 0, used = 0;

    if (sent != NULL) {
        text = strdup(sent);
        len = text != NULL ? strlen(text) : 0;
    } else if (repo_file_read(&text, &len, git, commit, ".gitignore", HUB_MAX_GITATTRIBUTES_BYTES,
                              &err) < 0) {
        return NULL;
    }
    if (text == NULL || len > HUB_MAX_GITATTRIBUTES_BYTES)
        goto out;
    /* Each line grows by at most "** filter=lfs" (14 bytes) and its newline. */
    converted = malloc(len * 17 + 1);
    if (converted == NULL)
        goto out;
    for (char *line = strtok(text, "\r\n"); line != NULL; line = strtok(NULL, "\r\n")) {
        size_t n;

        while (*line == ' ' || *line == '\t')
            line++;
        n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n == 0 || line[0] == '#' || line[0] == '!')
            continue;
        used += (size_t)sprintf(converted + used, "%.*s%s filter=lfs\n", (int)n, line,
                                line[n - 1] == '/' ? "**" : "");
    }
    converted[used] = '\0';
    if (lfs_attributes_parse(&rules, converted, used, &err) < 0)
        rules = NULL;
out:
    free(text);
    free(converted);
    return rules;
}

static bool sample_has_nul(const char *sample)
{
    unsigned char buf[1024];
    size_t len = sample != NULL ? strlen(sample) : 0;
    long n;

    if (len == 0 || len > 700)
        return false;
    n = http_base64_decode(buf, sample, len);
    return n > 0 && memchr(buf, 0, (size_t)n) != NULL;
}

static json_t *preupload_file(struct http_request *req, struct repo *git, const char *commit,
                              const struct lfs_attributes *attrs,
                              const struct lfs_attributes *ignore, json_t *file)
{
    struct hub_error err = HUB_ERROR_INIT;
    const char *path = json_string_value(json_object_get(file, "path"));
    json_t *size_value = json_object_get(file, "size");
    uint64_t size = json_is_integer(size_value) && json_integer_value(size_value) > 0
                        ? (uint64_t)json_integer_value(size_value)
                        : 0;
    struct repo_entry entry = {0};
    bool lfs;
    json_t *oid = json_null();

    if (path == NULL || hf_path_check(path, &err) < 0) {
        http_reply_error(req, 400, "%s", path == NULL ? "each file needs a \"path\"" : err.msg);
        return NULL;
    }
    if (size == 0)
        lfs = false;
    else if (attrs != NULL ? lfs_attributes_match(attrs, path)
                           : lfs_attributes_path_is_lfs(NULL, path, 0))
        lfs = true;
    else
        lfs = size > http_request_config(req)->lfs_threshold_bytes ||
              sample_has_nul(json_string_value(json_object_get(file, "sample")));
    if (repo_entry_stat(&entry, git, commit, path, &err) == 0) {
        if (entry.type == REPO_ENTRY_FILE)
            oid = json_string(entry.is_lfs ? entry.lfs_oid : entry.oid);
        free(entry.path);
    }
    return json_pack("{s:s,s:s,s:b,s:o}", "path", path, "uploadMode", lfs ? "lfs" : "regular",
                     "shouldIgnore", ignore != NULL && lfs_attributes_match(ignore, path), "oid",
                     oid);
}

int hf_preupload_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct lfs_attributes *attrs = NULL, *ignore = NULL;
    char commit[REPO_OID_HEX_BYTES + 1], target[HUB_MAX_REVISION_BYTES + 1];
    const char *rev = http_request_param(req, "rev");
    int64_t number = 0;
    bool create_pr = false;
    size_t len, i;
    const char *body = http_request_body(req, &len);
    json_error_t jerr;
    json_t *root, *files, *out = NULL, *file;
    int rc;

    if (rev == NULL || rev[0] == '\0')
        return hf_reply_missing_revision(req, "preupload", "");
    root = json_loadb(body, len, 0, &jerr);
    files = json_object_get(root, "files");
    if (root == NULL || !json_is_array(files)) {
        json_decref(root);
        return http_reply_error(req, 400, "invalid preupload body: expected {\"files\": [...]}");
    }
    rc = create_pr_param(&create_pr, req);
    if (rc < 0)
        goto out;
    /* Pull requests let readers upload; everything else needs write access, as before. */
    if (create_pr || (rev != NULL && hf_pr_number_parse(&number, rev)))
        rc = commit_target_load(&ctx, target, req, rev, create_pr);
    else
        rc = hf_repo_load_params(&ctx, req, false);
    if (rc == 0 && !create_pr && number == 0)
        rc = hf_repo_check_commit_write(req, &ctx);
    if (rc < 0)
        goto out;
    rc = hf_revision_resolve(commit, req, &ctx, rev);
    if (rc < 0)
        goto out;
    attrs = attributes_load(req, root, ctx.git, commit);
    ignore = ignore_load(root, ctx.git, commit);
    out = json_array();
    json_array_foreach(files, i, file)
    {
        json_t *item = preupload_file(req, ctx.git, commit, attrs, ignore, file);

        if (item == NULL) {
            rc = 0; /* the 400 is queued */
            goto out;
        }
        json_array_append_new(out, item);
    }
    rc = http_reply_json(req, 200, json_pack("{s:o,s:s}", "files", out, "commitOid", commit));
    out = NULL;
out:
    json_decref(out);
    json_decref(root);
    lfs_attributes_free(attrs);
    lfs_attributes_free(ignore);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

/* ---- commit ------------------------------------------------------------------------------- */

struct commit_state {
    struct hf_repo_ctx ctx;
    struct hf_commit_parser parser;
    char branch[HUB_MAX_REVISION_BYTES + 1]; /* the branch or refs/pr/N the commit goes onto */
    bool create_pr;                          /* open a pull request from branch */
    int64_t pr_number;                       /* the pull request the commit adds to, or 0 */
    char base[REPO_OID_HEX_BYTES + 1];       /* create_pr: the commit the pull request starts at */
    uint64_t received;
    int error; /* first parse error, reported when the body has ended */
    struct hub_error parse_err;
    struct meta *db;  /* the request's connection, for the check under the repo lock */
    bool pr_not_open; /* that check found the pull request merged or closed */
};

static void commit_state_free(void *arg)
{
    struct commit_state *st = arg;

    hf_repo_ctx_dispose(&st->ctx);
    hf_commit_parser_dispose(&st->parser);
    free(st);
}

int hf_commit_begin(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct hub_config *config = http_request_config(req);
    struct hf_commit_limits limits = {config->max_commit_file_bytes, config->max_commit_operations};
    const char *rev = http_request_param(req, "rev");
    struct commit_state *st;
    bool create_pr = false;

    if (create_pr_param(&create_pr, req) < 0)
        return 0;
    if (http_request_content_length(req) > (int64_t)config->max_commit_body_bytes)
        return http_reply_error(req, 413,
                                "commit body of %lld bytes is over the limit of %llu bytes "
                                "(atelier serve --max-commit-body-bytes); upload large files "
                                "as LFS files",
                                (long long)http_request_content_length(req),
                                (unsigned long long)config->max_commit_body_bytes);
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the commit state");
    hf_commit_parser_init(&st->parser, &limits);
    http_request_set_state(req, st, commit_state_free);
    st->create_pr = create_pr;
    if (commit_target_load(&st->ctx, st->branch, req, rev, create_pr) < 0)
        return 0;
    hf_pr_number_parse(&st->pr_number, st->branch);
    return 0;
}

int hf_commit_body(struct http_request *req, const char *data, size_t len, void *arg,
                   struct hub_error *err)
{
    struct commit_state *st = http_request_state(req);
    uint64_t limit = http_request_config(req)->max_commit_body_bytes;

    st->received += len;
    if (st->received > limit)
        return http_reply_error(req, 413,
                                "commit body is over the limit of %llu bytes (atelier serve "
                                "--max-commit-body-bytes); upload large files as LFS files",
                                (unsigned long long)limit);
    if (st->error != 0)
        return 0;
    st->error = hf_commit_parser_feed(&st->parser, data, len, &st->parse_err);
    return 0;
}

/* Checks that a "file" line whose content is already an LFS pointer names an object linked
 * to this repo with the pointer's size. The commit keeps such content as is, so the rule of
 * "lfsFile" lines applies, and a pointer cannot reach the objects of other repos. */
static int commit_check_pointer_file(struct http_request *req, struct commit_state *st,
                                     const struct hf_commit_op *op)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_pointer pointer;
    bool exists = false, linked = false;
    uint64_t size = 0;

    if (lfs_pointer_parse(&pointer, (const char *)op->data, op->len, NULL) != 0)
        return 0;
    if (store_blob_stat(&exists, &size, hf_store(), pointer.oid, &err) < 0 ||
        (exists && meta_lfs_is_linked(&linked, http_request_db(req), st->ctx.row.id, pointer.oid,
                                      &err) < 0)) {
        http_reply_hub_error(req, &err);
        return err.code;
    }
    if (!exists || !linked) {
        http_reply_error(req, 422,
                         "%s is an LFS pointer to object %s, which was not uploaded to this "
                         "repo; upload it through the LFS batch API first",
                         op->path, pointer.oid);
        return HUB_EINVAL;
    }
    if (pointer.size != size) {
        http_reply_error(req, 422,
                         "%s is an LFS pointer with size %llu, but object %s has %llu "
                         "bytes",
                         op->path, (unsigned long long)pointer.size, pointer.oid,
                         (unsigned long long)size);
        return HUB_EINVAL;
    }
    return 0;
}

/* Checks that every LFS object exists for this repo, and fills the sizes copies left out. */
static int commit_check_lfs(struct http_request *req, struct commit_state *st)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = http_request_db(req);

    for (size_t i = 0; i < st->parser.op_count; i++) {
        struct hf_commit_op *op = &st->parser.ops[i];
        bool exists = false, linked = false;
        uint64_t size = 0;
        int rc;

        if (op->kind == HF_OP_FILE) {
            rc = commit_check_pointer_file(req, st, op);
            if (rc < 0)
                return rc;
            continue;
        }
        if (op->kind != HF_OP_LFS)
            continue;
        if (store_blob_stat(&exists, &size, hf_store(), op->lfs_oid, &err) < 0 ||
            (exists && meta_lfs_is_linked(&linked, db, st->ctx.row.id, op->lfs_oid, &err) < 0)) {
            http_reply_hub_error(req, &err);
            return err.code;
        }
        if (!exists || !linked) {
            http_reply_error(req, 422,
                             "LFS object %s for %s was not uploaded to this repo; upload it "
                             "through the LFS batch API first",
                             op->lfs_oid, op->path);
            return HUB_EINVAL;
        }
        if (op->has_size && op->lfs_size != size) {
            http_reply_error(req, 422, "LFS object %s for %s has %llu bytes, not %llu", op->lfs_oid,
                             op->path, (unsigned long long)size, (unsigned long long)op->lfs_size);
            return HUB_EINVAL;
        }
        op->lfs_size = size;
    }
    return 0;
}

/* Rejects a commit that changes a path another user locked with `git lfs lock`, the rule the
 * pre-receive hook applies to git pushes. Queues the reply and returns a negative code. */
static int commit_check_locks(struct http_request *req, struct commit_state *st)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_lfs_lock lock;
    bool found = false;

    if (gitlocks_find_conflict(&lock, &found, http_request_db(req), st->ctx.row.id,
                               http_request_user(req)->id, st->parser.ops, st->parser.op_count,
                               &err) < 0) {
        http_reply_hub_error(req, &err);
        return err.code;
    }
    if (!found)
        return 0;
    /* Only a writer may break another user's lock, so only a writer's message names --force.
     * A reader's commit reaches this check through a pull request. */
    if (hf_caller_can_write(req, &st->ctx))
        http_reply_error(req, 409,
                         "%s is locked by %s; ask them to run `git lfs unlock %s`, or break the "
                         "lock with `git lfs unlock --force %s`",
                         lock.path, lock.owner_name, lock.path, lock.path);
    else
        http_reply_error(req, 409,
                         "%s is locked by %s; ask them to run `git lfs unlock %s`, or ask a user "
                         "with write access to %s/%s to break the lock",
                         lock.path, lock.owner_name, lock.path, st->ctx.row.ns, st->ctx.row.name);
    return HUB_ECONFLICT;
}

static int commit_reply_error(struct http_request *req, const struct commit_state *st,
                              const struct hub_error *err)
{
    /* The message of a stale parent names the branch head and that parent already. */
    if (err->code == HUB_ECONFLICT && st->parser.parent[0] != '\0' && !st->pr_not_open)
        return http_reply_error(req, 412, "%s", err->msg);
    if (err->code == HUB_ENOTFOUND)
        return http_reply_error_code(req, 404, "EntryNotFound", "%s", err->msg);
    return http_reply_hub_error(req, err);
}

/* Returns the summary line of the commit: the client's, else "Upload files" as the Hub
 * clients write when they get none. */
static const char *commit_summary(const struct commit_state *st)
{
    return st->parser.summary[0] != '\0' ? st->parser.summary : "Upload files";
}

int hf_lfs_store_file(void *target, const char *path, const void *data, size_t len,
                      char oid_out[65], struct hub_error *err)
{
    const struct hf_lfs_target *t = target;
    struct meta *db = http_request_db(t->req);
    int rc;

    rc = store_put_buf(oid_out, hf_store(), data, len, err);
    if (rc == 0)
        rc = meta_lfs_object_add(db, oid_out, len, err);
    if (rc == 0)
        rc = meta_lfs_link(db, t->repo->id, oid_out, err);
    if (rc < 0)
        return rc;
    hub_log(HUB_LOG_INFO, "hf",
            "file stored as LFS object path=%s oid=%s bytes=%zu repo=%s/%s req=%s", path, oid_out,
            len, t->repo->ns, t->repo->name, http_request_id(t->req));
    return 0;
}

/* Checks, under the repo lock, that the pull request the commit adds to is still open. */
static int commit_check_pr_open(void *arg, struct hub_error *err)
{
    struct commit_state *st = arg;
    int rc = pr_check_open(st->db, st->ctx.row.id, st->pr_number, err);

    st->pr_not_open = rc == HUB_ECONFLICT;
    return rc;
}

static int commit_apply(struct http_request *req, struct commit_state *st,
                        char commit[REPO_OID_HEX_BYTES + 1], struct hub_error *err)
{
    struct repo_commit_request creq = {0};
    struct hf_lfs_target lfs_target = {req, &st->ctx.row};
    struct repo_op *ops = NULL;
    char name[128], email[160];
    char *message = NULL;
    size_t msg_len;
    int rc;

    ops = calloc(st->parser.op_count + 1, sizeof(*ops));
    /* The summary, "\n\n", the description and the terminating NUL. */
    msg_len = strlen(commit_summary(st)) + strlen(st->parser.description) + 3;
    message = malloc(msg_len);
    if (ops == NULL || message == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the commit");
        goto out;
    }
    snprintf(message, msg_len, "%s%s%s", commit_summary(st),
             st->parser.description[0] != '\0' ? "\n\n" : "", st->parser.description);
    for (size_t i = 0; i < st->parser.op_count; i++) {
        const struct hf_commit_op *op = &st->parser.ops[i];
        static const enum repo_op_kind kinds[] = {REPO_OP_ADD_FILE, REPO_OP_ADD_LFS,
                                                  REPO_OP_DELETE_FILE, REPO_OP_DELETE_FOLDER};

        ops[i].kind = kinds[op->kind];
        ops[i].path = op->path;
        ops[i].data = op->data;
        ops[i].len = op->len;
        ops[i].lfs_oid = op->lfs_oid;
        ops[i].lfs_size = op->lfs_size;
    }
    hf_author_format(name, sizeof(name), email, sizeof(email), http_request_user(req));
    creq.branch = st->branch;
    if (st->create_pr)
        creq.create_from = st->base;
    else if (st->parser.parent[0] != '\0')
        creq.expected_parent = st->parser.parent;
    creq.author_name = name;
    creq.author_email = email;
    creq.message = message;
    creq.ops = ops;
    creq.n_ops = st->parser.op_count;
    creq.lfs_store = hf_lfs_store_file;
    creq.lfs_store_ctx = &lfs_target;
    if (!st->create_pr && st->pr_number > 0) {
        st->db = http_request_db(req);
        creq.check = commit_check_pr_open;
        creq.check_ctx = st;
    }
    rc = repo_commit(commit, st->ctx.git, &creq, err);
out:
    free(ops);
    free(message);
    return rc;
}

/* Copies the longest prefix of src that fits in cap - 1 bytes and ends on a UTF-8 character
 * boundary into dst. */
static void copy_utf8_prefix(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);

    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Records the pull request that a create_pr commit opens and points st->branch at its ref
 * refs/pr/N, which the commit creates. The pull request starts at parentCommit when the header
 * names one, else at the head of the branch. Queues the error reply on failure. */
static int commit_open_pr(struct http_request *req, struct commit_state *st, struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    const char *from = st->parser.parent[0] != '\0' ? st->parser.parent : st->branch;
    char title[META_PR_MAX_TITLE_BYTES + 1], description[META_PR_MAX_DESCRIPTION_BYTES + 1];
    struct meta_pr pr;
    int rc;

    rc = repo_revision_resolve(st->base, st->ctx.git, from, err);
    if (rc < 0) {
        http_reply_error_code(req, 404, "RevisionNotFound",
                              "cannot open a pull request from %s: %s", from, err->msg);
        return rc;
    }
    /* A commit message may be longer than a pull request's title and description, so these
     * keep its start, and the commit keeps the whole text.
     * NOTE: unlike pr_open, this path does not run pr_text_check, so a summary with control
     * characters or surrounding spaces becomes the title as it is. */
    copy_utf8_prefix(title, sizeof(title), commit_summary(st));
    copy_utf8_prefix(description, sizeof(description), st->parser.description);
    rc = meta_pr_create(&pr, http_request_db(req), st->ctx.row.id, title, description, user->id,
                        user->name, st->branch, st->base, err);
    if (rc < 0) {
        http_reply_hub_error(req, err);
        return rc;
    }
    st->pr_number = pr.number;
    snprintf(st->branch, sizeof(st->branch), "refs/pr/%lld", (long long)pr.number);
    return 0;
}

int hf_commit_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct commit_state *st = http_request_state(req);
    char commit[REPO_OID_HEX_BYTES + 1], url[1024], pr_url[1024];
    json_t *reply;
    int rc;

    if (st->error == 0)
        st->error = hf_commit_parser_finish(&st->parser, &st->parse_err);
    if (st->error < 0)
        return http_reply_hub_error(req, &st->parse_err);
    rc = commit_check_lfs(req, st);
    if (rc == 0)
        rc = commit_check_locks(req, st);
    if (rc < 0)
        return 0;
    if (st->create_pr && commit_open_pr(req, st, err) < 0)
        return 0;
    /* Check the pull request again: it may have been merged or closed while the body arrived.
     * repo_commit checks its status once more under the repo lock, which merges and status
     * changes take too. */
    if (!st->create_pr && st->pr_number > 0 && hf_pr_check_commit(req, &st->ctx, st->pr_number) < 0)
        return 0;
    rc = commit_apply(req, st, commit, err);
    if (rc < 0 && st->create_pr) {
        struct hub_error cleanup = HUB_ERROR_INIT;

        if (meta_pr_delete(http_request_db(req), st->ctx.row.id, st->pr_number, &cleanup) < 0)
            hub_log(HUB_LOG_ERROR, "hf", "cannot delete pull request #%lld repo=%s/%s error=%s",
                    (long long)st->pr_number, st->ctx.row.ns, st->ctx.row.name, cleanup.msg);
    }
    if (rc < 0) {
        if (rc == HUB_EIO || rc == HUB_EINTERNAL)
            hub_log(HUB_LOG_ERROR, "hf", "commit failed repo=%s/%s error=%s req=%s", st->ctx.row.ns,
                    st->ctx.row.name, err->msg, http_request_id(req));
        return commit_reply_error(req, st, err);
    }
    if (meta_repo_touch(http_request_db(req), st->ctx.row.id,
                        strcmp(st->branch, REPO_DEFAULT_BRANCH) == 0 ? commit : NULL, err) < 0)
        hub_log(HUB_LOG_WARN, "hf", "cannot record the commit time repo=%s/%s error=%s req=%s",
                st->ctx.row.ns, st->ctx.row.name, err->msg, http_request_id(req));
    if (strcmp(st->branch, REPO_DEFAULT_BRANCH) == 0)
        hf_base_model_refresh(http_request_db(req), st->ctx.git, &st->ctx.row, commit, "hf",
                              http_request_id(req));
    hub_log(HUB_LOG_INFO, "hf", "commit repo=%s/%s branch=%s commit=%s ops=%zu user=%s req=%s",
            st->ctx.row.ns, st->ctx.row.name, st->branch, commit, st->parser.op_count,
            http_request_user(req)->name, http_request_id(req));
    snprintf(url, sizeof(url), "%s/%s%s/%s/commit/%s", http_request_base_url(req),
             hf_web_prefix(st->ctx.row.type), st->ctx.row.ns, st->ctx.row.name, commit);
    reply = json_pack("{s:s,s:s,s:s,s:s,s:b}", "commitOid", commit, "commitUrl", url,
                      "commitMessage", commit_summary(st), "hookOutput", "", "success", 1);
    if (st->pr_number > 0 && reply != NULL) {
        hf_pr_url(pr_url, sizeof(pr_url), req, &st->ctx.row, st->pr_number);
        json_object_set_new(reply, "pullRequestUrl", json_string(pr_url));
    }
    return http_reply_json(req, 200, reply);
}
