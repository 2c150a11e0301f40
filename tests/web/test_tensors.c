/* test_tensors: safetensors header parsing on corpus files and on hand-made broken headers. */
#include "web_tensors.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* Builds a file image: 8 length bytes, the header text, then data_bytes zero bytes. */
static unsigned char *make_file(size_t *len, const char *header, size_t data_bytes)
{
    size_t n = strlen(header);
    unsigned char *buf = calloc(1, 8 + n + data_bytes);

    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    *len = 8 + n + data_bytes;
    return buf;
}

static int parse_header(struct web_tensors *out, const char *header, size_t data_bytes,
                        struct hub_error *err)
{
    size_t len;
    unsigned char *buf = make_file(&len, header, data_bytes);
    int rc = web_tensors_parse(out, buf, len, len, err);

    free(buf);
    return rc;
}

static void test_tensors_valid(void)
{
    struct web_tensors t = WEB_TENSORS_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    const char *header =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"layers.10.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"layers.2.w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[24,30]},"
        "\"scalar\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[30,38]}}";

    CHECK_EQ_INT(parse_header(&t, header, 38, &err), 0);
    CHECK_EQ_INT(t.count, 3);
    CHECK_EQ_INT(t.total_params, 10);
    if (t.count == 3) {
        CHECK_EQ_STR(t.items[0].name, "layers.2.w");
        CHECK_EQ_STR(t.items[1].name, "layers.10.w");
        CHECK_EQ_INT(t.items[2].ndim, 0);
        CHECK_EQ_INT(t.items[2].numel, 1);
    }
    CHECK(web_tensors_find(&t, "layers.10.w") != NULL);
    CHECK(web_tensors_find(&t, "missing") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(t.metadata, "format")), "pt");
    web_tensors_dispose(&t);
}

static void test_tensors_invalid(void)
{
    static const struct {
        const char *header;
        size_t data_bytes;
        int rc;
        const char *message_part;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, HUB_EINVAL, "F33"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, HUB_EINVAL,
         "need 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, HUB_EINVAL,
         "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, HUB_EINVAL,
         "ends before"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, HUB_EINVAL,
         "cover 4"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, HUB_EINVAL, "gap"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}", 1,
         HUB_EINVAL, "overflows"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
         HUB_ETOOBIG, "dimensions"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{}}", 1, HUB_EINVAL,
         "JSON"},
        {"[1, 2]", 0, HUB_EINVAL, "not a JSON object"},
        {"{\"__metadata__\":[]}", 0, HUB_EINVAL, "__metadata__"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, HUB_EINVAL, "data_offsets"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct web_tensors t = WEB_TENSORS_INIT;
        struct hub_error err = HUB_ERROR_INIT;

        CHECK_EQ_INT(parse_header(&t, cases[i].header, cases[i].data_bytes, &err), cases[i].rc);
        printf("# case %zu: %s\n", i, err.msg);
        CHECK(strstr(err.msg, cases[i].message_part) != NULL);
        CHECK_EQ_INT(t.count, 0);
        web_tensors_dispose(&t);
    }
}

static void test_tensors_header_length(void)
{
    unsigned char first8[8] = {0};
    struct hub_error err = HUB_ERROR_INIT;
    uint64_t n = 0;
    uint64_t max = WEB_TENSORS_MAX_HEADER_BYTES;

    for (int i = 0; i < 8; i++)
        first8[i] = (unsigned char)(max >> (8 * i));
    CHECK_EQ_INT(web_tensors_header_length(&n, first8, 8, max + 8, &err), 0);
    CHECK_EQ_INT(n, max);
    max++;
    for (int i = 0; i < 8; i++)
        first8[i] = (unsigned char)(max >> (8 * i));
    CHECK_EQ_INT(web_tensors_header_length(&n, first8, 8, max + 8, &err), HUB_ETOOBIG);
    CHECK_EQ_INT(web_tensors_header_length(&n, first8, 7, 100, &err), HUB_EINVAL);
    first8[0] = 50;
    memset(first8 + 1, 0, 7);
    CHECK_EQ_INT(web_tensors_header_length(&n, first8, 8, 57, &err), HUB_EINVAL);
    CHECK_EQ_INT(web_tensors_header_length(&n, first8, 8, 58, &err), 0);
}

static void test_tensors_corpus_file(const char *relative, uint64_t min_tensors)
{
    const char *corpus = getenv("ATELIER_CORPUS");
    char path[4096];
    struct web_tensors t = WEB_TENSORS_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    struct stat st;
    int fd;

    if (corpus == NULL) {
        printf("# ATELIER_CORPUS is not set, %s skipped\n", relative);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", corpus, relative);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(fstat(fd, &st), 0);
    CHECK_EQ_INT(web_tensors_read_fd(&t, fd, (uint64_t)st.st_size, &err), 0);
    printf("# %s: %zu tensors, %llu parameters, %s\n", relative, t.count,
           (unsigned long long)t.total_params, err.msg);
    CHECK(t.count >= min_tensors);
    CHECK(t.total_params > 0);
    web_tensors_dispose(&t);
    close(fd);
}

int main(void)
{
    test_tensors_valid();
    test_tensors_invalid();
    test_tensors_header_length();
    test_tensors_corpus_file("models/stories260K/model.safetensors", 40);
    test_tensors_corpus_file("adapters/smollm-135m-instruct-lora-qv-r16/adapter_model.safetensors",
                             4);
    test_tensors_corpus_file("adapters/gpt2-lora-causal-cattn-cproj-r8/adapter_model.safetensors",
                             4);
    return test_finish();
}
