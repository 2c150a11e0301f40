/* train_cli: strict parsing of numeric command-line values. */
#include "train_cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

bool train_cli_uint(uint64_t *out, const char *cmd, const char *option, const char *value,
                    uint64_t min, uint64_t max)
{
    unsigned long long v;
    char *end = NULL;
    const char *p = value;

    while (*p == ' ')
        p++;
    errno = 0;
    v = strtoull(p, &end, 10);
    if (*p == '-' || *p == '+' || *p == '\0' || end == p || *end != '\0' || errno != 0 || v < min ||
        v > max) {
        fprintf(stderr,
                "atelier %s: invalid %s value \"%s\": expected an integer from %llu "
                "to %llu\n",
                cmd, option, value, (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

bool train_cli_int(int *out, const char *cmd, const char *option, const char *value, int min,
                   int max)
{
    uint64_t v;

    if (!train_cli_uint(&v, cmd, option, value, (uint64_t)min, (uint64_t)max))
        return false;
    *out = (int)v;
    return true;
}

bool train_cli_double(double *out, const char *cmd, const char *option, const char *value,
                      double min, double max, bool min_exclusive)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (end == value || *end != '\0' || errno != 0 || !isfinite(v) || v > max ||
        (min_exclusive ? v <= min : v < min)) {
        fprintf(stderr,
                "atelier %s: invalid %s value \"%s\": expected a number %s %g and "
                "<= %g\n",
                cmd, option, value, min_exclusive ? ">" : ">=", min, max);
        return false;
    }
    *out = v;
    return true;
}

bool train_cli_nonempty(const char *cmd, const char *option, const char *value)
{
    if (value[0] != '\0')
        return true;
    fprintf(stderr, "atelier %s: invalid %s value \"\": the value is empty; give a path\n", cmd,
            option);
    return false;
}

bool train_cli_check_seq_len(const char *cmd, const char *base_dir, int seq_len)
{
    struct model_config cfg;
    struct tr_error err = {{0}};
    char path[4096];

    if ((size_t)snprintf(path, sizeof(path), "%s/config.json", base_dir) >= sizeof(path) ||
        model_config_load(&cfg, path, &err) < 0)
        return true;
    if (seq_len <= cfg.max_position_embeddings)
        return true;
    fprintf(stderr,
            "atelier %s: invalid --seq-len value %d: the model context is %d tokens, so "
            "expected an integer from 2 to %d\n",
            cmd, seq_len, cfg.max_position_embeddings, cfg.max_position_embeddings);
    return false;
}

/* Fills buf with the absolute, symlink-free form of path. A path that does not exist yet
 * is resolved through its parent folder, which is where mkdir would create it. Returns
 * false when neither resolves. */
bool train_cli_resolve_path(char *buf, size_t size, const char *path)
{
    char parent[PATH_MAX], resolved[PATH_MAX];
    const char *name;
    size_t len = strlen(path);

    if (realpath(path, resolved) != NULL) {
        snprintf(buf, size, "%s", resolved);
        return true;
    }
    while (len > 1 && path[len - 1] == '/')
        len--;
    name = path + len;
    while (name > path && name[-1] != '/')
        name--;
    if (name == path)
        snprintf(parent, sizeof(parent), ".");
    else
        snprintf(parent, sizeof(parent), "%.*s", (int)(name - path), path);
    if (realpath(parent, resolved) == NULL)
        return false;
    return (size_t)snprintf(buf, size, "%s/%.*s", strcmp(resolved, "/") == 0 ? "" : resolved,
                            (int)(path + len - name), name) < size;
}

/* Returns true when path is dir or lies below it. Both are resolved paths. */
bool train_cli_path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}
