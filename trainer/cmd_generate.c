/* atelier generate: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_generate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier generate: not built yet\n");
    return 2;
}
