/* page_pr: the "Pull requests" tab of a repo. /{id}/discussions lists the pull requests,
 * /{id}/discussions/N shows one with its commits and changed files, and the Merge, Close and
 * Reopen buttons post CSRF-checked forms to /{id}/discussions/N/merge and .../status. The
 * New pull request form at /{id}/discussions/new is in page_pr_new.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_log.h"
#include "meta_pr.h"
#include "pr_changes.h"
#include "pr_merge.h"
#include "web_repo.h"

static void web_pr_href(struct web_buf *b, const struct web_repo_view *v, int64_t number,
                        const char *action)
{
    char num[24];

    snprintf(num, sizeof(num), "%lld", (long long)number);
    web_repo_href(b, v, "discussions", num, action);
}

static void web_pr_status_badge(struct web_buf *b, enum meta_pr_status status)
{
    web_buf_printf(b, "<span class=\"badge pr-%s\">%s</span>", meta_pr_status_name(status),
                   meta_pr_status_name(status));
}

static int web_pr_list(struct web_repo_view *v)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr *prs = NULL;
    size_t count = 0;

    if (meta_pr_list(&prs, &count, ctx->req->db, v->meta.id, NULL, &err) < 0)
        return web_page_hub_error(ctx, &err);
    web_repo_page_begin(v, "Pull requests");
    web_repo_header(v, WEB_TAB_PULLS, REPO_DEFAULT_BRANCH, NULL);
    web_buf_puts(b, "<div class=\"toolbar\">");
    web_pr_new_link(v);
    web_buf_puts(b, "</div>");
    if (count == 0)
        web_buf_puts(b, "<p class=\"muted\" id=\"pr-none\">No pull requests yet. Open one with "
                        "the New pull request button, then add your commits with git. Scripts "
                        "can open one through the Hub API too, by committing with "
                        "<code>create_pr=1</code>.</p>");
    else
        web_buf_puts(b, "<ul class=\"pr-list\">");
    for (size_t i = 0; i < count; i++) {
        web_buf_puts(b, "<li>");
        web_pr_status_badge(b, prs[i].status);
        web_buf_puts(b, " <a href=\"");
        web_pr_href(b, v, prs[i].number, NULL);
        web_buf_printf(b, "\">#%lld ", (long long)prs[i].number);
        web_buf_escape(b, prs[i].title);
        web_buf_puts(b, "</a> <span class=\"muted\">by ");
        web_buf_escape(b, prs[i].author_name[0] != '\0' ? prs[i].author_name : "deleted");
        web_buf_puts(b, ", opened ");
        web_format_time(b, prs[i].created_at);
        web_buf_puts(b, "</span></li>");
    }
    if (count > 0)
        web_buf_puts(b, "</ul>");
    web_page_end(ctx, 200);
    free(prs);
    return 1;
}

/* Writes the commits of the pull request, oldest first: those of changes. */
static void web_pr_commits(struct web_repo_view *v, const struct pr_changes *changes)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_commit_info *commits = NULL;
    size_t count = 0;

    if (pr_changes_commits(&commits, &count, v->git, changes, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the commits of a pull request repo=%s error=%s",
                v->id, err.msg);
        return;
    }
    web_buf_printf(b, "<h2>Commits (%zu)</h2><ul class=\"commits\">", count);
    for (size_t i = count; i-- > 0;) {
        web_buf_puts(b, "<li><a href=\"");
        web_repo_href(b, v, "commit", commits[i].id, NULL);
        web_buf_puts(b, "\">");
        web_buf_escape(b, commits[i].title != NULL ? commits[i].title : "");
        web_buf_printf(b, "</a> <code>%.10s</code> <span class=\"muted\">", commits[i].id);
        web_buf_escape(b, commits[i].author_name);
        web_buf_puts(b, " ");
        web_format_time(b, commits[i].time);
        web_buf_puts(b, "</span></li>");
    }
    web_buf_puts(b, "</ul>");
    repo_commits_free(commits, count);
}

/* Writes the status changes of pr in the order they were made, with who made each and when.
 * Writes nothing for a pull request that was never closed or merged. */
static void web_pr_history(struct web_repo_view *v, const struct meta_pr *pr)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr_event *events = NULL;
    size_t count = 0;

    if (meta_pr_events_list(&events, &count, v->ctx->req->db, pr->repo_id, pr->number, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web",
                "cannot list the status changes of a pull request repo=%s num=%lld error=%s", v->id,
                (long long)pr->number, err.msg);
        return;
    }
    if (count == 0)
        return;
    web_buf_puts(b, "<h2>Status changes</h2><ul class=\"pr-history\">");
    for (size_t i = 0; i < count; i++) {
        const char *action = events[i].status == META_PR_MERGED ? "Merged"
                             : events[i].status == META_PR_OPEN ? "Reopened"
                                                                : "Closed";

        web_buf_printf(b, "<li id=\"status-change-%lld\">%s ", (long long)events[i].id, action);
        if (!events[i].actor_known) {
            web_buf_puts(b, "<span class=\"muted\">(who did this was not recorded)</span> ");
        } else {
            web_buf_puts(b, "by ");
            web_buf_escape(b, events[i].actor_name[0] != '\0' ? events[i].actor_name : "deleted");
            web_buf_puts(b, " ");
        }
        web_format_time(b, events[i].created_at);
        web_buf_puts(b, "</li>");
    }
    web_buf_puts(b, "</ul>");
    free(events);
}

/* Writes the files that differ between the merge base and the head of the pull request. */
static void web_pr_files(struct web_repo_view *v, const struct pr_changes *changes)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_entry *old_e = NULL, *new_e = NULL;
    size_t n_old = 0, n_new = 0;
    const char *base = changes->merge_base, *head = changes->head;

    web_buf_puts(&v->ctx->out, "<h2>Changed files</h2>");
    if (repo_tree_list(&old_e, &n_old, v->git, base, "", true, &err) < 0 ||
        repo_tree_list(&new_e, &n_new, v->git, head, "", true, &err) < 0) {
        web_buf_puts(&v->ctx->out, "<p class=\"muted\">The files cannot be listed: ");
        web_buf_escape(&v->ctx->out, err.msg);
        web_buf_puts(&v->ctx->out, "</p>");
    } else if (web_diff_trees(v, base, old_e, n_old, head, new_e, n_new) == 0) {
        web_buf_puts(&v->ctx->out, "<p class=\"muted\">This pull request changes no file.</p>");
    }
    repo_entries_free(old_e, n_old);
    repo_entries_free(new_e, n_new);
}

/* Writes one button in a POST form with the CSRF token and, when name is set, a hidden field.
 * css_class, when set, styles the button (such as "secondary"). */
static void web_pr_button(struct web_repo_view *v, const struct meta_pr *pr, const char *action,
                          const char *name, const char *value, const char *label,
                          const char *css_class)
{
    struct web_buf *b = &v->ctx->out;

    web_buf_puts(b, "<form class=\"inline\" method=\"post\" action=\"");
    web_pr_href(b, v, pr->number, action);
    web_buf_puts(b, "\">");
    web_page_csrf_field(v->ctx);
    if (name != NULL)
        web_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"%s\">", name, value);
    if (css_class != NULL)
        web_buf_printf(b, "<button type=\"submit\" class=\"%s\">%s</button></form>", css_class,
                       label);
    else
        web_buf_printf(b, "<button type=\"submit\">%s</button></form>", label);
}

/* Writes the Merge, Close and Reopen buttons the viewer may use. A pull request that cannot
 * be merged (blocked is the reason, else NULL) gets a disabled Merge button with the reason,
 * since the merge would fail. */
static void web_pr_actions(struct web_repo_view *v, const struct meta_pr *pr, const char *blocked)
{
    bool writer = v->can_write;
    bool author = v->ctx->req->user_id != 0 && pr->author_id == v->ctx->req->user_id;

    if (!v->ctx->has_session || (!writer && !author) || pr->status == META_PR_MERGED)
        return;
    /* A <p> cannot contain a <form>, so the browser would end it before the first form. */
    web_buf_puts(&v->ctx->out, "<div class=\"toolbar pr-actions\">");
    if (pr->status == META_PR_OPEN && writer && blocked != NULL)
        web_buf_printf(&v->ctx->out,
                       "<button type=\"button\" id=\"pr-merge-disabled\" disabled "
                       "aria-describedby=\"pr-merge-reason\">Merge</button><span "
                       "class=\"muted\" id=\"pr-merge-reason\">%s</span>",
                       blocked);
    else if (pr->status == META_PR_OPEN && writer)
        web_pr_button(v, pr, "merge", NULL, NULL, "Merge", NULL);
    if (pr->status == META_PR_OPEN)
        web_pr_button(v, pr, "status", "status", "closed", "Close", "secondary");
    else
        web_pr_button(v, pr, "status", "status", "open", "Reopen", "secondary");
    web_buf_puts(&v->ctx->out, "</div>");
}

/* Writes the note that the password git asks for is a write token. */
static void web_pr_token_hint(struct web_buf *b)
{
    web_buf_puts(b, "<p class=\"hint\" id=\"pr-token-hint\">When git asks for a password, "
                    "enter a write token, not your account password: create one on the "
                    "<a href=\"/settings\">settings page</a>.</p>");
}

/* Tells the author and the writers of an open pull request that git can push to its ref too,
 * which the pre-receive hook allows them. A pull request without commits, as the New pull
 * request form opens it, gets the commands from the clone on as a block, because git is how
 * it gets them. */
static void web_pr_push_hint(struct web_repo_view *v, const struct meta_pr *pr, bool empty)
{
    struct web_buf *b = &v->ctx->out;
    bool author = v->ctx->req->user_id != 0 && pr->author_id == v->ctx->req->user_id;
    long long number = (long long)pr->number;

    if (!v->ctx->has_session || (!v->can_write && !author) || pr->status != META_PR_OPEN)
        return;
    if (empty) {
        web_buf_puts(b, "<div class=\"notice\" id=\"pr-push-hint\"><p>This pull request has no "
                        "commits yet. Add them with git:</p><pre><code>git clone ");
        web_format_base_url(b, v->ctx);
        web_repo_href(b, v, NULL, NULL, NULL);
        web_buf_puts(b, "\ncd ");
        web_buf_escape(b, v->meta.name);
        web_buf_printf(b,
                       "\ngit fetch origin refs/pr/%lld:pr/%lld\n"
                       "git checkout pr/%lld\n"
                       "# commit your changes, then:\n"
                       "git push origin pr/%lld:refs/pr/%lld</code></pre>",
                       number, number, number, number, number);
        web_pr_token_hint(b);
        web_buf_puts(b, "</div>");
        return;
    }
    web_buf_printf(b,
                   "<p class=\"muted\" id=\"pr-push-hint\">You can also push to this pull "
                   "request with git: <code>git fetch origin refs/pr/%lld:pr/%lld</code>, "
                   "commit on <code>pr/%lld</code>, then <code>git push origin "
                   "pr/%lld:refs/pr/%lld</code>.</p>",
                   number, number, number, number, number);
    web_pr_token_hint(b);
}

/* Writes the line under the title: who opened the pull request and what became of it. */
static void web_pr_summary(struct web_repo_view *v, const struct meta_pr *pr, const char *ref)
{
    struct web_buf *b = &v->ctx->out;
    const char *author = pr->author_name[0] != '\0' ? pr->author_name : "deleted";

    web_buf_puts(b, "<p class=\"toolbar\">");
    web_pr_status_badge(b, pr->status);
    web_buf_puts(b, "<span>");
    web_buf_escape(b, author);
    if (pr->status == META_PR_OPEN) {
        web_buf_printf(b, " wants to merge <code>%s</code> into <code>", ref);
        web_buf_escape(b, pr->target_branch);
        web_buf_puts(b, "</code>, opened ");
        web_format_time(b, pr->created_at);
        web_buf_puts(b, "</span>");
    } else {
        web_buf_puts(b, " opened this ");
        web_format_time(b, pr->created_at);
        web_buf_puts(b, "</span><span>");
        web_buf_printf(b, "%s <code>%s</code> into <code>",
                       pr->status == META_PR_MERGED ? "Merged" : "Closed without merging", ref);
        web_buf_escape(b, pr->target_branch);
        web_buf_puts(b, "</code>");
        if (pr->merged_commit[0] != '\0') {
            web_buf_puts(b, " as <a href=\"");
            web_repo_href(b, v, "commit", pr->merged_commit, NULL);
            web_buf_printf(b, "\"><code>%.10s</code></a>", pr->merged_commit);
        }
        web_buf_puts(b, "</span>");
    }
    web_buf_puts(b, "</p>");
}

/* Writes the description as Markdown, as the Hub shows it, with relative links into the pull
 * request's files. The renderer drops raw HTML, so the author's text cannot add markup. */
static void web_pr_description(struct web_repo_view *v, const struct meta_pr *pr, const char *ref)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    char *html = NULL;

    if (web_repo_markdown(&html, v, ref, "", pr->description, strlen(pr->description), &err) < 0) {
        hub_log(HUB_LOG_WARN, "web",
                "cannot render the description of pull request #%lld of %s: %s",
                (long long)pr->number, v->id, err.msg);
        web_buf_puts(b, "<pre class=\"pr-description\">");
        web_buf_escape(b, pr->description);
        web_buf_puts(b, "</pre>");
        return;
    }
    web_buf_puts(b, "<div class=\"card-body pr-description\">");
    web_buf_puts(b, html);
    web_buf_puts(b, "</div>");
    free(html);
}

/* Writes why a Merge form failed, when the redirect to this page names it in its query
 * (merge=...). The sentences are fixed, so a link cannot put its own text on the page. */
static void web_pr_merge_notice(struct web_repo_view *v, const struct meta_pr *pr)
{
    struct web_buf *b = &v->ctx->out;
    const char *outcome = web_form_get(&v->ctx->query, "merge");
    long long number = (long long)pr->number;

    if (outcome == NULL)
        return;
    web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\">");
    if (pr->status == META_PR_MERGED)
        web_buf_printf(b, "Pull request #%lld is already merged.", number);
    else if (pr->status == META_PR_CLOSED)
        web_buf_printf(b, "Pull request #%lld is closed. Reopen it before merging.", number);
    else if (strcmp(outcome, "no-commits") == 0)
        web_buf_printf(b,
                       "Pull request #%lld has no commits yet. Commit to refs/pr/%lld first, or "
                       "close it.",
                       number, number);
    else if (strcmp(outcome, "conflict") == 0)
        web_buf_printf(b, "Pull request #%lld was not merged because files conflict.", number);
    else if (strcmp(outcome, "locked") == 0)
        web_buf_printf(b,
                       "Pull request #%lld was not merged because another user locked a file "
                       "it changes with git-lfs.",
                       number);
    else
        web_buf_printf(b, "Pull request #%lld was not merged. Try again.", number);
    web_buf_puts(b, "</p>");
}

/* Writes the git commands with which the author merges the target branch into the pull
 * request and pushes the result, as docs/git.md (Resolving a conflict) gives them. */
static void web_pr_conflict_commands(struct web_buf *b, const struct meta_pr *pr)
{
    long long number = (long long)pr->number;

    web_buf_printf(
        b,
        "<pre class=\"pr-conflict-commands\"><code>git fetch origin refs/pr/%lld:pr/%lld "
        "&amp;&amp; git checkout pr/%lld\ngit pull --no-rebase origin ",
        number, number, number);
    web_buf_escape(b, pr->target_branch);
    web_buf_printf(b,
                   "    # fix the conflicting files, then git add and git commit\n"
                   "git push origin pr/%lld:refs/pr/%lld</code></pre>",
                   number, number);
}

/* For an open pull request, writes the files that conflict with the target branch and how to
 * resolve them. A dry-run merge works them out on every view, as the Hub API's details do.
 * Returns whether it found conflicts. */
static bool web_pr_conflicts(struct web_repo_view *v, const struct meta_pr *pr, const char *ref)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_merge_result check = {0};
    struct repo_merge_request mreq = {0};

    if (pr->status != META_PR_OPEN)
        return false;
    mreq.branch = pr->target_branch;
    mreq.source = ref;
    mreq.dry_run = true;
    mreq.accept_contained = true;
    if (repo_merge(&check, v->git, &mreq, &err) != HUB_ECONFLICT || check.total_conflicts == 0) {
        repo_merge_result_dispose(&check);
        return false;
    }
    web_buf_puts(b, "<div class=\"notice warn pr-conflicts\"><p>This pull request conflicts with "
                    "<code>");
    web_buf_escape(b, pr->target_branch);
    web_buf_printf(b, "</code> in %zu %s:</p><ul class=\"conflicts\">", check.total_conflicts,
                   check.total_conflicts == 1 ? "file" : "files");
    for (size_t i = 0; i < check.n_conflicts; i++) {
        web_buf_puts(b, "<li><code>");
        web_buf_escape(b, check.conflicts[i]);
        web_buf_puts(b, "</code></li>");
    }
    web_buf_printf(b,
                   "</ul><p>A writer can resolve this with git: fetch <code>%s</code>, merge it "
                   "into <code>",
                   ref);
    web_buf_escape(b, pr->target_branch);
    web_buf_puts(b, "</code>, fix the conflicts and push the branch: the push marks this pull "
                    "request merged. The author can merge <code>");
    web_buf_escape(b, pr->target_branch);
    web_buf_printf(b,
                   "</code> into <code>%s</code> with git, fix the conflicts and push "
                   "<code>%s</code>:</p>",
                   ref, ref);
    web_pr_conflict_commands(b, pr);
    web_buf_puts(b, "<p>Or open a new pull request on top of the current <code>");
    web_buf_escape(b, pr->target_branch);
    web_buf_puts(b, "</code> and close this one.</p></div>");
    repo_merge_result_dispose(&check);
    return true;
}

/* For a writer viewing an open pull request, writes the git-lfs lock that would stop their
 * merge, as the Merge form would find it. Returns whether there is one. */
static bool web_pr_locks(struct web_repo_view *v, const struct meta_pr *pr)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct pr_lock lock;
    bool found = false;
    int rc;

    if (pr->status != META_PR_OPEN || !v->can_write)
        return false;
    rc = pr_merge_lock_find(&lock, &found, v->ctx->req->db, v->git, pr, v->ctx->req->user_id, &err);
    if (rc < 0)
        hub_log(HUB_LOG_WARN, "web", "cannot check the git-lfs locks of repo=%s num=%lld error=%s",
                v->id, (long long)pr->number, err.msg);
    if (rc < 0 || !found)
        return false;
    web_buf_puts(b, "<div class=\"notice warn pr-locks\"><p>This pull request changes <code>");
    web_buf_escape(b, lock.path);
    web_buf_puts(b, "</code>, which ");
    web_buf_escape(b, lock.owner);
    web_buf_puts(b, " locked with git-lfs, so it cannot be merged until the lock is released. ");
    web_buf_escape(b, lock.owner);
    web_buf_puts(b, " can run <code>git lfs unlock ");
    web_buf_escape(b, lock.path);
    web_buf_puts(b, "</code>; a writer can break the lock with <code>git lfs unlock --force ");
    web_buf_escape(b, lock.path);
    web_buf_puts(b, "</code>.</p></div>");
    return true;
}

/* Renders pull request pr with HTTP status. A message (escaped here), when set, explains a
 * failed form above the rest. */
static int web_pr_show(struct web_repo_view *v, const struct meta_pr *pr, int status,
                       const char *message)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct pr_changes changes;
    char ref[32], title[META_PR_MAX_TITLE_BYTES + 32];
    bool conflicting, locked;

    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)pr->number);
    snprintf(title, sizeof(title), "#%lld %s", (long long)pr->number, pr->title);
    if (pr_changes_find(&changes, v->git, pr, &err) < 0)
        return web_page_error(ctx, 404, "The git ref of this pull request is missing.");
    web_repo_page_begin(v, title);
    web_repo_header(v, WEB_TAB_PULLS, REPO_DEFAULT_BRANCH, NULL);
    if (message != NULL) {
        web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\">");
        web_buf_escape(b, message);
        web_buf_puts(b, "</p>");
    }
    web_pr_merge_notice(v, pr);
    web_buf_puts(b, "<h2 class=\"pr-title\">");
    web_buf_escape(b, title);
    web_buf_puts(b, "</h2>");
    web_pr_summary(v, pr, ref);
    if (pr->description[0] != '\0')
        web_pr_description(v, pr, ref);
    conflicting = web_pr_conflicts(v, pr, ref);
    locked = web_pr_locks(v, pr);
    web_pr_actions(v, pr,
                   conflicting ? "Resolve the conflicts above before merging."
                   : locked    ? "The git-lfs lock above must be released before merging."
                               : NULL);
    web_pr_push_hint(v, pr, strcmp(changes.head, changes.merge_base) == 0);
    web_pr_commits(v, &changes);
    web_pr_history(v, pr);
    web_pr_files(v, &changes);
    web_page_end(ctx, status);
    return 1;
}

/* Handles the Merge form. When the merge fails, sets *outcome to the merge=... value for the
 * redirect to the pull request page: "conflict", "locked", "no-commits" or "failed". */
static int web_pr_merge_post(struct web_repo_view *v, struct meta_pr *pr, const char **outcome)
{
    struct web_ctx *ctx = v->ctx;
    struct repo_merge_result res = {0};
    struct hub_error err = HUB_ERROR_INIT;
    char email[HUB_MAX_AUTHOR_BYTES + 16];
    struct pr_lock lock;
    const char *request_id = ctx->req->request_id != NULL ? ctx->req->request_id : "-";
    int rc;

    if (!v->can_write)
        return web_pr_show(v, pr, 403, "Only the repo's writers may merge pull requests.");
    snprintf(email, sizeof(email), "%s@users.atelier", ctx->req->user_name);
    rc = pr_merge(&res, pr, &lock, ctx->req->db, v->git, &v->meta, pr->number, ctx->req->user_id,
                  ctx->req->user_name, email, &err);
    /* The page shows why from the state of the pull request, so a reload does not post the
     * form again. */
    if (rc == HUB_ECONFLICT || rc == HUB_EINVAL) {
        if (rc == HUB_EINVAL)
            *outcome = "no-commits";
        else
            *outcome = res.total_conflicts > 0 ? "conflict"
                       : lock.path[0] != '\0'  ? "locked"
                                               : "failed";
        hub_log(HUB_LOG_INFO, "web",
                "pull request not merged repo=%s num=%lld error=%s user=%s req=%s", v->id,
                (long long)pr->number, err.msg, ctx->req->user_name, request_id);
        repo_merge_result_dispose(&res);
        return 0;
    }
    repo_merge_result_dispose(&res);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    if (ctx->req->base_model_refresh != NULL && strcmp(pr->target_branch, REPO_DEFAULT_BRANCH) == 0)
        ctx->req->base_model_refresh(ctx->req->db, v->git, &v->meta, pr->merged_commit, "web",
                                     request_id);
    hub_log(HUB_LOG_INFO, "web",
            "pull request merged repo=%s num=%lld branch=%s commit=%s fast_forward=%d "
            "contained=%d user=%s req=%s",
            v->id, (long long)pr->number, pr->target_branch, pr->merged_commit, res.fast_forward,
            res.contained, ctx->req->user_name, request_id);
    return 0;
}

/* Handles the Close and Reopen form. */
static int web_pr_status_post(struct web_repo_view *v, struct meta_pr *pr, const char *value)
{
    struct web_ctx *ctx = v->ctx;
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_pr_status status;
    int rc;

    if (value == NULL || !meta_pr_status_parse(&status, value) || status == META_PR_MERGED)
        return web_pr_show(v, pr, 400, "The form sent an invalid status; reload the page.");
    if (pr->author_id != ctx->req->user_id && !v->can_write)
        return web_pr_show(v, pr, 403,
                           "Only the author and the repo's writers may close or reopen this "
                           "pull request.");
    if (pr->status == META_PR_MERGED)
        return web_pr_show(v, pr, 409, "This pull request is merged; its status is final.");
    rc = pr_set_status(pr, NULL, ctx->req->db, v->git, &v->meta, pr->number, status,
                       ctx->req->user_id, &err);
    if (rc == HUB_ECONFLICT)
        return web_pr_show(v, pr, 409, "This pull request is merged; its status is final.");
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    hub_log(HUB_LOG_INFO, "web", "pull request %s repo=%s num=%lld user=%s req=%s",
            status == META_PR_OPEN ? "reopened" : "closed", v->id, (long long)pr->number,
            ctx->req->user_name, ctx->req->request_id != NULL ? ctx->req->request_id : "-");
    return 0;
}

/* Handles a POST to /{id}/discussions/N/{merge,status}, then sends the browser back to the
 * pull request page. */
static int web_pr_post(struct web_repo_view *v, struct meta_pr *pr, const char *action)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf location = WEB_BUF_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    struct web_form form;
    const char *outcome = NULL;
    char *target;
    int rc;

    memset(&form, 0, sizeof(form));
    if (ctx->req->user_id == 0)
        return web_page_error(ctx, 403, "Log in to change pull requests.");
    rc = web_form_parse_body(&form, ctx, &err);
    if (rc < 0 || !web_page_csrf_ok(ctx, &form)) {
        web_form_dispose(&form);
        return web_pr_show(v, pr, 400, WEB_FORM_EXPIRED);
    }
    if (strcmp(action, "merge") == 0)
        rc = web_pr_merge_post(v, pr, &outcome);
    else
        rc = web_pr_status_post(v, pr, web_form_get(&form, "status"));
    web_form_dispose(&form);
    if (rc != 0)
        return rc;
    web_pr_href(&location, v, pr->number, NULL);
    if (outcome != NULL)
        web_buf_printf(&location, "?merge=%s", outcome);
    target = web_buf_take(&location, NULL);
    if (target == NULL)
        return web_page_error(ctx, 500, "Out of memory.");
    rc = web_page_redirect(ctx, target);
    free(target);
    return rc;
}

int web_pr_route(struct web_repo_view *v, const char *const *rest, size_t nrest)
{
    struct web_ctx *ctx = v->ctx;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr pr;
    char *end = NULL;
    long long number;
    int rc;

    if (nrest == 1 && web_is_get(ctx))
        return web_pr_list(v);
    if (nrest < 2 || nrest > 3)
        return web_page_error(ctx, 404, "This repository has no such page.");
    if (nrest == 2 && strcmp(rest[1], "new") == 0)
        return web_pr_new(v);
    number = strtoll(rest[1], &end, 10);
    if (end == rest[1] || *end != '\0' || number < 1 || number > 999999999)
        return web_page_error(ctx, 404, "There is no such pull request in this repository.");
    rc = meta_pr_get(&pr, ctx->req->db, v->meta.id, number, &err);
    if (rc == HUB_ENOTFOUND)
        return web_page_error(ctx, 404, "There is no such pull request in this repository.");
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    if (nrest == 2 && web_is_get(ctx))
        return web_pr_show(v, &pr, 200, NULL);
    if (nrest == 3 && web_is_post(ctx) &&
        (strcmp(rest[2], "merge") == 0 || strcmp(rest[2], "status") == 0))
        return web_pr_post(v, &pr, rest[2]);
    return web_page_error(ctx, 404, "This repository has no such page.");
}
