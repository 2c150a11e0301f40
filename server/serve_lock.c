/* serve_lock: flock(2) on DATA/serve.lock for the life of `atelier serve`. flock locks
 * belong to the open file, so the kernel drops the lock when the daemon exits, also on a
 * crash or SIGKILL, and a stale file never blocks the next start. The file is never
 * removed: unlinking it while another process waits to lock it would let two daemons hold
 * locks on different files. */
#include "serve_lock.h"

#include "hub_log.h"
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads the pid that the daemon holding the lock wrote, or 0 when the file has none yet. */
static long lock_holder_pid(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    char *end = NULL;
    long pid;

    if (n <= 0)
        return 0;
    text[n] = '\0';
    pid = strtol(text, &end, 10);
    if (end == text || pid <= 0)
        return 0;
    return pid;
}

static int lock_pid_write(int fd, const char *path, struct hub_error *err)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != (ssize_t)len)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot write the daemon pid to %s", path);
    return 0;
}

int serve_lock_acquire(const char *data_dir, struct hub_error *err)
{
    char path[4096];
    long holder;
    int fd, rc;

    if (mkdir(data_dir, 0750) == 0)
        /* A mistyped --data would otherwise start an empty hub without a trace. */
        hub_log_always(HUB_LOG_INFO, "serve", "created the data directory %s", data_dir);
    else if (errno != EEXIST)
        return storage_create_error(err, errno, "data directory", data_dir);
    rc = storage_path_join(path, sizeof(path), data_dir, SERVE_LOCK_FILE, err);
    if (rc < 0)
        return rc;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOTDIR)
        return hub_error_set(err, HUB_EINVAL, "--data %s is not a directory", data_dir);
    if (fd < 0 && (errno == EACCES || errno == EPERM) && access(path, F_OK) == 0)
        return hub_error_set(err, HUB_EIO,
                             "cannot open %s: permission denied; give the user who runs "
                             "atelier write access to it, or remove it when no daemon runs",
                             path);
    if (fd < 0)
        return storage_create_error(err, errno, "file", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;

        if (saved != EWOULDBLOCK) {
            close(fd);
            return hub_error_set_errno(err, HUB_EIO, saved, "cannot lock %s", path);
        }
        holder = lock_holder_pid(fd);
        close(fd);
        if (holder > 0)
            return hub_error_set(err, HUB_ECONFLICT,
                                 "data directory %s is in use by another atelier serve (pid "
                                 "%ld); stop that daemon first, or give this one another --data",
                                 data_dir, holder);
        return hub_error_set(err, HUB_ECONFLICT,
                             "data directory %s is in use by another atelier serve that is "
                             "starting; stop that daemon first, or give this one another --data",
                             data_dir);
    }
    rc = lock_pid_write(fd, path, err);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

long serve_lock_holder(const char *data_dir)
{
    char path[4096];
    long holder = 0;
    int fd;

    if (snprintf(path, sizeof(path), "%s/%s", data_dir, SERVE_LOCK_FILE) >= (int)sizeof(path))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    /* NOTE: a daemon that starts during the probe fails to take the lock and names the pid of
     * an earlier daemon. The shared lock is held for two system calls only. */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        holder = lock_holder_pid(fd);
        if (holder == 0)
            holder = -1;
    }
    close(fd); /* also releases the shared lock when the probe got it */
    return holder;
}
