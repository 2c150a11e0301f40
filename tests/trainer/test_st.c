/* safetensors reader and writer: round trips through the writer, the byte-exact example of
 * the format's README, and one rejected file per validation rule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "st.h"

/* Builds a file image from a header text and data_len zero bytes of data. */
static uint8_t *make_file(const char *header, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    uint8_t *buf = calloc(8 + h + data_len + 1, 1);

    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    *len = 8 + h + data_len;
    return buf;
}

/* Parses header + data_len bytes and returns the error message, or "" when it parsed. */
static const char *parse_header(const char *header, size_t data_len)
{
    static struct tr_error err;
    struct st_file *f = NULL;
    size_t len;
    uint8_t *buf = make_file(header, data_len, &len);

    memset(&err, 0, sizeof(err));
    if (st_parse(&f, buf, len, "test.safetensors", &err) == 0)
        err.msg[0] = '\0';
    st_close(f);
    free(buf);
    return err.msg;
}

static void check_readme_example(void)
{
    const char *header = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    struct tr_error err = {0};
    struct st_file *f = NULL;
    const struct st_tensor *t;
    size_t len;
    uint8_t *buf = make_file(header, 16, &len);

    CHECK_EQ_INT(len, 84);
    CHECK_EQ_INT(st_parse(&f, buf, len, "example", &err), 0);
    t = f ? st_find(f, "test") : NULL;
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK_EQ_INT(t->dtype, ST_I32);
        CHECK_EQ_INT(t->ndim, 2);
        CHECK_EQ_INT(t->numel, 4);
        CHECK_EQ_INT(t->nbytes, 16);
        CHECK((const uint8_t *)t->data == buf + 68);
    }
    st_close(f);
    free(buf);
}

static void check_rejections(void)
{
    struct tr_error err = {0};
    struct st_file *f = NULL;
    uint8_t small[4] = {0};
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};

    CHECK_EQ_INT(st_parse(&f, small, sizeof(small), "short", &err), -1);
    CHECK(strstr(err.msg, "too short") != NULL);
    CHECK_EQ_INT(st_parse(&f, huge, sizeof(huge), "huge", &err), -1);
    CHECK(strstr(err.msg, "over the limit") != NULL);
    huge[0] = 100;
    huge[1] = huge[2] = huge[3] = 0;
    CHECK_EQ_INT(st_parse(&f, huge, sizeof(huge), "past", &err), -1);
    CHECK(strstr(err.msg, "runs past the end") != NULL);

    CHECK(strstr(parse_header("[1]", 0), "does not start with") != NULL);
    CHECK(strstr(parse_header("{\"a\":", 0), "invalid JSON") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                              1), "unknown dtype") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                              4), "need 8") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
                              6), "\"b\"") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              8), "hole or an overlap") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                              5), "trailing") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[281474976710655,"
                              "281474976710655],\"data_offsets\":[0,4]}}", 4),
                 "overflows") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
                              4), "dimension 0") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              8), "invalid JSON") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                              "\"x\":1}}", 4), "exactly") != NULL);
    CHECK(strstr(parse_header("{\"__metadata__\":{\"k\":1}}", 0), "not a string") != NULL);
    CHECK(strstr(parse_header("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}",
                              2), "whole bytes") != NULL);
    /* A header padded with spaces, a scalar and a zero-element tensor are all valid. */
    CHECK_EQ_STR(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                              "\"z\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[4,4]}}"
                              "   ", 4), "");
}

static void check_round_trip(void)
{
    char dir[] = "/tmp/test_st_XXXXXX", path[64];
    float a[6] = {1.0f, -2.5f, 3.14159f, 0.0f, 65504.0f, 1e-6f}, back[6];
    float b[3] = {0.1f, -0.2f, 1e30f};
    int64_t shape_a[2] = {2, 3}, shape_b[1] = {3};
    struct tr_error err = {0};
    struct st_writer *w = st_writer_new(&err);
    struct st_file *f = NULL;
    const struct st_tensor *t;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/x.safetensors", dir);
    CHECK_EQ_INT(st_writer_add(w, "zeta", ST_F32, 2, shape_a, a, &err), 0);
    CHECK_EQ_INT(st_writer_add(w, "alpha", ST_BF16, 1, shape_b, b, &err), 0);
    CHECK_EQ_INT(st_writer_add(w, "half", ST_F16, 2, shape_a, a, &err), 0);
    CHECK_EQ_INT(st_writer_add(w, "zeta", ST_F32, 2, shape_a, a, &err), -1);
    CHECK(strstr(err.msg, "twice") != NULL);
    CHECK_EQ_INT(st_writer_set_metadata(w, "format", "pt", &err), 0);
    CHECK_EQ_INT(st_writer_save(w, path, &err), 0);
    st_writer_free(w);

    CHECK_EQ_INT(st_open(&f, path, &err), 0);
    if (f == NULL) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(st_count(f), 3);
    CHECK_EQ_STR(st_metadata_get(f, "format"), "pt");
    /* The reference order: F32 first, then BF16, then F16 (descending dtype). */
    CHECK_EQ_STR(st_tensor_at(f, 0)->name, "zeta");
    CHECK_EQ_STR(st_tensor_at(f, 1)->name, "alpha");
    CHECK_EQ_STR(st_tensor_at(f, 2)->name, "half");
    CHECK_EQ_INT(((const uint8_t *)st_tensor_at(f, 0)->data - (const uint8_t *)NULL) % 8, 0);
    t = st_find(f, "zeta");
    CHECK_EQ_INT(st_tensor_to_f32(t, back, &err), 0);
    CHECK(memcmp(back, a, sizeof(a)) == 0);
    t = st_find(f, "half");
    CHECK_EQ_INT(st_tensor_to_f32(t, back, &err), 0);
    CHECK_NEAR(back[2], 3.140625, 1e-6);
    CHECK_NEAR(back[4], 65504.0, 0.0);
    CHECK_NEAR(back[5], 1e-6, 1e-7);
    t = st_find(f, "alpha");
    CHECK_EQ_INT(st_tensor_to_f32(t, back, &err), 0);
    CHECK_NEAR(back[0], 0.10009765625, 1e-9);
    CHECK_NEAR(back[1], -0.2001953125, 1e-9);
    CHECK_NEAR(back[2] / 1e30, 1.0, 1e-2);
    st_close(f);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    check_readme_example();
    check_rejections();
    check_round_trip();
    return test_finish();
}
