/* page_repo: routes /{ns}/{name}[/...] and /datasets/{ns}/{name}[/...] and renders the model
 * card page: the README body as Markdown, its front matter as metadata, evaluation results,
 * the base model or the adapters of a base, and how to download. A private repo the viewer may
 * not read gets the same 404 page as a missing one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "card.h"
#include "hub_log.h"
#include "meta_jobs.h"
#include "meta_org.h"
#include "web_markdown.h"
#include "web_repo.h"
#include "web_summary.h"

#define WEB_MAX_CARD_BYTES (4u << 20) /* README.md rendered on the card page */
#define WEB_MAX_ADAPTERS   50         /* adapters listed on a base model's page */

void web_repo_href(struct web_buf *b, const struct web_repo_view *v, const char *kind,
                   const char *rev, const char *path)
{
    web_buf_puts(b, v->prefix);
    web_buf_puts(b, "/");
    web_buf_url_encode(b, v->meta.ns, false);
    web_buf_puts(b, "/");
    web_buf_url_encode(b, v->meta.name, false);
    if (kind != NULL) {
        web_buf_puts(b, "/");
        web_buf_puts(b, kind);
    }
    if (rev != NULL) {
        web_buf_puts(b, "/");
        web_buf_url_encode(b, rev, false);
    }
    if (path != NULL && path[0] != '\0') {
        web_buf_puts(b, "/");
        web_buf_url_encode(b, path, true);
    }
}

int web_repo_markdown(char **out, struct web_repo_view *v, const char *rev, const char *dir,
                      const char *text, size_t len, struct hub_error *err)
{
    struct web_buf link_base = WEB_BUF_INIT;
    struct web_buf image_base = WEB_BUF_INIT;
    int rc;

    web_repo_href(&link_base, v, "blob", rev, dir);
    web_buf_puts(&link_base, "/");
    web_repo_href(&image_base, v, "resolve", rev, dir);
    web_buf_puts(&image_base, "/");
    if (web_buf_failed(&link_base) || web_buf_failed(&image_base))
        rc = hub_error_set(err, HUB_ENOMEM, "cannot build the link base of a Markdown file");
    else
        rc =
            web_markdown_render_in_repo(out, NULL, text, len, link_base.data, image_base.data, err);
    web_buf_dispose(&link_base);
    web_buf_dispose(&image_base);
    return rc;
}

bool web_repo_is_adapter(struct web_repo_view *v, const char *rev)
{
    struct repo_entry entry;
    struct hub_error err = HUB_ERROR_INIT;

    if (v->meta.type != HUB_REPO_MODEL)
        return false;
    if (repo_entry_stat(&entry, v->git, rev, "adapter_config.json", &err) < 0)
        return false;
    free(entry.path);
    return entry.type == REPO_ENTRY_FILE;
}

static void web_repo_tab_link(struct web_repo_view *v, enum web_repo_tab tab,
                              enum web_repo_tab current, const char *label, const char *kind,
                              const char *rev)
{
    struct web_buf *b = &v->ctx->out;

    web_buf_puts(b, "<a href=\"");
    web_repo_href(b, v, kind, kind != NULL ? rev : NULL, NULL);
    if (kind == NULL && rev != NULL && strcmp(rev, REPO_DEFAULT_BRANCH) != 0) {
        web_buf_puts(b, "?revision=");
        web_buf_url_encode(b, rev, false);
    }
    web_buf_printf(b, "\"%s>%s</a>", tab == current ? " aria-current=\"page\"" : "", label);
}

/* Writes the branch and tag menu; each entry links to the same tab and path at that ref. */
static void web_repo_switcher(struct web_repo_view *v, enum web_repo_tab tab, const char *rev,
                              const char *path)
{
    struct web_buf *b = &v->ctx->out;
    struct repo_ref *refs = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;
    static const char *const kinds[] = {"card", "tree", "commits"};

    if (repo_refs_list(&refs, &count, v->git, &err) < 0 || count == 0) {
        free(refs);
        return;
    }
    web_buf_puts(b, "<details class=\"switcher\"><summary aria-label=\"Switch branch or tag\">"
                    "<span class=\"muted\">rev:</span> ");
    web_buf_escape(b, strlen(rev) == REPO_OID_HEX_BYTES ? "commit" : rev);
    if (strlen(rev) == REPO_OID_HEX_BYTES)
        web_buf_printf(b, " %.10s", rev);
    web_buf_puts(b, " ▾</summary><ul>");
    for (int kind = REPO_REF_BRANCH; kind <= REPO_REF_TAG; kind++) {
        bool first = true;

        for (size_t i = 0; i < count; i++) {
            if ((int)refs[i].kind != kind)
                continue;
            if (first)
                web_buf_printf(b, "<li class=\"group\">%s</li>",
                               kind == REPO_REF_BRANCH ? "Branches" : "Tags");
            first = false;
            web_buf_puts(b, "<li><a href=\"");
            if (tab == WEB_TAB_CARD) {
                web_repo_href(b, v, NULL, NULL, NULL);
                web_buf_puts(b, "?revision=");
                web_buf_url_encode(b, refs[i].name, false);
            } else {
                web_repo_href(b, v, kinds[tab], refs[i].name, tab == WEB_TAB_FILES ? path : NULL);
            }
            web_buf_printf(b, "\"%s>",
                           strcmp(refs[i].name, rev) == 0 ? " aria-current=\"true\"" : "");
            web_buf_escape(b, refs[i].name);
            web_buf_puts(b, "</a></li>");
        }
    }
    web_buf_puts(b, "</ul></details>");
    free(refs);
}

void web_repo_header(struct web_repo_view *v, enum web_repo_tab tab, const char *rev,
                     const char *path)
{
    struct web_buf *b = &v->ctx->out;
    const char *kind = v->meta.type == HUB_REPO_DATASET ? "dataset"
                       : web_repo_is_adapter(v, rev)    ? "adapter"
                                                        : "model";

    web_buf_printf(b, "<div class=\"repo-head\"><span class=\"badge %s\">%s</span><h1>", kind,
                   kind);
    web_buf_puts(b, "<a href=\"/?owner=");
    web_buf_url_encode(b, v->meta.ns, false);
    web_buf_puts(b, "\">");
    web_buf_escape(b, v->meta.ns);
    web_buf_puts(b, "</a> / <a href=\"");
    web_repo_href(b, v, NULL, NULL, NULL);
    web_buf_puts(b, "\">");
    web_buf_escape(b, v->meta.name);
    web_buf_puts(b, "</a></h1>");
    if (v->meta.is_private)
        web_buf_puts(b, "<span class=\"badge private\">private</span>");
    if (tab != WEB_TAB_SETTINGS && tab != WEB_TAB_PULLS)
        web_repo_switcher(v, tab, rev, path);
    web_buf_puts(b, "</div><nav class=\"tabs\" aria-label=\"Repository\">");
    web_repo_tab_link(v, WEB_TAB_CARD, tab,
                      v->meta.type == HUB_REPO_DATASET ? "Dataset card" : "Model card", NULL, rev);
    web_repo_tab_link(v, WEB_TAB_FILES, tab, "Files", "tree", rev);
    web_repo_tab_link(v, WEB_TAB_HISTORY, tab, "History", "commits", rev);
    web_repo_tab_link(v, WEB_TAB_PULLS, tab, "Pull requests", "discussions", NULL);
    if (v->can_write)
        web_repo_tab_link(v, WEB_TAB_SETTINGS, tab, "Settings", "settings", NULL);
    web_buf_puts(b, "</nav>\n");
}

void web_repo_page_begin(struct web_repo_view *v, const char *page_name)
{
    struct web_buf title = {0};

    if (page_name != NULL && page_name[0] != '\0')
        web_buf_printf(&title, "%s · ", page_name);
    web_buf_puts(&title, v->id);
    web_page_begin(v->ctx, title.data != NULL ? title.data : v->id);
    web_buf_dispose(&title);
}

bool web_repo_id_readable(const struct web_ctx *ctx, const char *id, enum hub_repo_type type)
{
    struct meta_repo other;
    struct hub_error err = HUB_ERROR_INIT;
    const char *slash = strchr(id, '/');
    char ns[HUB_MAX_REPO_NAME_BYTES + 1];
    bool readable = false;

    if (slash == NULL || (size_t)(slash - id) >= sizeof(ns))
        return false;
    memcpy(ns, id, (size_t)(slash - id));
    ns[slash - id] = '\0';
    if (!hub_name_is_valid(ns) || !hub_name_is_valid(slash + 1))
        return false;
    if (meta_repo_get(&other, ctx->req->db, type, ns, slash + 1, &err) < 0)
        return false;
    if (meta_repo_can_read(&readable, ctx->req->db, &other, ctx->req->user_id, &err) < 0)
        return false;
    return readable;
}

/* Writes a link to a hosted repo when "ns/name" names one the viewer may read, else the
 * text. */
static void web_model_link(struct web_repo_view *v, const char *id, enum hub_repo_type type)
{
    struct web_buf *b = &v->ctx->out;

    if (!web_repo_id_readable(v->ctx, id, type)) {
        web_buf_escape(b, id);
        return;
    }
    web_buf_printf(b, "<a href=\"%s/", type == HUB_REPO_DATASET ? "/datasets" : "");
    web_buf_url_encode(b, id, true);
    web_buf_puts(b, "\">");
    web_buf_escape(b, id);
    web_buf_puts(b, "</a>");
}

/* Writes a card value: a string, a number, a list of them, or JSON text for anything else. */
static void web_card_value(struct web_repo_view *v, json_t *value, int link_type)
{
    struct web_buf *b = &v->ctx->out;

    if (json_is_array(value)) {
        size_t i;
        json_t *item;

        json_array_foreach(value, i, item)
        {
            if (i > 0)
                web_buf_puts(b, ", ");
            web_card_value(v, item, link_type);
        }
    } else if (json_is_string(value)) {
        if (link_type >= 0)
            web_model_link(v, json_string_value(value), (enum hub_repo_type)link_type);
        else
            web_buf_escape(b, json_string_value(value));
    } else {
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);

        web_buf_escape(b, text);
        free(text);
    }
}

static void web_card_metadata(struct web_repo_view *v, const struct card *card,
                              const char *base_model)
{
    static const struct {
        const char *key;
        const char *label;
        int link_type; /* enum hub_repo_type to link to, or -1 */
    } fields[] = {
        {"license", "License", -1},      {"datasets", "Datasets", HUB_REPO_DATASET},
        {"language", "Language", -1},    {"pipeline_tag", "Pipeline", -1},
        {"library_name", "Library", -1}, {"tags", "Tags", -1},
    };
    struct web_buf *b = &v->ctx->out;

    web_buf_puts(b, "<section aria-labelledby=\"meta-h\"><h2 id=\"meta-h\">Metadata</h2>"
                    "<dl class=\"meta\">");
    if (base_model[0] != '\0') {
        web_buf_puts(b, "<dt>Base model</dt><dd>");
        web_model_link(v, base_model, HUB_REPO_MODEL);
        web_buf_puts(b, "</dd>");
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *value = json_object_get(card->data, fields[i].key);

        if (value == NULL || json_is_null(value))
            continue;
        web_buf_printf(b, "<dt>%s</dt><dd>", fields[i].label);
        web_card_value(v, value, fields[i].link_type);
        web_buf_puts(b, "</dd>");
    }
    web_buf_puts(b, "<dt>Updated</dt><dd>");
    web_format_time(b, v->meta.updated_at);
    web_buf_printf(b, "</dd><dt>Downloads</dt><dd>%lld</dd></dl></section>",
                   (long long)v->meta.downloads);
}

/* Writes one row per metric of the card's model-index. Returns the rows written. */
static size_t web_eval_rows(struct web_buf *b, json_t *model_index)
{
    size_t rows = 0;
    size_t i;
    json_t *model;

    json_array_foreach(model_index, i, model)
    {
        size_t k;
        json_t *result;

        json_array_foreach(json_object_get(model, "results"), k, result)
        {
            json_t *task = json_object_get(result, "task");
            json_t *dataset = json_object_get(result, "dataset");
            size_t m;
            json_t *metric;

            json_array_foreach(json_object_get(result, "metrics"), m, metric)
            {
                json_t *value = json_object_get(metric, "value");
                const char *dataset_name = json_string_value(json_object_get(dataset, "name"));
                const char *metric_name = json_string_value(json_object_get(metric, "name"));
                char *value_text = json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

                web_buf_puts(b, "<tr><td>");
                web_buf_escape(b, json_string_value(json_object_get(task, "type")));
                web_buf_puts(b, "</td><td>");
                web_buf_escape(b, dataset_name != NULL
                                      ? dataset_name
                                      : json_string_value(json_object_get(dataset, "type")));
                web_buf_puts(b, "</td><td>");
                web_buf_escape(b, metric_name != NULL
                                      ? metric_name
                                      : json_string_value(json_object_get(metric, "type")));
                web_buf_puts(b, "</td><td class=\"num\">");
                web_buf_escape(b, json_is_string(value) ? json_string_value(value) : value_text);
                web_buf_puts(b, "</td></tr>");
                free(value_text);
                rows++;
            }
        }
    }
    return rows;
}

static void web_eval_table(struct web_repo_view *v, const struct card *card)
{
    struct web_buf *b = &v->ctx->out;
    struct web_buf rows = WEB_BUF_INIT;
    json_t *model_index = json_object_get(card->data, "model-index");
    size_t count;

    if (!json_is_array(model_index))
        return;
    count = web_eval_rows(&rows, model_index);
    if (count > 0 && !web_buf_failed(&rows)) {
        web_buf_puts(b, "<section aria-labelledby=\"eval-h\"><h2 id=\"eval-h\">Evaluation "
                        "results</h2><div class=\"table-wrap\"><table><thead><tr><th>Task</th>"
                        "<th>Dataset</th><th>Metric</th><th class=\"num\">Value</th></tr>"
                        "</thead><tbody>");
        web_buf_append(b, rows.data, rows.len);
        web_buf_puts(b, "</tbody></table></div></section>");
    }
    web_buf_dispose(&rows);
}

/* Writes the metrics of one stored evaluation as "name value" pairs. */
static void web_eval_metrics(struct web_buf *b, const char *metrics_json)
{
    json_t *metrics = json_loads(metrics_json, 0, NULL);
    const char *key;
    json_t *value;
    bool first = true;

    json_object_foreach(metrics, key, value)
    {
        char *text;

        if (!json_is_number(value))
            continue;
        text = json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(5));
        web_buf_puts(b, first ? "" : ", ");
        web_buf_escape(b, key);
        web_buf_puts(b, " ");
        web_buf_escape(b, text);
        free(text);
        first = false;
    }
    json_decref(metrics);
}

/* Writes the base model and commit that an adapter's evaluation was scored against, linked
 * to that commit. A private base that the viewer cannot read stays unnamed, as a private
 * dataset does. */
static void web_eval_base(struct web_repo_view *v, const struct meta_eval *e)
{
    struct web_buf *b = &v->ctx->out;

    if (e->base_model[0] == '\0')
        return;
    if (!web_repo_id_readable(v->ctx, e->base_model, HUB_REPO_MODEL)) {
        web_buf_puts(b, "<span class=\"muted\">a private model</span>");
        return;
    }
    web_model_link(v, e->base_model, HUB_REPO_MODEL);
    web_buf_puts(b, " at <a href=\"/");
    web_buf_url_encode(b, e->base_model, true);
    web_buf_puts(b, "/commit/");
    web_buf_url_encode(b, e->base_revision, false);
    web_buf_printf(b, "\"><code>%.10s</code></a>", e->base_revision);
}

/* Lists the evaluations that jobs on this hub stored for the repo, newest first. */
static void web_eval_runs(struct web_repo_view *v)
{
    struct web_buf *b = &v->ctx->out;
    struct meta_eval_list evals;
    struct hub_error err = HUB_ERROR_INIT;
    bool with_base = false;

    memset(&evals, 0, sizeof(evals));
    if (meta_evals_for_repo(&evals, v->ctx->req->db, v->id, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the evaluations of %s: %s", v->id, err.msg);
        return;
    }
    for (size_t i = 0; i < evals.count; i++)
        with_base = with_base || evals.items[i].base_model[0] != '\0';
    if (evals.count > 0)
        web_buf_printf(b,
                       "<section aria-labelledby=\"evals-h\"><h2 id=\"evals-h\">Evaluations on "
                       "this hub</h2><div class=\"table-wrap\"><table id=\"evals\"><thead><tr>"
                       "<th>Dataset</th><th>File</th><th>Model revision</th>%s<th>Metrics</th>"
                       "<th>Date</th></tr></thead><tbody>",
                       with_base ? "<th>Base revision</th>" : "");
    for (size_t i = 0; i < evals.count; i++) {
        const struct meta_eval *e = &evals.items[i];

        web_buf_puts(b, "<tr><td>");
        /* The evaluation row names the dataset; a private one stays unnamed to others. */
        if (web_repo_id_readable(v->ctx, e->dataset, HUB_REPO_DATASET))
            web_model_link(v, e->dataset, HUB_REPO_DATASET);
        else
            web_buf_puts(b, "<span class=\"muted\">a private dataset</span>");
        web_buf_puts(b, "</td><td>");
        web_buf_escape(b, e->eval_file);
        web_buf_puts(b, "</td><td><a href=\"");
        web_repo_href(b, v, "commit", e->revision, NULL);
        web_buf_printf(b, "\"><code>%.10s</code></a></td><td>", e->revision);
        if (with_base) {
            web_eval_base(v, e);
            web_buf_puts(b, "</td><td>");
        }
        web_eval_metrics(b, e->metrics_json);
        web_buf_puts(b, "</td><td>");
        if (e->job_id > 0)
            web_buf_printf(b, "<a href=\"/jobs/%lld\">", (long long)e->job_id);
        web_format_time(b, e->created_at);
        web_buf_puts(b, e->job_id > 0 ? "</a></td></tr>" : "</td></tr>");
    }
    if (evals.count > 0)
        web_buf_puts(b, "</tbody></table></div></section>");
    meta_eval_list_dispose(&evals);
}

static bool web_id_listed(char **ids, size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(ids[i], id) == 0)
            return true;
    }
    return false;
}

/* Collects the adapters of this base: repos whose base_model names it, then the outputs of
 * training jobs on it that the viewer may read. */
static size_t web_adapter_ids(char **ids, size_t cap, size_t *total, struct web_repo_view *v)
{
    struct meta_repo_query q;
    struct meta_repo *repos = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    char **from_jobs = NULL;
    size_t n_jobs = 0;
    size_t count = 0;
    size_t listed = 0;

    memset(&q, 0, sizeof(q));
    q.type = HUB_REPO_MODEL;
    q.base_model = v->id;
    q.viewer_user_id = v->ctx->req->user_id;
    q.limit = cap;
    *total = 0;
    if (meta_repo_list(&repos, &listed, total, v->ctx->req->db, &q, &err) < 0)
        hub_log(HUB_LOG_WARN, "web", "cannot list the adapters of %s: %s", v->id, err.msg);
    for (size_t i = 0; i < listed && count < cap; i++) {
        char id[HUB_MAX_REPO_ID_BYTES + 1];

        snprintf(id, sizeof(id), "%s/%s", repos[i].ns, repos[i].name);
        ids[count] = strdup(id);
        if (ids[count] != NULL)
            count++;
    }
    free(repos);
    if (meta_adapters_of_base(&from_jobs, &n_jobs, v->ctx->req->db, v->id, &err) < 0)
        hub_log(HUB_LOG_WARN, "web", "cannot list the job outputs of %s: %s", v->id, err.msg);
    for (size_t i = 0; i < n_jobs; i++) {
        if (count < cap && !web_id_listed(ids, count, from_jobs[i]) &&
            web_repo_id_readable(v->ctx, from_jobs[i], HUB_REPO_MODEL)) {
            ids[count++] = from_jobs[i];
            (*total)++;
        } else {
            free(from_jobs[i]);
        }
    }
    free(from_jobs);
    return count;
}

/* Appends the metrics of the adapter's newest stored evaluation and the dataset file they
 * were measured on, because numbers on different files are not comparable. A private dataset
 * that the viewer cannot read stays unnamed, as in the evaluations table. */
static void web_adapter_latest_eval(struct web_buf *b, struct web_repo_view *v, const char *id)
{
    struct meta_eval_list evals;
    struct hub_error err = HUB_ERROR_INIT;

    memset(&evals, 0, sizeof(evals));
    if (meta_evals_for_repo(&evals, v->ctx->req->db, id, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot list the evaluations of %s: %s", id, err.msg);
        return;
    }
    if (evals.count > 0) {
        web_buf_puts(b, " <span class=\"muted adapter-eval\">");
        web_eval_metrics(b, evals.items[0].metrics_json);
        web_buf_puts(b, " on ");
        if (web_repo_id_readable(v->ctx, evals.items[0].dataset, HUB_REPO_DATASET)) {
            web_model_link(v, evals.items[0].dataset, HUB_REPO_DATASET);
            web_buf_puts(b, ": <code>");
            web_buf_escape(b, evals.items[0].eval_file);
            web_buf_puts(b, "</code>");
        } else {
            web_buf_puts(b, "a private dataset");
        }
        web_buf_puts(b, "</span>");
    }
    meta_eval_list_dispose(&evals);
}

static void web_adapters_list(struct web_repo_view *v)
{
    struct web_buf *b = &v->ctx->out;
    char *ids[WEB_MAX_ADAPTERS];
    size_t total = 0;
    size_t count = web_adapter_ids(ids, WEB_MAX_ADAPTERS, &total, v);

    web_buf_printf(b,
                   "<section aria-labelledby=\"adapters-h\"><h2 id=\"adapters-h\">Adapters "
                   "(%zu)</h2>",
                   total);
    if (count == 0)
        web_buf_puts(b, "<p class=\"muted\">No adapter names this model as its base yet.</p>");
    else
        web_buf_puts(b, "<ul>");
    for (size_t i = 0; i < count; i++) {
        web_buf_puts(b, "<li><a href=\"/");
        web_buf_url_encode(b, ids[i], true);
        web_buf_puts(b, "\">");
        web_buf_escape(b, ids[i]);
        web_buf_puts(b, "</a>");
        web_adapter_latest_eval(b, v, ids[i]);
        web_buf_puts(b, "</li>");
        free(ids[i]);
    }
    if (count > 0)
        web_buf_puts(b, "</ul>");
    if (total > count) {
        web_buf_puts(b, "<p><a href=\"/?type=adapter&amp;base=");
        web_buf_url_encode(b, v->id, false);
        web_buf_puts(b, "\">All adapters</a></p>");
    }
    web_buf_puts(b, "<p><a href=\"/jobs/new?base=");
    web_buf_url_encode(b, v->id, false);
    web_buf_puts(b, "\">Train an adapter on this model</a></p></section>");
}

static void web_download_box(struct web_repo_view *v, const char *rev)
{
    struct web_buf *b = &v->ctx->out;
    bool dataset = v->meta.type == HUB_REPO_DATASET;

    web_buf_puts(b, "<section aria-labelledby=\"use-h\"><h2 id=\"use-h\">Download</h2>"
                    "<p class=\"hint\">With git (large files need git-lfs):</p>"
                    "<pre id=\"use-git\">git lfs install\ngit clone ");
    web_format_base_url(b, v->ctx);
    web_repo_href(b, v, NULL, NULL, NULL);
    web_buf_puts(b, "</pre><button type=\"button\" class=\"secondary\" data-copy=\"use-git\" "
                    "hidden>Copy</button><p class=\"hint\">With huggingface_hub:</p>"
                    "<pre id=\"use-hf\">export HF_ENDPOINT=");
    web_format_base_url(b, v->ctx);
    /* huggingface_hub 1.x ships the `hf` command, which replaces the deprecated
     * `huggingface-cli`. */
    web_buf_printf(b, "\nhf download %s", dataset ? "--repo-type dataset " : "");
    web_buf_escape(b, v->id);
    if (strcmp(rev, REPO_DEFAULT_BRANCH) != 0) {
        web_buf_puts(b, " --revision ");
        web_buf_escape(b, rev);
    }
    web_buf_puts(b,
                 "\n# or from Python:\npython3 -c 'from huggingface_hub import snapshot_download; "
                 "print(snapshot_download(&quot;");
    web_buf_escape(b, v->id);
    web_buf_puts(b, "&quot;");
    if (dataset)
        web_buf_puts(b, ", repo_type=&quot;dataset&quot;");
    if (strcmp(rev, REPO_DEFAULT_BRANCH) != 0) {
        web_buf_puts(b, ", revision=&quot;");
        web_buf_escape(b, rev);
        web_buf_puts(b, "&quot;");
    }
    web_buf_puts(b, "))'");
    web_buf_puts(b, "</pre><button type=\"button\" class=\"secondary\" data-copy=\"use-hf\" "
                    "hidden>Copy</button><p class=\"hint\">One file with curl (add "
                    "<code>-H \"Authorization: Bearer $TOKEN\"</code> for a private "
                    "repo):</p><pre id=\"use-curl\">curl -fLO ");
    web_format_base_url(b, v->ctx);
    web_repo_href(b, v, "resolve", rev, "README.md");
    web_buf_puts(b, "</pre></section>");
}

/* Reads README.md at rev into card; *body gets the text (owned), NULL when there is none. */
static int web_card_load(struct card *card, char **text, size_t *len, struct web_repo_view *v,
                         const char *rev, struct hub_error *err)
{
    int rc;

    *text = NULL;
    *len = 0;
    rc = repo_file_read(text, len, v->git, rev, "README.md", WEB_MAX_CARD_BYTES, err);
    if (rc == HUB_ENOTFOUND) {
        *text = NULL;
        *len = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    return card_parse(card, *text, *len, err);
}

static void web_card_body(struct web_repo_view *v, const char *rev, const struct card *card,
                          const char *text, size_t len)
{
    struct web_buf *b = &v->ctx->out;
    struct hub_error err = HUB_ERROR_INIT;
    char *html = NULL;

    if (text == NULL) {
        web_buf_puts(b, "<p class=\"notice\">This repository has no README.md yet. A model card "
                        "tells others what the model is for, how it was trained and how well "
                        "it does; add one with YAML front matter (license, base_model, "
                        "datasets, tags) at the top.</p>");
        return;
    }
    if (card->problem[0] != '\0') {
        web_buf_puts(b, "<p class=\"notice warn\" role=\"note\">The metadata block of this card "
                        "was ignored: ");
        web_buf_escape(b, card->problem);
        web_buf_puts(b, ".</p>");
    }
    if (web_repo_markdown(&html, v, rev, "", text + card->body_offset, len - card->body_offset,
                          &err) < 0) {
        web_buf_puts(b, "<p class=\"notice bad\">The card could not be rendered.</p><pre>");
        web_buf_escape_n(b, text, len);
        web_buf_puts(b, "</pre>");
        return;
    }
    web_buf_puts(b, "<article class=\"card-body\">");
    web_buf_puts(b, html);
    web_buf_puts(b, "</article>");
    free(html);
}

#define WEB_PREVIEW_ROWS       8          /* dataset rows shown on a dataset card */
#define WEB_PREVIEW_CELL_BYTES 160        /* longer values are cut with an ellipsis */
#define WEB_PREVIEW_FILE_BYTES (1u << 20) /* JSON Lines files previewed, read from git */

static void web_preview_cell(struct web_buf *b, json_t *value)
{
    char *text = json_is_string(value) ? NULL : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    const char *shown = json_is_string(value) ? json_string_value(value) : text;
    size_t len = shown != NULL ? strlen(shown) : 0;
    size_t cut = len;

    if (cut > WEB_PREVIEW_CELL_BYTES) {
        /* Cut on a UTF-8 character boundary. */
        cut = WEB_PREVIEW_CELL_BYTES;
        while (cut > 0 && ((unsigned char)shown[cut] & 0xC0) == 0x80)
            cut--;
    }
    web_buf_puts(b, "<td>");
    web_buf_escape_n(b, shown != NULL ? shown : "", cut);
    web_buf_puts(b, cut < len ? "…</td>" : "</td>");
    free(text);
}

/* Writes the first rows of a JSON Lines file as a table with the keys of the first row. */
static void web_preview_rows(struct web_buf *b, const char *data, size_t len)
{
    json_t *rows[WEB_PREVIEW_ROWS];
    size_t n = 0;
    size_t pos = 0;
    const char *key;
    json_t *value;

    while (pos < len && n < WEB_PREVIEW_ROWS) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : len;
        json_t *row = json_loadb(data + pos, end - pos, 0, NULL);

        if (json_is_object(row))
            rows[n++] = row;
        else
            json_decref(row);
        pos = end + 1;
    }
    if (n == 0)
        return;
    web_buf_puts(b, "<div class=\"table-wrap\"><table id=\"preview\"><thead><tr>");
    json_object_foreach(rows[0], key, value)
    {
        web_buf_puts(b, "<th>");
        web_buf_escape(b, key);
        web_buf_puts(b, "</th>");
    }
    web_buf_puts(b, "</tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        web_buf_puts(b, "<tr>");
        json_object_foreach(rows[0], key, value) web_preview_cell(b, json_object_get(rows[i], key));
        web_buf_puts(b, "</tr>");
        json_decref(rows[i]);
    }
    web_buf_puts(b, "</tbody></table></div>");
}

/* Shows the first rows of the first JSON Lines file at the root of a dataset. */
static void web_dataset_preview(struct web_repo_view *v, const char *rev)
{
    struct web_buf *b = &v->ctx->out;
    struct repo_entry *entries = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;
    char *data = NULL;
    size_t len = 0;

    if (repo_tree_list(&entries, &count, v->git, rev, "", false, &err) < 0)
        return;
    for (size_t i = 0; i < count; i++) {
        const char *path = entries[i].path;
        size_t n = strlen(path);

        if (entries[i].type != REPO_ENTRY_FILE || entries[i].is_lfs || n < 6 ||
            strcmp(path + n - 6, ".jsonl") != 0)
            continue;
        if (repo_file_read(&data, &len, v->git, rev, path, WEB_PREVIEW_FILE_BYTES, &err) < 0 &&
            err.code != HUB_ETOOBIG)
            break;
        web_buf_puts(b, "<section aria-labelledby=\"preview-h\"><h2 id=\"preview-h\">Preview of "
                        "<a href=\"");
        web_repo_href(b, v, "blob", rev, path);
        web_buf_puts(b, "\">");
        web_buf_escape(b, path);
        web_buf_puts(b, "</a></h2>");
        if (data != NULL)
            web_preview_rows(b, data, len);
        else
            web_buf_puts(b, "<p class=\"muted\">The file is too large to preview here.</p>");
        web_buf_puts(b, "</section>");
        break;
    }
    free(data);
    repo_entries_free(entries, count);
}

/* Finds the base model: the repo row, then the card, then adapter_config.json. */
static void web_base_model(char *out, size_t cap, struct web_repo_view *v, const struct card *card,
                           const char *rev)
{
    struct hub_error err = HUB_ERROR_INIT;
    json_t *config;
    char *text = NULL;
    size_t len = 0;

    snprintf(out, cap, "%s", v->meta.base_model);
    if (out[0] != '\0' || web_card_base_model(out, cap, card->data))
        return;
    if (repo_file_read(&text, &len, v->git, rev, "adapter_config.json", 1u << 20, &err) < 0)
        return;
    config = json_loadb(text, len, 0, NULL);
    if (json_is_string(json_object_get(config, "base_model_name_or_path")))
        snprintf(out, cap, "%s",
                 json_string_value(json_object_get(config, "base_model_name_or_path")));
    json_decref(config);
    free(text);
}

static int web_card_page(struct web_repo_view *v)
{
    struct web_ctx *ctx = v->ctx;
    struct web_buf *b = &ctx->out;
    struct card card = CARD_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    char commit[REPO_OID_HEX_BYTES + 1];
    char base_model[HUB_MAX_REPO_ID_BYTES + 1] = "";
    const char *rev = web_form_get(&ctx->query, "revision");
    char *text = NULL;
    size_t len = 0;
    bool adapter;
    int rc;

    if (rev == NULL || rev[0] == '\0')
        rev = REPO_DEFAULT_BRANCH;
    rc = repo_revision_resolve(commit, v->git, rev, &err);
    if (rc == HUB_ENOTFOUND && strcmp(rev, REPO_DEFAULT_BRANCH) == 0) {
        web_page_begin(ctx, v->id);
        web_repo_header(v, WEB_TAB_CARD, rev, NULL);
        web_buf_puts(b, "<p class=\"notice\">This repository is empty. Push to it with git or "
                        "upload files with huggingface_hub.</p>");
        web_download_box(v, rev);
        web_page_end(ctx, 200);
        return 1;
    }
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    rc = web_card_load(&card, &text, &len, v, commit, &err);
    if (rc < 0) {
        free(text);
        return web_page_hub_error(ctx, &err);
    }
    adapter = web_repo_is_adapter(v, commit);
    web_base_model(base_model, sizeof(base_model), v, &card, commit);

    web_page_begin(ctx, v->id);
    web_repo_header(v, WEB_TAB_CARD, rev, NULL);
    web_buf_puts(b, "<div class=\"layout-repo\"><div>");
    if (adapter && base_model[0] != '\0') {
        web_buf_puts(b, "<p class=\"notice\">LoRA adapter for ");
        web_model_link(v, base_model, HUB_REPO_MODEL);
        web_buf_puts(b, ".</p>");
    }
    web_eval_table(v, &card);
    web_eval_runs(v);
    if (v->meta.type == HUB_REPO_DATASET)
        web_dataset_preview(v, rev);
    web_card_body(v, rev, &card, text, len);
    web_buf_puts(b, "</div><aside class=\"side\">");
    web_card_metadata(v, &card, base_model);
    if (v->meta.type == HUB_REPO_MODEL && !adapter)
        web_adapters_list(v);
    web_download_box(v, rev);
    web_buf_puts(b, "<section aria-labelledby=\"contribute-h\"><h2 id=\"contribute-h\">"
                    "Contribute</h2>");
    web_pr_new_link(v);
    web_buf_puts(b, "</section></aside></div>");
    web_page_end(ctx, 200);
    card_dispose(&card);
    free(text);
    return 1;
}

/* Routes the part of the path after the repo id. */
static int web_repo_route(struct web_repo_view *v, const char *const *rest, size_t nrest)
{
    struct web_buf joined = WEB_BUF_INIT;
    struct hub_error err = HUB_ERROR_INIT;
    char rev[HUB_MAX_REVISION_BYTES + 1];
    const char *path;
    char *tail;
    int rc;

    if (nrest == 0)
        return web_card_page(v);
    if (strcmp(rest[0], "commit") == 0 && nrest == 2)
        return web_history_commit(v, rest[1]);
    if (strcmp(rest[0], "settings") == 0)
        return web_repo_settings(v, rest + 1, nrest - 1);
    if (strcmp(rest[0], "discussions") == 0)
        return web_pr_route(v, rest, nrest);
    if (strcmp(rest[0], "commits") != 0 && strcmp(rest[0], "tree") != 0 &&
        strcmp(rest[0], "blob") != 0)
        return web_page_error(v->ctx, 404, "This repository has no such page.");
    if (strcmp(rest[0], "commits") == 0 && nrest == 1)
        return web_history_list(v, REPO_DEFAULT_BRANCH);
    if (nrest < 2)
        return web_page_error(v->ctx, 404,
                              "This page needs a revision in its address, such as tree/main.");

    /* The segments after tree/, blob/ or commits/ are joined again, so a branch such as
     * feature/x works unencoded as well as written feature%2Fx, as in the API's URLs. */
    for (size_t i = 1; i < nrest; i++) {
        if (i > 1)
            web_buf_puts(&joined, "/");
        web_buf_puts(&joined, rest[i]);
    }
    web_buf_puts(&joined, "");
    tail = web_buf_take(&joined, NULL);
    if (tail == NULL)
        return web_page_error(v->ctx, 500, "Out of memory.");
    if (strcmp(rest[0], "commits") == 0) {
        rc = web_history_list(v, tail);
        free(tail);
        return rc;
    }
    rc = repo_revision_split(rev, &path, v->git, tail, &err);
    if (rc == 0) {
        char commit[REPO_OID_HEX_BYTES + 1];

        /* Say that the revision is missing, not the folder or file under it. */
        rc = repo_revision_resolve(commit, v->git, rev, &err);
        if (rc == HUB_ENOTFOUND || rc == HUB_EINVAL) {
            free(tail);
            return web_page_error(v->ctx, 404,
                                  "There is no such branch, tag or commit in this repository.");
        }
    }
    if (rc < 0)
        rc = web_page_hub_error(v->ctx, &err);
    else if (strcmp(rest[0], "tree") == 0)
        rc = web_files_tree(v, rev, path);
    else
        rc = web_files_blob(v, rev, path);
    free(tail);
    return rc;
}

/* Sends /{ns} for a user or organisation to the repo list filtered by that owner. */
static int web_namespace_redirect(struct web_ctx *ctx)
{
    struct meta_namespace ns;
    struct hub_error err = HUB_ERROR_INIT;
    struct web_buf location = WEB_BUF_INIT;
    char *target;
    int rc;

    if (!web_is_get(ctx) || !hub_name_is_valid(ctx->seg[0]) ||
        meta_namespace_resolve(&ns, ctx->req->db, ctx->seg[0], &err) < 0)
        return 0;
    web_buf_puts(&location, "/?owner=");
    web_buf_url_encode(&location, ctx->seg[0], false);
    target = web_buf_take(&location, NULL);
    if (target == NULL)
        return web_page_error(ctx, 500, "Out of memory.");
    rc = web_page_redirect(ctx, target);
    free(target);
    return rc;
}

int web_repo_handle(struct web_ctx *ctx)
{
    struct web_repo_view v;
    struct hub_error err = HUB_ERROR_INIT;
    enum hub_repo_type type = HUB_REPO_MODEL;
    size_t first = 0;
    bool readable = false;
    int rc;

    /* /models and /datasets are the list pages of the Hugging Face Hub. */
    if (ctx->nseg == 1 && web_is_get(ctx) && strcmp(ctx->seg[0], "models") == 0)
        return web_page_redirect(ctx, "/?type=model");
    if (ctx->nseg == 1 && web_is_get(ctx) && strcmp(ctx->seg[0], "datasets") == 0)
        return web_page_redirect(ctx, "/?type=dataset");
    if (ctx->nseg == 1 && strcmp(ctx->seg[0], "api") != 0 && strcmp(ctx->seg[0], "static") != 0)
        return web_namespace_redirect(ctx);
    if (ctx->nseg > 0 && strcmp(ctx->seg[0], "datasets") == 0) {
        type = HUB_REPO_DATASET;
        first = 1;
    }
    if (ctx->nseg < first + 2 || strcmp(ctx->seg[0], "api") == 0 ||
        !hub_name_is_valid(ctx->seg[first]) || !hub_name_is_valid(ctx->seg[first + 1]))
        return 0;
    /* Only the Settings and pull request pages take POST, for their forms. */
    if (!web_is_get(ctx) &&
        (ctx->nseg < first + 3 || (strcmp(ctx->seg[first + 2], "settings") != 0 &&
                                   strcmp(ctx->seg[first + 2], "discussions") != 0)))
        return web_page_error(ctx, 400,
                              "Repository pages other than Settings and pull requests only "
                              "answer GET.");

    memset(&v, 0, sizeof(v));
    v.ctx = ctx;
    v.prefix = type == HUB_REPO_DATASET ? "/datasets" : "";
    snprintf(v.id, sizeof(v.id), "%s/%s", ctx->seg[first], ctx->seg[first + 1]);
    rc = meta_repo_get(&v.meta, ctx->req->db, type, ctx->seg[first], ctx->seg[first + 1], &err);
    if (rc == 0)
        rc = meta_repo_can_read(&readable, ctx->req->db, &v.meta, ctx->req->user_id, &err);
    if (rc == 0 && readable)
        rc = meta_repo_can_write(&v.can_write, ctx->req->db, &v.meta, ctx->req->user_id, &err);
    if (rc == HUB_ENOTFOUND || (rc == 0 && !readable))
        return web_page_error(ctx, 404, "There is no repository with this name.");
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    /* Show the names as stored, whatever case the URL used. */
    snprintf(v.id, sizeof(v.id), "%s/%s", v.meta.ns, v.meta.name);
    rc = repo_open(&v.git, ctx->req->data_dir, type, v.meta.ns, v.meta.name, &err);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    rc = web_repo_route(&v, ctx->seg + first + 2, ctx->nseg - first - 2);
    repo_close(v.git);
    return rc;
}
