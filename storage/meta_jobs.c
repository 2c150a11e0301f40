/* meta_jobs: SQL for the jobs, job_events and evals tables (migrations/0003_jobs.sql).
 * Every state change of a job is one conditional UPDATE, with state and attempt in the WHERE
 * clause, inside a transaction that also appends the job's "state" event. So two processes
 * racing on one job cannot both win, and the event stream matches the row. */
#include "meta_jobs.h"

#include "meta.h"
#include "meta_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_JOB_LIST_DEFAULT   50
#define META_JOB_EVENTS_DEFAULT 1000

static const char *const type_names[] = {"train", "eval"};
static const char *const state_names[] = {"queued", "running", "succeeded", "failed", "canceled"};

_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == META_JOB_CANCELED + 1,
               "one name per job state");

const char *meta_job_type_name(enum meta_job_type type)
{
    return (unsigned)type <= META_JOB_EVAL ? type_names[type] : "unknown";
}

const char *meta_job_state_name(enum meta_job_state state)
{
    return (unsigned)state <= META_JOB_CANCELED ? state_names[state] : "unknown";
}

bool meta_job_state_parse(enum meta_job_state *out, const char *name)
{
    for (int i = 0; i <= META_JOB_CANCELED; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum meta_job_state)i;
            return true;
        }
    }
    return false;
}

bool meta_job_state_is_terminal(enum meta_job_state state)
{
    return state == META_JOB_SUCCEEDED || state == META_JOB_FAILED || state == META_JOB_CANCELED;
}

/* ---- Statement helpers ------------------------------------------------------------------ */

static int jobs_prepare(sqlite3_stmt **out, struct meta *db, const char *sql, const char *what,
                        struct hub_error *err)
{
    int rc = sqlite3_prepare_v2(meta_sqlite_get(db), sql, -1, out, NULL);

    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, what);
    return 0;
}

/* Runs a statement that returns no rows; finalizes it. */
static int jobs_exec(sqlite3_stmt *stmt, struct meta *db, const char *what, struct hub_error *err)
{
    int rc = sqlite3_step(stmt);

    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return meta_error_from_sqlite(err, db, rc, what);
    return 0;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text != NULL && text[0] != '\0')
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

static char *column_strdup(sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);

    return text != NULL ? strdup((const char *)text) : NULL;
}

static void column_copy(char *buf, size_t cap, sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);

    snprintf(buf, cap, "%s", text != NULL ? (const char *)text : "");
}

/* Appends an event inside the caller's transaction. */
static int jobs_event_append_locked(struct meta *db, int64_t id, const char *kind,
                                    const char *data_json, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "INSERT INTO job_events (job_id, seq, at, kind, data) VALUES (?1, "
                      "(SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = ?1), "
                      "?2, ?3, ?4)",
                      "append job event", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, meta_now());
    sqlite3_bind_text(stmt, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, data_json, -1, SQLITE_TRANSIENT);
    return jobs_exec(stmt, db, "append job event", err);
}

/* Appends a "state" event {"state": ..., "attempt": N, "message": ...}. */
static int jobs_state_event(struct meta *db, int64_t id, enum meta_job_state state, int attempt,
                            const char *message, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    char *json = NULL;
    int rc;

    /* json_object() in SQLite escapes the message, which may quote trainer output. */
    rc = jobs_prepare(&stmt, db, "SELECT json_object('state', ?1, 'attempt', ?2, 'message', ?3)",
                      "format state event", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, meta_job_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, attempt);
    bind_text_or_null(stmt, 3, message);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        rc = meta_error_from_sqlite(err, db, rc, "format state event");
        sqlite3_finalize(stmt);
        return rc;
    }
    json = column_strdup(stmt, 0);
    sqlite3_finalize(stmt);
    if (json == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the state event of job %lld",
                             (long long)id);
    rc = jobs_event_append_locked(db, id, "state", json, err);
    free(json);
    return rc;
}

/* ---- Creating and reading jobs ---------------------------------------------------------- */

int meta_job_count(int64_t *out, struct meta *db, int64_t owner_id, enum meta_job_state state,
                   struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db, "SELECT count(*) FROM jobs WHERE owner_id = ?1 AND state = ?2",
                      "count jobs", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, owner_id);
    sqlite3_bind_text(stmt, 2, meta_job_state_name(state), -1, SQLITE_STATIC);
    return meta_stmt_get_int64(out, stmt, db, "count jobs", err);
}

int meta_job_find_using_repo(int64_t *out_id, enum meta_job_state *out_state, struct meta *db,
                             enum hub_repo_type type, const char *repo, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out_id = 0;
    *out_state = META_JOB_QUEUED;
    /* A job's repo and base_repo are models and its dataset_repo is a dataset. Names compare
     * without case, as repo lookups do. */
    rc = jobs_prepare(&stmt, db,
                      "SELECT id, state FROM jobs WHERE state IN ('running', 'queued') AND "
                      "(CASE WHEN ?2 = 1 THEN dataset_repo = ?1 COLLATE NOCASE "
                      "ELSE repo = ?1 COLLATE NOCASE OR base_repo = ?1 COLLATE NOCASE END) "
                      "ORDER BY state = 'running' DESC, id LIMIT 1",
                      "find the jobs of a repo", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, repo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, type == HUB_REPO_DATASET ? 1 : 0);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *out_id = sqlite3_column_int64(stmt, 0);
        meta_job_state_parse(out_state, (const char *)sqlite3_column_text(stmt, 1));
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = meta_error_from_sqlite(err, db, rc, "find the jobs of a repo");
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int jobs_insert_row(int64_t *out_id, struct meta *db, enum meta_job_type type,
                           int64_t owner_id, const char *owner, const char *repo,
                           const char *base_repo, const char *dataset_repo,
                           const char *output_created_commit, const char *spec_json,
                           int max_attempts, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "INSERT INTO jobs (type, owner_id, owner, spec, repo, base_repo, "
                      "dataset_repo, created_at, max_attempts, output_created_commit) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                      "insert job", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, meta_job_type_name(type), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, owner_id);
    sqlite3_bind_text(stmt, 3, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, spec_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, repo, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 6, base_repo);
    bind_text_or_null(stmt, 7, dataset_repo);
    sqlite3_bind_int64(stmt, 8, meta_now());
    sqlite3_bind_int(stmt, 9, max_attempts > 0 ? max_attempts : 1);
    bind_text_or_null(stmt, 10, output_created_commit);
    rc = jobs_exec(stmt, db, "insert job", err);
    if (rc < 0)
        return rc;
    *out_id = sqlite3_last_insert_rowid(meta_sqlite_get(db));
    return 0;
}

int meta_job_insert(int64_t *out_id, struct meta *db, enum meta_job_type type, int64_t owner_id,
                    const char *owner, const char *repo, const char *base_repo,
                    const char *dataset_repo, const char *output_created_commit,
                    const char *spec_json, int max_attempts, int max_queued, struct hub_error *err)
{
    int64_t queued = 0;
    int64_t id = 0;
    int rc;

    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    if (max_queued > 0) {
        rc = meta_job_count(&queued, db, owner_id, META_JOB_QUEUED, err);
        if (rc < 0)
            goto out;
        if (queued >= max_queued) {
            rc = hub_error_set(err, HUB_ECONFLICT,
                               "user %s already has %lld queued jobs, the maximum; wait for one "
                               "to start or cancel one",
                               owner, (long long)queued);
            goto out;
        }
    }
    rc = jobs_insert_row(&id, db, type, owner_id, owner, repo, base_repo, dataset_repo,
                         output_created_commit, spec_json, max_attempts, err);
    if (rc < 0)
        goto out;
    rc = jobs_state_event(db, id, META_JOB_QUEUED, 0, NULL, err);
    if (rc < 0)
        goto out;
    rc = meta_tx_commit(db, err);
out:
    if (rc < 0)
        meta_tx_rollback(db);
    else
        *out_id = id;
    return rc;
}

#define JOB_COLUMNS                                                                                \
    "id, type, owner_id, owner, state, spec, repo, coalesce(base_repo, ''), "                      \
    "coalesce(dataset_repo, ''), created_at, coalesce(started_at, 0), "                            \
    "coalesce(finished_at, 0), attempts, max_attempts, coalesce(worker_pid, 0), "                  \
    "coalesce(heartbeat_at, 0), cancel_requested, step, total_steps, loss, lr, tokens_per_s, "     \
    "eta_s, coalesce(result_commit, ''), result_metrics, error, coalesce(model_commit, ''), "      \
    "coalesce(dataset_commit, ''), coalesce(adapter_base_commit, ''), "                            \
    "coalesce(output_created_commit, ''), coalesce(output_deleted_at, 0)"

static void column_progress(struct meta_job_progress *p, sqlite3_stmt *stmt, int first)
{
    p->has_step = sqlite3_column_type(stmt, first) != SQLITE_NULL;
    p->step = sqlite3_column_int64(stmt, first);
    p->has_total_steps = sqlite3_column_type(stmt, first + 1) != SQLITE_NULL;
    p->total_steps = sqlite3_column_int64(stmt, first + 1);
    p->has_loss = sqlite3_column_type(stmt, first + 2) != SQLITE_NULL;
    p->loss = sqlite3_column_double(stmt, first + 2);
    p->has_lr = sqlite3_column_type(stmt, first + 3) != SQLITE_NULL;
    p->lr = sqlite3_column_double(stmt, first + 3);
    p->has_tokens_per_s = sqlite3_column_type(stmt, first + 4) != SQLITE_NULL;
    p->tokens_per_s = sqlite3_column_double(stmt, first + 4);
    p->has_eta_s = sqlite3_column_type(stmt, first + 5) != SQLITE_NULL;
    p->eta_s = sqlite3_column_double(stmt, first + 5);
}

static void job_dispose(struct meta_job *job)
{
    free(job->spec_json);
    free(job->result_metrics_json);
    free(job->error);
    memset(job, 0, sizeof(*job));
}

/* Fills job from a row selected with JOB_COLUMNS. */
static int job_from_row(struct meta_job *job, sqlite3_stmt *stmt, struct hub_error *err)
{
    const char *text;
    enum meta_job_state state = META_JOB_FAILED;

    memset(job, 0, sizeof(*job));
    job->id = sqlite3_column_int64(stmt, 0);
    text = (const char *)sqlite3_column_text(stmt, 1);
    job->type = text != NULL && strcmp(text, "eval") == 0 ? META_JOB_EVAL : META_JOB_TRAIN;
    job->owner_id = sqlite3_column_int64(stmt, 2);
    column_copy(job->owner, sizeof(job->owner), stmt, 3);
    text = (const char *)sqlite3_column_text(stmt, 4);
    if (text == NULL || !meta_job_state_parse(&state, text))
        return hub_error_set(err, HUB_EINTERNAL, "job %lld has an unknown state",
                             (long long)job->id);
    job->state = state;
    job->spec_json = column_strdup(stmt, 5);
    column_copy(job->repo, sizeof(job->repo), stmt, 6);
    column_copy(job->base_repo, sizeof(job->base_repo), stmt, 7);
    column_copy(job->dataset_repo, sizeof(job->dataset_repo), stmt, 8);
    job->created_at = sqlite3_column_int64(stmt, 9);
    job->started_at = sqlite3_column_int64(stmt, 10);
    job->finished_at = sqlite3_column_int64(stmt, 11);
    job->attempts = sqlite3_column_int(stmt, 12);
    job->max_attempts = sqlite3_column_int(stmt, 13);
    job->worker_pid = sqlite3_column_int64(stmt, 14);
    job->heartbeat_at = sqlite3_column_int64(stmt, 15);
    job->cancel_requested = sqlite3_column_int(stmt, 16) != 0;
    column_progress(&job->progress, stmt, 17);
    column_copy(job->result_commit, sizeof(job->result_commit), stmt, 23);
    job->result_metrics_json = column_strdup(stmt, 24);
    job->error = column_strdup(stmt, 25);
    column_copy(job->model_commit, sizeof(job->model_commit), stmt, 26);
    column_copy(job->dataset_commit, sizeof(job->dataset_commit), stmt, 27);
    column_copy(job->adapter_base_commit, sizeof(job->adapter_base_commit), stmt, 28);
    column_copy(job->output_created_commit, sizeof(job->output_created_commit), stmt, 29);
    job->output_deleted_at = sqlite3_column_int64(stmt, 30);
    if (job->spec_json == NULL) {
        job_dispose(job);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the spec of a job");
    }
    return 0;
}

int meta_job_get(struct meta_job **out, struct meta *db, int64_t id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    struct meta_job *job = NULL;
    int rc;

    *out = NULL;
    rc = jobs_prepare(&stmt, db, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1", "load job", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        rc = hub_error_set(err, HUB_ENOTFOUND, "job %lld not found", (long long)id);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = meta_error_from_sqlite(err, db, rc, "load job");
        goto out;
    }
    job = malloc(sizeof(*job));
    if (job == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate job %lld", (long long)id);
        goto out;
    }
    rc = job_from_row(job, stmt, err);
    if (rc < 0) {
        free(job);
        goto out;
    }
    *out = job;
out:
    sqlite3_finalize(stmt);
    return rc;
}

void meta_job_free(struct meta_job *job)
{
    if (job == NULL)
        return;
    job_dispose(job);
    free(job);
}

void meta_job_list_dispose(struct meta_job_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        job_dispose(&list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* The WHERE clause shared by the list and its count; ?1 owner, ?2 state, ?3 repo. */
#define JOB_FILTER                                                                                 \
    " WHERE (?1 IS NULL OR owner = ?1) AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR "         \
    "repo = ?3 OR base_repo = ?3 OR dataset_repo = ?3)"

static void bind_filter(sqlite3_stmt *stmt, const struct meta_job_filter *filter)
{
    bind_text_or_null(stmt, 1, filter->owner);
    if (filter->state >= 0 && filter->state <= META_JOB_CANCELED)
        sqlite3_bind_text(stmt, 2, state_names[filter->state], -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, 2);
    bind_text_or_null(stmt, 3, filter->repo);
}

static int jobs_list_total(int64_t *out, struct meta *db, const struct meta_job_filter *filter,
                           struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db, "SELECT count(*) FROM jobs" JOB_FILTER, "count jobs", err);
    if (rc < 0)
        return rc;
    bind_filter(stmt, filter);
    return meta_stmt_get_int64(out, stmt, db, "count jobs", err);
}

int meta_job_list(struct meta_job_list *out, struct meta *db, const struct meta_job_filter *filter,
                  struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    size_t limit = filter->limit == 0 ? META_JOB_LIST_DEFAULT : filter->limit;
    int rc;

    memset(out, 0, sizeof(*out));
    if (limit > META_JOB_LIST_MAX)
        limit = META_JOB_LIST_MAX;
    out->items = calloc(limit, sizeof(*out->items));
    if (out->items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a list of %zu jobs", limit);
    rc = jobs_list_total(&out->total, db, filter, err);
    if (rc < 0)
        goto out;
    rc = jobs_prepare(&stmt, db,
                      "SELECT " JOB_COLUMNS " FROM jobs" JOB_FILTER
                      " ORDER BY id DESC LIMIT ?4 OFFSET ?5",
                      "list jobs", err);
    if (rc < 0)
        goto out;
    bind_filter(stmt, filter);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)limit);
    sqlite3_bind_int64(stmt, 5, filter->offset > INT64_MAX ? INT64_MAX : (int64_t)filter->offset);
    while (out->count < limit) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            rc = meta_error_from_sqlite(err, db, rc, "list jobs");
            goto out;
        }
        rc = job_from_row(&out->items[out->count], stmt, err);
        if (rc < 0)
            goto out;
        out->count++;
    }
    rc = 0;
out:
    sqlite3_finalize(stmt);
    if (rc < 0)
        meta_job_list_dispose(out);
    return rc;
}

/* ---- Scheduling ------------------------------------------------------------------------- */

/* Takes turns between owners. An owner at the running limit (?1, 0 for none) is skipped.
 * Owners with fewer running jobs go first. Among those, the owner whose latest start is the
 * longest ago goes first, and an owner who never had a job started comes before everyone who
 * did. That owner's oldest queued job is picked. Owners without a start tie, so among them the
 * oldest job overall goes first. */
static const char claim_pick_sql[] =
    "WITH running AS (SELECT owner_id, count(*) AS n FROM jobs WHERE state = 'running' "
    "GROUP BY owner_id) "
    "SELECT j.id FROM jobs j LEFT JOIN running r ON r.owner_id = j.owner_id "
    "LEFT JOIN job_owner_starts s ON s.owner_id = j.owner_id "
    "WHERE j.state = 'queued' AND (?1 = 0 OR coalesce(r.n, 0) < ?1) "
    "ORDER BY coalesce(r.n, 0), coalesce(s.start_seq, 0), j.created_at, j.id LIMIT 1";

/* Gives the owner of job id the newest start_seq, which moves the owner to the end of the
 * turns. Runs inside the claim's transaction. */
static int jobs_owner_start_record(struct meta *db, int64_t id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "INSERT INTO job_owner_starts (owner_id, start_seq) "
                      "SELECT owner_id, (SELECT coalesce(max(start_seq), 0) + 1 FROM "
                      "job_owner_starts) FROM jobs WHERE id = ?1 "
                      "ON CONFLICT (owner_id) DO UPDATE SET start_seq = excluded.start_seq",
                      "record the owner's start", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    return jobs_exec(stmt, db, "record the owner's start", err);
}

static int jobs_pick(int64_t *out_id, struct meta *db, int max_running_per_user,
                     struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out_id = 0;
    rc = jobs_prepare(&stmt, db, claim_pick_sql, "pick next job", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int(stmt, 1, max_running_per_user > 0 ? max_running_per_user : 0);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *out_id = sqlite3_column_int64(stmt, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = meta_error_from_sqlite(err, db, rc, "pick next job");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int meta_job_claim_next(int64_t *out_id, int *out_attempt, struct meta *db,
                        int max_running_per_user, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int64_t id = 0;
    int attempt = 0;
    int rc;

    *out_id = 0;
    *out_attempt = 0;
    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = jobs_pick(&id, db, max_running_per_user, err);
    if (rc < 0 || id == 0)
        goto out;
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                      "started_at = coalesce(started_at, ?2), attempt_started_at = ?2, "
                      "heartbeat_at = ?2, worker_pid = NULL, error = NULL "
                      "WHERE id = ?1 AND state = 'queued' "
                      "RETURNING attempts",
                      "claim job", err);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, meta_now());
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        rc = meta_error_from_sqlite(err, db, rc, "claim job");
        goto out;
    }
    attempt = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = NULL;
    rc = jobs_owner_start_record(db, id, err);
    if (rc < 0)
        goto out;
    rc = jobs_state_event(db, id, META_JOB_RUNNING, attempt, NULL, err);
    if (rc < 0)
        goto out;
    rc = meta_tx_commit(db, err);
out:
    sqlite3_finalize(stmt);
    if (rc < 0 || id == 0) {
        meta_tx_rollback(db); /* nothing was written when no job was picked */
        return rc;
    }
    {
        *out_id = id;
        *out_attempt = attempt;
    }
    return 0;
}

/* Runs an UPDATE whose ?1 is the job id and ?2 the attempt, and fails with HUB_ECONFLICT when
 * it changed no row because the job is no longer running under that attempt. Finalizes. */
static int jobs_update_leased(sqlite3_stmt *stmt, struct meta *db, int64_t id, int attempt,
                              const char *what, struct hub_error *err)
{
    int rc;

    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int(stmt, 2, attempt);
    rc = jobs_exec(stmt, db, what, err);
    if (rc < 0)
        return rc;
    if (sqlite3_changes(meta_sqlite_get(db)) == 0)
        return hub_error_set(err, HUB_ECONFLICT, "job %lld is no longer running as attempt %d",
                             (long long)id, attempt);
    return 0;
}

int meta_job_set_worker(struct meta *db, int64_t id, int attempt, int64_t pid,
                        struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET worker_pid = ?3, heartbeat_at = ?4 WHERE id = ?1 AND "
                      "attempts = ?2 AND state = 'running'",
                      "record worker", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 3, pid);
    sqlite3_bind_int64(stmt, 4, meta_now());
    return jobs_update_leased(stmt, db, id, attempt, "record worker", err);
}

static void lease_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_job_lease *lease = item;

    lease->id = sqlite3_column_int64(stmt, 0);
    lease->owner_id = sqlite3_column_int64(stmt, 1);
    lease->attempts = sqlite3_column_int(stmt, 2);
    lease->max_attempts = sqlite3_column_int(stmt, 3);
    lease->worker_pid = sqlite3_column_int64(stmt, 4);
    lease->heartbeat_at = sqlite3_column_int64(stmt, 5);
    lease->started_at = sqlite3_column_int64(stmt, 6);
    lease->cancel_requested = sqlite3_column_int(stmt, 7) != 0;
    lease->attempt_started_at = sqlite3_column_int64(stmt, 8);
}

int meta_job_leases(struct meta_job_lease **out, size_t *out_count, struct meta *db,
                    struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    void *items = NULL;
    size_t count = 0;
    int rc;

    *out = NULL;
    *out_count = 0;
    rc = jobs_prepare(&stmt, db,
                      "SELECT id, owner_id, attempts, max_attempts, coalesce(worker_pid, 0), "
                      "coalesce(heartbeat_at, 0), coalesce(started_at, 0), cancel_requested, "
                      "coalesce(attempt_started_at, started_at, 0) "
                      "FROM jobs WHERE state = 'running' ORDER BY id",
                      "list running jobs", err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_collect(&items, &count, stmt, sizeof(struct meta_job_lease), lease_from_row, db,
                           "list running jobs", err);
    if (rc < 0)
        return rc;
    *out = items;
    *out_count = count;
    return 0;
}

/* ---- Worker updates --------------------------------------------------------------------- */

int meta_job_heartbeat(bool *out_cancel, struct meta *db, int64_t id, int attempt,
                       struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out_cancel = false;
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET heartbeat_at = ?3 WHERE id = ?1 AND attempts = ?2 AND "
                      "state = 'running' RETURNING cancel_requested",
                      "store heartbeat", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int(stmt, 2, attempt);
    sqlite3_bind_int64(stmt, 3, meta_now());
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *out_cancel = sqlite3_column_int(stmt, 0) != 0;
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = hub_error_set(err, HUB_ECONFLICT, "job %lld is no longer running as attempt %d",
                           (long long)id, attempt);
    } else {
        rc = meta_error_from_sqlite(err, db, rc, "store heartbeat");
    }
    sqlite3_finalize(stmt);
    return rc;
}

static void bind_progress_field(sqlite3_stmt *stmt, int index, bool has, double value)
{
    if (has)
        sqlite3_bind_double(stmt, index, value);
    else
        sqlite3_bind_null(stmt, index);
}

int meta_job_progress_set(struct meta *db, int64_t id, int attempt,
                          const struct meta_job_progress *progress, const char *event_json,
                          struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    /* A field the trainer left out keeps its previous value. */
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET heartbeat_at = ?3, step = coalesce(?4, step), "
                      "total_steps = coalesce(?5, total_steps), loss = coalesce(?6, loss), "
                      "lr = coalesce(?7, lr), tokens_per_s = coalesce(?8, tokens_per_s), "
                      "eta_s = coalesce(?9, eta_s) "
                      "WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                      "store progress", err);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(stmt, 3, meta_now());
    if (progress->has_step)
        sqlite3_bind_int64(stmt, 4, progress->step);
    if (progress->has_total_steps)
        sqlite3_bind_int64(stmt, 5, progress->total_steps);
    bind_progress_field(stmt, 6, progress->has_loss, progress->loss);
    bind_progress_field(stmt, 7, progress->has_lr, progress->lr);
    bind_progress_field(stmt, 8, progress->has_tokens_per_s, progress->tokens_per_s);
    bind_progress_field(stmt, 9, progress->has_eta_s, progress->eta_s);
    rc = jobs_update_leased(stmt, db, id, attempt, "store progress", err);
    if (rc < 0)
        goto out;
    if (event_json != NULL) {
        rc = jobs_event_append_locked(db, id, "progress", event_json, err);
        if (rc < 0)
            goto out;
    }
    rc = meta_tx_commit(db, err);
out:
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

int meta_job_event_append(struct meta *db, int64_t id, const char *kind, const char *data_json,
                          struct hub_error *err)
{
    int rc;

    if (strcmp(kind, "state") != 0 && strcmp(kind, "progress") != 0 && strcmp(kind, "eval") != 0 &&
        strcmp(kind, "log") != 0)
        return hub_error_set(err, HUB_EINVAL, "unknown job event kind '%s'", kind);
    /* The transaction makes the max(seq) + 1 read and the insert one step. */
    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = jobs_event_append_locked(db, id, kind, data_json, err);
    if (rc == 0)
        rc = meta_tx_commit(db, err);
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

void meta_job_event_list_dispose(struct meta_job_event_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].data_json);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

int meta_job_events_since(struct meta_job_event_list *out, struct meta *db, int64_t id,
                          int64_t after_seq, size_t max_events, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    size_t limit = max_events == 0 ? META_JOB_EVENTS_DEFAULT : max_events;
    int rc;

    memset(out, 0, sizeof(*out));
    if (limit > META_JOB_EVENTS_DEFAULT)
        limit = META_JOB_EVENTS_DEFAULT;
    out->items = calloc(limit, sizeof(*out->items));
    if (out->items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu job events", limit);
    rc = jobs_prepare(&stmt, db,
                      "SELECT seq, at, kind, data FROM job_events WHERE job_id = ?1 AND seq > ?2 "
                      "ORDER BY seq LIMIT ?3",
                      "load job events", err);
    if (rc < 0)
        goto out;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, after_seq);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit);
    while (out->count < limit) {
        struct meta_job_event *ev = &out->items[out->count];

        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            rc = meta_error_from_sqlite(err, db, rc, "load job events");
            goto out;
        }
        ev->seq = sqlite3_column_int64(stmt, 0);
        ev->at = sqlite3_column_int64(stmt, 1);
        column_copy(ev->kind, sizeof(ev->kind), stmt, 2);
        ev->data_json = column_strdup(stmt, 3);
        if (ev->data_json == NULL) {
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate an event of job %lld",
                               (long long)id);
            goto out;
        }
        out->count++;
    }
    rc = 0;
out:
    sqlite3_finalize(stmt);
    if (rc < 0)
        meta_job_event_list_dispose(out);
    return rc;
}

/* ---- Leaving the running state ---------------------------------------------------------- */

int meta_job_finish(struct meta *db, int64_t id, int attempt, enum meta_job_state state,
                    const char *result_commit, const char *metrics_json, const char *message,
                    struct hub_error *err)
{
    return meta_job_finish_logged(db, id, attempt, state, result_commit, metrics_json, message,
                                  NULL, err);
}

int meta_job_finish_logged(struct meta *db, int64_t id, int attempt, enum meta_job_state state,
                           const char *result_commit, const char *metrics_json, const char *message,
                           const char *log_json, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (!meta_job_state_is_terminal(state))
        return hub_error_set(err, HUB_EINTERNAL, "job %lld cannot finish in state %s",
                             (long long)id, meta_job_state_name(state));
    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET state = ?3, finished_at = ?4, worker_pid = NULL, "
                      "result_commit = coalesce(?5, result_commit), "
                      "result_metrics = coalesce(?6, result_metrics), error = ?7 "
                      "WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                      "finish job", err);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(stmt, 3, meta_job_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, meta_now());
    bind_text_or_null(stmt, 5, result_commit);
    bind_text_or_null(stmt, 6, metrics_json);
    bind_text_or_null(stmt, 7, state == META_JOB_SUCCEEDED ? NULL : message);
    rc = jobs_update_leased(stmt, db, id, attempt, "finish job", err);
    if (rc < 0)
        goto out;
    if (log_json != NULL)
        rc = jobs_event_append_locked(db, id, "log", log_json, err);
    if (rc < 0)
        goto out;
    rc = jobs_state_event(db, id, state, attempt, message, err);
    if (rc < 0)
        goto out;
    rc = meta_tx_commit(db, err);
out:
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

int meta_job_requeue(struct meta *db, int64_t id, int attempt, bool refund_attempt,
                     const char *reason, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET state = 'queued', worker_pid = NULL, heartbeat_at = NULL, "
                      "error = ?3, attempts = attempts - ?4 "
                      "WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                      "requeue job", err);
    if (rc < 0)
        goto out;
    bind_text_or_null(stmt, 3, reason);
    sqlite3_bind_int(stmt, 4, refund_attempt ? 1 : 0);
    rc = jobs_update_leased(stmt, db, id, attempt, "requeue job", err);
    if (rc < 0)
        goto out;
    rc = jobs_state_event(db, id, META_JOB_QUEUED, attempt, reason, err);
    if (rc < 0)
        goto out;
    rc = meta_tx_commit(db, err);
out:
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

int meta_job_inputs_pin(struct meta *db, int64_t id, int attempt, const char *model_commit,
                        const char *dataset_commit, const char *adapter_base_repo,
                        const char *adapter_base_commit, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET model_commit = coalesce(model_commit, ?3), "
                      "dataset_commit = coalesce(dataset_commit, ?4), "
                      "adapter_base_commit = coalesce(adapter_base_commit, ?5), "
                      "base_repo = CASE WHEN coalesce(base_repo, '') = '' AND ?5 IS NOT NULL "
                      "AND adapter_base_commit IS NULL THEN ?6 ELSE base_repo END "
                      "WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                      "pin job inputs", err);
    if (rc < 0)
        return rc;
    bind_text_or_null(stmt, 3, model_commit);
    bind_text_or_null(stmt, 4, dataset_commit);
    bind_text_or_null(stmt, 5, adapter_base_commit);
    bind_text_or_null(stmt, 6, adapter_base_repo);
    return jobs_update_leased(stmt, db, id, attempt, "pin job inputs", err);
}

int meta_job_output_deleted_set(struct meta *db, int64_t id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET output_deleted_at = ?2 WHERE id = ?1 AND "
                      "state IN ('failed', 'canceled')",
                      "record deleted output repo", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, meta_now());
    rc = jobs_exec(stmt, db, "record deleted output repo", err);
    if (rc < 0)
        return rc;
    if (sqlite3_changes(meta_sqlite_get(db)) == 0)
        return hub_error_set(err, HUB_ENOTFOUND, "no failed or canceled job %lld", (long long)id);
    return 0;
}

static int jobs_state_of(enum meta_job_state *out, struct meta *db, int64_t id,
                         struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    const char *text;
    int rc;

    rc = jobs_prepare(&stmt, db, "SELECT state FROM jobs WHERE id = ?1", "load job state", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        rc = hub_error_set(err, HUB_ENOTFOUND, "job %lld not found", (long long)id);
    } else if (rc != SQLITE_ROW) {
        rc = meta_error_from_sqlite(err, db, rc, "load job state");
    } else {
        text = (const char *)sqlite3_column_text(stmt, 0);
        rc =
            text != NULL && meta_job_state_parse(out, text)
                ? 0
                : hub_error_set(err, HUB_EINTERNAL, "job %lld has an unknown state", (long long)id);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int jobs_cancel_locked(enum meta_job_state *out_state, struct meta *db, int64_t id,
                              const char *canceled_by, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    enum meta_job_state state;
    char reason[META_JOB_CANCELED_BY_BYTES];
    int rc;

    rc = jobs_state_of(&state, db, id, err);
    if (rc < 0)
        return rc;
    if (meta_job_state_is_terminal(state))
        return hub_error_set(err, HUB_ECONFLICT,
                             "job %lld already %s; only queued or running "
                             "jobs can be canceled",
                             (long long)id, meta_job_state_name(state));
    if (canceled_by != NULL && canceled_by[0] != '\0')
        snprintf(reason, sizeof(reason), "canceled by %.*s", HUB_MAX_REPO_NAME_BYTES, canceled_by);
    else
        snprintf(reason, sizeof(reason), "canceled");
    if (state == META_JOB_QUEUED) {
        size_t len = strlen(reason);

        snprintf(reason + len, sizeof(reason) - len, " before it started");
        rc = jobs_prepare(&stmt, db,
                          "UPDATE jobs SET state = 'canceled', finished_at = ?2, "
                          "cancel_requested = 1, error = ?3 WHERE id = ?1",
                          "cancel job", err);
        if (rc < 0)
            return rc;
        sqlite3_bind_int64(stmt, 1, id);
        sqlite3_bind_int64(stmt, 2, meta_now());
        sqlite3_bind_text(stmt, 3, reason, -1, SQLITE_TRANSIENT);
        rc = jobs_exec(stmt, db, "cancel job", err);
        if (rc < 0)
            return rc;
        *out_state = META_JOB_CANCELED;
        return jobs_state_event(db, id, META_JOB_CANCELED, 0, reason, err);
    }
    /* The error names the canceler until the scheduler stores the final one, which starts
     * with it (see meta_job_cancel_reason). */
    rc = jobs_prepare(&stmt, db, "UPDATE jobs SET cancel_requested = 1, error = ?2 WHERE id = ?1",
                      "request cancel", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, reason, -1, SQLITE_TRANSIENT);
    *out_state = META_JOB_RUNNING;
    return jobs_exec(stmt, db, "request cancel", err);
}

int meta_job_cancel(enum meta_job_state *out_state, struct meta *db, int64_t id,
                    const char *canceled_by, struct hub_error *err)
{
    int rc;

    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = jobs_cancel_locked(out_state, db, id, canceled_by, err);
    if (rc == 0)
        rc = meta_tx_commit(db, err);
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

int meta_job_cancel_running_of_owner(int64_t *out_count, struct meta *db, int64_t owner_id,
                                     struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (out_count != NULL)
        *out_count = 0;
    /* The error starts with "canceled", so meta_job_cancel_reason keeps it for the final one. */
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET cancel_requested = 1, "
                      "error = 'canceled because an admin disabled owner ' || owner "
                      "WHERE owner_id = ?1 AND state = 'running' AND cancel_requested = 0",
                      "cancel the running jobs of an owner", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, owner_id);
    rc = jobs_exec(stmt, db, "cancel the running jobs of an owner", err);
    if (rc == 0 && out_count != NULL)
        *out_count = sqlite3_changes(meta_sqlite_get(db));
    return rc;
}

int meta_job_cancel_overtime(bool *out_marked, struct meta *db, int64_t id, unsigned limit_s,
                             struct hub_error *err)
{
    char reason[160];
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out_marked = false;
    /* The error starts with "canceled", so meta_job_cancel_reason keeps it for the final one. */
    snprintf(reason, sizeof(reason),
             "canceled because it ran longer than this hub's limit of %u s (--max-job-seconds); "
             "ask for fewer steps or epochs",
             limit_s);
    rc = jobs_prepare(&stmt, db,
                      "UPDATE jobs SET cancel_requested = 1, error = ?2 "
                      "WHERE id = ?1 AND state = 'running' AND cancel_requested = 0",
                      "cancel a job over the time limit", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, reason, -1, SQLITE_TRANSIENT);
    rc = jobs_exec(stmt, db, "cancel a job over the time limit", err);
    if (rc == 0)
        *out_marked = sqlite3_changes(meta_sqlite_get(db)) > 0;
    return rc;
}

void meta_job_cancel_reason(char *out, size_t cap, struct meta *db, int64_t id)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;

    snprintf(out, cap, "canceled");
    if (meta_job_get(&job, db, id, &err) < 0)
        return;
    if (job->cancel_requested && job->error != NULL && strncmp(job->error, "canceled", 8) == 0)
        snprintf(out, cap, "%s", job->error);
    meta_job_free(job);
}

/* ---- Evaluations and adapters ----------------------------------------------------------- */

int meta_eval_insert(int64_t *out_id, struct meta *db, int64_t job_id, const char *repo,
                     const char *revision, const char *base_model, const char *base_revision,
                     const char *dataset, const char *dataset_revision, const char *eval_file,
                     const char *metrics_json, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = jobs_prepare(&stmt, db,
                      "INSERT INTO evals (job_id, repo, revision, dataset, dataset_revision, "
                      "eval_file, metrics, created_at, base_model, base_revision) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                      "insert evaluation", err);
    if (rc < 0)
        return rc;
    if (job_id > 0)
        sqlite3_bind_int64(stmt, 1, job_id);
    else
        sqlite3_bind_null(stmt, 1);
    sqlite3_bind_text(stmt, 2, repo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, revision, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, dataset, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, dataset_revision, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, eval_file, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 7, metrics_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 8, meta_now());
    bind_text_or_null(stmt, 9, base_model);
    bind_text_or_null(stmt, 10, base_revision);
    rc = jobs_exec(stmt, db, "insert evaluation", err);
    if (rc == 0 && out_id != NULL)
        *out_id = sqlite3_last_insert_rowid(meta_sqlite_get(db));
    return rc;
}

void meta_eval_list_dispose(struct meta_eval_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].eval_file);
        free(list->items[i].metrics_json);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

static int eval_from_row(struct meta_eval *ev, sqlite3_stmt *stmt, struct hub_error *err)
{
    ev->id = sqlite3_column_int64(stmt, 0);
    ev->job_id = sqlite3_column_int64(stmt, 1);
    column_copy(ev->repo, sizeof(ev->repo), stmt, 2);
    column_copy(ev->revision, sizeof(ev->revision), stmt, 3);
    column_copy(ev->dataset, sizeof(ev->dataset), stmt, 4);
    column_copy(ev->dataset_revision, sizeof(ev->dataset_revision), stmt, 5);
    ev->eval_file = column_strdup(stmt, 6);
    ev->metrics_json = column_strdup(stmt, 7);
    ev->created_at = sqlite3_column_int64(stmt, 8);
    column_copy(ev->base_model, sizeof(ev->base_model), stmt, 9);
    column_copy(ev->base_revision, sizeof(ev->base_revision), stmt, 10);
    if (ev->eval_file == NULL || ev->metrics_json == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate evaluation %lld", (long long)ev->id);
    return 0;
}

int meta_evals_for_repo(struct meta_eval_list *out, struct meta *db, const char *repo,
                        struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    out->items = calloc(META_JOB_LIST_MAX, sizeof(*out->items));
    if (out->items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a list of evaluations");
    rc = jobs_prepare(&stmt, db,
                      "SELECT id, coalesce(job_id, 0), repo, revision, dataset, dataset_revision, "
                      "eval_file, metrics, created_at, coalesce(base_model, ''), "
                      "coalesce(base_revision, '') FROM evals WHERE repo = ?1 "
                      "ORDER BY id DESC LIMIT ?2",
                      "list evaluations", err);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(stmt, 1, repo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, META_JOB_LIST_MAX);
    while (out->count < META_JOB_LIST_MAX) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            rc = meta_error_from_sqlite(err, db, rc, "list evaluations");
            goto out;
        }
        out->count++;
        rc = eval_from_row(&out->items[out->count - 1], stmt, err);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(stmt);
    if (rc < 0)
        meta_eval_list_dispose(out);
    return rc;
}

int meta_adapters_of_base(char ***out, size_t *out_count, struct meta *db, const char *base_repo,
                          struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    char **names = NULL;
    size_t count = 0;
    int rc;

    *out = NULL;
    *out_count = 0;
    names = calloc(META_JOB_LIST_MAX, sizeof(*names));
    if (names == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a list of adapters");
    rc = jobs_prepare(&stmt, db,
                      "SELECT repo FROM jobs WHERE type = 'train' AND state = 'succeeded' AND "
                      "base_repo = ?1 GROUP BY repo ORDER BY max(id) DESC LIMIT ?2",
                      "list adapters", err);
    if (rc < 0)
        goto out;
    sqlite3_bind_text(stmt, 1, base_repo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, META_JOB_LIST_MAX);
    while (count < META_JOB_LIST_MAX) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            rc = meta_error_from_sqlite(err, db, rc, "list adapters");
            goto out;
        }
        names[count] = column_strdup(stmt, 0);
        if (names[count] == NULL) {
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate an adapter name");
            goto out;
        }
        count++;
    }
    rc = 0;
    *out = names;
    *out_count = count;
    names = NULL;
out:
    sqlite3_finalize(stmt);
    if (names != NULL) {
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
    }
    return rc;
}
