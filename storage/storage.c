/* storage: placeholder bodies until the implementation lands. */
#include "storage.h"

#include <stddef.h>

int storage_init(struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void storage_shutdown(void)
{

}

int storage_layout_create(const char *data_dir, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int storage_path_join(char *buf, size_t cap, const char *data_dir, const char *suffix,
                      struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

