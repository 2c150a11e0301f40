/* train_ckpt: writes and reads the training checkpoint file described in train_ckpt.h.
 * Writes go to PATH.tmp, are flushed with fsync and renamed over PATH, so a crash leaves
 * either the old or the new checkpoint, never a torn one. */
#include "train_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "train_ckpt stores float32 in host order and needs a little-endian host"
#endif

/* Version 3 header: 96 bytes of version 1 fields, 56 bytes of optimizer and data settings
 * and two 64-character SHA-256 hex strings. */
#define CKPT_HEADER_BYTES 280u
#define CKPT_SHA_BYTES    64u
#define CKPT_HASH_BYTES   8u

static uint64_t fnv1a_update(uint64_t hash, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

#define FNV1A_INIT 0xcbf29ce484222325ull

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static void header_encode(uint8_t *buf, const struct train_ckpt_header *h)
{
    memset(buf, 0, CKPT_HEADER_BYTES);
    memcpy(buf, TRAIN_CKPT_MAGIC, 8); /* includes the terminating NUL */
    put_u32(buf + 8, TRAIN_CKPT_VERSION);
    put_u32(buf + 12, CKPT_HEADER_BYTES);
    put_u64(buf + 16, h->step);
    put_u64(buf + 24, h->total_steps);
    put_u64(buf + 32, h->seed);
    put_u64(buf + 40, h->tokens_seen);
    put_u32(buf + 48, h->rank);
    put_u32(buf + 52, h->target_mask);
    put_u32(buf + 56, h->num_layers);
    put_u32(buf + 60, h->use_rslora);
    memcpy(buf + 64, &h->alpha, 4);
    memcpy(buf + 68, &h->dropout, 4);
    put_u64(buf + 72, h->n_params);
    memcpy(buf + 80, &h->last_loss, 8);
    memcpy(buf + 88, &h->elapsed_s, 8);
    memcpy(buf + 96, &h->lr, 8);
    memcpy(buf + 104, &h->clip, 8);
    memcpy(buf + 112, &h->weight_decay, 8);
    memcpy(buf + 120, &h->eval_split, 8);
    put_u64(buf + 128, h->warmup);
    put_u32(buf + 136, h->seq_len);
    put_u32(buf + 140, h->batch);
    put_u32(buf + 144, h->grad_accum);
    /* 148..152 stay zero. */
    memcpy(buf + 152, h->data_sha256, strnlen(h->data_sha256, CKPT_SHA_BYTES));
    memcpy(buf + 152 + CKPT_SHA_BYTES, h->eval_sha256, strnlen(h->eval_sha256, CKPT_SHA_BYTES));
}

static void header_decode(struct train_ckpt_header *h, const uint8_t *buf)
{
    h->step = get_u64(buf + 16);
    h->total_steps = get_u64(buf + 24);
    h->seed = get_u64(buf + 32);
    h->tokens_seen = get_u64(buf + 40);
    h->rank = get_u32(buf + 48);
    h->target_mask = get_u32(buf + 52);
    h->num_layers = get_u32(buf + 56);
    h->use_rslora = get_u32(buf + 60);
    memcpy(&h->alpha, buf + 64, 4);
    memcpy(&h->dropout, buf + 68, 4);
    h->n_params = get_u64(buf + 72);
    memcpy(&h->last_loss, buf + 80, 8);
    memcpy(&h->elapsed_s, buf + 88, 8);
    memcpy(&h->lr, buf + 96, 8);
    memcpy(&h->clip, buf + 104, 8);
    memcpy(&h->weight_decay, buf + 112, 8);
    memcpy(&h->eval_split, buf + 120, 8);
    h->warmup = get_u64(buf + 128);
    h->seq_len = get_u32(buf + 136);
    h->batch = get_u32(buf + 140);
    h->grad_accum = get_u32(buf + 144);
    /* The hex strings are NUL-padded, so a full 64 characters has no terminator on disk. */
    memcpy(h->data_sha256, buf + 152, CKPT_SHA_BYTES);
    h->data_sha256[CKPT_SHA_BYTES] = '\0';
    memcpy(h->eval_sha256, buf + 152 + CKPT_SHA_BYTES, CKPT_SHA_BYTES);
    h->eval_sha256[CKPT_SHA_BYTES] = '\0';
}

static int write_all(int fd, const void *data, size_t len, uint64_t *hash, const char *path,
                     struct tr_error *err)
{
    const uint8_t *p = data;

    *hash = fnv1a_update(*hash, data, len);
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tr_error_set(err, "cannot write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static size_t tensors_total(const struct optim_tensor *tensors, size_t n_tensors)
{
    size_t total = 0;

    for (size_t k = 0; k < n_tensors; k++)
        total += tensors[k].n;
    return total;
}

static int write_payload(int fd, const struct optim_tensor *tensors, size_t n_tensors,
                         const struct adamw *opt, uint64_t *hash, const char *path,
                         struct tr_error *err)
{
    for (size_t k = 0; k < n_tensors; k++) {
        if (write_all(fd, tensors[k].param, tensors[k].n * sizeof(float), hash, path, err) < 0)
            return -1;
    }
    if (write_all(fd, opt->m, opt->n_params * sizeof(float), hash, path, err) < 0)
        return -1;
    return write_all(fd, opt->v, opt->n_params * sizeof(float), hash, path, err);
}

int train_ckpt_write(const char *path, const struct train_ckpt_header *h,
                     const struct optim_tensor *tensors, size_t n_tensors, const struct adamw *opt,
                     struct tr_error *err)
{
    uint8_t header[CKPT_HEADER_BYTES];
    uint64_t hash = FNV1A_INIT;
    char tmp[4096];
    int fd = -1;
    int rc = -1;

    if (h->n_params != opt->n_params || tensors_total(tensors, n_tensors) != opt->n_params)
        return tr_error_set(err,
                            "checkpoint %s: %llu parameters in the header but %zu in the "
                            "optimizer",
                            path, (unsigned long long)h->n_params, opt->n_params);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return tr_error_set(err, "checkpoint path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tr_error_set(err, "cannot create %s: %s", tmp, strerror(errno));

    header_encode(header, h);
    if (write_all(fd, header, sizeof(header), &hash, tmp, err) < 0)
        goto out;
    if (write_payload(fd, tensors, n_tensors, opt, &hash, tmp, err) < 0)
        goto out;
    {
        uint8_t trailer[CKPT_HASH_BYTES];
        uint64_t ignored = 0;

        put_u64(trailer, hash);
        if (write_all(fd, trailer, sizeof(trailer), &ignored, tmp, err) < 0)
            goto out;
    }
    if (fsync(fd) != 0) {
        tr_error_set(err, "cannot flush %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        tr_error_set(err, "cannot close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        tr_error_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int train_ckpt_parse(struct train_ckpt_header *h, const float **payload, const uint8_t *buf,
                     size_t len, const char *name, struct tr_error *err)
{
    uint32_t version, header_bytes;
    uint64_t n_params, want, stored;

    *payload = NULL;
    if (len < 16 || memcmp(buf, TRAIN_CKPT_MAGIC, 8) != 0)
        return tr_error_set(err,
                            "%s is not an atelier training checkpoint (bad magic); "
                            "start a new run without --resume",
                            name);
    version = get_u32(buf + 8);
    if (version < TRAIN_CKPT_VERSION)
        return tr_error_set(err,
                            "%s has checkpoint format version %u from an older atelier, "
                            "which did not record all the data, batch and optimizer settings "
                            "that this atelier (version %u) checks; start a new run without "
                            "--resume",
                            name, version, TRAIN_CKPT_VERSION);
    if (version != TRAIN_CKPT_VERSION)
        return tr_error_set(err,
                            "%s has checkpoint format version %u but this atelier reads "
                            "version %u; resume with the atelier release that wrote it, or "
                            "start a new run without --resume",
                            name, version, TRAIN_CKPT_VERSION);
    header_bytes = get_u32(buf + 12);
    if (header_bytes != CKPT_HEADER_BYTES || len < CKPT_HEADER_BYTES + CKPT_HASH_BYTES)
        return tr_error_set(err,
                            "%s: checkpoint header is truncated or has size %u, expected "
                            "%u; start a new run without --resume",
                            name, header_bytes, CKPT_HEADER_BYTES);
    n_params = get_u64(buf + 72);
    if (n_params == 0 || n_params > TRAIN_CKPT_MAX_PARAMS)
        return tr_error_set(err, "%s: checkpoint claims %llu parameters, outside 1..%llu", name,
                            (unsigned long long)n_params,
                            (unsigned long long)TRAIN_CKPT_MAX_PARAMS);
    /* n_params <= 2^30, so 12 * n_params plus the header cannot overflow 64 bits. */
    want = CKPT_HEADER_BYTES + 12 * n_params + CKPT_HASH_BYTES;
    if ((uint64_t)len != want)
        return tr_error_set(err,
                            "%s: checkpoint is %zu bytes but its header implies %llu, so the "
                            "file is truncated or corrupt; start a new run without --resume",
                            name, len, (unsigned long long)want);
    stored = get_u64(buf + len - CKPT_HASH_BYTES);
    if (fnv1a_update(FNV1A_INIT, buf, len - CKPT_HASH_BYTES) != stored)
        return tr_error_set(err,
                            "%s: the checkpoint's hash does not match its contents, so the "
                            "file is corrupt; start a new run without --resume",
                            name);
    header_decode(h, buf);
    *payload = (const float *)(const void *)(buf + CKPT_HEADER_BYTES);
    return 0;
}

static int read_file(uint8_t **out, size_t *len_out, const char *path, struct tr_error *err)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len, done = 0;
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tr_error_set(err, "cannot open checkpoint %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_size < 0 ||
        (uint64_t)st.st_size > CKPT_HEADER_BYTES + 12 * TRAIN_CKPT_MAX_PARAMS + CKPT_HASH_BYTES) {
        close(fd);
        return tr_error_set(err, "checkpoint %s is unreadable or too large", path);
    }
    len = (size_t)st.st_size;
    buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        close(fd);
        return tr_error_set(err, "cannot allocate %zu bytes for checkpoint %s", len, path);
    }
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            free(buf);
            return tr_error_set(err, "cannot read checkpoint %s: %s", path,
                                n < 0 ? strerror(errno) : "unexpected end of file");
        }
        done += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len_out = len;
    return 0;
}

int train_ckpt_load(struct train_ckpt_header *h, uint8_t **buf, const char *path,
                    struct tr_error *err)
{
    const float *payload = NULL;
    size_t len = 0;

    *buf = NULL;
    if (read_file(buf, &len, path, err) < 0)
        return -1;
    if (train_ckpt_parse(h, &payload, *buf, len, path, err) < 0) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

int train_ckpt_restore(const struct train_ckpt_header *h, const uint8_t *buf, const char *path,
                       const struct optim_tensor *tensors, size_t n_tensors, struct adamw *opt,
                       struct tr_error *err)
{
    const float *payload = (const float *)(const void *)(buf + CKPT_HEADER_BYTES);
    size_t offset = 0, total = tensors_total(tensors, n_tensors);

    if (h->n_params != total || total != opt->n_params)
        return tr_error_set(err,
                            "%s holds %llu adapter parameters but this run has %zu; resume "
                            "with the same --base, --targets and --rank as the interrupted run",
                            path, (unsigned long long)h->n_params, total);
    for (size_t k = 0; k < n_tensors; k++) {
        memcpy(tensors[k].param, payload + offset, tensors[k].n * sizeof(float));
        offset += tensors[k].n;
    }
    memcpy(opt->m, payload + total, total * sizeof(float));
    memcpy(opt->v, payload + 2 * total, total * sizeof(float));
    opt->step = h->step;
    return 0;
}

int train_ckpt_read(struct train_ckpt_header *h, const char *path,
                    const struct optim_tensor *tensors, size_t n_tensors, struct adamw *opt,
                    struct tr_error *err)
{
    uint8_t *buf = NULL;
    int rc;

    if (train_ckpt_load(h, &buf, path, err) < 0)
        return -1;
    rc = train_ckpt_restore(h, buf, path, tensors, n_tensors, opt, err);
    free(buf);
    return rc;
}
