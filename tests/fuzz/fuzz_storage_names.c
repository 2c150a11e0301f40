/* fuzz_storage_names: the checks on outside names in storage/ (repo ids, user and repo names,
 * paths inside a repo, revisions) on arbitrary bytes, NUL-terminated copies of the input. */
#include "hub_name.h"
#include "repo_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    char *text = malloc(size + 1);

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (hub_repo_id_parse(ns, name, text, NULL) == 0) {
        /* Both halves of an accepted id must pass the name check on their own. */
        if (!hub_name_is_valid(ns) || !hub_name_is_valid(name))
            __builtin_trap();
    }
    if (hub_name_is_valid(text) && (strstr(text, "..") != NULL || strchr(text, '/') != NULL))
        __builtin_trap();
    if (repo_path_check(text, true, NULL) == 0 && strstr(text, "/../") != NULL)
        __builtin_trap();
    repo_rev_check(text, NULL);
    free(text);
    return 0;
}
