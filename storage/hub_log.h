/* hub_log: the one logging entry point of the hub. Lines go to stderr as
 *   2026-12-04T10:42:13.512Z info module: text key=value ...
 * one event per line, never a secret (tokens, passwords, Authorization or Cookie headers).
 * Warn and error lines are rate limited per call site: after HUB_LOG_BURST_LINES lines in
 * HUB_LOG_BURST_WINDOW_MS the rest of the window is dropped, and the first line logged after
 * the window (or hub_log_flush_suppressed) writes one summary at the same level:
 *   ... warn module: repeated lines suppressed count=N window_ms=10000 format="..."
 * Debug and info lines, the per-request access lines among them, are never limited. */
#ifndef HUB_LOG_H
#define HUB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum hub_log_level {
    HUB_LOG_DEBUG = 0,
    HUB_LOG_INFO = 1,
    HUB_LOG_WARN = 2,
    HUB_LOG_ERROR = 3,
};

/** Lines that one warn or error call site may write per window before the rest are dropped. */
#define HUB_LOG_BURST_LINES 10
/** Length of the rate limit window in milliseconds. It starts at a call site's first line. */
#define HUB_LOG_BURST_WINDOW_MS 10000

/** Sets the lowest level that is written; HUB_LOG_INFO by default. Call before threads start. */
void hub_log_set_level(enum hub_log_level level);

/** Sets the rate limit of warn and error lines; burst 0 turns it off. The daemon sets it from
 * --log-repeat-lines and --log-repeat-window-s, whose defaults are the values above. Call
 * before threads start. */
void hub_log_set_rate_limit(unsigned burst, unsigned window_ms);

/** Writes the summary line of every call site with dropped lines now, without waiting for its
 * window to end. The daemon calls it when it stops. Any thread. */
void hub_log_flush_suppressed(void);

/** Parses "debug", "info", "warn" or "error" into *out; returns false for anything else. */
bool hub_log_level_parse(enum hub_log_level *out, const char *name);

/** Returns whether a line at level would be written. Any thread. */
bool hub_log_enabled(enum hub_log_level level);

/** Writes one log line at level from module, unless the rate limit drops it. The call site is
 * keyed by the addresses of fmt and module, so pass string literals. Any thread: each line is
 * one write(2) call, so lines from concurrent threads never interleave. Newlines in the text
 * become spaces. */
void hub_log(enum hub_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Writes one log line at level from module whatever the level set by hub_log_set_level, and
 * outside the rate limit. For the few lines an operator always needs, such as the address
 * and port the daemon listens on. Any thread. */
void hub_log_always(enum hub_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Writes one log line of text prefix followed by fmt formatted with ap, for messages that
 * another library hands over with its own format (libmicrohttpd's logger). The rate limit
 * keys the call site by the addresses of fmt and module, so each of the library's messages
 * is counted apart when the library passes its string literals. Any thread. */
void hub_logv_prefixed(enum hub_log_level level, const char *module, const char *prefix,
                       const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif
