/* repo_tree: read-only views of a repo: tree listings with LFS pointer detection, file
 * contents, the commit log, the last commit touching a path, and the LFS oids a repo's
 * history references. Blob sizes come from the object header, so listing a tree never loads
 * a large blob; only blobs smaller than LFS_POINTER_MAX_BYTES are read to detect pointers. */
#include "repo.h"
#include "hub_utf8.h"

#include "lfs_attributes.h"
#include "lfs_pointer.h"
#include "repo_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills the type, oid, size and LFS fields of e for a tree entry. */
static int entry_describe(struct repo_entry *e, git_odb *odb, git_repository *git,
                          const git_tree_entry *te, struct hub_error *err)
{
    const git_oid *id = git_tree_entry_id(te);
    git_object_t type;
    git_blob *blob = NULL;
    size_t size = 0;
    int rc;

    repo_oid_hex(e->oid, id);
    if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
        e->type = REPO_ENTRY_DIRECTORY;
        return 0;
    }
    e->type = REPO_ENTRY_FILE;
    e->is_executable = git_tree_entry_filemode(te) == GIT_FILEMODE_BLOB_EXECUTABLE;
    rc = git_odb_read_header(&size, &type, odb, id);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read blob header");
    e->size = size;
    if (size == 0 || size >= LFS_POINTER_MAX_BYTES)
        return 0;
    rc = git_blob_lookup(&blob, git, id);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read blob");
    struct lfs_pointer p;

    if (lfs_pointer_parse(&p, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), NULL) ==
        0) {
        e->is_lfs = true;
        memcpy(e->lfs_oid, p.oid, sizeof(e->lfs_oid));
        e->pointer_size = (uint32_t)size;
        e->size = p.size;
    }
    git_blob_free(blob);
    return 0;
}

static char *path_join(const char *dir, const char *name)
{
    size_t dir_len = strlen(dir), name_len = strlen(name);
    char *out = malloc(dir_len + name_len + 2);

    if (out == NULL)
        return NULL;
    if (dir_len > 0) {
        memcpy(out, dir, dir_len);
        out[dir_len++] = '/';
    }
    memcpy(out + dir_len, name, name_len + 1);
    return out;
}

struct list_ctx {
    struct repo_entry *items;
    size_t count, cap;
    git_odb *odb;
    git_repository *git;
    const char *base; /* folder being listed, "" for the root */
    struct hub_error *err;
    int rc; /* first error, stops the walk */
};

static int list_add(struct list_ctx *c, const char *dir, const git_tree_entry *te)
{
    struct repo_entry *e;
    char *rel, *full;

    if (git_tree_entry_type(te) != GIT_OBJECT_TREE && git_tree_entry_type(te) != GIT_OBJECT_BLOB)
        return 0; /* submodule commits are not files of a hub repo */
    if (c->count >= HUB_MAX_TREE_ENTRIES) {
        c->rc = hub_error_set(c->err, HUB_ETOOBIG, "tree has more than %d entries; list a folder",
                              HUB_MAX_TREE_ENTRIES);
        return -1;
    }
    if (c->count == c->cap) {
        size_t new_cap = c->cap == 0 ? 64 : c->cap * 2;
        struct repo_entry *grown = realloc(c->items, new_cap * sizeof(*grown));

        if (grown == NULL) {
            c->rc = hub_error_set(c->err, HUB_ENOMEM, "cannot allocate the tree listing");
            return -1;
        }
        c->items = grown;
        c->cap = new_cap;
    }
    rel = path_join(dir, git_tree_entry_name(te));
    full = rel != NULL ? path_join(c->base, rel) : NULL;
    free(rel);
    if (full == NULL) {
        c->rc = hub_error_set(c->err, HUB_ENOMEM, "cannot allocate the tree listing");
        return -1;
    }
    e = &c->items[c->count];
    memset(e, 0, sizeof(*e));
    e->path = full;
    c->count++;
    c->rc = entry_describe(e, c->odb, c->git, te, c->err);
    return c->rc < 0 ? -1 : 0;
}

static int walk_cb(const char *root, const git_tree_entry *te, void *payload)
{
    struct list_ctx *c = payload;
    char dir[HUB_MAX_PATH_BYTES * 2];
    size_t len = strlen(root);

    /* libgit2 passes the parent folder with a trailing '/', or "" at the top. */
    if (len >= sizeof(dir))
        return -1;
    memcpy(dir, root, len + 1);
    if (len > 0 && dir[len - 1] == '/')
        dir[len - 1] = '\0';
    return list_add(c, dir, te);
}

/* Looks up the folder at path in commit's tree; path "" is the root. */
static int folder_lookup(git_tree **out, git_commit *commit, const char *path,
                         struct hub_error *err)
{
    git_tree_entry *te = NULL;
    git_tree *root = NULL;
    int rc;

    rc = git_commit_tree(&root, commit);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read commit tree");
    if (path[0] == '\0') {
        *out = root;
        return 0;
    }
    rc = git_tree_entry_bypath(&te, root, path);
    if (rc == 0 && git_tree_entry_type(te) != GIT_OBJECT_TREE)
        rc = GIT_ENOTFOUND;
    if (rc == 0)
        rc = git_tree_lookup(out, git_tree_owner(root), git_tree_entry_id(te));
    git_tree_entry_free(te);
    git_tree_free(root);
    if (rc == GIT_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND, "folder not found: %.300s", path);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read folder");
    return 0;
}

int repo_tree_list(struct repo_entry **out, size_t *count, struct repo *r, const char *rev,
                   const char *path, bool recursive, struct hub_error *err)
{
    struct list_ctx c = {0};
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    if (path == NULL)
        path = "";
    rc = repo_path_check(path, true, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    if (rc == 0)
        rc = folder_lookup(&tree, commit, path, err);
    if (rc == 0) {
        rc = git_repository_odb(&c.odb, r->git);
        if (rc < 0)
            rc = repo_error_from_git(err, rc, "open object database");
    }
    if (rc < 0)
        goto out;
    c.git = r->git;
    c.base = path;
    c.err = err;
    if (recursive) {
        git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &c);
    } else {
        size_t n = git_tree_entrycount(tree);

        for (size_t i = 0; i < n && c.rc == 0; i++)
            list_add(&c, "", git_tree_entry_byindex(tree, i));
    }
    rc = c.rc;
    if (rc < 0) {
        repo_entries_free(c.items, c.count);
        goto out;
    }
    *out = c.items;
    *count = c.count;
out:
    git_odb_free(c.odb);
    git_tree_free(tree);
    git_commit_free(commit);
    return rc;
}

void repo_entries_free(struct repo_entry *entries, size_t count)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(entries[i].path);
    free(entries);
}

int repo_entry_stat(struct repo_entry *out, struct repo *r, const char *rev, const char *path,
                    struct hub_error *err)
{
    git_commit *commit = NULL;
    git_tree *root = NULL;
    git_tree_entry *te = NULL;
    git_odb *odb = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = repo_path_check(path, true, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    if (rc < 0)
        return rc;
    rc = git_commit_tree(&root, commit);
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "read commit tree");
        goto out;
    }
    out->path = strdup(path);
    if (out->path == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a path");
        goto out;
    }
    if (path[0] == '\0') {
        out->type = REPO_ENTRY_DIRECTORY;
        repo_oid_hex(out->oid, git_tree_id(root));
        goto out;
    }
    rc = git_tree_entry_bypath(&te, root, path);
    if (rc == GIT_ENOTFOUND) {
        rc = hub_error_set(err, HUB_ENOTFOUND, "entry not found: %.300s", path);
        goto out;
    }
    /* A gitlink (submodule commit) has no content here, so listings leave it out too. */
    if (rc == 0 && git_tree_entry_type(te) == GIT_OBJECT_COMMIT) {
        rc = hub_error_set(err, HUB_ENOTFOUND,
                           "entry not found: %.300s is a git submodule, which the hub does not "
                           "serve",
                           path);
        goto out;
    }
    if (rc == 0)
        rc = git_repository_odb(&odb, r->git);
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "read entry");
        goto out;
    }
    rc = entry_describe(out, odb, r->git, te, err);
out:
    if (rc < 0) {
        free(out->path);
        out->path = NULL;
    }
    git_odb_free(odb);
    git_tree_entry_free(te);
    git_tree_free(root);
    git_commit_free(commit);
    return rc;
}

int repo_file_read(char **out, size_t *len_out, struct repo *r, const char *rev, const char *path,
                   size_t max_bytes, struct hub_error *err)
{
    git_commit *commit = NULL;
    git_tree *root = NULL;
    git_tree_entry *te = NULL;
    git_blob *blob = NULL;
    git_odb *odb = NULL;
    git_object_t type;
    size_t size = 0;
    char *buf;
    int rc;

    *out = NULL;
    *len_out = 0;
    if (max_bytes == 0)
        max_bytes = HUB_MAX_GIT_FILE_BYTES;
    rc = repo_path_check(path, false, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    if (rc < 0)
        return rc;
    rc = git_commit_tree(&root, commit);
    if (rc == 0)
        rc = git_tree_entry_bypath(&te, root, path);
    if (rc == 0 && git_tree_entry_type(te) != GIT_OBJECT_BLOB)
        rc = GIT_ENOTFOUND;
    if (rc == GIT_ENOTFOUND) {
        rc = hub_error_set(err, HUB_ENOTFOUND, "file not found: %.300s", path);
        goto out;
    }
    if (rc == 0)
        rc = git_repository_odb(&odb, r->git);
    if (rc == 0)
        rc = git_odb_read_header(&size, &type, odb, git_tree_entry_id(te));
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "read file");
        goto out;
    }
    if (size > max_bytes) {
        rc = hub_error_set(err, HUB_ETOOBIG, "file %.300s has %zu bytes, more than %zu", path, size,
                           max_bytes);
        goto out;
    }
    rc = git_blob_lookup(&blob, r->git, git_tree_entry_id(te));
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "read blob");
        goto out;
    }
    size = (size_t)git_blob_rawsize(blob);
    buf = malloc(size + 1);
    if (buf == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu bytes for %.300s", size + 1, path);
        goto out;
    }
    memcpy(buf, git_blob_rawcontent(blob), size);
    buf[size] = '\0';
    *out = buf;
    *len_out = size;
out:
    git_blob_free(blob);
    git_odb_free(odb);
    git_tree_entry_free(te);
    git_tree_free(root);
    git_commit_free(commit);
    return rc;
}

void repo_commit_info_dispose(struct repo_commit_info *info)
{
    free(info->title);
    free(info->message);
    free(info->author_name);
    free(info->author_email);
    free(info->parents);
    info->title = info->message = info->author_name = info->author_email = NULL;
    info->parents = NULL;
    info->n_parents = 0;
}

/* Returns text from a commit as malloc'd UTF-8, converted from the commit's encoding header as
 * `git log` does, or with invalid bytes replaced by U+FFFD. NULL text becomes "". */
static char *text_decode(const char *text, const char *encoding)
{
    if (text == NULL)
        text = "";
    return hub_utf8_decode(text, strlen(text), encoding);
}

static int info_fill(struct repo_commit_info *out, const git_commit *commit, struct hub_error *err)
{
    const git_signature *author = git_commit_author(commit);
    const char *message = git_commit_message(commit);
    const char *summary = git_commit_summary((git_commit *)commit);
    const char *encoding = git_commit_message_encoding(commit);

    unsigned int n_parents = git_commit_parentcount(commit);

    memset(out, 0, sizeof(*out));
    repo_oid_hex(out->id, git_commit_id(commit));
    if (n_parents > 0) {
        repo_oid_hex(out->parent, git_commit_parent_id(commit, 0));
        out->parents = calloc(n_parents, sizeof(*out->parents));
        if (out->parents == NULL)
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate commit details");
        for (unsigned int i = 0; i < n_parents; i++)
            repo_oid_hex(out->parents[i], git_commit_parent_id(commit, i));
        out->n_parents = n_parents;
    }
    out->title = text_decode(summary, encoding);
    out->message = text_decode(message, encoding);
    out->author_name = text_decode(author->name, encoding);
    out->author_email = text_decode(author->email, encoding);
    out->time = (int64_t)author->when.time;
    out->tz_offset_min = author->when.offset;
    if (out->title == NULL || out->message == NULL || out->author_name == NULL ||
        out->author_email == NULL) {
        repo_commit_info_dispose(out);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate commit details");
    }
    return 0;
}

int repo_commit_get(struct repo_commit_info *out, struct repo *r, const char *rev,
                    struct hub_error *err)
{
    git_commit *commit = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    if (rc < 0)
        return rc;
    rc = info_fill(out, commit, err);
    git_commit_free(commit);
    return rc;
}

void repo_commits_free(struct repo_commit_info *commits, size_t count)
{
    if (commits == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        repo_commit_info_dispose(&commits[i]);
    free(commits);
}

/* Replaces *commit with its first parent; sets *commit to NULL at the root. */
static int step_first_parent(git_commit **commit, struct hub_error *err)
{
    git_commit *parent = NULL;
    int rc;

    if (git_commit_parentcount(*commit) == 0) {
        git_commit_free(*commit);
        *commit = NULL;
        return 0;
    }
    rc = git_commit_parent(&parent, *commit, 0);
    git_commit_free(*commit);
    *commit = parent;
    if (rc < 0)
        return repo_error_from_git(err, rc, "read parent commit");
    return 0;
}

int repo_log(struct repo_commit_info **out, size_t *count, size_t *total, struct repo *r,
             const char *rev, size_t offset, size_t limit, struct hub_error *err)
{
    struct repo_commit_info *items = NULL;
    git_commit *commit = NULL;
    size_t n = 0, seen = 0;
    int rc;

    *out = NULL;
    *count = 0;
    if (limit == 0 || limit > HUB_MAX_LIST_LIMIT)
        return hub_error_set(err, HUB_EINVAL, "invalid limit %zu: use 1 to %d", limit,
                             HUB_MAX_LIST_LIMIT);
    items = calloc(limit, sizeof(*items));
    if (items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the commit list");
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    while (rc == 0 && commit != NULL) {
        if (seen >= offset && n < limit) {
            rc = info_fill(&items[n], commit, err);
            if (rc < 0)
                break;
            n++;
        }
        seen++;
        /* Without a total, stop as soon as the page is full. */
        if (total == NULL && n == limit)
            break;
        rc = step_first_parent(&commit, err);
    }
    git_commit_free(commit);
    if (rc < 0) {
        repo_commits_free(items, n);
        return rc;
    }
    if (total != NULL)
        *total = seen;
    if (n == 0) {
        free(items);
        items = NULL;
    }
    *out = items;
    *count = n;
    return 0;
}

int repo_log_range(struct repo_commit_info **out, size_t *count, struct repo *r, const char *rev,
                   const char *hide, size_t limit, struct hub_error *err)
{
    struct repo_commit_info *items = NULL;
    git_commit *tip = NULL, *hidden = NULL, *commit = NULL;
    git_revwalk *walk = NULL;
    git_oid id;
    size_t n = 0;
    int rc;

    *out = NULL;
    *count = 0;
    if (limit == 0 || limit > HUB_MAX_LIST_LIMIT)
        return hub_error_set(err, HUB_EINVAL, "invalid limit %zu: use 1 to %d", limit,
                             HUB_MAX_LIST_LIMIT);
    rc = repo_commit_lookup_rev(&tip, r, rev, err);
    if (rc == 0 && hide != NULL)
        rc = repo_commit_lookup_rev(&hidden, r, hide, err);
    if (rc < 0)
        goto out;
    items = calloc(limit, sizeof(*items));
    if (items == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the commit list");
        goto out;
    }
    rc = git_revwalk_new(&walk, r->git);
    if (rc == 0)
        rc = git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
    if (rc == 0)
        rc = git_revwalk_push(walk, git_commit_id(tip));
    if (rc == 0 && hidden != NULL)
        rc = git_revwalk_hide(walk, git_commit_id(hidden));
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "start the commit walk");
        goto out;
    }
    while (n < limit) {
        int step = git_revwalk_next(&id, walk);

        if (step == GIT_ITEROVER)
            break;
        if (step == 0)
            step = git_commit_lookup(&commit, r->git, &id);
        if (step < 0) {
            rc = repo_error_from_git(err, step, "walk the commits");
            break;
        }
        rc = info_fill(&items[n], commit, err);
        git_commit_free(commit);
        if (rc < 0)
            break;
        n++;
    }
out:
    git_revwalk_free(walk);
    git_commit_free(tip);
    git_commit_free(hidden);
    if (rc < 0 || n == 0) {
        repo_commits_free(items, n);
        items = NULL;
        n = 0;
    }
    *out = items;
    *count = n;
    return rc;
}

/* The object at one path of a commit: whether it exists, its id and its file mode. */
struct path_state {
    bool found;
    git_oid id;
    git_filemode_t mode;
};

/* Returns whether a path is unchanged between two commits, as git's TREESAME: the same object
 * with the same mode, or missing from both. */
static bool path_state_equal(const struct path_state *a, const struct path_state *b)
{
    if (!a->found || !b->found)
        return a->found == b->found;
    return a->mode == b->mode && git_oid_equal(&a->id, &b->id);
}

/* Reads the state of path in root ("" is root itself). */
static int path_state_read(struct path_state *out, git_tree *root, const char *path,
                           struct hub_error *err)
{
    git_tree_entry *te = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (path[0] == '\0') {
        git_oid_cpy(&out->id, git_tree_id(root));
        out->mode = GIT_FILEMODE_TREE;
        out->found = true;
        return 0;
    }
    rc = git_tree_entry_bypath(&te, root, path);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc < 0)
        return repo_error_from_git(err, rc, "read entry");
    git_oid_cpy(&out->id, git_tree_entry_id(te));
    out->mode = git_tree_entry_filemode(te);
    out->found = true;
    git_tree_entry_free(te);
    return 0;
}

static int commit_path_state(struct path_state *out, git_commit *commit, const char *path,
                             struct hub_error *err)
{
    git_tree *root = NULL;
    int rc;

    rc = git_commit_tree(&root, commit);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read commit tree");
    rc = path_state_read(out, root, path, err);
    git_tree_free(root);
    return rc;
}

/* Sets *next to the first parent of commit where path is unchanged from here, or to NULL when
 * every parent differs. git log PATH simplifies history the same way: at a merge it follows
 * only the first parent that is TREESAME, and shows the merge when none is. */
static int unchanged_parent(git_commit **next, git_commit *commit, const char *path,
                            const struct path_state *here, struct hub_error *err)
{
    unsigned int n = git_commit_parentcount(commit);

    *next = NULL;
    for (unsigned int k = 0; k < n; k++) {
        struct path_state there;
        git_commit *parent = NULL;
        int rc = git_commit_parent(&parent, commit, k);

        if (rc < 0)
            return repo_error_from_git(err, rc, "read parent commit");
        rc = commit_path_state(&there, parent, path, err);
        if (rc == 0 && path_state_equal(here, &there)) {
            *next = parent;
            return 0;
        }
        git_commit_free(parent);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Walks from *commit, which takes ownership, to the commit that last changed path, whose
 * state at *commit is here. *walked counts the commits stepped over, shared with the caller's
 * walk, and the walk stops at HUB_MAX_LAST_COMMIT_WALK. On return *commit is the last commit
 * that changed path. */
static int last_change_walk(git_commit **commit, const char *path, const struct path_state *here,
                            int *walked, struct hub_error *err)
{
    for (;;) {
        git_commit *next = NULL;
        int rc;

        if (git_commit_parentcount(*commit) == 0 || ++*walked >= HUB_MAX_LAST_COMMIT_WALK)
            return 0;
        rc = unchanged_parent(&next, *commit, path, here, err);
        if (rc < 0 || next == NULL)
            return rc;
        git_commit_free(*commit);
        *commit = next;
    }
}

int repo_last_commit(struct repo_commit_info *out, struct repo *r, const char *rev,
                     const char *path, struct hub_error *err)
{
    git_commit *commit = NULL;
    struct path_state here;
    int rc, walked = 0;

    memset(out, 0, sizeof(*out));
    if (path == NULL)
        path = "";
    rc = repo_path_check(path, true, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    if (rc < 0)
        return rc;
    rc = commit_path_state(&here, commit, path, err);
    if (rc == 0 && !here.found)
        rc = hub_error_set(err, HUB_ENOTFOUND, "entry not found: %.300s", path);
    if (rc == 0)
        rc = last_change_walk(&commit, path, &here, &walked, err);
    if (rc == 0)
        rc = info_fill(out, commit, err);
    git_commit_free(commit);
    return rc;
}

/* Reads states[i] of each path i not yet done from one commit's tree. */
static int tree_states(struct path_state *states, const bool *done, git_commit *commit,
                       const char *const *paths, size_t n, struct hub_error *err)
{
    git_tree *root = NULL;
    int rc = 0;

    rc = git_commit_tree(&root, commit);
    if (rc < 0)
        return repo_error_from_git(err, rc, "read commit tree");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!done[i])
            rc = path_state_read(&states[i], root, paths[i], err);
    }
    git_tree_free(root);
    return rc;
}

/* At a merge, settles each pending path that differs from the first parent but not from a
 * later one: git follows that parent for it, so a separate walk from there finds its last
 * change. Paths that differ from every parent stay pending, for the merge to claim. */
static int follow_other_parents(struct repo_commit_info *out, bool *done, size_t *pending,
                                const struct path_state *here, const struct path_state *first,
                                git_commit *merge, const char *const *paths, size_t n, int walked,
                                struct hub_error *err)
{
    for (size_t i = 0; i < n; i++) {
        git_commit *next = NULL;
        int walked_here = walked;
        int rc;

        if (done[i] || path_state_equal(&here[i], &first[i]))
            continue;
        rc = unchanged_parent(&next, merge, paths[i], &here[i], err);
        if (rc == 0 && next != NULL)
            rc = last_change_walk(&next, paths[i], &here[i], &walked_here, err);
        if (rc == 0 && next != NULL) {
            rc = info_fill(&out[i], next, err);
            if (rc == 0) {
                done[i] = true;
                (*pending)--;
            }
        }
        git_commit_free(next);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Fills out[i] with commit for every pending path that changed there, and marks it done. */
static int assign_changed(struct repo_commit_info *out, bool *done, size_t *pending,
                          const struct path_state *here, const struct path_state *parent,
                          git_commit *commit, size_t n, bool all, struct hub_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc;

        if (done[i])
            continue;
        if (!all && path_state_equal(&here[i], &parent[i]))
            continue;
        rc = info_fill(&out[i], commit, err);
        if (rc < 0)
            return rc;
        done[i] = true;
        (*pending)--;
    }
    return 0;
}

int repo_last_commits(struct repo_commit_info *out, struct repo *r, const char *rev,
                      const char *const *paths, size_t n, struct hub_error *err)
{
    git_commit *commit = NULL, *parent = NULL;
    struct path_state *here = NULL, *there = NULL;
    bool *done = NULL;
    size_t pending = 0;
    int rc, walked = 0;

    memset(out, 0, n * sizeof(*out));
    if (n > HUB_MAX_TREE_ENTRIES)
        return hub_error_set(err, HUB_ETOOBIG, "more than %d paths", HUB_MAX_TREE_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        rc = repo_path_check(paths[i], true, err);
        if (rc < 0)
            return rc;
    }
    here = calloc(n + 1, sizeof(*here));
    there = calloc(n + 1, sizeof(*there));
    done = calloc(n + 1, sizeof(*done));
    if (here == NULL || there == NULL || done == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu path states", n);
        goto out;
    }
    rc = repo_commit_lookup_rev(&commit, r, rev, err);
    if (rc == 0)
        rc = tree_states(here, done, commit, paths, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        done[i] = !here[i].found; /* a path missing at rev keeps an empty id */
        pending += here[i].found ? 1 : 0;
    }
    /* The walk follows first parents, and follow_other_parents handles the paths that a merge
     * takes from another parent. */
    while (rc == 0 && pending > 0) {
        bool last = git_commit_parentcount(commit) == 0 || ++walked >= HUB_MAX_LAST_COMMIT_WALK;

        if (!last) {
            rc = git_commit_parent(&parent, commit, 0);
            if (rc < 0) {
                rc = repo_error_from_git(err, rc, "read parent commit");
                break;
            }
            rc = tree_states(there, done, parent, paths, n, err);
        }
        if (rc == 0 && !last && git_commit_parentcount(commit) > 1)
            rc = follow_other_parents(out, done, &pending, here, there, commit, paths, n, walked,
                                      err);
        if (rc == 0)
            rc = assign_changed(out, done, &pending, here, there, commit, n, last, err);
        git_commit_free(commit);
        commit = parent;
        parent = NULL;
        if (last)
            break;
    }
out:
    git_commit_free(parent);
    git_commit_free(commit);
    free(here);
    free(there);
    free(done);
    return rc;
}

int repo_lfs_attributes_load(struct lfs_attributes **out, struct repo *r, const char *rev,
                             struct hub_error *err)
{
    char commit_id[REPO_OID_HEX_BYTES + 1];
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = repo_revision_resolve(commit_id, r, rev, err);
    if (rc < 0)
        return rc;
    rc = repo_file_read(&text, &len, r, commit_id, ".gitattributes", HUB_MAX_GITATTRIBUTES_BYTES,
                        err);
    if (rc == HUB_ENOTFOUND)
        return lfs_attributes_parse(out, "", 0, err);
    if (rc < 0)
        return rc;
    rc = lfs_attributes_parse(out, text, len, err);
    free(text);
    return rc;
}

/* A set of object ids already visited, open addressing with linear probing. */
struct oid_set {
    git_oid *slots;
    bool *used;
    size_t cap, count;
};

static size_t oid_hash(const git_oid *id, size_t cap)
{
    size_t h;

    memcpy(&h, id->id, sizeof(h));
    return h & (cap - 1);
}

/* Returns 1 when id was added, 0 when it was already there, -1 without memory. */
static int oid_set_add(struct oid_set *s, const git_oid *id)
{
    if ((s->count + 1) * 2 > s->cap) {
        struct oid_set grown = {0};

        grown.cap = s->cap == 0 ? 1024 : s->cap * 2;
        grown.slots = calloc(grown.cap, sizeof(*grown.slots));
        grown.used = calloc(grown.cap, sizeof(*grown.used));
        if (grown.slots == NULL || grown.used == NULL) {
            free(grown.slots);
            free(grown.used);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->used[i])
                oid_set_add(&grown, &s->slots[i]);
        }
        free(s->slots);
        free(s->used);
        *s = grown;
    }
    for (size_t i = oid_hash(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (!s->used[i]) {
            s->used[i] = true;
            git_oid_cpy(&s->slots[i], id);
            s->count++;
            return 1;
        }
        if (git_oid_equal(&s->slots[i], id))
            return 0;
    }
}

struct lfs_walk {
    struct repo *r;
    git_odb *odb;
    struct oid_set seen;
    int (*fn)(void *ctx, const char *oid, uint64_t size, const char *path);
    void *ctx;
    struct hub_error *err;
    int rc;
};

static int lfs_tree_cb(const char *root, const git_tree_entry *te, void *payload)
{
    struct lfs_walk *w = payload;
    char path[HUB_MAX_PATH_BYTES * 2];
    struct lfs_pointer p;
    git_blob *blob = NULL;
    git_object_t type;
    size_t size = 0;
    int added;

    added = oid_set_add(&w->seen, git_tree_entry_id(te));
    if (added < 0) {
        w->rc = hub_error_set(w->err, HUB_ENOMEM, "cannot allocate the visited set");
        return -1;
    }
    if (added == 0)
        return git_tree_entry_type(te) == GIT_OBJECT_TREE ? 1 : 0; /* 1 skips the subtree */
    if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
        return 0;
    if (git_odb_read_header(&size, &type, w->odb, git_tree_entry_id(te)) < 0 || size == 0 ||
        size >= LFS_POINTER_MAX_BYTES)
        return 0;
    if (git_blob_lookup(&blob, w->r->git, git_tree_entry_id(te)) < 0)
        return 0;
    if (lfs_pointer_parse(&p, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), NULL) ==
        0) {
        snprintf(path, sizeof(path), "%s%s", root, git_tree_entry_name(te));
        w->rc = w->fn(w->ctx, p.oid, p.size, path);
    }
    git_blob_free(blob);
    return w->rc != 0 ? -1 : 0;
}

int repo_lfs_foreach(struct repo *r,
                     int (*fn)(void *ctx, const char *oid, uint64_t size, const char *path),
                     void *ctx, struct hub_error *err)
{
    struct lfs_walk w = {0};
    git_revwalk *walk = NULL;
    git_oid id;
    int rc;

    w.r = r;
    w.fn = fn;
    w.ctx = ctx;
    w.err = err;
    rc = git_repository_odb(&w.odb, r->git);
    if (rc == 0)
        rc = git_revwalk_new(&walk, r->git);
    if (rc == 0)
        rc = git_revwalk_push_glob(walk, "refs/*");
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "walk history");
        goto out;
    }
    while (w.rc == 0 && (rc = git_revwalk_next(&id, walk)) == 0) {
        git_commit *commit = NULL;
        git_tree *tree = NULL;

        rc = git_commit_lookup(&commit, r->git, &id);
        if (rc == 0)
            rc = git_commit_tree(&tree, commit);
        if (rc == 0 && oid_set_add(&w.seen, git_tree_id(tree)) == 1)
            git_tree_walk(tree, GIT_TREEWALK_PRE, lfs_tree_cb, &w);
        git_tree_free(tree);
        git_commit_free(commit);
        if (rc < 0)
            break;
    }
    if (w.rc != 0)
        rc = w.rc;
    else if (rc == GIT_ITEROVER)
        rc = 0;
    else if (rc < 0)
        rc = repo_error_from_git(err, rc, "walk history");
out:
    free(w.seen.slots);
    free(w.seen.used);
    git_revwalk_free(walk);
    git_odb_free(w.odb);
    return rc;
}
