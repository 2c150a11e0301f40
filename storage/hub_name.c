/* hub_name: placeholder bodies until the implementation lands. */
#include "hub_name.h"

#include <stddef.h>

const char *hub_repo_type_name(enum hub_repo_type type)
{
    return NULL;
}

const char *hub_repo_type_plural(enum hub_repo_type type)
{
    return NULL;
}

int hub_repo_type_parse(enum hub_repo_type *out, const char *text, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int hub_name_check(const char *name, const char *what, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

bool hub_name_is_valid(const char *name)
{
    return false;
}

int hub_repo_id_parse(char ns_out[HUB_MAX_REPO_NAME_BYTES + 1],
                      char name_out[HUB_MAX_REPO_NAME_BYTES + 1], const char *id,
                      struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

