/* meta_session: browser sessions. The cookie value and the CSRF secret are base64url text of
 * 32 random bytes each; the table keys sessions by the SHA-256 of the cookie value, so a copy
 * of the database does not hand out live sessions. */
#include "meta_session.h"

#include "meta_internal.h"

#include <string.h>

static const char base64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes 32 bytes as 43 base64url characters without padding. */
static void encode_32(char out[44], const unsigned char in[32])
{
    size_t o = 0;
    unsigned bits = 0, acc = 0;

    for (size_t i = 0; i < 32; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = base64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = base64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

static int random_text(char out[44], struct hub_error *err)
{
    unsigned char raw[32];
    int rc = meta_random_bytes(raw, sizeof(raw), err);

    if (rc < 0)
        return rc;
    encode_32(out, raw);
    return 0;
}

static bool session_id_is_well_formed(const char *id)
{
    if (id == NULL || strnlen(id, META_SESSION_ID_BYTES + 1) != META_SESSION_ID_BYTES)
        return false;
    for (size_t i = 0; i < META_SESSION_ID_BYTES; i++) {
        if (strchr(base64url, id[i]) == NULL)
            return false;
    }
    return true;
}

int meta_session_create(char id_out[META_SESSION_ID_BYTES + 1],
                        char csrf_out[META_SESSION_CSRF_BYTES + 1], struct meta *db,
                        int64_t user_id, int64_t ttl_s, struct hub_error *err)
{
    char id[META_SESSION_ID_BYTES + 1], csrf[META_SESSION_CSRF_BYTES + 1];
    unsigned char hash[32];
    sqlite3_stmt *stmt = NULL;
    int64_t now = meta_now();
    int rc;

    if (ttl_s <= 0 || ttl_s > (int64_t)10 * 365 * 24 * 3600)
        return hub_error_set(err, HUB_EINVAL, "invalid session lifetime %lld s", (long long)ttl_s);
    rc = random_text(id, err);
    if (rc < 0)
        return rc;
    rc = random_text(csrf, err);
    if (rc < 0)
        return rc;
    rc = meta_sha256(hash, id, META_SESSION_ID_BYTES, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) "
                           "SELECT ?, id, ?, ?, ? FROM users WHERE id = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(stmt, 1, hash, sizeof(hash), SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_int64(stmt, 4, now + ttl_s);
    sqlite3_bind_int64(stmt, 5, user_id);
    rc = meta_stmt_run_by_id(stmt, db, "create session", "user", user_id, err);
    if (rc < 0)
        return rc;
    memcpy(id_out, id, sizeof(id));
    if (csrf_out != NULL)
        memcpy(csrf_out, csrf, sizeof(csrf));
    return 0;
}

static void session_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_session *out = item;

    out->user_id = sqlite3_column_int64(stmt, 0);
    meta_column_copy(out->csrf, sizeof(out->csrf), stmt, 1);
    out->created_at = sqlite3_column_int64(stmt, 2);
    out->expires_at = sqlite3_column_int64(stmt, 3);
}

int meta_session_lookup(struct meta_session *out, struct meta *db, const char *id,
                        struct hub_error *err)
{
    unsigned char hash[32];
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    if (!session_id_is_well_formed(id))
        return hub_error_set(err, HUB_EAUTH, "invalid or expired session");
    rc = meta_sha256(hash, id, META_SESSION_ID_BYTES, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT user_id, csrf, created_at, expires_at FROM sessions "
                           "WHERE id_hash = ? AND expires_at > ? AND user_id IN "
                           "(SELECT id FROM users WHERE disabled_at = 0)",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(stmt, 1, hash, sizeof(hash), SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, meta_now());
    rc = meta_stmt_get_row(&found, out, stmt, session_from_row, db, "look up session", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_EAUTH, "invalid or expired session");
    return rc;
}

int meta_session_delete(struct meta *db, const char *id, struct hub_error *err)
{
    unsigned char hash[32];
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (!session_id_is_well_formed(id))
        return 0;
    rc = meta_sha256(hash, id, META_SESSION_ID_BYTES, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM sessions WHERE id_hash = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(stmt, 1, hash, sizeof(hash), SQLITE_STATIC);
    return meta_stmt_run(stmt, db, "delete session", err);
}

int meta_session_delete_user(int64_t *deleted, struct meta *db, int64_t user_id,
                             struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM sessions WHERE user_id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, user_id);
    rc = meta_stmt_run(stmt, db, "delete user sessions", err);
    if (rc == 0 && deleted != NULL)
        *deleted = sqlite3_changes(meta_sqlite_get(db));
    return rc;
}

int meta_session_purge_expired(int64_t *deleted, struct meta *db, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "DELETE FROM sessions WHERE expires_at <= ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, meta_now());
    rc = meta_stmt_run(stmt, db, "purge sessions", err);
    if (rc == 0 && deleted != NULL)
        *deleted = sqlite3_changes(meta_sqlite_get(db));
    return rc;
}
