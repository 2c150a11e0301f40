/* meta_user: user accounts and their scrypt password hashes. Every function takes the calling
 * thread's own connection (see meta.h) and may run on any thread that owns one. */
#ifndef META_USER_H
#define META_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"

struct meta;

struct meta_user {
    int64_t id;                             /* > 0 */
    char name[HUB_MAX_REPO_NAME_BYTES + 1]; /* passes hub_name_check */
    bool is_admin;
    int64_t created_at;  /* seconds since the epoch */
    int64_t disabled_at; /* seconds since the epoch when an admin disabled it, or 0 */
};

/** Adds a user with a password of HUB_MIN_PASSWORD_BYTES to HUB_MAX_PASSWORD_BYTES bytes,
 * stored as an scrypt hash (N=2^15, r=8, p=1, 16-byte random salt). password may be NULL
 * for an account that cannot log in with a password (tokens only). Sets *out_id (NULL
 * allowed). Returns 0, HUB_EINVAL (bad name or password), HUB_ETOOBIG, HUB_ECONFLICT (a user
 * or organisation already has that name) or HUB_EIO. */
int meta_user_add(int64_t *out_id, struct meta *db, const char *name, const char *password,
                  bool is_admin, struct hub_error *err);

/** Looks a user up by name. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_user_get_by_name(struct meta_user *out, struct meta *db, const char *name,
                          struct hub_error *err);

/** Looks a user up by id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_user_get_by_id(struct meta_user *out, struct meta *db, int64_t id, struct hub_error *err);

/** Checks name and password; on success fills *out (NULL allowed). A wrong password, an
 * unknown user, a user without a password and a disabled user all return HUB_EAUTH with the
 * same message, and take about the same time. Returns 0, HUB_EAUTH or HUB_EIO. */
int meta_user_check_password(struct meta_user *out, struct meta *db, const char *name,
                             const char *password, struct hub_error *err);

/** Checks a password against the length rules of meta_user_add without hashing it. Returns
 * 0, HUB_EINVAL (shorter than HUB_MIN_PASSWORD_BYTES) or HUB_ETOOBIG. */
int meta_user_password_check(const char *password, struct hub_error *err);

/** Replaces a user's password (same rules as meta_user_add) and deletes the user's browser
 * sessions, so a browser logged in with the old password must log in again. Sets
 * *sessions_deleted (NULL allowed). Returns 0, HUB_EINVAL, HUB_ETOOBIG, HUB_ENOTFOUND or
 * HUB_EIO, after which nothing changed. */
int meta_user_set_password(int64_t *sessions_deleted, struct meta *db, int64_t user_id,
                           const char *password, struct hub_error *err);

/** Disables or enables an account. Disabling deletes the user's browser sessions and sets
 * *sessions_deleted (NULL allowed). It also requests the cancel of the user's running jobs
 * in the same transaction (meta_job_cancel_running_of_owner) and sets *jobs_canceled (NULL
 * allowed). From then on meta_user_check_password, meta_token_lookup and meta_session_lookup
 * reject the user. Tokens stay stored and work again once the account is enabled. The caller
 * keeps the last enabled admin enabled. Returns 0, HUB_ENOTFOUND or HUB_EIO, after which
 * nothing changed. */
int meta_user_set_disabled(int64_t *sessions_deleted, int64_t *jobs_canceled, struct meta *db,
                           int64_t user_id, bool disabled, struct hub_error *err);

/** Grants or removes admin rights. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_user_set_admin(struct meta *db, int64_t user_id, bool is_admin, struct hub_error *err);

/** Counts the enabled users with admin rights. Returns 0 or HUB_EIO. */
int meta_user_count_admins(int64_t *out, struct meta *db, struct hub_error *err);

/** Lists every user ordered by name. *out is malloc'd and belongs to the caller (free());
 * NULL when *count is 0. Returns 0, HUB_ENOMEM or HUB_EIO. */
int meta_user_list(struct meta_user **out, size_t *count, struct meta *db, struct hub_error *err);

#endif
