/* meta_repo: placeholder bodies until the implementation lands. */
#include "meta_repo.h"

#include <stddef.h>

int meta_repo_insert(struct meta_repo *out, struct meta *db, enum hub_repo_type type,
                     const char *ns, const char *name, bool is_private, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_get(struct meta_repo *out, struct meta *db, enum hub_repo_type type,
                  const char *ns, const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_get_by_id(struct meta_repo *out, struct meta *db, int64_t repo_id,
                        struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_delete(struct meta *db, int64_t repo_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_list(struct meta_repo **out, size_t *count, size_t *total, struct meta *db,
                   const struct meta_repo_query *q, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_set_private(struct meta *db, int64_t repo_id, bool is_private,
                          struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_touch(struct meta *db, int64_t repo_id, const char *commit_id,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_set_base_model(struct meta *db, int64_t repo_id, const char *base_model,
                             struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_downloads_bump(struct meta *db, int64_t repo_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_can_read(bool *out, struct meta *db, const struct meta_repo *repo,
                       int64_t user_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_repo_can_write(bool *out, struct meta *db, const struct meta_repo *repo,
                        int64_t user_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_namespace_can_write(bool *out, struct meta *db, const char *ns, int64_t user_id,
                             struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

