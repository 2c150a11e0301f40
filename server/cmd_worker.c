/* atelier worker: runs one attempt of one queued job. The scheduler of `atelier serve`
 * starts it as `atelier worker --data DIR --job ID --attempt N`; see jobs_worker.h for the
 * exit statuses it reads. */
#include "commands.h"

#include "hub_log.h"
#include "jobs_worker.h"
#include "storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: atelier worker --data DIR --job ID --attempt N\n"
    "\n"
    "Runs attempt N of job ID of the hub in DIR: stages the model and the dataset, runs\n"
    "`atelier train` or `atelier eval`, commits the adapter and records the outcome. The\n"
    "daemon starts it; run it by hand only to debug a job that the daemon marked running\n"
    "with that attempt.\n";

static int number_parse(long long *out, const char *flag, const char *text, long long max)
{
    unsigned long long value;
    char *end = NULL;

    errno = 0;
    value = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0' || value == 0 ||
        value > (unsigned long long)max) {
        fprintf(stderr, "atelier worker: invalid %s '%s': expected a number from 1 to %lld\n", flag,
                text, max);
        return -1;
    }
    *out = (long long)value;
    return 0;
}

int cmd_worker(int argc, char **argv)
{
    const char *data_dir = NULL;
    char *absolute = NULL;
    long long job_id = 0, attempt = 0;
    struct hub_error err = HUB_ERROR_INIT;
    int status;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "atelier worker: missing value after %s; see the usage below\n%s",
                    argv[i], usage_text);
            return JOBS_EXIT_USAGE;
        }
        if (strcmp(argv[i], "--data") == 0) {
            data_dir = argv[++i];
        } else if (strcmp(argv[i], "--job") == 0) {
            if (number_parse(&job_id, "--job", argv[++i], INT64_MAX) < 0)
                return JOBS_EXIT_USAGE;
        } else if (strcmp(argv[i], "--attempt") == 0) {
            if (number_parse(&attempt, "--attempt", argv[++i], 1000000) < 0)
                return JOBS_EXIT_USAGE;
        } else {
            fprintf(stderr, "atelier worker: unknown option '%s'; see the usage below\n%s", argv[i],
                    usage_text);
            return JOBS_EXIT_USAGE;
        }
    }
    if (data_dir == NULL || job_id == 0 || attempt == 0) {
        fprintf(stderr, "atelier worker: --data, --job and --attempt are required\n%s", usage_text);
        return JOBS_EXIT_USAGE;
    }
    /* Symlinks into the blob store must work from any folder, so the path is absolute. */
    absolute = realpath(data_dir, NULL);
    if (absolute == NULL) {
        fprintf(stderr, "atelier worker: cannot open data directory '%s': %s\n", data_dir,
                strerror(errno));
        return JOBS_EXIT_RETRY;
    }
    if (storage_init(&err) < 0) {
        free(absolute);
        fprintf(stderr, "atelier worker: %s\n", err.msg);
        return JOBS_EXIT_RETRY;
    }
    status = jobs_worker_run(absolute, (int64_t)job_id, (int)attempt);
    storage_shutdown();
    free(absolute);
    return status;
}
