/* hub_error: fills the error record that hub functions pass up to their caller. */
#include "hub_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void error_format(struct hub_error *err, int code, int sys_errno, const char *fmt,
                         va_list ap)
{
    err->code = code;
    err->sys_errno = sys_errno;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (sys_errno != 0) {
        size_t used = strlen(err->msg);
        char buf[128];
        /* _GNU_SOURCE selects the GNU strerror_r, which returns the text (maybe not in buf). */
        const char *text = strerror_r(sys_errno, buf, sizeof(buf));

        if (used < sizeof(err->msg))
            snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", text);
    }
}

int hub_error_set(struct hub_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    error_format(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int hub_error_set_errno(struct hub_error *err, int code, int sys_errno, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    error_format(err, code, sys_errno, fmt, ap);
    va_end(ap);
    return code;
}

const char *hub_errcode_name(int code)
{
    switch (code) {
    case HUB_OK:
        return "OK";
    case HUB_EINVAL:
        return "EINVAL";
    case HUB_ENOTFOUND:
        return "ENOTFOUND";
    case HUB_ECONFLICT:
        return "ECONFLICT";
    case HUB_ETOOBIG:
        return "ETOOBIG";
    case HUB_ENOMEM:
        return "ENOMEM";
    case HUB_EIO:
        return "EIO";
    case HUB_EINTERNAL:
        return "EINTERNAL";
    case HUB_EAUTH:
        return "EAUTH";
    case HUB_EFORBIDDEN:
        return "EFORBIDDEN";
    default:
        return "EUNKNOWN";
    }
}
