/* hf_info_cache: rendered repo info bodies (GET /api/{models,datasets}/{id}[/revision/{rev}]),
 * kept per HTTP thread so lookups take no lock.
 *
 * An entry is keyed by the repo id, the resolved commit, the blobs flag, the safetensors flag,
 * the viewer's user id and the SQLite data version of the thread's metadata connection. An
 * info body shows data of two kinds. The tree, the README card, config.json and the
 * safetensors headers come from the commit, which never changes (an LFS object's content is
 * fixed by its oid, and whether the repo links it is a database row). The repo
 * row and the adapter list (which depends on the viewer) come from the metadata database,
 * whose data version changes with every write committed by any connection or process. So an
 * entry is never served after the data behind it changed. Access checks are not cached:
 * the caller runs them before every lookup.
 *
 * NOTE: any write to the database, to any table, makes every entry stale: a config.json
 * download, a token's last-used time, a job heartbeat. A busy hub renders more often, but it
 * never serves stale data. A per-repo generation bumped by every write path would keep more
 * entries, at the price of touching every writer. */
#ifndef HF_INFO_CACHE_H
#define HF_INFO_CACHE_H

#include "repo.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta;
struct meta_repo;
struct hub_error;

/* The identity of one rendered info body. */
struct hf_info_key {
    int64_t repo_id;
    int64_t viewer_user_id; /* 0 for anonymous callers */
    uint32_t data_version;  /* from hf_info_data_version() */
    bool blobs;
    bool safetensors; /* expand=safetensors */
    char commit[REPO_OID_HEX_BYTES + 1];
};

/** Reads the data version of db's main database into *out. It changes after every write
 * committed to the file, by this connection or another one, once this connection has started
 * a read transaction after that write, so call it after the reads that checked access.
 * Returns false when SQLite cannot report it: then do not use the cache. */
bool hf_info_data_version(uint32_t *out, struct meta *db);

/** Looks key up in the calling thread's cache. On a hit returns a malloc'd copy of the body
 * in *body_out (free()) and its length, and returns true. */
bool hf_info_cache_get(char **body_out, size_t *len_out, const struct hf_info_key *key);

/** Stores a copy of body under key in the calling thread's cache, replacing what was in its
 * slot. Bodies over HF_INFO_CACHE_MAX_BODY_BYTES are not stored. Failure to allocate only
 * means the body is not cached. */
void hf_info_cache_put(const struct hf_info_key *key, const char *body, size_t len);

/** Opens the git repo of row, or reuses the one the calling thread opened before for the same
 * row id, creation time and directory (device and inode), which skips libgit2's repository
 * open: the config files and the layout checks. Refs are still read from disk on every
 * lookup. *out is borrowed: never close it, and stop using it before the handler returns.
 * Returns 0 or what repo_open() returns. */
int hf_info_repo_open(struct repo **out, const char *data_dir, const struct meta_repo *row,
                      struct hub_error *err);

/* Largest body kept, and the most bytes of bodies one thread keeps. */
#define HF_INFO_CACHE_MAX_BODY_BYTES (256u * 1024u)
#define HF_INFO_CACHE_MAX_THREAD_BYTES (4u * 1024u * 1024u)

#endif
