/* fuzz_web_form: the urlencoded form and query parser and the Cookie header reader of the
 * pages (web/web_page.c) on arbitrary bytes. */
#include "web_page.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    char value[64];
    char *header = malloc(size + 1);

    if (web_form_parse(&form, (const char *)data, size, &err) == 0) {
        /* Every field must come back as a NUL-terminated pair. */
        for (size_t i = 0; i < form.count; i++) {
            if (form.fields[i].name == NULL || form.fields[i].value == NULL)
                __builtin_trap();
        }
        (void)web_form_get(&form, "csrf");
    }
    web_form_dispose(&form);

    if (header != NULL) {
        memcpy(header, data, size);
        header[size] = '\0';
        if (web_cookie_get(value, sizeof(value), header, "atelier_session") &&
            strlen(value) >= sizeof(value))
            __builtin_trap();
        free(header);
    }
    return 0;
}
