/* pr_merge: opening, merging, closing and reopening a pull request, shared by the Hub API and
 * the web pages, so both apply the same rules, take the same repo lock and record the result
 * the same way. */
#ifndef PR_MERGE_H
#define PR_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"
#include "meta_pr.h"
#include "meta_repo.h"
#include "repo.h"

struct meta;

/* A git-lfs lock that stops a merge. */
struct pr_lock {
    char path[HUB_MAX_PATH_BYTES + 1];
    char owner[HUB_MAX_REPO_NAME_BYTES + 1];
};

/** Looks for a git-lfs lock that stops user_id from merging pr (git repo git): one held by
 * someone other than user_id and the pull request's author, on a path that the pull request
 * changes since it left its target branch. A push by user_id with these changes would be
 * refused for the same lock. Sets *found and fills out when there is one. Returns 0,
 * HUB_ENOTFOUND (refs/pr/N or the branch is gone), HUB_ENOMEM or HUB_EIO. */
int pr_merge_lock_find(struct pr_lock *out, bool *found, struct meta *db, struct repo *git,
                       const struct meta_pr *pr, int64_t user_id, struct hub_error *err);

/* Seconds after pr_open_once opened a pull request during which the same submission
 * returns that pull request instead of opening another. */
#define PR_OPEN_ONCE_WINDOW_S 600

/** Checks the title and description of a new pull request and writes the title without
 * the whitespace around it to title_out. A title must not be blank and a description may be
 * NULL. Neither may hold control characters, except tabs and line breaks (LF or CRLF) in the
 * description, or exceed META_PR_MAX_TITLE_BYTES or META_PR_MAX_DESCRIPTION_BYTES after
 * trimming. Returns 0, HUB_EINVAL (blank or control character), HUB_ETOOBIG or HUB_ENOMEM,
 * with a message that names the field. */
int pr_text_check(char title_out[META_PR_MAX_TITLE_BYTES + 1], const char *title,
                  const char *description, struct hub_error *err);

/** Opens an empty pull request on row (git repo git) by author_id (author_name) that proposes
 * the commits of the new ref refs/pr/N for target_branch (NULL: main). refs/pr/N starts at the
 * branch head, so the pull request has no commits until the author commits or pushes to it.
 * Title and description must pass pr_text_check, and the title is stored without the
 * whitespace around it (a NULL description is ""). The caller checks that the author may read
 * the repo. Fills out with the new row. Returns 0, HUB_EINVAL (blank title or a control
 * character), HUB_ETOOBIG (title or description too long), HUB_ENOTFOUND (target_branch is not a
 * branch of the repo, or the repo or user row is gone), HUB_ECONFLICT or HUB_EIO. */
int pr_open(struct meta_pr *out, struct meta *db, struct repo *git, const struct meta_repo *row,
            const char *title, const char *description, const char *target_branch,
            int64_t author_id, const char *author_name, struct hub_error *err);

/** Opens a pull request as pr_open does, unless author_id opened one with the same trimmed
 * title, description and target branch in the last PR_OPEN_ONCE_WINDOW_S seconds that is
 * still open and has no commits. Then it fills out with that one and sets *reused, so a form
 * sent twice (Back and submit again, or a double click) opens one pull request. Returns as
 * pr_open. */
int pr_open_once(struct meta_pr *out, bool *reused, struct meta *db, struct repo *git,
                 const struct meta_repo *row, const char *title, const char *description,
                 const char *target_branch, int64_t author_id, const char *author_name,
                 struct hub_error *err);

/** Merges open pull request number of row (git repo git) into its target branch with
 * repo_merge for user merger_id. It holds the repo lock from the status check to the status
 * update, so no commit or push lands on refs/pr/N meanwhile, and res->source_commit is the
 * head of refs/pr/N that was merged. Then it marks the pull request merged with the new head in
 * pr_out with merger_id as the author of that status change, and records the commit time on
 * the repo, with the head of main when the target is main.
 * The message of a merge commit names the pull request and its title. Returns 0; HUB_ENOTFOUND (no
 * such pull request, or its branch is gone); HUB_ECONFLICT (the pull request is not open, or files
 * conflict: then res->total_conflicts > 0); HUB_EINVAL (refs/pr/N has no commits after its base);
 * HUB_EIO. When the target branch contains refs/pr/N already, as after a writer merged it with git,
 * no commit is made: the pull request is marked merged at the branch head and res->contained
 * is set. Once the branch has moved, the merge is final: a failure to update the rows after
 * it is logged, not returned. Dispose res with repo_merge_result_dispose() on every path.
 * A git-lfs lock that pr_merge_lock_find() finds stops the merge with HUB_ECONFLICT; then
 * lock, when not NULL, names it (lock->path is "" otherwise). */
int pr_merge(struct repo_merge_result *res, struct meta_pr *pr_out, struct pr_lock *lock,
             struct meta *db, struct repo *git, const struct meta_repo *row, int64_t number,
             int64_t merger_id, const char *author_name, const char *author_email,
             struct hub_error *err);

/** Closes or reopens (status META_PR_OPEN or META_PR_CLOSED) pull request number of row for
 * user actor_id under the repo lock of git, so that it cannot interleave with a merge, a
 * commit or a push. Fills pr with the updated row and *event (NULL allowed) with the recorded
 * status change, whose id is 0 when the pull request had that status already. The caller
 * checks who may do this. Returns 0, HUB_EINVAL (status META_PR_MERGED), HUB_ENOTFOUND,
 * HUB_ECONFLICT (the pull request is merged, which is final) or HUB_EIO. */
int pr_set_status(struct meta_pr *pr, struct meta_pr_event *event, struct meta *db,
                  struct repo *git, const struct meta_repo *row, int64_t number,
                  enum meta_pr_status status, int64_t actor_id, struct hub_error *err);

/** Checks that pull request number of repo_id is open, for a commit to its refs/pr/N. Call it
 * under the repo lock (as a repo_commit_request check), so that the status it read still
 * holds when the ref moves. Returns 0, HUB_ECONFLICT (merged or closed, with a message that
 * names what to do), HUB_ENOTFOUND or HUB_EIO. */
int pr_check_open(struct meta *db, int64_t repo_id, int64_t number, struct hub_error *err);

/** Sets the HUB_ECONFLICT error for a commit or push to pull request pr, which is not open:
 * it names the status and what to do instead, which for a merged one is to open a new one.
 * Returns HUB_ECONFLICT. */
int pr_status_error(struct hub_error *err, const struct meta_pr *pr);

/** Marks merged every open pull request of row that targets branch and whose refs/pr/N
 * commit head contains, because a git push by user pusher_id moved branch from old_head (NULL
 * or all zeros for a new branch) to head, with pusher_id as the author of each status change.
 * It records old_head as the branch head before the merge when old_head
 * did not contain refs/pr/N. It takes the repo lock of git, so the caller must not hold it. A
 * pull request with no commits after its base is left open. Writes how many were marked into
 * *marked. Failures for one pull request are logged and skipped, because the push has landed
 * already. Returns 0, or HUB_EIO when the list cannot be read. */
int pr_mark_merged_by_push(size_t *marked, struct meta *db, struct repo *git,
                           const struct meta_repo *row, const char *branch, const char *old_head,
                           const char *head, int64_t pusher_id, struct hub_error *err);

/** Writes the message for a merge that failed with conflicts (err from pr_merge) into buf: the
 * files, and how a writer or the author can still land the change. */
void pr_merge_conflict_message(char *buf, size_t cap, const struct meta_pr *pr,
                               const struct hub_error *err);

#endif
