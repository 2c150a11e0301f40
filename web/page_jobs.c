/* page_jobs: /jobs (the queue), /jobs/new (the training form) and /jobs/{id} (one job with its
 * parameters, live progress, loss curve, log, result and cancel button). Jobs are visible to
 * their owner and to admins, as in the jobs API. The form is sent by atelier.js to POST
 * /api/jobs, whose validation is the one every client gets; cancel is a page form here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hub_log.h"
#include "meta.h"
#include "meta_jobs.h"
#include "meta_repo.h"
#include "repo.h"
#include "web_page.h"
#include "web_summary.h"

#define WEB_JOBS_PER_PAGE    50
#define WEB_MAX_CHART_EVENTS 5000 /* progress events drawn on the server-rendered chart */
#define WEB_MAX_LOG_EVENTS   300  /* log lines shown on the job page */
/* Significant digits of reals from job events and metrics in the HTML: jansson's default of
 * 17 shows a stored 0.874755 as 0.87475499999999995. The API keeps up to 10. */
#define WEB_JOB_REAL_PRECISION 6

/* The events of a job that its page draws. */
struct web_job_drawn {
    json_t *points;   /* [step, loss] of each progress event */
    json_t *log;      /* data of each log event */
    int64_t last_seq; /* the seq of the last event read, after which the page's stream starts */
};

static bool web_job_visible(const struct web_ctx *ctx, const struct meta_job *job)
{
    return ctx->req->user_is_admin || job->owner_id == ctx->req->user_id;
}

static void web_job_state_badge(struct web_buf *b, enum meta_job_state state, const char *id)
{
    web_buf_printf(b, "<span class=\"badge state-%s\"%s%s%s>%s</span>", meta_job_state_name(state),
                   id ? " id=\"" : "", id ? id : "", id ? "\"" : "", meta_job_state_name(state));
}

static void web_repo_link(struct web_buf *b, const char *id, bool dataset)
{
    if (id == NULL || id[0] == '\0') {
        web_buf_puts(b, "<span class=\"muted\">none</span>");
        return;
    }
    web_buf_printf(b, "<a href=\"%s/", dataset ? "/datasets" : "");
    web_buf_url_encode(b, id, true);
    web_buf_puts(b, "\">");
    web_buf_escape(b, id);
    web_buf_puts(b, "</a>");
}

/* Writes " at commit ABBREV" for an input commit that the job pinned, nothing while it has
 * none. */
static void web_pinned_commit(struct web_buf *b, const char *commit, const char *id)
{
    if (commit[0] == '\0')
        return;
    web_buf_printf(b,
                   " at commit <code id=\"%s\" title=\"%s: the first attempt resolved it and every "
                   "retry uses it\">%.10s</code>",
                   id, commit, commit);
}

static void web_job_progress_cell(struct web_buf *b, const struct meta_job *job)
{
    const struct meta_job_progress *p = &job->progress;

    if (p->has_step && p->has_total_steps && p->total_steps > 0) {
        web_buf_printf(b, "<progress max=\"%lld\" value=\"%lld\">%lld%%</progress> %lld/%lld",
                       (long long)p->total_steps, (long long)p->step,
                       (long long)(100 * p->step / p->total_steps), (long long)p->step,
                       (long long)p->total_steps);
    } else if (p->has_step) {
        web_buf_printf(b, "step %lld", (long long)p->step);
    } else {
        web_buf_puts(b, "<span class=\"muted\">–</span>");
    }
    if (p->has_loss && isfinite(p->loss))
        web_buf_printf(b, " <span class=\"muted\">loss %.4f</span>", p->loss);
}

/* Writes the Model and Output cells of a job row. A training job's model is its base and its
 * output the adapter repo. An evaluation job's model is the evaluated repo, with the base of
 * an adapter once the job pinned it, and its output is only metrics. */
static void web_jobs_repo_cells(struct web_buf *b, const struct meta_job *job)
{
    if (job->type == META_JOB_TRAIN) {
        web_repo_link(b, job->base_repo, false);
        web_buf_puts(b, "</td><td>");
        web_repo_link(b, job->repo, false);
        return;
    }
    web_repo_link(b, job->repo, false);
    if (job->base_repo[0] != '\0') {
        web_buf_puts(b, " <span class=\"muted\">adapter of ");
        web_buf_escape(b, job->base_repo);
        web_buf_puts(b, "</span>");
    }
    web_buf_puts(b, "</td><td><span class=\"muted\">metrics</span>");
}

static size_t web_jobs_page(const struct web_ctx *ctx)
{
    const char *text = web_form_get(&ctx->query, "page");
    char *end = NULL;
    unsigned long long n;

    if (text == NULL || text[0] < '1' || text[0] > '9')
        return 1;
    n = strtoull(text, &end, 10);
    return *end == '\0' && n < 1000000 ? (size_t)n : 1;
}

/* Writes Newer and Older links that keep the state and owner filters. */
static void web_jobs_pager(struct web_buf *b, const struct meta_job_filter *filter,
                           const char *owner_param, int64_t total)
{
    size_t page = filter->offset / WEB_JOBS_PER_PAGE + 1;

    web_buf_puts(b, "<nav class=\"pager\" aria-label=\"Pages\">");
    for (int older = 0; older < 2; older++) {
        size_t target = older ? page + 1 : page - 1;

        if ((!older && page == 1) || (older && (int64_t)(page * WEB_JOBS_PER_PAGE) >= total))
            continue;
        web_buf_printf(b, "<a rel=\"%s\" href=\"/jobs?page=%zu", older ? "next" : "prev", target);
        if (filter->state >= 0)
            web_buf_printf(b, "&amp;state=%s",
                           meta_job_state_name((enum meta_job_state)filter->state));
        if (owner_param != NULL) {
            web_buf_puts(b, "&amp;owner=");
            web_buf_url_encode(b, owner_param, false);
        }
        web_buf_printf(b, "\">%s</a>", older ? "Older" : "Newer");
    }
    web_buf_puts(b, "</nav>");
}

/* Returns how many jobs of the filter's owner (all owners when NULL) are in state, or -1
 * when the count fails. */
static int64_t web_jobs_state_total(struct web_ctx *ctx, const char *owner,
                                    enum meta_job_state state)
{
    struct meta_job_filter filter;
    struct meta_job_list list;
    struct hub_error err = HUB_ERROR_INIT;
    int64_t total;

    memset(&filter, 0, sizeof(filter));
    memset(&list, 0, sizeof(list));
    filter.owner = owner;
    filter.state = (int)state;
    filter.limit = 1;
    if (meta_job_list(&list, ctx->req->db, &filter, &err) < 0) {
        hub_log(HUB_LOG_WARN, "web", "cannot count %s jobs: %s", meta_job_state_name(state),
                err.msg);
        return -1;
    }
    total = list.total;
    meta_job_list_dispose(&list);
    return total;
}

/* Writes the line above the job table: how many jobs are listed, then how many jobs of the
 * same owner (all owners for an admin's whole queue) are queued and running, whichever state
 * the list is filtered by. */
static void web_jobs_summary(struct web_ctx *ctx, const struct meta_job_filter *filter,
                             int64_t listed)
{
    struct web_buf *b = &ctx->out;
    int64_t queued = web_jobs_state_total(ctx, filter->owner, META_JOB_QUEUED);
    int64_t running = web_jobs_state_total(ctx, filter->owner, META_JOB_RUNNING);

    web_buf_printf(b, "<p class=\"muted\" id=\"jobs-summary\">%lld job%s", (long long)listed,
                   listed == 1 ? "" : "s");
    if (filter->state >= 0)
        web_buf_printf(b, " %s", meta_job_state_name((enum meta_job_state)filter->state));
    if (!ctx->req->user_is_admin) {
        web_buf_puts(b, " of yours");
    } else if (filter->owner != NULL) {
        web_buf_puts(b, " of ");
        web_buf_escape(b, filter->owner);
    }
    if (queued >= 0 && running >= 0)
        web_buf_printf(b, ". %lld queued, %lld running", (long long)queued, (long long)running);
    web_buf_puts(b, ".</p>");
}

static int web_jobs_list(struct web_ctx *ctx)
{
    struct web_buf *b = &ctx->out;
    struct meta_job_filter filter;
    struct meta_job_list list;
    struct hub_error err = HUB_ERROR_INIT;
    const char *state_text = web_form_get(&ctx->query, "state");
    const char *owner = web_form_get(&ctx->query, "owner");
    enum meta_job_state state;
    int rc;

    memset(&filter, 0, sizeof(filter));
    memset(&list, 0, sizeof(list));
    filter.state = -1;
    if (state_text != NULL && meta_job_state_parse(&state, state_text))
        filter.state = (int)state;
    /* A user lists only their own jobs. Admins list the whole queue unless they pick an owner. */
    if (!ctx->req->user_is_admin)
        filter.owner = ctx->req->user_name;
    else if (owner != NULL && owner[0] != '\0')
        filter.owner = owner;
    filter.limit = WEB_JOBS_PER_PAGE;
    filter.offset = (web_jobs_page(ctx) - 1) * WEB_JOBS_PER_PAGE;
    rc = meta_job_list(&list, ctx->req->db, &filter, &err);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);

    web_page_begin(ctx, "Jobs");
    web_buf_puts(b, "<div class=\"toolbar\"><h1>Jobs</h1><a class=\"button\" href=\"/jobs/new\">"
                    "New training job</a></div>");
    web_buf_puts(b, "<form class=\"toolbar\" method=\"get\" action=\"/jobs\">"
                    "<label for=\"jobs-state\">State</label><select id=\"jobs-state\" "
                    "name=\"state\"><option value=\"\">any</option>");
    for (int s = META_JOB_QUEUED; s <= META_JOB_CANCELED; s++)
        web_buf_printf(b, "<option%s>%s</option>", filter.state == s ? " selected" : "",
                       meta_job_state_name((enum meta_job_state)s));
    web_buf_puts(b, "</select><button type=\"submit\" class=\"secondary\">Filter</button></form>");
    web_jobs_summary(ctx, &filter, list.total);
    if (list.count > 0)
        web_buf_puts(b, "<div class=\"table-wrap\"><table id=\"jobs\"><thead><tr><th>Job</th>"
                        "<th>State</th><th>Owner</th><th>Model</th><th>Output</th>"
                        "<th>Progress</th><th>Created</th></tr></thead><tbody>");
    for (size_t i = 0; i < list.count; i++) {
        const struct meta_job *job = &list.items[i];

        web_buf_printf(b, "<tr><td><a href=\"/jobs/%lld\">#%lld %s</a></td><td>",
                       (long long)job->id, (long long)job->id, meta_job_type_name(job->type));
        web_job_state_badge(b, job->state, NULL);
        web_buf_puts(b, "</td><td>");
        web_buf_escape(b, job->owner);
        web_buf_puts(b, "</td><td>");
        web_jobs_repo_cells(b, job);
        web_buf_puts(b, "</td><td>");
        web_job_progress_cell(b, job);
        web_buf_puts(b, "</td><td>");
        web_format_time(b, job->created_at);
        web_buf_puts(b, "</td></tr>\n");
    }
    if (list.count > 0)
        web_buf_puts(b, "</tbody></table></div>");
    else
        web_buf_puts(b, "<p>No jobs yet. <a href=\"/jobs/new\">Start a training job</a>.</p>");
    web_jobs_pager(b, &filter, ctx->req->user_is_admin ? filter.owner : NULL, list.total);
    web_page_end(ctx, 200);
    meta_job_list_dispose(&list);
    return 1;
}

/* Returns whether the model repo has a config.json at commit, the check the jobs API makes
 * before it queues a base model. A repo that cannot be opened counts as having none. */
static bool web_model_has_config(struct web_ctx *ctx, const struct meta_repo *model,
                                 const char *commit)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct repo_entry entry;
    struct repo *r = NULL;
    int rc;

    memset(&entry, 0, sizeof(entry));
    rc = repo_open(&r, ctx->req->data_dir, HUB_REPO_MODEL, model->ns, model->name, &err);
    if (rc == 0)
        rc = repo_entry_stat(&entry, r, commit, "config.json", &err);
    if (rc < 0 && rc != HUB_ENOTFOUND)
        hub_log(HUB_LOG_WARN, "web", "cannot look up config.json in %s/%s: %s", model->ns,
                model->name, err.msg);
    free(entry.path);
    repo_close(r);
    return rc == 0;
}

/* Writes a <select> of the repos of type that the viewer can read. */
static void web_repo_select(struct web_ctx *ctx, const char *id, const char *name,
                            enum hub_repo_type type, const char *selected)
{
    struct web_buf *b = &ctx->out;
    struct meta_repo_query q;
    struct meta_repo *repos = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    size_t count = 0;

    memset(&q, 0, sizeof(q));
    q.type = type;
    q.sort = META_REPO_SORT_NAME;
    q.viewer_user_id = ctx->req->user_id;
    q.limit = HUB_MAX_LIST_LIMIT;
    if (meta_repo_list(&repos, &count, NULL, ctx->req->db, &q, &err) < 0)
        hub_log(HUB_LOG_WARN, "web", "cannot list repos for the job form: %s", err.msg);
    web_buf_printf(b,
                   "<select id=\"%s\" name=\"%s\" required><option value=\"\">Choose…"
                   "</option>",
                   id, name);
    for (size_t i = 0; i < count; i++) {
        char full[HUB_MAX_REPO_ID_BYTES + 1];

        /* The jobs API rejects an adapter as a base, and a repo without config.json at the
         * head of main (an empty repo, or one with only a README) has no model to train.
         * The list leaves both out. A full model that names a base in its card (a
         * fine-tune) stays. The summary comes from the table unless main moved since it was
         * computed. */
        if (type == HUB_REPO_MODEL) {
            struct web_repo_summary summary;
            bool skip;

            memset(&summary, 0, sizeof(summary));
            if (web_summary_get(&summary, ctx->req->db, ctx->req->data_dir, &repos[i], &err) < 0)
                hub_log(HUB_LOG_WARN, "web", "cannot read the summary of %s/%s: %s", repos[i].ns,
                        repos[i].name, err.msg);
            skip = summary.is_adapter || summary.commit[0] == '\0' || summary.file_count <= 1 ||
                   !web_model_has_config(ctx, &repos[i], summary.commit);
            web_summary_dispose(&summary);
            if (skip)
                continue;
        }
        snprintf(full, sizeof(full), "%s/%s", repos[i].ns, repos[i].name);
        web_buf_puts(b, "<option value=\"");
        web_buf_escape(b, full);
        web_buf_printf(b, "\"%s>",
                       selected != NULL && strcmp(selected, full) == 0 ? " selected" : "");
        web_buf_escape(b, full);
        web_buf_puts(b, "</option>");
    }
    web_buf_puts(b, "</select>");
    free(repos);
}

struct web_param_field {
    const char *name;
    const char *label;
    const char *type;  /* "number" or "text" */
    const char *value; /* default shown in the form */
    const char *attrs; /* min, max, step */
    const char *hint;
};

/* The defaults are the ones the jobs API fills in for a field that is left out, which are
 * those of `atelier train --help` (see params_default in server/jobs_spec.c). */
static const struct web_param_field web_param_fields[] = {
    {"epochs", "Epochs", "number", "", "min=\"1\" max=\"10000\" placeholder=\"1\"",
     "Passes over the training data. Leave both this and the steps empty for one epoch; set "
     "one of them, not both."},
    {"steps", "Training steps", "number", "",
     "min=\"1\" max=\"10000000\" placeholder=\"from the epochs\"",
     "Optimizer updates to run in place of the epochs. More steps fit the data more closely; "
     "too many overfit a small dataset."},
    {"lr", "Learning rate", "number", "0.0002", "min=\"0\" max=\"1\" step=\"any\"",
     "Size of each update, above 0. 1e-4 to 3e-4 suits most LoRA runs; lower it if the loss "
     "jumps."},
    {"rank", "LoRA rank", "number", "8", "min=\"1\" max=\"1024\"",
     "Width of the low-rank update. Higher ranks can learn more and make larger adapters."},
    {"alpha", "LoRA alpha", "number", "16", "min=\"0\" max=\"1000000\" step=\"any\"",
     "Scale of the update, above 0: it is multiplied by alpha / rank. Twice the rank is common."},
    {"targets", "Target modules", "text", "q_proj,v_proj", "",
     "Linear layers that get an adapter: a comma-separated list of q_proj, k_proj, v_proj, "
     "o_proj, gate_proj, up_proj, down_proj, or all-linear."},
    {"batch", "Batch size", "number", "4", "min=\"1\" max=\"64\"",
     "Sequences per step. Larger batches give smoother updates and use more memory."},
    {"grad_accum", "Gradient accumulation", "number", "1", "min=\"1\" max=\"4096\"",
     "Batches summed before each update, for a larger effective batch without more memory."},
    {"seq_len", "Sequence length", "number", "512", "min=\"2\" max=\"1048576\"",
     "Tokens per training example; longer examples are cut to this length, and the job log "
     "warns when that happens. <code>atelier tokenize</code> shows the length of a text."},
    {"warmup", "Warmup steps", "number", "0", "min=\"0\" max=\"10000000\"",
     "Steps over which the learning rate rises from zero, which steadies the first updates."},
    {"seed", "Random seed", "number", "42", "min=\"0\" max=\"4294967295\"",
     "The same seed, data and settings give the same adapter."},
    {"checkpoint_every", "Checkpoint every", "number", "25", "min=\"1\" max=\"10000000\"",
     "Steps between checkpoints; a job that stops is retried from the last one."},
};

static void web_job_form_fields(struct web_ctx *ctx)
{
    struct web_buf *b = &ctx->out;

    for (size_t i = 0; i < sizeof(web_param_fields) / sizeof(web_param_fields[0]); i++) {
        const struct web_param_field *f = &web_param_fields[i];

        web_buf_printf(b,
                       "<div class=\"field\"><label for=\"p-%s\">%s</label><input "
                       "id=\"p-%s\" name=\"param.%s\" type=\"%s\" value=\"%s\" %s "
                       "aria-describedby=\"h-%s\"><p class=\"hint\" id=\"h-%s\">%s</p>"
                       "</div>",
                       f->name, f->label, f->name, f->name, f->type, f->value, f->attrs, f->name,
                       f->name, f->hint);
    }
}

static int web_job_new(struct web_ctx *ctx)
{
    struct web_buf *b = &ctx->out;
    const char *base = web_form_get(&ctx->query, "base");
    const char *dataset = web_form_get(&ctx->query, "dataset");

    web_page_begin(ctx, "New training job");
    web_buf_puts(b, "<h1>New training job</h1><p>Fine-tune a LoRA adapter on a base model. "
                    "The job waits in the queue, trains on a worker, and commits the adapter, "
                    "its model card and the training log to the output repository.</p>"
                    "<noscript><p class=\"notice warn\">This form needs JavaScript. Without "
                    "it, send the same fields as JSON to <code>POST /api/jobs</code> with an "
                    "API token.</p></noscript>");
    web_buf_puts(
        b, "<p class=\"notice bad\" id=\"job-error\" role=\"alert\" tabindex=\"-1\" hidden></p>"
           "<form id=\"job-form\" method=\"post\" action=\"/jobs/new\" "
           "data-api=\"/api/jobs\" data-csrf=\"");
    web_buf_escape(b, ctx->csrf);
    web_buf_puts(b, "\"><fieldset><legend>What to train</legend>"
                    "<div class=\"field\"><label for=\"job-base\">Base model</label>");
    web_repo_select(ctx, "job-base", "base_model", HUB_REPO_MODEL, base);
    web_buf_puts(b, "<p class=\"hint\">The model whose weights stay frozen.</p></div>"
                    "<div class=\"field\"><label for=\"job-base-rev\">Base revision</label>"
                    "<input id=\"job-base-rev\" name=\"base_revision\" value=\"main\"></div>"
                    "<div class=\"field\"><label for=\"job-dataset\">Dataset</label>");
    web_repo_select(ctx, "job-dataset", "dataset", HUB_REPO_DATASET, dataset);
    web_buf_puts(b, "</div><div class=\"field\"><label for=\"job-train-file\">Training file"
                    "</label><input id=\"job-train-file\" name=\"train_file\" "
                    "value=\"train.jsonl\" required><p class=\"hint\">A JSON Lines file in the "
                    "dataset with one example per line: {\"text\"}, {\"prompt\", "
                    "\"completion\"}, {\"instruction\", \"input\", \"output\"} "
                    "(Alpaca; \"input\" may be empty) or chat {\"messages\"}.</p></div>"
                    "<div class=\"field\"><label for=\"job-eval-file\">Evaluation file "
                    "(optional)</label><input id=\"job-eval-file\" name=\"eval_file\"><p "
                    "class=\"hint\">Held-out examples; the loss on them goes into the model "
                    "card.</p></div><div class=\"field\"><label for=\"job-output\">Output "
                    "repository</label><input id=\"job-output\" name=\"output_repo\" required "
                    "value=\"");
    web_buf_escape(b, ctx->req->user_name);
    web_buf_puts(b, "/my-adapter\"><p class=\"hint\">Created when missing; each run adds "
                    "one commit.</p></div></fieldset><fieldset><legend>Hyperparameters"
                    "</legend>");
    web_job_form_fields(ctx);
    web_buf_puts(b, "</fieldset><button type=\"submit\">Start training</button></form>");
    web_page_end(ctx, 200);
    return 1;
}

/* Appends the job's spec as a definition list: top-level fields, then params. */
static void web_job_spec(struct web_buf *b, const char *spec_json)
{
    json_t *spec = spec_json != NULL ? json_loads(spec_json, 0, NULL) : NULL;
    json_t *params = json_object_get(spec, "params");
    const char *key;
    json_t *value;

    web_buf_puts(b, "<h2>Parameters</h2><dl class=\"meta\" id=\"job-params\">");
    json_object_foreach(spec, key, value)
    {
        char *text;

        if (value == params)
            continue;
        text = json_dumps(value, JSON_ENCODE_ANY);
        web_buf_puts(b, "<dt>");
        web_buf_escape(b, key);
        web_buf_puts(b, "</dt><dd>");
        web_buf_escape(b, json_is_string(value) ? json_string_value(value) : text);
        web_buf_puts(b, "</dd>");
        free(text);
    }
    json_object_foreach(params, key, value)
    {
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(8));

        web_buf_puts(b, "<dt>");
        web_buf_escape(b, key);
        web_buf_puts(b, "</dt><dd>");
        web_buf_escape(b, json_is_string(value) ? json_string_value(value) : text);
        web_buf_puts(b, "</dd>");
        free(text);
    }
    web_buf_puts(b, "</dl>");
    json_decref(spec);
}

/* Writes the last WEB_MAX_LOG_EVENTS log lines, each a span whose class names its level
 * (log-info, log-warning, log-error) so warnings stand out. */
static void web_job_log_render(struct web_buf *b, json_t *lines)
{
    size_t count = json_array_size(lines);
    size_t first = count > WEB_MAX_LOG_EVENTS ? count - WEB_MAX_LOG_EVENTS : 0;

    for (size_t i = first; i < count; i++) {
        json_t *data = json_array_get(lines, i);
        const char *line = json_string_value(json_object_get(data, "line"));
        const char *level = json_string_value(json_object_get(data, "level"));
        char *text =
            line == NULL
                ? json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(WEB_JOB_REAL_PRECISION))
                : NULL;

        if (level == NULL || (strcmp(level, "warning") != 0 && strcmp(level, "error") != 0))
            level = "info";
        web_buf_printf(b, "<span class=\"log-%s\">", level);
        web_buf_escape(b, line != NULL ? line : text != NULL ? text : "");
        web_buf_puts(b, "</span>\n");
        free(text);
    }
}

/* Collects [step, loss] points of the progress events and the data of the log events into
 * drawn, and the seq of the last event read, from which the page's script resumes the
 * stream. */
static void web_job_events(struct web_ctx *ctx, const struct meta_job *job,
                           struct web_job_drawn *drawn)
{
    struct meta_job_event_list events;
    struct hub_error err = HUB_ERROR_INIT;
    json_t *points = drawn->points;
    json_t *log = drawn->log;
    int64_t after = 0;

    /* At most 20 batches of 1000 events, so a job with a huge log cannot stall the page. */
    for (int batch = 0; batch < 20 && json_array_size(points) < WEB_MAX_CHART_EVENTS; batch++) {
        memset(&events, 0, sizeof(events));
        if (meta_job_events_since(&events, ctx->req->db, job->id, after, 1000, &err) < 0) {
            hub_log(HUB_LOG_WARN, "web", "cannot read the events of job %lld: %s",
                    (long long)job->id, err.msg);
            break;
        }
        for (size_t i = 0; i < events.count; i++) {
            json_t *data = json_loads(events.items[i].data_json, 0, NULL);
            json_t *step = json_object_get(data, "step");
            json_t *loss = json_object_get(data, "loss");

            after = events.items[i].seq;
            if (strcmp(events.items[i].kind, "progress") == 0 && json_is_integer(step) &&
                json_is_number(loss))
                json_array_append_new(
                    points, json_pack("[If]", json_integer_value(step), json_number_value(loss)));
            if (strcmp(events.items[i].kind, "log") == 0 && data != NULL)
                json_array_append(log, data);
            json_decref(data);
        }
        meta_job_event_list_dispose(&events);
        if (events.count == 0)
            break;
    }
    drawn->last_seq = after;
}

/* Writes the step, loss, speed and time left of a training job, its progress bar and its
 * loss chart. A job in a final state without points gets a line in place of the chart, since
 * the chart's empty text suggests that loss may still come. Returns whether the chart was
 * drawn. */
static bool web_job_training_stats(struct web_buf *b, const struct meta_job *job, json_t *points)
{
    const struct meta_job_progress *p = &job->progress;
    char *points_text;

    web_buf_puts(b, "<h2>Progress</h2><div class=\"stats\">");
    web_buf_puts(b,
                 "<div><div class=\"muted\">Step</div><div class=\"value\" data-field=\"step\">");
    if (p->has_step)
        web_buf_printf(b, "%lld", (long long)p->step);
    else
        web_buf_puts(b, "–");
    if (p->has_step && p->has_total_steps)
        web_buf_printf(b, " / %lld", (long long)p->total_steps);
    web_buf_puts(b, "</div></div><div><div class=\"muted\">Loss</div><div class=\"value\" "
                    "data-field=\"loss\">");
    if (p->has_loss && isfinite(p->loss))
        web_buf_printf(b, "%.4f", p->loss);
    else
        web_buf_puts(b, "–");
    web_buf_puts(b, "</div></div><div><div class=\"muted\">Tokens/s</div><div class=\"value\" "
                    "data-field=\"tokens_per_s\">");
    if (p->has_tokens_per_s && isfinite(p->tokens_per_s))
        web_buf_printf(b, "%.0f", p->tokens_per_s);
    else
        web_buf_puts(b, "–");
    web_buf_puts(b, "</div></div><div><div class=\"muted\">Time left</div><div class=\"value\" "
                    "data-field=\"eta_s\">");
    if (p->has_eta_s && isfinite(p->eta_s) && !meta_job_state_is_terminal(job->state))
        web_buf_printf(b, "%.0f s", p->eta_s);
    else
        web_buf_puts(b, "–");
    web_buf_printf(b,
                   "</div></div></div><progress id=\"job-progress\" max=\"%lld\" "
                   "value=\"%lld\"></progress>",
                   (long long)(p->has_total_steps && p->total_steps > 0 ? p->total_steps : 1),
                   (long long)(p->has_step ? p->step : 0));
    web_buf_puts(b, "<h2>Training loss</h2>");
    if (json_array_size(points) == 0 && meta_job_state_is_terminal(job->state)) {
        web_buf_puts(b, "<p class=\"muted\" id=\"loss-none\">No loss was reported.</p>");
        return false;
    }
    points_text = json_dumps(points, JSON_COMPACT | JSON_REAL_PRECISION(WEB_JOB_REAL_PRECISION));
    web_buf_puts(b, "<svg id=\"loss-chart\" class=\"chart\" viewBox=\"0 0 600 240\" role=\"img\" "
                    "aria-label=\"Training loss by step\" data-points=\"");
    web_buf_escape(b, points_text != NULL ? points_text : "[]");
    web_buf_printf(b,
                   "\"><title>Training loss by step</title></svg><p class=\"hint\"><span "
                   "id=\"chart-points\">%zu</span> points.</p>",
                   json_array_size(points));
    free(points_text);
    return true;
}

/* Writes the live section: a training job's progress and loss chart, then the log of every
 * job. An evaluation job has neither steps nor a training loss, so it shows only the log.
 * Its results are the metrics above. */
static void web_job_live(struct web_ctx *ctx, const struct meta_job *job,
                         const struct web_job_drawn *drawn)
{
    struct web_buf *b = &ctx->out;
    bool train = job->type == META_JOB_TRAIN;
    bool chart = false;

    /* data-last-event is the seq of the last event drawn here, so the script's event stream
     * starts after it instead of adding the same log lines again. */
    web_buf_printf(b,
                   "<section id=\"job-live\" data-job-id=\"%lld\" data-state=\"%s\" "
                   "data-last-event=\"%lld\" data-csrf=\"",
                   (long long)job->id, meta_job_state_name(job->state), (long long)drawn->last_seq);
    web_buf_escape(b, ctx->csrf);
    web_buf_puts(b, "\"><p class=\"notice bad\" id=\"job-live-error\" role=\"alert\" hidden></p>");
    if (train)
        chart = web_job_training_stats(b, job, drawn->points);
    web_buf_puts(b, "<h2>Log</h2><pre class=\"log\" id=\"job-log\">");
    web_job_log_render(b, drawn->log);
    web_buf_printf(b,
                   "</pre><p class=\"hint\">%sThe <a href=\"/api/jobs/%lld/log\">full log</a> "
                   "has every line the %s wrote.</p></section>",
                   chart ? "Step lines are drawn above. " : "", (long long)job->id,
                   train ? "trainer" : "evaluation");
}

/* Writes one metrics row per number, with nested objects flattened to "train.loss". A null
 * metric (such as the eval losses of a job without an eval file) gets no row. Returns the
 * number of rows written. */
static size_t web_metric_rows(struct web_buf *b, const char *prefix, json_t *object, int depth)
{
    const char *key;
    json_t *value;
    size_t rows = 0;

    json_object_foreach(object, key, value)
    {
        char *text;

        if (json_is_object(value) && depth < 3) {
            char nested[256];

            snprintf(nested, sizeof(nested), "%s%s.", prefix, key);
            rows += web_metric_rows(b, nested, value, depth + 1);
            continue;
        }
        if (json_is_null(value))
            continue;
        text = json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(WEB_JOB_REAL_PRECISION));
        web_buf_puts(b, "<tr><th>");
        web_buf_escape(b, prefix);
        web_buf_escape(b, key);
        web_buf_puts(b, "</th><td class=\"num\">");
        web_buf_escape(b, text != NULL ? text : "");
        web_buf_puts(b, "</td></tr>");
        free(text);
        rows++;
    }
    return rows;
}

static void web_job_result(struct web_buf *b, const struct meta_job *job)
{
    json_t *metrics =
        job->result_metrics_json ? json_loads(job->result_metrics_json, 0, NULL) : NULL;

    if (job->error != NULL) {
        web_buf_puts(b, "<p class=\"notice bad\" role=\"alert\" id=\"job-error-text\">");
        web_buf_escape(b, job->error);
        web_buf_puts(b, "</p>");
    }
    /* A training job's commit is the adapter it committed, an evaluation job's the commit of
     * the model it measured. */
    if (job->result_commit[0] != '\0') {
        bool train = job->type == META_JOB_TRAIN;

        web_buf_printf(b, "<p class=\"notice ok\" id=\"job-result\">%s <a id=\"%s\" href=\"/",
                       train ? "Adapter committed to" : "Evaluated",
                       train ? "job-adapter-link" : "job-model-link");
        web_buf_url_encode(b, job->repo, true);
        web_buf_puts(b, "\">");
        web_buf_escape(b, job->repo);
        web_buf_printf(b, "</a> %s <a href=\"/", train ? "as commit" : "at commit");
        web_buf_url_encode(b, job->repo, true);
        web_buf_printf(b, "/commit/%s\"><code>%.10s</code></a>.</p>", job->result_commit,
                       job->result_commit);
    }
    /* The rows go to a buffer of their own so that metrics that are all null leave out the
     * heading and the table too. */
    if (json_object_size(metrics) > 0) {
        struct web_buf rows = WEB_BUF_INIT;

        if (web_metric_rows(&rows, "", metrics, 0) > 0) {
            web_buf_puts(b, "<h2>Metrics</h2><table id=\"job-metrics\"><tbody>");
            web_buf_append(b, rows.data, rows.len);
            web_buf_puts(b, "</tbody></table>");
        }
        if (rows.failed)
            b->failed = true;
        web_buf_dispose(&rows);
    }
    json_decref(metrics);
}

/* Writes the attempt count: "N of MAX" while the job may still run again, and N alone once
 * its state is final, since "of MAX" would suggest a retry to come. A job that failed before
 * its last attempt failed for a reason that a retry cannot fix, such as invalid data. */
static void web_job_attempts(struct web_buf *b, const struct meta_job *job)
{
    if (!meta_job_state_is_terminal(job->state))
        web_buf_printf(b, "%d of %d", job->attempts, job->max_attempts);
    else if (job->state == META_JOB_FAILED && job->attempts < job->max_attempts)
        web_buf_printf(b, "%d (failed, not retried)", job->attempts);
    else if (job->state == META_JOB_FAILED)
        web_buf_printf(b, "%d (failed, no attempts left)", job->attempts);
    else
        web_buf_printf(b, "%d", job->attempts);
}

static void web_job_dataset(struct web_buf *b, const struct meta_job *job)
{
    web_buf_puts(b, "<dt>Dataset</dt><dd>");
    web_repo_link(b, job->dataset_repo, true);
    web_pinned_commit(b, job->dataset_commit, "job-dataset-commit");
    web_buf_puts(b, "</dd>");
}

/* Writes the base model, dataset and output adapter repo of a training job. */
static void web_job_train_repos(struct web_buf *b, const struct meta_job *job)
{
    web_buf_puts(b, "<dt>Base model</dt><dd>");
    web_repo_link(b, job->base_repo, false);
    web_pinned_commit(b, job->model_commit, "job-model-commit");
    web_buf_puts(b, "</dd>");
    web_job_dataset(b, job);
    web_buf_puts(b, "<dt>Output</dt><dd>");
    if (job->output_deleted_at != 0) {
        web_buf_escape(b, job->repo);
        web_buf_puts(b, " <span class=\"muted\" id=\"job-output-deleted\">(deleted: this job "
                        "created it and committed nothing to it)</span>");
    } else {
        web_repo_link(b, job->repo, false);
    }
    web_buf_puts(b, "</dd>");
}

/* Writes the evaluated model, the base of an adapter once the job pinned it, and the
 * dataset of an evaluation job, which writes to no repo. */
static void web_job_eval_repos(struct web_buf *b, const struct meta_job *job)
{
    web_buf_puts(b, "<dt>Evaluated model</dt><dd>");
    web_repo_link(b, job->repo, false);
    web_pinned_commit(b, job->model_commit, "job-model-commit");
    web_buf_puts(b, "</dd>");
    /* Jobs pinned before the base repo was stored with its commit have the commit alone. */
    if (job->base_repo[0] != '\0' || job->adapter_base_commit[0] != '\0') {
        web_buf_puts(b, "<dt>Base model</dt><dd>");
        if (job->base_repo[0] != '\0')
            web_repo_link(b, job->base_repo, false);
        else
            web_buf_puts(b, "<span class=\"muted\">not recorded</span>");
        web_pinned_commit(b, job->adapter_base_commit, "job-base-commit");
        web_buf_puts(b, "</dd>");
    }
    web_job_dataset(b, job);
}

static int web_job_page(struct web_ctx *ctx, const struct meta_job *job,
                        const struct web_job_drawn *drawn)
{
    struct web_buf *b = &ctx->out;
    char title[64];

    snprintf(title, sizeof(title), "Job %lld", (long long)job->id);
    web_page_begin(ctx, title);
    web_buf_printf(b, "<div class=\"repo-head\"><h1>Job #%lld: %s</h1>", (long long)job->id,
                   meta_job_type_name(job->type));
    web_job_state_badge(b, job->state, "job-state");
    if (!meta_job_state_is_terminal(job->state) && ctx->has_session) {
        web_buf_printf(b, "<form class=\"inline\" method=\"post\" action=\"/jobs/%lld/cancel\">",
                       (long long)job->id);
        web_page_csrf_field(ctx);
        web_buf_puts(b, "<button type=\"submit\" class=\"danger\">Cancel job</button></form>");
    }
    web_buf_puts(b, "</div><dl class=\"meta\"><dt>Owner</dt><dd>");
    web_buf_escape(b, job->owner);
    web_buf_puts(b, "</dd>");
    if (job->type == META_JOB_TRAIN)
        web_job_train_repos(b, job);
    else
        web_job_eval_repos(b, job);
    web_buf_puts(b, "<dt>Created</dt><dd>");
    web_format_time(b, job->created_at);
    web_buf_puts(b, "</dd><dt>Started</dt><dd id=\"job-started\">");
    web_format_time(b, job->started_at);
    web_buf_puts(b, "</dd><dt>Finished</dt><dd id=\"job-finished\">");
    web_format_time(b, job->finished_at);
    /* atelier.js rewrites the attempts from each state event, so it needs the maximum. */
    web_buf_printf(b, "</dd><dt>Attempts</dt><dd id=\"job-attempts\" data-max-attempts=\"%d\">",
                   job->max_attempts);
    web_job_attempts(b, job);
    web_buf_puts(b, "</dd></dl>");
    web_job_result(b, job);
    web_job_live(ctx, job, drawn);
    web_job_spec(b, job->spec_json);
    web_page_end(ctx, 200);
    return 1;
}

static web_job_canceled_fn job_canceled_hook;

void web_job_canceled_hook_set(web_job_canceled_fn fn)
{
    job_canceled_hook = fn;
}

static int web_job_cancel(struct web_ctx *ctx, struct meta_job *job)
{
    struct web_form form;
    struct hub_error err = HUB_ERROR_INIT;
    enum meta_job_state state;
    char location[64];
    int rc;

    rc = web_form_parse_body(&form, ctx, &err);
    if (rc == 0 && !web_page_csrf_ok(ctx, &form))
        rc = hub_error_set(&err, HUB_EINVAL, "%s", WEB_FORM_EXPIRED);
    web_form_dispose(&form);
    if (rc == 0)
        rc = meta_job_cancel(&state, ctx->req->db, job->id, ctx->req->user_name, &err);
    if (rc == HUB_ECONFLICT)
        rc = 0; /* it finished meanwhile; the page shows how */
    else if (rc == 0 && job_canceled_hook != NULL)
        job_canceled_hook(ctx->req->db, ctx->req->data_dir, job->id, state == META_JOB_CANCELED);
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    hub_log(HUB_LOG_INFO, "web", "job cancel requested job=%lld user=%s req=%s", (long long)job->id,
            ctx->req->user_name, ctx->req->request_id ? ctx->req->request_id : "-");
    snprintf(location, sizeof(location), "/jobs/%lld", (long long)job->id);
    return web_page_redirect(ctx, location);
}

/* The job's page reads the job's row and the events it draws in one read transaction. The
 * state the page shows then matches data-last-event, after which the page's event stream
 * starts. Read one after the other, a job that started in between showed "queued" while its
 * stream began after the "running" event, so the page never showed the start. */
static int web_job_route(struct web_ctx *ctx)
{
    struct meta_job *job = NULL;
    struct hub_error err = HUB_ERROR_INIT;
    struct web_job_drawn drawn = {0};
    bool page = ctx->nseg == 2 && web_is_get(ctx);
    char *end = NULL;
    long long id;
    int rc;

    id = strtoll(ctx->seg[1], &end, 10);
    if (ctx->seg[1][0] < '1' || ctx->seg[1][0] > '9' || *end != '\0' || id <= 0)
        return web_page_error(ctx, 404, "Job numbers are positive whole numbers.");
    if (page && meta_tx_begin_read(ctx->req->db, &err) < 0)
        return web_page_hub_error(ctx, &err);
    rc = meta_job_get(&job, ctx->req->db, id, &err);
    if (page && rc == 0 && web_job_visible(ctx, job)) {
        drawn.points = json_array();
        drawn.log = json_array();
        web_job_events(ctx, job, &drawn);
    }
    if (page)
        meta_tx_rollback(ctx->req->db); /* ends the read transaction, which wrote nothing */
    if (rc == HUB_ENOTFOUND || (rc == 0 && !web_job_visible(ctx, job))) {
        meta_job_free(job);
        return web_page_error(ctx, 404,
                              "There is no job with this number among the jobs you "
                              "may see.");
    }
    if (rc < 0)
        return web_page_hub_error(ctx, &err);
    if (page)
        rc = web_job_page(ctx, job, &drawn);
    else if (ctx->nseg == 3 && strcmp(ctx->seg[2], "cancel") == 0 && web_is_post(ctx))
        rc = web_job_cancel(ctx, job);
    else
        rc = web_page_error(ctx, 404, "Jobs have no such page.");
    meta_job_free(job);
    json_decref(drawn.points);
    json_decref(drawn.log);
    return rc;
}

int web_jobs_handle(struct web_ctx *ctx)
{
    if (ctx->nseg == 0 || strcmp(ctx->seg[0], "jobs") != 0)
        return 0;
    if (ctx->req->user_id == 0)
        return web_require_login(ctx);
    if (ctx->nseg == 1 && web_is_get(ctx))
        return web_jobs_list(ctx);
    if (ctx->nseg == 2 && strcmp(ctx->seg[1], "new") == 0) {
        /* TODO: create the job here when the form is posted without JavaScript; the request
         * validation lives in server/jobs_spec.c, which pages may not call. */
        if (web_is_post(ctx))
            return web_page_error(ctx, 400,
                                  "The training form is sent by the page's script. "
                                  "Turn JavaScript on, or send the fields as JSON to "
                                  "POST /api/jobs with an API token.");
        return web_job_new(ctx);
    }
    if (ctx->nseg >= 2 && ctx->nseg <= 3)
        return web_job_route(ctx);
    return web_page_error(ctx, 404, "Jobs have no such page.");
}
