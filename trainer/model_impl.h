/* model_impl: the layout of struct model, shared by model_load.c, model_forward.c and
 * generate.c. Not part of the public interface. */
#ifndef TR_MODEL_IMPL_H
#define TR_MODEL_IMPL_H

#include "model.h"
#include "st.h"

struct model {
    struct model_config cfg;
    struct st_file **shards;
    size_t n_shards;
    float **owned;          /* buffers converted from F16/BF16 or copied for alignment */
    size_t n_owned, cap_owned;
    const float *embed, *final_norm, *lm_head;
    const float **layer_w;  /* layer_w[l * MODEL_NUM_WEIGHTS + w], NULL when absent */
};

/* Maximum sequence length a forward or generate call accepts for cfg. */
size_t model_max_positions(const struct model_config *cfg);

/* Inverse RoPE frequencies (hd/2 floats) for a sequence of seq_len tokens, with the scaling
 * of cfg applied (dynamic scaling depends on seq_len). */
void model_rope_inv_freq(float *out, const struct model_config *cfg, size_t seq_len);

#endif
