/* git_settings: queries on git_protected_branches through the metadata connection. */
#include "git_settings.h"

#include "hub_limits.h"
#include "hub_name.h"
#include "meta.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gitsettings_protected_branches(char **out, struct meta *db, int64_t repo_id,
                                   struct hub_error *err)
{
    sqlite3 *conn = meta_sqlite_get(db);
    sqlite3_stmt *stmt = NULL;
    char *list = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = sqlite3_prepare_v2(conn,
                            "SELECT branch FROM git_protected_branches WHERE repo_id = ? "
                            "ORDER BY branch",
                            -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "list protected branches");
    sqlite3_bind_int64(stmt, 1, repo_id);
    list = calloc(1, 1);
    if (list == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the protected branch list");
        goto out;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *branch = (const char *)sqlite3_column_text(stmt, 0);
        size_t branch_len = branch != NULL ? strlen(branch) : 0;
        char *grown;

        if (branch_len == 0)
            continue;
        grown = realloc(list, len + branch_len + 2);
        if (grown == NULL) {
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the protected branch list");
            goto out;
        }
        list = grown;
        if (len > 0)
            list[len++] = ' ';
        memcpy(list + len, branch, branch_len + 1);
        len += branch_len;
    }
    if (rc != SQLITE_DONE) {
        rc = meta_error_from_sqlite(err, db, rc, "list protected branches");
        goto out;
    }
    rc = 0;
    *out = list;
    list = NULL;
out:
    free(list);
    sqlite3_finalize(stmt);
    return rc;
}

int gitsettings_branch_protect(struct meta *db, int64_t repo_id, const char *branch, bool protected,
                               bool *changed, struct hub_error *err)
{
    sqlite3 *conn = meta_sqlite_get(db);
    sqlite3_stmt *stmt = NULL;
    const char *sql = protected
                          ? "INSERT OR IGNORE INTO git_protected_branches (repo_id, branch, "
                            "created_at) VALUES (?, ?, ?)"
                          : "DELETE FROM git_protected_branches WHERE repo_id = ? AND branch = ?";
    int rc;

    if (changed != NULL)
        *changed = false;
    rc = hub_branch_name_check(branch, err);
    if (rc < 0)
        return rc;
    rc = sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return meta_error_from_sqlite(err, db, rc, "protect branch");
    sqlite3_bind_int64(stmt, 1, repo_id);
    sqlite3_bind_text(stmt, 2, branch, -1, SQLITE_TRANSIENT);
    if (protected)
        sqlite3_bind_int64(stmt, 3, meta_now());
    rc = sqlite3_step(stmt);
    /* INSERT OR IGNORE and DELETE change no row when the protection is already as requested. */
    if (rc == SQLITE_DONE && changed != NULL)
        *changed = sqlite3_changes(conn) > 0;
    sqlite3_finalize(stmt);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return hub_error_set(err, HUB_ENOTFOUND, "repo %lld not found", (long long)repo_id);
    if (rc != SQLITE_DONE)
        return meta_error_from_sqlite(err, db, rc, "protect branch");
    return 0;
}
