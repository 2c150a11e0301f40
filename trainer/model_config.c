/* model_config: config.json of Llama, Mistral and Qwen2 checkpoints. Absent keys take the
 * defaults of the transformers config classes; RoPE settings are read from either the
 * legacy rope_theta + rope_scaling keys or the newer rope_parameters object. */
#include "model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sanity bounds well above any released checkpoint; they keep size arithmetic in range. */
#define MODEL_MAX_DIM (1 << 20)
#define MODEL_MAX_LAYERS 1024
#define MODEL_MAX_VOCAB (1 << 24)

/* Reads an integer key; absent or null keeps *out. */
static int cfg_int(const json_t *root, const char *key, int *out, const char *label,
                   struct tr_error *err)
{
    const json_t *v = json_object_get(root, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN
        || json_integer_value(v) > INT32_MAX)
        return tr_error_set(err, "%s: \"%s\" must be an integer", label, key);
    *out = (int)json_integer_value(v);
    return 0;
}

static int cfg_float(const json_t *root, const char *key, float *out, const char *label,
                     struct tr_error *err)
{
    const json_t *v = json_object_get(root, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return tr_error_set(err, "%s: \"%s\" must be a number", label, key);
    *out = (float)json_number_value(v);
    return 0;
}

static int cfg_bool(const json_t *root, const char *key, bool *out, const char *label,
                    struct tr_error *err)
{
    const json_t *v = json_object_get(root, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return tr_error_set(err, "%s: \"%s\" must be true or false", label, key);
    *out = json_is_true(v);
    return 0;
}

static void cfg_defaults(struct model_config *c, const char *type)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->model_type, sizeof(c->model_type), "%s", type);
    c->vocab_size = 32000;
    c->hidden_size = 4096;
    c->intermediate_size = 11008;
    c->num_hidden_layers = 32;
    c->num_attention_heads = 32;
    c->num_key_value_heads = -1;
    c->head_dim = -1;
    c->max_position_embeddings = 2048;
    c->rms_norm_eps = 1e-6f;
    c->rope_theta = 10000.0f;
    c->bos_token_id = 1;
    c->eos_token_id = 2;
    c->rope_factor = 1.0f;
    if (strcmp(type, "mistral") == 0) {
        c->intermediate_size = 14336;
        c->num_key_value_heads = 8;
        c->max_position_embeddings = 4096 * 32;
        c->sliding_window = 4096;
    } else if (strcmp(type, "qwen2") == 0) {
        c->vocab_size = 151936;
        c->intermediate_size = 22016;
        c->max_position_embeddings = 32768;
        c->qkv_bias = true;
        c->bos_token_id = -1;
        c->eos_token_id = -1;
        c->sliding_window = 4096;
        c->max_window_layers = 28;
    }
}

/* Reads rope_type/type, factor and the llama3 keys from a rope_scaling or rope_parameters
 * object. */
static int cfg_rope_object(struct model_config *c, const json_t *obj, const char *key,
                           const char *label, struct tr_error *err)
{
    const json_t *type = json_object_get(obj, "rope_type");
    const char *name;

    if (!json_is_object(obj))
        return tr_error_set(err, "%s: \"%s\" must be an object or null", label, key);
    if (type == NULL)
        type = json_object_get(obj, "type");
    name = json_is_string(type) ? json_string_value(type) : "default";
    if (cfg_float(obj, "rope_theta", &c->rope_theta, label, err) < 0
        || cfg_float(obj, "factor", &c->rope_factor, label, err) < 0)
        return -1;
    if (strcmp(name, "default") == 0) {
        c->rope_scaling = ROPE_SCALING_NONE;
    } else if (strcmp(name, "linear") == 0) {
        c->rope_scaling = ROPE_SCALING_LINEAR;
    } else if (strcmp(name, "dynamic") == 0) {
        c->rope_scaling = ROPE_SCALING_DYNAMIC;
    } else if (strcmp(name, "llama3") == 0) {
        c->rope_scaling = ROPE_SCALING_LLAMA3;
        c->rope_low_freq_factor = 1.0f;
        c->rope_high_freq_factor = 4.0f;
        c->rope_original_max_position_embeddings = 8192;
        if (cfg_float(obj, "low_freq_factor", &c->rope_low_freq_factor, label, err) < 0
            || cfg_float(obj, "high_freq_factor", &c->rope_high_freq_factor, label, err) < 0
            || cfg_int(obj, "original_max_position_embeddings",
                       &c->rope_original_max_position_embeddings, label, err) < 0)
            return -1;
        if (!(c->rope_high_freq_factor > c->rope_low_freq_factor)
            || c->rope_low_freq_factor <= 0 || c->rope_original_max_position_embeddings <= 0)
            return tr_error_set(err, "%s: %s llama3 needs high_freq_factor > low_freq_factor "
                                "> 0 and original_max_position_embeddings > 0", label, key);
    } else {
        return tr_error_set(err, "%s: %s type \"%s\" is not supported (supported: default, "
                            "linear, dynamic, llama3)", label, key, name);
    }
    if (c->rope_scaling != ROPE_SCALING_NONE && !(c->rope_factor >= 1.0f))
        return tr_error_set(err, "%s: %s factor %g must be at least 1", label, key,
                            (double)c->rope_factor);
    return 0;
}

static int cfg_token_ids(struct model_config *c, const json_t *root, const char *label,
                         struct tr_error *err)
{
    const json_t *eos = json_object_get(root, "eos_token_id");

    if (cfg_int(root, "bos_token_id", &c->bos_token_id, label, err) < 0)
        return -1;
    if (json_is_null(json_object_get(root, "bos_token_id")))
        c->bos_token_id = -1;
    if (json_is_array(eos)) {
        size_t n = json_array_size(eos);

        if (n > MODEL_MAX_EOS_IDS)
            return tr_error_set(err, "%s: eos_token_id lists %zu ids, at most %d are supported",
                                label, n, MODEL_MAX_EOS_IDS);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(eos, i);

            if (!json_is_integer(v) || json_integer_value(v) < 0
                || json_integer_value(v) > INT32_MAX)
                return tr_error_set(err, "%s: eos_token_id[%zu] must be a non-negative integer",
                                    label, i);
            c->eos_token_ids[i] = (int)json_integer_value(v);
        }
        c->num_eos_token_ids = (int)n;
        c->eos_token_id = n > 0 ? c->eos_token_ids[0] : -1;
        return 0;
    }
    if (json_is_null(eos))
        c->eos_token_id = -1;
    else if (cfg_int(root, "eos_token_id", &c->eos_token_id, label, err) < 0)
        return -1;
    if (c->eos_token_id >= 0) {
        c->eos_token_ids[0] = c->eos_token_id;
        c->num_eos_token_ids = 1;
    }
    return 0;
}

static int cfg_read_keys(struct model_config *c, const json_t *root, const char *label,
                         struct tr_error *err)
{
    const json_t *sw = json_object_get(root, "sliding_window");
    bool use_sw = true;

    if (cfg_int(root, "vocab_size", &c->vocab_size, label, err) < 0
        || cfg_int(root, "hidden_size", &c->hidden_size, label, err) < 0
        || cfg_int(root, "intermediate_size", &c->intermediate_size, label, err) < 0
        || cfg_int(root, "num_hidden_layers", &c->num_hidden_layers, label, err) < 0
        || cfg_int(root, "num_attention_heads", &c->num_attention_heads, label, err) < 0
        || cfg_int(root, "num_key_value_heads", &c->num_key_value_heads, label, err) < 0
        || cfg_int(root, "head_dim", &c->head_dim, label, err) < 0
        || cfg_int(root, "max_position_embeddings", &c->max_position_embeddings, label, err) < 0
        || cfg_float(root, "rms_norm_eps", &c->rms_norm_eps, label, err) < 0
        || cfg_float(root, "rope_theta", &c->rope_theta, label, err) < 0
        || cfg_bool(root, "tie_word_embeddings", &c->tie_word_embeddings, label, err) < 0
        || cfg_bool(root, "attention_bias", &c->attention_bias, label, err) < 0
        || cfg_bool(root, "mlp_bias", &c->mlp_bias, label, err) < 0
        || cfg_token_ids(c, root, label, err) < 0)
        return -1;
    if (c->attention_bias)
        c->qkv_bias = true;
    if (json_is_null(sw)) {
        c->sliding_window = 0;
    } else if (cfg_int(root, "sliding_window", &c->sliding_window, label, err) < 0) {
        return -1;
    }
    if (strcmp(c->model_type, "qwen2") == 0) {
        if (cfg_bool(root, "use_sliding_window", &use_sw, label, err) < 0
            || cfg_int(root, "max_window_layers", &c->max_window_layers, label, err) < 0)
            return -1;
        if (json_object_get(root, "use_sliding_window") == NULL)
            use_sw = false;
        if (!use_sw)
            c->sliding_window = 0;
    } else if (strcmp(c->model_type, "llama") == 0) {
        c->sliding_window = 0;
    }
    return 0;
}

static int cfg_read_rope(struct model_config *c, const json_t *root, const char *label,
                         struct tr_error *err)
{
    const json_t *params = json_object_get(root, "rope_parameters");
    const json_t *scaling = json_object_get(root, "rope_scaling");

    if (params != NULL && !json_is_null(params))
        return cfg_rope_object(c, params, "rope_parameters", label, err);
    if (scaling != NULL && !json_is_null(scaling))
        return cfg_rope_object(c, scaling, "rope_scaling", label, err);
    return 0;
}

static int cfg_check_range(int value, int lo, int hi, const char *key, const char *label,
                           struct tr_error *err)
{
    if (value < lo || value > hi)
        return tr_error_set(err, "%s: %s = %d is out of range [%d, %d]", label, key, value, lo,
                            hi);
    return 0;
}

static int cfg_validate(struct model_config *c, const char *label, struct tr_error *err)
{
    if (c->num_key_value_heads < 0)
        c->num_key_value_heads = c->num_attention_heads;
    if (cfg_check_range(c->vocab_size, 1, MODEL_MAX_VOCAB, "vocab_size", label, err) < 0
        || cfg_check_range(c->hidden_size, 1, MODEL_MAX_DIM, "hidden_size", label, err) < 0
        || cfg_check_range(c->intermediate_size, 1, MODEL_MAX_DIM, "intermediate_size", label,
                           err) < 0
        || cfg_check_range(c->num_hidden_layers, 1, MODEL_MAX_LAYERS, "num_hidden_layers",
                           label, err) < 0
        || cfg_check_range(c->num_attention_heads, 1, 4096, "num_attention_heads", label,
                           err) < 0
        || cfg_check_range(c->num_key_value_heads, 1, c->num_attention_heads,
                           "num_key_value_heads", label, err) < 0
        || cfg_check_range(c->max_position_embeddings, 1, 1 << 24, "max_position_embeddings",
                           label, err) < 0
        || cfg_check_range(c->sliding_window, 0, 1 << 24, "sliding_window", label, err) < 0)
        return -1;
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return tr_error_set(err, "%s: num_attention_heads = %d is not a multiple of "
                            "num_key_value_heads = %d", label, c->num_attention_heads,
                            c->num_key_value_heads);
    if (c->head_dim < 0) {
        if (c->hidden_size % c->num_attention_heads != 0)
            return tr_error_set(err, "%s: hidden_size = %d is not a multiple of "
                                "num_attention_heads = %d; set head_dim", label,
                                c->hidden_size, c->num_attention_heads);
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    if (c->head_dim < 2 || c->head_dim % 2 != 0 || c->head_dim > 4096
        || (long long)c->head_dim * c->num_attention_heads > MODEL_MAX_DIM)
        return tr_error_set(err, "%s: head_dim = %d must be even, in [2, 4096] and with "
                            "head_dim x num_attention_heads <= %d", label, c->head_dim,
                            MODEL_MAX_DIM);
    if (!(c->rms_norm_eps > 0) || !isfinite(c->rms_norm_eps))
        return tr_error_set(err, "%s: rms_norm_eps = %g must be a positive number", label,
                            (double)c->rms_norm_eps);
    if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta))
        return tr_error_set(err, "%s: rope_theta = %g must be a number above 1", label,
                            (double)c->rope_theta);
    return 0;
}

static int cfg_check_architecture(const json_t *root, const char *type, const char *label,
                                  struct tr_error *err)
{
    const json_t *archs = json_object_get(root, "architectures");
    const json_t *act = json_object_get(root, "hidden_act");
    const char *arch;

    if (act != NULL && !json_is_null(act)
        && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0))
        return tr_error_set(err, "%s: hidden_act must be \"silu\" for %s models", label, type);
    if (!json_is_array(archs) || json_array_size(archs) == 0)
        return 0;
    arch = json_string_value(json_array_get(archs, 0));
    if (arch == NULL)
        return tr_error_set(err, "%s: architectures[0] must be a string", label);
    if (strcmp(arch, "LlamaForCausalLM") != 0 && strcmp(arch, "MistralForCausalLM") != 0
        && strcmp(arch, "Qwen2ForCausalLM") != 0)
        return tr_error_set(err, "%s: architecture \"%s\" is not supported (supported: "
                            "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)", label,
                            arch);
    return 0;
}

int model_config_parse(struct model_config *out, const char *json_text, size_t len,
                       const char *label, struct tr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *type;
    const char *name;
    int rc = -1;

    if (root == NULL)
        return tr_error_set(err, "%s: invalid JSON at line %d: %s", label, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        tr_error_set(err, "%s: the config is not a JSON object", label);
        goto out;
    }
    type = json_object_get(root, "model_type");
    name = json_is_string(type) ? json_string_value(type) : NULL;
    if (name == NULL) {
        tr_error_set(err, "%s: \"model_type\" is missing; expected llama, mistral or qwen2",
                     label);
        goto out;
    }
    if (strcmp(name, "llama") != 0 && strcmp(name, "mistral") != 0
        && strcmp(name, "qwen2") != 0) {
        tr_error_set(err, "%s: model_type \"%s\" is not supported (supported: llama, mistral, "
                     "qwen2)", label, name);
        goto out;
    }
    cfg_defaults(out, name);
    if (cfg_check_architecture(root, name, label, err) < 0
        || cfg_read_keys(out, root, label, err) < 0 || cfg_read_rope(out, root, label, err) < 0
        || cfg_validate(out, label, err) < 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int model_config_load(struct model_config *out, const char *path, struct tr_error *err)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long len;
    int rc = -1;

    if (fp == NULL)
        return tr_error_set(err, "cannot open %s: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        tr_error_set(err, "cannot read %s", path);
        goto out;
    }
    if (len > (1 << 20)) {
        tr_error_set(err, "%s is %ld bytes; a config.json over 1 MiB is not accepted", path, len);
        goto out;
    }
    buf = malloc((size_t)len + 1);
    if (buf == NULL || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        tr_error_set(err, "cannot read %s", path);
        goto out;
    }
    rc = model_config_parse(out, buf, (size_t)len, path, err);
out:
    free(buf);
    fclose(fp);
    return rc;
}

bool model_config_layer_has_window(const struct model_config *cfg, int layer)
{
    if (cfg->sliding_window <= 0)
        return false;
    if (strcmp(cfg->model_type, "qwen2") == 0)
        return layer >= cfg->max_window_layers;
    return true;
}

static void spec_set(struct model_tensor_spec *s, const char *name, int ndim, int64_t d0,
                     int64_t d1)
{
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->ndim = ndim;
    s->shape[0] = d0;
    s->shape[1] = d1;
}

int model_expected_tensors(const struct model_config *c, struct model_tensor_spec **out,
                           size_t *n_out, struct tr_error *err)
{
    static const char *const proj[] = {"self_attn.q_proj", "self_attn.k_proj",
                                       "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                                       "mlp.up_proj", "mlp.down_proj"};
    int64_t H = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int64_t qd = (int64_t)c->num_attention_heads * c->head_dim;
    int64_t kvd = (int64_t)c->num_key_value_heads * c->head_dim;
    int64_t rows[7] = {qd, kvd, kvd, H, I, I, H}, cols[7] = {H, H, H, qd, H, H, I};
    size_t cap = 3 + (size_t)c->num_hidden_layers * 16, n = 0;
    struct model_tensor_spec *s = calloc(cap, sizeof(*s));
    char name[96];

    if (s == NULL)
        return tr_error_set(err, "out of memory listing the tensors of the model");
    spec_set(&s[n++], "model.embed_tokens.weight", 2, V, H);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        snprintf(name, sizeof(name), "model.layers.%d.input_layernorm.weight", l);
        spec_set(&s[n++], name, 1, H, 0);
        snprintf(name, sizeof(name), "model.layers.%d.post_attention_layernorm.weight", l);
        spec_set(&s[n++], name, 1, H, 0);
        for (int p = 0; p < 7; p++) {
            bool bias = c->mlp_bias;

            if (p < 3)
                bias = c->qkv_bias;
            else if (p == 3)
                bias = c->attention_bias;

            snprintf(name, sizeof(name), "model.layers.%d.%s.weight", l, proj[p]);
            spec_set(&s[n++], name, 2, rows[p], cols[p]);
            if (bias) {
                snprintf(name, sizeof(name), "model.layers.%d.%s.bias", l, proj[p]);
                spec_set(&s[n++], name, 1, rows[p], 0);
            }
        }
    }
    spec_set(&s[n++], "model.norm.weight", 1, H, 0);
    if (!c->tie_word_embeddings)
        spec_set(&s[n++], "lm_head.weight", 2, V, H);
    *out = s;
    *n_out = n;
    return 0;
}
