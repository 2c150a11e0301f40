/* lfs_pointer: git-lfs pointer files, the small text blobs that git stores in place of a large
 * file:
 *
 *   version https://git-lfs.github.com/spec/v1
 *   oid sha256:<64 lowercase hex>
 *   size <decimal bytes>
 *
 * each line ending in '\n'. Pure functions: any thread. */
#ifndef LFS_POINTER_H
#define LFS_POINTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"

/* git-lfs never treats a blob of this size or more as a pointer. */
#define LFS_POINTER_MAX_BYTES 1024

struct lfs_pointer {
    char oid[65];  /* 64 lowercase hex digits and the NUL */
    uint64_t size; /* object size in bytes */
};

/** Parses buf of len bytes as a pointer, as strictly as git-lfs does: "version" first with the
 * current or the legacy (hawser.github.com) URL, then the other keys in sorted order, each
 * once, "oid sha256:HEX" and "size N" required, unknown keys of the form [a-z0-9.-]+ allowed
 * (and ignored), every line ending in '\n', no byte past the last line, fewer than
 * LFS_POINTER_MAX_BYTES bytes, size made of decimal digits only and at most 2^63 - 1.
 * Returns 0, or HUB_EINVAL saying why the text is not a pointer. */
int lfs_pointer_parse(struct lfs_pointer *out, const char *buf, size_t len, struct hub_error *err);

/** Returns whether lfs_pointer_parse would accept buf. */
bool lfs_pointer_is_pointer(const char *buf, size_t len);

/** Writes the canonical pointer text for p into buf of cap bytes, NUL-terminated. Returns the
 * text length (without the NUL), or 0 when cap is too small or p->oid is not 64 lowercase
 * hex. */
size_t lfs_pointer_format(char *buf, size_t cap, const struct lfs_pointer *p);

#endif
