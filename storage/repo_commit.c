/* repo_commit: one commit built from a list of file operations, the write path of the hub
 * API. The branch head's tree is loaded into an in-memory index, the operations are applied
 * to it, the index is written as a tree, and the branch moves to the new commit with a
 * compare-and-swap, all while the repo lock is held. */
#include "repo.h"

#include "lfs_attributes.h"
#include "lfs_pointer.h"
#include "repo_internal.h"
#include "repo_lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The branch to commit on, read under the lock. */
struct commit_target {
    char refname[HUB_MAX_REVISION_BYTES + 16];
    const char *display_name; /* the name in error messages: a short branch name or refs/pr/N */
    git_commit *parent;       /* current head, or the create_from commit for a new branch */
    bool branch_exists;
};

static int check_text(const char *value, size_t max, const char *what, struct hub_error *err)
{
    if (value == NULL || value[0] == '\0')
        return hub_error_set(err, HUB_EINVAL, "missing %s", what);
    if (strnlen(value, max + 1) > max)
        return hub_error_set(err, HUB_ETOOBIG, "%s is longer than %zu bytes", what, max);
    return 0;
}

static int check_op(const struct repo_op *op, size_t index, struct hub_error *err)
{
    char path[HUB_MAX_PATH_BYTES + 1];
    size_t len;
    int rc;

    if (op->path == NULL)
        return hub_error_set(err, HUB_EINVAL, "operation %zu has no path", index);
    len = strnlen(op->path, HUB_MAX_PATH_BYTES + 2);
    if (op->kind == REPO_OP_DELETE_FOLDER && len > 0 && len <= HUB_MAX_PATH_BYTES + 1 &&
        op->path[len - 1] == '/')
        len--; /* a trailing '/' is allowed on folders */
    if (len > HUB_MAX_PATH_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "path '%.60s...' is longer than %d bytes", op->path,
                             HUB_MAX_PATH_BYTES);
    memcpy(path, op->path, len);
    path[len] = '\0';
    rc = repo_path_check(path, false, err);
    if (rc < 0)
        return rc;
    switch (op->kind) {
    case REPO_OP_ADD_FILE:
        if (op->len > HUB_MAX_GIT_FILE_BYTES)
            return hub_error_set(err, HUB_ETOOBIG,
                                 "file %.300s has %zu bytes, more than the %llu allowed in git; "
                                 "upload it as an LFS file",
                                 path, op->len, (unsigned long long)HUB_MAX_GIT_FILE_BYTES);
        if (op->len > 0 && op->data == NULL)
            return hub_error_set(err, HUB_EINVAL, "file %.300s has no data", path);
        return 0;
    case REPO_OP_ADD_LFS:
        if (op->lfs_oid == NULL || strnlen(op->lfs_oid, 65) != 64 ||
            strspn(op->lfs_oid, "0123456789abcdef") != 64)
            return hub_error_set(err, HUB_EINVAL,
                                 "LFS file %.300s: oid must be 64 lowercase hex digits", path);
        if (op->lfs_size > (uint64_t)INT64_MAX)
            return hub_error_set(err, HUB_EINVAL, "LFS file %.300s: size is too large", path);
        return 0;
    case REPO_OP_DELETE_FILE:
    case REPO_OP_DELETE_FOLDER:
        return 0;
    default:
        return hub_error_set(err, HUB_EINVAL, "operation %zu has an unknown kind", index);
    }
}

static int check_request(const struct repo_commit_request *req, struct hub_error *err)
{
    int rc;

    rc = check_text(req->branch, HUB_MAX_REVISION_BYTES, "branch", err);
    if (rc == 0)
        rc = check_text(req->author_name, HUB_MAX_AUTHOR_BYTES, "author name", err);
    if (rc == 0)
        rc = check_text(req->author_email, HUB_MAX_AUTHOR_BYTES, "author e-mail", err);
    if (rc == 0)
        rc = check_text(req->message, HUB_MAX_COMMIT_MESSAGE_BYTES, "commit message", err);
    if (rc < 0)
        return rc;
    if (req->n_ops > HUB_MAX_COMMIT_OPS)
        return hub_error_set(err, HUB_ETOOBIG, "commit has %zu operations, more than %d",
                             req->n_ops, HUB_MAX_COMMIT_OPS);
    if (req->n_ops > 0 && req->ops == NULL)
        return hub_error_set(err, HUB_EINVAL, "commit operations are missing");
    for (size_t i = 0; i < req->n_ops; i++) {
        rc = check_op(&req->ops[i], i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool is_full_commit_id(const char *s)
{
    return s != NULL && strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

static int target_resolve(struct commit_target *t, struct repo *r,
                          const struct repo_commit_request *req, struct hub_error *err)
{
    const char *name = req->branch;
    git_reference *ref = NULL;
    git_object *obj = NULL;
    int valid = 0, rc;

    if (strncmp(name, "refs/heads/", 11) == 0)
        name += 11;
    if (repo_pr_ref_is_valid(name))
        snprintf(t->refname, sizeof(t->refname), "%s", name);
    else
        snprintf(t->refname, sizeof(t->refname), "refs/heads/%s", name);
    t->display_name = strncmp(t->refname, "refs/heads/", 11) == 0 ? t->refname + 11 : t->refname;
    if (git_reference_name_is_valid(&valid, t->refname) < 0 || !valid)
        return hub_error_set(err, HUB_EINVAL, "invalid branch name '%.200s'", name);
    rc = git_reference_lookup(&ref, r->git, t->refname);
    if (rc == 0) {
        rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
        git_reference_free(ref);
        if (rc < 0)
            return repo_error_from_git(err, rc, "read branch");
        t->parent = (git_commit *)obj;
        t->branch_exists = true;
        return 0;
    }
    if (rc != GIT_ENOTFOUND)
        return repo_error_from_git(err, rc, "read branch");
    if (req->create_from != NULL)
        return repo_commit_lookup_rev(&t->parent, r, req->create_from, err);
    /* Not a branch: say whether it is a tag or a commit id, which cannot take commits. */
    if (repo_commit_lookup_rev(&t->parent, r, name, NULL) == 0) {
        git_commit_free(t->parent);
        t->parent = NULL;
        return hub_error_set(err, HUB_EINVAL,
                             "revision '%.200s' is not a branch; commits go onto a branch", name);
    }
    return hub_error_set(err, HUB_ENOTFOUND, "revision not found: %.200s", name);
}

static int index_add_bytes(git_index *index, git_repository *git, const char *path,
                           const void *data, size_t len, struct hub_error *err)
{
    git_index_entry entry;
    int rc;

    memset(&entry, 0, sizeof(entry));
    rc = git_blob_create_from_buffer(&entry.id, git, data != NULL ? data : "", len);
    if (rc < 0)
        return repo_error_from_git(err, rc, "write blob");
    entry.mode = GIT_FILEMODE_BLOB;
    entry.path = path;
    entry.file_size = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
    rc = git_index_add(index, &entry);
    if (rc < 0)
        return hub_error_set(err, HUB_EINVAL, "cannot add %.300s: %s", path,
                             git_error_last() != NULL ? git_error_last()->message : "git error");
    return 0;
}

static int index_delete_folder(git_index *index, const char *path, struct hub_error *err)
{
    char dir[HUB_MAX_PATH_BYTES + 2];
    size_t len = strlen(path), pos = 0;

    while (len > 0 && path[len - 1] == '/')
        len--;
    snprintf(dir, sizeof(dir), "%.*s/", (int)len, path);
    if (git_index_find_prefix(&pos, index, dir) != 0)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "A folder with this name doesn't exist: %.300s (no file under it)",
                             dir);
    dir[len] = '\0';
    if (git_index_remove_directory(index, dir, 0) < 0)
        return repo_error_from_git(err, -1, "delete folder");
    return 0;
}

static int index_add_pointer(git_index *index, git_repository *git, const char *path,
                             const char *oid, uint64_t size, struct hub_error *err)
{
    char pointer[LFS_POINTER_MAX_BYTES];
    struct lfs_pointer p;
    size_t len;

    memcpy(p.oid, oid, 65);
    p.size = size;
    len = lfs_pointer_format(pointer, sizeof(pointer), &p);
    if (len == 0)
        return hub_error_set(err, HUB_EINTERNAL, "cannot format an LFS pointer");
    return index_add_bytes(index, git, path, pointer, len, err);
}

static bool is_attributes_file(const char *path)
{
    const char *slash = strrchr(path, '/');

    return strcmp(slash != NULL ? slash + 1 : path, ".gitattributes") == 0;
}

/* Returns whether the content of a REPO_OP_ADD_FILE op goes to the LFS store (see
 * repo_commit). attrs is NULL when the caller gave no lfs_store. */
static bool file_goes_to_lfs(const struct lfs_attributes *attrs, const struct repo_op *op)
{
    return attrs != NULL && op->len > 0 && !is_attributes_file(op->path) &&
           lfs_attributes_match(attrs, op->path) && !lfs_pointer_is_pointer(op->data, op->len);
}

/* Parses the filter=lfs rules of the .gitattributes that the commit results in: the content
 * of the last op on that path, else the file in tree (NULL for a commit without a parent).
 * A .gitattributes that the commit deletes or adds as an LFS file has no rules. */
static int result_attributes_load(struct lfs_attributes **out, git_repository *git, git_tree *tree,
                                  const struct repo_commit_request *req, struct hub_error *err)
{
    git_tree_entry *entry = NULL;
    git_blob *blob = NULL;
    int rc;

    for (size_t i = req->n_ops; i-- > 0;) {
        const struct repo_op *op = &req->ops[i];

        if (strcmp(op->path, ".gitattributes") != 0)
            continue;
        if (op->kind == REPO_OP_ADD_FILE)
            return lfs_attributes_parse(out, op->data, op->len, err);
        return lfs_attributes_parse(out, "", 0, err);
    }
    if (tree == NULL)
        return lfs_attributes_parse(out, "", 0, err);
    rc = git_tree_entry_bypath(&entry, tree, ".gitattributes");
    if (rc == GIT_ENOTFOUND)
        return lfs_attributes_parse(out, "", 0, err);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read .gitattributes");
    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
        rc = lfs_attributes_parse(out, "", 0, err);
        goto out;
    }
    rc = git_blob_lookup(&blob, git, git_tree_entry_id(entry));
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "read .gitattributes");
        goto out;
    }
    rc = lfs_attributes_parse(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), err);
out:
    git_blob_free(blob);
    git_tree_entry_free(entry);
    return rc;
}

/* Hands the content of op to req->lfs_store and adds a pointer to the stored object. */
static int index_add_stored_file(git_index *index, git_repository *git, const struct repo_op *op,
                                 const struct repo_commit_request *req, struct hub_error *err)
{
    char oid[65];
    int rc;

    rc = req->lfs_store(req->lfs_store_ctx, op->path, op->data, op->len, oid, err);
    if (rc < 0)
        return rc;
    return index_add_pointer(index, git, op->path, oid, op->len, err);
}

static int apply_op(git_index *index, git_repository *git, const struct repo_op *op,
                    const struct repo_commit_request *req, const struct lfs_attributes *attrs,
                    struct hub_error *err)
{
    switch (op->kind) {
    case REPO_OP_ADD_FILE:
        if (file_goes_to_lfs(attrs, op))
            return index_add_stored_file(index, git, op, req, err);
        return index_add_bytes(index, git, op->path, op->data, op->len, err);
    case REPO_OP_ADD_LFS:
        return index_add_pointer(index, git, op->path, op->lfs_oid, op->lfs_size, err);
    case REPO_OP_DELETE_FILE:
        if (git_index_get_bypath(index, op->path, 0) == NULL)
            return hub_error_set(err, HUB_ENOTFOUND, "A file with this name doesn't exist: %.300s",
                                 op->path);
        if (git_index_remove(index, op->path, 0) < 0)
            return repo_error_from_git(err, -1, "delete file");
        return 0;
    case REPO_OP_DELETE_FOLDER:
        return index_delete_folder(index, op->path, err);
    }
    return hub_error_set(err, HUB_EINTERNAL, "unknown operation kind");
}

/* Appends an exact-path filter=lfs rule to .gitattributes for each LFS path that no rule of
 * the new tree's .gitattributes matches, so git clients check out content, not pointers. */
static int track_lfs_paths(git_index *index, git_repository *git,
                           const struct repo_commit_request *req, struct hub_error *err)
{
    const git_index_entry *entry = git_index_get_bypath(index, ".gitattributes", 0);
    struct lfs_attributes *attrs = NULL;
    git_blob *blob = NULL;
    char *text = NULL;
    size_t len = 0, cap;
    int rc = 0;

    if (entry != NULL) {
        rc = git_blob_lookup(&blob, git, &entry->id);
        if (rc < 0)
            return repo_error_from_git(err, rc, "read .gitattributes");
        len = (size_t)git_blob_rawsize(blob);
    }
    cap = len + 2;
    text = malloc(cap);
    if (text == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate .gitattributes");
        goto out;
    }
    if (len > 0)
        memcpy(text, git_blob_rawcontent(blob), len);
    rc = lfs_attributes_parse(&attrs, text, len, err);
    if (rc < 0)
        goto out;
    size_t original_len = len;

    for (size_t i = 0; i < req->n_ops; i++) {
        const struct repo_op *op = &req->ops[i];
        char line[HUB_MAX_PATH_BYTES * 12 + 64];
        size_t line_len;

        if (op->kind != REPO_OP_ADD_LFS || lfs_attributes_match(attrs, op->path))
            continue;
        line_len = lfs_attributes_track_line(line, sizeof(line), op->path);
        if (line_len == 0)
            continue;
        if (len + line_len + 2 > cap) {
            char *grown;

            cap = (len + line_len + 2) * 2;
            grown = realloc(text, cap);
            if (grown == NULL) {
                rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate .gitattributes");
                goto out;
            }
            text = grown;
        }
        if (len > 0 && text[len - 1] != '\n')
            text[len++] = '\n';
        memcpy(text + len, line, line_len);
        len += line_len;
        /* Parse again so a path repeated in the ops gets one rule. */
        lfs_attributes_free(attrs);
        attrs = NULL;
        rc = lfs_attributes_parse(&attrs, text, len, err);
        if (rc < 0)
            goto out;
    }
    if (len != original_len)
        rc = index_add_bytes(index, git, ".gitattributes", text, len, err);
out:
    lfs_attributes_free(attrs);
    free(text);
    git_blob_free(blob);
    return rc;
}

static int build_tree(git_oid *tree_id, struct repo *r, git_commit *parent,
                      const struct repo_commit_request *req, struct hub_error *err)
{
    struct lfs_attributes *attrs = NULL;
    git_index *index = NULL;
    git_tree *tree = NULL;
    int rc;

    rc = git_index_new(&index);
    if (rc == 0 && parent != NULL)
        rc = git_commit_tree(&tree, parent);
    if (rc == 0 && tree != NULL)
        rc = git_index_read_tree(index, tree);
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "load tree");
        goto out;
    }
    if (req->lfs_store != NULL) {
        rc = result_attributes_load(&attrs, r->git, tree, req, err);
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; i < req->n_ops; i++) {
        rc = apply_op(index, r->git, &req->ops[i], req, attrs, err);
        if (rc < 0)
            goto out;
    }
    if (!req->no_track_lfs) {
        rc = track_lfs_paths(index, r->git, req, err);
        if (rc < 0)
            goto out;
    }
    rc = git_index_write_tree_to(tree_id, index, r->git);
    if (rc < 0)
        rc = repo_error_from_git(err, rc, "write tree");
out:
    lfs_attributes_free(attrs);
    git_tree_free(tree);
    git_index_free(index);
    return rc;
}

static int write_commit(git_oid *out, struct repo *r, git_commit *parent, const git_oid *tree_id,
                        const struct repo_commit_request *req, struct hub_error *err)
{
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    const git_commit *parents[1] = {parent};
    int rc;

    if (req->time != 0)
        rc = git_signature_new(&sig, req->author_name, req->author_email, (git_time_t)req->time, 0);
    else
        rc = git_signature_now(&sig, req->author_name, req->author_email);
    if (rc < 0) {
        rc = hub_error_set(err, HUB_EINVAL, "invalid author '%.100s <%.100s>': %s",
                           req->author_name, req->author_email,
                           git_error_last() != NULL ? git_error_last()->message : "git error");
        goto out;
    }
    rc = git_tree_lookup(&tree, r->git, tree_id);
    if (rc == 0)
        rc = git_commit_create(out, r->git, NULL, sig, sig, NULL, req->message, tree,
                               parent != NULL ? 1 : 0, parent != NULL ? parents : NULL);
    if (rc < 0)
        rc = repo_error_from_git(err, rc, "write commit");
out:
    git_tree_free(tree);
    git_signature_free(sig);
    return rc;
}

static int move_branch(struct repo *r, const struct commit_target *t, const git_oid *commit,
                       struct hub_error *err)
{
    git_reference *ref = NULL;
    int rc;

    if (t->branch_exists)
        rc = git_reference_create_matching(&ref, r->git, t->refname, commit, 1,
                                           git_commit_id(t->parent), "commit (hub API)");
    else
        rc = git_reference_create(&ref, r->git, t->refname, commit, 0, "commit (hub API)");
    git_reference_free(ref);
    if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS)
        return hub_error_set(err, HUB_ECONFLICT,
                             "branch '%s' moved while the commit was written; retry",
                             t->display_name);
    if (rc < 0)
        return repo_error_from_git(err, rc, "update branch");
    return 0;
}

int repo_commit(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r,
                const struct repo_commit_request *req, struct hub_error *err)
{
    struct commit_target t = {0};
    struct repo_lock *lock = NULL;
    git_oid tree_id, commit_id;
    char head[REPO_OID_HEX_BYTES + 1];
    int rc;

    rc = check_request(req, err);
    if (rc < 0)
        return rc;
    if (req->expected_parent != NULL && !is_full_commit_id(req->expected_parent))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid parent commit '%.60s': expected 40 lowercase hex digits",
                             req->expected_parent);
    rc = repo_lock_acquire(&lock, r->path, err);
    if (rc < 0)
        return rc;
    if (req->check != NULL) {
        rc = req->check(req->check_ctx, err);
        if (rc < 0)
            goto out;
    }
    rc = target_resolve(&t, r, req, err);
    if (rc < 0)
        goto out;
    repo_oid_hex(head, git_commit_id(t.parent));
    if (req->expected_parent != NULL && strcmp(head, req->expected_parent) != 0) {
        rc = hub_error_set(err, HUB_ECONFLICT,
                           "branch '%s' is at %s, not at the expected parent commit %s",
                           t.display_name, head, req->expected_parent);
        goto out;
    }
    rc = build_tree(&tree_id, r, t.parent, req, err);
    if (rc == 0)
        rc = write_commit(&commit_id, r, t.parent, &tree_id, req, err);
    if (rc == 0)
        rc = move_branch(r, &t, &commit_id, err);
    if (rc == 0)
        repo_oid_hex(commit_out, &commit_id);
out:
    git_commit_free(t.parent);
    repo_lock_release(lock);
    return rc;
}
