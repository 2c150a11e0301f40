/* tok: tokenizer.json loading, encoding and decoding (being written; every call fails). */
#include "tok.h"

#include <stdlib.h>

int tok_open(struct tok **out, const char *model_dir, struct tr_error *err)
{
    *out = NULL;
    return tr_error_set(err, "%s: tokenizer support is not built yet", model_dir);
}

int tok_open_json(struct tok **out, const char *tokenizer_json, size_t len,
                  const char *config_json, size_t config_len, const char *source,
                  struct tr_error *err)
{
    *out = NULL;
    return tr_error_set(err, "%s: tokenizer support is not built yet", source);
}

void tok_free(struct tok *tok)
{
    free(tok);
}

int tok_encode(const struct tok *tok, const char *text, size_t len, bool add_special,
               int32_t **ids_out, size_t *n_out, struct tr_error *err)
{
    return tr_error_set(err, "tokenizer support is not built yet");
}

int tok_decode(const struct tok *tok, const int32_t *ids, size_t n, bool skip_special,
               char **text_out, struct tr_error *err)
{
    return tr_error_set(err, "tokenizer support is not built yet");
}

int tok_decode_piece(const struct tok *tok, const int32_t *ids, size_t n, bool skip_special,
                     char **text_out, struct tr_error *err)
{
    return tr_error_set(err, "tokenizer support is not built yet");
}

size_t tok_vocab_size(const struct tok *tok) { return 0; }
int32_t tok_bos_id(const struct tok *tok) { return -1; }
int32_t tok_eos_id(const struct tok *tok) { return -1; }
int32_t tok_pad_id(const struct tok *tok) { return -1; }
bool tok_is_special(const struct tok *tok, int32_t id) { return false; }
int32_t tok_token_to_id(const struct tok *tok, const char *token) { return -1; }
const char *tok_id_to_token(const struct tok *tok, int32_t id) { return NULL; }
const char *tok_chat_template(const struct tok *tok) { return NULL; }
const char *tok_bos_token(const struct tok *tok) { return NULL; }
const char *tok_eos_token(const struct tok *tok) { return NULL; }
