/* hub_utf8: turns text read from git (commit messages, author names, file paths) into valid
 * UTF-8 for JSON and HTML. git stores any bytes there: a commit may name its encoding in an
 * `encoding` header, and old or imported histories often hold raw Latin-1 bytes without one.
 * jansson rejects strings that are not valid UTF-8, so every such string passes through here
 * first. */
#ifndef HUB_UTF8_H
#define HUB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/** Returns whether the len bytes of text are valid UTF-8 by the rules of RFC 3629 (no
 * overlong forms, no surrogates, nothing above U+10FFFF), the rules json_stringn of jansson
 * 2.14 applies. NUL bytes count as valid. Any thread. */
bool hub_utf8_is_valid(const char *text, size_t len);

/** Copies the len bytes of text into a malloc'd, NUL-terminated string in which each maximal
 * ill-formed subsequence is replaced with U+FFFD: the longest start of a valid sequence that
 * stops before its end, or else one byte.
 * Sets *len_out (NULL allowed) to its length without the NUL, which counts NUL bytes of text.
 * Returns NULL only when memory runs out. Any thread. */
char *hub_utf8_repair(const char *text, size_t len, size_t *len_out);

/** Converts the len bytes of text from encoding to UTF-8 with iconv, as `git log` does for a
 * commit with an `encoding` header, into a malloc'd, NUL-terminated string. encoding NULL, ""
 * or a spelling of UTF-8 means the text is UTF-8 already. When iconv does not know encoding, or
 * the bytes are not valid in it, the text is taken as UTF-8 and repaired as hub_utf8_repair
 * does. Returns NULL only when memory runs out. Any thread. */
char *hub_utf8_decode(const char *text, size_t len, const char *encoding);

#endif
