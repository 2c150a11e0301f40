/* fuzz_hf_commit: the NDJSON commit body parser (server/hf_commit_parse.c) on arbitrary
 * bytes, fed in chunks whose size the first byte picks, as a socket would deliver them. */
#include "hf_commit_parse.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hf_commit_limits limits = {4096, 64};
    struct hf_commit_parser parser;
    struct hub_error err = HUB_ERROR_INIT;
    size_t chunk, off = 1;
    int rc = 0;

    if (size == 0)
        return 0;
    chunk = (size_t)data[0] % 64 + 1;
    hf_commit_parser_init(&parser, &limits);
    while (rc == 0 && off < size) {
        size_t n = size - off < chunk ? size - off : chunk;

        rc = hf_commit_parser_feed(&parser, (const char *)data + off, n, &err);
        off += n;
    }
    if (rc == 0)
        rc = hf_commit_parser_finish(&parser, &err);
    if (rc == 0) {
        /* Every accepted operation has a checked path and content within the limits. */
        if (parser.op_count > limits.max_operations)
            __builtin_trap();
        for (size_t i = 0; i < parser.op_count; i++) {
            if (hf_path_check(parser.ops[i].path, &err) != 0)
                __builtin_trap();
            if (parser.ops[i].len > limits.max_file_bytes)
                __builtin_trap();
        }
    }
    hf_commit_parser_dispose(&parser);
    return 0;
}
