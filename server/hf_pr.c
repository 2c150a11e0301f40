/* hf_pr: pull requests through the Hub's discussions API. A pull request is a row of
 * meta_pr.h plus the git ref refs/pr/N. Anyone who may read a repo may open one (with a write
 * token) and commit to it while it is open, alongside the repo's writers. Only writers merge. */
#include "hf_internal.h"

#include "hf_base_model.h"
#include "hub_log.h"
#include "meta.h"
#include "meta_pr.h"
#include "pr_changes.h"
#include "pr_merge.h"
#include "web_markdown.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Pull requests per page of the list, as the Hub pages discussions. */
#define PR_PAGE_SIZE 50

/* ---- Access ------------------------------------------------------------------------------ */

bool hf_pr_number_parse(int64_t *out, const char *rev)
{
    if (!repo_pr_ref_is_valid(rev))
        return false;
    *out = strtoll(rev + 8, NULL, 10);
    return true;
}

bool hf_caller_can_write(struct http_request *req, const struct hf_repo_ctx *ctx)
{
    const struct http_user *user = http_request_user(req);
    struct hub_error err = HUB_ERROR_INIT;
    bool can_write = false;

    if (user->id == 0 || user->scope != HTTP_SCOPE_WRITE)
        return false;
    if (meta_repo_can_write(&can_write, http_request_db(req), &ctx->row, user->id, &err) < 0)
        return false;
    return can_write;
}

int hf_pr_check_contributor(struct http_request *req, const struct hf_repo_ctx *ctx)
{
    const struct http_user *user = http_request_user(req);

    if (user->id == 0) {
        http_reply_unauthorized(req);
        return HUB_EAUTH;
    }
    if (user->scope != HTTP_SCOPE_WRITE) {
        http_reply_error(req, 403,
                         "this token is read-only; create a write token to open or change pull "
                         "requests on %s/%s",
                         ctx->row.ns, ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    return 0;
}

/* Loads pull request number of ctx's repo. Queues 404 when it does not exist. */
static int pr_load(struct meta_pr *out, struct http_request *req, const struct hf_repo_ctx *ctx,
                   int64_t number)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc = meta_pr_get(out, http_request_db(req), ctx->row.id, number, &err);

    if (rc == HUB_ENOTFOUND)
        http_reply_error_code(req, 404, "DiscussionNotFound",
                              "pull request #%lld not found in %s/%s", (long long)number,
                              ctx->row.ns, ctx->row.name);
    else if (rc < 0)
        http_reply_hub_error(req, &err);
    return rc;
}

int hf_pr_check_commit(struct http_request *req, const struct hf_repo_ctx *ctx, int64_t number)
{
    const struct http_user *user = http_request_user(req);
    struct meta_pr pr;
    int rc;

    rc = hf_pr_check_contributor(req, ctx);
    if (rc < 0)
        return rc;
    rc = pr_load(&pr, req, ctx, number);
    if (rc < 0)
        return rc;
    if (pr.status != META_PR_OPEN) {
        struct hub_error closed = HUB_ERROR_INIT;

        pr_status_error(&closed, &pr);
        http_reply_error(req, 409, "%s", closed.msg);
        return HUB_ECONFLICT;
    }
    if (pr.author_id != user->id && !hf_caller_can_write(req, ctx)) {
        http_reply_error(req, 403,
                         "user %s may not commit to pull request #%lld of %s/%s: only its author "
                         "and the repo's writers may",
                         user->name, (long long)number, ctx->row.ns, ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    return 0;
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void pr_url(char *buf, size_t cap, struct http_request *req, const struct meta_repo *row,
                   int64_t number)
{
    snprintf(buf, cap, "%s/%s%s/%s/discussions/%lld", http_request_base_url(req),
             hf_web_prefix(row->type), row->ns, row->name, (long long)number);
}

void hf_pr_url(char *buf, size_t cap, struct http_request *req, const struct meta_repo *row,
               int64_t number)
{
    pr_url(buf, cap, req, row, number);
}

static json_t *author_json(const char *name)
{
    return json_pack("{s:s}", "name", name[0] != '\0' ? name : "deleted");
}

/* The fields the list and the details share. */
static json_t *pr_summary_json(struct http_request *req, const struct meta_repo *row,
                               const struct meta_pr *pr)
{
    char created[32], repo_id[HUB_MAX_REPO_ID_BYTES + 1];

    hf_time_format(created, pr->created_at);
    snprintf(repo_id, sizeof(repo_id), "%s/%s", row->ns, row->name);
    return json_pack("{s:I,s:s,s:s,s:b,s:s,s:o,s:{s:s,s:s},s:b,s:b,s:I}", "num",
                     (json_int_t)pr->number, "title", pr->title, "status",
                     meta_pr_status_name(pr->status), "isPullRequest", 1, "createdAt", created,
                     "author", author_json(pr->author_name), "repo", "name", repo_id, "type",
                     hub_repo_type_name(row->type), "pinned", 0, "locked", 0, "numComments",
                     (json_int_t)(pr->description[0] != '\0' ? 1 : 0));
}

/* The author of a status change. Changes made before their authors were recorded name
 * "unknown", so that "deleted" stays the sign of a deleted account. */
static json_t *event_author_json(const struct meta_pr_event *event)
{
    if (!event->actor_known)
        return json_pack("{s:s}", "name", "unknown");
    return author_json(event->actor_name);
}

static json_t *status_event_json(const struct meta_pr_event *event)
{
    char when[32], id[64];

    hf_time_format(when, event->created_at);
    snprintf(id, sizeof(id), "pr-%lld-status-%lld", (long long)event->number, (long long)event->id);
    return json_pack("{s:s,s:s,s:s,s:o,s:{s:s}}", "id", id, "type", "status-change", "createdAt",
                     when, "author", event_author_json(event), "data", "status",
                     meta_pr_status_name(event->status));
}

/* Reads the status changes of pr into *events (free() it). When they cannot be read, a pull
 * request that is not open gets one change to its status at updated_at with an unknown
 * author and row id 0, so its JSON id is "pr-N-status-0". */
static void pr_status_events(struct meta_pr_event **events, size_t *count, struct http_request *req,
                             const struct hf_repo_ctx *ctx, const struct meta_pr *pr)
{
    struct hub_error err = HUB_ERROR_INIT;

    if (meta_pr_events_list(events, count, http_request_db(req), ctx->row.id, pr->number, &err) < 0)
        hub_log(HUB_LOG_WARN, "hf",
                "cannot read the status changes of pull request #%lld repo=%s/%s error=%s req=%s",
                (long long)pr->number, ctx->row.ns, ctx->row.name, err.msg, http_request_id(req));
    if (*count > 0 || pr->status == META_PR_OPEN)
        return;
    free(*events);
    *events = calloc(1, sizeof(**events));
    if (*events == NULL)
        return;
    (*events)[0].repo_id = pr->repo_id;
    (*events)[0].number = pr->number;
    (*events)[0].status = pr->status;
    (*events)[0].created_at = pr->updated_at;
    *count = 1;
}

/* Builds the event that gave pr its current status: its latest status change, or for a pull
 * request that was never closed, its opening by its author at created_at. */
static json_t *current_status_event_json(struct http_request *req, const struct hf_repo_ctx *ctx,
                                         const struct meta_pr *pr)
{
    struct meta_pr_event *events = NULL;
    size_t count = 0;
    json_t *out;

    pr_status_events(&events, &count, req, ctx, pr);
    if (count > 0 && events[count - 1].status == pr->status) {
        out = status_event_json(&events[count - 1]);
    } else {
        char when[32], id[64];

        hf_time_format(when, pr->created_at);
        snprintf(id, sizeof(id), "pr-%lld-opened", (long long)pr->number);
        out = json_pack("{s:s,s:s,s:s,s:o,s:{s:s}}", "id", id, "type", "status-change", "createdAt",
                        when, "author", author_json(pr->author_name), "data", "status",
                        meta_pr_status_name(pr->status));
    }
    free(events);
    return out;
}

static json_t *commit_event_json(const struct repo_commit_info *commit)
{
    char when[32];

    hf_time_format(when, commit->time);
    return json_pack("{s:s,s:s,s:s,s:o,s:{s:s,s:s}}", "id", commit->id, "type", "commit",
                     "createdAt", when, "author", author_json(commit->author_name), "data",
                     "subject", commit->title != NULL ? commit->title : "", "oid", commit->id);
}

/* Appends the commits of the pull request (those of changes, oldest first) and its status
 * changes (in the order they were made), merged by time. A commit and a status change in
 * the same second list the commit first, because commits land only while the pull request
 * is open. */
static void events_add_history(json_t *events, struct repo *git, const struct pr_changes *changes,
                               const struct meta_pr_event *status_events, size_t n_status)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_info *commits = NULL;
    size_t count = 0, next_status = 0;

    if (changes != NULL && pr_changes_commits(&commits, &count, git, changes, &err) < 0) {
        hub_log(HUB_LOG_WARN, "pr", "cannot list the commits of a pull request head=%s error=%s",
                changes->head, err.msg);
        count = 0;
    }
    /* pr_changes_commits lists the newest commit first. */
    for (size_t i = count; i-- > 0;) {
        while (next_status < n_status && status_events[next_status].created_at < commits[i].time)
            json_array_append_new(events, status_event_json(&status_events[next_status++]));
        json_array_append_new(events, commit_event_json(&commits[i]));
    }
    while (next_status < n_status)
        json_array_append_new(events, status_event_json(&status_events[next_status++]));
    repo_commits_free(commits, count);
}

/* Renders the description as the pull request page does: Markdown without raw HTML, with
 * relative links and images pointing into the files of refs/pr/N. The URLs are absolute,
 * because API clients show the HTML outside the hub. Returns a malloc'd string, or NULL when
 * the renderer failed (logged). */
static char *description_html(struct http_request *req, const struct meta_repo *row,
                              const struct meta_pr *pr)
{
    struct hub_error err = HUB_ERROR_INIT;
    char link_base[1024], image_base[1024];
    char *html = NULL;

    snprintf(link_base, sizeof(link_base), "%s/%s%s/%s/blob/refs%%2Fpr%%2F%lld/",
             http_request_base_url(req), hf_web_prefix(row->type), row->ns, row->name,
             (long long)pr->number);
    snprintf(image_base, sizeof(image_base), "%s/%s%s/%s/resolve/refs%%2Fpr%%2F%lld/",
             http_request_base_url(req), hf_web_prefix(row->type), row->ns, row->name,
             (long long)pr->number);
    if (web_markdown_render_in_repo(&html, NULL, pr->description, strlen(pr->description),
                                    link_base, image_base, &err) < 0) {
        hub_log(HUB_LOG_WARN, "hf", "cannot render the description repo=%s/%s num=%lld error=%s",
                row->ns, row->name, (long long)pr->number, err.msg);
        return NULL;
    }
    return html;
}

static json_t *pr_details_json(struct http_request *req, struct hf_repo_ctx *ctx,
                               const struct meta_pr *pr)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_merge_result check = {0};
    struct repo_merge_request mreq = {0};
    json_t *out = pr_summary_json(req, &ctx->row, pr), *events = json_array(),
           *conflicts = json_array(), *changes;
    struct pr_changes range;
    struct meta_pr_event *status_events = NULL;
    size_t n_status = 0;
    char ref[32], base_ref[HUB_MAX_REVISION_BYTES + 12];
    char created[32], url[1024];
    bool has_range;

    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)pr->number);
    snprintf(base_ref, sizeof(base_ref), "refs/heads/%s", pr->target_branch);
    has_range = pr_changes_find(&range, ctx->git, pr, &err) == 0;
    hf_time_format(created, pr->created_at);
    if (pr->description[0] != '\0') {
        char id[32];
        char *html = description_html(req, &ctx->row, pr);

        snprintf(id, sizeof(id), "pr-%lld-description", (long long)pr->number);
        json_array_append_new(
            events, json_pack("{s:s,s:s,s:s,s:o,s:{s:b,s:b,s:I,s:[],s:{s:s,s:s,s:s,s:o}}}", "id",
                              id, "type", "comment", "createdAt", created, "author",
                              author_json(pr->author_name), "data", "edited", 0, "hidden", 0,
                              "numEdits", (json_int_t)0, "editors", "latest", "raw",
                              pr->description, "html", html != NULL ? html : "", "updatedAt",
                              created, "author", author_json(pr->author_name)));
        free(html);
    }
    pr_status_events(&status_events, &n_status, req, ctx, pr);
    events_add_history(events, ctx->git, has_range ? &range : NULL, status_events, n_status);
    free(status_events);
    /* Conflicts are worked out on every read of an open pull request: a merge that only
     * checks changes nothing and needs no lock. */
    if (pr->status == META_PR_OPEN) {
        mreq.branch = pr->target_branch;
        mreq.source = ref;
        mreq.dry_run = true;
        if (repo_merge(&check, ctx->git, &mreq, &err) == HUB_ECONFLICT)
            for (size_t i = 0; i < check.n_conflicts; i++)
                json_array_append_new(conflicts, hf_json_git_text(check.conflicts[i]));
        repo_merge_result_dispose(&check);
    }
    changes = json_pack("{s:s,s:s,s:s}", "base", base_ref, "baseCommit", pr->base_commit,
                        "headCommit", has_range ? range.head : "");
    if (has_range)
        json_object_set_new(changes, "mergeBase", json_string(range.merge_base));
    if (pr->merged_commit[0] != '\0')
        json_object_set_new(changes, "mergeCommitId", json_string(pr->merged_commit));
    pr_url(url, sizeof(url), req, &ctx->row, pr->number);
    json_object_set_new(out, "events", events);
    json_object_set_new(out, "filesWithConflicts", conflicts);
    json_object_set_new(out, "changes", changes);
    json_object_set_new(out, "targetBranch", json_string(pr->target_branch));
    json_object_set_new(out, "gitReference", json_string(ref));
    json_object_set_new(out, "description", json_string(pr->description));
    json_object_set_new(out, "url", json_string(url));
    return out;
}

/* ---- Handlers ---------------------------------------------------------------------------- */

/* Parses the {num} route parameter. Queues 400 when it is not a pull request number. */
static int param_number(int64_t *out, struct http_request *req)
{
    const char *text = http_request_param(req, "num");
    char ref[32];

    snprintf(ref, sizeof(ref), "refs/pr/%.12s", text != NULL ? text : "");
    if (text == NULL || strlen(text) > 9 || !hf_pr_number_parse(out, ref)) {
        http_reply_error(
            req, 400,
            "invalid pull request number '%.40s': expected a positive integer of at most 9 digits",
            text != NULL ? text : "");
        return HUB_EINVAL;
    }
    return 0;
}

int hf_pr_list_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    const char *status = http_request_query(req, "status");
    const char *type = http_request_query(req, "type");
    const char *author = http_request_query(req, "author");
    const char *page_text = http_request_query(req, "p");
    enum meta_pr_status filter;
    struct meta_pr *prs = NULL;
    size_t count = 0, matched = 0, page = 0;
    json_t *list;
    int rc;

    if (status != NULL && strcmp(status, "all") != 0 && !meta_pr_status_parse(&filter, status))
        return http_reply_error(
            req, 400, "invalid status '%.40s': expected open, merged, closed or all", status);
    if (page_text != NULL) {
        char *end = NULL;
        long long p = strtoll(page_text, &end, 10);

        if (end == page_text || *end != '\0' || p < 0 || p > 1000000)
            return http_reply_error(req, 400, "invalid page '%.40s': expected a number from 0",
                                    page_text);
        page = (size_t)p;
    }
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc < 0)
        goto out;
    list = json_array();
    /* There are no plain discussions, so a request for them gets an empty page. */
    if (type == NULL || strcmp(type, "discussion") != 0) {
        bool all = status == NULL || strcmp(status, "all") == 0;

        rc =
            meta_pr_list(&prs, &count, http_request_db(req), ctx.row.id, all ? NULL : &filter, err);
        if (rc < 0) {
            json_decref(list);
            rc = http_reply_hub_error(req, err);
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (author != NULL && strcasecmp(author, prs[i].author_name) != 0)
            continue;
        if (matched >= page * PR_PAGE_SIZE && matched < (page + 1) * PR_PAGE_SIZE)
            json_array_append_new(list, pr_summary_json(req, &ctx.row, &prs[i]));
        matched++;
    }
    rc = http_reply_json(req, 200,
                         json_pack("{s:o,s:I,s:I,s:I}", "discussions", list, "count",
                                   (json_int_t)matched, "start", (json_int_t)(page * PR_PAGE_SIZE),
                                   "numItems", (json_int_t)json_array_size(list)));
out:
    free(prs);
    hf_repo_ctx_dispose(&ctx);
    return rc;
}

int hf_pr_details_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct meta_pr pr;
    int64_t number;
    int rc;

    rc = param_number(&number, req);
    if (rc < 0)
        return 0;
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc == 0)
        rc = pr_load(&pr, req, &ctx, number);
    if (rc == 0)
        rc = http_reply_json(req, 200, pr_details_json(req, &ctx, &pr));
    hf_repo_ctx_dispose(&ctx);
    return rc < 0 ? 0 : rc;
}

int hf_pr_create_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    const struct http_user *user = http_request_user(req);
    const char *title, *description, *target;
    struct meta_pr pr;
    json_t *root;
    int rc;

    root = hf_optional_json_body(req);
    if (root == NULL)
        return 0;
    title = json_string_value(json_object_get(root, "title"));
    description = json_string_value(json_object_get(root, "description"));
    target = json_string_value(json_object_get(root, "targetBranch"));
    if (!json_is_true(json_object_get(root, "pullRequest"))) {
        rc = http_reply_error(req, 400,
                              "discussions without a pull request are not supported; send "
                              "\"pullRequest\": true");
        goto out;
    }
    if (title == NULL || title[0] == '\0') {
        rc = http_reply_error(req, 400, "missing \"title\" in the request body");
        goto out;
    }
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc == 0)
        rc = hf_pr_check_contributor(req, &ctx);
    if (rc < 0)
        goto out;
    if (target == NULL)
        target = REPO_DEFAULT_BRANCH;
    rc = pr_open(&pr, http_request_db(req), ctx.git, &ctx.row, title, description, target, user->id,
                 user->name, err);
    /* The Hub's clients recognise a missing target branch by this error code. */
    if (rc == HUB_ENOTFOUND && !repo_revision_is_branch(NULL, ctx.git, target)) {
        rc = http_reply_error_code(req, 404, "RevisionNotFound", "%s", err->msg);
        goto out;
    }
    if (rc < 0) {
        rc = http_reply_hub_error(req, err);
        goto out;
    }
    hub_log(HUB_LOG_INFO, "hf", "pull request opened repo=%s/%s num=%lld user=%s req=%s",
            ctx.row.ns, ctx.row.name, (long long)pr.number, user->name, http_request_id(req));
    rc = http_reply_json(req, 200, pr_details_json(req, &ctx, &pr));
out:
    json_decref(root);
    hf_repo_ctx_dispose(&ctx);
    return rc < 0 ? 0 : rc;
}

static int reply_merge_conflict(struct http_request *req, const struct meta_pr *pr,
                                const struct repo_merge_result *res, const struct hub_error *err)
{
    json_t *files = json_array();
    char message[2048];

    for (size_t i = 0; i < res->n_conflicts; i++)
        json_array_append_new(files, hf_json_git_text(res->conflicts[i]));
    pr_merge_conflict_message(message, sizeof(message), pr, err);
    return http_reply_json(req, 409,
                           json_pack("{s:s,s:o}", "error", message, "filesWithConflicts", files));
}

/* Checks that the caller may merge pull request number of ctx's repo, which only the repo's
 * writers may. Queues 401 or 403 otherwise. */
static int check_merger(struct http_request *req, const struct hf_repo_ctx *ctx, int64_t number)
{
    const struct http_user *user = http_request_user(req);
    struct hub_error err = HUB_ERROR_INIT;
    bool can_write = false;

    if (user->id == 0) {
        http_reply_unauthorized(req);
        return HUB_EAUTH;
    }
    if (meta_repo_can_write(&can_write, http_request_db(req), &ctx->row, user->id, &err) < 0) {
        http_reply_hub_error(req, &err);
        return err.code;
    }
    if (!can_write) {
        http_reply_error(req, 403,
                         "user %s may not merge pull request #%lld of %s/%s: only writers of the "
                         "repo may merge pull requests",
                         user->name, (long long)number, ctx->row.ns, ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    if (user->scope != HTTP_SCOPE_WRITE) {
        http_reply_error(req, 403,
                         "this token is read-only; create a write token to merge pull requests "
                         "of %s/%s",
                         ctx->row.ns, ctx->row.name);
        return HUB_EFORBIDDEN;
    }
    return 0;
}

int hf_pr_merge_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct hf_repo_ctx ctx = {0};
    struct repo_merge_result res = {0};
    char name[128], email[160];
    struct meta_pr pr;
    int64_t number;
    json_t *root;
    int rc;

    rc = param_number(&number, req);
    if (rc < 0)
        return 0;
    root = hf_optional_json_body(req);
    if (root == NULL)
        return 0;
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc == 0)
        rc = check_merger(req, &ctx, number);
    if (rc == 0)
        rc = pr_load(&pr, req, &ctx, number);
    if (rc < 0)
        goto out;
    hf_author_format(name, sizeof(name), email, sizeof(email), http_request_user(req));
    rc = pr_merge(&res, &pr, NULL, http_request_db(req), ctx.git, &ctx.row, number,
                  http_request_user(req)->id, name, email, err);
    if (rc == HUB_ECONFLICT && res.total_conflicts > 0) {
        rc = reply_merge_conflict(req, &pr, &res, err);
        goto out;
    }
    if (rc < 0) {
        if (rc == HUB_EIO || rc == HUB_EINTERNAL)
            hub_log(HUB_LOG_ERROR, "hf", "merge failed repo=%s/%s num=%lld error=%s req=%s",
                    ctx.row.ns, ctx.row.name, (long long)number, err->msg, http_request_id(req));
        rc = http_reply_hub_error(req, err);
        goto out;
    }
    if (strcmp(pr.target_branch, REPO_DEFAULT_BRANCH) == 0)
        hf_base_model_refresh(http_request_db(req), ctx.git, &ctx.row, res.commit, "hf",
                              http_request_id(req));
    hub_log(HUB_LOG_INFO, "hf",
            "pull request merged repo=%s/%s num=%lld branch=%s commit=%s fast_forward=%d "
            "contained=%d user=%s req=%s",
            ctx.row.ns, ctx.row.name, (long long)number, pr.target_branch, res.commit,
            res.fast_forward, res.contained, http_request_user(req)->name, http_request_id(req));
    rc = http_reply_json(req, 200,
                         json_pack("{s:I,s:s,s:s,s:s,s:b,s:o}", "num", (json_int_t)number, "status",
                                   "merged", "mergeCommitId", res.commit, "headCommit",
                                   res.source_commit, "fastForward", res.fast_forward, "newStatus",
                                   current_status_event_json(req, &ctx, &pr)));
out:
    repo_merge_result_dispose(&res);
    json_decref(root);
    hf_repo_ctx_dispose(&ctx);
    return rc < 0 ? 0 : rc;
}

int hf_pr_status_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    struct hf_repo_ctx ctx = {0};
    struct meta_pr_event event = {0};
    enum meta_pr_status status;
    const char *text;
    struct meta_pr pr;
    int64_t number;
    json_t *root;
    int rc;

    rc = param_number(&number, req);
    if (rc < 0)
        return 0;
    root = hf_optional_json_body(req);
    if (root == NULL)
        return 0;
    text = json_string_value(json_object_get(root, "status"));
    if (text == NULL || !meta_pr_status_parse(&status, text) || status == META_PR_MERGED) {
        rc = http_reply_error(req, 400,
                              "invalid \"status\" '%.40s': expected \"open\" or \"closed\"; merge "
                              "through /merge",
                              text != NULL ? text : "");
        goto out;
    }
    rc = hf_repo_load_params(&ctx, req, false);
    if (rc == 0)
        rc = hf_pr_check_contributor(req, &ctx);
    if (rc == 0)
        rc = pr_load(&pr, req, &ctx, number);
    if (rc < 0)
        goto out;
    if (pr.author_id != user->id && !hf_caller_can_write(req, &ctx)) {
        rc = http_reply_error(req, 403,
                              "user %s may not close or reopen pull request #%lld: only its "
                              "author and the repo's writers may",
                              user->name, (long long)number);
        goto out;
    }
    /* A merged pull request gets 409 from here, also when the merge landed after pr_load. */
    rc = pr_set_status(&pr, &event, http_request_db(req), ctx.git, &ctx.row, number, status,
                       user->id, err);
    if (rc < 0) {
        rc = http_reply_hub_error(req, err);
        goto out;
    }
    hub_log(HUB_LOG_INFO, "hf", "pull request %s repo=%s/%s num=%lld user=%s req=%s",
            status == META_PR_OPEN ? "reopened" : "closed", ctx.row.ns, ctx.row.name,
            (long long)number, user->name, http_request_id(req));
    /* A change to the status the pull request has already records nothing, so the reply
     * names the change that gave it that status. */
    rc = http_reply_json(req, 200,
                         json_pack("{s:o}", "newStatus",
                                   event.id > 0 ? status_event_json(&event)
                                                : current_status_event_json(req, &ctx, &pr)));
out:
    json_decref(root);
    hf_repo_ctx_dispose(&ctx);
    return rc < 0 ? 0 : rc;
}
