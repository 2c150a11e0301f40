/* jobs_json: job and evaluation objects for the REST API, and the trainer's progress lines.
 * Progress lines come from another process, so they are parsed as untrusted input. */
#include "jobs_json.h"

#include "hub_log.h"
#include "hub_name.h"
#include "meta_repo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define JOBS_PROGRESS_LINE_MAX_BYTES 65536

void jobs_json_time_format(char buf[32], int64_t t)
{
    time_t seconds = (time_t)t;
    struct tm tm;

    if (gmtime_r(&seconds, &tm) == NULL) {
        snprintf(buf, 32, "1970-01-01T00:00:00Z");
        return;
    }
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *time_or_null(int64_t t)
{
    char buf[32];

    if (t <= 0)
        return json_null();
    jobs_json_time_format(buf, t);
    return json_string(buf);
}

/* Parses a JSON text stored by this program; a damaged value becomes null, not an error. */
static json_t *stored_json(const char *text)
{
    json_t *value;

    if (text == NULL)
        return json_null();
    value = json_loads(text, 0, NULL);
    return value != NULL ? value : json_null();
}

static json_t *progress_json(const struct meta_job_progress *p)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "step", p->has_step ? json_integer(p->step) : json_null());
    json_object_set_new(obj, "total_steps",
                        p->has_total_steps ? json_integer(p->total_steps) : json_null());
    json_object_set_new(obj, "loss", p->has_loss ? json_real(p->loss) : json_null());
    json_object_set_new(obj, "lr", p->has_lr ? json_real(p->lr) : json_null());
    json_object_set_new(obj, "tokens_per_s",
                        p->has_tokens_per_s ? json_real(p->tokens_per_s) : json_null());
    json_object_set_new(obj, "eta_s", p->has_eta_s ? json_real(p->eta_s) : json_null());
    return obj;
}

static json_t *result_json(const struct meta_job *job)
{
    json_t *obj;

    if (job->state != META_JOB_SUCCEEDED && job->result_commit[0] == '\0' &&
        job->result_metrics_json == NULL)
        return json_null();
    obj = json_object();
    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "repo", json_string(job->repo));
    json_object_set_new(obj, "commit",
                        job->result_commit[0] != '\0' ? json_string(job->result_commit)
                                                      : json_null());
    json_object_set_new(obj, "metrics", stored_json(job->result_metrics_json));
    /* An adapter's scores depend on the base commit, so the result names the commit that
     * an evaluated adapter was scored against. */
    if (job->type == META_JOB_EVAL && job->adapter_base_commit[0] != '\0')
        json_object_set_new(
            obj, "base",
            json_pack("{s:s, s:s}", "repo", job->base_repo, "commit", job->adapter_base_commit));
    return obj;
}

/* The input commits that the first attempt resolved, or null before it has. */
static json_t *pinned_commits_json(const struct meta_job *job)
{
    const char *const commits[] = {job->model_commit, job->dataset_commit,
                                   job->adapter_base_commit};
    const char *const names[] = {"model", "dataset", "adapter_base"};
    json_t *obj;

    if (job->model_commit[0] == '\0' && job->dataset_commit[0] == '\0')
        return json_null();
    obj = json_object();
    if (obj == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        json_object_set_new(obj, names[i],
                            commits[i][0] != '\0' ? json_string(commits[i]) : json_null());
    return obj;
}

json_t *jobs_json_job(const struct meta_job *job)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "id", json_integer(job->id));
    json_object_set_new(obj, "type", json_string(meta_job_type_name(job->type)));
    json_object_set_new(obj, "owner", json_string(job->owner));
    json_object_set_new(obj, "state", json_string(meta_job_state_name(job->state)));
    json_object_set_new(obj, "repo", json_string(job->repo));
    json_object_set_new(obj, "created_at", time_or_null(job->created_at));
    json_object_set_new(obj, "started_at", time_or_null(job->started_at));
    json_object_set_new(obj, "finished_at", time_or_null(job->finished_at));
    json_object_set_new(obj, "progress", progress_json(&job->progress));
    json_object_set_new(obj, "result", result_json(job));
    json_object_set_new(obj, "error", job->error != NULL ? json_string(job->error) : json_null());
    json_object_set_new(obj, "attempts", json_integer(job->attempts));
    json_object_set_new(obj, "max_attempts", json_integer(job->max_attempts));
    json_object_set_new(obj, "cancel_requested", json_boolean(job->cancel_requested));
    json_object_set_new(obj, "worker_pid",
                        job->worker_pid > 0 ? json_integer(job->worker_pid) : json_null());
    json_object_set_new(obj, "pinned_commits", pinned_commits_json(job));
    json_object_set_new(obj, "repo_created_by_job",
                        json_boolean(job->output_created_commit[0] != '\0'));
    json_object_set_new(obj, "repo_deleted_at", time_or_null(job->output_deleted_at));
    json_object_set_new(obj, "spec", stored_json(job->spec_json));
    return obj;
}

/* Returns whether user viewer_id may read repo id (namespace/name) of type. A repo that no
 * longer exists counts as unreadable, because its name may be that of a private one. */
static bool repo_id_readable(struct meta *db, const char *id, enum hub_repo_type type,
                             int64_t viewer_id)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    struct hub_error err = HUB_ERROR_INIT;
    struct meta_repo repo;
    bool readable = false;

    if (hub_repo_id_parse(ns, name, id, &err) < 0)
        return false;
    if (meta_repo_get(&repo, db, type, ns, name, &err) < 0)
        return false;
    if (meta_repo_can_read(&readable, db, &repo, viewer_id, &err) < 0)
        return false;
    return readable;
}

json_t *jobs_json_eval(const struct meta_eval *eval, struct meta *db, int64_t viewer_id)
{
    json_t *obj = json_object();
    bool has_base = eval->base_model[0] != '\0';
    bool base_hidden =
        has_base && !repo_id_readable(db, eval->base_model, HUB_REPO_MODEL, viewer_id);
    bool dataset_hidden = !repo_id_readable(db, eval->dataset, HUB_REPO_DATASET, viewer_id);

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "id", json_integer(eval->id));
    json_object_set_new(obj, "job_id", eval->job_id > 0 ? json_integer(eval->job_id) : json_null());
    json_object_set_new(obj, "repo", json_string(eval->repo));
    json_object_set_new(obj, "revision", json_string(eval->revision));
    json_object_set_new(obj, "base_model",
                        has_base && !base_hidden ? json_string(eval->base_model) : json_null());
    json_object_set_new(obj, "base_revision",
                        eval->base_revision[0] != '\0' && !base_hidden
                            ? json_string(eval->base_revision)
                            : json_null());
    json_object_set_new(obj, "base_model_hidden", json_boolean(base_hidden));
    json_object_set_new(obj, "dataset", dataset_hidden ? json_null() : json_string(eval->dataset));
    json_object_set_new(obj, "dataset_revision",
                        dataset_hidden ? json_null() : json_string(eval->dataset_revision));
    json_object_set_new(obj, "dataset_hidden", json_boolean(dataset_hidden));
    json_object_set_new(obj, "eval_file", json_string(eval->eval_file));
    json_object_set_new(obj, "metrics", stored_json(eval->metrics_json));
    json_object_set_new(obj, "created_at", time_or_null(eval->created_at));
    return obj;
}

json_t *jobs_json_evals_for_repo(struct meta *db, const char *repo_id, size_t max_items,
                                 int64_t viewer_id)
{
    struct meta_eval_list list;
    struct hub_error err = HUB_ERROR_INIT;
    json_t *items = json_array();

    if (items == NULL)
        return NULL;
    if (meta_evals_for_repo(&list, db, repo_id, &err) < 0) {
        hub_log(HUB_LOG_WARN, "jobs", "cannot read the evaluations of %s: %s", repo_id, err.msg);
        return items;
    }
    for (size_t i = 0; i < list.count && i < max_items; i++)
        json_array_append_new(items, jobs_json_eval(&list.items[i], db, viewer_id));
    meta_eval_list_dispose(&list);
    return items;
}

/* Reads number field name of obj into *out; a missing or null field leaves *has false. */
static int number_get(double *out, bool *has, json_t *obj, const char *name, struct hub_error *err)
{
    json_t *value = json_object_get(obj, name);

    *has = false;
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_number(value) || !isfinite(json_number_value(value)))
        return hub_error_set(err, HUB_EINVAL, "progress field '%s' is not a finite number", name);
    *out = json_number_value(value);
    *has = true;
    return 0;
}

static int count_get(int64_t *out, bool *has, json_t *obj, const char *name, struct hub_error *err)
{
    double x = 0;
    int rc = number_get(&x, has, obj, name, err);

    if (rc < 0 || !*has)
        return rc;
    if (x < 0 || x > 9.0e15 || x != floor(x))
        return hub_error_set(err, HUB_EINVAL, "progress field '%s' is not a step count: %g", name,
                             x);
    *out = (int64_t)x;
    return 0;
}

int jobs_progress_parse(struct meta_job_progress *progress, bool *is_step, bool *is_eval,
                        const char *line, size_t len, struct hub_error *err)
{
    struct meta_job_progress p;
    json_t *root = NULL;
    bool has_eval = false;
    double eval_loss = 0;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    *is_step = false;
    *is_eval = false;
    if (len > JOBS_PROGRESS_LINE_MAX_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "progress line of %zu bytes is too long", len);
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL || !json_is_object(root)) {
        rc = hub_error_set(err, HUB_EINVAL, "progress line is not a JSON object");
        goto out;
    }
    rc = count_get(&p.step, &p.has_step, root, "step", err);
    if (rc == 0)
        rc = count_get(&p.total_steps, &p.has_total_steps, root, "total_steps", err);
    if (rc == 0)
        rc = number_get(&p.loss, &p.has_loss, root, "loss", err);
    if (rc == 0)
        rc = number_get(&p.lr, &p.has_lr, root, "lr", err);
    if (rc == 0)
        rc = number_get(&p.tokens_per_s, &p.has_tokens_per_s, root, "tokens_per_s", err);
    if (rc == 0)
        rc = number_get(&p.eta_s, &p.has_eta_s, root, "eta_s", err);
    if (rc == 0)
        rc = number_get(&eval_loss, &has_eval, root, "eval_loss", err);
    if (rc < 0)
        goto out;
    *is_eval = has_eval;
    *is_step = p.has_step && !has_eval;
    *progress = p;
out:
    json_decref(root);
    return rc;
}
