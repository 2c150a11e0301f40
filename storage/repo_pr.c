/* repo_pr: the git side of pull requests. A pull request's commits live on refs/pr/N, and a
 * merge brings them onto the target branch, as a fast-forward when the branch has not moved
 * since the pull request started, else as a merge commit with two parents. */
#include "repo.h"

#include "repo_internal.h"
#include "repo_lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Conflicting paths a merge reports; more are counted but not named. */
#define REPO_MERGE_MAX_CONFLICT_PATHS 100
/* Conflicting paths that the error message of a merge names. */
#define REPO_MERGE_NAMED_CONFLICTS 3

bool repo_pr_ref_is_valid(const char *ref)
{
    size_t digits;

    if (ref == NULL || strncmp(ref, "refs/pr/", 8) != 0)
        return false;
    ref += 8;
    digits = strspn(ref, "0123456789");
    return digits >= 1 && digits <= 9 && ref[digits] == '\0' && ref[0] != '0';
}

int repo_pr_ref_create(struct repo *r, const char *ref, const char *from, struct hub_error *err)
{
    struct repo_lock *lock = NULL;
    git_commit *commit = NULL;
    git_reference *created = NULL;
    int rc;

    if (!repo_pr_ref_is_valid(ref))
        return hub_error_set(err, HUB_EINVAL, "invalid pull request ref '%.200s'", ref);
    rc = repo_lock_acquire(&lock, r->path, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&commit, r, from != NULL ? from : REPO_DEFAULT_BRANCH, err);
    if (rc == 0) {
        rc = git_reference_create(&created, r->git, ref, git_commit_id(commit), 0,
                                  "pull request (hub API)");
        if (rc == GIT_EEXISTS)
            rc = hub_error_set(err, HUB_ECONFLICT, "ref %s exists already", ref);
        else if (rc < 0)
            rc = repo_error_from_git(err, rc, "create pull request ref");
    }
    git_reference_free(created);
    git_commit_free(commit);
    repo_lock_release(lock);
    return rc;
}

int repo_merge_base(char out[REPO_OID_HEX_BYTES + 1], struct repo *r, const char *a, const char *b,
                    struct hub_error *err)
{
    git_commit *ca = NULL, *cb = NULL;
    git_oid base;
    int rc;

    rc = repo_commit_lookup_rev(&ca, r, a, err);
    if (rc == 0)
        rc = repo_commit_lookup_rev(&cb, r, b, err);
    if (rc == 0) {
        rc = git_merge_base(&base, r->git, git_commit_id(ca), git_commit_id(cb));
        if (rc == GIT_ENOTFOUND)
            rc = hub_error_set(err, HUB_ENOTFOUND, "%.100s and %.100s share no history", a, b);
        else if (rc < 0)
            rc = repo_error_from_git(err, rc, "find merge base");
        else
            repo_oid_hex(out, &base);
    }
    git_commit_free(ca);
    git_commit_free(cb);
    return rc;
}

/* Appends the path of one diff delta to the list that arg points to. */
static int changed_path_add(const git_diff_delta *delta, float progress, void *arg)
{
    struct repo_path_list *list = arg;
    const char *path = delta->new_file.path != NULL ? delta->new_file.path : delta->old_file.path;

    (void)progress;
    if (list->count == list->cap) {
        size_t cap = list->cap == 0 ? 16 : list->cap * 2;
        char **grown = realloc(list->paths, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        list->paths = grown;
        list->cap = cap;
    }
    list->paths[list->count] = strdup(path);
    if (list->paths[list->count] == NULL)
        return -1;
    list->count++;
    return 0;
}

int repo_changed_paths(struct repo_path_list *out, struct repo *r, const char *from, const char *to,
                       struct hub_error *err)
{
    git_commit *a = NULL, *b = NULL;
    git_tree *ta = NULL, *tb = NULL;
    git_diff *diff = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = repo_commit_lookup_rev(&a, r, from, err);
    if (rc == 0)
        rc = repo_commit_lookup_rev(&b, r, to, err);
    if (rc == 0 && (git_commit_tree(&ta, a) < 0 || git_commit_tree(&tb, b) < 0))
        rc = repo_error_from_git(err, -1, "read the trees to compare");
    if (rc == 0 && (rc = git_diff_tree_to_tree(&diff, r->git, ta, tb, NULL)) < 0)
        rc = repo_error_from_git(err, rc, "compare two trees");
    /* Without rename detection a renamed file is a deletion and an addition: both paths. */
    if (rc == 0 && git_diff_foreach(diff, changed_path_add, NULL, NULL, NULL, out) < 0) {
        repo_path_list_dispose(out);
        rc = hub_error_set(err, HUB_ENOMEM, "cannot list the changed paths");
    }
    git_diff_free(diff);
    git_tree_free(ta);
    git_tree_free(tb);
    git_commit_free(a);
    git_commit_free(b);
    return rc;
}

void repo_path_list_dispose(struct repo_path_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    memset(list, 0, sizeof(*list));
}

void repo_merge_result_dispose(struct repo_merge_result *res)
{
    for (size_t i = 0; i < res->n_conflicts; i++)
        free(res->conflicts[i]);
    free(res->conflicts);
    res->conflicts = NULL;
    res->n_conflicts = 0;
}

/* Collects the conflicting paths of a merged index into res (at most
 * REPO_MERGE_MAX_CONFLICT_PATHS named; total_conflicts counts them all). */
static int collect_conflicts(struct repo_merge_result *res, git_index *index, struct hub_error *err)
{
    git_index_conflict_iterator *it = NULL;
    const git_index_entry *ancestor, *ours, *theirs;
    int rc = git_index_conflict_iterator_new(&it, index);

    if (rc < 0)
        return repo_error_from_git(err, rc, "list merge conflicts");
    res->conflicts = calloc(REPO_MERGE_MAX_CONFLICT_PATHS, sizeof(*res->conflicts));
    if (res->conflicts == NULL) {
        git_index_conflict_iterator_free(it);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the conflict list");
    }
    while (git_index_conflict_next(&ancestor, &ours, &theirs, it) == 0) {
        const git_index_entry *any = ours;

        if (any == NULL)
            any = theirs;
        if (any == NULL)
            any = ancestor;

        res->total_conflicts++;
        if (any == NULL || res->n_conflicts >= REPO_MERGE_MAX_CONFLICT_PATHS)
            continue;
        res->conflicts[res->n_conflicts] = strdup(any->path);
        if (res->conflicts[res->n_conflicts] != NULL)
            res->n_conflicts++;
    }
    git_index_conflict_iterator_free(it);
    return 0;
}

/* Sets the HUB_ECONFLICT error of a failed merge, naming the first conflicting files. */
static int conflict_error(struct hub_error *err, const struct repo_merge_result *res,
                          const struct repo_merge_request *req)
{
    char files[512] = "";
    size_t named = res->n_conflicts < REPO_MERGE_NAMED_CONFLICTS ? res->n_conflicts
                                                                 : REPO_MERGE_NAMED_CONFLICTS;
    size_t used = 0;

    for (size_t i = 0; i < named && used < sizeof(files); i++) {
        const char *separator = i == 0                                              ? ""
                                : (i + 1 == named && named == res->total_conflicts) ? " and "
                                                                                    : ", ";

        used += (size_t)snprintf(files + used, sizeof(files) - used, "%s%.60s", separator,
                                 res->conflicts[i]);
    }
    if (named == 0)
        snprintf(files, sizeof(files), "%zu", res->total_conflicts);
    else if (res->total_conflicts > named && used < sizeof(files))
        snprintf(files + used, sizeof(files) - used, " and %zu more", res->total_conflicts - named);
    return hub_error_set(err, HUB_ECONFLICT, "%s conflicts with branch '%s' in %s %s", req->source,
                         req->branch, res->total_conflicts == 1 ? "file" : "files", files);
}

/* Writes a commit with parents ours and theirs and the merged tree of index. */
static int write_merge_commit(git_oid *out, struct repo *r, git_index *index, git_commit *ours,
                              git_commit *theirs, const struct repo_merge_request *req,
                              struct hub_error *err)
{
    const git_commit *parents[2] = {ours, theirs};
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    git_oid tree_id;
    int rc;

    rc = git_signature_now(&sig, req->author_name, req->author_email);
    if (rc < 0)
        return hub_error_set(err, HUB_EINVAL, "invalid author '%.100s <%.100s>'", req->author_name,
                             req->author_email);
    rc = git_index_write_tree_to(&tree_id, index, r->git);
    if (rc == 0)
        rc = git_tree_lookup(&tree, r->git, &tree_id);
    if (rc == 0)
        rc = git_commit_create(out, r->git, NULL, sig, sig, NULL, req->message, tree, 2, parents);
    if (rc < 0)
        rc = repo_error_from_git(err, rc, "write merge commit");
    git_tree_free(tree);
    git_signature_free(sig);
    return rc;
}

/* Merges theirs into ours while the lock is held; see repo_merge. */
static int merge_locked(struct repo_merge_result *res, struct repo *r, const char *refname,
                        git_commit *ours, git_commit *theirs, const struct repo_merge_request *req,
                        struct hub_error *err)
{
    const git_oid *ours_id = git_commit_id(ours), *theirs_id = git_commit_id(theirs);
    git_merge_options opts;
    git_reference *moved = NULL;
    git_index *index = NULL;
    git_oid merged;
    int rc;

    if (git_oid_equal(ours_id, theirs_id) ||
        git_graph_descendant_of(r->git, ours_id, theirs_id) == 1) {
        if (req->accept_contained) {
            res->contained = true;
            if (!req->dry_run)
                repo_oid_hex(res->commit, ours_id);
            return 0;
        }
        return hub_error_set(err, HUB_EINVAL,
                             "%s has no commits that are not on branch '%s' already; commit to it "
                             "first or close it",
                             req->source, req->branch);
    }
    if (git_graph_descendant_of(r->git, theirs_id, ours_id) == 1) {
        res->fast_forward = true;
        git_oid_cpy(&merged, theirs_id);
    } else {
        rc = git_merge_options_init(&opts, GIT_MERGE_OPTIONS_VERSION);
        if (rc == 0)
            rc = git_merge_commits(&index, r->git, ours, theirs, &opts);
        if (rc < 0)
            return repo_error_from_git(err, rc, "merge");
        if (git_index_has_conflicts(index)) {
            rc = collect_conflicts(res, index, err);
            git_index_free(index);
            if (rc < 0)
                return rc;
            return conflict_error(err, res, req);
        }
        rc = req->dry_run ? 0 : write_merge_commit(&merged, r, index, ours, theirs, req, err);
        git_index_free(index);
        if (rc < 0)
            return rc;
    }
    if (req->dry_run)
        return 0;
    rc = git_reference_create_matching(&moved, r->git, refname, &merged, 1, ours_id,
                                       "merge pull request (hub API)");
    git_reference_free(moved);
    if (rc == GIT_EMODIFIED)
        return hub_error_set(err, HUB_ECONFLICT, "branch '%s' moved during the merge; retry",
                             req->branch);
    if (rc < 0)
        return repo_error_from_git(err, rc, "update branch");
    repo_oid_hex(res->commit, &merged);
    return 0;
}

int repo_merge(struct repo_merge_result *res, struct repo *r, const struct repo_merge_request *req,
               struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    struct repo_lock *lock = NULL;
    git_commit *ours = NULL, *theirs = NULL;
    char branch[HUB_MAX_REVISION_BYTES + 1];
    int rc;

    memset(res, 0, sizeof(*res));
    if (!req->dry_run && (req->author_name == NULL || req->author_email == NULL ||
                          req->message == NULL || req->message[0] == '\0'))
        return hub_error_set(err, HUB_EINVAL, "a merge needs an author and a message");
    if (!repo_revision_is_branch(branch, r, req->branch))
        return hub_error_set(err, HUB_ENOTFOUND, "branch '%.200s' not found", req->branch);
    snprintf(refname, sizeof(refname), "refs/heads/%s", branch);
    if (!req->dry_run && !req->lock_held) {
        rc = repo_lock_acquire(&lock, r->path, err);
        if (rc < 0)
            return rc;
    }
    rc = repo_commit_lookup_rev(&ours, r, refname, err);
    if (rc == 0)
        rc = repo_commit_lookup_rev(&theirs, r, req->source, err);
    if (rc == 0) {
        repo_oid_hex(res->source_commit, git_commit_id(theirs));
        repo_oid_hex(res->branch_commit, git_commit_id(ours));
        rc = merge_locked(res, r, refname, ours, theirs, req, err);
    }
    git_commit_free(ours);
    git_commit_free(theirs);
    repo_lock_release(lock);
    return rc;
}
