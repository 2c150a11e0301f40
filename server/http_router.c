/* http_router: the route table and pattern matching. Patterns are parsed at match time, which
 * costs a few string compares per route and keeps the table a plain array of pointers. */
#include "http_internal.h"

#include "hub_log.h"

#include <stdlib.h>
#include <string.h>

/* Segment kinds, ordered by specificity: a higher value wins when routes compete. */
enum seg_kind {
    SEG_REST = 0,
    SEG_CAPTURE = 1,
    SEG_SUFFIX = 2,
    SEG_LITERAL = 3,
};

#define MAX_PATTERN_SEGMENTS 32

struct match_result {
    unsigned char rank[MAX_PATTERN_SEGMENTS]; /* seg_kind per pattern segment */
    size_t rank_len;
    const char *names[HTTP_MAX_ROUTE_PARAMS]; /* point into the pattern */
    size_t name_lens[HTTP_MAX_ROUTE_PARAMS];
    size_t first_seg[HTTP_MAX_ROUTE_PARAMS];  /* request segment of the capture */
    size_t seg_count[HTTP_MAX_ROUTE_PARAMS];  /* segments captured (rest captures: any) */
    size_t suffix_len[HTTP_MAX_ROUTE_PARAMS]; /* bytes to cut from a suffix capture */
    size_t count;
};

static void add_item(void ***items, size_t *count, size_t *cap, const void *item)
{
    if (*count == *cap) {
        size_t new_cap = *cap == 0 ? 16 : *cap * 2;
        void **grown = realloc(*items, new_cap * sizeof(**items));

        if (grown == NULL) {
            hub_log(HUB_LOG_ERROR, "http", "cannot allocate the route table");
            abort(); /* start-up only: the daemon cannot run without its routes */
        }
        *items = grown;
        *cap = new_cap;
    }
    (*items)[(*count)++] = (void *)item;
}

void http_router_add(struct http_router *router, const struct http_route *route)
{
    add_item((void ***)&router->routes, &router->route_count, &router->route_cap, route);
}

void http_router_add_service(struct http_router *router, const struct http_service *service)
{
    add_item((void ***)&router->services, &router->service_count, &router->service_cap, service);
}

void http_router_dispose(struct http_router *router)
{
    free(router->routes);
    free(router->services);
    memset(router, 0, sizeof(*router));
}

static bool method_allowed(const char *methods, const char *method)
{
    size_t len = strlen(method);
    const char *p = methods;

    if (methods == NULL)
        return true;
    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

        if (n == len && memcmp(p, method, len) == 0)
            return true;
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

static bool add_capture(struct match_result *m, const char *name, size_t name_len, size_t first,
                        size_t count, size_t suffix_len)
{
    if (m->count == HTTP_MAX_ROUTE_PARAMS)
        return false;
    m->names[m->count] = name;
    m->name_lens[m->count] = name_len;
    m->first_seg[m->count] = first;
    m->seg_count[m->count] = count;
    m->suffix_len[m->count] = suffix_len;
    m->count++;
    return true;
}

/* Matches one pattern segment [p, p+n) against the request segment text. */
static bool match_segment(struct match_result *m, const char *p, size_t n, const char *text,
                          size_t seg_index)
{
    const char *close;
    size_t suffix_len, text_len;

    if (n == 0 || p[0] != '{') {
        m->rank[m->rank_len++] = SEG_LITERAL;
        return strlen(text) == n && memcmp(text, p, n) == 0;
    }
    close = memchr(p, '}', n);
    if (close == NULL)
        return false;
    suffix_len = n - (size_t)(close - p) - 1;
    text_len = strlen(text);
    if (suffix_len > 0) {
        if (text_len <= suffix_len ||
            memcmp(text + text_len - suffix_len, close + 1, suffix_len) != 0)
            return false;
        m->rank[m->rank_len++] = SEG_SUFFIX;
    } else {
        m->rank[m->rank_len++] = SEG_CAPTURE;
    }
    return add_capture(m, p + 1, (size_t)(close - p) - 1, seg_index, 1, suffix_len);
}

static bool match_pattern(struct match_result *m, const char *pattern,
                          const struct http_request *req)
{
    const char *p = pattern;
    size_t seg = 0;
    size_t nseg = req->target.segment_count;

    memset(m, 0, sizeof(*m));
    if (pattern == NULL)
        return true;
    while (*p == '/')
        p++;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

        if (m->rank_len == MAX_PATTERN_SEGMENTS)
            return false;
        /* {name*} captures the rest of the path, {name+} the rest when it is not empty. */
        if (n >= 3 && p[0] == '{' && (p[n - 2] == '*' || p[n - 2] == '+') && p[n - 1] == '}') {
            if (p[n - 2] == '+' && seg >= nseg)
                return false;
            m->rank[m->rank_len++] = SEG_REST;
            return add_capture(m, p + 1, n - 3, seg, nseg - seg, 0);
        }
        if (seg >= nseg || !match_segment(m, p, n, req->target.segments[seg], seg))
            return false;
        seg++;
        p += n;
        while (*p == '/')
            p++;
    }
    return seg == nseg;
}

/* Returns whether a is more specific than b. */
static bool rank_better(const struct match_result *a, const struct match_result *b)
{
    size_t n = a->rank_len < b->rank_len ? a->rank_len : b->rank_len;

    for (size_t i = 0; i < n; i++) {
        if (a->rank[i] != b->rank[i])
            return a->rank[i] > b->rank[i];
    }
    return a->rank_len > b->rank_len;
}

static char *join_segments(const struct http_request *req, size_t first, size_t count, size_t cut)
{
    size_t len = 0;
    char *out, *p;

    for (size_t i = 0; i < count; i++)
        len += strlen(req->target.segments[first + i]) + 1;
    out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    p = out;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(req->target.segments[first + i]);

        if (i > 0)
            *p++ = '/';
        memcpy(p, req->target.segments[first + i], n);
        p += n;
    }
    *p = '\0';
    if (cut > 0 && (size_t)(p - out) >= cut)
        out[(size_t)(p - out) - cut] = '\0';
    return out;
}

static int fill_params(struct http_request *req, const struct match_result *m,
                       struct hub_error *err)
{
    for (size_t i = 0; i < m->count; i++) {
        char *value = join_segments(req, m->first_seg[i], m->seg_count[i], m->suffix_len[i]);
        char *name = strndup(m->names[i], m->name_lens[i]);

        if (value == NULL || name == NULL) {
            free(value);
            free(name);
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate route parameters");
        }
        req->param_names[i] = name;
        req->param_values[i] = value;
        req->param_count = i + 1;
    }
    return 0;
}

int http_router_match(const struct http_router *router, struct http_request *req,
                      struct hub_error *err)
{
    struct match_result best, cur;
    const struct http_route *best_route = NULL;
    bool method_mismatch = false;
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;

    for (size_t i = 0; i < router->route_count; i++) {
        const struct http_route *route = router->routes[i];

        if (!match_pattern(&cur, route->pattern, req))
            continue;
        if (!method_allowed(route->methods, req->method) &&
            !method_allowed(route->methods, method)) {
            method_mismatch = true;
            continue;
        }
        if (route->match != NULL && !route->match(req, route->arg))
            continue;
        if (best_route == NULL || rank_better(&cur, &best)) {
            best = cur;
            best_route = route;
        }
    }
    req->route = best_route;
    if (best_route == NULL)
        return method_mismatch ? 1 : 0;
    req->route_name = best_route->name;
    return fill_params(req, &best, err);
}
