/* jobs_sched: the job scheduler inside `atelier serve`. One thread starts `atelier worker`
 * processes for queued jobs, watches them (waitpid and heartbeats), stops canceled ones,
 * and retries or fails jobs whose worker died. It never runs training itself. */
#ifndef JOBS_SCHED_H
#define JOBS_SCHED_H

#include "hub_error.h"

#include <stdint.h>

struct hub_config;

/* Settings of the job queue. Defaults come from jobs_settings_init; see docs/jobs.md. */
struct jobs_settings {
    unsigned workers;              /* worker processes at once (serve --workers) */
    unsigned max_queued_per_user;  /* 0 means no limit */
    unsigned max_running_per_user; /* 0 means no limit */
    unsigned max_attempts;         /* attempts per job before it fails, >= 1 */
    unsigned heartbeat_timeout_s;  /* a running job without a heartbeat this long is dead */
    unsigned cancel_grace_s;       /* SIGTERM to SIGKILL delay when stopping a worker */
    unsigned max_job_s;            /* seconds an attempt may run before its cancel, 0: none */
};

#define JOBS_HEARTBEAT_INTERVAL_S 2 /* how often a worker stores its heartbeat */

/** Fills settings from config: --workers and the job limit flags, which fall back to their
 * ATELIER_JOBS_* environment variables (see hub_config_init). When config is NULL, uses the
 * defaults and the environment. Returns 0, or HUB_EINVAL naming a variable with an invalid
 * value. Main thread. */
int jobs_settings_init(struct jobs_settings *settings, const struct hub_config *config,
                       struct hub_error *err);

/** Returns the settings the running scheduler uses (defaults before it starts). Any thread. */
const struct jobs_settings *jobs_settings_get(void);

/** Starts the scheduler thread for data_dir. Returns 0 or a negative HUB_E* code. Main
 * thread, once. */
int jobs_sched_start(const struct hub_config *config, struct hub_error *err);

/** Stops the scheduler: stops the workers it started (their jobs go back to the queue
 * without using up an attempt), then joins the thread. Main thread. */
void jobs_sched_stop(void);

/** Wakes the scheduler so it looks at the queue now instead of at its next tick. Any
 * thread; does nothing when the scheduler is not running. */
void jobs_sched_wake(void);

#endif
