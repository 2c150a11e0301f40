/* lfs_pointer: parsing and formatting git-lfs pointer files (spec v1). The parser reads at
 * most LFS_POINTER_MAX_BYTES bytes, never reads past len, and needs no NUL terminator. */
#include "lfs_pointer.h"

#include <stdio.h>
#include <string.h>

#define VERSION_URL        "https://git-lfs.github.com/spec/v1"
#define VERSION_URL_LEGACY "https://hawser.github.com/spec/v1"
#define SHA256_PREFIX      "sha256:"

/* One "key value" line, both borrowed from the parsed buffer and not NUL-terminated. */
struct pointer_line {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

static bool key_char_is_valid(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool span_equals(const char *s, size_t len, const char *literal)
{
    return len == strlen(literal) && memcmp(s, literal, len) == 0;
}

/* Compares two keys as byte strings, a shorter prefix sorting first. */
static int key_compare(const struct pointer_line *a, const struct pointer_line *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);

    if (c != 0)
        return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* Splits the line at buf[0..len) (without its '\n') into key and value. */
static int line_split(struct pointer_line *out, const char *buf, size_t len, size_t line_no,
                      struct hub_error *err)
{
    const char *space = memchr(buf, ' ', len);

    if (space == NULL || space == buf)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: line %zu is not 'key value'",
                             line_no);
    out->key = buf;
    out->key_len = (size_t)(space - buf);
    out->value = space + 1;
    out->value_len = len - out->key_len - 1;
    for (size_t i = 0; i < out->key_len; i++) {
        if (!key_char_is_valid(buf[i]))
            return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: invalid key on line %zu",
                                 line_no);
    }
    if (out->value_len == 0)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: empty value on line %zu",
                             line_no);
    for (size_t i = 0; i < out->value_len; i++) {
        unsigned char c = (unsigned char)out->value[i];

        if (c < 0x20 || c == 0x7f)
            return hub_error_set(err, HUB_EINVAL,
                                 "not an LFS pointer: control character on line %zu", line_no);
    }
    return 0;
}

static int parse_oid(char out[65], const struct pointer_line *line, struct hub_error *err)
{
    const size_t prefix_len = sizeof(SHA256_PREFIX) - 1;
    const char *hex = line->value + prefix_len;

    if (line->value_len != prefix_len + 64 || memcmp(line->value, SHA256_PREFIX, prefix_len) != 0)
        return hub_error_set(err, HUB_EINVAL,
                             "not an LFS pointer: oid must be sha256: and 64 hex digits");
    for (size_t i = 0; i < 64; i++) {
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: oid must be lowercase hex");
    }
    memcpy(out, hex, 64);
    out[64] = '\0';
    return 0;
}

static int parse_size(uint64_t *out, const struct pointer_line *line, struct hub_error *err)
{
    uint64_t value = 0;

    if (line->value_len > 19)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: size is too large");
    for (size_t i = 0; i < line->value_len; i++) {
        char c = line->value[i];

        if (c < '0' || c > '9')
            return hub_error_set(err, HUB_EINVAL,
                                 "not an LFS pointer: size must be decimal digits");
        value = value * 10 + (uint64_t)(c - '0'); /* at most 19 digits: no uint64_t overflow */
    }
    if (value > (uint64_t)INT64_MAX)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: size is too large");
    *out = value;
    return 0;
}

static int check_version(const struct pointer_line *line, struct hub_error *err)
{
    if (!span_equals(line->key, line->key_len, "version"))
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: first line is not 'version'");
    if (!span_equals(line->value, line->value_len, VERSION_URL) &&
        !span_equals(line->value, line->value_len, VERSION_URL_LEGACY))
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: unknown version URL");
    return 0;
}

int lfs_pointer_parse(struct lfs_pointer *out, const char *buf, size_t len, struct hub_error *err)
{
    struct pointer_line line, previous = {NULL, 0, NULL, 0};
    bool have_oid = false, have_size = false;
    size_t pos = 0, line_no = 0;
    int rc;

    if (len == 0)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: empty file");
    if (len >= LFS_POINTER_MAX_BYTES)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: %zu bytes or more",
                             (size_t)LFS_POINTER_MAX_BYTES);
    if (buf[len - 1] != '\n')
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: last line lacks a newline");
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t line_len = (size_t)(nl - (buf + pos)); /* nl is found: buf ends in '\n' */

        line_no++;
        rc = line_split(&line, buf + pos, line_len, line_no, err);
        if (rc < 0)
            return rc;
        pos += line_len + 1;
        if (line_no == 1) {
            rc = check_version(&line, err);
            if (rc < 0)
                return rc;
            continue;
        }
        if (previous.key != NULL && key_compare(&previous, &line) >= 0)
            return hub_error_set(err, HUB_EINVAL,
                                 "not an LFS pointer: keys are not sorted or repeat at line %zu",
                                 line_no);
        previous = line;
        if (span_equals(line.key, line.key_len, "version"))
            return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: second version line");
        if (span_equals(line.key, line.key_len, "oid")) {
            rc = parse_oid(out->oid, &line, err);
            have_oid = true;
        } else if (span_equals(line.key, line.key_len, "size")) {
            rc = parse_size(&out->size, &line, err);
            have_size = true;
        }
        if (rc < 0)
            return rc;
    }
    if (!have_oid || !have_size)
        return hub_error_set(err, HUB_EINVAL, "not an LFS pointer: missing %s",
                             have_oid ? "size" : "oid");
    return 0;
}

bool lfs_pointer_is_pointer(const char *buf, size_t len)
{
    struct lfs_pointer p;

    return lfs_pointer_parse(&p, buf, len, NULL) == 0;
}

size_t lfs_pointer_format(char *buf, size_t cap, const struct lfs_pointer *p)
{
    int n;

    if (strnlen(p->oid, 65) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        if (!((p->oid[i] >= '0' && p->oid[i] <= '9') || (p->oid[i] >= 'a' && p->oid[i] <= 'f')))
            return 0;
    }
    n = snprintf(buf, cap, "version " VERSION_URL "\noid " SHA256_PREFIX "%s\nsize %llu\n", p->oid,
                 (unsigned long long)p->size);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}
