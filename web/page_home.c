/* page_home: the repository list at "/", with search, filters (kind, base model, tag, owner)
 * and sort. The rows come from meta_repo_list, which applies the read access rules; the kind,
 * tags and size come from web_summary. Filters on facts stored only in git (kind, tag) are applied
 * here, over at most HUB_MAX_LIST_LIMIT repos of each type. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub_log.h"
#include "meta_repo.h"
#include "web_page.h"
#include "web_repo.h"
#include "web_summary.h"

#define WEB_HOME_PAGE_ROWS 30

struct web_home_row {
    struct meta_repo repo;
    struct web_repo_summary summary;
};

struct web_home_query {
    const char *q;
    const char *kind; /* "", "model", "adapter" or "dataset" */
    const char *base;
    const char *tag;
    const char *owner;
    const char *sort; /* "updated", "name" or "downloads" */
    size_t page;      /* 1-based */
};

static const char *web_nonempty(const char *text)
{
    return text != NULL && text[0] != '\0' ? text : NULL;
}

static void web_home_query_read(struct web_home_query *hq, const struct web_ctx *ctx)
{
    const char *page = web_form_get(&ctx->query, "page");
    char *end = NULL;
    unsigned long long n;

    hq->q = web_nonempty(web_form_get(&ctx->query, "q"));
    hq->kind = web_form_get(&ctx->query, "type");
    if (hq->kind == NULL || (strcmp(hq->kind, "model") != 0 && strcmp(hq->kind, "adapter") != 0 &&
                             strcmp(hq->kind, "dataset") != 0))
        hq->kind = "";
    hq->base = web_nonempty(web_form_get(&ctx->query, "base"));
    hq->tag = web_nonempty(web_form_get(&ctx->query, "tag"));
    hq->owner = web_nonempty(web_form_get(&ctx->query, "owner"));
    hq->sort = web_form_get(&ctx->query, "sort");
    if (hq->sort == NULL || (strcmp(hq->sort, "name") != 0 && strcmp(hq->sort, "downloads") != 0))
        hq->sort = "updated";
    hq->page = 1;
    if (page != NULL && page[0] >= '1' && page[0] <= '9') {
        n = strtoull(page, &end, 10);
        if (*end == '\0' && n < 100000)
            hq->page = (size_t)n;
    }
}

static const char *web_home_kind(const struct web_home_row *row)
{
    if (row->repo.type == HUB_REPO_DATASET)
        return "dataset";
    return row->summary.is_adapter ? "adapter" : "model";
}

static int web_home_cmp_name(const struct web_home_row *a, const struct web_home_row *b)
{
    int c = strcasecmp(a->repo.ns, b->repo.ns);

    return c != 0 ? c : strcasecmp(a->repo.name, b->repo.name);
}

static int web_home_cmp(const void *pa, const void *pb, void *arg)
{
    const struct web_home_row *a = pa;
    const struct web_home_row *b = pb;
    const char *sort_key = arg;

    if (strcmp(sort_key, "name") == 0)
        return web_home_cmp_name(a, b);
    if (strcmp(sort_key, "downloads") == 0 && a->repo.downloads != b->repo.downloads)
        return a->repo.downloads > b->repo.downloads ? -1 : 1;
    if (a->repo.updated_at != b->repo.updated_at)
        return a->repo.updated_at > b->repo.updated_at ? -1 : 1;
    return web_home_cmp_name(a, b);
}

/* Appends the repos of one type that match the meta-level filters to rows. */
static int web_home_fetch(struct web_home_row **rows, size_t *count, struct web_ctx *ctx,
                          const struct web_home_query *hq, enum hub_repo_type type,
                          struct hub_error *err)
{
    struct meta_repo_query q;
    struct meta_repo *repos = NULL;
    struct web_home_row *grown;
    size_t n = 0;
    int rc;

    memset(&q, 0, sizeof(q));
    q.type = type;
    q.search = hq->q;
    q.author = hq->owner;
    q.base_model = type == HUB_REPO_MODEL ? hq->base : NULL;
    q.sort = META_REPO_SORT_UPDATED;
    q.viewer_user_id = ctx->req->user_id;
    q.limit = HUB_MAX_LIST_LIMIT;
    rc = meta_repo_list(&repos, &n, NULL, ctx->req->db, &q, err);
    if (rc < 0)
        return rc;
    grown = realloc(*rows, (*count + n + 1) * sizeof(**rows));
    if (grown == NULL) {
        free(repos);
        return hub_error_set(err, HUB_ENOMEM, "cannot list %zu repos", *count + n);
    }
    *rows = grown;
    for (size_t i = 0; i < n; i++) {
        memset(&grown[*count], 0, sizeof(grown[*count]));
        grown[*count].repo = repos[i];
        (*count)++;
    }
    free(repos);
    return 0;
}

/* Fills the summaries and drops the rows that fail the kind and tag filters.
 * TODO: filter kind and tags in SQL; past HUB_MAX_LIST_LIMIT repos of a type, the rest are
 * never listed. */
static int web_home_filter(struct web_home_row *rows, size_t *count, struct web_ctx *ctx,
                           const struct web_home_query *hq, struct hub_error *err)
{
    size_t kept = 0;

    for (size_t i = 0; i < *count; i++) {
        int rc =
            web_summary_get(&rows[i].summary, ctx->req->db, ctx->req->data_dir, &rows[i].repo, err);
        bool keep;

        if (rc < 0) {
            for (size_t k = i; k < *count; k++)
                web_summary_dispose(&rows[k].summary);
            *count = kept;
            return rc;
        }
        keep = (hq->kind[0] == '\0' || strcmp(hq->kind, web_home_kind(&rows[i])) == 0) &&
               (hq->tag == NULL || web_summary_has_tag(&rows[i].summary, hq->tag));
        if (keep)
            rows[kept++] = rows[i];
        else
            web_summary_dispose(&rows[i].summary);
    }
    *count = kept;
    return 0;
}

static void web_home_link(struct web_buf *b, const struct web_home_query *hq, const char *key,
                          const char *value, size_t page)
{
    const char *keys[] = {"q", "type", "base", "tag", "owner", "sort"};
    const char *values[] = {hq->q, hq->kind, hq->base, hq->tag, hq->owner, hq->sort};
    char sep = '?';

    web_buf_puts(b, "/");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = strcmp(keys[i], key) == 0 ? value : values[i];

        if (v == NULL || v[0] == '\0' ||
            (strcmp(keys[i], "sort") == 0 && strcmp(v, "updated") == 0))
            continue;
        web_buf_printf(b, "%c%s=", sep, keys[i]);
        web_buf_url_encode(b, v, false);
        sep = '&';
    }
    if (page > 1)
        web_buf_printf(b, "%cpage=%zu", sep, page);
}

static void web_home_option(struct web_buf *b, const char *value, const char *label,
                            const char *current)
{
    web_buf_puts(b, "<option value=\"");
    web_buf_escape(b, value);
    web_buf_printf(b, "\"%s>", strcmp(value, current) == 0 ? " selected" : "");
    web_buf_escape(b, label);
    web_buf_puts(b, "</option>");
}

static void web_home_text_field(struct web_buf *b, const char *id, const char *label,
                                const char *value, const char *hint)
{
    web_buf_printf(b, "<label for=\"f-%s\">%s</label><input id=\"f-%s\" name=\"%s\" value=\"", id,
                   label, id, id);
    web_buf_escape(b, value);
    web_buf_printf(b, "\"%s%s%s>", hint ? " placeholder=\"" : "", hint ? hint : "",
                   hint ? "\"" : "");
}

static void web_home_filters(struct web_buf *b, const struct web_home_query *hq)
{
    web_buf_puts(b, "<form class=\"filters\" method=\"get\" action=\"/\" role=\"search\" "
                    "aria-label=\"Filter repositories\">");
    web_home_text_field(b, "q", "Search", hq->q, "name or owner");
    web_buf_puts(b, "<label for=\"f-type\">Kind</label><select id=\"f-type\" name=\"type\">");
    web_home_option(b, "", "All kinds", hq->kind);
    web_home_option(b, "model", "Base models", hq->kind);
    web_home_option(b, "adapter", "Adapters", hq->kind);
    web_home_option(b, "dataset", "Datasets", hq->kind);
    web_buf_puts(b, "</select>");
    web_home_text_field(b, "base", "Base model", hq->base, "owner/name");
    web_home_text_field(b, "tag", "Tag", hq->tag, NULL);
    web_home_text_field(b, "owner", "Owner", hq->owner, "user or organisation");
    web_buf_puts(b, "<label for=\"f-sort\">Sort by</label><select id=\"f-sort\" name=\"sort\">");
    web_home_option(b, "updated", "Recently updated", hq->sort);
    web_home_option(b, "name", "Name", hq->sort);
    web_home_option(b, "downloads", "Downloads", hq->sort);
    web_buf_puts(b, "</select><button type=\"submit\">Apply</button>"
                    "<p class=\"hint\"><a href=\"/\">Clear filters</a></p></form>");
}

static void web_home_repo_href(struct web_buf *b, const struct meta_repo *repo)
{
    web_buf_puts(b, repo->type == HUB_REPO_DATASET ? "/datasets/" : "/");
    web_buf_url_encode(b, repo->ns, false);
    web_buf_puts(b, "/");
    web_buf_url_encode(b, repo->name, false);
}

static void web_home_row_html(struct web_ctx *ctx, const struct web_home_row *row)
{
    struct web_buf *b = &ctx->out;
    const char *kind = web_home_kind(row);
    const char *base = row->repo.base_model[0] ? row->repo.base_model : row->summary.base_model;
    size_t ntags = json_array_size(row->summary.tags);

    web_buf_printf(b, "<li><span class=\"badge %s\">%s</span> <a class=\"repo-name\" href=\"", kind,
                   kind);
    web_home_repo_href(b, &row->repo);
    web_buf_puts(b, "\">");
    web_buf_escape(b, row->repo.ns);
    web_buf_puts(b, "/");
    web_buf_escape(b, row->repo.name);
    web_buf_puts(b, "</a>");
    if (row->repo.is_private)
        web_buf_puts(b, " <span class=\"badge private\">private</span>");
    web_buf_puts(b, "<div class=\"meta\">");
    if (base[0] != '\0' && row->repo.type == HUB_REPO_MODEL) {
        /* A base that is not hosted here, such as a Hub id, is text, as on the card page. */
        if (web_repo_id_readable(ctx, base, HUB_REPO_MODEL)) {
            web_buf_puts(b, "<span>base <a href=\"/");
            web_buf_url_encode(b, base, true);
            web_buf_puts(b, "\">");
            web_buf_escape(b, base);
            web_buf_puts(b, "</a></span>");
        } else {
            web_buf_puts(b, "<span>base ");
            web_buf_escape(b, base);
            web_buf_puts(b, "</span>");
        }
    }
    web_buf_puts(b, "<span>");
    web_format_size(b, row->summary.size_bytes);
    web_buf_printf(b, " · %llu file%s</span><span>%lld download%s</span><span>updated ",
                   (unsigned long long)row->summary.file_count,
                   row->summary.file_count == 1 ? "" : "s", (long long)row->repo.downloads,
                   row->repo.downloads == 1 ? "" : "s");
    web_format_time(b, row->repo.updated_at);
    web_buf_puts(b, "</span>");
    for (size_t i = 0; i < ntags && i < 5; i++) {
        web_buf_puts(b, "<a class=\"badge\" href=\"/?tag=");
        web_buf_url_encode(b, json_string_value(json_array_get(row->summary.tags, i)), false);
        web_buf_puts(b, "\">");
        web_buf_escape(b, json_string_value(json_array_get(row->summary.tags, i)));
        web_buf_puts(b, "</a>");
    }
    web_buf_puts(b, "</div></li>\n");
}

static void web_home_list(struct web_ctx *ctx, const struct web_home_row *rows, size_t count,
                          const struct web_home_query *hq)
{
    struct web_buf *b = &ctx->out;
    size_t first = (hq->page - 1) * WEB_HOME_PAGE_ROWS;
    size_t last = first + WEB_HOME_PAGE_ROWS < count ? first + WEB_HOME_PAGE_ROWS : count;

    web_buf_printf(b, "<p class=\"muted\" id=\"result-count\">%zu repositor%s</p>", count,
                   count == 1 ? "y" : "ies");
    if (count == 0) {
        web_buf_puts(b, "<p>No repository matches. Clear a filter, or push one with "
                        "<code>hf upload</code> or <code>git push</code>.</p>");
        return;
    }
    if (first >= count) {
        web_buf_printf(b,
                       "<p id=\"page-past-end\">No more results: page %zu is past the last "
                       "page. <a href=\"",
                       hq->page);
        web_home_link(b, hq, "", NULL, 1);
        web_buf_puts(b, "\">Back to the first page</a>.</p>");
        return;
    }
    web_buf_puts(b, "<ul class=\"repos\">");
    for (size_t i = first; i < last; i++)
        web_home_row_html(ctx, &rows[i]);
    web_buf_puts(b, "</ul><nav class=\"pager\" aria-label=\"Pages\">");
    if (hq->page > 1) {
        web_buf_puts(b, "<a rel=\"prev\" href=\"");
        web_home_link(b, hq, "", NULL, hq->page - 1);
        web_buf_puts(b, "\">Previous</a>");
    }
    if (last < count) {
        web_buf_puts(b, "<a rel=\"next\" href=\"");
        web_home_link(b, hq, "", NULL, hq->page + 1);
        web_buf_puts(b, "\">Next</a>");
    }
    web_buf_puts(b, "</nav>");
}

#define WEB_HOME_TOP_TAGS 12 /* tags offered as one-click filters beside the list */

/* Writes the most common tags of the listed repos as links that add a tag filter. */
static void web_home_top_tags(struct web_buf *b, const struct web_home_row *rows, size_t count,
                              const struct web_home_query *hq)
{
    json_t *counts = json_object();
    const char *tag;
    json_t *value;

    if (counts == NULL || hq->tag != NULL) {
        json_decref(counts);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        size_t k;
        json_t *item;

        json_array_foreach(rows[i].summary.tags, k, item)
        {
            json_t *seen = json_object_get(counts, json_string_value(item));

            json_object_set_new(counts, json_string_value(item),
                                json_integer(json_integer_value(seen) + 1));
        }
    }
    if (json_object_size(counts) == 0) {
        json_decref(counts);
        return;
    }
    web_buf_puts(b, "<h2 class=\"hint\" id=\"top-tags\">Popular tags</h2><p>");
    for (int shown = 0; shown < WEB_HOME_TOP_TAGS && json_object_size(counts) > 0; shown++) {
        const char *best = NULL;
        json_int_t best_count = 0;

        /* Repeated selection keeps this simple; the tag count of a lab hub is small. */
        json_object_foreach(counts, tag, value)
        {
            if (json_integer_value(value) > best_count ||
                (json_integer_value(value) == best_count && best != NULL &&
                 strcmp(tag, best) < 0)) {
                best = tag;
                best_count = json_integer_value(value);
            }
        }
        web_buf_puts(b, "<a class=\"badge\" href=\"");
        web_home_link(b, hq, "tag", best, 1);
        web_buf_puts(b, "\">");
        web_buf_escape(b, best);
        web_buf_printf(b, " %lld</a> ", (long long)best_count);
        json_object_del(counts, best);
    }
    web_buf_puts(b, "</p>");
    json_decref(counts);
}

int web_home_handle(struct web_ctx *ctx)
{
    struct web_home_query hq;
    struct web_home_row *rows = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;
    int rc = 0;

    if (ctx->nseg != 0)
        return 0;
    if (!web_is_get(ctx))
        return web_page_error(ctx, 400, "The home page only answers GET.");
    web_home_query_read(&hq, ctx);
    if (strcmp(hq.kind, "dataset") != 0)
        rc = web_home_fetch(&rows, &count, ctx, &hq, HUB_REPO_MODEL, &err);
    if (rc == 0 && (hq.kind[0] == '\0' || strcmp(hq.kind, "dataset") == 0) && hq.base == NULL)
        rc = web_home_fetch(&rows, &count, ctx, &hq, HUB_REPO_DATASET, &err);
    if (rc == 0)
        rc = web_home_filter(rows, &count, ctx, &hq, &err);
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            web_summary_dispose(&rows[i].summary);
        free(rows);
        return web_page_hub_error(ctx, &err);
    }
    /* glibc's qsort_r passes the sort key, so concurrent requests never share it. */
    if (count > 1)
        qsort_r(rows, count, sizeof(*rows), web_home_cmp, (void *)hq.sort);

    web_page_begin(ctx, "Repositories");
    web_buf_puts(&ctx->out, "<h1>Repositories</h1><div class=\"layout-list\"><div>");
    web_home_filters(&ctx->out, &hq);
    web_home_top_tags(&ctx->out, rows, count, &hq);
    web_buf_puts(&ctx->out, "</div><section aria-labelledby=\"result-count\">");
    web_home_list(ctx, rows, count, &hq);
    web_buf_puts(&ctx->out, "</section></div>");
    web_page_end(ctx, 200);

    for (size_t i = 0; i < count; i++)
        web_summary_dispose(&rows[i].summary);
    free(rows);
    return 1;
}
