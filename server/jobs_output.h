/* jobs_output: deletion of the output repo that a training job created and never committed
 * to. POST /api/jobs creates a missing output repo with one first commit, so a job that
 * fails or is canceled would otherwise leave an empty repo behind for every request. */
#ifndef JOBS_OUTPUT_H
#define JOBS_OUTPUT_H

#include "hub_error.h"

#include <stdint.h>

struct meta;

/** Deletes the output model repo repo_id ("ns/name") when its only ref is main at
 * initial_commit, with its database row, an audit entry ("repo.delete" with detail) and a
 * log line. Returns 0, HUB_ECONFLICT when the repo got another commit or ref (err names it,
 * and nothing is deleted), HUB_ENOTFOUND or HUB_EIO. Any thread or process. */
int jobs_output_repo_delete(struct meta *db, const char *data_dir, const char *repo_id,
                            const char *initial_commit, const char *detail, struct hub_error *err);

/** Appends one line prefixed with the UTC time to the log file of job_id, as the worker writes
 * its lines, and stores it as a "log" event so that the job page and the event stream show it
 * too. For lines about a job that has ended. Errors are logged, not returned. */
void jobs_output_log_append(struct meta *db, const char *data_dir, int64_t job_id, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));

/** Deletes the output repo of training job job_id when the job is failed or canceled and
 * created the repo itself. The repo must still be at that first commit with no other ref,
 * and no queued or running job may name it. A repo that existed before the job is never
 * deleted.
 * Appends what it did to the job log and its "log" events, and records the deletion in the
 * job row. Errors are
 * logged, not returned. Call it after the job's terminal state is stored. Any thread or
 * process. NOTE: nothing calls it again when the process dies between storing the state and
 * this call, so such a repo stays. */
void jobs_output_discard(struct meta *db, const char *data_dir, int64_t job_id);

#endif
