/* git_hook_objects: the pre-receive checks on the objects a push brings in, run once for all
 * ref updates of the push. One `git rev-list --objects` lists the objects that the new ref
 * values reach and no existing ref does, one `git cat-file --batch-check` gives their types
 * and sizes, and one `git cat-file --batch` reads the blobs small enough to be LFS pointers.
 * Blobs above the file size limit go to the rule in git_hook_large_files.c, and LFS pointers
 * must name objects that the pushing user may read. */
#include "git_hook_objects.h"

#include "hub_limits.h"
#include "lfs_pointer.h"
#include "meta.h"
#include "meta_lfs_access.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int githook_git_run(char *const argv[], int in_fd, int out_fd, int err_fd)
{
    return githook_git_run_env(argv, environ, in_fd, out_fd, err_fd);
}

int githook_git_run_env(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd)
{
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int wstatus = 0;
    int rc;

    posix_spawn_file_actions_init(&actions);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    rc = posix_spawnp(&pid, "git", &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return -1;
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}

/* Writes the first line of file (at most cap - 1 bytes) to out, or "" when it is empty. */
static void first_line_read(FILE *file, char *out, size_t cap)
{
    out[0] = '\0';
    rewind(file);
    if (fgets(out, (int)cap, file) != NULL)
        out[strcspn(out, "\n")] = '\0';
}

/* Lists "<oid> <path>" for each object that the new ref values of updates reach and no
 * existing ref reaches, in a temporary file *out (NULL when the push only deletes refs).
 * Returns 0, 1 when the push lacks history, or 2 on an internal error, after it wrote the
 * reason to errors. receive-pack has checked that the pushed objects are complete, up to the
 * shallow boundary of a push from a shallow clone, so an object that rev-list cannot read
 * means that the push comes from a shallow clone. */
static int new_objects_list(FILE **out, const struct githook_update *updates, long count,
                            FILE *errors)
{
    char **argv = calloc((size_t)count + 6, sizeof(*argv));
    FILE *list = tmpfile();
    FILE *messages = tmpfile();
    char message[512];
    size_t argc = 0;
    int status;
    int result = 0;

    *out = NULL;
    if (argv == NULL || list == NULL || messages == NULL) {
        fprintf(errors, "atelier hook: cannot list the pushed objects: %s\n",
                argv == NULL ? "out of memory" : strerror(errno));
        result = 2;
        goto out;
    }
    argv[argc++] = "git";
    argv[argc++] = "rev-list";
    argv[argc++] = "--objects";
    for (long i = 0; i < count; i++) {
        if (!githook_oid_is_zero(updates[i].new_oid))
            argv[argc++] = (char *)updates[i].new_oid;
    }
    if (argc == 3)
        goto out;
    argv[argc++] = "--not";
    argv[argc++] = "--all";
    argv[argc] = NULL;
    status = githook_git_run(argv, -1, fileno(list), fileno(messages));
    if (status == 0) {
        rewind(list);
        *out = list;
        list = NULL;
        goto out;
    }
    first_line_read(messages, message, sizeof(message));
    if (strstr(message, "Could not read") != NULL || strstr(message, "missing") != NULL ||
        strstr(message, "bad object") != NULL) {
        fprintf(errors,
                "rejected: the push lacks part of the history of its commits (git: %s), as a "
                "push from a shallow clone does, and the hub keeps only complete history; "
                "run `git fetch --unshallow` and push again\n",
                message);
        result = 1;
    } else {
        fprintf(errors,
                "atelier hook: cannot list the pushed objects: git rev-list exited "
                "with status %d: %s\n",
                status, message);
        result = 2;
    }
out:
    free(argv);
    if (list != NULL)
        fclose(list);
    if (messages != NULL)
        fclose(messages);
    return result;
}

/* Splits an "<oid> <type> <size> <path>" line of `git cat-file --batch-check` in place.
 * The path is "" when the object has none (a commit or a tag). Returns false when the line
 * is malformed. */
static bool object_line_split(char *line, const char **oid, const char **type, uint64_t *size,
                              const char **path)
{
    char *type_start = strchr(line, ' ');
    char *size_start = type_start != NULL ? strchr(type_start + 1, ' ') : NULL;
    char *end = NULL;
    char *path_start;

    if (size_start == NULL)
        return false;
    *type_start = '\0';
    *size_start = '\0';
    errno = 0;
    *size = strtoull(size_start + 1, &end, 10);
    if (errno != 0 || end == size_start + 1 || (*end != ' ' && *end != '\0'))
        return false;
    path_start = *end == ' ' ? end + 1 : end;
    *end = '\0';
    *oid = line;
    *type = type_start + 1;
    *path = path_start;
    return true;
}

/* Reads the types and sizes of the listed objects. Writes "<oid> <size> <path>" of each blob
 * above max_file_bytes to large, and "<oid> <path>" of each blob below LFS_POINTER_MAX_BYTES
 * (a possible pointer) to small. Returns 0, or 2 on an internal error. */
static int object_sizes_read(FILE *objects, uint64_t max_file_bytes, FILE *large, FILE *small,
                             FILE *errors)
{
    char *argv[] = {"git", "cat-file",
                    "--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)", NULL};
    FILE *sizes = tmpfile();
    char *line = NULL;
    size_t line_cap = 0;
    int result = 0;

    if (sizes == NULL || githook_git_run(argv, fileno(objects), fileno(sizes), -1) != 0) {
        fprintf(errors, "atelier hook: cannot read the sizes of the pushed objects\n");
        if (sizes != NULL)
            fclose(sizes);
        return 2;
    }
    rewind(sizes);
    while (getline(&line, &line_cap, sizes) > 0) {
        const char *oid, *type, *path;
        uint64_t size;

        line[strcspn(line, "\n")] = '\0';
        if (!object_line_split(line, &oid, &type, &size, &path)) {
            fprintf(errors, "atelier hook: unexpected output from git cat-file: %.200s\n", line);
            result = 2;
            break;
        }
        if (strcmp(type, "blob") != 0)
            continue;
        if (size > max_file_bytes)
            fprintf(large, "%s %llu %s\n", oid, (unsigned long long)size, path);
        else if (size < LFS_POINTER_MAX_BYTES)
            fprintf(small, "%s %s\n", oid, path);
    }
    free(line);
    fclose(sizes);
    return result;
}

/* Reads one "<oid> <type> <size> <path>" header and its content from `git cat-file --batch`
 * output. Sets *type and *path into header. Returns 1 with *content malloc'd, 0 at the end,
 * -1 on malformed output. Only blobs below LFS_POINTER_MAX_BYTES are sent to --batch. */
static int batch_next(FILE *batch, char **line, size_t *line_cap, const char **type,
                      const char **path, char **content, size_t *content_len)
{
    const char *oid;
    uint64_t size;

    if (getline(line, line_cap, batch) < 0)
        return 0;
    (*line)[strcspn(*line, "\n")] = '\0';
    if (!object_line_split(*line, &oid, type, &size, path) || size >= LFS_POINTER_MAX_BYTES)
        return -1;
    *content = malloc((size_t)size + 1);
    if (*content == NULL)
        return -1;
    if (fread(*content, 1, (size_t)size, batch) != (size_t)size || fgetc(batch) != '\n') {
        free(*content);
        *content = NULL;
        return -1;
    }
    *content_len = (size_t)size;
    return 1;
}

/* Checks one pointer blob found at path. Returns true when its object is stored with the
 * announced size and user_id may read it through a repo that links it already (this repo
 * too, when git-lfs uploaded it before the push). Otherwise it wrote the reason (naming path)
 * to errors. A user who has only the oid of a file in a repo they cannot read gets the same
 * message as for an object that was never uploaded, so the reply does not reveal the file. */
static bool pointer_is_allowed(const struct lfs_pointer *p, const char *path, struct store *st,
                               struct meta *db, int64_t user_id, FILE *errors)
{
    struct hub_error err = HUB_ERROR_INIT;
    uint64_t size = 0;
    bool exists = false;
    bool readable = false;

    if (store_blob_stat(&exists, &size, st, p->oid, &err) < 0 ||
        (exists && meta_lfs_user_can_read(&readable, db, user_id, p->oid, &err) < 0)) {
        fprintf(errors, "rejected: cannot check the LFS object of %s: %s\n", path, err.msg);
        return false;
    }
    if (!exists || !readable) {
        fprintf(errors,
                "rejected: %s is an LFS pointer to object %s, which was not uploaded "
                "to this repo; run `git lfs push --all origin` (or check that git-lfs "
                "is installed with `git lfs install`) and push again\n",
                path, p->oid);
        return false;
    }
    if (size != p->size) {
        fprintf(errors,
                "rejected: %s is an LFS pointer with size %llu, but object %s has %llu "
                "bytes\n",
                path, (unsigned long long)p->size, p->oid, (unsigned long long)size);
        return false;
    }
    return true;
}

/* Checks the LFS pointers among the blobs listed in small. Returns 0, 1 when an object is
 * missing or not readable by user_id, or 2 on an internal error. */
static int pointers_check(FILE *small, struct store *st, struct meta *db, int64_t user_id,
                          FILE *report, FILE *errors)
{
    char *argv[] = {"git", "cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)",
                    NULL};
    FILE *batch = tmpfile();
    char *header = NULL;
    size_t header_cap = 0;
    int result = 0;
    int more;

    rewind(small);
    if (batch == NULL || githook_git_run(argv, fileno(small), fileno(batch), -1) != 0) {
        fprintf(errors, "atelier hook: cannot read the pushed blobs\n");
        if (batch != NULL)
            fclose(batch);
        return 2;
    }
    rewind(batch);
    for (;;) {
        char *content = NULL;
        size_t content_len = 0;
        struct lfs_pointer pointer;
        struct hub_error err = HUB_ERROR_INIT;
        const char *type = NULL;
        const char *path = NULL;

        more = batch_next(batch, &header, &header_cap, &type, &path, &content, &content_len);
        if (more <= 0) {
            if (more < 0) {
                fprintf(errors, "atelier hook: unexpected output from git cat-file\n");
                result = 2;
            }
            break;
        }
        if (lfs_pointer_parse(&pointer, content, content_len, &err) == 0) {
            if (!pointer_is_allowed(&pointer, path[0] != '\0' ? path : header, st, db, user_id,
                                    errors))
                result = result == 0 ? 1 : result;
            else if (report != NULL)
                fprintf(report, "lfs %s %llu\n", pointer.oid, (unsigned long long)pointer.size);
        }
        free(content);
    }
    free(header);
    fclose(batch);
    return result;
}

uint64_t githook_max_file_bytes(void)
{
    const char *text = getenv("ATELIER_HOOK_MAX_FILE_BYTES");
    char *end = NULL;
    unsigned long long value;

    if (text == NULL || text[0] == '\0')
        return HUB_MAX_GIT_FILE_BYTES;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value == 0)
        return HUB_MAX_GIT_FILE_BYTES;
    return (uint64_t)value;
}

int githook_objects_check(const struct githook_update *updates, long count, uint64_t max_file_bytes,
                          struct store *st, struct meta *db, int64_t user_id, FILE *report,
                          FILE *errors)
{
    FILE *objects = NULL;
    FILE *large = NULL;
    FILE *small = NULL;
    int result;

    result = new_objects_list(&objects, updates, count, errors);
    if (objects == NULL)
        return result;
    large = tmpfile();
    small = tmpfile();
    if (large == NULL || small == NULL) {
        fprintf(errors, "atelier hook: cannot create a temporary file: %s\n", strerror(errno));
        result = 2;
        goto out;
    }
    result = object_sizes_read(objects, max_file_bytes, large, small, errors);
    if (result == 0 && ftell(large) > 0)
        result = githook_large_files_check(large, updates, count, max_file_bytes, errors);
    if (result == 0)
        result = pointers_check(small, st, db, user_id, report, errors);
out:
    fclose(objects);
    if (large != NULL)
        fclose(large);
    if (small != NULL)
        fclose(small);
    return result;
}
