/* config.json parsing on every config in the corpus (they have no weights, so the test
 * checks the parsed fields and the list of expected tensor shapes), RoPE frequency rules
 * against their published test vectors, and the errors for malformed configs. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "model_impl.h"

static const char *corpus;

static int load(struct model_config *c, const char *name, struct tr_error *err)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/configs/%s/config.json", corpus, name);
    return model_config_load(c, path, err);
}

/* Returns dimension d of spec, or -1 when spec is NULL. */
static long long dim(const struct model_tensor_spec *spec, int d)
{
    return spec != NULL ? (long long)spec->shape[d] : -1;
}

static const struct model_tensor_spec *find_spec(const struct model_tensor_spec *s, size_t n,
                                                 const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    }
    return NULL;
}

static void check_llama2(void)
{
    struct tr_error err = {0};
    struct model_config c;
    struct model_tensor_spec *s = NULL;
    const struct model_tensor_spec *q;
    size_t n = 0;

    CHECK_EQ_INT(load(&c, "llama-2-7b-hf", &err), 0);
    CHECK_EQ_STR(c.model_type, "llama");
    CHECK_EQ_INT(c.hidden_size, 4096);
    CHECK_EQ_INT(c.intermediate_size, 11008);
    CHECK_EQ_INT(c.num_hidden_layers, 32);
    CHECK_EQ_INT(c.num_key_value_heads, 32);
    CHECK_EQ_INT(c.head_dim, 128);
    CHECK_EQ_INT(c.max_position_embeddings, 4096);
    CHECK_NEAR(c.rms_norm_eps, 1e-5, 1e-12);
    CHECK_NEAR(c.rope_theta, 10000.0, 0.0);
    CHECK_EQ_INT(c.rope_scaling, ROPE_SCALING_NONE);
    CHECK_EQ_INT(c.bos_token_id, 1);
    CHECK_EQ_INT(c.eos_token_id, 2);
    CHECK_EQ_INT(c.sliding_window, 0);
    CHECK(!c.tie_word_embeddings);
    CHECK_EQ_INT(model_expected_tensors(&c, &s, &n, &err), 0);
    /* embed + 9 per layer + norm + lm_head */
    CHECK_EQ_INT(n, 1 + 32 * 9 + 2);
    q = find_spec(s, n, "model.layers.31.self_attn.q_proj.weight");
    CHECK_EQ_INT(dim(q, 0), 4096);
    CHECK_EQ_INT(dim(q, 1), 4096);
    CHECK(find_spec(s, n, "lm_head.weight") != NULL);
    free(s);
}

static void check_tinyllama(void)
{
    struct tr_error err = {0};
    struct model_config c;
    struct model_tensor_spec *s = NULL;
    const struct model_tensor_spec *k, *down;
    size_t n = 0;

    CHECK_EQ_INT(load(&c, "tinyllama-1.1b-chat-v1.0", &err), 0);
    CHECK_EQ_INT(c.num_attention_heads, 32);
    CHECK_EQ_INT(c.num_key_value_heads, 4);
    CHECK_EQ_INT(c.head_dim, 64);
    CHECK_EQ_INT(model_expected_tensors(&c, &s, &n, &err), 0);
    k = find_spec(s, n, "model.layers.0.self_attn.k_proj.weight");
    CHECK_EQ_INT(dim(k, 0), 256);
    CHECK_EQ_INT(dim(k, 1), 2048);
    down = find_spec(s, n, "model.layers.21.mlp.down_proj.weight");
    CHECK_EQ_INT(dim(down, 0), 2048);
    CHECK_EQ_INT(dim(down, 1), 5632);
    CHECK(find_spec(s, n, "model.layers.22.mlp.down_proj.weight") == NULL);
    free(s);
}

static void check_mistral(void)
{
    struct tr_error err = {0};
    struct model_config c;
    struct model_tensor_spec *s = NULL;
    char path[4096];
    json_t *index, *map;
    size_t n = 0, matched = 0;
    long long total = 0;

    CHECK_EQ_INT(load(&c, "mistral-7b-v0.1", &err), 0);
    CHECK_EQ_STR(c.model_type, "mistral");
    CHECK_EQ_INT(c.sliding_window, 4096);
    CHECK(model_config_layer_has_window(&c, 0));
    CHECK(model_config_layer_has_window(&c, 31));
    CHECK_EQ_INT(c.num_key_value_heads, 8);
    CHECK_EQ_INT(model_expected_tensors(&c, &s, &n, &err), 0);
    /* The checkpoint's index lists exactly the tensors the config implies, and their BF16
     * sizes add up to its total_size. */
    snprintf(path, sizeof(path), "%s/configs/mistral-7b-v0.1/model.safetensors.index.json",
             corpus);
    index = json_load_file(path, 0, NULL);
    map = json_object_get(index, "weight_map");
    CHECK_EQ_INT(json_object_size(map), n);
    for (size_t i = 0; i < n; i++) {
        matched += json_object_get(map, s[i].name) != NULL;
        total += 2LL * s[i].shape[0] * (s[i].ndim == 2 ? s[i].shape[1] : 1);
    }
    CHECK_EQ_INT(matched, n);
    CHECK_EQ_INT(total, json_integer_value(json_object_get(json_object_get(index, "metadata"),
                                                           "total_size")));
    json_decref(index);
    free(s);
}

static void check_qwen2(void)
{
    struct tr_error err = {0};
    struct model_config c;
    struct model_tensor_spec *s = NULL;
    const struct model_tensor_spec *qb, *kb;
    size_t n = 0;

    CHECK_EQ_INT(load(&c, "qwen2-0.5b", &err), 0);
    CHECK_EQ_STR(c.model_type, "qwen2");
    CHECK(c.qkv_bias);
    CHECK(!c.attention_bias);
    CHECK(c.tie_word_embeddings);
    CHECK_EQ_INT(c.sliding_window, 0);
    CHECK(!model_config_layer_has_window(&c, 23));
    CHECK_NEAR(c.rope_theta, 1e6, 0.0);
    CHECK_EQ_INT(c.head_dim, 64);
    CHECK_EQ_INT(c.bos_token_id, 151643);
    CHECK_EQ_INT(model_expected_tensors(&c, &s, &n, &err), 0);
    CHECK_EQ_INT(n, 1 + 24 * 12 + 1);
    qb = find_spec(s, n, "model.layers.0.self_attn.q_proj.bias");
    kb = find_spec(s, n, "model.layers.0.self_attn.k_proj.bias");
    CHECK_EQ_INT(dim(qb, 0), 896);
    CHECK_EQ_INT(qb != NULL ? qb->ndim : -1, 1);
    CHECK_EQ_INT(dim(kb, 0), 128);
    CHECK(find_spec(s, n, "model.layers.0.self_attn.o_proj.bias") == NULL);
    CHECK(find_spec(s, n, "lm_head.weight") == NULL);
    free(s);
}

static void check_smollm2(void)
{
    struct tr_error err = {0};
    struct model_config c;

    CHECK_EQ_INT(load(&c, "smollm2-135m", &err), 0);
    CHECK_NEAR(c.rope_theta, 100000.0, 0.0);
    CHECK_EQ_INT(c.rope_scaling, ROPE_SCALING_NONE);
    CHECK_EQ_INT(c.num_attention_heads, 9);
    CHECK_EQ_INT(c.num_key_value_heads, 3);
    CHECK_EQ_INT(c.head_dim, 64);
    CHECK(c.tie_word_embeddings);
    CHECK_EQ_INT(c.bos_token_id, 0);
    CHECK_EQ_INT(c.eos_token_id, 0);
}

static void check_gpt2_rejected(void)
{
    struct tr_error err = {0};
    struct model_config c;

    CHECK_EQ_INT(load(&c, "gpt2", &err), -1);
    CHECK(strstr(err.msg, "\"gpt2\" is not supported") != NULL);
}

/* Parses a config text; returns the error message or "" on success. */
static const char *parse(const char *text, struct model_config *c)
{
    static struct tr_error err;

    memset(&err, 0, sizeof(err));
    if (model_config_parse(c, text, strlen(text), "config.json", &err) == 0)
        return "";
    return err.msg;
}

#define BASE "\"model_type\":\"llama\",\"hidden_size\":64,\"num_attention_heads\":4," \
             "\"intermediate_size\":128,\"num_hidden_layers\":2,\"vocab_size\":100"

static void check_rope_variants(void)
{
    static const double llama3[5] = {1.0, 0.0165604401, 0.00137189357, 3.4281022e-05,
                                      3.06892599e-07};
    static const int idx[5] = {0, 20, 30, 40, 63};
    struct model_config c;
    float inv[64];

    CHECK_EQ_STR(parse("{\"model_type\":\"llama\",\"hidden_size\":4096,\"num_attention_heads\":32,"
                       "\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":\"llama3\","
                       "\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                       "\"original_max_position_embeddings\":8192}}", &c), "");
    CHECK_EQ_INT(c.rope_scaling, ROPE_SCALING_LLAMA3);
    model_rope_inv_freq(inv, &c, 16);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(inv[idx[i]] / llama3[i], 1.0, 1e-5);

    /* Legacy key "type" and the newer rope_parameters object. */
    CHECK_EQ_STR(parse("{" BASE ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}", &c), "");
    CHECK_EQ_INT(c.rope_scaling, ROPE_SCALING_LINEAR);
    model_rope_inv_freq(inv, &c, 16);
    CHECK_NEAR(inv[0], 0.5, 1e-7);
    CHECK_EQ_STR(parse("{" BASE ",\"rope_parameters\":{\"rope_type\":\"default\","
                       "\"rope_theta\":1234.0}}", &c), "");
    CHECK_NEAR(c.rope_theta, 1234.0, 0.0);

    /* Dynamic NTK: theta 10000, d 128, factor 2, max 4096, length 8192 -> base 30527.74. */
    CHECK_EQ_STR(parse("{\"model_type\":\"llama\",\"hidden_size\":4096,\"num_attention_heads\":32,"
                       "\"max_position_embeddings\":4096,\"rope_scaling\":{\"rope_type\":"
                       "\"dynamic\",\"factor\":2.0}}", &c), "");
    model_rope_inv_freq(inv, &c, 8192);
    CHECK_NEAR(inv[1] / (1.0 / pow(30527.7367488067, 2.0 / 128.0)), 1.0, 1e-5);
    model_rope_inv_freq(inv, &c, 4096);
    CHECK_NEAR(inv[1] / (1.0 / pow(10000.0, 2.0 / 128.0)), 1.0, 1e-6);
    CHECK_EQ_INT(model_max_positions(&c), 8192);
}

static void check_bad_configs(void)
{
    struct model_config c;

    CHECK(strstr(parse("{\"hidden_size\":64}", &c), "model_type") != NULL);
    CHECK(strstr(parse("not json", &c), "invalid JSON") != NULL);
    CHECK(strstr(parse("{" BASE ",\"num_key_value_heads\":3}", &c), "not a multiple") != NULL);
    CHECK(strstr(parse("{" BASE ",\"hidden_size\":\"64\"}", &c), "invalid JSON") != NULL);
    CHECK(strstr(parse("{" BASE ",\"vocab_size\":\"100\"}", &c), "invalid JSON") != NULL);
    CHECK(strstr(parse("{\"model_type\":\"llama\",\"num_hidden_layers\":-1}", &c),
                 "num_hidden_layers = -1") != NULL);
    CHECK(strstr(parse("{\"model_type\":\"llama\",\"hidden_size\":\"big\"}", &c),
                 "\"hidden_size\" must be an integer") != NULL);
    CHECK(strstr(parse("{" BASE ",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}", &c),
                 "\"yarn\" is not supported") != NULL);
    CHECK(strstr(parse("{" BASE ",\"hidden_act\":\"gelu\"}", &c), "silu") != NULL);
    CHECK(strstr(parse("{" BASE ",\"architectures\":[\"GPT2LMHeadModel\"]}", &c),
                 "GPT2LMHeadModel") != NULL);
    CHECK(strstr(parse("{" BASE ",\"head_dim\":7}", &c), "head_dim = 7") != NULL);
    CHECK(strstr(parse("{" BASE ",\"rms_norm_eps\":0}", &c), "rms_norm_eps") != NULL);
    CHECK_EQ_STR(parse("{" BASE ",\"eos_token_id\":[128001,128008,128009]}", &c), "");
    CHECK_EQ_INT(c.num_eos_token_ids, 3);
    CHECK_EQ_INT(c.eos_token_ids[2], 128009);
    CHECK_EQ_INT(c.eos_token_id, 128001);
}

int main(void)
{
    corpus = getenv("ATELIER_CORPUS");
    if (corpus == NULL)
        corpus = "/work/shared/corpus";
    check_llama2();
    check_tinyllama();
    check_mistral();
    check_qwen2();
    check_smollm2();
    check_gpt2_rejected();
    check_rope_variants();
    check_bad_configs();
    return test_finish();
}
