/* pr_merge: open, merge, close and reopen a pull request and record the result. */
#include "pr_merge.h"

#include "hub_log.h"
#include "hub_utf8.h"
#include "meta.h"
#include "meta_lfs_lock.h"
#include "repo_lock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int path_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keeps the first lock that stops the merge. */
static int lock_keep(const struct meta_lfs_lock *lock, void *arg)
{
    struct pr_lock *out = arg;

    snprintf(out->path, sizeof(out->path), "%s", lock->path);
    snprintf(out->owner, sizeof(out->owner), "%s", lock->owner_name);
    return 1;
}

/* Counts the UTF-8 characters in the first len bytes of text: the bytes that start one. */
static size_t pr_utf8_count(const char *text, size_t len)
{
    size_t count = 0;

    for (size_t i = 0; i < len; i++)
        count += ((unsigned char)text[i] & 0xC0) != 0x80;
    return count;
}

/* Finds the first control character of text: C0 (U+0000 to U+001F), DEL or C1 (U+0080 to
 * U+009F). When multiline is true, tab, newline and a carriage return before a newline are
 * allowed. Returns its byte offset and sets *code, or returns -1 when there is none. */
static long pr_control_find(const char *text, bool multiline, unsigned *code)
{
    for (size_t i = 0; text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];
        unsigned char next = (unsigned char)text[i + 1];

        if (multiline && (c == '\t' || c == '\n' || (c == '\r' && next == '\n')))
            continue;
        if (c < 0x20 || c == 0x7F) {
            *code = c;
            return (long)i;
        }
        if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {
            *code = next;
            return (long)i;
        }
    }
    return -1;
}

/* Checks text, the pull request field named what, for control characters and for its size
 * limit of max bytes. */
static int pr_field_check(const char *what, const char *text, size_t max, bool multiline,
                          struct hub_error *err)
{
    size_t len = strlen(text);
    unsigned code = 0;
    long at;

    /* The API's text comes through the JSON parser, which accepts only UTF-8, but a form's
     * text does not, and JSON replies cannot carry other bytes. */
    if (!hub_utf8_is_valid(text, len))
        return hub_error_set(err, HUB_EINVAL,
                             "pull request %s is not valid UTF-8; send the text as UTF-8", what);
    at = pr_control_find(text, multiline, &code);
    if (at >= 0)
        return hub_error_set(err, HUB_EINVAL,
                             "pull request %s contains the control character U+%04X at "
                             "character %zu; %s",
                             what, code, pr_utf8_count(text, (size_t)at) + 1,
                             multiline ? "only tabs and line breaks are allowed"
                                       : "a title is one line of printable text");
    /* Browsers count characters and the limit is in bytes, so the message gives both. */
    if (len > max)
        return hub_error_set(err, HUB_ETOOBIG,
                             "pull request %s is longer than %zu bytes: it has %zu bytes (%zu "
                             "characters of this text); shorten it",
                             what, max, len, pr_utf8_count(text, len));
    return 0;
}

int pr_text_check(char title_out[META_PR_MAX_TITLE_BYTES + 1], const char *title,
                  const char *description, struct hub_error *err)
{
    const char *spaces = " \t\n\r\v\f";
    size_t start, len;
    char *trimmed;
    int rc;

    if (title == NULL)
        title = "";
    start = strspn(title, spaces);
    len = strlen(title + start);
    while (len > 0 && strchr(spaces, title[start + len - 1]) != NULL)
        len--;
    if (len == 0)
        return hub_error_set(err, HUB_EINVAL, "missing pull request title");
    trimmed = strndup(title + start, len);
    if (trimmed == NULL)
        return hub_error_set(err, HUB_ENOMEM, "out of memory");
    rc = pr_field_check("title", trimmed, META_PR_MAX_TITLE_BYTES, false, err);
    if (rc == 0)
        memcpy(title_out, trimmed, len + 1);
    free(trimmed);
    if (rc == 0 && description != NULL)
        rc = pr_field_check("description", description, META_PR_MAX_DESCRIPTION_BYTES, true, err);
    return rc;
}

int pr_open(struct meta_pr *out, struct meta *db, struct repo *git, const struct meta_repo *row,
            const char *title, const char *description, const char *target_branch,
            int64_t author_id, const char *author_name, struct hub_error *err)
{
    struct hub_error cleanup = HUB_ERROR_INIT;
    char base[REPO_OID_HEX_BYTES + 1], ref[32], checked_title[META_PR_MAX_TITLE_BYTES + 1];
    char branch[HUB_MAX_REVISION_BYTES + 1];
    int rc;

    rc = pr_text_check(checked_title, title, description, err);
    if (rc < 0)
        return rc;
    if (target_branch == NULL)
        target_branch = REPO_DEFAULT_BRANCH;
    /* The row keeps the short name ("main" for "refs/heads/main" or "HEAD"), because the
     * merge, the change list and the push path build refs/heads/NAME from it. */
    if (!repo_revision_is_branch(branch, git, target_branch) ||
        repo_revision_resolve(base, git, branch, err) < 0)
        return hub_error_set(err, HUB_ENOTFOUND, "target branch '%.200s' not found in %s/%s",
                             target_branch, row->ns, row->name);
    rc = meta_pr_create(out, db, row->id, checked_title, description, author_id, author_name,
                        branch, base, err);
    if (rc < 0)
        return rc;
    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)out->number);
    rc = repo_pr_ref_create(git, ref, base, err);
    if (rc == 0)
        return 0;
    /* Without its ref the row would be a pull request that nobody can commit to. */
    hub_log(HUB_LOG_ERROR, "pr", "cannot create %s repo=%s/%s error=%s", ref, row->ns, row->name,
            err->msg);
    if (meta_pr_delete(db, row->id, out->number, &cleanup) < 0)
        hub_log(HUB_LOG_ERROR, "pr", "cannot delete pull request #%lld repo=%s/%s error=%s",
                (long long)out->number, row->ns, row->name, cleanup.msg);
    return rc;
}

/* Serialises pr_open_once, so two copies of one submission that arrive together (a double
 * click) cannot both miss the other's pull request. */
static pthread_mutex_t pr_open_once_mutex = PTHREAD_MUTEX_INITIALIZER;

int pr_open_once(struct meta_pr *out, bool *reused, struct meta *db, struct repo *git,
                 const struct meta_repo *row, const char *title, const char *description,
                 const char *target_branch, int64_t author_id, const char *author_name,
                 struct hub_error *err)
{
    char checked_title[META_PR_MAX_TITLE_BYTES + 1], ref[32], head[REPO_OID_HEX_BYTES + 1];
    char branch[HUB_MAX_REVISION_BYTES + 1];
    struct hub_error ignored = HUB_ERROR_INIT;
    bool found = false;
    int rc;

    *reused = false;
    if (target_branch == NULL)
        target_branch = REPO_DEFAULT_BRANCH;
    /* Compare with the short name that pr_open stores; pr_open reports a missing branch. */
    if (repo_revision_is_branch(branch, git, target_branch))
        target_branch = branch;
    rc = pr_text_check(checked_title, title, description, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&pr_open_once_mutex);
    rc = meta_pr_find_recent(out, &found, db, row->id, author_id, checked_title,
                             description != NULL ? description : "", target_branch,
                             meta_now() - PR_OPEN_ONCE_WINDOW_S, err);
    if (rc == 0 && found) {
        /* A pull request that got commits since is the author's work, not a lost reply. */
        snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)out->number);
        found = repo_revision_resolve(head, git, ref, &ignored) == 0 &&
                strcmp(head, out->base_commit) == 0;
    }
    if (rc == 0 && found)
        *reused = true;
    else if (rc == 0)
        rc = pr_open(out, db, git, row, checked_title, description, target_branch, author_id,
                     author_name, err);
    pthread_mutex_unlock(&pr_open_once_mutex);
    return rc;
}

int pr_merge_lock_find(struct pr_lock *out, bool *found, struct meta *db, struct repo *git,
                       const struct meta_pr *pr, int64_t user_id, struct hub_error *err)
{
    struct repo_path_list changed = {0};
    char ref[32], head[REPO_OID_HEX_BYTES + 1], base[REPO_OID_HEX_BYTES + 1];
    int64_t excluded[2] = {user_id, pr->author_id};
    int rc;

    *found = false;
    memset(out, 0, sizeof(*out));
    snprintf(ref, sizeof(ref), "refs/pr/%lld", (long long)pr->number);
    rc = repo_revision_resolve(head, git, ref, err);
    if (rc == 0)
        rc = repo_merge_base(base, git, pr->target_branch, head, err);
    /* A branch that contains the pull request already gets no change from the merge. */
    if (rc < 0 || strcmp(base, head) == 0)
        return rc;
    rc = repo_changed_paths(&changed, git, base, head, err);
    if (rc < 0 || changed.count == 0) {
        repo_path_list_dispose(&changed);
        return rc;
    }
    qsort(changed.paths, changed.count, sizeof(*changed.paths), path_compare);
    rc = meta_lfs_lock_scan_others(db, pr->repo_id, excluded, 2, (const char *const *)changed.paths,
                                   changed.count, lock_keep, out, err);
    repo_path_list_dispose(&changed);
    if (rc < 0)
        return rc;
    *found = rc > 0;
    return 0;
}

/* Does the work of pr_merge while the caller holds the repo lock. */
static int pr_merge_locked(struct repo_merge_result *res, struct meta_pr *pr, struct pr_lock *lock,
                           struct meta *db, struct repo *git, const struct meta_repo *row,
                           int64_t number, int64_t merger_id, const char *author_name,
                           const char *author_email, struct hub_error *err)
{
    struct repo_merge_request mreq = {0};
    struct hub_error later = HUB_ERROR_INIT;
    char ref[32], message[META_PR_MAX_TITLE_BYTES + 64], head[REPO_OID_HEX_BYTES + 1];
    char target_ref[HUB_MAX_REVISION_BYTES + 16], target[REPO_OID_HEX_BYTES + 1];
    char target_before[REPO_OID_HEX_BYTES + 1];
    struct hub_error missing = HUB_ERROR_INIT;
    struct pr_lock found_lock;
    bool to_main, locked;
    int rc;

    memset(res, 0, sizeof(*res));
    if (lock != NULL)
        memset(lock, 0, sizeof(*lock));
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
    /* The target branch may have been deleted since the pull request was opened. */
    snprintf(target_ref, sizeof(target_ref), "refs/heads/%s", pr->target_branch);
    if (repo_revision_resolve(target, git, target_ref, &missing) == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ECONFLICT,
                             "pull request #%lld targets branch '%s', which no longer exists; "
                             "create the branch again or close the pull request",
                             (long long)number, pr->target_branch);
    /* A push of these changes by the merger would be refused for another user's lock, so
     * the merge is too. The lock may be newer than the commits of the pull request. */
    rc = pr_merge_lock_find(&found_lock, &locked, db, git, pr, merger_id, err);
    if (rc < 0)
        return rc;
    if (locked) {
        if (lock != NULL)
            *lock = found_lock;
        return hub_error_set(err, HUB_ECONFLICT,
                             "pull request #%lld changes %.200s, which %s locked with git-lfs; "
                             "ask %s to run `git lfs unlock %.200s`, or break the lock with "
                             "`git lfs unlock --force %.200s`",
                             (long long)number, found_lock.path, found_lock.owner, found_lock.owner,
                             found_lock.path, found_lock.path);
    }
    /* Git ends commit messages with a newline. Without it, git cat-file -p runs the message
     * into whatever the terminal prints next. */
    snprintf(message, sizeof(message), "Merge pull request #%lld: %s\n", (long long)number,
             pr->title);
    /* The lock keeps refs/pr/N at head, so the merge takes the commits that the checks
     * above saw, and no commit can land on the ref after them. */
    mreq.branch = pr->target_branch;
    mreq.source = head;
    mreq.lock_held = true;
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
    /* When the branch contained refs/pr/N already, its head before this merge shows none of
     * the pull request's commits, so nothing is recorded and the API and the page fall
     * back to the commits after base_commit. */
    snprintf(target_before, sizeof(target_before), "%s", res->contained ? "" : res->branch_commit);
    if (meta_pr_set_status(NULL, db, row->id, number, META_PR_MERGED, merger_id, res->commit,
                           target_before, &later) < 0)
        hub_log(HUB_LOG_ERROR, "pr", "cannot mark pull request #%lld merged repo=%s/%s error=%s",
                (long long)number, row->ns, row->name, later.msg);
    if (meta_repo_touch(db, row->id, to_main ? res->commit : NULL, &later) < 0)
        hub_log(HUB_LOG_WARN, "pr", "cannot record the merge time repo=%s/%s error=%s", row->ns,
                row->name, later.msg);
    pr->status = META_PR_MERGED;
    snprintf(pr->merged_commit, sizeof(pr->merged_commit), "%s", res->commit);
    snprintf(pr->target_before_merge, sizeof(pr->target_before_merge), "%s", target_before);
    pr->updated_at = meta_now();
    return 0;
}

int pr_merge(struct repo_merge_result *res, struct meta_pr *pr, struct pr_lock *lock,
             struct meta *db, struct repo *git, const struct meta_repo *row, int64_t number,
             int64_t merger_id, const char *author_name, const char *author_email,
             struct hub_error *err)
{
    struct repo_lock *repo_lock = NULL;
    int rc;

    memset(res, 0, sizeof(*res));
    if (lock != NULL)
        memset(lock, 0, sizeof(*lock));
    rc = repo_lock_acquire(&repo_lock, repo_path_get(git), err);
    if (rc < 0)
        return rc;
    rc = pr_merge_locked(res, pr, lock, db, git, row, number, merger_id, author_name, author_email,
                         err);
    repo_lock_release(repo_lock);
    return rc;
}

int pr_set_status(struct meta_pr *pr, struct meta_pr_event *event, struct meta *db,
                  struct repo *git, const struct meta_repo *row, int64_t number,
                  enum meta_pr_status status, int64_t actor_id, struct hub_error *err)
{
    struct repo_lock *lock = NULL;
    int rc;

    if (status == META_PR_MERGED)
        return hub_error_set(err, HUB_EINVAL,
                             "pull request #%lld: a status change cannot merge; merge through "
                             "/merge",
                             (long long)number);
    rc = repo_lock_acquire(&lock, repo_path_get(git), err);
    if (rc < 0)
        return rc;
    rc = meta_pr_get(pr, db, row->id, number, err);
    if (rc == 0 && pr->status == META_PR_MERGED)
        rc = hub_error_set(err, HUB_ECONFLICT, "pull request #%lld is merged; its status is final",
                           (long long)number);
    if (rc == 0)
        rc = meta_pr_set_status(event, db, row->id, number, status, actor_id, NULL, NULL, err);
    if (rc == 0 && pr->status != status) {
        pr->status = status;
        pr->updated_at = meta_now();
    }
    repo_lock_release(lock);
    return rc;
}

int pr_check_open(struct meta *db, int64_t repo_id, int64_t number, struct hub_error *err)
{
    struct meta_pr pr;
    int rc = meta_pr_get(&pr, db, repo_id, number, err);

    if (rc < 0)
        return rc;
    if (pr.status != META_PR_OPEN)
        return pr_status_error(err, &pr);
    return 0;
}

int pr_status_error(struct hub_error *err, const struct meta_pr *pr)
{
    /* Merged is final, so only a closed pull request can be reopened. */
    return hub_error_set(err, HUB_ECONFLICT,
                         "pull request #%lld is %s; commits go only to open pull requests, so %s",
                         (long long)pr->number, meta_pr_status_name(pr->status),
                         pr->status == META_PR_CLOSED ? "reopen it or open a new one"
                                                      : "open a new one");
}

int pr_mark_merged_by_push(size_t *marked, struct meta *db, struct repo *git,
                           const struct meta_repo *row, const char *branch, const char *old_head,
                           const char *head, int64_t pusher_id, struct hub_error *err)
{
    enum meta_pr_status open = META_PR_OPEN;
    bool new_branch = old_head == NULL || strspn(old_head, "0") == strlen(old_head);
    struct repo_lock *lock = NULL;
    struct meta_pr *prs = NULL;
    size_t count = 0;
    int rc;

    *marked = 0;
    /* Under the lock, no commit can land on a refs/pr/N between the check that the branch
     * contains it and the status change. */
    rc = repo_lock_acquire(&lock, repo_path_get(git), err);
    if (rc < 0)
        return rc;
    rc = meta_pr_list(&prs, &count, db, row->id, &open, err);
    if (rc < 0) {
        repo_lock_release(lock);
        return rc;
    }
    for (size_t i = 0; i < count; i++) {
        struct hub_error one = HUB_ERROR_INIT;
        char ref[32], pr_head[REPO_OID_HEX_BYTES + 1], base[REPO_OID_HEX_BYTES + 1];
        char before[REPO_OID_HEX_BYTES + 1];

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
        /* An old head that contained refs/pr/N already would show no commits of it. */
        before[0] = '\0';
        if (!new_branch && repo_merge_base(base, git, pr_head, old_head, &one) == 0 &&
            strcmp(base, pr_head) != 0)
            snprintf(before, sizeof(before), "%s", old_head);
        if (meta_pr_set_status(NULL, db, row->id, prs[i].number, META_PR_MERGED, pusher_id, head,
                               before, &one) < 0) {
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
    repo_lock_release(lock);
    free(prs);
    return 0;
}

void pr_merge_conflict_message(char *buf, size_t cap, const struct meta_pr *pr,
                               const struct hub_error *err)
{
    snprintf(buf, cap,
             "Pull request #%lld cannot be merged: %s. A writer can resolve this with git: fetch "
             "refs/pr/%lld, merge it into %s, fix the conflicts and push %s, which marks the "
             "pull request merged. The author can merge %s into refs/pr/%lld with git, fix the "
             "conflicts and push refs/pr/%lld, or open a new pull "
             "request on top of the current %s and close this one. The git commands are in "
             "docs/git.md, Resolving a conflict.",
             (long long)pr->number, err->msg, (long long)pr->number, pr->target_branch,
             pr->target_branch, pr->target_branch, (long long)pr->number, (long long)pr->number,
             pr->target_branch);
}
