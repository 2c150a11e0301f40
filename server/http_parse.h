/* http_parse: splits a raw request target into decoded path segments and query parameters.
 * Pure functions on bytes, so the fuzz target and unit tests run them without a socket. */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include "hub_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_TARGET_BYTES 16384 /* the request path and query string together */
#define HTTP_MAX_SEGMENTS     256   /* path segments */
#define HTTP_MAX_QUERY_PARAMS 256   /* name=value pairs in the query string */

struct http_query_param {
    const char *name;  /* decoded, '+' read as space */
    const char *value; /* decoded, "" for a bare "name" */
};

/* A parsed request target. All strings point into buf, owned by the struct. */
struct http_target {
    char *buf;
    const char *path;      /* raw path, without the query string */
    const char *query;     /* raw query string without '?', "" when none */
    const char **segments; /* decoded, non-empty segments */
    size_t segment_count;
    struct http_query_param *params;
    size_t param_count;
};

#define HTTP_TARGET_INIT                                                                           \
    {                                                                                              \
        NULL, NULL, NULL, NULL, 0, NULL, 0                                                         \
    }

/** Parses the request target raw (len bytes, such as "/api/models?search=a%20b") into out.
 * The path is split on '/' before each segment is percent-decoded, so "%2F" stays inside
 * its segment, and empty segments are dropped. Returns 0, or HUB_EINVAL for a target that
 * does not start with '/', a bad percent escape or a decoded NUL byte. Past the limits above
 * it returns HUB_ETOOBIG. err names the value. out must be disposed on every path. Any thread. */
int http_target_parse(struct http_target *out, const char *raw, size_t len, struct hub_error *err);

/** Frees what http_target_parse put in target. Accepts HTTP_TARGET_INIT. */
void http_target_dispose(struct http_target *target);

/** Decodes len bytes of src with percent escapes into dst (at least len + 1 bytes), adding
 * a NUL. plus_is_space turns '+' into ' ' (query strings only). Returns the decoded length,
 * or -1 for a bad escape or a decoded NUL byte. Any thread. */
long http_percent_decode(char *dst, const char *src, size_t len, bool plus_is_space);

/** Decodes len bytes of standard base64 (RFC 4648, '=' padding optional, no whitespace)
 * into dst, which needs len / 4 * 3 + 3 bytes. Returns the decoded length, or -1 for a byte
 * outside the alphabet, misplaced padding or a length that cannot be base64. Any thread. */
long http_base64_decode(unsigned char *dst, const char *src, size_t len);

enum http_range_result {
    HTTP_RANGE_NONE = 0,          /* no usable Range: send the whole body with 200 */
    HTTP_RANGE_OK = 1,            /* send *start, *length with 206 */
    HTTP_RANGE_UNSATISFIABLE = 2, /* send 416 with Content-Range: bytes *\/TOTAL */
};

/** Parses a Range header (NULL allowed) for a body of total bytes, following RFC 9110
 * section 14: "bytes=a-b", "bytes=a-" and the suffix form "bytes=-n". A header with another
 * unit, bad syntax or several ranges gives HTTP_RANGE_NONE, because a server may ignore Range
 * and several ranges would need a multipart body. A first byte at or past total, and a
 * suffix of 0 bytes, are unsatisfiable. Any thread. */
enum http_range_result http_range_parse(uint64_t *start, uint64_t *length, const char *header,
                                        uint64_t total);

/** Parses "true", "false", "1" or "0" (any case) into *out. Returns false for anything else. */
bool http_parse_bool(bool *out, const char *text);

/** Returns whether a libmicrohttpd message reports a client that closed its connection while
 * a reply was being sent, such as a browser that leaves a page with a live event stream.
 * That is normal client behaviour, logged at debug level instead of warn. Matches the text of
 * libmicrohttpd 0.9.75 (Debian 12). */
bool http_mhd_message_is_client_gone(const char *text);

#endif
