/* repo: the bare git repos of the hub (libgit2), DATA/repos/{models,datasets}/NS/NAME.git.
 *
 * A struct repo wraps one git_repository and is used by one thread at a time: open one per
 * HTTP request or job, never share it between threads. Writes (repo_commit, branch and tag
 * changes) take the repo lock (repo_lock.h) themselves, so they are serialised with each
 * other and with git pushes, also across processes. Reads need no lock: a ref update is
 * atomic in git. Every function copies libgit2's message into err.
 *
 * Revisions (rev) are resolved by repo_revision_resolve: "HEAD" (main), a branch, a tag,
 * refs/heads/..., refs/tags/..., a full 40-hex commit id or a unique hex prefix of at least 7
 * digits. Paths are repo-relative with '/' separators, no leading or trailing '/', no "."
 * or ".." segment and no empty segment; "" is the root where a folder is expected. */
#ifndef REPO_H
#define REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "hub_limits.h"
#include "hub_name.h"

struct repo;

#define REPO_OID_HEX_BYTES  40 /* a git commit, tree or blob id in hex, without the NUL */
#define REPO_DEFAULT_BRANCH "main"

/** Writes DATA_DIR/repos/{models|datasets}/NS/NAME.git into buf of cap bytes after checking
 * both names with hub_name_check. Returns 0, HUB_EINVAL or HUB_ETOOBIG. Any thread. */
int repo_path_build(char *buf, size_t cap, const char *data_dir, enum hub_repo_type type,
                    const char *ns, const char *name, struct hub_error *err);

/* Options for repo_create; zero-initialise, then set what you need. */
struct repo_create_opts {
    const char *readme;        /* README.md text for the first commit, or NULL for none */
    const char *gitattributes; /* .gitattributes text, or NULL for lfs_attributes_default_text */
    const char *author_name;   /* author of the first commit; NULL: "Atelier" */
    const char *author_email;  /* NULL: "atelier@localhost" */
    const char *message;       /* NULL: "Initial commit" */
};

/** Creates the bare repo with HEAD pointing at refs/heads/main and one commit on main that
 * contains .gitattributes (and README.md when given). Writes that commit's id into commit_out
 * (NULL allowed). Returns 0, HUB_EINVAL/HUB_ETOOBIG (names), HUB_ECONFLICT (the folder
 * exists) or HUB_EIO; after a failure nothing is left on disk. Any thread. */
int repo_create(char commit_out[REPO_OID_HEX_BYTES + 1], const char *data_dir,
                enum hub_repo_type type, const char *ns, const char *name,
                const struct repo_create_opts *opts, struct hub_error *err);

/** Deletes the repo folder: it is first renamed into DATA/tmp/ (atomic, so no reader sees half
 * a repo), then removed. Takes the repo lock. Returns 0, HUB_ENOTFOUND or HUB_EIO. */
int repo_delete(const char *data_dir, enum hub_repo_type type, const char *ns, const char *name,
                struct hub_error *err);

/** Deletes the repo folder as repo_delete does, but only when its one ref is main and main
 * still points at initial_commit (40 hex), so a repo that got any commit, branch or tag since
 * it was created stays. The check and the rename run under the repo lock, so a push cannot
 * land in between. Returns 0, HUB_ECONFLICT (the repo changed, and err names the change),
 * HUB_ENOTFOUND or HUB_EIO. */
int repo_delete_if_untouched(const char *data_dir, enum hub_repo_type type, const char *ns,
                             const char *name, const char *initial_commit, struct hub_error *err);

/** Opens an existing repo. *out belongs to the caller (repo_close()). Returns 0, HUB_EINVAL,
 * HUB_ENOTFOUND or HUB_EIO. */
int repo_open(struct repo **out, const char *data_dir, enum hub_repo_type type, const char *ns,
              const char *name, struct hub_error *err);

/** Opens the bare repo at an absolute path (used by git hooks and fsck). */
int repo_open_path(struct repo **out, const char *path, struct hub_error *err);

/** Closes the repo. Accepts NULL. */
void repo_close(struct repo *r);

/** Returns the repo folder path, borrowed until repo_close(). */
const char *repo_path_get(const struct repo *r);

/** Resolves rev to a commit id (annotated tags are peeled). Returns 0, HUB_EINVAL (malformed
 * or too long, or a ref that points to a tree or a blob, named in the message), HUB_ENOTFOUND
 * ("revision not found: REV", also for an ambiguous short id) or HUB_EIO. */
int repo_revision_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r, const char *rev,
                          struct hub_error *err);

/** Returns whether rev names a branch (a short name or refs/heads/...); with branch_out (NULL
 * allowed, HUB_MAX_REVISION_BYTES + 1 bytes) set to the short name. */
bool repo_revision_is_branch(char *branch_out, struct repo *r, const char *rev);

enum repo_entry_type {
    REPO_ENTRY_FILE = 0,
    REPO_ENTRY_DIRECTORY = 1,
};

/* One file or folder of a tree listing. */
struct repo_entry {
    enum repo_entry_type type;
    char *path;                       /* full path from the repo root; owned by the entry */
    char oid[REPO_OID_HEX_BYTES + 1]; /* git blob id (of the pointer for LFS files) or tree id */
    uint64_t size;         /* files: content size (the LFS object size for LFS files); 0 */
    bool is_lfs;           /* the blob is a valid LFS pointer */
    char lfs_oid[65];      /* LFS object SHA-256 when is_lfs, else "" */
    uint32_t pointer_size; /* the pointer blob's size when is_lfs */
    bool is_executable;    /* file mode 100755 */
};

/** Lists the tree of commit rev at folder path ("" for the root): its direct children, or with
 * recursive every file and folder below it, in git order (folders before their contents).
 * *out is an array owned by the caller (repo_entries_free()). Returns 0, HUB_EINVAL,
 * HUB_ENOTFOUND (revision, or path missing or not a folder), HUB_ETOOBIG (more than
 * HUB_MAX_TREE_ENTRIES entries), HUB_ENOMEM or HUB_EIO. */
int repo_tree_list(struct repo_entry **out, size_t *count, struct repo *r, const char *rev,
                   const char *path, bool recursive, struct hub_error *err);

/** Frees an array from repo_tree_list. Accepts NULL. */
void repo_entries_free(struct repo_entry *entries, size_t count);

/** Describes the single file or folder at path (path "" is the root folder). On success the
 * caller frees out->path with free(). Returns 0, HUB_EINVAL, HUB_ENOTFOUND (also for a
 * submodule, which listings leave out) or HUB_EIO. */
int repo_entry_stat(struct repo_entry *out, struct repo *r, const char *rev, const char *path,
                    struct hub_error *err);

/** Reads the bytes of the file at path in rev (the pointer text for LFS files) into a malloc'd
 * buffer owned by the caller, NUL-terminated after *len_out bytes. Returns 0, HUB_EINVAL,
 * HUB_ENOTFOUND (revision, path, or path is a folder), HUB_ETOOBIG (over max_bytes; 0 means
 * HUB_MAX_GIT_FILE_BYTES), HUB_ENOMEM or HUB_EIO. */
int repo_file_read(char **out, size_t *len_out, struct repo *r, const char *rev, const char *path,
                   size_t max_bytes, struct hub_error *err);

/* One commit of the log. Strings are owned by the struct (repo_commit_info_dispose()). They are
 * valid UTF-8: converted from the commit's `encoding` header as `git log` does, with bytes
 * that are not valid in it (or in UTF-8 without a header) replaced by U+FFFD. */
struct repo_commit_info {
    char id[REPO_OID_HEX_BYTES + 1];
    char *title;   /* first line of the message */
    char *message; /* the whole message */
    char *author_name;
    char *author_email;
    int64_t time;                            /* author time, seconds since the epoch */
    int tz_offset_min;                       /* author's UTC offset in minutes */
    char parent[REPO_OID_HEX_BYTES + 1];     /* first parent, "" for a root commit */
    char (*parents)[REPO_OID_HEX_BYTES + 1]; /* all parents in order, NULL for a root commit */
    size_t n_parents;                        /* more than one for a merge commit */
};

/** Frees the strings of info. Accepts a zeroed struct. */
void repo_commit_info_dispose(struct repo_commit_info *info);

/** Lists first-parent history of rev, newest first, skipping offset commits and returning at
 * most limit (1 to HUB_MAX_LIST_LIMIT). *total (NULL allowed) is the number of commits in that
 * history. *out is owned by the caller (repo_commits_free()). Returns 0, HUB_EINVAL,
 * HUB_ENOTFOUND, HUB_ENOMEM or HUB_EIO. */
int repo_log(struct repo_commit_info **out, size_t *count, size_t *total, struct repo *r,
             const char *rev, size_t offset, size_t limit, struct hub_error *err);

/** Lists the commits reachable from rev but not from hide (NULL hides nothing), newest first,
 * as `git log hide..rev` does, returning at most limit (1 to HUB_MAX_LIST_LIMIT). Merge
 * commits and the commits they bring in from other branches are listed too. *out is owned by
 * the caller (repo_commits_free()). Returns 0, HUB_EINVAL, HUB_ENOTFOUND, HUB_ENOMEM or
 * HUB_EIO. */
int repo_log_range(struct repo_commit_info **out, size_t *count, struct repo *r, const char *rev,
                   const char *hide, size_t limit, struct hub_error *err);

/** Frees an array from repo_log. Accepts NULL. */
void repo_commits_free(struct repo_commit_info *commits, size_t count);

/** Reads one commit by rev. Dispose out with repo_commit_info_dispose(). */
int repo_commit_get(struct repo_commit_info *out, struct repo *r, const char *rev,
                    struct hub_error *err);

/** Finds the last commit of rev's history that changed path (a file or a folder; "" is the
 * root): the commit `git log -1 -- PATH` shows. At a merge the walk follows the first parent
 * where path is unchanged (same object and mode), and when no parent has it unchanged the merge
 * is the last commit. The walk steps over at most HUB_MAX_LAST_COMMIT_WALK commits; when it stops
 * there, *out is the oldest commit walked. Dispose out with repo_commit_info_dispose(). Returns
 * 0, HUB_EINVAL, HUB_ENOTFOUND (revision or path) or HUB_EIO. */
int repo_last_commit(struct repo_commit_info *out, struct repo *r, const char *rev,
                     const char *path, struct hub_error *err);

/** Finds the last commit of each of n paths in one walk, for listings that show the last
 * change of every entry. out is an array of n the caller provides; out[i] describes the last
 * commit of paths[i] as repo_last_commit would, or has an empty id when paths[i] does not exist
 * at rev. Dispose each entry with repo_commit_info_dispose(), also after an error. Returns 0,
 * HUB_EINVAL, HUB_ENOTFOUND (rev), HUB_ENOMEM or HUB_EIO. */
int repo_last_commits(struct repo_commit_info *out, struct repo *r, const char *rev,
                      const char *const *paths, size_t n, struct hub_error *err);

enum repo_op_kind {
    REPO_OP_ADD_FILE = 0,      /* add or replace path with data */
    REPO_OP_ADD_LFS = 1,       /* add or replace path with a pointer to lfs_oid, lfs_size */
    REPO_OP_DELETE_FILE = 2,   /* delete the file at path; HUB_ENOTFOUND when missing */
    REPO_OP_DELETE_FOLDER = 3, /* delete every file under folder path; HUB_ENOTFOUND if none */
};

/* One change of a commit. Pointers are borrowed for the duration of repo_commit. */
struct repo_op {
    enum repo_op_kind kind;
    const char *path; /* a trailing '/' is allowed for REPO_OP_DELETE_FOLDER */
    const void *data; /* REPO_OP_ADD_FILE: the bytes (at most HUB_MAX_GIT_FILE_BYTES) */
    size_t len;
    const char *lfs_oid; /* REPO_OP_ADD_LFS: 64 lowercase hex */
    uint64_t lfs_size;   /* REPO_OP_ADD_LFS */
};

/* Stores the len bytes of the file at path as an LFS object (its oid is their SHA-256) that
 * the repo being committed to may read, and writes the oid into oid_out. Returns 0 or a HUB_E* code
 * with err set. */
typedef int (*repo_lfs_store_fn)(void *ctx, const char *path, const void *data, size_t len,
                                 char oid_out[65], struct hub_error *err);

/* A condition that must still hold when a commit lands, such as "the pull request is open".
 * repo_commit calls it while it holds the repo lock, so pushes, merges and other commits of
 * the repo cannot change the result before the branch moves. Returns 0, or a negative HUB_E*
 * code with err set. */
typedef int (*repo_commit_check_fn)(void *ctx, struct hub_error *err);

struct repo_commit_request {
    const char *branch;          /* short branch name or refs/heads/...; required */
    const char *create_from;     /* when the branch is missing, create it at this revision;
                                    NULL: a missing branch is HUB_ENOTFOUND */
    const char *expected_parent; /* full commit id the branch must point at, or NULL */
    const char *author_name;     /* required, at most HUB_MAX_AUTHOR_BYTES */
    const char *author_email;    /* required, at most HUB_MAX_AUTHOR_BYTES */
    const char *message;         /* required, at most HUB_MAX_COMMIT_MESSAGE_BYTES */
    int64_t time;                /* author and committer time; 0 means now */
    const struct repo_op *ops;
    size_t n_ops;                /* 0 to HUB_MAX_COMMIT_OPS */
    bool no_track_lfs;           /* skip adding .gitattributes rules for REPO_OP_ADD_LFS
                                    paths no filter=lfs rule matches */
    repo_lfs_store_fn lfs_store; /* stores REPO_OP_ADD_FILE content that .gitattributes routes
                                    to LFS; NULL commits every such file as a git blob */
    void *lfs_store_ctx;         /* passed to lfs_store */
    repo_commit_check_fn check;  /* runs under the repo lock before anything is written; a
                                    negative return stops the commit; NULL: no check */
    void *check_ctx;             /* passed to check */
};

/** Applies every op to the branch head's tree and records ONE commit, then moves the branch
 * with a compare-and-swap, all under the repo lock: either the whole commit lands or nothing
 * changes. Ops apply in order, so a later op on the same path wins. Unless no_track_lfs is
 * set, a REPO_OP_ADD_LFS path that no filter=lfs rule of the resulting .gitattributes matches
 * gets an exact-path rule appended, so git clones check out the content and not the pointer.
 * When lfs_store is set, a non-empty REPO_OP_ADD_FILE whose path a filter=lfs rule of the
 * resulting .gitattributes matches goes to lfs_store and is committed as a pointer, unless
 * its content is already a pointer or the file is a .gitattributes file. An object stored
 * that way stays in the store when the commit then fails.
 * The caller checks beforehand that the objects of REPO_OP_ADD_LFS ops exist in the store. Writes
 * the new commit id into commit_out. Returns 0; HUB_EINVAL (bad path, op or field; committing to a
 * tag); HUB_ETOOBIG; HUB_ENOTFOUND (branch, create_from, or a deleted path: the message then
 * contains "A file with this name doesn't exist", or "A folder ..." for a folder);
 * HUB_ECONFLICT (expected_parent differs from the branch head, or another writer moved the
 * branch); HUB_EIO; or what req->check returns. */
int repo_commit(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r,
                const struct repo_commit_request *req, struct hub_error *err);

enum repo_ref_kind {
    REPO_REF_BRANCH = 0,
    REPO_REF_TAG = 1,
    REPO_REF_OTHER = 2, /* refs/pr/N and other refs outside heads and tags */
};

struct repo_ref {
    enum repo_ref_kind kind;
    char name[HUB_MAX_REVISION_BYTES + 1]; /* short name: "main", "v1.0"; full for OTHER */
    char ref[HUB_MAX_REVISION_BYTES + 12]; /* full name: "refs/heads/main" */
    char target[REPO_OID_HEX_BYTES + 1];   /* commit id (annotated tags peeled) */
};

/** Lists the branches, tags and other refs ordered by full name. *out is malloc'd (free()).
 * Returns 0, HUB_ENOMEM or HUB_EIO. */
int repo_refs_list(struct repo_ref **out, size_t *count, struct repo *r, struct hub_error *err);

/** Splits "REV/PATH" from a URL into a revision and a path: the longest run of leading
 * segments that names a branch or tag (so "feature/x/a.txt" is feature/x and a.txt), else
 * refs/X/Y, else one segment. rev_out has HUB_MAX_REVISION_BYTES + 1 bytes; *path_out points
 * into rest. Returns 0, HUB_EINVAL, HUB_ENOMEM or HUB_EIO. */
int repo_revision_split(char *rev_out, const char **path_out, struct repo *r, const char *rest,
                        struct hub_error *err);

/** Creates branch name at revision from (NULL: main). The name must pass
 * hub_branch_name_check, the rules of `git check-ref-format --branch`. The other branch
 * functions accept any valid ref name, so that a branch pushed with another name can still be
 * moved and deleted.
 * Returns 0, HUB_EINVAL (invalid name, with the rule it breaks), HUB_ENOTFOUND (from),
 * HUB_ECONFLICT (exists) or HUB_EIO. */
int repo_branch_create(struct repo *r, const char *name, const char *from, struct hub_error *err);

/** Points the existing branch name at revision from (NULL: main) in one ref update. With
 * fast_forward_only, a target that does not descend from the branch's current commit is
 * rejected with HUB_EFORBIDDEN (protected branches). Returns 0, HUB_EINVAL, HUB_ENOTFOUND
 * (branch or from), HUB_EFORBIDDEN or HUB_EIO. */
int repo_branch_move(struct repo *r, const char *name, const char *from, bool fast_forward_only,
                     struct hub_error *err);

/** Deletes branch name; main cannot be deleted (HUB_EINVAL). Returns 0, HUB_EINVAL,
 * HUB_ENOTFOUND or HUB_EIO. */
int repo_branch_delete(struct repo *r, const char *name, struct hub_error *err);

/** Creates tag name on revision rev: annotated with message and the tagger when message is
 * not NULL, else lightweight. Returns 0, HUB_EINVAL, HUB_ENOTFOUND (rev), HUB_ECONFLICT
 * (exists) or HUB_EIO. */
int repo_tag_create(struct repo *r, const char *name, const char *rev, const char *message,
                    const char *tagger_name, const char *tagger_email, struct hub_error *err);

/** Deletes tag name. Returns 0, HUB_EINVAL, HUB_ENOTFOUND or HUB_EIO. */
int repo_tag_delete(struct repo *r, const char *name, struct hub_error *err);

/** Loads the filter=lfs rules of .gitattributes at rev (none when the file is missing) into
 * *out, owned by the caller (lfs_attributes_free()). Returns 0, HUB_ENOTFOUND (rev),
 * HUB_ETOOBIG, HUB_ENOMEM or HUB_EIO. */
struct lfs_attributes;
int repo_lfs_attributes_load(struct lfs_attributes **out, struct repo *r, const char *rev,
                             struct hub_error *err);

/** Calls fn for every LFS pointer in every commit reachable from any ref (gc, fsck and the
 * link refresh after a push); the same oid may be reported more than once. fn returning
 * non-zero stops the walk and that value is returned. Returns 0, fn's value or HUB_EIO. */
int repo_lfs_foreach(struct repo *r,
                     int (*fn)(void *ctx, const char *oid, uint64_t size, const char *path),
                     void *ctx, struct hub_error *err);

/* ---- Pull requests ---- */

/** Returns whether ref is "refs/pr/N" with N a decimal number from 1 without leading zeros. */
bool repo_pr_ref_is_valid(const char *ref);

/** Creates the pull request ref (refs/pr/N) at revision from (NULL: main) under the repo
 * lock. Returns 0, HUB_EINVAL, HUB_ENOTFOUND (from), HUB_ECONFLICT (the ref exists) or
 * HUB_EIO. */
int repo_pr_ref_create(struct repo *r, const char *ref, const char *from, struct hub_error *err);

/** Writes the best common ancestor of revisions a and b into out. Returns 0, HUB_ENOTFOUND
 * (a revision, or no common history), HUB_EINVAL or HUB_EIO. */
int repo_merge_base(char out[REPO_OID_HEX_BYTES + 1], struct repo *r, const char *a, const char *b,
                    struct hub_error *err);

struct repo_path_list {
    char **paths;
    size_t count;
    size_t cap;
};

/** Lists into out the paths of files that differ between the trees of revisions from and to:
 * added, changed or deleted, a renamed file by both its names. Returns 0, HUB_ENOTFOUND,
 * HUB_ENOMEM or HUB_EIO. Dispose out with repo_path_list_dispose() on every path. */
int repo_changed_paths(struct repo_path_list *out, struct repo *r, const char *from, const char *to,
                       struct hub_error *err);

/** Frees the paths of list. Accepts a zeroed struct. */
void repo_path_list_dispose(struct repo_path_list *list);

struct repo_merge_request {
    const char *branch;      /* target branch, short name; it must exist */
    const char *source;      /* revision to merge, such as refs/pr/3 */
    const char *author_name; /* author of a merge commit; not needed for dry_run */
    const char *author_email;
    const char *message;   /* message of a merge commit; not needed for dry_run */
    bool dry_run;          /* only check whether the merge would succeed; change nothing */
    bool accept_contained; /* succeed without a change when branch contains source already */
    bool lock_held;        /* the caller holds the repo lock of repo_path_get(r) already */
};

struct repo_merge_result {
    char commit[REPO_OID_HEX_BYTES + 1]; /* new head of the branch; "" for dry_run */
    char source_commit[REPO_OID_HEX_BYTES + 1]; /* the commit that source named: the merged head */
    char branch_commit[REPO_OID_HEX_BYTES + 1]; /* head of the branch before the merge */
    bool fast_forward;                   /* the branch moved to source without a new commit */
    bool contained;   /* accept_contained: branch contained source, so nothing moved */
    char **conflicts; /* paths in conflict (HUB_ECONFLICT), at most 100 */
    size_t n_conflicts;
    size_t total_conflicts; /* all paths in conflict, also those not in conflicts */
};

/** Merges source into branch under the repo lock, which it takes itself unless
 * req->lock_held. When branch is an ancestor of source, the
 * branch fast-forwards to it. Otherwise libgit2 merges the two trees into a commit whose
 * parents are the branch head and source. Either way the branch moves with a compare-and-swap.
 * When branch contains source already and accept_contained is set, nothing moves: res->contained
 * is set and res->commit is the branch head.
 * Returns 0; HUB_EINVAL (source has nothing that branch lacks and accept_contained is unset, or
 * a bad author);
 * HUB_ENOTFOUND (branch or source); HUB_ECONFLICT (files in conflict, listed in res, or the
 * branch moved meanwhile); HUB_EIO. Dispose res with repo_merge_result_dispose() on every
 * path. */
int repo_merge(struct repo_merge_result *res, struct repo *r, const struct repo_merge_request *req,
               struct hub_error *err);

/** Frees the conflict list of res. Accepts a zeroed struct. */
void repo_merge_result_dispose(struct repo_merge_result *res);

#endif
