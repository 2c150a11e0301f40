/* repo: placeholder bodies until the implementation lands. */
#include "repo.h"

#include <stddef.h>

int repo_path_build(char *buf, size_t cap, const char *data_dir, enum hub_repo_type type,
                    const char *ns, const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_create(char commit_out[REPO_OID_HEX_BYTES + 1], const char *data_dir,
                enum hub_repo_type type, const char *ns, const char *name,
                const struct repo_create_opts *opts, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_delete(const char *data_dir, enum hub_repo_type type, const char *ns,
                const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_open(struct repo **out, const char *data_dir, enum hub_repo_type type, const char *ns,
              const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_open_path(struct repo **out, const char *path, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void repo_close(struct repo *r)
{

}

const char *repo_path_get(const struct repo *r)
{
    return NULL;
}

int repo_revision_resolve(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r,
                          const char *rev, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

bool repo_revision_is_branch(char *branch_out, struct repo *r, const char *rev)
{
    return false;
}

int repo_tree_list(struct repo_entry **out, size_t *count, struct repo *r, const char *rev,
                   const char *path, bool recursive, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void repo_entries_free(struct repo_entry *entries, size_t count)
{

}

int repo_entry_stat(struct repo_entry *out, struct repo *r, const char *rev, const char *path,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_file_read(char **out, size_t *len_out, struct repo *r, const char *rev,
                   const char *path, size_t max_bytes, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void repo_commit_info_dispose(struct repo_commit_info *info)
{

}

int repo_log(struct repo_commit_info **out, size_t *count, size_t *total, struct repo *r,
             const char *rev, size_t offset, size_t limit, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void repo_commits_free(struct repo_commit_info *commits, size_t count)
{

}

int repo_commit_get(struct repo_commit_info *out, struct repo *r, const char *rev,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_last_commit(struct repo_commit_info *out, struct repo *r, const char *rev,
                     const char *path, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_commit(char commit_out[REPO_OID_HEX_BYTES + 1], struct repo *r,
                const struct repo_commit_request *req, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_refs_list(struct repo_ref **out, size_t *count, struct repo *r, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_branch_create(struct repo *r, const char *name, const char *from,
                       struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_branch_delete(struct repo *r, const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_tag_create(struct repo *r, const char *name, const char *rev, const char *message,
                    const char *tagger_name, const char *tagger_email, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_tag_delete(struct repo *r, const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_lfs_attributes_load(struct lfs_attributes **out, struct repo *r, const char *rev,
                             struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int repo_lfs_foreach(struct repo *r,
                     int (*fn)(void *ctx, const char *oid, uint64_t size, const char *path),
                     void *ctx, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

