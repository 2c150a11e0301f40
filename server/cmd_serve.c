/* atelier serve: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier serve: not built yet\n");
    return 2;
}
