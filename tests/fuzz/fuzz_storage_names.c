/* fuzz_storage_names: the checks on outside names in storage/ (repo ids, user and repo names,
 * paths inside a repo, revisions) on arbitrary bytes, NUL-terminated copies of the input, and
 * the UTF-8 check and repair of text read from git against jansson's own check. */
#include "hub_name.h"
#include "hub_utf8.h"
#include "repo_internal.h"

#include <jansson.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Traps unless hub_utf8_is_valid agrees with jansson, the repair of any bytes is valid UTF-8
 * that jansson accepts, and valid input comes back unchanged. */
static void utf8_check(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    bool valid = hub_utf8_is_valid(text, size);
    json_t *direct = json_stringn(text, size);
    json_t *fixed;
    size_t repaired_len = 0;
    char *repaired = hub_utf8_repair(text, size, &repaired_len);

    if (repaired == NULL) {
        json_decref(direct);
        return;
    }
    if (valid != (direct != NULL))
        __builtin_trap();
    if (valid && (repaired_len != size || memcmp(repaired, text, size) != 0))
        __builtin_trap();
    fixed = json_stringn(repaired, repaired_len);
    if (fixed == NULL || !hub_utf8_is_valid(repaired, repaired_len))
        __builtin_trap();
    json_decref(fixed);
    json_decref(direct);
    free(repaired);
}

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
    utf8_check(data, size);
    return 0;
}
