/* lfs_attributes: which paths of a repo are stored as LFS blobs. A path is LFS when a
 * .gitattributes rule with filter=lfs matches it (the last matching rule that sets or unsets
 * filter wins, as in git), or when it is larger than HUB_LFS_THRESHOLD_BYTES. Patterns follow
 * gitattributes(5): a pattern without '/' matches the file name in any folder, one with '/'
 * matches the whole path from the repo root, and "**" spans folders. Pure functions and
 * read-only objects: any thread. */
#ifndef LFS_ATTRIBUTES_H
#define LFS_ATTRIBUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"

struct lfs_attributes;

/** Returns the .gitattributes text that new repos get: the Hugging Face Hub default LFS
 * patterns, one "<glob> filter=lfs diff=lfs merge=lfs -text" line each. Static storage. */
const char *lfs_attributes_default_text(void);

/** Parses a .gitattributes text of len bytes (at most HUB_MAX_GITATTRIBUTES_BYTES) and keeps
 * the rules that set or unset filter. *out belongs to the caller (lfs_attributes_free()).
 * Lines it cannot use (macros, bad quoting) are skipped, as git does. Returns 0,
 * HUB_ETOOBIG or HUB_ENOMEM. */
int lfs_attributes_parse(struct lfs_attributes **out, const char *text, size_t len,
                         struct hub_error *err);

/** Frees the rules. Accepts NULL. */
void lfs_attributes_free(struct lfs_attributes *attrs);

/** Returns whether a filter=lfs rule of attrs matches path (repo-relative, no leading '/'). */
bool lfs_attributes_match(const struct lfs_attributes *attrs, const char *path);

/** Returns whether a file at path of size bytes should be stored as LFS: a rule of attrs
 * matches, or (when attrs is NULL) a default pattern matches, or size is over
 * HUB_LFS_THRESHOLD_BYTES. */
bool lfs_attributes_path_is_lfs(const struct lfs_attributes *attrs, const char *path,
                                uint64_t size);

/** Writes the rule that tracks exactly path, as `git lfs track` writes it (spaces become
 * [[:space:]], glob characters are escaped), "<pattern> filter=lfs diff=lfs merge=lfs -text\n",
 * into buf of cap bytes. Returns the length, or 0 when it does not fit. */
size_t lfs_attributes_track_line(char *buf, size_t cap, const char *path);

#endif
