/* web_buf: growable page buffer. Capacity doubles, so appending n bytes costs O(n) overall. */
#include "web_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_error.h"
#include "hub_utf8.h"

static bool web_buf_reserve(struct web_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    char *data;

    if (buf->failed)
        return false;
    if (!hub_size_add(&need, buf->len, extra) || !hub_size_add(&need, need, 1)) {
        buf->failed = true;
        return false;
    }
    if (need <= buf->cap)
        return true;
    cap = buf->cap == 0 ? 1024 : buf->cap;
    while (cap < need) {
        if (!hub_size_mul(&cap, cap, 2)) {
            buf->failed = true;
            return false;
        }
    }
    data = realloc(buf->data, cap);
    if (data == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->cap = cap;
    return true;
}

void web_buf_append(struct web_buf *buf, const char *data, size_t len)
{
    if (len == 0 && buf->data != NULL)
        return;
    if (!web_buf_reserve(buf, len))
        return;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void web_buf_puts(struct web_buf *buf, const char *text)
{
    if (text != NULL)
        web_buf_append(buf, text, strlen(text));
}

void web_buf_printf(struct web_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        buf->failed = true;
        return;
    }
    if (!web_buf_reserve(buf, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}

/* Appends len bytes of valid UTF-8 text with the HTML special characters escaped. */
static void escape_utf8(struct web_buf *buf, const char *text, size_t len)
{
    size_t run = 0;

    for (size_t i = 0; i < len; i++) {
        const char *rep;

        switch (text[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        web_buf_append(buf, text + run, i - run);
        web_buf_puts(buf, rep);
        run = i + 1;
    }
    web_buf_append(buf, text + run, len - run);
}

void web_buf_escape_n(struct web_buf *buf, const char *text, size_t len)
{
    char *repaired;
    size_t repaired_len;

    if (hub_utf8_is_valid(text, len)) {
        escape_utf8(buf, text, len);
        return;
    }
    /* Pages are sent as UTF-8, and git text (file paths, file contents) may hold other bytes,
     * so show those as U+FFFD as a browser would, but in the page itself. */
    repaired = hub_utf8_repair(text, len, &repaired_len);
    if (repaired == NULL) {
        buf->failed = true;
        return;
    }
    escape_utf8(buf, repaired, repaired_len);
    free(repaired);
}

void web_buf_escape(struct web_buf *buf, const char *text)
{
    if (text != NULL)
        web_buf_escape_n(buf, text, strlen(text));
}

void web_buf_url_encode(struct web_buf *buf, const char *text, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    if (text == NULL)
        return;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
                     (keep_slash && *p == '/');

        if (plain) {
            web_buf_append(buf, (const char *)p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            web_buf_append(buf, enc, 3);
        }
    }
}

bool web_buf_failed(const struct web_buf *buf)
{
    return buf->failed;
}

char *web_buf_take(struct web_buf *buf, size_t *len_out)
{
    char *data = buf->data;
    size_t len = buf->len;

    if (buf->failed) {
        free(data);
        data = NULL;
        len = 0;
    }
    *buf = (struct web_buf)WEB_BUF_INIT;
    if (len_out != NULL)
        *len_out = len;
    return data;
}

void web_buf_dispose(struct web_buf *buf)
{
    free(buf->data);
    *buf = (struct web_buf)WEB_BUF_INIT;
}
