/* web_escape: HTML escaping of user text. */
#include "web_escape.h"

#include <stdlib.h>
#include <string.h>

char *web_escape_html(const char *text, size_t len)
{
    size_t out_len = 0;
    char *out;
    char *p;

    for (size_t i = 0; i < len; i++) {
        switch (text[i]) {
        case '&':
            out_len += 5;
            break;
        case '<':
        case '>':
            out_len += 4;
            break;
        case '"':
        case '\'':
            out_len += 6;
            break;
        default:
            out_len += 1;
        }
    }
    out = malloc(out_len + 1);
    if (out == NULL)
        return NULL;
    p = out;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;

        switch (text[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            *p++ = text[i];
            continue;
        }
        memcpy(p, rep, strlen(rep));
        p += strlen(rep);
    }
    *p = '\0';
    return out;
}
