/* page_history: the History tab. /{id}/commits/{rev} lists first-parent history with authors
 * and dates; /{id}/commit/{sha} shows one commit and what it changed: a line diff for text
 * files, and for safetensors files the tensors added, removed, reshaped or with new values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_log.h"
#include "meta_pr.h"
#include "web_diff.h"
#include "web_repo.h"

#define WEB_COMMITS_PER_PAGE    50
#define WEB_MAX_DIFF_FILES      100            /* files diffed on one page; the rest listed */
#define WEB_MAX_DIFF_TEXT_BYTES (256u << 10)   /* larger text files are not diffed */
#define WEB_MAX_COMPARE_BYTES   (256ull << 20) /* tensor data compared on one page */

static size_t web_page_number(const struct web_ctx *ctx)
{
    const char *text = web_form_get(&ctx->query, "page");
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] < '1' || text[0] > '9')
        return 1;
    n = strtoull(text, &end, 10);
    return *end == '\0' && n < 1000000 ? (size_t)n : 1;
}

int web_history_list(struct web_repo_view *v, const char *rev)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct repo_commit_info *commits = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;
    size_t total = 0;
    size_t page = web_page_number(ctx);
    int rc;

    rc = repo_log(&commits, &count, &total, v->git, rev, (page - 1) * WEB_COMMITS_PER_PAGE,
                  WEB_COMMITS_PER_PAGE, &err);
    if (rc == HUB_ENOTFOUND)
        return web_page_error(ctx, 404,
                              "There is no such branch, tag or commit in this "
                              "repository.");
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    web_repo_page_begin(v, "History");
    web_repo_header(v, WEB_TAB_HISTORY, rev, NULL);
    web_buf_printf(b, "<p class=\"muted\">%zu commit%s on ", total, total == 1 ? "" : "s");
    web_buf_escape(b, rev);
    web_buf_puts(b, "</p><div class=\"table-wrap\"><table id=\"commits\"><thead><tr>"
                    "<th>Commit</th><th>Author</th><th>Date</th><th>Id</th></tr></thead><tbody>");
    for (size_t i = 0; i < count; i++) {
        web_buf_puts(b, "<tr><td><a href=\"");
        web_repo_href(b, v, "commit", commits[i].id, NULL);
        web_buf_puts(b, "\">");
        web_buf_escape(b, commits[i].title[0] ? commits[i].title : "(no message)");
        web_buf_puts(b, "</a></td><td>");
        web_buf_escape(b, commits[i].author_name);
        web_buf_puts(b, "</td><td>");
        web_format_time(b, commits[i].time);
        web_buf_printf(b, "</td><td><code>%.10s</code></td></tr>\n", commits[i].id);
    }
    web_buf_puts(b, "</tbody></table></div><nav class=\"pager\" aria-label=\"Pages\">");
    if (page > 1) {
        web_buf_puts(b, "<a rel=\"prev\" href=\"");
        web_repo_href(b, v, "commits", rev, NULL);
        web_buf_printf(b, "?page=%zu\">Newer</a>", page - 1);
    }
    if (page * WEB_COMMITS_PER_PAGE < total) {
        web_buf_puts(b, "<a rel=\"next\" href=\"");
        web_repo_href(b, v, "commits", rev, NULL);
        web_buf_printf(b, "?page=%zu\">Older</a>", page + 1);
    }
    web_buf_puts(b, "</nav>");
    web_page_end(ctx, 200);
    repo_commits_free(commits, count);
    return 1;
}

/* Compares the data of two tensors of the same dtype and shape chunk by chunk, spending at
 * most *budget bytes of reads. Returns 1 when equal, 0 when different, -1 when not compared. */
static int web_tensor_data_equal(struct web_file_source *old_src, const struct web_tensors *old_t,
                                 const struct web_tensor *a, struct web_file_source *new_src,
                                 const struct web_tensors *new_t, const struct web_tensor *b,
                                 uint64_t *budget)
{
    struct hub_error err = HUB_ERROR_INIT;
    uint64_t bytes = a->end - a->begin;
    uint64_t old_base = 8 + old_t->header_bytes + a->begin;
    uint64_t new_base = 8 + new_t->header_bytes + b->begin;
    char old_buf[4096];
    char new_buf[4096];

    if (bytes > *budget / 2)
        return -1;
    *budget -= bytes * 2;
    for (uint64_t off = 0; off < bytes; off += sizeof(old_buf)) {
        size_t n = bytes - off < sizeof(old_buf) ? (size_t)(bytes - off) : sizeof(old_buf);

        if (web_file_source_read(old_src, old_buf, n, old_base + off, &err) < 0 ||
            web_file_source_read(new_src, new_buf, n, new_base + off, &err) < 0)
            return -1;
        if (memcmp(old_buf, new_buf, n) != 0)
            return 0;
    }
    return 1;
}

struct web_tensor_diff {
    struct web_file_source old_src;
    struct web_file_source new_src;
    struct web_tensors old_t;
    struct web_tensors new_t;
    bool have_old;
    bool have_new;
};

static void web_tensor_diff_row(struct web_buf *b, const char *name, const char *change,
                                const struct web_tensor *a, const struct web_tensor *t)
{
    web_buf_puts(b, "<tr><td><code>");
    web_buf_escape(b, name);
    web_buf_printf(b, "</code></td><td>%s</td><td>", change);
    if (a != NULL) {
        web_buf_printf(b, "%s ", a->dtype);
        web_tensor_shape(b, a);
    }
    web_buf_puts(b, "</td><td>");
    if (t != NULL) {
        web_buf_printf(b, "%s ", t->dtype);
        web_tensor_shape(b, t);
    }
    web_buf_puts(b, "</td></tr>");
}

static bool web_same_layout(const struct web_tensor *a, const struct web_tensor *b)
{
    return strcmp(a->dtype, b->dtype) == 0 && a->ndim == b->ndim &&
           memcmp(a->shape, b->shape, a->ndim * sizeof(a->shape[0])) == 0;
}

/* Writes the tensor table of one safetensors change. */
static void web_tensor_diff_table(struct web_buf *b, struct web_tensor_diff *d, uint64_t *budget)
{
    struct web_buf rows = WEB_BUF_INIT;
    size_t added = 0, removed = 0, changed = 0, same = 0, unknown = 0;

    for (size_t i = 0; d->have_new && i < d->new_t.count; i++) {
        const struct web_tensor *t = &d->new_t.items[i];
        const struct web_tensor *a = d->have_old ? web_tensors_find(&d->old_t, t->name) : NULL;
        int equal;

        if (a == NULL) {
            web_tensor_diff_row(&rows, t->name, "added", NULL, t);
            added++;
        } else if (!web_same_layout(a, t)) {
            web_tensor_diff_row(&rows, t->name, "reshaped", a, t);
            changed++;
        } else {
            equal =
                web_tensor_data_equal(&d->old_src, &d->old_t, a, &d->new_src, &d->new_t, t, budget);
            if (equal == 0) {
                web_tensor_diff_row(&rows, t->name, "values changed", a, t);
                changed++;
            } else if (equal < 0) {
                web_tensor_diff_row(&rows, t->name, "not compared", a, t);
                unknown++;
            } else {
                same++;
            }
        }
    }
    for (size_t i = 0; d->have_old && i < d->old_t.count; i++) {
        if (!d->have_new || web_tensors_find(&d->new_t, d->old_t.items[i].name) == NULL) {
            web_tensor_diff_row(&rows, d->old_t.items[i].name, "removed", &d->old_t.items[i], NULL);
            removed++;
        }
    }
    web_buf_printf(b,
                   "<p class=\"tensor-summary\">Tensors: %zu changed, %zu added, %zu "
                   "removed, %zu unchanged%s</p>",
                   changed, added, removed, same,
                   unknown > 0 ? ", some too large to compare here" : "");
    if (rows.len > 0) {
        web_buf_puts(b, "<div class=\"table-wrap\"><table><thead><tr><th>Tensor</th>"
                        "<th>Change</th><th>Before</th><th>After</th></tr></thead><tbody>");
        web_buf_append(b, rows.data, rows.len);
        web_buf_puts(b, "</tbody></table></div>");
    }
    web_buf_dispose(&rows);
}

static void web_diff_safetensors(struct web_repo_view *v, const char *old_rev,
                                 const struct repo_entry *old_e, const char *new_rev,
                                 const struct repo_entry *new_e, uint64_t *budget)
{
    struct web_buf *b = &v->ctx->out;
    struct web_tensor_diff d;
    struct hub_error err = HUB_ERROR_INIT;

    memset(&d, 0, sizeof(d));
    d.old_src.fd = -1;
    d.new_src.fd = -1;
    if (old_e != NULL && web_file_source_open(&d.old_src, v, old_rev, old_e, &err) == 0 &&
        web_tensors_load(&d.old_t, &d.old_src, &err) == 0)
        d.have_old = true;
    if (new_e != NULL && web_file_source_open(&d.new_src, v, new_rev, new_e, &err) == 0 &&
        web_tensors_load(&d.new_t, &d.new_src, &err) == 0)
        d.have_new = true;
    /* Counts against a side that could not be parsed would report its tensors as all added
     * or all removed, so the table is left out. */
    if ((old_e != NULL && !d.have_old) || (new_e != NULL && !d.have_new)) {
        web_buf_puts(b, "<p class=\"notice warn\">A safetensors header could not be read: ");
        web_buf_escape(b, err.msg);
        web_buf_puts(b, "</p>");
    } else {
        web_tensor_diff_table(b, &d, budget);
    }
    web_tensors_dispose(&d.old_t);
    web_tensors_dispose(&d.new_t);
    web_file_source_close(&d.old_src);
    web_file_source_close(&d.new_src);
}

static char *web_read_text(struct web_repo_view *v, const char *rev, const struct repo_entry *e,
                           size_t *len)
{
    struct hub_error err = HUB_ERROR_INIT;
    char *data = NULL;

    *len = 0;
    if (e == NULL)
        return strdup("");
    if (e->is_lfs || e->size > WEB_MAX_DIFF_TEXT_BYTES ||
        repo_file_read(&data, len, v->git, rev, e->path, WEB_MAX_DIFF_TEXT_BYTES, &err) < 0)
        return NULL;
    if (memchr(data, '\0', *len) != NULL) {
        free(data);
        return NULL;
    }
    return data;
}

static void web_diff_text(struct web_repo_view *v, const char *old_rev,
                          const struct repo_entry *old_e, const char *new_rev,
                          const struct repo_entry *new_e)
{
    struct web_buf *b = &v->ctx->out;
    size_t old_len = 0;
    size_t new_len = 0;
    size_t added = 0;
    size_t removed = 0;
    char *old_text = web_read_text(v, old_rev, old_e, &old_len);
    char *new_text = web_read_text(v, new_rev, new_e, &new_len);

    if (old_text == NULL || new_text == NULL) {
        /* The tree page marks LFS files with the same badge. */
        if ((old_e != NULL && old_e->is_lfs) || (new_e != NULL && new_e->is_lfs))
            web_buf_puts(b, "<p class=\"muted\"><span class=\"badge lfs\" title=\"Stored with Git "
                            "LFS\">LFS</span> Large file: ");
        else
            web_buf_puts(b, "<p class=\"muted\">Binary or large file: ");
        if (old_e != NULL)
            web_format_size(b, old_e->size);
        web_buf_puts(b, old_e != NULL && new_e != NULL ? " → " : "");
        if (new_e != NULL)
            web_format_size(b, new_e->size);
        web_buf_puts(b, "</p>");
    } else if (!web_diff_lines(b, &added, &removed, old_text, old_len, new_text, new_len)) {
        web_buf_puts(b, "<p class=\"muted\">The change is too large to show here.</p>");
    }
    free(old_text);
    free(new_text);
}

static bool web_ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text);
    size_t m = strlen(suffix);

    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* Writes the section for one changed file; a or b is NULL for an added or deleted file. */
static void web_diff_file(struct web_repo_view *v, const char *old_rev, const struct repo_entry *a,
                          const char *new_rev, const struct repo_entry *e, size_t shown,
                          uint64_t *budget)
{
    struct web_buf *b = &v->ctx->out;
    const char *path = e != NULL ? e->path : a->path;
    const char *status = "modified";

    if (a == NULL)
        status = "added";
    else if (e == NULL)
        status = "deleted";

    web_buf_printf(b,
                   "<section class=\"diff\" id=\"diff-%zu\"><h3><span class=\"badge\">%s</span> ",
                   shown + 1, status);
    if (e != NULL) {
        web_buf_puts(b, "<a href=\"");
        web_repo_href(b, v, "blob", new_rev, path);
        web_buf_puts(b, "\">");
        web_buf_escape(b, path);
        web_buf_puts(b, "</a>");
    } else {
        web_buf_escape(b, path);
    }
    web_buf_puts(b, "</h3>");
    if (shown >= WEB_MAX_DIFF_FILES)
        web_buf_puts(b, "<p class=\"muted\">Not shown: this commit changes many files.</p>");
    else if (web_ends_with(path, ".safetensors"))
        web_diff_safetensors(v, old_rev, a, new_rev, e, budget);
    else
        web_diff_text(v, old_rev, a, new_rev, e);
    web_buf_puts(b, "</section>\n");
}

static int web_entry_cmp(const void *pa, const void *pb)
{
    return strcmp(((const struct repo_entry *)pa)->path, ((const struct repo_entry *)pb)->path);
}

/* One changed file: old is NULL for an added file, new for a deleted one. */
struct web_change {
    const struct repo_entry *old_entry;
    const struct repo_entry *new_entry;
};

/* Merges the sorted file lists of the parent and the commit into the changed files. *out is
 * malloc'd (free()); returns the count, or 0 with *out NULL when memory runs out. */
static size_t web_diff_changes(struct web_change **out, struct repo_entry *old_e, size_t n_old,
                               struct repo_entry *new_e, size_t n_new)
{
    struct web_change *changes = calloc(n_old + n_new + 1, sizeof(*changes));
    size_t i = 0, j = 0, n = 0;

    *out = changes;
    if (changes == NULL)
        return 0;
    qsort(old_e, n_old, sizeof(*old_e), web_entry_cmp);
    qsort(new_e, n_new, sizeof(*new_e), web_entry_cmp);
    while (i < n_old || j < n_new) {
        int c;

        if (i == n_old)
            c = 1;
        else if (j == n_new)
            c = -1;
        else
            c = strcmp(old_e[i].path, new_e[j].path);

        if (c == 0 && old_e[i].type == REPO_ENTRY_FILE && new_e[j].type == REPO_ENTRY_FILE &&
            strcmp(old_e[i].oid, new_e[j].oid) != 0)
            changes[n++] = (struct web_change){&old_e[i], &new_e[j]};
        else if (c < 0 && old_e[i].type == REPO_ENTRY_FILE)
            changes[n++] = (struct web_change){&old_e[i], NULL};
        else if (c > 0 && new_e[j].type == REPO_ENTRY_FILE)
            changes[n++] = (struct web_change){NULL, &new_e[j]};
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    return n;
}

/* Writes the list of changed files with links to their sections, then every section. */
size_t web_diff_trees(struct web_repo_view *v, const char *old_rev, struct repo_entry *old_e,
                      size_t n_old, const char *new_rev, struct repo_entry *new_e, size_t n_new)
{
    struct web_buf *b = &v->ctx->out;
    struct web_change *changes = NULL;
    uint64_t budget = WEB_MAX_COMPARE_BYTES;
    size_t n = web_diff_changes(&changes, old_e, n_old, new_e, n_new);

    if (n > 0) {
        web_buf_printf(b,
                       "<details class=\"changed-files\" open><summary>%zu file%s changed"
                       "</summary><ol>",
                       n, n == 1 ? "" : "s");
        for (size_t k = 0; k < n; k++) {
            const struct repo_entry *e =
                changes[k].new_entry ? changes[k].new_entry : changes[k].old_entry;

            web_buf_printf(b, "<li><a href=\"#diff-%zu\">", k + 1);
            web_buf_escape(b, e->path);
            web_buf_puts(b, "</a></li>");
        }
        web_buf_puts(b, "</ol></details>");
    }
    for (size_t k = 0; k < n; k++)
        web_diff_file(v, old_rev, changes[k].old_entry, new_rev, changes[k].new_entry, k, &budget);
    free(changes);
    return n;
}

/* Returns the number of the pull request whose merge made commit info, from a title such as
 * "Merge pull request #3: ...", or 0 when the title names none or that pull request was merged
 * as another commit. */
static int64_t web_commit_merged_pr(struct web_repo_view *v, const struct repo_commit_info *info)
{
    static const char prefix[] = "Merge pull request #";
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_pr pr;
    char *end = NULL;
    long long number;

    if (strncmp(info->title, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    number = strtoll(info->title + sizeof(prefix) - 1, &end, 10);
    if (end == info->title + sizeof(prefix) - 1 || number < 1 || number > 999999999)
        return 0;
    if (meta_pr_get(&pr, v->ctx->req->db, v->meta.id, number, &err) < 0 ||
        strcmp(pr.merged_commit, info->id) != 0)
        return 0;
    return number;
}

static void web_commit_head(struct web_repo_view *v, const struct repo_commit_info *info)
{
    struct web_buf *b = &v->ctx->out;
    const char *body = strchr(info->message, '\n');
    int64_t pr_number = web_commit_merged_pr(v, info);

    web_buf_puts(b, "<h2>");
    if (pr_number > 0) {
        char num[24];

        snprintf(num, sizeof(num), "%lld", (long long)pr_number);
        web_buf_puts(b, "<a href=\"");
        web_repo_href(b, v, "discussions", num, NULL);
        web_buf_puts(b, "\">");
    }
    web_buf_escape(b, info->title[0] ? info->title : "(no message)");
    web_buf_puts(b, pr_number > 0 ? "</a></h2>" : "</h2>");
    if (body != NULL && body[strspn(body, " \r\n\t")] != '\0') {
        web_buf_puts(b, "<pre>");
        web_buf_escape(b, body + strspn(body, "\r\n"));
        web_buf_puts(b, "</pre>");
    }
    web_buf_puts(b, "<p class=\"toolbar\"><span>");
    web_buf_escape(b, info->author_name);
    web_buf_puts(b, " committed ");
    web_format_time(b, info->time);
    web_buf_printf(b, "</span><span class=\"muted\">commit <code id=\"commit-id\">%s</code></span>",
                   info->id);
    if (info->n_parents > 0)
        web_buf_puts(b, info->n_parents == 1 ? "<span>parent" : "<span>parents");
    for (size_t i = 0; i < info->n_parents; i++) {
        web_buf_puts(b, i == 0 ? " <a href=\"" : " + <a href=\"");
        web_repo_href(b, v, "commit", info->parents[i], NULL);
        web_buf_printf(b, "\"><code>%.10s</code></a>", info->parents[i]);
    }
    if (info->n_parents > 0)
        web_buf_puts(b, "</span>");
    web_buf_puts(b, "<a href=\"");
    web_repo_href(b, v, "tree", info->id, NULL);
    web_buf_puts(b, "\">Browse files</a></p>");
}

int web_history_commit(struct web_repo_view *v, const char *sha)
{
    struct web_ctx *ctx = v->ctx;
    struct repo_commit_info info;
    struct repo_entry *old_e = NULL;
    struct repo_entry *new_e = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t n_old = 0;
    size_t n_new = 0;
    size_t shown;
    int rc;

    memset(&info, 0, sizeof(info));
    rc = repo_commit_get(&info, v->git, sha, &err);
    if (rc == HUB_ENOTFOUND || rc == HUB_EINVAL)
        return web_page_error(ctx, 404, "There is no such commit in this repository.");
    if (rc == 0)
        rc = repo_tree_list(&new_e, &n_new, v->git, info.id, "", true, &err);
    if (rc == 0 && info.parent[0] != '\0')
        rc = repo_tree_list(&old_e, &n_old, v->git, info.parent, "", true, &err);
    if (rc < 0) {
        repo_commit_info_dispose(&info);
        repo_entries_free(new_e, n_new);
        return web_page_hub_error(ctx, &err);
    }
    web_repo_page_begin(v, info.title);
    web_repo_header(v, WEB_TAB_HISTORY, info.id, NULL);
    web_commit_head(v, &info);
    shown = web_diff_trees(v, info.parent, old_e, n_old, info.id, new_e, n_new);
    if (shown == 0)
        web_buf_puts(&ctx->out, "<p class=\"muted\">This commit changes no file.</p>");
    web_page_end(ctx, 200);
    repo_entries_free(old_e, n_old);
    repo_entries_free(new_e, n_new);
    repo_commit_info_dispose(&info);
    return 1;
}
