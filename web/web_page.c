/* web_page: layout, error pages, redirects, forms and formatting shared by every page. The
 * layout loads one stylesheet and one script from /static/ and sets a Content-Security-Policy
 * that forbids inline scripts, so text that escaped escaping still could not run. */
#include "web_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub_log.h"

#ifndef ATELIER_VERSION
#define ATELIER_VERSION "dev"
#endif

static const char *const web_csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'";

/* Copies the value of cookie name from the Cookie header into out (cap bytes). Returns false
 * when it is missing or does not fit. */
bool web_cookie_get(char *out, size_t cap, const char *header, const char *name)
{
    size_t name_len = strlen(name);
    const char *p = header;

    while (p != NULL && *p != '\0') {
        const char *end;
        size_t len;

        while (*p == ' ' || *p == ';')
            p++;
        end = strchr(p, ';');
        len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            size_t value_len = len - name_len - 1;

            if (value_len + 1 > cap)
                return false;
            memcpy(out, p + name_len + 1, value_len);
            out[value_len] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

bool web_is_get(const struct web_ctx *ctx)
{
    return strcmp(ctx->req->method, "GET") == 0 || strcmp(ctx->req->method, "HEAD") == 0;
}

bool web_is_post(const struct web_ctx *ctx)
{
    return strcmp(ctx->req->method, "POST") == 0;
}

static void web_page_nav(struct web_ctx *ctx)
{
    struct web_buf *b = &ctx->out;

    web_buf_puts(b, "<header class=\"top\"><nav aria-label=\"Main\">"
                    "<a class=\"brand\" href=\"/\">Atelier</a>"
                    "<a href=\"/?type=model\">Models</a>"
                    "<a href=\"/?type=dataset\">Datasets</a>"
                    "<a href=\"/jobs\">Jobs</a>"
                    "<span class=\"spacer\"></span>");
    if (ctx->req->user_name != NULL) {
        web_buf_puts(b, "<a href=\"/new\">New model</a><a href=\"/new-dataset\">New dataset</a>"
                        "<a href=\"/jobs/new\">New job</a><a href=\"/settings\">");
        web_buf_escape(b, ctx->req->user_name);
        web_buf_puts(b, "</a>");
        if (ctx->has_session) {
            web_buf_puts(b, "<form class=\"inline\" method=\"post\" action=\"/logout\">");
            web_page_csrf_field(ctx);
            web_buf_puts(b, "<button type=\"submit\" class=\"link\">Log out</button></form>");
        }
    } else {
        web_buf_puts(b, "<a href=\"/login?next=");
        web_buf_url_encode(b, ctx->req->path, true);
        web_buf_puts(b, "\">Log in</a>");
    }
    web_buf_puts(b, "</nav></header>\n");
}

void web_page_begin(struct web_ctx *ctx, const char *title)
{
    struct web_buf *b = &ctx->out;

    web_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<meta name=\"color-scheme\" content=\"light dark\">"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"");
    web_buf_puts(b, web_csp);
    web_buf_puts(b, "\"><meta name=\"referrer\" content=\"same-origin\"><title>");
    web_buf_escape(b, title);
    web_buf_puts(b, " · Atelier</title>"
                    "<link rel=\"stylesheet\" href=\"/static/atelier.css?v=" ATELIER_VERSION "\">"
                    "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"
                    "<script src=\"/static/atelier.js?v=" ATELIER_VERSION "\" defer></script>"
                    "</head>\n<body><a class=\"skip\" href=\"#main\">Skip to content</a>\n");
    web_page_nav(ctx);
    web_buf_puts(b, "<main id=\"main\" tabindex=\"-1\">\n");
}

void web_page_end(struct web_ctx *ctx, int status)
{
    size_t len = 0;
    char *body;

    web_buf_puts(&ctx->out, "</main>\n<footer class=\"bottom\">Atelier " ATELIER_VERSION
                            " · <a href=\"/\">Repositories</a> · <a href=\"/jobs\">Jobs</a>"
                            "</footer>\n</body></html>\n");
    body = web_buf_take(&ctx->out, &len);
    free(ctx->resp->body);
    if (body == NULL) {
        hub_log(HUB_LOG_ERROR, "web", "out of memory while rendering a page req=%s path=%s",
                ctx->req->request_id ? ctx->req->request_id : "-", ctx->req->path);
        ctx->resp->status = 500;
        ctx->resp->content_type = "text/plain; charset=utf-8";
        ctx->resp->body = strdup("Out of memory while rendering this page. Try again.\n");
        ctx->resp->body_len = ctx->resp->body ? strlen(ctx->resp->body) : 0;
        return;
    }
    ctx->resp->status = status;
    ctx->resp->content_type = "text/html; charset=utf-8";
    ctx->resp->body = body;
    ctx->resp->body_len = len;
}

static const char *web_status_title(int status)
{
    switch (status) {
    case 400:
        return "Invalid request";
    case 401:
        return "Login required";
    case 403:
        return "Access denied";
    case 404:
        return "Page not found";
    case 409:
        return "Conflict";
    case 413:
        return "Request too large";
    default:
        return "Server error";
    }
}

int web_page_error(struct web_ctx *ctx, int status, const char *message)
{
    struct web_buf *b;

    web_buf_dispose(&ctx->out);
    b = &ctx->out;
    web_page_begin(ctx, web_status_title(status));
    web_buf_printf(b, "<section class=\"error-page\"><p class=\"status\">%d</p><h1>", status);
    web_buf_escape(b, web_status_title(status));
    web_buf_puts(b, "</h1><p>");
    web_buf_escape(b, message);
    web_buf_puts(b, "</p>");
    if (status == 404 && ctx->req->user_name == NULL) {
        web_buf_puts(b, "<p>Private repositories and jobs are shown only to people who may see "
                        "them. <a href=\"/login?next=");
        web_buf_url_encode(b, ctx->req->path, true);
        web_buf_puts(b, "\">Log in</a> if you expected to see this page.</p>");
    } else if (status == 403 && ctx->req->user_name != NULL) {
        web_buf_puts(b, "<p>You are logged in as <strong>");
        web_buf_escape(b, ctx->req->user_name);
        web_buf_puts(b, "</strong>. Ask the owner or an administrator for access.</p>");
    }
    web_buf_puts(b, "<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">"
                    "<label for=\"error-q\">Search repositories</label>"
                    "<input id=\"error-q\" name=\"q\" type=\"search\">"
                    "<button type=\"submit\">Search</button></form>"
                    "<p><a href=\"/\">All repositories</a> · <a href=\"/jobs\">Jobs</a></p>"
                    "</section>");
    web_page_end(ctx, status);
    return 1;
}

int web_page_hub_error(struct web_ctx *ctx, const struct hub_error *err)
{
    int status;

    switch (err->code) {
    case HUB_EINVAL:
        status = 400;
        break;
    case HUB_EAUTH:
    case HUB_EFORBIDDEN:
        status = 403;
        break;
    case HUB_ENOTFOUND:
        status = 404;
        break;
    case HUB_ECONFLICT:
        status = 409;
        break;
    case HUB_ETOOBIG:
        status = 413;
        break;
    default:
        status = 500;
        hub_log(HUB_LOG_ERROR, "web", "page failed: %s req=%s path=%s code=%s", err->msg,
                ctx->req->request_id ? ctx->req->request_id : "-", ctx->req->path,
                hub_errcode_name(err->code));
    }
    return web_page_error(ctx, status,
                          status == 500 ? "Something went wrong on the server. The error was "
                                          "logged; try again, or tell an administrator."
                                        : err->msg);
}

int web_page_redirect(struct web_ctx *ctx, const char *location)
{
    free(ctx->resp->location);
    ctx->resp->location = strdup(location);
    ctx->resp->status = ctx->resp->location != NULL ? 303 : 500;
    ctx->resp->content_type = "text/plain; charset=utf-8";
    free(ctx->resp->body);
    ctx->resp->body = NULL;
    ctx->resp->body_len = 0;
    return 1;
}

void web_page_csrf_field(struct web_ctx *ctx)
{
    web_buf_puts(&ctx->out, "<input type=\"hidden\" name=\"csrf\" value=\"");
    web_buf_escape(&ctx->out, ctx->csrf);
    web_buf_puts(&ctx->out, "\">");
}

bool web_page_csrf_ok(const struct web_ctx *ctx, const struct web_form *form)
{
    const char *sent = web_form_get(form, "csrf");
    size_t want_len = strlen(ctx->csrf);
    unsigned char diff = 0;

    if (!ctx->has_session || want_len == 0 || sent == NULL || strlen(sent) != want_len)
        return false;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)(sent[i] ^ ctx->csrf[i]);
    return diff == 0;
}

static int web_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes len bytes of one urlencoded name or value into a new string. */
static int web_form_decode(char **out, const char *text, size_t len, struct hub_error *err)
{
    char *dst = malloc(len + 1);
    size_t n = 0;

    *out = NULL;
    if (dst == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a form field");
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? web_hex_value(text[i + 1]) : -1;
            int lo = i + 2 < len ? web_hex_value(text[i + 2]) : -1;

            if (hi < 0 || lo < 0) {
                free(dst);
                return hub_error_set(err, HUB_EINVAL, "invalid percent escape in a form field");
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            free(dst);
            return hub_error_set(err, HUB_EINVAL, "a form field contains a NUL byte");
        }
        dst[n++] = c;
    }
    dst[n] = '\0';
    *out = dst;
    return 0;
}

int web_form_parse(struct web_form *form, const char *text, size_t len, struct hub_error *err)
{
    size_t pos = 0;

    memset(form, 0, sizeof(*form));
    if (len > WEB_MAX_FORM_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "the form is %zu bytes, over the limit of %u", len,
                             WEB_MAX_FORM_BYTES);
    while (pos < len) {
        const char *amp = memchr(text + pos, '&', len - pos);
        size_t end = amp != NULL ? (size_t)(amp - text) : len;
        const char *eq = memchr(text + pos, '=', end - pos);
        size_t name_end = eq != NULL ? (size_t)(eq - text) : end;
        struct web_form_field *field;
        int rc;

        if (end == pos) {
            pos = end + 1;
            continue;
        }
        if (form->count == WEB_MAX_FORM_FIELDS)
            return hub_error_set(err, HUB_EINVAL, "the form has more than %d fields",
                                 WEB_MAX_FORM_FIELDS);
        field = &form->fields[form->count];
        rc = web_form_decode(&field->name, text + pos, name_end - pos, err);
        if (rc < 0)
            return rc;
        form->count++;
        rc = web_form_decode(&field->value, eq != NULL ? eq + 1 : text + end,
                             eq != NULL ? end - name_end - 1 : 0, err);
        if (rc < 0)
            return rc;
        pos = end + 1;
    }
    return 0;
}

int web_form_parse_body(struct web_form *form, const struct web_ctx *ctx, struct hub_error *err)
{
    const char *type = ctx->req->content_type;

    memset(form, 0, sizeof(*form));
    if (type == NULL || strncmp(type, "application/x-www-form-urlencoded", 33) != 0)
        return hub_error_set(err, HUB_EINVAL,
                             "expected a form with Content-Type "
                             "application/x-www-form-urlencoded");
    return web_form_parse(form, ctx->req->body ? ctx->req->body : "", ctx->req->body_len, err);
}

const char *web_form_get(const struct web_form *form, const char *name)
{
    for (size_t i = 0; i < form->count; i++) {
        if (form->fields[i].name != NULL && strcmp(form->fields[i].name, name) == 0)
            return form->fields[i].value;
    }
    return NULL;
}

void web_form_dispose(struct web_form *form)
{
    for (size_t i = 0; i < form->count; i++) {
        free(form->fields[i].name);
        free(form->fields[i].value);
    }
    memset(form, 0, sizeof(*form));
}

void web_format_size(struct web_buf *buf, uint64_t bytes)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    double value = (double)bytes;
    size_t unit = 0;

    if (bytes < 1000) {
        web_buf_printf(buf, "%llu B", (unsigned long long)bytes);
        return;
    }
    value /= 1000.0;
    while (value >= 1000.0 && unit + 1 < sizeof(units) / sizeof(units[0])) {
        value /= 1000.0;
        unit++;
    }
    if (value < 10.0)
        web_buf_printf(buf, "%.2f %s", value, units[unit]);
    else if (value < 100.0)
        web_buf_printf(buf, "%.1f %s", value, units[unit]);
    else
        web_buf_printf(buf, "%.0f %s", value, units[unit]);
}

void web_format_time(struct web_buf *buf, int64_t at)
{
    char iso[32];
    char full[64];
    struct tm tm;
    time_t t = (time_t)at;
    int64_t ago = (int64_t)time(NULL) - at;

    if (at <= 0) {
        web_buf_puts(buf, "never");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(full, sizeof(full), "%Y-%m-%d %H:%M UTC", &tm);
    web_buf_printf(buf, "<time datetime=\"%s\" title=\"%s\">", iso, full);
    if (ago < 0)
        web_buf_puts(buf, full);
    else if (ago < 60)
        web_buf_puts(buf, "just now");
    else if (ago < 3600)
        web_buf_printf(buf, "%lld minute%s ago", (long long)(ago / 60), ago < 120 ? "" : "s");
    else if (ago < 86400)
        web_buf_printf(buf, "%lld hour%s ago", (long long)(ago / 3600), ago < 7200 ? "" : "s");
    else if (ago < 30 * 86400)
        web_buf_printf(buf, "%lld day%s ago", (long long)(ago / 86400), ago < 2 * 86400 ? "" : "s");
    else
        web_buf_puts(buf, full);
    web_buf_puts(buf, "</time>");
}

void web_format_base_url(struct web_buf *buf, const struct web_ctx *ctx)
{
    const char *host = ctx->req->host;
    bool valid = host != NULL && host[0] != '\0' && strlen(host) <= 255;

    /* The Host header is client text: accept only what a host name, an IPv4 or a bracketed
     * IPv6 address with a port can contain. */
    for (const char *p = host; valid && *p != '\0'; p++) {
        valid = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr(".-:[]", *p) != NULL;
    }
    web_buf_puts(buf, ctx->req->tls ? "https://" : "http://");
    web_buf_escape(buf, valid ? host : "localhost");
}
