/* Tests for lfs_pointer (parse and format, with the edge cases git-lfs rejects) and
 * lfs_attributes (.gitattributes rules, default patterns, the size threshold, track lines). */
#include "harness.h"

#include "hub_limits.h"
#include "lfs_attributes.h"
#include "lfs_pointer.h"

#define OID "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
#define V1  "version https://git-lfs.github.com/spec/v1\n"

struct pointer_case {
    const char *name;
    const char *text;
    bool valid;
    uint64_t size;
};

static void test_pointer_cases(void)
{
    static const struct pointer_case cases[] = {
        {"canonical", V1 "oid sha256:" OID "\nsize 12345\n", true, 12345},
        {"legacy version",
         "version https://hawser.github.com/spec/v1\noid sha256:" OID "\nsize 1\n", true, 1},
        {"extension key", V1 "ext-0-foo sha256:" OID "\noid sha256:" OID "\nsize 7\n", true, 7},
        {"size zero", V1 "oid sha256:" OID "\nsize 0\n", true, 0},
        {"size max", V1 "oid sha256:" OID "\nsize 9223372036854775807\n", true,
         9223372036854775807ull},
        {"size over max", V1 "oid sha256:" OID "\nsize 9223372036854775808\n", false, 0},
        {"size 20 digits", V1 "oid sha256:" OID "\nsize 18446744073709551616\n", false, 0},
        {"negative size", V1 "oid sha256:" OID "\nsize -1\n", false, 0},
        {"plus size", V1 "oid sha256:" OID "\nsize +1\n", false, 0},
        {"no newline at end", V1 "oid sha256:" OID "\nsize 1", false, 0},
        {"crlf", "version https://git-lfs.github.com/spec/v1\r\noid sha256:" OID "\r\nsize 1\r\n",
         false, 0},
        {"missing size", V1 "oid sha256:" OID "\n", false, 0},
        {"missing oid", V1 "size 1\n", false, 0},
        {"unsorted keys", V1 "size 1\noid sha256:" OID "\n", false, 0},
        {"repeated key", V1 "oid sha256:" OID "\noid sha256:" OID "\nsize 1\n", false, 0},
        {"version not first", "oid sha256:" OID "\n" V1 "size 1\n", false, 0},
        {"unknown version", "version https://example.com/v2\noid sha256:" OID "\nsize 1\n", false,
         0},
        {"uppercase oid",
         V1 "oid sha256:4D7A214614AB2935C943F9E0FF69D22EADBB8F32B1258DAAA5E2CA24D17E2393\nsize 1\n",
         false, 0},
        {"short oid", V1 "oid sha256:4d7a\nsize 1\n", false, 0},
        {"other hash", V1 "oid sha1:" OID "\nsize 1\n", false, 0},
        {"empty", "", false, 0},
        {"blank line", V1 "\noid sha256:" OID "\nsize 1\n", false, 0},
        {"double space", V1 "oid  sha256:" OID "\nsize 1\n", false, 0},
        {"uppercase key", V1 "OID sha256:" OID "\nsize 1\n", false, 0},
        {"unknown key last", V1 "oid sha256:" OID "\nsize 1\nzzz 1\n", true, 1},
        {"line without value", V1 "oid sha256:" OID "\nsize 1\nzzz\n", false, 0},
        {"plain text", "hello world\n", false, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hub_error err = HUB_ERROR_INIT;
        struct lfs_pointer p = {{0}, 0};
        int rc = lfs_pointer_parse(&p, cases[i].text, strlen(cases[i].text), &err);

        if ((rc == 0) != cases[i].valid)
            printf("# case '%s': rc %d (%s)\n", cases[i].name, rc, err.msg);
        CHECK((rc == 0) == cases[i].valid);
        if (cases[i].valid && rc == 0) {
            CHECK_EQ_STR(p.oid, OID);
            CHECK(p.size == cases[i].size);
        }
    }
}

static void test_pointer_format_and_bounds(void)
{
    struct lfs_pointer p = {OID, 12345}, back;
    char buf[LFS_POINTER_MAX_BYTES + 8];
    size_t len;

    len = lfs_pointer_format(buf, sizeof(buf), &p);
    CHECK_EQ_STR(buf, V1 "oid sha256:" OID "\nsize 12345\n");
    CHECK_EQ_INT(len, strlen(buf));
    CHECK_EQ_INT(lfs_pointer_parse(&back, buf, len, NULL), 0);
    CHECK_EQ_INT(lfs_pointer_format(buf, len, &p), 0); /* no room for the NUL */
    memcpy(p.oid, "XYZ", 4);
    CHECK_EQ_INT(lfs_pointer_format(buf, sizeof(buf), &p), 0);

    /* The parser never reads past len: a valid pointer cut short is rejected. */
    char exact[] = V1 "oid sha256:" OID "\nsize 5\n";
    CHECK_EQ_INT(lfs_pointer_parse(&back, exact, strlen(exact) - 1, NULL), HUB_EINVAL);
    CHECK_EQ_INT(lfs_pointer_parse(&back, exact, strlen(exact), NULL), 0);

    /* Size limit: one byte below LFS_POINTER_MAX_BYTES is accepted, the limit itself not. */
    char big[LFS_POINTER_MAX_BYTES + 1];
    size_t base = strlen(exact);
    size_t pad = LFS_POINTER_MAX_BYTES - 1 - base - strlen("zz \n");

    memcpy(big, exact, base);
    memcpy(big + base, "zz ", 3);
    memset(big + base + 3, 'x', pad);
    big[base + 3 + pad] = '\n';
    CHECK_EQ_INT(lfs_pointer_parse(&back, big, LFS_POINTER_MAX_BYTES - 1, NULL), 0);
    memmove(big + base + 3 + 1, big + base + 3, pad + 1);
    big[base + 3] = 'x';
    CHECK_EQ_INT(lfs_pointer_parse(&back, big, LFS_POINTER_MAX_BYTES, NULL), HUB_EINVAL);
}

static void test_attributes(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct lfs_attributes *a = NULL;
    char line[256];
    static const char text[] = "# comment\n"
                               "*.bin filter=lfs diff=lfs merge=lfs -text\n"
                               "keep.bin -filter\n"
                               "/root.dat filter=lfs\n"
                               "deep/**/w.txt filter=lfs\n"
                               "\"quoted name.pt\" filter=lfs\n"
                               "data/raw[[:space:]]blob.dat filter=lfs\n"
                               "[attr]binary -diff -merge -text\n"
                               "*.md text\n";

    CHECK_EQ_INT(lfs_attributes_parse(&a, text, strlen(text), &err), 0);
    CHECK(lfs_attributes_match(a, "model.bin"));
    CHECK(lfs_attributes_match(a, "a/b/model.bin"));
    CHECK(!lfs_attributes_match(a, "keep.bin"));
    CHECK(lfs_attributes_match(a, "sub/keep.bin") == false);
    CHECK(lfs_attributes_match(a, "root.dat"));
    CHECK(!lfs_attributes_match(a, "sub/root.dat"));
    CHECK(lfs_attributes_match(a, "deep/w.txt"));
    CHECK(lfs_attributes_match(a, "deep/x/y/w.txt"));
    CHECK(!lfs_attributes_match(a, "other/w.txt"));
    CHECK(lfs_attributes_match(a, "quoted name.pt"));
    CHECK(lfs_attributes_match(a, "data/raw blob.dat"));
    CHECK(!lfs_attributes_match(a, "README.md"));
    lfs_attributes_free(a);

    /* defaults and the size threshold, at the limit and one past it */
    CHECK(lfs_attributes_path_is_lfs(NULL, "model.safetensors", 10));
    CHECK(lfs_attributes_path_is_lfs(NULL, "runs/events.out.tfevents.123", 10));
    CHECK(lfs_attributes_path_is_lfs(NULL, "saved_model/a/b/c", 10));
    CHECK(!lfs_attributes_path_is_lfs(NULL, "config.json", HUB_LFS_THRESHOLD_BYTES));
    CHECK(lfs_attributes_path_is_lfs(NULL, "config.json", HUB_LFS_THRESHOLD_BYTES + 1));

    CHECK(lfs_attributes_track_line(line, sizeof(line), "dir/a b[1].bin") > 0);
    CHECK_EQ_STR(line, "dir/a[[:space:]]b\\[1\\].bin filter=lfs diff=lfs merge=lfs -text\n");
    CHECK_EQ_INT(lfs_attributes_track_line(line, 10, "long-name.bin"), 0);
    CHECK_EQ_INT(lfs_attributes_parse(&a, line, strlen(line), &err), 0);
    CHECK(!lfs_attributes_match(a, "dir/a b[1].bin")); /* line was overwritten by the failed call */
    lfs_attributes_free(a);
    CHECK(lfs_attributes_track_line(line, sizeof(line), "dir/a b[1].bin") > 0);
    CHECK_EQ_INT(lfs_attributes_parse(&a, line, strlen(line), &err), 0);
    CHECK(lfs_attributes_match(a, "dir/a b[1].bin"));
    CHECK(!lfs_attributes_match(a, "dir/a b1.bin"));
    lfs_attributes_free(a);

    /* A pattern with many stars finishes (the step budget) and does not match. */
    static const char stars[] = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b filter=lfs\n";
    char path[HUB_MAX_PATH_BYTES + 1];
    memset(path, 'a', HUB_MAX_PATH_BYTES);
    path[HUB_MAX_PATH_BYTES] = '\0';
    CHECK_EQ_INT(lfs_attributes_parse(&a, stars, strlen(stars), &err), 0);
    CHECK(!lfs_attributes_match(a, path));
    lfs_attributes_free(a);

    /* size limit of the file itself */
    static char huge[HUB_MAX_GITATTRIBUTES_BYTES + 1];
    memset(huge, '\n', sizeof(huge));
    CHECK_EQ_INT(lfs_attributes_parse(&a, huge, HUB_MAX_GITATTRIBUTES_BYTES, &err), 0);
    lfs_attributes_free(a);
    CHECK_EQ_INT(lfs_attributes_parse(&a, huge, HUB_MAX_GITATTRIBUTES_BYTES + 1, &err),
                 HUB_ETOOBIG);
}

int main(void)
{
    test_pointer_cases();
    test_pointer_format_and_bounds();
    test_attributes();
    return test_finish();
}
