/* http: the request and response API of the daemon, and route registration. This header
 * wraps libmicrohttpd, whose types never appear in it, so modules that add routes only
 * include http.h.
 *
 * How a module adds routes
 * ------------------------
 * 1. Write server/NAME_http.h declaring one function, for example
 *        void git_http_register(struct http_router *router);
 *    and implement it in server/NAME_http.c (add the .c file to your own block in
 *    server/meson.build). It calls http_router_add() once per route:
 *
 *        static const struct http_route info_refs = {
 *            .name = "git.info_refs",
 *            .methods = "GET",
 *            .pattern = "/{ns}/{repo}.git/info/refs",
 *            .handle = git_info_refs_handle,
 *        };
 *        http_router_add(router, &info_refs);
 *
 * 2. cmd_serve.c includes the header when it exists (`#if __has_include("git_http.h")`) and
 *    calls the register function once at start, before the listener opens. The calls are
 *    already in place for git_http.h (git_http_register) and jobs_http.h
 *    (jobs_http_register), so creating the header and the .c file is enough.
 *
 * 3. Background services, such as the job scheduler, are added from the same register
 *    function with http_router_add_service(). start() runs after migrations and before the
 *    listener opens. stop() runs after the listener has stopped and in-flight requests
 *    have finished, in reverse order of registration.
 *
 * Route matching
 * --------------
 * A pattern is a '/'-separated list of segments matched against the request path after the
 * path was split on '/' and each segment was percent-decoded (so "%2F" inside a segment
 * stays inside that segment). Empty segments from duplicate slashes are dropped. Segment forms:
 *     "api"            a literal, compared byte for byte
 *     "{id}"           captures exactly one non-empty segment as parameter "id"
 *     "{repo}.git"     captures one segment that ends in the literal ".git"; the parameter
 *                      is the part before the suffix ("m1" for "m1.git")
 *     "{path*}"        last segment only: captures the rest of the path, zero or more
 *                      segments joined with '/'; "" when there is none
 *     "{rev+}"         as "{path*}", but one segment at least (revisions such as feature/x)
 * When several routes match, the most specific wins: segments are compared left to right
 * and a literal beats a suffix capture, which beats a plain capture, which beats a rest
 * capture. Between equally specific routes, the one registered first wins. A route may
 * instead (or in addition) set .match, a function that decides after the pattern matched.
 * A path that no route takes goes to web_handle() (web/web.h), then gets a JSON 404.
 *
 * Request bodies
 * --------------
 * HTTP_BODY_NONE:   a body, if one arrives, is read and discarded before the handler runs
 *                   (the connection stays usable, as keep-alive needs).
 * HTTP_BODY_BUFFER: the body is collected in memory up to .max_body_bytes (0 means the
 *                   configured JSON body limit); a longer body gets 413 with a JSON error
 *                   before handle() runs. http_request_body() returns it.
 * HTTP_BODY_STREAM: on_body() receives each chunk as it arrives (chunked transfer encoding is
 *                   already decoded; Content-Encoding such as gzip is not), then handle()
 *                   runs once at the end of the body. A route that must see the request
 *                   before the body may set begin(), which runs once after the headers.
 *                   When begin() or on_body() queues a reply or returns an error, the rest
 *                   of the body is read and discarded, and handle() is not called.
 *
 * Replies
 * -------
 * Every handler queues exactly one reply with one of the http_reply_* functions (a second
 * call is ignored and logged as a bug). A handler that returns without a reply gets a 500.
 * A handler that returns a negative HUB_E* code without a reply gets the status that
 * http_status_from_error() maps it to, with err->msg as the JSON error (as text on a route
 * with .text_errors). Extra headers may be added with http_reply_header() before or after
 * the http_reply_* call.
 *
 * Threads: handlers, begin(), on_body() and stream callbacks run on the HTTP threads of
 * libmicrohttpd's thread pool, several at once. One request is only ever on one thread at
 * a time. Everything passed to http_router_add() must stay valid for the daemon's lifetime.
 */
#ifndef HTTP_H
#define HTTP_H

#include "hub_error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct meta;       /* storage/meta.h: one SQLite connection */
struct hub_config; /* server/hub_config.h */
struct http_request;
struct http_router;

/* ---- Routes ---------------------------------------------------------------------------- */

enum http_body_mode {
    HTTP_BODY_NONE = 0, /* discard any body */
    HTTP_BODY_BUFFER,   /* collect up to max_body_bytes in memory */
    HTTP_BODY_STREAM,   /* hand each chunk to on_body() */
};

/** Handles a request whose body (if any) has been read. Returns 0, or a negative HUB_E*
 * code when it queued no reply (see "Replies" above); err may then carry the message. */
typedef int (*http_handle_fn)(struct http_request *req, void *arg, struct hub_error *err);

/** Runs once after the headers of a HTTP_BODY_STREAM request, before any body chunk.
 * Returns 0 to continue, or a negative HUB_E* code to reply with that error. */
typedef int (*http_begin_fn)(struct http_request *req, void *arg, struct hub_error *err);

/** Receives the next len bytes of a HTTP_BODY_STREAM body (len > 0). Returns 0 to continue,
 * or a negative HUB_E* code to stop: the rest of the body is discarded and the error sent. */
typedef int (*http_body_fn)(struct http_request *req, const char *data, size_t len, void *arg,
                            struct hub_error *err);

/** Decides whether a route whose pattern matched takes the request. No side effects. */
typedef bool (*http_match_fn)(const struct http_request *req, void *arg);

struct http_route {
    const char *name;    /* label in logs and /metrics, such as "hf.resolve" */
    const char *methods; /* space-separated, such as "GET HEAD"; NULL for any method */
    const char *pattern; /* see "Route matching"; NULL matches every path */
    http_match_fn match; /* optional extra test, or NULL */
    enum http_body_mode body;
    uint64_t max_body_bytes; /* HTTP_BODY_BUFFER only; 0 = the configured JSON body limit */
    bool auth_required;      /* reply 401 before the handler when no valid credentials */
    http_begin_fn begin;     /* HTTP_BODY_STREAM only, optional */
    http_body_fn on_body;    /* HTTP_BODY_STREAM only, required there */
    http_handle_fn handle;   /* required */
    void *arg;               /* passed to every callback of this route */
    /* Error replies are text/plain (the message and a newline) in place of JSON, because
     * git 2.39 prints an error body as `remote:` lines only when it is text/plain. */
    bool text_errors;
    /* Error replies carry the message as `message` beside `error`, because git-lfs shows
     * its user the `message` of an error reply and nothing else of the body. */
    bool lfs_errors;
};

/** Adds a route. The router keeps the pointer, so route must live as long as the daemon
 * (a static const struct is the usual choice). Call only from register functions. */
void http_router_add(struct http_router *router, const struct http_route *route);

struct http_service {
    const char *name; /* for log lines, such as "jobs.scheduler" */
    /* Starts the service; returns 0 or a negative HUB_E* code, which stops the daemon
     * from starting. Runs on the main thread after migrations, before the listener opens. */
    int (*start)(void *arg, const struct hub_config *config, struct hub_error *err);
    /* Stops it; runs on the main thread after the listener stopped. May be NULL. */
    void (*stop)(void *arg);
    void *arg;
};

/** Adds a background service that serve starts and stops with the daemon. The router keeps
 * the pointer. Call only from register functions. */
void http_router_add_service(struct http_router *router, const struct http_service *service);

/* ---- Request accessors ------------------------------------------------------------------ */
/* Every returned string is borrowed from req and valid until the request completes. */

/** Returns the request method, such as "GET". */
const char *http_request_method(const struct http_request *req);

/** Returns the raw request path without the query string, as the client sent it. */
const char *http_request_path(const struct http_request *req);

/** Returns the number of path segments (after dropping empty ones). */
size_t http_request_segment_count(const struct http_request *req);

/** Returns the percent-decoded segment i (0-based), or NULL when i is out of range. A
 * decoded segment never contains NUL: a path with "%00" is rejected with 400 before any
 * route runs. */
const char *http_request_segment(const struct http_request *req, size_t i);

/** Returns the pattern parameter name captured for the matched route, or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);

/** Returns the first value of query parameter name, percent-decoded with '+' as space, or
 * NULL when absent. "expand[]" and "expand" are distinct names. */
const char *http_request_query(const struct http_request *req, const char *name);

/** Returns the number of values query parameter name has, and stores up to max of them in
 * values (in request order). */
size_t http_request_query_all(const struct http_request *req, const char *name, const char **values,
                              size_t max);

/** Returns the number of query parameters of req, repeated names counted each time. */
size_t http_request_query_count(const struct http_request *req);

/** Returns the percent-decoded name of query parameter i in request order, or NULL when i is
 * past the end. */
const char *http_request_query_name(const struct http_request *req, size_t i);

/** Returns the raw query string without '?', or "" when there is none. */
const char *http_request_query_string(const struct http_request *req);

/** Returns the value of request header name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

/** Returns the client address as text ("127.0.0.1", "::1"). */
const char *http_request_remote_addr(const struct http_request *req);

/** Returns the request id: the client's X-Request-Id when it is short and printable, else
 * one the daemon made. It is sent back in X-Request-Id and written in every log line. */
const char *http_request_id(const struct http_request *req);

/** Returns the buffered body of a HTTP_BODY_BUFFER route and its length in *len. The body
 * is followed by a NUL byte that *len does not count, so JSON parsers can read it. */
const char *http_request_body(const struct http_request *req, size_t *len);

/** Returns the Content-Length the client announced, or -1 when it sent none (chunked). */
int64_t http_request_content_length(const struct http_request *req);

/** Returns the public base URL for building absolute URLs, without a trailing '/': the
 * --public-url setting, else "http://" + the Host header. */
const char *http_request_base_url(const struct http_request *req);

/** Returns this HTTP thread's metadata connection. Never NULL inside a handler. */
struct meta *http_request_db(const struct http_request *req);

/** Returns the daemon's configuration. */
const struct hub_config *http_request_config(const struct http_request *req);

/** Attaches per-request state to req; free_fn(state) runs when the request completes,
 * also when the client disconnects early. A second call frees the previous state first. */
void http_request_set_state(struct http_request *req, void *state, void (*free_fn)(void *));

/** Returns the state set by http_request_set_state(), or NULL. */
void *http_request_state(const struct http_request *req);

/* ---- Authentication --------------------------------------------------------------------- */

enum http_scope {
    HTTP_SCOPE_NONE = 0, /* anonymous */
    HTTP_SCOPE_READ = 1, /* a read token */
    HTTP_SCOPE_WRITE = 2 /* a write token or a browser session */
};

enum http_auth_via {
    HTTP_AUTH_NONE = 0,
    HTTP_AUTH_BEARER,  /* Authorization: Bearer hf_... */
    HTTP_AUTH_BASIC,   /* Authorization: Basic, the token as password (git, git-lfs) */
    HTTP_AUTH_SESSION, /* the atelier_session cookie */
};

/* The caller's identity. The daemon fills it before routing from the Authorization header
 * or the session cookie. An unknown or revoked token makes the request anonymous with
 * token_invalid set, so public reads still work. Routes that need a user reply 401 then. */
struct http_user {
    int64_t id;       /* users.id, 0 when anonymous */
    const char *name; /* NULL when anonymous */
    bool is_admin;
    enum http_scope scope;
    enum http_auth_via via;
    int64_t token_id;   /* tokens.id, 0 for sessions and anonymous */
    bool token_invalid; /* credentials were sent but did not match a live token */
    /* with token_invalid: the HTTP Basic password does not look like a token ("hf_" and 34
     * characters), so it is likely the account password */
    bool password_not_token;
};

/** Returns the caller; never NULL (an anonymous caller has id 0). */
const struct http_user *http_request_user(const struct http_request *req);

/** Queues 401 with a JSON error, WWW-Authenticate and LFS-Authenticate (Basic) headers, and
 * the X-Error-Message text Python clients recognise when a token was invalid. A request from
 * our pages' scripts (the X-CSRF-Token header, the session cookie or the query parameter
 * from=page, and no Authorization) gets no WWW-Authenticate, so the browser opens no login dialog.
 * Returns 0. */
int http_reply_unauthorized(struct http_request *req);

/** Queues the 401 of an anonymous git or git-lfs caller, with the WWW-Authenticate and
 * LFS-Authenticate headers of http_reply_unauthorized and the formatted message as the error.
 * Returns 0. */
int http_reply_unauthorized_message(struct http_request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Replies ---------------------------------------------------------------------------- */

#define HTTP_LENGTH_UNKNOWN UINT64_MAX

/** Produces up to max bytes of a streamed body at offset pos into buf. Returns the number
 * of bytes written (> 0), HTTP_STREAM_END when the body is complete, or HTTP_STREAM_ERROR to
 * abort the connection. It may block while it waits for data, such as git output. Except
 * for event streams (see http_reply_stream) it occupies an HTTP thread meanwhile, so keep
 * each wait short. Returning 0 aborts the connection too. */
typedef ssize_t (*http_stream_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
#define HTTP_STREAM_END   ((ssize_t)-1)
#define HTTP_STREAM_ERROR ((ssize_t)-2)

/** Adds a header to the reply of req. name and value are copied. Headers with CR or LF in
 * the value are dropped and logged. */
void http_reply_header(struct http_request *req, const char *name, const char *value);

/** Queues a JSON reply; takes over the reference to body (also on failure). */
int http_reply_json(struct http_request *req, unsigned status, json_t *body);

/** Queues {"error": "<message>"} with status and Content-Type application/json. */
int http_reply_error(struct http_request *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Like http_reply_error, and sets the X-Error-Code header (such as "RepoNotFound"). */
int http_reply_error_code(struct http_request *req, unsigned status, const char *error_code,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Queues the JSON error for err with the status http_status_from_error() gives. A server
 * error caused by a full disk or quota (sys_errno ENOSPC or EDQUOT) gets 507 with a message
 * that names no server path instead; the caller logs err->msg, which keeps the path. */
int http_reply_hub_error(struct http_request *req, const struct hub_error *err);

/** Maps a HUB_E* code to an HTTP status: EINVAL 400, EAUTH 401, EFORBIDDEN 403,
 * ENOTFOUND 404, ECONFLICT 409, ETOOBIG 413, anything else 500. */
unsigned http_status_from_error(int code);

/** Queues a reply with a copy of len bytes of data. */
int http_reply_bytes(struct http_request *req, unsigned status, const char *content_type,
                     const void *data, size_t len);

/** Queues a reply that takes over the malloc'd buffer data (freed with free()). */
int http_reply_buffer(struct http_request *req, unsigned status, const char *content_type,
                      void *data, size_t len);

/** Queues a reply with no body, such as 204, or 200 to a HEAD request or 304 whose headers
 * carry the size of the full body in Content-Length (pass it as content_length, or
 * HTTP_LENGTH_UNKNOWN). */
int http_reply_empty(struct http_request *req, unsigned status, uint64_t content_length);

/** Queues length bytes of fd starting at offset, sent with sendfile() where possible. Takes
 * over fd, also on failure. HEAD requests get the headers only. */
int http_reply_fd(struct http_request *req, unsigned status, const char *content_type, int fd,
                  uint64_t offset, uint64_t length);

/** Queues a streamed reply: read() produces the body. length is the exact body size, or
 * HTTP_LENGTH_UNKNOWN for chunked transfer encoding. free_ctx(ctx) runs when the reply is
 * done or the client went away; it may be NULL. Takes over ctx, also on failure.
 * With content_type "text/event-stream" (Server-Sent Events) read() runs on a thread of its
 * own and the connection is suspended while it waits, so a reader that blocks for events
 * occupies no HTTP thread. Such a reader must not use http_request_db(). These streams also
 * end by themselves when the daemon shuts down. */
int http_reply_stream(struct http_request *req, unsigned status, const char *content_type,
                      uint64_t length, http_stream_fn read, void *ctx, void (*free_ctx)(void *ctx));

/** Returns whether a reply has been queued for req. */
bool http_reply_is_queued(const struct http_request *req);

/** Returns whether the daemon is shutting down, so streams that wait for events can end.
 * Streams with Content-Type text/event-stream are ended by the HTTP layer itself before the
 * next read, so the in-flight wait at shutdown does not stall on them. Any thread. */
bool http_shutting_down(void);

#endif
