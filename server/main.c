/* main: dispatches `atelier COMMAND [ARGS]` to the subcommand's entry point. Each command
 * parses its own options; see commands.h for where each one lives. */
#include "commands.h"

#include "build_info.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the hub daemon (HTTP API, git, pages, job scheduler)"},
    {"admin", cmd_admin, "manage users, tokens and the database of a data directory"},
    {"worker", cmd_worker, "run one queued job (started by the daemon)"},
    {"train", cmd_train, "fine-tune a LoRA adapter on a base model"},
    {"eval", cmd_eval, "measure loss, perplexity and accuracy of a model or adapter"},
    {"generate", cmd_generate, "continue a prompt with a model or adapter"},
    {"tokenize", cmd_tokenize, "print the token ids of a text as JSON"},
    {"merge", cmd_merge, "write a base model with an adapter merged in"},
    {"hook", cmd_hook, "run a git hook of a hub repo (called by git)"},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: atelier COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(to, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(to, "\nRun `atelier COMMAND --help` for the options of one command.\n");
}

/* Prints "atelier 0.1.0 (commit 13e3f8cd5d5d, newest migration 0014_pr_target_before_merge)",
 * without the commit for a build outside a git checkout. */
static void version_print(void)
{
    const char *commit = build_info_commit();

    printf("atelier %s (%s%s%snewest migration %s)\n", ATELIER_VERSION,
           commit[0] != '\0' ? "commit " : "", commit, commit[0] != '\0' ? ", " : "",
           build_info_newest_migration());
}

/* Re-executes the binary with OMP_WAIT_POLICY=PASSIVE for the commands that run the trainer,
 * unless the caller chose a policy. libgomp reads the variable when it loads, before main,
 * so setting it here needs a fresh exec. Idle OpenMP threads then sleep instead of
 * spinning, which cut CPU time about five-fold on a busy 2-core machine; an execv failure
 * only costs that speed-up. */
static void trainer_wait_policy_set(char **argv)
{
    static const char *const compute_commands[] = {"train", "eval", "generate", "merge",
                                                    "worker"};
    bool compute = false;

    if (getenv("OMP_WAIT_POLICY") != NULL)
        return;
    for (size_t i = 0; i < sizeof(compute_commands) / sizeof(compute_commands[0]); i++)
        compute = compute || strcmp(argv[1], compute_commands[i]) == 0;
    if (!compute)
        return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0)
        return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        version_print();
        return 0;
    }
    trainer_wait_policy_set(argv);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "atelier: unknown command '%s'; run `atelier --help` for the list\n",
            argv[1]);
    return 2;
}
