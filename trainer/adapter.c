/* adapter: PEFT LoRA adapter I/O. adapter_config_parse reads LoraConfig JSON with jansson,
 * adapter_inspect validates a directory without a model, adapter_load maps the tensors onto
 * a lora_set of a Llama-family model, and adapter_save writes both files. */
#include "adapter.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEFT_PREFIX "base_model.model."

/* ---- adapter_config.json ---- */

static int copy_string(char **out, const char *s, struct tr_error *err)
{
    *out = strdup(s);
    if (*out == NULL)
        return tr_error_set(err, "cannot allocate a string");
    return 0;
}

/* Reads key as a string or null into *out (NULL for null or absent). */
static int get_opt_string(char **out, json_t *root, const char *key, const char *label,
                          struct tr_error *err)
{
    json_t *v = json_object_get(root, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return tr_error_set(err, "%s: \"%s\" must be a string or null", label, key);
    return copy_string(out, json_string_value(v), err);
}

static int get_opt_bool(bool *out, json_t *root, const char *key, bool dflt, const char *label,
                        struct tr_error *err)
{
    json_t *v = json_object_get(root, key);

    *out = dflt;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return tr_error_set(err, "%s: \"%s\" must be true or false", label, key);
    *out = json_is_true(v);
    return 0;
}

static int get_opt_number(double *out, json_t *root, const char *key, double dflt,
                          const char *label, struct tr_error *err)
{
    json_t *v = json_object_get(root, key);

    *out = dflt;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return tr_error_set(err, "%s: \"%s\" must be a number", label, key);
    *out = json_number_value(v);
    if (!isfinite(*out))
        return tr_error_set(err, "%s: \"%s\" is not finite", label, key);
    return 0;
}

/* Counts the entries of an object or list field; null or absent counts 0. */
static int count_entries(size_t *out, json_t *root, const char *key, const char *label,
                         struct tr_error *err)
{
    json_t *v = json_object_get(root, key);

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_object(v))
        *out = json_object_size(v);
    else if (json_is_array(v))
        *out = json_array_size(v);
    else if (json_is_string(v))
        *out = 1;
    else
        return tr_error_set(err, "%s: \"%s\" must be an object, a list or null", label, key);
    return 0;
}

static int parse_targets(struct adapter_config *c, json_t *root, const char *label,
                         struct tr_error *err)
{
    json_t *v = json_object_get(root, "target_modules");
    size_t i;
    json_t *item;

    if (v == NULL || json_is_null(v))
        return 0; /* PEFT then uses the architecture default */
    if (json_is_string(v)) {
        if (strcasecmp(json_string_value(v), "all-linear") == 0) {
            c->target_all_linear = true;
            return 0;
        }
        return copy_string(&c->target_regex, json_string_value(v), err);
    }
    if (!json_is_array(v))
        return tr_error_set(err,
                            "%s: \"target_modules\" must be a list of module names, a "
                            "string or null",
                            label);
    c->target_modules = calloc(json_array_size(v) + 1, sizeof(char *));
    if (c->target_modules == NULL)
        return tr_error_set(err, "cannot allocate the target module list");
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) == 0)
            return tr_error_set(err, "%s: target_modules[%zu] must be a non-empty string", label,
                                i);
        if (copy_string(&c->target_modules[i], json_string_value(item), err) < 0)
            return -1;
        c->n_target_modules = i + 1;
    }
    return 0;
}

static int parse_init_weights(struct adapter_config *c, json_t *root, const char *label,
                              struct tr_error *err)
{
    json_t *v = json_object_get(root, "init_lora_weights");

    if (v == NULL || json_is_null(v) || json_is_true(v))
        return copy_string(&c->init_lora_weights, "true", err);
    if (json_is_false(v))
        return copy_string(&c->init_lora_weights, "false", err);
    if (json_is_string(v))
        return copy_string(&c->init_lora_weights, json_string_value(v), err);
    return tr_error_set(err, "%s: \"init_lora_weights\" must be a boolean or a string", label);
}

static int parse_rank(struct adapter_config *c, json_t *root, const char *label,
                      struct tr_error *err)
{
    json_t *v = json_object_get(root, "r");

    c->r = 8; /* LoraConfig's default */
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > ADAPTER_MAX_RANK)
        return tr_error_set(err, "%s: \"r\" must be an integer in 1..%d", label, ADAPTER_MAX_RANK);
    c->r = (int)json_integer_value(v);
    return 0;
}

static int parse_fields(struct adapter_config *c, json_t *root, const char *label,
                        struct tr_error *err)
{
    json_t *peft_type = json_object_get(root, "peft_type");

    if (!json_is_string(peft_type))
        return tr_error_set(err, "%s: missing \"peft_type\" (expected \"LORA\")", label);
    if (copy_string(&c->peft_type, json_string_value(peft_type), err) < 0)
        return -1;
    if (get_opt_string(&c->task_type, root, "task_type", label, err) < 0 ||
        get_opt_string(&c->base_model, root, "base_model_name_or_path", label, err) < 0 ||
        get_opt_string(&c->revision, root, "revision", label, err) < 0 ||
        get_opt_string(&c->bias, root, "bias", label, err) < 0)
        return -1;
    if (c->bias == NULL && copy_string(&c->bias, "none", err) < 0)
        return -1;
    if (parse_rank(c, root, label, err) < 0)
        return -1;
    if (get_opt_number(&c->lora_alpha, root, "lora_alpha", 8.0, label, err) < 0 ||
        get_opt_number(&c->lora_dropout, root, "lora_dropout", 0.0, label, err) < 0)
        return -1;
    if (c->lora_dropout < 0.0 || c->lora_dropout >= 1.0)
        return tr_error_set(err, "%s: \"lora_dropout\" is %g, expected 0 <= dropout < 1", label,
                            c->lora_dropout);
    if (get_opt_bool(&c->use_rslora, root, "use_rslora", false, label, err) < 0 ||
        get_opt_bool(&c->use_dora, root, "use_dora", false, label, err) < 0 ||
        get_opt_bool(&c->fan_in_fan_out, root, "fan_in_fan_out", false, label, err) < 0 ||
        get_opt_bool(&c->lora_bias, root, "lora_bias", false, label, err) < 0)
        return -1;
    if (parse_init_weights(c, root, label, err) < 0 || parse_targets(c, root, label, err) < 0)
        return -1;
    if (count_entries(&c->n_rank_pattern, root, "rank_pattern", label, err) < 0 ||
        count_entries(&c->n_alpha_pattern, root, "alpha_pattern", label, err) < 0 ||
        count_entries(&c->n_modules_to_save, root, "modules_to_save", label, err) < 0)
        return -1;
    {
        json_t *layers = json_object_get(root, "layers_to_transform");

        c->has_layers_to_transform = layers != NULL && !json_is_null(layers);
    }
    return 0;
}

int adapter_config_parse(struct adapter_config *out, const char *json_text, size_t len,
                         const char *label, struct tr_error *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > ADAPTER_MAX_CONFIG_BYTES)
        return tr_error_set(err, "%s is %zu bytes, above the limit of %u", label, len,
                            ADAPTER_MAX_CONFIG_BYTES);
    root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return tr_error_set(err, "%s: invalid JSON at line %d column %d: %s", label, jerr.line,
                            jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return tr_error_set(err, "%s: expected a JSON object", label);
    }
    rc = parse_fields(out, root, label, err);
    json_decref(root);
    return rc;
}

static int read_small_file(char **out, size_t *len_out, const char *path, size_t max_bytes,
                           struct tr_error *err)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL)
        return tr_error_set(err, "cannot open %s: %s", path, strerror(errno));
    buf = malloc(max_bytes + 1);
    if (buf == NULL) {
        fclose(f);
        return tr_error_set(err, "cannot allocate a buffer for %s", path);
    }
    len = fread(buf, 1, max_bytes + 1, f);
    if (ferror(f) || len > max_bytes) {
        fclose(f);
        free(buf);
        return tr_error_set(err, "%s is unreadable or larger than %zu bytes", path, max_bytes);
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    *len_out = len;
    return 0;
}

int adapter_config_read(struct adapter_config *out, const char *dir, struct tr_error *err)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "%s/%s", dir, ADAPTER_CONFIG_FILE);
    if (read_small_file(&text, &len, path, ADAPTER_MAX_CONFIG_BYTES, err) < 0)
        return -1;
    rc = adapter_config_parse(out, text, len, path, err);
    free(text);
    return rc;
}

void adapter_config_dispose(struct adapter_config *c)
{
    if (c == NULL)
        return;
    free(c->peft_type);
    free(c->task_type);
    free(c->base_model);
    free(c->revision);
    free(c->bias);
    free(c->init_lora_weights);
    for (size_t i = 0; i < c->n_target_modules; i++)
        free(c->target_modules[i]);
    free(c->target_modules);
    free(c->target_regex);
    memset(c, 0, sizeof(*c));
}

/* ---- tensor names ---- */

void adapter_tensor_name(char *buf, size_t size, int layer, enum lora_target t, bool is_b)
{
    const char *block = t <= LORA_O_PROJ ? "self_attn" : "mlp";

    snprintf(buf, size, PEFT_PREFIX "model.layers.%d.%s.%s.lora_%c.weight", layer, block,
             lora_target_name(t), is_b ? 'B' : 'A');
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Returns the first dotted segment of module made only of digits, or -1. */
static int first_layer_index(const char *module)
{
    const char *p = module;

    while (*p != '\0') {
        const char *end = strchr(p, '.');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        bool digits = n > 0 && n <= 6;

        for (size_t i = 0; digits && i < n; i++)
            digits = p[i] >= '0' && p[i] <= '9';
        if (digits)
            return (int)strtol(p, NULL, 10);
        if (end == NULL)
            break;
        p = end + 1;
    }
    return -1;
}

/* Splits a safetensors name into the parts of struct adapter_tensor. */
static void tensor_describe(struct adapter_tensor *at, const struct st_tensor *t)
{
    const char *rest = t->name;
    const char *suffix = NULL;
    const char *dot;
    size_t module_len;

    memset(at, 0, sizeof(*at));
    snprintf(at->name, sizeof(at->name), "%s", t->name);
    at->dtype = t->dtype;
    at->ndim = t->ndim;
    at->shape[0] = t->ndim >= 1 ? t->shape[0] : 0;
    at->shape[1] = t->ndim >= 2 ? t->shape[1] : 0;
    at->kind = ADAPTER_OTHER;
    if (strncmp(rest, PEFT_PREFIX, strlen(PEFT_PREFIX)) == 0)
        rest += strlen(PEFT_PREFIX);
    if (ends_with(rest, ".lora_A.weight")) {
        at->kind = ADAPTER_LORA_A;
        suffix = ".lora_A.weight";
    } else if (ends_with(rest, ".lora_B.weight")) {
        at->kind = ADAPTER_LORA_B;
        suffix = ".lora_B.weight";
    }
    module_len = strlen(rest) - (suffix != NULL ? strlen(suffix) : 0);
    if (module_len >= sizeof(at->module))
        module_len = sizeof(at->module) - 1;
    memcpy(at->module, rest, module_len);
    at->module[module_len] = '\0';
    dot = strrchr(at->module, '.');
    dot = dot != NULL ? dot + 1 : at->module;
    module_len = strlen(dot) < sizeof(at->leaf) ? strlen(dot) : sizeof(at->leaf) - 1;
    memcpy(at->leaf, dot, module_len);
    at->leaf[module_len] = '\0';
    at->layer = first_layer_index(at->module);
}

/* ---- adapter_inspect ---- */

static bool file_exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool dtype_is_float(enum st_dtype d)
{
    return d == ST_F32 || d == ST_F16 || d == ST_BF16;
}

static const struct adapter_tensor *find_partner(const struct adapter_info *info,
                                                 const struct adapter_tensor *a)
{
    for (size_t j = 0; j < info->n_tensors; j++) {
        const struct adapter_tensor *b = &info->tensors[j];

        if (b->kind == ADAPTER_LORA_B && strcmp(b->module, a->module) == 0)
            return b;
    }
    return NULL;
}

static int check_lora_tensor(const struct adapter_tensor *t, const char *path, struct tr_error *err)
{
    if (t->ndim != 2)
        return tr_error_set(err, "%s: tensor %s has %d dimensions, expected 2", path, t->name,
                            t->ndim);
    if (!dtype_is_float(t->dtype))
        return tr_error_set(err, "%s: tensor %s has dtype %s, expected F32, F16 or BF16", path,
                            t->name, st_dtype_name(t->dtype));
    return 0;
}

/* Checks that lora_A and lora_B tensors come in pairs of matching rank. */
static int check_pairs(struct adapter_info *info, const char *path, struct tr_error *err)
{
    for (size_t i = 0; i < info->n_tensors; i++) {
        const struct adapter_tensor *t = &info->tensors[i];
        const struct adapter_tensor *b;

        if (t->kind == ADAPTER_OTHER) {
            info->n_other++;
            continue;
        }
        if (check_lora_tensor(t, path, err) < 0)
            return -1;
        if (t->kind == ADAPTER_LORA_B)
            continue;
        b = find_partner(info, t);
        if (b == NULL)
            return tr_error_set(err, "%s: %s has no matching lora_B tensor", path, t->name);
        if (t->shape[0] != b->shape[1])
            return tr_error_set(err, "%s: %s has rank %lld but %s has rank %lld", path, t->name,
                                (long long)t->shape[0], b->name, (long long)b->shape[1]);
        if (info->config.n_rank_pattern == 0 && t->shape[0] != info->config.r)
            return tr_error_set(err, "%s: %s has rank %lld but adapter_config.json says r=%d", path,
                                t->name, (long long)t->shape[0], info->config.r);
        info->n_lora_pairs++;
    }
    for (size_t i = 0; i < info->n_tensors; i++) {
        const struct adapter_tensor *t = &info->tensors[i];
        bool paired = false;

        if (t->kind != ADAPTER_LORA_B)
            continue;
        for (size_t j = 0; j < info->n_tensors && !paired; j++)
            paired = info->tensors[j].kind == ADAPTER_LORA_A &&
                     strcmp(info->tensors[j].module, t->module) == 0;
        if (!paired)
            return tr_error_set(err, "%s: %s has no matching lora_A tensor", path, t->name);
    }
    if (info->n_lora_pairs == 0)
        return tr_error_set(err, "%s holds no lora_A/lora_B tensors", path);
    return 0;
}

static int inspect_weights(struct adapter_info *info, const char *dir, struct tr_error *err)
{
    struct st_file *st = NULL;
    char path[4096];
    int rc = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, ADAPTER_WEIGHTS_FILE);
    if (!file_exists(dir, ADAPTER_WEIGHTS_FILE)) {
        if (file_exists(dir, ADAPTER_LEGACY_FILE))
            return tr_error_set(err,
                                "%s/%s is a PyTorch pickle, which atelier does not load; "
                                "convert it to safetensors first (in Python: "
                                "PeftModel.from_pretrained(base, dir).save_pretrained(dir, "
                                "safe_serialization=True))",
                                dir, ADAPTER_LEGACY_FILE);
        return tr_error_set(err, "%s not found", path);
    }
    if (st_open(&st, path, err) < 0)
        return -1;
    info->n_tensors = st_count(st);
    info->tensors = calloc(info->n_tensors + 1, sizeof(*info->tensors));
    if (info->tensors == NULL) {
        tr_error_set(err, "cannot allocate %zu tensor records", info->n_tensors);
        goto out;
    }
    for (size_t i = 0; i < info->n_tensors; i++)
        tensor_describe(&info->tensors[i], st_tensor_at(st, i));
    rc = check_pairs(info, path, err);
out:
    st_close(st);
    return rc;
}

int adapter_inspect(struct adapter_info **out, const char *dir, struct tr_error *err)
{
    struct adapter_info *info = NULL;

    *out = NULL;
    info = calloc(1, sizeof(*info));
    if (info == NULL)
        return tr_error_set(err, "cannot allocate adapter info");
    if (adapter_config_read(&info->config, dir, err) < 0 || inspect_weights(info, dir, err) < 0) {
        adapter_info_free(info);
        return -1;
    }
    *out = info;
    return 0;
}

void adapter_info_free(struct adapter_info *info)
{
    if (info == NULL)
        return;
    adapter_config_dispose(&info->config);
    free(info->tensors);
    free(info);
}

/* ---- adapter_load ---- */

/* Rejects config features this trainer does not apply, naming the field. */
static int check_config_supported(const struct adapter_config *c, const char *dir,
                                  struct tr_error *err)
{
    if (strcmp(c->peft_type, "LORA") != 0)
        return tr_error_set(err, "%s: peft_type is \"%s\"; atelier loads LORA adapters only", dir,
                            c->peft_type);
    if (c->task_type != NULL && strcmp(c->task_type, "CAUSAL_LM") != 0)
        return tr_error_set(err,
                            "%s: task_type is \"%s\"; atelier loads CAUSAL_LM adapters "
                            "only (a %s adapter needs a task head atelier does not have)",
                            dir, c->task_type, c->task_type);
    if (c->use_dora)
        return tr_error_set(err, "%s: use_dora is true; DoRA adapters are not supported", dir);
    if (c->lora_bias)
        return tr_error_set(err, "%s: lora_bias is true; LoRA biases are not supported", dir);
    if (c->n_rank_pattern > 0 || c->n_alpha_pattern > 0)
        return tr_error_set(err,
                            "%s: rank_pattern/alpha_pattern are not supported; retrain "
                            "with one rank and alpha for all modules",
                            dir);
    if (c->n_modules_to_save > 0)
        return tr_error_set(err,
                            "%s: modules_to_save is set; adapters that train whole "
                            "modules are not supported",
                            dir);
    if (c->fan_in_fan_out)
        return tr_error_set(err,
                            "%s: fan_in_fan_out is true, which PEFT sets for GPT-2 style "
                            "Conv1D layers; Llama-family models use nn.Linear",
                            dir);
    if (c->has_layers_to_transform)
        return tr_error_set(err,
                            "%s: layers_to_transform is set; atelier loads adapters of every "
                            "layer only, so retrain without layers_to_transform",
                            dir);
    if (c->target_regex != NULL)
        return tr_error_set(err,
                            "%s: target_modules is the regular expression \"%s\", which "
                            "atelier does not evaluate; save the adapter with target_modules "
                            "as a list of module names or \"all-linear\"",
                            dir, c->target_regex);
    return 0;
}

/* Checks the list form of target_modules against the Llama module names. */
static int check_config_targets(const struct adapter_config *c, const char *dir,
                                const struct model_config *cfg, struct tr_error *err)
{
    char unknown[256] = "";
    size_t used = 0;

    for (size_t i = 0; i < c->n_target_modules; i++) {
        const char *dot = strrchr(c->target_modules[i], '.');
        const char *leaf = dot != NULL ? dot + 1 : c->target_modules[i];
        enum lora_target t;

        if (lora_target_parse(leaf, &t))
            continue;
        used += (size_t)snprintf(unknown + used, sizeof(unknown) - used, "%s%s",
                                 used > 0 ? ", " : "", c->target_modules[i]);
        if (used >= sizeof(unknown))
            break;
    }
    if (unknown[0] == '\0')
        return 0;
    return tr_error_set(err,
                        "%s: target_modules %s are not modules of a %s model (supported: "
                        "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj); the "
                        "adapter was made for %s",
                        dir, unknown, cfg->model_type,
                        c->base_model != NULL ? c->base_model : "another architecture");
}

/* Maps a module path such as "model.layers.3.mlp.up_proj" to (layer, target). */
static bool module_to_target(const char *module, int *layer, enum lora_target *t)
{
    const char *p = module;
    const char *dot;
    int digits = 0;

    if (strncmp(p, "model.layers.", 13) != 0)
        return false;
    p += 13;
    *layer = 0;
    while (*p >= '0' && *p <= '9' && digits < 7) {
        *layer = *layer * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || *p != '.')
        return false;
    p++;
    dot = strchr(p, '.');
    if (dot == NULL || strchr(dot + 1, '.') != NULL || !lora_target_parse(dot + 1, t))
        return false;
    if (*t <= LORA_O_PROJ)
        return (size_t)(dot - p) == 9 && strncmp(p, "self_attn", 9) == 0;
    return (size_t)(dot - p) == 3 && strncmp(p, "mlp", 3) == 0;
}

/* Returns true when target_modules of c selects module (e.g. "model.layers.3.mlp.up_proj"):
 * an entry equals the module path or is a dotted suffix of it, as PEFT matches them.
 * "all-linear" and an absent list select every module. */
static bool config_targets_module(const struct adapter_config *c, const char *module)
{
    size_t module_len = strlen(module);

    if (c->target_all_linear || c->n_target_modules == 0)
        return true;
    for (size_t i = 0; i < c->n_target_modules; i++) {
        const char *entry = c->target_modules[i];
        size_t len = strlen(entry);

        if (strcmp(module, entry) == 0)
            return true;
        if (module_len > len && module[module_len - len - 1] == '.' &&
            strcmp(module + module_len - len, entry) == 0)
            return true;
    }
    return false;
}

/* Fills buf with a note naming the adapter's base_model_name_or_path, or with "" when it has
 * none. Errors append it to "the adapter was trained for a different base model". */
static void base_model_note(char *buf, size_t size, const struct adapter_config *c)
{
    if (c->base_model != NULL)
        snprintf(buf, size, " (its base_model_name_or_path is \"%s\")", c->base_model);
    else
        buf[0] = '\0';
}

/* Layer coverage of an adapter's tensors: how many distinct layers they adapt and the
 * highest layer index among them (-1 when there are none). */
struct layer_coverage {
    int n_layers;
    int last_layer;
};

static int collect_target_mask(unsigned *mask, struct layer_coverage *coverage,
                               const struct adapter_info *info, const struct model_config *cfg,
                               const char *dir, struct tr_error *err)
{
    char note[400];
    bool *seen = NULL;
    int rc = 0;

    base_model_note(note, sizeof(note), &info->config);
    *mask = 0;
    coverage->n_layers = 0;
    coverage->last_layer = -1;
    seen = calloc((size_t)cfg->num_hidden_layers + 1, sizeof(bool));
    if (seen == NULL)
        return tr_error_set(err, "cannot allocate the layer list of %d layers",
                            cfg->num_hidden_layers);
    for (size_t i = 0; i < info->n_tensors; i++) {
        const struct adapter_tensor *at = &info->tensors[i];
        enum lora_target t;
        int layer;

        if (at->kind == ADAPTER_OTHER) {
            rc = tr_error_set(err,
                              "%s: tensor %s is not a lora_A/lora_B weight; adapters "
                              "with extra trained modules are not supported",
                              dir, at->name);
            break;
        }
        if (!module_to_target(at->module, &layer, &t)) {
            rc = tr_error_set(err,
                              "%s: tensor %s adapts module \"%s\", which a %s model "
                              "does not have",
                              dir, at->name, at->leaf, cfg->model_type);
            break;
        }
        if (layer >= cfg->num_hidden_layers) {
            rc = tr_error_set(err,
                              "%s: tensor %s is for layer %d but the model has %d layers; "
                              "the adapter was trained for a different base model%s",
                              dir, at->name, layer, cfg->num_hidden_layers, note);
            break;
        }
        /* PEFT skips such tensors with a warning, so applying them would change the
         * adapter's output, and skipping them could hide a damaged adapter: reject. */
        if (!config_targets_module(&info->config, at->module)) {
            rc = tr_error_set(err,
                              "%s: tensor %s adapts module %s, which target_modules in "
                              "adapter_config.json does not include; add \"%s\" to "
                              "target_modules or remove the module's tensors",
                              dir, at->name, at->module, at->leaf);
            break;
        }
        *mask |= 1u << t;
        if (!seen[layer]) {
            seen[layer] = true;
            coverage->n_layers++;
        }
        if (layer > coverage->last_layer)
            coverage->last_layer = layer;
    }
    free(seen);
    return rc;
}

/* Prints a warning when the adapter's tensors stop before the model's last layer, as those of
 * an adapter for a shallower base of the same widths do. It is not an error because
 * target_modules entries such as "model.layers.0.self_attn.q_proj" select some layers on
 * purpose. check_config_supported has already rejected layers_to_transform. */
static void warn_short_coverage(const struct layer_coverage *coverage,
                                const struct adapter_config *c, const char *dir,
                                const struct model_config *cfg, const char *command)
{
    if (coverage->last_layer < 0 || coverage->last_layer >= cfg->num_hidden_layers - 1)
        return;
    fprintf(stderr,
            "%s: warning: %s: the adapter has tensors for %d of the model's %d layers "
            "and none after layer %d, so it was probably trained for a base model with fewer "
            "layers (its base_model_name_or_path is %s%s%s); layers %d to %d run without "
            "LoRA\n",
            command, dir, coverage->n_layers, cfg->num_hidden_layers, coverage->last_layer,
            c->base_model != NULL ? "\"" : "", c->base_model != NULL ? c->base_model : "not set",
            c->base_model != NULL ? "\"" : "", coverage->last_layer + 1,
            cfg->num_hidden_layers - 1);
}

static int copy_tensor(struct lora_matrix *lm, const struct adapter_tensor *at,
                       const struct st_file *st, int rank, const char *dir, const char *note,
                       struct tr_error *err)
{
    const struct st_tensor *t = st_find(st, at->name);
    bool is_b = at->kind == ADAPTER_LORA_B;
    int64_t rows = is_b ? lm->out : rank;
    int64_t cols = is_b ? rank : lm->in;

    if (t == NULL)
        return tr_error_set(err, "%s: tensor %s disappeared while loading", dir, at->name);
    if (at->shape[0] != rows || at->shape[1] != cols)
        return tr_error_set(err,
                            "%s: tensor %s has shape [%lld, %lld] but this model needs "
                            "[%lld, %lld]; the adapter was trained for a different base "
                            "model%s",
                            dir, at->name, (long long)at->shape[0], (long long)at->shape[1],
                            (long long)rows, (long long)cols, note);
    return st_tensor_to_f32(t, is_b ? lm->B : lm->A, err);
}

static int load_tensors(struct lora_set *lora, const struct adapter_info *info, const char *dir,
                        struct tr_error *err)
{
    struct st_file *st = NULL;
    char path[4096], note[400];
    int rc = 0;

    base_model_note(note, sizeof(note), &info->config);
    snprintf(path, sizeof(path), "%s/%s", dir, ADAPTER_WEIGHTS_FILE);
    if (st_open(&st, path, err) < 0)
        return -1;
    for (size_t i = 0; i < info->n_tensors && rc == 0; i++) {
        const struct adapter_tensor *at = &info->tensors[i];
        enum lora_target t;
        int layer;

        if (!module_to_target(at->module, &layer, &t))
            continue;
        rc = copy_tensor(lora_set_get(lora, layer, t), at, st, lora->rank, path, note, err);
    }
    st_close(st);
    return rc;
}

int adapter_load(struct lora_set **out, const char *dir, const struct model *m,
                 struct tr_error *err)
{
    return adapter_load_for_command(out, dir, m, "atelier", err);
}

int adapter_load_for_command(struct lora_set **out, const char *dir, const struct model *m,
                             const char *command, struct tr_error *err)
{
    const struct model_config *cfg = model_get_config(m);
    struct adapter_info *info = NULL;
    struct lora_set *lora = NULL;
    struct layer_coverage coverage;
    unsigned mask = 0;
    int rc = -1;

    *out = NULL;
    if (adapter_inspect(&info, dir, err) < 0)
        return -1;
    if (check_config_targets(&info->config, dir, cfg, err) < 0 ||
        check_config_supported(&info->config, dir, err) < 0 ||
        collect_target_mask(&mask, &coverage, info, cfg, dir, err) < 0)
        goto out;
    lora =
        lora_set_new(cfg, info->config.r, (float)info->config.lora_alpha, info->config.use_rslora,
                     (float)info->config.lora_dropout, mask, false, err);
    if (lora == NULL)
        goto out;
    rc = load_tensors(lora, info, dir, err);
    if (rc == 0)
        warn_short_coverage(&coverage, &info->config, dir, cfg, command);
out:
    adapter_info_free(info);
    if (rc == 0)
        *out = lora;
    else
        lora_set_free(lora);
    return rc;
}

/* ---- adapter_save ---- */

static json_t *target_list(unsigned mask)
{
    json_t *list = json_array();

    for (int t = 0; t < LORA_NUM_TARGETS && list != NULL; t++) {
        if (mask & (1u << t))
            json_array_append_new(list, json_string(lora_target_name((enum lora_target)t)));
    }
    return list;
}

/* Returns the shortest decimal (at most 7 significant digits) that reads back as f. */
static double round_float(float f)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.7g", (double)f);
    for (int digits = 1; digits <= 7; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return strtod(buf, NULL);
}

static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *config_to_json(const struct lora_set *lora, const struct adapter_save_info *info)
{
    json_t *root = json_object();
    double alpha = lora->alpha;

    if (root == NULL)
        return NULL;
    json_object_set_new(root, "alpha_pattern", json_object());
    json_object_set_new(root, "auto_mapping", json_null());
    json_object_set_new(root, "base_model_name_or_path", string_or_null(info->base_model));
    json_object_set_new(root, "bias", json_string("none"));
    json_object_set_new(root, "fan_in_fan_out", json_false());
    json_object_set_new(root, "inference_mode", json_true());
    json_object_set_new(root, "init_lora_weights", json_true());
    json_object_set_new(root, "layers_pattern", json_null());
    json_object_set_new(root, "layers_to_transform", json_null());
    /* PEFT writes an integer alpha as an integer. */
    if (alpha == floor(alpha) && fabs(alpha) < 1e9)
        json_object_set_new(root, "lora_alpha", json_integer((json_int_t)alpha));
    else
        json_object_set_new(root, "lora_alpha", json_real(round_float(lora->alpha)));
    json_object_set_new(root, "lora_bias", json_false());
    /* Round float32 values to the decimal the user gave: 0.05, not 0.05000000074505806. */
    json_object_set_new(root, "lora_dropout", json_real(round_float(lora->dropout)));
    json_object_set_new(root, "modules_to_save", json_null());
    json_object_set_new(root, "peft_type", json_string("LORA"));
    json_object_set_new(root, "r", json_integer(lora->rank));
    json_object_set_new(root, "rank_pattern", json_object());
    json_object_set_new(root, "revision", string_or_null(info->revision));
    json_object_set_new(root, "target_modules", target_list(lora->target_mask));
    json_object_set_new(root, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(root, "use_dora", json_false());
    json_object_set_new(root, "use_rslora", json_boolean(lora->rslora));
    return root;
}

static int write_config(const char *dir, const struct lora_set *lora,
                        const struct adapter_save_info *info, struct tr_error *err)
{
    char path[4096], tmp[4200];
    json_t *root = config_to_json(lora, info);
    int rc;

    if (root == NULL)
        return tr_error_set(err, "cannot build adapter_config.json");
    snprintf(path, sizeof(path), "%s/%s", dir, ADAPTER_CONFIG_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* 10 significant digits print the rounded floats as given (0.05, not
     * 0.050000000000000003) and still read back as the same float32. */
    rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (rc != 0) {
        unlink(tmp);
        return tr_error_set(err, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return tr_error_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return 0;
}

static int add_matrix(struct st_writer *w, int layer, enum lora_target t,
                      const struct lora_matrix *lm, int rank, struct tr_error *err)
{
    char name[256];
    int64_t shape_a[2] = {rank, lm->in};
    int64_t shape_b[2] = {lm->out, rank};

    adapter_tensor_name(name, sizeof(name), layer, t, false);
    if (st_writer_add(w, name, ST_F32, 2, shape_a, lm->A, err) < 0)
        return -1;
    adapter_tensor_name(name, sizeof(name), layer, t, true);
    return st_writer_add(w, name, ST_F32, 2, shape_b, lm->B, err);
}

static int write_weights(const char *dir, const struct lora_set *lora, struct tr_error *err)
{
    struct st_writer *w = NULL;
    char path[4096];
    int rc = -1;

    w = st_writer_new(err);
    if (w == NULL)
        return -1;
    if (st_writer_set_metadata(w, "format", "pt", err) < 0)
        goto out;
    for (int layer = 0; layer < lora->num_layers; layer++) {
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            const struct lora_matrix *lm = lora_set_get(lora, layer, (enum lora_target)t);

            if (lm == NULL || lm->A == NULL)
                continue;
            if (add_matrix(w, layer, (enum lora_target)t, lm, lora->rank, err) < 0)
                goto out;
        }
    }
    snprintf(path, sizeof(path), "%s/%s", dir, ADAPTER_WEIGHTS_FILE);
    rc = st_writer_save(w, path, err);
out:
    st_writer_free(w);
    return rc;
}

int adapter_save(const char *dir, const struct lora_set *lora, const struct adapter_save_info *info,
                 struct tr_error *err)
{
    if (write_weights(dir, lora, err) < 0)
        return -1;
    return write_config(dir, lora, info, err);
}
