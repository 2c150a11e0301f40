/* fuzz_git_update: the ref update parser of the pre-receive hook, fed one line of the input
 * at a time as git writes them to the hook's stdin. */
#include "git_hook.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t start = 0;

    while (start <= size) {
        const char *newline = memchr(text + start, '\n', size - start);
        size_t len = newline != NULL ? (size_t)(newline - (text + start)) : size - start;
        struct githook_update update;
        struct hub_error err = HUB_ERROR_INIT;

        if (githook_update_parse(&update, text + start, len, &err) == 0) {
            /* A parsed update is NUL-terminated and within its buffers. */
            if (strlen(update.old_oid) != GITHOOK_OID_HEX || strlen(update.ref) > len)
                __builtin_trap();
            (void)githook_oid_is_zero(update.new_oid);
            (void)githook_branch_is_listed("main dev", update.ref);
        }
        if (newline == NULL)
            break;
        start += len + 1;
    }
    return 0;
}
