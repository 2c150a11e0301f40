/* serve_lock: the exclusive lock that keeps two `atelier serve` daemons off one data
 * directory. The daemon holds flock(2) on DATA/serve.lock for its whole life and writes its
 * pid into the file, so a second daemon can name the one in the way. `atelier admin` and the
 * job workers never take the lock: they share the data directory with a running daemon. */
#ifndef SERVE_LOCK_H
#define SERVE_LOCK_H

#include "hub_error.h"

/** Name of the lock file inside the data directory. */
#define SERVE_LOCK_FILE "serve.lock"

/** Creates data_dir when it is missing (not its parents), then takes the lock without
 * waiting. Returns the open lock file descriptor (close-on-exec, so workers and git do not
 * inherit it), which the caller keeps open until it exits. Returns HUB_ECONFLICT when another
 * daemon holds the lock, HUB_EINVAL when data_dir is not a directory, or HUB_EIO when the
 * directory or file cannot be created, with err naming the directory and what to do. */
int serve_lock_acquire(const char *data_dir, struct hub_error *err);

#endif
