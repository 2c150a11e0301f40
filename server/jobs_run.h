/* jobs_run: runs one trainer command (`atelier train` or `atelier eval`) as a child process of
 * the worker, with its stderr copied to the job log, its progress lines handed to a
 * callback, and its stdout either logged or captured. */
#ifndef JOBS_RUN_H
#define JOBS_RUN_H

#include "hub_error.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/** Receives one line of the child's progress descriptor (without the newline). */
typedef void (*jobs_line_fn)(void *ctx, const char *line, size_t len);

/** Returns true when the child must be stopped now (cancel, lost lease, SIGTERM). */
typedef bool (*jobs_stop_fn)(void *ctx);

/** Runs after each round of the poll loop, at least every 200 ms while the child runs. */
typedef void (*jobs_tick_fn)(void *ctx);

struct jobs_run_opts {
    char *const *argv;        /* argv[0] is the atelier binary; NULL-terminated */
    int log_fd;               /* receives stderr, and stdout unless capture_stdout */
    bool capture_stdout;      /* collect stdout into the result instead of the log */
    jobs_line_fn on_progress; /* NULL: no progress descriptor; else the child gets it as fd 3 */
    jobs_line_fn on_stderr;   /* each stderr line after it reached the log; may be NULL */
    jobs_stop_fn should_stop; /* polled about every 200 ms; may be NULL */
    jobs_tick_fn on_tick;     /* may be NULL */
    void *ctx;
};

struct jobs_run_result {
    int exit_code;        /* valid when !signaled */
    bool signaled;        /* the child died from a signal */
    int signal;           /* that signal */
    bool stopped;         /* should_stop asked for the stop */
    char last_error[512]; /* the last non-empty stderr line, "" when none */
    char *stdout_text;    /* captured stdout (NUL-terminated), or NULL; owned, free() */
};

/** Runs the command and waits for it. On a stop request it sends SIGTERM, then SIGKILL after
 * 5 s. The child gets PR_SET_PDEATHSIG, so it dies with the worker. Returns 0 when the child
 * ran (see result for how it ended) or HUB_EIO when it could not start. Worker process. */
int jobs_run(struct jobs_run_result *result, const struct jobs_run_opts *opts,
             struct hub_error *err);

#endif
