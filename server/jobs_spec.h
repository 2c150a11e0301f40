/* jobs_spec: validation of a job request (the body of POST /api/jobs) into a struct
 * jobs_spec with every default filled in, and back into the JSON stored in the jobs table.
 * The worker parses the stored JSON again with the same function, so both sides agree. */
#ifndef JOBS_SPEC_H
#define JOBS_SPEC_H

#include "hub_error.h"
#include "hub_limits.h"
#include "meta_jobs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBS_TARGETS_BYTES 512 /* the "targets" parameter, such as "q_proj,v_proj" */

/* Hyperparameters of a training job; each maps to one `atelier train` flag. */
struct jobs_train_params {
    int64_t rank;                     /* --rank, 1..1024 */
    double alpha;                     /* --alpha, > 0 */
    char targets[JOBS_TARGETS_BYTES]; /* --targets: "all-linear" or a comma-separated list */
    double lr;                        /* --lr, 0 < lr <= 1 */
    int64_t steps;                    /* --steps, 0 when epochs is set */
    int64_t epochs;                   /* --epochs, 0 when steps is set */
    int64_t batch;                    /* --batch */
    int64_t grad_accum;               /* --grad-accum */
    int64_t seq_len;                  /* --seq-len, in tokens */
    int64_t warmup;                   /* --warmup, in steps */
    int64_t seed;                     /* --seed */
    int64_t threads;                  /* --threads, 0 for the trainer's default */
    int64_t checkpoint_every;         /* --checkpoint-every, in steps */
    double dropout;                   /* --dropout, or -1 for the trainer's default */
    double weight_decay;              /* --weight-decay, or -1 for the trainer's default */
    double clip;                      /* --clip, or -1 for the trainer's default */
};

/* A validated job request. Train jobs use model (the base), dataset, train_file, the optional
 * eval_file, output_repo and params; eval jobs use model, dataset, eval_file and the optional
 * adapter_base and adapter_base_revision. */
struct jobs_spec {
    enum meta_job_type type;
    char model[HUB_MAX_REPO_ID_BYTES + 1];           /* "base_model" or "model" */
    char model_revision[HUB_MAX_REVISION_BYTES + 1]; /* "base_revision" or "revision" */
    char dataset[HUB_MAX_REPO_ID_BYTES + 1];
    char dataset_revision[HUB_MAX_REVISION_BYTES + 1];
    char train_file[HUB_MAX_PATH_BYTES + 1];     /* "" for eval jobs */
    char eval_file[HUB_MAX_PATH_BYTES + 1];      /* "" when a train job has none */
    char output_repo[HUB_MAX_REPO_ID_BYTES + 1]; /* "" for eval jobs */
    /* "base_model" of an eval job: the base to evaluate an adapter against in place of its
     * base_model_name_or_path. "" when not given, and for train jobs. */
    char adapter_base[HUB_MAX_REPO_ID_BYTES + 1];
    /* "base_revision" of an eval job: the revision of the adapter's base to evaluate against
     * in place of the one its adapter_config.json records. "" when not given, and for train
     * jobs, which keep their base_revision in model_revision. */
    char adapter_base_revision[HUB_MAX_REVISION_BYTES + 1];
    struct jobs_train_params params;
};

/** Parses and validates len bytes of JSON into out, filling defaults. Unknown fields and
 * unknown params are rejected with HUB_EINVAL naming every one of them. Any other invalid
 * field gets a message naming the field, the value and what is accepted. Returns 0,
 * HUB_EINVAL, HUB_ETOOBIG (over HUB_MAX_JSON_BODY_BYTES) or HUB_ENOMEM. Any thread. */
int jobs_spec_parse(struct jobs_spec *out, const char *json, size_t len, struct hub_error *err);

/** Writes spec as a JSON object with every field, defaults included, into a malloc'd string
 * (*out, owned by the caller). Returns 0 or HUB_ENOMEM. Any thread. */
int jobs_spec_to_json(char **out, const struct jobs_spec *spec, struct hub_error *err);

/** Returns the revision of the base model that an eval job of an adapter evaluates against.
 * That is the request's base_revision when given. Else it is "main" when the request's
 * base_model replaces the adapter's base, because the recorded revision is a commit of another
 * repo. Else it is config_revision, the "revision" of the adapter's adapter_config.json, unless
 * that is NULL or "", which means "main". Any thread. */
const char *jobs_eval_base_revision(const struct jobs_spec *spec, const char *config_revision);

/** Returns whether rev is a valid branch, tag or commit id for a request: 1 to
 * HUB_MAX_REVISION_BYTES bytes, no leading '-', no "..", no space, control character or any of
 * ~^:?*[\. */
bool jobs_revision_is_valid(const char *rev);

/** Returns whether path is a valid file path inside a repo: 1 to HUB_MAX_PATH_BYTES bytes,
 * no leading or trailing '/', no empty, "." or ".." segment, no control character. */
bool jobs_path_is_valid(const char *path);

/** Counts the examples of a training file of len bytes as `atelier train` reads them. A file
 * whose first byte after an optional UTF-8 byte order mark and white space is '[' is a JSON
 * array of examples. Any other file is JSONL, and each line with anything but spaces, tabs and
 * carriage returns is an example. Returns false when a JSON array does not parse, because the
 * trainer rejects that file. The count is exact only for a file the trainer accepts. Any thread. */
bool jobs_examples_count(size_t *out, const char *text, size_t len);

/** Returns the optimizer steps of an epochs-based run over n_examples, as `atelier train`
 * plans them: ceil(epochs * ceil(n_examples / batch) / grad_accum), at least 1. */
int64_t jobs_epoch_steps(const struct jobs_train_params *p, size_t n_examples);

#endif
