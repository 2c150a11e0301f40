/* Tests of meta_jobs against a real SQLite database in a temporary data directory: the
 * queue limit, fair claiming, leases, exactly-once completion, retries, cancel, events and
 * evaluations. */
#include "harness.h"
#include "meta.h"
#include "meta_jobs.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct meta *db;

static int64_t insert(const char *owner, int64_t owner_id, int max_queued)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t id = 0;
    int rc = meta_job_insert(&id, db, META_JOB_TRAIN, owner_id, owner, "alice/out", "demo/base",
                             "alice/data", NULL, "{\"type\":\"train\"}", 2, max_queued, &err);

    if (rc < 0)
        printf("# insert failed: %s\n", err.msg);
    return rc < 0 ? rc : id;
}

static void test_queue_limit(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t id = 0;
    int rc;

    CHECK(insert("carol", 30, 2) > 0);
    CHECK(insert("carol", 30, 2) > 0);
    rc = meta_job_insert(&id, db, META_JOB_TRAIN, 30, "carol", "carol/o", NULL, NULL, NULL, "{}", 2,
                         2, &err);
    CHECK_EQ_INT(rc, HUB_ECONFLICT);
    CHECK(strstr(err.msg, "carol") != NULL);
}

static void test_fair_claim(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t a1 = insert("alice", 10, 0), a2 = insert("alice", 10, 0), b1 = insert("bob", 20, 0);
    int64_t got = 0;
    int attempt = 0;

    CHECK(a1 > 0);
    CHECK(a2 > 0);
    CHECK(b1 > 0);
    /* No job runs yet: carol's first job from test_queue_limit is the oldest. */
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, 1);
    CHECK_EQ_INT(attempt, 1);
    /* carol runs one job now, so alice and bob, who run none, go first, oldest first. */
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, a1);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, b1);
    /* Everyone runs one job: with a limit of one per user nothing may start. */
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 1, &err), 0);
    CHECK_EQ_INT(got, 0);
    /* With a limit of two, carol goes first: her latest start is older than alice's. */
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 2, &err), 0);
    CHECK_EQ_INT(got, 2);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, a2);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, 0);
}

/* Claims the next job with no running limit and returns its id, 0 when none is queued. */
static int64_t claim(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t got = 0;
    int attempt = 0;

    if (meta_job_claim_next(&got, &attempt, db, 0, &err) < 0)
        printf("# claim failed: %s\n", err.msg);
    return got;
}

/* Finishes running job id as succeeded, as its worker would. */
static void finish(int64_t id)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;

    if (meta_job_get(&job, db, id, &err) < 0) {
        printf("# cannot load job %lld: %s\n", (long long)id, err.msg);
        return;
    }
    if (meta_job_finish(db, id, job->attempts, META_JOB_SUCCEEDED, NULL, NULL, NULL, &err) < 0)
        printf("# finish failed: %s\n", err.msg);
    meta_job_free(job);
}

/* With one worker, no job runs when the next is picked, so only the turns order the
 * owners: a burst from one owner waits behind one job of each other owner. Runs on an empty
 * database of its own. */
static void test_round_robin_claim(struct meta *fresh)
{
    struct meta *shared = db;
    int64_t a1, a2, a3, b1, c1, b2, got;

    db = fresh;
    a1 = insert("anna", 1, 0);
    a2 = insert("anna", 1, 0);
    a3 = insert("anna", 1, 0);
    b1 = insert("ben", 2, 0);
    c1 = insert("cleo", 3, 0);

    got = claim();
    CHECK_EQ_INT(got, a1);
    finish(got);
    got = claim();
    CHECK_EQ_INT(got, b1);
    finish(got);
    got = claim();
    CHECK_EQ_INT(got, c1);
    finish(got);
    /* ben queues again: anna's latest start is older than ben's, so she goes first. */
    b2 = insert("ben", 2, 0);
    got = claim();
    CHECK_EQ_INT(got, a2);
    finish(got);
    got = claim();
    CHECK_EQ_INT(got, b2);
    finish(got);
    got = claim();
    CHECK_EQ_INT(got, a3);
    finish(got);
    CHECK_EQ_INT(claim(), 0);
    db = shared;
}

/* A requeued job keeps the reason while it waits, and its next attempt starts with no error. */
static void test_claim_clears_error(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    int64_t id = insert("kim", 95, 0), got = 0;
    int attempt = 0;

    /* Everything else still queued runs at most one job per owner, so kim's goes first. */
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 1, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_requeue(db, id, attempt, true, "the daemon stopped", &err), 0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_STR(job->error, "the daemon stopped");
    meta_job_free(job);

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 1, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_INT(job->state, META_JOB_RUNNING);
    CHECK(job->error == NULL);
    meta_job_free(job);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_SUCCEEDED, NULL, NULL, NULL, &err), 0);
}

/* meta_job_find_using_repo finds a queued or running job by each repo it names, models as
 * output or base and datasets as dataset, and ignores finished jobs. */
static void test_find_using_repo(struct meta *fresh)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *shared = db;
    enum meta_job_state state = META_JOB_FAILED;
    int64_t id, got = 0;
    int attempt = 0;

    db = fresh;
    id = insert("lena", 96, 0); /* output alice/out, base demo/base, dataset alice/data */
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_MODEL, "alice/out", &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(state, META_JOB_QUEUED);
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_MODEL, "Demo/Base", &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_DATASET, "alice/data", &err),
                 0);
    CHECK_EQ_INT(got, id);
    /* A dataset named like the output model, and a model named like the dataset, are free. */
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_DATASET, "alice/out", &err),
                 0);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_MODEL, "alice/data", &err), 0);
    CHECK_EQ_INT(got, 0);

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_MODEL, "alice/out", &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(state, META_JOB_RUNNING);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_FAILED, NULL, NULL, "broken", &err), 0);
    CHECK_EQ_INT(meta_job_find_using_repo(&got, &state, db, HUB_REPO_MODEL, "alice/out", &err), 0);
    CHECK_EQ_INT(got, 0);
    db = shared;
}

static void test_finish_exactly_once(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    int64_t id = 0;
    int attempt = 0;

    id = insert("dave", 40, 0);
    /* Everything else is running, so dave's job is the only queued one. */
    CHECK_EQ_INT(meta_job_claim_next(&id, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(meta_job_set_worker(db, id, attempt, 4242, &err), 0);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_SUCCEEDED,
                                 "0123456789012345678901234567890123456789", "{\"loss\":1.5}", NULL,
                                 &err),
                 0);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_FAILED, NULL, NULL, "late", &err),
                 HUB_ECONFLICT);
    CHECK_EQ_INT(meta_job_requeue(db, id, attempt, false, "late", &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_INT(job->state, META_JOB_SUCCEEDED);
    CHECK_EQ_STR(job->result_commit, "0123456789012345678901234567890123456789");
    CHECK_EQ_STR(job->result_metrics_json, "{\"loss\":1.5}");
    CHECK(job->error == NULL);
    CHECK(job->finished_at > 0);
    CHECK_EQ_INT(job->worker_pid, 0);
    meta_job_free(job);
}

static void test_retry_and_stale_lease(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    bool cancel = true;
    int64_t id = insert("erin", 50, 0), got = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_heartbeat(&cancel, db, id, attempt, &err), 0);
    CHECK(!cancel);
    CHECK_EQ_INT(meta_job_requeue(db, id, attempt, false, "worker was killed", &err), 0);
    /* The first attempt's worker lost its lease. */
    CHECK_EQ_INT(meta_job_heartbeat(&cancel, db, id, attempt, &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(attempt, 2);
    CHECK_EQ_INT(meta_job_finish(db, id, 1, META_JOB_SUCCEEDED, NULL, NULL, NULL, &err),
                 HUB_ECONFLICT);
    /* A refunded requeue (the daemon stopped) gives the attempt back. */
    CHECK_EQ_INT(meta_job_requeue(db, id, 2, true, "daemon stopped", &err), 0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_INT(job->state, META_JOB_QUEUED);
    CHECK_EQ_INT(job->attempts, 1);
    CHECK_EQ_STR(job->error, "daemon stopped");
    meta_job_free(job);
}

/* Returns the lease of running job id from meta_job_leases, zeroed when there is none. */
static struct meta_job_lease lease_of(int64_t id)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job_lease *leases = NULL, found = {0};
    size_t count = 0;

    if (meta_job_leases(&leases, &count, db, &err) == 0) {
        for (size_t i = 0; i < count; i++) {
            if (leases[i].id == id)
                found = leases[i];
        }
    }
    free(leases);
    return found;
}

/* --max-job-seconds measures the running attempt, so each claim restarts attempt_started_at
 * while started_at keeps the first attempt's start. */
static void test_attempt_start(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job_lease lease;
    int64_t id = insert("gina", 70, 0), got = 0;
    char sql[160];
    int attempt = 0;

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    lease = lease_of(id);
    CHECK(lease.attempt_started_at > 0);
    CHECK(lease.attempt_started_at == lease.started_at);
    /* The first attempt ran an hour ago, then the daemon was down. */
    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET started_at = started_at - 3600, "
             "attempt_started_at = attempt_started_at - 3600 WHERE id = %lld",
             (long long)id);
    CHECK_EQ_INT(sqlite3_exec(meta_sqlite_get(db), sql, NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(meta_job_requeue(db, id, attempt, true, "daemon stopped", &err), 0);
    /* Jobs that earlier tests left queued go first: gina had the latest start. */
    for (int i = 0; i < 50; i++) {
        if (meta_job_claim_next(&got, &attempt, db, 0, &err) < 0 || got == id || got == 0)
            break;
    }
    CHECK_EQ_INT(got, id);
    lease = lease_of(id);
    CHECK(lease.attempt_started_at >= lease.started_at + 3600);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_SUCCEEDED, NULL, NULL, NULL, &err), 0);
}

static void test_cancel(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_job_state state = META_JOB_QUEUED;
    struct meta_job *job = NULL;
    struct meta_job_lease *leases = NULL;
    size_t count = 0;
    bool cancel = false;
    char reason[META_JOB_CANCELED_BY_BYTES];
    int64_t queued = insert("frank", 60, 0), got = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_cancel(&state, db, queued, "teacher", &err), 0);
    CHECK_EQ_INT(state, META_JOB_CANCELED);
    CHECK_EQ_INT(meta_job_get(&job, db, queued, &err), 0);
    CHECK_EQ_STR(job->error, "canceled by teacher before it started");
    meta_job_free(job);
    CHECK_EQ_INT(meta_job_cancel(&state, db, queued, "teacher", &err), HUB_ECONFLICT);
    CHECK_EQ_INT(meta_job_cancel(&state, db, 999999, "teacher", &err), HUB_ENOTFOUND);
    /* erin's job from the retry test is the only queued one now. */
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK(got > 0);
    CHECK_EQ_INT(meta_job_cancel(&state, db, got, "frank", &err), 0);
    CHECK_EQ_INT(state, META_JOB_RUNNING);
    /* The scheduler starts the final error with the canceler that the request stored. */
    meta_job_cancel_reason(reason, sizeof(reason), db, got);
    CHECK_EQ_STR(reason, "canceled by frank");
    CHECK_EQ_INT(meta_job_heartbeat(&cancel, db, got, attempt, &err), 0);
    CHECK(cancel);
    CHECK_EQ_INT(meta_job_leases(&leases, &count, db, &err), 0);
    for (size_t i = 0; i < count; i++) {
        if (leases[i].id == got)
            CHECK(leases[i].cancel_requested);
    }
    free(leases);
    CHECK_EQ_INT(meta_job_finish(db, got, attempt, META_JOB_CANCELED, NULL, NULL, "stopped", &err),
                 0);
    CHECK_EQ_INT(meta_job_get(&job, db, got, &err), 0);
    CHECK_EQ_INT(job->state, META_JOB_CANCELED);
    meta_job_free(job);
}

static void test_events_and_progress(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job_event_list events;
    struct meta_job_progress progress;
    struct meta_job *job = NULL;
    int64_t id = insert("gina", 70, 0), got = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    memset(&progress, 0, sizeof(progress));
    progress.step = 5;
    progress.has_step = true;
    progress.loss = 2.25;
    progress.has_loss = true;
    CHECK_EQ_INT(
        meta_job_progress_set(db, id, attempt, &progress, "{\"step\":5,\"loss\":2.25}", &err), 0);
    CHECK_EQ_INT(meta_job_event_append(db, id, "eval", "{\"eval_loss\":2}", &err), 0);
    CHECK_EQ_INT(meta_job_event_append(db, id, "bogus", "{}", &err), HUB_EINVAL);
    CHECK_EQ_INT(meta_job_events_since(&events, db, id, 0, 0, &err), 0);
    /* queued, running, progress, eval */
    CHECK_EQ_INT(events.count, 4);
    if (events.count == 4) {
        CHECK_EQ_STR(events.items[0].kind, "state");
        CHECK(strstr(events.items[0].data_json, "\"queued\"") != NULL);
        CHECK_EQ_STR(events.items[1].kind, "state");
        CHECK_EQ_STR(events.items[2].kind, "progress");
        CHECK_EQ_INT(events.items[3].seq, 4);
    }
    meta_job_event_list_dispose(&events);
    CHECK_EQ_INT(meta_job_events_since(&events, db, id, 2, 0, &err), 0);
    CHECK_EQ_INT(events.count, 2);
    meta_job_event_list_dispose(&events);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK(job->progress.has_step);
    CHECK_EQ_INT(job->progress.step, 5);
    CHECK(!job->progress.has_total_steps);
    CHECK_NEAR(job->progress.loss, 2.25, 1e-12);
    meta_job_free(job);
}

static void test_list_filters(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job_filter filter;
    struct meta_job_list list;

    memset(&filter, 0, sizeof(filter));
    filter.state = -1;
    filter.owner = "alice";
    CHECK_EQ_INT(meta_job_list(&list, db, &filter, &err), 0);
    CHECK_EQ_INT(list.total, 2);
    CHECK_EQ_INT(list.count, 2);
    if (list.count == 2)
        CHECK(list.items[0].id > list.items[1].id);
    meta_job_list_dispose(&list);
    filter.owner = NULL;
    filter.state = META_JOB_CANCELED;
    CHECK_EQ_INT(meta_job_list(&list, db, &filter, &err), 0);
    CHECK_EQ_INT(list.total, 2);
    meta_job_list_dispose(&list);
    filter.state = -1;
    filter.repo = "demo/base";
    filter.limit = 3;
    filter.offset = 1;
    CHECK_EQ_INT(meta_job_list(&list, db, &filter, &err), 0);
    CHECK(list.total >= 8);
    CHECK_EQ_INT(list.count, 3);
    meta_job_list_dispose(&list);
}

static void test_evals_and_adapters(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_eval_list evals;
    char **names = NULL;
    size_t count = 0;

    CHECK_EQ_INT(meta_eval_insert(NULL, db, 0, "alice/out", "aaaa", "demo/base", "cccc",
                                  "alice/data", "bbbb", "eval.jsonl", "{\"mean_nll\":1.5}", &err),
                 0);
    CHECK_EQ_INT(meta_evals_for_repo(&evals, db, "alice/out", &err), 0);
    CHECK_EQ_INT(evals.count, 1);
    if (evals.count == 1) {
        CHECK_EQ_STR(evals.items[0].revision, "aaaa");
        CHECK_EQ_STR(evals.items[0].base_model, "demo/base");
        CHECK_EQ_STR(evals.items[0].base_revision, "cccc");
        CHECK_EQ_STR(evals.items[0].metrics_json, "{\"mean_nll\":1.5}");
    }
    meta_eval_list_dispose(&evals);
    /* A full model's evaluation has no base. */
    CHECK_EQ_INT(meta_eval_insert(NULL, db, 0, "demo/base", "cccc", NULL, NULL, "alice/data",
                                  "bbbb", "eval.jsonl", "{\"mean_nll\":1.9}", &err),
                 0);
    CHECK_EQ_INT(meta_evals_for_repo(&evals, db, "demo/base", &err), 0);
    CHECK_EQ_INT(evals.count, 1);
    if (evals.count == 1) {
        CHECK_EQ_STR(evals.items[0].base_model, "");
        CHECK_EQ_STR(evals.items[0].base_revision, "");
    }
    meta_eval_list_dispose(&evals);
    /* dave's succeeded job trained alice/out on demo/base. */
    CHECK_EQ_INT(meta_adapters_of_base(&names, &count, db, "demo/base", &err), 0);
    CHECK_EQ_INT(count, 1);
    if (count == 1)
        CHECK_EQ_STR(names[0], "alice/out");
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* The first attempt's input commits stay pinned, and the output repo that a job created is
 * recorded with the job. */
static void test_pinned_inputs_and_output(void)
{
    static const char first_model[] = "1111111111111111111111111111111111111111";
    static const char first_data[] = "2222222222222222222222222222222222222222";
    static const char moved_data[] = "3333333333333333333333333333333333333333";
    static const char created[] = "4444444444444444444444444444444444444444";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    int64_t id = 0, got = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_insert(&id, db, META_JOB_TRAIN, 90, "ivan", "ivan/out", "ivan/base",
                                 "ivan/data", created, "{}", 3, 0, &err),
                 0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_STR(job->output_created_commit, created);
    CHECK_EQ_STR(job->model_commit, "");
    CHECK_EQ_STR(job->dataset_commit, "");
    CHECK_EQ_INT(job->output_deleted_at, 0);
    meta_job_free(job);

    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, attempt, first_model, first_data, NULL, NULL, &err),
                 0);
    CHECK_EQ_INT(meta_job_requeue(db, id, attempt, false, "worker was killed", &err), 0);
    /* The stale attempt may not pin anything. */
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, attempt, first_model, moved_data, NULL, NULL, &err),
                 HUB_ECONFLICT);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(attempt, 2);
    /* A retry that resolved other commits does not replace the pinned ones. */
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, attempt, first_model, moved_data, "", "", &err), 0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_STR(job->model_commit, first_model);
    CHECK_EQ_STR(job->dataset_commit, first_data);
    CHECK_EQ_STR(job->adapter_base_commit, "");
    meta_job_free(job);

    /* Only a failed or canceled job records a deleted output repo. */
    CHECK_EQ_INT(meta_job_output_deleted_set(db, id, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_FAILED, NULL, NULL, "broken", &err), 0);
    CHECK_EQ_INT(meta_job_output_deleted_set(db, id, &err), 0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK(job->output_deleted_at > 0);
    meta_job_free(job);
}

/* An evaluation of an adapter records the adapter's base repo with its pinned commit, and a
 * retry that finds another base keeps the first one. */
static void test_pinned_adapter_base(void)
{
    static const char adapter[] = "5555555555555555555555555555555555555555";
    static const char base[] = "6666666666666666666666666666666666666666";
    static const char other_base[] = "7777777777777777777777777777777777777777";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    int64_t id = 0, got = 0;
    int attempt = 0;

    CHECK_EQ_INT(meta_job_insert(&id, db, META_JOB_EVAL, 91, "judy", "judy/lora", NULL, "judy/data",
                                 NULL, "{}", 2, 0, &err),
                 0);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(meta_job_inputs_pin(db, id, attempt, adapter, NULL, "judy/base", base, &err), 0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_STR(job->base_repo, "judy/base");
    CHECK_EQ_STR(job->adapter_base_commit, base);
    meta_job_free(job);

    CHECK_EQ_INT(meta_job_requeue(db, id, attempt, false, "worker was killed", &err), 0);
    CHECK_EQ_INT(meta_job_claim_next(&got, &attempt, db, 0, &err), 0);
    CHECK_EQ_INT(got, id);
    CHECK_EQ_INT(
        meta_job_inputs_pin(db, id, attempt, adapter, NULL, "judy/other-base", other_base, &err),
        0);
    CHECK_EQ_INT(meta_job_get(&job, db, id, &err), 0);
    CHECK_EQ_STR(job->base_repo, "judy/base");
    CHECK_EQ_STR(job->adapter_base_commit, base);
    meta_job_free(job);
    CHECK_EQ_INT(meta_job_finish(db, id, attempt, META_JOB_FAILED, NULL, NULL, "stopped", &err), 0);
}

/* Runs sql on fresh and reports its error. */
static void exec_sql(struct meta *fresh, const char *sql)
{
    char *message = NULL;

    if (sqlite3_exec(meta_sqlite_get(fresh), sql, NULL, NULL, &message) != SQLITE_OK)
        printf("# %s: %s\n", sql, message != NULL ? message : "");
    sqlite3_free(message);
}

/* Evaluations stored before the evals table had base columns get the base from their job
 * when the migration that adds those columns runs. The test removes the columns and the
 * migration's record from a migrated database, stores rows the way older versions did, and
 * opens the database again. */
static void test_eval_base_backfill(const char *dir)
{
    static const char *const undo_sql =
        "ALTER TABLE evals DROP COLUMN base_model; ALTER TABLE evals DROP COLUMN base_revision; "
        "DELETE FROM schema_version WHERE version = 13;";
    static const char *const rows_format =
        "UPDATE jobs SET model_commit = 'a1' WHERE id = %lld;"
        "UPDATE jobs SET base_repo = 'kim/base', model_commit = 'c2', adapter_base_commit = 'b2' "
        "WHERE id = %lld;"
        "INSERT INTO evals (job_id, repo, revision, dataset, dataset_revision, eval_file, "
        "metrics, created_at) VALUES "
        "(%lld, 'kim/lora', 'c1', 'kim/data', 'd1', 'e.jsonl', '{}', 1),"
        "(%lld, 'kim/base', 'a1', 'kim/data', 'd1', 'e.jsonl', '{}', 1),"
        "(%lld, 'kim/lora', 'c2', 'kim/data', 'd1', 'e.jsonl', '{}', 2),"
        "(%lld, 'kim/base', 'b2', 'kim/data', 'd1', 'e.jsonl', '{}', 2),"
        "(%lld, 'kim/full', 'f1', 'kim/data', 'd1', 'e.jsonl', '{}', 3),"
        "(NULL, 'kim/lora', 'c0', 'kim/data', 'd1', 'e.jsonl', '{}', 0);";
    char rows_sql[1024];
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_eval_list evals;
    struct meta *fresh = NULL;
    int64_t train_id = 0, eval_id = 0, full_id = 0;

    CHECK_EQ_INT(meta_open(&fresh, dir, META_OPEN_MIGRATE, &err), 0);
    if (fresh == NULL)
        return;
    /* One job trained kim/lora on kim/base, one evaluated kim/lora against its base and one
     * evaluated the full model kim/full. */
    CHECK_EQ_INT(meta_job_insert(&train_id, fresh, META_JOB_TRAIN, 1, "kim", "kim/lora", "kim/base",
                                 "kim/data", NULL, "{}", 2, 0, &err),
                 0);
    CHECK_EQ_INT(meta_job_insert(&eval_id, fresh, META_JOB_EVAL, 1, "kim", "kim/lora", NULL,
                                 "kim/data", NULL, "{}", 2, 0, &err),
                 0);
    CHECK_EQ_INT(meta_job_insert(&full_id, fresh, META_JOB_EVAL, 1, "kim", "kim/full", NULL,
                                 "kim/data", NULL, "{}", 2, 0, &err),
                 0);
    snprintf(rows_sql, sizeof(rows_sql), rows_format, (long long)train_id, (long long)eval_id,
             (long long)train_id, (long long)train_id, (long long)eval_id, (long long)eval_id,
             (long long)full_id);
    exec_sql(fresh, undo_sql);
    exec_sql(fresh, rows_sql);
    meta_close(fresh);

    fresh = NULL;
    CHECK_EQ_INT(meta_open(&fresh, dir, META_OPEN_MIGRATE, &err), 0);
    if (fresh == NULL)
        return;
    CHECK_EQ_INT(meta_evals_for_repo(&evals, fresh, "kim/lora", &err), 0);
    CHECK_EQ_INT(evals.count, 3);
    if (evals.count == 3) {
        /* Newest first: the row without a job, the evaluation job's, the training job's. */
        CHECK_EQ_STR(evals.items[0].base_model, "");
        CHECK_EQ_STR(evals.items[0].base_revision, "");
        CHECK_EQ_STR(evals.items[1].base_model, "kim/base");
        CHECK_EQ_STR(evals.items[1].base_revision, "b2");
        CHECK_EQ_STR(evals.items[2].base_model, "kim/base");
        CHECK_EQ_STR(evals.items[2].base_revision, "a1");
    }
    meta_eval_list_dispose(&evals);
    /* The base model's own rows and a full model's row have no base. */
    CHECK_EQ_INT(meta_evals_for_repo(&evals, fresh, "kim/base", &err), 0);
    CHECK_EQ_INT(evals.count, 2);
    for (size_t i = 0; i < evals.count; i++)
        CHECK_EQ_STR(evals.items[i].base_model, "");
    meta_eval_list_dispose(&evals);
    CHECK_EQ_INT(meta_evals_for_repo(&evals, fresh, "kim/full", &err), 0);
    CHECK_EQ_INT(evals.count, 1);
    if (evals.count == 1)
        CHECK_EQ_STR(evals.items[0].base_model, "");
    meta_eval_list_dispose(&evals);
    meta_close(fresh);
}

int main(void)
{
    char dir[] = "/tmp/atelier-test-meta-jobs-XXXXXX";
    char round_dir[] = "/tmp/atelier-test-meta-jobs-turns-XXXXXX";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *fresh = NULL;
    char command[160];

    if (mkdtemp(dir) == NULL || meta_open(&db, dir, META_OPEN_MIGRATE, &err) < 0) {
        printf("Bail out! cannot open a database in %s: %s\n", dir, err.msg);
        return 1;
    }
    if (mkdtemp(round_dir) == NULL || meta_open(&fresh, round_dir, META_OPEN_MIGRATE, &err) < 0) {
        printf("Bail out! cannot open a database in %s: %s\n", round_dir, err.msg);
        return 1;
    }
    test_round_robin_claim(fresh);
    test_find_using_repo(fresh);
    meta_close(fresh);
    test_eval_base_backfill(round_dir);
    snprintf(command, sizeof(command), "rm -rf '%s'", round_dir);
    if (system(command) != 0)
        printf("# cannot remove %s\n", round_dir);
    test_queue_limit();
    test_fair_claim();
    test_finish_exactly_once();
    test_retry_and_stale_lease();
    test_cancel();
    test_events_and_progress();
    test_list_filters();
    test_evals_and_adapters();
    test_pinned_inputs_and_output();
    test_pinned_adapter_base();
    test_claim_clears_error();
    test_attempt_start();
    meta_close(db);
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0)
        printf("# cannot remove %s\n", dir);
    return test_finish();
}
