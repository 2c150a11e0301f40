/* web_markdown: the only user of cmark-gfm. The extension registry of cmark-gfm 0.29 is a
 * process-wide list filled without a lock, so it is filled once through pthread_once before
 * any parser is made. */
#include "web_markdown.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

static pthread_once_t web_markdown_once = PTHREAD_ONCE_INIT;

static void web_markdown_register(void)
{
    cmark_gfm_core_extensions_ensure_registered();
}

/* CMARK_OPT_DEFAULT leaves CMARK_OPT_UNSAFE off, which is what keeps raw HTML and dangerous
 * link targets out of the output. */
#define WEB_MARKDOWN_OPTIONS (CMARK_OPT_DEFAULT | CMARK_OPT_GITHUB_PRE_LANG | CMARK_OPT_FOOTNOTES)

static const char *const web_markdown_extensions[] = {"table", "autolink", "strikethrough",
                                                      "tasklist"};

int web_markdown_render(char **out, size_t *out_len, const char *text, size_t len,
                        struct hub_error *err)
{
    cmark_parser *parser = NULL;
    cmark_node *doc = NULL;
    char *html = NULL;
    int rc = 0;

    *out = NULL;
    pthread_once(&web_markdown_once, web_markdown_register);
    parser = cmark_parser_new(WEB_MARKDOWN_OPTIONS);
    if (parser == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate a Markdown parser");
        goto out;
    }
    for (size_t i = 0; i < sizeof(web_markdown_extensions) / sizeof(web_markdown_extensions[0]);
         i++) {
        cmark_syntax_extension *ext = cmark_find_syntax_extension(web_markdown_extensions[i]);

        if (ext == NULL) {
            rc = hub_error_set(err, HUB_EINTERNAL, "cmark-gfm has no \"%s\" extension",
                               web_markdown_extensions[i]);
            goto out;
        }
        cmark_parser_attach_syntax_extension(parser, ext);
    }
    cmark_parser_feed(parser, text, len);
    doc = cmark_parser_finish(parser);
    if (doc == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot parse %zu bytes of Markdown", len);
        goto out;
    }
    html = cmark_render_html(doc, WEB_MARKDOWN_OPTIONS, cmark_parser_get_syntax_extensions(parser));
    if (html == NULL) {
        rc = hub_error_set(err, HUB_ENOMEM, "cannot render %zu bytes of Markdown", len);
        goto out;
    }
    /* cmark-gfm's default allocator is malloc, so the caller may free() the result. */
    *out = html;
    if (out_len != NULL)
        *out_len = strlen(html);
out:
    if (doc != NULL)
        cmark_node_free(doc);
    if (parser != NULL)
        cmark_parser_free(parser);
    return rc;
}
