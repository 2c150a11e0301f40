/* generate: the KV-cached path against the batched forward (with LoRA, biases and a
 * sliding window), sampling controls, stopping rules and the context cap. */
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "harness.h"
#include "lora.h"
#include "model.h"
#include "rng.h"

#define TINY "\"hidden_size\":16,\"num_attention_heads\":4,\"num_key_value_heads\":2," \
             "\"intermediate_size\":24,\"num_hidden_layers\":2,\"vocab_size\":11," \
             "\"max_position_embeddings\":32"

static const int32_t story_prompt[] = {1, 403, 407, 261, 378};

/* Every greedy token must be the argmax of the batched forward's logits one position
 * earlier; this ties the KV cache path to model_forward. */
static void check_cache_matches_forward(const char *name, const struct model *m,
                                        const struct lora_set *lora, const int32_t *prompt,
                                        size_t n_prompt, int new_tokens)
{
    struct tr_error err = {0};
    struct gen_params p = gen_params_default();
    int V = model_get_config(m)->vocab_size, mismatches = 0;
    struct model_ctx *ctx;
    int32_t *ids = NULL;
    size_t n = 0;

    p.max_new_tokens = new_tokens;
    CHECK_EQ_INT(generate(m, lora, prompt, n_prompt, &p, -1, NULL, NULL, &ids, &n, &err), 0);
    CHECK_EQ_INT(n, n_prompt + (size_t)new_tokens);
    ctx = model_ctx_new(m, (struct lora_set *)lora, 1, n, false, &err);
    CHECK_EQ_INT(model_forward(ctx, ids, NULL, 1, n, NULL, NULL, &err), 0);
    for (size_t i = n_prompt; i < n; i++) {
        const float *row = model_ctx_logits(ctx) + (i - 1) * (size_t)V;
        int best = 0;

        for (int j = 1; j < V; j++)
            best = row[j] > row[best] ? j : best;
        mismatches += best != ids[i];
    }
    printf("# %s: %zu tokens\n", name, n);
    CHECK_EQ_INT(mismatches, 0);
    model_ctx_free(ctx);
    free(ids);
}

static struct lora_set *random_lora(const struct model *m, uint64_t seed)
{
    struct tr_error err = {0};
    struct lora_set *lora = lora_set_new(model_get_config(m), 4, 8.0f, false, 0.0f, 0x7f, false,
                                         &err);
    struct rng r;

    rng_seed(&r, seed);
    for (int i = 0; i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        for (int j = 0; j < lora->rank * lora->m[i].in; j++)
            lora->m[i].A[j] = 0.3f * rng_normal(&r);
        for (int j = 0; j < lora->m[i].out * lora->rank; j++)
            lora->m[i].B[j] = 0.3f * rng_normal(&r);
    }
    return lora;
}

static void check_tiny(const char *name, const char *json)
{
    struct tr_error err = {0};
    struct model_config cfg;
    struct model *m = NULL;
    struct lora_set *lora;
    const int32_t prompt[3] = {1, 5, 7};

    CHECK_EQ_INT(model_config_parse(&cfg, json, strlen(json), name, &err), 0);
    CHECK_EQ_INT(model_new_random(&m, &cfg, 21, &err), 0);
    lora = random_lora(m, 4);
    check_cache_matches_forward(name, m, NULL, prompt, 3, 20);
    check_cache_matches_forward(name, m, lora, prompt, 3, 20);
    /* Prompt plus new tokens stop at max_position_embeddings (32). */
    {
        struct gen_params p = gen_params_default();
        int32_t *ids = NULL;
        size_t n = 0;

        p.max_new_tokens = 100;
        CHECK_EQ_INT(generate(m, NULL, prompt, 3, &p, -1, NULL, NULL, &ids, &n, &err), 0);
        CHECK_EQ_INT(n, 32);
        free(ids);
    }
    lora_set_free(lora);
    model_free(m);
}

/* Generation also stops at any id of the config's eos_token_id list. */
static void check_eos_list(void)
{
    const char *plain = "{\"model_type\":\"llama\"," TINY "}";
    struct tr_error err = {0};
    struct gen_params p = gen_params_default();
    struct model_config cfg;
    struct model *m = NULL;
    const int32_t prompt[3] = {1, 5, 7};
    int32_t *ids = NULL, *ids2 = NULL, stop, unused = -1;
    size_t n = 0, n2 = 0, first = 3;
    char json[1024];

    p.max_new_tokens = 12;
    model_config_parse(&cfg, plain, strlen(plain), "plain", &err);
    model_new_random(&m, &cfg, 33, &err);
    CHECK_EQ_INT(generate(m, NULL, prompt, 3, &p, -1, NULL, NULL, &ids, &n, &err), 0);
    model_free(m);
    stop = ids[5];
    while (ids[first] != stop)
        first++;
    for (int32_t id = 0; id < 11 && unused < 0; id++) {
        int seen = 0;

        for (size_t i = 0; i < n; i++)
            seen |= ids[i] == id;
        if (!seen)
            unused = id;
    }
    snprintf(json, sizeof(json), "{\"model_type\":\"llama\"," TINY ",\"eos_token_id\":[%d,%d]}",
             unused, stop);
    model_config_parse(&cfg, json, strlen(json), "eos list", &err);
    model_new_random(&m, &cfg, 33, &err);
    CHECK(unused >= 0);
    CHECK_EQ_INT(generate(m, NULL, prompt, 3, &p, unused, NULL, NULL, &ids2, &n2, &err), 0);
    CHECK_EQ_INT(n2, first + 1);
    CHECK_EQ_INT(ids2[n2 - 1], stop);
    free(ids2);
    /* eos_id -1 turns the list off as well. */
    CHECK_EQ_INT(generate(m, NULL, prompt, 3, &p, -1, NULL, NULL, &ids2, &n2, &err), 0);
    CHECK_EQ_INT(n2, n);
    free(ids2);
    free(ids);
    model_free(m);
}

static int count_calls(int32_t id, void *arg)
{
    int *calls = arg;

    (void)id;
    return ++*calls >= 3;
}

static void check_sampling(const struct model *m)
{
    struct tr_error err = {0};
    struct gen_params p = gen_params_default(), greedy_p = gen_params_default();
    int32_t *a = NULL, *b = NULL, *c = NULL, *greedy = NULL;
    size_t na, nb, nc, ng;
    int calls = 0;

    p.max_new_tokens = greedy_p.max_new_tokens = 20;
    p.temperature = 1.0f;
    p.seed = 5;
    generate(m, NULL, story_prompt, 5, &greedy_p, -1, NULL, NULL, &greedy, &ng, &err);
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &p, -1, NULL, NULL, &a, &na, &err), 0);
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &p, -1, NULL, NULL, &b, &nb, &err), 0);
    CHECK_EQ_INT(na, nb);
    CHECK(memcmp(a, b, na * sizeof(int32_t)) == 0);
    free(b);
    p.seed = 6;
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &p, -1, NULL, NULL, &b, &nb, &err), 0);
    CHECK(memcmp(a, b, na * sizeof(int32_t)) != 0);
    free(b);
    /* top_k 1 and a tiny top_p both leave only the most likely token. */
    p.top_k = 1;
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &p, -1, NULL, NULL, &b, &nb, &err), 0);
    CHECK(memcmp(b, greedy, ng * sizeof(int32_t)) == 0);
    free(b);
    p.top_k = 0;
    p.top_p = 1e-6f;
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &p, -1, NULL, NULL, &b, &nb, &err), 0);
    CHECK(memcmp(b, greedy, ng * sizeof(int32_t)) == 0);
    free(b);
    /* A huge repetition penalty pushes every id already present below the unseen ones, so
     * no id repeats (the greedy text repeats "a" and ","). */
    greedy_p.repetition_penalty = 1000.0f;
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &greedy_p, -1, NULL, NULL, &c, &nc, &err), 0);
    {
        int repeats = 0;

        for (size_t i = 5; i < nc; i++)
            for (size_t j = 0; j < i; j++)
                repeats += c[i] == c[j];
        CHECK_EQ_INT(repeats, 0);
    }
    CHECK(memcmp(c, greedy, ng * sizeof(int32_t)) != 0);
    free(c);
    /* EOS: id 261 is the 4th new token of the greedy text; it is kept and ends the output. */
    greedy_p.repetition_penalty = 1.0f;
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &greedy_p, 261, NULL, NULL, &c, &nc, &err), 0);
    CHECK_EQ_INT(nc, 9);
    CHECK_EQ_INT(c[8], 261);
    free(c);
    /* The callback stops generation when it returns nonzero. */
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &greedy_p, -1, count_calls, &calls, &c, &nc,
                          &err), 0);
    CHECK_EQ_INT(calls, 3);
    CHECK_EQ_INT(nc, 8);
    free(c);
    greedy_p.top_p = 0.0f;
    CHECK_EQ_INT(generate(m, NULL, story_prompt, 5, &greedy_p, -1, NULL, NULL, &c, &nc, &err), -1);
    CHECK(strstr(err.msg, "top_p") != NULL);
    free(a);
    free(greedy);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    struct tr_error err = {0};
    struct model *m = NULL;
    struct lora_set *lora;
    char dir[4096];

    check_tiny("llama", "{\"model_type\":\"llama\"," TINY "}");
    check_tiny("qwen2", "{\"model_type\":\"qwen2\"," TINY ",\"tie_word_embeddings\":true}");
    check_tiny("mistral window 4", "{\"model_type\":\"mistral\"," TINY ",\"sliding_window\":4}");
    check_tiny("llama3 rope", "{\"model_type\":\"llama\"," TINY ",\"rope_scaling\":{\"rope_type\":"
               "\"llama3\",\"factor\":8,\"original_max_position_embeddings\":8}}");
    check_eos_list();
    /* Large enough that ops_gemm splits the products across threads. */
    check_tiny("medium llama", "{\"model_type\":\"llama\",\"hidden_size\":64,"
               "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"intermediate_size\":256,"
               "\"num_hidden_layers\":2,\"vocab_size\":1000,\"max_position_embeddings\":32}");
    snprintf(dir, sizeof(dir), "%s/models/stories260K", corpus ? corpus : "/work/shared/corpus");
    CHECK_EQ_INT(model_open(&m, dir, &err), 0);
    if (m == NULL)
        return test_finish();
    lora = random_lora(m, 8);
    check_cache_matches_forward("stories260K", m, NULL, story_prompt, 5, 40);
    check_cache_matches_forward("stories260K with LoRA", m, lora, story_prompt, 5, 40);
    check_sampling(m);
    lora_set_free(lora);
    model_free(m);
    return test_finish();
}
