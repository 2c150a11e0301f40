/* jobs_clean: removal of finished jobs' work folders. A job's folder contains its staged
 * model and data, its adapter and the checkpoints a retry resumes from, so it is removed
 * only after the job's terminal state is in the database. The worker that recorded the state
 * removes it, as do the scheduler when it fails or cancels a job and the cancel API for a
 * queued job. The sweep at daemon start removes what a crash between those steps left. */
#include "jobs_clean.h"

#include "hub_error.h"
#include "hub_log.h"
#include "jobs_stage.h"
#include "meta_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool entry_is_dot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

int jobs_workdir_clean(const char *data_dir, int64_t job_id)
{
    char dir[PATH_MAX], path[2 * PATH_MAX];
    struct dirent *entry;
    int failures = 0;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/jobs/%lld", data_dir, (long long)job_id);
    d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        hub_log(HUB_LOG_WARN, "jobs", "cannot open the work folder %s: %s job=%lld", dir,
                strerror(errno), (long long)job_id);
        return 1;
    }
    /* Removing an entry that readdir already returned does not change which of the other
     * entries it returns (POSIX leaves only the removed entry itself unspecified). */
    while ((entry = readdir(d)) != NULL) {
        struct hub_error err = HUB_ERROR_INIT;

        if (entry_is_dot(entry->d_name) || strcmp(entry->d_name, JOBS_LOG_FILE_NAME) == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
        if (jobs_remove_tree(path, &err) < 0) {
            hub_log(HUB_LOG_WARN, "jobs",
                    "cannot clean the work folder of a finished job: %s job=%lld", err.msg,
                    (long long)job_id);
            failures++;
        }
    }
    closedir(d);
    return failures;
}

/* Parses a folder name below DATA/jobs/ as a job id: decimal digits without a leading zero. */
static bool job_id_parse(int64_t *out, const char *name)
{
    int64_t value = 0;

    if (name[0] < '1' || name[0] > '9')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || value > (INT64_MAX - (*p - '0')) / 10)
            return false;
        value = value * 10 + (*p - '0');
    }
    *out = value;
    return true;
}

/* Returns whether the folder dir has an entry other than the log, so a folder that is
 * already clean costs no database lookup. */
static bool workdir_has_more_than_log(const char *dir)
{
    struct dirent *entry;
    bool found = false;
    DIR *d = opendir(dir);

    if (d == NULL)
        return false;
    while (!found && (entry = readdir(d)) != NULL)
        found = !entry_is_dot(entry->d_name) && strcmp(entry->d_name, JOBS_LOG_FILE_NAME) != 0;
    closedir(d);
    return found;
}

void jobs_workdirs_sweep(struct meta *db, const char *data_dir)
{
    char jobs_dir[PATH_MAX], dir[2 * PATH_MAX];
    size_t cleaned = 0;
    int failures = 0;
    struct dirent *entry;
    DIR *d;

    snprintf(jobs_dir, sizeof(jobs_dir), "%s/jobs", data_dir);
    d = opendir(jobs_dir);
    if (d == NULL) {
        if (errno != ENOENT)
            hub_log(HUB_LOG_WARN, "jobs", "cannot list the job work folders in %s: %s", jobs_dir,
                    strerror(errno));
        return;
    }
    while ((entry = readdir(d)) != NULL) {
        struct hub_error err = HUB_ERROR_INIT;
        struct meta_job *job = NULL;
        int64_t id = 0;
        int rc;

        if (!job_id_parse(&id, entry->d_name))
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", jobs_dir, entry->d_name);
        if (!workdir_has_more_than_log(dir))
            continue;
        rc = meta_job_get(&job, db, id, &err);
        if (rc == HUB_ENOTFOUND)
            continue; /* without a row the job may not have ended, so its folder stays */
        if (rc < 0) {
            hub_log(HUB_LOG_WARN, "jobs", "cannot read a job to clean its work folder: %s job=%lld",
                    err.msg, (long long)id);
            continue;
        }
        if (meta_job_state_is_terminal(job->state)) {
            failures += jobs_workdir_clean(data_dir, id);
            cleaned++;
        }
        meta_job_free(job);
    }
    closedir(d);
    if (cleaned > 0)
        hub_log(HUB_LOG_INFO, "jobs",
                "cleaned the work folders of finished jobs folders=%zu failures=%d", cleaned,
                failures);
}
