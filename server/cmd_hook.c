/* atelier hook: the git hooks of hub repos. The daemon points core.hooksPath of every git
 * child it starts at DATA/hooks, whose scripts run `atelier hook pre-receive` and
 * `atelier hook post-receive`; the checks themselves live in git_hook.c. */
#include "commands.h"

#include "git_hook.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *to)
{
    fprintf(to, "usage: atelier hook pre-receive|post-receive\n\n"
                "Runs a git hook of a hub repo. git receive-pack starts it with the ref\n"
                "updates on stdin, one \"<old-id> <new-id> <ref>\" line each. The daemon sets\n"
                "ATELIER_DATA_DIR, ATELIER_PROTECTED_BRANCHES, ATELIER_HOOK_REPORT,\n"
                "ATELIER_HOOK_LOCKS, ATELIER_HOOK_USER_ID and ATELIER_HOOK_USER_NAME (the\n"
                "pushing user), ATELIER_HOOK_CAN_WRITE (1 when that user may write the repo,\n"
                "0 when they may push only to their own open pull requests),\n"
                "ATELIER_HOOK_REPO_ID (the repo's database id), and ATELIER_HOOK_REPO_URL and\n"
                "ATELIER_HOOK_API_URL (the repo's URLs, for the commands messages suggest),\n"
                "and ATELIER_HOOK_MAX_FILE_BYTES (the largest regular file a push may add).\n");
}

int cmd_hook(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "pre-receive") == 0)
        return githook_pre_receive(stdin, stderr);
    if (strcmp(argv[1], "post-receive") == 0)
        return githook_post_receive(stdin, stderr);
    fprintf(stderr, "atelier hook: unknown hook '%s'; expected pre-receive or post-receive\n",
            argv[1]);
    return 2;
}
