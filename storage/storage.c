/* storage: one-time library setup (libgit2, SQLite) and the data directory layout. */
#include "storage.h"

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void storage_init_once(void)
{
    /* libgit2 counts init calls; one call for the process is enough. */
    init_result = git_libgit2_init() < 0 ? HUB_EINTERNAL : 0;
    if (init_result == 0 && sqlite3_threadsafe() == 0)
        init_result = HUB_EINTERNAL;
}

int storage_init(struct hub_error *err)
{
    pthread_once(&init_once, storage_init_once);
    if (init_result < 0)
        return hub_error_set(err, HUB_EINTERNAL,
                             "storage setup failed: libgit2 did not initialise or SQLite was "
                             "built without thread support");
    return 0;
}

void storage_shutdown(void)
{
    if (init_result == 0)
        git_libgit2_shutdown();
}

int storage_path_join(char *buf, size_t cap, const char *data_dir, const char *suffix,
                      struct hub_error *err)
{
    int n = snprintf(buf, cap, "%s/%s", data_dir, suffix);

    if (n < 0 || (size_t)n >= cap)
        return hub_error_set(err, HUB_ETOOBIG, "path '%.100s/%.100s' is too long", data_dir,
                             suffix);
    return 0;
}

int storage_create_error(struct hub_error *err, int sys_errno, const char *kind, const char *path)
{
    char parent[4096], name[256] = "";
    const char *slash = strrchr(path, '/');
    struct passwd pw, *found = NULL;
    char pw_buf[1024];

    if (sys_errno == EROFS)
        return hub_error_set(err, HUB_EIO,
                             "cannot create %s %s: the file system is read-only; choose a --data "
                             "directory on a writable one",
                             kind, path);
    if (sys_errno != EACCES && sys_errno != EPERM)
        return hub_error_set_errno(err, HUB_EIO, sys_errno, "cannot create %s %s", kind, path);

    if (slash == NULL)
        snprintf(parent, sizeof(parent), ".");
    else if (slash == path)
        snprintf(parent, sizeof(parent), "/");
    else
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
    if (getpwuid_r(geteuid(), &pw, pw_buf, sizeof(pw_buf), &found) == 0 && found != NULL)
        snprintf(name, sizeof(name), "%s", pw.pw_name);
    else
        snprintf(name, sizeof(name), "uid %u", (unsigned)geteuid());
    return hub_error_set(err, HUB_EIO,
                         "cannot create %s %s: permission denied; give user %s (who runs atelier) "
                         "write access to %s",
                         kind, path, name, parent);
}

static int mkdir_if_missing(const char *path, struct hub_error *err)
{
    struct stat st;

    if (mkdir(path, 0750) == 0)
        return 0;
    if (errno != EEXIST)
        return storage_create_error(err, errno, "directory", path);
    if (stat(path, &st) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return hub_error_set(err, HUB_EINVAL, "%s exists and is not a directory", path);
    return 0;
}

int storage_layout_create(const char *data_dir, struct hub_error *err)
{
    static const char *const subdirs[] = {
        "repos", "repos/models", "repos/datasets", "lfs", "lfs/objects", "tmp", "jobs",
    };
    char path[4096];
    int rc;

    rc = mkdir_if_missing(data_dir, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        rc = storage_path_join(path, sizeof(path), data_dir, subdirs[i], err);
        if (rc < 0)
            return rc;
        rc = mkdir_if_missing(path, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
