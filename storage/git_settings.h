/* git_settings: per-repo git settings stored in the git_protected_branches table (migration
 * 0004_git.sql). A protected branch refuses force pushes and deletion, through git push and
 * through the API's branch routes; API commits are fast-forward by construction and are not
 * affected. Runs on the thread that owns db. */
#ifndef GIT_SETTINGS_H
#define GIT_SETTINGS_H

#include "hub_error.h"

#include <stdbool.h>
#include <stdint.h>

struct meta;

/** Writes the protected branches of repo_id as one malloc'd space-separated string into *out
 * ("" when none), owned by the caller (free()). Returns 0, HUB_ENOMEM or HUB_EIO. */
int gitsettings_protected_branches(char **out, struct meta *db, int64_t repo_id,
                                   struct hub_error *err);

/** Protects branch of repo_id (protected true) or lifts the protection. Doing either twice
 * is a no-op. Sets *changed (NULL allowed) to whether a row was added or removed. Returns 0,
 * HUB_EINVAL (branch name, and the message names the rule it breaks), HUB_ENOTFOUND (repo)
 * or HUB_EIO. */
int gitsettings_branch_protect(struct meta *db, int64_t repo_id, const char *branch, bool protected,
                               bool *changed, struct hub_error *err);

#endif
