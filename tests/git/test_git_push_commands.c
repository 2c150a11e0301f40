/* test_git_push_commands: the parser of the ref update commands at the start of a push body
 * and the receive-pack result that rejects them. */
#include "git_push_commands.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZERO "0000000000000000000000000000000000000000"
#define ONE  "1111111111111111111111111111111111111111"
#define TWO  "2222222222222222222222222222222222222222"

/* Appends text as one pkt-line to buf at *used. text may contain NUL bytes, so len is given. */
static void pkt(char *buf, size_t *used, const char *text, size_t len)
{
    char header[5];

    snprintf(header, sizeof(header), "%04zx", len + 4);
    memcpy(buf + *used, header, 4);
    memcpy(buf + *used + 4, text, len);
    *used += len + 4;
}

static void flush(char *buf, size_t *used)
{
    memcpy(buf + *used, "0000", 4);
    *used += 4;
}

static int parse(struct gitpush_commands *out, const char *data, size_t len)
{
    struct hub_error err = HUB_ERROR_INIT;

    return gitpush_commands_parse(out, data, len, &err);
}

static void test_parse_two_commands(void)
{
    static const char first[] = ZERO " " ONE " refs/heads/main\0report-status side-band-64k "
                                     "agent=git/2.39.5\n";
    static const char second[] = ONE " " TWO " refs/pr/3\n";
    char buf[1024];
    size_t used = 0;
    struct gitpush_commands cmds;

    pkt(buf, &used, first, sizeof(first) - 1);
    pkt(buf, &used, second, sizeof(second) - 1);
    flush(buf, &used);
    memcpy(buf + used, "PACK", 4); /* the pack that follows is not read */
    used += 4;
    CHECK_EQ_INT(parse(&cmds, buf, used), 0);
    CHECK_EQ_INT(cmds.count, 2);
    CHECK_EQ_STR(cmds.updates[0].ref, "refs/heads/main");
    CHECK_EQ_STR(cmds.updates[0].old_oid, ZERO);
    CHECK_EQ_STR(cmds.updates[1].ref, "refs/pr/3");
    CHECK_EQ_STR(cmds.updates[1].new_oid, TWO);
    CHECK(cmds.report_status);
    CHECK(cmds.side_band_64k);
    gitpush_commands_dispose(&cmds);
}

static void test_parse_capabilities(void)
{
    static const char v2[] = ZERO " " ONE " refs/tags/v1\0report-status-v2 side-band\n";
    static const char none[] = ZERO " " ONE " refs/tags/v1\0side-band-64kx\n";
    char buf[256];
    size_t used = 0;
    struct gitpush_commands cmds;

    pkt(buf, &used, v2, sizeof(v2) - 1);
    flush(buf, &used);
    CHECK_EQ_INT(parse(&cmds, buf, used), 0);
    CHECK(cmds.report_status);
    CHECK(!cmds.side_band_64k);
    gitpush_commands_dispose(&cmds);

    used = 0;
    pkt(buf, &used, none, sizeof(none) - 1);
    flush(buf, &used);
    CHECK_EQ_INT(parse(&cmds, buf, used), 0);
    CHECK(!cmds.report_status);
    CHECK(!cmds.side_band_64k);
    gitpush_commands_dispose(&cmds);
}

static void test_parse_shallow_lines(void)
{
    static const char shallow[] = "shallow " TWO "\n";
    static const char command[] = ONE " " TWO " refs/heads/dev\0report-status\n";
    char buf[256];
    size_t used = 0;
    struct gitpush_commands cmds;

    pkt(buf, &used, shallow, sizeof(shallow) - 1);
    pkt(buf, &used, command, sizeof(command) - 1);
    flush(buf, &used);
    CHECK_EQ_INT(parse(&cmds, buf, used), 0);
    CHECK_EQ_INT(cmds.count, 1);
    CHECK_EQ_STR(cmds.updates[0].ref, "refs/heads/dev");
    gitpush_commands_dispose(&cmds);
}

static void test_parse_incomplete(void)
{
    static const char command[] = ZERO " " ONE " refs/heads/main\0report-status\n";
    char buf[256];
    size_t used = 0;
    struct gitpush_commands cmds;

    pkt(buf, &used, command, sizeof(command) - 1);
    /* No flush-pkt, a cut header and a cut line all mean the list goes on past the data. */
    CHECK_EQ_INT(parse(&cmds, buf, used), HUB_ETOOBIG);
    CHECK_EQ_INT(parse(&cmds, buf, used - 5), HUB_ETOOBIG);
    CHECK_EQ_INT(parse(&cmds, buf, 2), HUB_ETOOBIG);
    CHECK_EQ_INT(parse(&cmds, buf, 0), HUB_ETOOBIG);
    CHECK(cmds.updates == NULL);
}

#define BODY(text)                                                                                 \
    {                                                                                              \
        text, sizeof(text) - 1                                                                     \
    }

static void test_parse_invalid(void)
{
    static const struct {
        const char *data;
        size_t len;
    } bodies[] = {
        BODY("0000"),                               /* no commands */
        BODY("0003"),                               /* length below the header */
        BODY("00zz" ZERO),                          /* not hex */
        BODY("0009hello0000"),                      /* not a command */
        BODY("001cpush-cert\0report-status\n0000"), /* push certificate */
        BODY("0057" ZERO " " ONE " \n0000"),        /* empty ref name */
    };
    struct gitpush_commands cmds;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        CHECK_EQ_INT(parse(&cmds, bodies[i].data, bodies[i].len), HUB_EINVAL);
}

static void test_parse_second_capabilities(void)
{
    static const char first[] = ZERO " " ONE " refs/heads/a\0report-status\n";
    static const char second[] = ZERO " " ONE " refs/heads/b\0report-status\n";
    char buf[256];
    size_t used = 0;
    struct gitpush_commands cmds;

    pkt(buf, &used, first, sizeof(first) - 1);
    pkt(buf, &used, second, sizeof(second) - 1);
    flush(buf, &used);
    CHECK_EQ_INT(parse(&cmds, buf, used), HUB_EINVAL);
}

static void test_parse_command_limit(void)
{
    static const char command[] = ZERO " " ONE " refs/heads/x\n";
    size_t size = (GITPUSH_MAX_COMMANDS + 2) * (sizeof(command) + 4) + 4;
    char *buf = malloc(size);
    size_t used = 0;
    struct gitpush_commands cmds;

    for (int i = 0; i < GITPUSH_MAX_COMMANDS; i++)
        pkt(buf, &used, command, sizeof(command) - 1);
    flush(buf, &used);
    CHECK_EQ_INT(parse(&cmds, buf, used), 0);
    CHECK_EQ_INT(cmds.count, GITPUSH_MAX_COMMANDS);
    gitpush_commands_dispose(&cmds);

    used -= 4;
    pkt(buf, &used, command, sizeof(command) - 1);
    flush(buf, &used);
    CHECK_EQ_INT(parse(&cmds, buf, used), HUB_ETOOBIG);
    free(buf);
}

static struct gitpush_commands two_commands(bool side_band)
{
    static struct githook_update updates[2] = {
        {ZERO, ONE, "refs/heads/main"},
        {ZERO, ONE, "refs/pr/1"},
    };
    struct gitpush_commands cmds = {updates, 2, true, side_band};

    return cmds;
}

/* Checks a built reply against the expected bytes. */
static void reply_check(const char *body, size_t len, const char *expected, size_t expected_len)
{
    CHECK_EQ_INT(len, expected_len);
    CHECK(body != NULL);
    if (body != NULL && len == expected_len)
        CHECK(memcmp(body, expected, expected_len) == 0);
}

static void test_rejection_side_band(void)
{
    static const char expected[] = "0017\002rejected main: no\n"
                                   "0073\001000eunpack ok\n"
                                   "0031ng refs/heads/main pre-receive hook declined\n"
                                   "002bng refs/pr/1 pre-receive hook declined\n"
                                   "0000"
                                   "0000";
    struct gitpush_commands cmds = two_commands(true);
    struct hub_error err = HUB_ERROR_INIT;
    char *body = NULL;
    size_t len = 0;

    CHECK_EQ_INT(gitpush_rejection_build(&body, &len, &cmds, "rejected main: no\n", NULL, &err), 0);
    reply_check(body, len, expected, sizeof(expected) - 1);
    free(body);
}

static void test_rejection_plain(void)
{
    static const char expected[] = "000eunpack ok\n"
                                   "001eng refs/heads/main no way\n"
                                   "002bng refs/pr/1 pre-receive hook declined\n"
                                   "0000";
    static const char *const reasons[] = {"no way", NULL};
    struct gitpush_commands cmds = two_commands(false);
    struct hub_error err = HUB_ERROR_INIT;
    char *body = NULL;
    size_t len = 0;

    CHECK_EQ_INT(gitpush_rejection_build(&body, &len, &cmds, "ignored\n", reasons, &err), 0);
    reply_check(body, len, expected, sizeof(expected) - 1);
    free(body);
}

int main(void)
{
    test_parse_two_commands();
    test_parse_capabilities();
    test_parse_shallow_lines();
    test_parse_incomplete();
    test_parse_invalid();
    test_parse_second_capabilities();
    test_parse_command_limit();
    test_rejection_side_band();
    test_rejection_plain();
    return test_finish();
}
