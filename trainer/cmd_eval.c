/* atelier eval: scores a base model, and optionally the base with an adapter, on a dataset
 * and prints one JSON document on stdout: mean_nll, perplexity, token_accuracy and, for
 * prompt/completion data, exact_match under greedy decoding. With --adapter the document is
 * {"base": {...}, "adapter": {...}}, base first. Exit 0, 1 on a failed run, 2 on usage. */
#include "commands.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "data.h"
#include "eval.h"
#include "model.h"
#include "tok.h"
#include "train_cli.h"

static const char usage_text[] =
    "usage: atelier eval --base MODEL_DIR [--adapter ADAPTER_DIR] --data EVAL.jsonl [OPTIONS]\n"
    "\n"
    "Prints JSON with mean_nll (nats per scored token), perplexity, token_accuracy and, for\n"
    "prompt/completion data, exact_match of greedy completions. With --adapter it scores the\n"
    "base model and the adapted model: {\"base\": {...}, \"adapter\": {...}}.\n"
    "\n"
    "  --batch N             sequences per forward pass, 1..64 (default 8)\n"
    "  --seq-len N           tokens per sequence, at most the model context (default:\n"
    "                        the context); examples are cut to their first N tokens,\n"
    "                        and an example longer than the context is an error\n"
    "  --max-new-tokens N    tokens decoded beyond the reference length for exact match;\n"
    "                        0 stops at the reference length (default 0)\n"
    "  --no-exact-match      skip greedy decoding\n"
    "  --threads N           compute threads\n";

enum {
    OPT_BASE = 256,
    OPT_ADAPTER,
    OPT_DATA,
    OPT_BATCH,
    OPT_SEQ_LEN,
    OPT_MAX_NEW,
    OPT_NO_EXACT,
    OPT_THREADS,
    OPT_HELP
};

static const struct option long_options[] = {
    {"base", required_argument, NULL, OPT_BASE},
    {"adapter", required_argument, NULL, OPT_ADAPTER},
    {"data", required_argument, NULL, OPT_DATA},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"seq-len", required_argument, NULL, OPT_SEQ_LEN},
    {"max-new-tokens", required_argument, NULL, OPT_MAX_NEW},
    {"no-exact-match", no_argument, NULL, OPT_NO_EXACT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct eval_args {
    const char *base_dir;
    const char *adapter_dir;
    const char *data_path;
    struct eval_options opt;
    int threads;
};

static json_t *metrics_to_json(const struct eval_metrics *em)
{
    json_t *o = json_object();

    json_object_set_new(o, "mean_nll", json_real(em->mean_nll));
    json_object_set_new(o, "perplexity", json_real(em->perplexity));
    json_object_set_new(o, "token_accuracy", json_real(em->token_accuracy));
    json_object_set_new(o, "tokens", json_integer((json_int_t)em->n_tokens));
    json_object_set_new(o, "examples", json_integer((json_int_t)em->n_examples));
    json_object_set_new(o, "truncated", json_integer((json_int_t)em->n_truncated));
    if (em->has_exact_match) {
        json_object_set_new(o, "exact_match", json_real(em->exact_match));
        json_object_set_new(o, "exact_match_examples", json_integer((json_int_t)em->n_exact_match));
    }
    return o;
}

static int run(json_t **out, const struct eval_args *a, struct tr_error *err)
{
    struct model *m = NULL;
    struct tok *tok = NULL;
    struct data_set *ds = NULL;
    struct lora_set *lora = NULL;
    struct eval_metrics base, adapted;
    int rc = -1;

    if (model_open(&m, a->base_dir, err) < 0 || tok_open(&tok, a->base_dir, err) < 0 ||
        tok_check_model_vocab(tok, model_get_config(m)->vocab_size, a->base_dir, err) < 0)
        goto out;
    if (a->adapter_dir != NULL &&
        adapter_load_for_command(&lora, a->adapter_dir, m, "atelier eval", err) < 0)
        goto out;
    if (data_load(&ds, a->data_path, tok, (size_t)model_get_config(m)->max_position_embeddings,
                  err) < 0)
        goto out;
    if (eval_run(&base, m, NULL, tok, ds, &a->opt, err) < 0)
        goto out;
    if (lora == NULL) {
        *out = metrics_to_json(&base);
        rc = 0;
        goto out;
    }
    if (eval_run(&adapted, m, lora, tok, ds, &a->opt, err) < 0)
        goto out;
    *out = json_object();
    json_object_set_new(*out, "base", metrics_to_json(&base));
    json_object_set_new(*out, "adapter", metrics_to_json(&adapted));
    rc = 0;
out:
    lora_set_free(lora);
    data_set_free(ds);
    tok_free(tok);
    model_free(m);
    return rc;
}

static bool apply_option(struct eval_args *a, int c, const char *v)
{
    int n;

    switch (c) {
    case OPT_BASE:
        a->base_dir = v;
        return train_cli_nonempty("eval", "--base", v);
    case OPT_ADAPTER:
        a->adapter_dir = v;
        return train_cli_nonempty("eval", "--adapter", v);
    case OPT_DATA:
        a->data_path = v;
        return train_cli_nonempty("eval", "--data", v);
    case OPT_NO_EXACT:
        a->opt.exact_match = false;
        return true;
    case OPT_THREADS:
        return train_cli_int(&a->threads, "eval", "--threads", v, 1, 1024);
    case OPT_MAX_NEW:
        return train_cli_int(&a->opt.max_new_tokens, "eval", "--max-new-tokens", v, 0, 4096);
    case OPT_BATCH:
        if (!train_cli_int(&n, "eval", "--batch", v, 1, 64))
            return false;
        a->opt.batch = (size_t)n;
        return true;
    case OPT_SEQ_LEN:
        if (!train_cli_int(&n, "eval", "--seq-len", v, 2, 1 << 20))
            return false;
        a->opt.seq_len = (size_t)n;
        return true;
    default:
        return false;
    }
}

int cmd_eval(int argc, char **argv)
{
    struct eval_args a = {NULL, NULL, NULL, {8, 0, true, 0}, 0};
    struct tr_error err = {{0}};
    json_t *doc = NULL;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == '?' || c == ':') {
            fprintf(stderr,
                    "atelier eval: unknown or incomplete option \"%s\" (see atelier "
                    "eval --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (!apply_option(&a, c, optarg))
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "atelier eval: unexpected argument \"%s\" (see atelier eval --help)\n",
                argv[optind]);
        return 2;
    }
    if (a.base_dir == NULL || a.data_path == NULL) {
        fprintf(stderr, "atelier eval: missing %s (see atelier eval --help)\n",
                a.base_dir == NULL ? "--base MODEL_DIR" : "--data EVAL.jsonl");
        return 2;
    }
    /* An unset --seq-len (0) means the model context, so only a given value is checked. */
    if (a.opt.seq_len > 0 && !train_cli_check_seq_len("eval", a.base_dir, (int)a.opt.seq_len))
        return 2;
    model_set_threads(a.threads);
    if (run(&doc, &a, &err) < 0) {
        fprintf(stderr, "atelier eval: %s\n", err.msg);
        return 1;
    }
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(doc);
    return 0;
}
