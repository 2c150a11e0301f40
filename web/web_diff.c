/* web_diff: longest-common-subsequence line diff. The common first and last lines are cut
 * off before the quadratic table is built, so an edit in a large file stays cheap as long as
 * the changed region is small. */
#include "web_diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct web_line {
    const char *text;
    size_t len; /* without the line end */
};

enum web_op_kind { WEB_OP_SAME, WEB_OP_DEL, WEB_OP_ADD };

struct web_op {
    enum web_op_kind kind;
    size_t old_index; /* 0-based line in the old text (SAME, DEL) */
    size_t new_index; /* 0-based line in the new text (SAME, ADD) */
};

static struct web_line *web_split_lines(const char *text, size_t len, size_t *count)
{
    size_t n = 0;
    size_t cap = 64;
    struct web_line *lines = malloc(cap * sizeof(*lines));
    size_t pos = 0;

    while (lines != NULL && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;

        if (n == cap) {
            struct web_line *grown = realloc(lines, 2 * cap * sizeof(*lines));

            if (grown == NULL) {
                free(lines);
                return NULL;
            }
            lines = grown;
            cap *= 2;
        }
        lines[n].text = text + pos;
        lines[n].len = end - pos;
        if (lines[n].len > 0 && lines[n].text[lines[n].len - 1] == '\r')
            lines[n].len--;
        n++;
        pos = end + 1;
    }
    *count = n;
    return lines;
}

static bool web_line_eq(const struct web_line *a, const struct web_line *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* Fills ops (room for n_old + n_new entries) with the edit script; returns the op count. */
static size_t web_diff_script(struct web_op *ops, uint32_t *table, const struct web_line *a,
                              size_t n_old, const struct web_line *b, size_t n_new, size_t prefix,
                              size_t suffix)
{
    size_t n = n_old - prefix - suffix;
    size_t m = n_new - prefix - suffix;
    size_t width = m + 1;
    size_t count = 0;
    size_t i = 0;
    size_t j = 0;

    /* table[i][j] is the LCS length of old[prefix + i ..] and new[prefix + j ..]. */
    for (size_t ii = n + 1; ii-- > 0;) {
        for (size_t jj = m + 1; jj-- > 0;) {
            uint32_t *cell = &table[ii * width + jj];

            if (ii == n || jj == m)
                *cell = 0;
            else if (web_line_eq(&a[prefix + ii], &b[prefix + jj]))
                *cell = table[(ii + 1) * width + jj + 1] + 1;
            else
                *cell = table[(ii + 1) * width + jj] > table[ii * width + jj + 1]
                            ? table[(ii + 1) * width + jj]
                            : table[ii * width + jj + 1];
        }
    }
    for (size_t k = 0; k < prefix; k++)
        ops[count++] = (struct web_op){WEB_OP_SAME, k, k};
    while (i < n || j < m) {
        if (i < n && j < m && web_line_eq(&a[prefix + i], &b[prefix + j])) {
            ops[count++] = (struct web_op){WEB_OP_SAME, prefix + i, prefix + j};
            i++;
            j++;
        } else if (i < n && (j == m || table[(i + 1) * width + j] >= table[i * width + j + 1])) {
            /* Removed lines come before added ones, as in unified diffs. */
            ops[count++] = (struct web_op){WEB_OP_DEL, prefix + i, 0};
            i++;
        } else {
            ops[count++] = (struct web_op){WEB_OP_ADD, 0, prefix + j};
            j++;
        }
    }
    for (size_t k = 0; k < suffix; k++)
        ops[count++] = (struct web_op){WEB_OP_SAME, n_old - suffix + k, n_new - suffix + k};
    return count;
}

static void web_diff_line(struct web_buf *out, const char *cls, char mark,
                          const struct web_line *line)
{
    if (cls != NULL)
        web_buf_printf(out, "<span class=\"%s\">", cls);
    web_buf_append(out, &mark, 1);
    web_buf_escape_n(out, line->text, line->len);
    web_buf_puts(out, cls != NULL ? "</span>" : "\n");
}

/* Writes the hunks: runs of changes with WEB_DIFF_CONTEXT equal lines around them. */
static void web_diff_hunks(struct web_buf *out, const struct web_op *ops, size_t count,
                           const struct web_line *a, const struct web_line *b)
{
    size_t k = 0;

    while (k < count) {
        size_t start;
        size_t end;
        size_t last;
        size_t old_first;
        size_t new_first;
        size_t old_n = 0;
        size_t new_n = 0;

        while (k < count && ops[k].kind == WEB_OP_SAME)
            k++;
        if (k == count)
            break;
        start = k > WEB_DIFF_CONTEXT ? k - WEB_DIFF_CONTEXT : 0;
        /* The hunk grows while the next change is within two context windows of the last. */
        last = k;
        for (size_t t = k; t < count; t++) {
            if (ops[t].kind != WEB_OP_SAME)
                last = t;
            else if (t - last > 2 * WEB_DIFF_CONTEXT)
                break;
        }
        end = last + 1 + WEB_DIFF_CONTEXT < count ? last + 1 + WEB_DIFF_CONTEXT : count;
        old_first = 0;
        new_first = 0;
        for (size_t t = start; t < end; t++) {
            if (ops[t].kind != WEB_OP_ADD && old_n++ == 0)
                old_first = ops[t].old_index + 1;
            if (ops[t].kind != WEB_OP_DEL && new_n++ == 0)
                new_first = ops[t].new_index + 1;
        }
        web_buf_printf(out, "<span class=\"hunk\">@@ -%zu,%zu +%zu,%zu @@</span>", old_first, old_n,
                       new_first, new_n);
        for (size_t t = start; t < end; t++) {
            if (ops[t].kind == WEB_OP_SAME)
                web_diff_line(out, NULL, ' ', &a[ops[t].old_index]);
            else if (ops[t].kind == WEB_OP_DEL)
                web_diff_line(out, "del", '-', &a[ops[t].old_index]);
            else
                web_diff_line(out, "add", '+', &b[ops[t].new_index]);
        }
        k = end;
    }
}

bool web_diff_lines(struct web_buf *out, size_t *added, size_t *removed, const char *old_text,
                    size_t old_len, const char *new_text, size_t new_len)
{
    struct web_line *a = NULL;
    struct web_line *b = NULL;
    struct web_op *ops = NULL;
    uint32_t *table = NULL;
    size_t n_old = 0;
    size_t n_new = 0;
    size_t prefix = 0;
    size_t suffix = 0;
    size_t cells;
    size_t count;
    bool ok = false;

    *added = 0;
    *removed = 0;
    a = web_split_lines(old_text, old_len, &n_old);
    b = web_split_lines(new_text, new_len, &n_new);
    if (a == NULL || b == NULL)
        goto out;
    while (prefix < n_old && prefix < n_new && web_line_eq(&a[prefix], &b[prefix]))
        prefix++;
    while (suffix < n_old - prefix && suffix < n_new - prefix &&
           web_line_eq(&a[n_old - 1 - suffix], &b[n_new - 1 - suffix]))
        suffix++;
    if (__builtin_mul_overflow(n_old - prefix - suffix + 1, n_new - prefix - suffix + 1, &cells) ||
        cells > WEB_DIFF_MAX_CELLS)
        goto out;
    table = malloc(cells * sizeof(*table));
    ops = malloc((n_old + n_new + 1) * sizeof(*ops));
    if (table == NULL || ops == NULL)
        goto out;
    count = web_diff_script(ops, table, a, n_old, b, n_new, prefix, suffix);
    for (size_t k = 0; k < count; k++) {
        *added += ops[k].kind == WEB_OP_ADD;
        *removed += ops[k].kind == WEB_OP_DEL;
    }
    web_buf_puts(out, "<pre><code>");
    web_diff_hunks(out, ops, count, a, b);
    web_buf_puts(out, "</code></pre>");
    ok = true;
out:
    free(a);
    free(b);
    free(ops);
    free(table);
    return ok;
}
