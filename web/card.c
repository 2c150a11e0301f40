/* card: README front matter to cardData. card_parse() finds the "---" fenced block at the start
 * of the text, loads it with libyaml's document API and converts the node graph to jansson
 * values. The conversion counts every value it makes (aliases are expanded each time they are
 * used) and every level of nesting, so a small hostile document cannot grow into a large one
 * or recurse without end. libyaml types stop at this file's edge. */
#include "card.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define CARD_TAG_NULL  "tag:yaml.org,2002:null"
#define CARD_TAG_BOOL  "tag:yaml.org,2002:bool"
#define CARD_TAG_INT   "tag:yaml.org,2002:int"
#define CARD_TAG_FLOAT "tag:yaml.org,2002:float"

/* Conversion state for one document. */
struct card_convert {
    yaml_document_t *doc;
    size_t values;     /* JSON values made so far, at most CARD_MAX_VALUES */
    struct card *card; /* problem is written here */
    size_t first_line; /* 0-based line of the YAML's first line in the whole README */
};

static void card_set_problem(struct card *card, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void card_set_problem(struct card *card, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(card->problem, sizeof(card->problem), fmt, ap);
    va_end(ap);
}

/* Returns the length of the line at p (n bytes left) including its line end when the line is
 * exactly mark followed by optional spaces or tabs, or 0 when it is not. A mark at the very
 * end of the text with no line end also counts. */
static size_t card_fence_length(const char *p, size_t n, const char *mark)
{
    size_t mark_len = strlen(mark);
    size_t i;

    if (n < mark_len || memcmp(p, mark, mark_len) != 0)
        return 0;
    i = mark_len;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == n)
        return i;
    if (p[i] == '\n')
        return i + 1;
    if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
        return i + 2;
    return 0;
}

/* Finds the fenced block. On success sets *yaml_start, *yaml_len (the text between the fences)
 * and *body_offset, and returns true. Returns false when the text does not open
 * with a fence (card->has_front_matter stays false) or the block never closes (problem set). */
static bool card_find_block(struct card *card, const char *text, size_t len, size_t *yaml_start,
                            size_t *yaml_len, size_t *body_offset)
{
    size_t start = 0;
    size_t open_len;
    size_t pos;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        start = 3;
    open_len = card_fence_length(text + start, len - start, "---");
    if (open_len == 0 || text[start + open_len - 1] != '\n')
        return false;
    card->has_front_matter = true;

    pos = start + open_len;
    *yaml_start = pos;
    while (pos < len) {
        const char *eol;
        size_t fence_len = card_fence_length(text + pos, len - pos, "---");

        if (fence_len == 0)
            fence_len = card_fence_length(text + pos, len - pos, "...");
        if (fence_len > 0) {
            *yaml_len = pos - *yaml_start;
            *body_offset = pos + fence_len;
            return true;
        }
        eol = memchr(text + pos, '\n', len - pos);
        if (eol == NULL)
            break;
        pos = (size_t)(eol - text) + 1;
    }
    card_set_problem(card, "the front matter opened with \"---\" on line 1 is never closed by a "
                           "\"---\" line");
    return false;
}

static bool card_is_digits(const char *s, size_t n, const char *allowed)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strchr(allowed, s[i]) == NULL || s[i] == '\0')
            return false;
    }
    return true;
}

/* Matches the core schema's float form: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool card_is_float_text(const char *s, size_t n)
{
    size_t i = 0;
    size_t int_digits = 0;
    size_t frac_digits = 0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;

        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    return i == n;
}

/* Converts an integer in the core schema's forms (decimal with sign, 0o octal, 0x hex) that
 * fits in json_int_t. Returns NULL when s is not one, or on allocation failure. */
static json_t *card_int_value(const char *s, size_t n)
{
    const char *digits = s;
    size_t digit_count = n;
    int base = 10;
    char *end = NULL;
    unsigned long long magnitude;
    bool negative = false;

    if (n > 2 && s[0] == '0' && s[1] == 'o') {
        base = 8;
        digits += 2;
        digit_count -= 2;
    } else if (n > 2 && s[0] == '0' && s[1] == 'x') {
        base = 16;
        digits += 2;
        digit_count -= 2;
    } else if (n > 1 && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        digits++;
        digit_count--;
    }
    if (!card_is_digits(digits, digit_count,
                        base == 8    ? "01234567"
                        : base == 16 ? "0123456789abcdefABCDEF"
                                     : "0123456789"))
        return NULL;

    /* The scalar is NUL-terminated by libyaml, and the digit check stops strtoull before any
     * sign or space it would otherwise accept. */
    errno = 0;
    magnitude = strtoull(digits, &end, base);
    if (errno != 0 || end != digits + digit_count)
        return NULL;
    if (negative) {
        if (magnitude > (unsigned long long)INT64_MAX + 1u)
            return NULL;
        return json_integer(
            magnitude == (unsigned long long)INT64_MAX + 1u ? INT64_MIN : -(json_int_t)magnitude);
    }
    if (magnitude > (unsigned long long)INT64_MAX)
        return NULL;
    return json_integer((json_int_t)magnitude);
}

/* Resolves a plain scalar by the YAML 1.2 core schema. Returns NULL only when the value is a
 * string (the caller makes it) or on allocation failure. Infinities and NaN stay strings,
 * because JSON cannot hold them. */
static json_t *card_resolve_plain(const char *s, size_t n)
{
    json_t *value;

    if (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    value = card_int_value(s, n);
    if (value != NULL)
        return value;
    /* An integer too large for json_int_t stays a string rather than losing digits. */
    if (card_is_digits(s + (s[0] == '-' || s[0] == '+'), n - (s[0] == '-' || s[0] == '+'),
                       "0123456789"))
        return NULL;
    if (card_is_float_text(s, n)) {
        char *end = NULL;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (end == s + n && isfinite(d))
            return json_real(d);
    }
    return NULL;
}

static int card_scalar_value(json_t **out, struct card_convert *cv, yaml_node_t *node)
{
    const char *s = (const char *)node->data.scalar.value;
    size_t n = node->data.scalar.length;
    const char *tag = (const char *)node->tag;
    bool typed_tag =
        tag != NULL && (strcmp(tag, CARD_TAG_NULL) == 0 || strcmp(tag, CARD_TAG_BOOL) == 0 ||
                        strcmp(tag, CARD_TAG_INT) == 0 || strcmp(tag, CARD_TAG_FLOAT) == 0);

    /* NOTE: libyaml gives an untagged plain scalar the same str tag as an explicit "!!str", so
     * "!!str 5" on a plain scalar still becomes the number 5. */
    *out = NULL;
    if (memchr(s, '\0', n) == NULL &&
        (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || typed_tag))
        *out = card_resolve_plain(s, n);
    if (*out == NULL)
        *out = json_stringn(s, n);
    if (*out == NULL) {
        card_set_problem(cv->card, "the front matter value on line %zu is not valid UTF-8",
                         cv->first_line + node->start_mark.line + 1);
        return HUB_EINVAL;
    }
    return 0;
}

static int card_convert_node(json_t **out, struct card_convert *cv, yaml_node_t *node, int depth);

static int card_sequence_value(json_t **out, struct card_convert *cv, yaml_node_t *node, int depth)
{
    json_t *array = json_array();
    int rc = 0;

    if (array == NULL)
        return HUB_ENOMEM;
    for (yaml_node_item_t *item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        json_t *child = NULL;

        rc = card_convert_node(&child, cv, yaml_document_get_node(cv->doc, *item), depth + 1);
        if (rc < 0)
            break;
        if (json_array_append_new(array, child) != 0) {
            rc = HUB_ENOMEM;
            break;
        }
    }
    if (rc < 0) {
        json_decref(array);
        return rc;
    }
    *out = array;
    return 0;
}

static int card_mapping_value(json_t **out, struct card_convert *cv, yaml_node_t *node, int depth)
{
    json_t *object = json_object();
    int rc = 0;

    if (object == NULL)
        return HUB_ENOMEM;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node(cv->doc, pair->key);
        json_t *child = NULL;

        if (key == NULL || key->type != YAML_SCALAR_NODE) {
            card_set_problem(cv->card,
                             "the front matter has a key on line %zu that is a list or a "
                             "mapping, expected a single value",
                             cv->first_line + (key ? key->start_mark.line : 0) + 1);
            rc = HUB_EINVAL;
            break;
        }
        rc = card_convert_node(&child, cv, yaml_document_get_node(cv->doc, pair->value), depth + 1);
        if (rc < 0)
            break;
        /* A repeated key keeps its last value, as most YAML loaders do. */
        if (json_object_setn_new(object, (const char *)key->data.scalar.value,
                                 key->data.scalar.length, child) != 0) {
            card_set_problem(cv->card, "the front matter key on line %zu is not valid UTF-8",
                             cv->first_line + key->start_mark.line + 1);
            rc = HUB_EINVAL;
            break;
        }
    }
    if (rc < 0) {
        json_decref(object);
        return rc;
    }
    *out = object;
    return 0;
}

static int card_convert_node(json_t **out, struct card_convert *cv, yaml_node_t *node, int depth)
{
    *out = NULL;
    if (node == NULL) {
        card_set_problem(cv->card, "the front matter refers to a YAML node that does not exist");
        return HUB_EINVAL;
    }
    if (depth > CARD_MAX_DEPTH) {
        card_set_problem(cv->card,
                         "the front matter nests deeper than %d levels near line %zu (or an "
                         "alias refers to its own parent)",
                         CARD_MAX_DEPTH, cv->first_line + node->start_mark.line + 1);
        return HUB_ETOOBIG;
    }
    if (cv->values >= CARD_MAX_VALUES) {
        card_set_problem(cv->card,
                         "the front matter expands to more than %d values (check its aliases)",
                         CARD_MAX_VALUES);
        return HUB_ETOOBIG;
    }
    cv->values++;

    switch (node->type) {
    case YAML_SCALAR_NODE:
        return card_scalar_value(out, cv, node);
    case YAML_SEQUENCE_NODE:
        return card_sequence_value(out, cv, node, depth);
    case YAML_MAPPING_NODE:
        return card_mapping_value(out, cv, node, depth);
    case YAML_NO_NODE:
    default:
        *out = json_null();
        return 0;
    }
}

static const char *card_node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "single value";
    case YAML_SEQUENCE_NODE:
        return "list";
    default:
        return "node";
    }
}

/* Loads yaml_len bytes of YAML and converts its one document. Returns 0 with card->data set,
 * HUB_EINVAL or HUB_ETOOBIG with card->problem set, or HUB_ENOMEM. */
static int card_load_yaml(struct card *card, const char *yaml, size_t yaml_len, size_t first_line,
                          struct hub_error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    struct card_convert cv = {&doc, 0, card, first_line};
    yaml_node_t *root;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, yaml_len);
    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_MEMORY_ERROR) {
            rc = hub_error_set(err, HUB_ENOMEM, "out of memory while loading the front matter");
            goto out;
        }
        card_set_problem(card, "invalid YAML in the front matter at line %zu, column %zu: %s",
                         first_line + parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                         parser.problem != NULL ? parser.problem : "unknown error");
        rc = HUB_EINVAL;
        goto out;
    }
    have_doc = true;

    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        /* Only comments or blank lines between the fences: an empty mapping. */
        card->data = json_object();
        if (card->data == NULL)
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the front matter object");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        card_set_problem(card,
                         "the front matter is a %s, expected a mapping of keys to values "
                         "such as \"license: mit\"",
                         card_node_kind(root));
        rc = HUB_EINVAL;
        goto out;
    }
    rc = card_convert_node(&card->data, &cv, root, 1);
    if (rc == HUB_ENOMEM)
        hub_error_set(err, HUB_ENOMEM, "out of memory while converting the front matter");
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

static size_t card_count_lines(const char *text, size_t len)
{
    size_t lines = 0;

    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            lines++;
    }
    return lines;
}

int card_parse(struct card *out, const char *text, size_t len, struct hub_error *err)
{
    size_t yaml_start = 0;
    size_t yaml_len = 0;
    size_t body_offset = 0;
    int rc;

    *out = (struct card)CARD_INIT;
    if (text == NULL || len == 0)
        return 0;
    if (!card_find_block(out, text, len, &yaml_start, &yaml_len, &body_offset))
        return 0;
    if (yaml_len > CARD_MAX_FRONT_MATTER_BYTES) {
        card_set_problem(out, "the front matter is %zu bytes, over the limit of %u bytes", yaml_len,
                         CARD_MAX_FRONT_MATTER_BYTES);
        return 0;
    }

    rc = card_load_yaml(out, text + yaml_start, yaml_len, card_count_lines(text, yaml_start), err);
    if (rc == HUB_ENOMEM) {
        card_dispose(out);
        return rc;
    }
    if (rc < 0) {
        /* Invalid front matter: keep the reason, drop the partial data, show all text. */
        json_decref(out->data);
        out->data = NULL;
        return 0;
    }
    out->body_offset = body_offset;
    return 0;
}

void card_dispose(struct card *card)
{
    json_decref(card->data);
    *card = (struct card)CARD_INIT;
}

const char *card_get_string(const struct card *card, const char *key)
{
    json_t *value;

    if (card->data == NULL)
        return NULL;
    value = json_object_get(card->data, key);
    return json_is_string(value) ? json_string_value(value) : NULL;
}
