/* admin_git: the git commands that `atelier admin fsck` and `repo prune` run on a repo's bare
 * folder, and the parsing of `git fsck` output into missing, corrupt and malformed objects. */
#include "admin.h"

#include "hub_error.h"
#include "hub_limits.h"
#include "meta.h"
#include "meta_audit.h"
#include "meta_repo.h"
#include "repo.h"
#include "repo_lock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads fd to its end into a growing malloc'd buffer. Returns NULL when out of memory. */
static char *fd_read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    ssize_t got;

    if (text == NULL)
        return NULL;
    for (;;) {
        if (cap - len < 1024) {
            char *grown = realloc(text, cap * 2);

            if (grown == NULL) {
                free(text);
                return NULL;
            }
            text = grown;
            cap *= 2;
        }
        got = read(fd, text + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    text[len] = '\0';
    return text;
}

int admin_git_capture(char **output, int *status, const char *git_dir, const char *const *args)
{
    const char *argv[32];
    size_t argc = 0;
    int fds[2], wait_status = 0, saved;
    pid_t pid;

    *output = NULL;
    *status = -1;
    argv[argc++] = "git";
    argv[argc++] = "--git-dir";
    argv[argc++] = git_dir;
    for (size_t i = 0; args[i] != NULL; i++) {
        if (argc + 1 >= sizeof(argv) / sizeof(argv[0])) {
            errno = E2BIG;
            return -1;
        }
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        int null_in = open("/dev/null", O_RDONLY);

        if (null_in >= 0)
            dup2(null_in, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        /* git's messages are parsed, so they must be in English. */
        setenv("LC_ALL", "C", 1);
        execvp("git", (char *const *)argv);
        _exit(errno == ENOENT ? 127 : 126);
    }
    saved = errno;
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        errno = saved;
        return -1;
    }
    *output = fd_read_all(fds[0]);
    close(fds[0]);
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(wait_status))
        *status = WEXITSTATUS(wait_status);
    if (*output == NULL) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* Returns whether line starts with the 40 hex digits of oid followed by a space or its end. */
static bool line_has_oid(const char *line, const char *oid)
{
    return strncmp(line, oid, 40) == 0 && (line[40] == ' ' || line[40] == '\n' || line[40] == '\0');
}

/* Appends the refs among ref_list (one per line) whose history contains the tree, blob or tag
 * oid to *out, by listing the objects of each ref. Returns 0, or -1 with *out set to git's
 * output. */
static int refs_reaching_object(char **out, const char *git_dir, char *ref_list, const char *oid)
{
    size_t len = 0;
    char *found = calloc(1, strlen(ref_list) + 1);
    char *save = NULL;

    if (found == NULL)
        return -1;
    for (char *ref = strtok_r(ref_list, "\n", &save); ref != NULL;
         ref = strtok_r(NULL, "\n", &save)) {
        const char *args[] = {"rev-list", "--objects", ref, "--", NULL};
        char *objects = NULL;
        bool reached = false;
        int status = 0;

        if (admin_git_capture(&objects, &status, git_dir, args) < 0 || status != 0) {
            free(found);
            *out = objects;
            return -1;
        }
        for (const char *line = objects; line != NULL && *line != '\0' && !reached;) {
            const char *next = strchr(line, '\n');

            reached = line_has_oid(line, oid);
            line = next != NULL ? next + 1 : NULL;
        }
        free(objects);
        if (reached)
            len += (size_t)sprintf(found + len, "%s\n", ref);
    }
    *out = found;
    return 0;
}

int admin_git_refs_reaching(char **refs, const char *git_dir, const char *type, const char *oid)
{
    char oid_arg[41];
    int status = 0, rc;

    *refs = NULL;
    snprintf(oid_arg, sizeof(oid_arg), "%.40s", oid);
    if (strcmp(type, "commit") == 0) {
        const char *args[] = {"for-each-ref", "--format=%(refname)", "--contains", oid_arg, NULL};

        if (admin_git_capture(refs, &status, git_dir, args) < 0)
            return -1;
        return status == 0 ? 0 : -1;
    }
    {
        const char *args[] = {"for-each-ref", "--format=%(refname)", NULL};
        char *ref_list = NULL;

        if (admin_git_capture(&ref_list, &status, git_dir, args) < 0)
            return -1;
        if (status != 0) {
            *refs = ref_list;
            return -1;
        }
        /* NOTE: this lists the objects of each ref in turn, which is slow for many refs with
         * long histories. fsck does it only for malformed trees, blobs and tags. */
        rc = refs_reaching_object(refs, git_dir, ref_list, oid_arg);
        free(ref_list);
        return rc;
    }
}

bool admin_git_fsck_message_parse(struct admin_git_fsck_message *m, const char *line)
{
    static const char *const types[] = {"commit", "tree", "blob", "tag"};
    const char *p = line;
    size_t len;

    memset(m, 0, sizeof(*m));
    if (strncmp(p, "error in ", 9) == 0) {
        m->is_error = true;
        p += 9;
    } else if (strncmp(p, "warning in ", 11) == 0) {
        p += 11;
    } else {
        return false;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        len = strlen(types[i]);
        if (strncmp(p, types[i], len) == 0 && p[len] == ' ') {
            snprintf(m->type, sizeof(m->type), "%s", types[i]);
            p += len + 1;
            break;
        }
    }
    if (m->type[0] == '\0')
        return false;
    for (len = 0; isxdigit((unsigned char)p[len]); len++)
        ;
    if (len != 40 || strncmp(p + 40, ": ", 2) != 0)
        return false;
    memcpy(m->oid, p, 40);
    m->oid[40] = '\0';
    p += 42;
    /* The message id is one camelCase word ending in a colon, such as "missingEmail:". */
    for (len = 0; isalnum((unsigned char)p[len]); len++)
        ;
    if (len == 0 || !islower((unsigned char)p[0]) || p[len] != ':')
        return false;
    m->message = p;
    return true;
}

/* Sets *count to the number of loose and packed objects of git_dir, from `git count-objects
 * -v`. Returns 0, or -1 after printing git's output. */
static int git_object_count(unsigned long long *count, const char *git_dir)
{
    static const char *const args[] = {"count-objects", "-v", NULL};
    unsigned long long loose = 0, packed = 0;
    char *output = NULL;
    const char *field;
    int status = 0;

    if (admin_git_capture(&output, &status, git_dir, args) < 0 || status != 0) {
        fprintf(stderr, "atelier admin: git count-objects on %s failed: %s\n", git_dir,
                output != NULL ? output : strerror(errno));
        free(output);
        return -1;
    }
    field = strstr(output, "count: ");
    if (field != NULL)
        loose = strtoull(field + 7, NULL, 10);
    field = strstr(output, "in-pack: ");
    if (field != NULL)
        packed = strtoull(field + 9, NULL, 10);
    free(output);
    *count = loose + packed;
    return 0;
}

/* Runs git gc under the repo lock: pushes and API commits hold the same lock, so no object
 * that a write is about to reference can be deleted. */
static int repo_gc_locked(unsigned long long *before, unsigned long long *after,
                          const char *git_dir)
{
    static const char *const gc_args[] = {"gc", "--prune=now", "--quiet", NULL};
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_lock *lock = NULL;
    char *output = NULL;
    int status = 0, rc = -1;

    if (repo_lock_acquire(&lock, git_dir, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        return -1;
    }
    if (git_object_count(before, git_dir) < 0)
        goto out;
    if (admin_git_capture(&output, &status, git_dir, gc_args) < 0 || status != 0) {
        fprintf(stderr, "atelier admin: git gc on %s failed: %s\n", git_dir,
                output != NULL && output[0] != '\0' ? output : strerror(errno));
        goto out;
    }
    if (git_object_count(after, git_dir) < 0)
        goto out;
    rc = 0;
out:
    free(output);
    repo_lock_release(lock);
    return rc;
}

int admin_repo_prune(const struct admin_ctx *ctx, enum hub_repo_type type, bool type_given,
                     const char *ns, const char *name)
{
    struct hub_error err = HUB_ERROR_INIT;
    char git_dir[4096], audit_repo[HUB_MAX_REPO_ID_BYTES + 16], detail[96];
    unsigned long long before = 0, after = 0;
    struct meta_repo row;
    struct meta *db = NULL;
    int rc;

    rc = admin_db_open(&db, ctx);
    if (rc != 0)
        return rc;
    if (admin_repo_row_get(&row, db, type, type_given, ns, name, "prune") != 0) {
        meta_close(db);
        return 1;
    }
    if (repo_path_build(git_dir, sizeof(git_dir), ctx->data_dir, type, ns, name, &err) < 0) {
        fprintf(stderr, "atelier admin: %s\n", err.msg);
        meta_close(db);
        return 1;
    }
    if (repo_gc_locked(&before, &after, git_dir) < 0) {
        meta_close(db);
        return 1;
    }
    snprintf(audit_repo, sizeof(audit_repo), "%s:%s/%s", hub_repo_type_name(type), ns, name);
    snprintf(detail, sizeof(detail), "objects_before=%llu objects_after=%llu", before, after);
    meta_audit_add(db, "admin-cli", "repo.prune", audit_repo, detail, NULL);
    printf("pruned %s %s/%s: %llu git objects before, %llu after; objects that no ref reaches "
           "are deleted, so commits of deleted branches can no longer be fetched by id\n",
           hub_repo_type_name(type), ns, name, before, after);
    meta_close(db);
    return 0;
}
