/* http_server: runs libmicrohttpd with an internal epoll thread pool and drives each request
 * through its life cycle. The URI log callback allocates struct http_request. The first
 * access call parses the target, authenticates and routes, the next calls feed the body, and
 * the last call runs the handler and queues the reply. The completion callback logs one
 * line, counts metrics and frees the request. */
#include "http_server.h"

#include "hf_base_model.h"
#include "http_internal.h"
#include "http_parse.h"
#include "hub_log.h"
#include "meta.h"
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A body announced as larger than this gets its error reply at once and the connection is
 * closed, instead of reading and discarding the body to keep the connection alive. */
#define HTTP_DISCARD_MAX_BYTES       (16u << 20)
#define HTTP_CONNECTION_MEMORY_BYTES (512u << 10) /* read buffer of one connection */

struct http_server {
    struct MHD_Daemon *daemon;
    const struct hub_config *config;
    struct http_router *router;
    unsigned port;
    atomic_int in_flight; /* requests between the URI log and the completion callbacks */
};

/* libmicrohttpd 0.9.75 sets TCP_CORK on a connection before it sends a file body and keeps it
 * set across its sendfile calls. With the cork a 1 GiB download through resolve ran at 0.62 of
 * nginx's rate, and at 1.1 to 1.4 without it (bench/hub_bench.sh). The client spent twice the
 * CPU time per byte while the server corked. libmicrohttpd has no option to turn this off, so
 * the process defines setsockopt itself: the executable's definition comes before libc's in
 * dynamic symbol lookup, and the library's calls land here. TCP_CORK requests return success
 * and are dropped, and the library also sets TCP_NODELAY, so each sendfile goes out at once.
 * Every other option goes to the kernel unchanged. */
int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    if (level == IPPROTO_TCP && name == TCP_CORK)
        return 0;
    return (int)syscall(SYS_setsockopt, fd, level, name, value, len);
}

/* Set by http_server_stop and cleared by http_server_start. Read on any thread by the accept
 * policy, by request_begin and by stream callbacks. */
static atomic_bool shutting_down;

bool http_shutting_down(void)
{
    return atomic_load(&shutting_down);
}

/* Closes each connection accepted once the server is stopping, so no new request starts. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addr_len)
{
    return atomic_load(&shutting_down) ? MHD_NO : MHD_YES;
}

/* One metadata connection per HTTP thread, closed by the key's destructor at thread exit. */
static pthread_key_t thread_db_key;
static pthread_once_t thread_db_once = PTHREAD_ONCE_INIT;

static void thread_db_close(void *db)
{
    meta_close(db);
}

static void thread_db_key_create(void)
{
    if (pthread_key_create(&thread_db_key, thread_db_close) != 0)
        abort(); /* fails only when the process has used up its thread keys */
}

static struct meta *thread_db_get(const char *data_dir, struct hub_error *err)
{
    struct meta *db;

    pthread_once(&thread_db_once, thread_db_key_create);
    db = pthread_getspecific(thread_db_key);
    if (db != NULL)
        return db;
    if (meta_open(&db, data_dir, 0, err) < 0)
        return NULL;
    pthread_setspecific(thread_db_key, db);
    return db;
}

struct http_router *http_router_new(void)
{
    return calloc(1, sizeof(struct http_router));
}

void http_router_free(struct http_router *router)
{
    if (router == NULL)
        return;
    http_router_dispose(router);
    free(router);
}

int http_router_services_start(struct http_router *router, const struct hub_config *config,
                               struct hub_error *err)
{
    for (size_t i = 0; i < router->service_count; i++) {
        const struct http_service *svc = router->services[i];
        int rc = svc->start(svc->arg, config, err);

        /* No log line here: the caller prints err, and one failure gets one line. */
        if (rc < 0) {
            while (i-- > 0) {
                if (router->services[i]->stop != NULL)
                    router->services[i]->stop(router->services[i]->arg);
            }
            return rc;
        }
        hub_log(HUB_LOG_INFO, "http", "service started service=%s", svc->name);
    }
    return 0;
}

void http_router_services_stop(struct http_router *router)
{
    for (size_t i = router->service_count; i-- > 0;) {
        const struct http_service *svc = router->services[i];

        if (svc->stop != NULL)
            svc->stop(svc->arg);
        hub_log(HUB_LOG_INFO, "http", "service stopped service=%s", svc->name);
    }
}

const char *http_server_data_dir(const struct http_server *server)
{
    return server->config->data_dir;
}

const struct hub_config *http_server_config(const struct http_server *server)
{
    return server->config;
}

struct meta *http_thread_db(void)
{
    pthread_once(&thread_db_once, thread_db_key_create);
    return pthread_getspecific(thread_db_key);
}

unsigned http_server_port(const struct http_server *server)
{
    return server->port;
}

/* ---- Request life cycle ------------------------------------------------------------------ */

static bool request_id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static void request_id_init(struct http_request *req)
{
    const char *client_id = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    /* Seeded from getrandom once per thread, then stepped with splitmix64, which saves a
     * system call per request. Request ids only tie log lines together: no secret. */
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    static atomic_uint_fast64_t counter;
    uint64_t n;

    if (client_id != NULL && client_id[0] != '\0' && strlen(client_id) <= HTTP_REQUEST_ID_BYTES) {
        bool ok = true;

        for (const char *p = client_id; *p != '\0'; p++)
            ok = ok && request_id_char_ok(*p);
        if (ok) {
            strcpy(req->request_id, client_id);
            return;
        }
    }
    if (!seeded) {
        if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != (ssize_t)sizeof(state))
            state = atomic_fetch_add(&counter, 1) ^ (uint64_t)req->started.tv_nsec ^
                    ((uint64_t)req->started.tv_sec << 32);
        seeded = true;
    }
    state += 0x9e3779b97f4a7c15ull;
    n = state;
    n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9ull;
    n = (n ^ (n >> 27)) * 0x94d049bb133111ebull;
    n ^= n >> 31;
    snprintf(req->request_id, sizeof(req->request_id), "%016llx", (unsigned long long)n);
}

static void remote_addr_init(struct http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;
    socklen_t len;

    strcpy(req->remote_addr, "-");
    if (sa == NULL)
        return;
    len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, len, req->remote_addr, sizeof(req->remote_addr), NULL, 0, NI_NUMERICHOST) !=
        0)
        strcpy(req->remote_addr, "-");
}

/* Called by libmicrohttpd with the raw request target before anything else; the pointer it
 * returns becomes the connection's request context. */
static void *uri_log_callback(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_request *req = calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    req->server = cls;
    req->conn = conn;
    atomic_fetch_add(&req->server->in_flight, 1);
    req->raw_target = strdup(uri != NULL ? uri : "/");
    req->content_length = -1;
    clock_gettime(CLOCK_MONOTONIC, &req->started);
    if (req->raw_target == NULL) {
        free(req);
        return NULL;
    }
    return req;
}

/* Keeps percent escapes as they are: http_parse.c splits the path before it decodes. */
static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
    return strlen(s);
}

static void request_free(struct http_request *req)
{
    if (req->state_free != NULL)
        req->state_free(req->state);
    if (req->response != NULL)
        MHD_destroy_response(req->response);
    for (size_t i = 0; i < req->param_count; i++) {
        free(req->param_names[i]);
        free(req->param_values[i]);
    }
    for (size_t i = 0; i < req->header_count; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    http_target_dispose(&req->target);
    free(req->user_name);
    free(req->body);
    free(req->raw_target);
    free(req->base_url);
    http_byte_counter_release(req->stream_bytes);
    free(req);
}

static void completed_callback(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    struct http_request *req = *con_cls;
    struct timespec now;
    long ms;
    const char *path;

    if (req == NULL)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (now.tv_sec - req->started.tv_sec) * 1000L +
         (now.tv_nsec - req->started.tv_nsec) / 1000000L;
    path = req->target_valid ? req->target.path : "-";
    if (req->stream_bytes != NULL)
        req->bytes_out = atomic_load(&req->stream_bytes->bytes);
    hub_log(HUB_LOG_INFO, "http",
            "request method=%s path=%.300s status=%u bytes_in=%llu bytes_out=%llu ms=%ld "
            "user=%s route=%s req=%s%s",
            req->method[0] != '\0' ? req->method : "-", path, req->status,
            (unsigned long long)req->bytes_in, (unsigned long long)req->bytes_out, ms,
            req->user.name != NULL ? req->user.name : "-",
            req->route_name != NULL ? req->route_name : "-", req->request_id,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    http_metrics_record(req->route_name != NULL ? req->route_name : "other", req->status,
                        req->bytes_in, req->bytes_out);
    atomic_fetch_sub(&req->server->in_flight, 1);
    request_free(req);
    *con_cls = NULL;
}

static int64_t content_length_get(struct MHD_Connection *conn)
{
    const char *text = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    n = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || n > INT64_MAX)
        return -1;
    return (int64_t)n;
}

/* Queues a reply decided before the body was read. A large announced body is not worth
 * reading, so the reply goes out at once and libmicrohttpd closes the connection after it. */
static enum MHD_Result early_reply_done(struct http_request *req)
{
    req->discard_body = true;
    if (req->content_length > (int64_t)HTTP_DISCARD_MAX_BYTES && req->response != NULL) {
        enum MHD_Result ok = MHD_queue_response(req->conn, req->status, req->response);

        MHD_destroy_response(req->response);
        req->response = NULL;
        return ok;
    }
    return MHD_YES;
}

static void cors_preflight(struct http_request *req)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

    if (resp != NULL) {
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
        http_reply_set(req, 204, resp, 0);
    }
}

/* Replies 413 for a buffered body over req->body_limit, naming the flag that sets the limit.
 * announced is the Content-Length, or 0 when the body was cut off while it arrived. */
static void body_too_large_reply(struct http_request *req, unsigned long long announced)
{
    unsigned long long limit = req->body_limit;
    char size[48] = "";

    if (announced > 0)
        snprintf(size, sizeof(size), " of %llu bytes", announced);
    /* Only the git-lfs lock routes set their own max_body_bytes, a fixed limit that no flag
     * changes. The other buffered bodies use the JSON limit. */
    if (req->route != NULL && req->route->max_body_bytes != 0)
        http_reply_error(req, 413,
                         "request body%s is over the limit of %llu bytes for this endpoint", size,
                         limit);
    else
        http_reply_error(req, 413,
                         "request body%s is over the limit of %llu bytes (atelier serve "
                         "--max-json-body-bytes)",
                         size, limit);
}

/* The first call: headers are in, no body yet. Decides the route and every error that does
 * not need the body. */
static enum MHD_Result request_begin(struct http_request *req, const char *method)
{
    struct hub_error err = HUB_ERROR_INIT;
    const struct http_route *route;
    int rc;

    req->headers_done = true;
    snprintf(req->method, sizeof(req->method), "%s", method);
    req->content_length = content_length_get(req->conn);
    request_id_init(req);
    remote_addr_init(req);

    rc = http_target_parse(&req->target, req->raw_target, strlen(req->raw_target), &err);
    if (rc < 0) {
        http_reply_hub_error(req, &err);
        return early_reply_done(req);
    }
    req->target_valid = true;
    /* A request that starts after SIGTERM is refused before it changes anything, because stop
     * may close its connection before the reply goes out and the client would then retry. */
    if (http_shutting_down()) {
        http_reply_header(req, "Retry-After", "5");
        http_reply_header(req, "Connection", "close");
        http_reply_error(req, 503, "the hub is stopping; retry the request once it is back");
        return early_reply_done(req);
    }
    if (thread_db_get(http_server_data_dir(req->server), &err) == NULL) {
        hub_log(HUB_LOG_ERROR, "http", "cannot open the database error=%s req=%s", err.msg,
                req->request_id);
        http_reply_header(req, "Retry-After", "5");
        http_reply_error(req, 503, "the hub database is not available; try again later");
        return early_reply_done(req);
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        cors_preflight(req);
        return early_reply_done(req);
    }
    http_auth_resolve(req);

    rc = http_router_match(req->server->router, req, &err);
    if (rc < 0) {
        http_reply_hub_error(req, &err);
        return early_reply_done(req);
    }
    if (rc == 1) {
        http_reply_error(req, 405, "method %s is not allowed on %s", req->method, req->target.path);
        return early_reply_done(req);
    }
    route = req->route;
    if (route == NULL) {
        /* Pages: forms are small, so the JSON limit bounds them too. */
        req->route_name = "web";
        req->body_mode = HTTP_BODY_BUFFER;
        req->body_limit = req->server->config->max_json_body_bytes;
        return MHD_YES;
    }
    if (route->auth_required && req->user.id == 0) {
        http_reply_unauthorized(req);
        return early_reply_done(req);
    }
    req->body_mode = route->body;
    req->body_limit = route->max_body_bytes != 0 ? route->max_body_bytes
                                                 : req->server->config->max_json_body_bytes;
    if (req->body_mode == HTTP_BODY_BUFFER && req->content_length > (int64_t)req->body_limit) {
        body_too_large_reply(req, (unsigned long long)req->content_length);
        return early_reply_done(req);
    }
    if (req->body_mode == HTTP_BODY_STREAM && route->begin != NULL) {
        rc = route->begin(req, route->arg, &err);
        if (rc < 0 && !http_reply_is_queued(req))
            http_reply_hub_error(req, &err);
        if (http_reply_is_queued(req))
            return early_reply_done(req);
    }
    return MHD_YES;
}

static void body_append(struct http_request *req, const char *data, size_t len)
{
    size_t need;

    if (!hub_size_add(&need, req->body_len, len) || need > req->body_limit) {
        body_too_large_reply(req, 0);
        req->discard_body = true;
        return;
    }
    if (need + 1 > req->body_cap) {
        size_t cap = req->body_cap == 0 ? 4096 : req->body_cap;
        char *grown;

        while (cap < need + 1)
            cap *= 2;
        grown = realloc(req->body, cap);
        if (grown == NULL) {
            http_reply_error(req, 503, "out of memory while reading the request body");
            req->discard_body = true;
            return;
        }
        req->body = grown;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len = need;
    req->body[need] = '\0';
}

/* Logs a server error that a route's on_body() or handle() returned without a reply, with the
 * request id, and queues its error reply. The log keeps the full message, server paths
 * included, which a 507 reply leaves out. */
static void handler_error_reply(struct http_request *req, int rc, struct hub_error *err)
{
    if (err->code == 0)
        err->code = rc;
    if (http_status_from_error(err->code) >= 500)
        hub_log(HUB_LOG_ERROR, "http", "handler failed route=%s error=%s req=%s", req->route->name,
                err->msg[0] != '\0' ? err->msg : hub_errcode_name(err->code), req->request_id);
    http_reply_hub_error(req, err);
}

static void request_body(struct http_request *req, const char *data, size_t len)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    req->bytes_in += len;
    if (req->discard_body)
        return;
    if (req->body_mode == HTTP_BODY_BUFFER) {
        body_append(req, data, len);
    } else if (req->body_mode == HTTP_BODY_STREAM) {
        rc = req->route->on_body(req, data, len, req->route->arg, &err);
        if (rc < 0 && !http_reply_is_queued(req))
            handler_error_reply(req, rc, &err);
        if (http_reply_is_queued(req))
            req->discard_body = true;
    }
}

#define WEB_CONTENT_HTML "text/html; charset=utf-8"

/* Adds the caching and browser-security headers of a web response. Pages, redirects included,
 * may not be framed by other sites and get no CORS headers: only the API is for other
 * origins. The layout's <meta> Content-Security-Policy cannot set frame-ancestors, so the
 * header does, and X-Frame-Options covers browsers without CSP level 2. */
static void web_security_headers(struct http_request *req, const struct web_response *wresp)
{
    const char *type = wresp->content_type != NULL ? wresp->content_type : WEB_CONTENT_HTML;

    if (wresp->cache_control != NULL)
        http_reply_header(req, "Cache-Control", wresp->cache_control);
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    if (strncmp(type, "text/html", 9) == 0) {
        http_reply_header(req, "Content-Security-Policy", "frame-ancestors 'none'");
        http_reply_header(req, "X-Frame-Options", "DENY");
        req->no_cors = true;
    }
}

static void web_dispatch(struct http_request *req)
{
    struct web_request wreq = {0};
    struct web_response wresp = {0};
    struct MHD_Response *resp;

    wreq.method = req->method;
    wreq.path = req->target.path;
    wreq.query = req->target.query;
    wreq.content_type = http_request_header(req, "Content-Type");
    wreq.body = req->body;
    wreq.body_len = req->body_len;
    wreq.cookie = http_request_header(req, "Cookie");
    wreq.host = http_request_header(req, "Host");
    wreq.request_id = req->request_id;
    wreq.tls = req->server->config->public_url != NULL &&
               strncmp(req->server->config->public_url, "https://", 8) == 0;
    wreq.user_id = req->user.id;
    wreq.user_name = req->user.name;
    wreq.user_is_admin = req->user.is_admin;
    wreq.data_dir = req->server->config->data_dir;
    wreq.db = http_request_db(req);
    wreq.base_model_refresh = hf_base_model_refresh;
    if (web_handle(&wreq, &wresp) == 0) {
        web_response_dispose(&wresp);
        http_reply_error(req, 404, "no such page or API route: %s %.200s", req->method,
                         req->target.path);
        return;
    }
    if (wresp.set_cookie != NULL)
        http_reply_header(req, "Set-Cookie", wresp.set_cookie);
    if (wresp.location != NULL)
        http_reply_header(req, "Location", wresp.location);
    web_security_headers(req, &wresp);
    resp = MHD_create_response_from_buffer(wresp.body_len, wresp.body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        web_response_dispose(&wresp);
        return;
    }
    wresp.body = NULL; /* now owned by resp */
    MHD_add_response_header(resp, "Content-Type",
                            wresp.content_type != NULL ? wresp.content_type : WEB_CONTENT_HTML);
    http_reply_set(req, (unsigned)wresp.status, resp, wresp.body_len);
    web_response_dispose(&wresp);
}

static void request_finish(struct http_request *req)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    if (!http_reply_is_queued(req)) {
        if (req->route == NULL) {
            web_dispatch(req);
        } else {
            rc = req->route->handle(req, req->route->arg, &err);
            if (rc < 0 && !http_reply_is_queued(req))
                handler_error_reply(req, rc, &err);
        }
    }
    if (!http_reply_is_queued(req)) {
        hub_log(HUB_LOG_ERROR, "http", "handler queued no reply route=%s req=%s",
                req->route_name != NULL ? req->route_name : "-", req->request_id);
        http_reply_error(req, 500, "internal error: the handler sent no reply");
    }
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct http_request *req = *con_cls;
    enum MHD_Result ok;

    if (req == NULL)
        return MHD_NO; /* the URI log callback ran out of memory */
    if (!req->headers_done)
        return request_begin(req, method);
    if (*upload_data_size > 0) {
        request_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->response == NULL) {
        if (req->status != 0)
            return MHD_YES; /* already queued by early_reply_done */
        request_finish(req);
        if (req->response == NULL)
            return MHD_NO;
    }
    ok = MHD_queue_response(conn, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return ok;
}

/* ---- Start and stop ----------------------------------------------------------------------- */

/* Logs a libmicrohttpd message. Each of its format strings is a call site of its own for the
 * rate limit, so one repeating message does not hold back the others. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    enum hub_log_level level = HUB_LOG_WARN;
    char text[512];
    va_list copy;

    va_copy(copy, ap);
    vsnprintf(text, sizeof(text), fmt, copy);
    va_end(copy);
    if (http_mhd_message_is_client_gone(text))
        level = HUB_LOG_DEBUG;
    hub_logv_prefixed(level, "http", "libmicrohttpd: ", fmt, ap);
}

static int resolve_listen(struct sockaddr_storage *out, socklen_t *out_len,
                          const struct hub_config *config, struct hub_error *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", config->listen_port);
    rc = getaddrinfo(config->listen_host, port, &hints, &res);
    if (rc != 0)
        return hub_error_set(err, HUB_EINVAL, "cannot resolve listen address '%s': %s",
                             config->listen_host, gai_strerror(rc));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int listen_error(const struct hub_config *config, int sys_errno, struct hub_error *err)
{
    if (sys_errno == EADDRINUSE)
        return hub_error_set(err, HUB_EIO,
                             "cannot listen on %s port %u: the address is already in use; "
                             "stop the other server or choose another --listen port",
                             config->listen_host, config->listen_port);
    return hub_error_set_errno(err, HUB_EIO, sys_errno, "cannot listen on %s port %u",
                               config->listen_host, config->listen_port);
}

int http_listen_open(int *fd_out, unsigned *port_out, const struct hub_config *config,
                     struct hub_error *err)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    int one = 1, fd, rc, saved;

    *fd_out = -1;
    rc = resolve_listen(&addr, &addr_len, config, err);
    if (rc < 0)
        return rc;
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return listen_error(config, errno, err);
    /* SO_REUSEADDR lets a restarted daemon bind while connections of the previous one are in
     * TIME_WAIT. IPV6_V6ONLY makes an IPv6 address such as [::] take IPv6 connections only. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (addr.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&addr, addr_len) != 0 || listen(fd, SOMAXCONN) != 0) {
        saved = errno;
        close(fd);
        return listen_error(config, saved, err);
    }
    addr_len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        saved = errno;
        close(fd);
        return hub_error_set_errno(err, HUB_EIO, saved, "cannot read the bound port");
    }
    *port_out = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                 : ((struct sockaddr_in *)&addr)->sin_port);
    *fd_out = fd;
    return 0;
}

int http_server_start(struct http_server **out, const struct hub_config *config,
                      struct http_router *router, int listen_fd, unsigned port,
                      struct hub_error *err)
{
    struct http_server *server = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    int mhd_fd, family = AF_INET;
    socklen_t family_len = sizeof(family);

    *out = NULL;
    if (getsockopt(listen_fd, SOL_SOCKET, SO_DOMAIN, &family, &family_len) == 0 &&
        family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server = calloc(1, sizeof(*server));
    if (server == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the HTTP server");
    server->config = config;
    server->router = router;
    server->port = port;
    /* libmicrohttpd gets a copy of the socket and closes it when it stops (or, when it fails
     * to start, may have closed it already), so the caller's descriptor stays its own. */
    mhd_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
    if (mhd_fd < 0) {
        free(server);
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot duplicate the listening socket");
    }
    /* HTTP_CONNECTION_MEMORY_BYTES sizes each connection's memory pool. An upload body is
     * read into half of it, so bodies reach the handler in 256 KiB chunks, not the 16 KiB of
     * the 32 KiB default. Fewer write calls per GiB: a 1 GiB LFS upload took 1.07 s with a
     * 256 KiB pool and 0.97 s with this one. libmicrohttpd clears the pool for each
     * request, so a larger pool costs small requests: with 1 MiB, repo info fell from 17,000
     * to 12,000 requests per second. http_listen_open sets no SO_REUSEPORT, which would let
     * a second daemon bind the same port instead of failing. */
    atomic_store(&shutting_down, false);
    server->daemon = MHD_start_daemon(
        flags, (uint16_t)port, accept_policy, NULL, access_handler, server,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)config->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)config->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)config->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONNECTION_MEMORY_BYTES, MHD_OPTION_URI_LOG_CALLBACK, uri_log_callback, server,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        completed_callback, server, MHD_OPTION_END);
    if (server->daemon == NULL) {
        free(server);
        return hub_error_set(err, HUB_EIO,
                             "cannot start the HTTP server on %s port %u; the lines logged "
                             "above by libmicrohttpd say why",
                             config->listen_host, port);
    }
    *out = server;
    return 0;
}

void http_server_stop(struct http_server *server, unsigned wait_s)
{
    unsigned waited_ms = 0;

    if (server == NULL)
        return;
    /* From here the accept policy closes new connections. MHD_quiesce_daemon is not used:
     * libmicrohttpd 0.9.75 aborts the process when a pool thread fails to remove the listening
     * socket from its epoll set, which quiescing right after start made happen. */
    atomic_store(&shutting_down, true);
    /* Idle keep-alive connections do not count: only requests that have started. */
    while (atomic_load(&server->in_flight) > 0 && waited_ms < wait_s * 1000u) {
        usleep(50 * 1000);
        waited_ms += 50;
    }
    if (atomic_load(&server->in_flight) > 0)
        hub_log(HUB_LOG_WARN, "http", "stopping with requests still in flight count=%d",
                atomic_load(&server->in_flight));
    MHD_stop_daemon(server->daemon);
    free(server);
}
