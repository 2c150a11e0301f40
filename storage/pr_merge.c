/* pr_merge: merge a pull request and record the result. */
#include "pr_merge.h"

#include "hub_log.h"
#include "meta.h"

#include <stdio.h>
#include <string.h>

int pr_merge(struct repo_merge_result *res, struct meta_pr *pr, struct meta *db, struct repo *git,
             const struct meta_repo *row, int64_t number, const char *author_name,
             const char *author_email, struct hub_error *err)
{
    struct repo_merge_request mreq = {0};
    struct hub_error later = HUB_ERROR_INIT;
    char ref[32], message[META_PR_MAX_TITLE_BYTES + 64], head[REPO_OID_HEX_BYTES + 1];
    bool to_main;
    int rc;

    memset(res, 0, sizeof(*res));
    rc = meta_pr_get(pr, db, row->id, number, err);
    if (rc < 0)
        return rc;
    if (pr->status == META_PR_MERGED)
        return hub_error_set(err, HUB_ECONFLICT, "pull request #%lld is already merged",
                             (long long)number);
    if (pr->status != META_PR_OPEN)
        return hub_error_set(err, HUB_ECONFLICT,
                             "pull request #%lld is closed; reopen it before merging",
                             (long long)number);
    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)number);
    rc = repo_revision_resolve(head, git, ref, err);
    if (rc < 0)
        return rc;
    if (strcmp(head, pr->base_commit) == 0)
        return hub_error_set(err, HUB_EINVAL,
                             "pull request #%lld has no commits yet; commit to %s first or close "
                             "it",
                             (long long)number, ref);
    /* Git ends commit messages with a newline. Without it, git cat-file -p runs the message
     * into whatever the terminal prints next. */
    snprintf(message, sizeof(message), "Merge pull request #%lld: %s\n", (long long)number,
             pr->title);
    mreq.branch = pr->target_branch;
    mreq.source = ref;
    mreq.author_name = author_name;
    mreq.author_email = author_email;
    mreq.message = message;
    /* A writer who resolved conflicts with git merged refs/pr/N into the branch already, so
     * the merge only records that. */
    mreq.accept_contained = true;
    rc = repo_merge(res, git, &mreq, err);
    if (rc < 0)
        return rc;

    to_main = strcmp(pr->target_branch, REPO_DEFAULT_BRANCH) == 0;
    if (meta_pr_set_status(db, row->id, number, META_PR_MERGED, res->commit, &later) < 0)
        hub_log(HUB_LOG_ERROR, "pr", "cannot mark pull request #%lld merged repo=%s/%s error=%s",
                (long long)number, row->ns, row->name, later.msg);
    if (meta_repo_touch(db, row->id, to_main ? res->commit : NULL, &later) < 0)
        hub_log(HUB_LOG_WARN, "pr", "cannot record the merge time repo=%s/%s error=%s", row->ns,
                row->name, later.msg);
    pr->status = META_PR_MERGED;
    snprintf(pr->merged_commit, sizeof(pr->merged_commit), "%s", res->commit);
    pr->updated_at = meta_now();
    return 0;
}

void pr_merge_conflict_message(char *buf, size_t cap, const struct meta_pr *pr,
                               const struct hub_error *err)
{
    snprintf(buf, cap,
             "Pull request #%lld cannot be merged: %s. A writer can resolve this with git: fetch "
             "refs/pr/%lld, merge it into %s, fix the conflicts, push %s, then merge again, "
             "which marks the pull request merged. Without write access, open a new pull "
             "request on top of the current %s and close this one.",
             (long long)pr->number, err->msg, (long long)pr->number, pr->target_branch,
             pr->target_branch, pr->target_branch);
}
