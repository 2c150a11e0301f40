/* tok_util: byte strings, piece lists, UTF-8 handling, the GPT-2 byte map, literal/regex
 * patterns and the string hash tables shared by the tokenizer files. */
#include "tok_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int tok_buf_append(struct tok_buf *b, const char *s, size_t len)
{
    if (len > SIZE_MAX / 2 - b->len - 1)
        return -1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;

        while (cap < b->len + len + 1)
            cap *= 2;
        p = realloc(b->s, cap);
        if (p == NULL)
            return -1;
        b->s = p;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
    return 0;
}

void tok_buf_dispose(struct tok_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

int tok_pieces_push(struct tok_pieces *list, const char *s, size_t len, bool at_start)
{
    char *copy;

    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        struct tok_piece *p = realloc(list->p, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        list->p = p;
        list->cap = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    if (len > 0)
        memcpy(copy, s, len);
    copy[len] = '\0';
    list->p[list->n].s = copy;
    list->p[list->n].len = len;
    list->p[list->n].at_start = at_start;
    list->n++;
    return 0;
}

void tok_pieces_dispose(struct tok_pieces *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->p[i].s);
    free(list->p);
    list->p = NULL;
    list->n = list->cap = 0;
}

size_t tok_utf8_next(const char *str, size_t len, int32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c;
    size_t need;
    int32_t v;
    unsigned char lo = 0x80, hi = 0xBF;

    if (len == 0)
        return 0;
    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < need + 1)
        return 0;
    for (size_t i = 1; i <= need; i++) {
        unsigned char b = s[i];

        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return 0;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return need + 1;
}

size_t tok_utf8_valid_prefix(const char *s, size_t len)
{
    size_t i = 0;
    int32_t cp;

    while (i < len) {
        size_t n = tok_utf8_next(s + i, len - i, &cp);

        if (n == 0)
            break;
        i += n;
    }
    return i;
}

/* Length of the maximal prefix of an incomplete or invalid sequence at s, which lossy
 * decoding replaces by one U+FFFD (at least 1). */
static size_t utf8_bad_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3;
    else
        return 1;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    for (i = 1; i <= need && i < len; i++) {
        unsigned char b = s[i];

        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            break;
    }
    return i;
}

int tok_utf8_lossy(struct tok_buf *out, const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t start = i;
        int32_t cp;

        while (i < len) {
            size_t n = tok_utf8_next(s + i, len - i, &cp);

            if (n == 0)
                break;
            i += n;
        }
        if (tok_buf_append(out, s + start, i - start) < 0)
            return -1;
        if (i < len) {
            i += utf8_bad_length((const unsigned char *)s + i, len - i);
            if (tok_buf_append(out, "\xEF\xBF\xBD", 3) < 0)
                return -1;
        }
    }
    return 0;
}

/* Unicode White_Space, as Rust's char::is_whitespace defines it. */
bool tok_cp_is_whitespace(int32_t cp)
{
    switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

static bool byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The code point of each byte in the GPT-2 byte map, and the inverse for U+0000..U+0143. */
static struct {
    pthread_once_t once;
    uint16_t cp_of_byte[256];
    int16_t byte_of_cp[256 + 68];
} byte_map = {PTHREAD_ONCE_INIT, {0}, {0}};

static void byte_map_init(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < 256 + 68; i++)
        byte_map.byte_of_cp[i] = -1;
    for (unsigned b = 0; b < 256; b++) {
        unsigned cp = byte_is_printable(b) ? b : 256 + n++;

        byte_map.cp_of_byte[b] = (uint16_t)cp;
        byte_map.byte_of_cp[cp] = (int16_t)b;
    }
}

size_t tok_byte_char(unsigned b, char out[2])
{
    unsigned cp;

    pthread_once(&byte_map.once, byte_map_init);
    cp = byte_map.cp_of_byte[b & 0xFF];
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

int tok_byte_of_char(int32_t cp)
{
    pthread_once(&byte_map.once, byte_map_init);
    if (cp < 0 || cp >= 256 + 68)
        return -1;
    return byte_map.byte_of_cp[cp];
}

uint64_t tok_hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

int32_t tok_vocab_find(const struct tok_vocab_slot *table, size_t mask, const char *s, size_t len)
{
    size_t i;

    if (table == NULL)
        return -1;
    i = (size_t)tok_hash_bytes(s, len) & mask;
    while (table[i].key != NULL) {
        if (table[i].len == len && memcmp(table[i].key, s, len) == 0)
            return table[i].id;
        i = (i + 1) & mask;
    }
    return -1;
}

bool tok_pattern_find(const struct tok_pattern *pat, const char *s, size_t len, size_t from,
                      size_t *start, size_t *end)
{
    pcre2_match_data *md;
    bool found = false;

    if (pat->literal != NULL) {
        const char *hit;

        if (pat->literal_len == 0 || from >= len)
            return false;
        hit = memmem(s + from, len - from, pat->literal, pat->literal_len);
        if (hit == NULL)
            return false;
        *start = (size_t)(hit - s);
        *end = *start + pat->literal_len;
        return true;
    }
    if (pat->re == NULL)
        return false;
    /* Only the whole match is needed, so one ovector pair is enough. */
    md = pcre2_match_data_create(1, NULL);
    if (md == NULL)
        return false;
    while (from <= len) {
        PCRE2_SIZE *ov;
        int32_t cp;
        size_t n;

        if (pcre2_match(pat->re, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, md, NULL) < 0)
            break;
        ov = pcre2_get_ovector_pointer(md);
        *start = ov[0];
        *end = ov[1];
        if (*end > *start) {
            found = true;
            break;
        }
        /* An empty match yields no piece: retry one character further on. */
        n = *start < len ? tok_utf8_next(s + *start, len - *start, &cp) : 0;
        if (n == 0)
            break;
        from = *start + n;
    }
    pcre2_match_data_free(md);
    return found;
}

int tok_pattern_parse(struct tok_pattern *pat, json_t *obj, const char *where, struct tr_error *err)
{
    json_t *str = json_object_get(obj, "String");
    json_t *re = json_object_get(obj, "Regex");

    memset(pat, 0, sizeof(*pat));
    if (json_is_string(str)) {
        size_t len = json_string_length(str);

        pat->literal = malloc(len + 1);
        if (pat->literal == NULL)
            return tr_error_set(err, "out of memory");
        memcpy(pat->literal, json_string_value(str), len + 1);
        pat->literal_len = len;
        return 0;
    }
    if (json_is_string(re)) {
        int code;
        PCRE2_SIZE off;

        pat->re = pcre2_compile((PCRE2_SPTR)json_string_value(re), json_string_length(re),
                                PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
        if (pat->re == NULL) {
            PCRE2_UCHAR msg[160];

            pcre2_get_error_message(code, msg, sizeof(msg));
            return tr_error_set(err, "%s: invalid regex at offset %zu: %s", where, (size_t)off,
                                (const char *)msg);
        }
        /* Without JIT support, matching falls back to the interpreter. */
        pcre2_jit_compile(pat->re, PCRE2_JIT_COMPLETE);
        return 0;
    }
    return tr_error_set(err, "%s: pattern must be {\"String\": ...} or {\"Regex\": ...}", where);
}

void tok_pattern_dispose(struct tok_pattern *pat)
{
    free(pat->literal);
    pcre2_code_free(pat->re);
    memset(pat, 0, sizeof(*pat));
}
