/* store: the content-addressed blob store for LFS objects, DATA/lfs/objects/AB/CD/OID where
 * OID is the SHA-256 of the content in lowercase hex and AB, CD its first two byte pairs.
 *
 * Blobs are immutable and stored once whatever the number of repos that use them. An upload
 * streams into DATA/tmp/ while it is hashed, is fsynced, checked against the announced oid
 * and size, and only then renamed into place (and the directory fsynced), so a reader never
 * sees a partial or wrong blob. Blob paths are built only from a validated hex digest.
 *
 * A struct store keeps no open files and never changes after store_open, so one store may be
 * shared by every thread. A struct store_upload belongs to one thread at a time. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hub_error.h"

#define STORE_OID_HEX_BYTES 64 /* SHA-256 in hex, without the NUL */

struct store;
struct store_upload;

/** Opens the store under DATA_DIR (creating lfs/objects and tmp when missing). *out belongs to
 * the caller (store_close()). Returns 0, HUB_ENOMEM or HUB_EIO. Any thread. */
int store_open(struct store **out, const char *data_dir, struct hub_error *err);

/** Frees the store. Accepts NULL. Call after every upload using it was freed. */
void store_close(struct store *st);

/** Returns whether oid is exactly 64 lowercase hex digits. Any thread. */
bool store_oid_is_valid(const char *oid);

/** Starts an upload of a blob announced as oid (64 lowercase hex) and size bytes (at most
 * HUB_MAX_LFS_OBJECT_BYTES). When the blob is already stored, the upload still hashes what
 * arrives and store_upload_finish leaves the stored copy as it is. *out belongs to the caller,
 * who calls store_upload_finish and then store_upload_free (which removes the temp file of an
 * upload that did not finish). Returns 0, HUB_EINVAL (oid), HUB_ETOOBIG (size), HUB_ENOMEM or
 * HUB_EIO. */
int store_upload_begin(struct store_upload **out, struct store *st, const char *oid, uint64_t size,
                       struct hub_error *err);

/** Appends len bytes. Returns 0, HUB_ETOOBIG (more bytes than announced: the upload is then
 * failed and only store_upload_free remains to call) or HUB_EIO. */
int store_upload_write(struct store_upload *up, const void *buf, size_t len, struct hub_error *err);

/** Ends the upload: checks the byte count and the SHA-256 against the announced values,
 * fsyncs, renames into place and fsyncs the directory. On a mismatch nothing becomes visible
 * and the message names the announced and the received values. Returns 0, HUB_EINVAL (size or
 * hash mismatch) or HUB_EIO. Call at most once. */
int store_upload_finish(struct store_upload *up, struct hub_error *err);

/** Sets *out to the bytes received so far. */
uint64_t store_upload_received(const struct store_upload *up);

/** Frees the upload and removes its temp file unless it finished. Accepts NULL. */
void store_upload_free(struct store_upload *up);

/** Default number of uploads announced at 8 MiB or more that may use a 16 MiB ring of buffers
 * at once. The ring hashes on one thread and writes on another (store_pipe.c). An upload past
 * the cap is hashed on its own thread instead, which is slower but needs no ring. */
#define STORE_DEFAULT_MAX_RINGS 8

/** Sets that cap for the process; 0 gives no upload a ring. Any thread: uploads that hold a
 * ring keep it. */
void store_set_max_rings(unsigned n);

/** Returns how many uploads hold a ring now. Any thread. */
unsigned store_rings_in_use(void);

/** Stores everything read from fd (until end of file) and writes its oid into oid_out and its
 * size into *size_out (NULL allowed). Reading more than max_bytes fails with HUB_ETOOBIG.
 * Returns 0, HUB_ETOOBIG, HUB_ENOMEM or HUB_EIO. Any thread. */
int store_put_fd(char oid_out[STORE_OID_HEX_BYTES + 1], uint64_t *size_out, struct store *st,
                 int fd, uint64_t max_bytes, struct hub_error *err);

/** Stores len bytes from buf and writes their oid into oid_out. Returns 0 or HUB_E*. */
int store_put_buf(char oid_out[STORE_OID_HEX_BYTES + 1], struct store *st, const void *buf,
                  size_t len, struct hub_error *err);

/** Sets *exists, and *size_out when it exists (NULL allowed), for the blob oid. Returns 0,
 * HUB_EINVAL (oid) or HUB_EIO. Any thread. */
int store_blob_stat(bool *exists, uint64_t *size_out, struct store *st, const char *oid,
                    struct hub_error *err);

/** Opens the blob oid read-only (O_CLOEXEC) for sendfile or mmap. *fd_out belongs to the
 * caller (close()); *size_out (NULL allowed) is its size. Returns 0, HUB_EINVAL,
 * HUB_ENOTFOUND or HUB_EIO. Any thread. */
int store_blob_open(int *fd_out, uint64_t *size_out, struct store *st, const char *oid,
                    struct hub_error *err);

/** Writes the absolute path of blob oid into buf of cap bytes, whether or not it exists (the
 * worker reads base weights from there without a copy). Returns 0, HUB_EINVAL or
 * HUB_ETOOBIG. Any thread. */
int store_blob_path(char *buf, size_t cap, struct store *st, const char *oid,
                    struct hub_error *err);

/** Marks the blob oid as just used by setting its mtime to now, which restarts gc's grace
 * period. Call it when the LFS batch API reports to a client that an object already exists,
 * because the commit that references it may come after gc scanned the repos. Returns 0,
 * HUB_EINVAL, HUB_ENOTFOUND or HUB_EIO. Any thread. */
int store_blob_touch(struct store *st, const char *oid, struct hub_error *err);

/** Deletes the blob oid (gc). Deleting a missing blob is a no-op. Returns 0, HUB_EINVAL or
 * HUB_EIO. Any thread. */
int store_blob_remove(struct store *st, const char *oid, struct hub_error *err);

/** Sums the sizes of every stored blob by walking lfs/objects. Returns 0 or HUB_EIO.
 * NOTE: the walk stats every blob, so for frequent callers such as /metrics the database sum
 * meta_lfs_total_bytes() is cheaper (it counts recorded blobs only). */
int store_total_bytes(uint64_t *out, struct store *st, struct hub_error *err);

/* One blob seen by store_fsck. */
struct store_fsck_item {
    const char *oid; /* the file name; not validated when problem reports it */
    uint64_t size;
    const char *problem; /* NULL when the blob is good, else a short description */
};

typedef void (*store_fsck_fn)(void *ctx, const struct store_fsck_item *item);

/** Re-hashes every blob, calls fn (NULL allowed) for each, and counts good and bad ones. A
 * bad blob has a name that is not a valid oid, sits in the wrong AB/CD folder or has content
 * whose SHA-256 differs from its name. Leftover temp files older than a day are removed.
 * Returns 0 (even with bad blobs) or HUB_EIO. */
int store_fsck(uint64_t *good, uint64_t *bad, struct store *st, store_fsck_fn fn, void *ctx,
               struct hub_error *err);

/** Removes the upload-* temp files that nothing has written for more than max_age_s seconds:
 * uploads of a process that died, since a live upload writes continuously. Adds their count
 * and bytes to *files and *bytes. */
void store_tmp_sweep(struct store *st, unsigned max_age_s, uint64_t *files, uint64_t *bytes);

/** Calls fn for every stored oid (any order), stopping when fn returns non-zero (which is
 * then returned). Returns 0, fn's value or HUB_EIO. */
int store_foreach(struct store *st, int (*fn)(void *ctx, const char *oid, uint64_t size), void *ctx,
                  struct hub_error *err);

/* The system calls the store makes while publishing a blob. Tests replace them to inject
 * disk faults (ENOSPC on write, EIO on fsync, a failed rename). */
struct store_io {
    ssize_t (*write)(int fd, const void *buf, size_t len);
    int (*fsync)(int fd);
    int (*rename)(const char *from, const char *to);
};

/** Replaces the system calls used by every store (NULL restores the real ones). For tests:
 * call it only while no upload runs. */
void store_io_set(const struct store_io *io);

/** Writes the lowercase hex SHA-256 of len bytes into oid_out. Returns 0 or HUB_ENOMEM. */
int store_sha256_hex(char oid_out[STORE_OID_HEX_BYTES + 1], const void *buf, size_t len,
                     struct hub_error *err);

#endif
