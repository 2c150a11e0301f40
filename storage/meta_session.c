/* meta_session: placeholder bodies until the implementation lands. */
#include "meta_session.h"

#include <stddef.h>

int meta_session_create(char id_out[META_SESSION_ID_BYTES + 1],
                        char csrf_out[META_SESSION_CSRF_BYTES + 1], struct meta *db,
                        int64_t user_id, int64_t ttl_s, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_session_lookup(struct meta_session *out, struct meta *db, const char *id,
                        struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_session_delete(struct meta *db, const char *id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_session_purge_expired(int64_t *deleted, struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

