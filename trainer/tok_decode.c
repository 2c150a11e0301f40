/* tok_decode: the decoders of tokenizer.json (ByteLevel, Metaspace, ByteFallback, Fuse,
 * Strip, Replace, Sequence). Each works on the list of token strings of a decode, as the
 * Hugging Face tokenizers library's decode_chain does, and the result is concatenated. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *type_of(json_t *obj)
{
    json_t *t = json_object_get(obj, "type");

    return json_is_string(t) ? json_string_value(t) : NULL;
}

static int parse_metaspace(struct tok_dec *out, json_t *obj, struct tr_error *err)
{
    json_t *rep = json_object_get(obj, "replacement");
    json_t *scheme = json_object_get(obj, "prepend_scheme");
    int32_t cp;

    out->type = TOK_DEC_METASPACE;
    if (!json_is_string(rep) || json_string_length(rep) == 0 || json_string_length(rep) > 4 ||
        tok_utf8_next(json_string_value(rep), json_string_length(rep), &cp) !=
            json_string_length(rep))
        return tr_error_set(err, "decoder Metaspace: \"replacement\" must be one character");
    memcpy(out->replacement, json_string_value(rep), json_string_length(rep));
    out->replacement_len = json_string_length(rep);
    out->prepend = true;
    if (json_is_string(scheme))
        out->prepend = strcmp(json_string_value(scheme), "never") != 0;
    else if (json_is_false(json_object_get(obj, "add_prefix_space")))
        out->prepend = false;
    return 0;
}

static int parse_strip(struct tok_dec *out, json_t *obj, struct tr_error *err)
{
    json_t *content = json_object_get(obj, "content");
    json_t *start = json_object_get(obj, "start");
    json_t *stop = json_object_get(obj, "stop");

    out->type = TOK_DEC_STRIP;
    if (!json_is_string(content) || !json_is_integer(start) || !json_is_integer(stop) ||
        json_integer_value(start) < 0 || json_integer_value(stop) < 0 ||
        json_integer_value(start) > 1000000 || json_integer_value(stop) > 1000000)
        return tr_error_set(err, "decoder Strip needs \"content\" (a string) and \"start\" and "
                                 "\"stop\" (counts)");
    out->content = strdup(json_string_value(content));
    if (out->content == NULL)
        return tr_error_set(err, "out of memory");
    out->content_len = strlen(out->content);
    out->strip_start = (size_t)json_integer_value(start);
    out->strip_stop = (size_t)json_integer_value(stop);
    return 0;
}

int tok_dec_parse(struct tok_dec *out, json_t *obj, int depth, struct tr_error *err)
{
    const char *type = type_of(obj);

    memset(out, 0, sizeof(*out));
    if (depth > TOK_MAX_COMPONENT_DEPTH)
        return tr_error_set(err, "decoder: Sequence nesting deeper than %d",
                            TOK_MAX_COMPONENT_DEPTH);
    if (type == NULL)
        return tr_error_set(err, "decoder: missing \"type\"");
    if (strcmp(type, "ByteLevel") == 0) {
        out->type = TOK_DEC_BYTE_LEVEL;
    } else if (strcmp(type, "ByteFallback") == 0) {
        out->type = TOK_DEC_BYTE_FALLBACK;
    } else if (strcmp(type, "Fuse") == 0) {
        out->type = TOK_DEC_FUSE;
    } else if (strcmp(type, "Metaspace") == 0) {
        return parse_metaspace(out, obj, err);
    } else if (strcmp(type, "Strip") == 0) {
        return parse_strip(out, obj, err);
    } else if (strcmp(type, "Replace") == 0) {
        json_t *content = json_object_get(obj, "content");

        out->type = TOK_DEC_REPLACE;
        if (tok_pattern_parse(&out->pattern, json_object_get(obj, "pattern"), "decoder Replace",
                              err) < 0)
            return -1;
        if (!json_is_string(content))
            return tr_error_set(err, "decoder Replace: \"content\" must be a string");
        out->content = strdup(json_string_value(content));
        if (out->content == NULL)
            return tr_error_set(err, "out of memory");
        out->content_len = strlen(out->content);
    } else if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(obj, "decoders");

        out->type = TOK_DEC_SEQUENCE;
        if (!json_is_array(list))
            return tr_error_set(err, "decoder Sequence: \"decoders\" must be an array");
        out->children = calloc(json_array_size(list) + 1, sizeof(*out->children));
        if (out->children == NULL)
            return tr_error_set(err, "out of memory");
        for (size_t i = 0; i < json_array_size(list); i++) {
            out->n_children++;
            if (tok_dec_parse(&out->children[i], json_array_get(list, i), depth + 1, err) < 0)
                return -1;
        }
    } else {
        return tr_error_set(err,
                            "decoder type \"%s\" is not supported (supported: ByteLevel, "
                            "Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence)",
                            type);
    }
    return 0;
}

void tok_dec_dispose(struct tok_dec *d)
{
    if (d == NULL)
        return;
    tok_pattern_dispose(&d->pattern);
    free(d->content);
    for (size_t i = 0; i < d->n_children; i++)
        tok_dec_dispose(&d->children[i]);
    free(d->children);
    memset(d, 0, sizeof(*d));
}

/* Replaces toks[i] by the contents of b (taking ownership of its buffer). */
static void take_buf(char **slot, struct tok_buf *b)
{
    free(*slot);
    *slot = b->s != NULL ? b->s : strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
}

/* Collapses toks[0..n) into the single string text; *n becomes 1. */
static int collapse(char **toks, size_t *n, struct tok_buf *text)
{
    for (size_t i = 0; i < *n; i++)
        free(toks[i]);
    toks[0] = text->s != NULL ? text->s : strdup("");
    text->s = NULL;
    *n = toks[0] != NULL ? 1 : 0;
    return toks[0] != NULL ? 0 : -1;
}

static int dec_byte_level(char **toks, size_t *n)
{
    struct tok_buf bytes = {0}, text = {0};
    int rc = -1;

    if (*n == 0)
        return 0;
    for (size_t i = 0; i < *n; i++) {
        const char *t = toks[i];
        size_t len = strlen(t), k = 0, mark = bytes.len;
        bool all_mapped = true;

        while (k < len) {
            int32_t cp;
            size_t m = tok_utf8_next(t + k, len - k, &cp);
            int b = m > 0 ? tok_byte_of_char(cp) : -1;
            char c = (char)b;

            if (b < 0) {
                all_mapped = false;
                break;
            }
            if (tok_buf_append(&bytes, &c, 1) < 0)
                goto out;
            k += m;
        }
        if (!all_mapped) {
            bytes.len = mark; /* take the token's own bytes */
            if (tok_buf_append(&bytes, t, len) < 0)
                goto out;
        }
    }
    if (tok_buf_append(&text, "", 0) < 0 || tok_utf8_lossy(&text, bytes.s, bytes.len) < 0)
        goto out;
    rc = collapse(toks, n, &text);
out:
    tok_buf_dispose(&bytes);
    tok_buf_dispose(&text);
    return rc;
}

static int parse_byte_token(const char *t)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *hi, *lo;

    if (strlen(t) != 6 || memcmp(t, "<0x", 3) != 0 || t[5] != '>' || t[3] == '\0' || t[4] == '\0')
        return -1;
    hi = strchr(hex, t[3]);
    lo = strchr(hex, t[4]);
    if (hi == NULL || lo == NULL)
        return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

/* Runs of <0xHH> tokens become one string when their bytes are valid UTF-8, else one U+FFFD
 * per byte. */
static int dec_byte_fallback(char **toks, size_t *n)
{
    size_t w = 0, i = 0;

    while (i < *n) {
        struct tok_buf bytes = {0};
        size_t j = i;

        while (j < *n && parse_byte_token(toks[j]) >= 0) {
            char c = (char)parse_byte_token(toks[j]);

            if (tok_buf_append(&bytes, &c, 1) < 0) {
                tok_buf_dispose(&bytes);
                return -1;
            }
            j++;
        }
        if (j == i) {
            toks[w++] = toks[i++];
            continue;
        }
        if (tok_utf8_valid_prefix(bytes.s, bytes.len) != bytes.len) {
            size_t count = bytes.len;

            bytes.len = 0;
            for (size_t k = 0; k < count; k++) {
                if (tok_buf_append(&bytes, "\xEF\xBF\xBD", 3) < 0) {
                    tok_buf_dispose(&bytes);
                    return -1;
                }
            }
        }
        for (size_t k = i; k < j; k++)
            free(toks[k]);
        toks[w] = NULL;
        take_buf(&toks[w], &bytes);
        w++;
        i = j;
    }
    *n = w;
    return 0;
}

static int dec_strip(const struct tok_dec *d, char **toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *t = toks[i];
        size_t len = strlen(t), start = 0, end = len, c = d->content_len;

        for (size_t k = 0; c > 0 && k < d->strip_start && end - start >= c &&
                           memcmp(t + start, d->content, c) == 0;
             k++)
            start += c;
        for (size_t k = 0; c > 0 && k < d->strip_stop && end - start >= c &&
                           memcmp(t + end - c, d->content, c) == 0;
             k++)
            end -= c;
        memmove(t, t + start, end - start);
        t[end - start] = '\0';
    }
    return 0;
}

static int dec_replace(const struct tok_dec *d, char **toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tok_buf b = {0};
        size_t len = strlen(toks[i]), pos = 0, start, end;

        if (tok_buf_append(&b, "", 0) < 0)
            return -1;
        while (tok_pattern_find(&d->pattern, toks[i], len, pos, &start, &end)) {
            if (tok_buf_append(&b, toks[i] + pos, start - pos) < 0 ||
                tok_buf_append(&b, d->content, d->content_len) < 0) {
                tok_buf_dispose(&b);
                return -1;
            }
            pos = end;
        }
        if (tok_buf_append(&b, toks[i] + pos, len - pos) < 0) {
            tok_buf_dispose(&b);
            return -1;
        }
        take_buf(&toks[i], &b);
    }
    return 0;
}

static int dec_metaspace(const struct tok_dec *d, char **toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tok_buf b = {0};
        const char *t = toks[i];
        size_t len = strlen(t), k = 0;

        if (tok_buf_append(&b, "", 0) < 0)
            return -1;
        while (k < len) {
            bool is_rep = len - k >= d->replacement_len &&
                          memcmp(t + k, d->replacement, d->replacement_len) == 0;
            int r = is_rep ? tok_buf_append(&b, " ", 1) : tok_buf_append(&b, t + k, 1);

            if (r < 0) {
                tok_buf_dispose(&b);
                return -1;
            }
            k += is_rep ? d->replacement_len : 1;
        }
        /* NOTE: no corpus tokenizer uses the Metaspace decoder, so dropping one leading space
         * of the first token is untested against a reference. */
        if (i == 0 && d->prepend && b.len > 0 && b.s[0] == ' ') {
            memmove(b.s, b.s + 1, b.len);
            b.len--;
        }
        take_buf(&toks[i], &b);
    }
    return 0;
}

static int dec_apply(const struct tok_dec *d, char **toks, size_t *n)
{
    struct tok_buf text = {0};

    switch (d->type) {
    case TOK_DEC_BYTE_LEVEL:
        return dec_byte_level(toks, n);
    case TOK_DEC_BYTE_FALLBACK:
        return dec_byte_fallback(toks, n);
    case TOK_DEC_FUSE:
        if (*n == 0)
            return 0;
        for (size_t i = 0; i < *n; i++) {
            if (tok_buf_append(&text, toks[i], strlen(toks[i])) < 0) {
                tok_buf_dispose(&text);
                return -1;
            }
        }
        return collapse(toks, n, &text);
    case TOK_DEC_STRIP:
        return dec_strip(d, toks, *n);
    case TOK_DEC_REPLACE:
        return dec_replace(d, toks, *n);
    case TOK_DEC_METASPACE:
        return dec_metaspace(d, toks, *n);
    case TOK_DEC_SEQUENCE:
        for (size_t i = 0; i < d->n_children; i++) {
            if (dec_apply(&d->children[i], toks, n) < 0)
                return -1;
        }
        return 0;
    }
    return 0;
}

int tok_dec_run(const struct tok *tok, char **toks, size_t *n, struct tok_buf *out,
                struct tr_error *err)
{
    if (tok->decoder != NULL && dec_apply(tok->decoder, toks, n) < 0)
        return tr_error_set(err, "out of memory while decoding");
    if (tok_buf_append(out, "", 0) < 0)
        return tr_error_set(err, "out of memory while decoding");
    for (size_t i = 0; i < *n; i++) {
        /* Without a decoder the tokens are joined with spaces, as the Hugging Face tokenizers
         * library does. */
        if ((tok->decoder == NULL && i > 0 && tok_buf_append(out, " ", 1) < 0) ||
            tok_buf_append(out, toks[i], strlen(toks[i])) < 0)
            return tr_error_set(err, "out of memory while decoding");
    }
    return 0;
}
