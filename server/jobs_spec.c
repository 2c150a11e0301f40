/* jobs_spec: the job request validator. Entry points: jobs_spec_parse, jobs_spec_to_json.
 * Every field is checked against a table of known names first, so a misspelt field is an
 * error and never a silently ignored default. */
#include "jobs_spec.h"

#include "hub_name.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const train_fields[] = {
    "type",       "base_model", "base_revision", "dataset", "dataset_revision",
    "train_file", "eval_file",  "output_repo",   "params",
};
static const char *const eval_fields[] = {
    "type",      "model",      "revision",      "dataset", "dataset_revision",
    "eval_file", "base_model", "base_revision",
};

/* Each known parameter with the range this server accepts. Integer parameters reject
 * fractions. When above_min is set, min itself is rejected (the trainer's --lr and --alpha
 * accept any value above 0). trainer_max is the maximum of the `atelier train` flag when this
 * server accepts less (a server limit, so one job cannot hold a shared worker for days),
 * else 0. */
struct param_rule {
    const char *name;
    bool is_integer;
    bool above_min;
    double min;
    double max;
    double trainer_max;
};

static const struct param_rule param_rules[] = {
    {"rank", true, false, 1, 1024, 4096},
    {"alpha", false, true, 0, 1e6, 0},
    {"targets", false, false, 0, 0, 0}, /* a string, checked by targets_check */
    {"lr", false, true, 0, 1, 0},
    {"steps", true, false, 1, 10000000, 1000000000},
    {"epochs", true, false, 1, 10000, 100000},
    {"batch", true, false, 1, 64, 0},
    {"grad_accum", true, false, 1, 4096, 0},
    {"seq_len", true, false, 2, 1048576, 0},
    {"warmup", true, false, 0, 10000000, 1000000000},
    {"seed", true, false, 0, 4294967295.0, 0},
    {"threads", true, false, 1, 1024, 0},
    {"checkpoint_every", true, false, 1, 10000000, 1000000000},
    {"dropout", false, false, 0, 0.99, 0},
    {"weight_decay", false, false, 0, 1, 0},
    {"clip", false, false, 0, 1e6, 0},
};

/* The defaults of `atelier train --help`, except checkpoint_every: the trainer writes a
 * checkpoint only at the end by default, but a job checkpoints every 25 steps so that a
 * retried attempt resumes. Neither steps nor epochs set means one epoch, as in the trainer. */
static void params_default(struct jobs_train_params *p)
{
    memset(p, 0, sizeof(*p));
    p->rank = 8;
    p->alpha = 16;
    snprintf(p->targets, sizeof(p->targets), "q_proj,v_proj");
    p->lr = 2e-4;
    p->batch = 4;
    p->grad_accum = 1;
    p->seq_len = 512;
    p->warmup = 0;
    p->seed = 42;
    p->threads = 0;
    p->checkpoint_every = 25;
    p->dropout = -1;
    p->weight_decay = -1;
    p->clip = -1;
}

static bool name_in(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* Rejects every key of obj that is not in names, listing all of them in one message. what is
 * the singular noun for a key ("field"), which gets an "s" for more than one key. */
static int unknown_keys_check(json_t *obj, const char *const *names, size_t count, const char *what,
                              const char *accepted, struct hub_error *err)
{
    char list[200] = "";
    size_t used = 0;
    int unknown = 0;
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        (void)value;
        if (name_in(key, names, count))
            continue;
        unknown++;
        if (used < sizeof(list)) {
            int n = snprintf(list + used, sizeof(list) - used, "%s'%.60s'", unknown > 1 ? ", " : "",
                             key);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (unknown == 0)
        return 0;
    return hub_error_set(err, HUB_EINVAL, "unknown %s%s %s; accepted: %s", what,
                         unknown > 1 ? "s" : "", list, accepted);
}

bool jobs_path_is_valid(const char *path)
{
    size_t len = strlen(path);
    const char *segment = path;

    if (len == 0 || len > HUB_MAX_PATH_BYTES || path[0] == '/' || path[len - 1] == '/')
        return false;
    for (const char *p = path; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
    }
    while (segment != NULL) {
        const char *slash = strchr(segment, '/');
        size_t seg_len = slash != NULL ? (size_t)(slash - segment) : strlen(segment);

        if (seg_len == 0 || (seg_len == 1 && segment[0] == '.') ||
            (seg_len == 2 && segment[0] == '.' && segment[1] == '.'))
            return false;
        segment = slash != NULL ? slash + 1 : NULL;
    }
    return true;
}

bool jobs_revision_is_valid(const char *rev)
{
    size_t len = strlen(rev);

    if (len == 0 || len > HUB_MAX_REVISION_BYTES || rev[0] == '-' || strstr(rev, "..") != NULL)
        return false;
    for (const char *p = rev; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '~' || *p == '^' || *p == ':' ||
            *p == '?' || *p == '*' || *p == '[' || *p == '\\')
            return false;
    }
    return true;
}

/* Reads string field name of obj into buf. A missing field leaves buf as it is unless the
 * field is required. */
static int string_field(char *buf, size_t cap, json_t *obj, const char *name, bool required,
                        struct hub_error *err)
{
    json_t *value = json_object_get(obj, name);

    if (value == NULL || json_is_null(value)) {
        if (required)
            return hub_error_set(err, HUB_EINVAL, "missing field '%s'", name);
        return 0;
    }
    if (!json_is_string(value))
        return hub_error_set(err, HUB_EINVAL, "invalid field '%s': expected a string", name);
    if (json_string_length(value) >= cap)
        return hub_error_set(err, HUB_EINVAL, "invalid field '%s': longer than %zu bytes", name,
                             cap - 1);
    memcpy(buf, json_string_value(value), json_string_length(value) + 1);
    return 0;
}

/* Rejects a repo id written with the type prefix of a hub URL path, such as
 * 'datasets/alice/style', because hub_repo_id_parse would blame the valid 'alice/style'. */
static int repo_prefix_check(const char *id, const char *name, struct hub_error *err)
{
    static const char *const prefixes[] = {"datasets/", "models/"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t len = strlen(prefixes[i]);

        if (strncmp(id, prefixes[i], len) == 0 && strchr(id + len, '/') != NULL)
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid field '%s' '%.200s': expected NAMESPACE/NAME without "
                                 "the '%s' prefix, such as '%.200s'",
                                 name, id, prefixes[i], id + len);
    }
    return 0;
}

static int repo_field(char *buf, size_t cap, json_t *obj, const char *name, bool required,
                      struct hub_error *err)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], repo_name[HUB_MAX_REPO_NAME_BYTES + 1];
    struct hub_error inner = HUB_ERROR_INIT;
    int rc;

    rc = string_field(buf, cap, obj, name, required, err);
    if (rc < 0 || buf[0] == '\0')
        return rc;
    rc = repo_prefix_check(buf, name, err);
    if (rc < 0)
        return rc;
    rc = hub_repo_id_parse(ns, repo_name, buf, &inner);
    if (rc < 0)
        return hub_error_set(err, HUB_EINVAL, "invalid field '%s' '%.200s': %s", name, buf,
                             inner.msg);
    return 0;
}

static int revision_field(char *buf, size_t cap, json_t *obj, const char *name,
                          struct hub_error *err)
{
    int rc;

    snprintf(buf, cap, "main");
    rc = string_field(buf, cap, obj, name, false, err);
    if (rc < 0)
        return rc;
    if (!jobs_revision_is_valid(buf))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid field '%s' '%.200s': expected a branch, tag or commit id",
                             name, buf);
    return 0;
}

static int path_field(char *buf, size_t cap, json_t *obj, const char *name, bool required,
                      struct hub_error *err)
{
    int rc = string_field(buf, cap, obj, name, required, err);

    if (rc < 0 || buf[0] == '\0')
        return rc;
    if (!jobs_path_is_valid(buf))
        return hub_error_set(err, HUB_EINVAL,
                             "invalid field '%s' '%.200s': expected a file path inside the "
                             "dataset repo, such as \"train.jsonl\"",
                             name, buf);
    return 0;
}

/* The Llama-family projections the trainer can adapt (PEFT module names). */
static const char *const target_names[] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                           "gate_proj", "up_proj", "down_proj"};

/* "all-linear", or a comma-separated list of target_names. */
static int targets_check(const char *targets, struct hub_error *err)
{
    const char *name = targets;

    if (strcmp(targets, "all-linear") == 0)
        return 0;
    while (name != NULL) {
        const char *comma = strchr(name, ',');
        size_t len = comma != NULL ? (size_t)(comma - name) : strlen(name);
        bool known = false;

        for (size_t i = 0; i < sizeof(target_names) / sizeof(target_names[0]); i++) {
            if (len == strlen(target_names[i]) && memcmp(name, target_names[i], len) == 0)
                known = true;
        }
        if (!known)
            return hub_error_set(err, HUB_EINVAL,
                                 "invalid param 'targets' '%.200s': expected \"all-linear\" or "
                                 "a comma-separated list of q_proj, k_proj, v_proj, o_proj, "
                                 "gate_proj, up_proj and down_proj",
                                 targets);
        name = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

/* Writes x as a whole number when it is one that fits in 64 bits, else with %g, so that
 * "1048576" never reads as "1.04858e+06". */
static void number_format(char *buf, size_t cap, double x)
{
    if (isfinite(x) && x == floor(x) && fabs(x) < 9e18)
        snprintf(buf, cap, "%lld", (long long)x);
    else
        snprintf(buf, cap, "%g", x);
}

/* Writes the accepted range of rule in the words of docs/jobs.md: "1 to 64", or "above 0,
 * at most 1" where the minimum itself is rejected. */
static void range_format(char *buf, size_t cap, const struct param_rule *rule)
{
    char min[32], max[32];

    number_format(min, sizeof(min), rule->min);
    number_format(max, sizeof(max), rule->max);
    if (rule->above_min)
        snprintf(buf, cap, "above %s, at most %s", min, max);
    else
        snprintf(buf, cap, "%s to %s", min, max);
}

static int number_param(double *out, json_t *value, const struct param_rule *rule,
                        struct hub_error *err)
{
    char shown[32], limit[32], trainer_limit[32], range[80];
    double x;

    if (!json_is_number(value))
        return hub_error_set(err, HUB_EINVAL, "invalid param '%s': expected a number", rule->name);
    x = json_number_value(value);
    number_format(shown, sizeof(shown), x);
    if (rule->is_integer && (!json_is_integer(value) && x != floor(x)))
        return hub_error_set(err, HUB_EINVAL, "invalid param '%s' %s: expected a whole number",
                             rule->name, shown);
    if (isfinite(x) && x > rule->max && rule->trainer_max > rule->max) {
        number_format(limit, sizeof(limit), rule->max);
        number_format(trainer_limit, sizeof(trainer_limit), rule->trainer_max);
        return hub_error_set(err, HUB_EINVAL,
                             "invalid param '%s' %s: over this server's limit of %s (atelier "
                             "train itself accepts up to %s); use a value of at most %s",
                             rule->name, shown, limit, trainer_limit, limit);
    }
    if (!isfinite(x) || x < rule->min || (rule->above_min && x == rule->min) || x > rule->max) {
        range_format(range, sizeof(range), rule);
        return hub_error_set(err, HUB_EINVAL, "invalid param '%s' %s: expected %s", rule->name,
                             shown, range);
    }
    *out = x;
    return 0;
}

static void param_store(struct jobs_train_params *p, const char *name, double x)
{
    if (strcmp(name, "rank") == 0)
        p->rank = (int64_t)x;
    else if (strcmp(name, "alpha") == 0)
        p->alpha = x;
    else if (strcmp(name, "lr") == 0)
        p->lr = x;
    else if (strcmp(name, "steps") == 0)
        p->steps = (int64_t)x;
    else if (strcmp(name, "epochs") == 0)
        p->epochs = (int64_t)x;
    else if (strcmp(name, "batch") == 0)
        p->batch = (int64_t)x;
    else if (strcmp(name, "grad_accum") == 0)
        p->grad_accum = (int64_t)x;
    else if (strcmp(name, "seq_len") == 0)
        p->seq_len = (int64_t)x;
    else if (strcmp(name, "warmup") == 0)
        p->warmup = (int64_t)x;
    else if (strcmp(name, "seed") == 0)
        p->seed = (int64_t)x;
    else if (strcmp(name, "threads") == 0)
        p->threads = (int64_t)x;
    else if (strcmp(name, "checkpoint_every") == 0)
        p->checkpoint_every = (int64_t)x;
    else if (strcmp(name, "dropout") == 0)
        p->dropout = x;
    else if (strcmp(name, "weight_decay") == 0)
        p->weight_decay = x;
    else if (strcmp(name, "clip") == 0)
        p->clip = x;
}

static int params_parse(struct jobs_train_params *p, json_t *params, struct hub_error *err)
{
    const char *names[sizeof(param_rules) / sizeof(param_rules[0])];
    size_t count = sizeof(param_rules) / sizeof(param_rules[0]);
    int rc;

    params_default(p);
    if (params == NULL || json_is_null(params)) {
        p->epochs = 1;
        return 0;
    }
    if (!json_is_object(params))
        return hub_error_set(err, HUB_EINVAL, "invalid field 'params': expected an object");
    for (size_t i = 0; i < count; i++)
        names[i] = param_rules[i].name;
    rc = unknown_keys_check(params, names, count, "param",
                            "rank, alpha, targets, lr, steps, epochs, batch, grad_accum, seq_len, "
                            "warmup, seed, threads, checkpoint_every, dropout, weight_decay, clip",
                            err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        json_t *value = json_object_get(params, param_rules[i].name);
        double x = 0;

        if (value == NULL)
            continue;
        if (strcmp(param_rules[i].name, "targets") == 0) {
            rc = string_field(p->targets, sizeof(p->targets), params, "targets", false, err);
            if (rc == 0)
                rc = targets_check(p->targets, err);
        } else {
            rc = number_param(&x, value, &param_rules[i], err);
            if (rc == 0)
                param_store(p, param_rules[i].name, x);
        }
        if (rc < 0)
            return rc;
    }
    if (p->steps > 0 && p->epochs > 0)
        return hub_error_set(err, HUB_EINVAL,
                             "params 'steps' and 'epochs' both set; give one of them");
    if (p->steps == 0 && p->epochs == 0)
        p->epochs = 1;
    if (p->steps > 0 && p->warmup > p->steps)
        return hub_error_set(err, HUB_EINVAL, "invalid param 'warmup' %lld: more than 'steps' %lld",
                             (long long)p->warmup, (long long)p->steps);
    return 0;
}

static int train_parse(struct jobs_spec *out, json_t *root, struct hub_error *err)
{
    int rc;

    rc = unknown_keys_check(root, train_fields, sizeof(train_fields) / sizeof(train_fields[0]),
                            "field",
                            "type, base_model, base_revision, dataset, dataset_revision, "
                            "train_file, eval_file, output_repo, params",
                            err);
    /* The params first, so a misspelt parameter is named even when a field is missing. */
    if (rc == 0)
        rc = params_parse(&out->params, json_object_get(root, "params"), err);
    if (rc == 0)
        rc = repo_field(out->model, sizeof(out->model), root, "base_model", true, err);
    if (rc == 0)
        rc = revision_field(out->model_revision, sizeof(out->model_revision), root, "base_revision",
                            err);
    if (rc == 0)
        rc = repo_field(out->dataset, sizeof(out->dataset), root, "dataset", true, err);
    if (rc == 0)
        rc = revision_field(out->dataset_revision, sizeof(out->dataset_revision), root,
                            "dataset_revision", err);
    if (rc == 0)
        rc = path_field(out->train_file, sizeof(out->train_file), root, "train_file", true, err);
    if (rc == 0)
        rc = path_field(out->eval_file, sizeof(out->eval_file), root, "eval_file", false, err);
    if (rc == 0)
        rc = repo_field(out->output_repo, sizeof(out->output_repo), root, "output_repo", true, err);
    if (rc == 0 && strcmp(out->output_repo, out->model) == 0)
        rc = hub_error_set(err, HUB_EINVAL,
                           "invalid field 'output_repo' '%s': it is the base model; name a "
                           "new repo for the adapter",
                           out->output_repo);
    return rc;
}

static int eval_parse(struct jobs_spec *out, json_t *root, struct hub_error *err)
{
    int rc;

    rc =
        unknown_keys_check(root, eval_fields, sizeof(eval_fields) / sizeof(eval_fields[0]), "field",
                           "type, model, revision, dataset, dataset_revision, eval_file, "
                           "base_model, base_revision",
                           err);
    if (rc == 0)
        rc = repo_field(out->model, sizeof(out->model), root, "model", true, err);
    if (rc == 0)
        rc =
            revision_field(out->model_revision, sizeof(out->model_revision), root, "revision", err);
    if (rc == 0)
        rc = repo_field(out->dataset, sizeof(out->dataset), root, "dataset", true, err);
    if (rc == 0)
        rc = revision_field(out->dataset_revision, sizeof(out->dataset_revision), root,
                            "dataset_revision", err);
    if (rc == 0)
        rc = path_field(out->eval_file, sizeof(out->eval_file), root, "eval_file", true, err);
    if (rc == 0)
        rc = repo_field(out->adapter_base, sizeof(out->adapter_base), root, "base_model", false,
                        err);
    if (rc == 0 && strcmp(out->adapter_base, out->model) == 0)
        rc = hub_error_set(err, HUB_EINVAL,
                           "invalid field 'base_model' '%s': it is the evaluated model; name the "
                           "base that the adapter was trained on, or leave base_model out",
                           out->adapter_base);
    /* Optional: "" unless given, so the worker can tell it from the adapter's own revision. */
    if (rc == 0 && json_object_get(root, "base_revision") != NULL &&
        !json_is_null(json_object_get(root, "base_revision")))
        rc = revision_field(out->adapter_base_revision, sizeof(out->adapter_base_revision), root,
                            "base_revision", err);
    params_default(&out->params);
    return rc;
}

const char *jobs_eval_base_revision(const struct jobs_spec *spec, const char *config_revision)
{
    if (spec->adapter_base_revision[0] != '\0')
        return spec->adapter_base_revision;
    if (spec->adapter_base[0] != '\0' || config_revision == NULL || config_revision[0] == '\0')
        return "main";
    return config_revision;
}

int jobs_spec_parse(struct jobs_spec *out, const char *json, size_t len, struct hub_error *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    const char *type;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > HUB_MAX_JSON_BODY_BYTES)
        return hub_error_set(err, HUB_ETOOBIG, "job request of %zu bytes is over the %u byte limit",
                             len, (unsigned)HUB_MAX_JSON_BODY_BYTES);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return hub_error_set(err, HUB_EINVAL, "invalid JSON at line %d column %d: %s", jerr.line,
                             jerr.column, jerr.text);
    if (!json_is_object(root)) {
        rc = hub_error_set(err, HUB_EINVAL, "invalid job request: expected a JSON object");
        goto out;
    }
    type = json_string_value(json_object_get(root, "type"));
    if (type == NULL) {
        rc = hub_error_set(err, HUB_EINVAL, "missing field 'type': expected \"train\" or \"eval\"");
        goto out;
    }
    if (strcmp(type, "train") == 0) {
        out->type = META_JOB_TRAIN;
        rc = train_parse(out, root, err);
    } else if (strcmp(type, "eval") == 0) {
        out->type = META_JOB_EVAL;
        rc = eval_parse(out, root, err);
    } else {
        rc = hub_error_set(err, HUB_EINVAL,
                           "invalid field 'type' '%.60s': expected \"train\" or \"eval\"", type);
    }
out:
    json_decref(root);
    return rc;
}

static json_t *params_to_json(const struct jobs_train_params *p)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "rank", json_integer(p->rank));
    json_object_set_new(obj, "alpha", json_real(p->alpha));
    json_object_set_new(obj, "targets", json_string(p->targets));
    json_object_set_new(obj, "lr", json_real(p->lr));
    if (p->steps > 0)
        json_object_set_new(obj, "steps", json_integer(p->steps));
    else
        json_object_set_new(obj, "epochs", json_integer(p->epochs));
    json_object_set_new(obj, "batch", json_integer(p->batch));
    json_object_set_new(obj, "grad_accum", json_integer(p->grad_accum));
    json_object_set_new(obj, "seq_len", json_integer(p->seq_len));
    json_object_set_new(obj, "warmup", json_integer(p->warmup));
    json_object_set_new(obj, "seed", json_integer(p->seed));
    if (p->threads > 0)
        json_object_set_new(obj, "threads", json_integer(p->threads));
    json_object_set_new(obj, "checkpoint_every", json_integer(p->checkpoint_every));
    if (p->dropout >= 0)
        json_object_set_new(obj, "dropout", json_real(p->dropout));
    if (p->weight_decay >= 0)
        json_object_set_new(obj, "weight_decay", json_real(p->weight_decay));
    if (p->clip >= 0)
        json_object_set_new(obj, "clip", json_real(p->clip));
    return obj;
}

static json_t *spec_to_object(const struct jobs_spec *spec)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "type", json_string(meta_job_type_name(spec->type)));
    if (spec->type == META_JOB_TRAIN) {
        json_object_set_new(obj, "base_model", json_string(spec->model));
        json_object_set_new(obj, "base_revision", json_string(spec->model_revision));
    } else {
        json_object_set_new(obj, "model", json_string(spec->model));
        json_object_set_new(obj, "revision", json_string(spec->model_revision));
    }
    json_object_set_new(obj, "dataset", json_string(spec->dataset));
    json_object_set_new(obj, "dataset_revision", json_string(spec->dataset_revision));
    if (spec->type == META_JOB_TRAIN) {
        json_object_set_new(obj, "train_file", json_string(spec->train_file));
        if (spec->eval_file[0] != '\0')
            json_object_set_new(obj, "eval_file", json_string(spec->eval_file));
        json_object_set_new(obj, "output_repo", json_string(spec->output_repo));
        json_object_set_new(obj, "params", params_to_json(&spec->params));
    } else {
        json_object_set_new(obj, "eval_file", json_string(spec->eval_file));
        if (spec->adapter_base[0] != '\0')
            json_object_set_new(obj, "base_model", json_string(spec->adapter_base));
        if (spec->adapter_base_revision[0] != '\0')
            json_object_set_new(obj, "base_revision", json_string(spec->adapter_base_revision));
    }
    return obj;
}

int jobs_spec_to_json(char **out, const struct jobs_spec *spec, struct hub_error *err)
{
    json_t *obj = spec_to_object(spec);

    *out = obj != NULL ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(obj);
    if (*out == NULL)
        return hub_error_set(err, HUB_ENOMEM, "cannot format the job spec");
    return 0;
}

bool jobs_examples_count(size_t *out, const char *text, size_t len)
{
    size_t k = 0, count = 0;

    *out = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        k = 3;
    while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n'))
        k++;
    if (k < len && text[k] == '[') {
        json_t *root =
            json_loadb(text + k, len - k, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL);

        if (!json_is_array(root)) {
            json_decref(root);
            return false;
        }
        *out = json_array_size(root);
        json_decref(root);
        return true;
    }
    while (k < len) {
        const char *newline = memchr(text + k, '\n', len - k);
        size_t end = newline != NULL ? (size_t)(newline - text) : len;
        size_t i = k;

        while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
            i++;
        count += i < end;
        k = end + 1;
    }
    *out = count;
    return true;
}

int64_t jobs_epoch_steps(const struct jobs_train_params *p, size_t n_examples)
{
    uint64_t micro_per_epoch = (n_examples + (uint64_t)p->batch - 1) / (uint64_t)p->batch;
    double steps = ceil((double)p->epochs * (double)micro_per_epoch / (double)p->grad_accum);

    return steps >= 1 ? (int64_t)steps : 1;
}
