/* git_locks: SQL for git_lfs_locks through the metadata connection. */
#include "git_locks.h"

#include "hf_commit_parse.h"
#include "meta.h"
#include "meta_lfs_lock.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_COLUMNS                                                                               \
    "SELECT l.id, l.path, l.owner_id, u.name, l.locked_at FROM git_lfs_locks l "                   \
    "JOIN users u ON u.id = l.owner_id "

static void lock_from_row(struct meta_lfs_lock *out, sqlite3_stmt *stmt)
{
    const char *path = (const char *)sqlite3_column_text(stmt, 1);
    const char *owner = (const char *)sqlite3_column_text(stmt, 3);

    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(stmt, 0);
    snprintf(out->path, sizeof(out->path), "%s", path != NULL ? path : "");
    out->owner_id = sqlite3_column_int64(stmt, 2);
    snprintf(out->owner_name, sizeof(out->owner_name), "%s", owner != NULL ? owner : "");
    out->locked_at = sqlite3_column_int64(stmt, 4);
}

/* Reads the lock of path in repo_id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
static int lock_get_by_path(struct meta_lfs_lock *out, struct meta *db, int64_t repo_id,
                            const char *path, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = sqlite3_prepare_v2(meta_sqlite_get(db),
                            LOCK_COLUMNS "WHERE l.repo_id = ? AND l.path = ?", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "read lfs lock");
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        lock_from_row(out, stmt);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = hub_error_set(err, HUB_ENOTFOUND, "no lock on %s", path);
    } else {
        rc = meta_error_from_sqlite(err, db, rc, "read lfs lock");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int gitlocks_create(struct meta_lfs_lock *out, struct meta *db, int64_t repo_id,
                    const char *path, int64_t owner_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    /* The rules of file paths in commits, which also keep control characters out of the
     * line-based lock list the push hook reads. A lock on "a/../b" would never match the
     * path git reports for a change. */
    rc = hf_path_check(path, err);
    if (rc < 0) {
        /* The lock handler replies 422 to HUB_EINVAL, also for a path that is too long. */
        err->code = HUB_EINVAL;
        return HUB_EINVAL;
    }
    rc = sqlite3_prepare_v2(meta_sqlite_get(db),
                            "INSERT INTO git_lfs_locks (repo_id, path, owner_id, locked_at) "
                            "VALUES (?, ?, ?, ?)",
                            -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "create lfs lock");
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, owner_id);
    sqlite3_bind_int64(stmt, 4, meta_now());
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    /* The metadata connection reports extended codes (SQLITE_CONSTRAINT_UNIQUE here). */
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        rc = lock_get_by_path(out, db, repo_id, path, err);
        if (rc < 0)
            return rc;
        return hub_error_set(err, HUB_ECONFLICT, "%s is already locked by %s", path,
                             out->owner_name);
    }
    if (rc != SQLITE_DONE)
        return meta_error_from_sqlite(err, db, rc, "create lfs lock");
    return lock_get_by_path(out, db, repo_id, path, err);
}

int gitlocks_list(struct meta_lfs_lock **out, size_t *count, struct meta *db, int64_t repo_id,
                  const char *path, int64_t id, int64_t after_id, size_t limit,
                  struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    struct meta_lfs_lock *locks = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *count = 0;
    if (limit == 0)
        return 0;
    locks = calloc(limit, sizeof(*locks));
    if (locks == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu locks", limit);
    rc = sqlite3_prepare_v2(meta_sqlite_get(db),
                            LOCK_COLUMNS "WHERE l.repo_id = ?1 AND l.id > ?2 "
                                         "AND (?3 IS NULL OR l.path = ?3) AND (?4 = 0 OR l.id = ?4) "
                                         "ORDER BY l.id LIMIT ?5",
                            -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        free(locks);
        return meta_error_from_sqlite(err, db, rc, "list lfs locks");
    }
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, after_id);
    if (path != NULL)
        sqlite3_bind_text(stmt, 3, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, id);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && n < limit)
        lock_from_row(&locks[n++], stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rc = meta_error_from_sqlite(err, db, rc, "list lfs locks");
        sqlite3_finalize(stmt);
        free(locks);
        return rc;
    }
    sqlite3_finalize(stmt);
    *out = locks;
    *count = n;
    return 0;
}

int gitlocks_get(struct meta_lfs_lock *out, struct meta *db, int64_t repo_id, int64_t id,
                 struct hub_error *err)
{
    struct meta_lfs_lock *locks = NULL;
    size_t count = 0;
    int rc;

    rc = gitlocks_list(&locks, &count, db, repo_id, NULL, id, 0, 1, err);
    if (rc < 0)
        return rc;
    if (count == 0) {
        free(locks);
        return hub_error_set(err, HUB_ENOTFOUND, "lock %lld not found", (long long)id);
    }
    *out = locks[0];
    free(locks);
    return 0;
}

int gitlocks_delete(struct meta *db, int64_t repo_id, int64_t id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = sqlite3_prepare_v2(meta_sqlite_get(db),
                            "DELETE FROM git_lfs_locks WHERE repo_id = ? AND id = ?", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "delete lfs lock");
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_int64(stmt, 2, id);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return meta_error_from_sqlite(err, db, rc, "delete lfs lock");
    if (sqlite3_changes(meta_sqlite_get(db)) == 0)
        return hub_error_set(err, HUB_ENOTFOUND, "lock %lld not found", (long long)id);
    return 0;
}

/* Returns whether the operation changes path. */
static bool op_changes_path(const struct hf_commit_op *op, const char *path)
{
    size_t len = strlen(op->path);

    if (op->kind != HF_OP_DELETE_FOLDER)
        return strcmp(op->path, path) == 0;
    return strncmp(op->path, path, len) == 0 && path[len] == '/';
}

/* The commit operations to check and the first lock that one of them changes. */
struct conflict_scan {
    const struct hf_commit_op *ops;
    size_t op_count;
    struct meta_lfs_lock *out;
};

static int conflict_check(const struct meta_lfs_lock *lock, void *arg)
{
    struct conflict_scan *scan = arg;

    for (size_t i = 0; i < scan->op_count; i++) {
        if (op_changes_path(&scan->ops[i], lock->path)) {
            memset(scan->out, 0, sizeof(*scan->out));
            scan->out->id = lock->id;
            snprintf(scan->out->path, sizeof(scan->out->path), "%s", lock->path);
            scan->out->owner_id = lock->owner_id;
            snprintf(scan->out->owner_name, sizeof(scan->out->owner_name), "%s", lock->owner_name);
            scan->out->locked_at = lock->locked_at;
            return 1;
        }
    }
    return 0;
}

int gitlocks_find_conflict(struct meta_lfs_lock *out, bool *found, struct meta *db, int64_t repo_id,
                           int64_t user_id, const struct hf_commit_op *ops, size_t op_count,
                           struct hub_error *err)
{
    struct conflict_scan scan = {ops, op_count, out};
    int rc;

    *found = false;
    /* A folder deletion changes paths that are not in ops, so every lock is checked. */
    rc = meta_lfs_lock_scan_others(db, repo_id, &user_id, 1, NULL, 0, conflict_check, &scan, err);
    if (rc < 0)
        return rc;
    *found = rc > 0;
    return 0;
}
