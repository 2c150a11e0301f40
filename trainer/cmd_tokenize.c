/* atelier tokenize: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier tokenize: not built yet\n");
    return 2;
}
