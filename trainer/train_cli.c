/* train_cli: strict parsing of numeric command-line values. */
#include "train_cli.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

bool train_cli_check_out_path(const char *cmd, const char *out)
{
    char copy[PATH_MAX], parent[PATH_MAX];
    struct stat st;

    if (stat(out, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return true;
        fprintf(stderr, "atelier %s: --out %s exists and is not a folder; choose a folder\n", cmd,
                out);
        return false;
    }
    /* dirname may modify its argument, so it gets a copy. */
    snprintf(copy, sizeof(copy), "%s", out);
    snprintf(parent, sizeof(parent), "%s", dirname(copy));
    if (stat(parent, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    if (stat(parent, &st) == 0) {
        fprintf(stderr,
                "atelier %s: the parent %s of --out %s is not a folder; choose another --out\n",
                cmd, parent, out);
        return false;
    }
    fprintf(stderr,
            "atelier %s: the parent folder %s of --out %s does not exist; create it first "
            "or choose another --out\n",
            cmd, parent, out);
    return false;
}

/* Names of foreign entries listed in the --out error before "and N more". */
#define FOREIGN_LIST_MAX 10

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns how foreign entries are called in the --out error: "a file", "2 folders", or
 * "3 entries" when files and folders are mixed. */
static void describe_entries(char *buf, size_t size, size_t count, size_t folders)
{
    if (count == 1)
        snprintf(buf, size, "%s", folders == 1 ? "a folder" : "a file");
    else
        snprintf(buf, size, "%zu %s", count,
                 folders == 0       ? "files"
                 : folders == count ? "folders"
                                    : "entries");
}

bool train_cli_check_foreign_entries(const char *cmd, const char *out,
                                     train_cli_own_entry_fn own_entry, const char *force_effect,
                                     const char *readme_replacement)
{
    DIR *d = opendir(out);
    struct dirent *e;
    char **names = NULL;
    char list[4096], kind[64], path[PATH_MAX];
    size_t used = 0, count = 0, capacity = 0, folders = 0;
    bool has_readme = false;
    struct stat st;

    if (d == NULL)
        return true;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            own_entry(out, e->d_name))
            continue;
        if (count == capacity) {
            size_t grown = capacity == 0 ? 16 : 2 * capacity;
            char **bigger = realloc(names, grown * sizeof(*names));

            if (bigger == NULL)
                break;
            names = bigger;
            capacity = grown;
        }
        names[count] = strdup(e->d_name);
        if (names[count] == NULL)
            break;
        snprintf(path, sizeof(path), "%s/%s", out, e->d_name);
        folders += lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
        has_readme = has_readme || strcmp(e->d_name, "README.md") == 0;
        count++;
    }
    closedir(d);
    if (count == 0) {
        free(names);
        return true;
    }
    qsort(names, count, sizeof(*names), compare_names);
    list[0] = '\0';
    for (size_t i = 0; i < count && i < FOREIGN_LIST_MAX && used < sizeof(list); i++)
        used +=
            (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "", names[i]);
    if (count > FOREIGN_LIST_MAX && used < sizeof(list))
        snprintf(list + used, sizeof(list) - used, " and %zu more", count - FOREIGN_LIST_MAX);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    describe_entries(kind, sizeof(kind), count, folders);
    fprintf(stderr,
            "atelier %s: --out %s holds %s that atelier %s did not write (%s); choose a new "
            "folder, or pass --force to %s%s%s\n",
            cmd, out, kind, cmd, list, force_effect,
            has_readme && readme_replacement != NULL ? ", which replaces README.md with " : "",
            has_readme && readme_replacement != NULL ? readme_replacement : "");
    return false;
}
