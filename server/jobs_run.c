/* jobs_run: fork/exec of a trainer command with a poll loop over its pipes. Lines longer
 * than JOBS_LINE_MAX_BYTES are cut, and captured stdout stops growing at
 * JOBS_CAPTURE_MAX_BYTES, so a runaway child cannot exhaust the worker's memory. */
#include "jobs_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOBS_LINE_MAX_BYTES    65536
#define JOBS_CAPTURE_MAX_BYTES (1u << 20)
#define JOBS_KILL_GRACE_S      5
#define JOBS_PROGRESS_FD       3

/* A pipe being read line by line. */
struct line_pipe {
    int fd;    /* -1 once closed */
    char *buf; /* JOBS_LINE_MAX_BYTES + 1 bytes */
    size_t len;
    bool overflow; /* the current line was cut; skip to its end */
};

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0 && fd >= 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void child_exec(const struct jobs_run_opts *opts, int out_fd, int err_fd, int progress_fd,
                       pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    if (progress_fd == JOBS_PROGRESS_FD)
        fcntl(progress_fd, F_SETFD, 0); /* dup2 onto itself would keep FD_CLOEXEC */
    else if (progress_fd >= 0)
        dup2(progress_fd, JOBS_PROGRESS_FD);
    execv(opts->argv[0], opts->argv);
    _exit(127);
}

/* Hands out each complete line of p to fn, keeping a partial line for the next read. */
static void lines_split(struct line_pipe *p, void (*fn)(void *, const char *, size_t), void *ctx)
{
    size_t start = 0;

    for (size_t i = 0; i < p->len; i++) {
        if (p->buf[i] != '\n')
            continue;
        if (!p->overflow) {
            p->buf[i] = '\0';
            fn(ctx, p->buf + start, i - start);
        }
        p->overflow = false;
        start = i + 1;
    }
    memmove(p->buf, p->buf + start, p->len - start);
    p->len -= start;
    if (p->len == JOBS_LINE_MAX_BYTES) {
        p->overflow = true;
        p->len = 0;
    }
}

struct run_state {
    const struct jobs_run_opts *opts;
    struct jobs_run_result *result;
    size_t captured;
};

static void on_stderr_line(void *ctx, const char *line, size_t len)
{
    struct run_state *s = ctx;

    if (len == 0)
        return;
    snprintf(s->result->last_error, sizeof(s->result->last_error), "%.*s", (int)len, line);
    if (s->opts->on_stderr != NULL)
        s->opts->on_stderr(s->opts->ctx, line, len);
}

static void on_progress_line(void *ctx, const char *line, size_t len)
{
    struct run_state *s = ctx;

    write_all(s->opts->log_fd, line, len);
    write_all(s->opts->log_fd, "\n", 1);
    s->opts->on_progress(s->opts->ctx, line, len);
}

/* Reads what is ready on p. Returns false at end of file. */
static bool pipe_read(struct line_pipe *p, struct run_state *s, int which)
{
    char chunk[8192];
    ssize_t n = read(p->fd, chunk, sizeof(chunk));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (which == 0) { /* stdout */
        if (!s->opts->capture_stdout) {
            write_all(s->opts->log_fd, chunk, (size_t)n);
            return true;
        }
        if (s->captured + (size_t)n <= JOBS_CAPTURE_MAX_BYTES) {
            memcpy(s->result->stdout_text + s->captured, chunk, (size_t)n);
            s->captured += (size_t)n;
            s->result->stdout_text[s->captured] = '\0';
        }
        return true;
    }
    if (which == 1) /* stderr goes to the log as it arrives */
        write_all(s->opts->log_fd, chunk, (size_t)n);
    for (ssize_t i = 0; i < n; i++) {
        if (p->len < JOBS_LINE_MAX_BYTES)
            p->buf[p->len++] = chunk[i];
        if (p->len == JOBS_LINE_MAX_BYTES || chunk[i] == '\n')
            lines_split(p, which == 1 ? on_stderr_line : on_progress_line, s);
    }
    return true;
}

static int64_t monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Polls the pipes until all three reached end of file, stopping the child on request. */
static void pipes_drain(struct line_pipe pipes[3], struct run_state *s, pid_t pid)
{
    int64_t term_at = 0;

    for (;;) {
        struct pollfd fds[3];
        int open_count = 0;

        for (int i = 0; i < 3; i++) {
            fds[i].fd = pipes[i].fd;
            fds[i].events = POLLIN;
            fds[i].revents = 0;
            open_count += pipes[i].fd >= 0;
        }
        if (open_count == 0)
            return;
        if (poll(fds, 3, 200) < 0 && errno != EINTR)
            return;
        /* The progress pipe (2) is read before stderr (1), so that progress lines written
         * before an error line reach on_progress before that line reaches on_stderr. */
        for (int k = 0; k < 3; k++) {
            static const int order[3] = {0, 2, 1};
            int i = order[k];

            if (pipes[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
                !pipe_read(&pipes[i], s, i)) {
                close(pipes[i].fd);
                pipes[i].fd = -1;
            }
        }
        if (s->opts->on_tick != NULL)
            s->opts->on_tick(s->opts->ctx);
        if (s->opts->should_stop != NULL && s->opts->should_stop(s->opts->ctx)) {
            s->result->stopped = true;
            if (term_at == 0) {
                kill(pid, SIGTERM);
                term_at = monotonic_s();
            } else if (monotonic_s() - term_at >= JOBS_KILL_GRACE_S) {
                kill(pid, SIGKILL);
            }
        }
    }
}

static int pipe_open(int fds[2], struct hub_error *err)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create a pipe");
    return 0;
}

int jobs_run(struct jobs_run_result *result, const struct jobs_run_opts *opts,
             struct hub_error *err)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, progress_pipe[2] = {-1, -1};
    struct line_pipe pipes[3];
    struct run_state s = {opts, result, 0};
    pid_t parent = getpid();
    pid_t pid;
    int status = 0;
    int rc;

    memset(result, 0, sizeof(*result));
    memset(pipes, 0, sizeof(pipes));
    for (int i = 0; i < 3; i++)
        pipes[i].fd = -1;
    rc = pipe_open(out_pipe, err);
    if (rc == 0)
        rc = pipe_open(err_pipe, err);
    if (rc == 0 && opts->on_progress != NULL)
        rc = pipe_open(progress_pipe, err);
    if (rc == 0 && opts->capture_stdout) {
        result->stdout_text = calloc(1, JOBS_CAPTURE_MAX_BYTES + 1);
        if (result->stdout_text == NULL)
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the output buffer");
    }
    for (int i = 0; rc == 0 && i < 3; i++) {
        pipes[i].buf = malloc(JOBS_LINE_MAX_BYTES + 1);
        if (pipes[i].buf == NULL)
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a line buffer");
    }
    if (rc < 0)
        goto out;
    pid = fork();
    if (pid < 0) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot fork %s", opts->argv[1]);
        goto out;
    }
    if (pid == 0)
        child_exec(opts, out_pipe[1], err_pipe[1], progress_pipe[1], parent);
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;
    if (progress_pipe[1] >= 0) {
        close(progress_pipe[1]);
        progress_pipe[1] = -1;
    }
    pipes[0].fd = out_pipe[0];
    pipes[1].fd = err_pipe[0];
    pipes[2].fd = progress_pipe[0];
    out_pipe[0] = err_pipe[0] = progress_pipe[0] = -1;
    pipes_drain(pipes, &s, pid);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    result->signaled = WIFSIGNALED(status);
    result->signal = result->signaled ? WTERMSIG(status) : 0;
    result->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
out:
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
        if (progress_pipe[i] >= 0)
            close(progress_pipe[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (pipes[i].fd >= 0)
            close(pipes[i].fd);
        free(pipes[i].buf);
    }
    if (rc < 0) {
        free(result->stdout_text);
        result->stdout_text = NULL;
    }
    return rc;
}
