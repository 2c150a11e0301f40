/* test_markdown: Markdown rendering keeps raw HTML and script URLs inert, and the GitHub
 * extensions are on. Also the page buffer's escaping. */
#include "web_buf.h"
#include "web_markdown.h"

#include <stdlib.h>
#include <string.h>

#include "harness.h"

static char *render(const char *md)
{
    char *html = NULL;
    struct hub_error err = HUB_ERROR_INIT;

    CHECK_EQ_INT(web_markdown_render(&html, NULL, md, strlen(md), &err), 0);
    return html;
}

static void test_markdown_raw_html_inert(void)
{
    char *html = render("Hello <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
                        "[click](javascript:alert(1))\n");

    CHECK(html != NULL);
    CHECK(strstr(html, "<script") == NULL);
    CHECK(strstr(html, "onerror") == NULL);
    CHECK(strstr(html, "javascript:") == NULL);
    CHECK(strstr(html, "raw HTML omitted") != NULL);
    free(html);
}

static void test_markdown_extensions(void)
{
    char *html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ www.example.com\n\n"
                        "- [x] done\n- [ ] open\n\n```python\nx = 1\n```\n");

    CHECK(html != NULL);
    CHECK(strstr(html, "<table>") != NULL);
    CHECK(strstr(html, "<del>gone</del>") != NULL);
    CHECK(strstr(html, "href=\"http://www.example.com\"") != NULL);
    CHECK(strstr(html, "type=\"checkbox\"") != NULL);
    CHECK(strstr(html, "lang=\"python\"") != NULL);
    free(html);
}

static void test_buf_escape_and_encode(void)
{
    struct web_buf buf = WEB_BUF_INIT;
    char *text;

    web_buf_escape(&buf, "<a href=\"x\">'&'</a>");
    web_buf_puts(&buf, "|");
    web_buf_url_encode(&buf, "a b/c?d", false);
    web_buf_puts(&buf, "|");
    web_buf_url_encode(&buf, "dir/file name.txt", true);
    web_buf_printf(&buf, "|%d", 42);
    text = web_buf_take(&buf, NULL);
    CHECK_EQ_STR(text, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;|a%20b%2Fc%3Fd|"
                       "dir/file%20name.txt|42");
    free(text);
    web_buf_dispose(&buf);
}

int main(void)
{
    test_markdown_raw_html_inert();
    test_markdown_extensions();
    test_buf_escape_and_encode();
    return test_finish();
}
