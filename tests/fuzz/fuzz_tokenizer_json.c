/* fuzz_tokenizer_json: loads the input as tokenizer.json (the bytes after the first NUL, when
 * there is one, as tokenizer_config.json) and, when it loads, encodes and decodes a few
 * texts with it. Inputs over 1 MiB are skipped to keep each run bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

static void exercise(const struct tok *tok, const char *text, size_t len)
{
    struct tr_error err = {{0}};
    int32_t *ids = NULL;
    size_t n = 0;
    char *out = NULL;

    if (tok_encode(tok, text, len, true, &ids, &n, &err) == 0) {
        if (tok_decode(tok, ids, n, false, &out, &err) == 0)
            free(out);
        out = NULL;
        if (n > 0 && tok_decode_piece(tok, ids, n, true, &out, &err) == 0)
            free(out);
        free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(data, '\0', size);
    size_t json_len = nul != NULL ? (size_t)(nul - text) : size;
    struct tr_error err = {{0}};
    struct tok *tok = NULL;
    static const char sample[] = "Hello world, héllo 日本 😀 <s></s><|endoftext|>  \n\t 12345";

    if (size > ((size_t)1 << 20))
        return 0;
    if (tok_open_json(&tok, text, json_len, nul != NULL ? nul + 1 : NULL,
                      nul != NULL ? size - json_len - 1 : 0, "fuzz", &err) != 0)
        return 0;
    exercise(tok, sample, sizeof(sample) - 1);
    exercise(tok, text, json_len > 256 ? 256 : json_len);
    tok_free(tok);
    return 0;
}
