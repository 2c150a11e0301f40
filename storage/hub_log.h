/* hub_log: the one logging entry point of the hub. Lines go to stderr as
 *   2026-12-04T10:42:13.512Z info module: text key=value ...
 * one event per line, never a secret (tokens, passwords, Authorization or Cookie headers). */
#ifndef HUB_LOG_H
#define HUB_LOG_H

#include <stdbool.h>

enum hub_log_level {
    HUB_LOG_DEBUG = 0,
    HUB_LOG_INFO = 1,
    HUB_LOG_WARN = 2,
    HUB_LOG_ERROR = 3,
};

/** Sets the lowest level that is written; HUB_LOG_INFO by default. Call before threads start. */
void hub_log_set_level(enum hub_log_level level);

/** Parses "debug", "info", "warn" or "error" into *out; returns false for anything else. */
bool hub_log_level_parse(enum hub_log_level *out, const char *name);

/** Returns whether a line at level would be written. Any thread. */
bool hub_log_enabled(enum hub_log_level level);

/** Writes one log line at level from module. Any thread: each line is one write(2) call,
 * so lines from concurrent threads never interleave. Newlines in the text become spaces. */
void hub_log(enum hub_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
