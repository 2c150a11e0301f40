/* meta_token: access tokens for the API, git and git-lfs. A token is "hf_" and 34 random
 * base62 characters; the database stores only its SHA-256, so a lookup hashes the presented
 * secret and compares hashes, never the secret itself. */
#ifndef META_TOKEN_H
#define META_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"

struct meta;

#define META_TOKEN_SECRET_BYTES 37 /* "hf_" + 34 base62 characters, without the NUL */

enum meta_scope {
    META_SCOPE_READ = 0,
    META_SCOPE_WRITE = 1,
};

struct meta_token {
    int64_t id;
    int64_t user_id;
    char label[HUB_MAX_TOKEN_LABEL_BYTES + 1];
    enum meta_scope scope;
    char hint[8];         /* the last 4 characters of the secret, for lists; never enough to use */
    int64_t created_at;   /* seconds since the epoch */
    int64_t last_used_at; /* 0 when never used */
    int64_t revoked_at;   /* 0 while valid */
};

/** Returns "read" or "write". Any thread. */
const char *meta_scope_name(enum meta_scope scope);

/** Parses "read" or "write". Returns 0 or HUB_EINVAL. Any thread. */
int meta_scope_parse(enum meta_scope *out, const char *text, struct hub_error *err);

/** Creates a token for user_id and writes its secret, NUL-terminated, into secret_out. The
 * secret is shown once: it cannot be read back later. label may be NULL or "" (stored as "").
 * A label must not contain control characters (bytes below 0x20, and 0x7f), because
 * `atelier admin token list` prints it on one line. Sets *out_id (NULL allowed). Returns 0,
 * HUB_EINVAL or HUB_ETOOBIG (label), HUB_ENOTFOUND (user),
 * HUB_EINTERNAL (no randomness) or HUB_EIO. */
int meta_token_create(char secret_out[META_TOKEN_SECRET_BYTES + 1], int64_t *out_id,
                      struct meta *db, int64_t user_id, const char *label, enum meta_scope scope,
                      struct hub_error *err);

/** Looks up the token with this secret; fills *out with the token row and records the time
 * of use in last_used_at (at most once a minute). Returns 0, HUB_EAUTH (malformed, unknown,
 * revoked, or of a disabled user; one message for all four) or HUB_EIO. */
int meta_token_lookup(struct meta_token *out, struct meta *db, const char *secret,
                      struct hub_error *err);

/** Looks up the token with this secret as meta_token_lookup() does, without recording a use,
 * for pages that only check a secret they handed out. Same return values. */
int meta_token_find(struct meta_token *out, struct meta *db, const char *secret,
                    struct hub_error *err);

/** Looks a token up by id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_token_get(struct meta_token *out, struct meta *db, int64_t token_id,
                   struct hub_error *err);

/** Lists a user's tokens, revoked ones included, newest first. *out is malloc'd and belongs
 * to the caller (free()). Returns 0, HUB_ENOMEM or HUB_EIO. */
int meta_token_list(struct meta_token **out, size_t *count, struct meta *db, int64_t user_id,
                    struct hub_error *err);

/** Revokes a token; revoking it again is a no-op. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_token_revoke(struct meta *db, int64_t token_id, struct hub_error *err);

#endif
