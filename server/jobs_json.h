/* jobs_json: the JSON form of jobs and evaluations in API replies, and of progress lines the
 * trainer writes. */
#ifndef JOBS_JSON_H
#define JOBS_JSON_H

#include "hub_error.h"
#include "meta.h"
#include "meta_jobs.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Builds the API object of job: id, type, owner, state, times as ISO 8601 UTC strings (null
 * until set), progress, result, error, spec, attempts and max_attempts. Returns a new
 * reference, or NULL when out of memory. Any thread. */
json_t *jobs_json_job(const struct meta_job *job);

/** Builds the API object of one evaluation for user viewer_id (0: anonymous). The dataset and
 * the base model are null, with dataset_hidden or base_model_hidden true, when that user
 * cannot read them, so an evaluation does not name another user's private repo. Returns a
 * new reference or NULL. Any thread, with that thread's db. */
json_t *jobs_json_eval(const struct meta_eval *eval, struct meta *db, int64_t viewer_id);

/** Builds the array of the newest max_items evaluations of repo_id (namespace/name), newest
 * first, as jobs_json_eval writes them for viewer_id; the model info carries it as
 * "evaluations". A failed read is logged and gives an empty array. The caller checks read
 * access to the repo. Returns a new reference, or NULL when out of memory. Any thread. */
json_t *jobs_json_evals_for_repo(struct meta *db, const char *repo_id, size_t max_items,
                                 int64_t viewer_id);

/** Writes t (seconds since the epoch) as "2026-12-04T10:42:13Z" into buf. */
void jobs_json_time_format(char buf[32], int64_t t);

/** Parses one line the trainer wrote to its progress descriptor. A step line (one with
 * "step") fills *progress and sets *is_step; a line with "eval_loss" sets *is_eval. Numbers
 * must be finite and steps non-negative. Returns 0, or HUB_EINVAL for a line that is not a
 * JSON object of that shape (the worker logs and skips it). Any thread. */
int jobs_progress_parse(struct meta_job_progress *progress, bool *is_step, bool *is_eval,
                        const char *line, size_t len, struct hub_error *err);

#endif
