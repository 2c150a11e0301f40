/* repo: creating, opening and deleting the bare git repos, resolving revisions, and branches
 * and tags. Tree reads live in repo_tree.c and commits in repo_commit.c. libgit2 codes and
 * messages are translated into struct hub_error here, at the module edge. */
#include "repo.h"

#include "lfs_attributes.h"
#include "repo_internal.h"
#include "repo_lock.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPO_PATH_BYTES 4096

int repo_error_from_git(struct hub_error *err, int code, const char *what)
{
    /* Read first, because the calls below may change errno. */
    int saved_errno = errno;
    const git_error *e = git_error_last();
    bool has_message = e != NULL && e->message != NULL && e->message[0] != '\0';
    int hub;

    switch (code) {
    case GIT_ENOTFOUND:
        hub = HUB_ENOTFOUND;
        break;
    case GIT_EEXISTS:
    case GIT_EMODIFIED:
        hub = HUB_ECONFLICT;
        break;
    case GIT_EINVALIDSPEC:
    case GIT_EAMBIGUOUS:
        hub = HUB_EINVAL;
        break;
    default:
        hub = HUB_EIO;
        break;
    }
    if (!has_message) {
        /* NOTE: errno may be left over from an earlier call that failed and was handled, but
         * its text is still more useful than "unknown error". */
        if (saved_errno != 0)
            return hub_error_set_errno(err, hub, saved_errno, "git: %s failed", what);
        return hub_error_set(err, hub, "git: %s failed: unknown error", what);
    }
    hub_error_set(err, hub, "git: %s failed: %s", what, e->message);
    /* libgit2 builds an OS error's message from errno, so the HTTP layer can tell a full disk
     * (507) from other failures. */
    if (err != NULL && e->klass == GIT_ERROR_OS)
        err->sys_errno = saved_errno;
    return hub;
}

void repo_oid_hex(char out[REPO_OID_HEX_BYTES + 1], const git_oid *id)
{
    git_oid_tostr(out, REPO_OID_HEX_BYTES + 1, id);
}

int repo_path_check(const char *path, bool allow_root, struct hub_error *err)
{
    size_t len, seg_start = 0;

    if (path == NULL)
        return hub_error_set(err, HUB_EINVAL, "missing path");
    len = strnlen(path, HUB_MAX_PATH_BYTES + 1);
    if (len > HUB_MAX_PATH_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "path '%.60s...' is longer than %d bytes", path,
                             HUB_MAX_PATH_BYTES);
    if (len == 0)
        return allow_root ? 0 : hub_error_set(err, HUB_EINVAL, "missing path");
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)path[i];

        if (c != '\0' && (c < 0x20 || c == 0x7f || c == '\\'))
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid path '%.200s': control characters and '\\' are not "
                                 "allowed",
                                 path);
        if (c != '/' && c != '\0')
            continue;
        size_t seg_len = i - seg_start;
        const char *seg = path + seg_start;

        if (seg_len == 0 || (seg_len == 1 && seg[0] == '.') ||
            (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid path '%.200s': empty, '.' and '..' segments are not "
                                 "allowed",
                                 path);
        if (seg_len == 4 && strncasecmp(seg, ".git", 4) == 0)
            return hub_error_set(err, HUB_EINVAL, "invalid path '%.200s': '.git' is reserved",
                                 path);
        seg_start = i + 1;
    }
    return 0;
}

int repo_rev_check(const char *rev, struct hub_error *err)
{
    size_t len;

    if (rev == NULL || rev[0] == '\0')
        return hub_error_set(err, HUB_EINVAL, "missing revision");
    len = strnlen(rev, HUB_MAX_REVISION_BYTES + 1);
    if (len > HUB_MAX_REVISION_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "revision '%.60s...' is longer than %d bytes", rev,
                             HUB_MAX_REVISION_BYTES);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)rev[i];

        if (c < 0x20 || c == 0x7f)
            return hub_error_set(err, HUB_EINVAL, "invalid revision: control characters");
    }
    return 0;
}

int repo_path_build(char *buf, size_t cap, const char *data_dir, enum hub_repo_type type,
                    const char *ns, const char *name, struct hub_error *err)
{
    int rc, n;

    rc = hub_name_check(ns, "namespace", err);
    if (rc < 0)
        return rc;
    rc = hub_name_check(name, "repo name", err);
    if (rc < 0)
        return rc;
    n = snprintf(buf, cap, "%s/repos/%s/%s/%s.git", data_dir, hub_repo_type_plural(type), ns, name);
    if (n < 0 || (size_t)n >= cap)
        return hub_error_set(err, HUB_ETOOBIG, "repo path for %s/%s is too long", ns, name);
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Removes a folder tree; a missing folder is fine. */
static int remove_tree(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_parents(const char *path, struct hub_error *err)
{
    char buf[REPO_PATH_BYTES];
    size_t len = strlen(path);

    if (len >= sizeof(buf))
        return hub_error_set(err, HUB_ETOOBIG, "path %.100s is too long", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return hub_error_set_errno(err, HUB_EIO, errno, "cannot create directory %s", buf);
        *p = '/';
    }
    return 0;
}

static int tree_add_blob(git_treebuilder *tb, git_repository *git, const char *name,
                         const char *text, struct hub_error *err)
{
    git_oid id;
    int rc;

    rc = git_blob_create_from_buffer(&id, git, text, strlen(text));
    if (rc < 0)
        return repo_error_from_git(err, rc, "write blob");
    rc = git_treebuilder_insert(NULL, tb, name, &id, GIT_FILEMODE_BLOB);
    if (rc < 0)
        return repo_error_from_git(err, rc, "add tree entry");
    return 0;
}

static int initial_commit(git_oid *out, git_repository *git, const struct repo_create_opts *o,
                          struct hub_error *err)
{
    git_treebuilder *tb = NULL;
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    git_oid tree_id;
    int rc;

    rc = git_treebuilder_new(&tb, git, NULL);
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "create tree");
        goto out;
    }
    rc = tree_add_blob(tb, git, ".gitattributes",
                       o->gitattributes != NULL ? o->gitattributes : lfs_attributes_default_text(),
                       err);
    if (rc == 0 && o->readme != NULL)
        rc = tree_add_blob(tb, git, "README.md", o->readme, err);
    if (rc < 0)
        goto out;
    rc = git_treebuilder_write(&tree_id, tb);
    if (rc == 0)
        rc = git_tree_lookup(&tree, git, &tree_id);
    if (rc == 0)
        rc = git_signature_now(&sig, o->author_name != NULL ? o->author_name : "Atelier",
                               o->author_email != NULL ? o->author_email : "atelier@localhost");
    if (rc == 0)
        rc = git_commit_create(out, git, "refs/heads/" REPO_DEFAULT_BRANCH, sig, sig, NULL,
                               o->message != NULL ? o->message : "Initial commit", tree, 0, NULL);
    if (rc < 0)
        rc = repo_error_from_git(err, rc, "write the first commit");
out:
    git_tree_free(tree);
    git_signature_free(sig);
    git_treebuilder_free(tb);
    return rc;
}

/* Builds the new repo in DATA/tmp so that a failure or a crash never leaves half a repo in
 * repos/, then renames it into place. */
static int repo_build_in_tmp(char *tmp_path, size_t cap, git_oid *commit, const char *data_dir,
                             const struct repo_create_opts *opts, struct hub_error *err)
{
    git_repository_init_options init;
    git_repository *git = NULL;
    int n, rc;

    git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);

    n = snprintf(tmp_path, cap, "%s/tmp/repo-XXXXXX", data_dir);
    if (n < 0 || (size_t)n >= cap)
        return hub_error_set(err, HUB_ETOOBIG, "data directory path is too long");
    if (mkdtemp(tmp_path) == NULL) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot create a temp folder in %s/tmp",
                                 data_dir);
        tmp_path[0] = '\0';
        return rc;
    }
    init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    init.initial_head = REPO_DEFAULT_BRANCH;
    rc = git_repository_init_ext(&git, tmp_path, &init);
    if (rc < 0)
        return repo_error_from_git(err, rc, "init bare repo");
    rc = initial_commit(commit, git, opts, err);
    git_repository_free(git);
    return rc;
}

int repo_create(char commit_out[REPO_OID_HEX_BYTES + 1], const char *data_dir,
                enum hub_repo_type type, const char *ns, const char *name,
                const struct repo_create_opts *opts, struct hub_error *err)
{
    static const struct repo_create_opts no_opts = {0};
    char path[REPO_PATH_BYTES], tmp_path[REPO_PATH_BYTES] = "";
    git_oid commit;
    int rc;

    rc = repo_path_build(path, sizeof(path), data_dir, type, ns, name, err);
    if (rc < 0)
        return rc;
    if (access(path, F_OK) == 0)
        return hub_error_set(err, HUB_ECONFLICT, "%s repo %s/%s already exists on disk",
                             hub_repo_type_name(type), ns, name);
    rc = repo_build_in_tmp(tmp_path, sizeof(tmp_path), &commit, data_dir,
                           opts != NULL ? opts : &no_opts, err);
    if (rc == 0)
        rc = mkdir_parents(path, err);
    /* rename() onto an existing non-empty folder fails, so a racing create loses cleanly. */
    if (rc == 0 && rename(tmp_path, path) != 0)
        rc = hub_error_set_errno(err,
                                 errno == ENOTEMPTY || errno == EEXIST ? HUB_ECONFLICT : HUB_EIO,
                                 errno, "cannot move the new repo to %s", path);
    if (rc < 0) {
        if (tmp_path[0] != '\0')
            remove_tree(tmp_path);
        return rc;
    }
    if (commit_out != NULL)
        repo_oid_hex(commit_out, &commit);
    return 0;
}

/* Returns 0 when the only ref of the bare repo at path is refs/heads/main and it points at
 * commit, else HUB_ECONFLICT naming what differs. */
static int repo_refs_match(const char *path, const char *commit, struct hub_error *err)
{
    struct repo_ref *refs = NULL;
    struct repo *r = NULL;
    size_t count = 0;
    int rc;

    rc = repo_open_path(&r, path, err);
    if (rc == 0)
        rc = repo_refs_list(&refs, &count, r, err);
    repo_close(r);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (strcmp(refs[i].ref, "refs/heads/" REPO_DEFAULT_BRANCH) != 0)
            rc = hub_error_set(err, HUB_ECONFLICT, "it has the ref %s", refs[i].ref);
        else if (strcmp(refs[i].target, commit) != 0)
            rc = hub_error_set(err, HUB_ECONFLICT, "main is at commit %.12s, not %.12s",
                               refs[i].target, commit);
    }
    if (rc == 0 && count == 0)
        rc = hub_error_set(err, HUB_ECONFLICT, "it has no branch %s", REPO_DEFAULT_BRANCH);
    free(refs);
    return rc;
}

/* Deletes the repo folder as repo_delete does; when expected_main is not NULL, only while
 * repo_refs_match holds, checked under the repo lock. */
static int repo_delete_checked(const char *data_dir, enum hub_repo_type type, const char *ns,
                               const char *name, const char *expected_main, struct hub_error *err)
{
    char path[REPO_PATH_BYTES], trash[REPO_PATH_BYTES];
    struct repo_lock *lock = NULL;
    int n, rc;

    rc = repo_path_build(path, sizeof(path), data_dir, type, ns, name, err);
    if (rc < 0)
        return rc;
    if (access(path, F_OK) != 0)
        return hub_error_set(err, HUB_ENOTFOUND, "%s repo %s/%s not found on disk",
                             hub_repo_type_name(type), ns, name);
    n = snprintf(trash, sizeof(trash), "%s/tmp/deleted-XXXXXX", data_dir);
    if (n < 0 || (size_t)n >= sizeof(trash))
        return hub_error_set(err, HUB_ETOOBIG, "data directory path is too long");
    if (mkdtemp(trash) == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create a temp folder in %s/tmp",
                                   data_dir);
    rc = repo_lock_acquire(&lock, path, err);
    if (rc < 0) {
        rmdir(trash);
        return rc;
    }
    if (expected_main != NULL)
        rc = repo_refs_match(path, expected_main, err);
    /* rename() replaces the empty folder trash made by mkdtemp, atomically. */
    if (rc == 0 && rename(path, trash) != 0)
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot move %s to %s", path, trash);
    repo_lock_release(lock);
    if (rc < 0) {
        rmdir(trash);
        return rc;
    }
    if (remove_tree(trash) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot remove %s", trash);
    return 0;
}

int repo_delete(const char *data_dir, enum hub_repo_type type, const char *ns, const char *name,
                struct hub_error *err)
{
    return repo_delete_checked(data_dir, type, ns, name, NULL, err);
}

int repo_delete_if_untouched(const char *data_dir, enum hub_repo_type type, const char *ns,
                             const char *name, const char *initial_commit, struct hub_error *err)
{
    return repo_delete_checked(data_dir, type, ns, name, initial_commit, err);
}

int repo_open_path(struct repo **out, const char *path, struct hub_error *err)
{
    struct repo *r = NULL;
    struct stat sb;
    int rc;

    *out = NULL;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hub_error_set(err, HUB_ENOTFOUND, "git repo %s not found", path);
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a repo");
    r->path = strdup(path);
    if (r->path == NULL) {
        free(r);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a repo");
    }
    rc = git_repository_open_ext(&r->git, path,
                                 GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL);
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "open repo");
        repo_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int repo_open(struct repo **out, const char *data_dir, enum hub_repo_type type, const char *ns,
              const char *name, struct hub_error *err)
{
    char path[REPO_PATH_BYTES];
    int rc;

    *out = NULL;
    rc = repo_path_build(path, sizeof(path), data_dir, type, ns, name, err);
    if (rc < 0)
        return rc;
    rc = repo_open_path(out, path, err);
    /* libgit2 reports a folder it may not read as missing, so the error names the real cause. */
    if (rc == HUB_ENOTFOUND && access(path, F_OK) == 0 && access(path, R_OK | X_OK) != 0)
        return hub_error_set(err, HUB_EIO,
                             "cannot open %s: permission denied; give the user who runs "
                             "atelier read and write access to it",
                             path);
    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND, "%s repo %s/%s not found on disk",
                             hub_repo_type_name(type), ns, name);
    return rc;
}

void repo_close(struct repo *r)
{
    if (r == NULL)
        return;
    git_repository_free(r->git);
    free(r->path);
    free(r);
}

const char *repo_path_get(const struct repo *r)
{
    return r->path;
}

static bool is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    }
    return true;
}

/* Peels the reference refname to a commit, or returns GIT_ENOTFOUND when it is missing. When
 * it leads to another kind of object (a tag of a tree or a blob), sets *other to that object's type
 * and returns GIT_EPEEL. */
static int ref_to_commit(git_commit **out, git_object_t *other, git_repository *git,
                         const char *refname)
{
    git_reference *ref = NULL;
    git_object *obj = NULL;
    int rc;

    rc = git_reference_lookup(&ref, git, refname);
    if (rc == 0)
        rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
    if (rc < 0 && rc != GIT_ENOTFOUND && ref != NULL &&
        git_reference_peel(&obj, ref, GIT_OBJECT_ANY) == 0) {
        if (git_object_type(obj) != GIT_OBJECT_COMMIT) {
            *other = git_object_type(obj);
            rc = GIT_EPEEL;
        }
        git_object_free(obj);
        obj = NULL;
    }
    git_reference_free(ref);
    if (rc < 0)
        return rc;
    *out = (git_commit *)obj;
    return 0;
}

static int hex_to_commit(git_commit **out, git_repository *git, const char *rev, size_t len)
{
    git_object *obj = NULL, *peeled = NULL;
    git_oid id;
    int rc;

    rc = git_oid_fromstrn(&id, rev, len);
    if (rc < 0)
        return GIT_ENOTFOUND;
    rc = git_object_lookup_prefix(&obj, git, &id, len, GIT_OBJECT_ANY);
    if (rc < 0)
        return rc == GIT_EAMBIGUOUS ? GIT_ENOTFOUND : rc;
    rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
    git_object_free(obj);
    if (rc < 0)
        return GIT_ENOTFOUND;
    *out = (git_commit *)peeled;
    return 0;
}

/* Sets err to name the commit that refname points to when libgit2 cannot parse it, such as a
 * commit whose author has no e-mail address (git's fsck rejects these in pushes now, but a
 * repo may hold one from before). Returns HUB_EIO then, or 0 when refname does not point to
 * such a commit. */
static int unreadable_commit_error(struct hub_error *err, git_repository *git, const char *refname)
{
    git_reference *ref = NULL;
    git_reference *resolved = NULL;
    git_commit *commit = NULL;
    const git_error *e;
    char hex[GIT_OID_HEXSZ + 1];
    int rc = 0;

    if (git_reference_lookup(&ref, git, refname) < 0 || git_reference_resolve(&resolved, ref) < 0)
        goto out;
    rc = git_commit_lookup(&commit, git, git_reference_target(resolved));
    e = git_error_last();
    if (rc == 0 || rc == GIT_ENOTFOUND || e == NULL || e->message == NULL) {
        rc = 0;
        goto out;
    }
    git_oid_tostr(hex, sizeof(hex), git_reference_target(resolved));
    rc =
        hub_error_set(err, HUB_EIO,
                      "%.255s points to commit %s, which is malformed and cannot be read (%.200s); "
                      "push a valid commit to it with `git push --force URL COMMIT:%.255s`",
                      refname, hex, e->message, refname);
out:
    git_commit_free(commit);
    git_reference_free(resolved);
    git_reference_free(ref);
    return rc;
}

int repo_commit_lookup_rev(git_commit **out, struct repo *r, const char *rev, struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    git_object_t other = GIT_OBJECT_INVALID;
    size_t len;
    int rc = GIT_ENOTFOUND;

    *out = NULL;
    rc = repo_rev_check(rev, err);
    if (rc < 0)
        return rc;
    rc = GIT_ENOTFOUND;
    len = strlen(rev);
    if (strcmp(rev, "HEAD") == 0)
        rev = REPO_DEFAULT_BRANCH;
    if (strncmp(rev, "refs/", 5) == 0) {
        rc = ref_to_commit(out, &other, r->git, rev);
        snprintf(refname, sizeof(refname), "%s", rev);
    } else {
        snprintf(refname, sizeof(refname), "refs/heads/%s", rev);
        rc = ref_to_commit(out, &other, r->git, refname);
        if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) {
            snprintf(refname, sizeof(refname), "refs/tags/%s", rev);
            rc = ref_to_commit(out, &other, r->git, refname);
        }
        if ((rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC || rc == GIT_EPEEL) && len >= 7 &&
            len <= 40 && is_hex(rev, len))
            rc = hex_to_commit(out, r->git, rev, len);
    }
    /* A ref to a tree or a blob exists, so "not found" would mislead. */
    if (rc < 0 && other != GIT_OBJECT_INVALID)
        return hub_error_set(err, HUB_EINVAL,
                             "%.255s points to a %s, not a commit. The hub reads only branches "
                             "and tags that point to commits, so tag a commit instead",
                             refname, git_object_type2string(other));
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC)
        return hub_error_set(err, HUB_ENOTFOUND, "revision not found: %.255s", rev);
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "resolve revision");
        /* Replaces the message when the ref points to a commit that libgit2 cannot parse. */
        if (unreadable_commit_error(err, r->git, refname) < 0)
            return err->code;
        return rc;
    }
    return 0;
}

int repo_revision_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r, const char *rev,
                          struct hub_error *err)
{
    git_commit *commit = NULL;
    int rc = repo_commit_lookup_rev(&commit, r, rev, err);

    if (rc < 0)
        return rc;
    repo_oid_hex(commit_out, git_commit_id(commit));
    git_commit_free(commit);
    return 0;
}

bool repo_revision_is_branch(char *branch_out, struct repo *r, const char *rev)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    const char *shortname = rev;
    git_reference *ref = NULL;
    int rc;

    if (repo_rev_check(rev, NULL) < 0)
        return false;
    if (strcmp(rev, "HEAD") == 0)
        shortname = REPO_DEFAULT_BRANCH;
    else if (strncmp(rev, "refs/heads/", 11) == 0)
        shortname = rev + 11;
    else if (strncmp(rev, "refs/", 5) == 0)
        return false;
    snprintf(refname, sizeof(refname), "refs/heads/%s", shortname);
    rc = git_reference_lookup(&ref, r->git, refname);
    git_reference_free(ref);
    if (rc < 0)
        return false;
    if (branch_out != NULL)
        snprintf(branch_out, HUB_MAX_REVISION_BYTES + 1, "%s", shortname);
    return true;
}

static int ref_compare(const void *a, const void *b)
{
    return strcmp(((const struct repo_ref *)a)->ref, ((const struct repo_ref *)b)->ref);
}

static int ref_fill(struct repo_ref *out, git_reference *ref)
{
    const char *name = git_reference_name(ref);
    git_object *obj = NULL;

    if (strlen(name) >= sizeof(out->ref) || git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0)
        return -1;
    repo_oid_hex(out->target, git_object_id(obj));
    git_object_free(obj);
    snprintf(out->ref, sizeof(out->ref), "%s", name);
    if (strncmp(name, "refs/heads/", 11) == 0) {
        out->kind = REPO_REF_BRANCH;
        snprintf(out->name, sizeof(out->name), "%s", name + 11);
    } else if (strncmp(name, "refs/tags/", 10) == 0) {
        out->kind = REPO_REF_TAG;
        snprintf(out->name, sizeof(out->name), "%s", name + 10);
    } else {
        out->kind = REPO_REF_OTHER;
        snprintf(out->name, sizeof(out->name), "%s", name);
    }
    return 0;
}

int repo_refs_list(struct repo_ref **out, size_t *count, struct repo *r, struct hub_error *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    struct repo_ref *items = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *count = 0;
    rc = git_reference_iterator_new(&it, r->git);
    if (rc < 0)
        return repo_error_from_git(err, rc, "list refs");
    while ((rc = git_reference_next(&ref, it)) == 0) {
        if (n == cap) {
            size_t new_cap = cap == 0 ? 16 : cap * 2;
            struct repo_ref *grown = realloc(items, new_cap * sizeof(*grown));

            if (grown == NULL) {
                git_reference_free(ref);
                rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the ref list");
                goto fail;
            }
            items = grown;
            cap = new_cap;
        }
        /* Refs that do not lead to a commit (a tag of a tree) are left out. */
        if (ref_fill(&items[n], ref) == 0)
            n++;
        git_reference_free(ref);
    }
    if (rc != GIT_ITEROVER) {
        rc = repo_error_from_git(err, rc, "list refs");
        goto fail;
    }
    git_reference_iterator_free(it);
    if (n > 1)
        qsort(items, n, sizeof(*items), ref_compare);
    *out = items;
    *count = n;
    return 0;
fail:
    git_reference_iterator_free(it);
    free(items);
    return rc;
}

static bool ref_name_exists(const struct repo_ref *refs, size_t count, const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++) {
        if (refs[i].kind != REPO_REF_OTHER && strlen(refs[i].name) == len &&
            memcmp(refs[i].name, name, len) == 0)
            return true;
    }
    return false;
}

int repo_revision_split(char *rev_out, const char **path_out, struct repo *r, const char *rest,
                        struct hub_error *err)
{
    struct repo_ref *refs = NULL;
    size_t count = 0, len = 0;
    int rc;

    rc = repo_refs_list(&refs, &count, r, err);
    if (rc < 0)
        return rc;
    /* The longest run of leading segments that names a branch or tag. */
    for (size_t n = strlen(rest); n > 0; n--) {
        if ((rest[n] == '/' || rest[n] == '\0') && ref_name_exists(refs, count, rest, n)) {
            len = n;
            break;
        }
    }
    free(refs);
    if (len == 0 && strncmp(rest, "refs/", 5) == 0) {
        size_t second = 5 + strcspn(rest + 5, "/");

        len = second;
        if (rest[second] == '/')
            len = second + 1 + strcspn(rest + second + 1, "/");
    }
    if (len == 0)
        len = strcspn(rest, "/");
    if (len == 0 || len > HUB_MAX_REVISION_BYTES)
        return hub_error_set(err, HUB_EINVAL, "invalid revision in '%.80s'", rest);
    memcpy(rev_out, rest, len);
    rev_out[len] = '\0';
    *path_out = rest[len] == '/' ? rest + len + 1 : rest + len;
    return 0;
}

static int short_ref_name(char *refname, size_t cap, const char *prefix, const char *name,
                          const char *what, struct hub_error *err)
{
    int valid = 0;
    int rc;

    rc = repo_rev_check(name, err);
    if (rc < 0)
        return rc;
    if (strncmp(name, prefix, strlen(prefix)) == 0)
        name += strlen(prefix);
    snprintf(refname, cap, "%s%s", prefix, name);
    if (git_reference_name_is_valid(&valid, refname) < 0 || !valid || strcmp(name, "HEAD") == 0 ||
        strlen(name) == 0)
        return hub_error_set(err, HUB_EINVAL, "invalid %s name '%.200s'", what, name);
    return 0;
}

int repo_branch_create(struct repo *r, const char *name, const char *from, struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    struct repo_lock *lock = NULL;
    git_commit *start = NULL;
    git_reference *ref = NULL;
    int rc;

    /* Check the branch rules first, because their messages name the rule that a name breaks. */
    rc = hub_branch_name_check(strncmp(name, "refs/heads/", 11) == 0 ? name + 11 : name, err);
    if (rc == 0)
        rc = short_ref_name(refname, sizeof(refname), "refs/heads/", name, "branch", err);
    if (rc < 0)
        return rc;
    rc = repo_lock_acquire(&lock, r->path, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&start, r, from != NULL ? from : REPO_DEFAULT_BRANCH, err);
    if (rc == 0) {
        rc = git_reference_create(&ref, r->git, refname, git_commit_id(start), 0, "branch: create");
        if (rc == GIT_EEXISTS)
            rc = hub_error_set(err, HUB_ECONFLICT, "branch '%s' already exists", refname + 11);
        else if (rc < 0)
            rc = repo_error_from_git(err, rc, "create branch");
    }
    git_reference_free(ref);
    git_commit_free(start);
    repo_lock_release(lock);
    return rc;
}

int repo_branch_move(struct repo *r, const char *name, const char *from, bool fast_forward_only,
                     struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    struct repo_lock *lock = NULL;
    git_commit *target = NULL;
    git_reference *current = NULL, *moved = NULL;
    int rc;

    rc = short_ref_name(refname, sizeof(refname), "refs/heads/", name, "branch", err);
    if (rc < 0)
        return rc;
    rc = repo_lock_acquire(&lock, r->path, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&target, r, from != NULL ? from : REPO_DEFAULT_BRANCH, err);
    if (rc < 0)
        goto out;
    rc = git_reference_lookup(&current, r->git, refname);
    if (rc == GIT_ENOTFOUND) {
        rc = hub_error_set(err, HUB_ENOTFOUND, "branch '%s' not found", refname + 11);
        goto out;
    }
    if (rc < 0) {
        rc = repo_error_from_git(err, rc, "look up branch");
        goto out;
    }
    if (fast_forward_only && git_reference_target(current) != NULL &&
        !git_oid_equal(git_reference_target(current), git_commit_id(target))) {
        /* 1 when the branch's commit is an ancestor of the target, 0 when not. */
        rc = git_graph_descendant_of(r->git, git_commit_id(target), git_reference_target(current));
        if (rc == 0) {
            rc = hub_error_set(err, HUB_EFORBIDDEN,
                               "branch '%s' is protected and refuses updates that are not a "
                               "fast-forward; lift the protection first",
                               refname + 11);
            goto out;
        }
        if (rc < 0) {
            rc = repo_error_from_git(err, rc, "compare commits");
            goto out;
        }
    }
    /* Compare-and-swap against the commit just read, under the repo lock. */
    rc = git_reference_set_target(&moved, current, git_commit_id(target), "branch: move");
    if (rc < 0)
        rc = repo_error_from_git(err, rc, "move branch");
    else
        rc = 0;
out:
    git_reference_free(moved);
    git_reference_free(current);
    git_commit_free(target);
    repo_lock_release(lock);
    return rc;
}

static int ref_delete(struct repo *r, const char *refname, const char *what, struct hub_error *err)
{
    struct repo_lock *lock = NULL;
    git_reference *ref = NULL;
    int rc;

    rc = repo_lock_acquire(&lock, r->path, err);
    if (rc < 0)
        return rc;
    rc = git_reference_lookup(&ref, r->git, refname);
    if (rc == 0)
        rc = git_reference_delete(ref);
    if (rc == GIT_ENOTFOUND)
        rc = hub_error_set(err, HUB_ENOTFOUND, "%s '%s' not found", what,
                           strchr(refname + 5, '/') + 1);
    else if (rc < 0)
        rc = repo_error_from_git(err, rc, "delete ref");
    git_reference_free(ref);
    repo_lock_release(lock);
    return rc;
}

int repo_branch_delete(struct repo *r, const char *name, struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    int rc;

    rc = short_ref_name(refname, sizeof(refname), "refs/heads/", name, "branch", err);
    if (rc < 0)
        return rc;
    if (strcmp(refname, "refs/heads/" REPO_DEFAULT_BRANCH) == 0)
        return hub_error_set(err, HUB_EINVAL, "the default branch '%s' cannot be deleted",
                             REPO_DEFAULT_BRANCH);
    return ref_delete(r, refname, "branch", err);
}

int repo_tag_create(struct repo *r, const char *name, const char *rev, const char *message,
                    const char *tagger_name, const char *tagger_email, struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    struct repo_lock *lock = NULL;
    git_signature *sig = NULL;
    git_commit *target = NULL;
    git_oid id;
    int rc;

    rc = short_ref_name(refname, sizeof(refname), "refs/tags/", name, "tag", err);
    if (rc < 0)
        return rc;
    rc = repo_lock_acquire(&lock, r->path, err);
    if (rc < 0)
        return rc;
    rc = repo_commit_lookup_rev(&target, r, rev, err);
    if (rc < 0)
        goto out;
    if (message != NULL) {
        rc = git_signature_now(&sig, tagger_name != NULL ? tagger_name : "Atelier",
                               tagger_email != NULL ? tagger_email : "atelier@localhost");
        if (rc == 0)
            rc = git_tag_create(&id, r->git, refname + 10, (const git_object *)target, sig, message,
                                0);
    } else {
        rc = git_tag_create_lightweight(&id, r->git, refname + 10, (const git_object *)target, 0);
    }
    if (rc == GIT_EEXISTS)
        rc = hub_error_set(err, HUB_ECONFLICT, "tag '%s' already exists", refname + 10);
    else if (rc < 0)
        rc = repo_error_from_git(err, rc, "create tag");
out:
    git_signature_free(sig);
    git_commit_free(target);
    repo_lock_release(lock);
    return rc;
}

int repo_tag_delete(struct repo *r, const char *name, struct hub_error *err)
{
    char refname[HUB_MAX_REVISION_BYTES + 16];
    int rc;

    rc = short_ref_name(refname, sizeof(refname), "refs/tags/", name, "tag", err);
    if (rc < 0)
        return rc;
    return ref_delete(r, refname, "tag", err);
}
