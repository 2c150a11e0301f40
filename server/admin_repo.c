/* admin_repo: `atelier admin repo import NS/NAME SRC_DIR`: creates a repo (database row and
 * bare git repo) holding every file of a local folder as one commit. LFS files go into the
 * blob store and the rest into git. A file is LFS when the folder's .gitattributes (or the
 * Hugging Face default patterns) marks it, when it is over HUB_LFS_THRESHOLD_BYTES, or when it
 * is binary. A failed import removes the repo again. */
#include "admin.h"

#include "hub_error.h"
#include "hub_limits.h"
#include "hub_name.h"
#include "lfs_attributes.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_jobs.h"
#include "meta_lfs.h"
#include "meta_org.h"
#include "meta_repo.h"
#include "meta_user.h"
#include "repo.h"
#include "repo_manage.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BINARY_SAMPLE_BYTES 512

/* Files kept in git are read into memory for the one import commit; past this total the
 * import stops and asks for LFS rules instead of exhausting memory. */
#define IMPORT_MAX_GIT_BYTES (1ull << 30)

struct import_opts {
    const char *id;
    const char *src;
    enum hub_repo_type type;
    const char *owner;
    const char *message;
    bool is_private;
};

/* Files found in the source folder, turned into commit operations. */
struct import_files {
    struct repo_op *ops;
    char **paths;   /* owned copies of the op paths */
    void **buffers; /* owned file contents of regular ops, NULL for LFS ops */
    char (*oids)[STORE_OID_HEX_BYTES + 1];
    size_t count, cap;
    uint64_t git_bytes, lfs_bytes;
    size_t lfs_count;
};

static void files_free(struct import_files *f)
{
    for (size_t i = 0; i < f->count; i++) {
        free(f->paths[i]);
        free(f->buffers[i]);
    }
    free(f->ops);
    free(f->paths);
    free(f->buffers);
    free(f->oids);
}

static int files_grow(struct import_files *f, struct hub_error *err)
{
    size_t cap = f->cap == 0 ? 64 : f->cap * 2;
    void *ops = realloc(f->ops, cap * sizeof(*f->ops));

    if (ops != NULL)
        f->ops = ops;
    void *paths = ops != NULL ? realloc(f->paths, cap * sizeof(*f->paths)) : NULL;
    if (paths != NULL)
        f->paths = paths;
    void *buffers = paths != NULL ? realloc(f->buffers, cap * sizeof(*f->buffers)) : NULL;
    if (buffers != NULL)
        f->buffers = buffers;
    void *oids = buffers != NULL ? realloc(f->oids, cap * sizeof(*f->oids)) : NULL;
    if (oids == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the file list");
    f->oids = oids;
    f->cap = cap;
    return 0;
}

static int file_slurp(void **out, size_t *len_out, const char *path, size_t size,
                      struct hub_error *err)
{
    char *buf = malloc(size + 1);
    size_t done = 0;
    int fd;

    if (buf == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu bytes for %s", size, path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(buf);
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open %s", path);
    }
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : 0;

            close(fd);
            free(buf);
            return hub_error_set_errno(err, HUB_EIO, saved, "cannot read %s (did it change?)",
                                       path);
        }
        done += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len_out = size;
    return 0;
}

static int file_add_lfs(struct import_files *f, struct store *st, const char *full,
                        struct hub_error *err)
{
    uint64_t size = 0;
    int fd, rc;

    fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open %s", full);
    rc = store_put_fd(f->oids[f->count], &size, st, fd, HUB_MAX_LFS_OBJECT_BYTES, err);
    close(fd);
    if (rc < 0)
        return rc;
    f->buffers[f->count] = NULL;
    f->ops[f->count] =
        (struct repo_op){REPO_OP_ADD_LFS, f->paths[f->count], NULL, 0, f->oids[f->count], size};
    f->lfs_bytes += size;
    f->lfs_count++;
    return 0;
}

static int file_add(struct import_files *f, struct store *st, const struct lfs_attributes *attrs,
                    const char *full, const char *rel, uint64_t size, struct hub_error *err)
{
    void *data = NULL;
    size_t len = 0;
    int rc;

    if (f->count == f->cap) {
        rc = files_grow(f, err);
        if (rc < 0)
            return rc;
    }
    if (f->count >= HUB_MAX_COMMIT_OPS)
        return hub_error_set(err, HUB_ETOOBIG, "source folder has more than %d files",
                             HUB_MAX_COMMIT_OPS);
    f->paths[f->count] = strdup(rel);
    if (f->paths[f->count] == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a path");
    if (!lfs_attributes_path_is_lfs(attrs, rel, size) && strcmp(rel, ".gitattributes") != 0) {
        if (f->git_bytes + size > IMPORT_MAX_GIT_BYTES) {
            free(f->paths[f->count]);
            return hub_error_set(err, HUB_ETOOBIG,
                                 "files kept in git total more than %llu bytes at %s: add "
                                 "filter=lfs rules for the large ones to the source folder's "
                                 ".gitattributes",
                                 (unsigned long long)IMPORT_MAX_GIT_BYTES, rel);
        }
        rc = file_slurp(&data, &len, full, (size_t)size, err);
        if (rc < 0) {
            free(f->paths[f->count]);
            return rc;
        }
        /* A NUL byte in the first bytes marks a binary file, which goes to LFS like the Hub
         * clients' preupload rule. */
        if (memchr(data, '\0', len < BINARY_SAMPLE_BYTES ? len : BINARY_SAMPLE_BYTES) == NULL) {
            f->buffers[f->count] = data;
            f->ops[f->count] =
                (struct repo_op){REPO_OP_ADD_FILE, f->paths[f->count], data, len, NULL, 0};
            f->git_bytes += len;
            f->count++;
            return 0;
        }
        free(data);
    } else if (strcmp(rel, ".gitattributes") == 0) {
        rc = file_slurp(&data, &len, full, (size_t)size, err);
        if (rc < 0) {
            free(f->paths[f->count]);
            return rc;
        }
        f->buffers[f->count] = data;
        f->ops[f->count] =
            (struct repo_op){REPO_OP_ADD_FILE, f->paths[f->count], data, len, NULL, 0};
        f->count++;
        return 0;
    }
    rc = file_add_lfs(f, st, full, err);
    if (rc < 0) {
        free(f->paths[f->count]);
        return rc;
    }
    f->count++;
    return 0;
}

/* Adds every regular file under src/rel (rel "" at the top), skipping .git folders. */
static int files_collect(struct import_files *f, struct store *st,
                         const struct lfs_attributes *attrs, const char *src, const char *rel,
                         struct hub_error *err)
{
    char full[4096], child[HUB_MAX_PATH_BYTES + 2];
    struct dirent *ent;
    struct stat sb;
    DIR *dir;
    int rc = 0;

    snprintf(full, sizeof(full), "%s%s%s", src, rel[0] ? "/" : "", rel);
    dir = opendir(full);
    if (dir == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot list %s", full);
    while (rc == 0 && (ent = readdir(dir)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0 ||
            strcmp(ent->d_name, ".git") == 0)
            continue;
        if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", ent->d_name) >=
            sizeof(child)) {
            rc = hub_error_set(err, HUB_ETOOBIG, "path %s/%s is longer than %d bytes", rel,
                               ent->d_name, HUB_MAX_PATH_BYTES);
            break;
        }
        snprintf(full, sizeof(full), "%s/%s", src, child);
        if (lstat(full, &sb) != 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot stat %s", full);
        } else if (S_ISLNK(sb.st_mode)) {
            /* A link could pull in files from outside the folder, so it is left out. */
            fprintf(stderr, "atelier admin: skipping symbolic link %s\n", full);
        } else if (S_ISDIR(sb.st_mode)) {
            rc = files_collect(f, st, attrs, src, child, err);
        } else if (S_ISREG(sb.st_mode)) {
            rc = file_add(f, st, attrs, full, child, (uint64_t)sb.st_size, err);
        }
    }
    closedir(dir);
    return rc;
}

static int attrs_load(struct lfs_attributes **out, const char *src, struct hub_error *err)
{
    char path[4096];
    void *text = NULL;
    size_t len = 0;
    struct stat sb;
    int rc;

    *out = NULL;
    snprintf(path, sizeof(path), "%s/.gitattributes", src);
    if (stat(path, &sb) != 0)
        return 0; /* the default patterns apply */
    if ((uint64_t)sb.st_size > HUB_MAX_GITATTRIBUTES_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "%s is larger than %u bytes", path,
                             (unsigned)HUB_MAX_GITATTRIBUTES_BYTES);
    rc = file_slurp(&text, &len, path, (size_t)sb.st_size, err);
    if (rc < 0)
        return rc;
    rc = lfs_attributes_parse(out, text, len, err);
    free(text);
    return rc;
}

static int parse_args(struct import_opts *o, const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;

    o->type = HUB_REPO_MODEL;
    o->message = "Import files";
    for (int i = 1; i < ctx->argc; i++) {
        const char *arg = ctx->argv[i];

        if (strcmp(arg, "--type") == 0 || strcmp(arg, "--owner") == 0 ||
            strcmp(arg, "--message") == 0) {
            const char *value = admin_option_value(ctx, &i);

            if (value == NULL)
                return 2;
            if (strcmp(arg, "--type") == 0 && hub_repo_type_parse(&o->type, value, &err) < 0)
                return admin_usage_error("%s", err.msg);
            if (strcmp(arg, "--owner") == 0)
                o->owner = value;
            if (strcmp(arg, "--message") == 0)
                o->message = value;
        } else if (strcmp(arg, "--private") == 0) {
            o->is_private = true;
        } else if (arg[0] == '-') {
            return admin_usage_error("unknown option '%s' for repo import; use --type, --owner, "
                                     "--message or --private",
                                     arg);
        } else if (o->id == NULL) {
            o->id = arg;
        } else if (o->src == NULL) {
            o->src = arg;
        } else {
            return admin_usage_error("unexpected argument '%s'; usage: repo import NS/NAME "
                                     "SRC_DIR [options]",
                                     arg);
        }
    }
    if (o->id == NULL || o->src == NULL)
        return admin_usage_error("usage: repo import NS/NAME SRC_DIR [--type model|dataset] "
                                 "[--owner USER] [--message TEXT] [--private]");
    return 0;
}

/* Checks the namespace and the author before anything is written. */
static int check_owner(struct meta_user *author, struct meta *db, const char *ns,
                       const struct import_opts *o, const char *data_dir, struct hub_error *err)
{
    struct meta_namespace owner;
    const char *author_name = o->owner != NULL ? o->owner : ns;
    int rc;

    rc = meta_namespace_resolve(&owner, db, ns, err);
    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "no user or organisation named '%s': create it first with "
                             "`atelier admin --data %s user add %s` or `org add %s`",
                             ns, data_dir, ns, ns);
    if (rc < 0)
        return rc;
    if (owner.kind == META_NAMESPACE_ORG && o->owner == NULL)
        return hub_error_set(err, HUB_EINVAL,
                             "'%s' is an organisation: pass --owner USER to name the commit "
                             "author",
                             ns);
    rc = meta_user_get_by_name(author, db, author_name, err);
    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "no user named '%s' for --owner: create it with `atelier admin "
                             "--data %s user add %s`",
                             author_name, data_dir, author_name);
    return rc;
}

static int import_commit(char head[41], struct meta *db, const struct meta_repo *row,
                         const struct meta_user *author, const struct import_files *files,
                         const struct import_opts *o, const char *data_dir, struct hub_error *err)
{
    struct repo_commit_request req = {0};
    char email[HUB_MAX_REPO_NAME_BYTES + 16];
    struct repo *r = NULL;
    int rc;

    rc = repo_create(NULL, data_dir, row->type, row->ns, row->name, NULL, err);
    if (rc < 0)
        return rc;
    rc = repo_open(&r, data_dir, row->type, row->ns, row->name, err);
    if (rc < 0)
        return rc;
    snprintf(email, sizeof(email), "%s@localhost", author->name);
    req.branch = REPO_DEFAULT_BRANCH;
    req.author_name = author->name;
    req.author_email = email;
    req.message = o->message;
    req.ops = files->ops;
    req.n_ops = files->count;
    rc = repo_commit(head, r, &req, err);
    repo_close(r);
    for (size_t i = 0; rc == 0 && i < files->count; i++) {
        if (files->ops[i].kind != REPO_OP_ADD_LFS)
            continue;
        rc = meta_lfs_object_add(db, files->oids[i], files->ops[i].lfs_size, err);
        if (rc == 0)
            rc = meta_lfs_link(db, row->id, files->oids[i], err);
    }
    if (rc == 0)
        rc = meta_repo_touch(db, row->id, head, err);
    return rc;
}

static int import_run(struct meta *db, const struct import_opts *o, const char *data_dir)
{
    struct hub_error err = HUB_ERROR_INIT, cleanup = HUB_ERROR_INIT;
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1], head[41] = "";
    struct import_files files = {0};
    struct lfs_attributes *attrs = NULL;
    struct store *st = NULL;
    struct meta_user author;
    struct meta_repo row;
    struct stat sb;
    char detail[256], audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    int rc;

    /* A folder first is the likeliest mistake: name the order instead of the id's rules. */
    if (stat(o->id, &sb) == 0 && S_ISDIR(sb.st_mode))
        return admin_usage_error("'%s' is a folder, not a repo id: the repo id comes first, as in "
                                 "`repo import NS/NAME SRC_DIR`",
                                 o->id);
    if (hub_repo_id_parse(ns, name, o->id, &err) < 0)
        return admin_usage_error("%s", err.msg);
    if (repo_manage_namespace_check(ns, &err) < 0) {
        fprintf(stderr, "atelier admin: repo import %s failed: %s\n", o->id, err.msg);
        return 1;
    }
    if (stat(o->src, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return admin_usage_error("source folder '%s' does not exist or is not a folder", o->src);
    rc = check_owner(&author, db, ns, o, data_dir, &err);
    if (rc == 0)
        rc = attrs_load(&attrs, o->src, &err);
    if (rc == 0)
        rc = store_open(&st, data_dir, &err);
    if (rc == 0)
        rc = files_collect(&files, st, attrs, o->src, "", &err);
    if (rc == 0)
        rc = meta_repo_insert(&row, db, o->type, ns, name, o->is_private, &err);
    if (rc < 0)
        goto out;
    rc = import_commit(head, db, &row, &author, &files, o, data_dir, &err);
    if (rc < 0) {
        /* Leave nothing half-imported behind; the blobs stay until gc. */
        repo_delete(data_dir, row.type, row.ns, row.name, &cleanup);
        meta_repo_delete(db, row.id, &cleanup);
        goto out;
    }
    snprintf(detail, sizeof(detail), "files=%zu lfs=%zu commit=%s", files.count, files.lfs_count,
             head);
    snprintf(audit_repo, sizeof(audit_repo), "%s:%s/%s", hub_repo_type_name(row.type), row.ns,
             row.name);
    meta_audit_add(db, "admin-cli", "repo.import", audit_repo, detail, NULL);
    printf("imported %zu files into %s %s/%s at commit %s (%zu LFS files, %" PRIu64
           " bytes; %" PRIu64 " bytes in git)\n",
           files.count, hub_repo_type_name(row.type), row.ns, row.name, head, files.lfs_count,
           files.lfs_bytes, files.git_bytes);
out:
    if (rc < 0)
        fprintf(stderr, "atelier admin: repo import %s failed: %s\n", o->id, err.msg);
    files_free(&files);
    lfs_attributes_free(attrs);
    store_close(st);
    return rc < 0 ? 1 : 0;
}

/* Parses the arguments of `repo list` and `repo delete`: an optional id and --type. Sets
 * *type_given when --type was passed, and *type to a model when it was not. */
static int parse_type_args(const char **id, enum hub_repo_type *type, bool *type_given,
                           const struct admin_ctx *ctx, bool want_id)
{
    struct hub_error err = HUB_ERROR_INIT;

    *id = NULL;
    *type = HUB_REPO_MODEL;
    *type_given = false;
    for (int i = 1; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], "--type") == 0) {
            const char *value = admin_option_value(ctx, &i);

            if (value == NULL)
                return 2;
            if (hub_repo_type_parse(type, value, &err) < 0)
                return admin_usage_error("%s", err.msg);
            *type_given = true;
        } else if (want_id && *id == NULL && ctx->argv[i][0] != '-') {
            *id = ctx->argv[i];
        } else {
            return admin_usage_error("unexpected argument '%s'; usage: repo %s%s [--type "
                                     "model|dataset]",
                                     ctx->argv[i], ctx->argv[0], want_id ? " NS/NAME" : "");
        }
    }
    if (want_id && *id == NULL)
        return admin_usage_error("missing repo id; usage: repo %s NS/NAME [--type "
                                 "model|dataset]",
                                 ctx->argv[0]);
    return 0;
}

/* Prints one line per repo of one type, private ones included. Returns 0 or 1 after printing
 * the error. */
static int repo_list_type(struct meta *db, enum hub_repo_type type)
{
    struct hub_error err = HUB_ERROR_INIT;

    for (size_t offset = 0;; offset += HUB_MAX_LIST_LIMIT) {
        struct meta_repo_query q = {0};
        struct meta_repo *page = NULL;
        size_t got = 0;
        char id[HUB_MAX_REPO_ID_BYTES + 1];

        q.type = type;
        q.all_visible = true;
        q.sort = META_REPO_SORT_NAME;
        q.offset = offset;
        if (meta_repo_list(&page, &got, NULL, db, &q, &err) < 0) {
            fprintf(stderr, "atelier admin: %s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; i < got; i++) {
            snprintf(id, sizeof(id), "%s/%s", page[i].ns, page[i].name);
            printf("%-48s %-8s %-8s %-10" PRId64 " %.12s\n", id, hub_repo_type_name(type),
                   page[i].is_private ? "yes" : "no", page[i].downloads, page[i].head_commit);
        }
        free(page);
        if (got < HUB_MAX_LIST_LIMIT)
            return 0;
    }
}

static int repo_list_run(const struct admin_ctx *ctx)
{
    enum hub_repo_type type;
    struct meta *db = NULL;
    const char *unused;
    bool type_given;
    int rc;

    rc = parse_type_args(&unused, &type, &type_given, ctx, false);
    if (rc == 0)
        rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    printf("%-48s %-8s %-8s %-10s %s\n", "REPO", "TYPE", "PRIVATE", "DOWNLOADS", "HEAD");
    if (type_given) {
        rc = repo_list_type(db, type);
    } else {
        rc = repo_list_type(db, HUB_REPO_MODEL);
        if (rc == 0)
            rc = repo_list_type(db, HUB_REPO_DATASET);
    }
    meta_close(db);
    return rc;
}

static int repo_delete_run(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    char audit_repo[HUB_MAX_REPO_ID_BYTES + 16];
    enum hub_repo_type type;
    struct meta_repo row;
    struct meta *db = NULL;
    const char *id;
    bool type_given;
    int rc;

    rc = parse_type_args(&id, &type, &type_given, ctx, true);
    if (rc != 0)
        return rc;
    if (hub_repo_id_parse(ns, name, id, &err) < 0)
        return admin_usage_error("%s", err.msg);
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    /* The row goes first: once it is gone no request can reach the repo, and a failure to
     * remove the folder afterwards leaves only an orphan folder that fsck reports. */
    if (admin_repo_row_get(&row, db, type, type_given, ns, name, "delete") != 0) {
        meta_close(db);
        return 1;
    }
    /* A job that uses the repo would fail midway. A failed lookup also stops the deletion. */
    if (repo_manage_delete_jobs_check(db, &row, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(db);
        return 1;
    }
    if (meta_repo_delete(db, row.id, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(db);
        return 1;
    }
    rc = repo_delete(ctx->data_dir, row.type, row.ns, row.name, &err);
    if (rc < 0 && rc != HUB_ENOTFOUND) {
        fprintf(stderr, "atelier admin: repo row deleted, but the git folder was not: %s\n",
                err.msg);
        meta_close(db);
        return 1;
    }
    snprintf(audit_repo, sizeof(audit_repo), "%s:%s/%s", hub_repo_type_name(row.type), row.ns,
             row.name);
    meta_audit_add(db, "admin-cli", "repo.delete", audit_repo, NULL, NULL);
    printf("deleted %s %s/%s; its LFS blobs stay until `atelier admin gc`\n",
           hub_repo_type_name(row.type), row.ns, row.name);
    meta_close(db);
    return 0;
}

int admin_repo_row_get(struct meta_repo *row, struct meta *db, enum hub_repo_type type,
                       bool type_given, const char *ns, const char *name, const char *action)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo other;
    int rc;

    rc = meta_repo_get(row, db, type, ns, name, &err);
    if (rc == HUB_ENOTFOUND && !type_given &&
        meta_repo_get(&other, db, HUB_REPO_DATASET, ns, name, NULL) == 0) {
        fprintf(stderr,
                "atelier admin: model %s/%s not found, but a dataset of that name exists: add "
                "--type dataset to %s it\n",
                ns, name, action);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int repo_prune_run(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    enum hub_repo_type type;
    const char *id;
    bool type_given;
    int rc;

    rc = parse_type_args(&id, &type, &type_given, ctx, true);
    if (rc != 0)
        return rc;
    if (hub_repo_id_parse(ns, name, id, &err) < 0)
        return admin_usage_error("%s", err.msg);
    return admin_repo_prune(ctx, type, type_given, ns, name);
}

int admin_cmd_repo(const struct admin_ctx *ctx)
{
    struct import_opts o = {0};
    struct meta *db = NULL;
    int rc;

    if (ctx->argc >= 1 && strcmp(ctx->argv[0], "list") == 0)
        return repo_list_run(ctx);
    if (ctx->argc >= 1 && strcmp(ctx->argv[0], "delete") == 0)
        return repo_delete_run(ctx);
    if (ctx->argc >= 1 && strcmp(ctx->argv[0], "prune") == 0)
        return repo_prune_run(ctx);
    if (ctx->argc < 1 || strcmp(ctx->argv[0], "import") != 0)
        return admin_usage_error("unknown repo command%s%s: use import, list, delete or prune",
                                 ctx->argc >= 1 ? " " : "", ctx->argc >= 1 ? ctx->argv[0] : "");
    rc = parse_args(&o, ctx);
    if (rc != 0)
        return rc;
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    rc = import_run(db, &o, ctx->data_dir);
    meta_close(db);
    return rc;
}
