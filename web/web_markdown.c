/* web_markdown: the only user of cmark-gfm. The extension registry of cmark-gfm 0.29 is a
 * process-wide list filled without a lock, so it is filled once through pthread_once before
 * any parser is made. */
#include "web_markdown.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
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

/* Returns whether url is relative to the current document: no scheme, no leading '/', '#'
 * or '?'. */
static bool web_url_is_relative(const char *url)
{
    if (url == NULL || url[0] == '\0' || url[0] == '/' || url[0] == '#' || url[0] == '?')
        return false;
    for (const char *p = url; *p != '\0' && *p != '/' && *p != '?' && *p != '#'; p++) {
        if (*p == ':')
            return false;
    }
    return true;
}

/* Prefixes the relative link and image targets of doc and moves each heading down one level
 * (an <h6> stays). Returns 0 or HUB_ENOMEM. */
static int web_markdown_rebase(cmark_node *doc, const char *link_base, const char *image_base,
                               struct hub_error *err)
{
    cmark_iter *iter = cmark_iter_new(doc);
    cmark_event_type ev;
    int rc = 0;

    if (iter == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot walk the Markdown tree");
    while ((ev = cmark_iter_next(iter)) != CMARK_EVENT_DONE) {
        cmark_node *node = cmark_iter_get_node(iter);
        cmark_node_type type = cmark_node_get_type(node);
        const char *base = type == CMARK_NODE_IMAGE ? image_base : link_base;
        const char *url;
        char *joined;
        size_t n;

        /* The page's own <h1> names the repo, so the file's headings start at <h2>. */
        if (ev == CMARK_EVENT_ENTER && type == CMARK_NODE_HEADING) {
            int level = cmark_node_get_heading_level(node);

            if (level < 6)
                cmark_node_set_heading_level(node, level + 1);
        }
        if (ev != CMARK_EVENT_ENTER || (type != CMARK_NODE_LINK && type != CMARK_NODE_IMAGE))
            continue;
        url = cmark_node_get_url(node);
        if (base == NULL || !web_url_is_relative(url))
            continue;
        while (url[0] == '.' && url[1] == '/')
            url += 2;
        n = strlen(base) + strlen(url) + 1;
        joined = malloc(n);
        if (joined == NULL) {
            rc = hub_error_set(err, HUB_ENOMEM, "cannot rewrite a Markdown link");
            break;
        }
        snprintf(joined, n, "%s%s", base, url);
        cmark_node_set_url(node, joined);
        free(joined);
    }
    cmark_iter_free(iter);
    return rc;
}

static int web_markdown_render_with(char **out, size_t *out_len, const char *text, size_t len,
                                    bool in_repo, const char *link_base, const char *image_base,
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
    if (in_repo) {
        rc = web_markdown_rebase(doc, link_base, image_base, err);
        if (rc < 0)
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

int web_markdown_render(char **out, size_t *out_len, const char *text, size_t len,
                        struct hub_error *err)
{
    return web_markdown_render_with(out, out_len, text, len, false, NULL, NULL, err);
}

int web_markdown_render_in_repo(char **out, size_t *out_len, const char *text, size_t len,
                                const char *link_base, const char *image_base,
                                struct hub_error *err)
{
    return web_markdown_render_with(out, out_len, text, len, true, link_base, image_base, err);
}
