/* lfs_pointer: placeholder bodies until the implementation lands. */
#include "lfs_pointer.h"

#include <stddef.h>

int lfs_pointer_parse(struct lfs_pointer *out, const char *buf, size_t len,
                      struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

bool lfs_pointer_is_pointer(const char *buf, size_t len)
{
    return false;
}

size_t lfs_pointer_format(char *buf, size_t cap, const struct lfs_pointer *p)
{
    return 0;
}

