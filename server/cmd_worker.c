/* atelier worker: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_worker(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier worker: not built yet\n");
    return 2;
}
