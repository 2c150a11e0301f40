/* atelier train: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier train: not built yet\n");
    return 2;
}
