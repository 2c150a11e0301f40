/* hf_tree: the read side of a repo's content and history (tree listing, paths-info, refs,
 * commit log) and branch and tag changes. */
#include "hf_internal.h"

#include "git_hook.h"
#include "git_settings.h"
#include "http_parse.h"
#include "hub_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths one paths-info request may ask about. */
#define HF_MAX_PATHS_INFO 10000

static int parse_page_number(uint64_t *out, const char *text)
{
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    n = strtoull(text, &end, 10);
    if (*end != '\0' || n > 1000000000ull)
        return -1;
    *out = n;
    return 0;
}

/* Adds lastCommit to each entry of a page when expand is set. */
static json_t *entry_with_commit(struct repo *git, const char *commit, const struct repo_entry *e,
                                 bool expand)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_info last = {0};
    json_t *obj;

    if (!expand || repo_last_commit(&last, git, commit, e->path, &err) < 0)
        return hf_entry_json(e, NULL);
    obj = hf_entry_json(e, &last);
    repo_commit_info_dispose(&last);
    return obj;
}

/* Builds the JSON of entries[first..first+limit) of a tree listing. With expand, one walk
 * finds the last commits of the whole page, and an entry whose walk failed has no lastCommit,
 * as in entry_with_commit. */
static json_t *tree_page_json(struct repo *git, const char *commit,
                              const struct repo_entry *entries, size_t count, size_t first,
                              size_t limit, bool expand)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_info *last = NULL;
    const char **paths = NULL;
    size_t n = first < count ? count - first : 0;
    json_t *list = json_array();

    if (n > limit)
        n = limit;
    if (expand && n > 0) {
        last = calloc(n, sizeof(*last));
        paths = calloc(n, sizeof(*paths));
    }
    if (last != NULL && paths != NULL) {
        for (size_t i = 0; i < n; i++)
            paths[i] = entries[first + i].path;
        if (repo_last_commits(last, git, commit, paths, n, &err) < 0)
            hub_log(HUB_LOG_WARN, "hf", "last commits of a tree page failed commit=%s error=%s",
                    commit, err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        const struct repo_entry *e = &entries[first + i];

        if (last != NULL && paths != NULL)
            json_array_append_new(list, hf_entry_json(e, last[i].id[0] != '\0' ? &last[i] : NULL));
        else
            json_array_append_new(list, entry_with_commit(git, commit, e, expand));
    }
    for (size_t i = 0; last != NULL && i < n; i++)
        repo_commit_info_dispose(&last[i]);
    free(last);
    free(paths);
    return list;
}

static void tree_link_add(struct http_request *req, size_t next)
{
    const char *query = http_request_query_string(req);
    char *link;
    size_t cap = strlen(http_request_base_url(req)) + strlen(http_request_path(req)) * 3 +
                 strlen(query) + 64;
    size_t used;
    const char *p = query;

    link = malloc(cap);
    if (link == NULL)
        return;
    used =
        (size_t)snprintf(link, cap, "<%s%s?", http_request_base_url(req), http_request_path(req));
    while (*p != '\0') {
        size_t n = strcspn(p, "&");

        if (n > 0 && strncmp(p, "cursor=", 7) != 0 && used + n + 1 < cap) {
            memcpy(link + used, p, n);
            used += n;
            link[used++] = '&';
        }
        p += n;
        if (*p == '&')
            p++;
    }
    snprintf(link + used, cap - used, "cursor=%zu>; rel=\"next\"", next);
    http_reply_header(req, "Link", link);
    free(link);
}

static int bool_query(bool *out, struct http_request *req, const char *name)
{
    const char *text = http_request_query(req, name);

    *out = false;
    if (text == NULL || http_parse_bool(out, text))
        return 0;
    http_reply_error(req, 400, "invalid %s value '%.100s': expected true, false, 1 or 0", name,
                     text);
    return HUB_EINVAL;
}

/* Percent-encodes text into out (cap bytes), keeping letters, digits and "-._~", and '/'
 * when keep_slash is set. Stops short rather than cut an escape when out is too small. */
static void url_encode(char *out, size_t cap, const char *text, bool keep_slash)
{
    size_t n = 0;

    for (const char *p = text; *p != '\0' && n + 4 <= cap; p++) {
        unsigned char c = (unsigned char)*p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c) != NULL || (keep_slash && c == '/'))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, 4, "%%%02X", c);
    }
    out[n] = '\0';
}

/* Queues the 404 of a tree listing whose path is not a folder at commit: it is a file, or
 * nothing. The download hint encodes the revision, so that a branch such as feat/y stays one
 * segment of the resolve URL. */
static int reply_not_a_folder(struct http_request *req, struct repo *git, const char *commit,
                              const char *rev, const char *path)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_entry entry = {0};
    bool is_file =
        repo_entry_stat(&entry, git, commit, path, &err) == 0 && entry.type == REPO_ENTRY_FILE;

    free(entry.path);
    if (is_file) {
        char rev_url[3 * HUB_MAX_REVISION_BYTES + 1], path_url[3 * HUB_MAX_PATH_BYTES + 1];

        url_encode(rev_url, sizeof(rev_url), rev, false);
        url_encode(path_url, sizeof(path_url), path, true);
        return http_reply_error_code(req, 404, "EntryNotFound",
                                     "'%s' is a file, not a folder, at revision %s: list its "
                                     "folder, or download it from resolve/%s/%s",
                                     path, rev, rev_url, path_url);
    }
    return http_reply_error_code(req, 404, "EntryNotFound", "folder '%s' not found at revision %s",
                                 path, rev);
}

static bool path_is_empty(const char *rest)
{
    return rest == NULL || rest[0] == '\0';
}

int hf_reply_missing_revision(struct http_request *req, const char *route, const char *form_tail)
{
    char prefix[320];

    snprintf(prefix, sizeof(prefix), "/api/%s/%.100s/%.100s/%s", http_request_segment(req, 1),
             http_request_param(req, "ns"), http_request_param(req, "name"), route);
    return http_reply_error(req, 400,
                            "missing revision in %s: expected %s/REVISION%s, such as %s/main",
                            prefix, prefix, form_tail, prefix);
}

int hf_tree_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct repo_entry *entries = NULL;
    char rev[HUB_MAX_REVISION_BYTES + 1], commit[REPO_OID_HEX_BYTES + 1];
    const char *path;
    size_t count = 0;
    uint64_t cursor = 0, limit = http_request_config(req)->max_page_items;
    bool recursive, expand;
    json_t *list;
    int rc;

    if (bool_query(&recursive, req, "recursive") != 0 || bool_query(&expand, req, "expand") != 0)
        return 0;
    if (http_request_query(req, "cursor") != NULL &&
        parse_page_number(&cursor, http_request_query(req, "cursor")) < 0)
        return hf_reply_bad_cursor(req);
    if (http_request_query(req, "limit") != NULL) {
        if (parse_page_number(&limit, http_request_query(req, "limit")) < 0 || limit == 0)
            return http_reply_error(req, 400, "invalid limit '%s': expected a positive number",
                                    http_request_query(req, "limit"));
        if (limit > http_request_config(req)->max_page_items)
            limit = http_request_config(req)->max_page_items;
    }
    if (path_is_empty(http_request_param(req, "rest")))
        return hf_reply_missing_revision(req, "tree", "[/PATH]");
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc < 0)
        goto out;
    rc = repo_revision_split(rev, &path, ctx.git, http_request_param(req, "rest"), err);
    if (rc < 0)
        goto out;
    rc = hf_revision_resolve(commit, req, &ctx, rev);
    if (rc < 0)
        goto out;
    if (path[0] != '\0' && hf_path_check(path, err) < 0) {
        rc = http_reply_error(req, 400, "%s", err->msg);
        goto out;
    }
    rc = repo_tree_list(&entries, &count, ctx.git, commit, path, recursive, err);
    if (rc == HUB_ENOTFOUND) {
        http_reply_header(req, "X-Repo-Commit", commit);
        rc = reply_not_a_folder(req, ctx.git, commit, rev, path);
        goto out;
    }
    if (rc < 0)
        goto out;
    list = tree_page_json(ctx.git, commit, entries, count, (size_t)cursor, (size_t)limit, expand);
    if (cursor + limit < count)
        tree_link_add(req, (size_t)(cursor + limit));
    http_reply_header(req, "X-Repo-Commit", commit);
    rc = http_reply_json(req, 200, list);
out:
    repo_entries_free(entries, count);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

/* Collects the requested paths of a paths-info body, JSON or form-encoded, into a JSON array. */
static json_t *paths_info_parse(bool *expand, struct http_request *req)
{
    size_t len;
    const char *body = http_request_body(req, &len);
    const char *type = http_request_header(req, "Content-Type");
    json_t *paths;

    *expand = false;
    if (type != NULL && strncmp(type, "application/x-www-form-urlencoded", 33) == 0) {
        const char *p = body;

        paths = json_array();
        while (p < body + len) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            char *value = malloc(n + 1);
            long decoded;

            if (value == NULL || eq == NULL) {
                free(value);
                p += n + 1;
                continue;
            }
            decoded = http_percent_decode(value, eq + 1, n - (size_t)(eq + 1 - p), true);
            if (decoded < 0) {
                free(value);
                json_decref(paths);
                http_reply_error(req, 400, "invalid percent escape in the form body");
                return NULL;
            }
            if ((size_t)(eq - p) == 5 && memcmp(p, "paths", 5) == 0) {
                struct hub_error err = HUB_ERROR_INIT;

                /* json_string would fail on a path that is not UTF-8, so check the rules here. */
                if (hf_path_check(value, &err) < 0) {
                    free(value);
                    json_decref(paths);
                    http_reply_error(req, 400, "%s", err.msg);
                    return NULL;
                }
                json_array_append_new(paths, json_string(value));
            } else if ((size_t)(eq - p) == 6 && memcmp(p, "expand", 6) == 0)
                http_parse_bool(expand, value);
            free(value);
            p += n + 1;
        }
        return paths;
    }
    {
        json_error_t jerr;
        json_t *root = json_loadb(body, len, 0, &jerr);

        if (root == NULL || !json_is_array(json_object_get(root, "paths"))) {
            json_decref(root);
            http_reply_error(req, 400, "invalid paths-info body: expected {\"paths\": [...]}");
            return NULL;
        }
        *expand = json_is_true(json_object_get(root, "expand"));
        paths = json_incref(json_object_get(root, "paths"));
        json_decref(root);
        return paths;
    }
}

int hf_paths_info_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    char commit[REPO_OID_HEX_BYTES + 1];
    bool expand;
    json_t *paths, *list = NULL, *v;
    size_t i;
    int rc;

    if (path_is_empty(http_request_param(req, "rev")))
        return hf_reply_missing_revision(req, "paths-info", "");
    paths = paths_info_parse(&expand, req);
    if (paths == NULL)
        return 0;
    if (json_array_size(paths) > HF_MAX_PATHS_INFO) {
        rc = http_reply_error(req, 413, "too many paths: at most %d", HF_MAX_PATHS_INFO);
        goto out;
    }
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc < 0)
        goto out;
    rc = hf_revision_resolve(commit, req, &ctx, http_request_param(req, "rev"));
    if (rc < 0)
        goto out;
    list = json_array();
    json_array_foreach(paths, i, v)
    {
        struct repo_entry entry = {0};
        const char *path = json_string_value(v);

        if (path == NULL || hf_path_check(path, err) < 0) {
            rc =
                http_reply_error(req, 400, "%s", path == NULL ? "paths must be strings" : err->msg);
            goto out;
        }
        if (repo_entry_stat(&entry, ctx.git, commit, path, err) < 0)
            continue; /* missing paths are left out, as the Hub does */
        json_array_append_new(list, entry_with_commit(ctx.git, commit, &entry, expand));
        free(entry.path);
    }
    http_reply_header(req, "X-Repo-Commit", commit);
    rc = http_reply_json(req, 200, list);
    list = NULL;
out:
    json_decref(list);
    json_decref(paths);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

int hf_refs_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct repo_ref *refs = NULL;
    size_t count = 0;
    json_t *branches, *tags, *prs, *root;
    int rc;

    rc = hf_repo_load_params(&ctx, req, false);
    if (rc < 0)
        goto out;
    rc = repo_refs_list(&refs, &count, ctx.git, err);
    if (rc < 0)
        goto out;
    branches = json_array();
    tags = json_array();
    prs = json_array();
    for (size_t i = 0; i < count; i++) {
        /* Branches and tags pushed before their names had to be UTF-8 show U+FFFD. */
        json_t *item = json_pack("{s:o,s:o,s:s}", "name", hf_json_git_text(refs[i].name), "ref",
                                 hf_json_git_text(refs[i].ref), "targetCommit", refs[i].target);

        if (refs[i].kind == REPO_REF_BRANCH)
            json_array_append_new(branches, item);
        else if (refs[i].kind == REPO_REF_TAG)
            json_array_append_new(tags, item);
        else if (strncmp(refs[i].ref, "refs/pr/", 8) == 0)
            json_array_append_new(prs, item);
        else
            json_decref(item);
    }
    root = json_pack("{s:o,s:[],s:o}", "branches", branches, "converts", "tags", tags);
    if (http_request_query(req, "include_prs") != NULL)
        json_object_set_new(root, "pullRequests", prs);
    else
        json_decref(prs);
    rc = http_reply_json(req, 200, root);
out:
    free(refs);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

static json_t *commit_json(const struct repo_commit_info *c)
{
    char date[32];

    hf_time_format(date, c->time);
    return json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s}]}", "id", c->id, "title",
                     c->title != NULL ? c->title : "", "message",
                     c->message != NULL ? c->message : "", "date", date, "authors", "user",
                     c->author_name != NULL ? c->author_name : "", "avatar", "");
}

int hf_commits_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct repo_commit_info *commits = NULL;
    char rev[HUB_MAX_REVISION_BYTES + 1], commit[REPO_OID_HEX_BYTES + 1], total_text[32];
    const char *path;
    uint64_t limit = 100, page = 0, offset;
    size_t count = 0, total = 0;
    json_t *list;
    int rc;

    if (http_request_query(req, "limit") != NULL &&
        (parse_page_number(&limit, http_request_query(req, "limit")) < 0 || limit == 0 ||
         limit > HUB_MAX_LIST_LIMIT))
        return http_reply_error(req, 400, "invalid limit '%s': expected 1 to %d",
                                http_request_query(req, "limit"), HUB_MAX_LIST_LIMIT);
    if (http_request_query(req, "p") != NULL &&
        parse_page_number(&page, http_request_query(req, "p")) < 0)
        return http_reply_error(req, 400, "invalid page '%s'", http_request_query(req, "p"));
    offset = page * limit;
    if (http_request_query(req, "cursor") != NULL &&
        parse_page_number(&offset, http_request_query(req, "cursor")) < 0)
        return hf_reply_bad_cursor(req);
    if (path_is_empty(http_request_param(req, "rest")))
        return hf_reply_missing_revision(req, "commits", "");
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc < 0)
        goto out;
    rc = repo_revision_split(rev, &path, ctx.git, http_request_param(req, "rest"), err);
    if (rc < 0)
        goto out;
    rc = hf_revision_resolve(commit, req, &ctx, rev);
    if (rc < 0)
        goto out;
    rc = repo_log(&commits, &count, &total, ctx.git, commit, (size_t)offset, (size_t)limit, err);
    if (rc < 0)
        goto out;
    list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, commit_json(&commits[i]));
    snprintf(total_text, sizeof(total_text), "%zu", total);
    http_reply_header(req, "X-Total-Count", total_text);
    if (offset + count < total)
        tree_link_add(req, (size_t)(offset + count));
    rc = http_reply_json(req, 200, list);
out:
    repo_commits_free(commits, count);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

json_t *hf_optional_json_body(struct http_request *req)
{
    size_t len;
    const char *body = http_request_body(req, &len);
    json_error_t jerr;
    json_t *root;

    if (len == 0)
        return json_object();
    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        http_reply_error(req, 400, "invalid JSON body: expected an object");
        return NULL;
    }
    return root;
}

static int reply_ref_error(struct http_request *req, const struct hub_error *err)
{
    if (err->code == HUB_ENOTFOUND)
        return http_reply_error_code(req, 404, "RevisionNotFound", "%s", err->msg);
    return http_reply_hub_error(req, err);
}

/* Sets *out to whether branch (with or without "refs/heads/") is protected in ctx's repo. */
static int branch_is_protected(bool *out, struct http_request *req, const struct hf_repo_ctx *ctx,
                               const char *branch, struct hub_error *err)
{
    char *list = NULL;
    int rc;

    rc = gitsettings_protected_branches(&list, http_request_db(req), ctx->row.id, err);
    if (rc < 0)
        return rc;
    if (strncmp(branch, "refs/heads/", 11) == 0)
        branch += 11;
    *out = githook_branch_is_listed(list, branch);
    free(list);
    return 0;
}

int hf_branch_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    const char *branch = http_request_param(req, "rev");
    char old_commit[REPO_OID_HEX_BYTES + 1] = "";
    char new_commit[REPO_OID_HEX_BYTES + 1] = "";
    bool protected = false;
    bool moved = false;
    json_t *root;
    int rc;

    root = hf_optional_json_body(req);
    if (root == NULL)
        return 0;
    rc = hf_repo_load_params(&ctx, req, true);
    if (rc < 0)
        goto out;
    /* Protected branches follow the same rules as for git push: no deletion and no update
     * that is not a fast-forward. */
    rc = branch_is_protected(&protected, req, &ctx, branch, err);
    if (rc < 0) {
        rc = http_reply_hub_error(req, err);
        goto out;
    }
    if (strcmp(http_request_method(req), "DELETE") == 0) {
        if (protected)
            rc = hub_error_set(err, HUB_EFORBIDDEN,
                               "branch '%s' is protected and cannot be deleted; lift the "
                               "protection first",
                               branch);
        else
            rc = repo_branch_delete(ctx.git, branch, err);
    } else if (json_is_true(json_object_get(root, "emptyBranch"))) {
        rc = hub_error_set(err, HUB_EINVAL,
                           "empty branches are not supported; leave out emptyBranch (empty in "
                           "@huggingface/hub) to branch from main, or name a startingPoint");
    } else {
        const char *from = json_string_value(json_object_get(root, "startingPoint"));
        char from_commit[REPO_OID_HEX_BYTES + 1];

        /* A missing starting point gets the wording of every other revision error. */
        if (from != NULL && hf_revision_resolve(from_commit, req, &ctx, from) < 0) {
            rc = HUB_ENOTFOUND;
            goto out;
        }
        rc = repo_branch_create(ctx.git, branch, from, err);
        if (rc == HUB_ECONFLICT && json_is_true(json_object_get(root, "overwrite"))) {
            /* The old commit is only for the log line, so a failed lookup leaves it empty. */
            struct hub_error lookup = HUB_ERROR_INIT;

            if (repo_revision_resolve(old_commit, ctx.git, branch, &lookup) < 0)
                old_commit[0] = '\0';
            rc = repo_branch_move(ctx.git, branch, from, protected, err);
            moved = true;
        }
    }
    if (rc < 0) {
        rc = reply_ref_error(req, err);
        goto out;
    }
    if (moved) {
        struct hub_error lookup = HUB_ERROR_INIT;

        if (repo_revision_resolve(new_commit, ctx.git, branch, &lookup) < 0)
            new_commit[0] = '\0';
        hub_log(HUB_LOG_INFO, "hf",
                "branch moved repo=%s/%s branch=%s old=%s new=%s user=%s req=%s", ctx.row.ns,
                ctx.row.name, branch, old_commit[0] != '\0' ? old_commit : "-",
                new_commit[0] != '\0' ? new_commit : "-", http_request_user(req)->name,
                http_request_id(req));
    } else {
        hub_log(HUB_LOG_INFO, "hf", "branch %s repo=%s/%s branch=%s user=%s req=%s",
                strcmp(http_request_method(req), "DELETE") == 0 ? "deleted" : "created", ctx.row.ns,
                ctx.row.name, branch, http_request_user(req)->name, http_request_id(req));
    }
    rc = http_reply_json(req, 200, json_object());
out:
    json_decref(root);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

int hf_tag_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    const struct http_user *user = http_request_user(req);
    const char *rev = http_request_param(req, "rev");
    char name[128], email[160];
    json_t *root;
    int rc;

    root = hf_optional_json_body(req);
    if (root == NULL)
        return 0;
    rc = hf_repo_load_params(&ctx, req, true);
    if (rc < 0)
        goto out;
    if (strcmp(http_request_method(req), "DELETE") == 0) {
        rc = repo_tag_delete(ctx.git, rev, err);
    } else {
        const char *tag = json_string_value(json_object_get(root, "tag"));
        const char *message = json_string_value(json_object_get(root, "message"));

        if (tag == NULL || tag[0] == '\0') {
            rc = http_reply_error(req, 400,
                                  "missing tag: send {\"tag\": \"NAME\"} in the request body");
            goto out;
        }
        if (hub_tag_name_check(tag, err) < 0) {
            rc = http_reply_error(req, 400, "%s", err->msg);
            goto out;
        }
        hf_author_format(name, sizeof(name), email, sizeof(email), user);
        rc = repo_tag_create(ctx.git, tag, rev,
                             message != NULL && message[0] != '\0' ? message : NULL, name, email,
                             err);
    }
    if (rc < 0) {
        rc = reply_ref_error(req, err);
        goto out;
    }
    if (strcmp(http_request_method(req), "DELETE") == 0)
        hub_log(HUB_LOG_INFO, "hf", "tag deleted repo=%s/%s tag=%s user=%s req=%s", ctx.row.ns,
                ctx.row.name, rev, user->name, http_request_id(req));
    else
        hub_log(HUB_LOG_INFO, "hf", "tag created repo=%s/%s tag=%s rev=%s user=%s req=%s",
                ctx.row.ns, ctx.row.name, json_string_value(json_object_get(root, "tag")), rev,
                user->name, http_request_id(req));
    rc = http_reply_json(req, 200, json_object());
out:
    json_decref(root);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}
