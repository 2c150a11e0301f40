/* git_hook_large_files: the pre-receive rule for regular (non-LFS) files above the file size
 * limit. Only blobs new to the repo count. A blob that the repo's object store contained
 * before the push (outside the push's quarantine directory) passes, so a limit lowered after
 * a file was stored does not reject copies, renames or new branches of that file. Each rejected file
 * gets one line that names the ref and, when the new head no longer has the file, the commit
 * that adds it. One `git lfs migrate import` command covers them all. */
#include "git_hook_objects.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Files named in one rejection before the rest are only counted. */
#define MAX_REPORTED_FILES 20

/* One blob above the limit. */
struct large_blob {
    char oid[GITHOOK_OID_HEX + 1];
    uint64_t size;
    char *path;                       /* "" when rev-list printed none */
    bool stored;                      /* in the object store before the push */
    long update;                      /* index of the update that adds it, or -1 */
    char commit[GITHOOK_OID_HEX + 1]; /* oldest new commit that adds it, or "" */
    bool in_head;                     /* the new head of its update contains it */
};

struct large_blob_list {
    struct large_blob *items;
    size_t count;
};

static void large_blob_list_free(struct large_blob_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].path);
    free(list->items);
}

/* Reads "<oid> <size> <path>" lines from large into list. Returns false on malformed input
 * or when memory runs out. */
static bool large_blob_list_read(struct large_blob_list *list, FILE *large)
{
    char *line = NULL;
    size_t line_cap = 0;
    size_t cap = 0;
    bool ok = true;

    rewind(large);
    while (ok && getline(&line, &line_cap, large) > 0) {
        struct large_blob *blob;
        char *end = NULL;

        line[strcspn(line, "\n")] = '\0';
        if (list->count == cap) {
            size_t new_cap = cap == 0 ? 16 : cap * 2;
            struct large_blob *grown = realloc(list->items, new_cap * sizeof(*grown));

            if (grown == NULL) {
                ok = false;
                break;
            }
            list->items = grown;
            cap = new_cap;
        }
        blob = &list->items[list->count];
        memset(blob, 0, sizeof(*blob));
        blob->update = -1;
        if (strlen(line) < GITHOOK_OID_HEX + 2 || line[GITHOOK_OID_HEX] != ' ') {
            ok = false;
            break;
        }
        memcpy(blob->oid, line, GITHOOK_OID_HEX);
        blob->size = strtoull(line + GITHOOK_OID_HEX + 1, &end, 10);
        if (*end != ' ' && *end != '\0') {
            ok = false;
            break;
        }
        blob->path = strdup(*end == ' ' ? end + 1 : end);
        if (blob->path == NULL) {
            ok = false;
            break;
        }
        list->count++;
    }
    free(line);
    return ok;
}

/* Returns a copy of environ without the variables that point git at the push's quarantine
 * directory, so git reads only the objects that the repo contained before the push. */
static char **environ_without_quarantine(void)
{
    static const char *const dropped[] = {
        "GIT_QUARANTINE_PATH=", "GIT_OBJECT_DIRECTORY=", "GIT_ALTERNATE_OBJECT_DIRECTORIES="};
    size_t count = 0;
    size_t kept = 0;
    char **env;

    while (environ[count] != NULL)
        count++;
    env = calloc(count + 1, sizeof(*env));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        bool drop = false;

        for (size_t j = 0; j < sizeof(dropped) / sizeof(dropped[0]); j++)
            drop = drop || strncmp(environ[i], dropped[j], strlen(dropped[j])) == 0;
        if (!drop)
            env[kept++] = environ[i];
    }
    return env;
}

/* Marks the blobs that the repo's object store contained before the push. Without a
 * quarantine directory (GIT_QUARANTINE_PATH unset) the store already contains the pushed
 * objects, so no blob counts as stored. Returns false when git failed. */
static bool large_blobs_mark_stored(struct large_blob_list *list)
{
    char *argv[] = {"git", "cat-file", "--batch-check=%(objectname)", NULL};
    const char *quarantine = getenv("GIT_QUARANTINE_PATH");
    char **env;
    FILE *oids;
    FILE *found;
    char line[GITHOOK_OID_HEX + 64];
    bool ok;

    if (quarantine == NULL || quarantine[0] == '\0')
        return true;
    env = environ_without_quarantine();
    oids = tmpfile();
    found = tmpfile();
    ok = env != NULL && oids != NULL && found != NULL;
    for (size_t i = 0; ok && i < list->count; i++)
        fprintf(oids, "%s\n", list->items[i].oid);
    if (ok) {
        rewind(oids);
        ok = githook_git_run_env(argv, env, fileno(oids), fileno(found), -1) == 0;
    }
    /* cat-file prints one line per input line, in order: the id alone, or "<oid> missing". */
    if (ok) {
        rewind(found);
        for (size_t i = 0; i < list->count; i++) {
            if (fgets(line, sizeof(line), found) == NULL) {
                ok = false;
                break;
            }
            list->items[i].stored = strlen(line) == GITHOOK_OID_HEX + 1 &&
                                    strncmp(line, list->items[i].oid, GITHOOK_OID_HEX) == 0;
        }
    }
    free(env);
    if (oids != NULL)
        fclose(oids);
    if (found != NULL)
        fclose(found);
    return ok;
}

/* Returns the blob id that a `git log --raw` line (":<modes> <oids> <status>\t<path>", with
 * several parents' modes and ids for a combined diff of a merge) gives the file after the
 * commit, in out, or false for any other line. */
static bool raw_line_new_oid(const char *line, char out[GITHOOK_OID_HEX + 1])
{
    const char *tab = strchr(line, '\t');
    const char *status_start;
    const char *oid_start;

    if (line[0] != ':' || tab == NULL)
        return false;
    status_start = tab;
    while (status_start > line && status_start[-1] != ' ')
        status_start--;
    if (status_start - line < GITHOOK_OID_HEX + 2)
        return false;
    oid_start = status_start - 1 - GITHOOK_OID_HEX;
    memcpy(out, oid_start, GITHOOK_OID_HEX);
    out[GITHOOK_OID_HEX] = '\0';
    return true;
}

/* Sets update to index and commit to the oldest commit of the update's new commits that adds
 * each unattributed blob of list that is not stored. Returns how many blobs it attributed,
 * or -1 when git failed. */
static long large_blobs_find_commits(struct large_blob_list *list, const struct githook_update *u,
                                     long index)
{
    char new_oid[GITHOOK_OID_HEX + 1];
    char *argv[] = {"git", "log",   "--format=%H", "--raw", "--no-abbrev", "--no-renames",
                    "-c",  new_oid, "--not",       "--all", NULL};
    char current[GITHOOK_OID_HEX + 1] = "";
    FILE *log = tmpfile();
    char *line = NULL;
    size_t line_cap = 0;
    long attributed = 0;

    memcpy(new_oid, u->new_oid, sizeof(new_oid));
    if (log == NULL || githook_git_run(argv, -1, fileno(log), -1) != 0) {
        if (log != NULL)
            fclose(log);
        return -1;
    }
    rewind(log);
    /* git log lists the newest commit first, so the last match is the oldest commit. */
    while (getline(&line, &line_cap, log) > 0) {
        char oid[GITHOOK_OID_HEX + 1];

        line[strcspn(line, "\n")] = '\0';
        if (strlen(line) == GITHOOK_OID_HEX) {
            memcpy(current, line, sizeof(current));
            continue;
        }
        if (!raw_line_new_oid(line, oid))
            continue;
        for (size_t i = 0; i < list->count; i++) {
            struct large_blob *blob = &list->items[i];

            if (blob->stored || (blob->update >= 0 && blob->update != index) ||
                strcmp(blob->oid, oid) != 0)
                continue;
            if (blob->update < 0)
                attributed++;
            blob->update = index;
            memcpy(blob->commit, current, sizeof(blob->commit));
        }
    }
    free(line);
    fclose(log);
    return attributed;
}

/* Sets in_head for the blobs of update index that its new head's tree contains. Returns false
 * when git failed. */
static bool large_blobs_mark_in_head(struct large_blob_list *list, const struct githook_update *u,
                                     long index)
{
    char new_oid[GITHOOK_OID_HEX + 1];
    char *argv[] = {"git", "ls-tree", "-r", "-z", "--full-tree", new_oid, NULL};
    FILE *tree = tmpfile();
    char *entry = NULL;
    size_t entry_cap = 0;

    memcpy(new_oid, u->new_oid, sizeof(new_oid));
    if (tree == NULL || githook_git_run(argv, -1, fileno(tree), -1) != 0) {
        if (tree != NULL)
            fclose(tree);
        return false;
    }
    rewind(tree);
    /* Each entry is "<mode> <type> <oid>\t<path>". */
    while (getdelim(&entry, &entry_cap, '\0', tree) > 0) {
        const char *tab = strchr(entry, '\t');

        if (tab == NULL || tab - entry < GITHOOK_OID_HEX)
            continue;
        for (size_t i = 0; i < list->count; i++) {
            struct large_blob *blob = &list->items[i];

            if (blob->update == index &&
                strncmp(tab - GITHOOK_OID_HEX, blob->oid, GITHOOK_OID_HEX) == 0)
                blob->in_head = true;
        }
    }
    free(entry);
    fclose(tree);
    return true;
}

/* Finds the update and commit that add each of the unattributed blobs of list, which
 * number pending. The search is best effort: where git log or ls-tree fails (as for a tag of
 * a tree), the blob stays without a commit. */
static void large_blobs_attribute(struct large_blob_list *list, size_t pending,
                                  const struct githook_update *updates, long count)
{
    long first_update = -1;

    for (long i = 0; i < count && pending > 0; i++) {
        long found;

        if (githook_oid_is_zero(updates[i].new_oid))
            continue;
        if (first_update < 0)
            first_update = i;
        found = large_blobs_find_commits(list, &updates[i], i);
        if (found <= 0)
            continue;
        pending -= (size_t)found;
        if (!large_blobs_mark_in_head(list, &updates[i], i)) {
            for (size_t j = 0; j < list->count; j++) {
                if (list->items[j].update == i)
                    list->items[j].in_head = true;
            }
        }
    }
    /* NOTE: a blob that no new commit adds (a tag that points at a blob or a tree) is charged
     * to the first updated ref. */
    for (size_t i = 0; i < list->count; i++) {
        if (!list->items[i].stored && list->items[i].update < 0) {
            list->items[i].update = first_update;
            list->items[i].in_head = true;
        }
    }
}

/* Writes path as a git-lfs --include pattern that matches it. git-lfs splits the option at
 * commas and reads '*', '?', '[' and '\\' as glob syntax, so each of those, each control
 * character and a leading '!' or '#' becomes '?', which matches any one character. */
static void lfs_pattern_print(FILE *out, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
        bool glob = strchr(",*?[]\\", *p) != NULL || *p < 0x20 || *p == 0x7f ||
                    (p == (const unsigned char *)path && (*p == '!' || *p == '#'));

        /* The pattern goes inside single quotes, where a quote is written as '\''. */
        if (glob)
            fputc('?', out);
        else if (*p == '\'')
            fputs("'\\''", out);
        else
            fputc(*p, out);
    }
}

static void large_blob_reject(const struct large_blob *blob, const char *ref, uint64_t max_bytes,
                              FILE *errors)
{
    fprintf(errors, "rejected %s: file ", ref);
    githook_path_print_quoted(errors, blob->path[0] != '\0' ? blob->path : blob->oid);
    if (!blob->in_head && blob->commit[0] != '\0')
        fprintf(errors, " (blob %.12s, added in commit %.12s and removed before the new head)",
                blob->oid, blob->commit);
    else
        fprintf(errors, " (blob %.12s)", blob->oid);
    fprintf(errors, " has %llu bytes, more than the %llu bytes a file stored in git may have\n",
            (unsigned long long)blob->size, (unsigned long long)max_bytes);
}

/* Writes the one `git lfs migrate import` command that moves the first reported blobs of list
 * to git-lfs, with one pattern per distinct path. */
static void migrate_hint(const struct large_blob_list *list, size_t reported, FILE *errors)
{
    size_t seen = 0;
    size_t printed = 0;

    fprintf(errors, "hint: store %s with git-lfs: `git lfs migrate import --include='",
            reported == 1 ? "the file" : "these files");
    for (size_t i = 0; i < list->count && seen < reported; i++) {
        const struct large_blob *blob = &list->items[i];
        bool repeated = false;

        if (blob->stored)
            continue;
        seen++;
        for (size_t j = 0; j < i && !repeated; j++)
            repeated = !list->items[j].stored && strcmp(list->items[j].path, blob->path) == 0;
        if (repeated || blob->path[0] == '\0')
            continue;
        if (printed++ > 0)
            fputc(',', errors);
        lfs_pattern_print(errors, blob->path);
    }
    fprintf(errors,
            "'` moves %s to git-lfs in the commits of the current branch that are not pushed "
            "yet (add --include-ref=BRANCH for other branches), then push again; `git lfs "
            "checkout` restores %s, which the migration leaves as %s in the working tree\n",
            reported == 1 ? "it" : "them", reported == 1 ? "the file" : "the files",
            reported == 1 ? "an LFS pointer" : "LFS pointers");
}

int githook_large_files_check(FILE *large, const struct githook_update *updates, long count,
                              uint64_t max_bytes, FILE *errors)
{
    struct large_blob_list list = {NULL, 0};
    size_t rejected = 0;
    size_t reported = 0;
    size_t named = 0; /* reported blobs with a path, which the migrate command can name */
    const char *extra_ref = NULL;
    bool extra_refs_differ = false;
    int result = 1;

    if (!large_blob_list_read(&list, large)) {
        fprintf(errors, "atelier hook: cannot read the list of large pushed files\n");
        result = 2;
        goto out;
    }
    if (!large_blobs_mark_stored(&list)) {
        fprintf(errors, "atelier hook: cannot look up the large pushed files in the repo\n");
        result = 2;
        goto out;
    }
    for (size_t i = 0; i < list.count; i++)
        rejected += list.items[i].stored ? 0 : 1;
    if (rejected == 0) {
        result = 0;
        goto out;
    }
    large_blobs_attribute(&list, rejected, updates, count);
    for (size_t i = 0; i < list.count; i++) {
        const struct large_blob *blob = &list.items[i];
        const char *ref = blob->update >= 0 ? updates[blob->update].ref : "(unknown ref)";

        if (blob->stored)
            continue;
        if (reported < MAX_REPORTED_FILES) {
            large_blob_reject(blob, ref, max_bytes, errors);
            reported++;
            named += blob->path[0] != '\0' ? 1 : 0;
        } else if (extra_ref == NULL) {
            extra_ref = ref;
        } else if (strcmp(extra_ref, ref) != 0) {
            extra_refs_differ = true;
        }
    }
    if (extra_ref != NULL && !extra_refs_differ)
        fprintf(errors, "rejected %s: %zu more files are larger than %llu bytes\n", extra_ref,
                rejected - reported, (unsigned long long)max_bytes);
    else if (extra_ref != NULL)
        fprintf(errors, "rejected: %zu more files of the pushed refs are larger than %llu bytes\n",
                rejected - reported, (unsigned long long)max_bytes);
    if (named > 0)
        migrate_hint(&list, reported, errors);
out:
    large_blob_list_free(&list);
    return result;
}
