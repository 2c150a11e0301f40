/* lora: LoRA layers in the layout PEFT uses. For a targeted linear y = x W^T the adapted
 * output is y + scale * (dropout(x) A^T) B^T, with A (r, in) and B (out, r). */
#ifndef TR_LORA_H
#define TR_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "tr_error.h"

/* LoRA targets, in PEFT module names. */
enum lora_target { LORA_Q_PROJ, LORA_K_PROJ, LORA_V_PROJ, LORA_O_PROJ, LORA_GATE_PROJ,
                   LORA_UP_PROJ, LORA_DOWN_PROJ, LORA_NUM_TARGETS };

/** Returns the PEFT module name of t: "q_proj" ... "down_proj". */
const char *lora_target_name(enum lora_target t);
/** Parses a PEFT module name; returns false when name is not one of the targets. */
bool lora_target_parse(const char *name, enum lora_target *out);

struct lora_matrix { float *A, *B, *dA, *dB; int in, out; }; /* A: (r, in), B: (out, r) */

struct lora_set {
    int rank; float alpha; float scale;   /* scale = alpha/r, or alpha/sqrt(r) with rslora */
    bool rslora; float dropout;
    unsigned target_mask;                 /* bit t set when target t is adapted */
    int num_layers;
    struct lora_matrix *m;                /* m[layer * LORA_NUM_TARGETS + t]; A==NULL if absent */
};

/** Allocates A/B (zeroed, and dA/dB when with_grads) for every targeted linear of every
 * layer, with the shapes of cfg. Returns NULL and fills err on failure. */
struct lora_set *lora_set_new(const struct model_config *cfg, int rank, float alpha,
                              bool rslora, float dropout, unsigned target_mask,
                              bool with_grads, struct tr_error *err);
/** PEFT default init: A kaiming-uniform (a=sqrt(5)), i.e. uniform in
 * [-1/sqrt(in), 1/sqrt(in)], and B zero, from our own seeded RNG. */
void lora_set_init(struct lora_set *lora, uint64_t seed);
void lora_set_zero_grads(struct lora_set *lora);
void lora_set_free(struct lora_set *lora);
/** Returns the matrix of (layer, t), or NULL when that linear is not adapted. */
struct lora_matrix *lora_set_get(const struct lora_set *lora, int layer, enum lora_target t);
/** Returns the number of trainable parameters (all A and B elements). */
size_t lora_set_num_params(const struct lora_set *lora);

#endif
