/* page_pr_new: the New pull request form at /{id}/discussions/new. Like POST
 * /api/{models|datasets}/{id}/discussions, it opens an empty pull request, with
 * pr_open_once() so that a form sent twice opens one. Its ref refs/pr/N starts at the head of
 * the target branch. Then it sends the browser to the new pull request's page, which shows
 * the git commands that push to refs/pr/N. Any signed-in user who may read the repo may open
 * one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_log.h"
#include "meta_pr.h"
#include "pr_merge.h"
#include "web_repo.h"

/* The form field that an error is about, marked invalid and focused when the form shows
 * again. */
enum web_pr_new_field {
    WEB_PR_FIELD_NONE,
    WEB_PR_FIELD_TITLE,
    WEB_PR_FIELD_DESCRIPTION,
    WEB_PR_FIELD_TARGET,
};

/* The values of the form, as entered or as defaults. Borrowed strings. */
struct web_pr_new_form {
    const char *title;
    const char *description;
    const char *target; /* branch name */
    enum web_pr_new_field invalid;
};

void web_pr_new_link(struct web_repo_view *v)
{
    struct web_buf *b = &v->ctx->out;
    struct web_buf target = WEB_BUF_INIT;

    web_repo_href(&target, v, "discussions", "new", NULL);
    if (web_buf_failed(&target)) {
        web_buf_dispose(&target);
        return;
    }
    if (v->ctx->has_session) {
        web_buf_printf(b, "<a class=\"button\" id=\"pr-new-link\" href=\"%s\">New pull request</a>",
                       target.data);
    } else {
        web_buf_puts(b, "<p class=\"muted\" id=\"pr-new-login\"><a href=\"/login?next=");
        web_buf_url_encode(b, target.data, true);
        web_buf_puts(b, "\">Log in</a> to open a pull request.</p>");
    }
    web_buf_dispose(&target);
}

/* Writes the target branch menu for the branches among refs (count of them), with selected
 * chosen. */
static void web_pr_new_branches(struct web_buf *b, const struct repo_ref *refs, size_t count,
                                const char *selected, bool invalid)
{
    web_buf_puts(b, "<div class=\"field\"><label for=\"pr-target\">Target branch</label>"
                    "<select id=\"pr-target\" name=\"target\" aria-describedby=\"pr-target-hint");
    web_buf_puts(b, invalid ? " form-error\" aria-invalid=\"true\" autofocus>" : "\">");
    for (size_t i = 0; i < count; i++) {
        if (refs[i].kind != REPO_REF_BRANCH)
            continue;
        web_buf_puts(b, "<option value=\"");
        web_buf_escape(b, refs[i].name);
        web_buf_printf(b, "\"%s>", strcmp(refs[i].name, selected) == 0 ? " selected" : "");
        web_buf_escape(b, refs[i].name);
        web_buf_puts(b, "</option>");
    }
    web_buf_puts(b, "</select><p class=\"hint\" id=\"pr-target-hint\">The pull request proposes "
                    "your commits for this branch.</p></div>");
}

/* Writes the attributes that link a field to its hint and, when the last submission failed
 * because of it, to the error box, and that focus it. */
static void web_pr_new_field_attrs(struct web_buf *b, const char *hint_id, bool invalid)
{
    web_buf_printf(b, " aria-describedby=\"%s%s\"", hint_id, invalid ? " form-error" : "");
    if (invalid)
        web_buf_puts(b, " aria-invalid=\"true\" autofocus");
}

/* Writes the form's fields with form's values, without the form element. */
static void web_pr_new_fields(struct web_buf *b, const struct web_pr_new_form *form,
                              const struct repo_ref *refs, size_t count)
{
    web_buf_puts(b, "<div class=\"field\"><label for=\"pr-title\">Title</label><input "
                    "id=\"pr-title\" name=\"title\" required");
    web_pr_new_field_attrs(b, "pr-title-hint", form->invalid == WEB_PR_FIELD_TITLE);
    web_buf_puts(b, " value=\"");
    web_buf_escape(b, form->title);
    /* The limits are in bytes, which a browser's maxlength cannot count, so the hint and the
     * server's message give them instead. */
    web_buf_printf(b,
                   "\"><p class=\"hint\" id=\"pr-title-hint\">One line of up to %d bytes: as many "
                   "characters of plain English text, fewer with accents or other "
                   "scripts.</p></div><div class=\"field\"><label for=\"pr-description\">"
                   "Description (optional)</label><textarea id=\"pr-description\" "
                   "name=\"description\" rows=\"8\"",
                   META_PR_MAX_TITLE_BYTES);
    web_pr_new_field_attrs(b, "pr-description-hint", form->invalid == WEB_PR_FIELD_DESCRIPTION);
    web_buf_puts(b, ">");
    web_buf_escape(b, form->description);
    web_buf_printf(b,
                   "</textarea><p class=\"hint\" id=\"pr-description-hint\">Markdown, as in "
                   "model cards, up to %d bytes.</p></div>",
                   META_PR_MAX_DESCRIPTION_BYTES);
    web_pr_new_branches(b, refs, count, form->target, form->invalid == WEB_PR_FIELD_TARGET);
}

/* Writes the box that explains why the last submission failed: message (escaped here). The box
 * can take the focus when no field is marked invalid. */
static void web_pr_new_error(struct web_buf *b, const char *message, bool focus)
{
    web_buf_printf(b, "<p class=\"notice bad\" role=\"alert\" id=\"form-error\" tabindex=\"-1\"%s>",
                   focus ? " autofocus" : "");
    web_buf_escape(b, message);
    web_buf_puts(b, "</p>");
}

/* Renders the form with form's values and HTTP status. A message (escaped here), when set,
 * explains why the last submission failed. */
static int web_pr_new_page(struct web_repo_view *v, const struct web_pr_new_form *form, int status,
                           const char *message)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_ref *refs = NULL;
    size_t count = 0, branches = 0;

    web_repo_page_begin(v, "New pull request");
    web_repo_header(v, WEB_TAB_PULLS, REPO_DEFAULT_BRANCH, NULL);
    web_buf_puts(b, "<section class=\"new-pr\"><h2>New pull request</h2>");
    if (message != NULL)
        web_pr_new_error(b, message, form->invalid == WEB_PR_FIELD_NONE);
    if (!ctx->has_session) {
        web_buf_puts(b, "<p class=\"notice\">Log in with your password in the browser to open "
                        "pull requests here, or use POST /api/");
        web_buf_puts(b, v->meta.type == HUB_REPO_DATASET ? "datasets/" : "models/");
        web_buf_escape(b, v->id);
        web_buf_puts(b, "/discussions with a write token.</p></section>");
        web_page_end(ctx, status);
        return 1;
    }
    if (repo_refs_list(&refs, &count, v->git, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the branches of repo=%s error=%s", v->id,
                err.msg);
        count = 0;
    }
    for (size_t i = 0; i < count; i++)
        branches += refs[i].kind == REPO_REF_BRANCH;
    if (branches == 0) {
        web_buf_puts(b, "<p class=\"notice\" id=\"pr-no-branch\">This repository has no branch "
                        "yet, so a pull request has nothing to target. Push a first commit to "
                        "main.</p></section>");
        web_page_end(ctx, status);
        free(refs);
        return 1;
    }
    web_buf_puts(b, "<p>The new pull request starts with no commits. Its page then shows the "
                    "git commands that add your commits to it.</p><form id=\"pr-new-form\" "
                    "method=\"post\" action=\"");
    web_repo_href(b, v, "discussions", "new", NULL);
    web_buf_puts(b, "\">");
    web_page_csrf_field(ctx);
    web_pr_new_fields(b, form, refs, count);
    web_buf_puts(b, "<button type=\"submit\">Open pull request</button></form></section>");
    web_page_end(ctx, status);
    free(refs);
    return 1;
}

/* Renders the form after a submission without a session: the browser logged out, in this tab
 * or another, or the session expired. The page keeps the values, and the page's script keeps
 * them in the tab's sessionStorage, so the form has them again after the login link returns
 * to it. Status 401. */
static int web_pr_new_expired(struct web_repo_view *v, const struct web_pr_new_form *form)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct web_buf form_path = WEB_BUF_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_ref *refs = NULL;
    size_t count = 0;

    web_repo_href(&form_path, v, "discussions", "new", NULL);
    if (web_buf_failed(&form_path)) {
        web_buf_dispose(&form_path);
        return web_page_error(ctx, 500, "Out of memory.");
    }
    if (repo_refs_list(&refs, &count, v->git, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the branches of repo=%s error=%s", v->id,
                err.msg);
        count = 0;
    }
    web_repo_page_begin(v, "New pull request");
    web_repo_header(v, WEB_TAB_PULLS, REPO_DEFAULT_BRANCH, NULL);
    web_buf_puts(b, "<section class=\"new-pr\"><h2>New pull request</h2><p class=\"notice bad\" "
                    "role=\"alert\" id=\"form-error\" tabindex=\"-1\" autofocus>Your session "
                    "expired; <a id=\"pr-expired-login\" href=\"/login?next=");
    web_buf_url_encode(b, form_path.data, true);
    web_buf_puts(b, "\">log in again</a>. The pull request was not opened. Your title and "
                    "description are kept below and in this form after you log in.</p>"
                    "<form id=\"pr-new-form\" data-session-expired method=\"post\" action=\"");
    web_buf_escape(b, form_path.data);
    web_buf_puts(b, "\">");
    web_pr_new_fields(b, form, refs, count);
    web_buf_puts(b, "</form></section>");
    web_page_end(ctx, 401);
    free(refs);
    web_buf_dispose(&form_path);
    return 1;
}

/* Maps a pr_open() error to the status of the page that shows the form again, or 0 for an
 * error that gets the error page. The statuses are those of the API. */
static int web_pr_new_status(int code)
{
    switch (code) {
    case HUB_EINVAL:
        return 400;
    case HUB_ETOOBIG:
        return 413;
    case HUB_ENOTFOUND:
        return 404;
    case HUB_ECONFLICT:
        return 409;
    default:
        return 0;
    }
}

/* Returns the field that the pr_open() error code is about. */
static enum web_pr_new_field web_pr_new_invalid(int code, const char *title)
{
    struct hub_error ignored = HUB_ERROR_INIT;
    char checked[META_PR_MAX_TITLE_BYTES + 1];

    if (code == HUB_ENOTFOUND)
        return WEB_PR_FIELD_TARGET;
    if (code != HUB_EINVAL && code != HUB_ETOOBIG)
        return WEB_PR_FIELD_NONE;
    return pr_text_check(checked, title, NULL, &ignored) < 0 ? WEB_PR_FIELD_TITLE
                                                             : WEB_PR_FIELD_DESCRIPTION;
}

/* Replaces each CRLF in text with LF, in place. Browsers send the lines of a textarea with CRLF,
 * and the API and git clients write LF. */
static void web_pr_new_lf(char *text)
{
    char *out = text;

    for (const char *in = text; *in != '\0'; in++) {
        if (in[0] == '\r' && in[1] == '\n')
            continue;
        *out++ = *in;
    }
    *out = '\0';
}

/* Renders the form for a body that could not be parsed, for the reason in err. A body over
 * WEB_MAX_FORM_BYTES gets the form with 413, empty because nothing of it was read. */
static int web_pr_new_unreadable(struct web_repo_view *v, const struct hub_error *err)
{
    struct web_pr_new_form empty = {.title = "", .description = "", .target = REPO_DEFAULT_BRANCH};
    char message[512];

    if (err->code != HUB_ETOOBIG)
        return web_page_hub_error(v->ctx, err);
    /* NOTE: the values are lost here; the browser's Back button usually still has them. */
    snprintf(message, sizeof(message),
             "The form was larger than %u KiB, so it was not read, and the text you entered is "
             "not shown here. A description may have up to %d bytes: go back in the browser to "
             "get your text, shorten it and submit it again.",
             WEB_MAX_FORM_BYTES >> 10, META_PR_MAX_DESCRIPTION_BYTES);
    if (v->ctx->req->user_id == 0)
        return web_pr_new_expired(v, &empty);
    return web_pr_new_page(v, &empty, 413, message);
}

static int web_pr_new_post(struct web_repo_view *v)
{
    struct web_ctx *ctx = v->ctx;
    struct hub_error err = HUB_ERROR_INIT;
    struct web_form body;
    struct web_pr_new_form form = {0};
    struct web_buf location = WEB_BUF_INIT;
    struct meta_pr pr;
    char *description = NULL, *target;
    bool reused = false;
    int rc;

    memset(&body, 0, sizeof(body));
    rc = web_form_parse_body(&body, ctx, &err);
    if (rc < 0) {
        web_form_dispose(&body);
        return web_pr_new_unreadable(v, &err);
    }
    form.title = web_form_get(&body, "title") != NULL ? web_form_get(&body, "title") : "";
    description = strdup(
        web_form_get(&body, "description") != NULL ? web_form_get(&body, "description") : "");
    if (description == NULL) {
        web_form_dispose(&body);
        return web_page_error(ctx, 500, "Out of memory.");
    }
    web_pr_new_lf(description);
    form.description = description;
    form.target =
        web_form_get(&body, "target") != NULL ? web_form_get(&body, "target") : REPO_DEFAULT_BRANCH;
    if (ctx->req->user_id == 0) {
        rc = web_pr_new_expired(v, &form);
        goto out;
    }
    if (!web_page_csrf_ok(ctx, &body)) {
        rc = web_pr_new_page(v, &form, 400,
                             "The form expired or came from another site. Check the values and "
                             "submit it again.");
        goto out;
    }
    rc = pr_open_once(&pr, &reused, ctx->req->db, v->git, &v->meta, form.title, form.description,
                      form.target, ctx->req->user_id, ctx->req->user_name, &err);
    if (rc < 0 && web_pr_new_status(rc) != 0) {
        form.invalid = web_pr_new_invalid(rc, form.title);
        rc = web_pr_new_page(v, &form, web_pr_new_status(rc), err.msg);
        goto out;
    }
    if (rc < 0) {
        rc = web_page_hub_error(ctx, &err);
        goto out;
    }
    hub_log(HUB_LOG_INFO, "web", "%s repo=%s num=%lld branch=%s user=%s req=%s",
            reused ? "pull request form sent again, showing the open one" : "pull request opened",
            v->id, (long long)pr.number, pr.target_branch, ctx->req->user_name,
            ctx->req->request_id != NULL ? ctx->req->request_id : "-");
    web_repo_href(&location, v, "discussions", NULL, NULL);
    web_buf_printf(&location, "/%lld", (long long)pr.number);
    target = web_buf_take(&location, NULL);
    rc = target != NULL ? web_page_redirect(ctx, target)
                        : web_page_error(ctx, 500, "Out of memory.");
    free(target);
out:
    free(description);
    web_form_dispose(&body);
    return rc;
}

int web_pr_new(struct web_repo_view *v)
{
    struct web_pr_new_form form = {.title = "", .description = "", .target = REPO_DEFAULT_BRANCH};

    if (v->ctx->req->user_id == 0 && web_is_get(v->ctx))
        return web_require_login(v->ctx);
    if (web_is_post(v->ctx))
        return web_pr_new_post(v);
    if (!web_is_get(v->ctx))
        return web_page_error(v->ctx, 404, "This repository has no such page.");
    return web_pr_new_page(v, &form, 200, NULL);
}
