/* admin_backup: `atelier admin backup DEST`: a copy of the data directory that `atelier serve
 * --data DEST` can run from. The database is copied with SQLite's online backup, each git repo
 * under its repo lock, and the immutable blobs are hard-linked (copied across filesystems).
 * Repos are copied after the database and blobs after the repos, so everything the copied
 * database and repos reference is in the copy. Job logs are copied last, without the job work
 * folders. The copy is built in DEST.partial-XXXXXX and renamed to DEST only when complete. */
#include "admin.h"

#include "hub_error.h"
#include "hub_name.h"
#include "jobs_clean.h"
#include "meta.h"
#include "meta_repo.h"
#include "repo.h"
#include "repo_lock.h"
#include "storage.h"
#include "store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUFFER_BYTES (256u * 1024)

struct backup_counts {
    uint64_t files;
    uint64_t bytes;
    uint64_t blobs_linked;
    uint64_t blobs_copied;
    uint64_t job_logs;
};

static int file_copy(const char *src, const char *dest, mode_t mode, uint64_t *bytes,
                     struct hub_error *err)
{
    char *buf = NULL;
    int in = -1, out = -1, rc = 0;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open %s", src);
    out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s", dest);
        goto out;
    }
    buf = malloc(COPY_BUFFER_BYTES);
    if (buf == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a copy buffer");
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, COPY_BUFFER_BYTES);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "read of %s failed", src);
            goto out;
        }
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = hub_error_set_errno(err, HUB_EIO, errno, "write to %s failed", dest);
                goto out;
            }
            done += w;
        }
        *bytes += (uint64_t)n;
    }
    if (fsync(out) != 0)
        rc = hub_error_set_errno(err, HUB_EIO, errno, "fsync of %s failed", dest);
out:
    free(buf);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    return rc;
}

/* Copies the folder tree src into dest (created), skipping the repo lock file. */
static int tree_copy(const char *src, const char *dest, struct backup_counts *counts,
                     struct hub_error *err)
{
    char from[4096], to[4096];
    struct dirent *ent;
    struct stat sb;
    DIR *dir;
    int rc = 0;

    if (mkdir(dest, 0750) != 0 && errno != EEXIST)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s", dest);
    dir = opendir(src);
    if (dir == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot list %s", src);
    while (rc == 0 && (ent = readdir(dir)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0 ||
            strcmp(ent->d_name, "atelier.lock") == 0)
            continue;
        if ((size_t)snprintf(from, sizeof(from), "%s/%s", src, ent->d_name) >= sizeof(from) ||
            (size_t)snprintf(to, sizeof(to), "%s/%s", dest, ent->d_name) >= sizeof(to)) {
            rc = hub_error_set(err, HUB_ETOOBIG, "path under %s is too long", src);
            break;
        }
        if (lstat(from, &sb) != 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot stat %s", from);
        } else if (S_ISDIR(sb.st_mode)) {
            rc = tree_copy(from, to, counts, err);
        } else if (S_ISREG(sb.st_mode)) {
            rc = file_copy(from, to, sb.st_mode, &counts->bytes, err);
            counts->files++;
        }
    }
    closedir(dir);
    return rc;
}

static int mkdir_parents(const char *path, struct hub_error *err)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len >= sizeof(buf))
        return hub_error_set(err, HUB_ETOOBIG, "path %.100s is too long", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s", buf);
        *p = '/';
    }
    return 0;
}

static int repos_copy(struct meta *db, const char *data_dir, const char *dest,
                      struct backup_counts *counts, size_t *repo_count, struct hub_error *err)
{
    struct meta_repo *repos = NULL;
    size_t n = 0;
    int rc;

    rc = admin_repos_all(&repos, &n, db, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char from[4096], to[4096];
        struct repo_lock *lock = NULL;

        rc = repo_path_build(from, sizeof(from), data_dir, repos[i].type, repos[i].ns,
                             repos[i].name, err);
        if (rc == 0)
            rc = repo_path_build(to, sizeof(to), dest, repos[i].type, repos[i].ns, repos[i].name,
                                 err);
        if (rc == 0)
            rc = mkdir_parents(to, err);
        /* The lock keeps a commit or push from changing refs halfway through the copy. */
        if (rc == 0)
            rc = repo_lock_acquire(&lock, from, err);
        if (rc == 0) {
            rc = tree_copy(from, to, counts, err);
            repo_lock_release(lock);
        }
    }
    *repo_count = n;
    free(repos);
    return rc;
}

struct blob_copy {
    struct store *src;
    struct store *dest;
    struct backup_counts *counts;
    struct hub_error *err;
};

static int blob_copy_one(void *ctx, const char *oid, uint64_t size)
{
    struct blob_copy *c = ctx;
    char from[4096], to[4096];
    int rc;

    rc = store_blob_path(from, sizeof(from), c->src, oid, c->err);
    if (rc == 0)
        rc = store_blob_path(to, sizeof(to), c->dest, oid, c->err);
    if (rc == 0)
        rc = mkdir_parents(to, c->err);
    if (rc < 0)
        return rc;
    if (link(from, to) == 0) {
        c->counts->blobs_linked++;
        return 0;
    }
    if (errno != EXDEV && errno != EPERM && errno != EMLINK)
        return hub_error_set_errno(c->err, HUB_EIO, errno, "cannot link %s to %s", from, to);
    rc = file_copy(from, to, 0440, &c->counts->bytes, c->err);
    if (rc == 0)
        c->counts->blobs_copied++;
    return rc;
}

/* Copies DATA/jobs/ID/log for each job folder that has one. The rest of a job folder is the
 * work folder of a running or failed job, which a restored hub does not need. */
static int job_logs_copy(const char *data_dir, const char *dest, struct backup_counts *counts,
                         struct hub_error *err)
{
    char from[4096], folder[4096], to[4096 + 8];
    struct dirent *ent;
    struct stat sb;
    DIR *dir;
    int rc = 0;

    snprintf(from, sizeof(from), "%s/jobs", data_dir);
    dir = opendir(from);
    if (dir == NULL)
        return errno == ENOENT ? 0
                               : hub_error_set_errno(err, HUB_EIO, errno, "cannot list %s", from);
    while (rc == 0 && (ent = readdir(dir)) != NULL) {
        bool numeric = ent->d_name[0] != '\0';

        for (const char *p = ent->d_name; *p != '\0'; p++)
            numeric = numeric && isdigit((unsigned char)*p);
        if (!numeric)
            continue;
        if ((size_t)snprintf(from, sizeof(from), "%s/jobs/%s/" JOBS_LOG_FILE_NAME, data_dir,
                             ent->d_name) >= sizeof(from) ||
            (size_t)snprintf(folder, sizeof(folder), "%s/jobs/%s", dest, ent->d_name) >=
                sizeof(folder) ||
            (size_t)snprintf(to, sizeof(to), "%s/" JOBS_LOG_FILE_NAME, folder) >= sizeof(to)) {
            rc = hub_error_set(err, HUB_ETOOBIG, "path under %s/jobs is too long", data_dir);
            break;
        }
        if (lstat(from, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (mkdir(folder, 0750) != 0 && errno != EEXIST) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s", folder);
            break;
        }
        rc = file_copy(from, to, sb.st_mode, &counts->bytes, err);
        if (rc == 0)
            counts->job_logs++;
    }
    closedir(dir);
    return rc;
}

/* Removes the folder tree path, files first. Returns 0, or -1 with errno set by the first
 * failure. */
static int tree_remove(const char *path)
{
    char child[4096];
    struct dirent *ent;
    struct stat sb;
    int rc = 0, saved = 0;
    DIR *dir;

    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path);
    dir = opendir(path);
    if (dir == NULL)
        return -1;
    while ((ent = readdir(dir)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, ent->d_name) >= sizeof(child)) {
            saved = saved != 0 ? saved : ENAMETOOLONG;
            continue;
        }
        if (tree_remove(child) != 0 && saved == 0)
            saved = errno;
    }
    closedir(dir);
    rc = rmdir(path);
    if (rc != 0 && saved == 0)
        saved = errno;
    errno = saved;
    return saved != 0 ? -1 : 0;
}

/* Checks where the new folder dest would go. Its parent folder must exist. It must not be
 * inside the data directory, because the backup would then copy itself and live inside the
 * hub it backs up. Returns 2 after printing the usage error, or 0. */
static int dest_check(const char *dest, const char *data_dir)
{
    char parent_real[PATH_MAX], data_real[PATH_MAX];
    char *copy = strdup(dest);
    const char *parent;
    size_t data_len;
    int saved;

    if (copy == NULL)
        return admin_usage_error("out of memory checking the backup folder '%s'", dest);
    parent = dirname(copy);
    if (realpath(parent, parent_real) == NULL) {
        saved = errno;
        free(copy);
        if (saved == ENOENT || saved == ENOTDIR)
            return admin_usage_error("parent folder of backup folder '%s' does not exist: "
                                     "create it first",
                                     dest);
        return admin_usage_error("cannot resolve the parent folder of backup folder '%s': %s", dest,
                                 strerror(saved));
    }
    free(copy);
    if (realpath(data_dir, data_real) == NULL)
        return admin_usage_error("cannot resolve the data directory '%s': %s", data_dir,
                                 strerror(errno));
    data_len = strlen(data_real);
    if (strncmp(parent_real, data_real, data_len) == 0 &&
        (parent_real[data_len] == '\0' || parent_real[data_len] == '/' ||
         strcmp(data_real, "/") == 0))
        return admin_usage_error("backup folder '%s' is inside the data directory '%s': name a "
                                 "folder outside it, on another disk if you can",
                                 dest, data_dir);
    return 0;
}

/* Writes the whole backup into the folder partial, which exists and is empty. */
static int backup_write(struct meta *db, const char *data_dir, const char *partial,
                        struct backup_counts *counts, size_t *repo_count, struct hub_error *err)
{
    struct store *src = NULL, *dest_store = NULL;
    char db_path[4096];
    int rc;

    rc = storage_layout_create(partial, err);
    if (rc == 0)
        rc = storage_path_join(db_path, sizeof(db_path), partial, "atelier.sqlite3", err);
    if (rc == 0)
        rc = meta_backup(db, db_path, err);
    if (rc == 0)
        rc = repos_copy(db, data_dir, partial, counts, repo_count, err);
    if (rc == 0)
        rc = store_open(&src, data_dir, err);
    if (rc == 0)
        rc = store_open(&dest_store, partial, err);
    if (rc == 0) {
        struct blob_copy c = {src, dest_store, counts, err};

        rc = store_foreach(src, blob_copy_one, &c, err);
    }
    if (rc == 0)
        rc = job_logs_copy(data_dir, partial, counts, err);
    store_close(src);
    store_close(dest_store);
    return rc;
}

int admin_cmd_backup(const struct admin_ctx *ctx)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct backup_counts counts = {0};
    struct meta *db = NULL;
    char partial[4096];
    const char *dest;
    size_t repo_count = 0;
    struct stat sb;
    int rc;

    if (ctx->argc != 1 || ctx->argv[0][0] == '-')
        return admin_usage_error("usage: backup DEST (a folder that does not exist yet)");
    dest = ctx->argv[0];
    if (stat(dest, &sb) == 0)
        return admin_usage_error("backup folder '%s' already exists: name a new folder", dest);
    rc = dest_check(dest, ctx->data_dir);
    if (rc != 0)
        return rc;
    if ((size_t)snprintf(partial, sizeof(partial), "%s.partial-XXXXXX", dest) >= sizeof(partial))
        return admin_usage_error("backup folder '%.100s' is too long: name a shorter path", dest);
    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    /* A backup that fails halfway (a full disk) must not leave DEST looking like a data
     * directory, so the copy gets its final name only after every part was written. */
    if (mkdtemp(partial) == NULL) {
        fprintf(stderr, "atelier admin: cannot create the temporary backup folder %s: %s\n",
                partial, strerror(errno));
        meta_close(db);
        return 1;
    }
    if (chmod(partial, 0750) != 0) {
        rc = hub_error_set_errno(&err, HUB_EIO, errno, "cannot set the mode of %s", partial);
    } else {
        rc = backup_write(db, ctx->data_dir, partial, &counts, &repo_count, &err);
    }
    if (rc == 0 && rename(partial, dest) != 0)
        rc = hub_error_set_errno(&err, HUB_EIO, errno, "cannot rename %s to %s", partial, dest);
    meta_close(db);
    if (rc < 0) {
        if (tree_remove(partial) == 0)
            fprintf(stderr, "atelier admin: backup to %s failed and was removed: %s\n", dest,
                    err.msg);
        else
            fprintf(stderr,
                    "atelier admin: backup to %s failed: %s; removing the incomplete "
                    "copy %s also failed (%s): delete it by hand\n",
                    dest, err.msg, partial, strerror(errno));
        return 1;
    }
    printf("backed up the database, %zu repos (%" PRIu64 " files), %" PRIu64 " blobs (%" PRIu64
           " hard links, %" PRIu64 " copies) and %" PRIu64 " job logs to %s; check it with "
           "`atelier admin --data %s fsck`\n",
           repo_count, counts.files, counts.blobs_linked + counts.blobs_copied, counts.blobs_linked,
           counts.blobs_copied, counts.job_logs, dest, dest);
    return 0;
}
