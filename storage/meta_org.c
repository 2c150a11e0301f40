/* meta_org: organisations, memberships and namespace lookups. */
#include "meta_org.h"

#include "hub_name.h"
#include "meta_internal.h"

#include <string.h>

static const char *const role_names[] = {"read", "write", "admin"};

_Static_assert(sizeof(role_names) / sizeof(role_names[0]) == META_ROLE_ADMIN + 1, "roles");

const char *meta_role_name(enum meta_role role)
{
    return (unsigned)role <= META_ROLE_ADMIN ? role_names[role] : "read";
}

int meta_role_parse(enum meta_role *out, const char *text, struct hub_error *err)
{
    for (int i = 0; i <= META_ROLE_ADMIN; i++) {
        if (text != NULL && strcmp(text, role_names[i]) == 0) {
            *out = (enum meta_role)i;
            return 0;
        }
    }
    return hub_error_set(err, HUB_EINVAL, "invalid role '%.40s': use read, write or admin",
                         text != NULL ? text : "");
}

int meta_org_add(int64_t *out_id, struct meta *db, const char *name, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = hub_name_check(name, "organisation name", err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db, "INSERT INTO orgs (name, created_at) VALUES (?, ?)", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, meta_now());
    return meta_stmt_insert_named(out_id, stmt, db, name, "add organisation", err);
}

static void org_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_org *out = item;

    out->id = sqlite3_column_int64(stmt, 0);
    meta_column_copy(out->name, sizeof(out->name), stmt, 1);
    out->created_at = sqlite3_column_int64(stmt, 2);
}

int meta_org_get(struct meta_org *out, struct meta *db, const char *name, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    if (name == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing organisation name");
    rc = meta_stmt_prepare(&stmt, db, "SELECT id, name, created_at FROM orgs WHERE name = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    rc = meta_stmt_get_row(&found, out, stmt, org_from_row, db, "read organisation", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "organisation '%.100s' not found", name);
    return rc;
}

int meta_org_list(struct meta_org **out, size_t *count, struct meta *db, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "SELECT id, name, created_at FROM orgs ORDER BY name", err);
    if (rc < 0)
        return rc;
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), org_from_row, db,
                             "list organisations", err);
}

int meta_org_member_set(struct meta *db, int64_t org_id, int64_t user_id, enum meta_role role,
                        struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO memberships (org_id, user_id, role) VALUES (?, ?, ?) "
                           "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, org_id);
    sqlite3_bind_int64(stmt, 2, user_id);
    sqlite3_bind_text(stmt, 3, meta_role_name(role), -1, SQLITE_STATIC);
    rc = meta_stmt_run(stmt, db, "set membership", err);
    /* With foreign keys on, a missing org or user is a constraint failure. */
    if (rc == HUB_ECONFLICT)
        return hub_error_set(err, HUB_ENOTFOUND, "organisation id %lld or user id %lld not found",
                             (long long)org_id, (long long)user_id);
    return rc;
}

int meta_org_member_remove(struct meta *db, int64_t org_id, int64_t user_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM memberships WHERE org_id = ? AND user_id = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, org_id);
    sqlite3_bind_int64(stmt, 2, user_id);
    return meta_stmt_run(stmt, db, "remove membership", err);
}

int meta_org_member_role(enum meta_role *out, struct meta *db, int64_t org_id, int64_t user_id,
                         struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT role FROM memberships WHERE org_id = ? AND user_id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, org_id);
    sqlite3_bind_int64(stmt, 2, user_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        rc = meta_role_parse(out, (const char *)sqlite3_column_text(stmt, 0), err);
    } else if (rc == SQLITE_DONE) {
        rc = hub_error_set(err, HUB_ENOTFOUND,
                           "user id %lld is not a member of organisation id %lld",
                           (long long)user_id, (long long)org_id);
    } else {
        rc = meta_error_from_sqlite(err, db, rc, "read membership");
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* An unknown role text reads as META_ROLE_READ, the least access. */
static void member_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_member *m = item;

    m->org_id = sqlite3_column_int64(stmt, 0);
    m->user_id = sqlite3_column_int64(stmt, 1);
    meta_column_copy(m->org_name, sizeof(m->org_name), stmt, 2);
    meta_column_copy(m->user_name, sizeof(m->user_name), stmt, 3);
    if (meta_role_parse(&m->role, (const char *)sqlite3_column_text(stmt, 4), NULL) < 0)
        m->role = META_ROLE_READ;
}

int meta_org_member_list(struct meta_member **out, size_t *count, struct meta *db, int64_t org_id,
                         int64_t user_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT m.org_id, m.user_id, o.name, u.name, m.role "
                           "FROM memberships m JOIN orgs o ON o.id = m.org_id "
                           "JOIN users u ON u.id = m.user_id "
                           "WHERE (?1 > 0 AND m.org_id = ?1) OR (?1 = 0 AND m.user_id = ?2) "
                           "ORDER BY CASE WHEN ?1 > 0 THEN u.name ELSE o.name END",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, org_id);
    sqlite3_bind_int64(stmt, 2, user_id);
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), member_from_row, db,
                             "list members", err);
}

static void namespace_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_namespace *out = item;

    out->kind = sqlite3_column_int(stmt, 0) == 0 ? META_NAMESPACE_USER : META_NAMESPACE_ORG;
    out->id = sqlite3_column_int64(stmt, 1);
}

int meta_namespace_resolve(struct meta_namespace *out, struct meta *db, const char *name,
                           struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    if (name == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing namespace");
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT 0, id FROM users WHERE name = ?1 "
                           "UNION ALL SELECT 1, id FROM orgs WHERE name = ?1",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    rc = meta_stmt_get_row(&found, out, stmt, namespace_from_row, db, "resolve namespace", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "no user or organisation named '%.100s'", name);
    return rc;
}
