/* meta_org: placeholder bodies until the implementation lands. */
#include "meta_org.h"

#include <stddef.h>

const char *meta_role_name(enum meta_role role)
{
    return NULL;
}

int meta_role_parse(enum meta_role *out, const char *text, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_add(int64_t *out_id, struct meta *db, const char *name, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_get(struct meta_org *out, struct meta *db, const char *name,
                 struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_list(struct meta_org **out, size_t *count, struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_member_set(struct meta *db, int64_t org_id, int64_t user_id, enum meta_role role,
                        struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_member_remove(struct meta *db, int64_t org_id, int64_t user_id,
                           struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_member_role(enum meta_role *out, struct meta *db, int64_t org_id,
                         int64_t user_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_org_member_list(struct meta_member **out, size_t *count, struct meta *db,
                         int64_t org_id, int64_t user_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_namespace_resolve(struct meta_namespace *out, struct meta *db, const char *name,
                           struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

