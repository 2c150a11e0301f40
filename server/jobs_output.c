/* jobs_output: deletion of the empty output repo of a failed or canceled training job. */
#include "jobs_output.h"

#include "hub_log.h"
#include "hub_name.h"
#include "jobs_clean.h"
#include "jobs_json.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_jobs.h"
#include "meta_repo.h"
#include "repo.h"

#include <jansson.h>

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int jobs_output_repo_delete(struct meta *db, const char *data_dir, const char *repo_id,
                            const char *initial_commit, const char *detail, struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    char audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    struct hub_error audit_err = HUB_ERROR_INIT;
    struct meta_repo row;
    int rc;

    rc = hub_repo_id_parse(ns, name, repo_id, err);
    if (rc == 0)
        rc = meta_repo_get(&row, db, HUB_REPO_MODEL, ns, name, err);
    if (rc == 0)
        rc = repo_delete_if_untouched(data_dir, HUB_REPO_MODEL, ns, name, initial_commit, err);
    if (rc < 0)
        return rc;
    rc = meta_repo_delete(db, row.id, err);
    if (rc < 0)
        return rc;
    snprintf(audit_repo, sizeof(audit_repo), "%s:%s", hub_repo_type_name(HUB_REPO_MODEL), repo_id);
    if (meta_audit_add(db, NULL, "repo.delete", audit_repo, detail, &audit_err) < 0)
        hub_log(HUB_LOG_ERROR, "jobs", "cannot add the audit entry of a deleted repo: %s repo=%s",
                audit_err.msg, repo_id);
    hub_log(HUB_LOG_INFO, "jobs", "deleted output repo repo=%s: %s", repo_id, detail);
    return 0;
}

/* NOTE: the job has ended before these lines, so an event stream that was open when the
 * final state arrived may close before a line is stored. */
void jobs_output_log_append(struct meta *db, const char *data_dir, int64_t job_id, const char *fmt,
                            ...)
{
    struct hub_error err = HUB_ERROR_INIT;
    char path[PATH_MAX], line[1024], stamp[32];
    json_t *data;
    char *text;
    va_list ap;
    int fd, n;

    snprintf(path, sizeof(path), "%s/jobs/%lld/%s", data_dir, (long long)job_id,
             JOBS_LOG_FILE_NAME);
    jobs_json_time_format(stamp, meta_now());
    n = snprintf(line, sizeof(line), "[%s] ", stamp);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n] = '\0';

    data = json_pack("{s:s, s:s}", "line", line, "level", "info");
    text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (text != NULL && meta_job_event_append(db, job_id, "log", text, &err) < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot store a log event: %s job=%lld", err.msg,
                (long long)job_id);
    free(text);

    /* A job canceled before it started has no folder, and then no log file to append to. */
    line[n++] = '\n';
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot write the job log job=%lld", (long long)job_id);
    close(fd);
}

/* Returns whether a queued or running job other than job_id names repo_id. A failed lookup
 * counts as yes, so the repo stays. */
static bool repo_has_unfinished_job(struct meta *db, const char *repo_id, int64_t job_id)
{
    const enum meta_job_state states[] = {META_JOB_QUEUED, META_JOB_RUNNING};

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct hub_error err = HUB_ERROR_INIT;
        struct meta_job_filter filter = {.repo = repo_id, .state = (int)states[i], .limit = 1};
        struct meta_job_list list;
        bool found;

        if (meta_job_list(&list, db, &filter, &err) < 0) {
            hub_log(HUB_LOG_ERROR, "jobs", "cannot list the jobs of a repo: %s repo=%s job=%lld",
                    err.msg, repo_id, (long long)job_id);
            return true;
        }
        found = list.total > 0;
        meta_job_list_dispose(&list);
        if (found)
            return true;
    }
    return false;
}

void jobs_output_discard(struct meta *db, const char *data_dir, int64_t job_id)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    char detail[256];
    int rc;

    rc = meta_job_get(&job, db, job_id, &err);
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot load a finished job: %s job=%lld", err.msg,
                (long long)job_id);
        return;
    }
    if (job->type != META_JOB_TRAIN ||
        (job->state != META_JOB_FAILED && job->state != META_JOB_CANCELED) ||
        job->output_created_commit[0] == '\0' || job->output_deleted_at != 0)
        goto out;
    if (repo_has_unfinished_job(db, job->repo, job_id)) {
        hub_log(HUB_LOG_INFO, "jobs",
                "kept the output repo that the job created: another job uses it job=%lld repo=%s",
                (long long)job_id, job->repo);
        jobs_output_log_append(db, data_dir, job_id,
                               "kept the output repo %s: a queued or running job uses it",
                               job->repo);
        goto out;
    }
    /* NOTE: a job request for this repo that arrives between the check above and the delete
     * is accepted and then fails with "not found". */
    snprintf(detail, sizeof(detail),
             "job %lld of %s was %s; it created the repo and committed "
             "nothing to it",
             (long long)job_id, job->owner, meta_job_state_name(job->state));
    rc = jobs_output_repo_delete(db, data_dir, job->repo, job->output_created_commit, detail, &err);
    if (rc == HUB_ECONFLICT) {
        hub_log(HUB_LOG_INFO, "jobs",
                "kept the output repo that the job created: %s job=%lld repo=%s", err.msg,
                (long long)job_id, job->repo);
        jobs_output_log_append(db, data_dir, job_id,
                               "kept the output repo %s, which this job created, because %s",
                               job->repo, err.msg);
        goto out;
    }
    if (rc == HUB_ENOTFOUND)
        goto out; /* someone deleted it already */
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot delete the output repo: %s job=%lld repo=%s",
                err.msg, (long long)job_id, job->repo);
        goto out;
    }
    jobs_output_log_append(
        db, data_dir, job_id,
        "deleted the output repo %s: this job created it and committed nothing to it", job->repo);
    if (meta_job_output_deleted_set(db, job_id, &err) < 0)
        hub_log(HUB_LOG_ERROR, "jobs", "cannot record the deleted output repo: %s job=%lld",
                err.msg, (long long)job_id);
out:
    meta_job_free(job);
}
