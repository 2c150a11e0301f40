/* web_tensors: safetensors header parsing with bounds checks on every number. jansson parses
 * the JSON and rejects duplicate keys. Each tensor's byte range must match its dtype and shape,
 * and the ranges together must tile the data section, so every data byte belongs to exactly
 * one tensor. */
#include "web_tensors.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct web_tensors_dtype {
    const char *name;
    size_t bytes;
};

static const struct web_tensors_dtype web_tensors_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"F64", 8}, {"I64", 8}, {"U64", 8},
};

size_t web_tensors_dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof(web_tensors_dtypes) / sizeof(web_tensors_dtypes[0]); i++) {
        if (strcmp(dtype, web_tensors_dtypes[i].name) == 0)
            return web_tensors_dtypes[i].bytes;
    }
    return 0;
}

int web_tensors_header_length(uint64_t *out, const unsigned char *first8, size_t len,
                              uint64_t file_size, struct hub_error *err)
{
    uint64_t n = 0;

    *out = 0;
    if (len < 8 || file_size < 8)
        return hub_error_set(err, HUB_EINVAL,
                             "the file is %llu bytes, too short for a safetensors header",
                             (unsigned long long)file_size);
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | first8[i];
    if (n > WEB_TENSORS_MAX_HEADER_BYTES)
        return hub_error_set(err, HUB_ETOOBIG,
                             "the safetensors header is %llu bytes, over the limit of %u bytes",
                             (unsigned long long)n, WEB_TENSORS_MAX_HEADER_BYTES);
    if (n < 2 || n > file_size - 8)
        return hub_error_set(err, HUB_EINVAL,
                             "the safetensors header length %llu does not fit a file of %llu "
                             "bytes",
                             (unsigned long long)n, (unsigned long long)file_size);
    *out = n;
    return 0;
}

/* Compares names so that runs of digits compare by value: "layers.2" sorts before
 * "layers.10". */
static int web_tensors_name_cmp(const char *a, const char *b)
{
    while (*a != '\0' && *b != '\0') {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            const char *a_end = a;
            const char *b_end = b;
            size_t a_len;
            size_t b_len;
            int c;

            while (*a == '0' && a[1] >= '0' && a[1] <= '9')
                a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9')
                b++;
            a_end = a;
            b_end = b;
            while (*a_end >= '0' && *a_end <= '9')
                a_end++;
            while (*b_end >= '0' && *b_end <= '9')
                b_end++;
            a_len = (size_t)(a_end - a);
            b_len = (size_t)(b_end - b);
            if (a_len != b_len)
                return a_len < b_len ? -1 : 1;
            c = memcmp(a, b, a_len);
            if (c != 0)
                return c;
            a = a_end;
            b = b_end;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    if (*a == *b)
        return 0;
    return *a == '\0' ? -1 : 1;
}

static int web_tensors_sort_by_name(const void *a, const void *b)
{
    const struct web_tensor *ta = a;
    const struct web_tensor *tb = b;
    int c = web_tensors_name_cmp(ta->name, tb->name);

    return c != 0 ? c : strcmp(ta->name, tb->name);
}

static int web_tensors_sort_by_offset(const void *a, const void *b)
{
    const struct web_tensor *const *ta = a;
    const struct web_tensor *const *tb = b;

    if ((*ta)->begin != (*tb)->begin)
        return (*ta)->begin < (*tb)->begin ? -1 : 1;
    if ((*ta)->end != (*tb)->end)
        return (*ta)->end < (*tb)->end ? -1 : 1;
    return 0;
}

/* Reads a JSON integer in [0, 2^63) into *out. */
static bool web_tensors_json_u64(uint64_t *out, const json_t *value)
{
    json_int_t v;

    if (!json_is_integer(value))
        return false;
    v = json_integer_value(value);
    if (v < 0)
        return false;
    *out = (uint64_t)v;
    return true;
}

static int web_tensors_parse_entry(struct web_tensor *t, const char *name, const json_t *entry,
                                   struct hub_error *err)
{
    const json_t *dtype = json_object_get(entry, "dtype");
    const json_t *shape = json_object_get(entry, "shape");
    const json_t *offsets = json_object_get(entry, "data_offsets");
    size_t elem_bytes;
    uint64_t bytes;

    if (!json_is_object(entry))
        return hub_error_set(err, HUB_EINVAL, "tensor \"%.200s\" is not a JSON object", name);
    if (strlen(name) > WEB_TENSORS_MAX_NAME_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "a tensor name is over %d bytes",
                             WEB_TENSORS_MAX_NAME_BYTES);
    if (!json_is_string(dtype) || json_string_length(dtype) >= sizeof(t->dtype))
        return hub_error_set(err, HUB_EINVAL, "tensor \"%.200s\" has a missing or unknown dtype",
                             name);
    memcpy(t->dtype, json_string_value(dtype), json_string_length(dtype) + 1);
    elem_bytes = web_tensors_dtype_size(t->dtype);
    if (elem_bytes == 0)
        return hub_error_set(err, HUB_EINVAL, "tensor \"%.200s\" has the unknown dtype \"%s\"",
                             name, t->dtype);

    if (!json_is_array(shape))
        return hub_error_set(err, HUB_EINVAL, "tensor \"%.200s\" has no shape array", name);
    if (json_array_size(shape) > WEB_TENSORS_MAX_DIMS)
        return hub_error_set(err, HUB_ETOOBIG, "tensor \"%.200s\" has %zu dimensions, over %d",
                             name, json_array_size(shape), WEB_TENSORS_MAX_DIMS);
    t->ndim = json_array_size(shape);
    t->numel = 1;
    for (size_t i = 0; i < t->ndim; i++) {
        if (!web_tensors_json_u64(&t->shape[i], json_array_get(shape, i)))
            return hub_error_set(err, HUB_EINVAL,
                                 "tensor \"%.200s\" has a shape entry that is not a "
                                 "non-negative integer",
                                 name);
        if (__builtin_mul_overflow(t->numel, t->shape[i], &t->numel))
            return hub_error_set(err, HUB_EINVAL,
                                 "tensor \"%.200s\" has a shape whose "
                                 "element count overflows",
                                 name);
    }

    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        !web_tensors_json_u64(&t->begin, json_array_get(offsets, 0)) ||
        !web_tensors_json_u64(&t->end, json_array_get(offsets, 1)))
        return hub_error_set(err, HUB_EINVAL,
                             "tensor \"%.200s\" needs data_offsets as [begin, end] integers", name);
    if (t->end < t->begin)
        return hub_error_set(err, HUB_EINVAL, "tensor \"%.200s\" ends before it begins", name);
    if (__builtin_mul_overflow(t->numel, (uint64_t)elem_bytes, &bytes) ||
        bytes != t->end - t->begin)
        return hub_error_set(err, HUB_EINVAL,
                             "tensor \"%.200s\" has %llu data bytes, but dtype %s and its shape "
                             "need %llu",
                             name, (unsigned long long)(t->end - t->begin), t->dtype,
                             (unsigned long long)t->numel * elem_bytes);
    t->name = strdup(name);
    if (t->name == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot copy a tensor name");
    return 0;
}

/* Checks that the tensors' byte ranges tile [0, data_bytes) exactly. */
static int web_tensors_check_layout(const struct web_tensors *tensors, uint64_t data_bytes,
                                    struct hub_error *err)
{
    const struct web_tensor **by_offset = NULL;
    uint64_t next = 0;
    int rc = 0;

    if (tensors->count == 0) {
        if (data_bytes != 0)
            return hub_error_set(err, HUB_EINVAL, "the file has %llu data bytes but no tensors",
                                 (unsigned long long)data_bytes);
        return 0;
    }
    by_offset = calloc(tensors->count, sizeof(*by_offset));
    if (by_offset == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot sort %zu tensors", tensors->count);
    for (size_t i = 0; i < tensors->count; i++)
        by_offset[i] = &tensors->items[i];
    qsort(by_offset, tensors->count, sizeof(*by_offset), web_tensors_sort_by_offset);
    for (size_t i = 0; i < tensors->count; i++) {
        if (by_offset[i]->begin != next) {
            rc = hub_error_set(err, HUB_EINVAL,
                               "tensor \"%.200s\" starts at data byte %llu, expected %llu (a gap "
                               "or an overlap)",
                               by_offset[i]->name, (unsigned long long)by_offset[i]->begin,
                               (unsigned long long)next);
            goto out;
        }
        next = by_offset[i]->end;
    }
    if (next != data_bytes)
        rc = hub_error_set(err, HUB_EINVAL,
                           "the tensors cover %llu data bytes, but the file has %llu",
                           (unsigned long long)next, (unsigned long long)data_bytes);
out:
    free(by_offset);
    return rc;
}

static int web_tensors_parse_object(struct web_tensors *out, json_t *root, struct hub_error *err)
{
    const char *key;
    json_t *value;
    size_t n = 0;

    out->items = calloc(json_object_size(root) + 1, sizeof(*out->items));
    if (out->items == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %zu tensors",
                             json_object_size(root));
    json_object_foreach(root, key, value)
    {
        int rc;

        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(value))
                return hub_error_set(err, HUB_EINVAL, "__metadata__ is not a JSON object");
            out->metadata = json_incref(value);
            continue;
        }
        rc = web_tensors_parse_entry(&out->items[n], key, value, err);
        if (rc < 0) {
            free(out->items[n].name);
            out->items[n].name = NULL;
            out->count = n;
            return rc;
        }
        out->total_params += out->items[n].numel;
        n++;
    }
    out->count = n;
    return 0;
}

int web_tensors_parse(struct web_tensors *out, const unsigned char *data, size_t len,
                      uint64_t file_size, struct hub_error *err)
{
    json_t *root = NULL;
    json_error_t json_err;
    uint64_t n;
    int rc;

    *out = (struct web_tensors)WEB_TENSORS_INIT;
    rc = web_tensors_header_length(&n, data, len, file_size, err);
    if (rc < 0)
        return rc;
    if (len - 8 < n)
        return hub_error_set(err, HUB_EINVAL,
                             "only %zu of the %llu safetensors header bytes were read", len - 8,
                             (unsigned long long)n);
    out->header_bytes = n;
    root = json_loadb((const char *)data + 8, (size_t)n, JSON_REJECT_DUPLICATES, &json_err);
    if (root == NULL)
        return hub_error_set(err, HUB_EINVAL,
                             "the safetensors header is not valid JSON at byte %d: %s",
                             json_err.position, json_err.text);
    if (!json_is_object(root)) {
        rc = hub_error_set(err, HUB_EINVAL, "the safetensors header is not a JSON object");
        goto out;
    }
    rc = web_tensors_parse_object(out, root, err);
    if (rc < 0)
        goto out;
    rc = web_tensors_check_layout(out, file_size - 8 - n, err);
    if (rc < 0)
        goto out;
    qsort(out->items, out->count, sizeof(*out->items), web_tensors_sort_by_name);
out:
    json_decref(root);
    if (rc < 0)
        web_tensors_dispose(out);
    return rc;
}

static int web_tensors_pread_all(int fd, unsigned char *buf, size_t len, uint64_t offset,
                                 struct hub_error *err)
{
    size_t done = 0;

    while (done < len) {
        ssize_t got = pread(fd, buf + done, len - done, (off_t)(offset + done));

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return hub_error_set_errno(err, HUB_EIO, errno, "cannot read the safetensors header");
        if (got == 0)
            return hub_error_set(err, HUB_EINVAL, "the file ended inside its safetensors header");
        done += (size_t)got;
    }
    return 0;
}

int web_tensors_read_fd(struct web_tensors *out, int fd, uint64_t file_size, struct hub_error *err)
{
    unsigned char first8[8] = {0};
    unsigned char *buf = NULL;
    uint64_t n;
    int rc;

    *out = (struct web_tensors)WEB_TENSORS_INIT;
    if (file_size < 8)
        return web_tensors_header_length(&n, first8, 0, file_size, err);
    rc = web_tensors_pread_all(fd, first8, 8, 0, err);
    if (rc < 0)
        return rc;
    rc = web_tensors_header_length(&n, first8, 8, file_size, err);
    if (rc < 0)
        return rc;
    buf = malloc((size_t)n + 8);
    if (buf == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot allocate %llu bytes for a header",
                             (unsigned long long)n);
    memcpy(buf, first8, 8);
    rc = web_tensors_pread_all(fd, buf + 8, (size_t)n, 8, err);
    if (rc == 0)
        rc = web_tensors_parse(out, buf, (size_t)n + 8, file_size, err);
    free(buf);
    return rc;
}

const struct web_tensor *web_tensors_find(const struct web_tensors *tensors, const char *name)
{
    size_t lo = 0;
    size_t hi = tensors->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = web_tensors_name_cmp(name, tensors->items[mid].name);

        if (c == 0)
            c = strcmp(name, tensors->items[mid].name);
        if (c == 0)
            return &tensors->items[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void web_tensors_dispose(struct web_tensors *tensors)
{
    for (size_t i = 0; i < tensors->count; i++)
        free(tensors->items[i].name);
    free(tensors->items);
    json_decref(tensors->metadata);
    *tensors = (struct web_tensors)WEB_TENSORS_INIT;
}
