/* meta_lfs_lock: the git-lfs locks that stop a change, read from the git_lfs_locks table.
 * A lock held by another user on a path stops a git push, a commit through the Hub API and
 * the merge of a pull request that change that path. This module owns that rule, so the
 * push hook, the commit API and the merge (with its web page) cannot drift apart. Runs on
 * the thread that owns db. */
#ifndef META_LFS_LOCK_H
#define META_LFS_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"

struct meta;

/* One row of git_lfs_locks with the name of its owner. */
struct meta_lfs_lock {
    int64_t id;
    char path[HUB_MAX_PATH_BYTES + 1];
    int64_t owner_id;
    char owner_name[HUB_MAX_REPO_NAME_BYTES + 1];
    int64_t locked_at; /* seconds since the epoch */
};

/* Callback of meta_lfs_lock_scan_others(): returns 0 to go on, anything else to stop. */
typedef int (*meta_lfs_lock_fn)(const struct meta_lfs_lock *lock, void *arg);

/** Calls fn, in lock id order, for each git-lfs lock of repo_id that none of the
 * excluded_count users in excluded owns. With paths NULL, every path counts. Otherwise only locks
 * on one of the path_count paths count, and paths must be sorted by strcmp(). A nonzero
 * return from fn stops the scan and is returned. Returns 0, that value or HUB_EIO. */
int meta_lfs_lock_scan_others(struct meta *db, int64_t repo_id, const int64_t *excluded,
                              size_t excluded_count, const char *const *paths, size_t path_count,
                              meta_lfs_lock_fn fn, void *arg, struct hub_error *err);

#endif
