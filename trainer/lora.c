/* lora: allocation and PEFT-default initialisation of LoRA matrices for every targeted
 * linear layer of a model config. */
#include "lora.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static const char *const lora_names[LORA_NUM_TARGETS] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
};

const char *lora_target_name(enum lora_target t)
{
    return (unsigned)t < LORA_NUM_TARGETS ? lora_names[t] : "?";
}

bool lora_target_parse(const char *name, enum lora_target *out)
{
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (strcmp(name, lora_names[t]) == 0) {
            *out = (enum lora_target)t;
            return true;
        }
    }
    return false;
}

/* Input and output features of target t in cfg. */
static void lora_shape(const struct model_config *cfg, enum lora_target t, int *in, int *out)
{
    int H = cfg->hidden_size, I = cfg->intermediate_size;
    int qd = cfg->num_attention_heads * cfg->head_dim;
    int kvd = cfg->num_key_value_heads * cfg->head_dim;

    switch (t) {
    case LORA_Q_PROJ: *in = H; *out = qd; break;
    case LORA_K_PROJ:
    case LORA_V_PROJ: *in = H; *out = kvd; break;
    case LORA_O_PROJ: *in = qd; *out = H; break;
    case LORA_GATE_PROJ:
    case LORA_UP_PROJ: *in = H; *out = I; break;
    default: *in = I; *out = H; break;
    }
}

void lora_set_free(struct lora_set *lora)
{
    if (lora == NULL)
        return;
    for (int i = 0; lora->m != NULL && i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        free(lora->m[i].A);
        free(lora->m[i].B);
        free(lora->m[i].dA);
        free(lora->m[i].dB);
    }
    free(lora->m);
    free(lora);
}

struct lora_set *lora_set_new(const struct model_config *cfg, int rank, float alpha,
                              bool rslora, float dropout, unsigned target_mask,
                              bool with_grads, struct tr_error *err)
{
    struct lora_set *lora = NULL;

    if (rank < 1 || rank > 4096) {
        tr_error_set(err, "LoRA rank %d is out of range; use a rank in [1, 4096]", rank);
        return NULL;
    }
    if (!(dropout >= 0.0f && dropout < 1.0f)) {
        tr_error_set(err, "LoRA dropout %g is out of range; use a value in [0, 1)",
                     (double)dropout);
        return NULL;
    }
    if (target_mask == 0 || target_mask >= (1u << LORA_NUM_TARGETS)) {
        tr_error_set(err, "LoRA target mask 0x%x selects no valid module; set bits 0-6 for "
                     "q_proj ... down_proj", target_mask);
        return NULL;
    }
    if (!isfinite(alpha)) {
        tr_error_set(err, "LoRA alpha must be a finite number");
        return NULL;
    }
    lora = calloc(1, sizeof(*lora));
    if (lora == NULL)
        goto oom;
    lora->rank = rank;
    lora->alpha = alpha;
    lora->rslora = rslora;
    lora->scale = rslora ? alpha / sqrtf((float)rank) : alpha / (float)rank;
    lora->dropout = dropout;
    lora->target_mask = target_mask;
    lora->num_layers = cfg->num_hidden_layers;
    lora->m = calloc((size_t)lora->num_layers * LORA_NUM_TARGETS, sizeof(*lora->m));
    if (lora->m == NULL)
        goto oom;
    for (int l = 0; l < lora->num_layers; l++) {
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            struct lora_matrix *mx = &lora->m[l * LORA_NUM_TARGETS + t];

            lora_shape(cfg, (enum lora_target)t, &mx->in, &mx->out);
            if (!(target_mask & (1u << t)))
                continue;
            mx->A = calloc((size_t)rank * (size_t)mx->in, sizeof(float));
            mx->B = calloc((size_t)mx->out * (size_t)rank, sizeof(float));
            if (mx->A == NULL || mx->B == NULL)
                goto oom;
            if (with_grads) {
                mx->dA = calloc((size_t)rank * (size_t)mx->in, sizeof(float));
                mx->dB = calloc((size_t)mx->out * (size_t)rank, sizeof(float));
                if (mx->dA == NULL || mx->dB == NULL)
                    goto oom;
            }
        }
    }
    return lora;
oom:
    tr_error_set(err, "out of memory allocating LoRA rank %d", rank);
    lora_set_free(lora);
    return NULL;
}

void lora_set_init(struct lora_set *lora, uint64_t seed)
{
    struct rng r;

    rng_seed(&r, seed);
    for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        struct lora_matrix *mx = &lora->m[i];
        float bound;

        if (mx->A == NULL)
            continue;
        /* kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)). */
        bound = 1.0f / sqrtf((float)mx->in);
        for (size_t j = 0; j < (size_t)lora->rank * (size_t)mx->in; j++)
            mx->A[j] = (2.0f * rng_uniform(&r) - 1.0f) * bound;
        memset(mx->B, 0, (size_t)mx->out * (size_t)lora->rank * sizeof(float));
    }
}

void lora_set_zero_grads(struct lora_set *lora)
{
    for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        struct lora_matrix *mx = &lora->m[i];

        if (mx->dA != NULL)
            memset(mx->dA, 0, (size_t)lora->rank * (size_t)mx->in * sizeof(float));
        if (mx->dB != NULL)
            memset(mx->dB, 0, (size_t)mx->out * (size_t)lora->rank * sizeof(float));
    }
}

struct lora_matrix *lora_set_get(const struct lora_set *lora, int layer, enum lora_target t)
{
    struct lora_matrix *mx;

    if (lora == NULL || layer < 0 || layer >= lora->num_layers || (unsigned)t >= LORA_NUM_TARGETS)
        return NULL;
    mx = &lora->m[layer * LORA_NUM_TARGETS + t];
    return mx->A != NULL ? mx : NULL;
}

size_t lora_set_num_params(const struct lora_set *lora)
{
    size_t n = 0;

    for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        if (lora->m[i].A != NULL)
            n += (size_t)lora->rank * (size_t)(lora->m[i].in + lora->m[i].out);
    }
    return n;
}
