/* Tests of hub_log's rate limit: stderr goes to a temporary file, and each check counts the
 * lines written since the previous one. */
#include "harness.h"
#include "hub_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_MS 1000 /* long enough that a loaded machine finishes a burst inside one window */

static int log_fd = -1;
static off_t log_seen; /* bytes of the log already returned by log_take */

/* Returns the lines written since the last call, as one malloc'd string. */
static char *log_take(void)
{
    off_t end = lseek(log_fd, 0, SEEK_END);
    size_t len = end > log_seen ? (size_t)(end - log_seen) : 0;
    char *text = calloc(1, len + 1);

    if (text == NULL)
        abort();
    if (pread(log_fd, text, len, log_seen) != (ssize_t)len)
        abort();
    log_seen = end;
    return text;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Lets every window end and drops their summaries, so that a test that counts lines starts
 * from a table with no open window. */
static void windows_end(void)
{
    sleep_ms(WINDOW_MS + 100);
    hub_log_flush_suppressed();
    free(log_take());
}

static void test_burst_then_summary(void)
{
    char *text;

    for (int i = 0; i < 25; i++)
        hub_log(HUB_LOG_WARN, "disk", "write failed path=/data/blob attempt=%d", i);
    text = log_take();
    CHECK_EQ_INT(count_of(text, "warn disk: write failed"), HUB_LOG_BURST_LINES);
    CHECK(strstr(text, "attempt=9\n") != NULL);
    CHECK(strstr(text, "attempt=10\n") == NULL);
    CHECK_EQ_INT(count_of(text, "suppressed"), 0);
    free(text);

    /* After the window, any line first writes the summary of the dropped ones. */
    sleep_ms(WINDOW_MS + 100);
    hub_log(HUB_LOG_INFO, "http", "request method=GET path=/healthz status=200");
    text = log_take();
    CHECK_EQ_INT(count_of(text, "\n"), 2);
    CHECK(strstr(text, "warn disk: repeated lines suppressed count=15 window_ms=1000 "
                       "format=\"write failed path=/data/blob attempt=%d\"\n") != NULL);
    CHECK(strstr(text, "suppressed") < strstr(text, "info http: request"));
    free(text);

    /* A new window writes the same warning again. */
    hub_log(HUB_LOG_WARN, "disk", "write failed path=/data/blob attempt=%d", 25);
    text = log_take();
    CHECK_EQ_INT(count_of(text, "warn disk: write failed"), 1);
    free(text);
}

static void test_info_never_limited(void)
{
    char *text;

    for (int i = 0; i < 100; i++)
        hub_log(HUB_LOG_INFO, "http", "request method=GET path=/api/models status=200 n=%d", i);
    text = log_take();
    CHECK_EQ_INT(count_of(text, "info http: request"), 100);
    CHECK_EQ_INT(count_of(text, "suppressed"), 0);
    free(text);
}

static void test_flush_and_quotes(void)
{
    char *text;

    windows_end();
    for (int i = 0; i < 12; i++)
        hub_log(HUB_LOG_ERROR, "git", "bad \"%s\" ref", "main");
    hub_log_flush_suppressed();
    text = log_take();
    CHECK_EQ_INT(count_of(text, "error git: bad \"main\" ref"), HUB_LOG_BURST_LINES);
    CHECK(strstr(text, "error git: repeated lines suppressed count=2 window_ms=1000 "
                       "format=\"bad '%s' ref\"\n") != NULL);
    free(text);

    /* The flush reports each drop once. */
    hub_log_flush_suppressed();
    text = log_take();
    CHECK_EQ_INT(count_of(text, "suppressed"), 0);
    free(text);
}

static void *warn_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        hub_log(HUB_LOG_WARN, "jobs", "cannot claim a queued job: database is locked");
    return NULL;
}

static void test_threads_share_one_count(void)
{
    pthread_t threads[4];
    char *text;

    windows_end();
    for (int i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, warn_many, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    hub_log_flush_suppressed();
    text = log_take();
    CHECK_EQ_INT(count_of(text, "warn jobs: cannot claim"), HUB_LOG_BURST_LINES);
    CHECK_EQ_INT(count_of(text, "warn jobs: repeated lines suppressed count=790 "), 1);
    free(text);
}

/* Each call site keeps its own count: 40 sites that each log up to the burst lose nothing.
 * With a shared slot per hash, two of 40 sites would almost surely have collided. */
static void test_sites_counted_apart(void)
{
    static const char formats[40][24] = {
        "site 0 failed n=%d",  "site 1 failed n=%d",  "site 2 failed n=%d",  "site 3 failed n=%d",
        "site 4 failed n=%d",  "site 5 failed n=%d",  "site 6 failed n=%d",  "site 7 failed n=%d",
        "site 8 failed n=%d",  "site 9 failed n=%d",  "site 10 failed n=%d", "site 11 failed n=%d",
        "site 12 failed n=%d", "site 13 failed n=%d", "site 14 failed n=%d", "site 15 failed n=%d",
        "site 16 failed n=%d", "site 17 failed n=%d", "site 18 failed n=%d", "site 19 failed n=%d",
        "site 20 failed n=%d", "site 21 failed n=%d", "site 22 failed n=%d", "site 23 failed n=%d",
        "site 24 failed n=%d", "site 25 failed n=%d", "site 26 failed n=%d", "site 27 failed n=%d",
        "site 28 failed n=%d", "site 29 failed n=%d", "site 30 failed n=%d", "site 31 failed n=%d",
        "site 32 failed n=%d", "site 33 failed n=%d", "site 34 failed n=%d", "site 35 failed n=%d",
        "site 36 failed n=%d", "site 37 failed n=%d", "site 38 failed n=%d", "site 39 failed n=%d",
    };
    char *text;

    windows_end();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    for (int site = 0; site < 40; site++) {
        for (int i = 0; i < HUB_LOG_BURST_LINES; i++)
            hub_log(HUB_LOG_WARN, "sites", formats[site], i);
    }
#pragma GCC diagnostic pop
    hub_log_flush_suppressed();
    text = log_take();
    CHECK_EQ_INT(count_of(text, "warn sites: site "), 40 * HUB_LOG_BURST_LINES);
    CHECK_EQ_INT(count_of(text, "suppressed"), 0);
    free(text);
}

static void test_limit_off(void)
{
    char *text;

    hub_log_set_rate_limit(0, WINDOW_MS);
    for (int i = 0; i < 30; i++)
        hub_log(HUB_LOG_WARN, "lfs", "upload rejected oid=%d", i);
    text = log_take();
    CHECK_EQ_INT(count_of(text, "warn lfs: upload rejected"), 30);
    free(text);
    hub_log_set_rate_limit(HUB_LOG_BURST_LINES, WINDOW_MS);
}

/* Calls hub_logv_prefixed the way a library's logger callback does. */
static void library_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void library_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hub_logv_prefixed(HUB_LOG_WARN, "http", "libmicrohttpd: ", fmt, ap);
    va_end(ap);
}

static void test_library_formats_apart(void)
{
    char *text;

    windows_end();
    /* A message that repeats past the burst drops only its own later lines. */
    for (int i = 0; i < HUB_LOG_BURST_LINES + 5; i++)
        library_log("Error processing request from %s (%d)\n", "127.0.0.1", i);
    library_log("Failed to accept connection: %s\n", "Too many open files");
    text = log_take();
    CHECK_EQ_INT(
        count_of(text, "warn http: libmicrohttpd: Error processing request from 127.0.0.1"),
        HUB_LOG_BURST_LINES);
    CHECK_EQ_INT(count_of(text, "warn http: libmicrohttpd: Failed to accept connection: Too many "
                                "open files"),
                 1);
    free(text);
    hub_log_flush_suppressed();
    text = log_take();
    CHECK_EQ_INT(count_of(text, "repeated lines suppressed count=5"), 1);
    /* The summary names the library's format, its newline written as a space. */
    CHECK(strstr(text, "format=\"Error processing request from %s (%d) \"") != NULL);
    free(text);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    int saved_stderr = dup(STDERR_FILENO);

    snprintf(path, sizeof(path), "%s/atelier-log-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    log_fd = mkstemp(path);
    if (log_fd < 0 || saved_stderr < 0)
        return 1;
    unlink(path);
    dup2(log_fd, STDERR_FILENO);
    hub_log_set_rate_limit(HUB_LOG_BURST_LINES, WINDOW_MS);

    test_burst_then_summary();
    test_info_never_limited();
    test_flush_and_quotes();
    test_threads_share_one_count();
    test_sites_counted_apart();
    test_limit_off();
    test_library_formats_apart();

    dup2(saved_stderr, STDERR_FILENO);
    return test_finish();
}
