/* repo_manage: creating, deleting and changing the settings of a repo, with the access checks
 * and audit entries. POST /api/repos/create, /api/repos/delete, the settings and protected
 * branch routes and the pages' forms all call these functions, so the rules are the same
 * whichever way a user takes. Each function runs on the thread that owns db. */
#ifndef REPO_MANAGE_H
#define REPO_MANAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "hub_error.h"
#include "meta_repo.h"
#include "repo.h"

struct meta;

/* Arguments of repo_manage_create. Zero-initialise it, then set every field that applies. */
struct repo_manage_create_request {
    enum hub_repo_type type;
    const char *ns;         /* owner: a user or organisation name */
    const char *name;       /* repo name */
    bool is_private;        /* false: public */
    const char *readme;     /* README.md for the first commit, or NULL for none */
    int64_t user_id;        /* the creating user */
    const char *user_name;  /* author of the first commit and user of the audit entry */
    bool read_only_token;   /* the user authenticated with a read-only token */
    const char *request_id; /* for log lines; NULL allowed */
};

/** Checks that ns is not one of the first path segments the hub's own URLs use (api, new,
 * models, ...), because a user, organisation or repo namespace of that name would be
 * unreachable in the pages. Any thread. Returns 0 or HUB_EINVAL. */
int repo_manage_namespace_check(const char *ns, struct hub_error *err);

/** Creates the repo row and the git repo, whose first commit on main contains .gitattributes
 * (and README.md when request->readme is set), and adds a repo.create audit entry. Fills
 * *out and commit_out. Returns 0 or:
 * - HUB_EINVAL or HUB_ETOOBIG: an invalid name, or a namespace reserved for the hub's URLs;
 * - HUB_ENOTFOUND: no user or organisation is called ns;
 * - HUB_EFORBIDDEN: the user may not create repos under ns;
 * - HUB_ECONFLICT: the repo exists (compared without regard to case), *out is that repo when
 *   its row could be read, else out->id is 0;
 * - HUB_EIO or HUB_ENOMEM, after which nothing of the repo is left.
 * The message in err names the value and what to do. */
int repo_manage_create(struct meta_repo *out, char commit_out[REPO_OID_HEX_BYTES + 1],
                       struct meta *db, const char *data_dir,
                       const struct repo_manage_create_request *request, struct hub_error *err);

/** Checks the rule that deleting a repo adds to write access: a repo of an organisation takes
 * the organisation's admin role, unless the user is a site admin. The caller checks write
 * access first. Returns 0, HUB_EFORBIDDEN or HUB_EIO. */
int repo_manage_delete_check(struct meta *db, const struct meta_repo *row, int64_t user_id,
                             bool user_is_admin, struct hub_error *err);

/** Checks that no queued or running job uses the repo as its output, evaluated model, base
 * or dataset, because deleting it would fail that job midway. Returns 0, HUB_ECONFLICT with a
 * message that names the job and the fix (cancel it first), or HUB_EIO. */
int repo_manage_delete_jobs_check(struct meta *db, const struct meta_repo *row,
                                  struct hub_error *err);

/** Deletes the git repo and the row with its LFS links and protected branches (the blobs
 * stay until gc), then adds a repo.delete audit entry by user_name. Returns 0, HUB_ECONFLICT
 * (a queued or running job uses the repo, see repo_manage_delete_jobs_check), HUB_ENOTFOUND
 * (the row is gone already) or HUB_EIO. */
int repo_manage_delete(struct meta *db, const char *data_dir, const struct meta_repo *row,
                       const char *user_name, const char *request_id, struct hub_error *err);

/** Makes the repo private or public and adds a repo.visibility audit entry by user_name with
 * the detail "private" or "public". Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int repo_manage_set_private(struct meta *db, const struct meta_repo *row, bool is_private,
                            const char *user_name, const char *request_id, struct hub_error *err);

/** Protects branch (protect true) or lifts the protection, with the rules of
 * gitsettings_branch_protect, and sets *changed (NULL allowed) to whether that changed the
 * settings. Only a change adds a repo.branch_protect or repo.branch_unprotect audit entry
 * by user_name with the branch as detail, and a log line. Returns 0, HUB_EINVAL (branch
 * name), HUB_ENOTFOUND or HUB_EIO. */
int repo_manage_branch_protect(struct meta *db, const struct meta_repo *row, const char *branch,
                               bool protect, const char *user_name, const char *request_id,
                               bool *changed, struct hub_error *err);

#endif
