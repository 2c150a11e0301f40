/* git_locks: git-lfs file locks, rows of the git_lfs_locks table (migration 0004_git.sql).
 * A lock marks one path of one repo as being edited by one user. git-lfs checks the locks
 * before a push and refuses to push changes to files that someone else locked. Runs on the
 * thread that owns db. */
#ifndef GIT_LOCKS_H
#define GIT_LOCKS_H

#include "hub_error.h"
#include "hub_limits.h"
#include "meta_lfs_lock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta;

/** Locks path of repo_id for owner_id and fills *out. When the path is already locked, fills
 * *out with the existing lock and returns HUB_ECONFLICT. Returns 0, HUB_EINVAL (path),
 * HUB_ECONFLICT or HUB_EIO. */
int gitlocks_create(struct meta_lfs_lock *out, struct meta *db, int64_t repo_id,
                    const char *path, int64_t owner_id, struct hub_error *err);

/** Lists up to limit locks of repo_id with an id above after_id, ordered by id, into the
 * malloc'd *out (free()). path and id filter when not NULL and not 0. Returns 0 or HUB_EIO. */
int gitlocks_list(struct meta_lfs_lock **out, size_t *count, struct meta *db, int64_t repo_id,
                  const char *path, int64_t id, int64_t after_id, size_t limit,
                  struct hub_error *err);

struct hf_commit_op;

/** Looks for a lock of repo_id, owned by someone other than user_id, on a path that one of the
 * commit operations changes (a folder deletion changes every path under it). Fills *out and
 * sets *found when there is one. Returns 0, HUB_ENOMEM or HUB_EIO. */
int gitlocks_find_conflict(struct meta_lfs_lock *out, bool *found, struct meta *db,
                           int64_t repo_id, int64_t user_id, const struct hf_commit_op *ops,
                           size_t op_count, struct hub_error *err);

/** Reads lock id of repo_id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int gitlocks_get(struct meta_lfs_lock *out, struct meta *db, int64_t repo_id, int64_t id,
                 struct hub_error *err);

/** Deletes lock id of repo_id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int gitlocks_delete(struct meta *db, int64_t repo_id, int64_t id, struct hub_error *err);

#endif
