/* http_parse: request target splitting and percent decoding. One allocation contains the raw
 * target, the decoded segments and the decoded query parameters, so disposal is one free()
 * for the bytes plus the two pointer arrays. */
#include "http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long http_percent_decode(char *dst, const char *src, size_t len, bool plus_is_space)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        char c = src[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3)
                return -1;
            hi = hex_value(src[i + 1]);
            lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            return -1;
        dst[out++] = c;
    }
    dst[out] = '\0';
    return (long)out;
}

bool http_parse_bool(bool *out, const char *text)
{
    if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0) {
        *out = false;
        return true;
    }
    return false;
}

void http_target_dispose(struct http_target *target)
{
    free(target->buf);
    free(target->segments);
    free(target->params);
    memset(target, 0, sizeof(*target));
}

/* Copies the raw path and query into the front of buf and returns where decoded text goes. */
static char *copy_raw(struct http_target *out, const char *raw, size_t path_len, size_t query_len,
                      const char *query_src)
{
    char *p = out->buf;

    memcpy(p, raw, path_len);
    p[path_len] = '\0';
    out->path = p;
    p += path_len + 1;
    memcpy(p, query_src, query_len);
    p[query_len] = '\0';
    out->query = p;
    return p + query_len + 1;
}

static int split_segments(struct http_target *out, char **cursor, const char *path, size_t path_len,
                          struct hub_error *err)
{
    size_t start = 1;

    while (start <= path_len) {
        const char *slash = memchr(path + start, '/', path_len - start);
        size_t end = slash != NULL ? (size_t)(slash - path) : path_len;
        long n;

        if (end > start) {
            if (out->segment_count == HTTP_MAX_SEGMENTS)
                return hub_error_set(err, HUB_ETOOBIG, "request path has more than %d segments",
                                     HTTP_MAX_SEGMENTS);
            n = http_percent_decode(*cursor, path + start, end - start, false);
            if (n < 0)
                return hub_error_set(err, HUB_EINVAL,
                                     "invalid percent escape or NUL byte in request path "
                                     "segment '%.*s'",
                                     (int)(end - start > 80 ? 80 : end - start), path + start);
            out->segments[out->segment_count++] = *cursor;
            *cursor += (size_t)n + 1;
        }
        start = end + 1;
    }
    return 0;
}

static int query_error(const char *param, size_t len, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINVAL,
                         "invalid percent escape or NUL byte in query parameter '%.*s'",
                         (int)(len > 80 ? 80 : len), param);
}

static int split_query(struct http_target *out, char *cursor, const char *query, size_t len,
                       struct hub_error *err)
{
    size_t start = 0;

    while (start < len) {
        const char *amp = memchr(query + start, '&', len - start);
        size_t end = amp != NULL ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + start, '=', end - start);
        size_t name_end = eq != NULL ? (size_t)(eq - query) : end;
        struct http_query_param *param;
        long n;

        if (end > start) {
            if (out->param_count == HTTP_MAX_QUERY_PARAMS)
                return hub_error_set(err, HUB_ETOOBIG, "query string has more than %d parameters",
                                     HTTP_MAX_QUERY_PARAMS);
            param = &out->params[out->param_count];
            n = http_percent_decode(cursor, query + start, name_end - start, true);
            if (n < 0)
                return query_error(query + start, end - start, err);
            param->name = cursor;
            cursor += (size_t)n + 1;
            param->value = "";
            if (eq != NULL) {
                n = http_percent_decode(cursor, eq + 1, end - name_end - 1, true);
                if (n < 0)
                    return query_error(query + start, end - start, err);
                param->value = cursor;
                cursor += (size_t)n + 1;
            }
            out->param_count++;
        }
        start = end + 1;
    }
    return 0;
}

int http_target_parse(struct http_target *out, const char *raw, size_t len, struct hub_error *err)
{
    const char *qmark;
    size_t path_len, query_len, cap;
    char *cursor;
    int rc;

    *out = (struct http_target)HTTP_TARGET_INIT;
    if (len > HTTP_MAX_TARGET_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "request target is longer than %d bytes",
                             HTTP_MAX_TARGET_BYTES);
    if (len == 0 || raw[0] != '/')
        return hub_error_set(err, HUB_EINVAL, "request target must start with '/'");
    qmark = memchr(raw, '?', len);
    path_len = qmark != NULL ? (size_t)(qmark - raw) : len;
    query_len = qmark != NULL ? len - path_len - 1 : 0;

    /* Raw path and query, then decoded text (never longer than the raw), each NUL-ended:
     * at most 2 * len + one NUL per segment and per name and value. Within limits above. */
    cap = 2 * len + 2 * (size_t)HTTP_MAX_QUERY_PARAMS + (size_t)HTTP_MAX_SEGMENTS + 4;
    out->buf = malloc(cap);
    out->segments = calloc(HTTP_MAX_SEGMENTS, sizeof(*out->segments));
    out->params = calloc(HTTP_MAX_QUERY_PARAMS, sizeof(*out->params));
    if (out->buf == NULL || out->segments == NULL || out->params == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the request target");
    cursor = copy_raw(out, raw, path_len, query_len, qmark != NULL ? qmark + 1 : "");
    rc = split_segments(out, &cursor, out->path, path_len, err);
    if (rc < 0)
        return rc;
    return split_query(out, cursor, out->query, query_len, err);
}

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long http_base64_decode(unsigned char *dst, const char *src, size_t len)
{
    size_t out = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t data_len = len;

    /* At most two '=' at the end, and only where they complete a 4-character group. */
    while (data_len > 0 && src[data_len - 1] == '=' && len - data_len < 2)
        data_len--;
    if (data_len != len && len % 4 != 0)
        return -1;
    if (data_len % 4 == 1)
        return -1;
    for (size_t i = 0; i < data_len; i++) {
        int v = base64_value((unsigned char)src[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)out;
}

/* Parses the digits at *p (at least one) into *out, saturating at UINT64_MAX. */
static bool range_number(uint64_t *out, const char **p)
{
    uint64_t n = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (UINT64_MAX - 9) / 10)
            n = UINT64_MAX;
        else
            n = n * 10 + (uint64_t)(*s - '0');
    }
    *out = n;
    *p = s;
    return true;
}

enum http_range_result http_range_parse(uint64_t *start, uint64_t *length, const char *header,
                                        uint64_t total)
{
    const char *p = header;
    uint64_t first, last, suffix;

    if (p == NULL)
        return HTTP_RANGE_NONE;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bytes=", 6) != 0 || strchr(p, ',') != NULL)
        return HTTP_RANGE_NONE;
    p += 6;
    while (*p == ' ')
        p++;
    if (*p == '-') {
        p++;
        if (!range_number(&suffix, &p))
            return HTTP_RANGE_NONE;
        while (*p == ' ')
            p++;
        if (*p != '\0')
            return HTTP_RANGE_NONE;
        if (suffix == 0 || total == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        if (suffix > total)
            suffix = total;
        *start = total - suffix;
        *length = suffix;
        return HTTP_RANGE_OK;
    }
    if (!range_number(&first, &p) || *p != '-')
        return HTTP_RANGE_NONE;
    p++;
    last = UINT64_MAX;
    if (*p >= '0' && *p <= '9' && !range_number(&last, &p))
        return HTTP_RANGE_NONE;
    while (*p == ' ')
        p++;
    if (*p != '\0' || last < first)
        return HTTP_RANGE_NONE;
    if (first >= total)
        return HTTP_RANGE_UNSATISFIABLE;
    if (last >= total)
        last = total - 1;
    *start = first;
    *length = last - first + 1;
    return HTTP_RANGE_OK;
}

bool http_mhd_message_is_client_gone(const char *text)
{
    /* libmicrohttpd 0.9.75 ends these with the error text: "forcibly closed by remote peer"
     * after a reset (ECONNRESET), "no longer available for sending" after EPIPE. */
    return strncmp(text, "Failed to send ", 15) == 0 &&
           (strstr(text, "forcibly closed by remote peer") != NULL ||
            strstr(text, "no longer available for sending") != NULL);
}
