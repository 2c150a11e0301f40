/* http_reply: builds the libmicrohttpd response for a request. Every reply but an HTML page
 * gets the CORS headers, and every reply gets X-Request-Id and the headers the handler added.
 * http_server.c queues the response once the request body has been read. */
#include "http_internal.h"

#include "hub_log.h"
#include "hub_utf8.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void http_reply_add_cors(struct MHD_Response *response)
{
    MHD_add_response_header(response, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(response, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Range, Accept, X-Request-Id");
    MHD_add_response_header(response, "Access-Control-Allow-Methods",
                            "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    MHD_add_response_header(response, "Access-Control-Expose-Headers",
                            "Content-Range, Content-Length, Accept-Ranges, ETag, X-Linked-Etag, "
                            "X-Linked-Size, X-Repo-Commit, X-Error-Code, X-Error-Message, "
                            "X-Request-Id, Link, X-Total-Count");
}

bool http_reply_is_queued(const struct http_request *req)
{
    return req->status != 0;
}

int http_reply_set(struct http_request *req, unsigned status, struct MHD_Response *response,
                   uint64_t body_bytes)
{
    if (http_reply_is_queued(req)) {
        hub_log(HUB_LOG_ERROR, "http", "second reply ignored (a bug) route=%s status=%u req=%s",
                req->route_name != NULL ? req->route_name : "-", status, req->request_id);
        MHD_destroy_response(response);
        return HUB_EINTERNAL;
    }
    if (!req->no_cors)
        http_reply_add_cors(response);
    MHD_add_response_header(response, "X-Request-Id", req->request_id);
    for (size_t i = 0; i < req->header_count; i++) {
        if (MHD_add_response_header(response, req->headers[i].name, req->headers[i].value) !=
            MHD_YES)
            hub_log(HUB_LOG_WARN, "http", "header rejected by libmicrohttpd name=%s req=%s",
                    req->headers[i].name, req->request_id);
    }
    req->response = response;
    req->status = status;
    req->bytes_out = body_bytes;
    return 0;
}

void http_reply_header(struct http_request *req, const char *name, const char *value)
{
    char *name_copy, *value_copy;

    if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n:") != NULL) {
        hub_log(HUB_LOG_ERROR, "http", "reply header with CR or LF dropped name=%.40s req=%s", name,
                req->request_id);
        return;
    }
    if (req->response != NULL) {
        MHD_add_response_header(req->response, name, value);
        return;
    }
    if (req->header_count == HTTP_MAX_REPLY_HEADERS) {
        hub_log(HUB_LOG_ERROR, "http", "too many reply headers, dropped name=%s req=%s", name,
                req->request_id);
        return;
    }
    name_copy = strdup(name);
    value_copy = strdup(value);
    if (name_copy == NULL || value_copy == NULL) {
        free(name_copy);
        free(value_copy);
        return;
    }
    req->headers[req->header_count].name = name_copy;
    req->headers[req->header_count].value = value_copy;
    req->header_count++;
}

int http_reply_buffer(struct http_request *req, unsigned status, const char *content_type,
                      void *data, size_t len)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(data);
        return HUB_ENOMEM;
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    return http_reply_set(req, status, resp, len);
}

int http_reply_bytes(struct http_request *req, unsigned status, const char *content_type,
                     const void *data, size_t len)
{
    void *copy = malloc(len > 0 ? len : 1);

    if (copy == NULL)
        return HUB_ENOMEM;
    if (len > 0)
        memcpy(copy, data, len);
    return http_reply_buffer(req, status, content_type, copy, len);
}

/* Significant digits of a JSON real in a reply. Ten keep every value the trainer and the
 * evaluator measure, and drop the binary rounding noise that the default of 17 digits shows
 * (0.0002 instead of 0.00020000000000000001). */
#define HTTP_JSON_REAL_DIGITS 10

int http_reply_json(struct http_request *req, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(HTTP_JSON_REAL_DIGITS));

    json_decref(body);
    if (text == NULL)
        return HUB_ENOMEM;
    return http_reply_buffer(req, status, "application/json", text, strlen(text));
}

/* Queues msg and a newline as a text/plain error body. */
static int reply_error_text(struct http_request *req, unsigned status, const char *msg)
{
    char *text = NULL;
    int len = asprintf(&text, "%s\n", msg);

    if (len < 0)
        return HUB_ENOMEM;
    return http_reply_buffer(req, status, "text/plain; charset=utf-8", text, (size_t)len);
}

static int reply_error_v(struct http_request *req, unsigned status, const char *error_code,
                         const char *fmt, va_list ap)
{
    char msg[HUB_ERROR_MSG_BYTES + 256]; /* room for a hub_error message and a prefix */
    json_t *body;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (error_code != NULL)
        http_reply_header(req, "X-Error-Code", error_code);
    /* The header copy of the message must stay printable and on one line. */
    {
        char header[256];
        size_t n = 0;

        for (const char *p = msg; *p != '\0' && n + 1 < sizeof(header); p++)
            header[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        header[n] = '\0';
        http_reply_header(req, "X-Error-Message", header);
    }
    if (req->route != NULL && req->route->text_errors)
        return reply_error_text(req, status, msg);
    body = json_pack("{s:s}", "error", msg);
    if (body == NULL && !hub_utf8_is_valid(msg, strlen(msg))) {
        /* msg quotes bytes from the request or from git that are not UTF-8, or a %.80s cut
         * through a character. jansson rejects those, so send them as U+FFFD. */
        char *repaired = hub_utf8_repair(msg, strlen(msg), NULL);

        if (repaired != NULL)
            body = json_pack("{s:s}", "error", repaired);
        free(repaired);
    }
    if (body != NULL && req->route != NULL && req->route->lfs_errors)
        json_object_set(body, "message", json_object_get(body, "error"));
    if (body == NULL)
        return HUB_ENOMEM;
    return http_reply_json(req, status, body);
}

int http_reply_error(struct http_request *req, unsigned status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = reply_error_v(req, status, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int http_reply_error_code(struct http_request *req, unsigned status, const char *error_code,
                          const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = reply_error_v(req, status, error_code, fmt, ap);
    va_end(ap);
    return rc;
}

unsigned http_status_from_error(int code)
{
    switch (code) {
    case HUB_EINVAL:
        return 400;
    case HUB_EAUTH:
        return 401;
    case HUB_EFORBIDDEN:
        return 403;
    case HUB_ENOTFOUND:
        return 404;
    case HUB_ECONFLICT:
        return 409;
    case HUB_ETOOBIG:
        return 413;
    default:
        return 500;
    }
}

int http_reply_hub_error(struct http_request *req, const struct hub_error *err)
{
    unsigned status = http_status_from_error(err->code);

    if (status == 401)
        return http_reply_unauthorized(req);
    if (status >= 500 && (err->sys_errno == ENOSPC || err->sys_errno == EDQUOT))
        return http_reply_error(req, 507, "the hub's disk is full; ask the admin to free space");
    return http_reply_error(req, status, "%s",
                            err->msg[0] != '\0' ? err->msg : hub_errcode_name(err->code));
}

int http_reply_unauthorized(struct http_request *req)
{
    if (http_auth_from_browser_page(req))
        return http_reply_error(req, 401,
                                "your session expired or you logged out: log in again at /login");
    http_reply_header(req, "WWW-Authenticate", "Basic realm=\"atelier\"");
    http_reply_header(req, "LFS-Authenticate", "Basic realm=\"atelier\"");
    /* git sends the account password when the user types it at git's prompt. */
    if (req->user.token_invalid && req->user.password_not_token)
        return http_reply_error(req, 401,
                                "Invalid credentials in Authorization header: the password is "
                                "not an access token. Create a write token on %s/settings and "
                                "enter it as the password",
                                http_request_base_url(req));
    if (req->user.token_invalid)
        return http_reply_error(req, 401, "Invalid credentials in Authorization header");
    return http_reply_error(req, 401,
                            "authentication required: send a token as 'Authorization: Bearer "
                            "hf_...' (create one on the /settings page or with `atelier admin "
                            "--data DATA token create USER`)");
}

int http_reply_unauthorized_message(struct http_request *req, const char *fmt, ...)
{
    va_list ap;
    int rc;

    http_reply_header(req, "WWW-Authenticate", "Basic realm=\"atelier\"");
    http_reply_header(req, "LFS-Authenticate", "Basic realm=\"atelier\"");
    va_start(ap, fmt);
    rc = reply_error_v(req, 401, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

/* HEAD replies and bodies of known size whose bytes are never sent. */
static ssize_t no_body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

int http_reply_empty(struct http_request *req, unsigned status, uint64_t content_length)
{
    struct MHD_Response *resp;

    if (content_length != HTTP_LENGTH_UNKNOWN && content_length > 0 &&
        (strcmp(req->method, "HEAD") == 0 || status == 304))
        resp = MHD_create_response_from_callback(content_length, 4096, no_body_reader, NULL, NULL);
    else
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return HUB_ENOMEM;
    return http_reply_set(req, status, resp, 0);
}

int http_reply_fd(struct http_request *req, unsigned status, const char *content_type, int fd,
                  uint64_t offset, uint64_t length)
{
    struct MHD_Response *resp;

    if (offset > INT64_MAX || length > INT64_MAX - offset) {
        close(fd);
        return HUB_EINVAL;
    }
    resp = MHD_create_response_from_fd_at_offset64(length, fd, offset);
    if (resp == NULL) {
        close(fd);
        return HUB_ENOMEM;
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    return http_reply_set(req, status, resp, strcmp(req->method, "HEAD") == 0 ? 0 : length);
}

/* A streamed body: wraps the handler's reader so that a reader returning 0 ends the reply
 * with an error instead of making libmicrohttpd call it again at once. */
struct stream_wrap {
    http_stream_fn read;
    void *ctx;
    void (*free_ctx)(void *ctx);
    struct http_byte_counter *sent;
};

void http_byte_counter_release(struct http_byte_counter *counter)
{
    if (counter != NULL && atomic_fetch_sub(&counter->refs, 1) == 1)
        free(counter);
}

/* Creates the counter shared by req and its streamed reply. Returns NULL without memory. */
static struct http_byte_counter *byte_counter_new(struct http_request *req)
{
    struct http_byte_counter *counter = calloc(1, sizeof(*counter));

    if (counter == NULL)
        return NULL;
    atomic_store(&counter->refs, 2);
    http_byte_counter_release(req->stream_bytes);
    req->stream_bytes = counter;
    return counter;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_wrap *w = cls;
    ssize_t n = w->read(w->ctx, pos, buf, max);

    if (n == 0)
        n = HTTP_STREAM_ERROR; /* 0 would make libmicrohttpd poll in a busy loop */
    if (n > 0)
        atomic_fetch_add(&w->sent->bytes, (uint64_t)n);
    return n;
}

static void stream_free(void *cls)
{
    struct stream_wrap *w = cls;

    if (w->free_ctx != NULL)
        w->free_ctx(w->ctx);
    http_byte_counter_release(w->sent);
    free(w);
}

/* Server-Sent Events: the handler's reader waits for events, often a second at a time. Run
 * on an HTTP thread it would stall every other connection of that thread, so a pump thread
 * of its own calls it, and the connection is suspended while no data is buffered.
 * Locking: lock guards every field below it; read, ctx and conn never change. */
#define PUMP_BUFFER_BYTES (64u * 1024)

struct stream_pump {
    http_stream_fn read;
    void *ctx;
    void (*free_ctx)(void *ctx);
    struct MHD_Connection *conn;
    struct http_byte_counter *sent;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t drained;
    char buf[PUMP_BUFFER_BYTES];
    size_t len;     /* bytes in buf */
    size_t off;     /* bytes of buf already handed to libmicrohttpd */
    bool ended;     /* the reader returned HTTP_STREAM_END, or the daemon is stopping */
    bool failed;    /* the reader returned HTTP_STREAM_ERROR */
    bool suspended; /* the connection waits for http_pump_resume */
    bool stop;      /* the response is being freed */
};

static void *pump_main(void *arg)
{
    struct stream_pump *p = arg;
    char chunk[PUMP_BUFFER_BYTES];
    uint64_t pos = 0;

    for (;;) {
        bool resume;
        ssize_t n;

        pthread_mutex_lock(&p->lock);
        while (p->len > 0 && !p->stop)
            pthread_cond_wait(&p->drained, &p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        pthread_mutex_unlock(&p->lock);

        n = http_shutting_down() ? HTTP_STREAM_END : p->read(p->ctx, pos, chunk, sizeof(chunk));

        pthread_mutex_lock(&p->lock);
        if (n > 0) {
            memcpy(p->buf, chunk, (size_t)n);
            p->len = (size_t)n;
            p->off = 0;
            pos += (uint64_t)n;
        } else if (n == HTTP_STREAM_END) {
            p->ended = true;
        } else {
            p->failed = true; /* 0 counts as an error, as for other streams */
        }
        resume = p->suspended;
        p->suspended = false;
        pthread_mutex_unlock(&p->lock);
        /* Outside the lock: libmicrohttpd takes its own mutex here. While suspended the
         * connection is not read from, so nothing races with this call. */
        if (resume)
            MHD_resume_connection(p->conn);
        if (n <= 0)
            break;
    }
    return NULL;
}

static ssize_t pump_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_pump *p = cls;
    ssize_t result;

    pthread_mutex_lock(&p->lock);
    if (p->off < p->len) {
        size_t n = p->len - p->off < max ? p->len - p->off : max;

        memcpy(buf, p->buf + p->off, n);
        p->off += n;
        if (p->off == p->len) {
            p->len = 0;
            p->off = 0;
            pthread_cond_signal(&p->drained);
        }
        result = (ssize_t)n;
        atomic_fetch_add(&p->sent->bytes, (uint64_t)n);
    } else if (p->ended) {
        result = HTTP_STREAM_END;
    } else if (p->failed) {
        result = HTTP_STREAM_ERROR;
    } else {
        /* Nothing buffered: park the connection until the pump has data. */
        p->suspended = true;
        MHD_suspend_connection(p->conn);
        result = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return result;
}

static void pump_free(void *cls)
{
    struct stream_pump *p = cls;

    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->drained);
    pthread_mutex_unlock(&p->lock);
    /* The pump may be inside the reader, which waits at most about a second. */
    pthread_join(p->thread, NULL);
    if (p->free_ctx != NULL)
        p->free_ctx(p->ctx);
    pthread_cond_destroy(&p->drained);
    pthread_mutex_destroy(&p->lock);
    http_byte_counter_release(p->sent);
    free(p);
}

static int reply_event_stream(struct http_request *req, unsigned status, const char *content_type,
                              http_stream_fn read, void *ctx, void (*free_ctx)(void *ctx))
{
    struct stream_pump *p = calloc(1, sizeof(*p));
    struct MHD_Response *resp;

    if (p == NULL) {
        if (free_ctx != NULL)
            free_ctx(ctx);
        return HUB_ENOMEM;
    }
    p->read = read;
    p->ctx = ctx;
    p->free_ctx = free_ctx;
    p->conn = req->conn;
    p->sent = byte_counter_new(req);
    if (p->sent == NULL) {
        free(p);
        if (free_ctx != NULL)
            free_ctx(ctx);
        return HUB_ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->drained, NULL);
    if (pthread_create(&p->thread, NULL, pump_main, p) != 0) {
        pthread_cond_destroy(&p->drained);
        pthread_mutex_destroy(&p->lock);
        http_byte_counter_release(p->sent);
        free(p);
        if (free_ctx != NULL)
            free_ctx(ctx);
        return HUB_ENOMEM;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, pump_read, p, pump_free);
    if (resp == NULL) {
        pump_free(p);
        return HUB_ENOMEM;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    return http_reply_set(req, status, resp, 0);
}

int http_reply_stream(struct http_request *req, unsigned status, const char *content_type,
                      uint64_t length, http_stream_fn read, void *ctx, void (*free_ctx)(void *ctx))
{
    struct stream_wrap *w = NULL;
    struct MHD_Response *resp;

    if (content_type != NULL && strncmp(content_type, "text/event-stream", 17) == 0)
        return reply_event_stream(req, status, content_type, read, ctx, free_ctx);
    w = malloc(sizeof(*w));
    if (w == NULL) {
        if (free_ctx != NULL)
            free_ctx(ctx);
        return HUB_ENOMEM;
    }
    w->read = read;
    w->ctx = ctx;
    w->free_ctx = free_ctx;
    w->sent = byte_counter_new(req);
    if (w->sent == NULL) {
        free(w);
        if (free_ctx != NULL)
            free_ctx(ctx);
        return HUB_ENOMEM;
    }
    resp =
        MHD_create_response_from_callback(length == HTTP_LENGTH_UNKNOWN ? MHD_SIZE_UNKNOWN : length,
                                          64 * 1024, stream_read, w, stream_free);
    if (resp == NULL) {
        stream_free(w);
        return HUB_ENOMEM;
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    return http_reply_set(req, status, resp, length == HTTP_LENGTH_UNKNOWN ? 0 : length);
}
