/* web_tensors: the header of a safetensors file, for the file page and the commit diff. The
 * file starts with a little-endian u64 N and N bytes of JSON that map each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data after the
 * header), plus an optional "__metadata__" object of strings. Every field is checked: known
 * dtype, shape within limits with no overflow, offsets that match the shape and lie inside
 * the file. */
#ifndef WEB_TENSORS_H
#define WEB_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hub_error.h"

#define WEB_TENSORS_MAX_HEADER_BYTES (100u << 20) /* the cap the safetensors format sets */
#define WEB_TENSORS_MAX_DIMS         8            /* dimensions of one tensor */
#define WEB_TENSORS_MAX_NAME_BYTES   1024         /* one tensor name */

struct web_tensor {
    char *name;    /* owned */
    char dtype[8]; /* "F32", "BF16", ... */
    size_t ndim;   /* 0 for a scalar */
    uint64_t shape[WEB_TENSORS_MAX_DIMS];
    uint64_t numel; /* product of shape, 1 for a scalar */
    uint64_t begin; /* data offset after the header, in bytes */
    uint64_t end;   /* one past the last byte */
};

struct web_tensors {
    struct web_tensor *items; /* sorted by name, with runs of digits compared as numbers */
    size_t count;
    uint64_t total_params; /* sum of numel */
    uint64_t header_bytes; /* N from the first 8 bytes */
    json_t *metadata;      /* the "__metadata__" object (owned), or NULL */
};

#define WEB_TENSORS_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0, 0, NULL                                                                        \
    }

/** Reads N from the first 8 bytes of a file of file_size bytes and checks it against
 * WEB_TENSORS_MAX_HEADER_BYTES and the file size. Returns 0, HUB_EINVAL (fewer than 8 bytes,
 * or N past the end of the file) or HUB_ETOOBIG. Any thread. */
int web_tensors_header_length(uint64_t *out, const unsigned char *first8, size_t len,
                              uint64_t file_size, struct hub_error *err);

/** Parses the header in data (len bytes from the start of the file: the 8 length bytes and
 * at least the N header bytes) of a file that is file_size bytes long in all. out is
 * initialised here and freed with web_tensors_dispose() on every path. Returns 0, HUB_EINVAL
 * naming the tensor and field that are wrong, HUB_ETOOBIG or HUB_ENOMEM. Any thread. */
int web_tensors_parse(struct web_tensors *out, const unsigned char *data, size_t len,
                      uint64_t file_size, struct hub_error *err);

/** Reads and parses the header of the open file fd (file_size bytes) with pread, so the
 * file position is unchanged. Returns what web_tensors_parse returns, or HUB_EIO. */
int web_tensors_read_fd(struct web_tensors *out, int fd, uint64_t file_size, struct hub_error *err);

/** Returns the bytes per element of dtype, or 0 when it is not a safetensors dtype. Any
 * thread. */
size_t web_tensors_dtype_size(const char *dtype);

/** Finds the tensor called name by binary search, or returns NULL. */
const struct web_tensor *web_tensors_find(const struct web_tensors *tensors, const char *name);

/** Frees what web_tensors_parse put in tensors and resets it. Accepts WEB_TENSORS_INIT. */
void web_tensors_dispose(struct web_tensors *tensors);

#endif
