/* fuzz_git_push_commands: the parser of the ref update commands at the start of a push body,
 * and the rejection built from what it accepts. */
#include "git_push_commands.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gitpush_commands cmds;
    struct hub_error err = HUB_ERROR_INIT;
    char *body = NULL;
    size_t len = 0;

    if (gitpush_commands_parse(&cmds, (const char *)data, size, &err) < 0)
        return 0;
    /* Parsed commands are NUL-terminated within their buffers, and there is at least one. */
    if (cmds.count == 0 || cmds.count > GITPUSH_MAX_COMMANDS)
        __builtin_trap();
    for (size_t i = 0; i < cmds.count; i++)
        if (strlen(cmds.updates[i].ref) > GITHOOK_MAX_REF_BYTES || cmds.updates[i].ref[0] == '\0')
            __builtin_trap();
    if (gitpush_rejection_build(&body, &len, &cmds, "rejected: fuzz\n", NULL, &err) == 0) {
        /* Every reply that is not empty ends in a flush-pkt. */
        if ((cmds.report_status || cmds.side_band_64k) &&
            (len < 4 || memcmp(body + len - 4, "0000", 4) != 0))
            __builtin_trap();
        free(body);
    }
    gitpush_commands_dispose(&cmds);
    return 0;
}
