/* tok_encode: the encode and decode entry points. Encoding splits the text around added
 * tokens (raw ones first, then normalized ones after normalization), pre-tokenizes the rest
 * and runs BPE on each pre-token. Decoding runs the decoders over the token strings. */
#include "tok.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

struct id_list {
    int32_t *ids;
    size_t n, cap;
};

static int ids_push(struct id_list *l, int32_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *p = realloc(l->ids, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return 0;
}

/* True when the character before (or at) position at is a word character, as regex \w
 * defines it for single_word matching: letters, marks, digits and connector punctuation. */
static bool is_word_char(const char *s, size_t len, size_t at, bool before)
{
    int32_t cp;
    size_t k = at;
    utf8proc_category_t cat;

    if (before) {
        if (at == 0)
            return false;
        k = at - 1;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
    } else if (at >= len) {
        return false;
    }
    if (tok_utf8_next(s + k, len - k, &cp) == 0)
        return false;
    cat = utf8proc_category(cp);
    switch (cat) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

/* Finds the leftmost-longest added token (of the normalized or raw group) in s[from, len). */
static const struct tok_added *find_added(const struct tok *tok, bool normalized, const char *s,
                                          size_t len, size_t from, size_t *at)
{
    uint8_t group = normalized ? 2 : 1;

    for (size_t i = from; i < len; i++) {
        const struct tok_added *best = NULL;

        if ((tok->added_first[(unsigned char)s[i]] & group) == 0)
            continue;
        for (size_t k = 0; k < tok->n_added; k++) {
            const struct tok_added *a = &tok->added[k];

            if (a->normalized != normalized || a->len > len - i || a->content[0] != s[i])
                continue;
            if (memcmp(s + i, a->content, a->len) != 0 || (best != NULL && best->len >= a->len))
                continue;
            if (a->single_word &&
                (is_word_char(s, len, i, true) || is_word_char(s, len, i + a->len, false)))
                continue;
            best = a;
        }
        if (best != NULL) {
            *at = i;
            return best;
        }
    }
    return NULL;
}

static size_t skip_space_left(const char *s, size_t floor, size_t at)
{
    while (at > floor) {
        size_t k = at - 1;
        int32_t cp;

        while (k > floor && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (tok_utf8_next(s + k, at - k, &cp) == 0 || !tok_cp_is_whitespace(cp))
            break;
        at = k;
    }
    return at;
}

static size_t skip_space_right(const char *s, size_t len, size_t at)
{
    int32_t cp;

    while (at < len) {
        size_t n = tok_utf8_next(s + at, len - at, &cp);

        if (n == 0 || !tok_cp_is_whitespace(cp))
            break;
        at += n;
    }
    return at;
}

/* Pre-tokenizes and encodes one piece of text that contains no added tokens. */
static int encode_plain(const struct tok *tok, const char *s, size_t len, bool at_start,
                        struct id_list *out, struct tr_error *err)
{
    struct tok_pieces pieces = {0};
    int rc = -1;

    if (len == 0)
        return 0;
    if (tok_pieces_push(&pieces, s, len, at_start) < 0) {
        tr_error_set(err, "out of memory");
        goto out;
    }
    if (tok->pre_tokenizer != NULL && tok_pre_apply(tok->pre_tokenizer, &pieces, err) < 0)
        goto out;
    for (size_t i = 0; i < pieces.n; i++) {
        if (tok_bpe_encode_word(tok, pieces.p[i].s, pieces.p[i].len, &out->ids, &out->n, &out->cap,
                                err) < 0)
            goto out;
    }
    rc = 0;
out:
    tok_pieces_dispose(&pieces);
    return rc;
}

/* Normalizes one piece of raw text (between raw added tokens) and encodes it. */
static int encode_raw_piece(const struct tok *tok, const char *s, size_t len, bool at_start,
                            struct id_list *out, struct tr_error *err);

static int segments_push(struct tok_segments *segs, size_t start, size_t end, size_t before,
                         size_t after)
{
    if (segs->n == segs->cap) {
        size_t cap = segs->cap ? segs->cap * 2 : 16;
        struct tok_segment *p = realloc(segs->s, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        segs->s = p;
        segs->cap = cap;
    }
    segs->s[segs->n++] = (struct tok_segment){start, end, before, after};
    return 0;
}

/* Splits s around the added tokens of one group and passes the text between them on. In the
 * raw stage that text is normalized and split again (and recorded in segs when it is not
 * NULL), and in the normalized stage it is pre-tokenized and encoded. */
static int encode_split(const struct tok *tok, const char *s, size_t len, bool at_start,
                        bool normalized_stage, struct id_list *out, struct tok_segments *segs,
                        struct tr_error *err)
{
    size_t pos = 0, floor = 0, at;

    for (;;) {
        const struct tok_added *a = find_added(tok, normalized_stage, s, len, pos, &at);
        size_t start = at, end, before = out->n;
        int rc;

        if (a == NULL)
            start = end = len;
        else
            end = at + a->len;
        if (a != NULL && a->lstrip)
            start = skip_space_left(s, floor, start);
        if (a != NULL && a->rstrip)
            end = skip_space_right(s, len, end);
        if (normalized_stage)
            rc = encode_plain(tok, s + floor, start - floor, at_start && floor == 0, out, err);
        else
            rc = encode_raw_piece(tok, s + floor, start - floor, at_start && floor == 0, out, err);
        if (rc < 0)
            return -1;
        if (segs != NULL && segments_push(segs, floor, start, before, out->n) < 0)
            return tr_error_set(err, "out of memory");
        if (a == NULL)
            return 0;
        if (ids_push(out, a->id) < 0)
            return tr_error_set(err, "out of memory");
        pos = floor = end;
    }
}

static int encode_raw_piece(const struct tok *tok, const char *s, size_t len, bool at_start,
                            struct id_list *out, struct tr_error *err)
{
    struct tok_buf text = {0};
    int rc = 0;

    if (tok_buf_append(&text, s, len) < 0)
        return tr_error_set(err, "out of memory");
    if (tok->normalizer != NULL && len > 0)
        rc = tok_norm_apply(tok->normalizer, &text, err);
    if (rc == 0)
        rc = encode_split(tok, text.s, text.len, at_start, true, out, NULL, err);
    tok_buf_dispose(&text);
    return rc;
}

static int check_text(const char *text, size_t len, struct tr_error *err)
{
    size_t valid;

    if (len > TOK_MAX_TEXT_BYTES)
        return tr_error_set(err,
                            "the text is %zu bytes, over the limit of %zu bytes that the "
                            "tokenizer encodes at once; split it into shorter texts",
                            len, TOK_MAX_TEXT_BYTES);
    valid = tok_utf8_valid_prefix(text, len);
    if (valid != len)
        return tr_error_set(err, "text is not valid UTF-8 at byte %zu", valid);
    return 0;
}

/* Hands the ids of out to the caller, as a valid pointer even when there are none. */
static int finish_ids(struct id_list *out, int32_t **ids_out, size_t *n_out, struct tr_error *err)
{
    if (out->ids == NULL && ids_push(out, 0) == 0)
        out->n = 0;
    if (out->ids == NULL)
        return tr_error_set(err, "out of memory");
    *ids_out = out->ids;
    *n_out = out->n;
    return 0;
}

int tok_encode(const struct tok *tok, const char *text, size_t len, bool add_special,
               int32_t **ids_out, size_t *n_out, struct tr_error *err)
{
    struct id_list out = {0};

    *ids_out = NULL;
    *n_out = 0;
    if (check_text(text, len, err) < 0)
        return -1;
    for (size_t i = 0; add_special && i < tok->n_post_prefix; i++) {
        if (ids_push(&out, tok->post_prefix[i]) < 0)
            goto oom;
    }
    if (encode_split(tok, text, len, true, false, &out, NULL, err) < 0) {
        free(out.ids);
        return -1;
    }
    for (size_t i = 0; add_special && i < tok->n_post_suffix; i++) {
        if (ids_push(&out, tok->post_suffix[i]) < 0)
            goto oom;
    }
    return finish_ids(&out, ids_out, n_out, err);
oom:
    free(out.ids);
    return tr_error_set(err, "out of memory");
}

int tok_encode_segments(const struct tok *tok, const char *text, size_t len, int32_t **ids_out,
                        size_t *n_out, struct tok_segments *segs, struct tr_error *err)
{
    struct id_list out = {0};

    *ids_out = NULL;
    *n_out = 0;
    if (check_text(text, len, err) < 0)
        return -1;
    if (encode_split(tok, text, len, true, false, &out, segs, err) < 0) {
        free(out.ids);
        return -1;
    }
    return finish_ids(&out, ids_out, n_out, err);
}

int tok_encode_raw_piece(const struct tok *tok, const char *text, size_t start, size_t end,
                         int32_t **ids_out, size_t *n_out, struct tr_error *err)
{
    struct id_list out = {0};

    *ids_out = NULL;
    *n_out = 0;
    if (check_text(text + start, end - start, err) < 0)
        return -1;
    if (encode_raw_piece(tok, text + start, end - start, start == 0, &out, err) < 0) {
        free(out.ids);
        return -1;
    }
    return finish_ids(&out, ids_out, n_out, err);
}

/* The literal replacements of clean_up_tokenization_spaces, in the reference's order. */
static void clean_up_spaces(struct tok_buf *b)
{
    static const char *const from[] = {" .",   " ?",  " !",  " ,",   " ' ",
                                       " n't", " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};

    for (size_t r = 0; r < sizeof(from) / sizeof(from[0]); r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]), w = 0;

        for (size_t i = 0; i < b->len;) {
            if (b->len - i >= fl && memcmp(b->s + i, from[r], fl) == 0) {
                memmove(b->s + w, to[r], tl);
                w += tl;
                i += fl;
            } else {
                b->s[w++] = b->s[i++];
            }
        }
        b->len = w;
        b->s[w] = '\0';
    }
}

int tok_decode(const struct tok *tok, const int32_t *ids, size_t n, bool skip_special,
               char **text_out, struct tr_error *err)
{
    char **toks = calloc(n + 1, sizeof(char *));
    struct tok_buf out = {0};
    size_t m = 0;
    int rc = -1;

    *text_out = NULL;
    if (toks == NULL)
        return tr_error_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *t = tok_id_to_token(tok, ids[i]);

        if (t == NULL) {
            tr_error_set(err, "token id %d at position %zu is not in the vocabulary (size %zu)",
                         ids[i], i, tok->vocab_size);
            goto out;
        }
        if (skip_special && tok_is_special(tok, ids[i]))
            continue;
        toks[m] = strdup(t);
        if (toks[m] == NULL) {
            tr_error_set(err, "out of memory");
            goto out;
        }
        m++;
    }
    if (tok_dec_run(tok, toks, &m, &out, err) < 0)
        goto out;
    if (tok->clean_up_spaces)
        clean_up_spaces(&out);
    *text_out = out.s;
    out.s = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < m; i++)
        free(toks[i]);
    free(toks);
    tok_buf_dispose(&out);
    return rc;
}

/* Length of text without a trailing U+FFFD run, which may be an incomplete character that a
 * later token completes. */
static size_t settled_length(const char *s)
{
    size_t len = strlen(s);

    while (len >= 3 && memcmp(s + len - 3, "\xEF\xBF\xBD", 3) == 0)
        len -= 3;
    return len;
}

int tok_decode_piece(const struct tok *tok, const int32_t *ids, size_t n, bool skip_special,
                     char **text_out, struct tr_error *err)
{
    char *before = NULL, *after = NULL;
    size_t before_len, after_len;
    int rc = -1;

    *text_out = NULL;
    if (n == 0) {
        *text_out = strdup("");
        return *text_out != NULL ? 0 : tr_error_set(err, "out of memory");
    }
    if (tok_decode(tok, ids, n - 1, skip_special, &before, err) < 0 ||
        tok_decode(tok, ids, n, skip_special, &after, err) < 0)
        goto out;
    before_len = settled_length(before);
    after_len = settled_length(after);
    /* NOTE: when the new token changes earlier text (not a plain append), nothing is
     * returned for it; the decoders in use only append. */
    if (after_len < before_len || memcmp(before, after, before_len) != 0)
        before_len = after_len;
    *text_out = strndup(after + before_len, after_len - before_len);
    rc = *text_out != NULL ? 0 : tr_error_set(err, "out of memory");
out:
    free(before);
    free(after);
    return rc;
}
