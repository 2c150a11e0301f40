/* fuzz_card: README front matter parsing (web/card.c) on arbitrary bytes. */
#include "card.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct card card = CARD_INIT;
    struct hub_error err = HUB_ERROR_INIT;

    if (card_parse(&card, (const char *)data, size, &err) == 0) {
        /* The body offset must stay inside the input, and data must dump as JSON. */
        if (card.body_offset > size)
            __builtin_trap();
        if (card.data != NULL) {
            char *json = json_dumps(card.data, JSON_COMPACT);

            free(json);
        }
    }
    card_dispose(&card);
    return 0;
}
