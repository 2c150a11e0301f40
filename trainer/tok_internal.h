/* tok_internal: the parts of a loaded tokenizer shared by tok.c (loading and the encode
 * pipeline), tok_text.c (normalizers and pre-tokenizers), tok_bpe.c (the BPE model) and
 * tok_decode.c (decoders). Not part of the trainer's public interface. */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_error.h"

/* Limits that keep memory bounded on hostile input. */
#define TOK_MAX_JSON_BYTES      ((size_t)256 << 20) /* tokenizer.json */
#define TOK_MAX_CONFIG_BYTES    ((size_t)16 << 20)  /* tokenizer_config.json */
#define TOK_MAX_VOCAB           4000000             /* token ids */
#define TOK_MAX_TOKEN_BYTES     4096                /* one vocab or added token string */
#define TOK_MAX_COMPONENT_DEPTH 16                  /* nested Sequence components */
/* One tok_encode input. SentencePiece-style tokenizers run BPE over all the text between two
 * added tokens at once, which takes about 80 bytes of memory per input byte. */
#define TOK_MAX_TEXT_BYTES ((size_t)8 << 20)

/* A growable byte string. */
struct tok_buf {
    char *s;
    size_t len, cap;
};

int tok_buf_append(struct tok_buf *b, const char *s, size_t len);
void tok_buf_dispose(struct tok_buf *b);

/* One piece of text on its way through normalization and pre-tokenization. */
struct tok_piece {
    char *s;
    size_t len;
    bool at_start; /* begins at byte 0 of the original input (Metaspace "first") */
};

struct tok_pieces {
    struct tok_piece *p;
    size_t n, cap;
};

int tok_pieces_push(struct tok_pieces *list, const char *s, size_t len, bool at_start);
void tok_pieces_dispose(struct tok_pieces *list);

/* A literal or regular-expression pattern of Split, Replace and decoders. */
struct tok_pattern {
    char *literal; /* String form, or NULL */
    size_t literal_len;
    pcre2_code *re; /* Regex form, or NULL */
};

/* Finds the first match of pat in s[from, len); returns false when there is none. */
bool tok_pattern_find(const struct tok_pattern *pat, const char *s, size_t len, size_t from,
                      size_t *start, size_t *end);
int tok_pattern_parse(struct tok_pattern *pat, json_t *obj, const char *where,
                      struct tr_error *err);
void tok_pattern_dispose(struct tok_pattern *pat);

/* Component trees parsed from tokenizer.json. */
enum tok_norm_type {
    TOK_NORM_NFC,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
    TOK_NORM_PREPEND,
    TOK_NORM_REPLACE,
    TOK_NORM_LOWERCASE,
    TOK_NORM_STRIP,
    TOK_NORM_SEQUENCE,
};

struct tok_norm {
    enum tok_norm_type type;
    char *text; /* Prepend: the prefix; Replace: the content */
    size_t text_len;
    struct tok_pattern pattern; /* Replace */
    bool strip_left, strip_right;
    struct tok_norm *children; /* Sequence */
    size_t n_children;
};

enum tok_split_behavior {
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_MERGED_WITH_PREVIOUS,
    TOK_SPLIT_MERGED_WITH_NEXT,
    TOK_SPLIT_CONTIGUOUS,
};

enum tok_prepend_scheme { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };

enum tok_pre_type {
    TOK_PRE_BYTE_LEVEL,
    TOK_PRE_SPLIT,
    TOK_PRE_METASPACE,
    TOK_PRE_DIGITS,
    TOK_PRE_WHITESPACE,
    TOK_PRE_WHITESPACE_SPLIT,
    TOK_PRE_SEQUENCE,
};

struct tok_pre {
    enum tok_pre_type type;
    bool add_prefix_space, use_regex; /* ByteLevel */
    struct tok_pattern pattern;       /* Split */
    enum tok_split_behavior behavior; /* Split */
    bool invert;                      /* Split */
    char replacement[8];              /* Metaspace: UTF-8 of one character */
    size_t replacement_len;
    enum tok_prepend_scheme prepend_scheme;
    bool split;             /* Metaspace */
    bool individual_digits; /* Digits */
    struct tok_pre *children;
    size_t n_children;
};

enum tok_dec_type {
    TOK_DEC_BYTE_LEVEL,
    TOK_DEC_METASPACE,
    TOK_DEC_BYTE_FALLBACK,
    TOK_DEC_FUSE,
    TOK_DEC_STRIP,
    TOK_DEC_REPLACE,
    TOK_DEC_SEQUENCE,
};

struct tok_dec {
    enum tok_dec_type type;
    char replacement[8]; /* Metaspace */
    size_t replacement_len;
    bool prepend;               /* Metaspace: prepend_scheme is not "never" */
    struct tok_pattern pattern; /* Replace */
    char *content;              /* Replace: the new text; Strip: the character */
    size_t content_len;
    size_t strip_start, strip_stop;
    struct tok_dec *children;
    size_t n_children;
};

/* Open-addressing hash of token strings to ids. */
struct tok_vocab_slot {
    const char *key; /* borrowed from tok->id_to_token or added tokens */
    uint32_t len;
    int32_t id;
};

struct tok_merge_slot {
    uint64_t pair; /* (left id << 32) | right id; 0 with rank -1 marks empty */
    int32_t rank;
    int32_t merged;
};

struct tok_added {
    char *content;
    size_t len;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
};

struct tok_bpe {
    struct tok_vocab_slot *vocab; /* the model's vocab */
    size_t vocab_mask;
    struct tok_merge_slot *merges;
    size_t merges_mask;
    int32_t unk_id; /* -1 when none */
    bool fuse_unk, byte_fallback, ignore_merges;
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix; NULL if none */
    size_t prefix_len, suffix_len;
    int32_t byte_ids[256]; /* <0xHH> tokens, -1 where missing */
};

struct tok {
    char *source;       /* directory or name used in messages */
    char **id_to_token; /* vocab_size entries; NULL for holes */
    uint32_t *token_len;
    size_t vocab_size;
    uint8_t *special; /* vocab_size flags */
    struct tok_bpe bpe;
    struct tok_added *added;
    size_t n_added;
    struct tok_vocab_slot *added_index; /* content -> id of added tokens */
    size_t added_mask;
    uint8_t added_first[256];           /* bit 0: a raw added token starts with this byte; bit 1: a
                                         * normalized one does */
    struct tok_norm *normalizer;        /* NULL when none */
    struct tok_pre *pre_tokenizer;      /* NULL when none */
    struct tok_dec *decoder;            /* NULL when none */
    int32_t *post_prefix, *post_suffix; /* ids the post-processor adds around a sequence */
    size_t n_post_prefix, n_post_suffix;
    int32_t bos_id, eos_id, pad_id, unk_id;
    char *bos_token, *eos_token;
    char *chat_template;
    bool clean_up_spaces;
};

/* GPT-2 byte map: writes the UTF-8 of the character that stands for byte b (1 or 2 bytes)
 * and returns its length. */
size_t tok_byte_char(unsigned b, char out[2]);
/* Returns the byte a code point stands for in the GPT-2 byte map, or -1. */
int tok_byte_of_char(int32_t cp);

/* UTF-8 helpers. tok_utf8_next returns the length of the valid sequence at s[0..len) and its
 * code point, or 0 for invalid bytes. */
size_t tok_utf8_next(const char *s, size_t len, int32_t *cp);
size_t tok_utf8_valid_prefix(const char *s, size_t len);
int tok_utf8_lossy(struct tok_buf *out, const char *s, size_t len);
bool tok_cp_is_whitespace(int32_t cp);

uint64_t tok_hash_bytes(const char *s, size_t len);
int32_t tok_vocab_find(const struct tok_vocab_slot *table, size_t mask, const char *s, size_t len);

/* tok_text.c */
int tok_norm_parse(struct tok_norm *out, json_t *obj, int depth, struct tr_error *err);
void tok_norm_dispose(struct tok_norm *n);
int tok_norm_apply(const struct tok_norm *n, struct tok_buf *text, struct tr_error *err);
int tok_pre_parse(struct tok_pre *out, json_t *obj, int depth, struct tr_error *err);
void tok_pre_dispose(struct tok_pre *p);
int tok_pre_apply(const struct tok_pre *p, struct tok_pieces *pieces, struct tr_error *err);

/* tok_bpe.c */
int tok_bpe_load(struct tok *tok, json_t *model, struct tr_error *err);
void tok_bpe_dispose(struct tok_bpe *bpe);
int tok_bpe_encode_word(const struct tok *tok, const char *w, size_t len, int32_t **ids, size_t *n,
                        size_t *cap, struct tr_error *err);

/* tok_encode.c: encoding that reports where the text was split around raw added tokens, so
 * a caller can count the tokens before any byte offset without encoding the whole prefix. */
struct tok_segment {
    size_t start, end;            /* bytes of text between two raw added tokens */
    size_t ids_before, ids_after; /* ids emitted before and after this text */
};

struct tok_segments {
    struct tok_segment *s;
    size_t n, cap;
};

/* Encodes text like tok_encode without special tokens and appends one entry per segment. */
int tok_encode_segments(const struct tok *tok, const char *text, size_t len, int32_t **ids_out,
                        size_t *n_out, struct tok_segments *segs, struct tr_error *err);
/* Encodes text[start, end) as the beginning of the segment that starts at start. */
int tok_encode_raw_piece(const struct tok *tok, const char *text, size_t start, size_t end,
                         int32_t **ids_out, size_t *n_out, struct tr_error *err);

/* tok_decode.c */
int tok_dec_parse(struct tok_dec *out, json_t *obj, int depth, struct tr_error *err);
void tok_dec_dispose(struct tok_dec *d);
/* Decodes the token strings toks[0..n) (each a malloc'd NUL-terminated string that the
 * function may replace) into out. */
int tok_dec_run(const struct tok *tok, char **toks, size_t *n, struct tok_buf *out,
                struct tr_error *err);

#endif
