/* store: placeholder bodies until the implementation lands. */
#include "store.h"

#include <stddef.h>

int store_open(struct store **out, const char *data_dir, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

void store_close(struct store *st)
{

}

bool store_oid_is_valid(const char *oid)
{
    return false;
}

int store_upload_begin(struct store_upload **out, struct store *st, const char *oid,
                       uint64_t size, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_upload_write(struct store_upload *up, const void *buf, size_t len,
                       struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_upload_finish(struct store_upload *up, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

uint64_t store_upload_received(const struct store_upload *up)
{
    return 0;
}

void store_upload_free(struct store_upload *up)
{

}

int store_put_fd(char oid_out[STORE_OID_HEX_BYTES + 1], uint64_t *size_out, struct store *st,
                 int fd, uint64_t max_bytes, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_put_buf(char oid_out[STORE_OID_HEX_BYTES + 1], struct store *st, const void *buf,
                  size_t len, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_blob_stat(bool *exists, uint64_t *size_out, struct store *st, const char *oid,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_blob_open(int *fd_out, uint64_t *size_out, struct store *st, const char *oid,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_blob_path(char *buf, size_t cap, struct store *st, const char *oid,
                    struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_blob_remove(struct store *st, const char *oid, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_total_bytes(uint64_t *out, struct store *st, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_fsck(uint64_t *good, uint64_t *bad, struct store *st, store_fsck_fn fn, void *ctx,
               struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_foreach(struct store *st, int (*fn)(void *ctx, const char *oid, uint64_t size),
                  void *ctx, struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

int store_sha256_hex(char oid_out[STORE_OID_HEX_BYTES + 1], const void *buf, size_t len,
                     struct hub_error *err)
{
    return hub_error_set(err, HUB_EINTERNAL, "%s is not implemented yet", __func__);
}

