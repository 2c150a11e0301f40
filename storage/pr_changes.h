/* pr_changes: what a pull request proposes, its commits and the range of its diff, shared by
 * the Hub API and the web page so both show the same list. */
#ifndef PR_CHANGES_H
#define PR_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

#include "hub_error.h"
#include "meta_pr.h"
#include "repo.h"

/* The range of commits that a pull request proposes. */
struct pr_changes {
    char head[REPO_OID_HEX_BYTES + 1]; /* head of refs/pr/N */
    /* The commits of the pull request are those reachable from head but not from this one:
     * the head of the target branch, or that head just before the merge. */
    char excluded[REPO_OID_HEX_BYTES + 1];
    char merge_base[REPO_OID_HEX_BYTES + 1]; /* old side of the diff, whose new side is head */
    /* No target head is known (branch deleted, or merged before it was recorded), so
     * excluded and merge_base are base_commit, and the commits are the first-parent history
     * of head after base_commit. */
    bool from_base_commit;
};

/** Works out the commits and the diff range of pull request pr in git, as other hubs show
 * them. An open or closed pull request proposes the commits of refs/pr/N that its target
 * branch lacks, and the diff from the merge base of that branch and refs/pr/N. So commits
 * that a rebase or a merge of the branch brought in are not its own. A merged one keeps what
 * it showed just before the merge, from target_before_merge. Returns 0, HUB_ENOTFOUND
 * (refs/pr/N is missing) or HUB_EIO. */
int pr_changes_find(struct pr_changes *out, struct repo *git, const struct meta_pr *pr,
                    struct hub_error *err);

/** Lists the commits of the range in changes, newest first, at most HUB_MAX_LIST_LIMIT. *out
 * is owned by the caller (repo_commits_free()). Returns 0, HUB_ENOTFOUND, HUB_ENOMEM or
 * HUB_EIO. */
int pr_changes_commits(struct repo_commit_info **out, size_t *count, struct repo *git,
                       const struct pr_changes *changes, struct hub_error *err);

#endif
