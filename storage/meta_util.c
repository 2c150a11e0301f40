/* meta_util: the column, array and statement helpers that the meta_*.c files share.
 * meta_stmt_collect reads every row of a query into a growing array, meta_stmt_get_row reads at
 * most one row, and the other helpers here run a statement and translate its outcome. Each
 * helper in this file that takes a statement finalizes it on every path. */
#include "meta_internal.h"

#include <stdlib.h>
#include <string.h>

void meta_column_copy(char *dst, size_t cap, sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);

    if (cap == 0)
        return;
    if (text == NULL)
        len = 0;
    if (len >= cap)
        len = cap - 1;
    if (len > 0)
        memcpy(dst, text, len);
    dst[len] = '\0';
}

int meta_array_reserve(void **items, size_t *cap, size_t need, size_t item_bytes,
                       struct hub_error *err)
{
    size_t new_cap = *cap == 0 ? 16 : *cap;
    size_t bytes;
    void *grown;

    if (need <= *cap)
        return 0;
    while (new_cap < need) {
        if (!hub_size_mul(&new_cap, new_cap, 2))
            return hub_error_set(err, HUB_ENOMEM, "list too large");
    }
    if (!hub_size_mul(&bytes, new_cap, item_bytes))
        return hub_error_set(err, HUB_ENOMEM, "list too large");
    grown = realloc(*items, bytes);
    if (grown == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu bytes for a list", bytes);
    *items = grown;
    *cap = new_cap;
    return 0;
}

int meta_stmt_collect(void **out, size_t *count, sqlite3_stmt *stmt, size_t item_bytes,
                      meta_row_fn fill, struct meta *db, const char *what, struct hub_error *err)
{
    unsigned char *items = NULL;
    size_t n = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = meta_array_reserve((void **)&items, &cap, n + 1, item_bytes, err);
        if (rc < 0)
            goto out;
        fill(items + n * item_bytes, stmt);
        n++;
    }
    if (rc != SQLITE_DONE) {
        rc = meta_error_from_sqlite(err, db, rc, what);
        goto out;
    }
    *out = items;
    *count = n;
    items = NULL;
    rc = 0;
out:
    sqlite3_finalize(stmt);
    free(items);
    return rc;
}

int meta_stmt_get_row(bool *found, void *out, sqlite3_stmt *stmt, meta_row_fn fill, struct meta *db,
                      const char *what, struct hub_error *err)
{
    int rc = sqlite3_step(stmt);

    *found = false;
    if (rc == SQLITE_ROW) {
        if (fill != NULL)
            fill(out, stmt);
        *found = true;
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = meta_error_from_sqlite(err, db, rc, what);
    }
    sqlite3_finalize(stmt);
    return rc;
}

int meta_stmt_get_int64(int64_t *out, sqlite3_stmt *stmt, struct meta *db, const char *what,
                        struct hub_error *err)
{
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(stmt, 0);
        rc = 0;
    } else {
        rc = meta_error_from_sqlite(err, db, rc, what);
    }
    sqlite3_finalize(stmt);
    return rc;
}

int meta_stmt_insert_named(int64_t *out_id, sqlite3_stmt *stmt, struct meta *db, const char *name,
                           const char *what, struct hub_error *err)
{
    int rc = meta_stmt_run(stmt, db, what, err);

    if (rc == HUB_ECONFLICT)
        return hub_error_set(err, HUB_ECONFLICT,
                             "name '%s' is already taken by a user or an organisation", name);
    if (rc < 0)
        return rc;
    if (out_id != NULL)
        *out_id = sqlite3_last_insert_rowid(meta_sqlite_get(db));
    return 0;
}

int meta_stmt_run_by_id(sqlite3_stmt *stmt, struct meta *db, const char *what, const char *noun,
                        int64_t id, struct hub_error *err)
{
    int rc = meta_stmt_run(stmt, db, what, err);

    if (rc < 0)
        return rc;
    if (sqlite3_changes(meta_sqlite_get(db)) == 0)
        return hub_error_set(err, HUB_ENOTFOUND, "%s id %lld not found", noun, (long long)id);
    return 0;
}
