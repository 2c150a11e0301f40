/* web: page dispatch. web_handle() splits the path and looks up the browser session behind
 * the cookie, whose CSRF token the forms need. It then offers the request to each page module
 * in turn: static assets, the home page, accounts, jobs, the new repo forms, and last the
 * repo pages, which take any path that starts with a repo id. */
#include "web.h"

#include <stdlib.h>
#include <string.h>

#include "hub_log.h"
#include "meta_session.h"
#include "web_page.h"
#include "web_static.h"

/* Looks up the session behind the cookie. A missing, malformed or expired session leaves the
 * page without a CSRF token, so its forms ask the user to log in again. */
static void web_session_load(struct web_ctx *ctx)
{
    struct meta_session session;
    struct hub_error err = HUB_ERROR_INIT;

    if (ctx->req->cookie == NULL || ctx->req->db == NULL || ctx->req->user_id == 0)
        return;
    if (!web_cookie_get(ctx->session_id, sizeof(ctx->session_id), ctx->req->cookie,
                        WEB_SESSION_COOKIE))
        return;
    if (meta_session_lookup(&session, ctx->req->db, ctx->session_id, &err) < 0) {
        if (err.code != HUB_EAUTH)
            hub_log(HUB_LOG_WARN, "web", "session lookup failed: %s req=%s", err.msg,
                    ctx->req->request_id ? ctx->req->request_id : "-");
        return;
    }
    if (session.user_id != ctx->req->user_id)
        return;
    ctx->has_session = true;
    memcpy(ctx->csrf, session.csrf, sizeof(ctx->csrf));
}

static int web_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes seg in place. Returns false for an escape of NUL, which no name or path may
 * contain; a '%' that starts no valid escape stays as it is. */
static bool web_segment_decode(char *seg)
{
    char *dst = seg;

    for (const char *src = seg; *src != '\0'; src++) {
        int hi = src[0] == '%' ? web_hex_digit(src[1]) : -1;
        int lo = hi >= 0 ? web_hex_digit(src[2]) : -1;

        if (hi >= 0 && lo >= 0) {
            if (hi == 0 && lo == 0)
                return false;
            *dst++ = (char)(hi * 16 + lo);
            src += 2;
        } else {
            *dst++ = *src;
        }
    }
    *dst = '\0';
    return true;
}

/* Splits the path on '/' and then decodes each segment, so "%2F" in a revision stays inside
 * its segment. */
static int web_split_path(struct web_ctx *ctx, struct hub_error *err)
{
    char *save = NULL;

    ctx->path_copy = strdup(ctx->req->path);
    if (ctx->path_copy == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot copy the request path");
    for (char *tok = strtok_r(ctx->path_copy, "/", &save); tok != NULL;
         tok = strtok_r(NULL, "/", &save)) {
        if (ctx->nseg == WEB_MAX_SEGMENTS)
            return hub_error_set(err, HUB_EINVAL, "the path has more than %d segments",
                                 WEB_MAX_SEGMENTS);
        if (!web_segment_decode(tok))
            return hub_error_set(err, HUB_EINVAL, "the path contains an encoded NUL byte");
        ctx->seg[ctx->nseg++] = tok;
    }
    return 0;
}

int web_handle(const struct web_request *req, struct web_response *resp)
{
    struct web_ctx ctx;
    struct hub_error err = HUB_ERROR_INIT;
    int handled = 0;
    int rc;

    if (req->path == NULL || req->path[0] != '/' || req->method == NULL)
        return 0;
    if (web_static_handle(req, resp))
        return 1;
    memset(&ctx, 0, sizeof(ctx));
    ctx.req = req;
    ctx.resp = resp;
    rc = web_split_path(&ctx, &err);
    if (rc < 0) {
        handled = web_page_hub_error(&ctx, &err);
        goto out;
    }
    if (!web_is_get(&ctx) && !web_is_post(&ctx))
        goto out;
    rc = web_form_parse(&ctx.query, req->query ? req->query : "",
                        req->query ? strlen(req->query) : 0, &err);
    if (rc < 0) {
        handled = web_page_hub_error(&ctx, &err);
        goto out;
    }
    web_session_load(&ctx);

    handled = web_home_handle(&ctx);
    if (!handled)
        handled = web_account_handle(&ctx);
    if (!handled)
        handled = web_jobs_handle(&ctx);
    if (!handled)
        handled = web_new_repo_handle(&ctx);
    if (!handled)
        handled = web_repo_handle(&ctx);
out:
    /* A page that sets a cookie (login, logout) is kept out of every cache as well. */
    if (handled && resp->cache_control == NULL)
        resp->cache_control = req->user_id != 0 || resp->set_cookie != NULL ? WEB_CACHE_PRIVATE
                                                                            : WEB_CACHE_REVALIDATE;
    web_form_dispose(&ctx.query);
    web_buf_dispose(&ctx.out);
    free(ctx.path_copy);
    return handled;
}

void web_response_dispose(struct web_response *resp)
{
    free(resp->body);
    free(resp->set_cookie);
    free(resp->location);
    resp->body = NULL;
    resp->set_cookie = NULL;
    resp->location = NULL;
}
