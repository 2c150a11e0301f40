/* meta_lfs_access: whether a user may link an LFS blob that is already in the store to a repo
 * without uploading its bytes. The store keeps one copy per oid, so a link made from the oid
 * alone would let anyone who learns the oid of a file in a private repo read that file. A
 * link without an upload is therefore allowed only when the user may already read the blob
 * through some repo, by the read rules of meta_repo.h. */
#ifndef META_LFS_ACCESS_H
#define META_LFS_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "hub_error.h"

struct meta;

/** Sets *out to whether user_id (0 for anonymous) may read at least one repo that links oid.
 * Readable are public repos, private repos the user owns, private repos of an organisation
 * the user belongs to with any role, and every repo for an admin. A blob linked to no repo
 * gives false. Returns 0, HUB_EINVAL (oid not 64 lowercase hex) or HUB_EIO. */
int meta_lfs_user_can_read(bool *out, struct meta *db, int64_t user_id, const char *oid,
                           struct hub_error *err);

#endif
