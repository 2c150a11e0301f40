/* jobs_publish: commits a finished training job's adapter to its output repo as one git
 * commit, with adapter_model.safetensors stored through LFS. */
#ifndef JOBS_PUBLISH_H
#define JOBS_PUBLISH_H

#include "hub_error.h"
#include "repo.h"

#include <stdint.h>

struct meta;

/* The files of a finished training job and their destination. Every string is borrowed
 * for the call. */
struct jobs_publish_request {
    const char *data_dir;
    int64_t job_id;
    const char *owner;       /* commit author name */
    const char *output_repo; /* "ns/name", a model repo */
    const char *base_repo;   /* recorded as the repo's base_model */
    const char *out_dir;     /* the trainer's ADAPTER_DIR */
    const char *log_path;    /* the job log, committed as training.log */
    const char *card_extra;  /* Markdown appended to the trainer's README.md, or NULL */
    const char *eval_json;   /* committed as eval_results.json when not NULL */
    const char *message;     /* commit message without the job trailer */
};

/** Commits adapter_config.json, adapter_model.safetensors (LFS), README.md,
 * train_results.json, training.log and eval_results.json to the main branch of the output
 * repo in one commit, links the blob to the repo and records the repo's base model. When the
 * head of main already is this job's commit (an earlier attempt committed and then died), it
 * is reused instead of committing again. Writes the commit id into commit_out. Returns 0,
 * HUB_ENOTFOUND (a file of the adapter is missing), HUB_ECONFLICT or HUB_EIO. Worker
 * process. */
int jobs_publish(char commit_out[REPO_OID_HEX_BYTES + 1], struct meta *db,
                 const struct jobs_publish_request *request, struct hub_error *err);

#endif
