/* storage: process-wide setup of the storage layer and the layout of a data directory.
 *
 *   DATA/atelier.sqlite3                  metadata (see meta.h)
 *   DATA/repos/models/NS/NAME.git         bare git repos (datasets under repos/datasets/)
 *   DATA/lfs/objects/AB/CD/SHA256         LFS blobs (see store.h)
 *   DATA/tmp/                             uploads in progress, same filesystem as lfs/
 *   DATA/jobs/ID/                         job work dirs (owned by the job runner)
 */
#ifndef STORAGE_H
#define STORAGE_H

#include <stddef.h>

#include "hub_error.h"

/** Initialises libgit2 and checks that SQLite is thread-safe. Call once from main() before
 * any thread starts; later calls are no-ops. Returns 0 or HUB_EINTERNAL. */
int storage_init(struct hub_error *err);

/** Releases what storage_init set up. Call once at exit, after every thread stopped. */
void storage_shutdown(void);

/** Creates data_dir and its subdirectories (repos/models, repos/datasets, lfs/objects, tmp,
 * jobs) with mode 0750 when missing. Returns 0, HUB_EINVAL (data_dir exists and is not a
 * directory) or HUB_EIO. Any thread. */
int storage_layout_create(const char *data_dir, struct hub_error *err);

/** Fills err for a failed mkdir or open(O_CREAT) of path, where kind ("directory", "file")
 * names what it is and sys_errno is the errno of the call. On EACCES or EPERM the message
 * names the user that needs write access to the folder containing path, and on EROFS it
 * asks for a writable file system. Returns HUB_EIO. Any thread. */
int storage_create_error(struct hub_error *err, int sys_errno, const char *kind, const char *path);

/** Writes "DATA_DIR/SUFFIX" into buf of cap bytes. Returns 0 or HUB_ETOOBIG when it does not
 * fit. Any thread. */
int storage_path_join(char *buf, size_t cap, const char *data_dir, const char *suffix,
                      struct hub_error *err);

#endif
