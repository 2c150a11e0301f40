/* meta_token: placeholder bodies until the implementation lands. */
#include "meta_token.h"

#include <stddef.h>

const char *meta_scope_name(enum meta_scope scope)
{
    return NULL;
}

int meta_scope_parse(enum meta_scope *out, const char *text, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_token_create(char secret_out[META_TOKEN_SECRET_BYTES + 1], int64_t *out_id,
                      struct meta *db, int64_t user_id, const char *label, enum meta_scope scope,
                      struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_token_lookup(struct meta_token *out, struct meta *db, const char *secret,
                      struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_token_get(struct meta_token *out, struct meta *db, int64_t token_id,
                   struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_token_list(struct meta_token **out, size_t *count, struct meta *db, int64_t user_id,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_token_revoke(struct meta *db, int64_t token_id, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

