/* adapter: LoRA adapters in PEFT's on-disk format. ADAPTER_DIR/adapter_config.json contains
 * the LoraConfig fields and ADAPTER_DIR/adapter_model.safetensors the tensors, named
 * base_model.model.<module path>.lora_A.weight (r, in) and .lora_B.weight (out, r).
 * This module reads any PEFT LoRA adapter far enough to validate it (config fields, tensor
 * names, shapes, ranks), loads the ones that fit a Llama-family model into a lora_set, and
 * writes lora_sets back in the same format. */
#ifndef ADAPTER_H
#define ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lora.h"
#include "model.h"
#include "st.h"
#include "tr_error.h"

#define ADAPTER_CONFIG_FILE  "adapter_config.json"
#define ADAPTER_WEIGHTS_FILE "adapter_model.safetensors"
#define ADAPTER_LEGACY_FILE  "adapter_model.bin"
/* Largest adapter_config.json accepted; real ones are under 2 KiB. */
#define ADAPTER_MAX_CONFIG_BYTES (1u << 20)
/* Largest rank accepted from a file, before any allocation. */
#define ADAPTER_MAX_RANK 65536

/* The fields of PEFT's LoraConfig that decide how an adapter is applied. Unknown keys are
 * ignored, as PEFT does. Strings are malloc'd and freed by adapter_config_dispose. */
struct adapter_config {
    char *peft_type;  /* "LORA" for the adapters this module loads */
    char *task_type;  /* "CAUSAL_LM", "SEQ_CLS" ...; NULL when null */
    char *base_model; /* base_model_name_or_path; NULL when null */
    char *revision;   /* NULL when null */
    int r;
    double lora_alpha;
    double lora_dropout;
    bool use_rslora;
    bool use_dora;
    bool fan_in_fan_out;
    bool lora_bias;
    char *bias;              /* "none", "all" or "lora_only" */
    char *init_lora_weights; /* "true", "false", "gaussian", "pissa" ... */
    char **target_modules;   /* list form: module names or dotted suffixes */
    size_t n_target_modules;
    char *target_regex;       /* string form other than all-linear; NULL otherwise */
    bool target_all_linear;   /* "all-linear" */
    size_t n_rank_pattern;    /* entries of rank_pattern */
    size_t n_alpha_pattern;   /* entries of alpha_pattern */
    size_t n_modules_to_save; /* entries of modules_to_save */
    bool has_layers_to_transform;
};

/** Parses the text of an adapter_config.json (len bytes; label names it in errors). Fills
 * *out, which the caller releases with adapter_config_dispose (also after a failure). */
int adapter_config_parse(struct adapter_config *out, const char *json_text, size_t len,
                         const char *label, struct tr_error *err);
/** Reads and parses dir/adapter_config.json. */
int adapter_config_read(struct adapter_config *out, const char *dir, struct tr_error *err);
void adapter_config_dispose(struct adapter_config *c);

enum adapter_tensor_kind { ADAPTER_LORA_A, ADAPTER_LORA_B, ADAPTER_OTHER };

/* One tensor of adapter_model.safetensors, with its name split into the PEFT parts. */
struct adapter_tensor {
    char name[256];   /* the full safetensors name */
    char module[256]; /* module path, e.g. "model.layers.3.self_attn.q_proj" */
    char leaf[64];    /* last segment of module, e.g. "q_proj" or "c_attn" */
    int layer;        /* first numeric segment of module; -1 when none */
    enum adapter_tensor_kind kind;
    enum st_dtype dtype;
    int ndim;
    int64_t shape[2]; /* rows, cols for 2-D tensors */
};

/* An adapter directory as found on disk, validated but not tied to a model. */
struct adapter_info {
    struct adapter_config config;
    struct adapter_tensor *tensors; /* in file offset order */
    size_t n_tensors;
    size_t n_lora_pairs; /* modules with both lora_A and lora_B */
    size_t n_other;      /* tensors that are not lora_A/lora_B (modules_to_save ...) */
};

/** Reads dir/adapter_config.json and the header of dir/adapter_model.safetensors and
 * checks that every lora_A has a lora_B of the same module, both 2-D and floating point,
 * with A's rows equal to B's columns and to r (unless rank_pattern overrides it). A
 * directory with only the legacy adapter_model.bin is an error that explains how to convert
 * it. *out is freed with adapter_info_free. */
int adapter_inspect(struct adapter_info **out, const char *dir, struct tr_error *err);
void adapter_info_free(struct adapter_info *info);

/** Loads the adapter in dir for model m: checks the config (LORA, no DoRA, no lora_bias,
 * no per-module rank/alpha patterns, targets that m has), then each tensor's module, layer
 * and shape against m, naming the tensor that does not fit. F16 and BF16 tensors are
 * converted to F32. An adapter whose tensors stop before m's last layer loads, with an
 * "atelier: warning:" line on stderr. *out (without gradient buffers) is freed with
 * lora_set_free. */
int adapter_load(struct lora_set **out, const char *dir, const struct model *m,
                 struct tr_error *err);

/** Loads like adapter_load, but starts its warning line with command, such as
 * "atelier eval", in place of "atelier". */
int adapter_load_for_command(struct lora_set **out, const char *dir, const struct model *m,
                             const char *command, struct tr_error *err);

/* Metadata that adapter_save records besides the tensors. */
struct adapter_save_info {
    const char *base_model; /* base_model_name_or_path; NULL writes null */
    const char *revision;   /* base model revision; NULL writes null */
};

/** Writes dir/adapter_config.json and dir/adapter_model.safetensors (F32, PEFT names,
 * metadata format=pt) for lora. dir must exist. Each file is written through a temporary
 * file and renamed, so an existing adapter is replaced whole or not at all. */
int adapter_save(const char *dir, const struct lora_set *lora, const struct adapter_save_info *info,
                 struct tr_error *err);

/** Writes the safetensors name of (layer, target, is_b) into buf, e.g.
 * "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight". */
void adapter_tensor_name(char *buf, size_t size, int layer, enum lora_target t, bool is_b);

#endif
