/* pr_changes: the commits and the diff range of a pull request. */
#include "pr_changes.h"

#include <stdio.h>
#include <string.h>

int pr_changes_find(struct pr_changes *out, struct repo *git, const struct meta_pr *pr,
                    struct hub_error *err)
{
    struct hub_error ignored = HUB_ERROR_INIT;
    char ref[32], target_ref[HUB_MAX_REVISION_BYTES + 16];
    char target[REPO_OID_HEX_BYTES + 1];
    const char *against = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)pr->number);
    rc = repo_revision_resolve(out->head, git, ref, err);
    if (rc < 0)
        return rc;
    if (pr->status == META_PR_MERGED) {
        if (pr->target_before_merge[0] != '\0')
            against = pr->target_before_merge;
    } else {
        snprintf(target_ref, sizeof(target_ref), "refs/heads/%s", pr->target_branch);
        if (repo_revision_resolve(target, git, target_ref, &ignored) == 0)
            against = target;
    }
    /* The same merge base as the conflict check and the merge use. */
    if (against != NULL &&
        repo_merge_base(out->merge_base, git, against, out->head, &ignored) == 0) {
        snprintf(out->excluded, sizeof(out->excluded), "%s", against);
        return 0;
    }
    snprintf(out->excluded, sizeof(out->excluded), "%s", pr->base_commit);
    snprintf(out->merge_base, sizeof(out->merge_base), "%s", pr->base_commit);
    out->from_base_commit = true;
    return 0;
}

int pr_changes_commits(struct repo_commit_info **out, size_t *count, struct repo *git,
                       const struct pr_changes *changes, struct hub_error *err)
{
    size_t end = 0;
    int rc;

    if (!changes->from_base_commit)
        return repo_log_range(out, count, git, changes->head, changes->excluded, HUB_MAX_LIST_LIMIT,
                              err);
    /* The first-parent history up to base_commit, as pull requests were always shown before
     * the target head was recorded. */
    rc = repo_log(out, count, NULL, git, changes->head, 0, HUB_MAX_LIST_LIMIT, err);
    if (rc < 0)
        return rc;
    while (end < *count && strcmp((*out)[end].id, changes->excluded) != 0)
        end++;
    for (size_t i = end; i < *count; i++)
        repo_commit_info_dispose(&(*out)[i]);
    *count = end;
    return 0;
}
