/* repo_internal: the struct repo layout and helpers shared by repo.c, repo_tree.c and
 * repo_commit.c; not for use outside storage/. */
#ifndef REPO_INTERNAL_H
#define REPO_INTERNAL_H

#include <git2.h>

#include "repo.h"

struct repo {
    git_repository *git; /* owned; used by one thread at a time */
    char *path;          /* absolute path of the bare repo folder */
};

/** Fills err from libgit2's last error for code (a GIT_E* value) and returns the HUB_E* code:
 * GIT_ENOTFOUND -> HUB_ENOTFOUND, GIT_EEXISTS and GIT_EMODIFIED -> HUB_ECONFLICT,
 * GIT_EINVALIDSPEC and GIT_EAMBIGUOUS -> HUB_EINVAL, anything else -> HUB_EIO. */
int repo_error_from_git(struct hub_error *err, int code, const char *what);

/** Checks a repo-relative path (see repo.h). allow_root accepts "". Returns 0, HUB_EINVAL or
 * HUB_ETOOBIG. */
int repo_path_check(const char *path, bool allow_root, struct hub_error *err);

/** Checks a revision string: 1 to HUB_MAX_REVISION_BYTES bytes, no control characters. */
int repo_rev_check(const char *rev, struct hub_error *err);

/** Resolves rev to a commit object owned by the caller (git_commit_free()). */
int repo_commit_lookup_rev(git_commit **out, struct repo *r, const char *rev,
                           struct hub_error *err);

/** Writes the hex form of id into out (41 bytes). */
void repo_oid_hex(char out[REPO_OID_HEX_BYTES + 1], const git_oid *id);

#endif
