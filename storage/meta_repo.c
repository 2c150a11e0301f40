/* meta_repo: repo rows, the repo listing and the read and write access rules described in
 * meta_repo.h. */
#include "meta_repo.h"

#include "meta_internal.h"
#include "meta_org.h"
#include "meta_user.h"

#include <stdio.h>
#include <string.h>

#define REPO_COLUMNS                                                                               \
    "r.id, r.type, r.ns, r.name, r.owner_user_id, r.owner_org_id, r.private, r.created_at, "       \
    "r.updated_at, r.downloads, r.head_commit, r.base_model, r.hub_id"

/* SQL that is true when the user bound as :v may read repo r (admins are handled by the
 * caller, which skips this clause for them). */
#define REPO_VISIBLE_TO_V                                                                          \
    "(r.private = 0 OR (:v > 0 AND (r.owner_user_id = :v OR r.owner_org_id IN "                    \
    "(SELECT org_id FROM memberships WHERE user_id = :v))))"

static void repo_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_repo *out = item;
    const unsigned char *type = sqlite3_column_text(stmt, 1);

    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(stmt, 0);
    out->type = type != NULL && strcmp((const char *)type, "dataset") == 0 ? HUB_REPO_DATASET
                                                                           : HUB_REPO_MODEL;
    meta_column_copy(out->ns, sizeof(out->ns), stmt, 2);
    meta_column_copy(out->name, sizeof(out->name), stmt, 3);
    out->owner_user_id = sqlite3_column_int64(stmt, 4);
    out->owner_org_id = sqlite3_column_int64(stmt, 5);
    out->is_private = sqlite3_column_int(stmt, 6) != 0;
    out->created_at = sqlite3_column_int64(stmt, 7);
    out->updated_at = sqlite3_column_int64(stmt, 8);
    out->downloads = sqlite3_column_int64(stmt, 9);
    meta_column_copy(out->head_commit, sizeof(out->head_commit), stmt, 10);
    meta_column_copy(out->base_model, sizeof(out->base_model), stmt, 11);
    meta_column_copy(out->hub_id, sizeof(out->hub_id), stmt, 12);
}

static int repo_get_one(struct meta_repo *out, struct meta *db, sqlite3_stmt *stmt,
                        const char *what, struct hub_error *err)
{
    bool found;
    int rc;

    rc = meta_stmt_get_row(&found, out, stmt, repo_from_row, db, "read repo", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "repo %s not found", what);
    return rc;
}

/* Binds a repo's unique key (type, namespace, name) to parameters 1, 2 and 3 of stmt. The
 * strings must outlive stmt, because they are bound without a copy. */
static void repo_bind_key(sqlite3_stmt *stmt, enum hub_repo_type type, const char *ns,
                          const char *name)
{
    sqlite3_bind_text(stmt, 1, hub_repo_type_name(type), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, name, -1, SQLITE_STATIC);
}

int meta_repo_get(struct meta_repo *out, struct meta *db, enum hub_repo_type type, const char *ns,
                  const char *name, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    char what[HUB_MAX_REPO_ID_BYTES + 16];
    int rc;

    if (ns == NULL || name == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing repo namespace or name");
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT " REPO_COLUMNS " FROM repos r "
                           "WHERE r.type = ? AND r.ns = ? AND r.name = ?",
                           err);
    if (rc < 0)
        return rc;
    repo_bind_key(stmt, type, ns, name);
    snprintf(what, sizeof(what), "%.96s/%.96s", ns, name);
    return repo_get_one(out, db, stmt, what, err);
}

int meta_repo_get_by_id(struct meta_repo *out, struct meta *db, int64_t repo_id,
                        struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    char what[32];
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "SELECT " REPO_COLUMNS " FROM repos r WHERE r.id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    snprintf(what, sizeof(what), "id %lld", (long long)repo_id);
    return repo_get_one(out, db, stmt, what, err);
}

int meta_repo_insert(struct meta_repo *out, struct meta *db, enum hub_repo_type type,
                     const char *ns, const char *name, bool is_private, struct hub_error *err)
{
    struct meta_namespace owner;
    struct meta_repo row;
    sqlite3_stmt *stmt = NULL;
    int64_t now = meta_now();
    int rc;

    rc = hub_name_check(ns, "namespace", err);
    if (rc < 0)
        return rc;
    rc = hub_name_check(name, "repo name", err);
    if (rc < 0)
        return rc;
    rc = meta_namespace_resolve(&owner, db, ns, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(
        &stmt, db,
        "INSERT INTO repos (type, ns, name, owner_user_id, owner_org_id, "
        "private, created_at, updated_at, hub_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "printf('%08x', ?7 & 4294967295) || lower(hex(randomblob(8))))",
        err);
    if (rc < 0)
        return rc;
    repo_bind_key(stmt, type, ns, name);
    if (owner.kind == META_NAMESPACE_USER)
        sqlite3_bind_int64(stmt, 4, owner.id);
    else
        sqlite3_bind_int64(stmt, 5, owner.id);
    sqlite3_bind_int(stmt, 6, is_private ? 1 : 0);
    sqlite3_bind_int64(stmt, 7, now);
    sqlite3_bind_int64(stmt, 8, now);
    rc = meta_stmt_run(stmt, db, "insert repo", err);
    if (rc == HUB_ECONFLICT)
        return hub_error_set(err, HUB_ECONFLICT, "%s repo %s/%s already exists",
                             hub_repo_type_name(type), ns, name);
    if (rc < 0)
        return rc;
    rc = meta_repo_get_by_id(&row, db, sqlite3_last_insert_rowid(meta_sqlite_get(db)), err);
    if (rc == 0 && out != NULL)
        *out = row;
    return rc;
}

static int repo_update(struct meta *db, int64_t repo_id, sqlite3_stmt *stmt, const char *what,
                       struct hub_error *err)
{
    return meta_stmt_run_by_id(stmt, db, what, "repo", repo_id, err);
}

int meta_repo_delete(struct meta *db, int64_t repo_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM repos WHERE id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    return repo_update(db, repo_id, stmt, "delete repo", err);
}

int meta_repo_set_private(struct meta *db, int64_t repo_id, bool is_private, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "UPDATE repos SET private = ?, updated_at = ? WHERE id = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int(stmt, 1, is_private ? 1 : 0);
    sqlite3_bind_int64(stmt, 2, meta_now());
    sqlite3_bind_int64(stmt, 3, repo_id);
    return repo_update(db, repo_id, stmt, "set repo visibility", err);
}

static bool commit_id_is_valid(const char *id)
{
    if (strlen(id) != 40)
        return false;
    for (size_t i = 0; i < 40; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    }
    return true;
}

int meta_repo_touch(struct meta *db, int64_t repo_id, const char *commit_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (commit_id != NULL && !commit_id_is_valid(commit_id))
        return hub_error_set(err, HUB_EINVAL, "invalid commit id '%.60s': expected 40 hex digits",
                             commit_id);
    rc = meta_stmt_prepare(&stmt, db,
                           "UPDATE repos SET updated_at = ?, "
                           "head_commit = coalesce(?, head_commit) WHERE id = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, meta_now());
    if (commit_id != NULL)
        sqlite3_bind_text(stmt, 2, commit_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, repo_id);
    return repo_update(db, repo_id, stmt, "touch repo", err);
}

int meta_repo_set_base_model(struct meta *db, int64_t repo_id, const char *base_model,
                             struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (base_model == NULL)
        base_model = "";
    if (base_model[0] != '\0') {
        rc = hub_repo_id_parse(ns, name, base_model, err);
        if (rc < 0)
            return rc;
    }
    rc = meta_stmt_prepare(&stmt, db, "UPDATE repos SET base_model = ? WHERE id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, base_model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, repo_id);
    return repo_update(db, repo_id, stmt, "set base model", err);
}

int meta_repo_downloads_bump(struct meta *db, int64_t repo_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "UPDATE repos SET downloads = downloads + 1 WHERE id = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, repo_id);
    return repo_update(db, repo_id, stmt, "count download", err);
}

static int user_is_admin(bool *out, struct meta *db, int64_t user_id, struct hub_error *err)
{
    struct meta_user user;
    int rc;

    *out = false;
    if (user_id <= 0)
        return 0;
    rc = meta_user_get_by_id(&user, db, user_id, err);
    if (rc == HUB_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *out = user.is_admin;
    return 0;
}

/* Sets *out to user_id's role in the repo's owner organisation, or -1 when none. */
static int repo_org_role(int *out, struct meta *db, const struct meta_repo *repo, int64_t user_id,
                         struct hub_error *err)
{
    enum meta_role role;
    int rc;

    *out = -1;
    if (repo->owner_org_id <= 0 || user_id <= 0)
        return 0;
    rc = meta_org_member_role(&role, db, repo->owner_org_id, user_id, err);
    if (rc == HUB_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *out = (int)role;
    return 0;
}

/* Sets *out when user_id owns the repo, has at least min_role in its owner organisation, or
 * is an admin. Anonymous callers (user_id <= 0) get false. */
static int repo_user_has_role(bool *out, struct meta *db, const struct meta_repo *repo,
                              int64_t user_id, enum meta_role min_role, struct hub_error *err)
{
    bool admin;
    int role, rc;

    *out = false;
    if (user_id <= 0)
        return 0;
    if (repo->owner_user_id == user_id) {
        *out = true;
        return 0;
    }
    rc = repo_org_role(&role, db, repo, user_id, err);
    if (rc < 0)
        return rc;
    if (role >= (int)min_role) {
        *out = true;
        return 0;
    }
    rc = user_is_admin(&admin, db, user_id, err);
    *out = admin;
    return rc;
}

int meta_repo_can_read(bool *out, struct meta *db, const struct meta_repo *repo, int64_t user_id,
                       struct hub_error *err)
{
    if (!repo->is_private) {
        *out = true;
        return 0;
    }
    return repo_user_has_role(out, db, repo, user_id, META_ROLE_READ, err);
}

int meta_repo_can_write(bool *out, struct meta *db, const struct meta_repo *repo, int64_t user_id,
                        struct hub_error *err)
{
    return repo_user_has_role(out, db, repo, user_id, META_ROLE_WRITE, err);
}

int meta_namespace_can_write(bool *out, struct meta *db, const char *ns, int64_t user_id,
                             struct hub_error *err)
{
    struct meta_namespace owner;
    enum meta_role role;
    bool admin;
    int rc;

    *out = false;
    rc = meta_namespace_resolve(&owner, db, ns, err);
    if (rc < 0)
        return rc;
    if (user_id <= 0)
        return 0;
    if (owner.kind == META_NAMESPACE_USER && owner.id == user_id) {
        *out = true;
        return 0;
    }
    if (owner.kind == META_NAMESPACE_ORG) {
        rc = meta_org_member_role(&role, db, owner.id, user_id, err);
        if (rc < 0 && rc != HUB_ENOTFOUND)
            return rc;
        if (rc == 0 && role >= META_ROLE_WRITE) {
            *out = true;
            return 0;
        }
    }
    rc = user_is_admin(&admin, db, user_id, err);
    *out = admin;
    return rc;
}

/* Writes the WHERE clause for q into buf; the parameters are named so both the count and the
 * page query bind them the same way. */
static void repo_list_where(char *buf, size_t cap, const struct meta_repo_query *q, bool admin)
{
    snprintf(buf, cap, "WHERE r.type = :t%s%s%s%s", admin ? "" : " AND " REPO_VISIBLE_TO_V,
             q->search != NULL && q->search[0] != '\0'
                 ? " AND instr(lower(r.ns || '/' || r.name), lower(:s)) > 0"
                 : "",
             q->author != NULL ? " AND r.ns = :a" : "",
             q->base_model != NULL ? " AND r.base_model = :b" : "");
}

static void repo_list_bind(sqlite3_stmt *stmt, const struct meta_repo_query *q)
{
    int idx;

    sqlite3_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":t"), hub_repo_type_name(q->type),
                      -1, SQLITE_STATIC);
    idx = sqlite3_bind_parameter_index(stmt, ":v");
    if (idx > 0)
        sqlite3_bind_int64(stmt, idx, q->viewer_user_id);
    idx = sqlite3_bind_parameter_index(stmt, ":s");
    if (idx > 0)
        sqlite3_bind_text(stmt, idx, q->search, -1, SQLITE_STATIC);
    idx = sqlite3_bind_parameter_index(stmt, ":a");
    if (idx > 0)
        sqlite3_bind_text(stmt, idx, q->author, -1, SQLITE_STATIC);
    idx = sqlite3_bind_parameter_index(stmt, ":b");
    if (idx > 0)
        sqlite3_bind_text(stmt, idx, q->base_model, -1, SQLITE_STATIC);
}

static const char *repo_list_order(const struct meta_repo_query *q)
{
    switch (q->sort) {
    case META_REPO_SORT_CREATED:
        return q->ascending ? "r.created_at ASC, r.id ASC" : "r.created_at DESC, r.id DESC";
    case META_REPO_SORT_DOWNLOADS:
        return q->ascending ? "r.downloads ASC, r.id ASC" : "r.downloads DESC, r.id DESC";
    case META_REPO_SORT_NAME:
        return q->ascending ? "r.ns DESC, r.name DESC" : "r.ns ASC, r.name ASC";
    case META_REPO_SORT_UPDATED:
    default:
        return q->ascending ? "r.updated_at ASC, r.id ASC" : "r.updated_at DESC, r.id DESC";
    }
}

static int repo_list_count(size_t *total, struct meta *db, const char *where,
                           const struct meta_repo_query *q, struct hub_error *err)
{
    char sql[1024];
    sqlite3_stmt *stmt = NULL;
    int64_t count;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM repos r %s", where);
    rc = meta_stmt_prepare(&stmt, db, sql, err);
    if (rc < 0)
        return rc;
    repo_list_bind(stmt, q);
    rc = meta_stmt_get_int64(&count, stmt, db, "count repos", err);
    if (rc == 0)
        *total = (size_t)count;
    return rc;
}

int meta_repo_list(struct meta_repo **out, size_t *count, size_t *total, struct meta *db,
                   const struct meta_repo_query *q, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    size_t limit = q->limit == 0 ? HUB_MAX_LIST_LIMIT : q->limit;
    char where[768], sql[1536];
    bool admin;
    int rc;

    *out = NULL;
    *count = 0;
    if (limit > HUB_MAX_LIST_LIMIT)
        return hub_error_set(err, HUB_ETOOBIG, "limit %zu is above the maximum of %d", limit,
                             HUB_MAX_LIST_LIMIT);
    if (q->search != NULL && strnlen(q->search, HUB_MAX_SEARCH_BYTES + 1) > HUB_MAX_SEARCH_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "search text is longer than %d bytes",
                             HUB_MAX_SEARCH_BYTES);
    if (q->offset > (size_t)INT64_MAX)
        return hub_error_set(err, HUB_EINVAL, "offset %zu is too large", q->offset);
    rc = user_is_admin(&admin, db, q->viewer_user_id, err);
    if (rc < 0)
        return rc;
    admin = admin || q->all_visible;
    repo_list_where(where, sizeof(where), q, admin);
    if (total != NULL) {
        rc = repo_list_count(total, db, where, q, err);
        if (rc < 0)
            return rc;
    }
    snprintf(sql, sizeof(sql),
             "SELECT " REPO_COLUMNS " FROM repos r %s ORDER BY %s "
             "LIMIT :l OFFSET :o",
             where, repo_list_order(q));
    rc = meta_stmt_prepare(&stmt, db, sql, err);
    if (rc < 0)
        return rc;
    repo_list_bind(stmt, q);
    sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":l"), (sqlite3_int64)limit);
    sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":o"), (sqlite3_int64)q->offset);
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), repo_from_row, db,
                             "list repos", err);
}
