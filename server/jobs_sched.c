/* jobs_sched: the scheduler thread of `atelier serve`. Entry points: jobs_sched_start,
 * jobs_sched_stop, jobs_sched_wake.
 *
 * Each tick (a second, or sooner when woken or when one of its workers exits) it reaps the
 * workers it started and stops the workers of canceled jobs: SIGTERM to the worker's process
 * group, then SIGKILL after the grace period. It gives up on workers whose heartbeat is
 * stale, and starts workers for queued jobs while fewer than `workers` jobs run. A worker is
 * its own process group leader, so a signal to the group also reaches the trainer it runs.
 * Workers of an earlier daemon keep running after a restart; the new scheduler watches them
 * through their heartbeats.
 *
 * Threads: the scheduler state below belongs to the scheduler thread, except `lock`,
 * `wake_fd` and `stopping`, which `lock` guards. The settings never change after
 * jobs_sched_start. */
#include "jobs_sched.h"

#include "hub_config.h"
#include "hub_log.h"
#include "jobs_clean.h"
#include "jobs_output.h"
#include "meta.h"
#include "meta_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOBS_TICK_MS 1000

/* A worker process this scheduler started. */
struct jobs_child {
    int64_t job_id;
    int attempt;
    pid_t pid;
    int pidfd;             /* readable once the worker exits; -1 when pidfd_open failed */
    int64_t term_sent_at;  /* monotonic seconds when SIGTERM went out, 0 before */
    char kill_reason[160]; /* why the scheduler killed it, "" when it did not */
};

struct jobs_sched {
    pthread_mutex_t lock;
    int wake_fd;   /* eventfd that jobs_sched_wake writes to, -1 when stopped; guarded by lock */
    bool stopping; /* guarded by lock */
    bool running;  /* the thread exists; main thread only */
    pthread_t thread;
    char *data_dir;
    char exe_path[PATH_MAX];
    struct jobs_child *children; /* settings.workers entries; scheduler thread */
    size_t child_count;
    struct pollfd *poll_fds; /* settings.workers + 1 entries for sched_wait; scheduler thread */
    /* children_reap left an exited worker unreaped, whose pidfd stays readable, so sched_wait
     * waits the full tick instead of returning at once. Scheduler thread. */
    bool reap_pending;
};

static struct jobs_settings settings = {
    .workers = 1,
    .max_queued_per_user = 20,
    .max_running_per_user = 0,
    .max_attempts = 3,
    .heartbeat_timeout_s = 60,
    .cancel_grace_s = 5,
};

static struct jobs_sched sched = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake_fd = -1,
};

/* ---- Settings --------------------------------------------------------------------------- */

int jobs_settings_init(struct jobs_settings *out, const struct hub_config *config,
                       struct hub_error *err)
{
    struct hub_config defaults;
    int rc = 0;

    if (config == NULL) {
        rc = hub_config_init(&defaults, err);
        if (rc < 0) {
            hub_config_dispose(&defaults);
            return rc;
        }
        config = &defaults;
    }
    /* hub_config checked each value against the range of its flag. */
    out->workers = config->workers > 0 ? config->workers : 1;
    out->max_queued_per_user = (unsigned)config->jobs_max_queued_per_user;
    out->max_running_per_user = (unsigned)config->jobs_max_running_per_user;
    out->max_attempts = (unsigned)config->jobs_max_attempts;
    out->heartbeat_timeout_s = (unsigned)config->jobs_heartbeat_timeout_s;
    out->cancel_grace_s = (unsigned)config->jobs_cancel_grace_s;
    out->max_job_s = (unsigned)config->jobs_max_job_s;
    if (config == &defaults)
        hub_config_dispose(&defaults);
    return rc;
}

const struct jobs_settings *jobs_settings_get(void)
{
    return &settings;
}

/* ---- Small helpers ---------------------------------------------------------------------- */

static int64_t monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static bool sched_is_stopping(void)
{
    bool stopping;

    pthread_mutex_lock(&sched.lock);
    stopping = sched.stopping;
    pthread_mutex_unlock(&sched.lock);
    return stopping;
}

static void describe_status(char *buf, size_t cap, int status)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "worker exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "worker was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "worker stopped with wait status %d", status);
}

/* Returns whether data, the --data argument of process pid, names this daemon's data
 * directory. A relative path is read from the process's working directory, and the two are
 * compared by device and inode, so different spellings of one folder match. */
static bool worker_data_is_ours(pid_t pid, const char *data)
{
    char path[4200];
    struct stat theirs, ours;

    if (data[0] == '/')
        snprintf(path, sizeof(path), "%s", data);
    else
        snprintf(path, sizeof(path), "/proc/%d/cwd/%s", (int)pid, data);
    if (stat(path, &theirs) != 0 || stat(sched.data_dir, &ours) != 0)
        return false;
    return theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

/* Returns whether pid is alive and is the worker of job_id in this daemon's data directory,
 * read from /proc/PID/cmdline. A reused pid of an unrelated process is never signaled, nor
 * the worker of a job with the same id under another hub on this machine. */
static bool pid_is_worker_of(pid_t pid, int64_t job_id)
{
    char path[64], cmdline[4096], want[32];
    bool saw_worker = false, saw_job = false, saw_data = false;
    ssize_t len;
    int fd;

    if (pid <= 1)
        return false;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    snprintf(want, sizeof(want), "%lld", (long long)job_id);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    len = read(fd, cmdline, sizeof(cmdline) - 1);
    close(fd);
    if (len <= 0)
        return false;
    cmdline[len] = '\0';
    for (char *arg = cmdline; arg < cmdline + len; arg += strlen(arg) + 1) {
        char *next = arg + strlen(arg) + 1;

        if (strcmp(arg, "worker") == 0)
            saw_worker = true;
        if (strcmp(arg, "--job") == 0 && next < cmdline + len && strcmp(next, want) == 0)
            saw_job = true;
        if (strcmp(arg, "--data") == 0 && next < cmdline + len && worker_data_is_ours(pid, next))
            saw_data = true;
    }
    return saw_worker && saw_job && saw_data;
}

static struct jobs_child *child_find_job(int64_t job_id)
{
    for (size_t i = 0; i < sched.child_count; i++) {
        if (sched.children[i].job_id == job_id)
            return &sched.children[i];
    }
    return NULL;
}

static void child_remove(struct jobs_child *child)
{
    size_t index = (size_t)(child - sched.children);

    if (child->pidfd >= 0)
        close(child->pidfd);
    sched.children[index] = sched.children[sched.child_count - 1];
    sched.child_count--;
}

/* ---- Ending an attempt ------------------------------------------------------------------ */

/* Records that the worker of attempt is gone: canceled when a cancel was requested, queued
 * again while attempts remain, else failed. HUB_ECONFLICT means the worker had already
 * recorded the outcome, which is the normal case for a worker that finished. A canceled or
 * failed job's work folder is cleaned, since no attempt resumes from it any more, and the
 * empty output repo it created is deleted (jobs_output_discard). NOTE: a
 * worker of an earlier daemon gets SIGKILL just before this and may not have exited yet. An
 * entry it is still writing can then fail to go, and the sweep at the next start removes it. */
static void attempt_end(struct meta *db, int64_t job_id, int attempt, int max_attempts,
                        bool cancel_requested, const char *reason)
{
    struct hub_error err = HUB_ERROR_INIT;
    bool terminal = cancel_requested || attempt >= max_attempts;
    char message[512];
    int rc;

    if (cancel_requested) {
        char canceled[META_JOB_CANCELED_BY_BYTES];

        meta_job_cancel_reason(canceled, sizeof(canceled), db, job_id);
        snprintf(message, sizeof(message), "%s; %s", canceled, reason);
        rc = meta_job_finish(db, job_id, attempt, META_JOB_CANCELED, NULL, NULL, message, &err);
    } else if (attempt < max_attempts) {
        snprintf(message, sizeof(message),
                 "%s; retrying from the last checkpoint (attempt %d of %d failed)", reason, attempt,
                 max_attempts);
        rc = meta_job_requeue(db, job_id, attempt, false, message, &err);
    } else {
        snprintf(message, sizeof(message), "%s; gave up after %d attempts", reason, attempt);
        rc = meta_job_finish(db, job_id, attempt, META_JOB_FAILED, NULL, NULL, message, &err);
    }
    if (rc == HUB_ECONFLICT) {
        hub_log(HUB_LOG_DEBUG, "jobs", "worker ended after the job was recorded job=%lld",
                (long long)job_id);
        return;
    }
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot record the end of an attempt: %s job=%lld", err.msg,
                (long long)job_id);
        return;
    }
    hub_log(cancel_requested ? HUB_LOG_INFO : HUB_LOG_WARN, "jobs", "%s job=%lld attempt=%d",
            message, (long long)job_id, attempt);
    /* The trainer's last line for a stop suggests a rerun with --resume. Whatever way the
     * worker ended, the scheduler now removes the checkpoint, so the log says so. */
    if (cancel_requested)
        jobs_output_log_append(db, sched.data_dir, job_id,
                               "the job was canceled, so its checkpoint is removed and no "
                               "attempt resumes it");
    if (terminal) {
        jobs_workdir_clean(sched.data_dir, job_id);
        jobs_output_discard(db, sched.data_dir, job_id);
    }
}

static const struct meta_job_lease *lease_find(const struct meta_job_lease *leases, size_t count,
                                               int64_t job_id)
{
    for (size_t i = 0; i < count; i++) {
        if (leases[i].id == job_id)
            return &leases[i];
    }
    return NULL;
}

/* Reaps every child that exited and records the end of its attempt unless the worker did. */
static void children_reap(struct meta *db)
{
    struct meta_job_lease *leases = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t lease_count = 0;
    size_t i = 0;
    bool loaded = false;

    sched.reap_pending = false;
    while (i < sched.child_count) {
        struct jobs_child *child = &sched.children[i];
        const struct meta_job_lease *lease;
        char reason[256];
        int status = 0;
        pid_t pid = waitpid(child->pid, &status, WNOHANG);

        if (pid == 0) {
            i++;
            continue;
        }
        if (pid < 0)
            snprintf(reason, sizeof(reason), "worker pid %d vanished: %s", (int)child->pid,
                     strerror(errno));
        else if (child->kill_reason[0] != '\0')
            snprintf(reason, sizeof(reason), "%s", child->kill_reason);
        else
            describe_status(reason, sizeof(reason), status);
        if (!loaded) {
            if (meta_job_leases(&leases, &lease_count, db, &err) < 0) {
                hub_log(HUB_LOG_ERROR, "jobs", "cannot list running jobs: %s", err.msg);
                sched.reap_pending = true; /* the child stays a zombie until the next tick */
                return;
            }
            loaded = true;
        }
        lease = lease_find(leases, lease_count, child->job_id);
        if (lease != NULL && lease->attempts == child->attempt)
            attempt_end(db, child->job_id, child->attempt, lease->max_attempts,
                        lease->cancel_requested, reason);
        else
            hub_log(HUB_LOG_INFO, "jobs", "worker finished job=%lld attempt=%d pid=%d",
                    (long long)child->job_id, child->attempt, (int)child->pid);
        child_remove(child);
    }
    free(leases);
}

/* ---- Watching running jobs -------------------------------------------------------------- */

static void child_signal(struct jobs_child *child, int sig)
{
    if (kill(-child->pid, sig) < 0 && errno == ESRCH)
        kill(child->pid, sig);
}

static void lease_cancel(struct meta *db, const struct meta_job_lease *lease,
                         struct jobs_child *child)
{
    int64_t now = monotonic_s();

    if (child == NULL) {
        /* A worker of an earlier daemon: not our child, so it cannot be reaped here. */
        if (lease->worker_pid > 0 && pid_is_worker_of((pid_t)lease->worker_pid, lease->id))
            kill(-(pid_t)lease->worker_pid, SIGKILL);
        attempt_end(db, lease->id, lease->attempts, lease->max_attempts, true, "worker stopped");
        return;
    }
    if (child->term_sent_at == 0) {
        hub_log(HUB_LOG_INFO, "jobs", "stopping worker of canceled job job=%lld pid=%d",
                (long long)lease->id, (int)child->pid);
        child_signal(child, SIGTERM);
        child->term_sent_at = now;
        snprintf(child->kill_reason, sizeof(child->kill_reason), "worker stopped");
    } else if (now - child->term_sent_at >= (int64_t)settings.cancel_grace_s) {
        hub_log(HUB_LOG_WARN, "jobs", "worker ignored SIGTERM, sending SIGKILL job=%lld pid=%d",
                (long long)lease->id, (int)child->pid);
        child_signal(child, SIGKILL);
    }
}

static void lease_check(struct meta *db, const struct meta_job_lease *lease, int64_t now)
{
    struct jobs_child *child = child_find_job(lease->id);
    char reason[160];

    if (child != NULL && child->attempt != lease->attempts)
        child = NULL;
    if (lease->cancel_requested) {
        lease_cancel(db, lease, child);
        return;
    }
    if (settings.max_job_s > 0 && lease->attempt_started_at > 0 &&
        now - lease->attempt_started_at > (int64_t)settings.max_job_s) {
        struct hub_error err = HUB_ERROR_INIT;
        bool marked = false;

        /* Stopped like any cancel, at once, before the worker's heartbeat reads the request. */
        if (meta_job_cancel_overtime(&marked, db, lease->id, settings.max_job_s, &err) < 0) {
            hub_log(HUB_LOG_ERROR, "jobs", "cannot cancel a job over the time limit: %s job=%lld",
                    err.msg, (long long)lease->id);
            return;
        }
        if (marked) {
            hub_log(HUB_LOG_WARN, "jobs",
                    "canceling a job that ran longer than --max-job-seconds %u job=%lld",
                    settings.max_job_s, (long long)lease->id);
            lease_cancel(db, lease, child);
        }
        return;
    }
    if (lease->heartbeat_at > 0 &&
        now - lease->heartbeat_at <= (int64_t)settings.heartbeat_timeout_s)
        return;
    snprintf(reason, sizeof(reason), "worker sent no heartbeat for over %u s",
             settings.heartbeat_timeout_s);
    if (child != NULL) {
        if (child->kill_reason[0] == '\0') {
            snprintf(child->kill_reason, sizeof(child->kill_reason), "%s", reason);
            child_signal(child, SIGKILL);
        }
        return; /* children_reap records it */
    }
    if (lease->worker_pid > 0 && pid_is_worker_of((pid_t)lease->worker_pid, lease->id))
        kill(-(pid_t)lease->worker_pid, SIGKILL);
    attempt_end(db, lease->id, lease->attempts, lease->max_attempts, false, reason);
}

/* Handles the running jobs of an earlier daemon whose workers are already gone, so they are
 * retried at once instead of after the heartbeat timeout. */
static void leases_recover(struct meta *db)
{
    struct meta_job_lease *leases = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;

    if (meta_job_leases(&leases, &count, db, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot list running jobs: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const struct meta_job_lease *lease = &leases[i];

        if (lease->worker_pid > 0 && pid_is_worker_of((pid_t)lease->worker_pid, lease->id)) {
            hub_log(HUB_LOG_INFO, "jobs", "adopting worker of an earlier daemon job=%lld pid=%lld",
                    (long long)lease->id, (long long)lease->worker_pid);
            continue;
        }
        attempt_end(db, lease->id, lease->attempts, lease->max_attempts, lease->cancel_requested,
                    "worker of an earlier daemon is gone");
    }
    free(leases);
}

/* ---- Starting workers ------------------------------------------------------------------- */

/* Forks and execs `atelier worker`. Between fork and exec the child calls only
 * async-signal-safe functions, because the daemon has other threads. */
static int worker_spawn(pid_t *out, int64_t job_id, int attempt, struct hub_error *err)
{
    char id_text[32], attempt_text[16];
    char *argv[] = {sched.exe_path, "worker",     "--data", sched.data_dir, "--job", id_text,
                    "--attempt",    attempt_text, NULL};
    sigset_t all;
    pid_t pid;

    snprintf(id_text, sizeof(id_text), "%lld", (long long)job_id);
    snprintf(attempt_text, sizeof(attempt_text), "%d", attempt);
    pid = fork();
    if (pid < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot fork a worker for job %lld",
                                   (long long)job_id);
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        /* The listener socket and database files must not stay open in the worker. */
        syscall(SYS_close_range, 3U, ~0U, 0U);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so a signal sent right after fork reaches the group */
    *out = pid;
    return 0;
}

static void job_start(struct meta *db, int64_t job_id, int attempt)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct jobs_child *child;
    pid_t pid = 0;
    int rc;

    rc = worker_spawn(&pid, job_id, attempt, &err);
    if (rc < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "%s job=%lld", err.msg, (long long)job_id);
        attempt_end(db, job_id, attempt, (int)settings.max_attempts, false, err.msg);
        return;
    }
    child = &sched.children[sched.child_count++];
    memset(child, 0, sizeof(*child));
    child->job_id = job_id;
    child->attempt = attempt;
    child->pid = pid;
    /* The scheduler waits on this fd, so it reaps the worker and starts the next job as soon
     * as the worker exits. Without it the next job starts at the next tick. */
    child->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (child->pidfd < 0)
        hub_log(HUB_LOG_WARN, "jobs",
                "cannot watch the worker with pidfd_open, so its exit is seen within a second: "
                "%s job=%lld pid=%d",
                strerror(errno), (long long)job_id, (int)pid);
    rc = meta_job_set_worker(db, job_id, attempt, pid, &err);
    if (rc < 0)
        hub_log(HUB_LOG_ERROR, "jobs", "cannot record the worker pid: %s job=%lld pid=%d", err.msg,
                (long long)job_id, (int)pid);
    hub_log(HUB_LOG_INFO, "jobs", "started worker job=%lld attempt=%d pid=%d", (long long)job_id,
            attempt, (int)pid);
}

/* Checks every running job, then starts queued ones while fewer than `workers` run. */
static void sched_tick(struct meta *db)
{
    struct meta_job_lease *leases = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;
    int64_t now = meta_now();

    children_reap(db);
    if (meta_job_leases(&leases, &count, db, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot list running jobs: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < count; i++)
        lease_check(db, &leases[i], now);
    free(leases);
    /* A job counts as running until its row leaves the running state, also while a worker
     * is being stopped. */
    if (meta_job_leases(&leases, &count, db, &err) < 0) {
        hub_log(HUB_LOG_ERROR, "jobs", "cannot list running jobs: %s", err.msg);
        return;
    }
    free(leases);
    while (count < settings.workers && sched.child_count < settings.workers &&
           !sched_is_stopping()) {
        int64_t job_id = 0;
        int attempt = 0;

        if (meta_job_claim_next(&job_id, &attempt, db, (int)settings.max_running_per_user, &err) <
            0) {
            hub_log(HUB_LOG_ERROR, "jobs", "cannot claim a queued job: %s", err.msg);
            return;
        }
        if (job_id == 0)
            return;
        job_start(db, job_id, attempt);
        count++;
    }
}

/* ---- Shutdown --------------------------------------------------------------------------- */

/* Stops every worker this daemon started and puts its job back in the queue without using
 * up an attempt, since the job itself did not fail. */
static void children_stop_all(struct meta *db)
{
    int64_t deadline = monotonic_s() + (int64_t)settings.cancel_grace_s;
    struct hub_error err = HUB_ERROR_INIT;

    for (size_t i = 0; i < sched.child_count; i++)
        child_signal(&sched.children[i], SIGTERM);
    while (sched.child_count > 0) {
        struct jobs_child *child = &sched.children[sched.child_count - 1];
        int status = 0;
        pid_t pid = waitpid(child->pid, &status, WNOHANG);

        if (pid == 0 && monotonic_s() < deadline) {
            struct timespec pause = {0, 100 * 1000 * 1000};

            nanosleep(&pause, NULL);
            continue;
        }
        if (pid == 0) {
            child_signal(child, SIGKILL);
            waitpid(child->pid, &status, 0);
        }
        if (meta_job_requeue(db, child->job_id, child->attempt, true,
                             "the daemon stopped; the job runs again when it restarts", &err) == 0)
            hub_log(HUB_LOG_INFO, "jobs", "queued again for the next start job=%lld",
                    (long long)child->job_id);
        child_remove(child);
    }
}

/* ---- The thread ------------------------------------------------------------------------- */

/* Waits up to a tick for a wake (jobs_sched_wake, jobs_sched_stop) or for the exit of a
 * worker, whichever comes first. */
static void sched_wait(void)
{
    struct pollfd *fds = sched.poll_fds;
    nfds_t count = 0;
    uint64_t wakes;
    int wake_fd;

    pthread_mutex_lock(&sched.lock);
    wake_fd = sched.wake_fd;
    if (sched.stopping) {
        pthread_mutex_unlock(&sched.lock);
        return;
    }
    pthread_mutex_unlock(&sched.lock);
    fds[count++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
    for (size_t i = 0; i < sched.child_count && !sched.reap_pending; i++) {
        if (sched.children[i].pidfd >= 0)
            fds[count++] = (struct pollfd){.fd = sched.children[i].pidfd, .events = POLLIN};
    }
    if (poll(fds, count, JOBS_TICK_MS) > 0 && (fds[0].revents & POLLIN) != 0) {
        /* Resets the counter, so wakes that came together cause one tick. */
        if (read(wake_fd, &wakes, sizeof(wakes)) < 0 && errno != EAGAIN)
            hub_log(HUB_LOG_WARN, "jobs", "cannot read the scheduler's wake counter: %s",
                    strerror(errno));
    }
}

static void *sched_main(void *arg)
{
    struct meta *db = arg;

    leases_recover(db);
    jobs_workdirs_sweep(db, sched.data_dir);
    while (!sched_is_stopping()) {
        sched_tick(db);
        sched_wait();
    }
    children_stop_all(db);
    meta_close(db);
    return NULL;
}

/* Frees what jobs_sched_start allocated and closes the eventfd. */
static void sched_release(void)
{
    pthread_mutex_lock(&sched.lock);
    if (sched.wake_fd >= 0)
        close(sched.wake_fd);
    sched.wake_fd = -1;
    pthread_mutex_unlock(&sched.lock);
    free(sched.data_dir);
    free(sched.children);
    free(sched.poll_fds);
    sched.data_dir = NULL;
    sched.children = NULL;
    sched.poll_fds = NULL;
}

int jobs_sched_start(const struct hub_config *config, struct hub_error *err)
{
    struct meta *db = NULL;
    ssize_t len;
    int rc;

    rc = jobs_settings_init(&settings, config, err);
    if (rc < 0)
        return rc;
    len = readlink("/proc/self/exe", sched.exe_path, sizeof(sched.exe_path) - 1);
    if (len <= 0)
        return hub_error_set_errno(err, HUB_EIO, errno,
                                   "cannot find the atelier binary in /proc/self/exe");
    sched.exe_path[len] = '\0';
    sched.data_dir = strdup(config->data_dir);
    sched.children = calloc(settings.workers, sizeof(*sched.children));
    sched.poll_fds = calloc((size_t)settings.workers + 1, sizeof(*sched.poll_fds));
    if (sched.data_dir == NULL || sched.children == NULL || sched.poll_fds == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the job scheduler");
        goto fail;
    }
    sched.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sched.wake_fd < 0) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot create the job scheduler's eventfd");
        goto fail;
    }
    rc = meta_open(&db, config->data_dir, 0, err);
    if (rc < 0)
        goto fail;
    sched.stopping = false;
    rc = pthread_create(&sched.thread, NULL, sched_main, db);
    if (rc != 0) {
        rc = hub_error_set_errno(err, HUB_EIO, rc, "cannot start the job scheduler thread");
        meta_close(db);
        goto fail;
    }
    sched.running = true;
    hub_log(HUB_LOG_INFO, "jobs",
            "scheduler started workers=%u max_queued_per_user=%u max_running_per_user=%u "
            "max_attempts=%u heartbeat_timeout_s=%u max_job_s=%u",
            settings.workers, settings.max_queued_per_user, settings.max_running_per_user,
            settings.max_attempts, settings.heartbeat_timeout_s, settings.max_job_s);
    return 0;
fail:
    sched_release();
    return rc;
}

void jobs_sched_stop(void)
{
    if (!sched.running)
        return;
    pthread_mutex_lock(&sched.lock);
    sched.stopping = true;
    pthread_mutex_unlock(&sched.lock);
    jobs_sched_wake();
    pthread_join(sched.thread, NULL);
    sched.running = false;
    sched_release();
    hub_log(HUB_LOG_INFO, "jobs", "scheduler stopped");
}

void jobs_sched_wake(void)
{
    const uint64_t increment = 1;

    pthread_mutex_lock(&sched.lock);
    /* A full counter (EAGAIN) already wakes the scheduler, so that error is harmless. */
    if (sched.wake_fd >= 0 && write(sched.wake_fd, &increment, sizeof(increment)) < 0 &&
        errno != EAGAIN)
        hub_log(HUB_LOG_WARN, "jobs", "cannot wake the scheduler: %s", strerror(errno));
    pthread_mutex_unlock(&sched.lock);
}
