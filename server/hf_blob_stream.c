/* hf_blob_stream: sends a git blob by reading the output of `git cat-file blob`, so the
 * daemon holds one 64 KiB block of a large regular file per request instead of the whole
 * blob. git streams loose objects and undeltified packed objects above
 * core.bigFileThreshold (set to 1 MiB here) without loading them. It reads a deltified
 * packed blob into the memory of its own process, which ends with the request. */
#include "hf_internal.h"

#include "hub_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct blob_stream {
    char git_dir[PATH_MAX];
    char oid[REPO_OID_HEX_BYTES + 1];
    pid_t pid;          /* git cat-file, started by the first read; 0 before and after */
    int fd;             /* read end of its stdout, or -1 */
    uint64_t skip;      /* bytes before the start of the range, still to be read and dropped */
    uint64_t remaining; /* bytes of the range still to be sent */
};

static int stream_start(struct blob_stream *s)
{
    char git_dir[PATH_MAX + 16];
    char *argv[] = {"git",      git_dir, "-c",   "core.bigFileThreshold=1m",
                    "cat-file", "blob",  s->oid, NULL};
    posix_spawn_file_actions_t actions;
    int pipe_fds[2];
    int rc;

    snprintf(git_dir, sizeof(git_dir), "--git-dir=%s", s->git_dir);
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&s->pid, "git", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (rc != 0) {
        s->pid = 0;
        close(pipe_fds[0]);
        errno = rc;
        return -1;
    }
    s->fd = pipe_fds[0];
    return 0;
}

static ssize_t pipe_read(int fd, char *buf, size_t max)
{
    ssize_t n;

    do {
        n = read(fd, buf, max);
    } while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    struct blob_stream *s = ctx;
    ssize_t n;

    (void)pos;
    if (s->remaining == 0)
        return HTTP_STREAM_END;
    if (s->pid == 0 && stream_start(s) < 0) {
        hub_log(HUB_LOG_ERROR, "hf", "cannot start git cat-file for blob %s: %s", s->oid,
                strerror(errno));
        return HTTP_STREAM_ERROR;
    }
    /* NOTE: a range that starts deep in a large blob reads and drops the bytes before it. */
    n = 1;
    while (s->skip > 0 && n > 0) {
        n = pipe_read(s->fd, buf, s->skip < max ? (size_t)s->skip : max);
        if (n > 0)
            s->skip -= (uint64_t)n;
    }
    /* n is the failed read's result when the output ended before the range started. */
    if (s->skip == 0)
        n = pipe_read(s->fd, buf, s->remaining < max ? (size_t)s->remaining : max);
    if (n <= 0) {
        hub_log(HUB_LOG_ERROR, "hf", "git cat-file ended early for blob %s in %s: %s", s->oid,
                s->git_dir, n < 0 ? strerror(errno) : "end of output");
        return HTTP_STREAM_ERROR;
    }
    s->remaining -= (uint64_t)n;
    return n;
}

static void stream_free(void *ctx)
{
    struct blob_stream *s = ctx;

    if (s->fd >= 0)
        close(s->fd);
    if (s->pid > 0) {
        int wstatus;

        /* The client may have gone before the end, so git may still be writing. */
        kill(s->pid, SIGKILL);
        while (waitpid(s->pid, &wstatus, 0) < 0 && errno == EINTR)
            ;
    }
    free(s);
}

int hf_send_git_blob_stream(struct http_request *req, unsigned status, const char *content_type,
                            const char *git_dir, const char *oid, uint64_t start, uint64_t length)
{
    struct blob_stream *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return HUB_ENOMEM;
    if (snprintf(s->git_dir, sizeof(s->git_dir), "%s", git_dir) >= (int)sizeof(s->git_dir)) {
        free(s);
        return http_reply_error(req, 500, "repo path too long: %.200s", git_dir);
    }
    snprintf(s->oid, sizeof(s->oid), "%s", oid);
    s->fd = -1;
    s->skip = start;
    s->remaining = length;
    return http_reply_stream(req, status, content_type, length, stream_read, s, stream_free);
}
