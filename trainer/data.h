/* data: training and evaluation datasets. Loads JSONL or a JSON array of examples, renders
 * each one to token ids with the model's tokenizer and chat template, and marks which
 * tokens count in the loss. */
#ifndef DATA_H
#define DATA_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"
#include "tr_error.h"

struct data_example {
    int32_t *ids;  /* n token ids of the full rendered example */
    uint8_t *mask; /* n flags: 1 where the token counts in the loss (the target side) */
    size_t n;
    char *prompt;     /* the prompt text (for exact match) of prompt/completion and alpaca
                       * data and of chats whose only reply is the last message, else NULL */
    char *completion; /* the reference completion text, else NULL */
    size_t line;      /* 1-based line (JSONL) or element index (JSON array) it came from */
    size_t n_prompt;  /* ids[0..n_prompt) come before the first target token: the prompt to
                       * generate from when evaluating */
};

struct data_set {
    struct data_example *ex;
    size_t n;
    char sha256_hex[65]; /* of the file */
};

/** Loads JSONL or a JSON array: {"text"}, {"prompt","completion"}, alpaca
 * {"instruction","input","output"} ("response" may stand for "output"), and
 * {"messages":[{"role","content"}...]} rendered with the tokenizer_config.json chat template
 * (ChatML, Llama 2, Llama 3, Zephyr and Mistral forms). A "prompt" that is a list of messages
 * with a "completion" list of assistant messages is trained as one chat, and a "content" may
 * be a list of {"type": "text", "text"} parts.
 * The loss mask is 1 only on completion/output/assistant tokens ({"text"}: all tokens).
 * Adds BOS as the tokenizer does (or as the chat template does) and EOS after the text,
 * completion or output (chats end with the template's end-of-turn marker). Alpaca data is
 * rendered as a user/assistant chat when the tokenizer has a recognised chat template, else as
 * "### Instruction:" / "### Input:" / "### Response:" sections. An example longer
 * than max_tokens is an error naming its line (pass the model context; 0 means no limit).
 * Errors name the line number and what was wrong. */
int data_load(struct data_set **out, const char *path, const struct tok *tok, size_t max_tokens,
              struct tr_error *err);

void data_set_free(struct data_set *ds);

/** Parses and renders one example from the JSON text of one line or array element. chat may
 * be NULL when the tokenizer has no chat template; chat_error then explains why, and
 * the message of an example that needs a template repeats it. The caller frees the example with
 * data_example_dispose. Errors name what was wrong but not the line. */
struct chat_template;
int data_example_parse(struct data_example *out, const char *json, size_t len,
                       const struct tok *tok, const struct chat_template *chat,
                       const char *chat_error, size_t max_tokens, struct tr_error *err);
void data_example_dispose(struct data_example *ex);

#endif
