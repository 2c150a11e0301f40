/* web_escape: HTML escaping of user text for every page. */
#ifndef WEB_ESCAPE_H
#define WEB_ESCAPE_H

#include <stddef.h>

/** Returns the HTML-escaped copy of len bytes of text (& < > " ' escaped), or NULL when out
 * of memory. The caller owns the result and frees it with free(). */
char *web_escape_html(const char *text, size_t len);

#endif
