/* meta_lfs: the lfs_objects and repo_objects tables. */
#include "meta_lfs.h"

#include "meta_internal.h"

#include <string.h>

static bool oid_is_valid(const char *oid)
{
    if (oid == NULL || strnlen(oid, 65) != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        if (!((oid[i] >= '0' && oid[i] <= '9') || (oid[i] >= 'a' && oid[i] <= 'f')))
            return false;
    }
    return true;
}

static int oid_check(const char *oid, struct hub_error *err)
{
    if (!oid_is_valid(oid))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid LFS oid '%.80s': expected 64 lowercase hex digits",
                             oid != NULL ? oid : "");
    return 0;
}

int meta_lfs_object_add(struct meta *db, const char *oid, uint64_t size, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    uint64_t stored;
    int rc;

    rc = oid_check(oid, err);
    if (rc < 0)
        return rc;
    if (size > (uint64_t)INT64_MAX)
        return hub_error_set(err, HUB_ETOOBIG, "LFS object size %llu is too large",
                             (unsigned long long)size);
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO lfs_objects (oid, size, created_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (oid) DO NOTHING",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, oid, 64, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)size);
    sqlite3_bind_int64(stmt, 3, meta_now());
    rc = meta_stmt_run(stmt, db, "record LFS object", err);
    if (rc < 0)
        return rc;
    rc = meta_lfs_object_get(&stored, db, oid, err);
    if (rc < 0)
        return rc;
    if (stored != size)
        return hub_error_set(err, HUB_ECONFLICT,
                             "LFS object %s is recorded with size %llu, not %llu", oid,
                             (unsigned long long)stored, (unsigned long long)size);
    return 0;
}

static void size_from_row(void *item, sqlite3_stmt *stmt)
{
    *(uint64_t *)item = (uint64_t)sqlite3_column_int64(stmt, 0);
}

int meta_lfs_object_get(uint64_t *size_out, struct meta *db, const char *oid, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    rc = oid_check(oid, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db, "SELECT size FROM lfs_objects WHERE oid = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, oid, 64, SQLITE_STATIC);
    rc = meta_stmt_get_row(&found, size_out, stmt, size_from_row, db, "read LFS object", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "LFS object %s not found", oid);
    return rc;
}

int meta_lfs_object_delete(struct meta *db, const char *oid, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = oid_check(oid, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM lfs_objects WHERE oid = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, oid, 64, SQLITE_STATIC);
    return meta_stmt_run(stmt, db, "delete LFS object", err);
}

int meta_lfs_link(struct meta *db, int64_t repo_id, const char *oid, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = oid_check(oid, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO repo_objects (repo_id, oid, created_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (repo_id, oid) DO NOTHING",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_text(stmt, 2, oid, 64, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, meta_now());
    rc = meta_stmt_run(stmt, db, "link LFS object", err);
    /* Foreign keys turn a missing repo or object into a constraint failure. */
    if (rc == HUB_ECONFLICT)
        return hub_error_set(err, HUB_ENOTFOUND, "LFS object %s or repo id %lld not found", oid,
                             (long long)repo_id);
    return rc;
}

int meta_lfs_is_linked(bool *out, struct meta *db, int64_t repo_id, const char *oid,
                       struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out = false;
    rc = oid_check(oid, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db, "SELECT 1 FROM repo_objects WHERE repo_id = ? AND oid = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_text(stmt, 2, oid, 64, SQLITE_STATIC);
    return meta_stmt_get_row(out, NULL, stmt, NULL, db, "check LFS link", err);
}

static void oid_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_lfs_oid *out = item;

    meta_column_copy(out->hex, sizeof(out->hex), stmt, 0);
    out->size = (uint64_t)sqlite3_column_int64(stmt, 1);
    out->created_at = sqlite3_column_int64(stmt, 2);
}

static int oid_list(struct meta_lfs_oid **out, size_t *count, struct meta *db, const char *sql,
                    int64_t bound, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = meta_stmt_prepare(&stmt, db, sql, err);
    if (rc < 0)
        return rc;
    if (sqlite3_bind_parameter_count(stmt) > 0)
        sqlite3_bind_int64(stmt, 1, bound);
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), oid_from_row, db,
                             "list LFS objects", err);
}

int meta_lfs_object_list(struct meta_lfs_oid **out, size_t *count, struct meta *db,
                         struct hub_error *err)
{
    return oid_list(out, count, db, "SELECT oid, size, created_at FROM lfs_objects ORDER BY oid", 0,
                    err);
}

int meta_lfs_unlinked_list(struct meta_lfs_oid **out, size_t *count, struct meta *db,
                           int64_t created_before, struct hub_error *err)
{
    return oid_list(out, count, db,
                    "SELECT o.oid, o.size, o.created_at FROM lfs_objects o "
                    "WHERE o.created_at < ? AND NOT EXISTS "
                    "(SELECT 1 FROM repo_objects l WHERE l.oid = o.oid) ORDER BY o.oid",
                    created_before, err);
}

int meta_lfs_total_bytes(uint64_t *out, struct meta *db, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int64_t total;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "SELECT coalesce(sum(size), 0) FROM lfs_objects", err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_get_int64(&total, stmt, db, "sum LFS object sizes", err);
    if (rc == 0)
        *out = (uint64_t)total;
    return rc;
}
