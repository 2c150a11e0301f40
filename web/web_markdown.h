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

/** Like web_markdown_render, for a file inside a repo: a relative link target such as
 * "docs/usage.md" gets link_base in front ("/ns/name/blob/main/"), and a relative image source
 * gets image_base ("/ns/name/resolve/main/"), so they point into the repo and not next to the
 * page. Headings move down one level ("#" becomes <h2>), below the page's <h1>. Targets with a
 * scheme, a leading '/' or '#', or "//" stay as they are. */
int web_markdown_render_in_repo(char **out, size_t *out_len, const char *text, size_t len,
                                const char *link_base, const char *image_base,
                                struct hub_error *err);

#endif
