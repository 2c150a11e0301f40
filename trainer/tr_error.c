/* tr_error: formats the trainer's one-line error messages. */
#include "tr_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tr_error_set(struct tr_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int tr_error_prefix(struct tr_error *err, const char *fmt, ...)
{
    char prefix[256];
    char old[sizeof(err->msg)];
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t used = strnlen(prefix, sizeof(prefix));
    if (used > sizeof(err->msg) - 3)
        used = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, used);
    memcpy(err->msg + used, ": ", 2);
    used += 2;
    /* Copy what fits of the old message; the result is always NUL-terminated. */
    size_t rest = strnlen(old, sizeof(old) - 1);
    if (rest > sizeof(err->msg) - 1 - used)
        rest = sizeof(err->msg) - 1 - used;
    memcpy(err->msg + used, old, rest);
    err->msg[used + rest] = '\0';
    return -1;
}
