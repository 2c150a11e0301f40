/* atelier eval: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier eval: not built yet\n");
    return 2;
}
