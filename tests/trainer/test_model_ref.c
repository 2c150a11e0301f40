/* Checks the forward pass and greedy generation on stories260K against the reference
 * values of its REFERENCE.md (a float64 numpy forward of the same weights), and the errors
 * for out-of-range ids and sequences longer than the context. */
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "harness.h"
#include "model.h"

static const int32_t prompt[] = {1, 403, 407, 261, 378};
static const int32_t expected_new[32] = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
                                         338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322,
                                         265, 282, 295, 433, 426, 385, 328, 432, 358, 394};
static const double logits_pos0[8] = {-6.222914, 8.404342, -6.223739, -6.222544,
                                      -6.221953, -6.222877, -6.221884, -6.22342};
static const double logits_pos4[8] = {-10.136578, -5.329465, -10.138086, -10.136856,
                                      -10.137212, -10.138332, -10.137267, -10.137642};

/* |got - want| <= 1e-4 * max(1, |want|): the reference's stated agreement for float32. */
static int near_rel(double got, double want)
{
    double tol = 1e-4 * (fabs(want) > 1.0 ? fabs(want) : 1.0);

    return fabs(got - want) <= tol;
}

static void check_forward(const struct model *m)
{
    struct tr_error err = {0};
    struct model_ctx *ctx = model_ctx_new(m, NULL, 1, 5, false, &err);
    const float *logits;
    int V = model_get_config(m)->vocab_size, argmax = 0;

    CHECK(ctx != NULL);
    if (ctx == NULL)
        return;
    CHECK_EQ_INT(model_forward(ctx, prompt, NULL, 1, 5, NULL, NULL, &err), 0);
    logits = model_ctx_logits(ctx);
    for (int i = 0; i < 8; i++) {
        CHECK(near_rel(logits[i], logits_pos0[i]));
        CHECK(near_rel(logits[4 * V + i], logits_pos4[i]));
    }
    for (int i = 1; i < V; i++)
        argmax = logits[i] > logits[argmax] ? i : argmax;
    CHECK_EQ_INT(argmax, 403);
    CHECK(near_rel(logits[403], 17.023515));
    model_ctx_free(ctx);
}

static void check_loss(const struct model *m)
{
    struct tr_error err = {0};
    struct model_ctx *ctx = model_ctx_new(m, NULL, 2, 5, false, &err);
    int32_t tokens[10], targets[10];
    float loss = 0, loss_one = 0;
    size_t n = 0;

    for (int i = 0; i < 5; i++) {
        tokens[i] = tokens[5 + i] = prompt[i];
        targets[i] = targets[5 + i] = i < 4 ? prompt[i + 1] : -100;
    }
    CHECK_EQ_INT(model_forward(ctx, tokens, targets, 1, 5, &loss_one, &n, &err), 0);
    CHECK_EQ_INT(n, 4);
    CHECK(loss_one > 0.0f);
    CHECK(loss_one < 10.0f);
    /* Two identical sequences give the same mean loss as one. */
    CHECK_EQ_INT(model_forward(ctx, tokens, targets, 2, 5, &loss, &n, &err), 0);
    CHECK_EQ_INT(n, 8);
    CHECK_NEAR(loss, loss_one, 1e-5);
    model_ctx_free(ctx);
}

static void check_greedy(const struct model *m)
{
    struct tr_error err = {0};
    struct gen_params p = gen_params_default();
    int32_t *ids = NULL;
    size_t n = 0;

    p.max_new_tokens = 32;
    CHECK_EQ_INT(generate(m, NULL, prompt, 5, &p, -1, NULL, NULL, &ids, &n, &err), 0);
    CHECK_EQ_INT(n, 37);
    for (size_t i = 0; ids != NULL && i < 32 && i + 5 < n; i++)
        CHECK_EQ_INT(ids[5 + i], expected_new[i]);
    free(ids);
}

static void check_bad_input(const struct model *m)
{
    struct tr_error err = {0};
    struct model_ctx *ctx = model_ctx_new(m, NULL, 1, 8, false, &err);
    int32_t bad[2] = {1, 512};
    struct gen_params p = gen_params_default();
    int32_t *ids = NULL;
    size_t n = 0;

    CHECK_EQ_INT(model_forward(ctx, bad, NULL, 1, 2, NULL, NULL, &err), -1);
    CHECK(strstr(err.msg, "512") != NULL);
    CHECK_EQ_INT(model_forward(ctx, prompt, NULL, 1, 9, NULL, NULL, &err), -1);
    model_ctx_free(ctx);
    /* stories260K has max_position_embeddings 512. */
    ctx = model_ctx_new(m, NULL, 1, 513, false, &err);
    CHECK(ctx == NULL);
    CHECK(strstr(err.msg, "513") != NULL);
    CHECK_EQ_INT(generate(m, NULL, bad, 2, &p, -1, NULL, NULL, &ids, &n, &err), -1);
    CHECK(strstr(err.msg, "512") != NULL);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    char dir[4096];
    struct tr_error err = {0};
    struct model *m = NULL;

    snprintf(dir, sizeof(dir), "%s/models/stories260K", corpus ? corpus : "/work/shared/corpus");
    CHECK_EQ_INT(model_open(&m, dir, &err), 0);
    if (m == NULL) {
        printf("# %s\n", err.msg);
        return test_finish();
    }
    check_forward(m);
    check_loss(m);
    check_greedy(m);
    check_bad_input(m);
    model_free(m);
    return test_finish();
}
