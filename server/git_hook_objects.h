/* git_hook_objects: the pre-receive checks on the objects that a push adds, run once for all
 * ref updates of the push (see git_hook_objects.c). */
#ifndef GIT_HOOK_OBJECTS_H
#define GIT_HOOK_OBJECTS_H

#include "git_hook.h"

#include <stdint.h>
#include <stdio.h>

struct meta;
struct store;

/** Checks the objects that the new values of updates reach and no existing ref reaches. It
 * rejects blobs new to the repo that are larger than max_file_bytes, naming their paths. It
 * rejects LFS pointers to objects that the store lacks or that user_id may not read, and a
 * push that lacks history (from a shallow clone). It writes "lfs <oid> <size>" to report
 * (may be NULL) for each accepted pointer and the reasons to errors. Returns 0 when the push
 * may go on, 1 when it is rejected, or 2 on an internal error. */
int githook_objects_check(const struct githook_update *updates, long count, uint64_t max_file_bytes,
                          struct store *st, struct meta *db, int64_t user_id, FILE *report,
                          FILE *errors);

/** Runs git with argv (argv[0] is "git"): stdin from in_fd, stdout to out_fd (/dev/null for
 * either when -1) and stderr to err_fd, or to the hook's own stderr, which receive-pack passes
 * to the pusher, when -1. Returns the exit status, or -1 when git could not run. */
int githook_git_run(char *const argv[], int in_fd, int out_fd, int err_fd);

/** Runs git as githook_git_run does, with the environment envp. */
int githook_git_run_env(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd);

/** Applies the file size rule to the blobs listed in large as "<oid> <size> <path>" lines,
 * all above max_bytes. A blob that the repo's object store contained before the push passes.
 * For each other blob it writes a rejection that names the ref of updates that adds it, and
 * then one `git lfs migrate import` command for all of them, to errors. Returns 0 when every blob
 * passes, 1 when one is rejected, or 2 on an internal error. */
int githook_large_files_check(FILE *large, const struct githook_update *updates, long count,
                              uint64_t max_bytes, FILE *errors);

/** Returns the size limit of a blob in a push: ATELIER_HOOK_MAX_FILE_BYTES, or
 * HUB_MAX_GIT_FILE_BYTES when it is unset or not a positive number. */
uint64_t githook_max_file_bytes(void);

/** Writes path to out in double quotes, with backslash escapes for '\\', '"' and control
 * characters, so a name with a newline stays on one line of a rejection. */
void githook_path_print_quoted(FILE *out, const char *path);

#endif
