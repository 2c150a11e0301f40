/* meta_session: browser login sessions. The cookie carries a random session id; the
 * database keeps its SHA-256, the user, a CSRF secret for forms and the expiry time. */
#ifndef META_SESSION_H
#define META_SESSION_H

#include <stdint.h>

#include "hub_error.h"

struct meta;

#define META_SESSION_ID_BYTES   43 /* base64url of 32 random bytes, without the NUL */
#define META_SESSION_CSRF_BYTES 43 /* base64url of 32 random bytes, without the NUL */

struct meta_session {
    int64_t user_id;
    char csrf[META_SESSION_CSRF_BYTES + 1];
    int64_t created_at; /* seconds since the epoch */
    int64_t expires_at; /* seconds since the epoch */
};

/** Creates a session for user_id that lasts ttl_s seconds (> 0) and writes its id into id_out
 * (the cookie value) and its CSRF secret into csrf_out (NULL allowed). Returns 0,
 * HUB_EINVAL, HUB_ENOTFOUND (user), HUB_EINTERNAL (no randomness) or HUB_EIO. */
int meta_session_create(char id_out[META_SESSION_ID_BYTES + 1],
                        char csrf_out[META_SESSION_CSRF_BYTES + 1], struct meta *db,
                        int64_t user_id, int64_t ttl_s, struct hub_error *err);

/** Looks up a session by the id from the cookie. Returns 0, HUB_EAUTH (malformed, unknown,
 * expired, or of a disabled user) or HUB_EIO. */
int meta_session_lookup(struct meta_session *out, struct meta *db, const char *id,
                        struct hub_error *err);

/** Deletes a session (logout); deleting a missing one is a no-op. Returns 0 or HUB_EIO. */
int meta_session_delete(struct meta *db, const char *id, struct hub_error *err);

/** Deletes every session of user_id and sets *deleted (NULL allowed), so each browser of that
 * user must log in again. Returns 0 or HUB_EIO. */
int meta_session_delete_user(int64_t *deleted, struct meta *db, int64_t user_id,
                             struct hub_error *err);

/** Deletes every expired session and sets *deleted (NULL allowed). Returns 0 or HUB_EIO. */
int meta_session_purge_expired(int64_t *deleted, struct meta *db, struct hub_error *err);

#endif
