/* lfs_attributes: placeholder bodies until the implementation lands. */
#include "lfs_attributes.h"

#include <stddef.h>

const char *lfs_attributes_default_text(void)
{
    return NULL;
}

int lfs_attributes_parse(struct lfs_attributes **out, const char *text, size_t len,
                         struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void lfs_attributes_free(struct lfs_attributes *attrs)
{

}

bool lfs_attributes_match(const struct lfs_attributes *attrs, const char *path)
{
    return false;
}

bool lfs_attributes_path_is_lfs(const struct lfs_attributes *attrs, const char *path,
                                uint64_t size)
{
    return false;
}

size_t lfs_attributes_track_line(char *buf, size_t cap, const char *path)
{
    return 0;
}

