/* atelier merge: writes BASE with ADAPTER merged into its weights as a full model directory
 * (config, tokenizer files and model.safetensors). Exit 0, 1 on a failed run, 2 on usage. */
#include "commands.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "merge.h"
#include "model.h"
#include "train_cli.h"

static const char usage_text[] =
    "usage: atelier merge --base MODEL_DIR --adapter ADAPTER_DIR --out DIR [OPTIONS]\n"
    "\n"
    "Writes DIR with the base model's config and tokenizer files and model.safetensors\n"
    "holding W + scale * B A for every adapted linear layer.\n"
    "\n"
    "  --dtype F32|F16|BF16  storage type of the merged weights (default F32)\n"
    "  --threads N           compute threads\n";

enum { OPT_BASE = 256, OPT_ADAPTER, OPT_OUT, OPT_DTYPE, OPT_THREADS, OPT_HELP };

static const struct option long_options[] = {
    {"base", required_argument, NULL, OPT_BASE},
    {"adapter", required_argument, NULL, OPT_ADAPTER},
    {"out", required_argument, NULL, OPT_OUT},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"threads", required_argument, NULL, OPT_THREADS},
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

/* Returns true when a and b name the same existing directory. */
static bool same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];

    return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

static int run(const char *base, const char *adapter, const char *out, enum st_dtype dtype,
               struct tr_error *err)
{
    struct model *m = NULL;
    struct lora_set *lora = NULL;
    int rc = -1;

    if (model_open(&m, base, err) < 0)
        goto done;
    if (adapter_load(&lora, adapter, m, err) < 0)
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
    int threads = 0, c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        bool ok = true;

        if (c == 'h' || c == OPT_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == OPT_BASE)
            base = optarg;
        else if (c == OPT_ADAPTER)
            adapter = optarg;
        else if (c == OPT_OUT)
            out = optarg;
        else if (c == OPT_DTYPE)
            ok = parse_dtype(&dtype, optarg);
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
    if (base == NULL || adapter == NULL || out == NULL || optind < argc) {
        fprintf(stderr, "atelier merge: missing --base, --adapter or --out, or an unexpected "
                        "argument (see atelier merge --help)\n");
        return 2;
    }
    if (same_dir(base, out) || same_dir(adapter, out)) {
        fprintf(stderr,
                "atelier merge: --out %s is the base or adapter directory; choose a new "
                "directory\n",
                out);
        return 2;
    }
    model_set_threads(threads);
    if (run(base, adapter, out, dtype, &err) < 0) {
        fprintf(stderr, "atelier merge: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
