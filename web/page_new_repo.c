/* page_new_repo: /new and /new-dataset, the forms that create a model or dataset repo. The
 * form posts back to its own URL. repo_manage_create() does the checks and writes the repo,
 * as it does for POST /api/repos/create, and an error shows the form again with the values
 * entered and the message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_log.h"
#include "meta_org.h"
#include "repo_manage.h"
#include "web_page.h"

/* License identifiers the form offers, as the Hugging Face Hub writes them in a card's
 * "license" field. */
static const char *const web_licenses[] = {
    "apache-2.0", "mit",       "bsd-3-clause", "gpl-3.0",      "lgpl-3.0", "agpl-3.0",
    "cc0-1.0",    "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "openrail", "other",
};

/* The values of the form, as entered or as defaults. Borrowed strings. */
struct web_new_repo_form {
    enum hub_repo_type type;
    const char *owner;
    const char *name;
    const char *visibility; /* "public" or "private" */
    const char *license;    /* "" for none */
};

static bool web_license_is_known(const char *license)
{
    for (size_t i = 0; i < sizeof(web_licenses) / sizeof(web_licenses[0]); i++) {
        if (strcmp(license, web_licenses[i]) == 0)
            return true;
    }
    return false;
}

static void web_new_repo_option(struct web_buf *b, const char *value, const char *selected)
{
    web_buf_puts(b, "<option value=\"");
    web_buf_escape(b, value);
    web_buf_printf(b, "\"%s>", strcmp(value, selected) == 0 ? " selected" : "");
    web_buf_escape(b, value);
    web_buf_puts(b, "</option>");
}

/* Writes the owner menu: the user and each organisation where the user may create repos. An
 * owner that was posted but is not among them stays selectable, so the error about it shows
 * next to the value. One named by the link's ?owner= is left out, and the user is selected. */
static void web_new_repo_owners(struct web_ctx *ctx, const char *selected)
{
    struct web_buf *b = &ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_member *members = NULL;
    size_t count = 0;
    bool listed = strcmp(selected, ctx->req->user_name) == 0;

    if (meta_org_member_list(&members, &count, ctx->req->db, 0, ctx->req->user_id, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the organisations of user=%s error=%s req=%s",
                ctx->req->user_name, err.msg, ctx->req->request_id ? ctx->req->request_id : "-");
        count = 0;
    }
    web_buf_puts(b, "<select id=\"repo-owner\" name=\"owner\">");
    web_new_repo_option(b, ctx->req->user_name, selected);
    for (size_t i = 0; i < count; i++) {
        if (members[i].role == META_ROLE_READ)
            continue;
        web_new_repo_option(b, members[i].org_name, selected);
        listed = listed || strcmp(members[i].org_name, selected) == 0;
    }
    if (!listed && selected[0] != '\0' && web_is_post(ctx))
        web_new_repo_option(b, selected, selected);
    web_buf_puts(b, "</select>");
    free(members);
}

static int web_new_repo_page(struct web_ctx *ctx, const struct web_new_repo_form *form, int status,
                             const char *message)
{
    struct web_buf *b = &ctx->out;
    bool dataset = form->type == HUB_REPO_DATASET;
    bool is_private = strcmp(form->visibility, "private") == 0;

    web_page_begin(ctx, dataset ? "New dataset" : "New model");
    web_buf_printf(b, "<section class=\"new-repo\"><h1>%s</h1>",
                   dataset ? "Create a new dataset repository" : "Create a new model repository");
    if (message != NULL) {
        web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\" id=\"form-error\">");
        web_buf_escape(b, message);
        web_buf_puts(b, "</p>");
    }
    if (!ctx->has_session) {
        web_buf_puts(b, "<p class=\"notice\">Log in with your password in the browser to create "
                        "repositories here, or use POST /api/repos/create with a write "
                        "token.</p></section>");
        web_page_end(ctx, status);
        return 1;
    }
    web_buf_printf(b, "<form method=\"post\" action=\"%s\">", dataset ? "/new-dataset" : "/new");
    web_page_csrf_field(ctx);
    web_buf_puts(b, "<div class=\"field\"><label for=\"repo-owner\">Owner</label>");
    web_new_repo_owners(ctx, form->owner);
    web_buf_printf(b,
                   "</div><div class=\"field\"><label for=\"repo-name\">%s name</label>"
                   "<input id=\"repo-name\" name=\"name\" required maxlength=\"%d\" "
                   "autocomplete=\"off\" value=\"",
                   dataset ? "Dataset" : "Model", HUB_MAX_REPO_NAME_BYTES);
    web_buf_escape(b, form->name);
    web_buf_puts(b,
                 "\"><p class=\"hint\">Letters, digits, '.', '_' and '-'; it cannot start or "
                 "end with '.' or '-'.</p></div>"
                 "<div class=\"field\"><label for=\"repo-license\">License</label>"
                 "<select id=\"repo-license\" name=\"license\"><option value=\"\">none</option>");
    for (size_t i = 0; i < sizeof(web_licenses) / sizeof(web_licenses[0]); i++)
        web_new_repo_option(b, web_licenses[i], form->license);
    web_buf_printf(b,
                   "</select><p class=\"hint\">Written to the front matter of README.md in the "
                   "first commit.</p></div>"
                   "<fieldset><legend>Visibility</legend>"
                   "<label class=\"choice\"><input type=\"radio\" name=\"visibility\" "
                   "value=\"public\"%s> Public: anyone can see and download it</label>"
                   "<label class=\"choice\"><input type=\"radio\" name=\"visibility\" "
                   "value=\"private\"%s> Private: only the owner, the members of the owning "
                   "organisation and administrators</label></fieldset>"
                   "<button type=\"submit\">Create %s</button></form></section>",
                   is_private ? "" : " checked", is_private ? " checked" : "",
                   dataset ? "dataset" : "model");
    web_page_end(ctx, status);
    return 1;
}

/* Maps a repo_manage_create error to the status of the page that shows the form again. */
static int web_new_repo_status(int code)
{
    switch (code) {
    case HUB_EINVAL:
    case HUB_ETOOBIG:
        return 400;
    case HUB_EFORBIDDEN:
        return 403;
    case HUB_ENOTFOUND:
        return 404;
    case HUB_ECONFLICT:
        return 409;
    default:
        return 0;
    }
}

static int web_new_repo_post(struct web_ctx *ctx, enum hub_repo_type type)
{
    struct web_form body;
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_manage_create_request create = {0};
    struct web_new_repo_form form = {.type = type};
    struct web_buf location = WEB_BUF_INIT;
    struct meta_repo row;
    char commit[REPO_OID_HEX_BYTES + 1];
    char readme[128];
    char message[128];
    char *target;
    int rc;

    rc = web_form_parse_body(&body, ctx, &err);
    if (rc < 0) {
        web_form_dispose(&body);
        return web_page_hub_error(ctx, &err);
    }
    form.owner = web_form_get(&body, "owner") ? web_form_get(&body, "owner") : "";
    form.name = web_form_get(&body, "name") ? web_form_get(&body, "name") : "";
    form.visibility = web_form_get(&body, "visibility") ? web_form_get(&body, "visibility") : "";
    form.license = web_form_get(&body, "license") ? web_form_get(&body, "license") : "";
    if (!web_page_csrf_ok(ctx, &body)) {
        rc = web_new_repo_page(ctx, &form, 400,
                               "The form expired or came from another site. Check the values "
                               "and submit it again.");
        goto out;
    }
    if (strcmp(form.visibility, "public") != 0 && strcmp(form.visibility, "private") != 0) {
        rc = web_new_repo_page(ctx, &form, 400, "Invalid visibility: choose public or private.");
        goto out;
    }
    if (form.license[0] != '\0' && !web_license_is_known(form.license)) {
        snprintf(message, sizeof(message),
                 "Invalid license '%.40s': choose one from the list, or \"other\".", form.license);
        rc = web_new_repo_page(ctx, &form, 400, message);
        goto out;
    }
    if (form.license[0] != '\0')
        snprintf(readme, sizeof(readme), "---\nlicense: %s\n---\n", form.license);

    create.type = type;
    create.ns = form.owner;
    create.name = form.name;
    create.is_private = strcmp(form.visibility, "private") == 0;
    create.readme = form.license[0] != '\0' ? readme : NULL;
    create.user_id = ctx->req->user_id;
    create.user_name = ctx->req->user_name;
    create.request_id = ctx->req->request_id;
    rc = repo_manage_create(&row, commit, ctx->req->db, ctx->req->data_dir, &create, &err);
    if (rc < 0 && web_new_repo_status(rc) != 0) {
        rc = web_new_repo_page(ctx, &form, web_new_repo_status(rc), err.msg);
        goto out;
    }
    if (rc < 0) {
        rc = web_page_hub_error(ctx, &err);
        goto out;
    }
    web_buf_puts(&location, type == HUB_REPO_DATASET ? "/datasets/" : "/");
    web_buf_url_encode(&location, row.ns, false);
    web_buf_puts(&location, "/");
    web_buf_url_encode(&location, row.name, false);
    target = web_buf_take(&location, NULL);
    rc = target != NULL ? web_page_redirect(ctx, target)
                        : web_page_error(ctx, 500, "Out of memory.");
    free(target);
out:
    web_form_dispose(&body);
    return rc;
}

int web_new_repo_handle(struct web_ctx *ctx)
{
    enum hub_repo_type type;
    struct web_new_repo_form form = {0};

    if (ctx->nseg != 1)
        return 0;
    if (strcmp(ctx->seg[0], "new") == 0)
        type = HUB_REPO_MODEL;
    else if (strcmp(ctx->seg[0], "new-dataset") == 0)
        type = HUB_REPO_DATASET;
    else
        return 0;
    if (ctx->req->user_id == 0)
        return web_require_login(ctx);
    if (web_is_post(ctx))
        return web_new_repo_post(ctx, type);
    form.type = type;
    form.owner = web_form_get(&ctx->query, "owner") ? web_form_get(&ctx->query, "owner")
                                                    : ctx->req->user_name;
    form.name = "";
    form.visibility = "public";
    form.license = "";
    return web_new_repo_page(ctx, &form, 200, NULL);
}
