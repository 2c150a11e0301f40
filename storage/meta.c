/* meta: placeholder bodies until the implementation lands. */
#include "meta.h"

#include <stddef.h>

int meta_open(struct meta **out, const char *data_dir, unsigned flags, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_open_unchecked(struct meta **out, const char *data_dir, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void meta_close(struct meta *db)
{

}

struct sqlite3 *meta_sqlite_get(struct meta *db)
{
    return NULL;
}

int meta_error_from_sqlite(struct hub_error *err, struct meta *db, int rc, const char *what)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_tx_begin(struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_tx_commit(struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void meta_tx_rollback(struct meta *db)
{

}

int64_t meta_now(void)
{
    return 0;
}

const struct meta_migration *meta_migrations_builtin(size_t *count)
{
    return NULL;
}

int meta_migration_status_list(struct meta_migration_status **out, size_t *count,
                               struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int meta_migrate(int *applied, struct meta *db, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

