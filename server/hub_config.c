/* hub_config: defaults and command-line parsing for `atelier serve`. Every limit in struct
 * hub_config has one row in the flag table below, which also prints --help. */
#include "hub_config.h"

#include "hub_limits.h"
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUB_DEFAULT_LISTEN                   "127.0.0.1:8080"
#define HUB_DEFAULT_THREADS                  4
#define HUB_DEFAULT_WORKERS                  1
#define HUB_DEFAULT_CONNECTIONS              1024
#define HUB_DEFAULT_TIMEOUT_S                600
#define HUB_DEFAULT_PAGE_ITEMS               1000
#define HUB_DEFAULT_BATCH                    1000
#define HUB_DEFAULT_HREF_TTL_S               3600
#define HUB_DEFAULT_JOBS_QUEUED              20
#define HUB_DEFAULT_JOBS_ATTEMPTS            3
#define HUB_DEFAULT_JOBS_HEARTBEAT_TIMEOUT_S 60
#define HUB_DEFAULT_JOBS_CANCEL_GRACE_S      5
/* A worker stores a heartbeat every 2 s (JOBS_HEARTBEAT_INTERVAL_S), so a shorter timeout
 * than three intervals would give up on healthy workers. */
#define HUB_MIN_JOBS_HEARTBEAT_TIMEOUT_S 6
/* Commit bodies carry base64 file contents, 4/3 of the file size plus the JSON around it. */
#define HUB_DEFAULT_COMMIT_BODY (HUB_MAX_GIT_FILE_BYTES * 2)

enum flag_kind {
    FLAG_COUNT, /* a plain integer */
    FLAG_BYTES, /* an integer with an optional K, M, G or T suffix (powers of 1024) */
};

struct limit_flag {
    const char *name;
    size_t offset; /* of the uint64_t field in struct hub_config */
    enum flag_kind kind;
    uint64_t min;
    uint64_t max;
    const char *help;
    const char *env; /* environment variable read when the flag is not given, or NULL */
};

#define LIMIT(field) offsetof(struct hub_config, field)

static const struct limit_flag limit_flags[] = {
    {"--max-json-body-bytes", LIMIT(max_json_body_bytes), FLAG_BYTES, 1024, 1ull << 30,
     "largest JSON request body", NULL},
    {"--max-commit-body-bytes", LIMIT(max_commit_body_bytes), FLAG_BYTES, 1024, 1ull << 40,
     "largest NDJSON commit request body", NULL},
    {"--max-commit-file-bytes", LIMIT(max_commit_file_bytes), FLAG_BYTES, 1, 1ull << 32,
     "largest decoded file inside a commit request", NULL},
    {"--max-commit-operations", LIMIT(max_commit_operations), FLAG_COUNT, 1, 10000000,
     "most file operations in one commit request", NULL},
    {"--max-upload-bytes", LIMIT(max_upload_bytes), FLAG_BYTES, 1, 1ull << 50, "largest LFS object",
     NULL},
    {"--max-batch-objects", LIMIT(max_batch_objects), FLAG_COUNT, 1, 100000,
     "most objects in one LFS batch request", NULL},
    {"--max-connections", LIMIT(max_connections), FLAG_COUNT, 1, 1000000,
     "most open client connections", NULL},
    {"--connection-timeout-s", LIMIT(connection_timeout_s), FLAG_COUNT, 1, 86400,
     "seconds an idle connection stays open", NULL},
    {"--max-page-items", LIMIT(max_page_items), FLAG_COUNT, 1, 100000,
     "most entries in one page of a listing", NULL},
    {"--lfs-href-ttl-s", LIMIT(lfs_href_ttl_s), FLAG_COUNT, 60, 7 * 86400,
     "seconds a signed LFS upload or download URL stays valid", NULL},
    {"--lfs-threshold-bytes", LIMIT(lfs_threshold_bytes), FLAG_BYTES, 0, 1ull << 40,
     "files larger than this are uploaded as LFS objects", NULL},
    {"--max-queued-jobs-per-user", LIMIT(jobs_max_queued_per_user), FLAG_COUNT, 0, 100000,
     "queued jobs per user, 0 for no limit (default 20)", "ATELIER_JOBS_MAX_QUEUED_PER_USER"},
    {"--max-running-jobs-per-user", LIMIT(jobs_max_running_per_user), FLAG_COUNT, 0, 1024,
     "running jobs per user, 0 for no limit (default 0)", "ATELIER_JOBS_MAX_RUNNING_PER_USER"},
    {"--job-attempts", LIMIT(jobs_max_attempts), FLAG_COUNT, 1, 100,
     "attempts per job before it fails (default 3)", "ATELIER_JOBS_MAX_ATTEMPTS"},
    {"--job-heartbeat-timeout", LIMIT(jobs_heartbeat_timeout_s), FLAG_COUNT,
     HUB_MIN_JOBS_HEARTBEAT_TIMEOUT_S, 86400,
     "seconds without a heartbeat before a worker is dead (default 60)",
     "ATELIER_JOBS_HEARTBEAT_TIMEOUT_S"},
    {"--job-cancel-grace", LIMIT(jobs_cancel_grace_s), FLAG_COUNT, 1, 600,
     "seconds from SIGTERM to SIGKILL when a worker is stopped (default 5)",
     "ATELIER_JOBS_CANCEL_GRACE_S"},
    {"--max-job-seconds", LIMIT(jobs_max_job_s), FLAG_COUNT, 0, 366 * 86400,
     "seconds a job's attempt may run before the job is canceled, 0 for no limit (default 0)",
     NULL},
    {"--max-upload-rings", LIMIT(max_upload_rings), FLAG_COUNT, 0, 4096,
     "LFS uploads of 8 MiB or more that get a 16 MiB buffer ring at once (default 8)", NULL},
    {"--log-repeat-lines", LIMIT(log_repeat_lines), FLAG_COUNT, 0, 1000000,
     "warn or error lines one call site may log per window, 0 for no limit (default 10)", NULL},
    {"--log-repeat-window-s", LIMIT(log_repeat_window_s), FLAG_COUNT, 1, 86400,
     "seconds of the --log-repeat-lines window (default 10)", NULL},
};

static int limits_from_env(struct hub_config *config, struct hub_error *err);

int hub_config_init(struct hub_config *config, struct hub_error *err)
{
    memset(config, 0, sizeof(*config));
    config->listen_host = strdup("127.0.0.1");
    if (config->listen_host == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the configuration");
    config->listen_port = 8080;
    config->threads = HUB_DEFAULT_THREADS;
    config->workers = HUB_DEFAULT_WORKERS;
    config->log_level = HUB_LOG_INFO;
    config->max_json_body_bytes = HUB_MAX_JSON_BODY_BYTES;
    config->max_commit_body_bytes = HUB_DEFAULT_COMMIT_BODY;
    config->max_commit_file_bytes = HUB_MAX_GIT_FILE_BYTES;
    config->max_commit_operations = HUB_MAX_COMMIT_OPS;
    config->max_upload_bytes = HUB_MAX_LFS_OBJECT_BYTES;
    config->max_batch_objects = HUB_DEFAULT_BATCH;
    config->max_connections = HUB_DEFAULT_CONNECTIONS;
    config->connection_timeout_s = HUB_DEFAULT_TIMEOUT_S;
    config->max_page_items = HUB_DEFAULT_PAGE_ITEMS;
    config->lfs_href_ttl_s = HUB_DEFAULT_HREF_TTL_S;
    config->lfs_threshold_bytes = HUB_LFS_THRESHOLD_BYTES;
    config->jobs_max_queued_per_user = HUB_DEFAULT_JOBS_QUEUED;
    config->jobs_max_running_per_user = 0;
    config->jobs_max_attempts = HUB_DEFAULT_JOBS_ATTEMPTS;
    config->jobs_heartbeat_timeout_s = HUB_DEFAULT_JOBS_HEARTBEAT_TIMEOUT_S;
    config->jobs_cancel_grace_s = HUB_DEFAULT_JOBS_CANCEL_GRACE_S;
    config->max_upload_rings = STORE_DEFAULT_MAX_RINGS;
    config->log_repeat_lines = HUB_LOG_BURST_LINES;
    config->log_repeat_window_s = HUB_LOG_BURST_WINDOW_MS / 1000;
    return limits_from_env(config, err);
}

void hub_config_dispose(struct hub_config *config)
{
    free(config->data_dir);
    free(config->listen_host);
    free(config->public_url);
    config->data_dir = NULL;
    config->listen_host = NULL;
    config->public_url = NULL;
}

/* Parses a decimal integer without sign, with an optional binary suffix when bytes is set. */
static int parse_u64(uint64_t *out, const char *text, bool bytes)
{
    char *end = NULL;
    unsigned long long value;
    uint64_t scale = 1;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text)
        return -1;
    if (bytes && *end != '\0') {
        switch (*end) {
        case 'K':
        case 'k':
            scale = 1ull << 10;
            break;
        case 'M':
        case 'm':
            scale = 1ull << 20;
            break;
        case 'G':
        case 'g':
            scale = 1ull << 30;
            break;
        case 'T':
        case 't':
            scale = 1ull << 40;
            break;
        default:
            return -1;
        }
        end++;
    }
    if (*end != '\0')
        return -1;
    if (__builtin_mul_overflow((uint64_t)value, scale, out))
        return -1;
    return 0;
}

/* Splits "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses). */
static int parse_listen(struct hub_config *config, const char *text, struct hub_error *err)
{
    const char *colon = strrchr(text, ':');
    const char *host = text;
    size_t host_len;
    uint64_t port;
    char *copy;

    if (colon == NULL || parse_u64(&port, colon + 1, false) < 0 || port > 65535)
        return hub_error_set(err, HUB_EINVAL,
                             "invalid --listen '%s': expected HOST:PORT such as 127.0.0.1:8080 "
                             "(port 0 picks a free port)",
                             text);
    host_len = (size_t)(colon - text);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len == 0) {
        host = "0.0.0.0";
        host_len = strlen(host);
    }
    copy = strndup(host, host_len);
    if (copy == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the listen address");
    free(config->listen_host);
    config->listen_host = copy;
    config->listen_port = (unsigned)port;
    return 0;
}

static int set_string(char **field, const char *value, struct hub_error *err)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the configuration");
    free(*field);
    *field = copy;
    return 0;
}

static int parse_public_url(struct hub_config *config, const char *value, struct hub_error *err)
{
    size_t len = strlen(value);
    const char *host;
    int rc;

    if (strncmp(value, "http://", 7) == 0)
        host = value + 7;
    else if (strncmp(value, "https://", 8) == 0)
        host = value + 8;
    else
        return hub_error_set(err, HUB_EINVAL,
                             "invalid --public-url '%s': expected an http:// or https:// URL",
                             value);
    /* The host ends at the port, the path, the query or the fragment. */
    if (strcspn(host, ":/?#") == 0)
        return hub_error_set(err, HUB_EINVAL,
                             "invalid --public-url '%s': the URL has no host; give the address "
                             "clients reach the hub at, such as https://hub.example.org",
                             value);
    rc = set_string(&config->public_url, value, err);
    if (rc < 0)
        return rc;
    while (len > 0 && config->public_url[len - 1] == '/')
        config->public_url[--len] = '\0';
    return 0;
}

static int parse_thread_count(unsigned *out, const char *flag, const char *value,
                              struct hub_error *err)
{
    uint64_t n;

    if (parse_u64(&n, value, false) < 0 || n < 1 || n > 1024)
        return hub_error_set(err, HUB_EINVAL,
                             "invalid %s '%s': expected a whole number from 1 to 1024", flag,
                             value);
    *out = (unsigned)n;
    return 0;
}

static int parse_limit(struct hub_config *config, const struct limit_flag *flag, const char *value,
                       struct hub_error *err)
{
    uint64_t n;
    uint64_t *field = (uint64_t *)((char *)config + flag->offset);

    if (parse_u64(&n, value, flag->kind == FLAG_BYTES) < 0 || n < flag->min || n > flag->max)
        return hub_error_set(
            err, HUB_EINVAL, "invalid %s '%s': expected %s from %llu to %llu", flag->name, value,
            flag->kind == FLAG_BYTES ? "a byte count (suffix K, M, G or T)" : "a whole number",
            (unsigned long long)flag->min, (unsigned long long)flag->max);
    *field = n;
    return 0;
}

/* Reads the limits that have an environment variable from the variables that are set. The
 * variables predate the flags and stay as a fallback for scripts that set them. */
static int limits_from_env(struct hub_config *config, struct hub_error *err)
{
    for (size_t i = 0; i < sizeof(limit_flags) / sizeof(limit_flags[0]); i++) {
        const struct limit_flag *flag = &limit_flags[i];
        const char *text = flag->env != NULL ? getenv(flag->env) : NULL;
        uint64_t n;

        if (text == NULL || text[0] == '\0')
            continue;
        if (parse_u64(&n, text, false) < 0 || n < flag->min || n > flag->max)
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid %s '%.40s': expected a whole number from %llu to %llu "
                                 "(or use %s)",
                                 flag->env, text, (unsigned long long)flag->min,
                                 (unsigned long long)flag->max, flag->name);
        *(uint64_t *)((char *)config + flag->offset) = n;
    }
    return 0;
}

static void print_help(void)
{
    printf("usage: atelier serve --data DIR [--listen HOST:PORT] [OPTIONS]\n\n"
           "Runs the hub daemon: the Hugging Face Hub API, git, LFS, pages and the job queue.\n\n"
           "  --data DIR              data directory (created when missing)\n"
           "  --listen HOST:PORT      address to listen on (default %s; port 0 picks a\n"
           "                          free port and logs it)\n"
           "  --public-url URL        base URL clients reach the hub at, used in links and\n"
           "                          LFS URLs (default: http:// and the request's Host)\n"
           "  --threads N             HTTP threads (default %d)\n"
           "  --workers N             training and evaluation jobs run at once (default %d)\n"
           "  --log-level L           debug, info, warn or error (default info)\n",
           HUB_DEFAULT_LISTEN, HUB_DEFAULT_THREADS, HUB_DEFAULT_WORKERS);
    printf("\nLimits (byte counts accept a K, M, G or T suffix):\n");
    for (size_t i = 0; i < sizeof(limit_flags) / sizeof(limit_flags[0]); i++)
        printf("  %-28s %s\n", limit_flags[i].name, limit_flags[i].help);
    printf("\nListening on an address other than loopback requires an admin account:\n"
           "  atelier admin --data DIR user add NAME --admin\n");
}

/* The flags that take a value; every flag of serve except --help does. */
static const char *const value_flags[] = {"--data",    "--listen",  "--public-url",
                                          "--threads", "--workers", "--log-level"};

static bool flag_is_known(const char *flag)
{
    for (size_t i = 0; i < sizeof(value_flags) / sizeof(value_flags[0]); i++) {
        if (strcmp(flag, value_flags[i]) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof(limit_flags) / sizeof(limit_flags[0]); i++) {
        if (strcmp(flag, limit_flags[i].name) == 0)
            return true;
    }
    return false;
}

static int unknown_option(const char *flag, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINVAL,
                         "unknown option '%s'; run `atelier serve --help` for the list", flag);
}

static int parse_one(struct hub_config *config, const char *flag, const char *value,
                     struct hub_error *err)
{
    enum hub_log_level level;

    if (strcmp(flag, "--data") == 0)
        return set_string(&config->data_dir, value, err);
    if (strcmp(flag, "--listen") == 0)
        return parse_listen(config, value, err);
    if (strcmp(flag, "--public-url") == 0)
        return parse_public_url(config, value, err);
    if (strcmp(flag, "--threads") == 0)
        return parse_thread_count(&config->threads, flag, value, err);
    if (strcmp(flag, "--workers") == 0)
        return parse_thread_count(&config->workers, flag, value, err);
    if (strcmp(flag, "--log-level") == 0) {
        if (!hub_log_level_parse(&level, value))
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid --log-level '%s': expected debug, info, warn or error",
                                 value);
        config->log_level = level;
        return 0;
    }
    for (size_t i = 0; i < sizeof(limit_flags) / sizeof(limit_flags[0]); i++) {
        if (strcmp(flag, limit_flags[i].name) == 0)
            return parse_limit(config, &limit_flags[i], value, err);
    }
    return unknown_option(flag, err);
}

int hub_config_parse_args(struct hub_config *config, int argc, char **argv, struct hub_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq;
        char flag[64];
        const char *value;
        int rc;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help();
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return hub_error_set(err, HUB_EINVAL,
                                 "unexpected argument '%s'; run `atelier serve --help`", arg);
        eq = strchr(arg, '=');
        if (eq != NULL) {
            size_t len = (size_t)(eq - arg);

            if (len >= sizeof(flag))
                return hub_error_set(err, HUB_EINVAL, "unknown option '%.40s...'", arg);
            memcpy(flag, arg, len);
            flag[len] = '\0';
            value = eq + 1;
        } else {
            if (strlen(arg) >= sizeof(flag))
                return hub_error_set(err, HUB_EINVAL, "unknown option '%.40s...'", arg);
            strcpy(flag, arg);
            if (!flag_is_known(flag))
                return unknown_option(flag, err);
            if (i + 1 >= argc)
                return hub_error_set(err, HUB_EINVAL, "option %s needs a value", flag);
            value = argv[++i];
        }
        rc = parse_one(config, flag, value, err);
        if (rc < 0)
            return rc;
    }
    if (config->data_dir == NULL)
        return hub_error_set(err, HUB_EINVAL,
                             "missing --data DIR: the directory for repos, blobs and the "
                             "database");
    return 0;
}
