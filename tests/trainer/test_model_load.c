/* model_open on variants of stories260K written to temporary directories. The variants
 * are F16 and BF16 weights, two shards with an index and tied embeddings. The errors
 * checked are a missing tensor, a misshapen tensor, a wrong dtype and an index that points
 * outside the model directory. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"
#include "st.h"

static const int32_t prompt[] = {1, 403, 407, 261, 378};
static char src_dir[4096], tmp_dir[4096];
static struct st_file *src;
static float **src_data;

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1 << 16, 1);

    fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

/* Writes the stories260K tensors to dir/file in dtype, skipping skip (may be NULL), with
 * the tensors whose index has the given parity (-1: all). */
static void write_weights(const char *dir, const char *file, enum st_dtype dtype,
                          const char *skip, int parity)
{
    struct tr_error err = {0};
    struct st_writer *w = st_writer_new(&err);
    char path[4200];

    for (size_t i = 0; i < st_count(src); i++) {
        const struct st_tensor *t = st_tensor_at(src, i);

        if ((skip != NULL && strcmp(t->name, skip) == 0) || (parity >= 0 && (int)(i % 2) != parity))
            continue;
        st_writer_add(w, t->name, dtype, t->ndim, t->shape, src_data[i], &err);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (st_writer_save(w, path, &err) < 0)
        printf("# %s\n", err.msg);
    st_writer_free(w);
}

/* Makes a fresh model directory with the config (optionally edited) and returns its path. */
static const char *new_dir(const char *name, const char *from, const char *to)
{
    static char dir[4200];
    char cfg_path[4200], *cfg, *hit;

    snprintf(dir, sizeof(dir), "%s/%s", tmp_dir, name);
    mkdir(dir, 0700);
    snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", src_dir);
    cfg = read_text(cfg_path);
    if (from != NULL && (hit = strstr(cfg, from)) != NULL) {
        char *edited = calloc(strlen(cfg) + strlen(to) + 1, 1);

        memcpy(edited, cfg, (size_t)(hit - cfg));
        strcat(edited, to);
        strcat(edited, hit + strlen(from));
        free(cfg);
        cfg = edited;
    }
    write_text(dir, "config.json", cfg);
    free(cfg);
    return dir;
}

/* Runs the prompt and returns a malloc'd copy of the last position's logits, or NULL. */
static float *last_logits(const char *dir, struct tr_error *err)
{
    struct model *m = NULL;
    struct model_ctx *ctx;
    float *out = NULL;

    if (model_open(&m, dir, err) < 0)
        return NULL;
    ctx = model_ctx_new(m, NULL, 1, 5, false, err);
    if (ctx != NULL && model_forward(ctx, prompt, NULL, 1, 5, NULL, NULL, err) == 0) {
        out = malloc(512 * sizeof(float));
        memcpy(out, model_ctx_logits(ctx) + 4 * 512, 512 * sizeof(float));
    }
    model_ctx_free(ctx);
    model_free(m);
    return out;
}

/* Returns the largest |a - b| over the 512 logits, or infinity when a is NULL. */
static double max_diff(const float *a, const float *b)
{
    double d = 0;

    if (a == NULL)
        return INFINITY;
    for (int i = 0; i < 512; i++)
        d = fabs(a[i] - b[i]) > d ? fabs(a[i] - b[i]) : d;
    return d;
}

static void check_variants(void)
{
    struct tr_error err = {0};
    float *ref = last_logits(src_dir, &err), *got;
    const char *dir;

    CHECK(ref != NULL);
    if (ref == NULL)
        return;
    dir = new_dir("f16", NULL, NULL);
    write_weights(dir, "model.safetensors", ST_F16, NULL, -1);
    got = last_logits(dir, &err);
    CHECK(max_diff(got, ref) < 2e-2);
    free(got);

    dir = new_dir("bf16", NULL, NULL);
    write_weights(dir, "model.safetensors", ST_BF16, NULL, -1);
    got = last_logits(dir, &err);
    CHECK(max_diff(got, ref) < 0.5);
    CHECK(max_diff(got, ref) > 0.0);
    free(got);

    /* Two shards hold the same F32 data, so the logits are bit-identical. */
    dir = new_dir("sharded", NULL, NULL);
    write_weights(dir, "model-00001-of-00002.safetensors", ST_F32, NULL, 0);
    write_weights(dir, "model-00002-of-00002.safetensors", ST_F32, NULL, 1);
    {
        char *index = calloc(1 << 16, 1);
        size_t used = (size_t)sprintf(index, "{\"metadata\":{},\"weight_map\":{");

        for (size_t i = 0; i < st_count(src); i++)
            used += (size_t)sprintf(index + used, "%s\"%s\":\"model-0000%zu-of-00002.safetensors\"",
                                    i ? "," : "", st_tensor_at(src, i)->name, i % 2 + 1);
        strcat(index, "}}");
        write_text(dir, "model.safetensors.index.json", index);
        free(index);
    }
    got = last_logits(dir, &err);
    CHECK(max_diff(got, ref) == 0.0);
    free(got);

    /* stories260K stores lm_head equal to the embedding, so tying changes nothing. */
    dir = new_dir("tied", "\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true");
    write_weights(dir, "model.safetensors", ST_F32, "lm_head.weight", -1);
    got = last_logits(dir, &err);
    CHECK(max_diff(got, ref) == 0.0);
    free(got);
    free(ref);
}

static void check_errors(void)
{
    struct tr_error err = {0};
    struct model *m = NULL;
    const char *dir;
    char path[4300];

    dir = new_dir("missing", NULL, NULL);
    write_weights(dir, "model.safetensors", ST_F32, "model.layers.3.mlp.up_proj.weight", -1);
    CHECK_EQ_INT(model_open(&m, dir, &err), -1);
    CHECK(strstr(err.msg, "\"model.layers.3.mlp.up_proj.weight\" is missing") != NULL);

    dir = new_dir("shape", "\"intermediate_size\": 172", "\"intermediate_size\": 171");
    write_weights(dir, "model.safetensors", ST_F32, NULL, -1);
    CHECK_EQ_INT(model_open(&m, dir, &err), -1);
    CHECK(strstr(err.msg, "has shape [172, 64] but config.json implies [171, 64]") != NULL);

    /* Turn model.norm.weight into I32 by editing its dtype in the header. */
    dir = new_dir("dtype", NULL, NULL);
    write_weights(dir, "model.safetensors", ST_F32, NULL, -1);
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    {
        FILE *f = fopen(path, "r+b");
        char head[8192] = {0}, *hit;

        fread(head, 1, sizeof(head) - 1, f);
        /* The header text starts after the 8-byte length. */
        hit = strstr(head + 8, "\"model.norm.weight\":{\"dtype\":\"F32\"");
        CHECK(hit != NULL);
        if (hit != NULL) {
            fseek(f, (long)(hit - head) + (long)strlen("\"model.norm.weight\":{\"dtype\":\""), SEEK_SET);
            fputc('I', f);
        }
        fclose(f);
    }
    CHECK_EQ_INT(model_open(&m, dir, &err), -1);
    CHECK(strstr(err.msg, "\"model.norm.weight\" has dtype I32") != NULL);

    dir = new_dir("escape", NULL, NULL);
    write_text(dir, "model.safetensors.index.json",
               "{\"weight_map\":{\"model.norm.weight\":\"../model.safetensors\"}}");
    CHECK_EQ_INT(model_open(&m, dir, &err), -1);
    CHECK(strstr(err.msg, "same directory") != NULL);

    dir = new_dir("noweights", NULL, NULL);
    CHECK_EQ_INT(model_open(&m, dir, &err), -1);
    CHECK(strstr(err.msg, "model.safetensors") != NULL);

    dir = new_dir("badconfig", "\"model_type\": \"llama\"", "\"model_type\": \"bert\"");
    CHECK_EQ_INT(model_open(&m, dir, &err), -1);
    CHECK(strstr(err.msg, "\"bert\" is not supported") != NULL);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    struct tr_error err = {0};
    char path[4200], cmd[4200];

    snprintf(src_dir, sizeof(src_dir), "%s/models/stories260K",
             corpus ? corpus : "/work/shared/corpus");
    snprintf(path, sizeof(path), "%s/model.safetensors", src_dir);
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_model_load_XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(tmp_dir) != NULL);
    CHECK_EQ_INT(st_open(&src, path, &err), 0);
    if (src == NULL)
        return test_finish();
    src_data = calloc(st_count(src), sizeof(float *));
    for (size_t i = 0; i < st_count(src); i++) {
        src_data[i] = malloc(st_tensor_at(src, i)->numel * sizeof(float));
        st_tensor_to_f32(st_tensor_at(src, i), src_data[i], &err);
    }
    check_variants();
    check_errors();
    for (size_t i = 0; i < st_count(src); i++)
        free(src_data[i]);
    free(src_data);
    st_close(src);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    CHECK_EQ_INT(system(cmd), 0);
    return test_finish();
}
