/* atelier merge: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_merge(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier merge: not built yet\n");
    return 2;
}
