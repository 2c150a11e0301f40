/* test_hub_parse: the pure parsers of the HTTP layer: request targets, Range headers, base64,
 * repo paths and the NDJSON commit body; and the server's setsockopt, which drops TCP_CORK.
 * No daemon, no database. */
#include "harness.h"
#include "hf_commit_parse.h"
#include "http_parse.h"
#include "hub_limits.h"
#include "hub_name.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_target_split_before_decode(void)
{
    struct http_target t;
    struct hub_error err = HUB_ERROR_INIT;
    const char *raw = "//api/models/alice//m1/tree/refs%2Fpr%2F1/a%20b?recursive=true&x=a+b&y";

    CHECK_EQ_INT(http_target_parse(&t, raw, strlen(raw), &err), 0);
    CHECK_EQ_INT(t.segment_count, 7);
    CHECK_EQ_STR(t.segments[0], "api");
    CHECK_EQ_STR(t.segments[3], "m1");
    CHECK_EQ_STR(t.segments[5], "refs/pr/1");
    CHECK_EQ_STR(t.segments[6], "a b");
    CHECK_EQ_STR(t.path, "//api/models/alice//m1/tree/refs%2Fpr%2F1/a%20b");
    CHECK_EQ_INT(t.param_count, 3);
    CHECK_EQ_STR(t.params[0].name, "recursive");
    CHECK_EQ_STR(t.params[0].value, "true");
    CHECK_EQ_STR(t.params[1].value, "a b");
    CHECK_EQ_STR(t.params[2].name, "y");
    CHECK_EQ_STR(t.params[2].value, "");
    http_target_dispose(&t);
}

static void test_target_rejects_bad_input(void)
{
    static const struct {
        const char *raw;
        int code;
    } cases[] = {
        {"/a/%00/b", HUB_EINVAL}, {"/a/%zz", HUB_EINVAL}, {"/a/%4", HUB_EINVAL},
        {"a/b", HUB_EINVAL},      {"", HUB_EINVAL},       {"/a?q=%00", HUB_EINVAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_target t;
        struct hub_error err = HUB_ERROR_INIT;

        CHECK_EQ_INT(http_target_parse(&t, cases[i].raw, strlen(cases[i].raw), &err),
                     cases[i].code);
        http_target_dispose(&t);
    }
}

static void test_target_limits(void)
{
    struct http_target t;
    struct hub_error err = HUB_ERROR_INIT;
    size_t n = HTTP_MAX_SEGMENTS;
    char *raw = malloc(2 * (n + 1) + 1);

    /* HTTP_MAX_SEGMENTS segments are accepted, one more is rejected. */
    for (size_t i = 0; i < n; i++)
        memcpy(raw + 2 * i, "/a", 2);
    raw[2 * n] = '\0';
    CHECK_EQ_INT(http_target_parse(&t, raw, strlen(raw), &err), 0);
    http_target_dispose(&t);
    strcat(raw, "/a");
    CHECK_EQ_INT(http_target_parse(&t, raw, strlen(raw), &err), HUB_ETOOBIG);
    http_target_dispose(&t);
    free(raw);
}

static void test_range_cases(void)
{
    static const struct {
        const char *header;
        uint64_t total;
        int result;
        uint64_t start, length;
    } cases[] = {
        {"bytes=0-0", 100, HTTP_RANGE_OK, 0, 1},
        {"bytes=10-19", 100, HTTP_RANGE_OK, 10, 10},
        {"bytes=90-", 100, HTTP_RANGE_OK, 90, 10},
        {"bytes=90-500", 100, HTTP_RANGE_OK, 90, 10},
        {"bytes=-10", 100, HTTP_RANGE_OK, 90, 10},
        {"bytes=-1000", 100, HTTP_RANGE_OK, 0, 100},
        {"bytes=100-", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=100-200", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 100, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-0", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5-4", 100, HTTP_RANGE_NONE, 0, 0},
        {"bytes=0-1,5-6", 100, HTTP_RANGE_NONE, 0, 0},
        {"items=0-1", 100, HTTP_RANGE_NONE, 0, 0},
        {"bytes=a-b", 100, HTTP_RANGE_NONE, 0, 0},
        {"bytes=4831838208-", 5368709120ull, HTTP_RANGE_OK, 4831838208ull, 536870912ull},
        {"bytes=5368709119-5368709119", 5368709120ull, HTTP_RANGE_OK, 5368709119ull, 1},
        {"bytes=99999999999999999999999-", 5368709120ull, HTTP_RANGE_UNSATISFIABLE, 0, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t start = 0, length = 0;
        int result = http_range_parse(&start, &length, cases[i].header, cases[i].total);

        CHECK_EQ_INT(result, cases[i].result);
        if (cases[i].result == HTTP_RANGE_OK) {
            CHECK_EQ_INT(start, cases[i].start);
            CHECK_EQ_INT(length, cases[i].length);
        }
    }
    CHECK_EQ_INT(http_range_parse(NULL, NULL, NULL, 10), HTTP_RANGE_NONE);
}

static void test_base64_decode(void)
{
    unsigned char out[16];

    CHECK_EQ_INT(http_base64_decode(out, "eyJhIjoxfQ==", 12), 7);
    CHECK(memcmp(out, "{\"a\":1}", 7) == 0);
    CHECK_EQ_INT(http_base64_decode(out, "eyJhIjoxfQ", 10), 7);
    CHECK_EQ_INT(http_base64_decode(out, "", 0), 0);
    CHECK_EQ_INT(http_base64_decode(out, "ey*h", 4), -1);
    CHECK_EQ_INT(http_base64_decode(out, "e===", 4), -1);
    CHECK_EQ_INT(http_base64_decode(out, "ab=c", 4), -1);
}

static void test_path_check(void)
{
    static const struct {
        const char *path;
        int code;
    } cases[] = {
        {"config.json", 0},    {"onnx/model.onnx", 0},      {"..a/b..", 0},
        {"", HUB_EINVAL},      {"/etc/passwd", HUB_EINVAL}, {"a/../b", HUB_EINVAL},
        {"..", HUB_EINVAL},    {"./a", HUB_EINVAL},         {"a//b", HUB_EINVAL},
        {"a/", HUB_EINVAL},    {"a\\b", HUB_EINVAL},        {"a\tb", HUB_EINVAL},
        {"a\x7f", HUB_EINVAL},
    };
    struct hub_error err = HUB_ERROR_INIT;
    char *longest = malloc(HUB_MAX_PATH_BYTES + 2);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_EQ_INT(hf_path_check(cases[i].path, &err), cases[i].code);
    memset(longest, 'a', HUB_MAX_PATH_BYTES);
    longest[HUB_MAX_PATH_BYTES] = '\0';
    CHECK_EQ_INT(hf_path_check(longest, &err), 0);
    longest[HUB_MAX_PATH_BYTES] = 'a';
    longest[HUB_MAX_PATH_BYTES + 1] = '\0';
    CHECK_EQ_INT(hf_path_check(longest, &err), HUB_ETOOBIG);
    free(longest);
    CHECK_EQ_INT(hf_path_check("caf\xc3\xa9.txt", &err), 0);
    CHECK_EQ_INT(hf_path_check("caf\xe9.txt", &err), HUB_EINVAL);
    CHECK_EQ_INT(hf_path_check("\xc0\xaf", &err), HUB_EINVAL); /* overlong '/' */
}

static void test_path_segment_limit(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    char path[2 * (HUB_MAX_PATH_SEGMENTS + 1)];
    char rule[96];

    /* "a/a/.../a" with HUB_MAX_PATH_SEGMENTS segments, then one more. */
    for (size_t i = 0; i < HUB_MAX_PATH_SEGMENTS; i++)
        memcpy(path + 2 * i, "a/", 2);
    path[2 * HUB_MAX_PATH_SEGMENTS - 1] = '\0';
    CHECK_EQ_INT(hf_path_check(path, &err), 0);
    path[2 * HUB_MAX_PATH_SEGMENTS - 1] = '/';
    path[2 * HUB_MAX_PATH_SEGMENTS] = 'a';
    path[2 * HUB_MAX_PATH_SEGMENTS + 1] = '\0';
    CHECK_EQ_INT(hf_path_check(path, &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "more than 200 segments") != NULL);
    CHECK_EQ_INT(hf_path_rule(path, rule, sizeof(rule)), HUB_EINVAL);
    CHECK_EQ_STR(rule, "more than 200 segments between slashes");
}

static void test_path_rule_text(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    char rule[96];

    CHECK_EQ_INT(hf_path_rule("a\\b", rule, sizeof(rule)), HUB_EINVAL);
    CHECK_EQ_STR(rule, "contains a backslash");
    CHECK_EQ_INT(hf_path_rule("a\nb", rule, sizeof(rule)), HUB_EINVAL);
    CHECK_EQ_STR(rule, "contains control character 0x0a");
    CHECK_EQ_INT(hf_path_rule("caf\xe9.txt", rule, sizeof(rule)), HUB_EINVAL);
    CHECK_EQ_STR(rule, "is not valid UTF-8");
    CHECK_EQ_INT(hf_path_rule("ok/file.txt", rule, sizeof(rule)), 0);
    /* hf_path_check keeps its messages, which name the path. */
    CHECK_EQ_INT(hf_path_check("a\\b", &err), HUB_EINVAL);
    CHECK_EQ_STR(err.msg, "invalid path 'a\\b': contains a backslash");
    CHECK_EQ_INT(hf_path_check("", &err), HUB_EINVAL);
    CHECK_EQ_STR(err.msg, "invalid path: empty");
}

static void test_ref_name_utf8(void)
{
    struct hub_error err = HUB_ERROR_INIT;

    CHECK_EQ_INT(hub_branch_name_check("caf\xc3\xa9", &err), 0);
    CHECK_EQ_INT(hub_branch_name_check("caf\xe9", &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "a branch name must be UTF-8") != NULL);
    CHECK_EQ_INT(hub_tag_name_check("v1-\xe9", &err), HUB_EINVAL);
    CHECK(strstr(err.msg, "a tag name must be UTF-8") != NULL);
}

static int feed_all(struct hf_commit_parser *p, const char *body, size_t chunk,
                    struct hub_error *err)
{
    size_t len = strlen(body);
    int rc = 0;

    for (size_t off = 0; rc == 0 && off < len; off += chunk)
        rc = hf_commit_parser_feed(p, body + off, len - off < chunk ? len - off : chunk, err);
    if (rc == 0)
        rc = hf_commit_parser_finish(p, err);
    return rc;
}

static void test_commit_parse_all_kinds(void)
{
    const char *body =
        "{\"key\":\"header\",\"value\":{\"summary\":\"Add\",\"description\":\"more\","
        "\"parentCommit\":\"0123456789abcdef0123456789abcdef01234567\"}}\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"config.json\",\"content\":\"eyJhIjoxfQ==\","
        "\"encoding\":\"base64\"}}\r\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"a.txt\",\"content\":\"hi\"}}\n"
        "\n"
        "{\"key\":\"lfsFile\",\"value\":{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":"
        "\"87976fd1b5e4c1c79c58a7cd2bb7ab6b2cfb1d4f8e0f9d3ef6b4d1b5d4f8e05b\",\"size\":5000}}\n"
        "{\"key\":\"deletedFile\",\"value\":{\"path\":\"old.txt\"}}\n"
        "{\"key\":\"deletedFolder\",\"value\":{\"path\":\"logs/\"}}";
    struct hf_commit_limits limits = {1024, 10};
    size_t chunks[] = {1, 7, 4096};

    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        struct hf_commit_parser p;
        struct hub_error err = HUB_ERROR_INIT;

        hf_commit_parser_init(&p, &limits);
        CHECK_EQ_INT(feed_all(&p, body, chunks[c], &err), 0);
        CHECK_EQ_STR(p.summary, "Add");
        CHECK_EQ_STR(p.description, "more");
        CHECK_EQ_STR(p.parent, "0123456789abcdef0123456789abcdef01234567");
        CHECK_EQ_INT(p.op_count, 5);
        if (p.op_count == 5) {
            CHECK_EQ_INT(p.ops[0].kind, HF_OP_FILE);
            CHECK_EQ_INT(p.ops[0].len, 7);
            CHECK(memcmp(p.ops[0].data, "{\"a\":1}", 7) == 0);
            CHECK_EQ_INT(p.ops[1].len, 2);
            CHECK_EQ_INT(p.ops[2].kind, HF_OP_LFS);
            CHECK_EQ_INT(p.ops[2].lfs_size, 5000);
            CHECK(p.ops[2].has_size);
            CHECK_EQ_INT(p.ops[3].kind, HF_OP_DELETE_FILE);
            CHECK_EQ_INT(p.ops[4].kind, HF_OP_DELETE_FOLDER);
            CHECK_EQ_STR(p.ops[4].path, "logs");
        }
        hf_commit_parser_dispose(&p);
    }
}

static void test_commit_parse_errors(void)
{
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"", HUB_EINVAL},
        {"{\"key\":\"file\",\"value\":{\"path\":\"a\",\"content\":\"x\"}}", HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{}}\n{not json}", HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{}}\n{\"key\":\"file\",\"value\":{\"path\":\"../a\","
         "\"content\":\"x\"}}",
         HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{}}\n{\"key\":\"file\",\"value\":{\"path\":\"a\","
         "\"content\":\"@@@@\",\"encoding\":\"base64\"}}",
         HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{}}\n{\"key\":\"lfsFile\",\"value\":{\"path\":\"a\","
         "\"oid\":\"XYZ\"}}",
         HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{}}\n{\"key\":\"rename\",\"value\":{\"path\":\"a\"}}",
         HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{\"parentCommit\":\"abc\"}}", HUB_EINVAL},
        {"{\"key\":\"header\",\"value\":{}}\n{\"key\":\"file\",\"value\":{\"path\":\"a\","
         "\"content\":\"xxxxxxxxxxxxxxxxx\"}}",
         HUB_ETOOBIG},
        {"{\"key\":\"header\",\"value\":{}}\n{\"key\":\"file\",\"value\":{\"path\":\"b\","
         "\"oldPath\":\"a\",\"content\":\"x\"}}",
         HUB_EINVAL},
    };
    struct hf_commit_limits limits = {16, 10};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hf_commit_parser p;
        struct hub_error err = HUB_ERROR_INIT;

        hf_commit_parser_init(&p, &limits);
        CHECK_EQ_INT(feed_all(&p, cases[i].body, 5, &err), cases[i].code);
        hf_commit_parser_dispose(&p);
    }
}

static void test_commit_parse_operation_limit(void)
{
    struct hf_commit_limits limits = {16, 2};
    const char *op = "{\"key\":\"deletedFile\",\"value\":{\"path\":\"a\"}}\n";
    char body[512];
    struct hf_commit_parser p;
    struct hub_error err = HUB_ERROR_INIT;

    /* Two operations are the limit and pass; a third is rejected. */
    snprintf(body, sizeof(body), "{\"key\":\"header\",\"value\":{}}\n%s%s", op, op);
    hf_commit_parser_init(&p, &limits);
    CHECK_EQ_INT(feed_all(&p, body, 64, &err), 0);
    hf_commit_parser_dispose(&p);
    strcat(body, op);
    hf_commit_parser_init(&p, &limits);
    CHECK_EQ_INT(feed_all(&p, body, 64, &err), HUB_ETOOBIG);
    hf_commit_parser_dispose(&p);
}

/* server/http_server.c defines setsockopt so that libmicrohttpd cannot cork a connection
 * (downloads ran at 0.62 of nginx's rate with the cork). Linking the server library brings that
 * definition in here too: a cork request succeeds but leaves the socket uncorked, and other
 * options still reach the kernel. */
static void test_setsockopt_drops_cork(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1, got = -1;
    socklen_t len = sizeof(got);

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)), 0);
    CHECK_EQ_INT(getsockopt(fd, IPPROTO_TCP, TCP_CORK, &got, &len), 0);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), 0);
    got = -1;
    len = sizeof(got);
    CHECK_EQ_INT(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &got, &len), 0);
    CHECK_EQ_INT(got, 1);
    close(fd);
}

/* The texts of libmicrohttpd 0.9.75: a client gone mid-reply is not a server problem. */
static void test_mhd_client_gone(void)
{
    CHECK(http_mhd_message_is_client_gone(
        "Failed to send the chunked response body for the request for `/api/jobs/13/events'. "
        "Error: The connection was forcibly closed by remote peer\n"));
    CHECK(http_mhd_message_is_client_gone(
        "Failed to send the response body for the request for `/alice/m/resolve/main/x.bin'. "
        "Error: The connection was forcibly closed by remote peer\n"));
    CHECK(http_mhd_message_is_client_gone(
        "Failed to send the chunked response body for the request for `/api/jobs/13/events'. "
        "Error: The socket is no longer available for sending\n"));
    CHECK(!http_mhd_message_is_client_gone(
        "Failed to send the response body for the request for `/x'. Error: Not enough memory\n"));
    CHECK(!http_mhd_message_is_client_gone("Connection was closed by remote side with "
                                           "incomplete request.\n"));
    CHECK(!http_mhd_message_is_client_gone(""));
}

int main(void)
{
    test_target_split_before_decode();
    test_target_rejects_bad_input();
    test_target_limits();
    test_range_cases();
    test_base64_decode();
    test_path_check();
    test_path_segment_limit();
    test_path_rule_text();
    test_ref_name_utf8();
    test_commit_parse_all_kinds();
    test_commit_parse_errors();
    test_commit_parse_operation_limit();
    test_setsockopt_drops_cork();
    test_mhd_client_gone();
    return test_finish();
}
