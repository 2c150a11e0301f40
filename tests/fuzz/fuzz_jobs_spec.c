/* Fuzz target: job requests (the body of POST /api/jobs) and the progress lines a trainer
 * writes to its worker. The first byte picks the parser, so one seed corpus covers both. */
#include "jobs_json.h"
#include "jobs_spec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_job_progress progress;
    struct jobs_spec spec;
    bool is_step, is_eval;
    char *stored = NULL;

    if (size == 0)
        return 0;
    if (data[0] == 'p') {
        jobs_progress_parse(&progress, &is_step, &is_eval, (const char *)data + 1, size - 1, &err);
        return 0;
    }
    if (jobs_spec_parse(&spec, (const char *)data, size, &err) == 0 &&
        jobs_spec_to_json(&stored, &spec, &err) == 0) {
        /* What is stored must parse again, because the worker reads it back. */
        if (jobs_spec_parse(&spec, stored, strlen(stored), &err) != 0)
            abort();
        free(stored);
    }
    return 0;
}
