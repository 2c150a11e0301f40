/* lfs_attributes: the filter=lfs rules of a .gitattributes file and a glob matcher for them.
 * The matcher implements the gitattributes(5) subset that LFS rules use: '*', '?', bracket
 * expressions (via fnmatch on one character, so [[:space:]] works), backslash escapes and
 * "**". A step budget bounds the work for one match, so a hostile pattern with many stars
 * cannot stall a request; a match that runs out of budget counts as no match. */
#include "lfs_attributes.h"

#include "hub_limits.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define MATCH_STEP_BUDGET 200000

struct lfs_rule {
    char *pattern; /* without a leading '/' */
    bool anchored; /* the pattern contains '/': match the whole path, else the file name */
    bool lfs;      /* filter=lfs (true) or filter unset or set to something else (false) */
};

struct lfs_attributes {
    struct lfs_rule *rules;
    size_t count;
};

static const char default_text[] = "*.7z filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.arrow filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.bin filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.bz2 filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.ckpt filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.ftz filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.gguf filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.gz filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.h5 filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.joblib filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.lfs.* filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.mlmodel filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.model filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.msgpack filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.npy filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.npz filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.onnx filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.onnx_data filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.ot filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.parquet filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.pb filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.pickle filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.pkl filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.pt filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.pth filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.rar filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                                   "saved_model/**/* filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.tar.* filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.tar filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.tflite filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.tgz filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.wasm filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.xz filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.zip filter=lfs diff=lfs merge=lfs -text\n"
                                   "*.zst filter=lfs diff=lfs merge=lfs -text\n"
                                   "*tfevents* filter=lfs diff=lfs merge=lfs -text\n";

static struct lfs_attributes *default_rules;

const char *lfs_attributes_default_text(void)
{
    return default_text;
}

void lfs_attributes_free(struct lfs_attributes *attrs)
{
    if (attrs == NULL)
        return;
    for (size_t i = 0; i < attrs->count; i++)
        free(attrs->rules[i].pattern);
    free(attrs->rules);
    free(attrs);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Reads the pattern token at *p (quoted or bare) into a malloc'd string. Returns NULL for a
 * line git would skip. */
static char *pattern_read(const char **p, const char *end)
{
    const char *s = *p;
    char *out;
    size_t n = 0;

    if (s < end && *s == '"') {
        /* C-style quoting: only \" and \\ are kept here; other escapes make the line unusable. */
        const char *q = s + 1;

        out = malloc((size_t)(end - s) + 1);
        if (out == NULL)
            return NULL;
        while (q < end && *q != '"') {
            if (*q == '\\' && q + 1 < end && (q[1] == '"' || q[1] == '\\'))
                q++;
            else if (*q == '\\')
                break;
            out[n++] = *q++;
        }
        if (q >= end || *q != '"') {
            free(out);
            return NULL;
        }
        *p = q + 1;
    } else {
        const char *q = s;

        while (q < end && !is_blank(*q))
            q++;
        out = malloc((size_t)(q - s) + 1);
        if (out == NULL)
            return NULL;
        n = (size_t)(q - s);
        memcpy(out, s, n);
        *p = q;
    }
    out[n] = '\0';
    return out;
}

/* Sets *lfs from the filter attribute among the tokens of [p, end); returns false when the
 * line does not mention filter. */
static bool line_filter_state(bool *lfs, const char *p, const char *end)
{
    bool seen = false;

    while (p < end) {
        const char *tok;
        size_t len;

        while (p < end && is_blank(*p))
            p++;
        tok = p;
        while (p < end && !is_blank(*p))
            p++;
        len = (size_t)(p - tok);
        if (len == 10 && memcmp(tok, "filter=lfs", 10) == 0) {
            *lfs = true;
            seen = true;
        } else if ((len == 7 &&
                    (memcmp(tok, "-filter", 7) == 0 || memcmp(tok, "!filter", 7) == 0)) ||
                   (len > 7 && memcmp(tok, "filter=", 7) == 0)) {
            *lfs = false;
            seen = true;
        }
    }
    return seen;
}

static int rules_add(struct lfs_attributes *a, size_t *cap, char *pattern, bool lfs,
                     struct hub_error *err)
{
    struct lfs_rule *rule;
    char *start = pattern;

    if (a->count == *cap) {
        size_t new_cap = *cap == 0 ? 32 : *cap * 2;
        struct lfs_rule *grown = realloc(a->rules, new_cap * sizeof(*grown));

        if (grown == NULL) {
            free(pattern);
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate .gitattributes rules");
        }
        a->rules = grown;
        *cap = new_cap;
    }
    rule = &a->rules[a->count++];
    rule->anchored = strchr(pattern, '/') != NULL;
    if (pattern[0] == '/')
        start++;
    memmove(pattern, start, strlen(start) + 1);
    rule->pattern = pattern;
    rule->lfs = lfs;
    return 0;
}

int lfs_attributes_parse(struct lfs_attributes **out, const char *text, size_t len,
                         struct hub_error *err)
{
    struct lfs_attributes *a = NULL;
    const char *p = text, *end = text + len;
    size_t cap = 0;
    int rc;

    *out = NULL;
    if (len > HUB_MAX_GITATTRIBUTES_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, ".gitattributes is larger than %u bytes",
                             (unsigned)HUB_MAX_GITATTRIBUTES_BYTES);
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate .gitattributes rules");
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        char *pattern;
        bool lfs = false;

        while (p < line_end && is_blank(*p))
            p++;
        if (p < line_end && *p != '#' && *p != '!' &&
            memchr(p, '\0', (size_t)(line_end - p)) == NULL &&
            !(line_end - p >= 6 && memcmp(p, "[attr]", 6) == 0)) {
            pattern = pattern_read(&p, line_end);
            if (pattern != NULL && pattern[0] != '\0' && strlen(pattern) <= HUB_MAX_PATH_BYTES &&
                line_filter_state(&lfs, p, line_end)) {
                rc = rules_add(a, &cap, pattern, lfs, err);
                if (rc < 0) {
                    lfs_attributes_free(a);
                    return rc;
                }
            } else {
                free(pattern);
            }
        }
        p = nl != NULL ? nl + 1 : end;
    }
    *out = a;
    return 0;
}

/* Finds the end of the bracket expression that starts at p ('['), or NULL when it is not
 * closed (then '[' is a literal). */
static const char *bracket_end(const char *p)
{
    const char *q = p + 1;

    if (*q == '!' || *q == '^')
        q++;
    if (*q == ']')
        q++;
    while (*q != '\0' && *q != ']') {
        if (q[0] == '[' && q[1] == ':') {
            const char *close = strstr(q + 2, ":]");

            if (close == NULL)
                return NULL;
            q = close + 2;
            continue;
        }
        q++;
    }
    return *q == ']' ? q : NULL;
}

static bool bracket_matches(const char *open, const char *close, char c)
{
    char expr[HUB_MAX_PATH_BYTES + 4];
    char one[2] = {c, '\0'};
    size_t n = (size_t)(close - open) + 1;

    if (n >= sizeof(expr))
        return false;
    memcpy(expr, open, n);
    expr[n] = '\0';
    return fnmatch(expr, one, 0) == 0;
}

/* Matches pattern p against string s; with pathname, '*', '?' and brackets never match '/'
 * while "**" does. */
static bool glob_match(const char *p, const char *s, bool pathname, long *budget)
{
    while (*p != '\0') {
        if (--*budget <= 0)
            return false;
        if (p[0] == '*' && p[1] == '*' && pathname) {
            const char *rest = p;

            while (*rest == '*')
                rest++;
            if (*rest == '/') {
                /* "**\/" matches zero or more whole folders. */
                rest++;
                if (glob_match(rest, s, pathname, budget))
                    return true;
                for (const char *t = s; *t != '\0'; t++) {
                    if (*t == '/' && glob_match(rest, t + 1, pathname, budget))
                        return true;
                }
                return false;
            }
            for (const char *t = s;; t++) {
                if (glob_match(rest, t, pathname, budget))
                    return true;
                if (*t == '\0')
                    return false;
            }
        }
        if (*p == '*') {
            const char *rest = p + 1;

            for (const char *t = s;; t++) {
                if (glob_match(rest, t, pathname, budget))
                    return true;
                if (*t == '\0' || (pathname && *t == '/'))
                    return false;
            }
        }
        if (*s == '\0')
            return false;
        if (*p == '?') {
            if (pathname && *s == '/')
                return false;
            p++;
            s++;
            continue;
        }
        if (*p == '[') {
            const char *close = bracket_end(p);

            if (close != NULL) {
                if ((pathname && *s == '/') || !bracket_matches(p, close, *s))
                    return false;
                p = close + 1;
                s++;
                continue;
            }
        }
        if (*p == '\\' && p[1] != '\0')
            p++;
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *s == '\0';
}

static bool rule_matches(const struct lfs_rule *rule, const char *path)
{
    long budget = MATCH_STEP_BUDGET;
    const char *base;

    if (rule->anchored)
        return glob_match(rule->pattern, path, true, &budget);
    base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    return glob_match(rule->pattern, base, true, &budget);
}

bool lfs_attributes_match(const struct lfs_attributes *attrs, const char *path)
{
    if (attrs == NULL || path == NULL)
        return false;
    for (size_t i = attrs->count; i > 0; i--) {
        if (rule_matches(&attrs->rules[i - 1], path))
            return attrs->rules[i - 1].lfs;
    }
    return false;
}

bool lfs_attributes_path_is_lfs(const struct lfs_attributes *attrs, const char *path, uint64_t size)
{
    if (size > HUB_LFS_THRESHOLD_BYTES)
        return true;
    if (attrs == NULL) {
        /* Parsed once; a race between two threads costs one leaked copy, never a wrong
         * answer, so no lock is taken. */
        struct lfs_attributes *rules = __atomic_load_n(&default_rules, __ATOMIC_ACQUIRE);

        if (rules == NULL) {
            if (lfs_attributes_parse(&rules, default_text, sizeof(default_text) - 1, NULL) < 0)
                return false;
            struct lfs_attributes *expected = NULL;

            if (!__atomic_compare_exchange_n(&default_rules, &expected, rules, false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                lfs_attributes_free(rules);
                rules = expected;
            }
        }
        attrs = rules;
    }
    return lfs_attributes_match(attrs, path);
}

size_t lfs_attributes_track_line(char *buf, size_t cap, const char *path)
{
    static const char suffix[] = " filter=lfs diff=lfs merge=lfs -text\n";
    size_t n = 0;

    if (path == NULL || path[0] == '\0')
        return 0;
    if (path[0] == '#' || path[0] == '!') {
        if (n + 1 >= cap)
            return 0;
        buf[n++] = '\\';
    }
    for (const char *p = path; *p != '\0'; p++) {
        const char *piece = NULL;
        char one[3] = {0};

        if (*p == ' ') {
            piece = "[[:space:]]";
        } else if (*p == '*' || *p == '?' || *p == '[' || *p == ']' || *p == '\\') {
            one[0] = '\\';
            one[1] = *p;
            piece = one;
        } else {
            one[0] = *p;
            piece = one;
        }
        size_t len = strlen(piece);

        if (n + len >= cap)
            return 0;
        memcpy(buf + n, piece, len);
        n += len;
    }
    if (n + sizeof(suffix) > cap)
        return 0;
    memcpy(buf + n, suffix, sizeof(suffix));
    return n + sizeof(suffix) - 1;
}
