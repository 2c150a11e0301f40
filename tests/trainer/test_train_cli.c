/* End-to-end tests of `atelier train`, `eval` and `merge` on stories260K and the style
 * dataset in tests/data/style: the adapter learns the closing line, runs are bit-identical
 * for a seed, --resume after SIGTERM equals an uninterrupted run, merge equals the adapter,
 * and bad input fails with the documented exit status and a message naming the value. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapter.h"
#include "generate.h"
#include "harness.h"
#include "test_files.h"
#include "model.h"
#include "st.h"
#include "tok.h"

static const char *bin;
static char model_dir[1024];
static char style_dir[1024];
static char tmp_root[1024];

/* ---- helpers ---- */

static bool same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa != NULL && fb != NULL;
    int ca, cb;

    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF)
            break;
    }
    if (fa != NULL)
        fclose(fa);
    if (fb != NULL)
        fclose(fb);
    return same;
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static int run_atelier(const char *const *args, const char *out_path, const char *err_path)
{
    return run_command(bin, args, out_path, err_path);
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;

    return json_load_file(path, 0, &jerr);
}

static double json_num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_number(v) ? json_number_value(v) : -1.0;
}

/* Copies the files of stories260K into dir, so a test can damage the copy. */
static bool copy_model(const char *dir)
{
    static const char *const files[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                        "model.safetensors", "generation_config.json"};

    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *in = fopen(path_in(model_dir, files[i]), "rb");
        FILE *out = fopen(path_in(dir, files[i]), "wb");
        char buf[65536];
        size_t n;

        if (in == NULL || out == NULL)
            return false;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        fclose(in);
        fclose(out);
    }
    return true;
}

/* ---- style fine-tuning ---- */

static const char *const style_train_args[] = {
    "--steps", "30",   "--batch",   "8",          "--seq-len", "256",
    "--lr",    "1e-2", "--targets", "all-linear", "--threads", "1",
    "--seed",  "7",    "--dropout", "0",          "--warmup",  "2",
};

/* Greedily continues a held-out story that stops before its closing line. */
static char *continue_story(const struct model *m, const struct lora_set *lora,
                            const struct tok *tok)
{
    const char *prompt = "Once upon a time, there was a little boy named Ben. Ben liked to play "
                         "with a toy car on the old pier. A big wave came and a toy car was gone. "
                         "Ben was sad and began to cry. A kind fish had a good idea and smiled. "
                         "Soon a kind fish found a toy car and gave it back.";
    struct gen_params p = gen_params_default();
    struct tr_error err = {{0}};
    int32_t *ids = NULL, *out = NULL;
    size_t n = 0, n_out = 0;
    char *text = NULL;

    p.max_new_tokens = 40;
    p.temperature = 0.0f;
    if (tok_encode(tok, prompt, strlen(prompt), true, &ids, &n, &err) < 0 ||
        generate(m, lora, ids, n, &p, tok_eos_id(tok), NULL, NULL, &out, &n_out, &err) < 0 ||
        tok_decode(tok, out + n, n_out - n, true, &text, &err) < 0)
        printf("# continue_story: %s\n", err.msg);
    free(ids);
    free(out);
    return text;
}

static void check_style_generation(const char *adapter_dir)
{
    struct tr_error err = {{0}};
    struct model *m = NULL;
    struct tok *tok = NULL;
    struct lora_set *lora = NULL;
    char *base_text = NULL, *tuned_text = NULL;

    CHECK_EQ_INT(model_open(&m, model_dir, &err), 0);
    CHECK_EQ_INT(tok_open(&tok, model_dir, &err), 0);
    CHECK_EQ_INT(adapter_load(&lora, adapter_dir, m, &err), 0);
    if (m == NULL || tok == NULL || lora == NULL) {
        printf("# %s\n", err.msg);
        goto out;
    }
    base_text = continue_story(m, NULL, tok);
    tuned_text = continue_story(m, lora, tok);
    CHECK(base_text != NULL && strstr(base_text, "lived happily by the sea") == NULL);
    CHECK(tuned_text != NULL &&
          strstr(tuned_text, "And they all lived happily by the sea.") != NULL);
    /* Generated text may hold newlines, and each TAP comment line needs its own '#'. */
    for (char *p = base_text; p != NULL && *p != '\0'; p++)
        *p = *p == '\n' ? ' ' : *p;
    for (char *p = tuned_text; p != NULL && *p != '\0'; p++)
        *p = *p == '\n' ? ' ' : *p;
    printf("# base continues: %s\n", base_text ? base_text : "");
    printf("# adapter continues: %s\n", tuned_text ? tuned_text : "");
out:
    free(base_text);
    free(tuned_text);
    lora_set_free(lora);
    tok_free(tok);
    model_free(m);
}

static void check_progress_lines(const char *path)
{
    char *text = read_text(path);
    int steps = 0, evals = 0, complete = 0;
    char *save = NULL;

    CHECK(text != NULL);
    if (text == NULL)
        return;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);

        if (j == NULL) {
            printf("# not JSON: %s\n", line);
            continue;
        }
        if (json_object_get(j, "eval_loss") != NULL) {
            evals++;
        } else {
            steps++;
            complete += json_object_get(j, "step") && json_object_get(j, "total_steps") &&
                        json_object_get(j, "loss") && json_object_get(j, "lr") &&
                        json_object_get(j, "grad_norm") && json_object_get(j, "tokens_per_s") &&
                        json_object_get(j, "eta_s");
        }
        json_decref(j);
    }
    CHECK_EQ_INT(steps, 30);
    CHECK_EQ_INT(complete, 30);
    CHECK_EQ_INT(evals, 1);
    free(text);
}

static void check_adapter_files(const char *dir)
{
    json_t *cfg = load_json(path_in(dir, "adapter_config.json"));
    char *card = read_text(path_in(dir, "README.md"));
    struct st_file *st = NULL;
    struct tr_error err = {{0}};
    const struct st_tensor *t;

    CHECK(cfg != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(cfg, "peft_type")), "LORA");
    CHECK_EQ_STR(json_string_value(json_object_get(cfg, "task_type")), "CAUSAL_LM");
    CHECK_EQ_INT(json_integer_value(json_object_get(cfg, "r")), 8);
    CHECK_EQ_INT(json_array_size(json_object_get(cfg, "target_modules")), 7);
    CHECK(json_is_false(json_object_get(cfg, "fan_in_fan_out")));
    CHECK_EQ_STR(json_string_value(json_object_get(cfg, "bias")), "none");
    CHECK_EQ_STR(json_string_value(json_object_get(cfg, "base_model_name_or_path")),
                 "karpathy/stories260K");
    CHECK_EQ_STR(json_string_value(json_object_get(cfg, "revision")), "0123abcd");
    json_decref(cfg);

    CHECK(card != NULL && strncmp(card, "---\nbase_model: \"karpathy/stories260K\"\n", 39) == 0);
    CHECK(card != NULL && strstr(card, "library_name: peft\n") != NULL);
    CHECK(card != NULL && strstr(card, "model-index:\n") != NULL);
    CHECK(card != NULL && strstr(card, "- type: perplexity\n") != NULL);
    CHECK(card != NULL && strstr(card, "| seed | 7 |") != NULL);
    CHECK(card != NULL && strstr(card, "`karpathy/stories260K` at revision `0123abcd`") != NULL);
    CHECK(card != NULL && strstr(card, "datasets:\n- \"teacher/sea-stories\"\n") != NULL);
    /* The run used --eval, so the eval results are credited to that file, which has no
     * revision of the training dataset. */
    CHECK(card != NULL && strstr(card, "      name: \"eval.jsonl\"\n") != NULL);
    CHECK(card != NULL && strstr(card, "      revision: \"4567ef01\"\n") == NULL);
    CHECK(card != NULL && strstr(card, "`teacher/sea-stories` at revision `4567ef01`") != NULL);
    free(card);

    CHECK_EQ_INT(st_open(&st, path_in(dir, "adapter_model.safetensors"), &err), 0);
    if (st == NULL)
        return;
    CHECK_EQ_INT(st_count(st), 5 * 7 * 2);
    CHECK_EQ_STR(st_metadata_get(st, "format"), "pt");
    t = st_find(st, "base_model.model.model.layers.4.mlp.down_proj.lora_A.weight");
    CHECK(t != NULL && t->dtype == ST_F32 && t->shape[0] == 8 && t->shape[1] == 172);
    t = st_find(st, "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight");
    CHECK(t != NULL && t->shape[0] == 32 && t->shape[1] == 8);
    st_close(st);
}

/* A BF16 merge stays close to the adapter, and merging into the base directory itself is a
 * usage error that leaves the base untouched. */
static void check_merge_variants(const char *adapter_dir, double adapter_nll)
{
    const char *completion = path_in(style_dir, "completion.jsonl");
    char *bf16_dir = path_in(tmp_root, "merged-bf16");
    char *bf16_out = path_in(tmp_root, "eval-merged-bf16.json");
    char *err_path = path_in(tmp_root, "merge-stderr.txt");
    const char *bf16_args[] = {"merge", "--base", model_dir, "--adapter", adapter_dir,
                               "--out", bf16_dir, "--dtype", "BF16",      NULL};
    const char *eval_args[] = {"eval",      "--base", bf16_dir,           "--data", completion,
                               "--threads", "1",      "--no-exact-match", NULL};
    const char *onto_base[] = {"merge",     "--base", model_dir, "--adapter",
                               adapter_dir, "--out",  model_dir, NULL};
    json_t *doc;
    char *text;

    CHECK_EQ_INT(run_atelier(bf16_args, NULL, NULL), 0);
    CHECK_EQ_INT(run_atelier(eval_args, bf16_out, NULL), 0);
    doc = load_json(bf16_out);
    CHECK(doc != NULL);
    /* BF16 keeps about 3 significant digits of each weight, so the loss moves by a few
     * hundredths at most on this model. */
    CHECK_NEAR(json_num(doc, "mean_nll"), adapter_nll, 0.05);
    CHECK(json_object_get(doc, "exact_match") == NULL);
    json_decref(doc);

    CHECK_EQ_INT(run_atelier(onto_base, NULL, err_path), 2);
    text = read_text(err_path);
    CHECK(text != NULL && strstr(text, "is the --base folder") != NULL);
    CHECK(text != NULL && strstr(text, "choose a folder outside it") != NULL);
    free(text);
}

static void check_eval_and_merge(const char *adapter_dir)
{
    const char *completion = path_in(style_dir, "completion.jsonl");
    char *eval_out = path_in(tmp_root, "eval.json");
    char *merged_dir = path_in(tmp_root, "merged");
    char *merged_out = path_in(tmp_root, "eval-merged.json");
    const char *eval_args[] = {"eval",   "--base",   model_dir,   "--adapter", adapter_dir,
                               "--data", completion, "--threads", "1",         NULL};
    const char *merge_args[] = {"merge",     "--base", model_dir,  "--adapter",
                                adapter_dir, "--out",  merged_dir, NULL};
    const char *merged_args[] = {"eval",     "--base",    merged_dir, "--data",
                                 completion, "--threads", "1",        NULL};
    json_t *both, *merged, *base, *tuned;
    double adapter_nll;

    CHECK_EQ_INT(run_atelier(eval_args, eval_out, NULL), 0);
    CHECK_EQ_INT(run_atelier(merge_args, NULL, NULL), 0);
    CHECK(exists(path_in(merged_dir, "tokenizer.json")));
    CHECK_EQ_INT(run_atelier(merged_args, merged_out, NULL), 0);
    both = load_json(eval_out);
    merged = load_json(merged_out);
    base = json_object_get(both, "base");
    tuned = json_object_get(both, "adapter");
    CHECK(base != NULL && tuned != NULL && merged != NULL);
    CHECK(json_num(tuned, "mean_nll") < 0.5 * json_num(base, "mean_nll"));
    CHECK(json_num(tuned, "token_accuracy") > json_num(base, "token_accuracy"));
    CHECK_NEAR(json_num(base, "exact_match"), 0.0, 1e-9);
    CHECK(json_num(tuned, "exact_match") >= 0.5);
    CHECK_EQ_INT(json_integer_value(json_object_get(tuned, "exact_match_examples")), 18);
    CHECK_NEAR(json_num(tuned, "perplexity"), exp(json_num(tuned, "mean_nll")), 1e-6);
    /* The merged weights hold W + scale B A in float32, so only rounding separates them. */
    CHECK_NEAR(json_num(merged, "mean_nll"), json_num(tuned, "mean_nll"), 1e-4);
    CHECK_NEAR(json_num(merged, "token_accuracy"), json_num(tuned, "token_accuracy"), 1e-9);
    adapter_nll = json_num(tuned, "mean_nll");
    json_decref(both);
    json_decref(merged);
    check_merge_variants(adapter_dir, adapter_nll);
}

static void test_style_finetune(void)
{
    char *out = path_in(tmp_root, "style");
    char *progress = path_in(tmp_root, "style-progress.jsonl");
    char *log = path_in(tmp_root, "style-stderr.txt");
    const char *args[40] = {"train",
                            "--base",
                            model_dir,
                            "--data",
                            path_in(style_dir, "train.jsonl"),
                            "--eval",
                            path_in(style_dir, "eval.jsonl"),
                            "--out",
                            out,
                            "--base-name",
                            "karpathy/stories260K",
                            "--base-revision",
                            "0123abcd",
                            "--dataset-name",
                            "teacher/sea-stories",
                            "--dataset-revision",
                            "4567ef01"};
    size_t n = 17;
    json_t *res;
    char *err_text;

    for (size_t i = 0; i < sizeof(style_train_args) / sizeof(style_train_args[0]); i++)
        args[n++] = style_train_args[i];
    args[n] = NULL;
    CHECK_EQ_INT(run_atelier(args, progress, log), 0);
    err_text = read_text(log);
    CHECK(err_text != NULL && strstr(err_text, "seed 7") != NULL);
    free(err_text);
    CHECK(exists(path_in(out, "adapter_config.json")));
    CHECK(exists(path_in(out, "adapter_model.safetensors")));
    CHECK(exists(path_in(out, "README.md")));
    CHECK(exists(path_in(out, "train_results.json")));
    CHECK(exists(path_in(out, "checkpoint/state.bin")));
    res = load_json(path_in(out, "train_results.json"));
    CHECK(res != NULL);
    printf("# base eval loss %.4f, adapter eval loss %.4f\n", json_num(res, "base_eval_loss"),
           json_num(res, "eval_loss"));
    CHECK(json_num(res, "base_eval_loss") > 1.0);
    CHECK(json_num(res, "eval_loss") < 0.5 * json_num(res, "base_eval_loss"));
    CHECK_NEAR(json_num(res, "eval_perplexity"), exp(json_num(res, "eval_loss")), 1e-6);
    CHECK_EQ_INT(json_integer_value(json_object_get(res, "steps")), 30);
    CHECK(json_integer_value(json_object_get(res, "tokens")) > 1000);
    json_decref(res);
    check_progress_lines(progress);
    check_adapter_files(out);
    check_style_generation(out);
    check_eval_and_merge(out);
}

/* ---- determinism and resume ---- */

static int train_small(const char *out, const char *seed, const char *extra1, const char *extra2,
                       const char *progress_path, const char *err_path)
{
    const char *args[] = {"train",
                          "--base",
                          model_dir,
                          "--data",
                          path_in(style_dir, "train.jsonl"),
                          "--out",
                          out,
                          "--steps",
                          "8",
                          "--batch",
                          "4",
                          "--grad-accum",
                          "2",
                          "--seq-len",
                          "200",
                          "--lr",
                          "5e-3",
                          "--dropout",
                          "0.1",
                          "--threads",
                          "1",
                          "--seed",
                          seed,
                          "--checkpoint-every",
                          "3",
                          "--warmup",
                          "2",
                          extra1,
                          extra2,
                          NULL};

    return run_atelier(args, progress_path, err_path);
}

static void test_same_seed_identical(void)
{
    char *a = path_in(tmp_root, "same-a");
    char *b = path_in(tmp_root, "same-b");
    char *c = path_in(tmp_root, "other-seed");

    CHECK_EQ_INT(train_small(a, "11", NULL, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(train_small(b, "11", NULL, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(train_small(c, "12", NULL, NULL, NULL, NULL), 0);
    CHECK(same_bytes(path_in(a, "adapter_model.safetensors"),
                     path_in(b, "adapter_model.safetensors")));
    CHECK(!same_bytes(path_in(a, "adapter_model.safetensors"),
                      path_in(c, "adapter_model.safetensors")));
}

/* Two threads split the kernels' loops, so this checks that the split is fixed too. */
static void test_two_threads_identical(void)
{
    char *a = path_in(tmp_root, "threads-a");
    char *b = path_in(tmp_root, "threads-b");
    const char *args_a[] = {
        "train",     "--base",    model_dir, "--data",    path_in(style_dir, "train.jsonl"),
        "--out",     a,           "--steps", "2",         "--batch",
        "4",         "--seq-len", "64",      "--dropout", "0.1",
        "--threads", "2",         "--seed",  "5",         NULL};
    const char *args_b[] = {
        "train",     "--base",    model_dir, "--data",    path_in(style_dir, "train.jsonl"),
        "--out",     b,           "--steps", "2",         "--batch",
        "4",         "--seq-len", "64",      "--dropout", "0.1",
        "--threads", "2",         "--seed",  "5",         NULL};

    CHECK_EQ_INT(run_atelier(args_a, NULL, NULL), 0);
    CHECK_EQ_INT(run_atelier(args_b, NULL, NULL), 0);
    CHECK(same_bytes(path_in(a, "adapter_model.safetensors"),
                     path_in(b, "adapter_model.safetensors")));
}

/* Starts atelier with args, stdout to /dev/null and stderr to err_path, keeping the other
 * descriptors open. Returns the pid. */
static pid_t spawn_atelier(const char *const *args, const char *err_path)
{
    return spawn_command(bin, args, NULL, err_path, 0);
}

/* Starts a run with --progress-fd, sends SIGTERM once step 2 is reported, then resumes. The
 * result must equal the uninterrupted run of test_same_seed_identical byte for byte. */
static void test_resume_after_sigterm(void)
{
    char *dir = path_in(tmp_root, "resumed");
    char *log = path_in(tmp_root, "resumed-stderr.txt");
    char *resumed_progress = path_in(tmp_root, "resumed-progress.jsonl");
    char fd_text[16], line[512];
    int fds[2], status = 0, first_resumed_step = 0;
    bool signalled = false;
    FILE *progress;
    char *text;
    pid_t pid;

    CHECK_EQ_INT(pipe(fds), 0);
    snprintf(fd_text, sizeof(fd_text), "%d", fds[1]);
    {
        const char *args[] = {"train",
                              "--base",
                              model_dir,
                              "--data",
                              path_in(style_dir, "train.jsonl"),
                              "--out",
                              dir,
                              "--steps",
                              "8",
                              "--batch",
                              "4",
                              "--grad-accum",
                              "2",
                              "--seq-len",
                              "200",
                              "--lr",
                              "5e-3",
                              "--dropout",
                              "0.1",
                              "--threads",
                              "1",
                              "--seed",
                              "11",
                              "--checkpoint-every",
                              "3",
                              "--warmup",
                              "2",
                              "--progress-fd",
                              fd_text,
                              NULL};

        pid = spawn_atelier(args, log);
    }
    close(fds[1]);
    progress = fdopen(fds[0], "r");
    while (progress != NULL && fgets(line, sizeof(line), progress) != NULL) {
        if (!signalled && strstr(line, "\"step\": 2,") != NULL) {
            kill(pid, SIGTERM);
            signalled = true;
        }
    }
    if (progress != NULL)
        fclose(progress);
    waitpid(pid, &status, 0);
    CHECK(signalled);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    text = read_text(log);
    CHECK(text != NULL && strstr(text, "rerun with --resume") != NULL);
    free(text);
    CHECK(!exists(path_in(dir, "adapter_model.safetensors")));

    CHECK_EQ_INT(train_small(dir, "11", "--resume", NULL, resumed_progress, NULL), 0);
    text = read_text(resumed_progress);
    if (text != NULL && strncmp(text, "{\"step\": ", 9) == 0)
        first_resumed_step = (int)strtol(text + 9, NULL, 10);
    free(text);
    printf("# the resumed run started at step %d\n", first_resumed_step);
    CHECK(first_resumed_step >= 3 && first_resumed_step <= 8);
    CHECK(same_bytes(path_in(dir, "adapter_model.safetensors"),
                     path_in(path_in(tmp_root, "same-a"), "adapter_model.safetensors")));
}

/* --resume with no checkpoint trains from step 0 and reports it in a line marked as a
 * warning, which the job log viewer shows highlighted. */
static void test_resume_without_checkpoint(void)
{
    char *dir = path_in(tmp_root, "resume-fresh");
    char *log = path_in(tmp_root, "resume-fresh-stderr.txt");
    char *text;

    CHECK_EQ_INT(train_small(dir, "11", "--resume", NULL, NULL, log), 0);
    text = read_text(log);
    CHECK(text != NULL);
    CHECK(text != NULL &&
          strstr(text, "atelier train: warning: --resume: no checkpoint at ") != NULL);
    CHECK(text != NULL && strstr(text, "starting at step 0") != NULL);
    free(text);
    CHECK(same_bytes(path_in(dir, "adapter_model.safetensors"),
                     path_in(path_in(tmp_root, "same-a"), "adapter_model.safetensors")));
}

/* --epochs with --eval-split: 80 examples less a 20% split leave 64, so one epoch at batch
 * 16 is 4 steps, and the held-out 16 are scored. */
static void test_epochs_and_eval_split(void)
{
    char *out = path_in(tmp_root, "split");
    char *progress = path_in(tmp_root, "split-progress.jsonl");
    char *log = path_in(tmp_root, "split-stderr.txt");
    const char *args[] = {"train",
                          "--base",
                          model_dir,
                          "--data",
                          path_in(style_dir, "train.jsonl"),
                          "--out",
                          out,
                          "--epochs",
                          "1",
                          "--batch",
                          "16",
                          "--seq-len",
                          "64",
                          "--eval-split",
                          "0.2",
                          "--threads",
                          "1",
                          NULL};
    json_t *res;
    char *card, *err_text;

    CHECK_EQ_INT(run_atelier(args, progress, log), 0);
    res = load_json(path_in(out, "train_results.json"));
    CHECK(res != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(res, "steps")), 4);
    CHECK(json_is_number(json_object_get(res, "eval_loss")));
    CHECK(json_is_number(json_object_get(res, "base_eval_loss")));
    json_decref(res);
    err_text = read_text(log);
    CHECK(err_text != NULL);
    CHECK(err_text != NULL && strstr(err_text, "64 training and 16 eval examples") != NULL);
    /* Every story is longer than 64 tokens, and the run warns about it once. */
    CHECK(err_text != NULL &&
          strstr(err_text, "atelier train: warning: 64 of 64 training examples are longer") !=
              NULL);
    free(err_text);
    card = read_text(path_in(out, "README.md"));
    CHECK(card != NULL);
    CHECK(card != NULL && strstr(card, "split: held-out split of train") != NULL);
    free(card);
}

/* Returns the largest absolute difference between the A and B matrices of two adapters. */
static double max_adapter_diff(const char *dir_a, const char *dir_b)
{
    struct tr_error err = {{0}};
    struct model *m = NULL;
    struct lora_set *a = NULL, *b = NULL;
    double worst = -1.0;

    if (model_open(&m, model_dir, &err) < 0 || adapter_load(&a, dir_a, m, &err) < 0 ||
        adapter_load(&b, dir_b, m, &err) < 0) {
        printf("# max_adapter_diff: %s\n", err.msg);
        goto out;
    }
    worst = 0.0;
    for (int l = 0; l < a->num_layers; l++) {
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            struct lora_matrix *ma = lora_set_get(a, l, (enum lora_target)t);
            struct lora_matrix *mb = lora_set_get(b, l, (enum lora_target)t);
            size_t n_a, n_b;

            if (ma == NULL || mb == NULL)
                continue;
            n_a = (size_t)a->rank * (size_t)ma->in;
            n_b = (size_t)ma->out * (size_t)a->rank;
            for (size_t i = 0; i < n_a; i++)
                worst = fmax(worst, fabs((double)ma->A[i] - (double)mb->A[i]));
            for (size_t i = 0; i < n_b; i++)
                worst = fmax(worst, fabs((double)ma->B[i] - (double)mb->B[i]));
        }
    }
out:
    lora_set_free(a);
    lora_set_free(b);
    model_free(m);
    return worst;
}

/* Batch 8 in one micro-batch and batch 4 with 2 accumulation steps see the same examples
 * per step, and the accumulated gradient is the token-weighted mean of the step, so both
 * runs must reach the same adapter up to float rounding. */
static void test_grad_accum_matches_batch(void)
{
    char *one = path_in(tmp_root, "batch8");
    char *two = path_in(tmp_root, "batch4x2");
    const char *args_one[] = {
        "train",     "--base",    model_dir,   "--data", path_in(style_dir, "train.jsonl"),
        "--out",     one,         "--steps",   "3",      "--batch",
        "8",         "--seq-len", "200",       "--lr",   "5e-3",
        "--dropout", "0",         "--threads", "1",      NULL};
    const char *args_two[] = {"train",
                              "--base",
                              model_dir,
                              "--data",
                              path_in(style_dir, "train.jsonl"),
                              "--out",
                              two,
                              "--steps",
                              "3",
                              "--batch",
                              "4",
                              "--grad-accum",
                              "2",
                              "--seq-len",
                              "200",
                              "--lr",
                              "5e-3",
                              "--dropout",
                              "0",
                              "--threads",
                              "1",
                              NULL};
    double diff;

    CHECK_EQ_INT(run_atelier(args_one, NULL, NULL), 0);
    CHECK_EQ_INT(run_atelier(args_two, NULL, NULL), 0);
    diff = max_adapter_diff(one, two);
    printf("# largest difference between the adapters: %g\n", diff);
    /* AdamW moves each parameter by about lr per step, so 3 steps of 5e-3 put unrelated
     * gradients about 1e-2 apart; rounding differences stay orders of magnitude below. */
    CHECK(diff >= 0.0);
    CHECK(diff < 1e-4);
}

/* ---- bad input ---- */

/* Runs args, expects exit status want and a stderr that contains each of needles. */
static void expect_failure(const char *const *args, int want, const char *needle1,
                           const char *needle2)
{
    char *err_path = path_in(tmp_root, "failure-stderr.txt");
    int got = run_atelier(args, NULL, err_path);
    char *text = read_text(err_path);

    CHECK_EQ_INT(got, want);
    if (text == NULL || strstr(text, needle1) == NULL ||
        (needle2 != NULL && strstr(text, needle2) == NULL))
        printf("# stderr was: %s\n", text ? text : "(none)");
    CHECK(text != NULL && strstr(text, needle1) != NULL);
    CHECK(needle2 == NULL || (text != NULL && strstr(text, needle2) != NULL));
    free(text);
}

static void test_bad_options(void)
{
    const char *data = path_in(style_dir, "train.jsonl");
    const char *out = path_in(tmp_root, "bad-options");
    const char *rank[] = {"train", "--base", model_dir, "--data", data,
                          "--out", out,      "--rank",  "0",      NULL};
    const char *lr[] = {"train", "--base", model_dir, "--data", data,
                        "--out", out,      "--lr",    "fast",   NULL};
    const char *dropout[] = {"train", "--base", model_dir,   "--data", data,
                             "--out", out,      "--dropout", "1.5",    NULL};
    const char *targets[] = {"train", "--base", model_dir,   "--data",        data,
                             "--out", out,      "--targets", "q_proj,c_attn", NULL};
    const char *seed[] = {"train", "--base", model_dir, "--data", data,
                          "--out", out,      "--seed",  "-1",     NULL};
    const char *missing[] = {"train", "--base", model_dir, "--data", data, NULL};
    const char *both[] = {"train", "--base",  model_dir, "--data",   data, "--out",
                          out,     "--steps", "3",       "--epochs", "1",  NULL};
    const char *seq_len[] = {"train", "--base", model_dir,   "--data", data,
                             "--out", out,      "--seq-len", "4096",   NULL};
    const char *fd[] = {"train", "--base", model_dir,       "--data", data,
                        "--out", out,      "--progress-fd", "777",    NULL};

    expect_failure(rank, 2, "--rank", "1 to 4096");
    expect_failure(lr, 2, "--lr", "\"fast\"");
    expect_failure(dropout, 2, "--dropout", "1.5");
    expect_failure(targets, 2, "c_attn", "q_proj");
    expect_failure(seed, 2, "--seed", "-1");
    expect_failure(missing, 2, "missing --out", NULL);
    expect_failure(both, 2, "--steps", "--epochs");
    expect_failure(fd, 2, "--progress-fd", "777");
    /* The context comes from the base model's config.json; a value above it is a usage
     * error like any other value out of range. */
    expect_failure(seq_len, 2, "--seq-len value 4096", "from 2 to 512");
}

static void test_bad_inputs(void)
{
    char *file = path_in(tmp_root, "plain-file");
    char *under_file = path_in(file, "adapter");
    char *bad_jsonl = path_in(tmp_root, "bad.jsonl");
    char *long_jsonl = path_in(tmp_root, "long.jsonl");
    char *bad_model = path_in(tmp_root, "bad-config-model");
    char *out = path_in(tmp_root, "bad-inputs");
    const char *data = path_in(style_dir, "train.jsonl");
    char *long_text = malloc(20000);
    const char *unwritable[] = {"train", "--base",   model_dir, "--data", data,
                                "--out", under_file, "--steps", "1",      NULL};
    const char *bad_line[] = {"train", "--base", model_dir, "--data", bad_jsonl,
                              "--out", out,      "--steps", "1",      NULL};
    const char *too_long[] = {"train", "--base", model_dir, "--data", long_jsonl,
                              "--out", out,      "--steps", "1",      NULL};
    const char *bad_config[] = {"train", "--base", bad_model, "--data", data,
                                "--out", out,      "--steps", "1",      NULL};
    const char *missing_data[] = {
        "train", "--base", model_dir, "--data", path_in(tmp_root, "no-such.jsonl"),
        "--out", out,      NULL};

    CHECK(write_text(file, "not a directory\n"));
    expect_failure(unwritable, 2, under_file, "is not a folder");

    CHECK(write_text(bad_jsonl, "{\"text\": \"One fine day.\"}\n{\"text\": \"broken\n"));
    expect_failure(bad_line, 1, "line 2", NULL);

    strcpy(long_text, "{\"text\": \"");
    for (int i = 0; i < 400; i++)
        strcat(long_text, "The cat sat. ");
    strcat(long_text, "\"}\n");
    CHECK(write_text(long_jsonl, long_text));
    expect_failure(too_long, 1, "line 1", NULL);
    free(long_text);

    CHECK(copy_model(bad_model));
    CHECK(write_text(path_in(bad_model, "config.json"), "{\"model_type\": \"llama\", "));
    expect_failure(bad_config, 1, "config.json", NULL);

    expect_failure(missing_data, 1, "no-such.jsonl", NULL);

    /* A damaged weights file is reported by the model loader, naming the file. */
    CHECK(copy_model(bad_model));
    CHECK(truncate(path_in(bad_model, "model.safetensors"), 5000) == 0);
    expect_failure(bad_config, 1, "model.safetensors", "truncated");
}

/* Puts NaN into the first weight of layer 0's q_proj of a model copy: the first forward
 * pass then yields a NaN loss, and training must stop with a checkpoint. */
static void test_nan_loss_stops(void)
{
    char *dir = path_in(tmp_root, "nan-model");
    char *out = path_in(tmp_root, "nan-run");
    char *weights = path_in(dir, "model.safetensors");
    const char *args[] = {"train", "--base", dir,       "--data", path_in(style_dir, "train.jsonl"),
                          "--out", out,      "--steps", "3",      "--threads",
                          "1",     NULL};
    struct st_file *st = NULL;
    struct tr_error err = {{0}};
    const struct st_tensor *t;
    unsigned char len_bytes[8];
    unsigned long long header_len = 0;
    size_t offset = 0;
    float nan_value = NAN;
    FILE *f;

    CHECK(copy_model(dir));
    CHECK_EQ_INT(st_open(&st, weights, &err), 0);
    t = st != NULL ? st_find(st, "model.layers.0.self_attn.q_proj.weight") : NULL;
    CHECK(t != NULL);
    if (t == NULL) {
        st_close(st);
        return;
    }
    /* Tensor 0 in offset order starts the data area, which follows the 8-byte header length
     * and the JSON header. */
    offset = (size_t)((const char *)t->data - (const char *)st_tensor_at(st, 0)->data);
    st_close(st);
    f = fopen(weights, "r+b");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(fread(len_bytes, 1, 8, f) == 8);
    for (int i = 7; i >= 0; i--)
        header_len = header_len * 256 + len_bytes[i];
    fseek(f, (long)(8 + header_len + offset), SEEK_SET);
    fwrite(&nan_value, sizeof(nan_value), 1, f);
    fclose(f);

    expect_failure(args, 1, "nan", "last good state");
    CHECK(exists(path_in(out, "checkpoint/state.bin")));
    CHECK(!exists(path_in(out, "adapter_model.safetensors")));
}

/* Resumes the finished run in same-a with one option changed (name NULL: none) and the
 * given --data, and expects exit 1 with a message that contains needle1 and needle2. */
static void expect_resume_rejected(const char *data, const char *name, const char *value,
                                   const char *needle1, const char *needle2)
{
    const char *args[40] = {"train",
                            "--base",
                            model_dir,
                            "--data",
                            data,
                            "--out",
                            path_in(tmp_root, "same-a"),
                            "--steps",
                            "8",
                            "--batch",
                            "4",
                            "--grad-accum",
                            "2",
                            "--seq-len",
                            "200",
                            "--lr",
                            "5e-3",
                            "--dropout",
                            "0.1",
                            "--threads",
                            "1",
                            "--seed",
                            "11",
                            "--checkpoint-every",
                            "3",
                            "--warmup",
                            "2",
                            "--resume"};
    size_t n = 28;

    if (name != NULL) {
        args[n++] = name;
        args[n++] = value;
    }
    args[n] = NULL;
    expect_failure(args, 1, needle1, needle2);
}

/* --resume rejects a run whose data or optimizer settings differ from the checkpoint's,
 * naming the option and both values, and names ranks rather than parameter counts. */
static void test_resume_rejects_changes(void)
{
    const char *data = path_in(style_dir, "train.jsonl");
    char *fewer = path_in(tmp_root, "fewer.jsonl");
    char *text = read_text(data);
    char *cut;

    expect_resume_rejected(data, "--lr", "1e-3", "with --lr 0.005", "this run has 0.001");
    expect_resume_rejected(data, "--warmup", "1", "with --warmup 2", "this run has 1");
    expect_resume_rejected(data, "--clip", "0.5", "with --clip 1", "this run has 0.5");
    expect_resume_rejected(data, "--weight-decay", "0.1", "with --weight-decay 0",
                           "this run has 0.1");
    expect_resume_rejected(data, "--seq-len", "100", "with --seq-len 200", "this run has 100");
    expect_resume_rejected(data, "--rank", "4", "with --rank 8", "this run has 4");
    /* --steps stays 8, so only the stored values catch a changed batch shape. */
    expect_resume_rejected(data, "--batch", "8", "with --batch 4", "this run has 8");
    expect_resume_rejected(data, "--grad-accum", "1", "with --grad-accum 2", "this run has 1");
    expect_resume_rejected(data, "--eval", path_in(style_dir, "eval.jsonl"),
                           "the --eval data changed", "none then");
    /* The same examples less the last line. */
    CHECK(text != NULL);
    if (text == NULL)
        return;
    cut = strrchr(text, '\n');
    while (cut != NULL && cut > text && cut[-1] != '\n')
        cut--;
    if (cut != NULL)
        *cut = '\0';
    CHECK(write_text(fewer, text));
    free(text);
    expect_resume_rejected(fewer, NULL, NULL, "the training data changed", "same --data file");
}

/* Overwrites every weight of lm_head in the model copy in dir with zeros. */
static bool zero_lm_head(const char *dir)
{
    char *weights = path_in(dir, "model.safetensors");
    struct st_file *st = NULL;
    struct tr_error err = {{0}};
    const struct st_tensor *t;
    unsigned char len_bytes[8];
    unsigned long long header_len = 0;
    size_t offset, nbytes;
    char *zeros;
    bool ok;
    FILE *f;

    if (st_open(&st, weights, &err) < 0)
        return false;
    t = st_find(st, "lm_head.weight");
    if (t == NULL) {
        st_close(st);
        return false;
    }
    offset = (size_t)((const char *)t->data - (const char *)st_tensor_at(st, 0)->data);
    nbytes = t->nbytes;
    st_close(st);
    f = fopen(weights, "r+b");
    if (f == NULL)
        return false;
    ok = fread(len_bytes, 1, 8, f) == 8;
    for (int i = 7; i >= 0; i--)
        header_len = header_len * 256 + len_bytes[i];
    zeros = calloc(1, nbytes);
    ok = ok && zeros != NULL && fseek(f, (long)(8 + header_len + offset), SEEK_SET) == 0 &&
         fwrite(zeros, 1, nbytes, f) == nbytes;
    free(zeros);
    return fclose(f) == 0 && ok;
}

/* A run that learns nothing ends with exit 0 and a warning line that it collapsed and what
 * to change. With lm_head all zero every gradient is exactly 0, and a learning rate of 1
 * with a large alpha drives the loss, and the eval loss, far above where they started. */
static void test_collapse_warning(void)
{
    char *dir = path_in(tmp_root, "zero-head-model");
    char *log = path_in(tmp_root, "collapse-stderr.txt");
    const char *zero_grad[] = {"train",
                               "--base",
                               dir,
                               "--data",
                               path_in(style_dir, "train.jsonl"),
                               "--out",
                               path_in(tmp_root, "zero-grad-run"),
                               "--steps",
                               "4",
                               "--batch",
                               "4",
                               "--seq-len",
                               "64",
                               "--threads",
                               "1",
                               NULL};
    const char *diverged[] = {"train",
                              "--base",
                              model_dir,
                              "--data",
                              path_in(style_dir, "train.jsonl"),
                              "--out",
                              path_in(tmp_root, "diverged-run"),
                              "--steps",
                              "8",
                              "--batch",
                              "4",
                              "--seq-len",
                              "64",
                              "--threads",
                              "1",
                              "--lr",
                              "1",
                              "--alpha",
                              "1000",
                              "--clip",
                              "0",
                              NULL,
                              NULL,
                              NULL};
    const char *healthy[] = {"train",
                             "--base",
                             model_dir,
                             "--data",
                             path_in(style_dir, "train.jsonl"),
                             "--out",
                             path_in(tmp_root, "healthy-run"),
                             "--steps",
                             "4",
                             "--batch",
                             "4",
                             "--seq-len",
                             "64",
                             "--threads",
                             "1",
                             NULL};
    char *text;

    CHECK(copy_model(dir));
    CHECK(zero_lm_head(dir));
    CHECK_EQ_INT(run_atelier(zero_grad, NULL, log), 0);
    text = read_text(log);
    CHECK(text != NULL && strstr(text, "atelier train: warning: the run collapsed") != NULL);
    CHECK(text != NULL && strstr(text, "gradient norm was 0 in each of the last 4 steps") != NULL);
    CHECK(text != NULL && strstr(text, "lower --lr or --alpha") != NULL);
    free(text);

    CHECK_EQ_INT(run_atelier(diverged, NULL, log), 0);
    text = read_text(log);
    CHECK(text != NULL &&
          strstr(text, "the run collapsed: the mean loss of the last 3 steps") != NULL);
    CHECK(text != NULL &&
          strstr(text, "is more than 25% above the loss of the first step") != NULL);
    free(text);

    diverged[6] = path_in(tmp_root, "diverged-eval-run");
    diverged[21] = "--eval-split";
    diverged[22] = "0.2";
    CHECK_EQ_INT(run_atelier(diverged, NULL, log), 0);
    text = read_text(log);
    CHECK(text != NULL && strstr(text, "the run collapsed: the eval loss") != NULL);
    CHECK(text != NULL && strstr(text, "more than 5% above the base model's") != NULL);
    free(text);

    CHECK_EQ_INT(run_atelier(healthy, NULL, log), 0);
    text = read_text(log);
    CHECK(text != NULL && strstr(text, "collapsed") == NULL);
    free(text);
}

/* Writes a dataset of made-up words that stories260K predicts worse than a uniform guess,
 * so a run on it starts with a loss far above ln(vocab size) and still learns. */
static bool write_unfamiliar_data(const char *path)
{
    static const char *const words[] = {"QXZJ", "zzqv", "Wkkp", "0x9F",
                                        "#@!%", "ZZZZ", "qqqq", "XYXY"};
    FILE *f = fopen(path, "w");
    unsigned state = 1;

    if (f == NULL)
        return false;
    for (int i = 0; i < 40; i++) {
        fputs("{\"text\": \"", f);
        for (int w = 0; w < 20; w++) {
            state = state * 1103515245u + 12345u;
            fprintf(f, "%s%s", w > 0 ? " " : "", words[(state >> 16) % 8]);
        }
        fputs("\"}\n", f);
    }
    return fclose(f) == 0;
}

/* A run whose loss starts above ln(vocab size) and falls, with an eval loss below the
 * base model's, learned something and must not be called collapsed. */
static void test_collapse_high_start_loss(void)
{
    char *data = path_in(tmp_root, "unfamiliar.jsonl");
    char *log = path_in(tmp_root, "high-start-stderr.txt");
    char *out = path_in(tmp_root, "high-start-run");
    const char *args[] = {"train", "--base",  model_dir, "--data",       data,  "--out",
                          out,     "--steps", "6",       "--batch",      "4",   "--seq-len",
                          "64",    "--lr",    "2e-3",    "--eval-split", "0.2", "--threads",
                          "1",     NULL};
    json_t *results;
    char *text;

    CHECK(write_unfamiliar_data(data));
    CHECK_EQ_INT(run_atelier(args, NULL, log), 0);
    results = load_json(path_in(out, "train_results.json"));
    CHECK(results != NULL);
    CHECK(json_num(results, "train_loss") > 6.2383);
    CHECK(json_num(results, "eval_loss") < json_num(results, "base_eval_loss"));
    json_decref(results);
    text = read_text(log);
    CHECK(text != NULL && strstr(text, "collapsed") == NULL);
    free(text);
}

static void test_checkpoint_version_mismatch(void)
{
    char *dir = path_in(tmp_root, "same-a");
    char *state = path_in(dir, "checkpoint/state.bin");
    const char *args[] = {"train",
                          "--base",
                          model_dir,
                          "--data",
                          path_in(style_dir, "train.jsonl"),
                          "--out",
                          dir,
                          "--steps",
                          "8",
                          "--batch",
                          "4",
                          "--grad-accum",
                          "2",
                          "--seq-len",
                          "200",
                          "--seed",
                          "11",
                          "--resume",
                          NULL};
    unsigned char version = 9;
    FILE *f = fopen(state, "r+b");

    CHECK(f != NULL);
    if (f == NULL)
        return;
    fseek(f, 8, SEEK_SET);
    fwrite(&version, 1, 1, f);
    fclose(f);
    expect_failure(args, 1, "version 9", "without --resume");
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
    snprintf(tmp_root, sizeof(tmp_root), "%s/atelier-train-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    test_style_finetune();
    test_same_seed_identical();
    test_two_threads_identical();
    test_resume_after_sigterm();
    test_resume_without_checkpoint();
    test_epochs_and_eval_split();
    test_grad_accum_matches_batch();
    test_bad_options();
    test_bad_inputs();
    test_nan_loss_stops();
    test_resume_rejects_changes();
    test_collapse_warning();
    test_collapse_high_start_loss();
    test_checkpoint_version_mismatch();
    {
        char cmd[4200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_finish();
}
