/* jobs_create: POST /api/jobs. Validates the request, checks that the caller may read the
 * model and the dataset and write the output repo (creating it when missing), and queues the
 * job. */
#ifndef JOBS_CREATE_H
#define JOBS_CREATE_H

#include "hub_error.h"

struct http_request;

/** Handles POST /api/jobs: replies 201 with the job, or 400, 401, 403, 404 or 429 with a JSON
 * error. HTTP threads. */
int jobs_create_handle(struct http_request *req, void *arg, struct hub_error *err);

#endif
