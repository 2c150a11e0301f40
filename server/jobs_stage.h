/* jobs_stage: builds a job's input folders from hub repos. Small files are written from git;
 * LFS files become symlinks into DATA/lfs/objects, so base weights are never copied. */
#ifndef JOBS_STAGE_H
#define JOBS_STAGE_H

#include "hub_error.h"
#include "hub_name.h"
#include "repo.h"

#include <stdbool.h>
#include <stddef.h>

struct store;

/** Writes every file of repo_id (of type) at commit below dest_dir, which must not exist yet.
 * Returns 0, HUB_ENOTFOUND (repo, commit, or an LFS object missing from the store) or
 * HUB_EIO. Worker process. */
int jobs_stage_repo(const char *dest_dir, const char *data_dir, struct store *st,
                    enum hub_repo_type type, const char *repo_id, const char *commit,
                    struct hub_error *err);

/** Writes the single file path of repo_id at commit to dest_file (a symlink for an LFS
 * file). Returns 0, HUB_ENOTFOUND or HUB_EIO. Worker process. */
int jobs_stage_file(const char *dest_file, const char *data_dir, struct store *st,
                    enum hub_repo_type type, const char *repo_id, const char *commit,
                    const char *path, struct hub_error *err);

/** Resolves rev of repo_id to a commit id in commit_out. Returns 0, HUB_ENOTFOUND or
 * HUB_EIO. Worker process. */
int jobs_stage_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], const char *data_dir,
                       enum hub_repo_type type, const char *repo_id, const char *rev,
                       struct hub_error *err);

/** Reads the small file path of repo_id at commit into a malloc'd NUL-terminated buffer
 * (*out, owned by the caller) of at most max_bytes. Returns 0, HUB_ENOTFOUND, HUB_ETOOBIG or
 * HUB_EIO. Worker process. */
int jobs_stage_read(char **out, size_t *len_out, const char *data_dir, enum hub_repo_type type,
                    const char *repo_id, const char *commit, const char *path, size_t max_bytes,
                    struct hub_error *err);

/** Removes path and everything below it without following symlinks; a missing path is not
 * an error. Returns 0 or HUB_EIO. */
int jobs_remove_tree(const char *path, struct hub_error *err);

/** Creates dir and its missing parents with mode 0750. Returns 0 or HUB_EIO. */
int jobs_mkdirs(const char *dir, struct hub_error *err);

#endif
