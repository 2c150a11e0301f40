/* fuzz_http_target: the request target, Range header, repo path and repo id parsers of the
 * HTTP layer (server/http_parse.c, server/hf_commit_parse.c, storage/hub_name.c) on arbitrary
 * bytes. The first byte picks the parser; the rest is its input. */
#include "hf_commit_parse.h"
#include "http_parse.h"
#include "hub_name.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_target(const char *text, size_t len)
{
    struct http_target target;
    struct hub_error err = HUB_ERROR_INIT;

    if (http_target_parse(&target, text, len, &err) == 0) {
        for (size_t i = 0; i < target.segment_count; i++) {
            if (target.segments[i][0] == '\0' || strlen(target.segments[i]) > len)
                __builtin_trap();
        }
        for (size_t i = 0; i < target.param_count; i++) {
            if (strlen(target.params[i].name) + strlen(target.params[i].value) > len)
                __builtin_trap();
        }
    }
    http_target_dispose(&target);
}

static void check_range(const char *text, size_t len)
{
    uint64_t total = 0, start = 0, length = 0;

    /* The first 8 bytes are the body size, the rest the header value. */
    if (len < 8)
        return;
    memcpy(&total, text, 8);
    if (http_range_parse(&start, &length, text + 8, total) == HTTP_RANGE_OK) {
        if (length == 0 || start >= total || length > total - start)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hub_error err = HUB_ERROR_INIT;
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    char *text;
    unsigned char *decoded;

    if (size == 0)
        return 0;
    text = malloc(size);
    decoded = malloc(size / 4 * 3 + 3);
    if (text == NULL || decoded == NULL)
        goto out;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        check_target(text, size - 1);
        break;
    case 1:
        check_range(text, size - 1);
        break;
    case 2:
        if (hf_path_check(text, &err) == 0 &&
            (text[0] == '/' || strcmp(text, "..") == 0 || strncmp(text, "../", 3) == 0 ||
             strstr(text, "/../") != NULL || strchr(text, '\\') != NULL))
            __builtin_trap();
        break;
    case 3:
        hub_repo_id_parse(ns, name, text, &err);
        break;
    default:
        if (http_base64_decode(decoded, text, strlen(text)) > (long)(size / 4 * 3 + 3))
            __builtin_trap();
        break;
    }
out:
    free(text);
    free(decoded);
    return 0;
}
