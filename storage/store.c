/* store: LFS blobs under DATA/lfs/objects/AB/CD/OID. Entry points: store_upload_* (streamed,
 * announced oid and size), store_put_fd/store_put_buf (oid computed), store_blob_* (read,
 * stat, remove) and store_fsck. Invariant: a file under lfs/objects/ is complete, fsynced
 * and its SHA-256 equals its name; everything in progress lives in DATA/tmp/. */
#include "store.h"

#include "hub_limits.h"
#include "hub_log.h"
#include "store_pipe.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_PATH_BYTES    4096
#define STORE_COPY_BYTES    (256u * 1024)
#define STORE_TMP_MAX_AGE_S (24 * 3600)
/* An upload announced at this size or more goes through store_pipe from its first byte. */
#define STORE_PIPE_MIN_BYTES (8u << 20)

/* Uploads that may hold a ring of store_pipe at once (store_set_max_rings); the others hash
 * on their own threads as uploads of unknown size do. */
static atomic_uint max_rings = STORE_DEFAULT_MAX_RINGS;
static atomic_uint active_rings;
/* Past this many bytes a thread of its own hashes an upload of unknown size (struct hasher). */
#define STORE_HASH_THREAD_BYTES (8u << 20)
#define STORE_HASH_READ_BYTES   (256u << 10)
/* The hasher sleeps until this much is waiting, so it is not woken for every write. */
#define STORE_HASH_BATCH_BYTES (4u << 20)
/* Writeback of the temp file starts every this many bytes, so the fsync at the end has
 * little left to write. */
#define STORE_WRITEBACK_BYTES (16u << 20)

struct store {
    char objects_dir[STORE_PATH_BYTES]; /* DATA/lfs/objects; never changes after open */
    char tmp_dir[STORE_PATH_BYTES];     /* DATA/tmp */
};

/* Hashing of a large upload. SHA-256 costs about as much CPU per byte as receiving and
 * writing the body. So once an upload passes STORE_HASH_THREAD_BYTES, a thread reads the temp
 * file back from the page cache and hashes it while the request thread writes the rest.
 * The request thread only appends; the hasher only reads bytes below `written`. Until the
 * thread starts, and after it is joined, the request thread owns the digest context. */
struct hasher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool running;
    bool idle;        /* under lock: the hasher waits for more, and `hashed` holds still */
    bool stop;        /* set under lock: hash up to `written`, then exit */
    uint64_t written; /* bytes in the temp file, under lock */
    uint64_t hashed;  /* bytes fed to the digest; the hasher's own while it runs */
    int error;        /* errno of a failed read-back, or -1 for a digest failure */
};

struct store_upload {
    struct store *st;
    char oid[STORE_OID_HEX_BYTES + 1]; /* announced oid, or "" for store_put_* */
    uint64_t size;                     /* announced size, or max bytes for store_put_* */
    uint64_t received;
    int fd;                          /* temp file, -1 once closed */
    char tmp_path[STORE_PATH_BYTES]; /* "" once renamed or removed */
    EVP_MD_CTX *md;
    struct store_pipe *pipe; /* large uploads of a known size; NULL otherwise */
    struct hasher hash;
    uint64_t writeback_from; /* start of the range not yet handed to writeback */
    bool failed;             /* a write failed: only free remains */
    bool finished;
};

static const struct store_io real_io = {write, fsync, rename};
static const struct store_io *io = &real_io;

void store_io_set(const struct store_io *replacement)
{
    io = replacement != NULL ? replacement : &real_io;
}

bool store_oid_is_valid(const char *oid)
{
    if (oid == NULL || strnlen(oid, STORE_OID_HEX_BYTES + 1) != STORE_OID_HEX_BYTES)
        return false;
    for (size_t i = 0; i < STORE_OID_HEX_BYTES; i++) {
        if (!((oid[i] >= '0' && oid[i] <= '9') || (oid[i] >= 'a' && oid[i] <= 'f')))
            return false;
    }
    return true;
}

static int oid_check(const char *oid, struct hub_error *err)
{
    if (!store_oid_is_valid(oid))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid LFS oid '%.80s': expected 64 lowercase hex digits",
                             oid != NULL ? oid : "");
    return 0;
}

static int path_format(char *buf, size_t cap, struct hub_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int path_format(char *buf, size_t cap, struct hub_error *err, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return hub_error_set(err, HUB_ETOOBIG, "blob store path is longer than %zu bytes", cap);
    return 0;
}

static int mkdir_p_one(const char *path, struct hub_error *err)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    return hub_error_set_errno(err, HUB_EIO, errno, "cannot create directory %s", path);
}

int store_open(struct store **out, const char *data_dir, struct hub_error *err)
{
    struct store *st = NULL;
    char lfs_dir[STORE_PATH_BYTES];
    int rc;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate the blob store");
    rc = path_format(lfs_dir, sizeof(lfs_dir), err, "%s/lfs", data_dir);
    if (rc == 0)
        rc = path_format(st->objects_dir, sizeof(st->objects_dir), err, "%s/lfs/objects", data_dir);
    if (rc == 0)
        rc = path_format(st->tmp_dir, sizeof(st->tmp_dir), err, "%s/tmp", data_dir);
    if (rc == 0)
        rc = mkdir_p_one(data_dir, err);
    if (rc == 0)
        rc = mkdir_p_one(lfs_dir, err);
    if (rc == 0)
        rc = mkdir_p_one(st->objects_dir, err);
    if (rc == 0)
        rc = mkdir_p_one(st->tmp_dir, err);
    if (rc < 0) {
        free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    free(st);
}

static int blob_path(char *buf, size_t cap, const struct store *st, const char *oid,
                     struct hub_error *err)
{
    int rc = oid_check(oid, err);

    if (rc < 0)
        return rc;
    return path_format(buf, cap, err, "%s/%.2s/%.2s/%s", st->objects_dir, oid, oid + 2, oid);
}

int store_blob_path(char *buf, size_t cap, struct store *st, const char *oid, struct hub_error *err)
{
    return blob_path(buf, cap, st, oid, err);
}

static int fsync_dir(const char *path, struct hub_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open directory %s", path);
    if (io->fsync(fd) != 0)
        rc = hub_error_set_errno(err, HUB_EIO, errno, "fsync of directory %s failed", path);
    close(fd);
    return rc;
}

static void *hasher_main(void *arg)
{
    struct store_upload *up = arg;
    struct hasher *h = &up->hash;
    unsigned char *buf = malloc(STORE_HASH_READ_BYTES);
    int error = buf == NULL ? ENOMEM : 0;

    for (;;) {
        uint64_t target;
        bool stop;

        pthread_mutex_lock(&h->lock);
        h->idle = true;
        while (!h->stop && h->written - h->hashed < STORE_HASH_BATCH_BYTES && error == 0)
            pthread_cond_wait(&h->wake, &h->lock);
        h->idle = false;
        target = h->written;
        stop = h->stop;
        pthread_mutex_unlock(&h->lock);
        while (error == 0 && h->hashed < target) {
            size_t want = target - h->hashed < STORE_HASH_READ_BYTES ? (size_t)(target - h->hashed)
                                                                     : STORE_HASH_READ_BYTES;
            ssize_t n = pread(up->fd, buf, want, (off_t)h->hashed);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                error = n < 0 ? errno : EIO; /* 0: the file is shorter than written */
            else if (EVP_DigestUpdate(up->md, buf, (size_t)n) != 1)
                error = -1;
            else
                h->hashed += (uint64_t)n;
        }
        if (stop || error != 0)
            break;
    }
    free(buf);
    h->error = error;
    return NULL;
}

/* Hands hashing to a thread from here on. When the thread cannot start, the request thread
 * goes on hashing what it writes, as for small uploads. */
static void hasher_start(struct store_upload *up)
{
    up->hash.written = up->received;
    if (pthread_create(&up->hash.thread, NULL, hasher_main, up) == 0)
        up->hash.running = true;
}

/* Waits until the thread has hashed everything written and joins it. Returns 0, or fills err
 * when the read-back or the digest failed. */
static int hasher_stop(struct store_upload *up, struct hub_error *err)
{
    struct hasher *h = &up->hash;

    if (!h->running)
        return 0;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    h->running = false;
    if (h->error == -1)
        return hub_error_set(err, HUB_EINTERNAL, "SHA-256 update failed");
    if (h->error != 0)
        return hub_error_set_errno(err, HUB_EIO, h->error, "read-back of %s for hashing failed",
                                   up->tmp_path);
    return 0;
}

static int upload_new(struct store_upload **out, struct store *st, const char *oid, uint64_t size,
                      struct hub_error *err)
{
    struct store_upload *up = NULL;
    int rc;

    up = calloc(1, sizeof(*up));
    if (up == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate an upload");
    up->st = st;
    up->fd = -1;
    up->size = size;
    pthread_mutex_init(&up->hash.lock, NULL);
    pthread_cond_init(&up->hash.wake, NULL);
    if (oid != NULL)
        memcpy(up->oid, oid, STORE_OID_HEX_BYTES + 1);
    up->md = EVP_MD_CTX_new();
    if (up->md == NULL || EVP_DigestInit_ex(up->md, EVP_sha256(), NULL) != 1) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a SHA-256 context");
        goto fail;
    }
    rc = path_format(up->tmp_path, sizeof(up->tmp_path), err, "%s/upload-XXXXXX", st->tmp_dir);
    if (rc < 0)
        goto fail;
    up->fd = mkostemp(up->tmp_path, O_CLOEXEC);
    if (up->fd < 0) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot create a temp file in %s",
                                 st->tmp_dir);
        up->tmp_path[0] = '\0';
        goto fail;
    }
    *out = up;
    return 0;
fail:
    store_upload_free(up);
    return rc;
}

void store_set_max_rings(unsigned n)
{
    atomic_store(&max_rings, n);
}

unsigned store_rings_in_use(void)
{
    return atomic_load(&active_rings);
}

/* Counts one more ring in use. Returns false, counting nothing, when all are taken. */
static bool ring_take(void)
{
    unsigned n = atomic_load(&active_rings);

    do {
        if (n >= atomic_load(&max_rings))
            return false;
    } while (!atomic_compare_exchange_weak(&active_rings, &n, n + 1));
    return true;
}

static void ring_give_back(void)
{
    atomic_fetch_sub(&active_rings, 1);
}

/* Stops and frees the upload's ring. Returns 0 or what store_pipe_finish returned. */
static int pipe_end(struct store_upload *up, bool finish)
{
    int rc = 0;

    if (up->pipe == NULL)
        return 0;
    if (finish)
        rc = store_pipe_finish(up->pipe);
    store_pipe_free(up->pipe);
    up->pipe = NULL;
    ring_give_back();
    return rc;
}

int store_upload_begin(struct store_upload **out, struct store *st, const char *oid, uint64_t size,
                       struct hub_error *err)
{
    int rc;

    *out = NULL;
    rc = oid_check(oid, err);
    if (rc < 0)
        return rc;
    if (size > HUB_MAX_LFS_OBJECT_BYTES)
        return hub_error_set(err, HUB_ETOOBIG,
                             "LFS object %s of %llu bytes is larger than the maximum of %llu "
                             "bytes",
                             oid, (unsigned long long)size,
                             (unsigned long long)HUB_MAX_LFS_OBJECT_BYTES);
    rc = upload_new(out, st, oid, size, err);
    if (rc == 0 && size >= STORE_PIPE_MIN_BYTES && ring_take()) {
        (*out)->pipe = store_pipe_start((*out)->fd, (*out)->md, io->write);
        if ((*out)->pipe == NULL)
            ring_give_back(); /* the pipe could not start: hash on the thread */
    }
    return rc;
}

/* Fills err for a failure store_pipe reported. */
static int pipe_error(struct store_upload *up, int rc, struct hub_error *err)
{
    up->failed = true;
    if (rc == -1)
        return hub_error_set(err, HUB_EINTERNAL, "SHA-256 update failed");
    return hub_error_set_errno(err, HUB_EIO, rc, "write to %s failed", up->tmp_path);
}

int store_upload_write(struct store_upload *up, const void *buf, size_t len, struct hub_error *err)
{
    const char *p = buf;
    size_t left = len;

    if (up->failed || up->finished || up->fd < 0)
        return hub_error_set(err, HUB_EINTERNAL, "write to a finished or failed upload");
    if (len > up->size - up->received) {
        up->failed = true;
        if (up->oid[0] != '\0')
            return hub_error_set(err, HUB_ETOOBIG,
                                 "upload of %s sent more than the announced %llu bytes", up->oid,
                                 (unsigned long long)up->size);
        return hub_error_set(err, HUB_ETOOBIG, "blob is larger than the maximum of %llu bytes",
                             (unsigned long long)up->size);
    }
    if (up->pipe != NULL) {
        int rc = store_pipe_write(up->pipe, buf, len);

        if (rc != 0)
            return pipe_error(up, rc, err);
        up->received += len;
        return 0;
    }
    if (!up->hash.running) {
        if (EVP_DigestUpdate(up->md, buf, len) != 1) {
            up->failed = true;
            return hub_error_set(err, HUB_EINTERNAL, "SHA-256 update failed");
        }
        up->hash.hashed += len;
    }
    while (left > 0) {
        ssize_t n = io->write(up->fd, p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            up->failed = true;
            return hub_error_set_errno(err, HUB_EIO, errno, "write to %s failed", up->tmp_path);
        }
        p += n;
        left -= (size_t)n;
    }
    up->received += len;
    if (up->received - up->writeback_from >= STORE_WRITEBACK_BYTES) {
        /* Only a hint: a failure shows up again, and is reported, at the fsync. */
        (void)sync_file_range(up->fd, (off_t)up->writeback_from,
                              (off_t)(up->received - up->writeback_from), SYNC_FILE_RANGE_WRITE);
        up->writeback_from = up->received;
    }
    if (up->hash.running) {
        pthread_mutex_lock(&up->hash.lock);
        up->hash.written = up->received;
        if (up->hash.idle && up->hash.written - up->hash.hashed >= STORE_HASH_BATCH_BYTES)
            pthread_cond_signal(&up->hash.wake);
        pthread_mutex_unlock(&up->hash.lock);
    } else if (up->received >= STORE_HASH_THREAD_BYTES && up->received < up->size) {
        hasher_start(up);
    }
    return 0;
}

uint64_t store_upload_received(const struct store_upload *up)
{
    return up->received;
}

static void digest_hex(char out[STORE_OID_HEX_BYTES + 1], const unsigned char digest[32])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[STORE_OID_HEX_BYTES] = '\0';
}

/* Moves the finished temp file to its place under objects/, creating AB/ and AB/CD/. When the
 * blob already exists the temp file is dropped: same name, same content. */
static int upload_publish(struct store_upload *up, const char *oid, struct hub_error *err)
{
    char dir1[STORE_PATH_BYTES], dir2[STORE_PATH_BYTES], dest[STORE_PATH_BYTES];
    struct stat sb;
    int rc;

    rc = path_format(dir1, sizeof(dir1), err, "%s/%.2s", up->st->objects_dir, oid);
    if (rc == 0)
        rc = path_format(dir2, sizeof(dir2), err, "%s/%.2s", dir1, oid + 2);
    if (rc == 0)
        rc = blob_path(dest, sizeof(dest), up->st, oid, err);
    if (rc < 0)
        return rc;
    if (stat(dest, &sb) == 0) {
        /* A fresh mtime restarts gc's grace period, so a blob uploaded again right before
         * the commit that references it is not collected in between. */
        utimensat(AT_FDCWD, dest, NULL, 0);
        unlink(up->tmp_path);
        up->tmp_path[0] = '\0';
        return 0;
    }
    rc = mkdir_p_one(dir1, err);
    if (rc == 0)
        rc = mkdir_p_one(dir2, err);
    if (rc < 0)
        return rc;
    if (io->rename(up->tmp_path, dest) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot move %s to %s", up->tmp_path, dest);
    up->tmp_path[0] = '\0';
    /* Each folder's entry lives in its parent, so AB/ and objects/ are synced too: either may
     * have just been created. */
    rc = fsync_dir(dir2, err);
    if (rc == 0)
        rc = fsync_dir(dir1, err);
    if (rc == 0)
        rc = fsync_dir(up->st->objects_dir, err);
    return rc;
}

static int upload_seal(char oid_out[STORE_OID_HEX_BYTES + 1], struct store_upload *up,
                       struct hub_error *err)
{
    unsigned char digest[32];
    unsigned int digest_len = 0;
    int fd = up->fd;
    int rc;

    if (up->failed || up->finished)
        return hub_error_set(err, HUB_EINTERNAL, "finish of a finished or failed upload");
    up->failed = true; /* until the checks below pass */
    rc = pipe_end(up, true);
    if (rc != 0)
        return pipe_error(up, rc, err);
    rc = hasher_stop(up, err);
    if (rc < 0)
        return rc;
    if (EVP_DigestFinal_ex(up->md, digest, &digest_len) != 1 || digest_len != 32)
        return hub_error_set(err, HUB_EINTERNAL, "SHA-256 final failed");
    digest_hex(oid_out, digest);
    if (up->oid[0] != '\0' && up->received != up->size)
        return hub_error_set(err, HUB_EINVAL,
                             "upload of %s has the wrong size: announced %llu bytes, received "
                             "%llu",
                             up->oid, (unsigned long long)up->size,
                             (unsigned long long)up->received);
    if (up->oid[0] != '\0' && strcmp(oid_out, up->oid) != 0)
        return hub_error_set(err, HUB_EINVAL,
                             "upload has the wrong SHA-256: announced %s, received %s", up->oid,
                             oid_out);
    if (fchmod(fd, 0440) != 0 || io->fsync(fd) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "fsync of %s failed", up->tmp_path);
    up->fd = -1;
    if (close(fd) != 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "close of %s failed", up->tmp_path);
    up->failed = false;
    return 0;
}

int store_upload_finish(struct store_upload *up, struct hub_error *err)
{
    char oid[STORE_OID_HEX_BYTES + 1];
    int rc;

    rc = upload_seal(oid, up, err);
    if (rc < 0)
        return rc;
    rc = upload_publish(up, oid, err);
    if (rc < 0) {
        up->failed = true;
        return rc;
    }
    up->finished = true;
    return 0;
}

void store_upload_free(struct store_upload *up)
{
    struct hub_error ignored;

    if (up == NULL)
        return;
    pipe_end(up, false); /* both stop before the fd they use closes */
    hasher_stop(up, &ignored);
    pthread_mutex_destroy(&up->hash.lock);
    pthread_cond_destroy(&up->hash.wake);
    if (up->fd >= 0)
        close(up->fd);
    if (up->tmp_path[0] != '\0' && unlink(up->tmp_path) != 0 && errno != ENOENT)
        hub_log(HUB_LOG_WARN, "store", "cannot remove temp file path=%s errno=%d", up->tmp_path,
                errno);
    EVP_MD_CTX_free(up->md);
    free(up);
}

static int put_finish(char oid_out[STORE_OID_HEX_BYTES + 1], struct store_upload *up,
                      struct hub_error *err)
{
    int rc = upload_seal(oid_out, up, err);

    if (rc == 0)
        rc = upload_publish(up, oid_out, err);
    if (rc == 0)
        up->finished = true;
    return rc;
}

int store_put_fd(char oid_out[STORE_OID_HEX_BYTES + 1], uint64_t *size_out, struct store *st,
                 int fd, uint64_t max_bytes, struct hub_error *err)
{
    struct store_upload *up = NULL;
    char *buf = NULL;
    int rc;

    rc = upload_new(&up, st, NULL, max_bytes, err);
    if (rc < 0)
        return rc;
    buf = malloc(STORE_COPY_BYTES);
    if (buf == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a copy buffer");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, STORE_COPY_BYTES);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "read of the blob source failed");
            goto out;
        }
        if (n == 0)
            break;
        rc = store_upload_write(up, buf, (size_t)n, err);
        if (rc < 0)
            goto out;
    }
    rc = put_finish(oid_out, up, err);
    if (rc == 0 && size_out != NULL)
        *size_out = up->received;
out:
    free(buf);
    store_upload_free(up);
    return rc;
}

int store_put_buf(char oid_out[STORE_OID_HEX_BYTES + 1], struct store *st, const void *buf,
                  size_t len, struct hub_error *err)
{
    struct store_upload *up = NULL;
    int rc;

    rc = upload_new(&up, st, NULL, len, err);
    if (rc < 0)
        return rc;
    rc = store_upload_write(up, buf, len, err);
    if (rc == 0)
        rc = put_finish(oid_out, up, err);
    store_upload_free(up);
    return rc;
}

int store_blob_stat(bool *exists, uint64_t *size_out, struct store *st, const char *oid,
                    struct hub_error *err)
{
    char path[STORE_PATH_BYTES];
    struct stat sb;
    int rc;

    *exists = false;
    rc = blob_path(path, sizeof(path), st, oid, err);
    if (rc < 0)
        return rc;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot stat %s", path);
    }
    *exists = true;
    if (size_out != NULL)
        *size_out = (uint64_t)sb.st_size;
    return 0;
}

int store_blob_open(int *fd_out, uint64_t *size_out, struct store *st, const char *oid,
                    struct hub_error *err)
{
    char path[STORE_PATH_BYTES];
    struct stat sb;
    int rc, fd;

    *fd_out = -1;
    rc = blob_path(path, sizeof(path), st, oid, err);
    if (rc < 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return hub_error_set(err, HUB_ENOTFOUND, "LFS object %s not found", oid);
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open %s", path);
    }
    if (fstat(fd, &sb) != 0) {
        rc = hub_error_set_errno(err, HUB_EIO, errno, "cannot stat %s", path);
        close(fd);
        return rc;
    }
    if (size_out != NULL)
        *size_out = (uint64_t)sb.st_size;
    *fd_out = fd;
    return 0;
}

int store_blob_touch(struct store *st, const char *oid, struct hub_error *err)
{
    char path[STORE_PATH_BYTES];
    int rc;

    rc = blob_path(path, sizeof(path), st, oid, err);
    if (rc < 0)
        return rc;
    if (utimensat(AT_FDCWD, path, NULL, 0) != 0) {
        if (errno == ENOENT)
            return hub_error_set(err, HUB_ENOTFOUND, "LFS object %s not found", oid);
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot update the time of %s", path);
    }
    return 0;
}

int store_blob_remove(struct store *st, const char *oid, struct hub_error *err)
{
    char path[STORE_PATH_BYTES];
    int rc;

    rc = blob_path(path, sizeof(path), st, oid, err);
    if (rc < 0)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot remove %s", path);
    return 0;
}

int store_sha256_hex(char oid_out[STORE_OID_HEX_BYTES + 1], const void *buf, size_t len,
                     struct hub_error *err)
{
    unsigned char digest[32];
    unsigned int digest_len = 0;

    if (EVP_Digest(buf, len, digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != 32)
        return hub_error_set(err, HUB_ENOMEM, "SHA-256 digest failed");
    digest_hex(oid_out, digest);
    return 0;
}

/* Calls fn for every regular file two folders below objects/. */
typedef int (*walk_fn)(void *ctx, const char *dir1, const char *dir2, const char *name,
                       const char *path, uint64_t size);

static bool is_dot_entry(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int walk_level2(const char *dir1, const char *dir2, const char *path2, walk_fn fn, void *ctx,
                       struct hub_error *err)
{
    char path[STORE_PATH_BYTES];
    struct dirent *ent;
    struct stat sb;
    DIR *dir = opendir(path2);
    int rc = 0;

    if (dir == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot list %s", path2);
    while (rc == 0 && (ent = readdir(dir)) != NULL) {
        if (is_dot_entry(ent->d_name))
            continue;
        rc = path_format(path, sizeof(path), err, "%s/%s", path2, ent->d_name);
        if (rc < 0)
            break;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        rc = fn(ctx, dir1, dir2, ent->d_name, path, (uint64_t)sb.st_size);
    }
    closedir(dir);
    return rc;
}

static int store_walk(struct store *st, walk_fn fn, void *ctx, struct hub_error *err)
{
    char path1[STORE_PATH_BYTES], path2[STORE_PATH_BYTES];
    struct dirent *e1, *e2;
    DIR *d1 = NULL, *d2 = NULL;
    int rc = 0;

    d1 = opendir(st->objects_dir);
    if (d1 == NULL)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot list %s", st->objects_dir);
    while (rc == 0 && (e1 = readdir(d1)) != NULL) {
        if (is_dot_entry(e1->d_name))
            continue;
        rc = path_format(path1, sizeof(path1), err, "%s/%s", st->objects_dir, e1->d_name);
        if (rc < 0)
            break;
        d2 = opendir(path1);
        if (d2 == NULL)
            continue; /* a stray file at the first level is not a blob */
        while (rc == 0 && (e2 = readdir(d2)) != NULL) {
            if (is_dot_entry(e2->d_name))
                continue;
            rc = path_format(path2, sizeof(path2), err, "%s/%s", path1, e2->d_name);
            if (rc == 0)
                rc = walk_level2(e1->d_name, e2->d_name, path2, fn, ctx, err);
        }
        closedir(d2);
    }
    closedir(d1);
    return rc;
}

struct foreach_ctx {
    int (*fn)(void *ctx, const char *oid, uint64_t size);
    void *ctx;
    uint64_t total;
};

static int foreach_visit(void *ctx, const char *dir1, const char *dir2, const char *name,
                         const char *path, uint64_t size)
{
    struct foreach_ctx *f = ctx;

    if (!store_oid_is_valid(name))
        return 0;
    f->total += size;
    return f->fn != NULL ? f->fn(f->ctx, name, size) : 0;
}

int store_foreach(struct store *st, int (*fn)(void *ctx, const char *oid, uint64_t size), void *ctx,
                  struct hub_error *err)
{
    struct foreach_ctx f = {fn, ctx, 0};

    return store_walk(st, foreach_visit, &f, err);
}

int store_total_bytes(uint64_t *out, struct store *st, struct hub_error *err)
{
    struct foreach_ctx f = {NULL, NULL, 0};
    int rc = store_walk(st, foreach_visit, &f, err);

    *out = f.total;
    return rc;
}

struct fsck_ctx {
    store_fsck_fn fn;
    void *ctx;
    uint64_t good, bad;
    unsigned char *buf;
    struct hub_error *err;
};

static int file_sha256(char oid_out[STORE_OID_HEX_BYTES + 1], const char *path, unsigned char *buf,
                       struct hub_error *err)
{
    unsigned char digest[32];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = NULL;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hub_error_set_errno(err, HUB_EIO, errno, "cannot open %s", path);
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a SHA-256 context");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, STORE_COPY_BYTES);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hub_error_set_errno(err, HUB_EIO, errno, "read of %s failed", path);
            goto out;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
    }
    EVP_DigestFinal_ex(md, digest, &digest_len);
    digest_hex(oid_out, digest);
out:
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

static int fsck_visit(void *ctx, const char *dir1, const char *dir2, const char *name,
                      const char *path, uint64_t size)
{
    struct fsck_ctx *f = ctx;
    struct store_fsck_item item = {name, size, NULL};
    char actual[STORE_OID_HEX_BYTES + 1];

    if (!store_oid_is_valid(name)) {
        item.problem = "file name is not a SHA-256 in lowercase hex";
    } else if (strncmp(dir1, name, 2) != 0 || strncmp(dir2, name + 2, 2) != 0 ||
               strlen(dir1) != 2 || strlen(dir2) != 2) {
        item.problem = "blob is in the wrong folder";
    } else if (file_sha256(actual, path, f->buf, f->err) < 0) {
        item.problem = "blob cannot be read";
    } else if (strcmp(actual, name) != 0) {
        item.problem = "content does not match the SHA-256 in the file name";
    }
    if (item.problem != NULL)
        f->bad++;
    else
        f->good++;
    if (f->fn != NULL)
        f->fn(f->ctx, &item);
    return 0;
}

void store_tmp_sweep(struct store *st, unsigned max_age_s, uint64_t *files, uint64_t *bytes)
{
    char path[STORE_PATH_BYTES];
    struct dirent *ent;
    struct stat sb;
    time_t now = time(NULL);
    DIR *dir = opendir(st->tmp_dir);

    if (dir == NULL)
        return;
    while ((ent = readdir(dir)) != NULL) {
        if (strncmp(ent->d_name, "upload-", 7) != 0)
            continue;
        if (path_format(path, sizeof(path), NULL, "%s/%s", st->tmp_dir, ent->d_name) < 0)
            continue;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || now - sb.st_mtime <= max_age_s)
            continue;
        if (unlink(path) == 0) {
            hub_log(HUB_LOG_INFO, "store", "removed stale temp file path=%s bytes=%lld", path,
                    (long long)sb.st_size);
            *files += 1;
            *bytes += (uint64_t)sb.st_size;
        }
    }
    closedir(dir);
}

int store_fsck(uint64_t *good, uint64_t *bad, struct store *st, store_fsck_fn fn, void *ctx,
               struct hub_error *err)
{
    struct fsck_ctx f = {fn, ctx, 0, 0, NULL, NULL};
    uint64_t swept_files = 0, swept_bytes = 0;
    int rc;

    f.buf = malloc(STORE_COPY_BYTES);
    if (f.buf == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate a read buffer");
    store_tmp_sweep(st, STORE_TMP_MAX_AGE_S, &swept_files, &swept_bytes);
    rc = store_walk(st, fsck_visit, &f, err);
    free(f.buf);
    *good = f.good;
    *bad = f.bad;
    return rc;
}
