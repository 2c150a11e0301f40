/* model: config.json parsing, weight loading and validation, and the batched forward and
 * backward passes of Llama-family decoders (Llama 2/3, TinyLlama, SmolLM, Mistral, Qwen2)
 * with optional LoRA layers. Base weights are frozen: backward computes only LoRA
 * gradients. */
#ifndef TR_MODEL_H
#define TR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_error.h"

enum rope_scaling_type { ROPE_SCALING_NONE, ROPE_SCALING_LINEAR, ROPE_SCALING_DYNAMIC,
                         ROPE_SCALING_LLAMA3 };

#define MODEL_MAX_EOS_IDS 8

struct model_config {
    char model_type[32];   /* "llama", "mistral", "qwen2" */
    int vocab_size, hidden_size, intermediate_size, num_hidden_layers;
    int num_attention_heads, num_key_value_heads, head_dim, max_position_embeddings;
    float rms_norm_eps, rope_theta;
    /* rope_scaling (legacy layout) or rope_parameters (newer layout). */
    enum rope_scaling_type rope_scaling;
    float rope_factor;                  /* linear, dynamic, llama3 */
    float rope_low_freq_factor;         /* llama3 */
    float rope_high_freq_factor;        /* llama3 */
    int rope_original_max_position_embeddings; /* llama3 */
    bool tie_word_embeddings, attention_bias, mlp_bias;
    bool qkv_bias;                      /* bias on q/k/v only: Qwen2, or attention_bias */
    int bos_token_id, eos_token_id;     /* -1 when absent; eos_token_id is the first of a list */
    int eos_token_ids[MODEL_MAX_EOS_IDS]; /* every id of an eos_token_id list */
    int num_eos_token_ids;
    int sliding_window;                 /* 0 when none */
    int max_window_layers;              /* Qwen2: layers >= this use the window */
};

/** Parses the text of a config.json (len bytes) into out. Absent keys take the class
 * defaults of the model type, and label names the text in errors. */
int model_config_parse(struct model_config *out, const char *json_text, size_t len,
                       const char *label, struct tr_error *err);
/** Reads and parses the file at path. */
int model_config_load(struct model_config *out, const char *path, struct tr_error *err);
/** Returns true when layer uses the sliding window of cfg. */
bool model_config_layer_has_window(const struct model_config *cfg, int layer);

/* One tensor the config expects in the checkpoint, with its HF name and shape. */
struct model_tensor_spec {
    char name[96];
    int ndim;
    int64_t shape[2];
};
/** Lists the tensors a checkpoint of cfg must contain (lm_head only when untied).
 * *out is malloc'd; the caller frees it. */
int model_expected_tensors(const struct model_config *cfg, struct model_tensor_spec **out,
                           size_t *n_out, struct tr_error *err);

/* Config plus weights: F32 tensors used in place from the mmap, F16/BF16 converted once
 * at load. Read-only after model_open, so one model may serve several contexts and
 * threads. */
struct model;
/** Loads model_dir/config.json and model.safetensors (or model.safetensors.index.json with
 * its shards), checking every expected tensor's presence, shape and dtype. */
int model_open(struct model **out, const char *model_dir, struct tr_error *err);
void model_free(struct model *m);
const struct model_config *model_get_config(const struct model *m);

/* Borrowed F32 views of the weights, valid until model_free. layer-less tensors take
 * layer = -1. Returns NULL when the tensor does not exist (for example a bias the
 * config has none of). */
enum model_weight {
    MODEL_W_EMBED, MODEL_W_FINAL_NORM, MODEL_W_LM_HEAD,  /* layer -1 */
    MODEL_W_ATTN_NORM, MODEL_W_Q, MODEL_W_K, MODEL_W_V, MODEL_W_O,
    MODEL_W_MLP_NORM, MODEL_W_GATE, MODEL_W_UP, MODEL_W_DOWN,
    MODEL_W_Q_BIAS, MODEL_W_K_BIAS, MODEL_W_V_BIAS, MODEL_W_O_BIAS,
    MODEL_W_GATE_BIAS, MODEL_W_UP_BIAS, MODEL_W_DOWN_BIAS,
    MODEL_NUM_WEIGHTS
};
const float *model_get_weight(const struct model *m, int layer, enum model_weight w);

/** Builds a model with random weights from cfg, for tests and benchmarks: embeddings and
 * lm_head N(0, 1), projections N(0, 1/in_features), biases N(0, 1/features), norm weights
 * N(1, 0.01). */
int model_new_random(struct model **out, const struct model_config *cfg, uint64_t seed,
                     struct tr_error *err);

struct lora_set;
struct model_ctx;

/** Allocates activations and scratch for batches of up to B sequences of T tokens.
 * lora may be NULL; it is borrowed and must outlive the context. training keeps what
 * model_backward needs and enables LoRA dropout. */
struct model_ctx *model_ctx_new(const struct model *m, struct lora_set *lora, size_t B,
                                size_t T, bool training, struct tr_error *err);
void model_ctx_free(struct model_ctx *ctx);
/** Seeds the LoRA dropout RNG. */
void model_ctx_set_seed(struct model_ctx *ctx, uint64_t seed);

/** Runs the forward pass on tokens (b,t) laid out with row stride t. targets (b,t) are
 * next-token ids, already shifted, with -100 = ignored; targets may be NULL (no loss).
 * Returns in *loss the mean NLL over the non-ignored targets (0 when there are none) and
 * in *n_targets their count. b <= B, t <= T. Ids outside the vocabulary and t above
 * max_position_embeddings are errors. */
int model_forward(struct model_ctx *ctx, const int32_t *tokens, const int32_t *targets,
                  size_t b, size_t t, float *loss, size_t *n_targets, struct tr_error *err);
/** Runs the backward pass of the last model_forward of a training context and ACCUMULATES
 * into dA/dB of the lora set d(loss)/d(param) times loss_scale (pass 1/grad_accum). */
int model_backward(struct model_ctx *ctx, float loss_scale, struct tr_error *err);
/** Returns the logits (b,t,V) of the last forward, borrowed from ctx and valid until the
 * next forward. Returns NULL for a training context, which never stores all logits: it
 * turns them into the loss gradient chunk by chunk. */
const float *model_ctx_logits(const struct model_ctx *ctx);

/** Sets the thread count of every kernel, matrix products included (n <= 0 leaves the
 * OpenMP default). The products are split across OpenMP threads, and OpenBLAS itself is
 * kept to one thread because its spinning workers would compete with the OpenMP team. */
void model_set_threads(int n);

/** Returns the number of threads the kernels use: the count model_set_threads set, else the
 * OpenMP default (1 without OpenMP). */
int model_thread_count(void);

#endif
