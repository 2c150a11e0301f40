/* meta_lfs: rows for the LFS blobs in the store (lfs_objects) and which repo may read which
 * blob (repo_objects). A blob is served for a repo only when a link exists: the upload to that
 * repo created it, or a commit or push to that repo references it. */
#ifndef META_LFS_H
#define META_LFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"

struct meta;

/* One oid as 64 lowercase hex digits plus the NUL. */
struct meta_lfs_oid {
    char hex[65];
    uint64_t size;
    int64_t created_at;
};

/** Records a blob that is now in the store; recording it again is a no-op. Returns 0,
 * HUB_EINVAL (oid not 64 lowercase hex), HUB_ECONFLICT (recorded with another size) or
 * HUB_EIO. */
int meta_lfs_object_add(struct meta *db, const char *oid, uint64_t size, struct hub_error *err);

/** Reads the size of a recorded blob. Returns 0, HUB_EINVAL, HUB_ENOTFOUND or HUB_EIO. */
int meta_lfs_object_get(uint64_t *size_out, struct meta *db, const char *oid,
                        struct hub_error *err);

/** Deletes a blob row and its links (gc, after the file is gone). Returns 0 or HUB_EIO. */
int meta_lfs_object_delete(struct meta *db, const char *oid, struct hub_error *err);

/** Lets repo_id read oid; linking again is a no-op. The object row must exist. Returns 0,
 * HUB_EINVAL, HUB_ENOTFOUND (no such object or repo) or HUB_EIO. */
int meta_lfs_link(struct meta *db, int64_t repo_id, const char *oid, struct hub_error *err);

/** Sets *out to whether repo_id may read oid. Returns 0, HUB_EINVAL or HUB_EIO. */
int meta_lfs_is_linked(bool *out, struct meta *db, int64_t repo_id, const char *oid,
                       struct hub_error *err);

/** Lists every recorded blob, ordered by oid. *out is malloc'd (free()). Returns 0 or HUB_E*. */
int meta_lfs_object_list(struct meta_lfs_oid **out, size_t *count, struct meta *db,
                         struct hub_error *err);

/** Lists the blobs linked to no repo and recorded before created_before (seconds since the
 * epoch): the candidates for gc. *out is malloc'd (free()). Returns 0 or HUB_E*. */
int meta_lfs_unlinked_list(struct meta_lfs_oid **out, size_t *count, struct meta *db,
                           int64_t created_before, struct hub_error *err);

/** Sums the sizes of all recorded blobs (for /metrics). Returns 0 or HUB_EIO. */
int meta_lfs_total_bytes(uint64_t *out, struct meta *db, struct hub_error *err);

#endif
