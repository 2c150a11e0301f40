/* optim: the optimizer side of LoRA training. AdamW with decoupled weight decay and bias
 * correction (PyTorch torch.optim.AdamW semantics), the warmup + cosine learning-rate
 * schedule of Hugging Face's get_cosine_schedule_with_warmup, and clipping by global norm
 * (torch.nn.utils.clip_grad_norm_). Parameters are a list of flat float tensors, so the
 * module knows nothing of models or adapters. */
#ifndef OPTIM_H
#define OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "tr_error.h"

/* One trainable tensor: n floats of parameters and their gradient. */
struct optim_tensor {
    float *param;
    float *grad;
    size_t n;
};

struct adamw_hparams {
    float beta1;        /* 0.9 in PyTorch */
    float beta2;        /* 0.999 */
    float eps;          /* 1e-8, added after the square root */
    float weight_decay; /* decoupled: p -= lr * wd * p */
};

/* AdamW state: the first and second moments of every parameter, in the order of the tensor
 * list given to adamw_step, and the number of updates done. */
struct adamw {
    size_t n_params;
    float *m;
    float *v;
    uint64_t step; /* completed updates; bias correction uses step + 1 for the next one */
};

/** Allocates zeroed moments for n_params parameters. Free with adamw_free. */
int adamw_new(struct adamw **out, size_t n_params, struct tr_error *err);
void adamw_free(struct adamw *opt);

/** Applies one AdamW update with learning rate lr to every tensor, in list order. The total
 * size of the tensors must equal opt->n_params. Deterministic for a given thread count and
 * in fact independent of it (the update is element-wise). */
void adamw_step(struct adamw *opt, const struct optim_tensor *tensors, size_t n_tensors, float lr,
                const struct adamw_hparams *hp);

/** Returns the Euclidean norm of all gradients together, summed in double in list order. */
double optim_grad_norm(const struct optim_tensor *tensors, size_t n_tensors);

/** Scales all gradients by max_norm / (norm + 1e-6) when that factor is below 1, as
 * clip_grad_norm_ does. Returns the norm before clipping. max_norm <= 0 disables clipping. */
double optim_clip_grad_norm(const struct optim_tensor *tensors, size_t n_tensors, double max_norm);

/** Returns the learning rate before optimizer step `step` (0-based count of completed
 * steps): linear warmup from 0 over warmup_steps, then a half cosine from base_lr to 0 at
 * total_steps. */
double optim_lr_cosine(uint64_t step, uint64_t total_steps, uint64_t warmup_steps, double base_lr);

#endif
