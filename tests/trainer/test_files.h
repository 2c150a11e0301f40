/* tests/trainer/test_files.h: file helpers shared by the trainer command tests. */
#ifndef TESTS_TRAINER_TEST_FILES_H
#define TESTS_TRAINER_TEST_FILES_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Returns dir/name in one of many static buffers, so a test can build argument lists from
 * several paths at once without freeing them. */
static inline char *path_in(const char *dir, const char *name)
{
    static char buf[512][2200];
    static int next;
    char *p = buf[next++ % 512];

    snprintf(p, 2200, "%s/%s", dir, name);
    return p;
}

/* Starts bin with args (NULL-terminated, without argv[0], at most 62), stdout and stderr to
 * the files out_path and err_path (NULL: /dev/null), keeping the other descriptors open.
 * With max_file_bytes above 0 the command may write files of at most that size, as on a nearly
 * full disk: SIGXFSZ is ignored, so a write past the limit fails with EFBIG. Returns the pid,
 * or -1. */
static inline pid_t spawn_command(const char *bin, const char *const *args, const char *out_path,
                                  const char *err_path, rlim_t max_file_bytes)
{
    const char *argv[64];
    const char *out = out_path != NULL ? out_path : "/dev/null";
    const char *err = err_path != NULL ? err_path : "/dev/null";
    int n = 0;
    pid_t pid;

    argv[n++] = bin;
    while (args[n - 1] != NULL && n < 63) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        struct rlimit limit = {max_file_bytes, max_file_bytes};
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fo, 1);
        dup2(fe, 2);
        if (max_file_bytes > 0) {
            signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
                _exit(126);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid from spawn_command. Returns its exit status, or -1 when it did not exit. */
static inline int wait_command(pid_t pid)
{
    int status;

    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs bin with args as spawn_command starts it, without a file size limit, and returns
 * wait_command's value. */
static inline int run_command(const char *bin, const char *const *args, const char *out_path,
                              const char *err_path)
{
    return wait_command(spawn_command(bin, args, out_path, err_path, 0));
}

/* Returns the whole file as a malloc'd string, or NULL when it cannot be read. */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc((size_t)len + 1, 1);
    if (buf != NULL && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static inline bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

#endif
