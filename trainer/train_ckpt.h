/* train_ckpt: the training checkpoint file (ADAPTER_DIR/checkpoint/state.bin). It holds
 * everything --resume needs to continue bit-identically: the adapter parameters, both AdamW
 * moments, the optimizer step and the run's seed, from which the data order and the dropout
 * masks of every later step are derived.
 *
 * It also records the data and optimizer settings of the run, so --resume can reject a run
 * whose options would make it continue differently.
 *
 * Layout (little-endian): the 8-byte magic "ATLCKPT\0", a u32 format version, a u32 header
 * size in bytes, the fixed header fields below, then params, m and v as n_params float32
 * each, then a u64 FNV-1a hash of every byte before it. Version 1 lacked the fields from lr
 * on and version 2 lacked batch and grad_accum; both are rejected with a message to start
 * over. */
#ifndef TRAIN_CKPT_H
#define TRAIN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "optim.h"
#include "tr_error.h"

#define TRAIN_CKPT_MAGIC   "ATLCKPT"
#define TRAIN_CKPT_VERSION 3u
/* Refuse checkpoints with more adapter parameters than this (4 GiB of float32 each for
 * params, m and v), before allocating anything. */
#define TRAIN_CKPT_MAX_PARAMS (1ull << 30)

struct train_ckpt_header {
    uint64_t step;        /* completed optimizer steps */
    uint64_t total_steps; /* planned steps of the run */
    uint64_t seed;        /* the run's seed: data order and dropout masks derive from it */
    uint64_t tokens_seen; /* target tokens trained on so far */
    uint32_t rank;
    uint32_t target_mask; /* bit t set when lora target t is adapted */
    uint32_t num_layers;
    uint32_t use_rslora; /* 0 or 1 */
    float alpha;
    float dropout;
    uint64_t n_params; /* adapter parameters, in the order of the tensor list */
    double last_loss;  /* train loss of the last step before the checkpoint */
    double elapsed_s;  /* training seconds so far, for the final report */
    double lr;         /* peak learning rate */
    double clip;       /* max global gradient norm; 0 disables */
    double weight_decay;
    double eval_split; /* share of the data held out; 0 when none */
    uint64_t warmup;   /* warmup steps */
    uint32_t seq_len;
    uint32_t batch;       /* sequences per micro-batch */
    uint32_t grad_accum;  /* micro-batches per optimizer step */
    char data_sha256[65]; /* hex SHA-256 of the --data file */
    char eval_sha256[65]; /* hex SHA-256 of the --eval file; empty when there is none */
};

/** Writes the checkpoint to path atomically (a temporary file renamed over it). tensors
 * gives the parameters in a fixed order and opt their AdamW moments. */
int train_ckpt_write(const char *path, const struct train_ckpt_header *h,
                     const struct optim_tensor *tensors, size_t n_tensors, const struct adamw *opt,
                     struct tr_error *err);

/** Validates a checkpoint held in memory (magic, version, sizes, hash) and fills *h. On
 * success *payload points into buf at the 3 * n_params floats (params, m, v). name is used in
 * error messages. */
int train_ckpt_parse(struct train_ckpt_header *h, const float **payload, const uint8_t *buf,
                     size_t len, const char *name, struct tr_error *err);

/** Reads and validates the checkpoint at path into *h and copies the parameters into
 * tensors and the moments into opt; their total size must equal the header's n_params. */
int train_ckpt_read(struct train_ckpt_header *h, const char *path,
                    const struct optim_tensor *tensors, size_t n_tensors, struct adamw *opt,
                    struct tr_error *err);

/** Reads and validates the checkpoint at path into *h and *buf (malloc'd, the caller frees
 * it), so the caller can compare the header with its run before train_ckpt_restore. */
int train_ckpt_load(struct train_ckpt_header *h, uint8_t **buf, const char *path,
                    struct tr_error *err);

/** Copies the parameters and moments of a checkpoint loaded by train_ckpt_load into tensors
 * and opt; their total size must equal the header's n_params. */
int train_ckpt_restore(const struct train_ckpt_header *h, const uint8_t *buf, const char *path,
                       const struct optim_tensor *tensors, size_t n_tensors, struct adamw *opt,
                       struct tr_error *err);

#endif
