/* tok: Hugging Face tokenizers (tokenizer.json) for the trainer. Supports byte-level BPE
 * (GPT-2, Llama 3, Qwen, SmolLM) and SentencePiece-style BPE with byte fallback (Llama 2,
 * Mistral, TinyLlama), with their normalizers, pre-tokenizers, added tokens,
 * post-processors and decoders. A loaded tokenizer is read-only and safe to share between
 * threads. */
#ifndef TOK_H
#define TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_error.h"

struct tok;

/** Loads DIR/tokenizer.json and DIR/tokenizer_config.json (the latter optional). */
int tok_open(struct tok **out, const char *model_dir, struct tr_error *err);

/** Loads a tokenizer from the text of tokenizer.json (len bytes) and, when config_json is
 * not NULL, of tokenizer_config.json. source names the input in error messages. */
int tok_open_json(struct tok **out, const char *tokenizer_json, size_t len, const char *config_json,
                  size_t config_len, const char *source, struct tr_error *err);

void tok_free(struct tok *tok);

/** Encodes len bytes of UTF-8 text. add_special: apply the post-processor (BOS/EOS as
 * configured). *ids_out is malloc'd and the caller frees it. */
int tok_encode(const struct tok *tok, const char *text, size_t len, bool add_special,
               int32_t **ids_out, size_t *n_out, struct tr_error *err);

/** Decodes ids to UTF-8 (malloc'd, NUL-terminated). skip_special drops special tokens. */
int tok_decode(const struct tok *tok, const int32_t *ids, size_t n, bool skip_special,
               char **text_out, struct tr_error *err);

/** Streaming decode: sets *text_out (malloc'd, NUL-terminated) to the text that ids [0, n)
 * add to the decode of ids [0, n - 1). Bytes of an incomplete UTF-8 sequence are held back
 * until the token that completes it, so the caller can print each piece as it comes. Each
 * call decodes the whole prefix, so a stream of n tokens costs O(n^2). */
int tok_decode_piece(const struct tok *tok, const int32_t *ids, size_t n, bool skip_special,
                     char **text_out, struct tr_error *err);

size_t tok_vocab_size(const struct tok *tok);

/** Fails unless every token id of tok, added tokens included, is below model_vocab_size,
 * the vocab_size of config.json in model_dir. A tokenizer from another model would
 * otherwise fail only at the first batch, or with a misleading message. The check compares
 * the largest id rather than the count, because some configs (Qwen2) pad vocab_size above
 * the tokenizer size. */
int tok_check_model_vocab(const struct tok *tok, long long model_vocab_size, const char *model_dir,
                          struct tr_error *err);
int32_t tok_bos_id(const struct tok *tok); /* -1 when none */
int32_t tok_eos_id(const struct tok *tok); /* -1 when none */
int32_t tok_pad_id(const struct tok *tok); /* -1 when none */
bool tok_is_special(const struct tok *tok, int32_t id);

/** Returns the id of a token string (vocab or added token), or -1 when it is unknown. */
int32_t tok_token_to_id(const struct tok *tok, const char *token);

/** Returns the token string of id (as stored in the vocab), or NULL when out of range. */
const char *tok_id_to_token(const struct tok *tok, int32_t id);

/** Returns the chat_template text of tokenizer_config.json, or NULL when it had none. */
const char *tok_chat_template(const struct tok *tok);

/** Returns the bos_token / eos_token strings of tokenizer_config.json, or NULL. */
const char *tok_bos_token(const struct tok *tok);
const char *tok_eos_token(const struct tok *tok);

/** Returns the number of ids the post-processor puts before the text (BOS, for example) and
 * points *ids at them (borrowed, valid while tok lives). */
size_t tok_special_prefix(const struct tok *tok, const int32_t **ids);

#endif
