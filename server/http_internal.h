/* http_internal: the structs behind struct http_request and struct http_router, shared by
 * the http_*.c files of the HTTP core only. Route handlers use the accessors in http.h. */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include "http.h"
#include "http_parse.h"

#include <microhttpd.h>
#include <time.h>

#define HTTP_MAX_ROUTE_PARAMS  8
#define HTTP_MAX_REPLY_HEADERS 32
#define HTTP_REQUEST_ID_BYTES  40

struct http_router {
    const struct http_route **routes; /* in registration order */
    size_t route_count;
    size_t route_cap;
    const struct http_service **services;
    size_t service_count;
    size_t service_cap;
};

struct http_server; /* http_server.c */

/* Bytes sent by a streamed reply. libmicrohttpd may free the reply before the request's
 * completion callback runs, so the request and the reply share this counter and the one
 * that lets go last frees it. */
struct http_byte_counter {
    _Atomic uint64_t bytes;
    _Atomic int refs;
};

/** Drops one reference to counter and frees it with the last one. Accepts NULL. */
void http_byte_counter_release(struct http_byte_counter *counter);

struct http_reply_header_item {
    char *name;
    char *value;
};

/* Locking: a request is touched by one HTTP thread at a time (libmicrohttpd calls the
 * handlers of one connection from the thread that owns it), so it needs no mutex. */
struct http_request {
    struct http_server *server;
    struct MHD_Connection *conn;
    char *raw_target; /* the request target as sent, from the URI log callback */
    char method[16];
    struct http_target target;
    bool target_valid;
    struct timespec started; /* CLOCK_MONOTONIC */
    char request_id[HTTP_REQUEST_ID_BYTES + 1];
    char remote_addr[64];

    const struct http_route *route;            /* NULL: web pages or 404 */
    const char *route_name;                    /* for logs and metrics */
    char *param_names[HTTP_MAX_ROUTE_PARAMS];  /* malloc'd */
    char *param_values[HTTP_MAX_ROUTE_PARAMS]; /* malloc'd */
    size_t param_count;

    struct http_user user;
    char *user_name;        /* malloc'd copy behind user.name */
    int64_t content_length; /* -1 when not announced */

    bool headers_done; /* the first call (headers only) has run */
    bool discard_body; /* a reply is decided: read and drop the rest */
    enum http_body_mode body_mode;
    uint64_t body_limit;
    char *body; /* HTTP_BODY_BUFFER: malloc'd, NUL-terminated */
    size_t body_len;
    size_t body_cap;
    uint64_t bytes_in;

    struct MHD_Response *response; /* the queued reply, sent after the body was read */
    unsigned status;
    uint64_t bytes_out; /* body size of the reply; streams count in stream_bytes */
    struct http_byte_counter *stream_bytes; /* streamed replies only, else NULL */
    struct http_reply_header_item headers[HTTP_MAX_REPLY_HEADERS];
    size_t header_count;
    bool no_cors; /* a web page: the reply gets no CORS headers */

    void *state;
    void (*state_free)(void *);
    char *base_url; /* malloc'd on first use by http_request_base_url() */
};

/* ---- http_router.c ---- */

/** Finds the route for req's method and segments, fills req->route and the parameters.
 * Returns 0 (req->route may be NULL: no match), 1 when a pattern matched but not the method
 * (405), or HUB_ENOMEM. */
int http_router_match(const struct http_router *router, struct http_request *req,
                      struct hub_error *err);

/** Frees the router's arrays (not the routes, which are static). Accepts a zeroed router. */
void http_router_dispose(struct http_router *router);

/* ---- http_reply.c ---- */

/** Sets the reply as the queued response with status; applies the buffered headers. */
int http_reply_set(struct http_request *req, unsigned status, struct MHD_Response *response,
                   uint64_t body_bytes);

/** Adds the CORS headers every response carries. */
void http_reply_add_cors(struct MHD_Response *response);

/* ---- http_auth.c ---- */

/** Fills req->user from the Authorization header or the atelier_session cookie. Database
 * errors leave the caller anonymous and are logged. */
void http_auth_resolve(struct http_request *req);

/** Returns whether req came from a script on one of our pages rather than from an API client:
 * it sends no Authorization header but the X-CSRF-Token header, the session cookie or the
 * query parameter from=page, which API clients never send. Such requests get 401 without
 * WWW-Authenticate, because that header makes a browser open its Basic login dialog. */
bool http_auth_from_browser_page(const struct http_request *req);

/* ---- http_metrics.c ---- */

/** Counts one finished request. Any thread. */
void http_metrics_record(const char *route_name, unsigned status, uint64_t bytes_in,
                         uint64_t bytes_out);

/** Frees the metrics table at daemon exit. */
void http_metrics_dispose(void);

/* ---- http_server.c ---- */

/** Returns the data directory of the daemon serving req. */
const char *http_server_data_dir(const struct http_server *server);

/** Returns the configuration of the daemon. */
const struct hub_config *http_server_config(const struct http_server *server);

/** Returns the calling HTTP thread's metadata connection, or NULL before it was opened. */
struct meta *http_thread_db(void);

#endif
