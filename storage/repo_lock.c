/* repo_lock: per-repo write lock. Threads of this process wait on a condition variable keyed
 * by the repo path; then the holder takes flock(LOCK_EX) on REPO/atelier.lock so that other
 * processes (git hooks, job workers, a second admin command) wait as well. flock locks belong
 * to the open file, so the lock goes away by itself when a holder process dies. */
#include "repo_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* One repo path that some thread holds or waits for. Guarded by table_mutex. */
struct lock_slot {
    struct lock_slot *next;
    char *path;
    unsigned users; /* holder plus waiters; the slot is freed at 0 */
    bool held;
};

struct repo_lock {
    struct lock_slot *slot;
    int fd;
};

static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t table_cond = PTHREAD_COND_INITIALIZER;
static struct lock_slot *table;

static struct lock_slot *slot_take(const char *path)
{
    struct lock_slot *slot;

    pthread_mutex_lock(&table_mutex);
    for (slot = table; slot != NULL; slot = slot->next) {
        if (strcmp(slot->path, path) == 0)
            break;
    }
    if (slot == NULL) {
        slot = calloc(1, sizeof(*slot));
        if (slot != NULL)
            slot->path = strdup(path);
        if (slot == NULL || slot->path == NULL) {
            free(slot);
            pthread_mutex_unlock(&table_mutex);
            return NULL;
        }
        slot->next = table;
        table = slot;
    }
    slot->users++;
    while (slot->held)
        pthread_cond_wait(&table_cond, &table_mutex);
    slot->held = true;
    pthread_mutex_unlock(&table_mutex);
    return slot;
}

static void slot_give(struct lock_slot *slot)
{
    pthread_mutex_lock(&table_mutex);
    slot->held = false;
    slot->users--;
    if (slot->users == 0) {
        struct lock_slot **link = &table;

        while (*link != slot)
            link = &(*link)->next;
        *link = slot->next;
        free(slot->path);
        free(slot);
    }
    pthread_cond_broadcast(&table_cond);
    pthread_mutex_unlock(&table_mutex);
}

int repo_lock_acquire(struct repo_lock **out, const char *repo_path, struct hub_error *err)
{
    struct repo_lock *lock = NULL;
    char path[4096];
    int n, rc;

    *out = NULL;
    n = snprintf(path, sizeof(path), "%s/atelier.lock", repo_path);
    if (n < 0 || (size_t)n >= sizeof(path))
        return hub_error_set(err, HUB_ETOOBIG, "repo path '%.100s' is too long", repo_path);
    lock = calloc(1, sizeof(*lock));
    if (lock == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a repo lock");
    lock->fd = -1;
    lock->slot = slot_take(repo_path);
    if (lock->slot == NULL) {
        free(lock);
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a repo lock");
    }
    lock->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock->fd < 0) {
        rc = hub_error_set_errno(err, errno == ENOENT ? HUB_ENOTFOUND : HUB_EIO, errno,
                                 "cannot open lock file %s", path);
        goto fail;
    }
    while (flock(lock->fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot lock %s", path);
            goto fail;
        }
    }
    *out = lock;
    return 0;
fail:
    if (lock->fd >= 0)
        close(lock->fd);
    slot_give(lock->slot);
    free(lock);
    return rc;
}

void repo_lock_release(struct repo_lock *lock)
{
    if (lock == NULL)
        return;
    /* Closing the file drops the flock. */
    close(lock->fd);
    slot_give(lock->slot);
    free(lock);
}
