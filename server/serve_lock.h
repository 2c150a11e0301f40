/* serve_lock: the exclusive lock that keeps two `atelier serve` daemons off one data
 * directory. The daemon holds flock(2) on DATA/serve.lock for its whole life and writes its
 * pid into the file, so a second daemon can name the one in the way. `atelier admin` and the
 * job workers never hold the lock: they share the data directory with a running daemon.
 * `atelier admin` only probes it before it would apply migrations (serve_lock_holder). */
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

/** Probes whether a daemon holds the lock of data_dir, without creating anything. Returns
 * the daemon's pid, -1 when a daemon holds the lock but has not written its pid yet, or 0
 * when no daemon holds it or the lock file cannot be opened. */
long serve_lock_holder(const char *data_dir);

#endif
