/* test_git_hook: the ref update parser and the protected branch list of the pre-receive
 * hook. */
#include "git_hook.h"
#include "harness.h"

#include <string.h>

#define ZERO "0000000000000000000000000000000000000000"
#define ONE  "1111111111111111111111111111111111111111"

static int parse(struct githook_update *out, const char *line)
{
    struct hub_error err = HUB_ERROR_INIT;

    return githook_update_parse(out, line, strlen(line), &err);
}

static void test_update_parse_valid(void)
{
    struct githook_update u;

    CHECK_EQ_INT(parse(&u, ZERO " " ONE " refs/heads/main"), 0);
    CHECK_EQ_STR(u.old_oid, ZERO);
    CHECK_EQ_STR(u.new_oid, ONE);
    CHECK_EQ_STR(u.ref, "refs/heads/main");
    CHECK(githook_oid_is_zero(u.old_oid));
    CHECK(!githook_oid_is_zero(u.new_oid));
}

static void test_update_parse_invalid(void)
{
    static const char *const cases[] = {
        "",
        ZERO " " ONE,                               /* no ref */
        ZERO " " ONE " ",                           /* empty ref */
        ZERO "  " ONE " refs/heads/main",           /* two spaces */
        "000000000000000000000000000000000000000 " ONE " refs/heads/main", /* 39 digits */
        "000000000000000000000000000000000000000G " ONE " refs/heads/main",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA " ONE " refs/heads/main", /* uppercase */
        ZERO " " ONE " refs/heads/a b",             /* space in ref */
    };
    struct githook_update u;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_EQ_INT(parse(&u, cases[i]), HUB_EINVAL);
}

static void test_update_parse_ref_limit(void)
{
    char line[2 * 41 + GITHOOK_MAX_REF_BYTES + 2];
    struct githook_update u;
    size_t prefix = strlen(ZERO " " ONE " ");

    memcpy(line, ZERO " " ONE " ", prefix);
    memset(line + prefix, 'a', GITHOOK_MAX_REF_BYTES);
    line[prefix + GITHOOK_MAX_REF_BYTES] = '\0';
    CHECK_EQ_INT(parse(&u, line), 0);
    line[prefix + GITHOOK_MAX_REF_BYTES] = 'a';
    line[prefix + GITHOOK_MAX_REF_BYTES + 1] = '\0';
    CHECK_EQ_INT(parse(&u, line), HUB_EINVAL);
}

static void test_branch_list(void)
{
    CHECK(githook_branch_is_listed("main", "main"));
    CHECK(githook_branch_is_listed("dev main", "main"));
    CHECK(githook_branch_is_listed("release/1.0 main", "release/1.0"));
    CHECK(!githook_branch_is_listed("mainline", "main"));
    CHECK(!githook_branch_is_listed("main", "mai"));
    CHECK(!githook_branch_is_listed("", "main"));
    CHECK(!githook_branch_is_listed(NULL, "main"));
}

int main(void)
{
    test_update_parse_valid();
    test_update_parse_invalid();
    test_update_parse_ref_limit();
    test_branch_list();
    return test_finish();
}
