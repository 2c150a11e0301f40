/* st: safetensors files. The reader keeps the file memory-mapped and validates the whole
 * header before it hands out any tensor. It checks length bounds, the JSON shape, known
 * dtypes, shape products without overflow and byte sizes equal to dtype size x element
 * count. The data offsets must tile the data area exactly: no holes, no overlaps and no
 * trailing bytes.
 * The writer lays files out as the format's reference writer does: tensors sorted by dtype
 * then name, __metadata__ first, header padded with spaces to a multiple of 8 bytes. */
#ifndef TR_ST_H
#define TR_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_error.h"

#define ST_MAX_DIMS 8
/* The header size limit of the format's reference reader (100 MB). */
#define ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)

/* In the order of the reference Dtype enum (increasing alignment), which the writer
 * sorts by. F4 and F6 are sub-byte types. */
enum st_dtype {
    ST_BOOL, ST_F4, ST_F6_E2M3, ST_F6_E3M2, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3,
    ST_F8_E8M0, ST_F8_E4M3FNUZ, ST_F8_E5M2FNUZ, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32,
    ST_U32, ST_F32, ST_C64, ST_F64, ST_I64, ST_U64, ST_NUM_DTYPES
};

/** Returns the dtype string of the format ("F32", "BF16" ...). */
const char *st_dtype_name(enum st_dtype dtype);
/** Returns the size of one element in bits (4 for F4, 6 for F6_*). */
size_t st_dtype_bits(enum st_dtype dtype);
/** Parses a dtype string; returns false when it is not a safetensors dtype. */
bool st_dtype_parse(const char *name, enum st_dtype *out);

struct st_tensor {
    const char *name;            /* owned by the st_file */
    enum st_dtype dtype;
    int ndim;                    /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS];
    size_t numel;                /* product of shape (1 for a scalar) */
    const void *data;            /* inside the mapping; may be unaligned for the dtype */
    size_t nbytes;
};

struct st_file;

/** Opens and memory-maps path and validates its header. *out is freed with st_close. */
int st_open(struct st_file **out, const char *path, struct tr_error *err);
/** Validates len bytes already in memory (label names them in errors). buf is borrowed
 * and must outlive *out. Used by tests and the fuzz target. */
int st_parse(struct st_file **out, const void *buf, size_t len, const char *label,
             struct tr_error *err);
void st_close(struct st_file *f);

size_t st_count(const struct st_file *f);
/** Returns tensor i (0 <= i < st_count) in file offset order; borrowed from f. */
const struct st_tensor *st_tensor_at(const struct st_file *f, size_t i);
/** Returns the tensor called name, or NULL. Borrowed from f. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);
/** Returns the __metadata__ string value for key, or NULL. Borrowed from f. */
const char *st_metadata_get(const struct st_file *f, const char *key);
/** Returns the path or label given at open. */
const char *st_label(const struct st_file *f);

/** Converts a F32, F16, BF16 or F64 tensor to n = t->numel floats in dst. Other dtypes are
 * an error naming the tensor. */
int st_tensor_to_f32(const struct st_tensor *t, float *dst, struct tr_error *err);

/* Writer. Tensors are given as F32 data and stored as F32, F16 (round to nearest even) or
 * BF16 (round to nearest even). */
struct st_writer;
struct st_writer *st_writer_new(struct tr_error *err);
void st_writer_free(struct st_writer *w);
/** Adds a tensor. data (numel floats) is borrowed and must stay valid until
 * st_writer_save returns. Duplicate names are an error. */
int st_writer_add(struct st_writer *w, const char *name, enum st_dtype dtype, int ndim,
                  const int64_t *shape, const float *data, struct tr_error *err);
/** Sets one string entry of __metadata__ (copied). */
int st_writer_set_metadata(struct st_writer *w, const char *key, const char *value,
                           struct tr_error *err);
/** Writes the file to path through path.tmp and rename, so a failure leaves any old file
 * in place. */
int st_writer_save(struct st_writer *w, const char *path, struct tr_error *err);

#endif
