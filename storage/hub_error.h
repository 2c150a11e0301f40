/* Error codes and the error record that travels with every call in the hub (storage, server,
 * web). Functions return 0 or a negative HUB_E* code and fill a struct hub_error where the
 * failure is detected; one function in the HTTP layer maps codes to statuses. */
#ifndef HUB_ERROR_H
#define HUB_ERROR_H

#include <stddef.h>
#include <stdint.h>

enum hub_errcode {
    HUB_OK = 0,
    HUB_EINVAL = -1,    /* malformed request or argument */
    HUB_ENOTFOUND = -2, /* repository, blob or ref does not exist */
    HUB_ECONFLICT = -3, /* already exists, or a concurrent update won */
    HUB_ETOOBIG = -4,   /* input over a limit from hub_limits.h */
    HUB_ENOMEM = -5,    /* allocation failed */
    HUB_EIO = -6,       /* disk, database or git failure; sys_errno may say more */
    HUB_EINTERNAL = -7, /* broken invariant: a bug */
    HUB_EAUTH = -8,     /* no credentials, or credentials that are invalid */
    HUB_EFORBIDDEN = -9 /* valid credentials without the right to do this */
};

/* Bytes of hub_error.msg with its NUL. Longer messages are cut. An error that names two repo
 * ids, a revision and the fix fits. */
#define HUB_ERROR_MSG_BYTES 1024

struct hub_error {
    int code;                      /* enum hub_errcode */
    int sys_errno;                 /* errno of the failed system call, or 0 */
    char msg[HUB_ERROR_MSG_BYTES]; /* one line that names the value that failed */
};

#define HUB_ERROR_INIT {0, 0, {0}}

/** Fills err when it is not NULL and returns code, so callers can write
 * rc = hub_error_set(...). Any thread. */
int hub_error_set(struct hub_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Like hub_error_set, and records errno (read by the caller right after the failed call). */
int hub_error_set_errno(struct hub_error *err, int code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Returns a short constant name for code, such as "EINVAL". */
const char *hub_errcode_name(int code);

/** Adds a and b into *out; returns false on size_t overflow. */
static inline int hub_size_add(size_t *out, size_t a, size_t b)
{
    return !__builtin_add_overflow(a, b, out);
}

/** Multiplies a and b into *out; returns false on size_t overflow. */
static inline int hub_size_mul(size_t *out, size_t a, size_t b)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif
