/* page_repo_settings: the Settings tab of a repo, for viewers with write access. It changes
 * the visibility, protects and unprotects branches and deletes the repo, each through a form
 * with the session's CSRF token that posts to /{repo}/settings/{action}. The changes go
 * through repo_manage.h, so they follow the rules of the HTTP API and write the same audit
 * entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git_settings.h"
#include "hub_log.h"
#include "repo_manage.h"
#include "web_repo.h"

/* Appends the URL of the settings page, with "/" action when action is not NULL. */
static void web_settings_href(struct web_buf *b, const struct web_repo_view *v, const char *action)
{
    web_repo_href(b, v, "settings", NULL, NULL);
    if (action != NULL) {
        web_buf_puts(b, "/");
        web_buf_puts(b, action);
    }
}

static void web_settings_form_begin(struct web_repo_view *v, const char *action)
{
    struct web_buf *b = &v->ctx->out;

    web_buf_puts(b, "<form method=\"post\" action=\"");
    web_settings_href(b, v, action);
    web_buf_puts(b, "\">");
    web_page_csrf_field(v->ctx);
}

static void web_settings_visibility(struct web_repo_view *v)
{
    struct web_buf *b = &v->ctx->out;

    web_buf_puts(b, "<section id=\"visibility\"><h2>Visibility</h2>");
    web_settings_form_begin(v, "visibility");
    web_buf_printf(b,
                   "<fieldset><legend>Who can see this repository</legend>"
                   "<label class=\"choice\"><input type=\"radio\" name=\"visibility\" "
                   "value=\"public\"%s> Public: anyone can see and download it</label>"
                   "<label class=\"choice\"><input type=\"radio\" name=\"visibility\" "
                   "value=\"private\"%s> Private: only the owner, the members of the owning "
                   "organisation and administrators</label></fieldset>"
                   "<button type=\"submit\">Save visibility</button></form></section>",
                   v->meta.is_private ? "" : " checked", v->meta.is_private ? " checked" : "");
}

/* Writes the branch list for the name field, so that existing branches can be picked. */
static void web_settings_branch_names(struct web_repo_view *v)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_ref *refs = NULL;
    size_t count = 0;

    if (repo_refs_list(&refs, &count, v->git, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the branches of %s error=%s req=%s", v->id,
                err.msg, v->ctx->req->request_id ? v->ctx->req->request_id : "-");
        count = 0;
    }
    web_buf_puts(b, "<datalist id=\"branch-names\">");
    for (size_t i = 0; i < count; i++) {
        if (refs[i].kind != REPO_REF_BRANCH)
            continue;
        web_buf_puts(b, "<option value=\"");
        web_buf_escape(b, refs[i].name);
        web_buf_puts(b, "\">");
    }
    web_buf_puts(b, "</datalist>");
    free(refs);
}

/* Writes the protected branches, from the space-separated list (changed by strtok_r), and the
 * form that protects one more. */
static void web_settings_branches(struct web_repo_view *v, char *list)
{
    struct web_buf *b = &v->ctx->out;
    char *save = NULL;
    bool any = false;

    web_buf_puts(b, "<section id=\"branches\"><h2>Protected branches</h2><p class=\"hint\">"
                    "The hub rejects force pushes to a protected branch and its deletion, by git "
                    "push and by the API's branch routes. Commits that add to the branch are "
                    "accepted.</p><ul class=\"protected-branches\">");
    for (char *branch = strtok_r(list, " ", &save); branch != NULL;
         branch = strtok_r(NULL, " ", &save)) {
        any = true;
        web_buf_puts(b, "<li><code>");
        web_buf_escape(b, branch);
        web_buf_puts(b, "</code> ");
        web_buf_puts(b, "<form class=\"inline\" method=\"post\" action=\"");
        web_settings_href(b, v, "unprotect");
        web_buf_puts(b, "\">");
        web_page_csrf_field(v->ctx);
        web_buf_puts(b, "<input type=\"hidden\" name=\"branch\" value=\"");
        web_buf_escape(b, branch);
        web_buf_puts(b, "\"><button type=\"submit\" class=\"secondary\" aria-label=\"Unprotect ");
        web_buf_escape(b, branch);
        web_buf_puts(b, "\">Unprotect</button></form></li>");
    }
    web_buf_puts(b, "</ul>");
    if (!any)
        web_buf_puts(b, "<p class=\"muted\">No branch is protected.</p>");
    web_settings_form_begin(v, "protect");
    web_buf_printf(b,
                   "<div class=\"field\"><label for=\"protect-branch\">Branch</label>"
                   "<input id=\"protect-branch\" name=\"branch\" required maxlength=\"%d\" "
                   "list=\"branch-names\" placeholder=\"main\"></div>",
                   HUB_MAX_REVISION_BYTES);
    web_settings_branch_names(v);
    web_buf_puts(b, "<button type=\"submit\">Protect branch</button></form></section>");
}

static void web_settings_delete(struct web_repo_view *v)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;

    web_buf_puts(b, "<section id=\"delete\"><h2>Delete this repository</h2>");
    if (repo_manage_delete_check(v->ctx->req->db, &v->meta, v->ctx->req->user_id,
                                 v->ctx->req->user_is_admin, &err) < 0) {
        web_buf_puts(b, "<p class=\"notice\">");
        web_buf_escape(b, err.msg);
        web_buf_puts(b, ".</p></section>");
        return;
    }
    web_buf_puts(b, "<p>Deleting removes the git history, the files and the protected branch "
                    "settings. It cannot be undone. LFS files stay in the store until the next "
                    "garbage collection, but no page or URL serves them through this "
                    "repository.</p>");
    web_settings_form_begin(v, "delete");
    web_buf_puts(b, "<div class=\"field\"><label for=\"delete-confirm\">Type <code>");
    web_buf_escape(b, v->id);
    web_buf_puts(b, "</code> to confirm</label><input id=\"delete-confirm\" name=\"confirm\" "
                    "required autocomplete=\"off\"></div>"
                    "<button type=\"submit\" class=\"danger\">Delete this repository</button>"
                    "</form></section>");
}

/* Writes the settings page with message on top (NULL: none), shown as an error when
 * is_error is set and as information otherwise. */
static int web_settings_render(struct web_repo_view *v, int status, const char *message,
                               bool is_error)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    char title[HUB_MAX_REPO_ID_BYTES + 16];
    char *protected_branches = NULL;

    if (gitsettings_protected_branches(&protected_branches, ctx->req->db, v->meta.id, &err) < 0)
        return web_page_hub_error(ctx, &err);
    snprintf(title, sizeof(title), "Settings · %s", v->id);
    web_page_begin(ctx, title);
    web_repo_header(v, WEB_TAB_SETTINGS, REPO_DEFAULT_BRANCH, NULL);
    if (message != NULL && is_error) {
        web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\" id=\"form-error\">");
        web_buf_escape(b, message);
        web_buf_puts(b, "</p>");
    } else if (message != NULL) {
        web_buf_puts(b, "<p class=\"notice\" role=\"status\" id=\"form-result\">");
        web_buf_escape(b, message);
        web_buf_puts(b, "</p>");
    }
    if (!ctx->has_session) {
        web_buf_puts(b, "<p class=\"notice\">Log in with your password in the browser to change "
                        "the settings here.</p>");
    } else {
        web_settings_visibility(v);
        web_settings_branches(v, protected_branches);
        web_settings_delete(v);
    }
    web_page_end(ctx, status);
    free(protected_branches);
    return 1;
}

static int web_settings_page(struct web_repo_view *v, int status, const char *message)
{
    return web_settings_render(v, status, message, true);
}

/* Redirects to the settings page, at the section that changed. */
static int web_settings_redirect(struct web_repo_view *v, const char *section)
{
    struct web_buf location = WEB_BUF_INIT;
    char *target;
    int rc;

    web_settings_href(&location, v, NULL);
    web_buf_printf(&location, "#%s", section);
    target = web_buf_take(&location, NULL);
    rc = target != NULL ? web_page_redirect(v->ctx, target)
                        : web_page_error(v->ctx, 500, "Out of memory.");
    free(target);
    return rc;
}

static int web_settings_set_visibility(struct web_repo_view *v, const struct web_form *form)
{
    const char *visibility = web_form_get(form, "visibility");
    struct hub_error err = HUB_ERROR_INIT;
    bool is_private;

    if (visibility == NULL ||
        (strcmp(visibility, "public") != 0 && strcmp(visibility, "private") != 0))
        return web_settings_page(v, 400, "Invalid visibility: choose public or private.");
    is_private = strcmp(visibility, "private") == 0;
    if (repo_manage_set_private(v->ctx->req->db, &v->meta, is_private, v->ctx->req->user_name,
                                v->ctx->req->request_id, &err) < 0)
        return web_page_hub_error(v->ctx, &err);
    return web_settings_redirect(v, "visibility");
}

/* Protects or unprotects the branch of the form. A change of an existing branch redirects back
 * to the page. Otherwise the page shows what happened: that nothing changed, or that the new
 * rule waits for a branch that does not exist yet, as a rule may be set up before the branch
 * is pushed. */
static int web_settings_protect(struct web_repo_view *v, const struct web_form *form, bool protect)
{
    const char *branch = web_form_get(form, "branch");
    struct hub_error err = HUB_ERROR_INIT;
    char message[2 * HUB_MAX_REVISION_BYTES + 160];
    bool changed = false;
    int rc;

    if (branch == NULL || branch[0] == '\0')
        return web_settings_page(v, 400, "Missing branch name: enter the branch to protect.");
    rc =
        repo_manage_branch_protect(v->ctx->req->db, &v->meta, branch, protect,
                                   v->ctx->req->user_name, v->ctx->req->request_id, &changed, &err);
    if (rc == HUB_EINVAL)
        return web_settings_page(v, 400, err.msg);
    if (rc < 0)
        return web_page_hub_error(v->ctx, &err);
    if (!changed) {
        snprintf(message, sizeof(message), "Branch %s %s, so nothing changed.", branch,
                 protect ? "is already protected" : "is not protected");
        return web_settings_render(v, 200, message, false);
    }
    if (protect && !repo_revision_is_branch(NULL, v->git, branch)) {
        snprintf(message, sizeof(message),
                 "Protected %s. No branch named %s exists yet, so the rule applies once "
                 "someone creates it.",
                 branch, branch);
        return web_settings_render(v, 200, message, false);
    }
    return web_settings_redirect(v, "branches");
}

static int web_settings_delete_post(struct web_repo_view *v, const struct web_form *form)
{
    const char *confirm = web_form_get(form, "confirm");
    struct hub_error err = HUB_ERROR_INIT;
    char message[HUB_MAX_REPO_ID_BYTES + 96];
    int rc;

    rc = repo_manage_delete_check(v->ctx->req->db, &v->meta, v->ctx->req->user_id,
                                  v->ctx->req->user_is_admin, &err);
    if (rc == HUB_EFORBIDDEN)
        return web_page_error(v->ctx, 403, err.msg);
    if (rc < 0)
        return web_page_hub_error(v->ctx, &err);
    if (confirm == NULL || strcmp(confirm, v->id) != 0) {
        snprintf(message, sizeof(message),
                 "The confirmation does not match: type %s exactly to delete the repository.",
                 v->id);
        return web_settings_page(v, 400, message);
    }
    /* repo_manage_delete checks this too. Checking here first keeps the settings page. */
    rc = repo_manage_delete_jobs_check(v->ctx->req->db, &v->meta, &err);
    if (rc == HUB_ECONFLICT)
        return web_settings_page(v, 409, err.msg);
    if (rc < 0)
        return web_page_hub_error(v->ctx, &err);
    /* The folder is renamed away and removed, so drop this request's handle on it first. */
    repo_close(v->git);
    v->git = NULL;
    rc = repo_manage_delete(v->ctx->req->db, v->ctx->req->data_dir, &v->meta,
                            v->ctx->req->user_name, v->ctx->req->request_id, &err);
    if (rc < 0)
        return web_page_hub_error(v->ctx, &err);
    return web_page_redirect(v->ctx, "/");
}

static int web_settings_post(struct web_repo_view *v, const char *action)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    rc = web_form_parse_body(&form, v->ctx, &err);
    if (rc < 0) {
        web_form_dispose(&form);
        return web_page_hub_error(v->ctx, &err);
    }
    if (!web_page_csrf_ok(v->ctx, &form))
        rc = web_settings_page(v, 400, WEB_FORM_EXPIRED);
    else if (strcmp(action, "visibility") == 0)
        rc = web_settings_set_visibility(v, &form);
    else if (strcmp(action, "protect") == 0)
        rc = web_settings_protect(v, &form, true);
    else if (strcmp(action, "unprotect") == 0)
        rc = web_settings_protect(v, &form, false);
    else
        rc = web_settings_delete_post(v, &form);
    web_form_dispose(&form);
    return rc;
}

int web_repo_settings(struct web_repo_view *v, const char *const *rest, size_t nrest)
{
    struct web_ctx *ctx = v->ctx;
    static const char *const actions[] = {"visibility", "protect", "unprotect", "delete"};
    bool known = false;

    if (nrest == 0 && web_is_get(ctx)) {
        if (ctx->req->user_id == 0)
            return web_require_login(ctx);
        if (!v->can_write)
            return web_page_error(ctx, 403,
                                  "You need write access to this repository to change its "
                                  "settings.");
        return web_settings_page(v, 200, NULL);
    }
    for (size_t i = 0; nrest == 1 && i < sizeof(actions) / sizeof(actions[0]); i++)
        known = known || strcmp(rest[0], actions[i]) == 0;
    if (!known)
        return web_page_error(ctx, 404, "Settings has no such page.");
    if (!web_is_post(ctx))
        return web_page_error(ctx, 400, "Use the buttons on the Settings page to change it.");
    if (!v->can_write)
        return web_page_error(ctx, 403,
                              "You need write access to this repository to change its "
                              "settings.");
    return web_settings_post(v, rest[0]);
}
