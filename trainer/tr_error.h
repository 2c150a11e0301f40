/* tr_error: the error record of the trainer library. Trainer functions return 0 on success
 * and -1 on failure with a one-line message in err that names the value that failed and,
 * where there is one, the fix. The trainer knows nothing of HTTP, SQL or git. */
#ifndef TR_ERROR_H
#define TR_ERROR_H

#include <stddef.h>

struct tr_error {
    char msg[512]; /* one line; empty when no error was recorded */
};

/** Fills err (when not NULL) and returns -1, so callers can write return tr_error_set(...). */
int tr_error_set(struct tr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Prepends context such as a file name to the message already in err; returns -1. */
int tr_error_prefix(struct tr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
