/* atelier generate: loads a base model (and optionally a LoRA adapter), encodes a prompt
 * with the model's tokenizer, and prints the prompt followed by its continuation as the
 * tokens are generated. */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "adapter.h"
#include "generate.h"
#include "lora.h"
#include "model.h"
#include "tok.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: atelier generate --base MODEL_DIR [--adapter DIR] --prompt TEXT\n"
            "                        [--max-new-tokens N] [--temperature T] [--top-k K]\n"
            "                        [--top-p P] [--repetition-penalty R] [--seed S]\n"
            "                        [--threads N]\n"
            "\n"
            "Prints TEXT and its continuation by the model in MODEL_DIR (config.json,\n"
            "model.safetensors or its shards, tokenizer.json). Generation stops after N new\n"
            "tokens or at the end-of-sequence token. Settings in MODEL_DIR/\n"
            "generation_config.json (do_sample, temperature, top_k, top_p,\n"
            "repetition_penalty, max_new_tokens, eos_token_id) apply unless an option below\n"
            "overrides them.\n"
            "\n"
            "  --base DIR                 model directory\n"
            "  --adapter DIR              PEFT LoRA adapter directory to apply\n"
            "  --prompt TEXT              prompt text (BOS is added as the tokenizer does)\n"
            "  --max-new-tokens N         new tokens at most (default 64)\n"
            "  --temperature T            0 picks the most likely token (default); above 0\n"
            "                             samples from softmax(logits / T)\n"
            "  --top-k K                  when sampling, keep the K most likely tokens\n"
            "                             (default 50, 0 = all)\n"
            "  --top-p P                  when sampling, keep the smallest set of tokens whose\n"
            "                             probability reaches P (default 1 = all)\n"
            "  --repetition-penalty R     divide the logits of tokens already present by R\n"
            "                             (multiply when negative; default 1 = off)\n"
            "  --seed S                   random seed for sampling (default 0)\n"
            "  --threads N                threads for all kernels (default: all cores)\n"
            "  --help                     show this help\n");
}

static int parse_long(const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "atelier generate: %s \"%s\" is invalid; expected an integer in "
                        "[%ld, %ld]\n", opt, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *opt, const char *text, double lo, double hi, float *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "atelier generate: %s \"%s\" is invalid; expected a number in "
                        "[%g, %g]\n", opt, text, lo, hi);
        return -1;
    }
    *out = (float)v;
    return 0;
}

static int parse_seed(const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        fprintf(stderr, "atelier generate: --seed \"%s\" is invalid; expected a non-negative "
                        "integer\n", text);
        return -1;
    }
    *out = v;
    return 0;
}

struct gen_cli {
    const char *base, *adapter, *prompt;
    struct gen_params params;
    /* Options given on the command line, which win over generation_config.json. */
    bool max_new_set, temperature_set, top_k_set, top_p_set, penalty_set;
    long threads;
};

/* Parses argv into cli; returns 0, or the exit status (2 usage, 3 for --help). */
static int gen_parse_args(struct gen_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"base", required_argument, NULL, 'b'},
        {"adapter", required_argument, NULL, 'a'},
        {"prompt", required_argument, NULL, 'p'},
        {"max-new-tokens", required_argument, NULL, 'n'},
        {"temperature", required_argument, NULL, 't'},
        {"top-k", required_argument, NULL, 'k'},
        {"top-p", required_argument, NULL, 'P'},
        {"repetition-penalty", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long v;
    int c;

    memset(cli, 0, sizeof(*cli));
    cli->params = gen_params_default();
    cli->params.max_new_tokens = 64;
    cli->params.top_k = 50;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': cli->base = optarg; break;
        case 'a': cli->adapter = optarg; break;
        case 'p': cli->prompt = optarg; break;
        case 'n':
            if (parse_long("--max-new-tokens", optarg, 0, 1 << 20, &v) < 0)
                return 2;
            cli->params.max_new_tokens = (int)v;
            cli->max_new_set = true;
            break;
        case 't':
            if (parse_float("--temperature", optarg, 0.0, 1e6, &cli->params.temperature) < 0)
                return 2;
            cli->temperature_set = true;
            break;
        case 'k':
            if (parse_long("--top-k", optarg, 0, 1 << 24, &v) < 0)
                return 2;
            cli->params.top_k = (int)v;
            cli->top_k_set = true;
            break;
        case 'P':
            if (parse_float("--top-p", optarg, 1e-9, 1.0, &cli->params.top_p) < 0)
                return 2;
            cli->top_p_set = true;
            break;
        case 'r':
            if (parse_float("--repetition-penalty", optarg, 1e-6, 1e6,
                            &cli->params.repetition_penalty) < 0)
                return 2;
            cli->penalty_set = true;
            break;
        case 's':
            if (parse_seed(optarg, &cli->params.seed) < 0)
                return 2;
            break;
        case 'j':
            if (parse_long("--threads", optarg, 1, 1024, &cli->threads) < 0)
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 3;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "atelier generate: unexpected argument \"%s\"; pass the prompt with "
                        "--prompt\n", argv[optind]);
        return 2;
    }
    if (cli->base == NULL || cli->prompt == NULL) {
        fprintf(stderr, "atelier generate: --base and --prompt are required; see "
                        "atelier generate --help\n");
        return 2;
    }
    return 0;
}

/* Reads a number key of generation_config.json into *out when present; -1 when it has
 * another type. */
static int gen_config_number(const json_t *root, const char *key, double lo, double hi,
                             double *out, const char *path)
{
    const json_t *v = json_object_get(root, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
        fprintf(stderr, "atelier generate: %s: \"%s\" must be a number in [%g, %g]\n", path,
                key, lo, hi);
        return -1;
    }
    *out = json_number_value(v);
    return 1;
}

/* Applies MODEL_DIR/generation_config.json, as Hugging Face's generate does, to the options
 * not given on the command line. Without do_sample: true the defaults stay greedy.
 * *eos_out receives its eos_token_id (the first one of a list), or stays unchanged. */
static int gen_apply_generation_config(struct gen_cli *cli, int32_t *eos_out)
{
    char path[4096];
    json_error_t jerr;
    json_t *root;
    const json_t *eos;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/generation_config.json", cli->base);
    if (access(path, F_OK) != 0)
        return 0;
    root = json_load_file(path, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        fprintf(stderr, "atelier generate: %s: invalid JSON at line %d: %s\n", path, jerr.line,
                root == NULL ? jerr.text : "not an object");
        goto out;
    }
    {
        double temperature = 1.0, top_k = 0, top_p = 1.0, penalty = 1.0, max_new = 0;
        int has_top_k, has_top_p, has_penalty, has_max_new;

        /* Every value is checked, also those the command line overrides. */
        if (gen_config_number(root, "temperature", 0.0, 1e6, &temperature, path) < 0)
            goto out;
        has_top_k = gen_config_number(root, "top_k", 0, 1 << 24, &top_k, path);
        if (has_top_k < 0)
            goto out;
        has_top_p = gen_config_number(root, "top_p", 1e-9, 1.0, &top_p, path);
        if (has_top_p < 0)
            goto out;
        has_penalty = gen_config_number(root, "repetition_penalty", 1e-6, 1e6, &penalty, path);
        if (has_penalty < 0)
            goto out;
        has_max_new = gen_config_number(root, "max_new_tokens", 0, 1 << 20, &max_new, path);
        if (has_max_new < 0)
            goto out;
        if (!cli->temperature_set && json_is_true(json_object_get(root, "do_sample")))
            cli->params.temperature = (float)temperature;
        if (!cli->top_k_set && has_top_k) {
            cli->params.top_k = (int)top_k;
            cli->top_k_set = true;
        }
        if (!cli->top_p_set && has_top_p)
            cli->params.top_p = (float)top_p;
        if (!cli->penalty_set && has_penalty)
            cli->params.repetition_penalty = (float)penalty;
        if (!cli->max_new_set && has_max_new)
            cli->params.max_new_tokens = (int)max_new;
    }
    eos = json_object_get(root, "eos_token_id");
    if (json_is_array(eos))
        eos = json_array_get(eos, 0);
    if (json_is_integer(eos) && json_integer_value(eos) >= 0
        && json_integer_value(eos) <= INT32_MAX)
        *eos_out = (int32_t)json_integer_value(eos);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

struct gen_printer {
    const struct tok *tok;
    int32_t *ids;   /* prompt followed by the tokens so far */
    size_t n;
    int failed;
};

/* Prints the text that each new token adds to the decode. */
static int gen_print_token(int32_t id, void *arg)
{
    struct gen_printer *pr = arg;
    struct tr_error err = {0};
    char *piece = NULL;

    pr->ids[pr->n++] = id;
    if (tok_decode_piece(pr->tok, pr->ids, pr->n, true, &piece, &err) < 0) {
        fprintf(stderr, "atelier generate: %s\n", err.msg);
        pr->failed = 1;
        return 1;
    }
    fputs(piece, stdout);
    fflush(stdout);
    free(piece);
    return 0;
}

/* Prints one warning line when the prompt plus --max-new-tokens exceed the model context,
 * because generation then stops at the context without reaching the requested count. A
 * prompt that does not fit at all is an error that generate reports. */
static void warn_context_limit(const struct gen_cli *cli, size_t n_prompt, size_t context)
{
    if (n_prompt >= context || n_prompt + (size_t)cli->params.max_new_tokens <= context)
        return;
    fprintf(stderr,
            "atelier generate: warning: the %zu-token prompt plus --max-new-tokens %d exceed the "
            "model context of %zu tokens, so at most %zu new tokens follow\n",
            n_prompt, cli->params.max_new_tokens, context, context - n_prompt);
}

static int gen_run(struct gen_cli *cli)
{
    struct tr_error err = {0};
    struct model *m = NULL;
    struct tok *tok = NULL;
    struct lora_set *lora = NULL;
    int32_t *prompt_ids = NULL, *out_ids = NULL;
    size_t n_prompt = 0, n_out = 0;
    struct gen_printer pr = {0};
    int32_t eos = -1;
    int status = 1;

    if (model_open(&m, cli->base, &err) < 0 || tok_open(&tok, cli->base, &err) < 0 ||
        tok_check_model_vocab(tok, model_get_config(m)->vocab_size, cli->base, &err) < 0) {
        fprintf(stderr, "atelier generate: %s\n", err.msg);
        goto out;
    }
    if (cli->adapter != NULL &&
        adapter_load_for_command(&lora, cli->adapter, m, "atelier generate", &err) < 0) {
        fprintf(stderr, "atelier generate: --adapter: %s\n", err.msg);
        goto out;
    }
    if (tok_encode(tok, cli->prompt, strlen(cli->prompt), true, &prompt_ids, &n_prompt,
                   &err) < 0) {
        fprintf(stderr, "atelier generate: --prompt: %s\n", err.msg);
        goto out;
    }
    eos = tok_eos_id(tok) >= 0 ? tok_eos_id(tok) : model_get_config(m)->eos_token_id;
    if (gen_apply_generation_config(cli, &eos) < 0)
        goto out;
    /* Greedy decoding ignores top-k, so only a sampling run gets the default of 50. */
    if (!cli->top_k_set && cli->params.temperature <= 0.0f)
        cli->params.top_k = 0;
    warn_context_limit(cli, n_prompt, (size_t)model_get_config(m)->max_position_embeddings);
    pr.tok = tok;
    pr.ids = malloc((n_prompt + (size_t)cli->params.max_new_tokens + 1) * sizeof(int32_t));
    if (pr.ids == NULL) {
        fprintf(stderr, "atelier generate: out of memory\n");
        goto out;
    }
    memcpy(pr.ids, prompt_ids, n_prompt * sizeof(int32_t));
    pr.n = n_prompt;
    fputs(cli->prompt, stdout);
    fflush(stdout);
    if (generate(m, lora, prompt_ids, n_prompt, &cli->params, eos, gen_print_token, &pr,
                 &out_ids, &n_out, &err) < 0) {
        putchar('\n');
        fprintf(stderr, "atelier generate: %s\n", err.msg);
        goto out;
    }
    putchar('\n');
    status = pr.failed;
out:
    free(pr.ids);
    free(prompt_ids);
    free(out_ids);
    lora_set_free(lora);
    tok_free(tok);
    model_free(m);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    struct gen_cli cli;
    int rc = gen_parse_args(&cli, argc, argv);

    if (rc != 0)
        return rc == 3 ? 0 : rc;
    if (cli.threads > 0)
        model_set_threads((int)cli.threads);
    return gen_run(&cli);
}
