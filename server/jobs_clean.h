/* jobs_clean: removes the work folders of finished jobs. Everything in DATA/jobs/ID/ goes
 * except the log file, which GET /api/jobs/{id}/log and the job page still serve. */
#ifndef JOBS_CLEAN_H
#define JOBS_CLEAN_H

#include <stdint.h>

struct meta;

/* The job log inside DATA/jobs/ID/, the one file a finished job keeps. */
#define JOBS_LOG_FILE_NAME "log"

/** Removes every entry of DATA/jobs/ID/ except the log file, without following symlinks, so
 * the blobs that base/ links to stay in the store. The caller must have seen the job in a
 * terminal state (succeeded, failed or canceled), because a queued or running job resumes
 * from this folder. A missing folder is not an error. Logs one warning per entry that
 * cannot be removed and returns how many there were. Any thread or process. */
int jobs_workdir_clean(const char *data_dir, int64_t job_id);

/** Cleans the work folder of every job in DATA/jobs/ whose row in db is in a terminal
 * state, so folders left by a crash after a job finished, or by releases that never removed
 * them, go too. Folders of queued and running jobs, and of ids with no job row, are left
 * alone. Scheduler thread, before it starts workers. */
void jobs_workdirs_sweep(struct meta *db, const char *data_dir);

#endif
