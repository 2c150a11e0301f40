/* meta_audit: placeholder bodies until the implementation lands. */
#include "meta_audit.h"

#include <stddef.h>

int meta_audit_add(struct meta *db, const char *user, const char *action, const char *repo,
                   const char *detail, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_audit_list(struct meta_audit_entry **out, size_t *count, struct meta *db,
                    const struct meta_audit_query *q, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

