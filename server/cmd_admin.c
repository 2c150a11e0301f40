/* atelier admin: command-line entry point (placeholder until the command lands). */
#include "commands.h"

#include <stdio.h>

int cmd_admin(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "atelier admin: not built yet\n");
    return 2;
}
