/* generate: KV-cached incremental decoding with the semantics of Hugging Face's generate:
 * repetition penalty, then temperature, top-k and top-p on the logits of the last token,
 * greedy when temperature is 0. */
#ifndef TR_GENERATE_H
#define TR_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "lora.h"
#include "model.h"
#include "tr_error.h"

struct gen_params {
    int max_new_tokens;
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 = off */
    float repetition_penalty; /* 1 = off */
    uint64_t seed;
};

/** Returns the defaults: 32 new tokens, greedy, top_k 0, top_p 1, penalty 1, seed 0. */
struct gen_params gen_params_default(void);

/* Called once per new token; a nonzero return stops generation early (not an error). */
typedef int (*gen_token_fn)(int32_t id, void *arg);

/** Appends up to max_new_tokens ids after prompt. Generation stops after eos_id or any id
 * of the config's eos_token_id list, and that id is included; eos_id -1 disables both. on_token (may be NULL) is called per new token. *out_ids (malloc'd,
 * the caller frees it) contains the prompt followed by the new tokens, *n_out in all. The
 * prompt plus new tokens is capped at max_position_embeddings. */
int generate(const struct model *m, const struct lora_set *lora, const int32_t *prompt,
             size_t n_prompt, const struct gen_params *p, int32_t eos_id,
             int (*on_token)(int32_t id, void *arg), void *arg,
             int32_t **out_ids, size_t *n_out, struct tr_error *err);

#endif
