/* meta_audit: appending to and reading the audit_log table. */
#include "meta_audit.h"

#include "meta_internal.h"

#include <string.h>

int meta_audit_add(struct meta *db, const char *user, const char *action, const char *repo,
                   const char *detail, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    size_t action_len, detail_len;
    int rc;

    if (action == NULL || action[0] == '\0')
        return hub_error_set(err, HUB_EINVAL, "missing audit action");
    action_len = strnlen(action, sizeof(((struct meta_audit_entry *)0)->action));
    if (action_len >= sizeof(((struct meta_audit_entry *)0)->action))
        return hub_error_set(err, HUB_EINVAL, "audit action '%.40s...' is too long", action);
    detail_len = detail != NULL ? strnlen(detail, HUB_MAX_AUDIT_DETAIL_BYTES) : 0;
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO audit_log (time, user, action, repo, detail) "
                           "VALUES (?, ?, ?, ?, ?)",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, meta_now());
    sqlite3_bind_text(stmt, 2, user != NULL ? user : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, action, (int)action_len, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, repo != NULL ? repo : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, detail != NULL ? detail : "", (int)detail_len, SQLITE_STATIC);
    return meta_stmt_run(stmt, db, "append audit entry", err);
}

static void audit_entry_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_audit_entry *e = item;

    e->id = sqlite3_column_int64(stmt, 0);
    e->time = sqlite3_column_int64(stmt, 1);
    meta_column_copy(e->user, sizeof(e->user), stmt, 2);
    meta_column_copy(e->action, sizeof(e->action), stmt, 3);
    meta_column_copy(e->repo, sizeof(e->repo), stmt, 4);
    meta_column_copy(e->detail, sizeof(e->detail), stmt, 5);
}

int meta_audit_list(struct meta_audit_entry **out, size_t *count, struct meta *db,
                    const struct meta_audit_query *q, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    size_t limit = q->limit == 0 ? 100 : q->limit;
    int rc;

    *out = NULL;
    *count = 0;
    if (limit > HUB_MAX_LIST_LIMIT)
        return hub_error_set(err, HUB_ETOOBIG, "limit %zu is above the maximum of %d", limit,
                             HUB_MAX_LIST_LIMIT);
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT id, time, user, action, repo, detail FROM audit_log "
                           "WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR repo = ?2) "
                           "AND (?3 IS NULL OR action = ?3) ORDER BY id DESC LIMIT ?4 OFFSET ?5",
                           err);
    if (rc < 0)
        return rc;
    if (q->user != NULL)
        sqlite3_bind_text(stmt, 1, q->user, -1, SQLITE_STATIC);
    if (q->repo != NULL)
        sqlite3_bind_text(stmt, 2, q->repo, -1, SQLITE_STATIC);
    if (q->action != NULL)
        sqlite3_bind_text(stmt, 3, q->action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)limit);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)(q->offset > (size_t)INT64_MAX ? 0 : q->offset));
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), audit_entry_from_row, db,
                             "list audit entries", err);
}
