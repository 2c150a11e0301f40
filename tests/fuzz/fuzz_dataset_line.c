/* fuzz_dataset_line: parses the input as one dataset line with a small byte-level tokenizer
 * that has a ChatML chat template, as data_load does for each JSONL line. Inputs over 64 KiB
 * are skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "data.h"
#include "tok_internal.h"

/* Every byte is a token (the GPT-2 byte alphabet), plus the ChatML markers and EOS. */
static struct tok *make_tokenizer(void)
{
    static const char config[] =
        "{\"eos_token\": \"<|im_end|>\", \"chat_template\": \"{% for m in messages %}"
        "<|im_start|>{{ m.role }}{% endfor %}\"}";
    char *json = malloc(16384);
    size_t pos = 0;
    struct tok *tok = NULL;
    struct tr_error err = {{0}};

    if (json == NULL)
        return NULL;
    pos += (size_t)snprintf(json, 16384,
                            "{\"added_tokens\": [{\"id\": 256, \"content\": \"<|im_start|>\","
                            " \"special\": true}, {\"id\": 257, \"content\": \"<|im_end|>\","
                            " \"special\": true}], \"pre_tokenizer\": {\"type\": \"ByteLevel\","
                            " \"add_prefix_space\": false}, \"decoder\": {\"type\": "
                            "\"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"merges\": [],"
                            " \"vocab\": {");
    for (unsigned b = 0; b < 256; b++) {
        char ch[2];
        size_t n = tok_byte_char(b, ch);

        pos += (size_t)snprintf(json + pos, 16384 - pos, "%s\"%s%.*s\": %u", b ? ", " : "",
                                ch[0] == '"' || ch[0] == '\\' ? "\\" : "", (int)n, ch, b);
    }
    snprintf(json + pos, 16384 - pos, "}}}");
    if (tok_open_json(&tok, json, strlen(json), config, sizeof(config) - 1, "fuzz", &err) != 0)
        tok = NULL;
    free(json);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tok *tok;
    static struct chat_template chat;
    static bool ready;
    struct data_example ex;
    struct tr_error err = {{0}};

    if (size > ((size_t)64 << 10))
        return 0;
    if (!ready) {
        tok = make_tokenizer();
        if (tok == NULL || chat_template_detect(&chat, tok, "fuzz", &err) != 0)
            abort();
        ready = true;
    }
    if (data_example_parse(&ex, (const char *)data, size, tok, &chat, NULL, 512, &err) == 0)
        data_example_dispose(&ex);
    return 0;
}
