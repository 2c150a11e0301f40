/* test_git_backend: runs git http-backend through git_backend on a temporary bare repo, as
 * the HTTP layer does: a ref advertisement, a fetch with a plain and a gzip request body, a
 * missing repo, a push, a push whose hook outlives the time limit, and the spool size
 * limit. */
#include "git_backend.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work[256];
static char repo_dir[512];
static char head[41];

/* Runs the shell command line in directory dir. */
static int shell_in(const char *dir, const char *line)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd), "cd '%s' && %s", dir, line);
    return system(cmd);
}

/* Creates WORK/repo.git with one commit on main and stores its id in head. */
static int repo_setup(void)
{
    char hooks[600];
    FILE *p;

    snprintf(repo_dir, sizeof(repo_dir), "%s/repo.git", work);
    if (shell_in(work, "git init -q --bare -b main repo.git && git init -q -b main src && "
                       "cd src && echo hi >a.txt && git add a.txt && "
                       "git -c user.name=T -c user.email=t@localhost commit -q -m one && "
                       "git push -q ../repo.git main") != 0)
        return -1;
    snprintf(hooks, sizeof(hooks), "%s/hooks", work);
    if (mkdir(hooks, 0755) != 0)
        return -1;
    snprintf(head, sizeof(head), "%s", "");
    {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "git -C %s rev-parse main", repo_dir);
        p = popen(cmd, "r");
    }
    if (p == NULL || fgets(head, sizeof(head), p) == NULL) {
        if (p != NULL)
            pclose(p);
        return -1;
    }
    pclose(p);
    return strlen(head) == 40 ? 0 : -1;
}

/* Reads the whole body of backend into buf (NUL-terminated, binary safe up to *len). */
static size_t read_all(struct githttp_backend *backend, char *buf, size_t cap)
{
    struct hub_error err = HUB_ERROR_INIT;
    size_t len = 0;
    ssize_t n;

    while (len + 1 < cap && (n = githttp_backend_read(backend, buf + len, cap - 1 - len, &err)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return len;
}

static void rmdir_work(void)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", work);
}

static void request_init(struct githttp_backend_request *req, const char *rest)
{
    memset(req, 0, sizeof(*req));
    req->repo_dir = repo_dir;
    req->rest = rest;
    req->method = "GET";
    req->query = "";
    req->body_fd = -1;
    req->tmp_dir = work;
}

static void test_info_refs(bool wait_for_exit)
{
    struct githttp_backend_request req;
    struct githttp_backend *backend = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    static char body[65536];
    const char *type;

    request_init(&req, "info/refs");
    req.query = "service=git-upload-pack";
    req.wait_for_exit = wait_for_exit;
    CHECK_EQ_INT(githttp_backend_start(&backend, &req, &err), 0);
    if (backend == NULL)
        return;
    CHECK_EQ_INT(githttp_backend_status(backend), 200);
    type = githttp_backend_header(backend, "content-type");
    CHECK_EQ_STR(type, "application/x-git-upload-pack-advertisement");
    read_all(backend, body, sizeof(body));
    CHECK(strncmp(body, "001e# service=git-upload-pack\n0000", 34) == 0);
    CHECK(strstr(body, head) != NULL);
    CHECK_EQ_INT(githttp_backend_wait(backend), 0);
    githttp_backend_free(backend);
}

static void test_upload_pack(bool gzip)
{
    struct githttp_backend_request req;
    struct githttp_backend *backend = NULL;
    struct githttp_spool spool = GITHTTP_SPOOL_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    static char body[65536];
    char request[128];
    char path[600];
    size_t len;

    snprintf(request, sizeof(request), "0032want %s\n00000009done\n", head);
    if (gzip) {
        FILE *f;
        char cmd[1400];
        static char packed[4096];
        size_t packed_len;

        snprintf(path, sizeof(path), "%s/request", work);
        f = fopen(path, "wb");
        fputs(request, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "gzip -f %s", path);
        CHECK_EQ_INT(system(cmd), 0);
        snprintf(path, sizeof(path), "%s/request.gz", work);
        f = fopen(path, "rb");
        packed_len = f != NULL ? fread(packed, 1, sizeof(packed), f) : 0;
        if (f != NULL)
            fclose(f);
        CHECK_EQ_INT(githttp_spool_open(&spool, work, 1 << 20, &err), 0);
        CHECK_EQ_INT(githttp_spool_write(&spool, packed, packed_len, &err), 0);
    } else {
        CHECK_EQ_INT(githttp_spool_open(&spool, work, 1 << 20, &err), 0);
        CHECK_EQ_INT(githttp_spool_write(&spool, request, strlen(request), &err), 0);
    }
    request_init(&req, "git-upload-pack");
    req.method = "POST";
    req.content_type = "application/x-git-upload-pack-request";
    req.content_encoding = gzip ? "gzip" : NULL;
    req.body_fd = spool.fd;
    req.body_bytes = spool.bytes;
    CHECK_EQ_INT(githttp_backend_start(&backend, &req, &err), 0);
    githttp_spool_close(&spool);
    if (backend == NULL)
        return;
    CHECK_EQ_INT(githttp_backend_status(backend), 200);
    CHECK_EQ_STR(githttp_backend_header(backend, "Content-Type"),
                 "application/x-git-upload-pack-result");
    len = read_all(backend, body, sizeof(body));
    CHECK(len > 12);
    CHECK(memcmp(body, "0008NAK\nPACK", 12) == 0);
    githttp_backend_free(backend);
}

static void test_missing_repo(void)
{
    struct githttp_backend_request req;
    struct githttp_backend *backend = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    char missing[600];

    snprintf(missing, sizeof(missing), "%s/missing.git", work);
    request_init(&req, "info/refs");
    req.repo_dir = missing;
    req.query = "service=git-upload-pack";
    CHECK_EQ_INT(githttp_backend_start(&backend, &req, &err), 0);
    if (backend == NULL)
        return;
    CHECK_EQ_INT(githttp_backend_status(backend), 404);
    githttp_backend_free(backend);
}

/* Writes a push of head to refs/heads/NAME (a create with an empty pack) into spool. */
static void push_body_write(struct githttp_spool *spool, const char *branch)
{
    static const unsigned char empty_pack[32] = {
        'P', 'A', 'C', 'K', 0, 0, 0, 2, 0, 0, 0, 0, 0x02, 0x9d, 0x08, 0x82, 0x3b, 0xd8,
        0xa8, 0xea, 0xb5, 0x10, 0xad, 0x6a, 0xc7, 0x5c, 0x82, 0x3c, 0xfd, 0x3e, 0xd3, 0x1e};
    struct hub_error err = HUB_ERROR_INIT;
    char command[256];
    char line[300];
    int len;

    len = snprintf(command, sizeof(command),
                   "0000000000000000000000000000000000000000 %s refs/heads/%s%creport-status\n",
                   head, branch, '\0');
    snprintf(line, sizeof(line), "%04x", len + 4);
    memcpy(line + 4, command, (size_t)len);
    CHECK_EQ_INT(githttp_spool_write(spool, line, (size_t)len + 4, &err), 0);
    CHECK_EQ_INT(githttp_spool_write(spool, "0000", 4, &err), 0);
    CHECK_EQ_INT(githttp_spool_write(spool, empty_pack, sizeof(empty_pack), &err), 0);
}

/* A push through receive-pack with a pre-receive hook that sleeps for hook_seconds. */
static int run_push(const char *branch, unsigned hook_seconds, unsigned max_seconds,
                    struct githttp_backend **out, struct hub_error *err)
{
    static const char *const env[] = {"GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_0=http.receivepack",
                                      "GIT_CONFIG_VALUE_0=true", "GIT_CONFIG_KEY_1=core.hooksPath",
                                      NULL, NULL};
    const char *envp[6];
    struct githttp_backend_request req;
    struct githttp_spool spool = GITHTTP_SPOOL_INIT;
    char hooks_value[600];
    char script[700];
    FILE *f;
    int rc;

    snprintf(hooks_value, sizeof(hooks_value), "GIT_CONFIG_VALUE_1=%s/hooks", work);
    memcpy(envp, env, sizeof(envp));
    envp[4] = hooks_value;
    snprintf(script, sizeof(script), "%s/hooks/pre-receive", work);
    f = fopen(script, "w");
    if (f != NULL) {
        fprintf(f, "#!/bin/sh\nsleep %u\n", hook_seconds);
        fclose(f);
    }
    chmod(script, 0755);
    CHECK_EQ_INT(githttp_spool_open(&spool, work, 1 << 20, err), 0);
    push_body_write(&spool, branch);
    request_init(&req, "git-receive-pack");
    req.method = "POST";
    req.content_type = "application/x-git-receive-pack-request";
    req.remote_user = "tester";
    req.body_fd = spool.fd;
    req.body_bytes = spool.bytes;
    req.extra_env = envp;
    req.wait_for_exit = true;
    req.max_seconds = max_seconds;
    rc = githttp_backend_start(out, &req, err);
    githttp_spool_close(&spool);
    return rc;
}

static void test_receive_pack(void)
{
    struct githttp_backend *backend = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    static char body[4096];

    CHECK_EQ_INT(run_push("pushed", 0, 30, &backend, &err), 0);
    if (backend == NULL)
        return;
    CHECK_EQ_INT(githttp_backend_status(backend), 200);
    read_all(backend, body, sizeof(body));
    CHECK(strstr(body, "unpack ok") != NULL);
    CHECK(strstr(body, "ok refs/heads/pushed") != NULL);
    githttp_backend_free(backend);
}

static void test_receive_pack_timeout(void)
{
    struct githttp_backend *backend = NULL;
    struct hub_error err = HUB_ERROR_INIT;

    CHECK_EQ_INT(run_push("slow", 30, 1, &backend, &err), HUB_EIO);
    CHECK(backend == NULL);
    CHECK(strstr(err.msg, "timed out") != NULL);
}

static void test_spool_limit(void)
{
    struct githttp_spool spool = GITHTTP_SPOOL_INIT;
    struct hub_error err = HUB_ERROR_INIT;

    CHECK_EQ_INT(githttp_spool_open(&spool, work, 8, &err), 0);
    CHECK_EQ_INT(githttp_spool_write(&spool, "12345678", 8, &err), 0);
    CHECK_EQ_INT(githttp_spool_write(&spool, "9", 1, &err), HUB_ETOOBIG);
    CHECK_EQ_INT(spool.bytes, 8);
    githttp_spool_close(&spool);
    CHECK_EQ_INT(githttp_spool_write(&spool, "9", 1, &err), HUB_EINTERNAL);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    int rc;

    snprintf(work, sizeof(work), "%s/atelier-git-backend.XXXXXX", tmp);
    if (mkdtemp(work) == NULL) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }
    setenv("HOME", work, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    if (repo_setup() != 0) {
        printf("Bail out! cannot create the test repo\n");
        rmdir_work();
        return 1;
    }
    test_info_refs(false);
    test_info_refs(true);
    test_upload_pack(false);
    test_upload_pack(true);
    test_missing_repo();
    test_receive_pack();
    test_receive_pack_timeout();
    test_spool_limit();
    rc = test_finish();
    rmdir_work();
    return rc;
}
