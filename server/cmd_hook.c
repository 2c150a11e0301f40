/* atelier hook: git hooks of hub repos (placeholder until git push lands). */
#include "commands.h"

#include <stdio.h>

int cmd_hook(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier hook: not built yet\n");
    return 2;
}
