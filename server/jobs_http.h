/* jobs_http: the REST API of the job queue (/api/jobs, /api/evals) and the scheduler
 * service, registered with the daemon through jobs_http_register. See docs/jobs.md. */
#ifndef JOBS_HTTP_H
#define JOBS_HTTP_H

struct http_router;

/** Adds the job routes and the scheduler service to router. Main thread, once. */
void jobs_http_register(struct http_router *router);

#endif
