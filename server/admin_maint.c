/* admin_maint: `atelier admin migrate|fsck|gc`: schema migrations, consistency checks between
 * the blob store, the git repos and the database, and deletion of unreferenced blobs. */
#include "admin.h"

#include "hub_error.h"
#include "hub_name.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_lfs.h"
#include "meta_repo.h"
#include "repo.h"
#include "storage.h"
#include "store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int migrate_status(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_migration_status *rows = NULL;
    const struct meta_migration *builtin;
    struct meta *db = NULL;
    char path[4096];
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/atelier.sqlite3", ctx->data_dir);
    if (access(path, F_OK) != 0) {
        /* No database yet: every migration is pending, and nothing is created. */
        builtin = meta_migrations_builtin(&n);
        for (size_t i = 0; i < n; i++)
            printf("%-32s pending\n", builtin[i].name);
        return 0;
    }
    if (meta_open_unchecked(&db, ctx->data_dir, &err) < 0 ||
        meta_migration_status_list(&rows, &n, db, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(db);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char when[32] = "";
        time_t t = (time_t)rows[i].applied_at;
        struct tm tm;

        if (rows[i].applied && gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        /* The name is the file name without .sql, so it starts with the version. */
        printf("%-32s %s %s%s\n", rows[i].name, rows[i].applied ? "applied" : "pending", when,
               rows[i].known ? "" : " (unknown to this binary)");
    }
    free(rows);
    meta_close(db);
    return 0;
}

int admin_cmd_migrate(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    int applied = 0;

    if (ctx->argc == 1 && strcmp(ctx->argv[0], "--status") == 0)
        return migrate_status(ctx);
    if (ctx->argc != 0)
        return admin_usage_error("unexpected argument '%s'; usage: migrate [--status]",
                                 ctx->argv[0]);
    if (admin_layout_create(ctx, &err) < 0 || meta_open_unchecked(&db, ctx->data_dir, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(db);
        return 1;
    }
    if (admin_migrations_allowed(ctx, db) != 0) {
        meta_close(db);
        return 1;
    }
    if (meta_migrate(&applied, db, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(db);
        return 1;
    }
    printf("applied %d migration(s)\n", applied);
    meta_close(db);
    return 0;
}

int admin_repos_all(struct meta_repo **out, size_t *count, struct meta *db, struct hub_error *err)
{
    struct meta_repo *all = NULL;
    size_t n = 0;
    static const enum hub_repo_type types[] = {HUB_REPO_MODEL, HUB_REPO_DATASET};

    *out = NULL;
    *count = 0;
    for (size_t t = 0; t < 2; t++) {
        for (size_t offset = 0;; offset += HUB_MAX_LIST_LIMIT) {
            struct meta_repo_query q = {0};
            struct meta_repo *page = NULL, *grown;
            size_t got = 0;

            q.type = types[t];
            q.all_visible = true;
            q.sort = META_REPO_SORT_NAME;
            q.offset = offset;
            if (meta_repo_list(&page, &got, NULL, db, &q, err) < 0) {
                free(all);
                return -1;
            }
            grown = got > 0 ? realloc(all, (n + got) * sizeof(*all)) : all;
            if (got > 0 && grown == NULL) {
                free(page);
                free(all);
                return hub_error_set(err, HUB_ENOMEM, "cannot allocate the repo list");
            }
            all = grown;
            if (got > 0)
                memcpy(all + n, page, got * sizeof(*all));
            n += got;
            free(page);
            if (got < HUB_MAX_LIST_LIMIT)
                break;
        }
    }
    *out = all;
    *count = n;
    return 0;
}

struct fsck_state {
    struct meta *db;
    struct store *st;
    const struct meta_repo *repo;
    unsigned long problems;
    unsigned long lfs_refs;
    unsigned long git_bad_objects;
    bool git_missing; /* the git program could not be run, so git objects went unchecked */
    /* oids of blobs whose content does not match their name, to name the files using them */
    char (*bad_blobs)[STORE_OID_HEX_BYTES + 1];
    size_t bad_blob_count, bad_blob_cap;
};

static void fsck_blob_report(void *ctx, const struct store_fsck_item *item)
{
    struct fsck_state *s = ctx;

    if (item->problem == NULL)
        return;
    s->problems++;
    if (strncmp(item->problem, "content ", 8) != 0 || strlen(item->oid) != STORE_OID_HEX_BYTES) {
        printf("blob %s: %s\n", item->oid, item->problem);
        return;
    }
    printf("blob %s: %s; copy lfs/objects/%.2s/%.2s/%s from a backup of the data directory\n",
           item->oid, item->problem, item->oid, item->oid + 2, item->oid);
    if (s->bad_blob_count == s->bad_blob_cap) {
        size_t cap = s->bad_blob_cap == 0 ? 16 : s->bad_blob_cap * 2;
        void *grown = realloc(s->bad_blobs, cap * sizeof(*s->bad_blobs));

        if (grown == NULL)
            return; /* out of memory: the blob line is printed, but not the files that use it */
        s->bad_blobs = grown;
        s->bad_blob_cap = cap;
    }
    memcpy(s->bad_blobs[s->bad_blob_count++], item->oid, STORE_OID_HEX_BYTES + 1);
}

static bool fsck_blob_is_bad(const struct fsck_state *s, const char *oid)
{
    for (size_t i = 0; i < s->bad_blob_count; i++)
        if (strcmp(s->bad_blobs[i], oid) == 0)
            return true;
    return false;
}

static int fsck_lfs_ref(void *ctx, const char *oid, uint64_t size, const char *path)
{
    struct fsck_state *s = ctx;
    struct hub_error err = HUB_ERROR_INIT;
    uint64_t stored = 0;
    bool exists = false, linked = false;

    s->lfs_refs++;
    if (store_blob_stat(&exists, &stored, s->st, oid, &err) < 0 || !exists) {
        printf("repo %s/%s: %s points to LFS object %s, which is missing from the store; copy "
               "lfs/objects/%.2s/%.2s/%s from a backup of the data directory, or upload the file "
               "again\n",
               s->repo->ns, s->repo->name, path, oid, oid, oid + 2, oid);
        s->problems++;
        return 0;
    }
    if (fsck_blob_is_bad(s, oid))
        printf(
            "repo %s/%s: %s points to LFS object %s, whose content is corrupt (see the blob line "
            "above)\n",
            s->repo->ns, s->repo->name, path, oid);
    if (stored != size) {
        printf("repo %s/%s: %s points to LFS object %s of %" PRIu64 " bytes, the store has %" PRIu64
               "\n",
               s->repo->ns, s->repo->name, path, oid, size, stored);
        s->problems++;
    }
    if (meta_lfs_object_get(&stored, s->db, oid, &err) < 0) {
        printf("repo %s/%s: LFS object %s has no database row\n", s->repo->ns, s->repo->name, oid);
        s->problems++;
    } else if (meta_lfs_is_linked(&linked, s->db, s->repo->id, oid, &err) == 0 && !linked) {
        printf("repo %s/%s: LFS object %s is not linked to the repo in the database\n", s->repo->ns,
               s->repo->name, oid);
        s->problems++;
    }
    return 0;
}

/* Returns a pointer to the first run of exactly 40 hex digits in line (a SHA-1 object id), or
 * NULL. */
static const char *git_oid_find(const char *line)
{
    for (const char *p = line; *p != '\0'; p++) {
        size_t len = 0;

        if (p != line && isxdigit((unsigned char)p[-1]))
            continue;
        while (isxdigit((unsigned char)p[len]))
            len++;
        if (len == 40)
            return p;
        p += len > 0 ? len - 1 : 0;
    }
    return NULL;
}

/* Prints the line of an object that git fsck finds malformed. It is a problem when a ref
 * reaches it, because the API fails on what that ref reaches. An object that no ref reaches
 * (left by a force push or a deleted branch) is only a warning, with `repo prune` as the way
 * to delete it. Returns whether it is a problem. */
static bool fsck_malformed_report(const struct fsck_state *s, const char *data_dir,
                                  const char *git_dir, const struct admin_git_fsck_message *m)
{
    char *refs = NULL, *save = NULL;
    char shown[512] = "";
    size_t count = 0, len = 0;

    if (admin_git_refs_reaching(&refs, git_dir, m->type, m->oid) < 0) {
        if (refs != NULL)
            refs[strcspn(refs, "\n")] = '\0';
        printf("repo %s/%s: git %s %s is malformed (git fsck: %s), and listing the refs that "
               "reach it failed: %s\n",
               s->repo->ns, s->repo->name, m->type, m->oid, m->message,
               refs != NULL && refs[0] != '\0' ? refs : strerror(errno));
        free(refs);
        return true;
    }
    for (char *ref = strtok_r(refs, "\n", &save); ref != NULL; ref = strtok_r(NULL, "\n", &save)) {
        if (count < 5 && len < sizeof(shown))
            len += (size_t)snprintf(shown + len, sizeof(shown) - len, "%s%s", count > 0 ? ", " : "",
                                    ref);
        count++;
    }
    if (len >= sizeof(shown))
        len = sizeof(shown) - 1; /* truncated: the " and N more" below then does not fit */
    free(refs);
    if (count == 0) {
        printf("repo %s/%s: warning: git %s %s is malformed (git fsck: %s), but no ref reaches "
               "it, so it is unreachable and harmless to the hub; `atelier admin --data %s repo "
               "prune %s/%s%s` deletes it\n",
               s->repo->ns, s->repo->name, m->type, m->oid, m->message, data_dir, s->repo->ns,
               s->repo->name, s->repo->type == HUB_REPO_DATASET ? " --type dataset" : "");
        return false;
    }
    if (count > 5)
        snprintf(shown + len, sizeof(shown) - len, " and %zu more", count - 5);
    if (count == 1)
        printf("repo %s/%s: git %s %s is malformed (git fsck: %s) and %s reaches it; push a "
               "valid commit to it with `git push --force URL COMMIT:%s`, or delete the branch "
               "or tag\n",
               s->repo->ns, s->repo->name, m->type, m->oid, m->message, shown, shown);
    else
        printf("repo %s/%s: git %s %s is malformed (git fsck: %s) and %s reach it; push a valid "
               "commit to each with `git push --force URL COMMIT:REF`, or delete the branches "
               "and tags\n",
               s->repo->ns, s->repo->name, m->type, m->oid, m->message, shown);
    return true;
}

/* Runs `git fsck` on the repo's folder and prints one line per missing, corrupt or malformed
 * object. Warnings of git fsck (odd metadata that git still reads) are printed but are no
 * problem. */
static void fsck_git_objects(struct fsck_state *s, const char *data_dir)
{
    static const char *const fsck_args[] = {"fsck", "--no-dangling", "--no-progress", NULL};
    struct hub_error err = HUB_ERROR_INIT;
    char git_dir[4096], last[1024] = "";
    char seen[64][41];
    size_t seen_count = 0;
    unsigned long reported = 0, unreachable = 0;
    char *output = NULL, *save = NULL;
    int status = 0;

    if (s->git_missing)
        return;
    if (repo_path_build(git_dir, sizeof(git_dir), data_dir, s->repo->type, s->repo->ns,
                        s->repo->name, &err) < 0) {
        printf("repo %s/%s: cannot check its git objects: %s\n", s->repo->ns, s->repo->name,
               err.msg);
        s->problems++;
        return;
    }
    if (admin_git_capture(&output, &status, git_dir, fsck_args) < 0) {
        printf("repo %s/%s: cannot run git fsck: %s\n", s->repo->ns, s->repo->name,
               strerror(errno));
        free(output);
        s->problems++;
        return;
    }
    for (char *line = strtok_r(output, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        struct admin_git_fsck_message m;
        const char *oid = git_oid_find(line);
        const char *message = line;
        bool known = false;

        snprintf(last, sizeof(last), "%s", line);
        if (admin_git_fsck_message_parse(&m, line) && !m.is_error) {
            printf("repo %s/%s: warning: git %s %s has odd metadata that git still reads (git "
                   "fsck: %s)\n",
                   s->repo->ns, s->repo->name, m.type, m.oid, m.message);
            continue;
        }
        if (oid == NULL || strncmp(line, "warning", 7) == 0)
            continue;
        for (size_t i = 0; i < seen_count; i++)
            known = known || strncmp(seen[i], oid, 40) == 0;
        if (known)
            continue;
        if (seen_count < sizeof(seen) / sizeof(seen[0])) {
            memcpy(seen[seen_count], oid, 40);
            seen[seen_count++][40] = '\0';
        }
        if (admin_git_fsck_message_parse(&m, line)) {
            if (fsck_malformed_report(s, data_dir, git_dir, &m))
                reported++;
            else
                unreachable++;
            continue;
        }
        if (strncmp(message, "error: ", 7) == 0 || strncmp(message, "fatal: ", 7) == 0)
            message += 7;
        printf("repo %s/%s: git object %.40s is %s (git fsck: %s); restore the folder %s from a "
               "backup\n",
               s->repo->ns, s->repo->name, oid,
               strstr(message, "missing") != NULL && strstr(message, "corrupt") == NULL ? "missing"
                                                                                        : "corrupt",
               message, git_dir);
        reported++;
    }
    free(output);
    if (status == 127 && reported == 0) {
        printf("warning: git was not found on PATH, so git objects were not checked; install git "
               "and rerun fsck\n");
        s->git_missing = true;
        return;
    }
    s->git_bad_objects += reported;
    s->problems += reported;
    /* git fsck exits 1 for unreachable malformed objects too, which are no problem. */
    if (reported == 0 && unreachable == 0 && status != 0) {
        printf("repo %s/%s: git fsck of %s failed: %s\n", s->repo->ns, s->repo->name, git_dir,
               last[0] != '\0' ? last : "no output");
        s->problems++;
    }
}

/* Reports git folders under repos/TYPE/NS/ that have no database row. */
static void fsck_orphan_dirs(struct fsck_state *s, const char *data_dir, enum hub_repo_type type)
{
    char path[4096];
    struct dirent *ns_ent, *repo_ent;
    DIR *top, *ns_dir;

    snprintf(path, sizeof(path), "%s/repos/%s", data_dir, hub_repo_type_plural(type));
    top = opendir(path);
    if (top == NULL)
        return;
    while ((ns_ent = readdir(top)) != NULL) {
        if (ns_ent->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/repos/%s/%s", data_dir, hub_repo_type_plural(type),
                 ns_ent->d_name);
        ns_dir = opendir(path);
        if (ns_dir == NULL)
            continue;
        while ((repo_ent = readdir(ns_dir)) != NULL) {
            struct meta_repo row;
            char name[256];
            size_t len = strlen(repo_ent->d_name);

            if (repo_ent->d_name[0] == '.' || len <= 4 || len - 4 >= sizeof(name) ||
                strcmp(repo_ent->d_name + len - 4, ".git") != 0)
                continue;
            memcpy(name, repo_ent->d_name, len - 4);
            name[len - 4] = '\0';
            if (meta_repo_get(&row, s->db, type, ns_ent->d_name, name, NULL) == HUB_ENOTFOUND) {
                printf("git repo %s/%s.git has no database row; import its files with `repo "
                       "import`, or remove the folder\n",
                       path, name);
                s->problems++;
            }
        }
        closedir(ns_dir);
    }
    closedir(top);
}

int admin_cmd_fsck(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct fsck_state s = {0};
    struct meta_repo *repos = NULL;
    uint64_t good = 0, bad = 0;
    size_t n = 0;
    int rc;

    if (ctx->argc != 0)
        return admin_usage_error("unexpected argument '%s'; usage: fsck", ctx->argv[0]);
    rc = admin_db_open(&s.db, ctx);
    if (rc != 0)
        return rc;
    if (store_open(&s.st, ctx->data_dir, &err) < 0 ||
        store_fsck(&good, &bad, s.st, fsck_blob_report, &s, &err) < 0 ||
        admin_repos_all(&repos, &n, s.db, &err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct repo *r = NULL;

        s.repo = &repos[i];
        if (repo_open(&r, ctx->data_dir, repos[i].type, repos[i].ns, repos[i].name, &err) < 0) {
            printf("repo %s/%s: %s\n", repos[i].ns, repos[i].name, err.msg);
            s.problems++;
            continue;
        }
        fsck_git_objects(&s, ctx->data_dir);
        if (repo_lfs_foreach(r, fsck_lfs_ref, &s, &err) < 0) {
            printf("repo %s/%s: %s\n", repos[i].ns, repos[i].name, err.msg);
            s.problems++;
        }
        repo_close(r);
    }
    fsck_orphan_dirs(&s, ctx->data_dir, HUB_REPO_MODEL);
    fsck_orphan_dirs(&s, ctx->data_dir, HUB_REPO_DATASET);
    printf("checked %" PRIu64 " blobs (%" PRIu64 " bad), %zu repos (%lu bad git objects), %lu LFS "
           "references: %lu problem(s)\n",
           good + bad, bad, n, s.git_bad_objects, s.lfs_refs, s.problems);
    free(s.bad_blobs);
    free(repos);
    store_close(s.st);
    meta_close(s.db);
    return s.problems == 0 ? 0 : 1;
fail:
    fprintf(stderr, "atelier admin: fsck failed: %s\n", err.msg);
    free(s.bad_blobs);
    free(repos);
    store_close(s.st);
    meta_close(s.db);
    return 1;
}

/* A sorted, deduplicated list of oids referenced by some repo's history. */
struct oid_list {
    char (*items)[STORE_OID_HEX_BYTES + 1];
    size_t count, cap;
    bool failed;
};

static int oid_list_add(void *ctx, const char *oid, uint64_t size, const char *path)
{
    struct oid_list *l = ctx;

    if (l->count == l->cap) {
        size_t cap = l->cap == 0 ? 256 : l->cap * 2;
        void *grown = realloc(l->items, cap * sizeof(*l->items));

        if (grown == NULL) {
            l->failed = true;
            return -1;
        }
        l->items = grown;
        l->cap = cap;
    }
    memcpy(l->items[l->count++], oid, STORE_OID_HEX_BYTES + 1);
    return 0;
}

static int oid_compare(const void *a, const void *b)
{
    return strcmp(a, b);
}

struct gc_state {
    struct oid_list referenced;
    struct store *st;
    struct meta *db;
    time_t cutoff;
    bool dry_run;
    uint64_t deleted, deleted_bytes, kept_young;
    int failures;
};

static int gc_visit(void *ctx, const char *oid, uint64_t size)
{
    struct gc_state *g = ctx;
    struct hub_error err = HUB_ERROR_INIT;
    char path[4096];
    struct stat sb;

    if (bsearch(oid, g->referenced.items, g->referenced.count, sizeof(*g->referenced.items),
                oid_compare) != NULL)
        return 0;
    if (store_blob_path(path, sizeof(path), g->st, oid, &err) < 0 || stat(path, &sb) != 0)
        return 0;
    /* NOTE: a commit that references an old unreferenced blob after the repo scan above is
     * protected only if the LFS batch handler refreshed the blob with store_blob_touch. */
    if (sb.st_mtime > g->cutoff) {
        g->kept_young++;
        return 0;
    }
    printf("%s %s (%" PRIu64 " bytes)\n", g->dry_run ? "would delete" : "deleting", oid, size);
    if (!g->dry_run) {
        if (store_blob_remove(g->st, oid, &err) < 0 ||
            meta_lfs_object_delete(g->db, oid, &err) < 0) {
            fprintf(stderr, "atelier admin: %s\n", err.msg);
            g->failures++;
            return 0;
        }
    }
    g->deleted++;
    g->deleted_bytes += size;
    return 0;
}

static int gc_parse(struct gc_state *g, const struct admin_ctx *ctx)
{
    unsigned long long hours = 24;

    for (int i = 0; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], "--dry-run") == 0) {
            g->dry_run = true;
        } else if (strcmp(ctx->argv[i], "--grace-hours") == 0) {
            const char *value = admin_option_value(ctx, &i);
            char *end = NULL;

            if (value == NULL)
                return 2;
            errno = 0;
            hours = strtoull(value, &end, 10);
            if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 ||
                hours > 24ull * 365 * 100)
                return admin_usage_error("invalid --grace-hours '%s': use a whole number of "
                                         "hours, 0 or more",
                                         value);
        } else {
            return admin_usage_error("unexpected argument '%s'; usage: gc [--grace-hours N] "
                                     "[--dry-run]",
                                     ctx->argv[i]);
        }
    }
    g->cutoff = time(NULL) - (time_t)(hours * 3600);
    return 0;
}

int admin_cmd_gc(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo *repos = NULL;
    struct gc_state g = {0};
    char detail[128];
    size_t n = 0;
    int rc;

    rc = gc_parse(&g, ctx);
    if (rc != 0)
        return rc;
    rc = admin_db_open(&g.db, ctx);
    if (rc != 0)
        return rc;
    if (store_open(&g.st, ctx->data_dir, &err) < 0 || admin_repos_all(&repos, &n, g.db, &err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct repo *r = NULL;

        /* A repo that cannot be read could reference anything: stop rather than guess. */
        if (repo_open(&r, ctx->data_dir, repos[i].type, repos[i].ns, repos[i].name, &err) < 0 ||
            repo_lfs_foreach(r, oid_list_add, &g.referenced, &err) < 0) {
            repo_close(r);
            goto fail;
        }
        repo_close(r);
    }
    if (g.referenced.failed) {
        hub_error_set(&err, HUB_ENOMEM, "cannot allocate the list of referenced blobs");
        goto fail;
    }
    if (g.referenced.count > 1)
        qsort(g.referenced.items, g.referenced.count, sizeof(*g.referenced.items), oid_compare);
    if (store_foreach(g.st, gc_visit, &g, &err) < 0)
        goto fail;
    printf("%s %" PRIu64 " blob(s), %" PRIu64 " bytes; kept %" PRIu64
           " unreferenced blob(s) younger than the grace period\n",
           g.dry_run ? "would delete" : "deleted", g.deleted, g.deleted_bytes, g.kept_young);
    if (!g.dry_run && g.deleted > 0) {
        snprintf(detail, sizeof(detail), "blobs=%" PRIu64 " bytes=%" PRIu64, g.deleted,
                 g.deleted_bytes);
        meta_audit_add(g.db, "admin-cli", "gc", NULL, detail, NULL);
    }
    free(repos);
    free(g.referenced.items);
    store_close(g.st);
    meta_close(g.db);
    return g.failures == 0 ? 0 : 1;
fail:
    fprintf(stderr, "atelier admin: gc failed, nothing more deleted: %s\n", err.msg);
    free(repos);
    free(g.referenced.items);
    store_close(g.st);
    meta_close(g.db);
    return 1;
}
