/* hub_log: level filter, rate limit of repeated warn and error lines, UTC timestamp and a
 * single write(2) per line. */
#include "hub_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Slots of the rate limit table. A call site takes the first slot that is free or its own
 * among LIMIT_PROBES slots from its hash. Only when all of them hold other sites' open
 * windows does it share the first one's count. */
#define LIMIT_SLOTS        256
#define LIMIT_PROBES       8
#define LIMIT_MODULE_BYTES 32
#define LIMIT_FORMAT_BYTES 160

/* One slot of the rate limit table, keyed by the addresses of the call site's format and
 * module strings while its window is open. format names the site that opened the window. */
struct limit_slot {
    const char *key_fmt;
    const char *key_module;
    int64_t window_end_ns;         /* CLOCK_MONOTONIC end of the current window; 0 when unused */
    unsigned written;              /* lines written in the current window */
    unsigned long long suppressed; /* lines dropped in the current window */
    enum hub_log_level level;      /* highest level among the dropped lines */
    char module[LIMIT_MODULE_BYTES];
    char format[LIMIT_FORMAT_BYTES]; /* format of the line that opened the window */
};

static atomic_int log_level = HUB_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static unsigned limit_burst = HUB_LOG_BURST_LINES;
static int64_t limit_window_ns = (int64_t)HUB_LOG_BURST_WINDOW_MS * 1000000;
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct limit_slot limit_slots[LIMIT_SLOTS];
/* Earliest window end among slots with dropped lines, INT64_MAX when none. Read without the
 * lock so that a line with nothing to report costs one atomic load. */
static _Atomic int64_t limit_next_summary_ns = INT64_MAX;

void hub_log_set_level(enum hub_log_level level)
{
    atomic_store(&log_level, (int)level);
}

void hub_log_set_rate_limit(unsigned burst, unsigned window_ms)
{
    limit_burst = burst;
    limit_window_ns = (int64_t)window_ms * 1000000;
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

/* Formats and writes one line. Every line of the log, summaries included, goes through here. */
static void log_vwrite(enum hub_log_level level, const char *module, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec now;
    struct tm tm;
    size_t used;
    int n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L,
                 level_names[level], module);
    used = n > 0 ? (size_t)n : 0;
    if (used < sizeof(line)) {
        n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
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

static void log_write(enum hub_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void log_write(enum hub_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}

static int64_t monotonic_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static size_t limit_slot_index(const char *module, const char *fmt)
{
    uint64_t h = (uint64_t)(uintptr_t)fmt * 31 + (uint64_t)(uintptr_t)module;

    /* The finalizer of SplitMix64, so that nearby string addresses spread over the slots. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (size_t)(h % LIMIT_SLOTS);
}

/* Copies src into dst, truncated, with double quotes turned into single quotes so that the
 * text fits in a quoted value. */
static void copy_for_quotes(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; i + 1 < size && src[i] != '\0'; i++)
        dst[i] = src[i] == '"' ? '\'' : src[i];
    dst[i] = '\0';
}

/* Writes the summary of slot when it dropped lines, and frees the slot. Caller holds
 * limit_lock. */
static void limit_slot_close(struct limit_slot *slot)
{
    if (slot->suppressed > 0) {
        log_write(slot->level, slot->module,
                  "repeated lines suppressed count=%llu window_ms=%lld format=\"%s\"",
                  slot->suppressed, (long long)(limit_window_ns / 1000000), slot->format);
    }
    slot->window_end_ns = 0;
    slot->written = 0;
    slot->suppressed = 0;
}

/* Closes every slot whose window ended by now, or every slot with dropped lines when all is
 * set, and recomputes limit_next_summary_ns. Caller holds limit_lock. */
static void limit_close_expired(int64_t now, bool all)
{
    int64_t next = INT64_MAX;

    for (size_t i = 0; i < LIMIT_SLOTS; i++) {
        struct limit_slot *slot = &limit_slots[i];

        if (slot->window_end_ns == 0)
            continue;
        if (now >= slot->window_end_ns || (all && slot->suppressed > 0))
            limit_slot_close(slot);
        else if (slot->suppressed > 0 && slot->window_end_ns < next)
            next = slot->window_end_ns;
    }
    atomic_store(&limit_next_summary_ns, next);
}

/* Returns the slot of a call site: its own, else a free one it then owns, else the first of
 * its probes. Closes the probed slots whose window ended. Caller holds limit_lock. */
static struct limit_slot *limit_find(const char *module, const char *fmt, int64_t now)
{
    size_t base = limit_slot_index(module, fmt);
    struct limit_slot *free_slot = NULL;

    for (size_t i = 0; i < LIMIT_PROBES; i++) {
        struct limit_slot *slot = &limit_slots[(base + i) % LIMIT_SLOTS];

        if (slot->window_end_ns != 0 && now >= slot->window_end_ns)
            limit_slot_close(slot);
        if (slot->window_end_ns == 0) {
            if (free_slot == NULL)
                free_slot = slot;
        } else if (slot->key_fmt == fmt && slot->key_module == module) {
            return slot;
        }
    }
    if (free_slot == NULL)
        return &limit_slots[base];
    free_slot->key_fmt = fmt;
    free_slot->key_module = module;
    free_slot->window_end_ns = now + limit_window_ns;
    copy_for_quotes(free_slot->module, sizeof(free_slot->module), module);
    copy_for_quotes(free_slot->format, sizeof(free_slot->format), fmt);
    return free_slot;
}

/* Counts one warn or error line against its call site and returns whether to write it. */
static bool limit_admit(enum hub_log_level level, const char *module, const char *fmt, int64_t now)
{
    struct limit_slot *slot;
    bool admit;

    pthread_mutex_lock(&limit_lock);
    slot = limit_find(module, fmt, now);
    admit = slot->written < limit_burst;
    if (admit) {
        slot->written++;
    } else {
        if (slot->suppressed == 0 || level > slot->level)
            slot->level = level;
        if (slot->suppressed == 0 && slot->window_end_ns < atomic_load(&limit_next_summary_ns))
            atomic_store(&limit_next_summary_ns, slot->window_end_ns);
        slot->suppressed++;
    }
    pthread_mutex_unlock(&limit_lock);
    return admit;
}

void hub_log_flush_suppressed(void)
{
    pthread_mutex_lock(&limit_lock);
    limit_close_expired(monotonic_ns(), true);
    pthread_mutex_unlock(&limit_lock);
}

/* Writes the summaries of windows that ended, then returns whether a line of level from the
 * call site (module, fmt) is written: enabled and not dropped by the rate limit. */
static bool log_admit(enum hub_log_level level, const char *module, const char *fmt)
{
    int64_t now = 0;

    if (!hub_log_enabled(level))
        return false;
    if (atomic_load(&limit_next_summary_ns) != INT64_MAX) {
        now = monotonic_ns();
        if (now >= atomic_load(&limit_next_summary_ns)) {
            pthread_mutex_lock(&limit_lock);
            limit_close_expired(now, false);
            pthread_mutex_unlock(&limit_lock);
        }
    }
    if (level < HUB_LOG_WARN || limit_burst == 0)
        return true;
    if (now == 0)
        now = monotonic_ns();
    return limit_admit(level, module, fmt, now);
}

void hub_log(enum hub_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;

    if (!log_admit(level, module, fmt))
        return;
    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}

void hub_log_always(enum hub_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}

void hub_logv_prefixed(enum hub_log_level level, const char *module, const char *prefix,
                       const char *fmt, va_list ap)
{
    char text[1024];

    if (!log_admit(level, module, fmt))
        return;
    vsnprintf(text, sizeof(text), fmt, ap);
    log_write(level, module, "%s%s", prefix, text);
}
