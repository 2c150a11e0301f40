/* repo_lock: placeholder bodies until the implementation lands. */
#include "repo_lock.h"

#include <stddef.h>

int repo_lock_acquire(struct repo_lock **out, const char *repo_path, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void repo_lock_release(struct repo_lock *lock)
{

}

