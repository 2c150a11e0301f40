/* Tests adapter I/O against adapters made by the peft library (in ATELIER_CORPUS/adapters)
 * and against stories260K: configs and safetensors headers are read in full, adapters for
 * other architectures or in pickle format fail with a reason, and a saved adapter loads
 * back unchanged. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapter.h"
#include "harness.h"
#include "lora.h"
#include "model.h"

static char corpus[1024];

static char *adapter_dir(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *p = buf[next++ % 4];

    snprintf(p, 1200, "%s/adapters/%s", corpus, name);
    return p;
}

static const struct adapter_tensor *find_tensor(const struct adapter_info *info, const char *name)
{
    for (size_t i = 0; i < info->n_tensors; i++) {
        if (strcmp(info->tensors[i].name, name) == 0)
            return &info->tensors[i];
    }
    return NULL;
}

static void test_gpt2_causal_inspect(void)
{
    struct adapter_info *info = NULL;
    struct tr_error err = {{0}};
    const struct adapter_tensor *t;

    CHECK_EQ_INT(adapter_inspect(&info, adapter_dir("gpt2-lora-causal-cattn-cproj-r8"), &err), 0);
    if (info == NULL) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK_EQ_STR(info->config.peft_type, "LORA");
    CHECK_EQ_STR(info->config.task_type, "CAUSAL_LM");
    CHECK_EQ_STR(info->config.base_model, "gpt2");
    CHECK_EQ_INT(info->config.r, 8);
    CHECK_NEAR(info->config.lora_alpha, 32.0, 0);
    CHECK_NEAR(info->config.lora_dropout, 0.05, 1e-12);
    CHECK(info->config.fan_in_fan_out);
    CHECK(!info->config.use_rslora);
    CHECK(!info->config.use_dora);
    CHECK_EQ_INT(info->config.n_target_modules, 2);
    CHECK_EQ_STR(info->config.target_modules[0], "c_attn");
    CHECK_EQ_STR(info->config.target_modules[1], "c_proj");
    /* c_proj names both attn.c_proj and mlp.c_proj, so 12 layers x 3 modules x (A, B). */
    CHECK_EQ_INT(info->n_tensors, 72);
    CHECK_EQ_INT(info->n_lora_pairs, 36);
    CHECK_EQ_INT(info->n_other, 0);
    t = find_tensor(info, "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight");
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK_EQ_INT(t->kind, ADAPTER_LORA_B);
        CHECK_EQ_INT(t->shape[0], 2304);
        CHECK_EQ_INT(t->shape[1], 8);
        CHECK_EQ_INT(t->layer, 0);
        CHECK_EQ_STR(t->leaf, "c_attn");
        CHECK_EQ_STR(t->module, "transformer.h.0.attn.c_attn");
    }
    t = find_tensor(info, "base_model.model.transformer.h.11.mlp.c_proj.lora_A.weight");
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK_EQ_INT(t->kind, ADAPTER_LORA_A);
        CHECK_EQ_INT(t->shape[0], 8);
        CHECK_EQ_INT(t->shape[1], 3072);
        CHECK_EQ_INT(t->layer, 11);
        CHECK_EQ_INT(t->dtype, ST_F32);
    }
    adapter_info_free(info);
}

static void test_gpt2_seqcls_inspect(void)
{
    struct adapter_info *info = NULL;
    struct tr_error err = {{0}};
    const struct adapter_tensor *t;

    CHECK_EQ_INT(adapter_inspect(&info, adapter_dir("gpt2-lora-seqcls-cattn-r8"), &err), 0);
    if (info == NULL) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK_EQ_STR(info->config.task_type, "SEQ_CLS");
    CHECK_NEAR(info->config.lora_alpha, 8.0, 0);
    CHECK_EQ_INT(info->n_lora_pairs, 12);
    /* The classifier head is saved whole next to the LoRA pairs. */
    CHECK_EQ_INT(info->n_other, 1);
    t = find_tensor(info, "base_model.model.score.weight");
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK_EQ_INT(t->kind, ADAPTER_OTHER);
        CHECK_EQ_INT(t->shape[0], 6);
        CHECK_EQ_INT(t->shape[1], 768);
        CHECK_EQ_INT(t->layer, -1);
    }
    adapter_info_free(info);
}

static void test_legacy_bin_rejected(void)
{
    struct adapter_config cfg;
    struct adapter_info *info = NULL;
    struct tr_error err = {{0}};
    const char *dir = adapter_dir("gpt2-lora-seqcls-bin-legacy");

    CHECK_EQ_INT(adapter_config_read(&cfg, dir, &err), 0);
    CHECK_EQ_STR(cfg.task_type, "SEQ_CLS");
    CHECK_EQ_INT(cfg.n_target_modules, 2);
    CHECK_EQ_STR(cfg.target_modules[0], "attn.c_attn");
    CHECK_EQ_STR(cfg.target_modules[1], "attn.c_proj");
    CHECK_NEAR(cfg.lora_dropout, 0.0, 0);
    adapter_config_dispose(&cfg);

    CHECK_EQ_INT(adapter_inspect(&info, dir, &err), -1);
    CHECK(info == NULL);
    CHECK(strstr(err.msg, "adapter_model.bin") != NULL);
    CHECK(strstr(err.msg, "pickle") != NULL);
    CHECK(strstr(err.msg, "safetensors") != NULL);
}

static void test_llama_family_inspect(void)
{
    struct adapter_info *info = NULL;
    struct tr_error err = {{0}};
    const struct adapter_tensor *t;

    CHECK_EQ_INT(adapter_inspect(&info, adapter_dir("smollm-135m-instruct-lora-qv-r16"), &err), 0);
    if (info == NULL) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(info->config.r, 16);
    CHECK_NEAR(info->config.lora_alpha, 32.0, 0);
    CHECK_EQ_INT(info->n_lora_pairs, 30 * 2);
    t = find_tensor(info, "base_model.model.model.layers.29.self_attn.v_proj.lora_B.weight");
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK_EQ_INT(t->shape[0], 192);
        CHECK_EQ_INT(t->shape[1], 16);
    }
    adapter_info_free(info);

    CHECK_EQ_INT(adapter_inspect(&info, adapter_dir("qwen2.5-0.5b-instruct-lora-qv-r8"), &err), 0);
    if (info != NULL) {
        CHECK_EQ_STR(info->config.base_model, "Qwen/Qwen2.5-0.5B-Instruct");
        CHECK_EQ_INT(info->n_lora_pairs, 24 * 2);
    }
    adapter_info_free(info);
}

static void test_load_against_stories(const struct model *m)
{
    struct lora_set *lora = NULL;
    struct tr_error err = {{0}};

    CHECK_EQ_INT(adapter_load(&lora, adapter_dir("gpt2-lora-causal-cattn-cproj-r8"), m, &err), -1);
    CHECK(lora == NULL);
    CHECK(strstr(err.msg, "c_attn") != NULL);
    CHECK(strstr(err.msg, "not modules of a llama model") != NULL);

    CHECK_EQ_INT(adapter_load(&lora, adapter_dir("gpt2-lora-seqcls-bin-legacy"), m, &err), -1);
    CHECK(strstr(err.msg, "pickle") != NULL);

    /* Same family, other shapes: the first tensor that does not fit is named. */
    CHECK_EQ_INT(adapter_load(&lora, adapter_dir("smollm-135m-instruct-lora-qv-r16"), m, &err), -1);
    CHECK(strstr(err.msg, "layers.") != NULL);
    CHECK(strstr(err.msg, "shape [16, 576]") != NULL || strstr(err.msg, "for layer") != NULL);
    printf("# smollm adapter on stories260K: %s\n", err.msg);
}

static void test_save_load_round_trip(const struct model *m)
{
    const struct model_config *cfg = model_get_config(m);
    struct tr_error err = {{0}};
    struct lora_set *lora = NULL, *back = NULL;
    struct adapter_save_info info = {"karpathy/stories260K", "main"};
    struct adapter_config read_cfg;
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    struct lora_matrix *a, *b;
    bool same = true;

    snprintf(dir, sizeof(dir), "%s/atelier-adapter-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    lora =
        lora_set_new(cfg, 4, 8.0f, true, 0.1f,
                     (1u << LORA_K_PROJ) | (1u << LORA_O_PROJ) | (1u << LORA_UP_PROJ), false, &err);
    CHECK(lora != NULL);
    if (lora == NULL)
        return;
    lora_set_init(lora, 5);
    /* Give B values too, so a swap of A and B or of layers cannot pass. */
    for (int l = 0; l < lora->num_layers; l++) {
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            struct lora_matrix *lm = lora_set_get(lora, l, (enum lora_target)t);

            for (int i = 0; lm != NULL && i < lm->out * lora->rank; i++)
                lm->B[i] = 0.001f * (float)(i % 17) - 0.002f * (float)l + 0.01f * (float)t;
        }
    }
    CHECK_EQ_INT(adapter_save(dir, lora, &info, &err), 0);
    CHECK_EQ_INT(adapter_config_read(&read_cfg, dir, &err), 0);
    CHECK_EQ_INT(read_cfg.r, 4);
    CHECK(read_cfg.use_rslora);
    CHECK_NEAR(read_cfg.lora_dropout, 0.1, 1e-12);
    CHECK_EQ_STR(read_cfg.revision, "main");
    CHECK_EQ_INT(read_cfg.n_target_modules, 3);
    adapter_config_dispose(&read_cfg);

    CHECK_EQ_INT(adapter_load(&back, dir, m, &err), 0);
    if (back != NULL) {
        CHECK_EQ_INT(back->target_mask, lora->target_mask);
        CHECK_NEAR(back->scale, lora->scale, 0);
        for (int l = 0; l < lora->num_layers; l++) {
            for (int t = 0; t < LORA_NUM_TARGETS; t++) {
                a = lora_set_get(lora, l, (enum lora_target)t);
                b = lora_set_get(back, l, (enum lora_target)t);
                if (a == NULL || b == NULL) {
                    same = same && a == b;
                    continue;
                }
                same = same && memcmp(a->A, b->A, (size_t)a->in * 4 * sizeof(float)) == 0 &&
                       memcmp(a->B, b->B, (size_t)a->out * 4 * sizeof(float)) == 0;
            }
        }
        CHECK(same);
    }
    lora_set_free(back);
    lora_set_free(lora);
    {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_EQ_INT(system(cmd), 0);
    }
}

/* Rewrites the weights of an adapter saved by adapter_save in BF16, as users who cast before
 * saving do, and checks that it loads with BF16 rounding of each value. */
static void test_bf16_adapter_loads(const struct model *m)
{
    const struct model_config *cfg = model_get_config(m);
    struct tr_error err = {{0}};
    struct lora_set *lora = NULL, *back = NULL;
    struct adapter_save_info info = {"karpathy/stories260K", NULL};
    struct st_writer *w = NULL;
    char dir[512], path[600], name[256];
    const char *tmp = getenv("TMPDIR");
    struct lora_matrix *lm, *got;
    double worst = 0.0;

    snprintf(dir, sizeof(dir), "%s/atelier-bf16-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    lora = lora_set_new(cfg, 2, 4.0f, false, 0.0f, 1u << LORA_V_PROJ, false, &err);
    CHECK(lora != NULL);
    if (lora == NULL)
        return;
    lora_set_init(lora, 9);
    for (int l = 0; l < lora->num_layers; l++) {
        lm = lora_set_get(lora, l, LORA_V_PROJ);
        for (int i = 0; i < lm->out * 2; i++)
            lm->B[i] = 0.01f * (float)(i + l);
    }
    CHECK_EQ_INT(adapter_save(dir, lora, &info, &err), 0);
    w = st_writer_new(&err);
    for (int l = 0; w != NULL && l < lora->num_layers; l++) {
        int64_t shape_a[2], shape_b[2];

        lm = lora_set_get(lora, l, LORA_V_PROJ);
        shape_a[0] = 2;
        shape_a[1] = lm->in;
        shape_b[0] = lm->out;
        shape_b[1] = 2;
        adapter_tensor_name(name, sizeof(name), l, LORA_V_PROJ, false);
        CHECK_EQ_INT(st_writer_add(w, name, ST_BF16, 2, shape_a, lm->A, &err), 0);
        adapter_tensor_name(name, sizeof(name), l, LORA_V_PROJ, true);
        CHECK_EQ_INT(st_writer_add(w, name, ST_BF16, 2, shape_b, lm->B, &err), 0);
    }
    snprintf(path, sizeof(path), "%s/adapter_model.safetensors", dir);
    CHECK_EQ_INT(st_writer_save(w, path, &err), 0);
    st_writer_free(w);

    CHECK_EQ_INT(adapter_load(&back, dir, m, &err), 0);
    if (back != NULL) {
        for (int l = 0; l < lora->num_layers; l++) {
            lm = lora_set_get(lora, l, LORA_V_PROJ);
            got = lora_set_get(back, l, LORA_V_PROJ);
            for (int i = 0; i < lm->out * 2; i++)
                worst = fmax(worst, fabs((double)lm->B[i] - (double)got->B[i]) /
                                        fmax(fabs((double)lm->B[i]), 1e-3));
        }
        /* BF16 keeps 8 significant bits: a relative error of at most 2^-8 after rounding. */
        CHECK(worst > 0.0);
        CHECK(worst <= 1.0 / 256.0);
    }
    lora_set_free(back);
    lora_set_free(lora);
    {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_EQ_INT(system(cmd), 0);
    }
}

/* Saves a one-target adapter, sets key to value_json in its adapter_config.json and
 * expects adapter_load to fail with needle in the message. */
static void expect_config_rejected(const struct model *m, const char *key, const char *value_json,
                                   const char *needle)
{
    struct tr_error err = {{0}};
    struct lora_set *lora = NULL, *back = NULL;
    struct adapter_save_info info = {"karpathy/stories260K", NULL};
    char dir[512], path[600], cmd[600];
    const char *tmp = getenv("TMPDIR");
    json_error_t jerr;
    json_t *cfg, *value;

    snprintf(dir, sizeof(dir), "%s/atelier-config-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    lora = lora_set_new(model_get_config(m), 2, 4.0f, false, 0.0f, 1u << LORA_Q_PROJ, false, &err);
    CHECK(lora != NULL);
    CHECK_EQ_INT(adapter_save(dir, lora, &info, &err), 0);
    snprintf(path, sizeof(path), "%s/adapter_config.json", dir);
    cfg = json_load_file(path, 0, &jerr);
    value = json_loads(value_json, JSON_DECODE_ANY, &jerr);
    CHECK(cfg != NULL && value != NULL);
    json_object_set_new(cfg, key, value);
    CHECK_EQ_INT(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);

    CHECK_EQ_INT(adapter_load(&back, dir, m, &err), -1);
    if (strstr(err.msg, needle) == NULL)
        printf("# %s: %s\n", key, err.msg);
    CHECK(strstr(err.msg, needle) != NULL);
    lora_set_free(back);
    lora_set_free(lora);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* Config fields that change which layers or modules PEFT adapts are rejected, because the
 * loader would apply the adapter as if they were absent. */
static void test_partial_adapters_rejected(const struct model *m)
{
    expect_config_rejected(m, "layers_to_transform", "[0, 2]", "layers_to_transform is set");
    expect_config_rejected(m, "layers_to_transform", "1", "retrain without layers_to_transform");
    expect_config_rejected(m, "target_modules", "\".*\\\\.(q_proj|v_proj)\"", "regular expression");
    expect_config_rejected(m, "target_modules", "\"q_proj\"", "list of module names");
}

/* Tensors of a module that target_modules leaves out are rejected with the module named,
 * rather than applied in full. Entries match the module path or a dotted suffix of it. */
static void test_tensors_outside_target_modules(const struct model *m)
{
    expect_config_rejected(m, "target_modules", "[\"v_proj\"]",
                           "adapts module model.layers.0.self_attn.q_proj, which target_modules "
                           "in adapter_config.json does not include; add \"q_proj\"");
    expect_config_rejected(m, "target_modules", "[\"model.layers.0.self_attn.q_proj\"]",
                           "adapts module model.layers.1.self_attn.q_proj");
}

/* An adapter saved for a 7-layer model of the same width fails on stories260K (5 layers)
 * with a message that names the base model the adapter records. */
static void test_adapter_for_more_layers(const struct model *m)
{
    struct tr_error err = {{0}};
    struct model_config deeper = *model_get_config(m);
    struct lora_set *lora = NULL, *back = NULL;
    struct adapter_save_info info = {"demo/stories-7-layers", NULL};
    char dir[512], cmd[600];
    const char *tmp = getenv("TMPDIR");

    deeper.num_hidden_layers = 7;
    snprintf(dir, sizeof(dir), "%s/atelier-layers-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    lora = lora_set_new(&deeper, 2, 4.0f, false, 0.0f, 1u << LORA_Q_PROJ, false, &err);
    CHECK(lora != NULL);
    CHECK_EQ_INT(adapter_save(dir, lora, &info, &err), 0);
    CHECK_EQ_INT(adapter_load(&back, dir, m, &err), -1);
    printf("# %s\n", err.msg);
    CHECK(strstr(err.msg, "is for layer 5 but the model has 5 layers") != NULL);
    CHECK(strstr(err.msg, "the adapter was trained for a different base model") != NULL);
    CHECK(strstr(err.msg, "base_model_name_or_path is \"demo/stories-7-layers\"") != NULL);
    lora_set_free(back);
    lora_set_free(lora);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* Calls adapter_load on dir with stderr sent to a temp file and copies what it printed
 * into log. Returns adapter_load's result. */
static int load_capturing_stderr(struct lora_set **lora, const char *dir, const struct model *m,
                                 char *log, size_t log_size)
{
    struct tr_error err = {{0}};
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t n = 0;
    int rc;

    log[0] = '\0';
    CHECK(capture != NULL);
    CHECK(saved >= 0);
    if (capture == NULL || saved < 0)
        return -1;
    fflush(stderr);
    CHECK(dup2(fileno(capture), STDERR_FILENO) >= 0);
    rc = adapter_load(lora, dir, m, &err);
    fflush(stderr);
    CHECK(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);

    rewind(capture);
    n = fread(log, 1, log_size - 1, capture);
    log[n] = '\0';
    fclose(capture);
    if (rc < 0)
        printf("# adapter_load: %s\n", err.msg);
    return rc;
}

/* Saves a q_proj adapter for a model like m with num_layers layers into a new temp dir. */
static void save_adapter_with_layers(char *dir, size_t dir_size, const struct model *m,
                                     int num_layers, const char *base_model)
{
    struct tr_error err = {{0}};
    struct model_config cfg = *model_get_config(m);
    struct adapter_save_info info = {base_model, NULL};
    struct lora_set *lora = NULL;
    const char *tmp = getenv("TMPDIR");

    cfg.num_hidden_layers = num_layers;
    snprintf(dir, dir_size, "%s/atelier-layers-XXXXXX", tmp != NULL ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    lora = lora_set_new(&cfg, 2, 4.0f, false, 0.0f, 1u << LORA_Q_PROJ, false, &err);
    CHECK(lora != NULL);
    CHECK_EQ_INT(adapter_save(dir, lora, &info, &err), 0);
    lora_set_free(lora);
}

static void remove_dir(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* An adapter saved for a 3-layer model of the same width loads on stories260K (5 layers),
 * but with one warning line that names both layer counts and the recorded base model. An
 * adapter of every layer loads without it. */
static void test_adapter_for_fewer_layers(const struct model *m)
{
    struct lora_set *back = NULL;
    char dir[512], log[2048];

    save_adapter_with_layers(dir, sizeof(dir), m, 3, "demo/stories-3-layers");
    CHECK_EQ_INT(load_capturing_stderr(&back, dir, m, log, sizeof(log)), 0);
    CHECK(back != NULL);
    printf("# %s", log);
    CHECK(strncmp(log, "atelier: warning: ", 18) == 0);
    CHECK(strstr(log, "tensors for 3 of the model's 5 layers") != NULL);
    CHECK(strstr(log, "none after layer 2") != NULL);
    CHECK(strstr(log, "base_model_name_or_path is \"demo/stories-3-layers\"") != NULL);
    CHECK(strstr(log, "layers 3 to 4 run without LoRA") != NULL);
    CHECK(strchr(log, '\n') == log + strlen(log) - 1);
    lora_set_free(back);
    back = NULL;
    remove_dir(dir);

    save_adapter_with_layers(dir, sizeof(dir), m, 3, NULL);
    CHECK_EQ_INT(load_capturing_stderr(&back, dir, m, log, sizeof(log)), 0);
    CHECK(strstr(log, "base_model_name_or_path is not set") != NULL);
    lora_set_free(back);
    back = NULL;
    remove_dir(dir);

    save_adapter_with_layers(dir, sizeof(dir), m, model_get_config(m)->num_hidden_layers,
                             "karpathy/stories260K");
    CHECK_EQ_INT(load_capturing_stderr(&back, dir, m, log, sizeof(log)), 0);
    CHECK_EQ_STR(log, "");
    lora_set_free(back);
    remove_dir(dir);
}

static void test_config_errors(void)
{
    static const struct {
        const char *json;
        const char *needle;
    } cases[] = {
        {"{\"r\": 8}", "peft_type"},
        {"{\"peft_type\": \"LORA\", \"r\": 0}", "\"r\""},
        {"{\"peft_type\": \"LORA\", \"r\": 8.5}", "\"r\""},
        {"{\"peft_type\": \"LORA\", \"lora_dropout\": 1.0}", "lora_dropout"},
        {"{\"peft_type\": \"LORA\", \"target_modules\": [\"q_proj\", 3]}", "target_modules[1]"},
        {"{\"peft_type\": \"LORA\", \"use_rslora\": \"yes\"}", "use_rslora"},
        {"[1, 2]", "JSON object"},
        {"{\"peft_type\": \"LORA\",", "invalid JSON"},
        {"{\"peft_type\": \"LORA\", \"r\": 8, \"r\": 9}", "invalid JSON"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct adapter_config c;
        struct tr_error err = {{0}};
        int rc = adapter_config_parse(&c, cases[i].json, strlen(cases[i].json), "cfg", &err);

        CHECK_EQ_INT(rc, -1);
        if (strstr(err.msg, cases[i].needle) == NULL)
            printf("# case %zu: %s\n", i, err.msg);
        CHECK(strstr(err.msg, cases[i].needle) != NULL);
        adapter_config_dispose(&c);
    }
}

int main(void)
{
    const char *env = getenv("ATELIER_CORPUS");
    struct model *m = NULL;
    struct tr_error err = {{0}};
    char model_dir[1200];

    if (env == NULL) {
        printf("1..0 # SKIP ATELIER_CORPUS not set\n");
        return 0;
    }
    snprintf(corpus, sizeof(corpus), "%s", env);
    snprintf(model_dir, sizeof(model_dir), "%s/models/stories260K", corpus);
    test_gpt2_causal_inspect();
    test_gpt2_seqcls_inspect();
    test_legacy_bin_rejected();
    test_llama_family_inspect();
    test_config_errors();
    CHECK_EQ_INT(model_open(&m, model_dir, &err), 0);
    if (m != NULL) {
        test_load_against_stories(m);
        test_save_load_round_trip(m);
        test_bf16_adapter_loads(m);
        test_partial_adapters_rejected(m);
        test_tensors_outside_target_modules(m);
        test_adapter_for_more_layers(m);
        test_adapter_for_fewer_layers(m);
    }
    model_free(m);
    return test_finish();
}
