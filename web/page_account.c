/* page_account: /login, /logout and /settings (API tokens). A double-submit cookie protects
 * the login form against cross-site posts, because there is no session yet. Every later form
 * carries the session's CSRF token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hub_log.h"
#include "meta_session.h"
#include "meta_token.h"
#include "meta_user.h"
#include "web_page.h"

#define WEB_LOGIN_TOKEN_BYTES 43 /* base64url of 32 random bytes */
/* Carries a new token's secret from the create form's redirect to the one page that shows it,
 * so a reload of that page shows the list instead of posting the form again. */
#define WEB_NEW_TOKEN_COOKIE    "atelier_new_token"
#define WEB_NEW_TOKEN_MAX_AGE_S 300

static bool web_random_token(char out[WEB_LOGIN_TOKEN_BYTES + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33] = {0};
    size_t n = 0;

    if (getrandom(raw, 32, 0) != 32)
        return false;
    for (size_t i = 0; i < 33 && n < WEB_LOGIN_TOKEN_BYTES; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];

        for (int k = 3; k >= 0 && n < WEB_LOGIN_TOKEN_BYTES; k--)
            out[n++] = alphabet[(v >> (6 * k)) & 63];
    }
    out[n] = '\0';
    return true;
}

static bool web_equal_constant_time(const char *a, const char *b)
{
    size_t len = strlen(a);
    unsigned char diff = 0;

    if (len == 0 || len != strlen(b))
        return false;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* Returns next when it is a path on this site ("/..." but not "//..." or "/\..."), else "/". */
static const char *web_safe_next(const char *next)
{
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\' ||
        strpbrk(next, "\r\n") != NULL || strlen(next) > 1024)
        return "/";
    return next;
}

static void web_set_cookie(struct web_ctx *ctx, const char *name, const char *value,
                           const char *path, long max_age_s)
{
    char line[512];

    snprintf(line, sizeof(line), "%s=%s; Path=%s; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name,
             value, path, max_age_s, ctx->req->tls ? "; Secure" : "");
    free(ctx->resp->set_cookie);
    ctx->resp->set_cookie = strdup(line);
}

static int web_login_form(struct web_ctx *ctx, int status, const char *message,
                          const char *user_name)
{
    char token[WEB_LOGIN_TOKEN_BYTES + 1];
    const char *next = web_safe_next(web_form_get(&ctx->query, "next"));
    struct web_buf *b = &ctx->out;

    if (!web_cookie_get(token, sizeof(token), ctx->req->cookie, WEB_LOGIN_COOKIE) ||
        strlen(token) != WEB_LOGIN_TOKEN_BYTES) {
        if (!web_random_token(token))
            return web_page_error(ctx, 500, "The server has no randomness for the login form.");
    }
    web_set_cookie(ctx, WEB_LOGIN_COOKIE, token, "/login", 3600);
    web_page_begin(ctx, "Log in");
    web_buf_puts(b, "<section class=\"login\"><h1>Log in</h1>");
    if (message != NULL) {
        web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\">");
        web_buf_escape(b, message);
        web_buf_puts(b, "</p>");
    }
    web_buf_puts(b, "<form method=\"post\" action=\"/login?next=");
    web_buf_url_encode(b, next, true);
    web_buf_puts(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
    web_buf_escape(b, token);
    web_buf_puts(b, "\"><label for=\"login-user\">User name</label>"
                    "<input id=\"login-user\" name=\"username\" autocomplete=\"username\" "
                    "required autofocus value=\"");
    web_buf_escape(b, user_name);
    web_buf_puts(b, "\"><label for=\"login-password\">Password</label>"
                    "<input id=\"login-password\" name=\"password\" type=\"password\" "
                    "autocomplete=\"current-password\" required>"
                    "<button type=\"submit\">Log in</button></form>"
                    "<p class=\"hint\">Accounts are created by an administrator with "
                    "<code>atelier admin user add</code>. Scripts and git use API tokens, "
                    "which you can create in Settings after logging in.</p></section>");
    web_page_end(ctx, status);
    return 1;
}

static int web_login_post(struct web_ctx *ctx)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_user user;
    char cookie_token[WEB_LOGIN_TOKEN_BYTES + 1];
    char session_id[META_SESSION_ID_BYTES + 1];
    char line[512];
    const char *name;
    const char *password;
    int rc;

    rc = web_form_parse_body(&form, ctx, &err);
    if (rc < 0) {
        web_form_dispose(&form);
        return web_page_hub_error(ctx, &err);
    }
    name = web_form_get(&form, "username");
    password = web_form_get(&form, "password");
    if (!web_cookie_get(cookie_token, sizeof(cookie_token), ctx->req->cookie, WEB_LOGIN_COOKIE) ||
        web_form_get(&form, "csrf") == NULL ||
        !web_equal_constant_time(cookie_token, web_form_get(&form, "csrf"))) {
        rc = web_login_form(ctx, 400,
                            "The login form expired or came from another site. Enter your "
                            "password again.",
                            name);
        goto out;
    }
    if (name == NULL || password == NULL || name[0] == '\0') {
        rc = web_login_form(ctx, 400, "Enter a user name and a password.", name);
        goto out;
    }
    rc = meta_user_check_password(&user, ctx->req->db, name, password, &err);
    if (rc == HUB_EAUTH) {
        hub_log(HUB_LOG_INFO, "web", "login failed req=%s",
                ctx->req->request_id ? ctx->req->request_id : "-");
        rc = web_login_form(ctx, 401, "Invalid user name or password.", name);
        goto out;
    }
    if (rc < 0) {
        rc = web_page_hub_error(ctx, &err);
        goto out;
    }
    rc = meta_session_create(session_id, NULL, ctx->req->db, user.id, WEB_SESSION_TTL_S, &err);
    if (rc < 0) {
        rc = web_page_hub_error(ctx, &err);
        goto out;
    }
    hub_log(HUB_LOG_INFO, "web", "login user=%s req=%s", user.name,
            ctx->req->request_id ? ctx->req->request_id : "-");
    snprintf(line, sizeof(line), "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
             WEB_SESSION_COOKIE, session_id, WEB_SESSION_TTL_S, ctx->req->tls ? "; Secure" : "");
    rc = web_page_redirect(ctx, web_safe_next(web_form_get(&ctx->query, "next")));
    free(ctx->resp->set_cookie);
    ctx->resp->set_cookie = strdup(line);
out:
    web_form_dispose(&form);
    return rc;
}

static int web_logout_post(struct web_ctx *ctx)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    rc = web_form_parse_body(&form, ctx, &err);
    if (rc == 0 && !web_page_csrf_ok(ctx, &form)) {
        web_form_dispose(&form);
        if (!ctx->has_session)
            return web_page_redirect(ctx, "/");
        return web_page_error(ctx, 400,
                              "The logout form expired. Reload the page and try "
                              "again.");
    }
    web_form_dispose(&form);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    rc = meta_session_delete(ctx->req->db, ctx->session_id, &err);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    web_page_redirect(ctx, "/");
    web_set_cookie(ctx, WEB_SESSION_COOKIE, "", "/", 0);
    return 1;
}

static void web_settings_tokens(struct web_ctx *ctx, const struct meta_token *tokens, size_t count)
{
    struct web_buf *b = &ctx->out;

    web_buf_puts(b, "<h2 id=\"tokens\">Access tokens</h2><p class=\"hint\">Tokens let "
                    "huggingface_hub, git and curl act as you. Send one as "
                    "<code>Authorization: Bearer TOKEN</code>, or as the password of git.</p>");
    if (count == 0) {
        web_buf_puts(b, "<p class=\"muted\">You have no tokens yet.</p>");
    } else {
        web_buf_puts(b, "<div class=\"table-wrap\"><table><thead><tr><th>Label</th>"
                        "<th>Scope</th><th>Token ends with</th><th>Created</th><th>Last used</th>"
                        "<th><span class=\"visually-hidden\">Action</span></th></tr></thead>"
                        "<tbody>");
    }
    for (size_t i = 0; i < count; i++) {
        const struct meta_token *t = &tokens[i];

        web_buf_puts(b, "<tr><td>");
        web_buf_escape(b, t->label[0] ? t->label : "(no label)");
        web_buf_printf(b, "</td><td>%s</td><td><code>…", meta_scope_name(t->scope));
        web_buf_escape(b, t->hint);
        web_buf_puts(b, "</code></td><td>");
        web_format_time(b, t->created_at);
        web_buf_puts(b, "</td><td>");
        web_format_time(b, t->last_used_at);
        web_buf_puts(b, "</td><td>");
        if (t->revoked_at != 0) {
            web_buf_puts(b, "<span class=\"badge\">revoked</span>");
        } else if (ctx->has_session) {
            web_buf_printf(b,
                           "<form class=\"inline\" method=\"post\" "
                           "action=\"/settings/tokens/%lld/revoke\">",
                           (long long)t->id);
            web_page_csrf_field(ctx);
            web_buf_puts(b, "<button type=\"submit\" class=\"danger\" aria-label=\"Revoke token ");
            web_buf_escape(b, t->label);
            web_buf_puts(b, "\">Revoke</button></form>");
        }
        web_buf_puts(b, "</td></tr>");
    }
    if (count > 0)
        web_buf_puts(b, "</tbody></table></div>");
}

static void web_settings_create_form(struct web_ctx *ctx)
{
    struct web_buf *b = &ctx->out;

    if (!ctx->has_session) {
        web_buf_puts(b, "<p class=\"notice\">Log in with your password in the browser to "
                        "create or revoke tokens.</p>");
        return;
    }
    web_buf_puts(b, "<form method=\"post\" action=\"/settings/tokens\"><fieldset>"
                    "<legend>New token</legend>");
    web_page_csrf_field(ctx);
    web_buf_printf(b,
                   "<div class=\"field\"><label for=\"token-label\">Label</label>"
                   "<input id=\"token-label\" name=\"label\" maxlength=\"%d\" "
                   "placeholder=\"laptop\"><p class=\"hint\">Where you will use it, so "
                   "you know which one to revoke later.</p></div>",
                   HUB_MAX_TOKEN_LABEL_BYTES);
    web_buf_puts(b, "<div class=\"field\"><label for=\"token-scope\">Scope</label>"
                    "<select id=\"token-scope\" name=\"scope\">"
                    "<option value=\"read\">read: download and list</option>"
                    "<option value=\"write\">write: also push, upload and start jobs</option>"
                    "</select></div><button type=\"submit\">Create token</button>"
                    "</fieldset></form>");
}

static int web_settings_page(struct web_ctx *ctx, int status, const char *new_secret,
                             const char *message)
{
    struct meta_token *tokens = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    struct web_buf *b = &ctx->out;
    size_t count = 0;
    int rc;

    rc = meta_token_list(&tokens, &count, ctx->req->db, ctx->req->user_id, &err);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    web_page_begin(ctx, "Settings");
    web_buf_puts(b, "<h1>Settings</h1><p>Logged in as <strong>");
    web_buf_escape(b, ctx->req->user_name);
    web_buf_printf(b, "</strong>%s.</p>", ctx->req->user_is_admin ? " (administrator)" : "");
    if (message != NULL) {
        web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\">");
        web_buf_escape(b, message);
        web_buf_puts(b, "</p>");
    }
    if (new_secret != NULL) {
        web_buf_puts(b, "<div class=\"notice ok\" role=\"status\"><p><strong>New token "
                        "created.</strong> Copy it now: it is shown only once.</p>"
                        "<pre class=\"secret\" id=\"new-token\">");
        web_buf_escape(b, new_secret);
        web_buf_puts(b, "</pre><button type=\"button\" data-copy=\"new-token\" hidden>Copy"
                        "</button></div>");
    }
    web_settings_tokens(ctx, tokens, count);
    web_settings_create_form(ctx);
    web_page_end(ctx, status);
    free(tokens);
    return 1;
}

static int web_token_create_post(struct web_ctx *ctx)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    char secret[META_TOKEN_SECRET_BYTES + 1];
    enum meta_scope scope = META_SCOPE_READ;
    const char *label;
    int64_t token_id = 0;
    int rc;

    rc = web_form_parse_body(&form, ctx, &err);
    if (rc == 0 && !web_page_csrf_ok(ctx, &form))
        rc = hub_error_set(&err, HUB_EINVAL, "%s", WEB_FORM_EXPIRED);
    if (rc == 0 &&
        meta_scope_parse(&scope, web_form_get(&form, "scope") ? web_form_get(&form, "scope") : "",
                         &err) < 0)
        rc = HUB_EINVAL;
    label = web_form_get(&form, "label");
    if (rc == 0 && label != NULL && strlen(label) > HUB_MAX_TOKEN_LABEL_BYTES)
        rc = hub_error_set(&err, HUB_EINVAL, "the label is %zu bytes; use at most %d",
                           strlen(label), HUB_MAX_TOKEN_LABEL_BYTES);
    if (rc == 0)
        rc = meta_token_create(secret, &token_id, ctx->req->db, ctx->req->user_id, label, scope,
                               &err);
    web_form_dispose(&form);
    if (rc == HUB_EINVAL || rc == HUB_ETOOBIG)
        return web_settings_page(ctx, 400, NULL, err.msg);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    hub_log(HUB_LOG_INFO, "web", "token created user=%s token=%lld scope=%s req=%s",
            ctx->req->user_name, (long long)token_id, meta_scope_name(scope),
            ctx->req->request_id ? ctx->req->request_id : "-");
    web_set_cookie(ctx, WEB_NEW_TOKEN_COOKIE, secret, "/settings", WEB_NEW_TOKEN_MAX_AGE_S);
    memset(secret, 0, sizeof(secret));
    return web_page_redirect(ctx, "/settings#new-token");
}

/* Shows the settings page, with the secret of a token created just before when the create
 * form's cookie names one of the user's live tokens. The cookie is cleared either way. */
static int web_settings_get(struct web_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    char secret[META_TOKEN_SECRET_BYTES + 1];
    struct meta_token token;
    bool show = false;
    int rc;

    if (web_cookie_get(secret, sizeof(secret), ctx->req->cookie, WEB_NEW_TOKEN_COOKIE)) {
        web_set_cookie(ctx, WEB_NEW_TOKEN_COOKIE, "", "/settings", 0);
        show = meta_token_find(&token, ctx->req->db, secret, &err) == 0 &&
               token.user_id == ctx->req->user_id;
    }
    rc = web_settings_page(ctx, 200, show ? secret : NULL, NULL);
    memset(secret, 0, sizeof(secret));
    return rc;
}

static int web_token_revoke_post(struct web_ctx *ctx, const char *id_text)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_token token;
    char *end = NULL;
    long long id;
    int rc;

    id = strtoll(id_text, &end, 10);
    if (end == id_text || *end != '\0' || id <= 0)
        return web_page_error(ctx, 404, "There is no token with that number.");
    rc = web_form_parse_body(&form, ctx, &err);
    if (rc == 0 && !web_page_csrf_ok(ctx, &form))
        rc = hub_error_set(&err, HUB_EINVAL, "%s", WEB_FORM_EXPIRED);
    web_form_dispose(&form);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    rc = meta_token_get(&token, ctx->req->db, id, &err);
    if (rc == HUB_ENOTFOUND || (rc == 0 && token.user_id != ctx->req->user_id))
        return web_page_error(ctx, 404, "There is no token with that number among yours.");
    if (rc == 0)
        rc = meta_token_revoke(ctx->req->db, id, &err);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    hub_log(HUB_LOG_INFO, "web", "token revoked user=%s token=%lld req=%s", ctx->req->user_name, id,
            ctx->req->request_id ? ctx->req->request_id : "-");
    return web_page_redirect(ctx, "/settings#tokens");
}

int web_require_login(struct web_ctx *ctx)
{
    struct web_buf location = WEB_BUF_INIT;
    char *target;
    int rc;

    web_buf_puts(&location, "/login?next=");
    web_buf_url_encode(&location, ctx->req->path, true);
    target = web_buf_take(&location, NULL);
    if (target == NULL)
        return web_page_error(ctx, 500, "Out of memory.");
    rc = web_page_redirect(ctx, target);
    free(target);
    return rc;
}

int web_account_handle(struct web_ctx *ctx)
{
    const char *first = ctx->nseg > 0 ? ctx->seg[0] : "";

    if (ctx->nseg == 1 && strcmp(first, "login") == 0) {
        if (web_is_post(ctx))
            return web_login_post(ctx);
        if (ctx->req->user_id != 0)
            return web_page_redirect(ctx, web_safe_next(web_form_get(&ctx->query, "next")));
        return web_login_form(ctx, 200, NULL, NULL);
    }
    if (ctx->nseg == 1 && strcmp(first, "logout") == 0) {
        if (!web_is_post(ctx))
            return web_page_error(ctx, 400, "Log out with the button in the page header.");
        return web_logout_post(ctx);
    }
    if (strcmp(first, "settings") != 0)
        return 0;
    if (ctx->req->user_id == 0)
        return web_require_login(ctx);
    if (ctx->nseg == 1 && web_is_get(ctx))
        return web_settings_get(ctx);
    if (ctx->nseg == 2 && strcmp(ctx->seg[1], "tokens") == 0 && web_is_post(ctx))
        return web_token_create_post(ctx);
    if (ctx->nseg == 4 && strcmp(ctx->seg[1], "tokens") == 0 &&
        strcmp(ctx->seg[3], "revoke") == 0 && web_is_post(ctx))
        return web_token_revoke_post(ctx, ctx->seg[2]);
    return web_page_error(ctx, 404, "Settings has no such page.");
}
