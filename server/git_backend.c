/* git_backend: spools request bodies, spawns `git http-backend` in its own process group,
 * parses the CGI header block it writes and passes the body on. The child's stdin is a
 * regular file or /dev/null, never a pipe, so the child never waits for the daemon. Its
 * stderr goes to an unlinked temporary file that is logged only when the child fails. */
#include "git_backend.h"

#include "hub_log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BACKEND_MAX_HEADERS 32

struct githttp_backend {
    pid_t pid;          /* child and process group id; 0 after it was reaped */
    int exit_status;    /* valid once pid is 0 */
    int out_fd;         /* child's stdout: a pipe or a temporary file */
    int err_fd;         /* child's stderr: a temporary file */
    unsigned status;    /* from the "Status:" header */
    char head[GITHTTP_MAX_CGI_HEADER_BYTES + 1]; /* header block, split in place */
    size_t header_count;
    const char *names[BACKEND_MAX_HEADERS];
    const char *values[BACKEND_MAX_HEADERS];
    char pending[GITHTTP_MAX_CGI_HEADER_BYTES]; /* body bytes read together with the headers */
    size_t pending_len;
    size_t pending_off;
};

/* Opens an unlinked read-write file in dir. */
static int tmpfile_open(const char *dir, struct hub_error *err)
{
    char path[4096];
    int fd;

    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* Some filesystems (overlayfs on older kernels, NFS) lack O_TMPFILE. */
    if (snprintf(path, sizeof(path), "%s/git-XXXXXX", dir) >= (int)sizeof(path))
        return hub_error_set(err, HUB_EINVAL, "temporary directory path too long: %s", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno,
                                   "cannot create a temporary file in %s: %s", dir,
                                   strerrordesc_np(errno));
    unlink(path);
    return fd;
}

int githttp_spool_open(struct githttp_spool *spool, const char *tmp_dir, uint64_t max_bytes,
                       struct hub_error *err)
{
    int fd = tmpfile_open(tmp_dir, err);

    if (fd < 0)
        return fd;
    spool->fd = fd;
    spool->bytes = 0;
    spool->max_bytes = max_bytes;
    return 0;
}

int githttp_spool_write(struct githttp_spool *spool, const void *data, size_t len,
                        struct hub_error *err)
{
    const char *p = data;

    if (spool->fd < 0)
        return hub_error_set(err, HUB_EINTERNAL, "request body spool is not open");
    if (len > spool->max_bytes || spool->bytes > spool->max_bytes - len)
        return hub_error_set(err, HUB_ETOOBIG,
                             "git request body is larger than the limit of %llu bytes",
                             (unsigned long long)spool->max_bytes);
    while (len > 0) {
        ssize_t n = write(spool->fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return hub_error_set_errno(err, HUB_EIO, errno,
                                       "cannot write the git request body to disk: %s",
                                       strerrordesc_np(errno));
        p += n;
        len -= (size_t)n;
        spool->bytes += (uint64_t)n;
    }
    return 0;
}

void githttp_spool_close(struct githttp_spool *spool)
{
    if (spool->fd >= 0)
        close(spool->fd);
    spool->fd = -1;
}

/* ---- Environment ------------------------------------------------------------------------ */

struct env_list {
    char *entries[GITHTTP_MAX_ENV_VARS + 1];
    size_t count;
};

static int env_add(struct env_list *env, struct hub_error *err, const char *name,
                   const char *value)
{
    char *entry = NULL;

    if (env->count >= GITHTTP_MAX_ENV_VARS)
        return hub_error_set(err, HUB_EINTERNAL, "too many environment entries for git");
    if (asprintf(&entry, "%s=%s", name, value) < 0)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the environment of git");
    env->entries[env->count++] = entry;
    env->entries[env->count] = NULL;
    return 0;
}

static void env_dispose(struct env_list *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->entries[i]);
    env->count = 0;
}

/* Variables passed through from the daemon: where programs are, and the sanitizer settings
 * so a hook built with sanitizers reports the same way as the daemon. */
static const char *const passed_env[] = {
    "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

static int env_build(struct env_list *env, const struct githttp_backend_request *req,
                     struct hub_error *err)
{
    const char *slash = strrchr(req->repo_dir, '/');
    char *root = NULL;
    char *path_info = NULL;
    char length[32];
    int rc = 0;

    if (slash == NULL || slash == req->repo_dir || slash[1] == '\0')
        return hub_error_set(err, HUB_EINTERNAL, "repo path is not absolute: %s", req->repo_dir);
    root = strndup(req->repo_dir, (size_t)(slash - req->repo_dir));
    if (root == NULL || asprintf(&path_info, "%s/%s", slash, req->rest) < 0) {
        free(root);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the environment of git");
    }
    for (size_t i = 0; rc == 0 && i < sizeof(passed_env) / sizeof(passed_env[0]); i++) {
        const char *value = getenv(passed_env[i]);

        if (value != NULL)
            rc = env_add(env, err, passed_env[i], value);
    }
    snprintf(length, sizeof(length), "%llu", (unsigned long long)req->body_bytes);
    if (rc == 0)
        rc = env_add(env, err, "GATEWAY_INTERFACE", "CGI/1.1");
    if (rc == 0)
        rc = env_add(env, err, "SERVER_PROTOCOL", "HTTP/1.1");
    if (rc == 0)
        rc = env_add(env, err, "REQUEST_METHOD", req->method);
    if (rc == 0)
        rc = env_add(env, err, "GIT_PROJECT_ROOT", root);
    if (rc == 0)
        rc = env_add(env, err, "PATH_INFO", path_info);
    if (rc == 0)
        rc = env_add(env, err, "QUERY_STRING", req->query != NULL ? req->query : "");
    /* The daemon has already checked access, so git serves every repo it is sent to. */
    if (rc == 0)
        rc = env_add(env, err, "GIT_HTTP_EXPORT_ALL", "1");
    if (rc == 0 && req->body_fd >= 0)
        rc = env_add(env, err, "CONTENT_LENGTH", length);
    if (rc == 0 && req->content_type != NULL)
        rc = env_add(env, err, "CONTENT_TYPE", req->content_type);
    /* http-backend inflates gzip request bodies itself when it gets the encoding. */
    if (rc == 0 && req->content_encoding != NULL)
        rc = env_add(env, err, "HTTP_CONTENT_ENCODING", req->content_encoding);
    if (rc == 0 && req->git_protocol != NULL)
        rc = env_add(env, err, "GIT_PROTOCOL", req->git_protocol);
    if (rc == 0 && req->remote_user != NULL)
        rc = env_add(env, err, "REMOTE_USER", req->remote_user);
    if (rc == 0 && req->remote_addr != NULL)
        rc = env_add(env, err, "REMOTE_ADDR", req->remote_addr);
    for (size_t i = 0; rc == 0 && req->extra_env != NULL && req->extra_env[i] != NULL; i++) {
        if (env->count >= GITHTTP_MAX_ENV_VARS) {
            rc = hub_error_set(err, HUB_EINTERNAL, "too many environment entries for git");
            break;
        }
        env->entries[env->count] = strdup(req->extra_env[i]);
        if (env->entries[env->count] == NULL) {
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the environment of git");
            break;
        }
        env->count++;
        env->entries[env->count] = NULL;
    }
    free(root);
    free(path_info);
    return rc;
}

/* ---- Child process ---------------------------------------------------------------------- */

static int spawn_child(pid_t *pid, int stdin_fd, int stdout_fd, int stderr_fd, char **envp,
                       struct hub_error *err)
{
    char *argv[] = {"git", "http-backend", NULL};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t default_signals, no_signals;
    int rc;

    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    /* A process group of its own, so githttp_backend_free can also stop the upload-pack or
     * receive-pack that http-backend starts. SIGPIPE is reset in case the daemon ignores it,
     * and the stop signals that the daemon's threads block are unblocked, so git and the push
     * hook clean up their temporary files when they are stopped. */
    sigemptyset(&default_signals);
    sigaddset(&default_signals, SIGPIPE);
    sigaddset(&default_signals, SIGTERM);
    sigaddset(&default_signals, SIGINT);
    sigaddset(&default_signals, SIGHUP);
    sigemptyset(&no_signals);
    posix_spawnattr_setsigdefault(&attr, &default_signals);
    posix_spawnattr_setsigmask(&attr, &no_signals);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawnp(pid, "git", &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return hub_error_set_errno(err, HUB_EIO, rc, "cannot start git http-backend: %s",
                                   strerrordesc_np(rc));
    return 0;
}

static void log_child_stderr(struct githttp_backend *backend)
{
    char text[2048];
    ssize_t n;

    if (backend->err_fd < 0 || lseek(backend->err_fd, 0, SEEK_SET) < 0)
        return;
    n = read(backend->err_fd, text, sizeof(text) - 1);
    if (n <= 0)
        return;
    text[n] = '\0';
    hub_log(HUB_LOG_WARN, "git", "git http-backend failed: exit=%d stderr=%s",
            backend->exit_status, text);
}

int githttp_backend_wait(struct githttp_backend *backend)
{
    int wstatus = 0;
    pid_t got;

    if (backend->pid == 0)
        return backend->exit_status;
    do {
        got = waitpid(backend->pid, &wstatus, 0);
    } while (got < 0 && errno == EINTR);
    backend->pid = 0;
    if (got < 0)
        backend->exit_status = -1;
    else if (WIFEXITED(wstatus))
        backend->exit_status = WEXITSTATUS(wstatus);
    else
        backend->exit_status = -1;
    if (backend->exit_status != 0)
        log_child_stderr(backend);
    return backend->exit_status;
}

/* Waits for the child like githttp_backend_wait, but kills its process group once
 * max_seconds have passed (0: no limit). Returns 0, or HUB_EIO when the child was killed. */
static int wait_with_deadline(struct githttp_backend *backend, unsigned max_seconds,
                              struct hub_error *err)
{
    struct timespec start;
    struct timespec now;
    struct timespec pause = {0, 20 * 1000 * 1000}; /* 20 ms between checks */

    if (max_seconds == 0) {
        githttp_backend_wait(backend);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int wstatus = 0;
        pid_t got = waitpid(backend->pid, &wstatus, WNOHANG);

        if (got == backend->pid || (got < 0 && errno != EINTR)) {
            backend->pid = 0;
            backend->exit_status = got > 0 && WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
            if (backend->exit_status != 0)
                log_child_stderr(backend);
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)max_seconds) {
            kill(-backend->pid, SIGKILL);
            githttp_backend_wait(backend);
            return hub_error_set(err, HUB_EIO, "git http-backend timed out after %u seconds "
                                 "and was stopped", max_seconds);
        }
        nanosleep(&pause, NULL);
    }
}

/* ---- CGI header block ------------------------------------------------------------------- */

/* Finds the blank line that ends the header block; returns the offset of the body, or 0. */
static size_t header_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n')
            return i + 2;
        if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    }
    return 0;
}

/* Splits backend->head (head_len bytes of header lines) into names and values in place. */
static int headers_split(struct githttp_backend *backend, size_t head_len, struct hub_error *err)
{
    char *line = backend->head;
    char *end = backend->head + head_len;

    backend->status = 200;
    while (line < end) {
        char *eol = memchr(line, '\n', (size_t)(end - line));
        char *colon;
        char *value;

        if (eol == NULL)
            eol = end;
        *eol = '\0';
        if (eol > line && eol[-1] == '\r')
            eol[-1] = '\0';
        if (line[0] != '\0') {
            colon = strchr(line, ':');
            if (colon == NULL || backend->header_count >= BACKEND_MAX_HEADERS)
                return hub_error_set(err, HUB_EIO,
                                     "git http-backend wrote an invalid header line");
            *colon = '\0';
            value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            backend->names[backend->header_count] = line;
            backend->values[backend->header_count] = value;
            backend->header_count++;
            if (strcasecmp(line, "Status") == 0) {
                char *digits_end = NULL;
                unsigned long code = strtoul(value, &digits_end, 10);

                if (digits_end == value || code < 100 || code > 599)
                    return hub_error_set(err, HUB_EIO,
                                         "git http-backend wrote an invalid status: %.40s", value);
                backend->status = (unsigned)code;
            }
        }
        line = eol + 1;
    }
    return 0;
}

static int headers_read(struct githttp_backend *backend, struct hub_error *err)
{
    size_t len = 0;
    size_t body_off = 0;

    while (body_off == 0) {
        ssize_t n;

        if (len >= GITHTTP_MAX_CGI_HEADER_BYTES)
            return hub_error_set(err, HUB_EIO, "git http-backend wrote more than %d header bytes",
                                 GITHTTP_MAX_CGI_HEADER_BYTES);
        n = read(backend->out_fd, backend->head + len, GITHTTP_MAX_CGI_HEADER_BYTES - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return hub_error_set_errno(err, HUB_EIO, errno,
                                       "cannot read the output of git http-backend: %s",
                                       strerrordesc_np(errno));
        if (n == 0) {
            githttp_backend_wait(backend);
            return hub_error_set(err, HUB_EIO, "git http-backend exited (status %d) before it "
                                 "wrote its headers", backend->exit_status);
        }
        len += (size_t)n;
        body_off = header_end(backend->head, len);
    }
    backend->pending_len = len - body_off;
    memcpy(backend->pending, backend->head + body_off, backend->pending_len);
    return headers_split(backend, body_off, err);
}

/* ---- Public API ------------------------------------------------------------------------- */

static int open_output(struct githttp_backend *backend, int *child_out,
                       const struct githttp_backend_request *req, const char *tmp_dir,
                       struct hub_error *err)
{
    int fds[2];

    if (req->wait_for_exit) {
        backend->out_fd = tmpfile_open(tmp_dir, err);
        *child_out = backend->out_fd;
        return backend->out_fd < 0 ? backend->out_fd : 0;
    }
    if (pipe2(fds, O_CLOEXEC) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot create a pipe: %s",
                                   strerrordesc_np(errno));
    backend->out_fd = fds[0];
    *child_out = fds[1];
    return 0;
}

int githttp_backend_start(struct githttp_backend **out, const struct githttp_backend_request *req,
                          struct hub_error *err)
{
    struct githttp_backend *backend = NULL;
    struct env_list env = {{NULL}, 0};
    const char *tmp_dir = req->tmp_dir;
    int stdin_fd = -1;
    int child_out = -1;
    int rc;

    *out = NULL;
    backend = calloc(1, sizeof(*backend));
    if (backend == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a git backend");
    backend->out_fd = -1;
    backend->err_fd = -1;
    rc = env_build(&env, req, err);
    if (rc < 0)
        goto out;
    if (req->body_fd >= 0) {
        stdin_fd = req->body_fd;
        if (lseek(stdin_fd, 0, SEEK_SET) < 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot rewind the request body: %s",
                                     strerrordesc_np(errno));
            goto out;
        }
    } else {
        stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (stdin_fd < 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot open /dev/null: %s",
                                     strerrordesc_np(errno));
            goto out;
        }
    }
    backend->err_fd = tmpfile_open(tmp_dir, err);
    if (backend->err_fd < 0) {
        rc = backend->err_fd;
        goto out;
    }
    rc = open_output(backend, &child_out, req, tmp_dir, err);
    if (rc < 0)
        goto out;
    rc = spawn_child(&backend->pid, stdin_fd, child_out, backend->err_fd, env.entries, err);
    if (rc < 0)
        goto out;
    if (req->wait_for_exit) {
        rc = wait_with_deadline(backend, req->max_seconds, err);
        if (rc < 0)
            goto out;
        if (lseek(backend->out_fd, 0, SEEK_SET) < 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot rewind the git output: %s",
                                     strerrordesc_np(errno));
            goto out;
        }
    } else {
        close(child_out); /* only the child has the write end now, so EOF means it exited */
    }
    child_out = -1;
    rc = headers_read(backend, err);
out:
    if (child_out >= 0 && !req->wait_for_exit)
        close(child_out);
    if (req->body_fd < 0 && stdin_fd >= 0)
        close(stdin_fd);
    env_dispose(&env);
    if (rc < 0) {
        githttp_backend_free(backend);
        return rc;
    }
    *out = backend;
    return 0;
}

unsigned githttp_backend_status(const struct githttp_backend *backend)
{
    return backend->status;
}

const char *githttp_backend_header(const struct githttp_backend *backend, const char *name)
{
    for (size_t i = 0; i < backend->header_count; i++) {
        if (strcasecmp(backend->names[i], name) == 0)
            return backend->values[i];
    }
    return NULL;
}

size_t githttp_backend_header_count(const struct githttp_backend *backend)
{
    return backend->header_count;
}

void githttp_backend_header_at(const struct githttp_backend *backend, size_t i, const char **name,
                               const char **value)
{
    *name = i < backend->header_count ? backend->names[i] : NULL;
    *value = i < backend->header_count ? backend->values[i] : NULL;
}

ssize_t githttp_backend_read(struct githttp_backend *backend, char *buf, size_t max,
                             struct hub_error *err)
{
    ssize_t n;

    if (max == 0)
        return 0;
    if (backend->pending_off < backend->pending_len) {
        size_t left = backend->pending_len - backend->pending_off;
        size_t take = left < max ? left : max;

        memcpy(buf, backend->pending + backend->pending_off, take);
        backend->pending_off += take;
        return (ssize_t)take;
    }
    do {
        n = read(backend->out_fd, buf, max);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return hub_error_set_errno(err, HUB_EIO, errno,
                                   "cannot read the output of git http-backend: %s",
                                   strerrordesc_np(errno));
    if (n == 0)
        githttp_backend_wait(backend);
    return n;
}

void githttp_backend_free(struct githttp_backend *backend)
{
    if (backend == NULL)
        return;
    if (backend->pid > 0) {
        kill(-backend->pid, SIGKILL);
        githttp_backend_wait(backend);
    }
    if (backend->out_fd >= 0)
        close(backend->out_fd);
    if (backend->err_fd >= 0)
        close(backend->err_fd);
    free(backend);
}
