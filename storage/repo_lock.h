/* repo_lock: the per-repo write lock. It serialises API commits, branch and tag changes and
 * git pushes on one repo: a mutex inside the process (so threads wait for each other) plus an
 * exclusive flock(2) on REPO.git/atelier.lock (so git hooks, workers and other processes wait
 * too). A holder may not take the same repo's lock again. */
#ifndef REPO_LOCK_H
#define REPO_LOCK_H

#include "hub_error.h"

struct repo_lock;

/** Blocks until this thread holds the lock of the bare repo at repo_path. *out belongs to the
 * caller, who releases it with repo_lock_release(). Returns 0, HUB_ENOMEM or HUB_EIO. Any
 * thread. */
int repo_lock_acquire(struct repo_lock **out, const char *repo_path, struct hub_error *err);

/** Releases and frees the lock. Accepts NULL. Call on the thread that acquired it. */
void repo_lock_release(struct repo_lock *lock);

#endif
