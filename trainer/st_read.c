/* st_read: the safetensors reader. st_open maps the file read-only, and st_parse validates
 * the header with the rules of the format's reference reader. Tensors sorted by offset must
 * tile the data area exactly, and every byte size must equal the element count times the
 * dtype size. Every size is checked for overflow. */
#include "st.h"

/* Tensor data is little-endian in the format and is read and written as host floats. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader and writer assume a little-endian host"
#endif

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The JSON schema of the format bounds every size and offset to 48 bits. */
#define ST_MAX_OFFSET ((1ull << 48) - 1)

struct st_file {
    char *label;
    void *map;               /* NULL when the buffer is borrowed (st_parse) */
    size_t map_bytes;
    struct st_tensor *tensors;
    size_t n;
    char **meta_keys, **meta_values;
    size_t n_meta;
};

static const struct {
    const char *name;
    size_t bits;
} st_dtypes[ST_NUM_DTYPES] = {
    [ST_BOOL] = {"BOOL", 8},        [ST_F4] = {"F4", 4},
    [ST_F6_E2M3] = {"F6_E2M3", 6},  [ST_F6_E3M2] = {"F6_E3M2", 6},
    [ST_U8] = {"U8", 8},            [ST_I8] = {"I8", 8},
    [ST_F8_E5M2] = {"F8_E5M2", 8},  [ST_F8_E4M3] = {"F8_E4M3", 8},
    [ST_F8_E8M0] = {"F8_E8M0", 8},  [ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [ST_I16] = {"I16", 16},         [ST_U16] = {"U16", 16},
    [ST_F16] = {"F16", 16},         [ST_BF16] = {"BF16", 16},
    [ST_I32] = {"I32", 32},         [ST_U32] = {"U32", 32},
    [ST_F32] = {"F32", 32},         [ST_C64] = {"C64", 64},
    [ST_F64] = {"F64", 64},         [ST_I64] = {"I64", 64},
    [ST_U64] = {"U64", 64},
};

const char *st_dtype_name(enum st_dtype dtype)
{
    return (unsigned)dtype < ST_NUM_DTYPES ? st_dtypes[dtype].name : "?";
}

size_t st_dtype_bits(enum st_dtype dtype)
{
    return (unsigned)dtype < ST_NUM_DTYPES ? st_dtypes[dtype].bits : 0;
}

bool st_dtype_parse(const char *name, enum st_dtype *out)
{
    for (int i = 0; i < ST_NUM_DTYPES; i++) {
        if (strcmp(name, st_dtypes[i].name) == 0) {
            *out = (enum st_dtype)i;
            return true;
        }
    }
    return false;
}

void st_close(struct st_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        free((char *)f->tensors[i].name);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->tensors);
    if (f->map != NULL)
        munmap(f->map, f->map_bytes);
    free(f->label);
    free(f);
}

/* Reads a JSON integer in [0, ST_MAX_OFFSET] into *out; false when v is anything else. */
static bool st_json_size(const json_t *v, uint64_t *out)
{
    json_int_t x;

    if (!json_is_integer(v))
        return false;
    x = json_integer_value(v);
    if (x < 0 || (uint64_t)x > ST_MAX_OFFSET)
        return false;
    *out = (uint64_t)x;
    return true;
}

static int st_parse_metadata(struct st_file *f, const json_t *meta, struct tr_error *err)
{
    const char *key;
    json_t *value;
    size_t n = json_object_size(meta);

    if (!json_is_object(meta))
        return tr_error_set(err, "%s: __metadata__ is not a JSON object", f->label);
    f->meta_keys = calloc(n + 1, sizeof(char *));
    f->meta_values = calloc(n + 1, sizeof(char *));
    if (f->meta_keys == NULL || f->meta_values == NULL)
        return tr_error_set(err, "%s: out of memory reading __metadata__", f->label);
    json_object_foreach((json_t *)meta, key, value) {
        if (!json_is_string(value))
            return tr_error_set(err, "%s: __metadata__ value of \"%s\" is not a string",
                                f->label, key);
        f->meta_keys[f->n_meta] = strdup(key);
        f->meta_values[f->n_meta] = strdup(json_string_value(value));
        f->n_meta++;
        if (f->meta_keys[f->n_meta - 1] == NULL || f->meta_values[f->n_meta - 1] == NULL)
            return tr_error_set(err, "%s: out of memory reading __metadata__", f->label);
    }
    return 0;
}

/* Fills t from the header entry of one tensor; begin/end are offsets in the data area. */
static int st_parse_entry(struct st_file *f, const char *name, const json_t *entry,
                          struct st_tensor *t, uint64_t *begin, uint64_t *end,
                          struct tr_error *err)
{
    const json_t *dtype = json_object_get(entry, "dtype");
    const json_t *shape = json_object_get(entry, "shape");
    const json_t *offsets = json_object_get(entry, "data_offsets");
    uint64_t numel = 1, bits;

    if (!json_is_object(entry) || json_object_size(entry) != 3 || !json_is_string(dtype)
        || !json_is_array(shape) || !json_is_array(offsets) || json_array_size(offsets) != 2)
        return tr_error_set(err, "%s: tensor \"%s\": the entry must have exactly dtype, shape "
                            "and data_offsets [begin, end]", f->label, name);
    if (!st_dtype_parse(json_string_value(dtype), &t->dtype))
        return tr_error_set(err, "%s: tensor \"%s\": unknown dtype \"%s\"", f->label, name,
                            json_string_value(dtype));
    if (json_array_size(shape) > ST_MAX_DIMS)
        return tr_error_set(err, "%s: tensor \"%s\": %zu dimensions, at most %d are supported",
                            f->label, name, json_array_size(shape), ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    for (int d = 0; d < t->ndim; d++) {
        uint64_t dim;

        if (!st_json_size(json_array_get(shape, (size_t)d), &dim))
            return tr_error_set(err, "%s: tensor \"%s\": dimension %d is not an integer in "
                                "[0, 2^48)", f->label, name, d);
        t->shape[d] = (int64_t)dim;
        if (__builtin_mul_overflow(numel, dim, &numel))
            return tr_error_set(err, "%s: tensor \"%s\": the shape's element count overflows",
                                f->label, name);
    }
    if (!st_json_size(json_array_get(offsets, 0), begin)
        || !st_json_size(json_array_get(offsets, 1), end) || *end < *begin)
        return tr_error_set(err, "%s: tensor \"%s\": data_offsets must be integers with "
                            "0 <= begin <= end < 2^48", f->label, name);
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_bits(t->dtype), &bits))
        return tr_error_set(err, "%s: tensor \"%s\": the byte size overflows", f->label, name);
    if (bits % 8 != 0)
        return tr_error_set(err, "%s: tensor \"%s\": %llu elements of %s do not fill whole "
                            "bytes", f->label, name, (unsigned long long)numel,
                            st_dtype_name(t->dtype));
    if (*end - *begin != bits / 8)
        return tr_error_set(err, "%s: tensor \"%s\": data_offsets span %llu bytes but %s x "
                            "%llu elements need %llu", f->label, name,
                            (unsigned long long)(*end - *begin), st_dtype_name(t->dtype),
                            (unsigned long long)numel, (unsigned long long)(bits / 8));
    if (numel > SIZE_MAX)
        return tr_error_set(err, "%s: tensor \"%s\" is too large for this machine", f->label,
                            name);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(*end - *begin);
    return 0;
}

struct st_span {
    uint64_t begin, end;
    size_t index;
};

static int st_span_cmp(const void *a, const void *b)
{
    const struct st_span *x = a, *y = b;

    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* Parses the header object and checks that the tensors tile data_bytes exactly. */
static int st_parse_header(struct st_file *f, json_t *root, const uint8_t *data,
                           uint64_t data_bytes, struct tr_error *err)
{
    const char *key;
    json_t *value;
    struct st_span *spans = NULL;
    struct st_tensor *sorted = NULL;
    size_t n = 0, cap = json_object_size(root);
    uint64_t expected = 0;
    int rc = -1;

    f->tensors = calloc(cap + 1, sizeof(*f->tensors));
    spans = calloc(cap + 1, sizeof(*spans));
    if (f->tensors == NULL || spans == NULL) {
        tr_error_set(err, "%s: out of memory reading the header", f->label);
        goto out;
    }
    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            if (st_parse_metadata(f, value, err) < 0)
                goto out;
            continue;
        }
        f->tensors[n].name = strdup(key);
        f->n = n + 1;
        if (f->tensors[n].name == NULL) {
            tr_error_set(err, "%s: out of memory reading the header", f->label);
            goto out;
        }
        if (st_parse_entry(f, key, value, &f->tensors[n], &spans[n].begin, &spans[n].end,
                           err) < 0)
            goto out;
        spans[n].index = n;
        n++;
    }
    qsort(spans, n, sizeof(*spans), st_span_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct st_tensor *t = &f->tensors[spans[i].index];

        if (spans[i].begin != expected) {
            tr_error_set(err, "%s: tensor \"%s\" starts at data offset %llu but the previous "
                         "tensor ends at %llu (a hole or an overlap)", f->label, t->name,
                         (unsigned long long)spans[i].begin, (unsigned long long)expected);
            goto out;
        }
        expected = spans[i].end;
    }
    if (expected != data_bytes) {
        tr_error_set(err, "%s: the tensors cover %llu bytes of data but the file has %llu "
                     "(truncated or trailing bytes)", f->label, (unsigned long long)expected,
                     (unsigned long long)data_bytes);
        goto out;
    }
    /* Keep the tensors in offset order and point them into the data area. */
    sorted = calloc(n + 1, sizeof(*sorted));
    if (sorted == NULL) {
        tr_error_set(err, "%s: out of memory reading the header", f->label);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i] = f->tensors[spans[i].index];
        sorted[i].data = data + spans[i].begin;
    }
    free(f->tensors);
    f->tensors = sorted;
    rc = 0;
out:
    free(spans);
    return rc;
}

int st_parse(struct st_file **out, const void *buf, size_t len, const char *label,
             struct tr_error *err)
{
    const uint8_t *bytes = buf;
    struct st_file *f = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    uint64_t header_bytes = 0, data_start;
    int rc = -1;

    *out = NULL;
    f = calloc(1, sizeof(*f));
    if (f == NULL || (f->label = strdup(label != NULL ? label : "safetensors")) == NULL) {
        tr_error_set(err, "out of memory opening %s", label);
        goto out;
    }
    if (len < 8) {
        tr_error_set(err, "%s: %zu bytes is too short for a safetensors file (the header "
                     "length alone takes 8)", f->label, len);
        goto out;
    }
    for (int i = 7; i >= 0; i--)
        header_bytes = (header_bytes << 8) | bytes[i];
    if (header_bytes > ST_MAX_HEADER_BYTES) {
        tr_error_set(err, "%s: header length %llu is over the limit of %u bytes", f->label,
                     (unsigned long long)header_bytes, ST_MAX_HEADER_BYTES);
        goto out;
    }
    data_start = 8 + header_bytes;
    if (data_start > len) {
        tr_error_set(err, "%s: header length %llu runs past the end of the %zu-byte file",
                     f->label, (unsigned long long)header_bytes, len);
        goto out;
    }
    if (header_bytes == 0 || bytes[8] != '{') {
        tr_error_set(err, "%s: the header does not start with '{'", f->label);
        goto out;
    }
    root = json_loadb((const char *)bytes + 8, (size_t)header_bytes, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (root == NULL) {
        tr_error_set(err, "%s: invalid JSON header at byte %d: %s", f->label, jerr.position,
                     jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        tr_error_set(err, "%s: the JSON header is not an object", f->label);
        goto out;
    }
    if (st_parse_header(f, root, bytes + data_start, len - data_start, err) < 0)
        goto out;
    *out = f;
    f = NULL;
    rc = 0;
out:
    json_decref(root);
    st_close(f);
    return rc;
}

int st_open(struct st_file **out, const char *path, struct tr_error *err)
{
    struct stat sb;
    void *map = NULL;
    size_t len;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tr_error_set(err, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tr_error_set(err, "%s is not a regular file", path);
    }
    len = (size_t)sb.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = errno;
            close(fd);
            return tr_error_set(err, "cannot map %s: %s", path, strerror(rc));
        }
    }
    close(fd);
    rc = st_parse(out, map != NULL ? map : "", len, path, err);
    if (rc < 0) {
        if (map != NULL)
            munmap(map, len);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_bytes = len;
    return 0;
}

size_t st_count(const struct st_file *f)
{
    return f->n;
}

const struct st_tensor *st_tensor_at(const struct st_file *f, size_t i)
{
    return i < f->n ? &f->tensors[i] : NULL;
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    }
    return NULL;
}

const char *st_metadata_get(const struct st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++) {
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    }
    return NULL;
}

const char *st_label(const struct st_file *f)
{
    return f->label;
}

static float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    float f;

    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24, exact in float. */
        f = (float)mant * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof(f));
    return f;
}

int st_tensor_to_f32(const struct st_tensor *t, float *dst, struct tr_error *err)
{
    const uint8_t *src = t->data;

    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, src, t->numel * sizeof(float));
        return 0;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));

            if (t->dtype == ST_F16) {
                dst[i] = st_f16_to_f32(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;

                memcpy(&dst[i], &bits, sizeof(float));
            }
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < t->numel; i++) {
            double d;

            memcpy(&d, src + 8 * i, sizeof(d));
            dst[i] = (float)d;
        }
        return 0;
    default:
        return tr_error_set(err, "tensor \"%s\" has dtype %s; only F32, F16, BF16 and F64 "
                            "can be read as floats", t->name, st_dtype_name(t->dtype));
    }
}
