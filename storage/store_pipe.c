/* store_pipe: see store_pipe.h. Each slot of the ring moves FREE -> FILLED (request thread)
 * -> HASHED (hasher) -> FREE (writer), in order, so each thread owns a slot's bytes while the
 * slot is in its state. The request thread copies once. The hasher reads the copy while it is
 * still in the CPU cache, and with O_DIRECT the writer's write is a DMA from the slot, so the
 * page cache copy, the writeback and a read-back for hashing all go away. */
#include "store_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIPE_SLOTS      4
#define PIPE_SLOT_BYTES (4u << 20)
/* O_DIRECT needs buffers, lengths and file offsets aligned to the disk's logical block size.
 * 4096 covers the common sizes, 512 and 4096 bytes. */
#define PIPE_ALIGN 4096
/* Without O_DIRECT, writeback starts every this many bytes, as for other uploads. */
#define PIPE_WRITEBACK_BYTES (16u << 20)

enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_HASHED };

struct slot {
    unsigned char *buf;
    size_t len;
    enum slot_state state; /* under lock */
};

struct store_pipe {
    int fd;
    EVP_MD_CTX *md;
    ssize_t (*write_fn)(int, const void *, size_t);
    pthread_t hasher, writer;
    bool hasher_started, writer_started;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* broadcast on every state change */
    struct slot slots[PIPE_SLOTS];
    unsigned fill;    /* slot the request thread fills next */
    bool claimed;     /* the request thread owns slots[fill] */
    bool no_more;     /* under lock: nothing is filled after the FILLED slots */
    bool hasher_done; /* under lock */
    bool drop;        /* under lock: stop now and write nothing more */
    int error;        /* under lock: errno of the first failure, -1 for a digest failure */
    /* The writer's own: */
    bool direct;
    uint64_t written;
    uint64_t writeback_from;
};

/* Runs one stage of the ring: takes the slots in order once they reach `ready`, applies work
 * and moves them to `next`. Returns when *upstream_done is set and the next slot is not ready,
 * or at once on drop. After a failure the stage passes slots on without work, so no thread
 * waits forever. */
static void stage_run(struct store_pipe *p, enum slot_state ready, enum slot_state next,
                      const bool *upstream_done,
                      int (*work)(struct store_pipe *, const struct slot *))
{
    unsigned i = 0;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct slot *s = &p->slots[i];
        bool skip;
        int rc = 0;

        while (s->state != ready && !*upstream_done && !p->drop)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->drop || s->state != ready)
            break;
        skip = p->error != 0;
        pthread_mutex_unlock(&p->lock);
        if (!skip)
            rc = work(p, s);
        pthread_mutex_lock(&p->lock);
        if (rc != 0 && p->error == 0)
            p->error = rc;
        if (next == SLOT_FREE)
            s->len = 0;
        s->state = next;
        pthread_cond_broadcast(&p->changed);
        i = (i + 1) % PIPE_SLOTS;
    }
    pthread_mutex_unlock(&p->lock);
}

static int hash_slot(struct store_pipe *p, const struct slot *s)
{
    return EVP_DigestUpdate(p->md, s->buf, s->len) == 1 ? 0 : -1;
}

static void *hasher_main(void *arg)
{
    struct store_pipe *p = arg;

    stage_run(p, SLOT_FILLED, SLOT_HASHED, &p->no_more, hash_slot);
    pthread_mutex_lock(&p->lock);
    p->hasher_done = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int direct_off(struct store_pipe *p)
{
    int flags = fcntl(p->fd, F_GETFL);

    if (flags < 0 || fcntl(p->fd, F_SETFL, flags & ~O_DIRECT) < 0)
        return errno;
    p->direct = false;
    p->writeback_from = p->written;
    return 0;
}

/* Writes one slot at the end of the file. Returns 0 or an errno value. */
static int write_slot(struct store_pipe *p, const struct slot *s)
{
    const unsigned char *at = s->buf;
    size_t left = s->len;
    int rc;

    /* A short last slot cannot go through O_DIRECT. */
    if (p->direct && left % PIPE_ALIGN != 0) {
        rc = direct_off(p);
        if (rc != 0)
            return rc;
    }
    while (left > 0) {
        ssize_t n = p->write_fn(p->fd, at, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && p->direct) {
            /* The file system took the flag but not the write: go on through the cache. */
            rc = direct_off(p);
            if (rc != 0)
                return rc;
            continue;
        }
        if (n < 0)
            return errno;
        at += n;
        left -= (size_t)n;
        p->written += (uint64_t)n;
    }
    if (!p->direct && p->written - p->writeback_from >= PIPE_WRITEBACK_BYTES) {
        /* Only a hint: a failure shows up again at the fsync. */
        (void)sync_file_range(p->fd, (off_t)p->writeback_from,
                              (off_t)(p->written - p->writeback_from), SYNC_FILE_RANGE_WRITE);
        p->writeback_from = p->written;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    struct store_pipe *p = arg;

    stage_run(p, SLOT_HASHED, SLOT_FREE, &p->hasher_done, write_slot);
    return NULL;
}

static void pipe_stop(struct store_pipe *p, bool drop)
{
    pthread_mutex_lock(&p->lock);
    p->no_more = true;
    p->drop = p->drop || drop;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    if (p->hasher_started)
        pthread_join(p->hasher, NULL);
    if (p->writer_started)
        pthread_join(p->writer, NULL);
    p->hasher_started = false;
    p->writer_started = false;
}

struct store_pipe *store_pipe_start(int fd, EVP_MD_CTX *md,
                                    ssize_t (*write_fn)(int, const void *, size_t))
{
    struct store_pipe *p = calloc(1, sizeof(*p));
    int flags;

    if (p == NULL)
        return NULL;
    p->fd = fd;
    p->md = md;
    p->write_fn = write_fn;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    for (unsigned i = 0; i < PIPE_SLOTS; i++) {
        void *buf = NULL;

        if (posix_memalign(&buf, PIPE_ALIGN, PIPE_SLOT_BYTES) != 0) {
            store_pipe_free(p);
            return NULL;
        }
        p->slots[i].buf = buf;
    }
    /* File systems without O_DIRECT refuse the flag, and the writer uses the page cache. */
    flags = fcntl(fd, F_GETFL);
    p->direct = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
    p->hasher_started = pthread_create(&p->hasher, NULL, hasher_main, p) == 0;
    if (p->hasher_started)
        p->writer_started = pthread_create(&p->writer, NULL, writer_main, p) == 0;
    if (!p->writer_started) {
        store_pipe_free(p);
        return NULL;
    }
    return p;
}

/* Hands slots[fill] to the hasher. */
static void push_slot(struct store_pipe *p)
{
    pthread_mutex_lock(&p->lock);
    p->slots[p->fill].state = SLOT_FILLED;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    p->fill = (p->fill + 1) % PIPE_SLOTS;
    p->claimed = false;
}

int store_pipe_write(struct store_pipe *p, const void *buf, size_t len)
{
    const unsigned char *at = buf;
    int rc;

    while (len > 0) {
        struct slot *s = &p->slots[p->fill];
        size_t n;

        if (!p->claimed) {
            pthread_mutex_lock(&p->lock);
            while (s->state != SLOT_FREE && p->error == 0)
                pthread_cond_wait(&p->changed, &p->lock);
            rc = p->error;
            pthread_mutex_unlock(&p->lock);
            if (rc != 0)
                return rc;
            p->claimed = true;
        }
        n = PIPE_SLOT_BYTES - s->len < len ? PIPE_SLOT_BYTES - s->len : len;
        memcpy(s->buf + s->len, at, n);
        s->len += n;
        at += n;
        len -= n;
        if (s->len == PIPE_SLOT_BYTES)
            push_slot(p);
    }
    pthread_mutex_lock(&p->lock);
    rc = p->error;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int store_pipe_finish(struct store_pipe *p)
{
    int rc;

    if (p->claimed && p->slots[p->fill].len > 0)
        push_slot(p);
    pipe_stop(p, false);
    pthread_mutex_lock(&p->lock);
    rc = p->error;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void store_pipe_free(struct store_pipe *p)
{
    if (p == NULL)
        return;
    pipe_stop(p, true);
    for (unsigned i = 0; i < PIPE_SLOTS; i++)
        free(p->slots[i].buf);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->changed);
    free(p);
}
