/* atelier generate as a user runs it: the stories260K greedy text of its REFERENCE.md,
 * reproducible sampling, and one clear error line with the right exit status for each
 * kind of bad input. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static char bin[4096], model[4096];

/* Runs atelier generate with args; returns the exit status and fills out with stdout and
 * stderr together. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[16384];
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

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS"), *exe = getenv("ATELIER_BIN");
    char args[8192], out[8192], again[8192];

    if (exe == NULL || corpus == NULL) {
        printf("# ATELIER_BIN and ATELIER_CORPUS must be set (meson test sets them)\n");
        CHECK(exe != NULL && corpus != NULL);
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
    CHECK(strstr(out, "/nonexistent/model/config.json") != NULL);

    CHECK_EQ_INT(run("--help", out, sizeof(out)), 0);
    CHECK(strstr(out, "--repetition-penalty") != NULL);
    return test_finish();
}
