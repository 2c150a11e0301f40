/* model_forward: the batched forward and backward passes of a model context. A training
 * context keeps every layer's intermediates (normed inputs, q/k/v after RoPE, attention
 * output and log-sum-exp, MLP activations, LoRA hidden states) from the forward, so
 * model_backward runs no layer twice. Activation memory is therefore O(layers x tokens x
 * (hidden + intermediate)). The LoRA dropout inputs are not kept: their masks come from a
 * counter-based hash of (seed, forward call, layer, target, element), so the backward
 * rebuilds the same masks. The cross-entropy gradient with respect to the final hidden
 * state is computed during the forward, chunk by chunk, so the (tokens x vocab) logits are
 * never stored in a training context. */
#include "model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "lora.h"
#include "model_impl.h"
#include "ops.h"

/* Rows of logits computed at once in a training context (chunk x vocab floats). */
#define MODEL_LOGIT_CHUNK_FLOATS (8u << 20)

/* Per-layer intermediates of a forward: 13 named buffers plus one LoRA hidden state per
 * target. */
#define CTX_NUM_SAVED (13 + LORA_NUM_TARGETS)

struct model_ctx {
    const struct model *m;
    struct lora_set *lora;
    size_t B, T;
    bool training;
    size_t b, t;                 /* shape of the last forward */
    uint64_t seed, calls;
    bool have_grad;              /* the last forward computed dxnf */

    float *h;                    /* training: (L + 1) residuals; else one (N, H) buffer */
    /* Views of one layer's slice of the saved intermediates (see ctx_use_layer). */
    float *xn1, *rstd1, *q, *k, *v, *att, *lse, *hmid, *xn2, *rstd2, *g, *u, *act;
    float *lora_h[LORA_NUM_TARGETS]; /* (N, r) each */
    /* Storage behind those views, in ctx_saved_views order: L slices of saved_len[i] floats
     * each in a training context, one slice otherwise. NULL where a LoRA target is absent. */
    float *saved[CTX_NUM_SAVED];
    size_t saved_len[CTX_NUM_SAVED];
    float *tmp;
    float *drop;                 /* (N, max in) dropout input of a LoRA branch */
    float *xnf, *rstdf;          /* final norm */
    float *logits;               /* inference: (N, V); training: one chunk */
    float *dxnf;                 /* training: d loss / d xnf, unscaled */
    float *dh, *dx, *dq, *dk, *dv, *datt, *dI, *ddrop, *dlora; /* backward scratch */
    float *inv_freq, *cos_t, *sin_t;
    size_t rope_len;             /* sequence length the rope tables were built for */
};

/* Rows of logits per chunk: all N rows for inference, else as many as fit in
 * MODEL_LOGIT_CHUNK_FLOATS (at least one). */
static size_t ctx_logit_chunk(bool training, size_t N, size_t V)
{
    size_t chunk = N;

    if (training)
        chunk = MODEL_LOGIT_CHUNK_FLOATS / V;
    if (chunk == 0)
        chunk = 1;
    return chunk < N ? chunk : N;
}

static float *ctx_alloc(size_t n, bool *ok)
{
    float *p = calloc(n > 0 ? n : 1, sizeof(float));

    if (p == NULL)
        *ok = false;
    return p;
}

/* Fills views with the addresses of the per-layer view pointers, in the order of
 * c->saved. */
static void ctx_saved_views(struct model_ctx *c, float **views[CTX_NUM_SAVED])
{
    float **named[] = {&c->xn1, &c->rstd1, &c->q, &c->k, &c->v, &c->att, &c->lse, &c->hmid,
                       &c->xn2, &c->rstd2, &c->g, &c->u, &c->act};

    _Static_assert(sizeof(named) / sizeof(named[0]) + LORA_NUM_TARGETS == CTX_NUM_SAVED,
                   "CTX_NUM_SAVED must count every saved buffer");
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        views[i] = named[i];
    for (int t = 0; t < LORA_NUM_TARGETS; t++)
        views[sizeof(named) / sizeof(named[0]) + (size_t)t] = &c->lora_h[t];
}

/* Points the per-layer views at layer l's slice of the saved intermediates (slice 0 in an
 * inference context, which keeps one layer at a time). */
static void ctx_use_layer(struct model_ctx *c, int l)
{
    float **views[CTX_NUM_SAVED];
    size_t slice = c->training ? (size_t)l : 0;

    ctx_saved_views(c, views);
    for (int i = 0; i < CTX_NUM_SAVED; i++)
        *views[i] = c->saved[i] != NULL ? c->saved[i] + slice * c->saved_len[i] : NULL;
}

void model_ctx_free(struct model_ctx *c)
{
    if (c == NULL)
        return;

    float **bufs[] = {&c->h, &c->tmp, &c->drop, &c->xnf, &c->rstdf, &c->logits, &c->dxnf,
                      &c->dh, &c->dx, &c->dq, &c->dk, &c->dv, &c->datt, &c->dI, &c->ddrop,
                      &c->dlora, &c->inv_freq, &c->cos_t, &c->sin_t};

    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        free(*bufs[i]);
    for (int i = 0; i < CTX_NUM_SAVED; i++)
        free(c->saved[i]);
    free(c);
}

struct model_ctx *model_ctx_new(const struct model *m, struct lora_set *lora, size_t B,
                                size_t T, bool training, struct tr_error *err)
{
    const struct model_config *cfg = &m->cfg;
    size_t H = (size_t)cfg->hidden_size, inter = (size_t)cfg->intermediate_size;
    size_t V = (size_t)cfg->vocab_size, L = (size_t)cfg->num_hidden_layers;
    size_t qd = (size_t)cfg->num_attention_heads * (size_t)cfg->head_dim;
    size_t kvd = (size_t)cfg->num_key_value_heads * (size_t)cfg->head_dim;
    size_t half = (size_t)cfg->head_dim / 2, N, max_in, chunk;
    size_t nh = (size_t)cfg->num_attention_heads, rank = lora != NULL ? (size_t)lora->rank : 0;
    size_t layer_floats, slices = training ? L : 1;
    struct model_ctx *c;
    bool ok = true;

    if (B == 0 || T == 0 || T > model_max_positions(cfg) || B > (1u << 20)
        || __builtin_mul_overflow(B, T, &N)) {
        tr_error_set(err, "a context of %zu sequences of %zu tokens is invalid; T must be in "
                     "[1, %zu] (max_position_embeddings)", B, T, model_max_positions(cfg));
        return NULL;
    }
    if (lora != NULL && lora->num_layers != cfg->num_hidden_layers) {
        tr_error_set(err, "the LoRA set has %d layers but the model has %d", lora->num_layers,
                     cfg->num_hidden_layers);
        return NULL;
    }
    if (training && lora == NULL) {
        tr_error_set(err, "a training context needs a LoRA set (the base weights are frozen)");
        return NULL;
    }
    for (int i = 0; training && i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        if (lora->m[i].A != NULL && (lora->m[i].dA == NULL || lora->m[i].dB == NULL)) {
            tr_error_set(err, "a training context needs a LoRA set with gradient buffers; "
                         "create it with with_grads = true");
            return NULL;
        }
    }
    {
        size_t widest = H > inter ? H : inter, total;

        widest = widest > qd ? widest : qd;
        /* Floats per token of one layer's saved intermediates (a bound: every target). */
        layer_floats = 3 * H + 2 * qd + 2 * kvd + 3 * inter + nh + 2 + LORA_NUM_TARGETS * rank;
        if (__builtin_mul_overflow(N, widest, &total) || __builtin_mul_overflow(total, L + 1, &total)
            || __builtin_mul_overflow(N, V, &total)
            || __builtin_mul_overflow(N, layer_floats, &total)
            || __builtin_mul_overflow(total, L, &total)
            || total > SIZE_MAX / sizeof(float)) {
            tr_error_set(err, "a context of %zu sequences of %zu tokens is too large to address; "
                         "lower the batch size or the sequence length", B, T);
            return NULL;
        }
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        tr_error_set(err, "out of memory allocating a model context");
        return NULL;
    }
    c->m = m;
    c->lora = lora;
    c->B = B;
    c->T = T;
    c->training = training;
    max_in = inter > qd ? inter : qd;
    max_in = max_in > H ? max_in : H;
    chunk = ctx_logit_chunk(training, N, V);
    c->h = ctx_alloc((training ? L + 1 : 1) * N * H, &ok);
    {
        /* Floats per token of each saved buffer, in ctx_saved_views order. */
        size_t widths[CTX_NUM_SAVED] = {H, 1, qd, kvd, kvd, qd, nh, H, H, 1, inter, inter, inter};

        for (int t = 0; lora != NULL && t < LORA_NUM_TARGETS; t++) {
            if (lora->target_mask & (1u << t))
                widths[CTX_NUM_SAVED - LORA_NUM_TARGETS + t] = rank;
        }
        for (int i = 0; i < CTX_NUM_SAVED; i++) {
            c->saved_len[i] = N * widths[i];
            if (widths[i] > 0)
                c->saved[i] = ctx_alloc(slices * c->saved_len[i], &ok);
        }
    }
    c->tmp = ctx_alloc(N * H, &ok);
    c->xnf = ctx_alloc(N * H, &ok);
    c->rstdf = ctx_alloc(N, &ok);
    c->logits = ctx_alloc(chunk * V, &ok);
    c->inv_freq = ctx_alloc(half, &ok);
    c->cos_t = ctx_alloc(T * half, &ok);
    c->sin_t = ctx_alloc(T * half, &ok);
    if (lora != NULL && training && lora->dropout > 0.0f)
        c->drop = ctx_alloc(N * max_in, &ok);
    if (training) {
        c->dxnf = ctx_alloc(N * H, &ok);
        c->dh = ctx_alloc(N * H, &ok);
        c->dx = ctx_alloc(N * H, &ok);
        c->dq = ctx_alloc(N * qd, &ok);
        c->dk = ctx_alloc(N * kvd, &ok);
        c->dv = ctx_alloc(N * kvd, &ok);
        c->datt = ctx_alloc(N * qd, &ok);
        c->dI = ctx_alloc(N * inter, &ok);
        c->dlora = ctx_alloc(N * (size_t)lora->rank, &ok);
        if (lora->dropout > 0.0f)
            c->ddrop = ctx_alloc(N * max_in, &ok);
    }
    if (!ok) {
        tr_error_set(err, "out of memory allocating a model context for %zu x %zu tokens; "
                     "lower the batch size or the sequence length", B, T);
        model_ctx_free(c);
        return NULL;
    }
    ctx_use_layer(c, 0);
    return c;
}

void model_ctx_set_seed(struct model_ctx *c, uint64_t seed)
{
    c->seed = seed;
    c->calls = 0;
}

const float *model_ctx_logits(const struct model_ctx *c)
{
    return c->training ? NULL : c->logits;
}

void model_set_threads(int n)
{
    if (n <= 0)
        return;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    ops_threads_init();
}

int model_thread_count(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static uint64_t ctx_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Writes dropout(x) into out (n x in) or, with grad, multiplies dxd by the same mask and
 * adds it into dx. The mask is a pure function of the key and the element index. */
static void ctx_dropout(const struct model_ctx *c, int layer, int target, float *out,
                        const float *x, float *dx, const float *dxd, size_t n, int in)
{
    float p = c->lora->dropout, keep_scale = 1.0f / (1.0f - p);
    uint64_t key = ctx_mix(c->seed ^ ctx_mix(c->calls * 0x9E3779B97F4A7C15ull
                                             + (uint64_t)(layer * LORA_NUM_TARGETS + target)));

    size_t total = n * (size_t)in;
    /* An element is dropped when its 16-bit uniform is below p * 65536, so p is rounded to
     * a multiple of 1/65536. One hash yields the uniforms of four elements. */
    uint32_t cut = (uint32_t)(p * 65536.0f + 0.5f);

#pragma omp parallel for schedule(static) if (total >= 32768)
    for (size_t i4 = 0; i4 < (total + 3) / 4; i4++) {
        uint64_t bits = ctx_mix(key + i4 * 0x9E3779B97F4A7C15ull);

        for (size_t i = 4 * i4; i < 4 * i4 + 4 && i < total; i++) {
            float mask = (uint32_t)(bits & 0xffff) >= cut ? keep_scale : 0.0f;

            bits >>= 16;
            if (dx != NULL)
                dx[i] += dxd[i] * mask;
            else
                out[i] = x[i] * mask;
        }
    }
}

/* y = x W^T + bias, plus the LoRA branch of (layer, target) when it exists. */
static void ctx_proj(struct model_ctx *c, int layer, enum lora_target target, float *y,
                     const float *x, enum model_weight w, enum model_weight bias, size_t n,
                     int in, int out)
{
    const struct lora_matrix *lm = lora_set_get(c->lora, layer, target);
    const float *xd = x;

    ops_linear_forward(y, x, model_get_weight(c->m, layer, w),
                       model_get_weight(c->m, layer, bias), n, in, out);
    if (lm == NULL)
        return;
    if (c->training && c->lora->dropout > 0.0f) {
        ctx_dropout(c, layer, target, c->drop, x, NULL, NULL, n, in);
        xd = c->drop;
    }
    ops_lora_forward(y, c->lora_h[target], xd, lm->A, lm->B, c->lora->scale, n, in, out,
                     c->lora->rank);
}

/* Backward of ctx_proj given dy: dx (= beta * dx + dy W) and the LoRA gradients. */
static void ctx_proj_backward(struct model_ctx *c, int layer, enum lora_target target,
                              float *dx, const float *dy, const float *x, enum model_weight w,
                              size_t n, int in, int out, float beta)
{
    struct lora_matrix *lm = lora_set_get(c->lora, layer, target);
    const float *xd = x;
    bool dropout = c->lora->dropout > 0.0f;

    ops_linear_backward(dx, dy, model_get_weight(c->m, layer, w), n, in, out, beta);
    if (lm == NULL)
        return;
    if (dropout) {
        ctx_dropout(c, layer, target, c->drop, x, NULL, NULL, n, in);
        xd = c->drop;
        memset(c->ddrop, 0, n * (size_t)in * sizeof(float));
    }
    ops_lora_backward(dropout ? c->ddrop : dx, lm->dA, lm->dB, c->dlora, dy, xd,
                      c->lora_h[target], lm->A, lm->B, c->lora->scale, n, in, out,
                      c->lora->rank);
    if (dropout)
        ctx_dropout(c, layer, target, NULL, NULL, dx, c->ddrop, n, in);
}

/* Runs layer l on h_in (N, H) into h_out (may equal h_in), keeping the intermediates in
 * layer l's slice of the saved buffers. */
static int ctx_layer_forward(struct model_ctx *c, int l, const float *h_in, float *h_out)
{
    const struct model_config *cfg = &c->m->cfg;
    size_t N = c->b * c->t, H = (size_t)cfg->hidden_size, inter = (size_t)cfg->intermediate_size;
    int nh = cfg->num_attention_heads, nkv = cfg->num_key_value_heads, hd = cfg->head_dim;
    int qd = nh * hd, kvd = nkv * hd, Hi = (int)H, Ii = (int)inter;
    int window = model_config_layer_has_window(cfg, l) ? cfg->sliding_window : 0;

    ctx_use_layer(c, l);
    ops_rmsnorm_forward(c->xn1, c->rstd1, h_in, model_get_weight(c->m, l, MODEL_W_ATTN_NORM),
                        N, Hi, cfg->rms_norm_eps);
    ctx_proj(c, l, LORA_Q_PROJ, c->q, c->xn1, MODEL_W_Q, MODEL_W_Q_BIAS, N, Hi, qd);
    ctx_proj(c, l, LORA_K_PROJ, c->k, c->xn1, MODEL_W_K, MODEL_W_K_BIAS, N, Hi, kvd);
    ctx_proj(c, l, LORA_V_PROJ, c->v, c->xn1, MODEL_W_V, MODEL_W_V_BIAS, N, Hi, kvd);
    ops_rope(c->q, c->b, c->t, nh, hd, c->cos_t, c->sin_t, 0);
    ops_rope(c->k, c->b, c->t, nkv, hd, c->cos_t, c->sin_t, 0);
    if (ops_attention_forward(c->att, c->lse, c->q, c->k, c->v, c->b, c->t, nh, nkv, hd,
                              window) < 0)
        return -1;
    ctx_proj(c, l, LORA_O_PROJ, c->tmp, c->att, MODEL_W_O, MODEL_W_O_BIAS, N, qd, Hi);
    memcpy(c->hmid, h_in, N * H * sizeof(float));
    ops_add(c->hmid, c->tmp, N * H);
    ops_rmsnorm_forward(c->xn2, c->rstd2, c->hmid, model_get_weight(c->m, l, MODEL_W_MLP_NORM),
                        N, Hi, cfg->rms_norm_eps);
    ctx_proj(c, l, LORA_GATE_PROJ, c->g, c->xn2, MODEL_W_GATE, MODEL_W_GATE_BIAS, N, Hi, Ii);
    ctx_proj(c, l, LORA_UP_PROJ, c->u, c->xn2, MODEL_W_UP, MODEL_W_UP_BIAS, N, Hi, Ii);
    ops_swiglu_forward(c->act, c->g, c->u, N * inter);
    ctx_proj(c, l, LORA_DOWN_PROJ, c->tmp, c->act, MODEL_W_DOWN, MODEL_W_DOWN_BIAS, N, Ii, Hi);
    if (h_out != c->hmid)
        memcpy(h_out, c->hmid, N * H * sizeof(float));
    ops_add(h_out, c->tmp, N * H);
    return 0;
}

/* Turns dh = d loss / d h_out of layer l into d loss / d h_in, in place, accumulating the
 * LoRA gradients. It reads layer l's saved intermediates and overwrites its g and u with
 * their gradients, so model_backward clears have_grad to allow one backward per forward. */
static int ctx_layer_backward(struct model_ctx *c, int l, const float *h_in)
{
    const struct model_config *cfg = &c->m->cfg;
    size_t N = c->b * c->t, inter = (size_t)cfg->intermediate_size;
    int nh = cfg->num_attention_heads, nkv = cfg->num_key_value_heads, hd = cfg->head_dim;
    int qd = nh * hd, kvd = nkv * hd, H = cfg->hidden_size, Ii = (int)inter;
    int window = model_config_layer_has_window(cfg, l) ? cfg->sliding_window : 0;

    ctx_use_layer(c, l);
    /* MLP: h_out = hmid + down(act), act = silu(g) * u, g/u = proj(xn2). */
    ctx_proj_backward(c, l, LORA_DOWN_PROJ, c->dI, c->dh, c->act, MODEL_W_DOWN, N, Ii, H, 0.0f);
    ops_swiglu_backward(c->g, c->u, c->dI, c->g, c->u, N * inter);
    ctx_proj_backward(c, l, LORA_GATE_PROJ, c->dx, c->g, c->xn2, MODEL_W_GATE, N, H, Ii, 0.0f);
    ctx_proj_backward(c, l, LORA_UP_PROJ, c->dx, c->u, c->xn2, MODEL_W_UP, N, H, Ii, 1.0f);
    ops_rmsnorm_backward(c->dh, c->dx, c->hmid, c->rstd2,
                         model_get_weight(c->m, l, MODEL_W_MLP_NORM), N, H);
    /* Attention: hmid = h_in + o_proj(att). */
    ctx_proj_backward(c, l, LORA_O_PROJ, c->datt, c->dh, c->att, MODEL_W_O, N, qd, H, 0.0f);
    if (ops_attention_backward(c->dq, c->dk, c->dv, c->datt, c->att, c->q, c->k, c->v, c->lse,
                               c->b, c->t, nh, nkv, hd, window) < 0)
        return -1;
    ops_rope(c->dq, c->b, c->t, nh, hd, c->cos_t, c->sin_t, 1);
    ops_rope(c->dk, c->b, c->t, nkv, hd, c->cos_t, c->sin_t, 1);
    ctx_proj_backward(c, l, LORA_Q_PROJ, c->dx, c->dq, c->xn1, MODEL_W_Q, N, H, qd, 0.0f);
    ctx_proj_backward(c, l, LORA_K_PROJ, c->dx, c->dk, c->xn1, MODEL_W_K, N, H, kvd, 1.0f);
    ctx_proj_backward(c, l, LORA_V_PROJ, c->dx, c->dv, c->xn1, MODEL_W_V, N, H, kvd, 1.0f);
    ops_rmsnorm_backward(c->dh, c->dx, h_in, c->rstd1,
                         model_get_weight(c->m, l, MODEL_W_ATTN_NORM), N, H);
    return 0;
}

static int ctx_check_inputs(const struct model_ctx *c, const int32_t *tokens,
                            const int32_t *targets, size_t b, size_t t, size_t *n_targets,
                            struct tr_error *err)
{
    int V = c->m->cfg.vocab_size;

    if (b == 0 || t == 0 || b > c->B || t > c->T)
        return tr_error_set(err, "a batch of %zu x %zu tokens does not fit the context of "
                            "%zu x %zu", b, t, c->B, c->T);
    *n_targets = 0;
    for (size_t i = 0; i < b * t; i++) {
        if (tokens[i] < 0 || tokens[i] >= V)
            return tr_error_set(err, "token id %d at sequence %zu position %zu is outside the "
                                "vocabulary [0, %d)", tokens[i], i / t, i % t, V);
        if (targets == NULL || targets[i] == -100)
            continue;
        if (targets[i] < 0 || targets[i] >= V)
            return tr_error_set(err, "target id %d at sequence %zu position %zu is outside "
                                "the vocabulary [0, %d) and is not -100", targets[i], i / t,
                                i % t, V);
        (*n_targets)++;
    }
    return 0;
}

static void ctx_rope_tables(struct model_ctx *c, size_t t)
{
    const struct model_config *cfg = &c->m->cfg;

    if (c->rope_len == t)
        return;
    model_rope_inv_freq(c->inv_freq, cfg, t);
    ops_rope_table(c->cos_t, c->sin_t, c->inv_freq, 0, t, cfg->head_dim);
    c->rope_len = t;
}

/* Final norm, logits and loss. In a training context with targets, also dxnf. */
static double ctx_head(struct model_ctx *c, const float *h_last, const int32_t *targets,
                       size_t n_targets)
{
    const struct model_config *cfg = &c->m->cfg;
    size_t N = c->b * c->t, H = (size_t)cfg->hidden_size, V = (size_t)cfg->vocab_size;
    size_t chunk = ctx_logit_chunk(c->training, N, V);
    float gscale = n_targets > 0 ? 1.0f / (float)n_targets : 0.0f;
    double total = 0.0;

    ops_rmsnorm_forward(c->xnf, c->rstdf, h_last, c->m->final_norm, N, (int)H, cfg->rms_norm_eps);
    for (size_t r0 = 0; r0 < N; r0 += chunk) {
        size_t n = N - r0 < chunk ? N - r0 : chunk;
        bool grad = c->training && targets != NULL;

        ops_linear_forward(c->logits, c->xnf + r0 * H, c->m->lm_head, NULL, n, (int)H, (int)V);
        if (targets != NULL)
            total += ops_cross_entropy(grad ? c->logits : NULL, c->logits, targets + r0, n,
                                       (int)V, gscale);
        if (grad)
            ops_linear_backward(c->dxnf + r0 * H, c->logits, c->m->lm_head, n, (int)H, (int)V,
                                0.0f);
    }
    return total;
}

int model_forward(struct model_ctx *c, const int32_t *tokens, const int32_t *targets,
                  size_t b, size_t t, float *loss, size_t *n_targets, struct tr_error *err)
{
    const struct model_config *cfg = &c->m->cfg;
    size_t N, H = (size_t)cfg->hidden_size, L = (size_t)cfg->num_hidden_layers, nt = 0;
    double total;

    c->have_grad = false;
    if (ctx_check_inputs(c, tokens, targets, b, t, &nt, err) < 0)
        return -1;
    c->b = b;
    c->t = t;
    c->calls++;
    N = b * t;
    ctx_rope_tables(c, t);
    ops_embedding_forward(c->h, tokens, c->m->embed, N, (int)H);
    for (size_t l = 0; l < L; l++) {
        float *in = c->training ? c->h + l * N * H : c->h;
        float *out = c->training ? c->h + (l + 1) * N * H : c->h;

        if (ctx_layer_forward(c, (int)l, in, out) < 0)
            return tr_error_set(err, "out of memory in attention for %zu tokens", t);
    }
    total = ctx_head(c, c->training ? c->h + L * N * H : c->h, targets, nt);
    if (!isfinite(total))
        return tr_error_set(err, "the loss is not finite (%g); the weights or inputs contain "
                            "NaN or overflow", total);
    if (loss != NULL)
        *loss = nt > 0 ? (float)(total / (double)nt) : 0.0f;
    if (n_targets != NULL)
        *n_targets = nt;
    c->have_grad = c->training && targets != NULL;
    return 0;
}

int model_backward(struct model_ctx *c, float loss_scale, struct tr_error *err)
{
    const struct model_config *cfg = &c->m->cfg;
    size_t N = c->b * c->t, H = (size_t)cfg->hidden_size;
    int L = cfg->num_hidden_layers;

    if (!c->training)
        return tr_error_set(err, "model_backward needs a training context");
    if (!c->have_grad)
        return tr_error_set(err, "model_backward needs a successful model_forward with "
                            "targets first");
    for (size_t i = 0; i < N * H; i++)
        c->dx[i] = c->dxnf[i] * loss_scale;
    memset(c->dh, 0, N * H * sizeof(float));
    ops_rmsnorm_backward(c->dh, c->dx, c->h + (size_t)L * N * H, c->rstdf, c->m->final_norm, N,
                         (int)H);
    for (int l = L - 1; l >= 0; l--) {
        const float *h_in = c->h + (size_t)l * N * H;

        if (ctx_layer_backward(c, l, h_in) < 0)
            return tr_error_set(err, "out of memory in attention for %zu tokens", c->t);
    }
    c->have_grad = false;
    return 0;
}
