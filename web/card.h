/* card: model cards. Splits a README.md into its YAML front matter, converted to a JSON object
 * (the Hub API's cardData), and the Markdown body. A card with invalid or missing front matter
 * is still a card: it gets no metadata and the whole text is its body. */
#ifndef WEB_CARD_H
#define WEB_CARD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "hub_error.h"

#define CARD_MAX_FRONT_MATTER_BYTES (256u * 1024u) /* YAML between the fences */
#define CARD_MAX_DEPTH              64             /* nested sequences and mappings */
#define CARD_MAX_VALUES             100000         /* JSON values made, aliases counted each time */

struct card {
    json_t *data;       /* front matter as a JSON object (owned), or NULL when there is none */
    size_t body_offset; /* byte offset of the Markdown body, 0 unless the front matter was used */
    bool has_front_matter; /* the text opens with a "---" line, whether the YAML is valid or not */
    char problem[256];     /* why the front matter was ignored, with its line, or "" */
};

#define CARD_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, false,                                                                            \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/** Parses the README text (len bytes, need not be NUL-terminated) into out. The front matter
 * is a block that starts with a "---" line at the very start of the text, after an optional
 * UTF-8 byte order mark. It ends with the next "---" or "..." line, and both LF and CRLF line
 * ends are accepted. Its YAML must be one mapping. Plain scalars follow the YAML 1.2 core schema
 * (null, true/false, integers, floats); everything else becomes a JSON string. When the block
 * is missing, unterminated, over the limits above or not a valid mapping, out->data is NULL,
 * out->body_offset is 0 and out->problem holds the reason (it stays "" when there is no block).
 * Returns 0, or HUB_ENOMEM with err filled. out is initialised here; free it with
 * card_dispose() on every path. Any thread. */
int card_parse(struct card *out, const char *text, size_t len, struct hub_error *err);

/** Frees what card_parse put in card and resets it to CARD_INIT. Accepts CARD_INIT. */
void card_dispose(struct card *card);

/** Returns the string value of key in the front matter, or NULL when it is missing or not a
 * string. The pointer is borrowed from card->data and lives until card_dispose(). */
const char *card_get_string(const struct card *card, const char *key);

#endif
