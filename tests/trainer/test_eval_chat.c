/* Exact match of `atelier eval` on chat data. A chat template may write unscored tokens after
 * the end-of-turn marker, and the reference must stop before them. The test gives
 * stories260K the Zephyr template of TinyLlama-1.1B-Chat, lets the base model reply to a
 * user message greedily, and stores that reply as the reference. The same model must
 * then match every reply. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data.h"
#include "generate.h"
#include "harness.h"
#include "model.h"
#include "test_files.h"
#include "tok.h"

static const char *bin;
static char model_dir[1024];
static char tmp_root[1024];

/* The chat_template of TinyLlama-1.1B-Chat-v1.0 (Zephyr form): "</s>" and then "\n" end
 * every turn, and only the reply and its "</s>" are scored. */
static const char zephyr_template[] =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
    "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ "
    "'<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == "
    "'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif "
    "%}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% "
    "endfor %}";

static bool copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    bool ok = in != NULL && out != NULL;

    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in != NULL)
        fclose(in);
    if (out != NULL && fclose(out) != 0)
        ok = false;
    return ok;
}

/* Copies stories260K into dir and adds the Zephyr chat template to its tokenizer_config.json. */
static bool make_chat_model(const char *dir)
{
    static const char *const files[] = {"config.json", "tokenizer.json", "model.safetensors",
                                        "generation_config.json"};
    json_error_t jerr;
    json_t *config;
    int rc;

    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (!copy_file(path_in(model_dir, files[i]), path_in(dir, files[i])))
            return false;
    }
    config = json_load_file(path_in(model_dir, "tokenizer_config.json"), 0, &jerr);
    if (config == NULL)
        return false;
    json_object_set_new(config, "chat_template", json_string(zephyr_template));
    rc = json_dump_file(config, path_in(dir, "tokenizer_config.json"), JSON_INDENT(1));
    json_decref(config);
    return rc == 0;
}

/* Runs bin with args (NULL-terminated, without argv[0]), stdout to out_path. Returns the
 * exit status, or -1 when it did not exit. */
static int run_atelier(const char *const *args, const char *out_path)
{
    return run_command(bin, args, out_path, NULL);
}

/* Writes one {"messages": [user, assistant]} line to f. */
static bool write_chat_line(FILE *f, const char *user, const char *reply)
{
    json_t *line = json_pack("{s:[{s:s, s:s}, {s:s, s:s}]}", "messages", "role", "user", "content",
                             user, "role", "assistant", "content", reply);
    char *text = json_dumps(line, JSON_COMPACT);
    bool ok = text != NULL && fprintf(f, "%s\n", text) > 0;

    free(text);
    json_decref(line);
    return ok;
}

/* Returns the greedy reply of model m to user, n_new tokens at most, rendered by the chat
 * template of tok: the prompt is everything before the first scored token of a chat whose
 * reply is a placeholder. Returns NULL on failure. */
static char *greedy_reply(const struct model *m, const struct tok *tok, const char *user, int n_new)
{
    char *probe_path = path_in(tmp_root, "probe.jsonl");
    struct gen_params p = gen_params_default();
    struct tr_error err = {{0}};
    struct data_set *ds = NULL;
    int32_t *out = NULL;
    size_t n_out = 0;
    char *text = NULL;
    FILE *f = fopen(probe_path, "w");

    if (f == NULL || !write_chat_line(f, user, "x")) {
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    fclose(f);
    if (data_load(&ds, probe_path, tok, 0, &err) < 0) {
        printf("# data_load: %s\n", err.msg);
        return NULL;
    }
    p.temperature = 0.0f;
    p.max_new_tokens = n_new;
    if (generate(m, NULL, ds->ex[0].ids, ds->ex[0].n_prompt, &p, tok_eos_id(tok), NULL, NULL, &out,
                 &n_out, &err) < 0 ||
        tok_decode(tok, out + ds->ex[0].n_prompt, n_out - ds->ex[0].n_prompt, true, &text, &err) <
            0)
        printf("# greedy_reply: %s\n", err.msg);
    free(out);
    data_set_free(ds);
    return text;
}

static void test_chat_exact_match(void)
{
    static const char *const users[] = {"Who found the ball?", "Where did Tom go?",
                                        "What did the cat eat?"};
    char *chat_model = path_in(tmp_root, "chat-model");
    char *data_path = path_in(tmp_root, "chat.jsonl");
    char *result_path = path_in(tmp_root, "eval.json");
    const char *args[] = {"eval",    "--base",    chat_model, "--data",
                          data_path, "--threads", "1",        NULL};
    struct tr_error err = {{0}};
    struct model *m = NULL;
    struct tok *tok = NULL;
    json_error_t jerr;
    json_t *result;
    FILE *f;

    CHECK(make_chat_model(chat_model));
    CHECK_EQ_INT(tok_open(&tok, chat_model, &err), 0);
    CHECK_EQ_INT(model_open(&m, chat_model, &err), 0);
    if (tok == NULL || m == NULL) {
        printf("# %s\n", err.msg);
        tok_free(tok);
        model_free(m);
        return;
    }
    f = fopen(data_path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        char *reply = greedy_reply(m, tok, users[i], 12);

        CHECK(reply != NULL && reply[0] != '\0');
        printf("# reply %zu: %s\n", i, reply != NULL ? reply : "(null)");
        CHECK(write_chat_line(f, users[i], reply != NULL ? reply : "-"));
        free(reply);
    }
    fclose(f);
    tok_free(tok);
    model_free(m);

    CHECK_EQ_INT(run_atelier(args, result_path), 0);
    result = json_load_file(result_path, 0, &jerr);
    CHECK(result != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(result, "exact_match_examples")), 3);
    CHECK_NEAR(json_real_value(json_object_get(result, "exact_match")), 1.0, 1e-9);
    json_decref(result);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    const char *tmp = getenv("TMPDIR");

    bin = getenv("ATELIER_BIN");
    if (bin == NULL || corpus == NULL) {
        printf("1..0 # SKIP ATELIER_BIN or ATELIER_CORPUS not set\n");
        return 0;
    }
    snprintf(model_dir, sizeof(model_dir), "%s/models/stories260K", corpus);
    snprintf(tmp_root, sizeof(tmp_root), "%s/atelier-eval-chat-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    test_chat_exact_match();
    {
        char cmd[1200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_finish();
}
