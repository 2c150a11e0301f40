/* test_cmd_tokenize: runs the built atelier binary's tokenize command as a user would and
 * checks its output, exit status and error messages. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static const char *bin;
static const char *corpus;

/* Runs "atelier tokenize ARGS" through the shell; captures stdout (and stderr when
 * want_stderr) and returns the exit status. */
static int run(char *out, size_t out_size, bool want_stderr, const char *args)
{
    char cmd[8192];
    FILE *p;
    size_t n;
    int status;

    snprintf(cmd, sizeof(cmd), "'%s' tokenize %s %s", bin, args,
             want_stderr ? "2>&1 >/dev/null" : "2>/dev/null");
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    n = fread(out, 1, out_size - 1, p);
    out[n] = '\0';
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
    char out[8192], args[4096];

    bin = getenv("ATELIER_BIN");
    corpus = getenv("ATELIER_CORPUS");
    if (bin == NULL || corpus == NULL) {
        printf("1..0 # SKIP ATELIER_BIN or ATELIER_CORPUS not set\n");
        return 0;
    }
    snprintf(args, sizeof(args), "--model '%s/tokenizers/gpt2' 'Hello world'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "[15496,995]\n");

    snprintf(args, sizeof(args), "--model '%s/tokenizers/tinyllama-1.1b-chat-v1.0' 'Hi'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "[1,6324]\n");
    snprintf(args, sizeof(args),
             "--model '%s/tokenizers/tinyllama-1.1b-chat-v1.0' --no-special 'Hi'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "[6324]\n");
    snprintf(args, sizeof(args), "--model '%s/tokenizers/tinyllama-1.1b-chat-v1.0' --tokens 'Hi'",
             corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "[1,6324]\n[\"<s>\",\"\\u2581Hi\"]\n");

    /* Text from standard input. */
    snprintf(args, sizeof(args), "--model '%s/tokenizers/gpt2' < /dev/null", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "[]\n");

    snprintf(args, sizeof(args),
             "--model '%s/tokenizers/tinyllama-1.1b-chat-v1.0' --decode '[1,6324,3186]'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "<s> Hi world\n");
    snprintf(args, sizeof(args),
             "--model '%s/tokenizers/tinyllama-1.1b-chat-v1.0' --decode --no-special "
             "'[1,6324,3186]'",
             corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "Hi world\n");

    /* --chat renders with the template and adds the assistant prompt; SmolLM adds no BOS. */
    snprintf(args, sizeof(args),
             "--model '%s/tokenizers/smollm-135m-instruct' --chat "
             "'[{\"role\": \"user\", \"content\": \"Hi\"}]'",
             corpus);
    CHECK_EQ_INT(run(out, sizeof(out), false, args), 0);
    CHECK_EQ_STR(out, "\"<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n\"\n"
                      "[1,4093,198,26843,2,198,1,520,9531,198]\n");
    snprintf(args, sizeof(args),
             "--model '%s/tokenizers/gpt2' --chat '[{\"role\": \"user\", \"content\": \"Hi\"}]'",
             corpus);
    CHECK_EQ_INT(run(out, sizeof(out), true, args), 1);
    CHECK(strstr(out, "gpt2/tokenizer_config.json has no chat_template") != NULL);
    snprintf(args, sizeof(args), "--model '%s/tokenizers/gpt2' --chat '{}'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), true, args), 1);
    CHECK(strstr(out, "--chat expects a non-empty JSON array of messages") != NULL);

    /* Errors: one line on stderr that names the value; status 2 for usage, 1 for failures. */
    CHECK_EQ_INT(run(out, sizeof(out), true, "'Hello'"), 2);
    CHECK(strstr(out, "missing --model DIR") != NULL);
    CHECK_EQ_INT(run(out, sizeof(out), true, "--model /x --bogus 'Hello'"), 2);
    CHECK(strstr(out, "unknown option --bogus") != NULL);
    CHECK_EQ_INT(run(out, sizeof(out), true, "--model /nonexistent 'Hello'"), 1);
    CHECK(strstr(out, "model folder /nonexistent not found") != NULL);
    CHECK(strstr(out, "tokenizer.json") != NULL);
    snprintf(args, sizeof(args), "--model '%s/tokenizers/gpt2/tokenizer.json' 'Hello'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), true, args), 1);
    CHECK(strstr(out, "tokenizer.json is a file; pass the model directory") != NULL);
    snprintf(args, sizeof(args), "--model '%s/tokenizers/qwen2-0.5b' 'Hello'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), true, args), 1);
    CHECK(strstr(out, "qwen2-0.5b lacks tokenizer.json") != NULL);
    snprintf(args, sizeof(args), "--model '%s/tokenizers/gpt2' --decode 'hello'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), true, args), 1);
    CHECK(strstr(out, "expects a JSON array of token ids") != NULL);
    snprintf(args, sizeof(args), "--model '%s/tokenizers/gpt2' --decode '[1, 99999999]'", corpus);
    CHECK_EQ_INT(run(out, sizeof(out), true, args), 1);
    CHECK(strstr(out, "element 1 of the ids") != NULL);
    CHECK_EQ_INT(run(out, sizeof(out), false, "--help"), 0);
    CHECK(strstr(out, "usage: atelier tokenize") != NULL);
    return test_finish();
}
