/* http_metrics: request counters for /metrics (Prometheus text format 0.0.4) and the /healthz
 * probe. Counters are keyed by route name and status; route names are static strings, so
 * the table stores the pointers. */
#include "http_internal.h"
#include "http_server.h"

#include "hub_log.h"
#include "meta.h"
#include "meta_lfs.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_SERIES 512

struct series {
    const char *route;
    unsigned status;
    uint64_t requests;
};

/* Locking: metrics_lock guards series, series_count and the byte totals. */
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct series series[METRICS_MAX_SERIES];
static size_t series_count;
static uint64_t total_bytes_in, total_bytes_out;
static atomic_int uploads_in_progress;

void http_metrics_record(const char *route_name, unsigned status, uint64_t bytes_in,
                         uint64_t bytes_out)
{
    size_t i;

    pthread_mutex_lock(&metrics_lock);
    total_bytes_in += bytes_in;
    total_bytes_out += bytes_out;
    for (i = 0; i < series_count; i++) {
        if (series[i].status == status && strcmp(series[i].route, route_name) == 0)
            break;
    }
    if (i == series_count && series_count < METRICS_MAX_SERIES) {
        series[i].route = route_name;
        series[i].status = status;
        series_count++;
    }
    if (i < series_count)
        series[i].requests++;
    pthread_mutex_unlock(&metrics_lock);
}

void http_metrics_uploads_add(int delta)
{
    atomic_fetch_add(&uploads_in_progress, delta);
}

void http_metrics_dispose(void)
{
    pthread_mutex_lock(&metrics_lock);
    series_count = 0;
    pthread_mutex_unlock(&metrics_lock);
}

struct text {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        {
            size_t cap = t->cap * 2 + (size_t)n;
            char *grown = realloc(t->buf, cap);

            if (grown == NULL) {
                t->failed = true;
                return;
            }
            t->buf = grown;
            t->cap = cap;
        }
    }
}

static int metrics_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    struct text t = {malloc(4096), 0, 4096, false};
    uint64_t blob_bytes = 0;
    int rc;

    if (t.buf == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the metrics text");
    rc = meta_lfs_total_bytes(&blob_bytes, http_request_db(req), err);
    if (rc < 0)
        hub_log(HUB_LOG_WARN, "metrics", "cannot sum the blob store error=%s req=%s", err->msg,
                http_request_id(req));

    text_add(&t, "# HELP atelier_http_requests_total HTTP requests by route and status.\n"
                 "# TYPE atelier_http_requests_total counter\n");
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < series_count; i++)
        text_add(&t, "atelier_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
                 series[i].route, series[i].status, (unsigned long long)series[i].requests);
    text_add(&t,
             "# HELP atelier_http_received_bytes_total Request body bytes received.\n"
             "# TYPE atelier_http_received_bytes_total counter\n"
             "atelier_http_received_bytes_total %llu\n"
             "# HELP atelier_http_sent_bytes_total Response body bytes sent.\n"
             "# TYPE atelier_http_sent_bytes_total counter\n"
             "atelier_http_sent_bytes_total %llu\n",
             (unsigned long long)total_bytes_in, (unsigned long long)total_bytes_out);
    pthread_mutex_unlock(&metrics_lock);
    text_add(&t,
             "# HELP atelier_lfs_uploads_in_progress LFS object uploads being received.\n"
             "# TYPE atelier_lfs_uploads_in_progress gauge\n"
             "atelier_lfs_uploads_in_progress %d\n"
             "# HELP atelier_blob_store_bytes Bytes of LFS objects recorded in the store.\n"
             "# TYPE atelier_blob_store_bytes gauge\n"
             "atelier_blob_store_bytes %llu\n",
             atomic_load(&uploads_in_progress), (unsigned long long)blob_bytes);
    if (t.failed) {
        free(t.buf);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the metrics text");
    }
    return http_reply_buffer(req, 200, "text/plain; version=0.0.4; charset=utf-8", t.buf, t.len);
}

static int healthz_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    return http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static const struct http_route metrics_route = {
    .name = "metrics",
    .methods = "GET",
    .pattern = "/metrics",
    .handle = metrics_handle,
};

static const struct http_route healthz_route = {
    .name = "healthz",
    .methods = "GET",
    .pattern = "/healthz",
    .handle = healthz_handle,
};

void http_metrics_register(struct http_router *router)
{
    http_router_add(router, &metrics_route);
    http_router_add(router, &healthz_route);
}
