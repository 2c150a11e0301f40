/* Tests of jobs_spec_parse: defaults, every rejected field, limits at the maximum and one
 * past it, and the stored JSON parsing back to the same spec. */
#include "harness.h"
#include "jobs_json.h"
#include "jobs_spec.h"

#include <stdlib.h>
#include <string.h>

static int parse(struct jobs_spec *spec, const char *json, struct hub_error *err)
{
    memset(err, 0, sizeof(*err));
    return jobs_spec_parse(spec, json, strlen(json), err);
}

static bool message_has(const struct hub_error *err, const char *text)
{
    return strstr(err->msg, text) != NULL;
}

static void test_train_full_request(void)
{
    struct jobs_spec spec;
    struct hub_error err;
    int rc = parse(&spec,
                   "{\"type\":\"train\",\"base_model\":\"demo/stories260K\",\"base_revision\":"
                   "\"main\",\"dataset\":\"alice/style\",\"dataset_revision\":\"v1\","
                   "\"train_file\":\"train.jsonl\",\"eval_file\":\"data/eval.jsonl\","
                   "\"output_repo\":\"alice/style-lora\",\"params\":{\"rank\":8,\"alpha\":16,"
                   "\"targets\":\"all-linear\",\"lr\":0.002,\"steps\":150,\"batch\":8,"
                   "\"seed\":1}}",
                   &err);

    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(spec.type, META_JOB_TRAIN);
    CHECK_EQ_STR(spec.model, "demo/stories260K");
    CHECK_EQ_STR(spec.dataset_revision, "v1");
    CHECK_EQ_STR(spec.eval_file, "data/eval.jsonl");
    CHECK_EQ_STR(spec.output_repo, "alice/style-lora");
    CHECK_EQ_STR(spec.params.targets, "all-linear");
    CHECK_EQ_INT(spec.params.steps, 150);
    CHECK_NEAR(spec.params.lr, 0.002, 1e-12);
    CHECK_EQ_INT(spec.params.batch, 8);
}

static void test_train_defaults(void)
{
    struct jobs_spec spec;
    struct hub_error err;
    int rc = parse(&spec,
                   "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                   "\"train_file\":\"t.jsonl\",\"output_repo\":\"a/out\"}",
                   &err);

    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(spec.model_revision, "main");
    CHECK_EQ_STR(spec.dataset_revision, "main");
    CHECK_EQ_STR(spec.eval_file, "");
    /* The defaults of `atelier train --help`: one epoch, batch 4, seq_len 512, seed 42. */
    CHECK_EQ_INT(spec.params.rank, 8);
    CHECK_EQ_INT(spec.params.steps, 0);
    CHECK_EQ_INT(spec.params.epochs, 1);
    CHECK_EQ_INT(spec.params.batch, 4);
    CHECK_EQ_INT(spec.params.seq_len, 512);
    CHECK_EQ_INT(spec.params.seed, 42);
    CHECK_EQ_INT(spec.params.grad_accum, 1);
    CHECK(spec.params.lr == 2e-4);
    CHECK(spec.params.alpha == 16);
    CHECK_EQ_STR(spec.params.targets, "q_proj,v_proj");
    CHECK(spec.params.dropout < 0);
}

/* A value the trainer accepts but this server does not is named as a server limit. */
static void test_server_limit_message(void)
{
    struct jobs_spec spec;
    struct hub_error err;
    int rc = parse(&spec,
                   "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                   "\"train_file\":\"t.jsonl\",\"output_repo\":\"a/out\","
                   "\"params\":{\"rank\":2048}}",
                   &err);

    CHECK_EQ_INT(rc, HUB_EINVAL);
    CHECK(message_has(&err, "invalid param 'rank' 2048: over this server's limit of 1024"));
    CHECK(message_has(&err, "atelier train itself accepts up to 4096"));
    rc = parse(&spec,
               "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
               "\"train_file\":\"t.jsonl\",\"output_repo\":\"a/out\","
               "\"params\":{\"batch\":65}}",
               &err);
    CHECK_EQ_INT(rc, HUB_EINVAL);
    CHECK(message_has(&err, "invalid param 'batch' 65: expected 1 to 64"));
}

static void test_eval_request(void)
{
    struct jobs_spec spec;
    struct hub_error err;
    int rc = parse(&spec,
                   "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"revision\":\"abc1234\","
                   "\"dataset\":\"alice/style\",\"eval_file\":\"eval.jsonl\"}",
                   &err);

    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(spec.type, META_JOB_EVAL);
    CHECK_EQ_STR(spec.model_revision, "abc1234");
    CHECK_EQ_STR(spec.output_repo, "");
    CHECK_EQ_STR(spec.adapter_base, "");
}

/* An eval job's optional base_model is stored and parses back from the stored JSON. */
static void test_eval_base_model(void)
{
    struct jobs_spec spec, stored_spec;
    struct hub_error err;
    char *stored = NULL;
    int rc = parse(&spec,
                   "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/"
                   "style\",\"eval_file\":\"eval.jsonl\",\"base_model\":\"alice/stories260K\"}",
                   &err);

    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(spec.adapter_base, "alice/stories260K");
    CHECK_EQ_INT(jobs_spec_to_json(&stored, &spec, &err), 0);
    CHECK(stored != NULL);
    CHECK(strstr(stored != NULL ? stored : "", "\"base_model\":\"alice/stories260K\"") != NULL);
    CHECK_EQ_INT(parse(&stored_spec, stored != NULL ? stored : "", &err), 0);
    CHECK_EQ_STR(stored_spec.adapter_base, "alice/stories260K");
    free(stored);

    rc = parse(&spec,
               "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/style\","
               "\"eval_file\":\"eval.jsonl\",\"base_model\":\"stories260K\"}",
               &err);
    CHECK_EQ_INT(rc, HUB_EINVAL);
    CHECK(message_has(&err, "invalid field 'base_model' 'stories260K'"));
    rc = parse(&spec,
               "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/style\","
               "\"eval_file\":\"eval.jsonl\",\"base_model\":\"alice/style-lora\"}",
               &err);
    CHECK_EQ_INT(rc, HUB_EINVAL);
    CHECK(message_has(&err, "it is the evaluated model"));
}

/* An eval job's optional base_revision is stored, parses back from the stored JSON, and picks
 * the base's revision ahead of the one that adapter_config.json records. */
static void test_eval_base_revision(void)
{
    struct jobs_spec spec, stored_spec;
    struct hub_error err;
    char *stored = NULL;
    int rc = parse(&spec,
                   "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/"
                   "style\",\"eval_file\":\"eval.jsonl\",\"base_revision\":\"v1\"}",
                   &err);

    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(spec.adapter_base_revision, "v1");
    CHECK_EQ_STR(jobs_eval_base_revision(&spec, "abc1234"), "v1");
    CHECK_EQ_INT(jobs_spec_to_json(&stored, &spec, &err), 0);
    CHECK(strstr(stored != NULL ? stored : "", "\"base_revision\":\"v1\"") != NULL);
    CHECK_EQ_INT(parse(&stored_spec, stored != NULL ? stored : "", &err), 0);
    CHECK_EQ_STR(stored_spec.adapter_base_revision, "v1");
    free(stored);

    /* Left out: the recorded revision, or main when there is none. */
    rc = parse(&spec,
               "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/style\","
               "\"eval_file\":\"eval.jsonl\"}",
               &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(spec.adapter_base_revision, "");
    CHECK_EQ_INT(jobs_spec_to_json(&stored, &spec, &err), 0);
    CHECK(strstr(stored != NULL ? stored : "", "base_revision") == NULL);
    free(stored);
    CHECK_EQ_STR(jobs_eval_base_revision(&spec, "abc1234"), "abc1234");
    CHECK_EQ_STR(jobs_eval_base_revision(&spec, NULL), "main");
    CHECK_EQ_STR(jobs_eval_base_revision(&spec, ""), "main");

    /* A base_model replaces the adapter's base, so its recorded revision does not apply. */
    rc = parse(&spec,
               "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/style\","
               "\"eval_file\":\"eval.jsonl\",\"base_model\":\"alice/stories260K\"}",
               &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(jobs_eval_base_revision(&spec, "abc1234"), "main");

    rc = parse(&spec,
               "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/style\","
               "\"eval_file\":\"eval.jsonl\",\"base_revision\":\"a..b\"}",
               &err);
    CHECK_EQ_INT(rc, HUB_EINVAL);
    CHECK(message_has(&err, "invalid field 'base_revision' 'a..b'"));
    rc = parse(&spec,
               "{\"type\":\"eval\",\"model\":\"alice/style-lora\",\"dataset\":\"alice/style\","
               "\"eval_file\":\"eval.jsonl\",\"base_revision\":7}",
               &err);
    CHECK_EQ_INT(rc, HUB_EINVAL);
    CHECK(message_has(&err, "invalid field 'base_revision': expected a string"));
}

/* Each request must be rejected with HUB_EINVAL and a message containing the given text. */
static void test_rejections(void)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        {"", "invalid JSON"},
        {"[]", "expected a JSON object"},
        {"{}", "missing field 'type'"},
        {"{\"type\":\"fit\"}", "invalid field 'type' 'fit'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"colour\":1,\"size\":2}",
         "unknown fields 'colour', 'size'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"rank\":4,\"learning_rate\":1,\"epoch\":2}}",
         "unknown params 'learning_rate', 'epoch'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"learning_rate\":1}}",
         "unknown param 'learning_rate'; accepted: "},
        {"{\"type\":\"train\",\"dataset\":\"a/d\",\"train_file\":\"t\",\"output_repo\":\"a/o\"}",
         "missing field 'base_model'"},
        {"{\"type\":\"train\",\"base_model\":\"ab\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\"}",
         "invalid field 'base_model' 'ab'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"datasets/alice/mystyle\","
         "\"train_file\":\"t\",\"output_repo\":\"a/o\"}",
         "invalid field 'dataset' 'datasets/alice/mystyle': expected NAMESPACE/NAME without the "
         "'datasets/' prefix, such as 'alice/mystyle'"},
        {"{\"type\":\"eval\",\"model\":\"models/alice/m\",\"dataset\":\"a/d\","
         "\"eval_file\":\"e\"}",
         "invalid field 'model' 'models/alice/m': expected NAMESPACE/NAME without the 'models/' "
         "prefix, such as 'alice/m'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":"
         "\"../secret\",\"output_repo\":\"a/o\"}",
         "invalid field 'train_file' '../secret'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":"
         "\"/etc/passwd\",\"output_repo\":\"a/o\"}",
         "invalid field 'train_file'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"base_revision\":\"-x\",\"dataset\":"
         "\"a/d\",\"train_file\":\"t\",\"output_repo\":\"a/o\"}",
         "invalid field 'base_revision' '-x'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/b\"}",
         "it is the base model"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"rank\":2.5}}",
         "invalid param 'rank' 2.5: expected a whole number"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"lr\":\"fast\"}}",
         "invalid param 'lr': expected a number"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"steps\":10,\"epochs\":1}}",
         "give one of them"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"steps\":10,\"warmup\":11}}",
         "invalid param 'warmup' 11"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"targets\":\"q_proj,lm_head\"}}",
         "invalid param 'targets' 'q_proj,lm_head'"},
        {"{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\",\"train_file\":\"t\","
         "\"output_repo\":\"a/o\",\"params\":{\"targets\":\"q_proj,\"}}",
         "invalid param 'targets'"},
        {"{\"type\":\"eval\",\"model\":\"a/b\",\"dataset\":\"a/d\"}", "missing field 'eval_file'"},
        {"{\"type\":\"eval\",\"model\":\"a/b\",\"dataset\":\"a/d\",\"eval_file\":\"e\","
         "\"params\":{}}",
         "unknown field 'params'"},
        {"{\"type\":\"train\",\"type\":\"eval\"}", "invalid JSON"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jobs_spec spec;
        struct hub_error err;
        int rc = parse(&spec, cases[i].json, &err);

        CHECK_EQ_INT(rc, HUB_EINVAL);
        if (!message_has(&err, cases[i].message))
            printf("# case %zu: message \"%s\" lacks \"%s\"\n", i, err.msg, cases[i].message);
        CHECK(message_has(&err, cases[i].message));
    }
}

/* Each numeric limit accepts its maximum and rejects one past it. */
static void test_param_limits(void)
{
    static const struct {
        const char *param;
        const char *max;
        const char *past;
    } cases[] = {
        {"rank", "1024", "1025"},
        {"batch", "64", "65"},
        {"rank", "1", "0"},
        {"lr", "1", "1.5"},
        {"grad_accum", "4096", "4097"},
        {"dropout", "0.99", "1"},
        {"threads", "1024", "1025"},
        {"seed", "4294967295", "4294967296"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jobs_spec spec;
        struct hub_error err;
        char json[512];

        snprintf(json, sizeof(json),
                 "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                 "\"train_file\":\"t\",\"output_repo\":\"a/o\",\"params\":{\"%s\":%s}}",
                 cases[i].param, cases[i].max);
        CHECK_EQ_INT(parse(&spec, json, &err), 0);
        snprintf(json, sizeof(json),
                 "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                 "\"train_file\":\"t\",\"output_repo\":\"a/o\",\"params\":{\"%s\":%s}}",
                 cases[i].param, cases[i].past);
        CHECK_EQ_INT(parse(&spec, json, &err), HUB_EINVAL);
    }
}

/* Range errors print whole numbers as integers and use the wording of docs/jobs.md. */
static void test_param_range_messages(void)
{
    static const struct {
        const char *param;
        const char *value;
        const char *message;
    } cases[] = {
        {"seq_len", "1", "invalid param 'seq_len' 1: expected 2 to 1048576"},
        {"seq_len", "2000000", "invalid param 'seq_len' 2000000: expected 2 to 1048576"},
        {"steps", "20000000",
         "invalid param 'steps' 20000000: over this server's limit of 10000000 (atelier train "
         "itself accepts up to 1000000000); use a value of at most 10000000"},
        {"lr", "-1", "invalid param 'lr' -1: expected above 0, at most 1"},
        {"lr", "0", "invalid param 'lr' 0: expected above 0, at most 1"},
        {"alpha", "0", "invalid param 'alpha' 0: expected above 0, at most 1000000"},
        {"dropout", "1.5", "invalid param 'dropout' 1.5: expected 0 to 0.99"},
        {"rank", "2.5", "invalid param 'rank' 2.5: expected a whole number"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jobs_spec spec;
        struct hub_error err;
        char json[512];

        snprintf(json, sizeof(json),
                 "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                 "\"train_file\":\"t\",\"output_repo\":\"a/o\",\"params\":{\"%s\":%s}}",
                 cases[i].param, cases[i].value);
        CHECK_EQ_INT(parse(&spec, json, &err), HUB_EINVAL);
        CHECK_EQ_STR(err.msg, cases[i].message);
    }
}

/* lr and alpha accept any value above 0, as the trainer's --lr and --alpha do. */
static void test_param_small_positive(void)
{
    struct jobs_spec spec;
    struct hub_error err;

    CHECK_EQ_INT(parse(&spec,
                       "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                       "\"train_file\":\"t\",\"output_repo\":\"a/o\","
                       "\"params\":{\"lr\":1e-13,\"alpha\":1e-7}}",
                       &err),
                 0);
    CHECK(spec.params.lr == 1e-13);
    CHECK(spec.params.alpha == 1e-7);
}

static void test_path_length_limit(void)
{
    char *json = malloc(HUB_MAX_PATH_BYTES + 256);
    char *path = malloc(HUB_MAX_PATH_BYTES + 2);
    struct jobs_spec spec;
    struct hub_error err;

    memset(path, 'p', HUB_MAX_PATH_BYTES);
    path[HUB_MAX_PATH_BYTES] = '\0';
    snprintf(json, HUB_MAX_PATH_BYTES + 256,
             "{\"type\":\"eval\",\"model\":\"a/b\",\"dataset\":\"a/d\",\"eval_file\":\"%s\"}",
             path);
    CHECK_EQ_INT(parse(&spec, json, &err), 0);
    path[HUB_MAX_PATH_BYTES] = 'p';
    path[HUB_MAX_PATH_BYTES + 1] = '\0';
    snprintf(json, HUB_MAX_PATH_BYTES + 256,
             "{\"type\":\"eval\",\"model\":\"a/b\",\"dataset\":\"a/d\",\"eval_file\":\"%s\"}",
             path);
    CHECK_EQ_INT(parse(&spec, json, &err), HUB_EINVAL);
    free(json);
    free(path);
}

static void test_stored_json_round_trip(void)
{
    struct jobs_spec first, second;
    struct hub_error err;
    char *stored = NULL;

    CHECK_EQ_INT(parse(&first,
                       "{\"type\":\"train\",\"base_model\":\"a/b\",\"dataset\":\"a/d\","
                       "\"train_file\":\"t.jsonl\",\"output_repo\":\"a/o\",\"params\":{"
                       "\"lr\":0.002,\"epochs\":3,\"dropout\":0.1}}",
                       &err),
                 0);
    CHECK_EQ_INT(jobs_spec_to_json(&stored, &first, &err), 0);
    CHECK_EQ_INT(parse(&second, stored, &err), 0);
    CHECK_EQ_INT(second.params.epochs, 3);
    CHECK_EQ_INT(second.params.steps, 0);
    CHECK_NEAR(second.params.lr, 0.002, 1e-12);
    CHECK_NEAR(second.params.dropout, 0.1, 1e-12);
    CHECK(memcmp(&first, &second, sizeof(first)) == 0);
    free(stored);
}

static void test_progress_lines(void)
{
    struct meta_job_progress p;
    struct hub_error err;
    bool is_step = false, is_eval = false;
    const char *step = "{\"step\":3,\"total_steps\":40,\"loss\":2.5,\"lr\":0.001,"
                       "\"grad_norm\":1.2,\"tokens_per_s\":900.5,\"eta_s\":12}";
    const char *eval = "{\"step\":10,\"eval_loss\":2.1}";

    CHECK_EQ_INT(jobs_progress_parse(&p, &is_step, &is_eval, step, strlen(step), &err), 0);
    CHECK(is_step);
    CHECK(!is_eval);
    CHECK_EQ_INT(p.step, 3);
    CHECK_EQ_INT(p.total_steps, 40);
    CHECK_NEAR(p.loss, 2.5, 1e-12);
    CHECK_NEAR(p.eta_s, 12, 1e-12);
    CHECK_EQ_INT(jobs_progress_parse(&p, &is_step, &is_eval, eval, strlen(eval), &err), 0);
    CHECK(is_eval);
    CHECK(!is_step);
    CHECK_EQ_INT(jobs_progress_parse(&p, &is_step, &is_eval, "step 3", 6, &err), HUB_EINVAL);
    CHECK_EQ_INT(jobs_progress_parse(&p, &is_step, &is_eval, "{\"step\":-1}", 11, &err),
                 HUB_EINVAL);
    CHECK_EQ_INT(jobs_progress_parse(&p, &is_step, &is_eval, "{\"loss\":\"x\"}", 12, &err),
                 HUB_EINVAL);
}

/* The example count and step plan that the warmup check at queue time uses follow
 * `atelier train`: JSONL lines with content or JSON array elements, then
 * ceil(epochs * ceil(examples / batch) / grad_accum) steps. */
static void test_epoch_step_plan(void)
{
    static const char jsonl[] = "\xEF\xBB\xBF{\"text\":\"a\"}\n\n  \r\n{\"text\":\"b\"}\r\n"
                                "{\"text\":\"c\"}";
    static const char array[] = "\n [{\"text\":\"a\"}, {\"text\":\"b\"}]\n";
    static const char broken_array[] = "[{\"text\":\"a\"},";
    struct jobs_train_params p;
    size_t n = 99;

    CHECK(jobs_examples_count(&n, jsonl, strlen(jsonl)));
    CHECK_EQ_INT((int)n, 3);
    CHECK(jobs_examples_count(&n, array, strlen(array)));
    CHECK_EQ_INT((int)n, 2);
    CHECK(jobs_examples_count(&n, "\n\n", 2));
    CHECK_EQ_INT((int)n, 0);
    CHECK(!jobs_examples_count(&n, broken_array, strlen(broken_array)));

    memset(&p, 0, sizeof(p));
    p.epochs = 1;
    p.batch = 2;
    p.grad_accum = 1;
    CHECK_EQ_INT((int)jobs_epoch_steps(&p, 80), 40);
    CHECK_EQ_INT((int)jobs_epoch_steps(&p, 81), 41);
    p.epochs = 3;
    p.grad_accum = 4;
    CHECK_EQ_INT((int)jobs_epoch_steps(&p, 81), 31);
    CHECK_EQ_INT((int)jobs_epoch_steps(&p, 0), 1);
}

int main(void)
{
    test_train_full_request();
    test_train_defaults();
    test_server_limit_message();
    test_eval_request();
    test_eval_base_model();
    test_eval_base_revision();
    test_rejections();
    test_param_limits();
    test_param_range_messages();
    test_param_small_positive();
    test_path_length_limit();
    test_stored_json_round_trip();
    test_progress_lines();
    test_epoch_step_plan();
    return test_finish();
}
