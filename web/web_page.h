/* web_page: what every page handler shares. A struct web_ctx carries one request through
 * web_handle(): the split path, the browser session and its CSRF token, and the HTML buffer.
 * The helpers here write the common layout, error pages and redirects, parse form and query
 * fields, and format sizes and times. Handlers run on HTTP threads and use only ctx->req->db. */
#ifndef WEB_PAGE_H
#define WEB_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "meta_session.h"
#include "web.h"
#include "web_buf.h"

#define WEB_MAX_SEGMENTS    64          /* path segments of one page URL */
#define WEB_MAX_FORM_BYTES  (64u << 10) /* a urlencoded form body */
#define WEB_MAX_FORM_FIELDS 64
#define WEB_SESSION_TTL_S   (14 * 24 * 3600) /* a browser login lasts two weeks */
#define WEB_SESSION_COOKIE  "atelier_session"
#define WEB_LOGIN_COOKIE    "atelier_login" /* CSRF value for the login form, before a session */

struct web_form_field {
    char *name;  /* decoded; owned */
    char *value; /* decoded; owned */
};

/* Decoded fields of a urlencoded query string or form body. */
struct web_form {
    struct web_form_field fields[WEB_MAX_FORM_FIELDS];
    size_t count;
};

struct web_ctx {
    const struct web_request *req;
    struct web_response *resp;
    struct web_buf out;                /* the page being written */
    char *path_copy;                   /* owned; segments point into it */
    const char *seg[WEB_MAX_SEGMENTS]; /* non-empty path segments */
    size_t nseg;
    bool has_session;                           /* the cookie names a live session */
    char session_id[META_SESSION_ID_BYTES + 1]; /* the cookie value, when has_session */
    char csrf[META_SESSION_CSRF_BYTES + 1];     /* the session's CSRF token, or "" */
    struct web_form query;                      /* decoded query string */
};

/** Starts the layout: doctype, head with title (escaped here), the top navigation with the
 * user's menu, and opens <main>. */
void web_page_begin(struct web_ctx *ctx, const char *title);

/** Closes <main> and the document, and hands the page to ctx->resp with status. */
void web_page_end(struct web_ctx *ctx, int status);

/** Renders a complete error page for status (403, 404, 400, 409, 413, 500) with a message
 * (escaped here) and links that help the user go on. Returns 1 for web_handle. */
int web_page_error(struct web_ctx *ctx, int status, const char *message);

/** Renders the error page for a HUB_E* code from err, logging codes that map to 500. Returns 1. */
int web_page_hub_error(struct web_ctx *ctx, const struct hub_error *err);

/** Sets a 303 See Other redirect to location (copied). Returns 1. */
int web_page_redirect(struct web_ctx *ctx, const char *location);

/** Redirects to the login page, which comes back to the requested path. Returns 1. */
int web_require_login(struct web_ctx *ctx);

/** Writes a hidden input with the session's CSRF token. */
void web_page_csrf_field(struct web_ctx *ctx);

/* Message of a POST form whose csrf field does not match the session. The page was open
 * across a logout or login, or another site sent the form. */
#define WEB_FORM_EXPIRED                                                                           \
    "The form expired or came from another site. Reload the page and try again."

/** Checks the "csrf" field of a POST form against the session's token in constant time.
 * Returns false when there is no session or the token is missing or different. */
bool web_page_csrf_ok(const struct web_ctx *ctx, const struct web_form *form);

/** Parses len bytes of urlencoded text ('+' is a space) into form. Returns 0, HUB_EINVAL
 * (bad percent escape, NUL byte, more than WEB_MAX_FORM_FIELDS fields), HUB_ETOOBIG (over
 * WEB_MAX_FORM_BYTES) or HUB_ENOMEM. Dispose form on every path. */
int web_form_parse(struct web_form *form, const char *text, size_t len, struct hub_error *err);

/** Parses the POST body of ctx's request as a urlencoded form (any other Content-Type is
 * HUB_EINVAL). */
int web_form_parse_body(struct web_form *form, const struct web_ctx *ctx, struct hub_error *err);

/** Returns the first value of field name, or NULL. Borrowed from form. */
const char *web_form_get(const struct web_form *form, const char *name);

/** Frees the fields of form. Accepts a zeroed form. */
void web_form_dispose(struct web_form *form);

/** Appends a size in bytes as "1.2 MB" (SI units, as the Hugging Face Hub shows them). */
void web_format_size(struct web_buf *buf, uint64_t bytes);

/** Appends <time datetime="ISO"> with a relative text ("3 hours ago") for seconds since the
 * epoch, or "never" for 0. */
void web_format_time(struct web_buf *buf, int64_t at);

/** Appends the public base URL of the hub as the browser reached it, escaped for HTML:
 * "http://" or "https://" and the Host header ("localhost" when missing). */
void web_format_base_url(struct web_buf *buf, const struct web_ctx *ctx);

/** Copies the value of cookie name from a Cookie header (NULL allowed) into out of cap
 * bytes. Returns false when the cookie is missing or its value does not fit. */
bool web_cookie_get(char *out, size_t cap, const char *header, const char *name);

/** Returns whether the request method is GET or HEAD. */
bool web_is_get(const struct web_ctx *ctx);

/** Returns whether the request method is POST. */
bool web_is_post(const struct web_ctx *ctx);

/* Page handlers. Each returns 1 when it rendered a response and 0 when the path is not its. */
int web_home_handle(struct web_ctx *ctx);
int web_account_handle(struct web_ctx *ctx);
int web_repo_handle(struct web_ctx *ctx);
int web_jobs_handle(struct web_ctx *ctx);
int web_new_repo_handle(struct web_ctx *ctx);

#endif
