/* hub_log: level filter, UTC timestamp and a single write(2) per line. */
#include "hub_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = HUB_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hub_log_set_level(enum hub_log_level level)
{
    atomic_store(&log_level, (int)level);
}

bool hub_log_level_parse(enum hub_log_level *out, const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum hub_log_level)i;
            return true;
        }
    }
    return false;
}

bool hub_log_enabled(enum hub_log_level level)
{
    return (int)level >= atomic_load(&log_level);
}

void hub_log(enum hub_log_level level, const char *module, const char *fmt, ...)
{
    char line[2048];
    struct timespec now;
    struct tm tm;
    size_t used;
    va_list ap;
    int n;

    if (!hub_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 now.tv_nsec / 1000000L, level_names[level], module);
    used = n > 0 ? (size_t)n : 0;
    if (used < sizeof(line)) {
        va_start(ap, fmt);
        n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
        va_end(ap);
        if (n > 0)
            used += (size_t)n;
    }
    if (used > sizeof(line) - 2)
        used = sizeof(line) - 2; /* truncated: keep room for the newline */
    for (size_t i = 0; i < used; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[used++] = '\n';
    if (write(STDERR_FILENO, line, used) < 0) {
        /* Nowhere left to report a failed log write. */
    }
}
