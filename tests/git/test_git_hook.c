/* test_git_hook: the ref update parser, the protected branch list and the pull request ref
 * rules of the pre-receive hook. */
#include "git_hook.h"
#include "harness.h"
#include "meta_pr.h"

#include <stdlib.h>
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

/* Runs githook_pr_update_is_allowed and stores its rejection message in message (cap
 * bytes), empty when it allowed the update. */
static bool pr_check(const char *line, const struct meta_pr *pr, const struct githook_push *push,
                     char *message, size_t cap)
{
    struct githook_update u;
    FILE *errors = tmpfile();
    size_t len = 0;
    bool allowed;

    parse(&u, line);
    allowed = githook_pr_update_is_allowed(&u, pr, push, errors);
    rewind(errors);
    len = fread(message, 1, cap - 1, errors);
    message[len] = '\0';
    fclose(errors);
    return allowed;
}

static void test_pr_update_rules(void)
{
    struct meta_pr pr = {.repo_id = 7, .number = 3, .author_id = 20, .status = META_PR_OPEN};
    struct githook_push author = {.user_id = 20,
                                  .user_name = "bob",
                                  .can_write = false,
                                  .repo_id = 7,
                                  .api_url = "http://hub/api/models/alice/m"};
    struct githook_push stranger = author;
    struct githook_push writer = author;
    char message[1024];

    snprintf(pr.author_name, sizeof(pr.author_name), "bob");
    stranger.user_id = 21;
    stranger.user_name = "carol";
    writer.user_id = 1;
    writer.user_name = "alice";
    writer.can_write = true;

    CHECK(pr_check(ONE " " ONE " refs/pr/3", &pr, &author, message, sizeof(message)));
    CHECK_EQ_STR(message, "");
    CHECK(pr_check(ONE " " ONE " refs/pr/3", &pr, &writer, message, sizeof(message)));

    CHECK(!pr_check(ONE " " ONE " refs/pr/3", &pr, &stranger, message, sizeof(message)));
    CHECK(strstr(message, "rejected refs/pr/3: user carol may not push to pull request #3: only "
                          "its author (bob) and the repo's writers may") != NULL);

    CHECK(!pr_check(ONE " " ZERO " refs/pr/3", &pr, &author, message, sizeof(message)));
    CHECK(strstr(message, "pull request refs cannot be deleted") != NULL);
    CHECK(!pr_check(ONE " " ZERO " refs/pr/3", &pr, &writer, message, sizeof(message)));
    CHECK(strstr(message, "http://hub/api/models/alice/m/discussions/3/status") != NULL);

    pr.status = META_PR_MERGED;
    CHECK(!pr_check(ONE " " ONE " refs/pr/3", &pr, &author, message, sizeof(message)));
    CHECK(strstr(message, "rejected refs/pr/3: pull request #3 is merged; pushes go only to "
                          "open pull requests, so open a new one") != NULL);
    pr.status = META_PR_CLOSED;
    CHECK(!pr_check(ONE " " ONE " refs/pr/3", &pr, &writer, message, sizeof(message)));
    CHECK(strstr(message, "pull request #3 is closed; pushes go only to open pull requests, so "
                          "reopen it or open a new one") != NULL);

    CHECK(!pr_check(ZERO " " ONE " refs/pr/9", NULL, &writer, message, sizeof(message)));
    CHECK(strstr(message, "rejected refs/pr/9: no pull request has this ref") != NULL);
    CHECK(strstr(message, "POST http://hub/api/models/alice/m/discussions") != NULL);
    CHECK(strstr(message, "create_pr=1") != NULL);
}

int main(void)
{
    test_update_parse_valid();
    test_update_parse_invalid();
    test_update_parse_ref_limit();
    test_branch_list();
    test_pr_update_rules();
    return test_finish();
}
