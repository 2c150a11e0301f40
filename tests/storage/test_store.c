/* Tests for store_* on a real blob folder. Streamed uploads are good, have the wrong hash,
 * the wrong size or too many bytes, or are aborted, and two uploads of the same content leave
 * one file; the same for uploads large enough to be hashed by a thread of their own. Also put
 * from a file descriptor, stat, open, remove, totals and fsck. */
#include "fixture.h"
#include "harness.h"

#include "hub_limits.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

/* SHA-256 of "hello\n", as `sha256sum` prints it. */
static const char hello_oid[] = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

static int count_files(const char *dir_path)
{
    struct dirent *ent;
    DIR *dir = opendir(dir_path);
    int n = 0;

    if (dir == NULL)
        return -1;
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] != '.')
            n++;
    }
    closedir(dir);
    return n;
}

static int upload(struct store *st, const char *oid, uint64_t announced, const char *body,
                  size_t chunk, struct hub_error *err)
{
    struct store_upload *up = NULL;
    size_t len = strlen(body);
    int rc;

    rc = store_upload_begin(&up, st, oid, announced, err);
    for (size_t off = 0; rc == 0 && off < len; off += chunk)
        rc = store_upload_write(up, body + off, len - off < chunk ? len - off : chunk, err);
    if (rc == 0)
        rc = store_upload_finish(up, err);
    store_upload_free(up);
    return rc;
}

static void test_uploads(struct store *st, const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    char tmp_dir[600], path[4096];
    bool exists = true;
    uint64_t size = 0;
    struct stat sb;
    int fd = -1;

    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", data);
    CHECK_EQ_INT(store_blob_stat(&exists, &size, st, hello_oid, &err), 0);
    CHECK(!exists);

    /* wrong hash: same size, other bytes */
    CHECK_EQ_INT(upload(st, hello_oid, 6, "hellO\n", 2, &err), HUB_EINVAL);
    CHECK(strstr(err.msg, hello_oid) != NULL);
    CHECK_EQ_INT(store_blob_stat(&exists, NULL, st, hello_oid, &err), 0);
    CHECK(!exists);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* wrong size: fewer bytes than announced */
    CHECK_EQ_INT(upload(st, hello_oid, 7, "hello\n", 3, &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "announced 7 bytes, received 6") != NULL);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* too long: more bytes than announced */
    CHECK_EQ_INT(upload(st, hello_oid, 5, "hello\n", 6, &err), HUB_ETOOBIG);
    CHECK_EQ_INT(store_blob_stat(&exists, NULL, st, hello_oid, &err), 0);
    CHECK(!exists);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* abort midway */
    struct store_upload *up = NULL;
    CHECK_EQ_INT(store_upload_begin(&up, st, hello_oid, 6, &err), 0);
    CHECK_EQ_INT(store_upload_write(up, "hel", 3, &err), 0);
    CHECK_EQ_INT(store_upload_received(up), 3);
    CHECK_EQ_INT(count_files(tmp_dir), 1);
    store_upload_free(up);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* good, in one-byte chunks, then again: one file */
    CHECK_EQ_INT(upload(st, hello_oid, 6, "hello\n", 1, &err), 0);
    CHECK_EQ_INT(store_blob_stat(&exists, &size, st, hello_oid, &err), 0);
    CHECK(exists);
    CHECK_EQ_INT(size, 6);
    CHECK_EQ_INT(upload(st, hello_oid, 6, "hello\n", 6, &err), 0);
    snprintf(path, sizeof(path), "%s/lfs/objects/58/91", data);
    CHECK_EQ_INT(count_files(path), 1);
    CHECK_EQ_INT(count_files(tmp_dir), 0);
    /* a bad second upload leaves the good copy alone */
    CHECK_EQ_INT(upload(st, hello_oid, 6, "HELLO\n", 6, &err), HUB_EINVAL);
    CHECK_EQ_INT(store_blob_stat(&exists, &size, st, hello_oid, &err), 0);
    CHECK(exists && size == 6);

    CHECK_EQ_INT(store_blob_open(&fd, &size, st, hello_oid, &err), 0);
    char buf[16] = {0};
    CHECK_EQ_INT(read(fd, buf, sizeof(buf)), 6);
    CHECK_EQ_STR(buf, "hello\n");
    close(fd);
    CHECK_EQ_INT(store_blob_path(path, sizeof(path), st, hello_oid, &err), 0);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0222) == 0);

    /* oids come only from validated hex */
    CHECK_EQ_INT(store_upload_begin(&up, st, "../../etc/passwd", 1, &err), HUB_EINVAL);
    CHECK_EQ_INT(
        store_upload_begin(
            &up, st, "5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03", 1, &err),
        HUB_EINVAL);
    CHECK_EQ_INT(store_blob_open(&fd, NULL, st, "5891", &err), HUB_EINVAL);
    CHECK_EQ_INT(store_blob_open(&fd, NULL, st,
                                 "0000000000000000000000000000000000000000000000000000000000000000",
                                 &err),
                 HUB_ENOTFOUND);

    /* size limit: the max is accepted at begin, one past is rejected */
    CHECK_EQ_INT(store_upload_begin(&up, st, hello_oid, HUB_MAX_LFS_OBJECT_BYTES, &err), 0);
    store_upload_free(up);
    CHECK_EQ_INT(store_upload_begin(&up, st, hello_oid, HUB_MAX_LFS_OBJECT_BYTES + 1, &err),
                 HUB_ETOOBIG);
    CHECK_EQ_INT(count_files(tmp_dir), 0);
}

static void test_put_and_fsck(struct store *st, const char *data)
{
    struct hub_error err = HUB_ERROR_INIT;
    char oid[STORE_OID_HEX_BYTES + 1], src[600], path[4096];
    uint64_t size = 0, total = 0, good = 0, bad = 0;
    int fd;

    snprintf(src, sizeof(src), "%s/source.bin", data);
    fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    ssize_t written = 0;
    for (int i = 0; i < 1000; i++)
        written += write(fd, "0123456789abcdef", 16);
    CHECK_EQ_INT(written, 16000);
    close(fd);
    fd = open(src, O_RDONLY);
    CHECK_EQ_INT(store_put_fd(oid, &size, st, fd, 1u << 20, &err), 0);
    close(fd);
    CHECK_EQ_INT(size, 16000);
    fd = open(src, O_RDONLY);
    CHECK_EQ_INT(store_put_fd(oid, &size, st, fd, 15999, &err), HUB_ETOOBIG);
    close(fd);
    CHECK_EQ_INT(store_put_buf(oid, st, "hello\n", 6, &err), 0);
    CHECK_EQ_STR(oid, hello_oid);
    CHECK_EQ_INT(store_sha256_hex(oid, "hello\n", 6, &err), 0);
    CHECK_EQ_STR(oid, hello_oid);

    CHECK_EQ_INT(store_total_bytes(&total, st, &err), 0);
    CHECK_EQ_INT(total, 16006);
    CHECK_EQ_INT(store_fsck(&good, &bad, st, NULL, NULL, &err), 0);
    CHECK_EQ_INT(good, 2);
    CHECK_EQ_INT(bad, 0);

    /* a blob whose bytes changed on disk is reported by fsck */
    CHECK_EQ_INT(store_blob_path(path, sizeof(path), st, hello_oid, &err), 0);
    chmod(path, 0600);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK_EQ_INT(write(fd, "jello\n", 6), 6);
    close(fd);
    CHECK_EQ_INT(store_fsck(&good, &bad, st, NULL, NULL, &err), 0);
    CHECK_EQ_INT(good, 1);
    CHECK_EQ_INT(bad, 1);
    CHECK_EQ_INT(store_blob_touch(st, hello_oid, &err), 0);
    CHECK_EQ_INT(store_blob_remove(st, hello_oid, &err), 0);
    CHECK_EQ_INT(store_blob_remove(st, hello_oid, &err), 0);
    CHECK_EQ_INT(store_blob_touch(st, hello_oid, &err), HUB_ENOTFOUND);
    CHECK_EQ_INT(store_fsck(&good, &bad, st, NULL, NULL, &err), 0);
    CHECK_EQ_INT(bad, 0);
}

static int fault_errno; /* errno the failing call sets */

static ssize_t write_fails(int fd, const void *buf, size_t len)
{
    (void)fd;
    (void)buf;
    (void)len;
    errno = fault_errno;
    return -1;
}

static int fsync_fails(int fd)
{
    (void)fd;
    errno = fault_errno;
    return -1;
}

static int rename_fails(const char *from, const char *to)
{
    (void)from;
    (void)to;
    errno = fault_errno;
    return -1;
}

static void test_disk_faults(struct store *st, const char *data)
{
    static const char oid[] = "e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317";
    const struct store_io faults[] = {
        {write_fails, fsync, rename},
        {write, fsync_fails, rename},
        {write, fsync, rename_fails},
    };
    struct hub_error err = HUB_ERROR_INIT;
    char tmp_dir[600];
    bool exists = true;

    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", data);
    fault_errno = ENOSPC;
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        store_io_set(&faults[i]);
        /* "world\n": a blob no other test stores */
        CHECK_EQ_INT(upload(st, oid, 6, "world\n", 6, &err), HUB_EIO);
        CHECK(err.sys_errno == ENOSPC);
        store_io_set(NULL);
        CHECK_EQ_INT(store_blob_stat(&exists, NULL, st, oid, &err), 0);
        CHECK(!exists);
        CHECK_EQ_INT(count_files(tmp_dir), 0);
    }
    /* After the faults the same upload succeeds. */
    CHECK_EQ_INT(upload(st, oid, 6, "world\n", 6, &err), 0);
    CHECK_EQ_INT(store_blob_stat(&exists, NULL, st, oid, &err), 0);
    CHECK(exists);
}

/* Uploads of 8 MiB or more go through store_pipe (a hashing thread and a writing thread), and
 * puts of unknown size past 8 MiB are hashed by a thread that reads the temp file back. So
 * these bodies are 24 MiB, sent in uneven chunks. */
#define LARGE_BYTES (24u << 20)
#define LARGE_CHUNK 300001u

static void sha256_hex(char out[65], const unsigned char *buf, size_t len)
{
    unsigned char digest[32];
    unsigned int n = 0;

    EVP_Digest(buf, len, digest, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static int upload_bytes(struct store *st, const char *oid, const unsigned char *body, size_t len,
                        size_t stop_after, struct hub_error *err)
{
    struct store_upload *up = NULL;
    int rc = store_upload_begin(&up, st, oid, len, err);

    for (size_t off = 0; rc == 0 && off < len && off < stop_after; off += LARGE_CHUNK)
        rc = store_upload_write(up, body + off, len - off < LARGE_CHUNK ? len - off : LARGE_CHUNK,
                                err);
    if (rc == 0 && stop_after >= len)
        rc = store_upload_finish(up, err);
    store_upload_free(up);
    return rc;
}

static uint64_t written_so_far;
static int einval_left; /* O_DIRECT writes still to fail with EINVAL */

/* Fails the first O_DIRECT write with EINVAL, as a file system that accepts the flag but not
 * the write does. The upload must then go on through the page cache. */
static ssize_t write_rejects_direct(int fd, const void *buf, size_t len)
{
    int flags = fcntl(fd, F_GETFL);

    if (einval_left > 0 && flags >= 0 && (flags & O_DIRECT) != 0) {
        einval_left--;
        errno = EINVAL;
        return -1;
    }
    return write(fd, buf, len);
}

/* Checks that the stored blob oid contains exactly body. */
static void check_blob_bytes(struct store *st, const char *oid, const unsigned char *body,
                             size_t len)
{
    struct hub_error err = HUB_ERROR_INIT;
    unsigned char *got = malloc(len + 1);
    size_t have = 0;
    int fd = -1;

    CHECK(got != NULL);
    CHECK_EQ_INT(store_blob_open(&fd, NULL, st, oid, &err), 0);
    while (got != NULL && fd >= 0 && have <= len) {
        ssize_t n = read(fd, got + have, len + 1 - have);

        if (n <= 0)
            break;
        have += (size_t)n;
    }
    CHECK_EQ_INT(have, len);
    CHECK(got != NULL);
    CHECK(got == NULL || memcmp(got, body, len) == 0);
    if (fd >= 0)
        close(fd);
    free(got);
}

/* Fails every write once 10 MiB are written, after the hashing thread has started. */
static ssize_t write_fails_late(int fd, const void *buf, size_t len)
{
    if (written_so_far >= (10u << 20)) {
        errno = ENOSPC;
        return -1;
    }
    written_so_far += len;
    return write(fd, buf, len);
}

static void test_large_uploads(struct store *st, const char *data)
{
    const struct store_io late_fault = {write_fails_late, fsync, rename};
    struct hub_error err = HUB_ERROR_INIT;
    unsigned char *body = malloc(LARGE_BYTES);
    char oid[65], put_oid[65], tmp_dir[600], path[600];
    uint64_t size = 0, x = 88172645463325252ull;
    bool exists = true;
    int fd;

    CHECK(body != NULL);
    if (body == NULL)
        return;
    for (size_t i = 0; i < LARGE_BYTES; i++) { /* xorshift: no run a hashing slip could hide in */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body[i] = (unsigned char)x;
    }
    sha256_hex(oid, body, LARGE_BYTES);
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", data);

    /* one byte changed past the first 8 MiB: the thread's hash must catch it */
    body[20u << 20] ^= 1;
    CHECK_EQ_INT(upload_bytes(st, oid, body, LARGE_BYTES, LARGE_BYTES, &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "wrong SHA-256") != NULL);
    body[20u << 20] ^= 1;
    CHECK_EQ_INT(store_blob_stat(&exists, NULL, st, oid, &err), 0);
    CHECK(!exists);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* aborted while the thread runs: no temp file left, no hang */
    CHECK_EQ_INT(upload_bytes(st, oid, body, LARGE_BYTES, 12u << 20, &err), 0);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* the disk fills up while the thread runs */
    written_so_far = 0;
    store_io_set(&late_fault);
    CHECK_EQ_INT(upload_bytes(st, oid, body, LARGE_BYTES, LARGE_BYTES, &err), HUB_EIO);
    store_io_set(NULL);
    CHECK(err.sys_errno == ENOSPC);
    CHECK_EQ_INT(count_files(tmp_dir), 0);

    /* good, and the stored bytes are the body's */
    CHECK_EQ_INT(upload_bytes(st, oid, body, LARGE_BYTES, LARGE_BYTES, &err), 0);
    CHECK_EQ_INT(store_blob_stat(&exists, &size, st, oid, &err), 0);
    CHECK(exists);
    CHECK_EQ_INT(size, LARGE_BYTES);
    CHECK_EQ_INT(count_files(tmp_dir), 0);
    check_blob_bytes(st, oid, body, LARGE_BYTES);

    /* a body that is not a whole number of blocks, written after O_DIRECT is refused */
    {
        const struct store_io rejects_direct = {write_rejects_direct, fsync, rename};
        size_t odd_len = LARGE_BYTES - 1234567;
        char odd_oid[65];

        sha256_hex(odd_oid, body, odd_len);
        einval_left = 1;
        store_io_set(&rejects_direct);
        CHECK_EQ_INT(upload_bytes(st, odd_oid, body, odd_len, odd_len, &err), 0);
        store_io_set(NULL);
        printf("# O_DIRECT write refused once: %s\n",
               einval_left == 0 ? "yes" : "no, this file system has no O_DIRECT");
        check_blob_bytes(st, odd_oid, body, odd_len);
        CHECK_EQ_INT(count_files(tmp_dir), 0);
    }

    /* two uploads at once with one ring: the second hashes on its own thread */
    {
        struct store_upload *first = NULL, *second = NULL;
        size_t half = LARGE_BYTES / 2;
        char half_oid[65];

        sha256_hex(half_oid, body, half);
        store_set_max_rings(1);
        CHECK_EQ_INT(store_upload_begin(&first, st, oid, LARGE_BYTES, &err), 0);
        CHECK_EQ_INT(store_upload_begin(&second, st, half_oid, half, &err), 0);
        CHECK_EQ_INT(store_rings_in_use(), 1);
        for (size_t off = 0; first != NULL && second != NULL && off < LARGE_BYTES;
             off += LARGE_CHUNK) {
            size_t n = LARGE_BYTES - off < LARGE_CHUNK ? LARGE_BYTES - off : LARGE_CHUNK;

            CHECK_EQ_INT(store_upload_write(first, body + off, n, &err), 0);
            if (off < half)
                CHECK_EQ_INT(
                    store_upload_write(second, body + off, half - off < n ? half - off : n, &err),
                    0);
        }
        CHECK_EQ_INT(store_upload_finish(first, &err), 0);
        CHECK_EQ_INT(store_upload_finish(second, &err), 0);
        store_upload_free(first);
        store_upload_free(second);
        CHECK_EQ_INT(store_rings_in_use(), 0);
        store_set_max_rings(STORE_DEFAULT_MAX_RINGS);
        check_blob_bytes(st, half_oid, body, half);
        CHECK_EQ_INT(count_files(tmp_dir), 0);
    }

    /* no rings at all */
    store_set_max_rings(0);
    store_blob_remove(st, oid, &err);
    CHECK_EQ_INT(upload_bytes(st, oid, body, LARGE_BYTES, LARGE_BYTES, &err), 0);
    CHECK_EQ_INT(store_rings_in_use(), 0);
    store_set_max_rings(STORE_DEFAULT_MAX_RINGS);
    check_blob_bytes(st, oid, body, LARGE_BYTES);

    /* put from a file descriptor computes the same oid */
    snprintf(path, sizeof(path), "%s/large.bin", data);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, body, LARGE_BYTES) == (ssize_t)LARGE_BYTES);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    size = 0;
    CHECK_EQ_INT(store_put_fd(put_oid, &size, st, fd, LARGE_BYTES, &err), 0);
    CHECK_EQ_STR(put_oid, oid);
    CHECK_EQ_INT(size, LARGE_BYTES);
    close(fd);
    unlink(path);
    free(body);
}

int main(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct store *st = NULL;
    char data[512];

    fixture_dir_make(data, sizeof(data));
    CHECK_EQ_INT(store_open(&st, data, &err), 0);
    if (st != NULL) {
        test_uploads(st, data);
        test_put_and_fsck(st, data);
        test_disk_faults(st, data);
        test_large_uploads(st, data);
    }
    store_close(st);
    fixture_dir_remove(data);
    return test_finish();
}
