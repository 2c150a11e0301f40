/* Tests for hub_utf8: the UTF-8 check, the U+FFFD repair of ill-formed bytes and the iconv
 * conversion of commit text from a commit's encoding header. */
#include "harness.h"

#include "hub_utf8.h"

#include <stdlib.h>

#define FFFD "\xef\xbf\xbd"

static void test_valid(void)
{
    CHECK(hub_utf8_is_valid("", 0));
    CHECK(hub_utf8_is_valid("plain ascii", 11));
    CHECK(hub_utf8_is_valid("Ren\xc3\xa9", 5));
    CHECK(hub_utf8_is_valid("\xe2\x82\xac", 3));      /* U+20AC */
    CHECK(hub_utf8_is_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    CHECK(hub_utf8_is_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    CHECK(hub_utf8_is_valid("a\0b", 3));              /* NUL is a character */
    CHECK(!hub_utf8_is_valid("Caf\xe9", 4));          /* Latin-1 */
    CHECK(!hub_utf8_is_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!hub_utf8_is_valid("\xe0\x80\xaf", 3));     /* overlong '/' in three bytes */
    CHECK(!hub_utf8_is_valid("\xed\xa0\x80", 3));     /* surrogate U+D800 */
    CHECK(!hub_utf8_is_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!hub_utf8_is_valid("\xe2\x82", 2));         /* cut short */
    CHECK(!hub_utf8_is_valid("\x80", 1));             /* lone continuation byte */
    CHECK(!hub_utf8_is_valid("\xff", 1));
}

static void check_repair(const char *text, size_t len, const char *want)
{
    size_t out_len = 0;
    char *out = hub_utf8_repair(text, len, &out_len);

    CHECK_EQ_STR(out, want);
    CHECK_EQ_INT(out_len, strlen(want));
    free(out);
}

static void test_repair(void)
{
    check_repair("", 0, "");
    check_repair("Ren\xc3\xa9", 5, "Ren\xc3\xa9");
    check_repair("Caf\xe9\n", 5, "Caf" FFFD "\n");
    check_repair("\xe9t\xe9", 3, FFFD "t" FFFD);
    /* A cut sequence is one maximal subpart, so it becomes one U+FFFD. */
    check_repair("\xe2\x82x", 3, FFFD "x");
    check_repair("\xf0\x9f\x98", 3, FFFD);
    /* Bytes that start no sequence are replaced one by one. */
    check_repair("\xc0\xaf", 2, FFFD FFFD);
    check_repair("\xed\xa0\x80", 3, FFFD FFFD FFFD);
    check_repair("\xff\xfe", 2, FFFD FFFD);
    /* A NUL inside the text is kept and counted in the length. */
    {
        size_t out_len = 0;
        char *out = hub_utf8_repair("a\0\xe9", 3, &out_len);

        CHECK_EQ_INT(out_len, 5);
        CHECK(out != NULL);
        if (out != NULL)
            CHECK(memcmp(out, "a\0" FFFD, 6) == 0);
        free(out);
    }
}

static void check_decode(const char *text, const char *encoding, const char *want)
{
    char *out = hub_utf8_decode(text, strlen(text), encoding);

    CHECK_EQ_STR(out, want);
    free(out);
}

static void test_decode(void)
{
    check_decode("Caf\xe9", "ISO-8859-1", "Caf\xc3\xa9");
    check_decode("Caf\xe9", "latin1", "Caf\xc3\xa9");
    check_decode("\x80 5", "CP1252", "\xe2\x82\xac 5");
    check_decode("\x93\xfa\x96\x7b", "Shift_JIS", "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
    /* UTF-8 in any spelling, or no header, keeps valid text and repairs the rest. */
    check_decode("Ren\xc3\xa9", NULL, "Ren\xc3\xa9");
    check_decode("Ren\xc3\xa9", "utf8", "Ren\xc3\xa9");
    check_decode("Caf\xe9", "UTF-8", "Caf" FFFD);
    check_decode("Caf\xe9", NULL, "Caf" FFFD);
    /* An encoding iconv does not know, or bytes not valid in the named one, fall back to the
     * repair of the text as UTF-8. */
    check_decode("Caf\xe9", "no-such-encoding", "Caf" FFFD);
    check_decode("Caf\xc3\xa9", "no-such-encoding", "Caf\xc3\xa9");
    check_decode("\x82\xff", "Shift_JIS", FFFD FFFD);
    /* A long text converts whole. */
    {
        char text[3001], want[6001];

        for (int i = 0; i < 3000; i++) {
            text[i] = '\xe9';
            want[2 * i] = '\xc3';
            want[2 * i + 1] = '\xa9';
        }
        text[3000] = '\0';
        want[6000] = '\0';
        check_decode(text, "ISO-8859-1", want);
    }
}

int main(void)
{
    test_valid();
    test_repair();
    test_decode();
    return test_finish();
}
