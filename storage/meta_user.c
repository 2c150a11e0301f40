/* meta_user: user rows and password hashing. Passwords are hashed with scrypt (OpenSSL
 * EVP_PBE_scrypt) and stored as "scrypt$LOG2N$R$P$SALT_HEX$HASH_HEX", so the cost can be
 * raised later without breaking stored hashes. */
#include "meta_user.h"

#include "hub_name.h"
#include "meta_internal.h"
#include "meta_jobs.h"
#include "meta_session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRYPT_LOG2_N        15 /* N = 32768: about 32 MiB and tens of milliseconds per hash */
#define SCRYPT_R             8
#define SCRYPT_P             1
#define SCRYPT_SALT_BYTES    16
#define SCRYPT_HASH_BYTES    32
#define SCRYPT_MAX_MEM_BYTES (256ull << 20)
#define HASH_TEXT_BYTES      160

static void hex_encode(char *out, const unsigned char *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool hex_decode(unsigned char *out, size_t len, const char *hex, size_t hex_len)
{
    if (hex_len != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static int scrypt_derive(unsigned char key[SCRYPT_HASH_BYTES], const char *password,
                         const unsigned char *salt, size_t salt_len, unsigned log2_n, unsigned r,
                         unsigned p, struct hub_error *err)
{
    if (EVP_PBE_scrypt(password, strlen(password), salt, salt_len, (uint64_t)1 << log2_n, r, p,
                       SCRYPT_MAX_MEM_BYTES, key, SCRYPT_HASH_BYTES) != 1)
        return hub_error_set(err, HUB_EINTERNAL, "scrypt password hashing failed");
    return 0;
}

int meta_user_password_check(const char *password, struct hub_error *err)
{
    size_t len = strnlen(password, HUB_MAX_PASSWORD_BYTES + 1);

    if (len > HUB_MAX_PASSWORD_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "password is longer than %d bytes",
                             HUB_MAX_PASSWORD_BYTES);
    if (len < HUB_MIN_PASSWORD_BYTES)
        return hub_error_set(err, HUB_EINVAL, "password is shorter than %d bytes",
                             HUB_MIN_PASSWORD_BYTES);
    return 0;
}

/* Checks password against the length rules, then writes its salted scrypt hash text to out. */
static int password_hash(char out[HASH_TEXT_BYTES], const char *password, struct hub_error *err)
{
    unsigned char salt[SCRYPT_SALT_BYTES], key[SCRYPT_HASH_BYTES];
    char salt_hex[2 * SCRYPT_SALT_BYTES + 1], key_hex[2 * SCRYPT_HASH_BYTES + 1];
    int rc;

    rc = meta_user_password_check(password, err);
    if (rc < 0)
        return rc;
    rc = meta_random_bytes(salt, sizeof(salt), err);
    if (rc < 0)
        return rc;
    rc = scrypt_derive(key, password, salt, sizeof(salt), SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, err);
    if (rc < 0)
        return rc;
    hex_encode(salt_hex, salt, sizeof(salt));
    hex_encode(key_hex, key, sizeof(key));
    snprintf(out, HASH_TEXT_BYTES, "scrypt$%d$%d$%d$%s$%s", SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P,
             salt_hex, key_hex);
    OPENSSL_cleanse(key, sizeof(key));
    return 0;
}

/* Returns true when password matches the stored text. A malformed stored text never matches. */
static bool password_verify(const char *stored, const char *password)
{
    unsigned char salt[SCRYPT_SALT_BYTES], want[SCRYPT_HASH_BYTES], got[SCRYPT_HASH_BYTES];
    char salt_hex[2 * SCRYPT_SALT_BYTES + 2], key_hex[2 * SCRYPT_HASH_BYTES + 2];
    unsigned log2_n, r, p;
    const char *fields[5];
    const char *cursor;
    bool ok;

    if (strncmp(stored, "scrypt$", 7) != 0)
        return false;
    cursor = stored + 7;
    for (int i = 0; i < 5; i++) {
        fields[i] = cursor;
        cursor = strchr(cursor, '$');
        if (i < 4 && cursor == NULL)
            return false;
        if (cursor != NULL)
            cursor++;
    }
    if (cursor != NULL)
        return false;
    log2_n = (unsigned)strtoul(fields[0], NULL, 10);
    r = (unsigned)strtoul(fields[1], NULL, 10);
    p = (unsigned)strtoul(fields[2], NULL, 10);
    if (log2_n < 10 || log2_n > 20 || r < 1 || r > 32 || p < 1 || p > 16)
        return false;
    snprintf(salt_hex, sizeof(salt_hex), "%.*s", (int)(fields[4] - fields[3] - 1), fields[3]);
    snprintf(key_hex, sizeof(key_hex), "%s", fields[4]);
    if (!hex_decode(salt, sizeof(salt), salt_hex, strlen(salt_hex)) ||
        !hex_decode(want, sizeof(want), key_hex, strlen(key_hex)))
        return false;
    if (scrypt_derive(got, password, salt, sizeof(salt), log2_n, r, p, NULL) < 0)
        return false;
    ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

static void user_from_row(void *item, sqlite3_stmt *stmt)
{
    struct meta_user *out = item;

    out->id = sqlite3_column_int64(stmt, 0);
    meta_column_copy(out->name, sizeof(out->name), stmt, 1);
    out->is_admin = sqlite3_column_int(stmt, 2) != 0;
    out->created_at = sqlite3_column_int64(stmt, 3);
    out->disabled_at = sqlite3_column_int64(stmt, 4);
}

#define USER_COLUMNS "id, name, is_admin, created_at, disabled_at"

int meta_user_add(int64_t *out_id, struct meta *db, const char *name, const char *password,
                  bool is_admin, struct hub_error *err)
{
    char hash[HASH_TEXT_BYTES];
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = hub_name_check(name, "user name", err);
    if (rc < 0)
        return rc;
    if (password != NULL) {
        rc = password_hash(hash, password, err);
        if (rc < 0)
            return rc;
    }
    rc = meta_stmt_prepare(&stmt, db,
                           "INSERT INTO users (name, password_hash, is_admin, created_at) "
                           "VALUES (?, ?, ?, ?)",
                           err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (password != NULL)
        sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, is_admin ? 1 : 0);
    sqlite3_bind_int64(stmt, 4, meta_now());
    return meta_stmt_insert_named(out_id, stmt, db, name, "add user", err);
}

/* The fill target of user_get: the user row and, when hash is not NULL, its password hash. */
struct user_with_hash {
    struct meta_user *user;
    char *hash;      /* NULL when the caller does not want the hash */
    size_t hash_cap; /* bytes at hash */
};

static void user_with_hash_from_row(void *item, sqlite3_stmt *stmt)
{
    struct user_with_hash *target = item;

    user_from_row(target->user, stmt);
    if (target->hash != NULL)
        meta_column_copy(target->hash, target->hash_cap, stmt, 5);
}

static int user_get(struct meta_user *out, char *hash_out, size_t hash_cap, struct meta *db,
                    const char *name, int64_t id, struct hub_error *err)
{
    struct user_with_hash target = {.user = out, .hash = hash_out, .hash_cap = hash_cap};
    sqlite3_stmt *stmt = NULL;
    bool found;
    int rc;

    rc = meta_stmt_prepare(&stmt, db,
                           name != NULL ? "SELECT " USER_COLUMNS ", password_hash FROM users "
                                          "WHERE name = ?"
                                        : "SELECT " USER_COLUMNS ", password_hash FROM users "
                                          "WHERE id = ?",
                           err);
    if (rc < 0)
        return rc;
    if (name != NULL)
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(stmt, 1, id);
    rc = meta_stmt_get_row(&found, &target, stmt, user_with_hash_from_row, db, "read user", err);
    if (rc < 0 || found)
        return rc;
    if (name != NULL)
        return hub_error_set(err, HUB_ENOTFOUND, "user '%.100s' not found", name);
    return hub_error_set(err, HUB_ENOTFOUND, "user id %lld not found", (long long)id);
}

int meta_user_get_by_name(struct meta_user *out, struct meta *db, const char *name,
                          struct hub_error *err)
{
    if (name == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing user name");
    return user_get(out, NULL, 0, db, name, 0, err);
}

int meta_user_get_by_id(struct meta_user *out, struct meta *db, int64_t id, struct hub_error *err)
{
    return user_get(out, NULL, 0, db, NULL, id, err);
}

int meta_user_check_password(struct meta_user *out, struct meta *db, const char *name,
                             const char *password, struct hub_error *err)
{
    /* A well-formed hash of no real password, checked for unknown users so that a wrong name
     * costs the same scrypt work as a wrong password. */
    static const char decoy[] = "scrypt$15$8$1$00000000000000000000000000000000$"
                                "0000000000000000000000000000000000000000000000000000000000000000";
    struct meta_user user;
    char hash[HASH_TEXT_BYTES] = "";
    bool found, ok;
    int rc;

    if (name == NULL || password == NULL ||
        strnlen(password, HUB_MAX_PASSWORD_BYTES + 1) > HUB_MAX_PASSWORD_BYTES ||
        !hub_name_is_valid(name))
        return hub_error_set(err, HUB_EAUTH, "invalid user name or password");
    rc = user_get(&user, hash, sizeof(hash), db, name, 0, err);
    if (rc < 0 && rc != HUB_ENOTFOUND)
        return rc;
    found = rc == 0 && hash[0] != '\0';
    ok = password_verify(found ? hash : decoy, password);
    if (!found || !ok || user.disabled_at != 0)
        return hub_error_set(err, HUB_EAUTH, "invalid user name or password");
    if (out != NULL)
        *out = user;
    return 0;
}

static int user_update(struct meta *db, int64_t user_id, const char *sql, const char *text,
                       int value, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, sql, err);
    if (rc < 0)
        return rc;
    if (text != NULL)
        sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int(stmt, 1, value);
    sqlite3_bind_int64(stmt, 2, user_id);
    return meta_stmt_run_by_id(stmt, db, "update user", "user", user_id, err);
}

int meta_user_set_password(int64_t *sessions_deleted, struct meta *db, int64_t user_id,
                           const char *password, struct hub_error *err)
{
    char hash[HASH_TEXT_BYTES];
    int rc;

    if (password == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing password");
    rc = password_hash(hash, password, err);
    if (rc < 0)
        return rc;
    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    rc = user_update(db, user_id, "UPDATE users SET password_hash = ? WHERE id = ?", hash, 0, err);
    if (rc == 0)
        rc = meta_session_delete_user(sessions_deleted, db, user_id, err);
    if (rc == 0)
        rc = meta_tx_commit(db, err);
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

int meta_user_set_disabled(int64_t *sessions_deleted, int64_t *jobs_canceled, struct meta *db,
                           int64_t user_id, bool disabled, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sessions_deleted != NULL)
        *sessions_deleted = 0;
    if (jobs_canceled != NULL)
        *jobs_canceled = 0;
    rc = meta_tx_begin(db, err);
    if (rc < 0)
        return rc;
    /* ?1 is the new disabled_at: disabling an already disabled account keeps its first time. */
    rc = meta_stmt_prepare(&stmt, db,
                           "UPDATE users SET disabled_at = CASE WHEN ?1 = 0 OR disabled_at = 0 "
                           "THEN ?1 ELSE disabled_at END WHERE id = ?2",
                           err);
    if (rc == 0) {
        sqlite3_bind_int64(stmt, 1, disabled ? meta_now() : 0);
        sqlite3_bind_int64(stmt, 2, user_id);
        rc = meta_stmt_run_by_id(stmt, db, "update user", "user", user_id, err);
    }
    if (rc == 0 && disabled)
        rc = meta_session_delete_user(sessions_deleted, db, user_id, err);
    /* One transaction leaves no job out, because a job claimed after the commit fails at the
     * worker's owner check and every job running before it is marked here. */
    if (rc == 0 && disabled)
        rc = meta_job_cancel_running_of_owner(jobs_canceled, db, user_id, err);
    if (rc == 0)
        rc = meta_tx_commit(db, err);
    if (rc < 0)
        meta_tx_rollback(db);
    return rc;
}

int meta_user_set_admin(struct meta *db, int64_t user_id, bool is_admin, struct hub_error *err)
{
    return user_update(db, user_id, "UPDATE users SET is_admin = ? WHERE id = ?", NULL,
                       is_admin ? 1 : 0, err);
}

int meta_user_count_admins(int64_t *out, struct meta *db, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(
        &stmt, db, "SELECT count(*) FROM users WHERE is_admin = 1 AND disabled_at = 0", err);
    if (rc < 0)
        return rc;
    return meta_stmt_get_int64(out, stmt, db, "count admins", err);
}

int meta_user_list(struct meta_user **out, size_t *count, struct meta *db, struct hub_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    rc = meta_stmt_prepare(&stmt, db, "SELECT " USER_COLUMNS " FROM users ORDER BY name", err);
    if (rc < 0)
        return rc;
    return meta_stmt_collect((void **)out, count, stmt, sizeof(**out), user_from_row, db,
                             "list users", err);
}
