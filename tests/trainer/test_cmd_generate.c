/* atelier generate as a user runs it: the stories260K greedy text of its REFERENCE.md,
 * reproducible sampling, and one clear error line with the right exit status for each
 * kind of bad input. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "harness.h"
#include "lora.h"
#include "model.h"
#include "rng.h"

static char bin[4096], model[4096];

/* Runs atelier generate with args; returns the exit status and fills out with stdout and
 * stderr together. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[20000];
    FILE *p;
    size_t n = 0;
    int status;

    snprintf(cmd, sizeof(cmd), "'%s' generate %s 2>&1", bin, args);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    while (n + 1 < cap) {
        size_t got = fread(out + n, 1, cap - n - 1, p);

        if (got == 0)
            break;
        n += got;
    }
    out[n] = '\0';
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Writes a rank-4 adapter for stories260K into dir; B stays zero unless randomize. */
static int write_adapter(const char *dir, bool randomize)
{
    struct tr_error err = {0};
    struct model *m = NULL;
    struct lora_set *lora = NULL;
    struct adapter_save_info info = {.base_model = "stories260K", .revision = NULL};
    struct rng r;
    int rc = -1;

    if (model_open(&m, model, &err) < 0)
        goto out;
    lora = lora_set_new(model_get_config(m), 4, 8.0f, false, 0.0f, 0x7f, false, &err);
    if (lora == NULL)
        goto out;
    lora_set_init(lora, 1);
    rng_seed(&r, 2);
    for (int i = 0; randomize && i < lora->num_layers * LORA_NUM_TARGETS; i++) {
        for (int j = 0; j < lora->m[i].out * lora->rank; j++)
            lora->m[i].B[j] = 0.5f * rng_normal(&r);
    }
    rc = adapter_save(dir, lora, &info, &err);
out:
    if (rc < 0)
        printf("# %s\n", err.msg);
    lora_set_free(lora);
    model_free(m);
    return rc;
}

/* An adapter with B = 0 leaves the text unchanged; a trained-looking one changes it; a
 * directory without an adapter is an error naming it. */
static void check_adapter(char *out, size_t cap)
{
    char dir[4096], args[16384], base[8192];
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";

    snprintf(dir, sizeof(dir), "%s/test_cmd_generate_XXXXXX", tmp);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(args, sizeof(args), "--base '%s' --prompt 'Once upon a time' --max-new-tokens 32",
             model);
    CHECK_EQ_INT(run(args, base, sizeof(base)), 0);

    CHECK_EQ_INT(write_adapter(dir, false), 0);
    snprintf(args, sizeof(args), "--base '%s' --adapter '%s' --prompt 'Once upon a time' "
             "--max-new-tokens 32", model, dir);
    CHECK_EQ_INT(run(args, out, cap), 0);
    CHECK_EQ_STR(out, base);

    CHECK_EQ_INT(write_adapter(dir, true), 0);
    CHECK_EQ_INT(run(args, out, cap), 0);
    CHECK(strcmp(out, base) != 0);
    CHECK(strncmp(out, "Once upon a time", 16) == 0);

    snprintf(args, sizeof(args), "--base '%s' --adapter '%s/none' --prompt hi", model, dir);
    CHECK_EQ_INT(run(args, out, cap), 1);
    CHECK(strstr(out, "--adapter") != NULL);
    CHECK(strstr(out, "/none") != NULL);

    snprintf(args, sizeof(args), "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(args), 0);
}

/* Makes dir a copy of the stories260K model (by symbolic links) whose
 * generation_config.json is text. */
static void model_with_generation_config(const char *dir, const char *text)
{
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                        "tokenizer_config.json", "special_tokens_map.json"};
    char src[8192], dst[8192];
    FILE *f;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(src, sizeof(src), "%s/%s", model, files[i]);
        snprintf(dst, sizeof(dst), "%s/%s", dir, files[i]);
        unlink(dst);
        CHECK_EQ_INT(symlink(src, dst), 0);
    }
    snprintf(dst, sizeof(dst), "%s/generation_config.json", dir);
    f = fopen(dst, "w");
    fputs(text, f);
    fclose(f);
}

/* generation_config.json sets the defaults; options on the command line win. */
static void check_generation_config(char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    const char *greedy = "Once upon a time, there was a little girl named Lily. She loved to "
                         "play outside in the park. One day, she saw\n";
    char dir[4096], args[16384], first[8192];

    snprintf(dir, sizeof(dir), "%s/test_cmd_generate_XXXXXX", tmp);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(args, sizeof(args), "--base '%s' --prompt 'Once upon a time' --seed 3", dir);

    /* Sampling with top_k 1 keeps only the most likely token: the greedy text. */
    model_with_generation_config(dir, "{\"do_sample\": true, \"temperature\": 0.7, "
                                      "\"top_k\": 1, \"max_new_tokens\": 32}");
    CHECK_EQ_INT(run(args, out, cap), 0);
    CHECK_EQ_STR(out, greedy);

    /* Hot sampling from the file changes the text; --temperature 0 on the command line
     * brings back greedy decoding. */
    model_with_generation_config(dir, "{\"do_sample\": true, \"temperature\": 2.0, "
                                      "\"max_new_tokens\": 32}");
    CHECK_EQ_INT(run(args, first, sizeof(first)), 0);
    CHECK(strcmp(first, greedy) != 0);
    snprintf(args, sizeof(args), "--base '%s' --prompt 'Once upon a time' --temperature 0", dir);
    CHECK_EQ_INT(run(args, out, cap), 0);
    CHECK_EQ_STR(out, greedy);

    /* eos_token_id 261 (" a") ends the text at its first new occurrence. */
    model_with_generation_config(dir, "{\"eos_token_id\": [261], \"max_new_tokens\": 32}");
    CHECK_EQ_INT(run(args, out, cap), 0);
    CHECK_EQ_STR(out, "Once upon a time, there was a\n");

    model_with_generation_config(dir, "{\"do_sample\": true, \"temperature\": \"hot\"}");
    CHECK_EQ_INT(run(args, out, cap), 1);
    CHECK(strstr(out, "generation_config.json: \"temperature\" must be a number") != NULL);
    model_with_generation_config(dir, "{\"do_sample\": tru");
    CHECK_EQ_INT(run(args, out, cap), 1);
    CHECK(strstr(out, "generation_config.json: invalid JSON") != NULL);

    snprintf(args, sizeof(args), "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(args), 0);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS"), *exe = getenv("ATELIER_BIN");
    char args[16384], out[8192], again[8192];

    if (exe == NULL || corpus == NULL) {
        printf("# ATELIER_BIN and ATELIER_CORPUS must be set (meson test sets them)\n");
        CHECK(exe != NULL);
        CHECK(corpus != NULL);
        return test_finish();
    }
    snprintf(bin, sizeof(bin), "%s", exe);
    snprintf(model, sizeof(model), "%s/models/stories260K", corpus);

    snprintf(args, sizeof(args), "--base '%s' --prompt 'Once upon a time' --max-new-tokens 32 "
             "--threads 1", model);
    CHECK_EQ_INT(run(args, out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "Once upon a time, there was a little girl named Lily. She loved to play "
                      "outside in the park. One day, she saw\n");

    snprintf(args, sizeof(args), "--base '%s' --prompt 'Once upon a time' --max-new-tokens 32 "
             "--temperature 0.9 --top-k 20 --top-p 0.9 --repetition-penalty 1.1 --seed 7",
             model);
    CHECK_EQ_INT(run(args, out, sizeof(out)), 0);
    CHECK_EQ_INT(run(args, again, sizeof(again)), 0);
    CHECK_EQ_STR(out, again);
    CHECK(strncmp(out, "Once upon a time", 16) == 0);

    CHECK_EQ_INT(run("--prompt hi", out, sizeof(out)), 2);
    CHECK(strstr(out, "--base and --prompt are required") != NULL);

    snprintf(args, sizeof(args), "--base '%s' --prompt hi --temperature warm", model);
    CHECK_EQ_INT(run(args, out, sizeof(out)), 2);
    CHECK(strstr(out, "--temperature \"warm\" is invalid") != NULL);

    snprintf(args, sizeof(args), "--base '%s' --prompt hi --max-new-tokens -1", model);
    CHECK_EQ_INT(run(args, out, sizeof(out)), 2);
    CHECK(strstr(out, "--max-new-tokens \"-1\" is invalid") != NULL);

    snprintf(args, sizeof(args), "--base '%s' --prompt hi --top-p 1.5", model);
    CHECK_EQ_INT(run(args, out, sizeof(out)), 2);
    CHECK(strstr(out, "--top-p \"1.5\"") != NULL);

    CHECK_EQ_INT(run("--base /nonexistent/model --prompt hi", out, sizeof(out)), 1);
    CHECK(strstr(out, "model folder /nonexistent/model not found") != NULL);
    CHECK(strstr(out, "config.json, model.safetensors and tokenizer.json") != NULL);

    check_adapter(out, sizeof(out));
    check_generation_config(out, sizeof(out));

    CHECK_EQ_INT(run("--help", out, sizeof(out)), 0);
    CHECK(strstr(out, "--repetition-penalty") != NULL);
    return test_finish();
}
