/* jobs_worker: the body of `atelier worker`, which runs one attempt of one job in its own
 * process: stage the inputs, run the trainer or the evaluator, publish the result, and
 * record the outcome. */
#ifndef JOBS_WORKER_H
#define JOBS_WORKER_H

#include <stdint.h>

/* Exit statuses of `atelier worker`, read by the scheduler. */
#define JOBS_EXIT_RECORDED 0  /* the outcome is in the database (also a recorded failure) */
#define JOBS_EXIT_RETRY    75 /* a transient failure; the scheduler retries the job */
#define JOBS_EXIT_USAGE    2

/** Runs attempt of job job_id with the data directory data_dir. Returns one of the
 * JOBS_EXIT_* statuses. Worker process, main thread. */
int jobs_worker_run(const char *data_dir, int64_t job_id, int attempt);

#endif
