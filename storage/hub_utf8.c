/* hub_utf8: UTF-8 checks, repair and conversion for text read from git. */
#include "hub_utf8.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char REPLACEMENT_CHARACTER[] = "\xef\xbf\xbd"; /* U+FFFD in UTF-8 */

/* Measures the sequence at s (n > 0 bytes left). Returns its length when it is a well-formed
 * UTF-8 character. Otherwise returns 0 and sets *bad to the length of its maximal ill-formed
 * subpart: the bytes that start a valid sequence but stop before its end, or 1 when the first
 * byte starts none. The ranges of the second byte are those of Unicode's table 3-7. */
static size_t sequence_measure(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char lead = s[0];
    unsigned char low = 0x80, high = 0xbf;
    size_t want;

    *bad = 1;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xc2 && lead <= 0xdf) {
        want = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        want = 3;
        if (lead == 0xe0)
            low = 0xa0; /* lower second bytes would be overlong */
        else if (lead == 0xed)
            high = 0x9f; /* higher second bytes would be surrogates */
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        want = 4;
        if (lead == 0xf0)
            low = 0x90; /* lower second bytes would be overlong */
        else if (lead == 0xf4)
            high = 0x8f; /* higher second bytes would be above U+10FFFF */
    } else {
        return 0;
    }
    for (size_t i = 1; i < want; i++) {
        if (i >= n || s[i] < low || s[i] > high) {
            *bad = i;
            return 0;
        }
        low = 0x80;
        high = 0xbf;
    }
    return want;
}

bool hub_utf8_is_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        size_t bad;
        size_t n = sequence_measure(s + i, len - i, &bad);

        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

char *hub_utf8_repair(const char *text, size_t len, size_t *len_out)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, used = 0;
    char *out;

    /* Each replaced subpart has at least one byte and becomes three, so 3 * len + 1 suffices. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = malloc(3 * len + 1);
    if (out == NULL)
        return NULL;
    while (i < len) {
        size_t bad;
        size_t n = sequence_measure(s + i, len - i, &bad);

        if (n > 0) {
            memcpy(out + used, s + i, n);
            used += n;
            i += n;
        } else {
            memcpy(out + used, REPLACEMENT_CHARACTER, 3);
            used += 3;
            i += bad;
        }
    }
    out[used] = '\0';
    if (len_out != NULL)
        *len_out = used;
    return out;
}

/* Returns whether encoding names UTF-8 as git spells it: "UTF-8", "utf8", any case. */
static bool encoding_is_utf8(const char *encoding)
{
    return encoding == NULL || encoding[0] == '\0' || strcasecmp(encoding, "UTF-8") == 0 ||
           strcasecmp(encoding, "UTF8") == 0;
}

/* Converts text with iconv. Returns the malloc'd UTF-8 text, or NULL when iconv does not know
 * encoding, the text is not valid in it, or memory runs out. */
static char *iconv_convert(const char *text, size_t len, const char *encoding)
{
    iconv_t cd;
    size_t cap;
    char *out = NULL;

    if (len > SIZE_MAX / 8)
        return NULL;
    cap = len * 4 + 16; /* four UTF-8 bytes per input byte fit most encodings at once */
    cd = iconv_open("UTF-8", encoding);
    if (cd == (iconv_t)-1)
        return NULL;
    for (;;) {
        char *in = (char *)text, *dst;
        size_t in_left = len, out_left = cap - 1;
        char *grown = realloc(out, cap);

        if (grown == NULL)
            break;
        out = grown;
        dst = out;
        iconv(cd, NULL, NULL, NULL, NULL);
        if (iconv(cd, &in, &in_left, &dst, &out_left) != (size_t)-1 &&
            iconv(cd, NULL, NULL, &dst, &out_left) != (size_t)-1) {
            *dst = '\0';
            iconv_close(cd);
            return out;
        }
        if (errno != E2BIG || cap > SIZE_MAX / 2)
            break;
        cap *= 2;
    }
    free(out);
    iconv_close(cd);
    return NULL;
}

char *hub_utf8_decode(const char *text, size_t len, const char *encoding)
{
    char *converted;
    char *repaired;

    if (encoding_is_utf8(encoding))
        return hub_utf8_repair(text, len, NULL);
    converted = iconv_convert(text, len, encoding);
    if (converted == NULL)
        return hub_utf8_repair(text, len, NULL);
    /* iconv's output is UTF-8 already. The repair only guards against a converter that passes
     * invalid bytes through. */
    repaired = hub_utf8_repair(converted, strlen(converted), NULL);
    free(converted);
    return repaired;
}
