/* git_settings: queries on git_protected_branches through the metadata connection. */
#include "git_settings.h"

#include "hub_limits.h"
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
    rc = sqlite3_prepare_v2(conn, "SELECT branch FROM git_protected_branches WHERE repo_id = ? "
                                  "ORDER BY branch", -1, &stmt, NULL);
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

/* Checks branch against the rules of `git check-ref-format --branch`, restricted further to
 * what a space-separated list can carry. Returns NULL for a valid name, else writes the rule
 * that the name breaks into reason and returns reason. */
static const char *branch_name_problem(const char *branch, char *reason, size_t reason_size)
{
    size_t len = strlen(branch);
    const char *rule = NULL;

    if (len > HUB_MAX_REVISION_BYTES) {
        snprintf(reason, reason_size, "a branch name may be at most %d bytes long",
                 HUB_MAX_REVISION_BYTES);
        return reason;
    }
    if (len == 0)
        rule = "a branch name may not be empty";
    else if (strcmp(branch, "@") == 0 || strcmp(branch, "HEAD") == 0)
        rule = "a branch may not be named '@' or 'HEAD'";
    else if (branch[0] == '-')
        rule = "a branch name may not start with '-'";
    else if (branch[0] == '/' || branch[len - 1] == '/')
        rule = "a branch name may not start or end with '/'";
    else if (branch[len - 1] == '.')
        rule = "a branch name may not end with '.'";
    else if (strstr(branch, "..") != NULL)
        rule = "a branch name may not contain '..'";
    else if (strstr(branch, "//") != NULL)
        rule = "a branch name may not contain '//'";
    else if (strstr(branch, "@{") != NULL)
        rule = "a branch name may not contain '@{'";
    /* Leading, trailing and doubled slashes are ruled out above, so every part is non-empty. */
    for (const char *part = branch; rule == NULL && part[0] != '\0';) {
        size_t part_len = strcspn(part, "/");

        if (part[0] == '.')
            rule = "no part of a branch name between slashes may start with '.'";
        else if (part_len >= 5 && memcmp(part + part_len - 5, ".lock", 5) == 0)
            rule = "no part of a branch name between slashes may end with '.lock'";
        part += part_len;
        if (part[0] == '/')
            part++;
    }
    if (rule != NULL) {
        snprintf(reason, reason_size, "%s", rule);
        return reason;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)branch[i];

        if (c <= ' ' || c == 0x7f) {
            snprintf(reason, reason_size,
                     "a branch name may not contain spaces or control characters");
            return reason;
        }
        if (strchr("~^:?*[\\,", c) != NULL) {
            snprintf(reason, reason_size, "a branch name may not contain '%c'", c);
            return reason;
        }
    }
    return NULL;
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
    char reason[96];
    int rc;

    if (changed != NULL)
        *changed = false;
    if (branch_name_problem(branch, reason, sizeof(reason)) != NULL)
        return hub_error_set(err, HUB_EINVAL, "invalid branch name '%.64s': %s", branch, reason);
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
