/* train: the LoRA fine-tuning loop behind `atelier train`. Loads the base model, tokenizer
 * and data, trains the adapter with AdamW under a warmup + cosine schedule and global-norm
 * clipping, writes progress as JSON lines, checkpoints for --resume, and at the end writes
 * ADAPTER_DIR with adapter_config.json, adapter_model.safetensors, README.md and
 * train_results.json.
 *
 * Determinism: every random choice (LoRA init, eval split, data order per epoch, dropout
 * masks per micro-batch) derives from the seed and the step number alone, so the same seed
 * and thread count give bit-identical adapters, and a resumed run continues exactly as the
 * uninterrupted one would have. */
#ifndef TRAIN_H
#define TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tr_error.h"

struct train_options {
    const char *base_dir;  /* model directory (config.json, tokenizer, safetensors) */
    const char *data_path; /* training JSONL or JSON array */
    const char *out_dir;   /* ADAPTER_DIR, created when missing */
    const char *eval_path; /* held-out data, or NULL */
    double eval_split;     /* share of data_path held out when eval_path is NULL; 0: none */
    unsigned target_mask;  /* bit t for lora target t */
    int rank;
    float alpha;
    float dropout;
    bool rslora;
    double lr;
    double epochs;   /* used when steps is 0 */
    uint64_t steps;  /* optimizer steps; 0: derive from epochs */
    int batch;       /* sequences per micro-batch */
    int grad_accum;  /* micro-batches per optimizer step */
    int seq_len;     /* tokens per sequence; longer examples are truncated */
    uint64_t warmup; /* warmup steps */
    double clip;     /* max global gradient norm; 0 disables */
    double weight_decay;
    uint64_t seed;
    int threads;               /* 0: OpenMP default */
    uint64_t checkpoint_every; /* steps between checkpoints; 0: only at the end */
    bool resume;
    FILE *progress;        /* JSON progress lines */
    FILE *log;             /* human-readable notes (seed, truncation, checkpoints) */
    const char *base_name; /* recorded in the card and adapter_config.json */
    const char *base_revision;
    const char *dataset_name;
    const char *dataset_revision;
    const char *repo_id; /* hub repo id the adapter is published as, or NULL */
    /* When not NULL and set nonzero (from a signal handler), training stops after the
     * current step, writes a checkpoint and returns an error that asks for --resume. */
    volatile sig_atomic_t *stop_requested;
};

/** Fills the defaults of every option (rank 8, alpha 16, q_proj+v_proj, lr 2e-4, ...). */
void train_options_default(struct train_options *o);

struct train_result {
    double train_loss; /* mean loss of the last step */
    bool has_eval;
    double eval_loss;
    double eval_perplexity;
    double base_eval_loss; /* eval loss of the base model without the adapter */
    uint64_t steps;
    uint64_t tokens; /* scored target tokens trained on */
    double seconds;
};

/* train_run's return value for an option that is invalid only in view of the data or the
 * file system: an --out folder it cannot write into, or a --warmup above the step count that
 * --epochs gives. The CLI reports it as a usage error. */
#define TRAIN_USAGE_ERROR (-2)

/** Runs the whole training described by o. Returns 0, -1 on failure, or TRAIN_USAGE_ERROR. */
int train_run(struct train_result *out, const struct train_options *o, struct tr_error *err);

#endif
