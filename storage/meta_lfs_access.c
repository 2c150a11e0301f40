/* meta_lfs_access: the query behind meta_lfs_user_can_read. */
#include "meta_lfs_access.h"

#include "meta_internal.h"
#include "meta_user.h"
#include "store.h"

/* True when repo_objects links :o to a repo that :v may read. The visibility clause is the
 * one meta_repo.c uses for listings, so both follow the rules of meta_repo.h. Admins skip
 * the clause. */
#define LINK_READABLE_SQL                                                                          \
    "SELECT EXISTS (SELECT 1 FROM repo_objects o JOIN repos r ON r.id = o.repo_id "              \
    "WHERE o.oid = :o AND (r.private = 0 OR (:v > 0 AND (r.owner_user_id = :v OR "               \
    "r.owner_org_id IN (SELECT org_id FROM memberships WHERE user_id = :v)))))"

#define LINK_ANY_SQL "SELECT EXISTS (SELECT 1 FROM repo_objects WHERE oid = :o)"

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

int meta_lfs_user_can_read(bool *out, struct meta *db, int64_t user_id, const char *oid,
                           struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool admin = false;
    int64_t linked = 0;
    int idx;
    int rc;

    *out = false;
    if (!store_oid_is_valid(oid))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid LFS oid '%.80s': expected 64 lowercase hex digits",
                             oid != NULL ? oid : "");
    rc = user_is_admin(&admin, db, user_id, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db, admin ? LINK_ANY_SQL : LINK_READABLE_SQL, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":o"), oid, STORE_OID_HEX_BYTES,
                      SQLITE_STATIC);
    idx = sqlite3_bind_parameter_index(stmt, ":v");
    if (idx > 0)
        sqlite3_bind_int64(stmt, idx, user_id > 0 ? user_id : 0);
    rc = meta_stmt_get_int64(&linked, stmt, db, "check LFS object access", err);
    if (rc < 0)
        return rc;
    *out = linked != 0;
    return 0;
}
