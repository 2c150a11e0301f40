/* meta_user: placeholder bodies until the implementation lands. */
#include "meta_user.h"

#include <stddef.h>

int meta_user_add(int64_t *out_id, struct meta *db, const char *name, const char *password,
                  bool is_admin, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_get_by_name(struct meta_user *out, struct meta *db, const char *name,
                          struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_get_by_id(struct meta_user *out, struct meta *db, int64_t id,
                        struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_check_password(struct meta_user *out, struct meta *db, const char *name,
                             const char *password, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_set_password(struct meta *db, int64_t user_id, const char *password,
                           struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_set_admin(struct meta *db, int64_t user_id, bool is_admin, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_count_admins(int64_t *out, struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_user_list(struct meta_user **out, size_t *count, struct meta *db,
                   struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

