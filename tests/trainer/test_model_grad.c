/* Whole-model checks on tiny random models: LoRA gradients from model_backward against
 * central finite differences of the model's own loss, bit-identical gradients for the same
 * seed, and a plain Adam loop that overfits one batch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lora.h"
#include "model.h"
#include "rng.h"

#define TINY "\"hidden_size\":16,\"num_attention_heads\":4,\"num_key_value_heads\":2," \
             "\"intermediate_size\":24,\"num_hidden_layers\":2,\"vocab_size\":11," \
             "\"max_position_embeddings\":32"

enum { B = 2, T = 6 };

static struct model *tiny_model(const char *json, uint64_t seed)
{
    struct tr_error err = {0};
    struct model_config cfg;
    struct model *m = NULL;

    if (model_config_parse(&cfg, json, strlen(json), "tiny", &err) < 0
        || model_new_random(&m, &cfg, seed, &err) < 0)
        printf("# %s\n", err.msg);
    return m;
}

static void batch(int32_t *tokens, int32_t *targets, uint64_t seed)
{
    struct rng r;

    rng_seed(&r, seed);
    for (int i = 0; i < B * T; i++)
        tokens[i] = (int32_t)(rng_next_u64(&r) % 11);
    for (int i = 0; i < B * T; i++)
        targets[i] = (i % T == T - 1) ? -100 : tokens[i + 1];
    targets[2] = -100; /* an ignored position inside a sequence */
}

/* Random A and B (B is zero after lora_set_init, which would hide dA). */
static void randomize(struct lora_set *lora, uint64_t seed)
{
    struct rng r;

    rng_seed(&r, seed);
    for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        struct lora_matrix *mx = &lora->m[i];

        for (int j = 0; mx->A != NULL && j < lora->rank * mx->in; j++)
            mx->A[j] = 0.2f * rng_normal(&r);
        for (int j = 0; mx->B != NULL && j < mx->out * lora->rank; j++)
            mx->B[j] = 0.2f * rng_normal(&r);
    }
}

static double loss_at(struct model_ctx *ctx, const int32_t *tokens, const int32_t *targets)
{
    struct tr_error err = {0};
    float loss = 0;
    size_t n = 0;

    model_ctx_set_seed(ctx, 7); /* the same dropout masks on every call */
    if (model_forward(ctx, tokens, targets, B, T, &loss, &n, &err) < 0)
        printf("# %s\n", err.msg);
    return loss;
}

/* Checks a few entries of every adapted A and B. Step 1e-3, because the loss is float32
 * and a smaller step drowns in rounding; tolerance 1e-3 + 5e-3 x |numeric gradient|. */
static void check_fd(const char *name, const char *json, float dropout)
{
    struct tr_error err = {0};
    struct model *m = tiny_model(json, 1);
    struct lora_set *lora;
    struct model_ctx *ctx;
    int32_t tokens[B * T], targets[B * T];
    int bad = 0, checked = 0;
    const float h = 1e-3f;

    if (m == NULL) {
        CHECK(m != NULL);
        return;
    }
    lora = lora_set_new(model_get_config(m), 4, 8.0f, false, dropout, 0x7f, true, &err);
    randomize(lora, 3);
    ctx = model_ctx_new(m, lora, B, T, true, &err);
    batch(tokens, targets, 5);
    loss_at(ctx, tokens, targets);
    CHECK_EQ_INT(model_backward(ctx, 1.0f, &err), 0);
    for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        struct lora_matrix *mx = &lora->m[i];
        float *params[2] = {mx->A, mx->B}, *grads[2] = {mx->dA, mx->dB};
        int sizes[2] = {lora->rank * mx->in, mx->out * lora->rank};

        for (int which = 0; which < 2; which++) {
            for (int j = 0; j < sizes[which]; j += sizes[which] / 3 + 1) {
                float keep = params[which][j];
                double up, down, num, ana = grads[which][j];

                params[which][j] = keep + h;
                up = loss_at(ctx, tokens, targets);
                params[which][j] = keep - h;
                down = loss_at(ctx, tokens, targets);
                params[which][j] = keep;
                num = (up - down) / (2.0 * h);
                checked++;
                if (fabs(num - ana) > 1e-3 + 5e-3 * fabs(num) && bad++ == 0)
                    printf("# %s: matrix %d %s[%d]: analytic %.6g numeric %.6g\n", name, i,
                           which ? "B" : "A", j, ana, num);
            }
        }
    }
    printf("# %s: %d entries checked\n", name, checked);
    CHECK(checked > 80);
    CHECK_EQ_INT(bad, 0);
    model_ctx_free(ctx);
    lora_set_free(lora);
    model_free(m);
}

static void check_deterministic(void)
{
    struct tr_error err = {0};
    struct model *m = tiny_model("{\"model_type\":\"llama\"," TINY "}", 2);
    struct lora_set *l1 = lora_set_new(model_get_config(m), 4, 8.0f, false, 0.1f, 0x7f, true,
                                       &err);
    struct lora_set *l2 = lora_set_new(model_get_config(m), 4, 8.0f, false, 0.1f, 0x7f, true,
                                       &err);
    struct model_ctx *c1 = model_ctx_new(m, l1, B, T, true, &err);
    struct model_ctx *c2 = model_ctx_new(m, l2, B, T, true, &err);
    int32_t tokens[B * T], targets[B * T];
    int same = 1;

    randomize(l1, 9);
    randomize(l2, 9);
    batch(tokens, targets, 11);
    loss_at(c1, tokens, targets);
    model_backward(c1, 0.5f, &err);
    loss_at(c2, tokens, targets);
    model_backward(c2, 0.5f, &err);
    for (int i = 0; i < l1->num_layers * LORA_NUM_TARGETS; i++) {
        size_t na = (size_t)l1->rank * (size_t)l1->m[i].in;
        size_t nb = (size_t)l1->m[i].out * (size_t)l1->rank;

        same &= memcmp(l1->m[i].dA, l2->m[i].dA, na * sizeof(float)) == 0;
        same &= memcmp(l1->m[i].dB, l2->m[i].dB, nb * sizeof(float)) == 0;
    }
    CHECK(same);
    /* A second backward without a forward is an error, not a silent double count. */
    CHECK_EQ_INT(model_backward(c1, 1.0f, &err), -1);
    /* So is training a LoRA set that has no gradient buffers. */
    {
        struct lora_set *frozen = lora_set_new(model_get_config(m), 4, 8.0f, false, 0.0f, 0x7f,
                                               false, &err);

        CHECK(model_ctx_new(m, frozen, B, T, true, &err) == NULL);
        CHECK(strstr(err.msg, "gradient buffers") != NULL);
        lora_set_free(frozen);
    }
    model_ctx_free(c1);
    model_ctx_free(c2);
    lora_set_free(l1);
    lora_set_free(l2);
    model_free(m);
}

/* Adam (lr 1e-2, betas 0.9/0.999) on the LoRA parameters only, 300 steps on one batch. */
static void check_overfit(void)
{
    struct tr_error err = {0};
    struct model *m = tiny_model("{\"model_type\":\"llama\"," TINY "}", 4);
    struct lora_set *lora = lora_set_new(model_get_config(m), 8, 16.0f, false, 0.0f, 0x7f, true,
                                         &err);
    struct model_ctx *ctx = model_ctx_new(m, lora, B, T, true, &err);
    int32_t tokens[B * T], targets[B * T];
    float *mom[2 * 2 * LORA_NUM_TARGETS * 2] = {0};
    float first = 0, loss = 0;
    size_t n;

    lora_set_init(lora, 1);
    batch(tokens, targets, 13);
    for (int step = 1; step <= 300; step++) {
        lora_set_zero_grads(lora);
        model_forward(ctx, tokens, targets, B, T, &loss, &n, &err);
        if (step == 1)
            first = loss;
        model_backward(ctx, 1.0f, &err);
        for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
            struct lora_matrix *mx = &lora->m[i];
            float *p[2] = {mx->A, mx->B}, *g[2] = {mx->dA, mx->dB};
            int sizes[2] = {lora->rank * mx->in, mx->out * lora->rank};

            for (int w = 0; w < 2; w++) {
                float **m1 = &mom[(i * 2 + w) * 2], **m2 = &mom[(i * 2 + w) * 2 + 1];

                if (*m1 == NULL) {
                    *m1 = calloc((size_t)sizes[w], sizeof(float));
                    *m2 = calloc((size_t)sizes[w], sizeof(float));
                }
                for (int j = 0; j < sizes[w]; j++) {
                    float gj = g[w][j];

                    (*m1)[j] = 0.9f * (*m1)[j] + 0.1f * gj;
                    (*m2)[j] = 0.999f * (*m2)[j] + 0.001f * gj * gj;
                    p[w][j] -= 1e-2f * ((*m1)[j] / (1.0f - powf(0.9f, (float)step)))
                               / (sqrtf((*m2)[j] / (1.0f - powf(0.999f, (float)step))) + 1e-8f);
                }
            }
        }
    }
    printf("# overfit: loss %.4f -> %.4f\n", first, loss);
    CHECK(first > 2.0f);
    CHECK(loss < 0.05f);
    for (size_t i = 0; i < sizeof(mom) / sizeof(mom[0]); i++)
        free(mom[i]);
    model_ctx_free(ctx);
    lora_set_free(lora);
    model_free(m);
}

int main(void)
{
    check_fd("llama", "{\"model_type\":\"llama\"," TINY "}", 0.0f);
    check_fd("llama with dropout", "{\"model_type\":\"llama\"," TINY "}", 0.2f);
    check_fd("qwen2 biases", "{\"model_type\":\"qwen2\"," TINY ",\"tie_word_embeddings\":true}",
             0.0f);
    check_fd("mistral window", "{\"model_type\":\"mistral\"," TINY ",\"sliding_window\":3}",
             0.0f);
    check_deterministic();
    check_overfit();
    return test_finish();
}
