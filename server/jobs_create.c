/* jobs_create: POST /api/jobs. The checks run in the order a user fixes them: the request
 * body, then each repo and revision it names, then the output repo, then the queue limit.
 * A private repo the caller cannot read is reported exactly like a missing one. */
#include "jobs_create.h"

#include "http.h"
#include "hub_config.h"
#include "hub_log.h"
#include "hub_name.h"
#include "jobs_json.h"
#include "jobs_output.h"
#include "jobs_sched.h"
#include "jobs_spec.h"
#include "lfs_pointer.h"
#include "meta_jobs.h"
#include "meta_repo.h"
#include "repo.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Loads repo id of type and checks that user_id may read it. */
static int repo_readable(struct meta_repo *out, struct meta *db, enum hub_repo_type type,
                         const char *id, int64_t user_id, struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    bool readable = false;
    int rc;

    rc = hub_repo_id_parse(ns, name, id, err);
    if (rc < 0)
        return rc;
    rc = meta_repo_get(out, db, type, ns, name, err);
    if (rc == 0)
        rc = meta_repo_can_read(&readable, db, out, user_id, err);
    if (rc == HUB_ENOTFOUND || (rc == 0 && !readable))
        return hub_error_set(err, HUB_ENOTFOUND, "%s repo '%s' not found", hub_repo_type_name(type),
                             id);
    return rc;
}

/* Opens repo id of type into *r and resolves rev into commit. The caller closes *r, also on
 * failure. */
static int repo_open_at(struct repo **r, char commit[REPO_OID_HEX_BYTES + 1], const char *data_dir,
                        enum hub_repo_type type, const char *id, const char *rev,
                        struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    int rc;

    *r = NULL;
    rc = hub_repo_id_parse(ns, name, id, err);
    if (rc == 0)
        rc = repo_open(r, data_dir, type, ns, name, err);
    if (rc < 0)
        return rc;
    rc = repo_revision_resolve(commit, *r, rev, err);
    if (rc == HUB_ENOTFOUND)
        rc = hub_error_set(err, HUB_ENOTFOUND, "revision '%s' not found in %s repo '%s'", rev,
                           hub_repo_type_name(type), id);
    return rc;
}

/* Checks that rev exists in repo id and, when path is not empty, that it names a file there. */
static int revision_check(const char *data_dir, enum hub_repo_type type, const char *id,
                          const char *rev, const char *path, struct hub_error *err)
{
    char commit[REPO_OID_HEX_BYTES + 1];
    struct repo_entry entry;
    struct repo *r = NULL;
    int rc;

    memset(&entry, 0, sizeof(entry));
    rc = repo_open_at(&r, commit, data_dir, type, id, rev, err);
    if (rc < 0 || path[0] == '\0')
        goto out;
    rc = repo_entry_stat(&entry, r, commit, path, err);
    if (rc == 0 && entry.type != REPO_ENTRY_FILE)
        rc = hub_error_set(err, HUB_EINVAL, "'%s' in %s repo '%s' is a folder, not a file", path,
                           hub_repo_type_name(type), id);
    else if (rc == HUB_ENOTFOUND)
        rc = hub_error_set(err, HUB_ENOTFOUND, "file '%s' not found in %s repo '%s' at '%s'", path,
                           hub_repo_type_name(type), id, rev);
out:
    free(entry.path);
    repo_close(r);
    return rc;
}

/* Reads config.json of the model at commit and checks seq_len against its
 * max_position_embeddings, as `atelier train` does at start. NOTE: a config.json without that
 * key, or one that is not JSON, passes here, because the trainer's default context depends on
 * the model type. The trainer checks it again and fails the job. */
static int seq_len_check(struct repo *r, const char *commit, const char *id, const char *rev,
                         int64_t seq_len, struct hub_error *err)
{
    json_t *config, *context;
    char *text = NULL;
    size_t len = 0;
    int rc;

    rc = repo_file_read(&text, &len, r, commit, "config.json", 1u << 20, err);
    if (rc == HUB_ETOOBIG)
        return 0;
    if (rc < 0)
        return rc;
    config = json_loadb(text, len, 0, NULL);
    free(text);
    context = json_object_get(config, "max_position_embeddings");
    if (json_is_integer(context) && json_integer_value(context) > 0 &&
        seq_len > json_integer_value(context))
        rc = hub_error_set(err, HUB_EINVAL,
                           "invalid param 'seq_len' %lld: above the context of base_model '%s' "
                           "at '%s', %lld tokens (max_position_embeddings in its config.json); "
                           "use a seq_len of at most %lld",
                           (long long)seq_len, id, rev, (long long)json_integer_value(context),
                           (long long)json_integer_value(context));
    json_decref(config);
    return rc;
}

/* Checks that the base model of a training job at rev is a full model: config.json at its
 * root and no adapter_config.json, and that seq_len fits its context, so a wrong choice gets
 * a 400 now instead of a failed job. */
static int base_model_check(const char *data_dir, const char *id, const char *rev, int64_t seq_len,
                            struct hub_error *err)
{
    char commit[REPO_OID_HEX_BYTES + 1];
    struct repo_entry entry;
    struct repo *r = NULL;
    int rc;

    memset(&entry, 0, sizeof(entry));
    rc = repo_open_at(&r, commit, data_dir, HUB_REPO_MODEL, id, rev, err);
    if (rc < 0)
        goto out;
    rc = repo_entry_stat(&entry, r, commit, "adapter_config.json", err);
    free(entry.path);
    entry.path = NULL;
    if (rc == 0) {
        rc = hub_error_set(err, HUB_EINVAL,
                           "base_model '%s' is a LoRA adapter (it has adapter_config.json at "
                           "'%s'); choose the full model it was trained on as base_model",
                           id, rev);
        goto out;
    }
    if (rc != HUB_ENOTFOUND)
        goto out;
    rc = repo_entry_stat(&entry, r, commit, "config.json", err);
    if (rc == HUB_ENOTFOUND)
        rc = hub_error_set(err, HUB_EINVAL,
                           "base_model '%s' has no config.json at '%s', so it holds no model "
                           "to train; choose a repo with a model's config.json and weights",
                           id, rev);
    if (rc == 0)
        rc = seq_len_check(r, commit, id, rev, seq_len, err);
out:
    free(entry.path);
    repo_close(r);
    return rc;
}

/* Checks that warmup fits in the steps of an epochs-based run, which depend on the number of
 * examples in the train file. jobs_spec_parse checks warmup against steps when they are given.
 * NOTE: a train file stored with LFS, one over HUB_MAX_GIT_FILE_BYTES, or a JSON array that
 * does not parse is not counted here. The trainer counts it and fails the job before its
 * first step. */
static int warmup_check(const char *data_dir, const struct jobs_spec *spec, struct hub_error *err)
{
    const struct jobs_train_params *p = &spec->params;
    char commit[REPO_OID_HEX_BYTES + 1];
    struct repo *r = NULL;
    char *text = NULL;
    size_t len = 0, examples = 0;
    int64_t steps;
    int rc;

    /* Every run has at least one step, so a warmup of 0 or 1 always fits. */
    if (p->steps > 0 || p->warmup <= 1)
        return 0;
    rc = repo_open_at(&r, commit, data_dir, HUB_REPO_DATASET, spec->dataset, spec->dataset_revision,
                      err);
    if (rc == 0)
        rc = repo_file_read(&text, &len, r, commit, spec->train_file, 0, err);
    repo_close(r);
    if (rc == HUB_ETOOBIG)
        return 0;
    if (rc < 0)
        return rc;
    if (lfs_pointer_is_pointer(text, len) || !jobs_examples_count(&examples, text, len)) {
        free(text);
        return 0;
    }
    free(text);
    steps = jobs_epoch_steps(p, examples);
    if (p->warmup <= steps)
        return 0;
    return hub_error_set(err, HUB_EINVAL,
                         "invalid param 'warmup' %lld: more than the %lld step%s that 'epochs' "
                         "%lld gives for the %zu example%s of '%s' in dataset '%s' at '%s' with "
                         "batch %lld and grad_accum %lld; lower warmup to at most %lld or raise "
                         "epochs",
                         (long long)p->warmup, (long long)steps, steps == 1 ? "" : "s",
                         (long long)p->epochs, examples, examples == 1 ? "" : "s", spec->train_file,
                         spec->dataset, spec->dataset_revision, (long long)p->batch,
                         (long long)p->grad_accum, (long long)steps);
}

/* The base of an evaluated adapter: the model repo and the revision of it to evaluate
 * against. repo is "" for a full model. recorded is the "revision" of the adapter's
 * adapter_config.json, "" when it has none. */
struct eval_base {
    char repo[HUB_MAX_REPO_ID_BYTES + 1];
    char revision[HUB_MAX_REVISION_BYTES + 1];
    char recorded[HUB_MAX_REVISION_BYTES + 1];
};

/* Reads the "revision" of an adapter_config.json into base->recorded. null, PEFT's default
 * when the base's revision was not given, counts as none. A value that this job would use and
 * that is not a valid revision is rejected now, naming the fix. */
static int eval_recorded_revision_read(struct eval_base *base, json_t *config,
                                       const struct jobs_spec *spec, struct hub_error *err)
{
    json_t *value = json_object_get(config, "revision");
    const char *text = json_string_value(value);
    bool used = spec->adapter_base[0] == '\0' && spec->adapter_base_revision[0] == '\0';

    base->recorded[0] = '\0';
    if (value == NULL || json_is_null(value))
        return 0;
    if (text != NULL && jobs_revision_is_valid(text)) {
        snprintf(base->recorded, sizeof(base->recorded), "%s", text);
        return 0;
    }
    if (!used)
        return 0;
    return hub_error_set(err, HUB_EINVAL,
                         "model '%s' is a LoRA adapter whose adapter_config.json at '%s' "
                         "records revision '%.200s' of its base, which is not a branch, tag or "
                         "commit id; pass the base's revision in the request's base_revision "
                         "field, or fix revision in adapter_config.json",
                         spec->model, spec->model_revision, text != NULL ? text : "(not a string)");
}

/* Fills base with the base that an evaluated adapter is evaluated against: requested (the
 * request's base_model) when given, else base_model_name_or_path of its adapter_config.json,
 * at the revision that jobs_eval_base_revision picks. Leaves base->repo "" for a full model.
 * The worker reads the same values, so one that is not a repo id here is rejected now, naming
 * the field. */
static int eval_base_read(struct eval_base *base, const char *data_dir,
                          const struct jobs_spec *spec, struct hub_error *err)
{
    const char *id = spec->model, *rev = spec->model_revision, *requested = spec->adapter_base;
    char commit[REPO_OID_HEX_BYTES + 1];
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    struct hub_error inner = HUB_ERROR_INIT;
    struct repo *r = NULL;
    json_t *config = NULL;
    const char *value;
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(base, 0, sizeof(*base));
    rc = repo_open_at(&r, commit, data_dir, HUB_REPO_MODEL, id, rev, err);
    if (rc < 0) {
        repo_close(r);
        return rc;
    }
    rc = repo_file_read(&text, &len, r, commit, "adapter_config.json", 1u << 20, err);
    repo_close(r);
    if (rc == HUB_ENOTFOUND && (requested[0] != '\0' || spec->adapter_base_revision[0] != '\0'))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid field '%s' '%s': model '%s' at '%s' is a full model (it "
                             "has no adapter_config.json), so it has no base; leave %s out",
                             requested[0] != '\0' ? "base_model" : "base_revision",
                             requested[0] != '\0' ? requested : spec->adapter_base_revision, id,
                             rev, requested[0] != '\0' ? "base_model" : "base_revision");
    if (rc == HUB_ENOTFOUND)
        return 0; /* a full model */
    if (rc < 0)
        return rc;
    config = json_loadb(text, len, 0, NULL);
    free(text);
    rc = eval_recorded_revision_read(base, config, spec, err);
    if (rc < 0) {
        json_decref(config);
        return rc;
    }
    snprintf(base->revision, sizeof(base->revision), "%s",
             jobs_eval_base_revision(spec, base->recorded));
    if (requested[0] != '\0') {
        json_decref(config);
        snprintf(base->repo, sizeof(base->repo), "%s", requested);
        return 0;
    }
    value = json_string_value(json_object_get(config, "base_model_name_or_path"));
    if (value == NULL || value[0] == '\0')
        rc = hub_error_set(err, HUB_EINVAL,
                           "model '%s' is a LoRA adapter whose adapter_config.json at '%s' has "
                           "no base_model_name_or_path; name the base model on this hub, such "
                           "as 'alice/stories260K', in the request's base_model field, or set "
                           "base_model_name_or_path to it",
                           id, rev);
    else if (strlen(value) > HUB_MAX_REPO_ID_BYTES ||
             hub_repo_id_parse(ns, name, value, &inner) < 0)
        rc = hub_error_set(err, HUB_EINVAL,
                           "model '%s' is a LoRA adapter whose adapter_config.json at '%s' names "
                           "base_model_name_or_path '%.200s', which is not a repo id "
                           "(NAMESPACE/NAME); name the base model on this hub in the request's "
                           "base_model field, retrain it with the base's repo id as --base-name, "
                           "or edit base_model_name_or_path in adapter_config.json",
                           id, rev, value);
    else
        snprintf(base->repo, sizeof(base->repo), "%s", value);
    json_decref(config);
    return rc;
}

/* Checks that the revision of an evaluated adapter's base exists in the base repo. A missing
 * revision that the adapter recorded gets a message naming the adapter and the fix, because
 * the user did not type it. */
static int eval_base_revision_check(const char *data_dir, const struct jobs_spec *spec,
                                    const struct eval_base *base, struct hub_error *err)
{
    char commit[REPO_OID_HEX_BYTES + 1];
    struct repo *r = NULL;
    int rc;

    rc = repo_open_at(&r, commit, data_dir, HUB_REPO_MODEL, base->repo, base->revision, err);
    repo_close(r);
    if (rc != HUB_ENOTFOUND)
        return rc;
    if (spec->adapter_base_revision[0] != '\0')
        return hub_error_set(err, HUB_ENOTFOUND,
                             "base_revision '%s' not found in model repo '%s', the base of "
                             "adapter '%s'; pass a branch, tag or commit id of that repo",
                             base->revision, base->repo, spec->model);
    if (strcmp(base->revision, base->recorded) == 0)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "revision '%s' of base model '%s', which adapter '%s' records in "
                             "its adapter_config.json at '%s' as the base it was trained on, "
                             "not found in that repo; pass the base's revision to evaluate "
                             "against in the request's base_revision field, such as \"main\"",
                             base->revision, base->repo, spec->model, spec->model_revision);
    return hub_error_set(err, HUB_ENOTFOUND,
                         "model repo '%s', the base of adapter '%s', has no '%s' branch; pass "
                         "the base's revision in the request's base_revision field",
                         base->repo, spec->model, base->revision);
}

/* Checks that the base of an evaluated adapter is a model repo here that user_id may read,
 * that its revision exists, and when the request named it as base_model, that it is a full
 * model. base->repo is "" for a full model. */
static int eval_base_check(struct meta *db, const char *data_dir, const struct jobs_spec *spec,
                           const struct eval_base *base, int64_t user_id, struct hub_error *err)
{
    const char *id = spec->model, *rev = spec->model_revision;
    struct meta_repo row;
    int rc;

    if (base->repo[0] == '\0')
        return 0;
    rc = repo_readable(&row, db, HUB_REPO_MODEL, base->repo, user_id, err);
    if (rc == HUB_ENOTFOUND && spec->adapter_base[0] != '\0')
        return hub_error_set(err, HUB_ENOTFOUND, "base_model '%s' not found", base->repo);
    if (rc == HUB_ENOTFOUND)
        return hub_error_set(err, HUB_ENOTFOUND,
                             "model repo '%s' not found: adapter '%s' names it as "
                             "base_model_name_or_path in its adapter_config.json at '%s'; push "
                             "the base model to this hub under that id, or name the copy that "
                             "is here in the request's base_model field",
                             base->repo, id, rev);
    if (rc == 0)
        rc = eval_base_revision_check(data_dir, spec, base, err);
    /* Evaluation has no seq_len. */
    if (rc == 0 && spec->adapter_base[0] != '\0')
        rc = base_model_check(data_dir, base->repo, base->revision, 0, err);
    return rc;
}

/* Creates the output model repo owned by namespace ns, private when is_private, and writes
 * its first commit into commit. */
static int output_repo_create(struct meta_repo *out, char commit[REPO_OID_HEX_BYTES + 1],
                              struct meta *db, const char *data_dir, const char *ns,
                              const char *name, bool is_private, struct hub_error *err)
{
    struct repo_create_opts opts;
    struct hub_error ignored = HUB_ERROR_INIT;
    int rc;

    memset(&opts, 0, sizeof(opts));
    opts.message = "Create the repo for a training job's adapter";
    rc = meta_repo_insert(out, db, HUB_REPO_MODEL, ns, name, is_private, err);
    if (rc < 0)
        return rc;
    rc = repo_create(commit, data_dir, HUB_REPO_MODEL, ns, name, &opts, err);
    if (rc < 0) {
        if (meta_repo_delete(db, out->id, &ignored) < 0)
            hub_log(HUB_LOG_ERROR, "jobs",
                    "cannot remove the row of a repo that was not "
                    "created: %s repo=%s/%s",
                    ignored.msg, ns, name);
        return rc;
    }
    hub_log(HUB_LOG_INFO, "jobs", "created output repo repo=%s/%s private=%d", ns, name,
            is_private ? 1 : 0);
    return 0;
}

/* Checks that the existing output repo may take a new adapter revision for base: an adapter
 * of that base, or a repo with nothing but .gitattributes and README.md. A training job would
 * otherwise turn another model, or an adapter of another base, into a mixed repo. */
static int output_repo_fits(const char *data_dir, const struct meta_repo *repo, const char *id,
                            const char *base, struct hub_error *err)
{
    struct repo_entry *entries = NULL;
    struct repo *r = NULL;
    const char *other = NULL;
    size_t count = 0;
    int rc;

    if (repo->base_model[0] != '\0') {
        if (strcasecmp(repo->base_model, base) == 0)
            return 0;
        return hub_error_set(err, HUB_ECONFLICT,
                             "output_repo '%s' belongs to base model '%s', not to '%s'; "
                             "choose another output_repo",
                             id, repo->base_model, base);
    }
    rc = repo_open(&r, data_dir, HUB_REPO_MODEL, repo->ns, repo->name, err);
    if (rc == 0)
        rc = repo_tree_list(&entries, &count, r, REPO_DEFAULT_BRANCH, "", false, err);
    for (size_t i = 0; rc == 0 && i < count && other == NULL; i++) {
        if (strcmp(entries[i].path, ".gitattributes") != 0 &&
            strcmp(entries[i].path, "README.md") != 0)
            other = entries[i].path;
    }
    if (rc == 0 && other != NULL)
        rc = hub_error_set(err, HUB_ECONFLICT,
                           "output_repo '%s' already holds files that are not an adapter of '%s', "
                           "such as %.200s; choose another output_repo",
                           id, base, other);
    repo_entries_free(entries, count);
    repo_close(r);
    return rc;
}

/* Checks that user_id may write the output repo, creating it when it does not exist. When
 * this call created it, created_commit gets its first commit, else "". An existing repo must
 * fit a new adapter of base (output_repo_fits). */
static int output_repo_prepare(char created_commit[REPO_OID_HEX_BYTES + 1], struct meta *db,
                               const char *data_dir, const char *id, const char *base,
                               const struct http_user *user, bool is_private, struct hub_error *err)
{
    int64_t user_id = user->id;
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    struct meta_repo repo;
    bool allowed = false;
    int rc;

    created_commit[0] = '\0';
    rc = hub_repo_id_parse(ns, name, id, err);
    if (rc < 0)
        return rc;
    rc = meta_repo_get(&repo, db, HUB_REPO_MODEL, ns, name, err);
    if (rc == HUB_ENOTFOUND) {
        rc = meta_namespace_can_write(&allowed, db, ns, user_id, err);
        if (rc == HUB_ENOTFOUND)
            return hub_error_set(err, HUB_ENOTFOUND,
                                 "output_repo '%s': no user or organisation '%s'", id, ns);
        if (rc < 0)
            return rc;
        if (!allowed)
            return hub_error_set(err, HUB_EFORBIDDEN,
                                 "output_repo '%s': you cannot create repos under '%s'; use "
                                 "your own namespace, such as '%s/%s'",
                                 id, ns, user->name, name);
        rc = output_repo_create(&repo, created_commit, db, data_dir, ns, name, is_private, err);
        if (rc != HUB_ECONFLICT)
            return rc;
        created_commit[0] = '\0';
        /* Another request created it meanwhile; check write access to that one. */
        rc = meta_repo_get(&repo, db, HUB_REPO_MODEL, ns, name, err);
    }
    if (rc < 0)
        return rc;
    rc = meta_repo_can_write(&allowed, db, &repo, user_id, err);
    if (rc < 0)
        return rc;
    if (!allowed)
        return hub_error_set(err, HUB_EFORBIDDEN, "output_repo '%s': you cannot write to it", id);
    if (created_commit[0] == '\0')
        return output_repo_fits(data_dir, &repo, id, base, err);
    return 0;
}

/* Runs every check of a parsed spec for user. created_commit is as for
 * output_repo_prepare, and "" for an evaluation job. */
static int spec_check(char created_commit[REPO_OID_HEX_BYTES + 1], struct meta *db,
                      const char *data_dir, const struct jobs_spec *spec,
                      const struct http_user *user, struct hub_error *err)
{
    struct meta_repo model, dataset;
    struct eval_base base;
    int rc;

    created_commit[0] = '\0';
    memset(&base, 0, sizeof(base));
    rc = repo_readable(&model, db, HUB_REPO_MODEL, spec->model, user->id, err);
    /* base_model_check resolves the revision too, so the repo is opened once per check. */
    if (rc == 0 && spec->type == META_JOB_TRAIN)
        rc = base_model_check(data_dir, spec->model, spec->model_revision, spec->params.seq_len,
                              err);
    else if (rc == 0)
        rc = eval_base_read(&base, data_dir, spec, err);
    if (rc == 0 && spec->type == META_JOB_EVAL)
        rc = eval_base_check(db, data_dir, spec, &base, user->id, err);
    if (rc == 0)
        rc = repo_readable(&dataset, db, HUB_REPO_DATASET, spec->dataset, user->id, err);
    if (rc == 0 && spec->train_file[0] != '\0')
        rc = revision_check(data_dir, HUB_REPO_DATASET, spec->dataset, spec->dataset_revision,
                            spec->train_file, err);
    if (rc == 0 && spec->train_file[0] != '\0')
        rc = warmup_check(data_dir, spec, err);
    if (rc == 0 && spec->eval_file[0] != '\0')
        rc = revision_check(data_dir, HUB_REPO_DATASET, spec->dataset, spec->dataset_revision,
                            spec->eval_file, err);
    /* An adapter trained on private data is private too. */
    if (rc == 0 && spec->type == META_JOB_TRAIN)
        rc = output_repo_prepare(created_commit, db, data_dir, spec->output_repo, spec->model, user,
                                 model.is_private || dataset.is_private, err);
    return rc;
}

/* Deletes the output repo that this request created for a job that was then not queued. */
static void output_repo_undo(struct meta *db, const char *data_dir, const char *repo_id,
                             const char *created_commit)
{
    struct hub_error err = HUB_ERROR_INIT;

    if (jobs_output_repo_delete(db, data_dir, repo_id, created_commit,
                                "created for a job request that was not queued", &err) < 0)
        hub_log(HUB_LOG_WARN, "jobs", "cannot delete the output repo of a rejected job: %s repo=%s",
                err.msg, repo_id);
}

/* Returns 1 with err filled when user already has max_queued queued jobs (0: no limit). */
static int queue_limit_check(struct meta *db, const struct http_user *user, unsigned max_queued,
                             struct hub_error *err)
{
    int64_t queued = 0;
    int rc;

    if (max_queued == 0)
        return 0;
    rc = meta_job_count(&queued, db, user->id, META_JOB_QUEUED, err);
    if (rc < 0)
        return rc;
    if (queued < (int64_t)max_queued)
        return 0;
    hub_error_set(err, HUB_ECONFLICT,
                  "user %s already has %lld queued jobs, the maximum; wait for one to start or "
                  "cancel one",
                  user->name, (long long)queued);
    return 1;
}

/* Replies 201 with the new job and wakes the scheduler. The row is read before the wake, so
 * the wake cannot start the job before the reply is built. NOTE: the scheduler's periodic tick
 * can still claim it in between, and then the reply shows it running. */
static int job_reply_created(struct http_request *req, struct meta *db, int64_t id,
                             struct hub_error *err)
{
    struct meta_job *job = NULL;
    char location[64];
    json_t *body;
    int rc;

    rc = meta_job_get(&job, db, id, err);
    jobs_sched_wake();
    if (rc < 0)
        return rc;
    body = jobs_json_job(job);
    meta_job_free(job);
    if (body == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot format job %lld", (long long)id);
    snprintf(location, sizeof(location), "/api/jobs/%lld", (long long)id);
    http_reply_header(req, "Location", location);
    return http_reply_json(req, 201, body);
}

int jobs_create_handle(struct http_request *req, void *arg, struct hub_error *err)
{
    const struct http_user *user = http_request_user(req);
    const struct jobs_settings *settings = jobs_settings_get();
    const char *data_dir = http_request_config(req)->data_dir;
    struct meta *db = http_request_db(req);
    struct jobs_spec spec;
    char created_commit[REPO_OID_HEX_BYTES + 1] = "";
    char *spec_json = NULL;
    const char *body;
    size_t body_len = 0;
    int64_t id = 0;
    int rc;

    (void)arg;
    if (user->id == 0)
        return http_reply_unauthorized(req);
    if (user->scope < HTTP_SCOPE_WRITE)
        return http_reply_error(req, 403,
                                "creating a job needs a write token; this one is "
                                "read-only");
    body = http_request_body(req, &body_len);
    rc = jobs_spec_parse(&spec, body != NULL ? body : "", body_len, err);
    if (rc < 0)
        return rc;
    /* Checked before spec_check creates the output repo; meta_job_insert checks again. */
    rc = queue_limit_check(db, user, settings->max_queued_per_user, err);
    if (rc != 0)
        return rc == 1 ? http_reply_error(req, 429, "%s", err->msg) : rc;
    rc = spec_check(created_commit, db, data_dir, &spec, user, err);
    if (rc == 0)
        rc = jobs_spec_to_json(&spec_json, &spec, err);
    if (rc < 0)
        return rc;
    rc = meta_job_insert(&id, db, spec.type, user->id, user->name,
                         spec.type == META_JOB_TRAIN ? spec.output_repo : spec.model,
                         spec.type == META_JOB_TRAIN ? spec.model : NULL, spec.dataset,
                         created_commit, spec_json, (int)settings->max_attempts,
                         (int)settings->max_queued_per_user, err);
    free(spec_json);
    if (rc < 0 && created_commit[0] != '\0')
        output_repo_undo(db, data_dir, spec.output_repo, created_commit);
    if (rc == HUB_ECONFLICT)
        return http_reply_error(req, 429, "%s", err->msg);
    if (rc < 0)
        return rc;
    hub_log(HUB_LOG_INFO, "jobs", "queued job job=%lld type=%s owner=%s repo=%s req=%s",
            (long long)id, meta_job_type_name(spec.type), user->name,
            spec.type == META_JOB_TRAIN ? spec.output_repo : spec.model, http_request_id(req));
    return job_reply_created(req, db, id, err);
}
