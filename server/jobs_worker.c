/* jobs_worker: one attempt of one job, in the `atelier worker` process. Entry point:
 * jobs_worker_run.
 *
 * Work folder DATA/jobs/ID/: log is append-only and kept across attempts. base/ is the
 * model, with LFS files as symlinks into the blob store, and adapter/ the adapter of an
 * eval job. data/ has the dataset files. out/NAME/ is the trainer's ADAPTER_DIR, whose
 * checkpoint/ survives a failed or stopped attempt so the next run resumes. Once the job's
 * final state is recorded, everything but the log is removed (jobs_clean.h). A heartbeat
 * thread with its own database connection stores the heartbeat and notices cancels and lost
 * leases.
 *
 * Outcomes: a failure caused by the request (missing file, invalid data, trainer exit 1) is
 * recorded as failed and the worker exits 0. A transient one (I/O, trainer killed by a
 * signal) exits JOBS_EXIT_RETRY without recording, and the scheduler retries. A stop request
 * (cancel, SIGTERM, lost lease) also exits without recording; the scheduler records it. */
#include "jobs_worker.h"

#include "hub_log.h"
#include "jobs_clean.h"
#include "jobs_json.h"
#include "jobs_output.h"
#include "jobs_publish.h"
#include "jobs_run.h"
#include "jobs_sched.h"
#include "jobs_spec.h"
#include "jobs_stage.h"
#include "meta.h"
#include "meta_jobs.h"
#include "meta_repo.h"
#include "meta_user.h"
#include "store.h"
#include "train_ckpt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WORKER_ARGV_MAX        64
#define WORKER_ARG_BYTES       (PATH_MAX + 64)
#define WORKER_PROGRESS_MIN_MS 250            /* at most four stored progress rows a second */
#define WORKER_PATH_BYTES      (2 * PATH_MAX) /* a path below the job folder */
/* Log lines stored as "log" events per attempt; the log file keeps every line. */
#define WORKER_LOG_EVENTS_MAX 500
/* The error message of an attempt: a hub_error message and a prefix. */
#define WORKER_MESSAGE_BYTES (HUB_ERROR_MSG_BYTES + 256)
/* Bytes of a failed job's error that the daemon log line keeps; the job has all of it. */
#define WORKER_LOGGED_ERROR_MAX 400
/* Hex digits of a commit id in an error message: git's shortest default abbreviation. */
#define WORKER_SHORT_COMMIT_CHARS 7

struct worker {
    const char *data_dir;
    int64_t job_id;
    int attempt;
    struct meta *db; /* main thread's connection */
    struct meta_job *job;
    struct jobs_spec spec;
    struct store *store;
    char exe[PATH_MAX];
    char dir[PATH_MAX];
    char log_path[PATH_MAX + 8];
    char out_dir[PATH_MAX]; /* DIR/out/NAME: the trainer names the card after NAME */
    int log_fd;
    char model_commit[REPO_OID_HEX_BYTES + 1];
    char dataset_commit[REPO_OID_HEX_BYTES + 1];
    char base_repo[HUB_MAX_REPO_ID_BYTES + 1]; /* eval of an adapter: its base, else "" */
    char base_commit[REPO_OID_HEX_BYTES + 1];
    int64_t last_progress_ms;
    /* The newest step line that the rate limit kept out of the database, stored when the
     * trainer exits so the job's step is the one the trainer stopped at. "" when none. */
    char held_progress[1024];
    /* The newest stderr line of the running command, stored once the next stderr or progress
     * line comes, WORKER_STDERR_HOLD_MS pass or the command exits. A command that exits
     * non-zero prints its error as its last line, which is then stored as the error. */
    char held_stderr[1024];
    bool has_held_stderr;
    int64_t held_stderr_ms; /* now_ms() when held_stderr was stored */
    size_t log_events;      /* "log" events stored by this attempt */
    bool events_closed;     /* the final state event is stored: log lines go to the file only */
    pthread_t heartbeat;
    bool heartbeat_started;
    atomic_bool heartbeat_stop;
    atomic_bool cancel_seen;
    atomic_bool lease_lost;
};

/* The outcome of one step: ok, a recorded failure, or a transient error to retry. */
enum outcome { OUTCOME_OK = 0, OUTCOME_FAIL, OUTCOME_RETRY, OUTCOME_STOPPED };

static volatile sig_atomic_t term_received;

static void on_term(int sig)
{
    (void)sig;
    term_received = 1;
}

/* ---- Log and small helpers -------------------------------------------------------------- */

static void log_line(struct worker *w, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the text of a trainer or evaluator stderr line after its "atelier COMMAND: "
 * prefix, or the whole line when it has none. */
static const char *message_of(const char *line)
{
    static const char program[] = "atelier ";
    const char *p = line;

    if (strncmp(p, program, sizeof(program) - 1) != 0)
        return line;
    p += sizeof(program) - 1;
    while (*p >= 'a' && *p <= 'z')
        p++;
    return strncmp(p, ": ", 2) == 0 ? p + 2 : line;
}

/* Returns "warning" or "info" for a line of the trainer's or the evaluator's stderr.
 * Warnings start with "warning: " after the "atelier COMMAND: " prefix. Errors have no
 * prefix, so stderr_release marks the last line of a command that failed as the error. */
static const char *log_level_of(const char *line)
{
    static const char warning_prefix[] = "warning: ";

    if (strncmp(message_of(line), warning_prefix, sizeof(warning_prefix) - 1) == 0)
        return "warning";
    return "info";
}

/* Stores one log line as a "log" event {"line", "level"} so the job page and the event
 * stream show it, up to WORKER_LOG_EVENTS_MAX per attempt. A NULL level is read from the
 * text by log_level_of. */
static void log_event_store(struct worker *w, const char *level, const char *line, size_t len)
{
    static const char overflow_line[] = "further lines of this attempt are only in the full log";
    struct hub_error err = HUB_ERROR_INIT;
    char copy[1024];
    json_t *data;
    char *text;

    if (w->db == NULL || w->events_closed || w->log_events > WORKER_LOG_EVENTS_MAX)
        return;
    if (w->log_events == WORKER_LOG_EVENTS_MAX) {
        snprintf(copy, sizeof(copy), "%s", overflow_line);
        level = "warning";
    } else {
        snprintf(copy, sizeof(copy), "%.*s", (int)(len < sizeof(copy) ? len : sizeof(copy) - 1),
                 line);
        if (level == NULL)
            level = log_level_of(copy);
    }
    w->log_events++;
    data = json_pack("{s:s, s:s}", "line", copy, "level", level);
    if (data == NULL)
        return; /* not UTF-8: the line is only in the log file */
    text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (text != NULL && meta_job_event_append(w->db, w->job_id, "log", text, &err) < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot store a log event: %s job=%lld", err.msg,
                (long long)w->job_id);
    free(text);
}

/* Formats one log line, prefixed with the UTC time and without a newline, into line. Returns
 * its length, at most cap - 2, so log_file_write can add the newline. */
static int log_line_vformat(char *line, size_t cap, const char *fmt, va_list ap)
{
    char stamp[32];
    int n;

    jobs_json_time_format(stamp, meta_now());
    n = snprintf(line, cap, "[%s] ", stamp);
    n += vsnprintf(line + n, cap - (size_t)n, fmt, ap);
    if (n >= (int)cap - 1)
        n = (int)cap - 2;
    line[n] = '\0';
    return n;
}

static int log_line_format(char *line, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int log_line_format(char *line, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = log_line_vformat(line, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* Appends line and a newline to the job log file. The newline overwrites line[n]. */
static void log_file_write(struct worker *w, char *line, int n)
{
    line[n++] = '\n';
    if (w->log_fd >= 0 && write(w->log_fd, line, (size_t)n) < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot write the job log job=%lld", (long long)w->job_id);
}

/* Appends one line prefixed with the UTC time to the job log, and stores it as an event of
 * level "info", "warning" or "error". */
static void log_line(struct worker *w, const char *level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = log_line_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_event_store(w, level, line, (size_t)n);
    log_file_write(w, line, n);
}

/* Stores the held stderr line, if any, with level, or with the level of its text when
 * level is NULL. */
static void stderr_release(struct worker *w, const char *level)
{
    if (!w->has_held_stderr)
        return;
    w->has_held_stderr = false;
    log_event_store(w, level, w->held_stderr, strlen(w->held_stderr));
}

/* Returns whether a cancel of the job was requested, by its owner, an admin or the disabling
 * of its owner. The heartbeat thread reads the flag only every JOBS_HEARTBEAT_INTERVAL_S, so
 * this reads the job row unless that thread has set cancel_seen already. A row that cannot be
 * read counts as not canceled. */
static bool cancel_requested_read(struct worker *w)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job *job = NULL;
    bool canceled = atomic_load(&w->cancel_seen);

    if (!canceled && meta_job_get(&job, w->db, w->job_id, &err) == 0)
        canceled = job->cancel_requested;
    meta_job_free(job);
    return canceled;
}

/* Adds a line after the trainer's "rerun with --resume to continue": the job resumes on its
 * own when it runs again. A cancel reaches the worker as a SIGTERM like a daemon stop, so the
 * cancel_requested flag of the job row decides. After a cancel the scheduler logs instead that
 * nothing resumes. */
static void resume_note(struct worker *w)
{
    if (!cancel_requested_read(w))
        log_line(w, "info",
                 "note: the job resumes from this checkpoint on its own when it runs again, so "
                 "there is nothing to rerun");
}

/* How long a trainer stderr line waits for the next line or the exit before it is stored as
 * info. A command prints its error as its last line and exits right after it. */
#define WORKER_STDERR_HOLD_MS 1000

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stores a line the trainer wrote to stderr; jobs_run already appended it to the log file.
 * Each line is held until the next stderr or progress line, or for WORKER_STDERR_HOLD_MS
 * (stderr_tick), so that the last line of a failed command can be stored as its error. */
static void on_stderr(void *ctx, const char *line, size_t len)
{
    static const char rerun_hint[] = "rerun with --resume to continue";
    struct worker *w = ctx;

    stderr_release(w, NULL);
    if (memmem(line, len, rerun_hint, sizeof(rerun_hint) - 1) != NULL) {
        log_event_store(w, NULL, line, len);
        resume_note(w);
        return;
    }
    snprintf(w->held_stderr, sizeof(w->held_stderr), "%.*s",
             (int)(len < sizeof(w->held_stderr) ? len : sizeof(w->held_stderr) - 1), line);
    w->has_held_stderr = true;
    w->held_stderr_ms = now_ms();
}

/* Stores the held stderr line once it has waited WORKER_STDERR_HOLD_MS, so that a line
 * followed by a long quiet stretch, such as the trainer's plan before the first step, shows
 * up while the command runs. NOTE: a command that prints its error and then takes longer
 * than that to exit gets the line stored as info, but the job's error message has it. */
static void stderr_tick(void *ctx)
{
    struct worker *w = ctx;

    if (w->has_held_stderr && now_ms() - w->held_stderr_ms >= WORKER_STDERR_HOLD_MS)
        stderr_release(w, NULL);
}

static bool worker_should_stop(void *ctx)
{
    struct worker *w = ctx;

    return term_received != 0 || atomic_load(&w->cancel_seen) || atomic_load(&w->lease_lost);
}

/* Maps an error of a step to what the job does next. */
static enum outcome outcome_of(int code)
{
    switch (code) {
    case HUB_EINVAL:
    case HUB_ENOTFOUND:
    case HUB_ETOOBIG:
    case HUB_EFORBIDDEN:
    case HUB_EAUTH:
        return OUTCOME_FAIL;
    default:
        return OUTCOME_RETRY;
    }
}

static void path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* ---- Heartbeat thread ------------------------------------------------------------------- */

static void *heartbeat_main(void *arg)
{
    struct worker *w = arg;
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;

    if (meta_open(&db, w->data_dir, 0, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "heartbeat cannot open the database: %s job=%lld", err.msg,
                (long long)w->job_id);
        return NULL;
    }
    while (!atomic_load(&w->heartbeat_stop)) {
        bool cancel = false;
        int rc = meta_job_heartbeat(&cancel, db, w->job_id, w->attempt, &err);

        if (rc == HUB_ECONFLICT) {
            atomic_store(&w->lease_lost, true);
            break;
        }
        if (rc < 0)
            hub_log(HUB_LOG_WARN, "jobs", "cannot store the heartbeat: %s job=%lld", err.msg,
                    (long long)w->job_id);
        if (cancel)
            atomic_store(&w->cancel_seen, true);
        for (int i = 0; i < JOBS_HEARTBEAT_INTERVAL_S * 10 && !atomic_load(&w->heartbeat_stop);
             i++) {
            struct timespec pause = {0, 100 * 1000 * 1000};

            nanosleep(&pause, NULL);
        }
    }
    meta_close(db);
    return NULL;
}

/* ---- Progress lines --------------------------------------------------------------------- */

/* Stores one progress line of the trainer. Step lines are stored at most every
 * WORKER_PROGRESS_MIN_MS unless force is set or the line is the last step. A skipped step
 * line is held in held_progress for progress_release. */
static void progress_store(struct worker *w, const char *line, size_t len, bool force)
{
    struct meta_job_progress progress;
    struct hub_error err = HUB_ERROR_INIT;
    bool is_step = false, is_eval = false;
    json_t *parsed = NULL;
    char *compact = NULL;
    int rc;

    if (jobs_progress_parse(&progress, &is_step, &is_eval, line, len, &err) < 0)
        return; /* the line is in the log already; only well-formed lines are stored */
    if (is_step && !force && !(progress.has_total_steps && progress.step == progress.total_steps) &&
        now_ms() - w->last_progress_ms < WORKER_PROGRESS_MIN_MS) {
        snprintf(w->held_progress, sizeof(w->held_progress), "%.*s",
                 (int)(len < sizeof(w->held_progress) ? len : 0), line);
        return;
    }
    if (is_step)
        w->held_progress[0] = '\0';
    parsed = json_loadb(line, len, 0, NULL);
    compact = parsed != NULL ? json_dumps(parsed, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(parsed);
    if (compact == NULL)
        return;
    if (is_step) {
        rc = meta_job_progress_set(w->db, w->job_id, w->attempt, &progress, compact, &err);
        w->last_progress_ms = now_ms();
    } else {
        rc = meta_job_event_append(w->db, w->job_id, is_eval ? "eval" : "log", compact, &err);
    }
    if (rc == HUB_ECONFLICT)
        atomic_store(&w->lease_lost, true);
    else if (rc < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot store progress: %s job=%lld", err.msg,
                (long long)w->job_id);
    free(compact);
}

/* A progress line means the command went on past its last stderr line, so that line is not
 * its error and is stored first. */
static void on_progress(void *ctx, const char *line, size_t len)
{
    stderr_release(ctx, NULL);
    progress_store(ctx, line, len, false);
}

/* Stores the step line that the rate limit held back, once the trainer has exited. */
static void progress_release(struct worker *w)
{
    char line[sizeof(w->held_progress)];

    if (w->held_progress[0] == '\0')
        return;
    memcpy(line, w->held_progress, sizeof(line));
    progress_store(w, line, strlen(line), true);
}

/* ---- argv building ---------------------------------------------------------------------- */

struct argv_builder {
    char *argv[WORKER_ARGV_MAX + 1];
    char text[WORKER_ARGV_MAX][WORKER_ARG_BYTES];
    size_t count;
};

static void arg_add(struct argv_builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void arg_add(struct argv_builder *b, const char *fmt, ...)
{
    va_list ap;

    if (b->count >= WORKER_ARGV_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(b->text[b->count], WORKER_ARG_BYTES, fmt, ap);
    va_end(ap);
    b->argv[b->count] = b->text[b->count];
    b->count++;
    b->argv[b->count] = NULL;
}

static void train_argv(struct argv_builder *b, const struct worker *w, const char *train_path,
                       const char *eval_path, bool resume)
{
    const struct jobs_train_params *p = &w->spec.params;

    arg_add(b, "%s", w->exe);
    arg_add(b, "train");
    arg_add(b, "--base=%s/base", w->dir);
    arg_add(b, "--data=%s", train_path);
    if (eval_path != NULL)
        arg_add(b, "--eval=%s", eval_path);
    arg_add(b, "--out=%s", w->out_dir);
    arg_add(b, "--rank=%lld", (long long)p->rank);
    arg_add(b, "--alpha=%.9g", p->alpha);
    arg_add(b, "--targets=%s", p->targets);
    arg_add(b, "--lr=%.9g", p->lr);
    if (p->steps > 0)
        arg_add(b, "--steps=%lld", (long long)p->steps);
    else
        arg_add(b, "--epochs=%lld", (long long)p->epochs);
    arg_add(b, "--batch=%lld", (long long)p->batch);
    arg_add(b, "--grad-accum=%lld", (long long)p->grad_accum);
    arg_add(b, "--seq-len=%lld", (long long)p->seq_len);
    arg_add(b, "--warmup=%lld", (long long)p->warmup);
    arg_add(b, "--seed=%lld", (long long)p->seed);
    if (p->threads > 0)
        arg_add(b, "--threads=%lld", (long long)p->threads);
    if (p->dropout >= 0)
        arg_add(b, "--dropout=%.9g", p->dropout);
    if (p->weight_decay >= 0)
        arg_add(b, "--weight-decay=%.9g", p->weight_decay);
    if (p->clip >= 0)
        arg_add(b, "--clip=%.9g", p->clip);
    arg_add(b, "--checkpoint-every=%lld", (long long)p->checkpoint_every);
    if (resume)
        arg_add(b, "--resume");
    arg_add(b, "--progress-fd=3");
    arg_add(b, "--base-name=%s", w->spec.model);
    arg_add(b, "--repo-id=%s", w->spec.output_repo);
    arg_add(b, "--base-revision=%s", w->model_commit);
    arg_add(b, "--dataset-name=%s", w->spec.dataset);
    arg_add(b, "--dataset-revision=%s", w->dataset_commit);
}

/* ---- Steps ------------------------------------------------------------------------------ */

static enum outcome fail_with(char *message, size_t cap, const struct hub_error *err)
{
    snprintf(message, cap, "%s", err->msg);
    return outcome_of(err->code);
}

/* Checks again, with the owner's rights of now, what the API checked at creation. An owner
 * that an admin disabled since then fails the job, as their tokens would fail now. */
static enum outcome access_check(struct worker *w, char *message, size_t cap)
{
    struct hub_error err = HUB_ERROR_INIT;
    const char *repos[3] = {w->spec.model, w->spec.dataset, w->spec.output_repo};
    enum hub_repo_type types[3] = {HUB_REPO_MODEL, HUB_REPO_DATASET, HUB_REPO_MODEL};
    struct meta_user owner;
    int user_rc;

    user_rc = meta_user_get_by_id(&owner, w->db, w->job->owner_id, &err);
    if (user_rc == HUB_ENOTFOUND) {
        snprintf(message, cap, "owner %s not found", w->job->owner);
        return OUTCOME_FAIL;
    }
    if (user_rc < 0)
        return fail_with(message, cap, &err);
    if (owner.disabled_at != 0) {
        snprintf(message, cap,
                 "owner %s is disabled; after `atelier admin user enable %s`, submit the job "
                 "again",
                 w->job->owner, w->job->owner);
        return OUTCOME_FAIL;
    }

    for (int i = 0; i < 3; i++) {
        char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
        struct meta_repo row;
        bool allowed = false;
        int rc;

        if (repos[i][0] == '\0')
            continue;
        rc = hub_repo_id_parse(ns, name, repos[i], &err);
        if (rc == 0)
            rc = meta_repo_get(&row, w->db, types[i], ns, name, &err);
        if (rc == 0 && i < 2)
            rc = meta_repo_can_read(&allowed, w->db, &row, w->job->owner_id, &err);
        else if (rc == 0)
            rc = meta_repo_can_write(&allowed, w->db, &row, w->job->owner_id, &err);
        if (rc == HUB_ENOTFOUND || (rc == 0 && !allowed)) {
            snprintf(message, cap, "%s repo '%s' not found or not %s by %s",
                     hub_repo_type_name(types[i]), repos[i], i < 2 ? "readable" : "writable",
                     w->job->owner);
            return OUTCOME_FAIL;
        }
        if (rc < 0)
            return fail_with(message, cap, &err);
    }
    return OUTCOME_OK;
}

/* Stages path of the dataset into DIR/data/SUBDIR/BASENAME and writes that path to out. */
static int dataset_file_stage(char *out, size_t cap, struct worker *w, const char *subdir,
                              const char *path, struct hub_error *err)
{
    const char *slash = strrchr(path, '/');
    char folder[PATH_MAX + 16];
    int rc;

    snprintf(folder, sizeof(folder), "%s/data/%s", w->dir, subdir);
    rc = jobs_mkdirs(folder, err);
    if (rc < 0)
        return rc;
    snprintf(out, cap, "%s/%s", folder, slash != NULL ? slash + 1 : path);
    return jobs_stage_file(out, w->data_dir, w->store, HUB_REPO_DATASET, w->spec.dataset,
                           w->dataset_commit, path, err);
}

/* Result of checking out/NAME/checkpoint/state.bin before a training run. */
enum checkpoint_status {
    CHECKPOINT_NONE = 0,  /* no such file */
    CHECKPOINT_RESUMABLE, /* written by an earlier run of this job */
    CHECKPOINT_REJECTED,  /* something else is there, described in reason */
    CHECKPOINT_UNREADABLE /* it could not be read (EIO, EACCES, EMFILE...); err has the errno */
};

/* Checks out/NAME/checkpoint/state.bin: resumable when it is a regular file with the
 * trainer's magic and format version, modified after the job was created. The attempt number
 * cannot tell, because a daemon stop queues the job again without counting the attempt. The
 * age check rejects the folder of another job with the same id, which a database restored
 * from a backup can leave. A file that cannot be opened, examined or read (other than a
 * missing one, or a symlink or a non-folder on the path) is UNREADABLE, so a transient error
 * does not throw the checkpoint away. NOTE: only the trainer checks the hash and the run
 * options, and a checkpoint that fails those checks fails the job. */
static enum checkpoint_status checkpoint_check(const struct worker *w, char *reason, size_t cap,
                                               struct hub_error *err)
{
    unsigned char header[sizeof(TRAIN_CKPT_MAGIC) + 4];
    char path[WORKER_PATH_BYTES];
    struct stat st;
    uint32_t version;
    ssize_t bytes_read;
    int fd, saved;

    reason[0] = '\0';
    if (w->spec.type != META_JOB_TRAIN)
        return CHECKPOINT_NONE;
    snprintf(path, sizeof(path), "%s/checkpoint/state.bin", w->out_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return CHECKPOINT_NONE;
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
        snprintf(reason, cap, "cannot open %s: %s", path, strerror(errno));
        return CHECKPOINT_REJECTED;
    }
    if (fd < 0) {
        saved = errno;
        hub_error_set_errno(err, HUB_EIO, saved, "cannot open the checkpoint %s: %s (errno %d)",
                            path, strerror(saved), saved);
        return CHECKPOINT_UNREADABLE;
    }
    if (fstat(fd, &st) < 0) {
        saved = errno;
        close(fd);
        hub_error_set_errno(err, HUB_EIO, saved, "cannot stat the checkpoint %s: %s (errno %d)",
                            path, strerror(saved), saved);
        return CHECKPOINT_UNREADABLE;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(reason, cap, "%s is not a regular file", path);
        return CHECKPOINT_REJECTED;
    }
    bytes_read = read(fd, header, sizeof(header));
    saved = errno;
    close(fd);
    if (bytes_read < 0) {
        hub_error_set_errno(err, HUB_EIO, saved, "cannot read the checkpoint %s: %s (errno %d)",
                            path, strerror(saved), saved);
        return CHECKPOINT_UNREADABLE;
    }
    if (bytes_read != (ssize_t)sizeof(header) ||
        memcmp(header, TRAIN_CKPT_MAGIC, sizeof(TRAIN_CKPT_MAGIC)) != 0) {
        snprintf(reason, cap, "%s is not a training checkpoint", path);
        return CHECKPOINT_REJECTED;
    }
    /* The format version is a little-endian u32 after the 8-byte magic. */
    version = (uint32_t)header[8] | (uint32_t)header[9] << 8 | (uint32_t)header[10] << 16 |
              (uint32_t)header[11] << 24;
    if (version != TRAIN_CKPT_VERSION) {
        snprintf(reason, cap, "%s has format version %u, and this release reads version %u", path,
                 (unsigned)version, (unsigned)TRAIN_CKPT_VERSION);
        return CHECKPOINT_REJECTED;
    }
    if ((int64_t)st.st_mtime < w->job->created_at) {
        snprintf(reason, cap,
                 "%s was written before the job was created, so another job with this id left it",
                 path);
        return CHECKPOINT_REJECTED;
    }
    return CHECKPOINT_RESUMABLE;
}

/* Removes the inputs of an earlier attempt, and out/ unless it has a checkpoint that an
 * earlier run of this job wrote, whatever the attempt number. A checkpoint that cannot be
 * read fails the attempt with HUB_EIO and keeps out/, so a retry can still resume. */
static int workdir_prepare(bool *resume, struct worker *w, struct hub_error *err)
{
    char path[WORKER_PATH_BYTES], reason[WORKER_PATH_BYTES + 128];
    enum checkpoint_status status;
    int rc;

    *resume = false;
    path_join(path, sizeof(path), w->dir, "base");
    rc = jobs_remove_tree(path, err);
    path_join(path, sizeof(path), w->dir, "adapter");
    if (rc == 0)
        rc = jobs_remove_tree(path, err);
    path_join(path, sizeof(path), w->dir, "data");
    if (rc == 0)
        rc = jobs_remove_tree(path, err);
    if (rc < 0)
        return rc;
    status = checkpoint_check(w, reason, sizeof(reason), err);
    if (status == CHECKPOINT_UNREADABLE)
        return err->code;
    if (status == CHECKPOINT_RESUMABLE) {
        *resume = true;
        return 0;
    }
    if (status == CHECKPOINT_REJECTED)
        log_line(w, "warning", "starting over without --resume: %s", reason);
    path_join(path, sizeof(path), w->dir, "out");
    rc = jobs_remove_tree(path, err);
    if (rc == 0)
        rc = jobs_mkdirs(path, err); /* the trainer creates only the last folder of --out */
    return rc;
}

/* Resolves rev of repo_id into commit. When an earlier attempt of this job pinned a commit,
 * checks that it still exists and uses it instead, so every attempt reads the same inputs
 * and a resumed run continues on the data its checkpoint was trained on. */
static int input_commit_resolve(char commit[REPO_OID_HEX_BYTES + 1], const struct worker *w,
                                enum hub_repo_type type, const char *repo_id, const char *rev,
                                const char *pinned, struct hub_error *err)
{
    int rc;

    if (pinned[0] == '\0')
        return jobs_stage_resolve(commit, w->data_dir, type, repo_id, rev, err);
    rc = jobs_stage_resolve(commit, w->data_dir, type, repo_id, pinned, err);
    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "commit %s of %s repo '%s', which the first attempt of this job "
                             "used, not found; start a new job to use the current revision",
                             pinned, hub_repo_type_name(type), repo_id);
    return rc;
}

/* Stores the commits this attempt resolved as the job's pinned inputs, unless an earlier
 * attempt stored them already. */
static enum outcome inputs_pin(struct worker *w, char *message, size_t cap)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    rc = meta_job_inputs_pin(w->db, w->job_id, w->attempt, w->model_commit, w->dataset_commit,
                             w->base_repo, w->base_commit, &err);
    if (rc == HUB_ECONFLICT) {
        atomic_store(&w->lease_lost, true);
        return OUTCOME_STOPPED;
    }
    if (rc < 0)
        return fail_with(message, cap, &err);
    return OUTCOME_OK;
}

/* Resolves the revisions (or takes the pinned commits) and stages the model and the dataset
 * files. The first attempt pins the commits it resolved. */
static enum outcome inputs_stage(struct worker *w, char *train_path, char *eval_path, size_t cap,
                                 char *message, size_t message_cap)
{
    struct hub_error err = HUB_ERROR_INIT;
    char base_dir[PATH_MAX + 8];
    int rc = 0;

    /* An evaluation resolved the model already in eval_inputs_stage. */
    if (w->model_commit[0] == '\0')
        rc = input_commit_resolve(w->model_commit, w, HUB_REPO_MODEL, w->spec.model,
                                  w->spec.model_revision, w->job->model_commit, &err);
    if (rc == 0)
        rc = input_commit_resolve(w->dataset_commit, w, HUB_REPO_DATASET, w->spec.dataset,
                                  w->spec.dataset_revision, w->job->dataset_commit, &err);
    path_join(base_dir, sizeof(base_dir), w->dir, "base");
    if (rc == 0 && w->base_repo[0] == '\0')
        rc = jobs_stage_repo(base_dir, w->data_dir, w->store, HUB_REPO_MODEL, w->spec.model,
                             w->model_commit, &err);
    if (rc == 0 && w->spec.train_file[0] != '\0')
        rc = dataset_file_stage(train_path, cap, w, "train", w->spec.train_file, &err);
    if (rc == 0 && w->spec.eval_file[0] != '\0')
        rc = dataset_file_stage(eval_path, cap, w, "eval", w->spec.eval_file, &err);
    if (rc < 0)
        return fail_with(message, message_cap, &err);
    log_line(w, "info", "staged %s@%.12s and %s@%.12s%s", w->spec.model, w->model_commit,
             w->spec.dataset, w->dataset_commit,
             w->job->dataset_commit[0] != '\0' ? ", the commits that the first attempt used" : "");
    return inputs_pin(w, message, message_cap);
}

/* Turns the end of a trainer command into an outcome. */
static enum outcome run_outcome(const struct jobs_run_result *result, const char *what,
                                char *message, size_t cap)
{
    if (result->stopped)
        return OUTCOME_STOPPED;
    if (result->signaled) {
        snprintf(message, cap, "%s was killed by signal %d (%s)", what, result->signal,
                 strsignal(result->signal));
        return OUTCOME_RETRY;
    }
    if (result->exit_code == 0)
        return OUTCOME_OK;
    /* The line's own "atelier train: " prefix would repeat what. */
    snprintf(message, cap, "%s failed with status %d: %s", what, result->exit_code,
             result->last_error[0] != '\0' ? message_of(result->last_error) : "no error message");
    return OUTCOME_FAIL;
}

static enum outcome trainer_run(struct worker *w, const char *train_path, const char *eval_path,
                                bool resume, char *message, size_t cap)
{
    struct argv_builder *b = calloc(1, sizeof(*b));
    struct jobs_run_opts opts;
    struct jobs_run_result result;
    struct hub_error err = HUB_ERROR_INIT;
    enum outcome outcome;
    int rc;

    if (b == NULL) {
        snprintf(message, cap, "cannot allocate the trainer arguments");
        return OUTCOME_RETRY;
    }
    train_argv(b, w, train_path, eval_path, resume);
    log_line(w, "info", "running atelier train%s",
             resume ? " --resume from the last checkpoint" : "");
    memset(&opts, 0, sizeof(opts));
    opts.argv = b->argv;
    opts.log_fd = w->log_fd;
    opts.on_progress = on_progress;
    opts.on_stderr = on_stderr;
    opts.on_tick = stderr_tick;
    opts.should_stop = worker_should_stop;
    opts.ctx = w;
    rc = jobs_run(&result, &opts, &err);
    free(b);
    progress_release(w);
    if (rc < 0) {
        stderr_release(w, NULL);
        return fail_with(message, cap, &err);
    }
    outcome = run_outcome(&result, "atelier train", message, cap);
    stderr_release(w, outcome == OUTCOME_FAIL ? "error" : NULL);
    free(result.stdout_text);
    return outcome;
}

/* Appends "key value" for each number of metrics to line, comma-separated. Reals get four
 * significant digits; the stored evaluation keeps every digit. */
static void metrics_summary(char *line, size_t cap, json_t *metrics)
{
    size_t used = strlen(line);
    const char *key;
    json_t *value;
    bool first = true;

    json_object_foreach(metrics, key, value)
    {
        int n;

        if (used >= cap)
            break;
        if (json_is_integer(value))
            n = snprintf(line + used, cap - used, "%s%s %lld", first ? "" : ", ", key,
                         (long long)json_integer_value(value));
        else if (json_is_real(value))
            n = snprintf(line + used, cap - used, "%s%s %.4g", first ? "" : ", ", key,
                         json_real_value(value));
        else
            continue;
        used += n > 0 ? (size_t)n : 0;
        first = false;
    }
}

/* Logs the metrics of `atelier eval` as one line per evaluated model: "evaluation of the
 * base: ..." and "evaluation of the adapter: ..." for an adapter, else "evaluation: ...". The
 * JSON itself is in the job's result. */
static void eval_log(struct worker *w, json_t *eval)
{
    static const char *const sides[] = {"base", "adapter"};
    char line[768];
    bool nested = false;

    for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
        json_t *metrics = json_object_get(eval, sides[i]);

        if (!json_is_object(metrics))
            continue;
        nested = true;
        line[0] = '\0';
        metrics_summary(line, sizeof(line), metrics);
        log_line(w, "info", "evaluation of the %s: %s", sides[i], line);
    }
    if (nested)
        return;
    line[0] = '\0';
    metrics_summary(line, sizeof(line), eval);
    log_line(w, "info", "evaluation: %s", line);
}

/* Runs `atelier eval` and returns its JSON output in *out (NULL when it failed: evaluation
 * metrics are then missing, and the job goes on). */
static enum outcome evaluator_run(json_t **out, struct worker *w, const char *adapter_dir,
                                  const char *eval_path, char *message, size_t cap)
{
    struct argv_builder *b = calloc(1, sizeof(*b));
    struct jobs_run_opts opts;
    struct jobs_run_result result;
    struct hub_error err = HUB_ERROR_INIT;
    enum outcome outcome;
    int rc;

    *out = NULL;
    if (b == NULL) {
        snprintf(message, cap, "cannot allocate the evaluator arguments");
        return OUTCOME_RETRY;
    }
    arg_add(b, "%s", w->exe);
    arg_add(b, "eval");
    arg_add(b, "--base=%s/base", w->dir);
    if (adapter_dir != NULL)
        arg_add(b, "--adapter=%s", adapter_dir);
    arg_add(b, "--data=%s", eval_path);
    /* A training job scores at its own seq_len, as the trainer's eval loss in the card and in
     * train_results.json does, so the two agree. An eval job has no seq_len and scores at the
     * model's context. */
    if (w->spec.type == META_JOB_TRAIN) {
        arg_add(b, "--seq-len=%lld", (long long)w->spec.params.seq_len);
        log_line(w, "info", "running atelier eval%s at seq_len %lld",
                 adapter_dir != NULL ? " with the adapter" : "", (long long)w->spec.params.seq_len);
    } else {
        log_line(w, "info", "running atelier eval%s",
                 adapter_dir != NULL ? " with the adapter" : "");
    }
    memset(&opts, 0, sizeof(opts));
    opts.argv = b->argv;
    opts.log_fd = w->log_fd;
    opts.capture_stdout = true;
    opts.should_stop = worker_should_stop;
    opts.on_stderr = on_stderr;
    opts.on_tick = stderr_tick;
    opts.ctx = w;
    rc = jobs_run(&result, &opts, &err);
    free(b);
    if (rc < 0) {
        stderr_release(w, NULL);
        return fail_with(message, cap, &err);
    }
    outcome = run_outcome(&result, "atelier eval", message, cap);
    stderr_release(w, outcome == OUTCOME_FAIL ? "error" : NULL);
    if (outcome == OUTCOME_OK) {
        *out = json_loads(result.stdout_text != NULL ? result.stdout_text : "", 0, NULL);
        if (*out == NULL || !json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            snprintf(message, cap, "atelier eval printed no JSON object");
            outcome = OUTCOME_FAIL;
        } else {
            eval_log(w, *out);
        }
    }
    free(result.stdout_text);
    return outcome;
}

/* ---- Recording results ------------------------------------------------------------------ */

/* Stores one row of /api/evals. base and base_commit name the base model that an adapter was
 * scored against, and are NULL for a full model. */
static void eval_record(struct worker *w, const char *repo, const char *commit, const char *base,
                        const char *base_commit, json_t *metrics)
{
    struct hub_error err = HUB_ERROR_INIT;
    char *text;

    if (metrics == NULL || !json_is_object(metrics))
        return;
    text = json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (text == NULL)
        return;
    if (meta_eval_insert(NULL, w->db, w->job_id, repo, commit, base, base_commit, w->spec.dataset,
                         w->dataset_commit, w->spec.eval_file, text, &err) < 0)
        hub_log(HUB_LOG_ERROR, "jobs", "cannot store an evaluation: %s job=%lld repo=%s", err.msg,
                (long long)w->job_id, repo);
    free(text);
}

/* Markdown appended to the trainer's model card: where the adapter came from. */
static char *card_extra_build(const struct worker *w, const char *spec_json)
{
    char *text = NULL;
    int n = asprintf(&text,
                     "\n## Training job\n\n"
                     "Trained by Atelier job %lld for %s.\n\n"
                     "| | |\n| --- | --- |\n"
                     "| base model | %s at commit `%s` |\n"
                     "| dataset | %s at commit `%s` |\n"
                     "| train file | `%s` |\n"
                     "| eval file | `%s` |\n"
                     "| trainer | atelier %s |\n\n"
                     "Request, with the job API's defaults filled in (options it leaves out "
                     "take the trainer's defaults, listed with the hyperparameters above):"
                     "\n\n```json\n%s\n```\n",
                     (long long)w->job_id, w->job->owner, w->spec.model, w->model_commit,
                     w->spec.dataset, w->dataset_commit, w->spec.train_file,
                     w->spec.eval_file[0] != '\0' ? w->spec.eval_file : "none", ATELIER_VERSION,
                     spec_json);

    return n < 0 ? NULL : text;
}

/* Reads the trainer's train_results.json; NULL when it is missing or not JSON. */
static json_t *train_results_load(const struct worker *w)
{
    char path[WORKER_PATH_BYTES];

    snprintf(path, sizeof(path), "%s/train_results.json", w->out_dir);
    return json_load_file(path, 0, NULL);
}

static enum outcome train_publish(struct worker *w, json_t *eval, char *commit, char *message,
                                  size_t cap)
{
    struct jobs_publish_request request;
    struct hub_error err = HUB_ERROR_INIT;
    char *card_extra = card_extra_build(w, w->job->spec_json);
    char *eval_text =
        eval != NULL ? json_dumps(eval, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
    char title[512];
    int rc;

    snprintf(title, sizeof(title), "Train a LoRA adapter of %s on %s (job %lld)", w->spec.model,
             w->spec.dataset, (long long)w->job_id);
    memset(&request, 0, sizeof(request));
    request.data_dir = w->data_dir;
    request.job_id = w->job_id;
    request.owner = w->job->owner;
    request.output_repo = w->spec.output_repo;
    request.base_repo = w->spec.model;
    request.out_dir = w->out_dir;
    request.log_path = w->log_path;
    request.card_extra = card_extra;
    request.eval_json = eval_text;
    request.message = title;
    rc = jobs_publish(commit, w->db, &request, &err);
    free(card_extra);
    free(eval_text);
    if (rc < 0)
        return fail_with(message, cap, &err);
    log_line(w, "info", "committed %s to %s", commit, w->spec.output_repo);
    return OUTCOME_OK;
}

static char *metrics_build(json_t *train, json_t *eval)
{
    json_t *metrics = json_object();
    char *text;

    if (metrics == NULL)
        return NULL;
    if (train != NULL)
        json_object_set(metrics, "train", train);
    if (eval != NULL)
        json_object_set(metrics, "eval", eval);
    text = json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(metrics);
    return text;
}

/* ---- The two job types ------------------------------------------------------------------ */

static enum outcome train_job(struct worker *w, char *commit, char **metrics, char *message,
                              size_t cap)
{
    char train_path[PATH_MAX + 64] = "", eval_path[PATH_MAX + 64] = "";
    struct hub_error err = HUB_ERROR_INIT;
    json_t *eval = NULL, *train = NULL;
    enum outcome outcome;
    bool resume = false;

    if (workdir_prepare(&resume, w, &err) < 0)
        return fail_with(message, cap, &err);
    outcome = inputs_stage(w, train_path, eval_path, sizeof(train_path), message, cap);
    if (outcome == OUTCOME_OK)
        outcome = trainer_run(w, train_path, eval_path[0] != '\0' ? eval_path : NULL, resume,
                              message, cap);
    if (outcome != OUTCOME_OK)
        return outcome;
    if (eval_path[0] != '\0') {
        char eval_message[WORKER_MESSAGE_BYTES] = "";
        enum outcome eval_outcome =
            evaluator_run(&eval, w, w->out_dir, eval_path, eval_message, sizeof(eval_message));

        if (eval_outcome == OUTCOME_STOPPED)
            return OUTCOME_STOPPED;
        /* NOTE: a failed evaluation does not fail the job. The adapter is still committed
         * with the trainer's own evaluation in its card, and the log records the error. */
        if (eval_outcome != OUTCOME_OK)
            log_line(w, "warning", "evaluation skipped: %s", eval_message);
    }
    /* A cancel that came after the trainer exited stops the job here, before the commit.
     * NOTE: one that comes during jobs_publish does not stop the commit, and the job then
     * succeeds. */
    if (worker_should_stop(w) || cancel_requested_read(w)) {
        json_decref(eval);
        return OUTCOME_STOPPED;
    }
    outcome = train_publish(w, eval, commit, message, cap);
    if (outcome == OUTCOME_OK) {
        train = train_results_load(w);
        eval_record(w, w->spec.output_repo, commit, w->spec.model, w->model_commit,
                    json_object_get(eval, "adapter"));
        eval_record(w, w->spec.model, w->model_commit, NULL, NULL, json_object_get(eval, "base"));
        *metrics = metrics_build(train, eval);
    }
    json_decref(train);
    json_decref(eval);
    return outcome;
}

static enum outcome base_readable_check(struct worker *w, char *message, size_t cap)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo row;
    bool allowed = false;
    int rc;

    if (w->base_repo[0] == '\0')
        return OUTCOME_OK;
    rc = hub_repo_id_parse(ns, name, w->base_repo, &err);
    if (rc == 0)
        rc = meta_repo_get(&row, w->db, HUB_REPO_MODEL, ns, name, &err);
    if (rc == 0)
        rc = meta_repo_can_read(&allowed, w->db, &row, w->job->owner_id, &err);
    if (rc == HUB_ENOTFOUND || (rc == 0 && !allowed)) {
        if (w->spec.adapter_base[0] != '\0')
            snprintf(message, cap, "base_model '%s' not found", w->base_repo);
        else
            snprintf(message, cap,
                     "base model '%s' of adapter %s not found; name a base model that %s can "
                     "read in the request's base_model field",
                     w->base_repo, w->spec.model, w->job->owner);
        return OUTCOME_FAIL;
    }
    return rc < 0 ? fail_with(message, cap, &err) : OUTCOME_OK;
}

/* Resolves the revision of an evaluated adapter's base into w->base_commit, or takes the
 * commit that the first attempt pinned. recorded is the revision that the adapter's
 * adapter_config.json records, "" when none. */
static int eval_base_resolve(struct worker *w, const char *recorded, struct hub_error *err)
{
    const char *rev = jobs_eval_base_revision(&w->spec, recorded);
    const char *source = "";
    int rc;

    rc = input_commit_resolve(w->base_commit, w, HUB_REPO_MODEL, w->base_repo, rev,
                              w->job->adapter_base_commit, err);
    /* base_readable_check found the repo, so only the revision can be missing. */
    if (rc == HUB_ENOTFOUND && w->job->adapter_base_commit[0] == '\0' &&
        w->spec.adapter_base_revision[0] != '\0')
        return hub_error_set(err, HUB_ENOTFOUND,
                             "base_revision '%s' not found in model repo '%s', the base of "
                             "adapter %s; pass a branch, tag or commit id of that repo",
                             rev, w->base_repo, w->spec.model);
    if (rc == HUB_ENOTFOUND && w->job->adapter_base_commit[0] == '\0' && strcmp(rev, recorded) == 0)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "revision '%s' of base model '%s', which adapter %s records in its "
                             "adapter_config.json, not found; pass the base's revision in the "
                             "request's base_revision field, such as \"main\"",
                             rev, w->base_repo, w->spec.model);
    if (rc < 0)
        return rc;
    if (w->spec.adapter_base_revision[0] != '\0')
        source = " (the request's base_revision)";
    else if (strcmp(rev, recorded) == 0)
        source = " (the base revision recorded in adapter_config.json)";
    log_line(w, "info", "evaluating against %s@%.12s, resolved from revision '%s'%s", w->base_repo,
             w->base_commit, rev, source);
    return rc;
}

/* Finds out whether the evaluated model is an adapter; if so, stages its base and itself. */
static enum outcome eval_inputs_stage(struct worker *w, char *adapter_dir, size_t adapter_cap,
                                      char *message, size_t cap)
{
    char recorded[HUB_MAX_REVISION_BYTES + 1] = "";
    struct hub_error err = HUB_ERROR_INIT;
    char base_dir[PATH_MAX + 8];
    json_t *config = NULL;
    const char *base, *revision;
    enum outcome outcome;
    char *text = NULL;
    size_t len = 0;
    int rc;

    adapter_dir[0] = '\0';
    rc = input_commit_resolve(w->model_commit, w, HUB_REPO_MODEL, w->spec.model,
                              w->spec.model_revision, w->job->model_commit, &err);
    if (rc < 0)
        return fail_with(message, cap, &err);
    rc = jobs_stage_read(&text, &len, w->data_dir, HUB_REPO_MODEL, w->spec.model, w->model_commit,
                         "adapter_config.json", 1u << 20, &err);
    if (rc == HUB_ENOTFOUND)
        return OUTCOME_OK; /* a full model */
    if (rc < 0)
        return fail_with(message, cap, &err);
    config = json_loadb(text, len, 0, NULL);
    free(text);
    /* The request's base_model, when given, replaces the adapter's own base. */
    base = w->spec.adapter_base[0] != '\0'
               ? w->spec.adapter_base
               : json_string_value(json_object_get(config, "base_model_name_or_path"));
    if (base == NULL || strlen(base) >= sizeof(w->base_repo)) {
        json_decref(config);
        snprintf(message, cap,
                 "adapter_config.json of %s has no base_model_name_or_path; name the base model "
                 "in the request's base_model field",
                 w->spec.model);
        return OUTCOME_FAIL;
    }
    snprintf(w->base_repo, sizeof(w->base_repo), "%s", base);
    /* POST /api/jobs rejected an invalid revision that this job would use. */
    revision = json_string_value(json_object_get(config, "revision"));
    if (revision != NULL && jobs_revision_is_valid(revision))
        snprintf(recorded, sizeof(recorded), "%s", revision);
    json_decref(config);
    outcome = base_readable_check(w, message, cap);
    if (outcome != OUTCOME_OK)
        return outcome;
    rc = eval_base_resolve(w, recorded, &err);
    if (rc < 0)
        return fail_with(message, cap, &err);
    path_join(base_dir, sizeof(base_dir), w->dir, "base");
    rc = jobs_stage_repo(base_dir, w->data_dir, w->store, HUB_REPO_MODEL, w->base_repo,
                         w->base_commit, &err);
    snprintf(adapter_dir, adapter_cap, "%s/adapter", w->dir);
    if (rc == 0)
        rc = jobs_stage_repo(adapter_dir, w->data_dir, w->store, HUB_REPO_MODEL, w->spec.model,
                             w->model_commit, &err);
    if (rc == HUB_ENOTFOUND && w->spec.adapter_base[0] != '\0')
        hub_error_set(&err, HUB_ENOTFOUND, "base_model '%s' not found", w->base_repo);
    else if (rc == HUB_ENOTFOUND)
        hub_error_set(&err, HUB_ENOTFOUND,
                      "base model '%s' of adapter %s is not hosted here; push it, or name the "
                      "base model on this hub in the request's base_model field",
                      w->base_repo, w->spec.model);
    if (rc < 0)
        return fail_with(message, cap, &err);
    return OUTCOME_OK;
}

/* Runs an evaluation job. On success commit gets the evaluated commit of the model, which
 * the job's result names next to its repo, as /api/evals stores it. */
static enum outcome eval_job(struct worker *w, char *commit, char **metrics, char *message,
                             size_t cap)
{
    char adapter_dir[PATH_MAX + 16], eval_path[PATH_MAX + 64] = "", unused[8] = "";
    struct hub_error err = HUB_ERROR_INIT;
    enum outcome outcome;
    json_t *eval = NULL;
    bool resume = false;

    if (workdir_prepare(&resume, w, &err) < 0)
        return fail_with(message, cap, &err);
    outcome = eval_inputs_stage(w, adapter_dir, sizeof(adapter_dir), message, cap);
    if (outcome == OUTCOME_OK)
        outcome = inputs_stage(w, unused, eval_path, sizeof(eval_path), message, cap);
    if (outcome == OUTCOME_OK)
        outcome = evaluator_run(&eval, w, adapter_dir[0] != '\0' ? adapter_dir : NULL, eval_path,
                                message, cap);
    /* As for a training job, a cancel that came after the evaluator exited stores nothing. */
    if (outcome == OUTCOME_OK && (worker_should_stop(w) || cancel_requested_read(w)))
        outcome = OUTCOME_STOPPED;
    if (outcome != OUTCOME_OK) {
        json_decref(eval);
        return outcome;
    }
    if (adapter_dir[0] != '\0') {
        eval_record(w, w->spec.model, w->model_commit, w->base_repo, w->base_commit,
                    json_object_get(eval, "adapter"));
        eval_record(w, w->base_repo, w->base_commit, NULL, NULL, json_object_get(eval, "base"));
    } else {
        eval_record(w, w->spec.model, w->model_commit, NULL, NULL, eval);
    }
    snprintf(commit, REPO_OID_HEX_BYTES + 1, "%s", w->model_commit);
    *metrics = json_dumps(eval, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(eval);
    return OUTCOME_OK;
}

/* ---- Setup and the outcome -------------------------------------------------------------- */

static int worker_open(struct worker *w, struct hub_error *err)
{
    ssize_t len;
    int rc;

    len = readlink("/proc/self/exe", w->exe, sizeof(w->exe) - 1);
    if (len <= 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot find the atelier binary: %s",
                                   strerror(errno));
    w->exe[len] = '\0';
    snprintf(w->dir, sizeof(w->dir), "%s/jobs/%lld", w->data_dir, (long long)w->job_id);
    snprintf(w->log_path, sizeof(w->log_path), "%s/%s", w->dir, JOBS_LOG_FILE_NAME);
    rc = jobs_mkdirs(w->dir, err);
    if (rc < 0)
        return rc;
    w->log_fd = open(w->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (w->log_fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open the job log %s: %s",
                                   w->log_path, strerror(errno));
    rc = meta_open(&w->db, w->data_dir, 0, err);
    if (rc == 0)
        rc = store_open(&w->store, w->data_dir, err);
    if (rc == 0)
        rc = meta_job_get(&w->job, w->db, w->job_id, err);
    return rc;
}

static void worker_close(struct worker *w)
{
    if (w->heartbeat_started) {
        atomic_store(&w->heartbeat_stop, true);
        pthread_join(w->heartbeat, NULL);
    }
    meta_job_free(w->job);
    store_close(w->store);
    meta_close(w->db);
    if (w->log_fd >= 0)
        close(w->log_fd);
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Replaces each occurrence of from in text, a buffer of cap bytes, with to. An occurrence
 * followed by a letter, digit, '_' or '-' is part of a longer name and stays. The end of a
 * result over cap - 1 bytes is cut. */
static void text_replace(char *text, size_t cap, const char *from, const char *to)
{
    size_t from_len = strlen(from), to_len = strlen(to), used = 0;
    const char *p = text;
    char *out;

    if (from_len == 0 || cap == 0 || strstr(text, from) == NULL)
        return;
    out = malloc(cap);
    if (out == NULL)
        return; /* the message keeps the staged path */
    while (*p != '\0' && used + 1 < cap) {
        if (strncmp(p, from, from_len) == 0 && !is_word_char(p[from_len])) {
            size_t n = to_len < cap - 1 - used ? to_len : cap - 1 - used;

            memcpy(out + used, to, n);
            used += n;
            p += from_len;
            continue;
        }
        out[used++] = *p++;
    }
    out[used] = '\0';
    memcpy(text, out, used + 1);
    free(out);
}

/* Writes "REPO@COMMIT" with a short commit id, or REPO alone while the commit is unknown. */
static void repo_at_format(char *buf, size_t cap, const char *repo, const char *commit)
{
    if (commit[0] == '\0')
        snprintf(buf, cap, "%s", repo);
    else
        snprintf(buf, cap, "%s@%.*s", repo, WORKER_SHORT_COMMIT_CHARS, commit);
}

/* Rewrites the paths of the staged inputs in text as the user knows them: a dataset file
 * DIR/data/train/NAME becomes "DATASET@COMMIT: PATH" with PATH as in the request, and the
 * folders DIR/base and DIR/adapter become "MODEL@COMMIT". Other paths below DIR stay. */
static void message_paths_map(char *text, size_t cap, const struct worker *w)
{
    const char *const subdirs[2] = {"train", "eval"};
    const char *const files[2] = {w->spec.train_file, w->spec.eval_file};
    char from[WORKER_PATH_BYTES], to[2 * HUB_MAX_REPO_ID_BYTES + PATH_MAX];
    char dataset[HUB_MAX_REPO_ID_BYTES + 16];

    repo_at_format(dataset, sizeof(dataset), w->spec.dataset, w->dataset_commit);
    for (int i = 0; i < 2; i++) {
        const char *slash = strrchr(files[i], '/');

        if (files[i][0] == '\0')
            continue;
        snprintf(from, sizeof(from), "%s/data/%s/%s", w->dir, subdirs[i],
                 slash != NULL ? slash + 1 : files[i]);
        snprintf(to, sizeof(to), "%s: %s", dataset, files[i]);
        text_replace(text, cap, from, to);
    }
    /* An adapter's evaluation stages its base in base/ and the adapter in adapter/. */
    snprintf(from, sizeof(from), "%s/base", w->dir);
    if (w->base_repo[0] != '\0')
        repo_at_format(to, sizeof(to), w->base_repo, w->base_commit);
    else
        repo_at_format(to, sizeof(to), w->spec.model, w->model_commit);
    text_replace(text, cap, from, to);
    snprintf(from, sizeof(from), "%s/adapter", w->dir);
    repo_at_format(to, sizeof(to), w->spec.model, w->model_commit);
    text_replace(text, cap, from, to);
}

/* Appends to text the job request's name of each trainer option that text names, such as
 * "(in the job request: --seq-len is params.seq_len)", so an API user knows what to change.
 * The trainer's messages name its command-line options. */
static void message_flags_map(char *text, size_t cap)
{
    static const char *const flags[][2] = {
        {"--rank", "rank"},
        {"--alpha", "alpha"},
        {"--targets", "targets"},
        {"--lr", "lr"},
        {"--steps", "steps"},
        {"--epochs", "epochs"},
        {"--batch", "batch"},
        {"--grad-accum", "grad_accum"},
        {"--seq-len", "seq_len"},
        {"--warmup", "warmup"},
        {"--seed", "seed"},
        {"--threads", "threads"},
        {"--checkpoint-every", "checkpoint_every"},
        {"--dropout", "dropout"},
        {"--weight-decay", "weight_decay"},
        {"--clip", "clip"},
    };
    size_t len = strlen(text);
    int named = 0;

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        size_t flag_len = strlen(flags[i][0]);
        const char *p = text;
        bool found = false;

        while (!found && (p = strstr(p, flags[i][0])) != NULL) {
            found = (p == text || !is_word_char(p[-1])) && !is_word_char(p[flag_len]);
            p += flag_len;
        }
        if (!found || len + 1 >= cap)
            continue;
        len += (size_t)snprintf(text + len, cap - len, "%s%s is params.%s",
                                named == 0 ? " (in the job request: " : ", ", flags[i][0],
                                flags[i][1]);
        if (len >= cap)
            len = cap - 1;
        named++;
    }
    if (named > 0 && len + 1 < cap)
        snprintf(text + len, cap - len, ")");
}

/* Formats the job's final log line ("job succeeded" or "job failed: MESSAGE") into line
 * and its "log" event data into *json (caller frees). Returns -1 when the event data cannot
 * be built, which leaves *json NULL and the line only in the log file. */
static int final_line_format(char *line, size_t cap, char **json, enum meta_job_state state,
                             const char *message)
{
    bool ok = state == META_JOB_SUCCEEDED;
    json_t *data;

    log_line_format(line, cap, "job %s%s%s", meta_job_state_name(state), ok ? "" : ": ",
                    ok ? "" : message);
    *json = NULL;
    data = json_pack("{s:s, s:s}", "line", line, "level", ok ? "info" : "error");
    if (data == NULL)
        return -1;
    *json = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    return *json != NULL ? 0 : -1;
}

/* Records a final outcome; returns the exit status. */
static int outcome_record(struct worker *w, enum outcome outcome, const char *commit,
                          const char *metrics, const char *message)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_job_state state = outcome == OUTCOME_OK ? META_JOB_SUCCEEDED : META_JOB_FAILED;
    char shown[WORKER_MESSAGE_BYTES], final[1024];
    char *final_json = NULL;
    int rc;

    if (outcome == OUTCOME_STOPPED) {
        log_line(w, "info", "attempt %d stopped", w->attempt);
        return JOBS_EXIT_RETRY;
    }
    if (outcome == OUTCOME_RETRY) {
        log_line(w, "warning", "attempt %d failed and may be retried: %s", w->attempt, message);
        hub_log(HUB_LOG_WARN, "jobs", "attempt failed: %s job=%lld attempt=%d", message,
                (long long)w->job_id, w->attempt);
        return JOBS_EXIT_RETRY;
    }
    /* The job's error shows the inputs by repo and file. The log keeps the staged paths. */
    snprintf(shown, sizeof(shown), "%s", message);
    message_paths_map(shown, sizeof(shown), w);
    message_flags_map(shown, sizeof(shown));
    if (final_line_format(final, sizeof(final), &final_json, state, message) < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot format the final log event job=%lld",
                (long long)w->job_id);
    /* The final line is stored as a "log" event in the transaction that stores the state
     * event, because that event ends the event stream and a line after it could be missed. */
    rc = meta_job_finish_logged(w->db, w->job_id, w->attempt, state, commit, metrics,
                                outcome == OUTCOME_OK ? NULL : shown, final_json, &err);
    free(final_json);
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot record the outcome: %s job=%lld", err.msg,
                (long long)w->job_id);
        return rc == HUB_ECONFLICT ? JOBS_EXIT_RECORDED : JOBS_EXIT_RETRY;
    }
    w->events_closed = true;
    log_file_write(w, final, (int)strlen(final));
    if (state == META_JOB_FAILED)
        hub_log(HUB_LOG_WARN, "jobs", "job failed: %.*s job=%lld owner=%s attempt=%d",
                WORKER_LOGGED_ERROR_MAX, shown, (long long)w->job_id, w->job->owner, w->attempt);
    else
        hub_log(HUB_LOG_INFO, "jobs", "job %s job=%lld owner=%s attempt=%d",
                meta_job_state_name(state), (long long)w->job_id, w->job->owner, w->attempt);
    /* The job can no longer be retried, so its checkpoint and staged inputs are not needed.
     * A crash before this line leaves them to the sweep at the next daemon start. */
    jobs_workdir_clean(w->data_dir, w->job_id);
    if (state == META_JOB_FAILED)
        jobs_output_discard(w->db, w->data_dir, w->job_id);
    return JOBS_EXIT_RECORDED;
}

static enum outcome worker_body(struct worker *w, char *commit, char **metrics, char *message,
                                size_t cap)
{
    struct hub_error err = HUB_ERROR_INIT;
    enum outcome outcome;

    if (jobs_spec_parse(&w->spec, w->job->spec_json, strlen(w->job->spec_json), &err) < 0) {
        snprintf(message, cap, "stored job spec is invalid: %s", err.msg);
        return OUTCOME_FAIL;
    }
    if (w->spec.type == META_JOB_TRAIN) {
        const char *name = strchr(w->spec.output_repo, '/');
        int n = snprintf(w->out_dir, sizeof(w->out_dir), "%s/out/%s", w->dir, name + 1);

        if (n < 0 || (size_t)n >= sizeof(w->out_dir)) {
            snprintf(message, cap, "the path of the job folder %.200s is too long", w->dir);
            return OUTCOME_FAIL;
        }
    }
    outcome = access_check(w, message, cap);
    if (outcome != OUTCOME_OK)
        return outcome;
    if (w->spec.type == META_JOB_TRAIN)
        return train_job(w, commit, metrics, message, cap);
    return eval_job(w, commit, metrics, message, cap);
}

int jobs_worker_run(const char *data_dir, int64_t job_id, int attempt)
{
    struct worker w;
    struct hub_error err = HUB_ERROR_INIT;
    char commit[REPO_OID_HEX_BYTES + 1] = "", message[WORKER_MESSAGE_BYTES] = "";
    char *metrics = NULL;
    enum outcome outcome;
    int status;

    memset(&w, 0, sizeof(w));
    w.data_dir = data_dir;
    w.job_id = job_id;
    w.attempt = attempt;
    w.log_fd = -1;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    /* The worker outlives a crashed daemon, whose stderr pipe may then have no reader. */
    signal(SIGPIPE, SIG_IGN);
    if (worker_open(&w, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "worker cannot start: %s job=%lld", err.msg,
                (long long)job_id);
        worker_close(&w);
        return err.code == HUB_ENOTFOUND ? JOBS_EXIT_RECORDED : JOBS_EXIT_RETRY;
    }
    if (w.job->state != META_JOB_RUNNING || w.job->attempts != attempt) {
        hub_log(HUB_LOG_WARN, "jobs", "job is not running as this attempt job=%lld attempt=%d",
                (long long)job_id, attempt);
        worker_close(&w);
        return JOBS_EXIT_RECORDED;
    }
    log_line(&w, "info", "attempt %d of %d started by worker pid %d", attempt, w.job->max_attempts,
             (int)getpid());
    w.heartbeat_started = pthread_create(&w.heartbeat, NULL, heartbeat_main, &w) == 0;
    outcome = worker_body(&w, commit, &metrics, message, sizeof(message));
    if (outcome != OUTCOME_OK && outcome != OUTCOME_STOPPED && worker_should_stop(&w))
        outcome = OUTCOME_STOPPED;
    status = outcome_record(&w, outcome, commit, metrics, message);
    free(metrics);
    worker_close(&w);
    return status;
}
