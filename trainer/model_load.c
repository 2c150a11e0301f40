/* model_load: model_open reads config.json and the safetensors weights (one file or the
 * shards of model.safetensors.index.json), checks every expected tensor's presence, shape
 * and dtype against the config, and keeps F32 data in place in the mapping. */
#include "model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_impl.h"
#include "rng.h"

void model_free(struct model *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_shards; i++)
        st_close(m->shards[i]);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->shards);
    free(m->owned);
    free(m->layer_w);
    free(m);
}

const struct model_config *model_get_config(const struct model *m)
{
    return &m->cfg;
}

const float *model_get_weight(const struct model *m, int layer, enum model_weight w)
{
    switch (w) {
    case MODEL_W_EMBED:
        return m->embed;
    case MODEL_W_FINAL_NORM:
        return m->final_norm;
    case MODEL_W_LM_HEAD:
        return m->lm_head;
    default:
        if (layer < 0 || layer >= m->cfg.num_hidden_layers || (unsigned)w >= MODEL_NUM_WEIGHTS)
            return NULL;
        return m->layer_w[(size_t)layer * MODEL_NUM_WEIGHTS + w];
    }
}

size_t model_max_positions(const struct model_config *cfg)
{
    size_t n = (size_t)cfg->max_position_embeddings;

    /* Linear and dynamic scaling exist to run past the trained context. */
    if (cfg->rope_scaling == ROPE_SCALING_LINEAR || cfg->rope_scaling == ROPE_SCALING_DYNAMIC)
        n = (size_t)((double)n * cfg->rope_factor);
    return n;
}

void model_rope_inv_freq(float *out, const struct model_config *cfg, size_t seq_len)
{
    int d = cfg->head_dim, half = d / 2;
    double base = cfg->rope_theta;

    if (cfg->rope_scaling == ROPE_SCALING_DYNAMIC
        && seq_len > (size_t)cfg->max_position_embeddings) {
        double f = cfg->rope_factor, s = (double)seq_len, L = cfg->max_position_embeddings;

        base = base * pow(f * s / L - (f - 1.0), (double)d / (double)(d - 2));
    }
    for (int i = 0; i < half; i++) {
        /* HF computes this in float32: 1 / base^(2i/d). */
        float inv = 1.0f / powf((float)base, (float)(2 * i) / (float)d);

        if (cfg->rope_scaling == ROPE_SCALING_LINEAR) {
            inv /= cfg->rope_factor;
        } else if (cfg->rope_scaling == ROPE_SCALING_LLAMA3) {
            float f = cfg->rope_factor, lo = cfg->rope_low_freq_factor;
            float hi = cfg->rope_high_freq_factor;
            float L0 = (float)cfg->rope_original_max_position_embeddings;
            float wavelen = 2.0f * (float)M_PI / inv;

            if (wavelen > L0 / lo) {
                inv = inv / f;
            } else if (wavelen >= L0 / hi) {
                float s = (L0 / wavelen - lo) / (hi - lo);

                inv = (1.0f - s) * inv / f + s * inv;
            }
        }
        out[i] = inv;
    }
}

static int model_keep(struct model *m, float *buf, struct tr_error *err)
{
    if (m->n_owned == m->cap_owned) {
        size_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **grown = realloc(m->owned, cap * sizeof(*grown));

        if (grown == NULL) {
            free(buf);
            return tr_error_set(err, "out of memory loading weights");
        }
        m->owned = grown;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = buf;
    return 0;
}

/* Checks t against spec and returns an F32 view: in place for aligned F32, else a
 * converted copy owned by m. */
static const float *model_tensor_f32(struct model *m, const struct st_tensor *t,
                                     const struct model_tensor_spec *spec, const char *file,
                                     struct tr_error *err)
{
    float *buf;
    bool shape_ok = t->ndim == spec->ndim;

    for (int d = 0; shape_ok && d < spec->ndim; d++)
        shape_ok = t->shape[d] == spec->shape[d];
    if (!shape_ok) {
        char got[128] = "", want[64];
        size_t used = 0;

        for (int d = 0; d < t->ndim && used < sizeof(got) - 24; d++)
            used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%lld", d ? ", " : "",
                                     (long long)t->shape[d]);
        if (spec->ndim == 1)
            snprintf(want, sizeof(want), "%lld", (long long)spec->shape[0]);
        else
            snprintf(want, sizeof(want), "%lld, %lld", (long long)spec->shape[0],
                     (long long)spec->shape[1]);
        tr_error_set(err, "%s: tensor \"%s\" has shape [%s] but config.json implies [%s]; "
                     "the weights do not belong to this config", file, spec->name, got, want);
        return NULL;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
        tr_error_set(err, "%s: tensor \"%s\" has dtype %s; weights must be F32, F16 or BF16",
                     file, spec->name, st_dtype_name(t->dtype));
        return NULL;
    }
    if (t->dtype == ST_F32 && ((uintptr_t)t->data % sizeof(float)) == 0)
        return t->data;
    buf = malloc((t->numel > 0 ? t->numel : 1) * sizeof(float));
    if (buf == NULL) {
        tr_error_set(err, "out of memory converting tensor \"%s\"", spec->name);
        return NULL;
    }
    if (st_tensor_to_f32(t, buf, err) < 0 || model_keep(m, buf, err) < 0)
        return NULL;
    return buf;
}

/* Maps an expected tensor name to its slot in m. */
static const float **model_slot(struct model *m, const char *name)
{
    static const char *const suffix[MODEL_NUM_WEIGHTS] = {
        [MODEL_W_ATTN_NORM] = "input_layernorm.weight",
        [MODEL_W_Q] = "self_attn.q_proj.weight", [MODEL_W_K] = "self_attn.k_proj.weight",
        [MODEL_W_V] = "self_attn.v_proj.weight", [MODEL_W_O] = "self_attn.o_proj.weight",
        [MODEL_W_MLP_NORM] = "post_attention_layernorm.weight",
        [MODEL_W_GATE] = "mlp.gate_proj.weight", [MODEL_W_UP] = "mlp.up_proj.weight",
        [MODEL_W_DOWN] = "mlp.down_proj.weight",
        [MODEL_W_Q_BIAS] = "self_attn.q_proj.bias", [MODEL_W_K_BIAS] = "self_attn.k_proj.bias",
        [MODEL_W_V_BIAS] = "self_attn.v_proj.bias", [MODEL_W_O_BIAS] = "self_attn.o_proj.bias",
        [MODEL_W_GATE_BIAS] = "mlp.gate_proj.bias", [MODEL_W_UP_BIAS] = "mlp.up_proj.bias",
        [MODEL_W_DOWN_BIAS] = "mlp.down_proj.bias",
    };
    char *end;
    long layer;

    if (strcmp(name, "model.embed_tokens.weight") == 0)
        return &m->embed;
    if (strcmp(name, "model.norm.weight") == 0)
        return &m->final_norm;
    if (strcmp(name, "lm_head.weight") == 0)
        return &m->lm_head;
    layer = strtol(name + strlen("model.layers."), &end, 10);
    for (int w = MODEL_W_ATTN_NORM; w < MODEL_NUM_WEIGHTS; w++) {
        if (strcmp(end + 1, suffix[w]) == 0)
            return &m->layer_w[(size_t)layer * MODEL_NUM_WEIGHTS + (size_t)w];
    }
    return NULL;
}

/* Reads model.safetensors.index.json into a list of shard names and a weight map. */
static int model_open_shards(struct model *m, const char *dir, json_t **weight_map_out,
                             struct tr_error *err)
{
    char path[4096];
    json_error_t jerr;
    json_t *index = NULL, *map;
    const char *key;
    json_t *value;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
    if (access(path, F_OK) != 0) {
        snprintf(path, sizeof(path), "%s/model.safetensors", dir);
        m->shards = calloc(1, sizeof(*m->shards));
        if (m->shards == NULL)
            return tr_error_set(err, "out of memory opening %s", path);
        if (st_open(&m->shards[0], path, err) < 0)
            return -1;
        m->n_shards = 1;
        *weight_map_out = NULL;
        return 0;
    }
    index = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (index == NULL)
        return tr_error_set(err, "%s: invalid JSON at line %d: %s", path, jerr.line, jerr.text);
    map = json_object_get(index, "weight_map");
    if (!json_is_object(map)) {
        tr_error_set(err, "%s: \"weight_map\" is missing or not an object", path);
        goto out;
    }
    m->shards = calloc(json_object_size(map) + 1, sizeof(*m->shards));
    if (m->shards == NULL) {
        tr_error_set(err, "out of memory opening %s", path);
        goto out;
    }
    json_object_foreach(map, key, value) {
        const char *file = json_string_value(value);
        char shard_path[4096];
        bool seen = false;

        if (file == NULL || file[0] == '\0' || strchr(file, '/') != NULL
            || strcmp(file, "..") == 0 || strcmp(file, ".") == 0) {
            tr_error_set(err, "%s: weight_map entry \"%s\" must name a file in the same "
                         "directory", path, key);
            goto out;
        }
        snprintf(shard_path, sizeof(shard_path), "%s/%s", dir, file);
        for (size_t i = 0; i < m->n_shards && !seen; i++)
            seen = strcmp(st_label(m->shards[i]), shard_path) == 0;
        if (seen)
            continue;
        if (st_open(&m->shards[m->n_shards], shard_path, err) < 0)
            goto out;
        m->n_shards++;
    }
    *weight_map_out = json_incref(map);
    rc = 0;
out:
    json_decref(index);
    return rc;
}

/* Finds the tensor called name: through the weight map when sharded. */
static const struct st_tensor *model_find(const struct model *m, const json_t *weight_map,
                                          const char *dir, const char *name,
                                          const char **file_out)
{
    const char *file;
    char shard_path[4096];

    if (weight_map == NULL) {
        *file_out = st_label(m->shards[0]);
        return st_find(m->shards[0], name);
    }
    file = json_string_value(json_object_get(weight_map, name));
    if (file == NULL)
        return NULL;
    snprintf(shard_path, sizeof(shard_path), "%s/%s", dir, file);
    for (size_t i = 0; i < m->n_shards; i++) {
        if (strcmp(st_label(m->shards[i]), shard_path) == 0) {
            *file_out = st_label(m->shards[i]);
            return st_find(m->shards[i], name);
        }
    }
    return NULL;
}

static int model_bind_weights(struct model *m, const json_t *weight_map, const char *dir,
                              struct tr_error *err)
{
    struct model_tensor_spec *specs = NULL;
    size_t n = 0;
    int rc = -1;

    if (model_expected_tensors(&m->cfg, &specs, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *file = dir;
        const struct st_tensor *t = model_find(m, weight_map, dir, specs[i].name, &file);
        const float **slot = model_slot(m, specs[i].name);

        if (t == NULL) {
            tr_error_set(err, "%s: tensor \"%s\" is missing from the weights", dir,
                         specs[i].name);
            goto out;
        }
        *slot = model_tensor_f32(m, t, &specs[i], file, err);
        if (*slot == NULL)
            goto out;
    }
    if (m->cfg.tie_word_embeddings)
        m->lm_head = m->embed;
    rc = 0;
out:
    free(specs);
    return rc;
}

#define MODEL_DIR_NEEDS "it must contain config.json, model.safetensors and tokenizer.json"

/* Reports a missing model folder or config.json in one message that names the folder and
 * the files a model folder needs, before the loaders report a bare file path. */
static int check_model_dir(const char *model_dir, struct tr_error *err)
{
    struct stat st;
    char path[4096];

    if (stat(model_dir, &st) != 0)
        return tr_error_set(err, "model folder %s not found; " MODEL_DIR_NEEDS, model_dir);
    if (!S_ISDIR(st.st_mode))
        return tr_error_set(err, "model folder %s is a file, not a folder; " MODEL_DIR_NEEDS,
                            model_dir);
    snprintf(path, sizeof(path), "%s/config.json", model_dir);
    if (access(path, F_OK) != 0)
        return tr_error_set(err, "model folder %s lacks config.json; " MODEL_DIR_NEEDS,
                            model_dir);
    return 0;
}

/* Reports a model folder without weights, after config.json has been checked. */
static int check_model_weights(const char *model_dir, struct tr_error *err)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/model.safetensors", model_dir);
    if (access(path, F_OK) == 0)
        return 0;
    snprintf(path, sizeof(path), "%s/model.safetensors.index.json", model_dir);
    if (access(path, F_OK) != 0)
        return tr_error_set(err,
                            "model folder %s lacks model.safetensors (or "
                            "model.safetensors.index.json with its shards); " MODEL_DIR_NEEDS,
                            model_dir);
    return 0;
}

int model_open(struct model **out, const char *model_dir, struct tr_error *err)
{
    struct model *m = calloc(1, sizeof(*m));
    json_t *weight_map = NULL;
    char path[4096];
    int rc = -1;

    *out = NULL;
    if (m == NULL)
        return tr_error_set(err, "out of memory opening %s", model_dir);
    if (check_model_dir(model_dir, err) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/config.json", model_dir);
    if (model_config_load(&m->cfg, path, err) < 0 || check_model_weights(model_dir, err) < 0)
        goto out;
    m->layer_w = calloc((size_t)m->cfg.num_hidden_layers * MODEL_NUM_WEIGHTS, sizeof(float *));
    if (m->layer_w == NULL) {
        tr_error_set(err, "out of memory opening %s", model_dir);
        goto out;
    }
    if (model_open_shards(m, model_dir, &weight_map, err) < 0
        || model_bind_weights(m, weight_map, model_dir, err) < 0)
        goto out;
    *out = m;
    m = NULL;
    rc = 0;
out:
    json_decref(weight_map);
    model_free(m);
    return rc;
}

static float *model_random_tensor(struct model *m, struct rng *r, size_t n, float mean,
                                  float std, struct tr_error *err)
{
    float *buf = malloc((n > 0 ? n : 1) * sizeof(float));

    if (buf == NULL) {
        tr_error_set(err, "out of memory building a random model");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = mean + std * rng_normal(r);
    if (model_keep(m, buf, err) < 0)
        return NULL;
    return buf;
}

int model_new_random(struct model **out, const struct model_config *cfg, uint64_t seed,
                     struct tr_error *err)
{
    struct model *m = calloc(1, sizeof(*m));
    struct model_tensor_spec *specs = NULL;
    struct rng r;
    size_t n = 0;
    int rc = -1;

    *out = NULL;
    if (m == NULL)
        return tr_error_set(err, "out of memory building a random model");
    m->cfg = *cfg;
    rng_seed(&r, seed);
    m->layer_w = calloc((size_t)cfg->num_hidden_layers * MODEL_NUM_WEIGHTS, sizeof(float *));
    if (m->layer_w == NULL || model_expected_tensors(cfg, &specs, &n, err) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t numel = (size_t)specs[i].shape[0] * (size_t)(specs[i].ndim == 2 ? specs[i].shape[1] : 1);
        bool norm = strstr(specs[i].name, "norm") != NULL;
        const float **slot = model_slot(m, specs[i].name);

        bool table = strstr(specs[i].name, "embed") != NULL || strstr(specs[i].name, "lm_head");
        float std = table ? 1.0f : 1.0f / sqrtf((float)specs[i].shape[specs[i].ndim - 1]);

        /* Norm weights near 1 (not exactly 1) so their role shows up in gradient checks.
         * Unit-scale embeddings give logits large enough for a tiny model to fit a batch. */
        *slot = model_random_tensor(m, &r, numel, norm ? 1.0f : 0.0f, norm ? 0.1f : std, err);
        if (*slot == NULL)
            goto out;
    }
    if (cfg->tie_word_embeddings)
        m->lm_head = m->embed;
    *out = m;
    m = NULL;
    rc = 0;
out:
    free(specs);
    model_free(m);
    return rc;
}
