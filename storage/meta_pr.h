/* meta_pr: the pull_requests rows. A pull request proposes the commits of the git ref
 * refs/pr/NUMBER for its target branch. Git keeps the commits, and this table keeps the title,
 * author, status and merge result. Numbers count from 1 in each repo. */
#ifndef META_PR_H
#define META_PR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"

struct meta;

#define META_PR_MAX_TITLE_BYTES       200
#define META_PR_MAX_DESCRIPTION_BYTES 4096

enum meta_pr_status {
    META_PR_OPEN = 0,
    META_PR_MERGED = 1,
    META_PR_CLOSED = 2,
};

struct meta_pr {
    int64_t repo_id;
    int64_t number;
    char title[META_PR_MAX_TITLE_BYTES + 1];
    char description[META_PR_MAX_DESCRIPTION_BYTES + 1];
    int64_t author_id; /* 0 once the author's account was deleted */
    char author_name[HUB_MAX_AUTHOR_BYTES + 1];
    enum meta_pr_status status;
    char target_branch[HUB_MAX_REVISION_BYTES + 1];
    char base_commit[41];   /* commit refs/pr/NUMBER started from: its commits come after it */
    char merged_commit[41]; /* commit on the target branch after the merge, or "" */
    int64_t created_at;     /* seconds since the epoch */
    int64_t updated_at;
    /* head of the target branch just before the merge, or "" when unknown: not merged, merged
     * before this was recorded, or merged when the branch contained refs/pr/NUMBER already */
    char target_before_merge[41];
};

/* One change of a pull request's status: a close, a reopen or a merge. */
struct meta_pr_event {
    int64_t id; /* row id, unique across all pull requests and never reused */
    int64_t repo_id;
    int64_t number;
    enum meta_pr_status status; /* the status the pull request changed to */
    int64_t actor_id;           /* 0 once the user's account was deleted, or when unknown */
    bool actor_known;           /* false for a change made before status changes were recorded */
    char actor_name[HUB_MAX_AUTHOR_BYTES + 1]; /* the user's name, "" when deleted or unknown */
    int64_t created_at;                        /* seconds since the epoch */
};

/** Returns "open", "merged" or "closed". */
const char *meta_pr_status_name(enum meta_pr_status status);

/** Parses "open", "merged" or "closed". Returns false for anything else. */
bool meta_pr_status_parse(enum meta_pr_status *out, const char *text);

/** Inserts an open pull request on repo_id with the next free number, written to out,
 * proposing the commits after base_commit (40 hex digits) for target_branch. The
 * title must be 1 to META_PR_MAX_TITLE_BYTES bytes and the description at most
 * META_PR_MAX_DESCRIPTION_BYTES. Returns 0, HUB_EINVAL, HUB_ETOOBIG, HUB_ENOTFOUND (repo or
 * user) or HUB_EIO. */
int meta_pr_create(struct meta_pr *out, struct meta *db, int64_t repo_id, const char *title,
                   const char *description, int64_t author_id, const char *author_name,
                   const char *target_branch, const char *base_commit, struct hub_error *err);

/** Deletes the row of a pull request whose git ref could not be created. Returns 0 or
 * HUB_EIO. */
int meta_pr_delete(struct meta *db, int64_t repo_id, int64_t number, struct hub_error *err);

/** Reads pull request number of repo_id. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_pr_get(struct meta_pr *out, struct meta *db, int64_t repo_id, int64_t number,
                struct hub_error *err);

/** Finds the newest open pull request of repo_id by author_id with exactly this title,
 * description and target branch that was opened at or after since (seconds since the epoch).
 * Sets *found and fills out when there is one. Returns 0 or HUB_EIO. */
int meta_pr_find_recent(struct meta_pr *out, bool *found, struct meta *db, int64_t repo_id,
                        int64_t author_id, const char *title, const char *description,
                        const char *target_branch, int64_t since, struct hub_error *err);

/** Lists the pull requests of repo_id, newest first, with the given status only when
 * status_filter is not NULL. *out is malloc'd (free(); NULL when there are none). Returns 0,
 * HUB_ENOMEM or HUB_EIO. */
int meta_pr_list(struct meta_pr **out, size_t *count, struct meta *db, int64_t repo_id,
                 const enum meta_pr_status *status_filter, struct hub_error *err);

/** Sets the status of a pull request and records the change as an event by user actor_id (0
 * when there is none), both in one transaction. When status is META_PR_MERGED it also stores
 * merged_commit and target_before_merge (NULL stores ""), which are ignored otherwise. When
 * the pull request has that status already, it writes nothing. *event (NULL allowed) gets the
 * new event, or id 0 when nothing changed. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int meta_pr_set_status(struct meta_pr_event *event, struct meta *db, int64_t repo_id,
                       int64_t number, enum meta_pr_status status, int64_t actor_id,
                       const char *merged_commit, const char *target_before_merge,
                       struct hub_error *err);

/** Lists the status changes of pull request number of repo_id in the order they were made.
 * *out is malloc'd (free(); NULL when there are none). Returns 0, HUB_ENOMEM or HUB_EIO. */
int meta_pr_events_list(struct meta_pr_event **out, size_t *count, struct meta *db, int64_t repo_id,
                        int64_t number, struct hub_error *err);

#endif
