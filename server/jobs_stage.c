/* jobs_stage: materializes repo contents into a job's work folder. Paths come from git trees
 * that repo_tree_list already validated (no "..", no leading '/'), and LFS objects are
 * linked by their checked oid, never by a user-supplied name. */
#include "jobs_stage.h"

#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int jobs_mkdirs(const char *dir, struct hub_error *err)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return hub_error_set(err, HUB_EIO, "invalid folder path '%.200s'", dir);
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            return hub_error_set_errno(err, HUB_EIO, errno, "cannot create folder %s: %s", path,
                                       strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create folder %s: %s", path,
                                   strerror(errno));
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 ? -1 : 0;
    return unlink(path) < 0 ? -1 : 0;
}

int jobs_remove_tree(const char *path, struct hub_error *err)
{
    struct stat st;

    if (lstat(path, &st) < 0 && errno == ENOENT)
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot remove %s: %s", path,
                                   strerror(errno));
    return 0;
}

static int repo_open_id(struct repo **out, const char *data_dir, enum hub_repo_type type,
                        const char *repo_id, struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    int rc;

    rc = hub_repo_id_parse(ns, name, repo_id, err);
    if (rc < 0)
        return rc;
    return repo_open(out, data_dir, type, ns, name, err);
}

int jobs_stage_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], const char *data_dir,
                       enum hub_repo_type type, const char *repo_id, const char *rev,
                       struct hub_error *err)
{
    struct repo *r = NULL;
    int rc;

    rc = repo_open_id(&r, data_dir, type, repo_id, err);
    if (rc == 0)
        rc = repo_revision_resolve(commit_out, r, rev, err);
    repo_close(r);
    return rc;
}

static int file_write_all(const char *path, const char *data, size_t len, struct hub_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    size_t off = 0;

    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create %s: %s", path,
                                   strerror(errno));
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            close(fd);
            return hub_error_set_errno(err, HUB_EIO, saved, "cannot write %s: %s", path,
                                       strerror(saved));
        }
        off += (size_t)n;
    }
    if (close(fd) < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot write %s: %s", path,
                                   strerror(errno));
    return 0;
}

/* Writes one tree entry to dest: a symlink to the blob for LFS files, else the git bytes. */
static int entry_stage(const char *dest, struct repo *r, struct store *st, const char *commit,
                       const struct repo_entry *entry, const char *repo_id, struct hub_error *err)
{
    char blob_path[PATH_MAX];
    bool exists = false;
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (entry->is_lfs) {
        rc = store_blob_path(blob_path, sizeof(blob_path), st, entry->lfs_oid, err);
        if (rc == 0)
            rc = store_blob_stat(&exists, NULL, st, entry->lfs_oid, err);
        if (rc < 0)
            return rc;
        if (!exists)
            return hub_error_set(err, HUB_ENOTFOUND,
                                 "LFS object %s of '%s' in %s is missing from the blob store",
                                 entry->lfs_oid, entry->path, repo_id);
        if (symlink(blob_path, dest) < 0)
            return hub_error_set_errno(err, HUB_EIO, errno, "cannot link %s: %s", dest,
                                       strerror(errno));
        return 0;
    }
    rc = repo_file_read(&data, &len, r, commit, entry->path, 0, err);
    if (rc == 0)
        rc = file_write_all(dest, data, len, err);
    free(data);
    return rc;
}

int jobs_stage_repo(const char *dest_dir, const char *data_dir, struct store *st,
                    enum hub_repo_type type, const char *repo_id, const char *commit,
                    struct hub_error *err)
{
    struct repo_entry *entries = NULL;
    struct repo *r = NULL;
    size_t count = 0;
    char path[PATH_MAX];
    int rc;

    rc = repo_open_id(&r, data_dir, type, repo_id, err);
    if (rc == 0)
        rc = repo_tree_list(&entries, &count, r, commit, "", true, err);
    if (rc == 0)
        rc = jobs_mkdirs(dest_dir, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        int n = snprintf(path, sizeof(path), "%s/%s", dest_dir, entries[i].path);

        if (n < 0 || (size_t)n >= sizeof(path)) {
            rc = hub_error_set(err, HUB_EIO, "path of '%s' is too long", entries[i].path);
            break;
        }
        if (entries[i].type == REPO_ENTRY_DIRECTORY)
            rc = jobs_mkdirs(path, err);
        else
            rc = entry_stage(path, r, st, commit, &entries[i], repo_id, err);
    }
    repo_entries_free(entries, count);
    repo_close(r);
    return rc;
}

int jobs_stage_file(const char *dest_file, const char *data_dir, struct store *st,
                    enum hub_repo_type type, const char *repo_id, const char *commit,
                    const char *path, struct hub_error *err)
{
    struct repo_entry entry;
    struct repo *r = NULL;
    int rc;

    memset(&entry, 0, sizeof(entry));
    rc = repo_open_id(&r, data_dir, type, repo_id, err);
    if (rc == 0)
        rc = repo_entry_stat(&entry, r, commit, path, err);
    if (rc == HUB_ENOTFOUND)
        rc = hub_error_set(err, HUB_ENOTFOUND, "file '%s' not found in %s at %.12s", path, repo_id,
                           commit);
    if (rc == 0 && entry.type != REPO_ENTRY_FILE)
        rc = hub_error_set(err, HUB_ENOTFOUND, "'%s' in %s is a folder, not a file", path, repo_id);
    if (rc == 0)
        rc = entry_stage(dest_file, r, st, commit, &entry, repo_id, err);
    free(entry.path);
    repo_close(r);
    return rc;
}

int jobs_stage_read(char **out, size_t *len_out, const char *data_dir, enum hub_repo_type type,
                    const char *repo_id, const char *commit, const char *path, size_t max_bytes,
                    struct hub_error *err)
{
    struct repo *r = NULL;
    int rc;

    *out = NULL;
    rc = repo_open_id(&r, data_dir, type, repo_id, err);
    if (rc == 0)
        rc = repo_file_read(out, len_out, r, commit, path, max_bytes, err);
    repo_close(r);
    return rc;
}
