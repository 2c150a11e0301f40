/* git_hook: the checks `atelier hook pre-receive` runs inside a push, and the parsers they
 * need. git receive-pack runs the hook with the pushed objects in a quarantine directory and
 * the ref updates on stdin. A non-zero exit rejects the whole push, and git prints the hook's
 * stderr to the client as "remote:" lines.
 *
 * The daemon passes its settings in the environment (see docs/git.md):
 *   ATELIER_DATA_DIR           the data directory, whose LFS store the hook checks
 *   ATELIER_PROTECTED_BRANCHES space-separated branch names that refuse force pushes and
 *                              deletion
 *   ATELIER_HOOK_REPORT        file the hooks append their findings to, read by the daemon
 *   ATELIER_HOOK_LOCKS         file of "<owner>\t<path>" lines: git-lfs locks of other users
 *   ATELIER_HOOK_USER_ID       id of the pushing user, for the LFS object read check and
 *                              the author check of pull request refs
 *   ATELIER_HOOK_USER_NAME     name of the pushing user, for messages
 *   ATELIER_HOOK_CAN_WRITE     "1" when the user may write the repo, "0" when they may only
 *                              push to refs/pr/N of the open pull requests they authored
 *   ATELIER_HOOK_REPO_ID       id of the repo's row, for its pull requests
 *   ATELIER_HOOK_REPO_URL      URL of the repo, for the commands that messages suggest
 *   ATELIER_HOOK_API_URL       Hub API URL of the repo (…/api/models/NS/NAME), for messages
 *   ATELIER_HOOK_MAX_FILE_BYTES size limit of a regular (non-LFS) file in bytes, from
 *                              --max-commit-file-bytes
 * Runs in the hook process only; no state is shared with the daemon. */
#ifndef GIT_HOOK_H
#define GIT_HOOK_H

#include "hub_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GITHOOK_OID_HEX      40    /* a SHA-1 object id in hex */
#define GITHOOK_MAX_REF_BYTES 1024 /* a ref name in one update line */
#define GITHOOK_MAX_UPDATES  4096  /* ref updates in one push */

struct meta_pr;

/* One line of pre-receive or post-receive input: "<old-oid> <new-oid> <ref>". */
struct githook_update {
    char old_oid[GITHOOK_OID_HEX + 1];
    char new_oid[GITHOOK_OID_HEX + 1];
    char ref[GITHOOK_MAX_REF_BYTES + 1];
};

/** Parses one update line of len bytes (without the trailing newline) into out. Returns 0 or
 * HUB_EINVAL with err naming what is wrong. */
int githook_update_parse(struct githook_update *out, const char *line, size_t len,
                         struct hub_error *err);

/* The pushing user and the repo of a push, from the daemon's environment. */
struct githook_push {
    int64_t user_id;
    const char *user_name;
    bool can_write; /* false: the user may push only to their own open pull requests */
    int64_t repo_id;
    const char *api_url; /* "http://HOST/api/models/NS/NAME", or "" when unknown */
};

/** Checks an update of a pull request ref against pr, the pull request with the ref's number
 * (NULL when the repo has none, or when the ref is not refs/pr/N with a valid N). The ref may
 * not be deleted, the pull request must be open, and the pusher must be its author or a
 * writer. Returns true when the update may go on to the checks that need git (the old id and
 * the base commit). Otherwise it writes "rejected REF: reason" to errors. */
bool githook_pr_update_is_allowed(const struct githook_update *u, const struct meta_pr *pr,
                                  const struct githook_push *push, FILE *errors);

/** Writes "rejected REF: reason" to errors for a ref outside refs/heads/, refs/tags/ and
 * refs/pr/. */
void githook_ref_kind_reject(const char *ref, FILE *errors);

/** Writes "rejected REF: reason" to errors for a branch or tag update by user_name, who has
 * no write access. api_url is the repo's API URL, named in the advice to open a pull request
 * (a placeholder when NULL or empty). The daemon sends the same text when it rejects such a
 * push before receive-pack starts. */
void githook_write_access_reject(const char *ref, const char *user_name, const char *api_url,
                                 FILE *errors);

/** Returns whether oid is the all-zero id git uses for "no object" (create or delete). */
bool githook_oid_is_zero(const char *oid);

/** Returns whether branch (without "refs/heads/") is in the space-separated list. */
bool githook_branch_is_listed(const char *list, const char *branch);

/** Runs the pre-receive checks on the update lines read from in, writing rejections to
 * errors. Returns 0 when the push may go on, 1 when it is rejected, 2 on an internal error. */
int githook_pre_receive(FILE *in, FILE *errors);

/** Records the applied updates read from in in the report file. Returns 0, or 2 when the
 * report file cannot be written (the push has already happened then). */
int githook_post_receive(FILE *in, FILE *errors);

#endif
