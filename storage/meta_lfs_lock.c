/* meta_lfs_lock: the locks of git_lfs_locks held by users other than the given ones. */
#include "meta_lfs_lock.h"

#include "meta.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int path_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool owner_excluded(int64_t owner_id, const int64_t *excluded, size_t excluded_count)
{
    for (size_t i = 0; i < excluded_count; i++) {
        if (excluded[i] == owner_id)
            return true;
    }
    return false;
}

int meta_lfs_lock_scan_others(struct meta *db, int64_t repo_id, const int64_t *excluded,
                              size_t excluded_count, const char *const *paths, size_t path_count,
                              meta_lfs_lock_fn fn, void *arg, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int result = 0;
    int rc;

    rc = sqlite3_prepare_v2(meta_sqlite_get(db),
                            "SELECT l.id, l.path, l.owner_id, u.name, l.locked_at "
                            "FROM git_lfs_locks l JOIN users u ON u.id = l.owner_id "
                            "WHERE l.repo_id = ? ORDER BY l.id",
                            -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "read git-lfs locks");
    sqlite3_bind_int64(stmt, 1, repo_id);
    while (result == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct meta_lfs_lock lock = {0};
        const char *path = (const char *)sqlite3_column_text(stmt, 1);
        const char *owner = (const char *)sqlite3_column_text(stmt, 3);

        lock.owner_id = sqlite3_column_int64(stmt, 2);
        if (path == NULL || owner_excluded(lock.owner_id, excluded, excluded_count))
            continue;
        if (paths != NULL &&
            bsearch(&path, paths, path_count, sizeof(*paths), path_compare) == NULL)
            continue;
        lock.id = sqlite3_column_int64(stmt, 0);
        snprintf(lock.path, sizeof(lock.path), "%s", path);
        snprintf(lock.owner_name, sizeof(lock.owner_name), "%s", owner != NULL ? owner : "");
        lock.locked_at = sqlite3_column_int64(stmt, 4);
        result = fn(&lock, arg);
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = meta_error_from_sqlite(err, db, rc, "read git-lfs locks");
    sqlite3_finalize(stmt);
    return result;
}
