/* Output of `atelier train`, `merge`, `eval`, `generate` and `tokenize` as a user gets it:
 * the hub names an adapter records when --base-name and --dataset-name are absent, float
 * values without rounding noise in the JSON files, the merge summary and its --force guard,
 * and one clear line for a missing model folder or an unknown dataset line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapter.h"
#include "harness.h"
#include "lora.h"
#include "model.h"
#include "test_files.h"

static const char *bin;
static char model_dir[1024];
static char style_dir[1024];
static char tmp_root[1024];

/* ---- helpers ---- */

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Runs bin with args (NULL-terminated, without argv[0]) and stores stdout and stderr in
 * out_text and err_text (malloc'd, the caller frees). Returns the exit status, or -1. */
static int run_atelier(const char *const *args, char **out_text, char **err_text)
{
    char *out_path = path_in(tmp_root, "stdout.txt");
    char *err_path = path_in(tmp_root, "stderr.txt");
    int rc = run_command(bin, args, out_path, err_path);

    *out_text = read_text(out_path);
    *err_text = read_text(err_path);
    if (*out_text == NULL)
        *out_text = strdup("");
    if (*err_text == NULL)
        *err_text = strdup("");
    return rc;
}

/* Counts the lines of text. */
static int count_lines(const char *text)
{
    int n = 0;

    for (const char *p = text; *p != '\0'; p++)
        n += *p == '\n';
    return n;
}

static bool contains(const char *text, const char *needle)
{
    bool found = text != NULL && strstr(text, needle) != NULL;

    if (!found)
        printf("# \"%s\" not found in: %s\n", needle, text != NULL ? text : "(null)");
    return found;
}

/* Copies the files of stories260K into dir, writing config_json in place of its
 * config.json when that is not NULL. */
static bool copy_model(const char *dir, const char *config_json)
{
    static const char *const files[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                        "model.safetensors", "generation_config.json"};

    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *in = fopen(path_in(model_dir, files[i]), "rb");
        FILE *out = fopen(path_in(dir, files[i]), "wb");
        char buf[65536];
        size_t n;

        if (in == NULL || out == NULL) {
            if (in != NULL)
                fclose(in);
            if (out != NULL)
                fclose(out);
            return false;
        }
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        fclose(in);
        fclose(out);
    }
    return config_json == NULL || write_text(path_in(dir, "config.json"), config_json);
}

/* Trains a one-step adapter into out; base_name and dataset_name are passed as flags when
 * not NULL. Returns the exit status and stores stderr in err_text. */
static int train_tiny(const char *base, const char *out, const char *base_name,
                      const char *dataset_name, char **err_text)
{
    const char *args[32] = {
        "train", "--base",    base,      "--data",    path_in(style_dir, "train.jsonl"),
        "--out", out,         "--steps", "1",         "--batch",
        "2",     "--seq-len", "64",      "--threads", "1"};
    size_t n = 15;
    char *out_text = NULL;
    int rc;

    if (base_name != NULL) {
        args[n++] = "--base-name";
        args[n++] = base_name;
    }
    if (dataset_name != NULL) {
        args[n++] = "--dataset-name";
        args[n++] = dataset_name;
    }
    args[n] = NULL;
    rc = run_atelier(args, &out_text, err_text);
    free(out_text);
    return rc;
}

static const char *config_string(const char *adapter_dir, const char *key, json_t **doc)
{
    json_error_t jerr;

    *doc = json_load_file(path_in(adapter_dir, "adapter_config.json"), 0, &jerr);
    return json_string_value(json_object_get(*doc, key));
}

/* ---- hub names recorded without --base-name and --dataset-name ---- */

static void test_default_names_from_folder(void)
{
    char *out = path_in(tmp_root, "named-by-folder");
    char *err_text = NULL, *card;
    json_t *doc = NULL;

    CHECK_EQ_INT(train_tiny(model_dir, out, NULL, NULL, &err_text), 0);
    CHECK(contains(err_text, "--base-name NS/NAME sets the hub repo id"));
    CHECK(contains(err_text, "--dataset-name NS/NAME sets the hub repo id"));
    CHECK(contains(err_text, "\"stories260K\""));
    free(err_text);
    CHECK_EQ_STR(config_string(out, "base_model_name_or_path", &doc), "stories260K");
    json_decref(doc);
    card = read_text(path_in(out, "README.md"));
    CHECK(contains(card, "base_model: \"stories260K\""));
    CHECK(contains(card, "- \"train.jsonl\""));
    CHECK(card != NULL);
    CHECK(card == NULL || strstr(card, model_dir) == NULL);
    CHECK(card == NULL || strstr(card, style_dir) == NULL);
    free(card);
}

static void test_default_name_from_config(void)
{
    char *hub_model = path_in(tmp_root, "model-with-hub-id");
    char *local_model = path_in(tmp_root, "model-with-local-path");
    char *out_hub = path_in(tmp_root, "named-by-config");
    char *out_local = path_in(tmp_root, "named-by-local-config");
    char *err_text = NULL;
    json_t *doc = NULL;
    char *config = read_text(path_in(model_dir, "config.json"));
    char *hub_config, *local_config;

    CHECK(config != NULL);
    if (config == NULL)
        return;
    hub_config = malloc(strlen(config) + 200);
    local_config = malloc(strlen(config) + 200);

    /* Splice "_name_or_path" in after the opening brace of the corpus config. */
    sprintf(hub_config, "{\"_name_or_path\": \"karpathy/stories260K\",%s", strchr(config, '{') + 1);
    sprintf(local_config, "{\"_name_or_path\": \"/home/user/ckpt/out\",%s",
            strchr(config, '{') + 1);
    CHECK(copy_model(hub_model, hub_config));
    CHECK(copy_model(local_model, local_config));
    free(config);
    free(hub_config);
    free(local_config);

    CHECK_EQ_INT(train_tiny(hub_model, out_hub, NULL, "teacher/sea-stories", &err_text), 0);
    CHECK(contains(err_text, "--base-name NS/NAME"));
    CHECK(err_text != NULL && strstr(err_text, "--dataset-name NS/NAME") == NULL);
    free(err_text);
    CHECK_EQ_STR(config_string(out_hub, "base_model_name_or_path", &doc), "karpathy/stories260K");
    json_decref(doc);

    /* A local path in _name_or_path is no hub id, so the folder name is recorded. */
    CHECK_EQ_INT(train_tiny(local_model, out_local, NULL, NULL, &err_text), 0);
    free(err_text);
    CHECK_EQ_STR(config_string(out_local, "base_model_name_or_path", &doc),
                 "model-with-local-path");
    json_decref(doc);
}

static void test_explicit_names_win(void)
{
    char *out = path_in(tmp_root, "named-by-flags");
    char *err_text = NULL, *card;
    char load_line[1200];
    json_t *doc = NULL;

    CHECK_EQ_INT(train_tiny(model_dir, out, "demo/tiny-stories", "teacher/sea-stories", &err_text),
                 0);
    /* Both names are given, so neither name warning appears (--seq-len 64 still warns that
     * the stories are truncated). */
    CHECK(err_text != NULL && strstr(err_text, "no --base-name given") == NULL);
    CHECK(err_text != NULL && strstr(err_text, "no --dataset-name given") == NULL);
    free(err_text);
    CHECK_EQ_STR(config_string(out, "base_model_name_or_path", &doc), "demo/tiny-stories");
    json_decref(doc);
    card = read_text(path_in(out, "README.md"));
    CHECK(contains(card, "base_model: \"demo/tiny-stories\""));
    CHECK(contains(card, "teacher/sea-stories"));
    /* Without --repo-id the loading example points at the folder the adapter is in. */
    snprintf(load_line, sizeof(load_line), "PeftModel.from_pretrained(base_model, \"%s\")", out);
    CHECK(contains(card, load_line));
    CHECK(contains(card, "| threads | 1 |\n"));
    free(card);
}

static void expect_one_line(const char *const *args, int want, const char *prefix,
                            const char *needle1, const char *needle2);

/* --repo-id names the hub repo in the card's loading example. */
static void test_card_repo_id(void)
{
    char *out = path_in(tmp_root, "card-repo-id");
    const char *args[] = {
        "train", "--base",    model_dir, "--data",    path_in(style_dir, "train.jsonl"),
        "--out", out,         "--steps", "1",         "--batch",
        "2",     "--seq-len", "64",      "--repo-id", "demo/style-lora",
        NULL};
    const char *bad[] = {
        "train", "--base", model_dir,   "--data",     path_in(style_dir, "train.jsonl"),
        "--out", out,      "--repo-id", "style-lora", NULL};
    char *out_text = NULL, *err_text = NULL, *card;

    /* Without --threads the card records the OpenMP default, which OMP_NUM_THREADS sets. */
    setenv("OMP_NUM_THREADS", "3", 1);
    CHECK_EQ_INT(run_atelier(args, &out_text, &err_text), 0);
    unsetenv("OMP_NUM_THREADS");
    CHECK(contains(err_text, "3 threads (the OpenMP default)"));
    free(out_text);
    free(err_text);
    card = read_text(path_in(out, "README.md"));
    CHECK(contains(card, "PeftModel.from_pretrained(base_model, \"demo/style-lora\")"));
    CHECK(contains(card, "| threads | 3 |\n"));
    free(card);
    expect_one_line(bad, 2, "atelier train: ", "--repo-id value \"style-lora\"", "NAMESPACE/NAME");
}

/* Stores the hex SHA-256 of the file at path in hex (65 bytes), computed by sha256sum. */
static bool file_sha256(char *hex, const char *path)
{
    char cmd[1200];
    FILE *p;
    bool ok;

    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    p = popen(cmd, "r");
    if (p == NULL)
        return false;
    ok = fscanf(p, "%64s", hex) == 1 && strlen(hex) == 64;
    return pclose(p) == 0 && ok;
}

/* An --eval file is its own dataset: the card names it and its hash, and never calls it a
 * split of the training dataset. */
static void test_card_eval_file(void)
{
    char *out = path_in(tmp_root, "card-eval-file");
    char *eval_path = path_in(style_dir, "eval.jsonl");
    const char *args[] = {"train",
                          "--base",
                          model_dir,
                          "--data",
                          path_in(style_dir, "train.jsonl"),
                          "--eval",
                          eval_path,
                          "--out",
                          out,
                          "--steps",
                          "1",
                          "--batch",
                          "2",
                          "--seq-len",
                          "64",
                          "--threads",
                          "1",
                          "--dataset-name",
                          "teacher/sea-stories",
                          "--dataset-revision",
                          "4567ef01",
                          NULL};
    char *out_text = NULL, *err_text = NULL, *card;
    char hex[80] = "", hash_line[200];

    CHECK(file_sha256(hex, eval_path));
    CHECK_EQ_INT(run_atelier(args, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    card = read_text(path_in(out, "README.md"));
    CHECK(contains(card, "    dataset:\n      type: \"eval.jsonl\"\n      name: \"eval.jsonl\"\n"));
    CHECK(contains(card, "## Evaluation data\n\n- file: `eval.jsonl`\n"));
    snprintf(hash_line, sizeof(hash_line), "- SHA-256 of the eval file: `%s`\n", hex);
    CHECK(contains(card, hash_line));
    CHECK(card != NULL && strstr(card, "held out") == NULL);
    CHECK(card != NULL && strstr(card, "split: validation") == NULL);
    /* The dataset revision belongs to the training dataset, not to the eval file. */
    CHECK(card != NULL && strstr(card, "revision: \"4567ef01\"") == NULL);
    CHECK(contains(card, "- dataset: `teacher/sea-stories` at revision `4567ef01`\n"));
    free(card);
}

/* stories260K with the tokenizer of TinyLlama (ids up to 31999 for a vocab_size of 512) is
 * rejected by every command when it loads the model, before any training step. */
static void test_tokenizer_of_other_model(void)
{
    char *base = path_in(tmp_root, "foreign-tokenizer");
    char *corpus_tok = getenv("ATELIER_CORPUS") != NULL
                           ? path_in(getenv("ATELIER_CORPUS"),
                                     "tokenizers/tinyllama-1.1b-chat-v1.0/tokenizer.json")
                           : NULL;
    char *tok_text = corpus_tok != NULL ? read_text(corpus_tok) : NULL;
    char *data = path_in(style_dir, "train.jsonl");
    const char *train[] = {"train",
                           "--base",
                           base,
                           "--data",
                           data,
                           "--out",
                           path_in(tmp_root, "foreign-tokenizer-out"),
                           "--steps",
                           "1",
                           "--batch",
                           "2",
                           NULL};
    const char *eval[] = {"eval", "--base", base, "--data", data, NULL};
    const char *generate[] = {"generate", "--base", base, "--prompt", "Once", NULL};
    const char *merge[] = {"merge",
                           "--base",
                           base,
                           "--adapter",
                           path_in(tmp_root, "named-by-flags"),
                           "--out",
                           path_in(tmp_root, "foreign-tokenizer-merged"),
                           NULL};
    const char *const *commands[] = {train, eval, generate, merge};

    CHECK(tok_text != NULL);
    CHECK(copy_model(base, NULL));
    CHECK(tok_text != NULL && write_text(path_in(base, "tokenizer.json"), tok_text));
    free(tok_text);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char *out_text = NULL, *err_text = NULL;

        CHECK_EQ_INT(run_atelier(commands[i], &out_text, &err_text), 1);
        CHECK(contains(err_text, "/tokenizer.json has token ids up to 31999"));
        CHECK(contains(err_text, "the vocab_size in config.json is 512"));
        CHECK(contains(err_text, "use the tokenizer of the base model"));
        free(out_text);
        free(err_text);
    }
    CHECK(!exists(path_in(tmp_root, "foreign-tokenizer-merged/model.safetensors")));
}

/* ---- help text and JSON floats ---- */

static void test_eval_split_help(void)
{
    const char *help[] = {"train", "--help", NULL};
    const char *over[] = {"train",
                          "--base",
                          model_dir,
                          "--data",
                          path_in(style_dir, "train.jsonl"),
                          "--out",
                          path_in(tmp_root, "split"),
                          "--eval-split",
                          "0.6",
                          NULL};
    char *out_text = NULL, *err_text = NULL;

    const char *dropout[] = {"train",
                             "--base",
                             model_dir,
                             "--data",
                             path_in(style_dir, "train.jsonl"),
                             "--out",
                             path_in(tmp_root, "dropout"),
                             "--dropout",
                             "0.995",
                             NULL};

    CHECK_EQ_INT(run_atelier(help, &out_text, &err_text), 0);
    CHECK(contains(out_text, "(0 < X <= 0.5)"));
    /* The help gives the same --dropout range that the check enforces. */
    CHECK(contains(out_text, "--dropout X           dropout on the LoRA input, 0 <= X <= 0.99"));
    free(out_text);
    free(err_text);
    expect_one_line(dropout, 2, "atelier train: ", "invalid --dropout value \"0.995\"", "<= 0.99");
    CHECK_EQ_INT(run_atelier(over, &out_text, &err_text), 2);
    CHECK(contains(err_text, "<= 0.5"));
    free(out_text);
    free(err_text);
}

/* Returns true when text contains a number with more than 10 significant digits, the sign of
 * binary rounding noise such as 0.050000000000000003. */
static bool has_long_number(const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        bool significant = false;
        int digits = 0;

        if (*p < '0' || *p > '9' || (p > text && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.')))
            continue;
        /* Leading zeros are not significant, so a short time such as 0.007700769002 passes. */
        for (const char *q = p; (*q >= '0' && *q <= '9') || *q == '.'; q++) {
            if (*q == '.')
                continue;
            significant = significant || *q != '0';
            digits += significant;
        }
        if (digits > 10) {
            printf("# long number at: %.30s\n", p);
            return true;
        }
    }
    return false;
}

static void test_json_floats(void)
{
    char *out = path_in(tmp_root, "floats");
    const char *args[] = {
        "train",     "--base",    model_dir,     "--data",    path_in(style_dir, "train.jsonl"),
        "--out",     out,         "--steps",     "1",         "--batch",
        "2",         "--seq-len", "64",          "--dropout", "0.05",
        "--alpha",   "12.5",      "--base-name", "demo/tiny", "--dataset-name",
        "demo/data", NULL};
    char *out_text = NULL, *err_text = NULL, *config, *results;
    json_error_t jerr;
    json_t *doc;

    CHECK_EQ_INT(run_atelier(args, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    config = read_text(path_in(out, "adapter_config.json"));
    results = read_text(path_in(out, "train_results.json"));
    CHECK(contains(config, "\"lora_dropout\": 0.05,"));
    CHECK(contains(config, "\"lora_alpha\": 12.5,"));
    CHECK(config != NULL && !has_long_number(config));
    CHECK(results != NULL && !has_long_number(results));
    /* The rounded values still read back as the float32 the trainer used. */
    doc = config != NULL ? json_loads(config, 0, &jerr) : NULL;
    CHECK(doc != NULL);
    CHECK((float)json_real_value(json_object_get(doc, "lora_dropout")) == 0.05f);
    CHECK((float)json_real_value(json_object_get(doc, "lora_alpha")) == 12.5f);
    json_decref(doc);
    doc = results != NULL ? json_loads(results, 0, &jerr) : NULL;
    CHECK(doc != NULL && json_is_real(json_object_get(doc, "train_loss")));
    json_decref(doc);
    free(config);
    free(results);
}

/* ---- merge ---- */

static void test_merge_summary_and_force(void)
{
    char *adapter = path_in(tmp_root, "named-by-flags");
    char *merged = path_in(tmp_root, "merged");
    char *occupied = path_in(tmp_root, "occupied");
    char *notes = path_in(occupied, "notes.txt");
    const char *merge[] = {"merge", "--base", model_dir, "--adapter", adapter,
                           "--out", merged,   "--dtype", "BF16",      NULL};
    const char *onto_occupied[] = {"merge", "--base", model_dir, "--adapter",
                                   adapter, "--out",  occupied,  NULL};
    const char *forced[] = {"merge", "--base", model_dir, "--adapter", adapter,
                            "--out", occupied, "--force", NULL};
    char *out_text = NULL, *err_text = NULL, *notes_after;

    CHECK_EQ_INT(run_atelier(merge, &out_text, &err_text), 0);
    CHECK_EQ_INT(count_lines(out_text), 1);
    CHECK(contains(out_text, path_in(merged, "model.safetensors")));
    /* stories260K has 5 layers of 9 tensors plus embed_tokens, norm and lm_head. */
    CHECK(contains(out_text, "48 tensors"));
    CHECK(contains(out_text, "BF16"));
    free(out_text);
    free(err_text);

    /* A folder that holds only a previous merge output is replaced without --force. */
    CHECK_EQ_INT(run_atelier(merge, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);

    mkdir(occupied, 0755);
    CHECK(write_text(notes, "lab notes\n"));
    CHECK_EQ_INT(run_atelier(onto_occupied, &out_text, &err_text), 2);
    CHECK_EQ_INT(count_lines(err_text), 1);
    CHECK(contains(err_text, occupied));
    CHECK(contains(err_text, "--force"));
    CHECK(!exists(path_in(occupied, "model.safetensors")));
    free(out_text);
    free(err_text);

    CHECK_EQ_INT(run_atelier(forced, &out_text, &err_text), 0);
    CHECK(exists(path_in(occupied, "model.safetensors")));
    notes_after = read_text(notes);
    CHECK(notes_after != NULL && strcmp(notes_after, "lab notes\n") == 0);
    free(notes_after);
    free(out_text);
    free(err_text);
}

/* An adapter saved for a 3-layer model of stories260K's widths merges onto the 5-layer
 * model, and `atelier merge` prints one warning line with its own name first. */
static void test_merge_short_adapter_warning(void)
{
    char *adapter = path_in(tmp_root, "three-layers");
    char *merged = path_in(tmp_root, "merged-three-layers");
    const char *merge[] = {"merge", "--base", model_dir, "--adapter",
                           adapter, "--out",  merged,    NULL};
    struct adapter_save_info info = {"demo/stories-3-layers", NULL};
    struct tr_error err = {{0}};
    struct model *m = NULL;
    struct lora_set *lora = NULL;
    struct model_config cfg;
    char *out_text = NULL, *err_text = NULL;

    CHECK_EQ_INT(model_open(&m, model_dir, &err), 0);
    if (m == NULL)
        return;
    cfg = *model_get_config(m);
    cfg.num_hidden_layers = 3;
    lora = lora_set_new(&cfg, 2, 4.0f, false, 0.0f, 1u << LORA_V_PROJ, false, &err);
    CHECK(lora != NULL);
    mkdir(adapter, 0755);
    CHECK_EQ_INT(adapter_save(adapter, lora, &info, &err), 0);
    lora_set_free(lora);
    model_free(m);

    CHECK_EQ_INT(run_atelier(merge, &out_text, &err_text), 0);
    CHECK_EQ_INT(count_lines(err_text), 1);
    CHECK(strncmp(err_text, "atelier merge: warning: ", 24) == 0);
    CHECK(contains(err_text, adapter));
    CHECK(contains(err_text, "tensors for 3 of the model's 5 layers"));
    CHECK(contains(err_text, "\"demo/stories-3-layers\""));
    CHECK(exists(path_in(merged, "model.safetensors")));
    free(out_text);
    free(err_text);
}

/* The merged config.json names the dtype the weights are stored in, and keeps the rest of
 * the base's text. */
static void test_merge_writes_dtype(void)
{
    char *adapter = path_in(tmp_root, "named-by-flags");
    char *bf16_base = path_in(tmp_root, "bf16-config-base");
    char *merged = path_in(tmp_root, "merged-f32");
    char *merged_bf16 = path_in(tmp_root, "merged-bf16");
    const char *merge[] = {"merge", "--base", bf16_base, "--adapter", adapter,
                           "--out", merged,   "--dtype", "F32",       NULL};
    const char *merge_bf16[] = {"merge", "--base",    model_dir, "--adapter", adapter,
                                "--out", merged_bf16, "--dtype", "BF16",      NULL};
    char *config = read_text(path_in(model_dir, "config.json"));
    char *bf16_config, *out_text = NULL, *err_text = NULL, *text;
    json_error_t jerr;
    json_t *doc, *base_doc;

    CHECK(config != NULL);
    if (config == NULL)
        return;
    /* The corpus config has "torch_dtype": "float32". This base gets "dtype": "bfloat16"
     * and "torch_dtype": "float16", so each key must be replaced on its own. */
    bf16_config = malloc(strlen(config) + 100);
    CHECK(bf16_config != NULL && strchr(config, '{') != NULL);
    if (bf16_config == NULL || strchr(config, '{') == NULL) {
        free(bf16_config);
        free(config);
        return;
    }
    sprintf(bf16_config, "{\"dtype\": \"bfloat16\",%s", strchr(config, '{') + 1);
    text = strstr(bf16_config, "\"torch_dtype\": \"float32\"");
    CHECK(text != NULL);
    if (text != NULL)
        memcpy(text, "\"torch_dtype\": \"float16\"", strlen("\"torch_dtype\": \"float16\""));
    CHECK(copy_model(bf16_base, bf16_config));

    CHECK_EQ_INT(run_atelier(merge, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    doc = json_load_file(path_in(merged, "config.json"), 0, &jerr);
    base_doc = json_loads(bf16_config, 0, &jerr);
    CHECK(doc != NULL && base_doc != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "torch_dtype")), "float32");
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "dtype")), "float32");
    /* Everything else is the base's config. */
    json_object_del(doc, "torch_dtype");
    json_object_del(doc, "dtype");
    json_object_del(base_doc, "torch_dtype");
    json_object_del(base_doc, "dtype");
    CHECK(json_equal(doc, base_doc));
    json_decref(doc);
    json_decref(base_doc);

    CHECK_EQ_INT(run_atelier(merge_bf16, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    doc = json_load_file(path_in(merged_bf16, "config.json"), 0, &jerr);
    CHECK(doc != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "torch_dtype")), "bfloat16");
    CHECK(json_object_get(doc, "dtype") == NULL);
    json_decref(doc);
    free(config);
    free(bf16_config);
}

/* ---- messages for a missing model folder and an unknown dataset line ---- */

/* Runs args, expects exit status want and an error as the last stderr line that starts
 * with prefix and contains needle1 and needle2. `atelier train` logs its seed before the
 * error, and every other command prints the error line alone. */
static void expect_one_line(const char *const *args, int want, const char *prefix,
                            const char *needle1, const char *needle2)
{
    char *out_text = NULL, *err_text = NULL;
    const char *last;
    size_t len;

    CHECK_EQ_INT(run_atelier(args, &out_text, &err_text), want);
    len = strlen(err_text);
    CHECK(len > 0 && err_text[len - 1] == '\n');
    if (len > 0)
        err_text[len - 1] = '\0';
    last = strrchr(err_text, '\n') != NULL ? strrchr(err_text, '\n') + 1 : err_text;
    if (strcmp(args[0], "train") != 0)
        CHECK(last == err_text);
    CHECK(strncmp(last, prefix, strlen(prefix)) == 0);
    CHECK(strstr(last, "error:") == NULL);
    CHECK(contains(last, needle1));
    CHECK(contains(last, needle2));
    free(out_text);
    free(err_text);
}

/* Runs args and expects no warning line on stderr. */
static void expect_no_warning(const char *const *args)
{
    char *out_text = NULL, *err_text = NULL;

    run_atelier(args, &out_text, &err_text);
    CHECK(err_text != NULL && strstr(err_text, "warning") == NULL);
    free(out_text);
    free(err_text);
}

static void test_missing_model_folder(void)
{
    char *nope = path_in(tmp_root, "nope");
    char *empty = path_in(tmp_root, "empty-model");
    char *no_weights = path_in(tmp_root, "no-weights-model");
    const char *data = path_in(style_dir, "train.jsonl");
    const char *out = path_in(tmp_root, "never-written");
    const char *generate[] = {"generate", "--base", nope, "--prompt", "Once", NULL};
    const char *train[] = {"train", "--base", nope, "--data", data, "--out", out, NULL};
    const char *tokenize[] = {"tokenize", "--model", nope, "hello", NULL};
    const char *eval[] = {"eval", "--base", nope, "--data", data, NULL};
    const char *eval_empty[] = {"eval", "--base", empty, "--data", data, NULL};
    const char *tokenize_empty[] = {"tokenize", "--model", empty, "hello", NULL};
    const char *generate_no_weights[] = {"generate", "--base", no_weights,
                                         "--prompt", "Once",   NULL};

    expect_one_line(generate, 1, "atelier generate: ", "model folder ", "not found");
    expect_one_line(generate, 1, "atelier generate: ", nope, "config.json");
    expect_one_line(train, 1, "atelier train: ", nope, "not found");
    expect_no_warning(train);
    expect_one_line(train, 1, "atelier train: ", "model.safetensors", "tokenizer.json");
    expect_one_line(tokenize, 1, "atelier tokenize: ", nope, "not found");
    expect_one_line(tokenize, 1, "atelier tokenize: ", "model folder", "tokenizer.json");
    expect_one_line(eval, 1, "atelier eval: ", nope, "not found");

    mkdir(empty, 0755);
    expect_one_line(eval_empty, 1, "atelier eval: ", empty, "lacks config.json");
    expect_one_line(tokenize_empty, 1, "atelier tokenize: ", empty, "lacks tokenizer.json");
    CHECK(copy_model(no_weights, NULL));
    CHECK(unlink(path_in(no_weights, "model.safetensors")) == 0);
    expect_one_line(generate_no_weights, 1, "atelier generate: ", no_weights,
                    "lacks model.safetensors");
}

static void test_dataset_line_formats(void)
{
    char *data = path_in(tmp_root, "prompt-only.jsonl");
    const char *out = path_in(tmp_root, "never-written-2");
    const char *train[] = {"train", "--base", model_dir, "--data", data,
                           "--out", out,      "--steps", "1",      NULL};
    char *out_text = NULL, *err_text = NULL;

    CHECK(write_text(data, "{\"prompt\": \"a\"}\n"));
    CHECK_EQ_INT(run_atelier(train, &out_text, &err_text), 1);
    CHECK(contains(err_text, "missing \"completion\""));
    CHECK(contains(err_text, "{\"text\"}"));
    CHECK(contains(err_text, "{\"prompt\", \"completion\"}"));
    CHECK(contains(err_text, "{\"instruction\", \"input\", \"output\"}"));
    CHECK(contains(err_text, "{\"messages\"}"));
    CHECK(contains(err_text, "atelier train: "));
    CHECK(err_text != NULL && strstr(err_text, "error:") == NULL);
    free(out_text);
    free(err_text);
}

/* ---- the --out folder of atelier train ---- */

/* --out must not be, lie inside or contain the --base folder, and the base's files stay as
 * they were. */
static void test_train_out_overlaps_base(void)
{
    char *base = path_in(tmp_root, "out-guard-base");
    char *inside = path_in(base, "adapter");
    char *card_before, *card_after;
    const char *onto_base[] = {
        "train", "--base", base,      "--data", path_in(style_dir, "train.jsonl"),
        "--out", base,     "--steps", "1",      NULL};
    const char *into_base[] = {
        "train", "--base", base,      "--data", path_in(style_dir, "train.jsonl"),
        "--out", inside,   "--steps", "1",      NULL};
    const char *around_base[] = {
        "train", "--base", base,      "--data", path_in(style_dir, "train.jsonl"),
        "--out", tmp_root, "--steps", "1",      "--force",
        NULL};

    CHECK(copy_model(base, NULL));
    CHECK(write_text(path_in(base, "README.md"), "# the base model's card\n"));
    expect_one_line(onto_base, 2, "atelier train: ", "is the --base model folder", base);
    expect_one_line(into_base, 2, "atelier train: ", "is inside the --base model folder",
                    "choose a folder outside it");
    /* --force never allows writing around the base model. */
    expect_one_line(around_base, 2, "atelier train: ", "contains the --base model folder",
                    tmp_root);
    card_after = read_text(path_in(base, "README.md"));
    card_before = "# the base model's card\n";
    CHECK(card_after != NULL && strcmp(card_after, card_before) == 0);
    free(card_after);
    CHECK(!exists(path_in(base, "adapter_config.json")));
    CHECK(!exists(inside));
}

/* A folder with the user's own files is rejected unless --force, and --force keeps them. A
 * folder with only a previous adapter of the trainer is replaced without --force. */
static void test_train_out_foreign_files(void)
{
    char *out = path_in(tmp_root, "out-guard-user");
    char *rerun = path_in(tmp_root, "out-guard-rerun");
    const char *args[32] = {
        "train", "--base",    model_dir, "--data",    path_in(style_dir, "train.jsonl"),
        "--out", out,         "--steps", "1",         "--batch",
        "2",     "--seq-len", "64",      "--threads", "1",
        NULL};
    char *out_text = NULL, *err_text = NULL, *notes, *card;

    mkdir(out, 0755);
    CHECK(write_text(path_in(out, "README.md"), "# my notes\n"));
    CHECK(write_text(path_in(out, "data.csv"), "a,b\n"));
    expect_one_line(args, 2, "atelier train: ", out, "--force");
    expect_one_line(args, 2, "atelier train: ", "(README.md, data.csv)", "data.csv");
    expect_one_line(args, 2, "atelier train: ", "--force",
                    "which replaces README.md with the adapter's model card");
    notes = read_text(path_in(out, "README.md"));
    CHECK(notes != NULL && strcmp(notes, "# my notes\n") == 0);
    free(notes);
    CHECK(!exists(path_in(out, "adapter_model.safetensors")));

    args[15] = "--force";
    args[16] = NULL;
    CHECK_EQ_INT(run_atelier(args, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    CHECK(exists(path_in(out, "adapter_model.safetensors")));
    notes = read_text(path_in(out, "data.csv"));
    CHECK(notes != NULL && strcmp(notes, "a,b\n") == 0);
    free(notes);

    CHECK_EQ_INT(train_tiny(model_dir, rerun, "demo/tiny", "demo/data", &err_text), 0);
    free(err_text);
    CHECK_EQ_INT(train_tiny(model_dir, rerun, "demo/tiny", "demo/data", &err_text), 0);
    free(err_text);
    card = read_text(path_in(rerun, "README.md"));
    CHECK(contains(card, "library_name: peft"));

    /* A card the user edited is theirs: a rerun without --force keeps it. */
    if (card != NULL) {
        char *edited = malloc(strlen(card) + 32);

        CHECK(edited != NULL);
        if (edited != NULL) {
            sprintf(edited, "%s\nMy notes on this run.\n", card);
            CHECK(write_text(path_in(rerun, "README.md"), edited));
            CHECK_EQ_INT(train_tiny(model_dir, rerun, "demo/tiny", "demo/data", &err_text), 2);
            CHECK(contains(err_text, "(README.md)"));
            free(err_text);
            notes = read_text(path_in(rerun, "README.md"));
            CHECK(notes != NULL && strcmp(notes, edited) == 0);
            free(notes);
            free(edited);
        }
    }
    free(card);
}

/* The list of foreign files in the --out error is sorted and stops after 10 names. */
static void test_train_out_many_foreign_files(void)
{
    char *out = path_in(tmp_root, "out-guard-many");
    const char *args[] = {"train", "--base", model_dir, "--data", path_in(style_dir, "train.jsonl"),
                          "--out", out,      "--steps", "1",      NULL};
    char name[32];

    mkdir(out, 0755);
    for (int i = 11; i >= 0; i--) {
        snprintf(name, sizeof(name), "file%02d.txt", i);
        CHECK(write_text(path_in(out, name), "x\n"));
    }
    expect_one_line(args, 2, "atelier train: ", "(file00.txt, file01.txt, file02.txt",
                    "file09.txt and 2 more)");
}

/* merge --out must not be, lie inside or contain the --base or --adapter folder, even
 * with --force, and nothing is written there. */
static void test_merge_out_overlaps_inputs(void)
{
    char *parent = path_in(tmp_root, "merge-guard");
    char *base = path_in(parent, "base");
    char *adapter = path_in(parent, "adapter");
    char *in_base = path_in(base, "merged");
    char *in_adapter = path_in(adapter, "merged");
    char *err_text = NULL;
    const char *into_base[] = {"merge", "--base", base,    "--adapter",
                               adapter, "--out",  in_base, NULL};
    const char *into_adapter[] = {"merge", "--base", base,       "--adapter",
                                  adapter, "--out",  in_adapter, NULL};
    const char *around_both[] = {"merge", "--base", base,      "--adapter", adapter,
                                 "--out", parent,   "--force", NULL};

    mkdir(parent, 0755);
    CHECK(copy_model(base, NULL));
    CHECK_EQ_INT(train_tiny(base, adapter, "demo/tiny", "demo/data", &err_text), 0);
    free(err_text);
    expect_one_line(into_base, 2, "atelier merge: ", "is inside the --base folder",
                    "choose a folder outside it");
    expect_one_line(into_adapter, 2, "atelier merge: ", "is inside the --adapter folder",
                    "choose a folder outside it");
    expect_one_line(around_both, 2, "atelier merge: ", "contains the --base folder", parent);
    CHECK(!exists(in_base));
    CHECK(!exists(in_adapter));
    CHECK(!exists(path_in(parent, "model.safetensors")));
}

/* merge checks --out as train does: an existing file or a missing parent is a usage error,
 * and the other entries of the folder are listed sorted, with their count and kind. */
static void test_merge_out_checks(void)
{
    char *adapter = path_in(tmp_root, "named-by-flags");
    char *file_out = path_in(tmp_root, "merge-out-is-a-file");
    char *orphan_out = path_in(tmp_root, "merge-no-parent/merged");
    char *occupied = path_in(tmp_root, "merge-occupied");
    char *only_folder = path_in(tmp_root, "merge-occupied-by-folder");
    const char *onto_file[] = {"merge", "--base", model_dir, "--adapter",
                               adapter, "--out",  file_out,  NULL};
    const char *no_parent[] = {"merge", "--base", model_dir,  "--adapter",
                               adapter, "--out",  orphan_out, NULL};
    const char *onto_occupied[] = {"merge", "--base", model_dir, "--adapter",
                                   adapter, "--out",  occupied,  NULL};
    const char *onto_folder[] = {"merge", "--base", model_dir,   "--adapter",
                                 adapter, "--out",  only_folder, NULL};

    CHECK(write_text(file_out, "not a folder\n"));
    expect_one_line(onto_file, 2, "atelier merge: ", file_out, "exists and is not a folder");
    expect_one_line(no_parent, 2, "atelier merge: ", path_in(tmp_root, "merge-no-parent"),
                    "does not exist; create it first");

    mkdir(occupied, 0755);
    mkdir(path_in(occupied, "runs"), 0755);
    CHECK(write_text(path_in(occupied, "notes.txt"), "x\n"));
    CHECK(write_text(path_in(occupied, "b.csv"), "x\n"));
    CHECK(write_text(path_in(occupied, "config.json"), "{}\n"));
    expect_one_line(onto_occupied, 2, "atelier merge: ",
                    "holds 3 entries that atelier merge did not write (b.csv, notes.txt, runs)",
                    "pass --force to write the merged model next to them");
    CHECK(!exists(path_in(occupied, "model.safetensors")));

    mkdir(only_folder, 0755);
    mkdir(path_in(only_folder, "runs"), 0755);
    expect_one_line(onto_folder, 2, "atelier merge: ", "holds a folder that atelier merge",
                    "(runs)");
}

/* Runs bin with args while files may grow to at most max_bytes, as on a nearly full disk
 * (spawn_command). Returns the exit status. */
static int run_atelier_file_limit(const char *const *args, rlim_t max_bytes, char **err_text)
{
    char *err_path = path_in(tmp_root, "stderr-limited.txt");
    int rc = wait_command(spawn_command(bin, args, NULL, err_path, max_bytes));

    *err_text = read_text(err_path);
    return rc;
}

/* Returns true when stderr of args mentions jansson's JSON_ALLOW_NUL flag. */
static bool contains_quiet_allow_nul(const char *const *args)
{
    char *out_text = NULL, *err_text = NULL;
    bool found;

    run_atelier(args, &out_text, &err_text);
    found = strstr(err_text, "JSON_ALLOW_NUL") != NULL;
    free(out_text);
    free(err_text);
    return found;
}

/* Returns how many entries of dir start with prefix. */
static int count_entries_with_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* A merge that cannot write its weights leaves no model folder without weights, and a
 * previous merge output in --out stays as it was. The 1.1 MB model.safetensors of
 * stories260K does not fit a 200 kB file size limit, while the small files do. */
static void test_merge_failure_cleans_up(void)
{
    char *parent = path_in(tmp_root, "merge-full-disk");
    char *fresh = path_in(parent, "fresh");
    char *previous = path_in(parent, "previous");
    char *adapter = path_in(tmp_root, "named-by-flags");
    const char *to_fresh[] = {"merge", "--base", model_dir, "--adapter",
                              adapter, "--out",  fresh,     NULL};
    const char *to_previous[] = {"merge", "--base", model_dir, "--adapter", adapter,
                                 "--out", previous, "--dtype", "BF16",      NULL};
    char *out_text = NULL, *err_text = NULL, *before, *after;

    mkdir(parent, 0755);
    CHECK_EQ_INT(run_atelier_file_limit(to_fresh, 200000, &err_text), 1);
    CHECK(contains(err_text, "atelier merge: "));
    free(err_text);
    CHECK(!exists(fresh));
    CHECK_EQ_INT(count_entries_with_prefix(parent, "fresh.merge-"), 0);

    /* The BF16 merge runs without the limit, and the F32 merge that would replace it fails. */
    CHECK_EQ_INT(run_atelier(to_previous, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    before = read_text(path_in(previous, "config.json"));
    to_previous[8] = "F32";
    CHECK_EQ_INT(run_atelier_file_limit(to_previous, 200000, &err_text), 1);
    free(err_text);
    after = read_text(path_in(previous, "config.json"));
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    CHECK(contains(after, "bfloat16"));
    CHECK(exists(path_in(previous, "model.safetensors")));
    CHECK_EQ_INT(count_entries_with_prefix(parent, "previous.merge-"), 0);
    free(before);
    free(after);
}

/* A \u0000 escape in a dataset is reported in the dataset's terms, not with jansson's
 * flag name, and a dataset that is not a regular file comes with the fix. */
static void test_data_file_messages(void)
{
    char *nul = path_in(tmp_root, "nul.jsonl");
    const char *out = path_in(tmp_root, "never-written-nul");
    const char *nul_args[] = {"train", "--base", model_dir, "--data", nul,
                              "--out", out,      "--steps", "1",      NULL};
    const char *pipe_args[] = {"train", "--base", model_dir, "--data", "/dev/null",
                               "--out", out,      "--steps", "1",      NULL};

    CHECK(write_text(nul, "{\"text\": \"hello \\u0000 world\"}\n"));
    expect_one_line(nul_args, 1, "atelier train: ",
                    "a string contains a NUL character "
                    "(\\u0000), which is not allowed in text",
                    "nul.jsonl");
    expect_one_line(nul_args, 1, "atelier train: ", "line 1", "invalid JSON");
    CHECK(!contains_quiet_allow_nul(nul_args));
    expect_one_line(pipe_args, 1, "atelier train: ", "/dev/null: the dataset is not a regular file",
                    "write it to a file first and pass that path");
}

/* Counts of one take the singular, and an --eval-split that rounds up to a much larger
 * share than requested is reported in the plan line. */
static void test_small_dataset_wording(void)
{
    char *one_path = path_in(tmp_root, "one-example.jsonl");
    char *two_path = path_in(tmp_root, "two-examples.jsonl");
    const char *one_args[] = {"train",
                              "--base",
                              model_dir,
                              "--data",
                              one_path,
                              "--out",
                              path_in(tmp_root, "one-example-out"),
                              "--steps",
                              "1",
                              "--seq-len",
                              "8",
                              "--eval-split",
                              "0.1",
                              NULL};
    const char *two_args[] = {"train",
                              "--base",
                              model_dir,
                              "--data",
                              two_path,
                              "--out",
                              path_in(tmp_root, "two-examples-out"),
                              "--steps",
                              "1",
                              "--seq-len",
                              "64",
                              "--eval-split",
                              "0.1",
                              NULL};
    char *out_text = NULL, *err_text = NULL;

    CHECK(write_text(one_path, "{\"text\": \"Once upon a time there was a cat.\"}\n"));
    CHECK(write_text(two_path, "{\"text\": \"Once upon a time there was a cat.\"}\n"
                               "{\"text\": \"The dog ran to the park and played.\"}\n"));
    expect_one_line(one_args, 1, "atelier train: ", "--eval-split 0.1 of 1 example leaves",
                    "both need at least one");
    CHECK_EQ_INT(run_atelier(two_args, &out_text, &err_text), 0);
    CHECK(contains(err_text, "1 training and 1 eval examples (--eval-split 0.1 rounds up to 1 of "
                             "2 examples, a share of 0.5;"));
    free(out_text);
    free(err_text);
    two_args[10] = "4";
    two_args[12] = "0.5";
    CHECK_EQ_INT(run_atelier(two_args, &out_text, &err_text), 0);
    CHECK(contains(err_text, "warning: 1 of 1 training example is longer than --seq-len 4 tokens "
                             "and was truncated"));
    CHECK(err_text != NULL && strstr(err_text, "rounds up") == NULL);
    free(out_text);
    free(err_text);
}

/* train names a foreign folder in --out as a folder, not a file. */
static void test_train_out_foreign_folder(void)
{
    char *out = path_in(tmp_root, "train-out-with-folder");
    const char *args[] = {"train", "--base", model_dir, "--data", path_in(style_dir, "train.jsonl"),
                          "--out", out,      "--steps", "1",      NULL};

    mkdir(out, 0755);
    mkdir(path_in(out, "old-runs"), 0755);
    expect_one_line(args, 2, "atelier train: ", "holds a folder that atelier train did not write",
                    "(old-runs)");
    mkdir(path_in(out, "older-runs"), 0755);
    expect_one_line(args, 2, "atelier train: ", "holds 2 folders", "(old-runs, older-runs)");
}

/* ---- one-line messages for values the commands reject ---- */

static void test_rejected_values(void)
{
    const char *data = path_in(style_dir, "train.jsonl");
    const char *out = path_in(tmp_root, "never-written-3");
    char *scalar = path_in(tmp_root, "scalar.jsonl");
    const char *seq_len[] = {"train", "--base", model_dir,   "--data", data,
                             "--out", out,      "--seq-len", "100000", NULL};
    const char *eval_seq_len[] = {"eval", "--base",    model_dir, "--data",
                                  data,   "--seq-len", "600",     NULL};
    const char *empty_out[] = {"train", "--base", model_dir, "--data", data, "--out", "", NULL};
    const char *empty_entry[] = {"train", "--base", model_dir,   "--data",         data,
                                 "--out", out,      "--targets", "q_proj,,v_proj", NULL};
    const char *missing_eval[] = {
        "train", "--base", model_dir, "--data", data, "--eval", path_in(tmp_root, "missing.jsonl"),
        "--out", out,      "--steps", "1",      NULL};
    const char *merge_no_adapter[] = {"merge", "--base", model_dir, "--out", out, NULL};
    const char *scalar_line[] = {"train", "--base", model_dir, "--data", scalar,
                                 "--out", out,      "--steps", "1",      NULL};

    expect_one_line(seq_len, 2, "atelier train: ", "--seq-len value 100000", "from 2 to 512");
    expect_one_line(eval_seq_len, 2, "atelier eval: ", "--seq-len value 600", "from 2 to 512");
    expect_one_line(empty_out, 2, "atelier train: ", "--out", "the value is empty");
    expect_one_line(empty_entry, 2, "atelier train: ", "q_proj,,v_proj", "empty entry");
    expect_one_line(missing_eval, 1, "atelier train: --eval: ", "missing.jsonl", "cannot open");
    expect_one_line(merge_no_adapter, 2, "atelier merge: ", "missing --adapter", "--help");
    CHECK(write_text(scalar, "\"just a string\"\n"));
    expect_one_line(scalar_line, 1, "atelier train: ", "line 1", "found a string");
    expect_one_line(scalar_line, 1, "atelier train: ", "line 1", "{\"prompt\", \"completion\"}");
}

/* --base-name and --dataset-name take hub repo ids like --repo-id, and a bad --out is a
 * usage error found before the model loads. */
static void test_names_and_out_path(void)
{
    const char *data = path_in(style_dir, "train.jsonl");
    const char *out = path_in(tmp_root, "never-written-4");
    char *file_out = path_in(tmp_root, "out-is-a-file");
    char *orphan_out = path_in(tmp_root, "no-such-parent/adapter");
    const char *missing_base = path_in(tmp_root, "no-such-model");
    const char *empty_base[] = {"train", "--base", model_dir,     "--data", data,
                                "--out", out,      "--base-name", "",       NULL};
    const char *empty_dataset[] = {"train", "--base", model_dir,        "--data", data,
                                   "--out", out,      "--dataset-name", "",       NULL};
    const char *deep_dataset[] = {"train", "--base", model_dir,        "--data", data,
                                  "--out", out,      "--dataset-name", "a/b/c",  NULL};
    const char *spaced_base[] = {
        "train", "--base",      model_dir,           "--data", data, "--out",
        out,     "--base-name", "demo/stories 260K", NULL};
    const char *onto_file[] = {"train", "--base", missing_base, "--data",
                               data,    "--out",  file_out,     NULL};
    const char *no_parent[] = {"train", "--base", missing_base, "--data",
                               data,    "--out",  orphan_out,   NULL};

    expect_one_line(empty_base, 2, "atelier train: ", "invalid --base-name value \"\"",
                    "NAMESPACE/NAME");
    expect_one_line(empty_dataset, 2, "atelier train: ", "invalid --dataset-name value \"\"",
                    "NAMESPACE/NAME");
    expect_one_line(deep_dataset, 2, "atelier train: ", "--dataset-name value \"a/b/c\"",
                    "NAMESPACE/NAME");
    expect_one_line(spaced_base, 2, "atelier train: ", "\"demo/stories 260K\"", "NAMESPACE/NAME");
    CHECK(!exists(out));

    CHECK(write_text(file_out, "not a folder\n"));
    expect_one_line(onto_file, 2, "atelier train: ", file_out, "is not a folder");
    expect_one_line(no_parent, 2, "atelier train: ", path_in(tmp_root, "no-such-parent"),
                    "does not exist");
}

/* --warmup above the step count is a usage error with --epochs too, where the count is known
 * only once the data is loaded: 80 examples at batch 16 make 5 steps per epoch. An --out
 * that cannot be created is a usage error as well. Neither run leaves a folder behind. */
static void test_warmup_and_out_usage_errors(void)
{
    const char *data = path_in(style_dir, "train.jsonl");
    const char *out = path_in(tmp_root, "warmup-over-epochs");
    const char *warmup[] = {"train", "--base",   model_dir, "--data",  data, "--out",
                            out,     "--epochs", "1",       "--batch", "16", "--seq-len",
                            "64",    "--warmup", "6",       NULL};
    const char *warmup_ok[] = {"train", "--base",   model_dir, "--data",  data, "--out",
                               out,     "--epochs", "1",       "--batch", "16", "--seq-len",
                               "64",    "--warmup", "5",       NULL};
    /* /proc takes no new folders, even for root, so mkdir fails after the --out checks
     * that run before the model loads have passed. */
    const char *unwritable[] = {
        "train",   "--base", model_dir, "--data", data, "--out", "/proc/atelier-test-out",
        "--steps", "1",      NULL};
    char *out_text = NULL, *err_text = NULL;

    expect_one_line(warmup, 2, "atelier train: ", "invalid --warmup value 6",
                    "at most the 5 steps that --epochs 1 gives");
    CHECK(!exists(out));
    CHECK_EQ_INT(run_atelier(warmup_ok, &out_text, &err_text), 0);
    free(out_text);
    free(err_text);
    expect_one_line(unwritable, 2,
                    "atelier train: ", "cannot create directory /proc/atelier-test-out",
                    "choose a writable --out");
}

/* Counts of one are singular, eval --help describes long examples, and generate warns when
 * the context cuts --max-new-tokens short. */
static void test_small_wording(void)
{
    const char *eval_help[] = {"eval", "--help", NULL};
    const char *long_generate[] = {
        "generate",         "--base", model_dir,   "--prompt", "Once upon a time",
        "--max-new-tokens", "600",    "--threads", "1",        NULL};
    char *out_text = NULL, *err_text = NULL;

    CHECK_EQ_INT(
        train_tiny(model_dir, path_in(tmp_root, "one-step"), "demo/tiny", "demo/data", &err_text),
        0);
    CHECK(contains(err_text, " examples, 1 step, "));
    free(err_text);

    CHECK_EQ_INT(run_atelier(eval_help, &out_text, &err_text), 0);
    CHECK(contains(out_text, "an example longer than the context is an error"));
    CHECK(!contains(out_text, "longer examples are truncated"));
    free(out_text);
    free(err_text);

    CHECK_EQ_INT(run_atelier(long_generate, &out_text, &err_text), 0);
    CHECK_EQ_INT(count_lines(err_text), 1);
    CHECK(contains(err_text, "atelier generate: warning: "));
    CHECK(contains(err_text, "--max-new-tokens 600 exceed the model context of 512 tokens"));
    free(out_text);
    free(err_text);
}

/* Prompts longer than --seq-len leave nothing to score, and the message blames --seq-len,
 * not the data. */
static void test_seq_len_cuts_targets(void)
{
    const char *args[] = {"train",
                          "--base",
                          model_dir,
                          "--data",
                          path_in(style_dir, "completion.jsonl"),
                          "--out",
                          path_in(tmp_root, "cut-targets"),
                          "--steps",
                          "1",
                          "--seq-len",
                          "8",
                          "--threads",
                          "1",
                          NULL};

    expect_one_line(args, 1, "atelier train: ", "--seq-len 8 cuts off every target token",
                    "raise --seq-len above ");
    expect_one_line(args, 1, "atelier train: ", "length of the longest prompt", "step 1");
}

/* Evaluation prompts longer than --seq-len leave nothing to score: eval and train --eval
 * blame --seq-len, and a train run that fails that way leaves no empty folders behind. */
static void test_seq_len_cuts_eval_targets(void)
{
    const char *completion = path_in(style_dir, "completion.jsonl");
    char *out = path_in(tmp_root, "cut-eval-targets");
    char *existing = path_in(tmp_root, "cut-eval-existing");
    const char *eval_args[] = {"eval",     "--base",    model_dir, "--data",
                               completion, "--seq-len", "32",      NULL};
    const char *train_args[] = {
        "train",  "--base",    model_dir, "--data",    path_in(style_dir, "train.jsonl"),
        "--eval", completion,  "--out",   out,         "--steps",
        "1",      "--seq-len", "32",      "--threads", "1",
        NULL};

    expect_one_line(eval_args, 1, "atelier eval: ",
                    "--seq-len 32 cuts off every target token of the evaluation data",
                    "raise --seq-len above ");
    expect_one_line(train_args, 1,
                    "atelier train: evaluation: ", "--seq-len 32 cuts off every target token",
                    "the longest prompt");
    CHECK(!exists(out));

    /* A folder that was there before stays, without the checkpoint folder. */
    mkdir(existing, 0755);
    train_args[8] = existing;
    expect_one_line(train_args, 1, "atelier train: evaluation: ", "--seq-len 32", "raise");
    CHECK(exists(existing));
    CHECK(!exists(path_in(existing, "checkpoint")));
}

/* One thread is written in the singular. */
static void test_thread_count_note(void)
{
    char *err_text = NULL;

    CHECK_EQ_INT(
        train_tiny(model_dir, path_in(tmp_root, "one-thread"), "demo/tiny", "demo/data", &err_text),
        0);
    CHECK(contains(err_text, "seed 42, 1 thread\n"));
    free(err_text);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    const char *source = getenv("ATELIER_SOURCE_ROOT");
    const char *tmp = getenv("TMPDIR");

    bin = getenv("ATELIER_BIN");
    if (bin == NULL || corpus == NULL || source == NULL) {
        printf("1..0 # SKIP ATELIER_BIN, ATELIER_CORPUS or ATELIER_SOURCE_ROOT not set\n");
        return 0;
    }
    snprintf(model_dir, sizeof(model_dir), "%s/models/stories260K", corpus);
    snprintf(style_dir, sizeof(style_dir), "%s/tests/data/style", source);
    snprintf(tmp_root, sizeof(tmp_root), "%s/atelier-messages-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    test_default_names_from_folder();
    test_default_name_from_config();
    test_explicit_names_win();
    test_eval_split_help();
    test_json_floats();
    test_merge_summary_and_force();
    test_merge_short_adapter_warning();
    test_merge_writes_dtype();
    test_missing_model_folder();
    test_dataset_line_formats();
    test_train_out_overlaps_base();
    test_train_out_foreign_files();
    test_train_out_many_foreign_files();
    test_merge_out_overlaps_inputs();
    test_rejected_values();
    test_seq_len_cuts_eval_targets();
    test_names_and_out_path();
    test_small_wording();
    test_thread_count_note();
    test_card_repo_id();
    test_card_eval_file();
    test_tokenizer_of_other_model();
    test_warmup_and_out_usage_errors();
    test_merge_out_checks();
    test_train_out_foreign_folder();
    test_merge_failure_cleans_up();
    test_data_file_messages();
    test_small_dataset_wording();
    test_seq_len_cuts_targets();
    {
        char cmd[1200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_finish();
}
