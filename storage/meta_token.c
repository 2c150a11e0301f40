/* meta_token: access tokens. The secret is "hf_" plus 34 base62 characters drawn from
 * RAND_bytes with rejection sampling (no modulo bias), about 202 bits. Only its SHA-256 is
 * stored, and lookups go through the UNIQUE index on that hash, so comparing secrets never
 * leaks timing about a stored secret. */
#include "meta_token.h"

#include "meta_internal.h"

#include <string.h>

#define TOKEN_PREFIX           "hf_"
#define TOKEN_PREFIX_BYTES     3
#define TOKEN_RANDOM_CHARS     34
#define LAST_USED_RESOLUTION_S 60

_Static_assert(TOKEN_PREFIX_BYTES + TOKEN_RANDOM_CHARS == META_TOKEN_SECRET_BYTES, "token length");

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const char *meta_scope_name(enum meta_scope scope)
{
    return scope == META_SCOPE_WRITE ? "write" : "read";
}

int meta_scope_parse(enum meta_scope *out, const char *text, struct hub_error *err)
{
    if (text != NULL && strcmp(text, "read") == 0) {
        *out = META_SCOPE_READ;
        return 0;
    }
    if (text != NULL && strcmp(text, "write") == 0) {
        *out = META_SCOPE_WRITE;
        return 0;
    }
    return hub_error_set(err, HUB_EINVAL, "invalid token scope '%.40s': use read or write",
                         text != NULL ? text : "");
}

static int secret_generate(char out[META_TOKEN_SECRET_BYTES + 1], struct hub_error *err)
{
    unsigned char pool[64];
    size_t filled = 0, used = sizeof(pool);
    int rc;

    memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_BYTES);
    while (filled < TOKEN_RANDOM_CHARS) {
        if (used == sizeof(pool)) {
            rc = meta_random_bytes(pool, sizeof(pool), err);
            if (rc < 0)
                return rc;
            used = 0;
        }
        /* 248 = 4 * 62: bytes at or above it are dropped so every character is equally likely. */
        if (pool[used] < 248)
            out[TOKEN_PREFIX_BYTES + filled++] = base62[pool[used] % 62];
        used++;
    }
    out[META_TOKEN_SECRET_BYTES] = '\0';
    return 0;
}

static bool secret_is_well_formed(const char *secret)
{
    if (secret == NULL || strnlen(secret, META_TOKEN_SECRET_BYTES + 1) != META_TOKEN_SECRET_BYTES)
        return false;
    if (memcmp(secret, TOKEN_PREFIX, TOKEN_PREFIX_BYTES) != 0)
        return false;
    for (size_t i = TOKEN_PREFIX_BYTES; i < META_TOKEN_SECRET_BYTES; i++) {
        if (strchr(base62, secret[i]) == NULL || secret[i] == '\0')
            return false;
    }
    return true;
}

#define TOKEN_COLUMNS "id, user_id, label, scope, hint, created_at, last_used_at, revoked_at"

static void token_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_token *out = item;
    const unsigned char *scope;

    out->id = sqlite3_column_int64(stmt, 0);
    out->user_id = sqlite3_column_int64(stmt, 1);
    meta_column_copy(out->label, sizeof(out->label), stmt, 2);
    scope = sqlite3_column_text(stmt, 3);
    out->scope = scope != NULL && strcmp((const char *)scope, "write") == 0 ? META_SCOPE_WRITE
                                                                            : META_SCOPE_READ;
    meta_column_copy(out->hint, sizeof(out->hint), stmt, 4);
    out->created_at = sqlite3_column_int64(stmt, 5);
    out->last_used_at = sqlite3_column_int64(stmt, 6);
    out->revoked_at = sqlite3_column_int64(stmt, 7);
}

int meta_token_create(char secret_out[META_TOKEN_SECRET_BYTES + 1], int64_t *out_id,
                      struct meta *db, int64_t user_id, const char *label, enum meta_scope scope,
                      struct hub_error *err)
{
    char secret[META_TOKEN_SECRET_BYTES + 1];
    unsigned char hash[32];
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (label == NULL)
        label = "";
    if (strnlen(label, HUB_MAX_TOKEN_LABEL_BYTES + 1) > HUB_MAX_TOKEN_LABEL_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "token label is longer than %d bytes",
                             HUB_MAX_TOKEN_LABEL_BYTES);
    for (const unsigned char *c = (const unsigned char *)label; *c != '\0'; c++) {
        if (*c < 0x20 || *c == 0x7f)
            return hub_error_set(err, HUB_EINVAL,
                                 "token label contains the control character 0x%02x; use one "
                                 "line of printable text",
                                 *c);
    }
    rc = secret_generate(secret, err);
    if (rc < 0)
        return rc;
    rc = meta_sha256(hash, secret, META_TOKEN_SECRET_BYTES, err);
    if (rc < 0)
        return rc;
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO tokens (user_id, label, secret_hash, hint, scope, "
                           "created_at) SELECT id, ?, ?, ?, ?, ? FROM users WHERE id = ?",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, label, -1, SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, hash, sizeof(hash), SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, secret + META_TOKEN_SECRET_BYTES - 4, 4, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, meta_scope_name(scope), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, meta_now());
    sqlite3_bind_int64(stmt, 6, user_id);
    rc = meta_stmt_run_by_id(stmt, db, "create token", "user", user_id, err);
    if (rc < 0)
        return rc;
    if (out_id != NULL)
        *out_id = sqlite3_last_insert_rowid(meta_sqlite_get(db));
    memcpy(secret_out, secret, sizeof(secret));
    return 0;
}

static int token_touch(struct meta *db, int64_t token_id, int64_t now, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "UPDATE tokens SET last_used_at = ? WHERE id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, token_id);
    return meta_stmt_run(stmt, db, "record token use", err);
}

int meta_token_find(struct meta_token *out, struct meta *db, const char *secret,
                    struct hub_error *err)
{
    unsigned char hash[32];
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    if (!secret_is_well_formed(secret))
        return hub_error_set(err, HUB_EAUTH, "invalid or revoked access token");
    rc = meta_sha256(hash, secret, META_TOKEN_SECRET_BYTES, err);
    if (rc < 0)
        return rc;
    /* A token of a disabled user is rejected like a revoked one, but stays stored. */
    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT " TOKEN_COLUMNS " FROM tokens WHERE secret_hash = ? AND "
                           "user_id IN (SELECT id FROM users WHERE disabled_at = 0)",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(stmt, 1, hash, sizeof(hash), SQLITE_STATIC);
    rc = meta_stmt_get_row(&found, out, stmt, token_from_row, db, "look up token", err);
    if (rc < 0)
        return rc;
    if (!found || out->revoked_at != 0)
        return hub_error_set(err, HUB_EAUTH, "invalid or revoked access token");
    return 0;
}

int meta_token_lookup(struct meta_token *out, struct meta *db, const char *secret,
                      struct hub_error *err)
{
    int64_t now = meta_now();
    int rc;

    rc = meta_token_find(out, db, secret, err);
    if (rc < 0)
        return rc;
    /* One write a minute at most, so a busy client does not turn every read into a write. */
    if (now - out->last_used_at >= LAST_USED_RESOLUTION_S) {
        rc = token_touch(db, out->id, now, err);
        if (rc < 0)
            return rc;
        out->last_used_at = now;
    }
    return 0;
}

int meta_token_get(struct meta_token *out, struct meta *db, int64_t token_id, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, token_id);
    rc = meta_stmt_get_row(&found, out, stmt, token_from_row, db, "read token", err);
    if (rc == 0 && !found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "token id %lld not found", (long long)token_id);
    return rc;
}

int meta_token_list(struct meta_token **out, size_t *count, struct meta *db, int64_t user_id,
                    struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           "SELECT " TOKEN_COLUMNS " FROM tokens WHERE user_id = ? "
                           "ORDER BY created_at DESC, id DESC",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, user_id);
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), token_from_row, db,
                             "list tokens", err);
}

int meta_token_revoke(struct meta *db, int64_t token_id, struct hub_error *err)
{
    struct meta_token token;
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_token_get(&token, db, token_id, err);
    if (rc < 0)
        return rc;
    if (token.revoked_at != 0)
        return 0;
    rc = meta_stmt_prepare(&stmt, db, "UPDATE tokens SET revoked_at = ? WHERE id = ?", err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(stmt, 1, meta_now());
    sqlite3_bind_int64(stmt, 2, token_id);
    return meta_stmt_run(stmt, db, "revoke token", err);
}
