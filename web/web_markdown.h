/* web_markdown: Markdown to HTML with cmark-gfm and the GitHub extensions (tables, autolinks,
 * strikethrough, task lists). Raw HTML in the input is never passed through: cmark-gfm
 * replaces it with a comment, and links with javascript:, vbscript:, file: or data: URLs
 * (except data: images) lose their target. */
#ifndef WEB_MARKDOWN_H
#define WEB_MARKDOWN_H

#include <stddef.h>

#include "hub_error.h"

/** Renders len bytes of Markdown into *out (malloc'd, NUL-terminated, the caller frees it
 * with free()) and its length into *out_len (NULL allowed). Returns 0 or HUB_ENOMEM. Any
 * thread. */
int web_markdown_render(char **out, size_t *out_len, const char *text, size_t len,
                        struct hub_error *err);

#endif
