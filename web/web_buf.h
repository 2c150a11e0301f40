/* web_buf: a growable byte buffer that pages are written into. Appends after an allocation
 * failure are ignored and the buffer remembers the failure, so page code can append freely
 * and check web_buf_failed() once at the end. */
#ifndef WEB_BUF_H
#define WEB_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct web_buf {
    char *data;  /* NUL-terminated when not NULL; owned */
    size_t len;  /* bytes used, without the NUL */
    size_t cap;  /* bytes allocated */
    bool failed; /* an allocation failed, so the content is incomplete */
};

#define WEB_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

/** Appends len bytes of data. */
void web_buf_append(struct web_buf *buf, const char *data, size_t len);

/** Appends a NUL-terminated string; NULL appends nothing. */
void web_buf_puts(struct web_buf *buf, const char *text);

/** Appends printf-formatted text. Never use it with user text in the format. */
void web_buf_printf(struct web_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Appends len bytes of text with & < > " ' escaped for HTML text and attribute values. */
void web_buf_escape_n(struct web_buf *buf, const char *text, size_t len);

/** Appends a NUL-terminated string HTML-escaped; NULL appends nothing. */
void web_buf_escape(struct web_buf *buf, const char *text);

/** Appends text percent-encoded for one URL path segment or query value: everything but
 * A-Z a-z 0-9 - . _ ~ is encoded, and '/' too unless keep_slash is set. */
void web_buf_url_encode(struct web_buf *buf, const char *text, bool keep_slash);

/** Returns whether an append failed. */
bool web_buf_failed(const struct web_buf *buf);

/** Hands the data over to the caller (free()) and resets buf. Returns NULL when an append
 * failed or nothing was appended, and frees what was there. *len_out (NULL allowed) gets
 * the length. */
char *web_buf_take(struct web_buf *buf, size_t *len_out);

/** Frees the data and resets buf. Accepts WEB_BUF_INIT. */
void web_buf_dispose(struct web_buf *buf);

#endif
