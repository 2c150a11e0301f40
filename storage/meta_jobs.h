/* meta_jobs: the job queue, job progress events and evaluation results in SQLite (tables from
 * migrations/0003_jobs.sql). The daemon's HTTP threads, its scheduler thread, the pages and
 * the worker processes all go through these functions, each with its own struct meta.
 *
 * Leases: a job in state running belongs to the worker started for attempt number
 * `attempts`. Every write a worker makes passes that attempt number, and a write for an
 * older attempt fails with HUB_ECONFLICT, so a worker that was given up on cannot overwrite
 * the retry. A job leaves state running exactly once per attempt (meta_job_finish or
 * meta_job_requeue), and a terminal state is never left again. */
#ifndef META_JOBS_H
#define META_JOBS_H

#include "hub_error.h"
#include "hub_limits.h"
#include "hub_name.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta; /* meta.h: one SQLite connection, used by one thread at a time */

/* "namespace/name" plus the terminating NUL. */
#define META_JOB_REPO_BYTES   (2 * HUB_MAX_REPO_NAME_BYTES + 2)
#define META_JOB_COMMIT_BYTES 41  /* 40 hex digits of a git commit id plus NUL */
#define META_JOB_LIST_MAX     200 /* maximum rows that one meta_job_list call returns */

enum meta_job_type {
    META_JOB_TRAIN = 0,
    META_JOB_EVAL = 1,
};

enum meta_job_state {
    META_JOB_QUEUED = 0,
    META_JOB_RUNNING = 1,
    META_JOB_SUCCEEDED = 2,
    META_JOB_FAILED = 3,
    META_JOB_CANCELED = 4,
};

/* The latest training step a worker reported. A field is meaningful only when its has_
 * flag is set, because a trainer may report some fields and not others. */
struct meta_job_progress {
    int64_t step;
    int64_t total_steps;
    double loss;
    double lr;
    double tokens_per_s;
    double eta_s; /* seconds left, as the trainer estimates it */
    bool has_step, has_total_steps, has_loss, has_lr, has_tokens_per_s, has_eta_s;
};

struct meta_job {
    int64_t id;
    enum meta_job_type type;
    int64_t owner_id;
    char owner[HUB_MAX_REPO_NAME_BYTES + 1];
    enum meta_job_state state;
    char *spec_json;                        /* the validated request, a JSON object; owned */
    char repo[META_JOB_REPO_BYTES];         /* output repo (train) or evaluated model (eval) */
    char base_repo[META_JOB_REPO_BYTES];    /* "" when none */
    char dataset_repo[META_JOB_REPO_BYTES]; /* "" when none */
    int64_t created_at;                     /* seconds since the epoch, as every *_at */
    int64_t started_at;                     /* 0 until the first attempt starts */
    int64_t finished_at;                    /* 0 until the job reaches a terminal state */
    int attempts;                           /* attempts started so far */
    int max_attempts;
    int64_t worker_pid;   /* 0 when no worker runs the job */
    int64_t heartbeat_at; /* 0 when no worker has reported yet */
    bool cancel_requested;
    struct meta_job_progress progress;
    /* The adapter commit of a training job, or the evaluated commit of an evaluation job.
     * It is "" until the job succeeds. */
    char result_commit[META_JOB_COMMIT_BYTES];
    char *result_metrics_json; /* JSON object, or NULL; owned */
    char *error;               /* why the job failed or was canceled, or NULL; owned */
    /* The input commits that the first attempt resolved and every later attempt reuses,
     * "" until then. model_commit is the commit of the base model of a training job, or of
     * the evaluated model of an evaluation job. adapter_base_commit is "" unless the
     * evaluated model is an adapter. */
    char model_commit[META_JOB_COMMIT_BYTES];
    char dataset_commit[META_JOB_COMMIT_BYTES];
    char adapter_base_commit[META_JOB_COMMIT_BYTES];
    /* The first commit of the output repo when this job created it, "" when it existed. */
    char output_created_commit[META_JOB_COMMIT_BYTES];
    int64_t output_deleted_at; /* when the job deleted the repo it created; 0 while not */
};

struct meta_job_list {
    struct meta_job *items; /* owned; free with meta_job_list_dispose */
    size_t count;
    int64_t total; /* rows that match the filter, ignoring limit and offset */
};

/* Filter of meta_job_list. NULL or 0 fields do not filter. */
struct meta_job_filter {
    const char *owner; /* owner name */
    const char *repo;  /* matches the output or evaluated repo, the base or the dataset */
    int state;         /* enum meta_job_state, or -1 for any */
    size_t limit;      /* 1..META_JOB_LIST_MAX; 0 means 50 */
    size_t offset;
};

/* One row of a job's event stream. */
struct meta_job_event {
    int64_t seq; /* 1, 2, 3, ... within the job; the SSE event id */
    int64_t at;
    char kind[16];   /* "state", "progress", "eval" or "log" */
    char *data_json; /* a JSON object; owned */
};

struct meta_job_event_list {
    struct meta_job_event *items; /* owned; free with meta_job_event_list_dispose */
    size_t count;
};

/* A running job, with the columns the scheduler reads. */
struct meta_job_lease {
    int64_t id;
    int64_t owner_id;
    int attempts;
    int max_attempts;
    int64_t worker_pid;   /* 0 when the worker has not been started yet */
    int64_t heartbeat_at; /* 0 when none yet */
    int64_t started_at;         /* the first attempt's start */
    bool cancel_requested;
    int64_t attempt_started_at; /* the running attempt's start */
};

struct meta_eval {
    int64_t id;
    int64_t job_id; /* 0 when the job was deleted */
    char repo[META_JOB_REPO_BYTES];
    char revision[META_JOB_COMMIT_BYTES]; /* the evaluated commit id */
    char dataset[META_JOB_REPO_BYTES];
    char dataset_revision[META_JOB_COMMIT_BYTES];
    /* The base model and its commit that an adapter was scored against; "" for a full model
     * and for an evaluation stored without them. */
    char base_model[META_JOB_REPO_BYTES];
    char base_revision[META_JOB_COMMIT_BYTES];
    char *eval_file;    /* path inside the dataset repo; owned */
    char *metrics_json; /* JSON object; owned */
    int64_t created_at;
};

struct meta_eval_list {
    struct meta_eval *items; /* owned; free with meta_eval_list_dispose */
    size_t count;
};

/** Returns "train" or "eval". */
const char *meta_job_type_name(enum meta_job_type type);
/** Returns "queued", "running", "succeeded", "failed" or "canceled". */
const char *meta_job_state_name(enum meta_job_state state);
/** Parses a state name into *out; returns false for anything else. */
bool meta_job_state_parse(enum meta_job_state *out, const char *name);
/** Returns whether state is succeeded, failed or canceled. */
bool meta_job_state_is_terminal(enum meta_job_state state);

/** Inserts a queued job and its first "state" event. Fails with HUB_ECONFLICT when owner_id
 * already has max_queued jobs queued (0 means no limit); the check and the insert are one
 * transaction. base_repo and dataset_repo may be NULL. output_created_commit is the first
 * commit of the output repo when the request created that repo, else NULL. Any thread. */
int meta_job_insert(int64_t *out_id, struct meta *db, enum meta_job_type type, int64_t owner_id,
                    const char *owner, const char *repo, const char *base_repo,
                    const char *dataset_repo, const char *output_created_commit,
                    const char *spec_json, int max_attempts, int max_queued, struct hub_error *err);

/** Loads job id into *out (caller frees with meta_job_free). HUB_ENOTFOUND when there is no
 * such job. Any thread. */
int meta_job_get(struct meta_job **out, struct meta *db, int64_t id, struct hub_error *err);

/** Frees a job from meta_job_get. Accepts NULL. */
void meta_job_free(struct meta_job *job);

/** Lists jobs matching filter, newest first, into out (caller disposes). Any thread. */
int meta_job_list(struct meta_job_list *out, struct meta *db, const struct meta_job_filter *filter,
                  struct hub_error *err);

/** Frees what meta_job_list put in list. Accepts a zeroed list. */
void meta_job_list_dispose(struct meta_job_list *list);

/** Counts the jobs of owner_id in state. Any thread. */
int meta_job_count(int64_t *out, struct meta *db, int64_t owner_id, enum meta_job_state state,
                   struct hub_error *err);

/** Finds a queued or running job that uses repo ("namespace/name") of type: a model as its
 * output repo, evaluated model or base, a dataset as its dataset. A running job is found
 * before a queued one. *out_id is 0 when no job uses the repo. Deleting a repo checks this,
 * because the job would fail midway without it. Any thread. */
int meta_job_find_using_repo(int64_t *out_id, enum meta_job_state *out_state, struct meta *db,
                             enum hub_repo_type type, const char *repo, struct hub_error *err);

/** Picks the next queued job, taking turns between owners, and marks it running with
 * attempts incremented and the error of the previous attempt cleared. Owners that already
 * run max_running_per_user jobs (0 means no limit) are skipped. Owners with the fewest
 * running jobs go first, then the owner whose latest start is the longest ago (an owner never
 * started goes before all others), then that owner's oldest job. The claim becomes the
 * owner's latest start. *out_id is 0 when no job may start. One transaction, so two
 * schedulers never claim the same job. Scheduler thread. */
int meta_job_claim_next(int64_t *out_id, int *out_attempt, struct meta *db,
                        int max_running_per_user, struct hub_error *err);

/** Records the pid of the worker started for attempt. Scheduler thread. */
int meta_job_set_worker(struct meta *db, int64_t id, int attempt, int64_t pid,
                        struct hub_error *err);

/** Lists every running job into *out (a malloc'd array of *out_count leases; caller frees).
 * Scheduler thread. */
int meta_job_leases(struct meta_job_lease **out, size_t *out_count, struct meta *db,
                    struct hub_error *err);

/** Stores the time as attempt's heartbeat. HUB_ECONFLICT when the job is no longer running
 * under that attempt (canceled, finished or handed to a retry): the worker must stop.
 * *out_cancel is set when a cancel was requested. Worker process. */
int meta_job_heartbeat(bool *out_cancel, struct meta *db, int64_t id, int attempt,
                       struct hub_error *err);

/** Stores progress as the job's latest step and appends a "progress" event with
 * event_json, in one transaction. HUB_ECONFLICT as for meta_job_heartbeat. Worker process. */
int meta_job_progress_set(struct meta *db, int64_t id, int attempt,
                          const struct meta_job_progress *progress, const char *event_json,
                          struct hub_error *err);

/** Appends an event of kind ("state", "progress", "eval" or "log") with data_json to the
 * stream of job id. Any thread or process. */
int meta_job_event_append(struct meta *db, int64_t id, const char *kind, const char *data_json,
                          struct hub_error *err);

/** Loads the events of job id with seq > after_seq, at most max_events (0 means 1000), in
 * order, into out (caller disposes). Any thread. */
int meta_job_events_since(struct meta_job_event_list *out, struct meta *db, int64_t id,
                          int64_t after_seq, size_t max_events, struct hub_error *err);

/** Frees what meta_job_events_since put in list. Accepts a zeroed list. */
void meta_job_event_list_dispose(struct meta_job_event_list *list);

/** Moves job id from running under attempt to state (succeeded, failed or canceled) with
 * the given result, and appends the "state" event. result_commit, metrics_json and message
 * may be NULL. HUB_ECONFLICT when the job is not running under attempt, so completion is
 * recorded exactly once. Any thread or process. */
int meta_job_finish(struct meta *db, int64_t id, int attempt, enum meta_job_state state,
                    const char *result_commit, const char *metrics_json, const char *message,
                    struct hub_error *err);

/** Does what meta_job_finish does and, in the same transaction, appends the "log" event
 * log_json (the job's final log line) just before the "state" event. A client that stops
 * reading the event stream at the state event so still gets the line. log_json may be NULL. */
int meta_job_finish_logged(struct meta *db, int64_t id, int attempt, enum meta_job_state state,
                           const char *result_commit, const char *metrics_json, const char *message,
                           const char *log_json, struct hub_error *err);

/** Moves job id from running under attempt back to queued so it is retried, and appends a
 * "state" event with reason. The attempt counts against max_attempts unless refund_attempt
 * is set (the daemon stopped the worker, the job did not fail). HUB_ECONFLICT when the job
 * is not running under attempt. Scheduler thread. */
int meta_job_requeue(struct meta *db, int64_t id, int attempt, bool refund_attempt,
                     const char *reason, struct hub_error *err);

/** Stores the input commits that attempt resolved, each only where none is stored yet, so
 * the first attempt's commits stay for every later one. An evaluation job of an adapter also
 * stores the adapter's base as its base_repo with the base's commit. adapter_base_repo and
 * adapter_base_commit may be NULL or "". HUB_ECONFLICT when the job is not running under
 * attempt. Worker process. */
int meta_job_inputs_pin(struct meta *db, int64_t id, int attempt, const char *model_commit,
                        const char *dataset_commit, const char *adapter_base_repo,
                        const char *adapter_base_commit, struct hub_error *err);

/** Records that job id, which is failed or canceled, deleted the output repo it created.
 * HUB_ENOTFOUND when there is no such job in those states. Any thread or process. */
int meta_job_output_deleted_set(struct meta *db, int64_t id, struct hub_error *err);

/* Size of the cancel reason that meta_job_cancel stores: "canceled by USER before it
 * started" with the longest user name. */
#define META_JOB_CANCELED_BY_BYTES (HUB_MAX_REPO_NAME_BYTES + 64)

/** Cancels job id on behalf of user canceled_by, which may be NULL. A queued job becomes
 * canceled at once with the error "canceled by USER before it started". A running job gets
 * cancel_requested and the error "canceled by USER", and the scheduler stops its worker. *out_state
 * is the state after the call. HUB_ECONFLICT when the job already finished, HUB_ENOTFOUND when
 * there is none. Any thread. */
int meta_job_cancel(enum meta_job_state *out_state, struct meta *db, int64_t id,
                    const char *canceled_by, struct hub_error *err);

/** Requests the cancel of every running job of owner_id that has no cancel request yet, as
 * meta_job_cancel does for one job, with the error "canceled because an admin disabled owner
 * NAME". The scheduler then stops their workers and records them as canceled. Queued jobs
 * stay queued, and the worker fails each one when it finds the owner disabled. Sets
 * *out_count (NULL allowed) to the number of jobs. Runs in the caller's transaction when one
 * is open. Returns 0 or HUB_EIO. Any thread or process. */
int meta_job_cancel_running_of_owner(int64_t *out_count, struct meta *db, int64_t owner_id,
                                     struct hub_error *err);

/** Requests the cancel of running job id, as meta_job_cancel does, with the error "canceled
 * because it ran longer than this hub's limit of LIMIT_S s (--max-job-seconds); ask for fewer
 * steps or epochs". Sets
 * *out_marked when the job was running without a cancel request. Returns 0 or HUB_EIO. */
int meta_job_cancel_overtime(bool *out_marked, struct meta *db, int64_t id, unsigned limit_s,
                             struct hub_error *err);

/** Copies into out (cap bytes) the reason that meta_job_cancel stored for running job id,
 * such as "canceled by alice", or "canceled" when it stored none or the job cannot be read.
 * The scheduler starts the final error of a canceled job with it. */
void meta_job_cancel_reason(char *out, size_t cap, struct meta *db, int64_t id);

/** Stores the metrics of an evaluation of repo at commit revision. For an adapter,
 * base_model and base_revision name the base repo and the commit it was scored against; both
 * are NULL for a full model. job_id may be 0. Any thread or process. */
int meta_eval_insert(int64_t *out_id, struct meta *db, int64_t job_id, const char *repo,
                     const char *revision, const char *base_model, const char *base_revision,
                     const char *dataset, const char *dataset_revision, const char *eval_file,
                     const char *metrics_json, struct hub_error *err);

/** Lists the evaluations of repo, newest first, at most META_JOB_LIST_MAX, into out (caller
 * disposes). The model info and the model page call this. Any thread. */
int meta_evals_for_repo(struct meta_eval_list *out, struct meta *db, const char *repo,
                        struct hub_error *err);

/** Frees what meta_evals_for_repo put in list. Accepts a zeroed list. */
void meta_eval_list_dispose(struct meta_eval_list *list);

/** Lists the output repos of the succeeded training jobs whose base is base_repo, newest
 * first and without duplicates, as a malloc'd array of *out_count malloc'd strings (free
 * each and the array). Adapters pushed without a job are not in it. Any thread. */
int meta_adapters_of_base(char ***out, size_t *out_count, struct meta *db, const char *base_repo,
                          struct hub_error *err);

#endif
