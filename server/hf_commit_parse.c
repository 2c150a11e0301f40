/* hf_commit_parse: line splitting, per-line JSON parsing and the checks of each operation.
 * Content is decoded as soon as its line is complete, so the raw body is never kept whole. */
#include "hf_commit_parse.h"

#include "http_parse.h"
#include "hub_limits.h"
#include "hub_utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON around the content of one line: path, key names and the other fields. */
#define HF_LINE_OVERHEAD_BYTES (64u * 1024)

void hf_commit_parser_init(struct hf_commit_parser *p, const struct hf_commit_limits *limits)
{
    memset(p, 0, sizeof(*p));
    p->limits = *limits;
    p->line_no = 1;
}

void hf_commit_parser_dispose(struct hf_commit_parser *p)
{
    for (size_t i = 0; i < p->op_count; i++) {
        free(p->ops[i].path);
        free(p->ops[i].data);
    }
    free(p->ops);
    free(p->line);
    free(p->summary);
    free(p->description);
    memset(p, 0, sizeof(*p));
}

/* Formats a path rule into rule (cap bytes) and returns code. */
static int rule_set(char *rule, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int rule_set(char *rule, size_t cap, int code, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(rule, cap, fmt, args);
    va_end(args);
    return code;
}

int hf_path_rule(const char *path, char *rule, size_t cap)
{
    size_t len = strlen(path);
    size_t segments = 0;
    const char *seg = path;

    if (len == 0)
        return rule_set(rule, cap, HUB_EINVAL, "empty");
    if (len > HUB_MAX_PATH_BYTES)
        return rule_set(rule, cap, HUB_ETOOBIG, "longer than %d bytes", HUB_MAX_PATH_BYTES);
    for (const char *p = path; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c < 0x20 || c == 0x7f)
            return rule_set(rule, cap, HUB_EINVAL, "contains control character 0x%02x", c);
        if (c == '\\')
            return rule_set(rule, cap, HUB_EINVAL, "contains a backslash");
    }
    if (!hub_utf8_is_valid(path, len))
        return rule_set(rule, cap, HUB_EINVAL, "is not valid UTF-8");
    if (path[0] == '/')
        return rule_set(rule, cap, HUB_EINVAL, "starts with '/'");
    if (path[len - 1] == '/')
        return rule_set(rule, cap, HUB_EINVAL, "a path ending in '/' names a folder, not a file");
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash != NULL ? (size_t)(slash - seg) : strlen(seg);

        if (n == 0)
            return rule_set(rule, cap, HUB_EINVAL, "empty segment");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return rule_set(rule, cap, HUB_EINVAL, "'.' and '..' segments are not allowed");
        if (++segments > HUB_MAX_PATH_SEGMENTS)
            return rule_set(rule, cap, HUB_EINVAL, "more than %d segments between slashes",
                            HUB_MAX_PATH_SEGMENTS);
        if (slash == NULL)
            break;
        seg = slash + 1;
    }
    return 0;
}

int hf_path_check(const char *path, struct hub_error *err)
{
    char rule[96];
    int rc = hf_path_rule(path, rule, sizeof(rule));

    if (rc == 0)
        return 0;
    if (path[0] == '\0')
        return hub_error_set(err, rc, "invalid path: empty");
    if (rc == HUB_ETOOBIG)
        return hub_error_set(err, rc, "invalid path '%.60s...': %s", path, rule);
    return hub_error_set(err, rc, "invalid path '%.80s': %s", path, rule);
}

static bool oid_is_hex(const char *s, size_t want)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n == want;
}

static struct hf_commit_op *op_add(struct hf_commit_parser *p, struct hub_error *err)
{
    if (p->op_count >= p->limits.max_operations) {
        hub_error_set(err, HUB_ETOOBIG, "commit has more than %llu operations",
                      (unsigned long long)p->limits.max_operations);
        return NULL;
    }
    if (p->op_count == p->op_cap) {
        size_t cap = p->op_cap == 0 ? 16 : p->op_cap * 2;
        struct hf_commit_op *grown = realloc(p->ops, cap * sizeof(*grown));

        if (grown == NULL) {
            hub_error_set(err, HUB_ENOMEM, "cannot allocate commit operations");
            return NULL;
        }
        p->ops = grown;
        p->op_cap = cap;
    }
    memset(&p->ops[p->op_count], 0, sizeof(p->ops[0]));
    return &p->ops[p->op_count++];
}

static int parse_header(struct hf_commit_parser *p, json_t *value, struct hub_error *err)
{
    const char *summary = json_string_value(json_object_get(value, "summary"));
    const char *description = json_string_value(json_object_get(value, "description"));
    json_t *parent = json_object_get(value, "parentCommit");

    if (p->have_header)
        return hub_error_set(err, HUB_EINVAL, "line %zu: a second header line", p->line_no);
    if (parent != NULL && !json_is_null(parent)) {
        const char *text = json_string_value(parent);

        if (text == NULL || !oid_is_hex(text, 40))
            return hub_error_set(err, HUB_EINVAL,
                                 "line %zu: invalid parentCommit: expected 40 hex digits",
                                 p->line_no);
        memcpy(p->parent, text, 41);
    }
    p->summary = strdup(summary != NULL ? summary : "");
    p->description = strdup(description != NULL ? description : "");
    if (p->summary == NULL || p->description == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the commit message");
    p->have_header = true;
    return 0;
}

static int op_path(struct hf_commit_op *op, struct hf_commit_parser *p, json_t *value,
                   enum hf_op_kind kind, struct hub_error *err)
{
    bool folder = kind == HF_OP_DELETE_FOLDER;
    const char *path = json_string_value(json_object_get(value, "path"));
    size_t len;

    if (path == NULL)
        return hub_error_set(err, HUB_EINVAL, "line %zu: missing \"path\"", p->line_no);
    op->path = strdup(path);
    if (op->path == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a path");
    len = strlen(op->path);
    if (folder && len > 1 && op->path[len - 1] == '/')
        op->path[len - 1] = '\0';
    if (hf_path_check(op->path, err) < 0) {
        int code = err->code;
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        if (kind == HF_OP_DELETE_FILE && len > 1 && op->path[len - 1] == '/')
            return hub_error_set(err, code,
                                 "line %zu: %s; delete a folder with a deletedFolder line, or "
                                 "delete its files one by one",
                                 p->line_no, msg);
        return hub_error_set(err, code, "line %zu: %s", p->line_no, msg);
    }
    if (json_object_get(value, "oldPath") != NULL)
        return hub_error_set(err, HUB_EINVAL,
                             "line %zu: renames (\"oldPath\") are not supported; delete and "
                             "add the file instead",
                             p->line_no);
    return 0;
}

static int parse_file(struct hf_commit_op *op, struct hf_commit_parser *p, json_t *value,
                      struct hub_error *err)
{
    json_t *content = json_object_get(value, "content");
    const char *encoding = json_string_value(json_object_get(value, "encoding"));
    const char *text = json_string_value(content);
    size_t text_len = json_string_length(content);
    long n;

    op->kind = HF_OP_FILE;
    if (text == NULL)
        return hub_error_set(err, HUB_EINVAL, "line %zu: missing \"content\" for %s", p->line_no,
                             op->path);
    if (encoding == NULL || strcmp(encoding, "utf-8") == 0 || strcmp(encoding, "utf8") == 0) {
        if (text_len > p->limits.max_file_bytes)
            goto too_big;
        op->data = malloc(text_len + 1);
        if (op->data == NULL)
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate file content");
        memcpy(op->data, text, text_len);
        op->len = text_len;
        return 0;
    }
    if (strcmp(encoding, "base64") != 0)
        return hub_error_set(err, HUB_EINVAL,
                             "line %zu: invalid encoding '%.40s': expected base64 or utf-8",
                             p->line_no, encoding);
    if (text_len / 4 * 3 > p->limits.max_file_bytes + 2)
        goto too_big;
    op->data = malloc(text_len / 4 * 3 + 3);
    if (op->data == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate file content");
    n = http_base64_decode(op->data, text, text_len);
    if (n < 0)
        return hub_error_set(err, HUB_EINVAL, "line %zu: invalid base64 content for %s", p->line_no,
                             op->path);
    op->len = (size_t)n;
    if (op->len > p->limits.max_file_bytes)
        goto too_big;
    return 0;
too_big:
    return hub_error_set(err, HUB_ETOOBIG,
                         "line %zu: file %s is larger than %llu bytes; upload it as an LFS "
                         "file instead",
                         p->line_no, op->path, (unsigned long long)p->limits.max_file_bytes);
}

static int parse_lfs_file(struct hf_commit_op *op, struct hf_commit_parser *p, json_t *value,
                          struct hub_error *err)
{
    const char *algo = json_string_value(json_object_get(value, "algo"));
    const char *oid = json_string_value(json_object_get(value, "oid"));
    json_t *size = json_object_get(value, "size");

    op->kind = HF_OP_LFS;
    if (algo != NULL && strcmp(algo, "sha256") != 0)
        return hub_error_set(err, HUB_EINVAL, "line %zu: invalid algo '%.40s': expected sha256",
                             p->line_no, algo);
    if (oid == NULL || !oid_is_hex(oid, 64))
        return hub_error_set(err, HUB_EINVAL,
                             "line %zu: invalid oid '%.80s' for %s: expected 64 lowercase hex "
                             "digits",
                             p->line_no, oid != NULL ? oid : "", op->path);
    memcpy(op->lfs_oid, oid, 65);
    if (size != NULL && !json_is_null(size)) {
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return hub_error_set(err, HUB_EINVAL, "line %zu: invalid size for %s", p->line_no,
                                 op->path);
        op->lfs_size = (uint64_t)json_integer_value(size);
        op->has_size = true;
    }
    return 0;
}

static int parse_line(struct hf_commit_parser *p, const char *line, size_t len,
                      struct hub_error *err)
{
    json_error_t jerr;
    json_t *root = NULL, *value;
    const char *key;
    struct hf_commit_op *op;
    enum hf_op_kind kind;
    int rc = 0;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0;
    root = json_loadb(line, len, 0, &jerr);
    if (root == NULL)
        return hub_error_set(err, HUB_EINVAL, "line %zu: invalid JSON: %s", p->line_no, jerr.text);
    key = json_string_value(json_object_get(root, "key"));
    value = json_object_get(root, "value");
    if (key == NULL || !json_is_object(value)) {
        rc = hub_error_set(err, HUB_EINVAL, "line %zu: expected {\"key\": ..., \"value\": {...}}",
                           p->line_no);
        goto out;
    }
    if (strcmp(key, "header") == 0) {
        rc = parse_header(p, value, err);
        goto out;
    }
    if (!p->have_header) {
        rc = hub_error_set(err, HUB_EINVAL, "line %zu: the first line must be the header",
                           p->line_no);
        goto out;
    }
    if (strcmp(key, "file") != 0 && strcmp(key, "lfsFile") != 0 &&
        strcmp(key, "deletedFile") != 0 && strcmp(key, "deletedFolder") != 0) {
        rc = hub_error_set(err, HUB_EINVAL,
                           "line %zu: unknown key '%.40s': expected header, file, lfsFile, "
                           "deletedFile or deletedFolder",
                           p->line_no, key);
        goto out;
    }
    op = op_add(p, err);
    if (op == NULL) {
        rc = err->code;
        goto out;
    }
    if (strcmp(key, "file") == 0)
        kind = HF_OP_FILE;
    else if (strcmp(key, "lfsFile") == 0)
        kind = HF_OP_LFS;
    else if (strcmp(key, "deletedFile") == 0)
        kind = HF_OP_DELETE_FILE;
    else
        kind = HF_OP_DELETE_FOLDER;
    rc = op_path(op, p, value, kind, err);
    if (rc < 0)
        goto out;
    if (kind == HF_OP_FILE)
        rc = parse_file(op, p, value, err);
    else if (kind == HF_OP_LFS)
        rc = parse_lfs_file(op, p, value, err);
    else
        op->kind = kind;
out:
    json_decref(root);
    return rc;
}

/* The longest line: a file line with the largest allowed content in base64. */
static uint64_t max_line_bytes(const struct hf_commit_parser *p)
{
    return p->limits.max_file_bytes / 3 * 4 + 4 + HF_LINE_OVERHEAD_BYTES;
}

static int line_append(struct hf_commit_parser *p, const char *data, size_t len,
                       struct hub_error *err)
{
    size_t need;

    if (!hub_size_add(&need, p->line_len, len) || need > max_line_bytes(p))
        return hub_error_set(err, HUB_ETOOBIG,
                             "line %zu is longer than %llu bytes; upload large files as LFS "
                             "files",
                             p->line_no, (unsigned long long)max_line_bytes(p));
    if (need > p->line_cap) {
        size_t cap = p->line_cap == 0 ? 4096 : p->line_cap;
        char *grown;

        while (cap < need)
            cap *= 2;
        grown = realloc(p->line, cap);
        if (grown == NULL)
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate a line buffer");
        p->line = grown;
        p->line_cap = cap;
    }
    memcpy(p->line + p->line_len, data, len);
    p->line_len = need;
    return 0;
}

int hf_commit_parser_feed(struct hf_commit_parser *p, const char *data, size_t len,
                          struct hub_error *err)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - data) : len;
        int rc;

        if (nl == NULL)
            return line_append(p, data, n, err);
        if (p->line_len == 0) {
            rc = parse_line(p, data, n, err); /* the whole line is in this chunk */
        } else {
            rc = line_append(p, data, n, err);
            if (rc == 0)
                rc = parse_line(p, p->line, p->line_len, err);
            p->line_len = 0;
        }
        if (rc < 0)
            return rc;
        p->line_no++;
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

int hf_commit_parser_finish(struct hf_commit_parser *p, struct hub_error *err)
{
    int rc = 0;

    if (p->line_len > 0) {
        rc = parse_line(p, p->line, p->line_len, err);
        p->line_len = 0;
    }
    if (rc == 0 && !p->have_header)
        rc = hub_error_set(err, HUB_EINVAL, "commit body has no header line");
    return rc;
}
