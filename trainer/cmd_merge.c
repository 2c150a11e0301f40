/* atelier merge: writes BASE with ADAPTER merged into its weights as a full model directory
 * (config, tokenizer files and model.safetensors). Exit 0, 1 on a failed run, 2 on usage. */
#include "commands.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "merge.h"
#include "model.h"
#include "tok.h"
#include "train_cli.h"

static const char usage_text[] =
    "usage: atelier merge --base MODEL_DIR --adapter ADAPTER_DIR --out DIR [OPTIONS]\n"
    "\n"
    "Writes DIR with the base model's config and tokenizer files and model.safetensors\n"
    "holding W + scale * B A for every adapted linear layer.\n"
    "\n"
    "  --dtype F32|F16|BF16  storage type of the merged weights (default F32)\n"
    "  --threads N           compute threads\n"
    "  --force               overwrite a non-empty DIR that is not a previous merge output\n";

enum { OPT_BASE = 256, OPT_ADAPTER, OPT_OUT, OPT_DTYPE, OPT_THREADS, OPT_FORCE, OPT_HELP };

static const struct option long_options[] = {
    {"base", required_argument, NULL, OPT_BASE},
    {"adapter", required_argument, NULL, OPT_ADAPTER},
    {"out", required_argument, NULL, OPT_OUT},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static bool parse_dtype(enum st_dtype *out, const char *v)
{
    if (strcasecmp(v, "F32") == 0)
        *out = ST_F32;
    else if (strcasecmp(v, "F16") == 0)
        *out = ST_F16;
    else if (strcasecmp(v, "BF16") == 0)
        *out = ST_BF16;
    else {
        fprintf(stderr,
                "atelier merge: invalid --dtype value \"%s\": expected F32, F16 or "
                "BF16\n",
                v);
        return false;
    }
    return true;
}

/* Files that `atelier merge` writes: model.safetensors and those merge.c copies from the
 * base model. A folder that contains nothing else is taken as a previous merge output.
 * NOTE: a plain copy of a model folder passes this check too, because it has the same names. */
static const char *const merge_output_files[] = {
    "model.safetensors", "config.json",           "generation_config.json",
    "tokenizer.json",    "tokenizer_config.json", "special_tokens_map.json",
    "tokenizer.model",   "added_tokens.json",
};

/* Returns true for an entry of a previous merge output, which a merge may replace. */
static bool is_merge_output_file(const char *dir, const char *name)
{
    (void)dir;
    for (size_t i = 0; i < sizeof(merge_output_files) / sizeof(merge_output_files[0]); i++) {
        if (strcmp(name, merge_output_files[i]) == 0)
            return true;
    }
    return false;
}

/* Prints the line that reports a successful merge: the weights file, its tensor count and
 * dtype. */
static void print_summary(const char *out, enum st_dtype dtype)
{
    struct tr_error err = {{0}};
    struct st_file *st = NULL;
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/model.safetensors", out);
    if (st_open(&st, path, &err) < 0) {
        printf("atelier merge: wrote %s (%s)\n", path, st_dtype_name(dtype));
        return;
    }
    printf("atelier merge: wrote %s with %zu tensors (%s)\n", path, st_count(st),
           st_dtype_name(dtype));
    st_close(st);
}

/* Returns false, after printing one line, when --out is, lies inside or contains the
 * --base or --adapter folder, because the merge would then overwrite or mix with its
 * inputs. */
static bool check_out_apart(const char *out, const char *option, const char *input)
{
    char out_path[PATH_MAX], input_path[PATH_MAX];
    const char *relation;

    if (!train_cli_resolve_path(out_path, sizeof(out_path), out) ||
        !train_cli_resolve_path(input_path, sizeof(input_path), input))
        return true;
    relation = strcmp(out_path, input_path) == 0             ? "is"
               : train_cli_path_within(out_path, input_path) ? "is inside"
               : train_cli_path_within(input_path, out_path) ? "contains"
                                                             : NULL;
    if (relation == NULL)
        return true;
    fprintf(stderr,
            "atelier merge: --out %s %s the %s folder %s, so the merge would overwrite or mix "
            "with its files; choose a folder outside it\n",
            out, relation, option, input);
    return false;
}

static const char *path_in_dir(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static int run(const char *base, const char *adapter, const char *out, enum st_dtype dtype,
               struct tr_error *err)
{
    char tok_path[PATH_MAX + 32];
    struct model *m = NULL;
    struct lora_set *lora = NULL;
    int rc = -1;

    if (model_open(&m, base, err) < 0)
        goto done;
    /* The merged folder gets a copy of the base's tokenizer, so a base whose tokenizer does
     * not fit its model is rejected here too. A base without tokenizer.json is merged. */
    if (access(path_in_dir(tok_path, sizeof(tok_path), base, "tokenizer.json"), F_OK) == 0) {
        struct tok *tok = NULL;
        int tok_rc = tok_open(&tok, base, err);

        if (tok_rc == 0)
            tok_rc = tok_check_model_vocab(tok, model_get_config(m)->vocab_size, base, err);
        tok_free(tok);
        if (tok_rc < 0)
            goto done;
    }
    if (adapter_load_for_command(&lora, adapter, m, "atelier merge", err) < 0)
        goto done;
    rc = merge_write(out, base, m, lora, dtype, err);
done:
    lora_set_free(lora);
    model_free(m);
    return rc;
}

int cmd_merge(int argc, char **argv)
{
    const char *base = NULL, *adapter = NULL, *out = NULL;
    enum st_dtype dtype = ST_F32;
    struct tr_error err = {{0}};
    bool force = false;
    int threads = 0, c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        bool ok = true;

        if (c == 'h' || c == OPT_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == OPT_BASE) {
            base = optarg;
            ok = train_cli_nonempty("merge", "--base", optarg);
        } else if (c == OPT_ADAPTER) {
            adapter = optarg;
            ok = train_cli_nonempty("merge", "--adapter", optarg);
        } else if (c == OPT_OUT) {
            out = optarg;
            ok = train_cli_nonempty("merge", "--out", optarg);
        } else if (c == OPT_DTYPE)
            ok = parse_dtype(&dtype, optarg);
        else if (c == OPT_FORCE)
            force = true;
        else if (c == OPT_THREADS)
            ok = train_cli_int(&threads, "merge", "--threads", optarg, 1, 1024);
        else {
            fprintf(stderr,
                    "atelier merge: unknown or incomplete option \"%s\" (see atelier "
                    "merge --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (!ok)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "atelier merge: unexpected argument \"%s\" (see atelier merge --help)\n",
                argv[optind]);
        return 2;
    }
    if (base == NULL || adapter == NULL || out == NULL) {
        fprintf(stderr, "atelier merge: missing %s (see atelier merge --help)\n",
                base == NULL      ? "--base MODEL_DIR"
                : adapter == NULL ? "--adapter ADAPTER_DIR"
                                  : "--out DIR");
        return 2;
    }
    if (!check_out_apart(out, "--base", base) || !check_out_apart(out, "--adapter", adapter))
        return 2;
    if (!train_cli_check_out_path("merge", out))
        return 2;
    if (!force && !train_cli_check_foreign_entries("merge", out, is_merge_output_file,
                                                   "write the merged model next to them", NULL))
        return 2;
    model_set_threads(threads);
    if (run(base, adapter, out, dtype, &err) < 0) {
        fprintf(stderr, "atelier merge: %s\n", err.msg);
        return 1;
    }
    print_summary(out, dtype);
    return 0;
}
