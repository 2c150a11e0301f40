/* tok_text: the normalizers (NFC/NFD/NFKC/NFKD, Prepend, Replace, Lowercase, Strip,
 * Sequence) and pre-tokenizers (ByteLevel, Split, Metaspace, Digits, Whitespace,
 * WhitespaceSplit, Sequence) of tokenizer.json: parsing and applying them. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The GPT-2 pre-tokenization regex that ByteLevel applies when use_regex is true. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static const char *type_of(json_t *obj)
{
    json_t *t = json_object_get(obj, "type");

    return json_is_string(t) ? json_string_value(t) : NULL;
}

static bool get_bool(json_t *obj, const char *key, bool dflt)
{
    json_t *v = json_object_get(obj, key);

    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int copy_string(char **out, size_t *out_len, json_t *v, const char *what,
                       struct tr_error *err)
{
    size_t len;

    if (!json_is_string(v))
        return tr_error_set(err, "%s must be a string", what);
    len = json_string_length(v);
    *out = malloc(len + 1);
    if (*out == NULL)
        return tr_error_set(err, "out of memory");
    memcpy(*out, json_string_value(v), len + 1);
    *out_len = len;
    return 0;
}

/* ---- Normalizers ---- */

int tok_norm_parse(struct tok_norm *out, json_t *obj, int depth, struct tr_error *err)
{
    const char *type = type_of(obj);

    memset(out, 0, sizeof(*out));
    if (depth > TOK_MAX_COMPONENT_DEPTH)
        return tr_error_set(err, "normalizer: Sequence nesting deeper than %d",
                            TOK_MAX_COMPONENT_DEPTH);
    if (type == NULL)
        return tr_error_set(err, "normalizer: missing \"type\"");
    if (strcmp(type, "NFC") == 0) {
        out->type = TOK_NORM_NFC;
    } else if (strcmp(type, "NFD") == 0) {
        out->type = TOK_NORM_NFD;
    } else if (strcmp(type, "NFKC") == 0) {
        out->type = TOK_NORM_NFKC;
    } else if (strcmp(type, "NFKD") == 0) {
        out->type = TOK_NORM_NFKD;
    } else if (strcmp(type, "Lowercase") == 0) {
        out->type = TOK_NORM_LOWERCASE;
    } else if (strcmp(type, "Strip") == 0) {
        out->type = TOK_NORM_STRIP;
        out->strip_left = get_bool(obj, "strip_left", true);
        out->strip_right = get_bool(obj, "strip_right", true);
    } else if (strcmp(type, "Prepend") == 0) {
        out->type = TOK_NORM_PREPEND;
        return copy_string(&out->text, &out->text_len, json_object_get(obj, "prepend"),
                           "normalizer Prepend: \"prepend\"", err);
    } else if (strcmp(type, "Replace") == 0) {
        out->type = TOK_NORM_REPLACE;
        if (tok_pattern_parse(&out->pattern, json_object_get(obj, "pattern"), "normalizer Replace",
                              err) < 0)
            return -1;
        return copy_string(&out->text, &out->text_len, json_object_get(obj, "content"),
                           "normalizer Replace: \"content\"", err);
    } else if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(obj, "normalizers");

        out->type = TOK_NORM_SEQUENCE;
        if (!json_is_array(list))
            return tr_error_set(err, "normalizer Sequence: \"normalizers\" must be an array");
        out->children = calloc(json_array_size(list) + 1, sizeof(*out->children));
        if (out->children == NULL)
            return tr_error_set(err, "out of memory");
        for (size_t i = 0; i < json_array_size(list); i++) {
            out->n_children++;
            if (tok_norm_parse(&out->children[i], json_array_get(list, i), depth + 1, err) < 0)
                return -1;
        }
    } else {
        return tr_error_set(err,
                            "normalizer type \"%s\" is not supported (supported: NFC, NFD, NFKC, "
                            "NFKD, Prepend, Replace, Lowercase, Strip, Sequence)",
                            type);
    }
    return 0;
}

void tok_norm_dispose(struct tok_norm *n)
{
    if (n == NULL)
        return;
    free(n->text);
    tok_pattern_dispose(&n->pattern);
    for (size_t i = 0; i < n->n_children; i++)
        tok_norm_dispose(&n->children[i]);
    free(n->children);
    memset(n, 0, sizeof(*n));
}

static int replace_buf(struct tok_buf *text, const struct tok_buf *fresh)
{
    tok_buf_dispose(text);
    *text = *fresh;
    return 0;
}

static int norm_unicode(struct tok_buf *text, utf8proc_option_t options, struct tr_error *err)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n;
    struct tok_buf fresh = {0};

    if (text->len == 0)
        return 0;
    n = utf8proc_map((const utf8proc_uint8_t *)text->s, (utf8proc_ssize_t)text->len, &dst,
                     options | UTF8PROC_STABLE);
    if (n < 0)
        return tr_error_set(err, "Unicode normalization failed: %s", utf8proc_errmsg(n));
    if (tok_buf_append(&fresh, (const char *)dst, (size_t)n) < 0) {
        free(dst);
        return tr_error_set(err, "out of memory");
    }
    free(dst);
    return replace_buf(text, &fresh);
}

static int norm_lowercase(struct tok_buf *text, struct tr_error *err)
{
    struct tok_buf fresh = {0};
    size_t i = 0;

    while (i < text->len) {
        int32_t cp;
        size_t n = tok_utf8_next(text->s + i, text->len - i, &cp);
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m;

        if (n == 0) {
            tok_buf_dispose(&fresh);
            return tr_error_set(err, "invalid UTF-8 at byte %zu", i);
        }
        m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (tok_buf_append(&fresh, (const char *)enc, (size_t)m) < 0) {
            tok_buf_dispose(&fresh);
            return tr_error_set(err, "out of memory");
        }
        i += n;
    }
    return replace_buf(text, &fresh);
}

static void norm_strip(struct tok_buf *text, bool left, bool right)
{
    size_t start = 0, end = text->len;
    int32_t cp;

    while (left && start < end) {
        size_t n = tok_utf8_next(text->s + start, end - start, &cp);

        if (n == 0 || !tok_cp_is_whitespace(cp))
            break;
        start += n;
    }
    while (right && end > start) {
        size_t k = end - 1;

        while (k > start && ((unsigned char)text->s[k] & 0xC0) == 0x80)
            k--;
        if (tok_utf8_next(text->s + k, end - k, &cp) == 0 || !tok_cp_is_whitespace(cp))
            break;
        end = k;
    }
    memmove(text->s, text->s + start, end - start);
    text->len = end - start;
    if (text->s != NULL)
        text->s[text->len] = '\0';
}

static int norm_replace(const struct tok_norm *n, struct tok_buf *text, struct tr_error *err)
{
    struct tok_buf fresh = {0};
    size_t pos = 0, start, end;

    if (tok_buf_append(&fresh, "", 0) < 0)
        return tr_error_set(err, "out of memory");
    while (tok_pattern_find(&n->pattern, text->s, text->len, pos, &start, &end)) {
        if (tok_buf_append(&fresh, text->s + pos, start - pos) < 0 ||
            tok_buf_append(&fresh, n->text, n->text_len) < 0)
            goto oom;
        pos = end;
    }
    if (tok_buf_append(&fresh, text->s + pos, text->len - pos) < 0)
        goto oom;
    return replace_buf(text, &fresh);
oom:
    tok_buf_dispose(&fresh);
    return tr_error_set(err, "out of memory");
}

int tok_norm_apply(const struct tok_norm *n, struct tok_buf *text, struct tr_error *err)
{
    struct tok_buf fresh = {0};

    switch (n->type) {
    case TOK_NORM_NFC:
        return norm_unicode(text, UTF8PROC_COMPOSE, err);
    case TOK_NORM_NFD:
        return norm_unicode(text, UTF8PROC_DECOMPOSE, err);
    case TOK_NORM_NFKC:
        return norm_unicode(text, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, err);
    case TOK_NORM_NFKD:
        return norm_unicode(text, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, err);
    case TOK_NORM_LOWERCASE:
        return norm_lowercase(text, err);
    case TOK_NORM_STRIP:
        norm_strip(text, n->strip_left, n->strip_right);
        return 0;
    case TOK_NORM_PREPEND:
        if (text->len == 0)
            return 0;
        if (tok_buf_append(&fresh, n->text, n->text_len) < 0 ||
            tok_buf_append(&fresh, text->s, text->len) < 0) {
            tok_buf_dispose(&fresh);
            return tr_error_set(err, "out of memory");
        }
        return replace_buf(text, &fresh);
    case TOK_NORM_REPLACE:
        return norm_replace(n, text, err);
    case TOK_NORM_SEQUENCE:
        for (size_t i = 0; i < n->n_children; i++) {
            if (tok_norm_apply(&n->children[i], text, err) < 0)
                return -1;
        }
        return 0;
    }
    return 0;
}

/* ---- Pre-tokenizers ---- */

static int parse_behavior(enum tok_split_behavior *out, json_t *v, struct tr_error *err)
{
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    const char *s = json_is_string(v) ? json_string_value(v) : "";

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tok_split_behavior)i;
            return 0;
        }
    }
    return tr_error_set(err,
                        "pre_tokenizer Split: behavior \"%s\" is not one of Removed, Isolated, "
                        "MergedWithPrevious, MergedWithNext, Contiguous",
                        s);
}

static int compile_regex(struct tok_pattern *pat, const char *re, struct tr_error *err)
{
    int code;
    PCRE2_SIZE off;

    memset(pat, 0, sizeof(*pat));
    pat->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code,
                            &off, NULL);
    if (pat->re == NULL)
        return tr_error_set(err, "cannot compile a built-in regex (PCRE2 error %d)", code);
    /* Without JIT support, matching falls back to the interpreter. */
    pcre2_jit_compile(pat->re, PCRE2_JIT_COMPLETE);
    return 0;
}

static int parse_metaspace(struct tok_pre *out, json_t *obj, struct tr_error *err)
{
    json_t *rep = json_object_get(obj, "replacement");
    json_t *scheme = json_object_get(obj, "prepend_scheme");
    json_t *aps = json_object_get(obj, "add_prefix_space");
    int32_t cp;

    out->type = TOK_PRE_METASPACE;
    if (!json_is_string(rep) || json_string_length(rep) == 0 ||
        tok_utf8_next(json_string_value(rep), json_string_length(rep), &cp) !=
            json_string_length(rep))
        return tr_error_set(err, "pre_tokenizer Metaspace: \"replacement\" must be one character");
    memcpy(out->replacement, json_string_value(rep), json_string_length(rep));
    out->replacement_len = json_string_length(rep);
    out->prepend_scheme = TOK_PREPEND_ALWAYS;
    if (json_is_string(scheme)) {
        const char *s = json_string_value(scheme);

        if (strcmp(s, "first") == 0)
            out->prepend_scheme = TOK_PREPEND_FIRST;
        else if (strcmp(s, "never") == 0)
            out->prepend_scheme = TOK_PREPEND_NEVER;
        else if (strcmp(s, "always") != 0)
            return tr_error_set(err,
                                "pre_tokenizer Metaspace: prepend_scheme \"%s\" is not "
                                "always, first or never",
                                s);
    } else if (json_is_false(aps)) {
        out->prepend_scheme = TOK_PREPEND_NEVER;
    }
    out->split = get_bool(obj, "split", true);
    return 0;
}

int tok_pre_parse(struct tok_pre *out, json_t *obj, int depth, struct tr_error *err)
{
    const char *type = type_of(obj);

    memset(out, 0, sizeof(*out));
    if (depth > TOK_MAX_COMPONENT_DEPTH)
        return tr_error_set(err, "pre_tokenizer: Sequence nesting deeper than %d",
                            TOK_MAX_COMPONENT_DEPTH);
    if (type == NULL)
        return tr_error_set(err, "pre_tokenizer: missing \"type\"");
    if (strcmp(type, "ByteLevel") == 0) {
        out->type = TOK_PRE_BYTE_LEVEL;
        out->add_prefix_space = get_bool(obj, "add_prefix_space", true);
        out->use_regex = get_bool(obj, "use_regex", true);
        if (out->use_regex)
            return compile_regex(&out->pattern, gpt2_pattern, err);
    } else if (strcmp(type, "Split") == 0) {
        out->type = TOK_PRE_SPLIT;
        if (tok_pattern_parse(&out->pattern, json_object_get(obj, "pattern"), "pre_tokenizer Split",
                              err) < 0)
            return -1;
        if (parse_behavior(&out->behavior, json_object_get(obj, "behavior"), err) < 0)
            return -1;
        out->invert = get_bool(obj, "invert", false);
    } else if (strcmp(type, "Metaspace") == 0) {
        return parse_metaspace(out, obj, err);
    } else if (strcmp(type, "Digits") == 0) {
        out->type = TOK_PRE_DIGITS;
        out->individual_digits = get_bool(obj, "individual_digits", false);
    } else if (strcmp(type, "Whitespace") == 0) {
        out->type = TOK_PRE_WHITESPACE;
        return compile_regex(&out->pattern, "\\w+|[^\\w\\s]+", err);
    } else if (strcmp(type, "WhitespaceSplit") == 0) {
        out->type = TOK_PRE_WHITESPACE_SPLIT;
    } else if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(obj, "pretokenizers");

        out->type = TOK_PRE_SEQUENCE;
        if (!json_is_array(list))
            return tr_error_set(err, "pre_tokenizer Sequence: \"pretokenizers\" must be an array");
        out->children = calloc(json_array_size(list) + 1, sizeof(*out->children));
        if (out->children == NULL)
            return tr_error_set(err, "out of memory");
        for (size_t i = 0; i < json_array_size(list); i++) {
            out->n_children++;
            if (tok_pre_parse(&out->children[i], json_array_get(list, i), depth + 1, err) < 0)
                return -1;
        }
    } else {
        return tr_error_set(err,
                            "pre_tokenizer type \"%s\" is not supported (supported: ByteLevel, "
                            "Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Sequence)",
                            type);
    }
    return 0;
}

void tok_pre_dispose(struct tok_pre *p)
{
    if (p == NULL)
        return;
    tok_pattern_dispose(&p->pattern);
    for (size_t i = 0; i < p->n_children; i++)
        tok_pre_dispose(&p->children[i]);
    free(p->children);
    memset(p, 0, sizeof(*p));
}

/* A segment of a piece: a pattern match or the text between two matches. */
struct segment {
    size_t start, end;
    bool is_match;
};

struct segments {
    struct segment *s;
    size_t n, cap;
};

static int segments_push(struct segments *list, size_t start, size_t end, bool is_match)
{
    if (start == end)
        return 0;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        struct segment *p = realloc(list->s, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        list->s = p;
        list->cap = cap;
    }
    list->s[list->n++] = (struct segment){start, end, is_match};
    return 0;
}

typedef bool find_fn(const struct tok_pre *pre, const char *s, size_t len, size_t from,
                     size_t *start, size_t *end);

static bool find_pattern(const struct tok_pre *pre, const char *s, size_t len, size_t from,
                         size_t *start, size_t *end)
{
    return tok_pattern_find(&pre->pattern, s, len, from, start, end);
}

/* Finds the next single character for which numeric (Digits) or whitespace (WhitespaceSplit)
 * holds. */
static bool find_char_class(const struct tok_pre *pre, const char *s, size_t len, size_t from,
                            size_t *start, size_t *end)
{
    size_t i = from;

    while (i < len) {
        int32_t cp;
        size_t n = tok_utf8_next(s + i, len - i, &cp);
        bool hit;

        if (n == 0)
            return false;
        if (pre->type == TOK_PRE_DIGITS) {
            utf8proc_category_t cat = utf8proc_category(cp);

            hit = cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
                  cat == UTF8PROC_CATEGORY_NO;
        } else {
            hit = tok_cp_is_whitespace(cp);
        }
        if (hit) {
            *start = i;
            *end = i + n;
            return true;
        }
        i += n;
    }
    return false;
}

/* Splits one piece into out with the matches of find, following behavior as the Hugging
 * Face tokenizers library does. */
static int split_piece(const struct tok_pre *pre, const struct tok_piece *in, find_fn *find,
                       enum tok_split_behavior behavior, bool invert, struct tok_pieces *out)
{
    struct segments all = {0}, merged = {0};
    size_t pos = 0, start, end;
    int rc = -1;

    while (pos < in->len && find(pre, in->s, in->len, pos, &start, &end)) {
        if (segments_push(&all, pos, start, invert) < 0 ||
            segments_push(&all, start, end, !invert) < 0)
            goto out;
        pos = end;
    }
    if (segments_push(&all, pos, in->len, invert) < 0)
        goto out;

    if (behavior == TOK_SPLIT_MERGED_WITH_NEXT) {
        bool next_match = false;

        /* Walk backwards: a match joins the segment after it unless that one is a match. */
        for (size_t k = all.n; k-- > 0;) {
            struct segment sg = all.s[k];

            if (sg.is_match && !next_match && merged.n > 0) {
                merged.s[merged.n - 1].start = sg.start;
            } else if (segments_push(&merged, sg.start, sg.end, sg.is_match) < 0) {
                goto out;
            }
            next_match = sg.is_match;
        }
        for (size_t a = 0, b = merged.n; a + 1 < b; a++, b--) {
            struct segment t = merged.s[a];

            merged.s[a] = merged.s[b - 1];
            merged.s[b - 1] = t;
        }
    } else {
        bool prev_match = false;

        for (size_t k = 0; k < all.n; k++) {
            struct segment sg = all.s[k];

            if (behavior == TOK_SPLIT_REMOVED && sg.is_match)
                continue;
            if (behavior == TOK_SPLIT_MERGED_WITH_PREVIOUS && sg.is_match && !prev_match &&
                merged.n > 0) {
                merged.s[merged.n - 1].end = sg.end;
            } else if (behavior == TOK_SPLIT_CONTIGUOUS && sg.is_match && prev_match &&
                       merged.n > 0) {
                merged.s[merged.n - 1].end = sg.end;
            } else if (segments_push(&merged, sg.start, sg.end, sg.is_match) < 0) {
                goto out;
            }
            prev_match = sg.is_match;
        }
    }
    for (size_t k = 0; k < merged.n; k++) {
        struct segment sg = merged.s[k];

        if (tok_pieces_push(out, in->s + sg.start, sg.end - sg.start,
                            in->at_start && sg.start == 0) < 0)
            goto out;
    }
    rc = 0;
out:
    free(all.s);
    free(merged.s);
    return rc;
}

static int byte_level_piece(const struct tok_pre *pre, const struct tok_piece *in,
                            struct tok_pieces *out)
{
    struct tok_pieces parts = {0};
    struct tok_piece prefixed = *in;
    char *tmp = NULL;
    int rc = -1;

    if (pre->add_prefix_space && (in->len == 0 || in->s[0] != ' ')) {
        tmp = malloc(in->len + 2);
        if (tmp == NULL)
            return -1;
        tmp[0] = ' ';
        memcpy(tmp + 1, in->s, in->len);
        tmp[in->len + 1] = '\0';
        prefixed.s = tmp;
        prefixed.len = in->len + 1;
    }
    if (pre->use_regex) {
        if (split_piece(pre, &prefixed, find_pattern, TOK_SPLIT_ISOLATED, false, &parts) < 0)
            goto out;
    } else if (tok_pieces_push(&parts, prefixed.s, prefixed.len, prefixed.at_start) < 0) {
        goto out;
    }
    for (size_t k = 0; k < parts.n; k++) {
        struct tok_buf mapped = {0};

        for (size_t i = 0; i < parts.p[k].len; i++) {
            char enc[2];
            size_t m = tok_byte_char((unsigned char)parts.p[k].s[i], enc);

            if (tok_buf_append(&mapped, enc, m) < 0) {
                tok_buf_dispose(&mapped);
                goto out;
            }
        }
        if (tok_pieces_push(out, mapped.s, mapped.len, parts.p[k].at_start) < 0) {
            tok_buf_dispose(&mapped);
            goto out;
        }
        tok_buf_dispose(&mapped);
    }
    rc = 0;
out:
    tok_pieces_dispose(&parts);
    free(tmp);
    return rc;
}

static bool find_replacement(const struct tok_pre *pre, const char *s, size_t len, size_t from,
                             size_t *start, size_t *end)
{
    const char *hit;

    if (from >= len)
        return false;
    hit = memmem(s + from, len - from, pre->replacement, pre->replacement_len);
    if (hit == NULL)
        return false;
    *start = (size_t)(hit - s);
    *end = *start + pre->replacement_len;
    return true;
}

static int metaspace_piece(const struct tok_pre *pre, const struct tok_piece *in,
                           struct tok_pieces *out)
{
    struct tok_buf text = {0};
    struct tok_piece replaced;
    bool prepend;
    int rc = -1;

    /* Spaces are replaced first, so text that starts with a space gets no extra prefix. */
    prepend = pre->prepend_scheme == TOK_PREPEND_ALWAYS ||
              (pre->prepend_scheme == TOK_PREPEND_FIRST && in->at_start);
    if (prepend && in->len > 0 && in->s[0] != ' ' &&
        !(in->len >= pre->replacement_len &&
          memcmp(in->s, pre->replacement, pre->replacement_len) == 0)) {
        if (tok_buf_append(&text, pre->replacement, pre->replacement_len) < 0)
            goto out;
    }
    if (tok_buf_append(&text, "", 0) < 0)
        goto out;
    for (size_t i = 0; i < in->len; i++) {
        int r = in->s[i] == ' ' ? tok_buf_append(&text, pre->replacement, pre->replacement_len)
                                : tok_buf_append(&text, in->s + i, 1);

        if (r < 0)
            goto out;
    }
    replaced = (struct tok_piece){text.s, text.len, in->at_start};
    if (pre->split)
        rc = split_piece(pre, &replaced, find_replacement, TOK_SPLIT_MERGED_WITH_NEXT, false, out);
    else
        rc = tok_pieces_push(out, text.s, text.len, in->at_start);
out:
    tok_buf_dispose(&text);
    return rc;
}

static int pre_apply_piece(const struct tok_pre *p, const struct tok_piece *in,
                           struct tok_pieces *out)
{
    switch (p->type) {
    case TOK_PRE_BYTE_LEVEL:
        return byte_level_piece(p, in, out);
    case TOK_PRE_SPLIT:
        return split_piece(p, in, find_pattern, p->behavior, p->invert, out);
    case TOK_PRE_METASPACE:
        return metaspace_piece(p, in, out);
    case TOK_PRE_DIGITS:
        return split_piece(p, in, find_char_class,
                           p->individual_digits ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS, false,
                           out);
    case TOK_PRE_WHITESPACE:
        return split_piece(p, in, find_pattern, TOK_SPLIT_REMOVED, true, out);
    case TOK_PRE_WHITESPACE_SPLIT:
        return split_piece(p, in, find_char_class, TOK_SPLIT_REMOVED, false, out);
    case TOK_PRE_SEQUENCE:
        break;
    }
    return -1;
}

int tok_pre_apply(const struct tok_pre *p, struct tok_pieces *pieces, struct tr_error *err)
{
    struct tok_pieces out = {0};

    if (p->type == TOK_PRE_SEQUENCE) {
        for (size_t i = 0; i < p->n_children; i++) {
            if (tok_pre_apply(&p->children[i], pieces, err) < 0)
                return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < pieces->n; i++) {
        if (pre_apply_piece(p, &pieces->p[i], &out) < 0) {
            tok_pieces_dispose(&out);
            return tr_error_set(err, "out of memory while pre-tokenizing");
        }
    }
    tok_pieces_dispose(pieces);
    *pieces = out;
    return 0;
}
