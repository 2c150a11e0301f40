/* page_files: the Files tab. /{id}/tree/{rev}/{path} lists a folder with sizes, LFS badges and
 * download links; /{id}/blob/{rev}/{path} shows a text file in place, a Markdown file rendered,
 * and the tensor table of a safetensors file, read from git or from the LFS blob store. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub_log.h"
#include "meta_lfs.h"
#include "store.h"
#include "web_markdown.h"
#include "web_repo.h"
#include "web_tensors.h"

#define WEB_MAX_TENSOR_ROWS 5000 /* tensors listed on one page; larger models are cut */

static void web_breadcrumb(struct web_repo_view *v, const char *rev, const char *path)
{
    struct web_buf *b = &v->ctx->out;
    const char *p = path;

    web_buf_puts(b, "<nav class=\"breadcrumb\" aria-label=\"Path\"><a href=\"");
    web_repo_href(b, v, "tree", rev, NULL);
    web_buf_puts(b, "\">");
    web_buf_escape(b, v->meta.name);
    web_buf_puts(b, "</a>");
    while (p != NULL && *p != '\0') {
        const char *slash = strchr(p, '/');
        size_t upto = slash != NULL ? (size_t)(slash - path) : strlen(path);
        char *prefix = strndup(path, upto);

        web_buf_puts(b, " / ");
        if (slash != NULL && prefix != NULL) {
            web_buf_puts(b, "<a href=\"");
            web_repo_href(b, v, "tree", rev, prefix);
            web_buf_puts(b, "\">");
            web_buf_escape_n(b, p, (size_t)(slash - p));
            web_buf_puts(b, "</a>");
        } else {
            web_buf_puts(b, "<span aria-current=\"page\">");
            web_buf_escape(b, p);
            web_buf_puts(b, "</span>");
        }
        free(prefix);
        p = slash != NULL ? slash + 1 : NULL;
    }
    web_buf_puts(b, "</nav>");
}

static const char *web_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

static void web_tree_row(struct web_repo_view *v, const char *rev, const struct repo_entry *e)
{
    struct web_buf *b = &v->ctx->out;
    bool dir = e->type == REPO_ENTRY_DIRECTORY;

    web_buf_printf(b, "<tr class=\"%s\"><td><a href=\"", dir ? "dir" : "file");
    web_repo_href(b, v, dir ? "tree" : "blob", rev, e->path);
    web_buf_puts(b, "\">");
    web_buf_escape(b, web_base_name(e->path));
    web_buf_puts(b, dir ? "/</a>" : "</a>");
    if (e->is_lfs)
        web_buf_puts(b, " <span class=\"badge lfs\" title=\"Stored with Git LFS\">LFS</span>");
    web_buf_puts(b, "</td><td class=\"num size\">");
    if (!dir)
        web_format_size(b, e->size);
    web_buf_puts(b, "</td><td>");
    if (!dir) {
        web_buf_puts(b, "<a href=\"");
        web_repo_href(b, v, "resolve", rev, e->path);
        web_buf_puts(b, "?download=true\" download aria-label=\"Download ");
        web_buf_escape(b, web_base_name(e->path));
        web_buf_puts(b, "\">Download</a>");
    }
    web_buf_puts(b, "</td></tr>\n");
}

int web_files_tree(struct web_repo_view *v, const char *rev, const char *path)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct repo_entry *entries = NULL;
    struct repo_commit_info last;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;
    uint64_t total = 0;
    int rc;

    memset(&last, 0, sizeof(last));
    rc = repo_tree_list(&entries, &count, v->git, rev, path, false, &err);
    if (rc == HUB_ENOTFOUND)
        return web_page_error(ctx, 404,
                              "There is no such folder at this revision. Pick "
                              "another branch, or go back to the repository root.");
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    web_repo_page_begin(v, path[0] != '\0' ? path : "Files");
    web_repo_header(v, WEB_TAB_FILES, rev, path);
    web_breadcrumb(v, rev, path);
    if (repo_last_commit(&last, v->git, rev, path, &err) == 0) {
        web_buf_puts(b, "<p class=\"toolbar\"><span>Last change: <a href=\"");
        web_repo_href(b, v, "commit", last.id, NULL);
        web_buf_puts(b, "\">");
        web_buf_escape(b, last.title);
        web_buf_puts(b, "</a></span><span class=\"muted\">");
        web_buf_escape(b, last.author_name);
        web_buf_puts(b, ", ");
        web_format_time(b, last.time);
        web_buf_puts(b, "</span></p>");
        repo_commit_info_dispose(&last);
    }
    web_buf_puts(b, "<div class=\"table-wrap\"><table class=\"files\"><thead><tr><th>Name</th>"
                    "<th class=\"num\">Size</th><th>Download</th></tr></thead><tbody>");
    if (path[0] != '\0') {
        const char *slash = strrchr(path, '/');
        char *parent = strndup(path, slash != NULL ? (size_t)(slash - path) : 0);

        web_buf_puts(b, "<tr><td><a href=\"");
        web_repo_href(b, v, "tree", rev, parent != NULL ? parent : "");
        web_buf_puts(b, "\">../</a></td><td></td><td></td></tr>");
        free(parent);
    }
    /* Folders first, then files, each in git's name order. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < count; i++) {
            if ((entries[i].type == REPO_ENTRY_DIRECTORY) != (pass == 0))
                continue;
            web_tree_row(v, rev, &entries[i]);
            total += entries[i].size;
        }
    }
    web_buf_puts(b, "</tbody></table></div><p class=\"muted\">");
    web_buf_printf(b, "%zu entr%s, ", count, count == 1 ? "y" : "ies");
    web_format_size(b, total);
    web_buf_puts(b, " in the files of this folder.</p>");
    web_page_end(ctx, 200);
    repo_entries_free(entries, count);
    return 1;
}

static bool web_has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path);
    size_t m = strlen(suffix);

    return n >= m && strcmp(path + n - m, suffix) == 0;
}

/* Opens the LFS object of entry when the repo may read it. */
static int web_lfs_open(int *fd, uint64_t *size, struct web_repo_view *v,
                        const struct repo_entry *entry, struct hub_error *err)
{
    struct store *st = NULL;
    bool linked = false;
    int rc;

    *fd = -1;
    rc = meta_lfs_is_linked(&linked, v->ctx->req->db, v->meta.id, entry->lfs_oid, err);
    if (rc < 0)
        return rc;
    if (!linked)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "the LFS object of this file was never uploaded to this repo");
    rc = store_open(&st, v->ctx->req->data_dir, err);
    if (rc == 0)
        rc = store_blob_open(fd, size, st, entry->lfs_oid, err);
    store_close(st);
    return rc;
}

int web_file_source_open(struct web_file_source *src, struct web_repo_view *v, const char *rev,
                         const struct repo_entry *entry, struct hub_error *err)
{
    size_t len = 0;
    int rc;

    src->fd = -1;
    src->data = NULL;
    src->size = 0;
    if (entry->is_lfs)
        return web_lfs_open(&src->fd, &src->size, v, entry, err);
    rc = repo_file_read(&src->data, &len, v->git, rev, entry->path, 0, err);
    src->size = len;
    return rc;
}

int web_file_source_read(struct web_file_source *src, void *buf, size_t len, uint64_t offset,
                         struct hub_error *err)
{
    size_t done = 0;

    if (offset > src->size || len > src->size - offset)
        return hub_error_set(err, HUB_EINVAL, "a read past the end of a %llu-byte file",
                             (unsigned long long)src->size);
    if (src->data != NULL) {
        memcpy(buf, src->data + offset, len);
        return 0;
    }
    while (done < len) {
        ssize_t got = pread(src->fd, (char *)buf + done, len - done, (off_t)(offset + done));

        if (got <= 0)
            return hub_error_set(err, HUB_EIO, "cannot read an LFS object at byte %llu",
                                 (unsigned long long)(offset + done));
        done += (size_t)got;
    }
    return 0;
}

void web_file_source_close(struct web_file_source *src)
{
    if (src->fd >= 0)
        close(src->fd);
    free(src->data);
    src->fd = -1;
    src->data = NULL;
}

int web_tensors_load(struct web_tensors *out, struct web_file_source *src, struct hub_error *err)
{
    if (src->data != NULL)
        return web_tensors_parse(out, (const unsigned char *)src->data, (size_t)src->size,
                                 src->size, err);
    return web_tensors_read_fd(out, src->fd, src->size, err);
}

void web_tensor_shape(struct web_buf *b, const struct web_tensor *t)
{
    web_buf_puts(b, "[");
    for (size_t d = 0; d < t->ndim; d++)
        web_buf_printf(b, "%s%llu", d > 0 ? ", " : "", (unsigned long long)t->shape[d]);
    web_buf_puts(b, "]");
}

static void web_tensors_table(struct web_buf *b, const struct web_tensors *t)
{
    web_buf_printf(b,
                   "<div class=\"stats\"><div><div class=\"muted\">Tensors</div>"
                   "<div class=\"value\" id=\"tensor-count\">%zu</div></div>"
                   "<div><div class=\"muted\">Parameters</div><div class=\"value\" "
                   "id=\"param-count\">%llu</div></div></div>",
                   t->count, (unsigned long long)t->total_params);
    if (json_object_size(t->metadata) > 0) {
        const char *key;
        json_t *value;

        web_buf_puts(b, "<h2>Metadata</h2><dl class=\"meta\">");
        json_object_foreach(t->metadata, key, value)
        {
            web_buf_puts(b, "<dt>");
            web_buf_escape(b, key);
            web_buf_puts(b, "</dt><dd>");
            web_buf_escape(b, json_is_string(value) ? json_string_value(value) : "(not text)");
            web_buf_puts(b, "</dd>");
        }
        web_buf_puts(b, "</dl>");
    }
    web_buf_puts(b, "<h2>Tensors</h2><div class=\"table-wrap\"><table id=\"tensors\"><thead><tr>"
                    "<th>Name</th><th>Dtype</th><th>Shape</th><th class=\"num\">Parameters"
                    "</th></tr></thead><tbody>");
    for (size_t i = 0; i < t->count && i < WEB_MAX_TENSOR_ROWS; i++) {
        web_buf_puts(b, "<tr><td><code>");
        web_buf_escape(b, t->items[i].name);
        web_buf_printf(b, "</code></td><td>%s</td><td>", t->items[i].dtype);
        web_tensor_shape(b, &t->items[i]);
        web_buf_printf(b, "</td><td class=\"num\">%llu</td></tr>\n",
                       (unsigned long long)t->items[i].numel);
    }
    web_buf_puts(b, "</tbody></table></div>");
    if (t->count > WEB_MAX_TENSOR_ROWS)
        web_buf_printf(b, "<p class=\"muted\">The first %d of %zu tensors are listed.</p>",
                       WEB_MAX_TENSOR_ROWS, t->count);
}

/* Writes text with one anchor per line (#L1, #L2, ...) so a line can be linked. CSS draws the
 * numbers, so copying the text does not copy them. */
static void web_blob_lines(struct web_buf *b, const char *data, size_t len)
{
    size_t pos = 0;
    size_t line = 1;

    web_buf_puts(b, "<pre class=\"lines\"><code>");
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : len;

        web_buf_printf(b, "<span class=\"l\" id=\"L%zu\">", line++);
        web_buf_escape_n(b, data + pos, end - pos);
        web_buf_puts(b, "\n</span>");
        pos = end + 1;
    }
    web_buf_puts(b, "</code></pre>");
}

static void web_blob_text(struct web_repo_view *v, const char *rev, const struct repo_entry *e)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    char *data = NULL;
    size_t len = 0;
    const char *plain = web_form_get(&v->ctx->query, "plain");
    int rc;

    if (e->size > WEB_MAX_SHOWN_FILE_BYTES) {
        web_buf_puts(b, "<p class=\"notice\" id=\"file-too-large\">This file is ");
        web_format_size(b, e->size);
        web_buf_printf(b, ", over the %u MiB that this page shows. Download it instead.</p>",
                       WEB_MAX_SHOWN_FILE_BYTES >> 20);
        return;
    }
    rc = repo_file_read(&data, &len, v->git, rev, e->path, WEB_MAX_SHOWN_FILE_BYTES, &err);
    if (rc < 0) {
        web_buf_puts(b, "<p class=\"notice bad\">This file could not be read: ");
        web_buf_escape(b, err.msg);
        web_buf_puts(b, "</p>");
        return;
    }
    if (memchr(data, '\0', len < 8000 ? len : 8000) != NULL) {
        web_buf_puts(b, "<p class=\"notice\">This is a binary file. Download it to open it."
                        "</p>");
    } else if (web_has_suffix(e->path, ".md") && (plain == NULL || strcmp(plain, "1") != 0)) {
        char *html = NULL;

        web_buf_puts(b, "<p><a href=\"?plain=1\">Show the Markdown source</a></p>");
        const char *slash = strrchr(e->path, '/');
        char *dir = strndup(e->path, slash != NULL ? (size_t)(slash - e->path) : 0);

        if (dir != NULL && web_repo_markdown(&html, v, rev, dir, data, len, &err) == 0) {
            web_buf_puts(b, "<article class=\"card-body\">");
            web_buf_puts(b, html);
            web_buf_puts(b, "</article>");
        }
        free(dir);
        free(html);
    } else {
        web_blob_lines(b, data, len);
    }
    free(data);
}

int web_files_blob(struct web_repo_view *v, const char *rev, const char *path)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct repo_entry entry;
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    rc = repo_entry_stat(&entry, v->git, rev, path, &err);
    if (rc == 0 && entry.type == REPO_ENTRY_DIRECTORY) {
        struct web_buf tree = WEB_BUF_INIT;
        int handled;

        /* A folder's blob URL, typed or edited by hand, shows the folder. */
        free(entry.path);
        web_repo_href(&tree, v, "tree", rev, path);
        handled = tree.failed ? web_page_error(ctx, 500, "The folder link could not be built.")
                              : web_page_redirect(ctx, tree.data);
        web_buf_dispose(&tree);
        return handled;
    }
    if (rc == HUB_ENOTFOUND || (rc == 0 && entry.type != REPO_ENTRY_FILE)) {
        if (rc == 0)
            free(entry.path);
        return web_page_error(ctx, 404, "There is no such file at this revision.");
    }
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    web_repo_page_begin(v, path);
    web_repo_header(v, WEB_TAB_FILES, rev, path);
    web_breadcrumb(v, rev, path);
    web_buf_puts(b, "<p class=\"toolbar\"><span>");
    web_format_size(b, entry.size);
    web_buf_puts(b, "</span>");
    if (entry.is_lfs) {
        web_buf_puts(b, "<span class=\"badge lfs\">LFS</span><span class=\"muted\">SHA-256 <code "
                        "class=\"oid\">");
        web_buf_escape(b, entry.lfs_oid);
        web_buf_puts(b, "</code></span>");
    }
    web_buf_puts(b, "<a class=\"button\" href=\"");
    web_repo_href(b, v, "resolve", rev, path);
    web_buf_puts(b, "?download=true\" download>Download</a>");
    if (!entry.is_lfs) {
        web_buf_puts(b, "<a href=\"");
        web_repo_href(b, v, "raw", rev, path);
        web_buf_puts(b, "\">Raw</a>");
    }
    web_buf_puts(b, "<a href=\"");
    web_repo_href(b, v, "commits", rev, NULL);
    web_buf_puts(b, "\">History</a></p>");

    if (web_has_suffix(path, ".safetensors")) {
        struct web_tensors tensors = WEB_TENSORS_INIT;
        struct web_file_source src;

        rc = web_file_source_open(&src, v, rev, &entry, &err);
        if (rc == 0)
            rc = web_tensors_load(&tensors, &src, &err);
        web_file_source_close(&src);
        if (rc == 0) {
            web_tensors_table(b, &tensors);
        } else {
            web_buf_puts(b, "<p class=\"notice bad\">The safetensors header could not be read: ");
            web_buf_escape(b, err.msg);
            web_buf_puts(b, "</p>");
        }
        web_tensors_dispose(&tensors);
    } else if (entry.is_lfs) {
        web_buf_puts(b, "<p class=\"notice\">This file is stored with Git LFS. Download it to "
                        "open it.</p>");
    } else {
        web_blob_text(v, rev, &entry);
    }
    web_page_end(ctx, 200);
    free(entry.path);
    return 1;
}
