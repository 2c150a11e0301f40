/* st_write: the safetensors writer. Tensors are laid out as the format's reference writer
 * lays them out: by dtype in descending enum order, then by name. With the header padded
 * with spaces to a multiple of 8 bytes, every tensor then starts at a multiple of its
 * element size. */
#include "st.h"

/* Tensor data is little-endian in the format and is read and written as host floats. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader and writer assume a little-endian host"
#endif

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct st_writer_entry {
    char *name;
    enum st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const float *data;
};

struct st_writer {
    struct st_writer_entry *entries;
    size_t n, cap;
    json_t *metadata;
};

struct st_writer *st_writer_new(struct tr_error *err)
{
    struct st_writer *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        tr_error_set(err, "out of memory creating a safetensors writer");
        return NULL;
    }
    return w;
}

void st_writer_free(struct st_writer *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->entries[i].name);
    free(w->entries);
    json_decref(w->metadata);
    free(w);
}

int st_writer_add(struct st_writer *w, const char *name, enum st_dtype dtype, int ndim,
                  const int64_t *shape, const float *data, struct tr_error *err)
{
    struct st_writer_entry *e;
    size_t numel = 1;

    if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16)
        return tr_error_set(err, "tensor \"%s\": the writer stores F32, F16 or BF16, not %s",
                            name, st_dtype_name(dtype));
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return tr_error_set(err, "tensor \"%s\": %d dimensions, at most %d are supported", name,
                            ndim, ST_MAX_DIMS);
    if (strcmp(name, "__metadata__") == 0 || name[0] == '\0')
        return tr_error_set(err, "\"%s\" is not a valid tensor name", name);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || __builtin_mul_overflow(numel, (size_t)shape[d], &numel))
            return tr_error_set(err, "tensor \"%s\": invalid dimension %lld", name,
                                (long long)shape[d]);
    }
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->entries[i].name, name) == 0)
            return tr_error_set(err, "tensor \"%s\" was added twice", name);
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct st_writer_entry *grown = realloc(w->entries, cap * sizeof(*grown));

        if (grown == NULL)
            return tr_error_set(err, "out of memory adding tensor \"%s\"", name);
        w->entries = grown;
        w->cap = cap;
    }
    e = &w->entries[w->n];
    memset(e, 0, sizeof(*e));
    e->name = strdup(name);
    if (e->name == NULL)
        return tr_error_set(err, "out of memory adding tensor \"%s\"", name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        e->shape[d] = shape[d];
    e->numel = numel;
    e->data = data;
    w->n++;
    return 0;
}

int st_writer_set_metadata(struct st_writer *w, const char *key, const char *value,
                           struct tr_error *err)
{
    if (w->metadata == NULL)
        w->metadata = json_object();
    if (w->metadata == NULL || json_object_set_new(w->metadata, key, json_string(value)) < 0)
        return tr_error_set(err, "cannot set metadata \"%s\" (out of memory or not UTF-8)", key);
    return 0;
}

static int st_entry_cmp(const void *a, const void *b)
{
    const struct st_writer_entry *x = a, *y = b;

    if (x->dtype != y->dtype)
        return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Round to nearest even; NaN stays a quiet NaN with its sign. */
static uint16_t st_f32_to_bf16(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof(u));
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static uint16_t st_f32_to_f16(float f)
{
    uint32_t u, sign, mant;
    int exp;

    memcpy(&u, &f, sizeof(u));
    sign = (u >> 16) & 0x8000u;
    exp = (int)((u >> 23) & 0xff);
    mant = u & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    exp = exp - 127 + 15;
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        /* Subnormal or zero in half: shift the full mantissa and round to nearest even. */
        uint32_t full, shift, half_val, rem, halfway;

        if (exp < -10)
            return (uint16_t)sign;
        full = mant | 0x800000u;
        shift = (uint32_t)(14 - exp);
        half_val = full >> shift;
        rem = full & ((1u << shift) - 1);
        halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_val & 1)))
            half_val++;
        return (uint16_t)(sign | half_val);
    }
    {
        uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
        uint32_t rem = mant & 0x1fffu;

        /* A carry out of the mantissa rounds up into the exponent, which is correct. */
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
            h++;
        return (uint16_t)h;
    }
}

static int st_write_entry(FILE *fp, const struct st_writer_entry *e)
{
    uint16_t buf[1024];

    if (e->dtype == ST_F32)
        return fwrite(e->data, sizeof(float), e->numel, fp) == e->numel ? 0 : -1;
    for (size_t i = 0; i < e->numel; i += 1024) {
        size_t n = e->numel - i < 1024 ? e->numel - i : 1024;

        for (size_t j = 0; j < n; j++) {
            uint16_t h = e->dtype == ST_F16 ? st_f32_to_f16(e->data[i + j])
                                            : st_f32_to_bf16(e->data[i + j]);

            buf[j] = h;
        }
        if (fwrite(buf, sizeof(uint16_t), n, fp) != n)
            return -1;
    }
    return 0;
}

/* Builds the header text in *out (malloc'd), padded with spaces to a multiple of 8. */
static int st_writer_header(struct st_writer *w, char **out, size_t *len, struct tr_error *err)
{
    size_t offset = 0, n;
    char *text = NULL, *padded;

    /* The text is assembled entry by entry because the order of the keys matters:
     * __metadata__ first, then the tensors in offset order. */
    size_t cap = 64, used = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return tr_error_set(err, "out of memory writing the header");
    buf[used++] = '{';
    for (size_t i = 0; i <= w->n; i++) {
        json_t *key_json, *value = NULL;
        char *key_text, *value_text;
        size_t need;

        if (i == 0) {
            if (w->metadata == NULL)
                continue;
            key_json = json_string("__metadata__");
            value = json_incref(w->metadata);
        } else {
            const struct st_writer_entry *e = &w->entries[i - 1];
            json_t *shape = json_array();

            key_json = json_string(e->name);
            for (int d = 0; d < e->ndim; d++)
                json_array_append_new(shape, json_integer(e->shape[d]));
            n = e->numel * st_dtype_bits(e->dtype) / 8;
            value = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype_name(e->dtype), "shape",
                              shape, "data_offsets", (json_int_t)offset,
                              (json_int_t)(offset + n));
            offset += n;
        }
        key_text = key_json ? json_dumps(key_json, JSON_ENCODE_ANY) : NULL;
        value_text = value ? json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(key_json);
        json_decref(value);
        if (key_text == NULL || value_text == NULL) {
            free(key_text);
            free(value_text);
            free(buf);
            return tr_error_set(err, "cannot encode the header entry %zu (not UTF-8?)", i);
        }
        need = used + strlen(key_text) + strlen(value_text) + 4;
        if (need > cap) {
            char *grown;

            while (cap < need)
                cap *= 2;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                free(key_text);
                free(value_text);
                free(buf);
                return tr_error_set(err, "out of memory writing the header");
            }
            buf = grown;
        }
        if (used > 1)
            buf[used++] = ',';
        used += (size_t)sprintf(buf + used, "%s:%s", key_text, value_text);
        free(key_text);
        free(value_text);
    }
    n = used + 1;
    padded = malloc((n + 7) / 8 * 8);
    if (padded == NULL) {
        free(buf);
        return tr_error_set(err, "out of memory writing the header");
    }
    memcpy(padded, buf, used);
    padded[used] = '}';
    free(buf);
    text = padded;
    while (n % 8 != 0)
        text[n++] = ' ';
    *out = text;
    *len = n;
    return 0;
}

int st_writer_save(struct st_writer *w, const char *path, struct tr_error *err)
{
    char *header = NULL, *tmp = NULL;
    size_t header_len = 0;
    uint8_t len_bytes[8];
    FILE *fp = NULL;
    int rc = -1;

    qsort(w->entries, w->n, sizeof(*w->entries), st_entry_cmp);
    if (st_writer_header(w, &header, &header_len, err) < 0)
        return -1;
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (uint8_t)((uint64_t)header_len >> (8 * i));
    tmp = malloc(strlen(path) + 5);
    if (tmp == NULL) {
        tr_error_set(err, "out of memory writing %s", path);
        goto out;
    }
    sprintf(tmp, "%s.tmp", path);
    fp = fopen(tmp, "wb");
    if (fp == NULL) {
        tr_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fwrite(len_bytes, 1, 8, fp) != 8 || fwrite(header, 1, header_len, fp) != header_len)
        goto write_failed;
    for (size_t i = 0; i < w->n; i++) {
        if (st_write_entry(fp, &w->entries[i]) < 0)
            goto write_failed;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        goto write_failed;
    if (fclose(fp) != 0) {
        fp = NULL;
        goto write_failed;
    }
    fp = NULL;
    if (rename(tmp, path) < 0) {
        tr_error_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
    goto out;
write_failed:
    tr_error_set(err, "cannot write %s: %s", tmp, strerror(errno));
    if (fp != NULL)
        fclose(fp);
    fp = NULL;
    unlink(tmp);
out:
    free(header);
    free(tmp);
    return rc;
}
