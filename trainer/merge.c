/* merge: folds a lora_set into the base weights and writes a full model directory. The
 * merged product B A is computed with cblas_sgemm in float32; unadapted tensors are
 * written straight from the model's F32 views. */
#include "merge.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files of a model directory that the merged directory keeps; config.json gets the merged
 * dtype, the others are copied unchanged. */
static const char *const copied_files[] = {
    "config.json",           "generation_config.json",  "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "added_tokens.json",
};

struct weight_suffix {
    const char *suffix;
    enum model_weight weight;
    int target; /* enum lora_target of the linear, or -1 */
};

static const struct weight_suffix layer_weights[] = {
    {"input_layernorm.weight", MODEL_W_ATTN_NORM, -1},
    {"self_attn.q_proj.weight", MODEL_W_Q, LORA_Q_PROJ},
    {"self_attn.k_proj.weight", MODEL_W_K, LORA_K_PROJ},
    {"self_attn.v_proj.weight", MODEL_W_V, LORA_V_PROJ},
    {"self_attn.o_proj.weight", MODEL_W_O, LORA_O_PROJ},
    {"self_attn.q_proj.bias", MODEL_W_Q_BIAS, -1},
    {"self_attn.k_proj.bias", MODEL_W_K_BIAS, -1},
    {"self_attn.v_proj.bias", MODEL_W_V_BIAS, -1},
    {"self_attn.o_proj.bias", MODEL_W_O_BIAS, -1},
    {"post_attention_layernorm.weight", MODEL_W_MLP_NORM, -1},
    {"mlp.gate_proj.weight", MODEL_W_GATE, LORA_GATE_PROJ},
    {"mlp.up_proj.weight", MODEL_W_UP, LORA_UP_PROJ},
    {"mlp.down_proj.weight", MODEL_W_DOWN, LORA_DOWN_PROJ},
    {"mlp.gate_proj.bias", MODEL_W_GATE_BIAS, -1},
    {"mlp.up_proj.bias", MODEL_W_UP_BIAS, -1},
    {"mlp.down_proj.bias", MODEL_W_DOWN_BIAS, -1},
};

/* Maps an HF tensor name to (layer, weight, lora target); returns false when unknown. */
static bool name_to_weight(const char *name, int *layer, enum model_weight *w, int *target)
{
    const char *p;
    char *end = NULL;
    long index;

    *layer = -1;
    *target = -1;
    if (strcmp(name, "model.embed_tokens.weight") == 0)
        *w = MODEL_W_EMBED;
    else if (strcmp(name, "model.norm.weight") == 0)
        *w = MODEL_W_FINAL_NORM;
    else if (strcmp(name, "lm_head.weight") == 0)
        *w = MODEL_W_LM_HEAD;
    else if (strncmp(name, "model.layers.", 13) != 0)
        return false;
    else {
        p = name + 13;
        index = strtol(p, &end, 10);
        if (end == p || *end != '.' || index < 0 || index > 100000)
            return false;
        for (size_t i = 0; i < sizeof(layer_weights) / sizeof(layer_weights[0]); i++) {
            if (strcmp(end + 1, layer_weights[i].suffix) == 0) {
                *layer = (int)index;
                *w = layer_weights[i].weight;
                *target = layer_weights[i].target;
                return true;
            }
        }
        return false;
    }
    return true;
}

static int copy_file(const char *from, const char *to, struct tr_error *err)
{
    char buf[65536];
    FILE *in = NULL, *out = NULL;
    size_t n;
    int rc = -1;

    in = fopen(from, "rb");
    if (in == NULL)
        return tr_error_set(err, "cannot open %s: %s", from, strerror(errno));
    out = fopen(to, "wb");
    if (out == NULL) {
        tr_error_set(err, "cannot create %s: %s", to, strerror(errno));
        goto done;
    }
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            tr_error_set(err, "cannot write %s: %s", to, strerror(errno));
            goto done;
        }
    }
    if (ferror(in)) {
        tr_error_set(err, "cannot read %s", from);
        goto done;
    }
    rc = 0;
done:
    fclose(in);
    if (out != NULL && fclose(out) != 0 && rc == 0)
        rc = tr_error_set(err, "cannot write %s: %s", to, strerror(errno));
    return rc;
}

/* Returns the torch name of a merge dtype, as config.json spells it. */
static const char *torch_dtype_name(enum st_dtype dtype)
{
    switch (dtype) {
    case ST_BF16:
        return "bfloat16";
    case ST_F16:
        return "float16";
    default:
        return "float32";
    }
}

/* Returns the end of the JSON string or null literal at p, or NULL when p is neither. */
static const char *skip_json_scalar(const char *p)
{
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    if (*p != '"')
        return NULL;
    for (p++; *p != '\0' && *p != '"'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

/* Finds the value of a top-level-looking key in config text: the span [*start, *end) of
 * its string or null value. Returns false when the key or such a value is absent. */
static bool find_dtype_value(const char *text, const char *key, const char **start,
                             const char **end)
{
    char quoted[32];
    const char *p;

    snprintf(quoted, sizeof(quoted), "\"%s\"", key);
    for (p = strstr(text, quoted); p != NULL; p = strstr(p + 1, quoted)) {
        const char *v = p + strlen(quoted);

        while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
            v++;
        if (*v != ':')
            continue;
        v++;
        while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
            v++;
        *start = v;
        *end = skip_json_scalar(v);
        if (*end != NULL)
            return true;
    }
    return false;
}

/* Writes the base's config.json to path with "torch_dtype" and "dtype" set to the merged
 * dtype, so loaders that follow them load the weights in the type they are stored in. The
 * rest of the text is copied unchanged. A config with neither key gets "torch_dtype". */
static int write_config(const char *from, const char *path, enum st_dtype dtype,
                        struct tr_error *err)
{
    static const char *const keys[] = {"torch_dtype", "dtype"};
    const char *name = torch_dtype_name(dtype);
    char *text = NULL, *out = NULL;
    size_t len = 0, out_len = 0;
    FILE *in = fopen(from, "rb"), *stream;
    bool found = false;
    int rc = -1;

    if (in == NULL)
        return tr_error_set(err, "cannot open %s: %s", from, strerror(errno));
    stream = open_memstream(&text, &len);
    if (stream != NULL) {
        char buf[65536];
        size_t n;

        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, stream);
        fclose(stream);
    }
    fclose(in);
    if (text == NULL)
        return tr_error_set(err, "cannot read %s", from);
    stream = open_memstream(&out, &out_len);
    if (stream == NULL) {
        free(text);
        return tr_error_set(err, "cannot allocate the merged config");
    }
    {
        const char *rest = text;

        /* Keys are replaced in the order they appear in the text. */
        for (;;) {
            const char *best_start = NULL, *best_end = NULL, *start, *end;

            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                if (find_dtype_value(rest, keys[k], &start, &end) &&
                    (best_start == NULL || start < best_start)) {
                    best_start = start;
                    best_end = end;
                }
            }
            if (best_start == NULL)
                break;
            fprintf(stream, "%.*s\"%s\"", (int)(best_start - rest), rest, name);
            rest = best_end;
            found = true;
        }
        if (!found) {
            const char *brace = strchr(rest, '{');

            if (brace != NULL) {
                const char *next = brace + 1;

                while (*next == ' ' || *next == '\t' || *next == '\r' || *next == '\n')
                    next++;
                fprintf(stream, "%.*s\n  \"torch_dtype\": \"%s\"%s", (int)(brace + 1 - rest), rest,
                        name, *next == '}' ? "" : ",");
                rest = brace + 1;
            }
        }
        fputs(rest, stream);
    }
    fclose(stream);
    free(text);
    if (out == NULL)
        return tr_error_set(err, "cannot allocate the merged config");
    stream = fopen(path, "wb");
    if (stream == NULL)
        tr_error_set(err, "cannot create %s: %s", path, strerror(errno));
    else if (fwrite(out, 1, out_len, stream) != out_len || fclose(stream) != 0) {
        stream = NULL;
        tr_error_set(err, "cannot write %s: %s", path, strerror(errno));
    } else {
        stream = NULL;
        rc = 0;
    }
    if (stream != NULL)
        fclose(stream);
    free(out);
    return rc;
}

static int copy_model_files(const char *out_dir, const char *base_dir, enum st_dtype dtype,
                            struct tr_error *err)
{
    for (size_t i = 0; i < sizeof(copied_files) / sizeof(copied_files[0]); i++) {
        char from[4096], to[4096];

        snprintf(from, sizeof(from), "%s/%s", base_dir, copied_files[i]);
        snprintf(to, sizeof(to), "%s/%s", out_dir, copied_files[i]);
        if (access(from, F_OK) != 0)
            continue;
        if (strcmp(copied_files[i], "config.json") == 0 ? write_config(from, to, dtype, err) < 0
                                                        : copy_file(from, to, err) < 0)
            return -1;
    }
    return 0;
}

/* Returns a malloc'd copy of w (out, in) plus scale * B (out, r) A (r, in). */
static float *merged_weight(const float *w, const struct lora_matrix *lm, int rank, float scale)
{
    size_t n = (size_t)lm->out * (size_t)lm->in;
    float *merged = malloc(n * sizeof(float));

    if (merged == NULL)
        return NULL;
    memcpy(merged, w, n * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lm->out, lm->in, rank, scale, lm->B,
                rank, lm->A, lm->in, 1.0f, merged, lm->in);
    return merged;
}

struct merge_buffers {
    float **data; /* merged copies, kept until the writer has saved */
    size_t n;
};

static int add_tensor(struct st_writer *wr, struct merge_buffers *bufs,
                      const struct model_tensor_spec *spec, const struct model *m,
                      const struct lora_set *lora, enum st_dtype dtype, struct tr_error *err)
{
    enum model_weight w;
    int layer, target;
    const float *data;
    const struct lora_matrix *lm = NULL;

    if (!name_to_weight(spec->name, &layer, &w, &target))
        return tr_error_set(err, "merge: no weight known for tensor %s", spec->name);
    data = model_get_weight(m, layer, w);
    if (data == NULL)
        return tr_error_set(err, "merge: the model has no tensor %s", spec->name);
    if (lora != NULL && target >= 0)
        lm = lora_set_get(lora, layer, (enum lora_target)target);
    if (lm != NULL && lm->A != NULL) {
        float *merged = merged_weight(data, lm, lora->rank, lora->scale);

        if (merged == NULL)
            return tr_error_set(err, "cannot allocate the merged %s", spec->name);
        bufs->data[bufs->n++] = merged;
        data = merged;
    }
    return st_writer_add(wr, spec->name, dtype, spec->ndim, spec->shape, data, err);
}

static int write_weights(const char *out_dir, const struct model *m, const struct lora_set *lora,
                         enum st_dtype dtype, struct tr_error *err)
{
    struct model_tensor_spec *specs = NULL;
    struct merge_buffers bufs = {NULL, 0};
    struct st_writer *wr = NULL;
    size_t n_specs = 0;
    char path[4096];
    int rc = -1;

    if (model_expected_tensors(model_get_config(m), &specs, &n_specs, err) < 0)
        return -1;
    bufs.data = calloc(n_specs + 1, sizeof(float *));
    wr = st_writer_new(err);
    if (bufs.data == NULL || wr == NULL) {
        if (bufs.data == NULL)
            tr_error_set(err, "cannot allocate the merge buffers");
        goto out;
    }
    if (st_writer_set_metadata(wr, "format", "pt", err) < 0)
        goto out;
    for (size_t i = 0; i < n_specs; i++) {
        if (add_tensor(wr, &bufs, &specs[i], m, lora, dtype, err) < 0)
            goto out;
    }
    snprintf(path, sizeof(path), "%s/model.safetensors", out_dir);
    rc = st_writer_save(wr, path, err);
out:
    st_writer_free(wr);
    for (size_t i = 0; i < bufs.n; i++)
        free(bufs.data[i]);
    free(bufs.data);
    free(specs);
    return rc;
}

/* Removes the staging folder and every file in it. The folder is the merge's own, made by
 * mkdtemp, and flat. */
static void remove_stage(const char *stage)
{
    DIR *d = opendir(stage);
    struct dirent *e;
    char path[PATH_MAX + 256];

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", stage, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(stage);
}

/* Moves the files of stage into out_dir, replacing files of the same name. A missing
 * out_dir becomes the stage itself, renamed. */
static int publish_stage(const char *stage, const char *out_dir, struct tr_error *err)
{
    char from[PATH_MAX + 256], to[PATH_MAX + 256];
    struct dirent *e;
    struct stat st;
    DIR *d;
    int rc = 0;

    if (chmod(stage, 0755) != 0)
        return tr_error_set(err, "cannot set the permissions of %s: %s", stage, strerror(errno));
    if (stat(out_dir, &st) != 0) {
        if (rename(stage, out_dir) != 0)
            return tr_error_set(err, "cannot rename %s to %s: %s", stage, out_dir, strerror(errno));
        return 0;
    }
    d = opendir(stage);
    if (d == NULL)
        return tr_error_set(err, "cannot read %s: %s", stage, strerror(errno));
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(from, sizeof(from), "%s/%s", stage, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", out_dir, e->d_name);
        if (rename(from, to) != 0)
            rc = tr_error_set(err, "cannot move %s to %s: %s", from, to, strerror(errno));
    }
    closedir(d);
    if (rc == 0)
        rmdir(stage);
    return rc;
}

int merge_write(const char *out_dir, const char *base_dir, const struct model *m,
                const struct lora_set *lora, enum st_dtype dtype, struct tr_error *err)
{
    char stage[PATH_MAX - 64]; /* room for "/model.safetensors.tmp" in 4096-byte paths */
    struct stat st;
    size_t len = strlen(out_dir);

    if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16)
        return tr_error_set(err, "merge: dtype %s is not supported; use F32, F16 or BF16",
                            st_dtype_name(dtype));
    if (stat(out_dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return tr_error_set(err, "--out %s exists and is not a folder; choose a folder", out_dir);
    /* Everything is written into a staging folder next to out_dir first, so a merge that
     * fails (a full disk, for example) leaves neither a model folder without weights nor a
     * half-replaced previous merge. */
    while (len > 1 && out_dir[len - 1] == '/')
        len--;
    if ((size_t)snprintf(stage, sizeof(stage), "%.*s.merge-XXXXXX", (int)len, out_dir) >=
        sizeof(stage))
        return tr_error_set(err, "--out path is too long: %s", out_dir);
    if (mkdtemp(stage) == NULL)
        return tr_error_set(err, "cannot create a folder next to %s: %s; choose a writable --out",
                            out_dir, strerror(errno));
    /* NOTE: the weights go to one model.safetensors, unsharded, whatever the model size. */
    if (copy_model_files(stage, base_dir, dtype, err) < 0 ||
        write_weights(stage, m, lora, dtype, err) < 0 || publish_stage(stage, out_dir, err) < 0) {
        remove_stage(stage);
        return -1;
    }
    return 0;
}
