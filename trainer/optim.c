/* optim: AdamW, the warmup + cosine schedule and global-norm clipping over a list of flat
 * float tensors. Every reduction runs in double in a fixed order, so results do not depend
 * on the thread count. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>

int adamw_new(struct adamw **out, size_t n_params, struct tr_error *err)
{
    struct adamw *opt = NULL;
    size_t n = n_params > 0 ? n_params : 1;

    *out = NULL;
    opt = calloc(1, sizeof(*opt));
    if (opt == NULL)
        return tr_error_set(err, "cannot allocate the AdamW state");
    opt->m = calloc(n, sizeof(float));
    opt->v = calloc(n, sizeof(float));
    if (opt->m == NULL || opt->v == NULL) {
        adamw_free(opt);
        return tr_error_set(err, "cannot allocate AdamW moments for %zu parameters", n_params);
    }
    opt->n_params = n_params;
    *out = opt;
    return 0;
}

void adamw_free(struct adamw *opt)
{
    if (opt == NULL)
        return;
    free(opt->m);
    free(opt->v);
    free(opt);
}

void adamw_step(struct adamw *opt, const struct optim_tensor *tensors, size_t n_tensors, float lr,
                const struct adamw_hparams *hp)
{
    double t = (double)(opt->step + 1);
    float correction1 = (float)(1.0 - pow(hp->beta1, t));
    float correction2 = (float)(1.0 - pow(hp->beta2, t));
    size_t offset = 0;

    for (size_t k = 0; k < n_tensors; k++) {
        float *p = tensors[k].param;
        const float *g = tensors[k].grad;
        float *m = opt->m + offset;
        float *v = opt->v + offset;
        long n = (long)tensors[k].n;

#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float mi = hp->beta1 * m[i] + (1.0f - hp->beta1) * g[i];
            float vi = hp->beta2 * v[i] + (1.0f - hp->beta2) * g[i] * g[i];
            float m_hat = mi / correction1;
            float v_hat = vi / correction2;

            m[i] = mi;
            v[i] = vi;
            p[i] -= lr * (m_hat / (sqrtf(v_hat) + hp->eps) + hp->weight_decay * p[i]);
        }
        offset += tensors[k].n;
    }
    opt->step++;
}

double optim_grad_norm(const struct optim_tensor *tensors, size_t n_tensors)
{
    double sum = 0.0;

    for (size_t k = 0; k < n_tensors; k++) {
        const float *g = tensors[k].grad;

        for (size_t i = 0; i < tensors[k].n; i++)
            sum += (double)g[i] * (double)g[i];
    }
    return sqrt(sum);
}

double optim_clip_grad_norm(const struct optim_tensor *tensors, size_t n_tensors, double max_norm)
{
    double norm = optim_grad_norm(tensors, n_tensors);
    double coef;

    if (max_norm <= 0.0 || !isfinite(norm))
        return norm;
    coef = max_norm / (norm + 1e-6);
    if (coef >= 1.0)
        return norm;
    for (size_t k = 0; k < n_tensors; k++) {
        float *g = tensors[k].grad;

        for (size_t i = 0; i < tensors[k].n; i++)
            g[i] = (float)((double)g[i] * coef);
    }
    return norm;
}

double optim_lr_cosine(uint64_t step, uint64_t total_steps, uint64_t warmup_steps, double base_lr)
{
    const double pi = 3.14159265358979323846;
    uint64_t decay_steps;
    double progress, factor;

    if (step < warmup_steps)
        return base_lr * (double)step / (double)warmup_steps;
    decay_steps = total_steps > warmup_steps ? total_steps - warmup_steps : 1;
    progress = (double)(step - warmup_steps) / (double)decay_steps;
    factor = 0.5 * (1.0 + cos(pi * progress));
    return base_lr * (factor > 0.0 ? factor : 0.0);
}
