/* meta_repo: the repos table (one row per hosted git repo) and the access rules.
 *
 * Read access: a public repo is readable by anyone, anonymous callers included. A private
 * repo is readable by its owner user, by every member of its owner organisation and by
 * admins. Write access: the owner user, organisation members with the write or admin role,
 * and admins. The HTTP layer responds to a private repo the caller cannot read exactly as
 * to a missing one. */
#ifndef META_REPO_H
#define META_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"
#include "hub_name.h"

struct meta;

struct meta_repo {
    int64_t id;
    enum hub_repo_type type;
    char ns[HUB_MAX_REPO_NAME_BYTES + 1]; /* owner user or organisation name */
    char name[HUB_MAX_REPO_NAME_BYTES + 1];
    int64_t owner_user_id; /* > 0 when a user owns it, else 0 */
    int64_t owner_org_id;  /* > 0 when an organisation owns it, else 0 */
    bool is_private;
    int64_t created_at; /* seconds since the epoch */
    int64_t updated_at; /* last commit or setting change */
    int64_t downloads;
    char head_commit[41];                       /* main's commit id when last touched, or "" */
    char base_model[HUB_MAX_REPO_ID_BYTES + 1]; /* "ns/name" of the base model, or "" */
    /* The Hub's _id: 8 hex digits of created_at, then 16 random ones. No other repo gets it,
     * even after this one is deleted. */
    char hub_id[25];
};

enum meta_repo_sort {
    META_REPO_SORT_UPDATED = 0,   /* newest update first (the default) */
    META_REPO_SORT_CREATED = 1,   /* newest first */
    META_REPO_SORT_DOWNLOADS = 2, /* most first */
    META_REPO_SORT_NAME = 3,      /* "ns/name" ascending */
};

/* Filters for meta_repo_list; zero-initialise, then set what you need. */
struct meta_repo_query {
    enum hub_repo_type type;
    const char *search;     /* substring of "ns/name", case-insensitive; NULL for all */
    const char *author;     /* exact namespace, or NULL */
    const char *base_model; /* exact base_model ("ns/name"), or NULL: lists adapters of it */
    enum meta_repo_sort sort;
    bool ascending;         /* reverse the sort's default direction */
    int64_t viewer_user_id; /* private repos this user can read are included; 0: anonymous */
    size_t limit;           /* 1 to HUB_MAX_LIST_LIMIT; 0 means HUB_MAX_LIST_LIMIT */
    size_t offset;
    bool all_visible; /* every repo, private ones included (admin tools, fsck, gc) */
};

/** Inserts a repo row owned by the user or organisation named ns. Fills *out (NULL allowed).
 * Returns 0, HUB_EINVAL or HUB_ETOOBIG (names), HUB_ENOTFOUND (no user or organisation ns),
 * HUB_ECONFLICT (exists, compared without regard to case) or HUB_EIO. The git repo itself is
 * created by repo_create() with the same ns and name. Later lookups ignore case but folders on
 * disk do not, so open the git repo with the row's ns and name, never with the request's. */
int meta_repo_insert(struct meta_repo *out, struct meta *db, enum hub_repo_type type,
                     const char *ns, const char *name, bool is_private, struct hub_error *err);

/** Looks a repo up by type and "ns"/"name". Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_repo_get(struct meta_repo *out, struct meta *db, enum hub_repo_type type, const char *ns,
                  const char *name, struct hub_error *err);

/** Looks a repo up by id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_repo_get_by_id(struct meta_repo *out, struct meta *db, int64_t repo_id,
                        struct hub_error *err);

/** Deletes the row and its LFS links (the blobs stay until gc). Returns 0, HUB_ENOTFOUND or
 * HUB_EIO. */
int meta_repo_delete(struct meta *db, int64_t repo_id, struct hub_error *err);

/** Lists the repos matching q that q->viewer_user_id may read. *out is malloc'd (free()),
 * *total (NULL allowed) is the count of matches before limit and offset. Returns 0,
 * HUB_EINVAL, HUB_ETOOBIG (search or limit), HUB_ENOMEM or HUB_EIO. */
int meta_repo_list(struct meta_repo **out, size_t *count, size_t *total, struct meta *db,
                   const struct meta_repo_query *q, struct hub_error *err);

/** Sets or clears the private flag. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_repo_set_private(struct meta *db, int64_t repo_id, bool is_private, struct hub_error *err);

/** Records a new commit: sets updated_at to now and head_commit to commit_id (40 hex, or
 * NULL to keep it). Returns 0, HUB_EINVAL, HUB_ENOTFOUND or HUB_EIO. */
int meta_repo_touch(struct meta *db, int64_t repo_id, const char *commit_id, struct hub_error *err);

/** Sets base_model ("ns/name", or NULL or "" to clear). Returns 0, HUB_EINVAL, HUB_ENOTFOUND
 * or HUB_EIO. */
int meta_repo_set_base_model(struct meta *db, int64_t repo_id, const char *base_model,
                             struct hub_error *err);

/** Adds one to the download counter. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_repo_downloads_bump(struct meta *db, int64_t repo_id, struct hub_error *err);

/** Sets *out to whether user_id (0 for anonymous) may read repo. Returns 0 or HUB_EIO. */
int meta_repo_can_read(bool *out, struct meta *db, const struct meta_repo *repo, int64_t user_id,
                       struct hub_error *err);

/** Sets *out to whether user_id (0 for anonymous: always false) may write to repo. Returns 0
 * or HUB_EIO. */
int meta_repo_can_write(bool *out, struct meta *db, const struct meta_repo *repo, int64_t user_id,
                        struct hub_error *err);

/** Sets *out to whether user_id may create repos under namespace ns: its own name, an
 * organisation where it has the write or admin role, or any namespace for admins. Returns 0,
 * HUB_ENOTFOUND (no such namespace) or HUB_EIO. */
int meta_namespace_can_write(bool *out, struct meta *db, const char *ns, int64_t user_id,
                             struct hub_error *err);

#endif
