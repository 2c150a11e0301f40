/* generate: decoding with a KV cache. The prompt goes through the model as one block of
 * rows (matrix products over all its tokens), then each new token is one row. The cache
 * stores keys after RoPE, as HF does. Sampling follows HF's generate: repetition penalty
 * on the raw logits, then temperature, top-k and top-p, then a draw from the softmax. */
#include "generate.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "ops.h"
#include "rng.h"

struct gen_state {
    const struct model *m;
    const struct lora_set *lora;
    size_t max_len, rows;         /* cache length; rows the buffers hold */
    float *kcache, *vcache;       /* (L, max_len, kvd) */
    float *x, *xn, *q, *k, *v, *att, *tmp, *g, *u, *act, *lora_h, *rstd;
    float *inv_freq, *cos_t, *sin_t, *logits;
};

struct gen_params gen_params_default(void)
{
    struct gen_params p = {.max_new_tokens = 32, .temperature = 0.0f, .top_k = 0,
                           .top_p = 1.0f, .repetition_penalty = 1.0f, .seed = 0};

    return p;
}

static void gen_state_free(struct gen_state *s)
{
    float *bufs[] = {s->kcache, s->vcache, s->x, s->xn, s->q, s->k, s->v, s->att, s->tmp,
                     s->g, s->u, s->act, s->lora_h, s->rstd, s->inv_freq, s->cos_t, s->sin_t,
                     s->logits};

    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        free(bufs[i]);
}

static int gen_state_init(struct gen_state *s, const struct model *m,
                          const struct lora_set *lora, size_t max_len, size_t rows,
                          struct tr_error *err)
{
    const struct model_config *c = &m->cfg;
    size_t H = (size_t)c->hidden_size, inter = (size_t)c->intermediate_size;
    size_t qd = (size_t)c->num_attention_heads * (size_t)c->head_dim;
    size_t kvd = (size_t)c->num_key_value_heads * (size_t)c->head_dim;
    size_t L = (size_t)c->num_hidden_layers, half = (size_t)c->head_dim / 2;
    size_t r = lora != NULL ? (size_t)lora->rank : 1;

    memset(s, 0, sizeof(*s));
    s->m = m;
    s->lora = lora;
    s->max_len = max_len;
    s->rows = rows;
    s->kcache = malloc(L * max_len * kvd * sizeof(float));
    s->vcache = malloc(L * max_len * kvd * sizeof(float));
    s->x = malloc(rows * H * sizeof(float));
    s->xn = malloc(rows * H * sizeof(float));
    s->q = malloc(rows * qd * sizeof(float));
    s->k = malloc(rows * kvd * sizeof(float));
    s->v = malloc(rows * kvd * sizeof(float));
    s->att = malloc(rows * qd * sizeof(float));
    s->tmp = malloc(rows * H * sizeof(float));
    s->g = malloc(rows * inter * sizeof(float));
    s->u = malloc(rows * inter * sizeof(float));
    s->act = malloc(rows * inter * sizeof(float));
    s->lora_h = malloc(rows * r * sizeof(float));
    s->rstd = malloc(rows * sizeof(float));
    s->inv_freq = malloc(half * sizeof(float));
    s->cos_t = malloc(rows * half * sizeof(float));
    s->sin_t = malloc(rows * half * sizeof(float));
    s->logits = malloc((size_t)c->vocab_size * sizeof(float));
    if (!s->kcache || !s->vcache || !s->x || !s->xn || !s->q || !s->k || !s->v || !s->att
        || !s->tmp || !s->g || !s->u || !s->act || !s->lora_h || !s->rstd || !s->inv_freq
        || !s->cos_t || !s->sin_t || !s->logits) {
        gen_state_free(s);
        return tr_error_set(err, "out of memory for a KV cache of %zu tokens", max_len);
    }
    return 0;
}

static void gen_proj(struct gen_state *s, int l, enum lora_target t, float *y, const float *x,
                     enum model_weight w, enum model_weight bias, size_t n, int in, int out)
{
    const struct lora_matrix *lm = lora_set_get(s->lora, l, t);

    ops_linear_forward(y, x, model_get_weight(s->m, l, w), model_get_weight(s->m, l, bias), n,
                       in, out);
    if (lm != NULL)
        ops_lora_forward(y, s->lora_h, x, lm->A, lm->B, s->lora->scale, n, in, out,
                         s->lora->rank);
}

/* Attention of n new rows at positions pos0.. against the cache of layer l. */
static void gen_attention(struct gen_state *s, int l, size_t n, size_t pos0)
{
    const struct model_config *c = &s->m->cfg;
    int nh = c->num_attention_heads, nkv = c->num_key_value_heads, hd = c->head_dim;
    int group = nh / nkv, window = model_config_layer_has_window(c, l) ? c->sliding_window : 0;
    size_t kvd = (size_t)nkv * (size_t)hd, qd = (size_t)nh * (size_t)hd;
    const float *K = s->kcache + (size_t)l * s->max_len * kvd;
    const float *V = s->vcache + (size_t)l * s->max_len * kvd;
    float scale = 1.0f / sqrtf((float)hd);

    /* Threads pay off only once the cached keys make up real work. */
#pragma omp parallel if (n * (pos0 + n) * (size_t)nh * (size_t)hd >= 32768)
    {
        float *sc = malloc((pos0 + n) * sizeof(float));

#pragma omp for collapse(2) schedule(static)
        for (size_t i = 0; i < n; i++) {
            for (int h = 0; h < nh; h++) {
                size_t p = pos0 + i, kvo = (size_t)(h / group) * (size_t)hd;
                size_t lo = (window > 0 && p + 1 > (size_t)window) ? p + 1 - (size_t)window : 0;
                const float *qi = s->q + i * qd + (size_t)h * (size_t)hd;
                float *oi = s->att + i * qd + (size_t)h * (size_t)hd;
                float mx = -INFINITY, sum = 0.0f;

                if (sc == NULL)
                    continue;
                for (size_t j = lo; j <= p; j++) {
                    float d = 0.0f;

                    for (int e = 0; e < hd; e++)
                        d += qi[e] * K[j * kvd + kvo + (size_t)e];
                    sc[j] = d * scale;
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (size_t j = lo; j <= p; j++) {
                    sc[j] = expf(sc[j] - mx);
                    sum += sc[j];
                }
                memset(oi, 0, (size_t)hd * sizeof(float));
                for (size_t j = lo; j <= p; j++) {
                    float w = sc[j] / sum;

                    for (int e = 0; e < hd; e++)
                        oi[e] += w * V[j * kvd + kvo + (size_t)e];
                }
            }
        }
        free(sc);
    }
}

/* Runs n tokens at positions pos0.. through the model, appending to the cache, and leaves
 * the logits of the last one in s->logits. */
static void gen_step(struct gen_state *s, const int32_t *tokens, size_t n, size_t pos0)
{
    const struct model_config *c = &s->m->cfg;
    int H = c->hidden_size, inter = c->intermediate_size, hd = c->head_dim;
    int nh = c->num_attention_heads, nkv = c->num_key_value_heads;
    int qd = nh * hd, kvd = nkv * hd;

    model_rope_inv_freq(s->inv_freq, c, pos0 + n);
    ops_rope_table(s->cos_t, s->sin_t, s->inv_freq, pos0, n, hd);
    ops_embedding_forward(s->x, tokens, s->m->embed, n, H);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        float *kc = s->kcache + ((size_t)l * s->max_len + pos0) * (size_t)kvd;
        float *vc = s->vcache + ((size_t)l * s->max_len + pos0) * (size_t)kvd;

        ops_rmsnorm_forward(s->xn, s->rstd, s->x, model_get_weight(s->m, l, MODEL_W_ATTN_NORM),
                            n, H, c->rms_norm_eps);
        gen_proj(s, l, LORA_Q_PROJ, s->q, s->xn, MODEL_W_Q, MODEL_W_Q_BIAS, n, H, qd);
        gen_proj(s, l, LORA_K_PROJ, kc, s->xn, MODEL_W_K, MODEL_W_K_BIAS, n, H, kvd);
        gen_proj(s, l, LORA_V_PROJ, vc, s->xn, MODEL_W_V, MODEL_W_V_BIAS, n, H, kvd);
        ops_rope(s->q, 1, n, nh, hd, s->cos_t, s->sin_t, 0);
        ops_rope(kc, 1, n, nkv, hd, s->cos_t, s->sin_t, 0);
        gen_attention(s, l, n, pos0);
        gen_proj(s, l, LORA_O_PROJ, s->tmp, s->att, MODEL_W_O, MODEL_W_O_BIAS, n, qd, H);
        ops_add(s->x, s->tmp, n * (size_t)H);
        ops_rmsnorm_forward(s->xn, s->rstd, s->x, model_get_weight(s->m, l, MODEL_W_MLP_NORM),
                            n, H, c->rms_norm_eps);
        gen_proj(s, l, LORA_GATE_PROJ, s->g, s->xn, MODEL_W_GATE, MODEL_W_GATE_BIAS, n, H, inter);
        gen_proj(s, l, LORA_UP_PROJ, s->u, s->xn, MODEL_W_UP, MODEL_W_UP_BIAS, n, H, inter);
        ops_swiglu_forward(s->act, s->g, s->u, n * (size_t)inter);
        gen_proj(s, l, LORA_DOWN_PROJ, s->tmp, s->act, MODEL_W_DOWN, MODEL_W_DOWN_BIAS, n, inter,
                 H);
        ops_add(s->x, s->tmp, n * (size_t)H);
    }
    ops_rmsnorm_forward(s->xn, s->rstd, s->x + (n - 1) * (size_t)H, s->m->final_norm, 1, H,
                        c->rms_norm_eps);
    ops_linear_forward(s->logits, s->xn, s->m->lm_head, NULL, 1, H, c->vocab_size);
}

static int gen_cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return (x < y) - (x > y);
}

/* Applies the logits processors of HF generate in its order and picks the next id. */
static int32_t gen_pick(float *scores, int V, const struct gen_params *p, const int32_t *ids,
                        size_t n_ids, uint8_t *seen, float *sorted, struct rng *r)
{
    int32_t best = 0;

    if (p->repetition_penalty != 1.0f) {
        memset(seen, 0, (size_t)V);
        for (size_t i = 0; i < n_ids; i++) {
            int32_t id = ids[i];

            if (seen[id])
                continue;
            seen[id] = 1;
            scores[id] = scores[id] < 0 ? scores[id] * p->repetition_penalty
                                        : scores[id] / p->repetition_penalty;
        }
    }
    if (p->temperature <= 0.0f) {
        for (int i = 1; i < V; i++) {
            if (scores[i] > scores[best])
                best = i;
        }
        return best;
    }
    for (int i = 0; i < V; i++)
        scores[i] /= p->temperature;
    if (p->top_k > 0 && p->top_k < V) {
        float kth;

        memcpy(sorted, scores, (size_t)V * sizeof(float));
        qsort(sorted, (size_t)V, sizeof(float), gen_cmp_desc);
        kth = sorted[p->top_k - 1];
        for (int i = 0; i < V; i++) {
            if (scores[i] < kth)
                scores[i] = -INFINITY;
        }
    }
    {
        float mx = -INFINITY;
        double sum = 0.0, u, acc = 0.0;

        for (int i = 0; i < V; i++)
            mx = scores[i] > mx ? scores[i] : mx;
        for (int i = 0; i < V; i++)
            sum += exp((double)(scores[i] - mx));
        if (p->top_p < 1.0f) {
            /* Remove the tokens whose ascending cumulative probability is <= 1 - top_p,
             * always keeping the most probable one. */
            double cut = 1.0 - (double)p->top_p, cum = 0.0, thresh = -INFINITY;

            for (int i = 0; i < V; i++)
                sorted[i] = scores[i];
            qsort(sorted, (size_t)V, sizeof(float), gen_cmp_desc);
            for (int i = V - 1; i >= 1; i--) {
                cum += exp((double)(sorted[i] - mx)) / sum;
                if (cum > cut)
                    break;
                thresh = sorted[i];
            }
            for (int i = 0; i < V; i++) {
                if (scores[i] <= thresh && scores[i] < sorted[0])
                    scores[i] = -INFINITY;
            }
            sum = 0.0;
            for (int i = 0; i < V; i++)
                sum += exp((double)(scores[i] - mx));
        }
        u = rng_uniform_double(r) * sum;
        best = -1;
        for (int i = 0; i < V; i++) {
            double e = exp((double)(scores[i] - mx));

            if (e == 0.0)
                continue;
            best = i;
            acc += e;
            if (acc > u)
                break;
        }
        return best;
    }
}

/* True when id ends generation: eos_id itself, or while eos_id is enabled, any id of the
 * config's eos_token_id list (Llama 3 chat models end turns with a second EOS id). */
static bool gen_is_eos(const struct model_config *c, int32_t eos_id, int32_t id)
{
    if (eos_id < 0)
        return false;
    if (id == eos_id)
        return true;
    for (int i = 0; i < c->num_eos_token_ids; i++) {
        if (id == c->eos_token_ids[i])
            return true;
    }
    return false;
}

static int gen_check(const struct model *m, const int32_t *prompt, size_t n_prompt,
                     const struct gen_params *p, struct tr_error *err)
{
    const struct model_config *c = &m->cfg;
    size_t max_pos = model_max_positions(c);

    if (n_prompt == 0)
        return tr_error_set(err, "the prompt is empty; generation needs at least one token");
    if (n_prompt > max_pos)
        return tr_error_set(err, "the prompt has %zu tokens but the model accepts at most %zu "
                            "(max_position_embeddings)", n_prompt, max_pos);
    for (size_t i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size)
            return tr_error_set(err, "prompt token id %d at position %zu is outside the "
                                "vocabulary [0, %d)", prompt[i], i, c->vocab_size);
    }
    if (p->max_new_tokens < 0)
        return tr_error_set(err, "max_new_tokens %d must not be negative", p->max_new_tokens);
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return tr_error_set(err, "temperature %g must be 0 (greedy) or positive",
                            (double)p->temperature);
    if (p->top_k < 0)
        return tr_error_set(err, "top_k %d must be 0 (off) or positive", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return tr_error_set(err, "top_p %g must be in (0, 1]", (double)p->top_p);
    if (!(p->repetition_penalty > 0.0f) || !isfinite(p->repetition_penalty))
        return tr_error_set(err, "repetition_penalty %g must be positive",
                            (double)p->repetition_penalty);
    return 0;
}

int generate(const struct model *m, const struct lora_set *lora, const int32_t *prompt,
             size_t n_prompt, const struct gen_params *p, int32_t eos_id,
             int (*on_token)(int32_t id, void *arg), void *arg,
             int32_t **out_ids, size_t *n_out, struct tr_error *err)
{
    const struct model_config *c = &m->cfg;
    size_t max_len, n;
    struct gen_state s;
    int32_t *ids = NULL;
    uint8_t *seen = NULL;
    float *sorted = NULL;
    struct rng r;
    int rc = -1;

    *out_ids = NULL;
    *n_out = 0;
    if (gen_check(m, prompt, n_prompt, p, err) < 0)
        return -1;
    if (lora != NULL && lora->num_layers != c->num_hidden_layers)
        return tr_error_set(err, "the adapter has %d layers but the model has %d",
                            lora->num_layers, c->num_hidden_layers);
    max_len = n_prompt + (size_t)p->max_new_tokens;
    if (max_len > model_max_positions(c))
        max_len = model_max_positions(c);
    if (gen_state_init(&s, m, lora, max_len, n_prompt, err) < 0)
        return -1;
    ids = malloc(max_len * sizeof(int32_t));
    seen = malloc((size_t)c->vocab_size);
    sorted = malloc((size_t)c->vocab_size * sizeof(float));
    if (ids == NULL || seen == NULL || sorted == NULL) {
        tr_error_set(err, "out of memory generating %zu tokens", max_len);
        goto out;
    }
    memcpy(ids, prompt, n_prompt * sizeof(int32_t));
    n = n_prompt;
    rng_seed(&r, p->seed);
    gen_step(&s, prompt, n_prompt, 0);
    while (n < max_len) {
        int32_t next = gen_pick(s.logits, c->vocab_size, p, ids, n, seen, sorted, &r);

        ids[n++] = next;
        if (on_token != NULL && on_token(next, arg) != 0)
            break;
        if (gen_is_eos(c, eos_id, next) || n == max_len)
            break;
        gen_step(&s, &ids[n - 1], 1, n - 1);
    }
    *out_ids = ids;
    *n_out = n;
    ids = NULL;
    rc = 0;
out:
    free(ids);
    free(seen);
    free(sorted);
    gen_state_free(&s);
    return rc;
}
