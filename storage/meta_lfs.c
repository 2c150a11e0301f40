/* meta_lfs: placeholder bodies until the implementation lands. */
#include "meta_lfs.h"

#include <stddef.h>

int meta_lfs_object_add(struct meta *db, const char *oid, uint64_t size, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_object_get(uint64_t *size_out, struct meta *db, const char *oid,
                        struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_object_delete(struct meta *db, const char *oid, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_link(struct meta *db, int64_t repo_id, const char *oid, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_is_linked(bool *out, struct meta *db, int64_t repo_id, const char *oid,
                       struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_object_list(struct meta_lfs_oid **out, size_t *count, struct meta *db,
                         struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_unlinked_list(struct meta_lfs_oid **out, size_t *count, struct meta *db,
                           int64_t created_before, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_lfs_total_bytes(uint64_t *out, struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

