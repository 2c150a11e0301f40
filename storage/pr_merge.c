/* pr_merge: merge a pull request and record the result. */
#include "pr_merge.h"

#include "hub_log.h"
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
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

int pr_mark_merged_by_push(size_t *marked, struct meta *db, struct repo *git,
                           const struct meta_repo *row, const char *branch, const char *head,
                           struct hub_error *err)
{
    enum meta_pr_status open = META_PR_OPEN;
    struct meta_pr *prs = NULL;
    size_t count = 0;
    int rc;

    *marked = 0;
    rc = meta_pr_list(&prs, &count, db, row->id, &open, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        struct hub_error one = HUB_ERROR_INIT;
        char ref[32], pr_head[REPO_OID_HEX_BYTES + 1], base[REPO_OID_HEX_BYTES + 1];

        if (strcmp(prs[i].target_branch, branch) != 0)
            continue;
        snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)prs[i].number);
        if (repo_revision_resolve(pr_head, git, ref, &one) < 0)
            continue;
        /* An empty pull request's head is its base, which every later head contains. */
        if (strcmp(pr_head, prs[i].base_commit) == 0)
            continue;
        /* head contains pr_head when their best common ancestor is pr_head itself. */
        if (repo_merge_base(base, git, pr_head, head, &one) < 0 || strcmp(base, pr_head) != 0)
            continue;
        if (meta_pr_set_status(db, row->id, prs[i].number, META_PR_MERGED, head, &one) < 0) {
            hub_log(HUB_LOG_ERROR, "pr",
                    "cannot mark pull request #%lld merged after a push repo=%s/%s error=%s",
                    (long long)prs[i].number, row->ns, row->name, one.msg);
            continue;
        }
        hub_log(HUB_LOG_INFO, "pr",
                "pull request merged by a push repo=%s/%s number=%lld branch=%s commit=%s", row->ns,
                row->name, (long long)prs[i].number, branch, head);
        (*marked)++;
    }
    free(prs);
    return 0;
}

void pr_merge_conflict_message(char *buf, size_t cap, const struct meta_pr *pr,
                               const struct hub_error *err)
{
    snprintf(buf, cap,
             "Pull request #%lld cannot be merged: %s. A writer can resolve this with git: fetch "
             "refs/pr/%lld, merge it into %s, fix the conflicts and push %s, which marks the "
             "pull request merged. Without write access, open a new pull "
             "request on top of the current %s and close this one.",
             (long long)pr->number, err->msg, (long long)pr->number, pr->target_branch,
             pr->target_branch, pr->target_branch);
}
