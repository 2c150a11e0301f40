/* eval: loss, perplexity, token accuracy and exact match of a model on a data_set. Losses
 * are summed in double as (mean loss of a batch) x (its scored tokens), so the result is the
 * token-weighted mean over the whole set, independent of the batch size up to rounding. */
#include "eval.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "train_batch.h"

/* Counts targets whose logits put the target first (ties go to the lowest id). */
static size_t count_top1(const float *logits, const int32_t *targets, size_t n, size_t vocab)
{
    size_t hits = 0;

    for (size_t i = 0; i < n; i++) {
        const float *row = logits + i * vocab;
        size_t best = 0;

        if (targets[i] < 0)
            continue;
        for (size_t v = 1; v < vocab; v++) {
            if (row[v] > row[best])
                best = v;
        }
        hits += best == (size_t)targets[i];
    }
    return hits;
}

struct eval_sums {
    double nll;
    size_t tokens;
    size_t hits;
};

static int score_batches(struct eval_sums *sums, struct model_ctx *ctx, size_t vocab,
                         const struct data_set *ds, const struct eval_options *opt, int32_t *tokens,
                         int32_t *targets, struct tr_error *err)
{
    const struct data_example *batch[64];
    size_t per_batch = opt->batch < 64 ? opt->batch : 64;

    for (size_t start = 0; start < ds->n; start += per_batch) {
        size_t b = ds->n - start < per_batch ? ds->n - start : per_batch;
        size_t t, scored, n_targets = 0;
        float loss = 0.0f;

        for (size_t i = 0; i < b; i++)
            batch[i] = &ds->ex[start + i];
        t = train_batch_width(batch, b, opt->seq_len);
        scored = train_batch_fill(tokens, targets, batch, b, t, 0);
        if (scored == 0)
            continue;
        if (model_forward(ctx, tokens, targets, b, t, &loss, &n_targets, err) < 0)
            return -1;
        sums->nll += (double)loss * (double)n_targets;
        sums->tokens += n_targets;
        sums->hits += count_top1(model_ctx_logits(ctx), targets, b * t, vocab);
    }
    return 0;
}

static size_t count_truncated(const struct data_set *ds, size_t seq_len)
{
    size_t n = 0;

    for (size_t i = 0; i < ds->n; i++)
        n += ds->ex[i].n > seq_len;
    return n;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)(*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

/* Compares two texts after trimming surrounding whitespace on both. */
static bool same_text(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    trim(&a, &la);
    trim(&b, &lb);
    return la == lb && memcmp(a, b, la) == 0;
}

/* Greedily decodes the completion of one prompt/completion example and compares it. */
static int match_one(bool *matched, const struct model *m, const struct lora_set *lora,
                     const struct tok *tok, const struct data_example *ex, int extra_tokens,
                     struct tr_error *err)
{
    struct gen_params p = gen_params_default();
    int32_t *out_ids = NULL;
    char *text = NULL;
    size_t n_prompt = 0, n_out = 0, n_reference, end;

    *matched = false;
    while (n_prompt < ex->n && ex->mask[n_prompt] == 0)
        n_prompt++;
    if (n_prompt == 0 || n_prompt == ex->n)
        return 0;
    /* The reference ends at the last scored token. A chat template may add unscored tokens
     * after the end-of-turn marker (Zephyr's "\n" after </s>, ChatML's "\n" after
     * <|im_end|>), and the model is not asked to write those. */
    end = ex->n;
    while (end > n_prompt && ex->mask[end - 1] == 0)
        end--;
    /* Decode as many tokens as the reference has (its EOS not counted) plus extra_tokens, so
     * a model that writes the reference and then goes on without EOS still matches when
     * extra_tokens is 0. */
    n_reference = end - n_prompt;
    if (n_reference > 1 && ex->ids[end - 1] == tok_eos_id(tok))
        n_reference--;
    p.temperature = 0.0f;
    p.max_new_tokens = (int)n_reference + extra_tokens;
    if (generate(m, lora, ex->ids, n_prompt, &p, tok_eos_id(tok), NULL, NULL, &out_ids, &n_out,
                 err) < 0)
        return tr_error_prefix(err, "exact match of line %zu", ex->line);
    if (tok_decode(tok, out_ids + n_prompt, n_out - n_prompt, true, &text, err) < 0) {
        free(out_ids);
        return -1;
    }
    *matched = same_text(text, ex->completion);
    free(text);
    free(out_ids);
    return 0;
}

static int exact_match(struct eval_metrics *out, const struct model *m, const struct lora_set *lora,
                       const struct tok *tok, const struct data_set *ds,
                       const struct eval_options *opt, struct tr_error *err)
{
    size_t matched = 0;
    int extra = opt->max_new_tokens;

    for (size_t i = 0; i < ds->n; i++) {
        const struct data_example *ex = &ds->ex[i];
        bool ok = false;

        if (ex->prompt == NULL || ex->completion == NULL)
            continue;
        if (match_one(&ok, m, lora, tok, ex, extra, err) < 0)
            return -1;
        matched += ok;
        out->n_exact_match++;
    }
    out->has_exact_match = out->n_exact_match > 0;
    if (out->has_exact_match)
        out->exact_match = (double)matched / (double)out->n_exact_match;
    return 0;
}

/* Explains why ds has no scored tokens. When its examples have targets at full length but
 * none within seq_len, the cut is to blame, so the message names the prompt length to
 * exceed. context is true when seq_len is the model context rather than --seq-len. */
static void no_scored_tokens_error(const struct data_set *ds, size_t seq_len, bool context,
                                   struct tr_error *err)
{
    size_t longest_prompt = 0;
    bool cut_off = false;

    for (size_t i = 0; i < ds->n && !cut_off; i++)
        cut_off = train_batch_count_targets(&ds->ex[i], ds->ex[i].n) > 0;
    if (!cut_off) {
        tr_error_set(err, "the evaluation data has no scored tokens (every example is empty or "
                          "fully masked)");
        return;
    }
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->ex[i].n_prompt > longest_prompt)
            longest_prompt = ds->ex[i].n_prompt;
    }
    if (context)
        tr_error_set(err,
                     "the model context of %zu tokens cuts off every target token of the "
                     "evaluation data, because every prompt fills it; shorten the prompts",
                     seq_len);
    else
        tr_error_set(err,
                     "--seq-len %zu cuts off every target token of the evaluation data; raise "
                     "--seq-len above %zu, the length of the longest prompt in tokens",
                     seq_len, longest_prompt);
}

int eval_run(struct eval_metrics *out, const struct model *m, struct lora_set *lora,
             const struct tok *tok, const struct data_set *ds, const struct eval_options *opt,
             struct tr_error *err)
{
    const struct model_config *cfg = model_get_config(m);
    struct eval_sums sums = {0};
    struct model_ctx *ctx = NULL;
    int32_t *tokens = NULL, *targets = NULL;
    size_t batch = opt->batch == 0 ? 1 : (opt->batch < 64 ? opt->batch : 64);
    size_t seq_len = opt->seq_len;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (seq_len == 0 || seq_len > (size_t)cfg->max_position_embeddings)
        seq_len = (size_t)cfg->max_position_embeddings;
    tokens = malloc(batch * seq_len * sizeof(int32_t));
    targets = malloc(batch * seq_len * sizeof(int32_t));
    if (tokens == NULL || targets == NULL) {
        tr_error_set(err, "cannot allocate an evaluation batch of %zu x %zu tokens", batch,
                     seq_len);
        goto out;
    }
    ctx = model_ctx_new(m, lora, batch, seq_len, false, err);
    if (ctx == NULL)
        goto out;
    {
        struct eval_options local = *opt;

        local.batch = batch;
        local.seq_len = seq_len;
        if (score_batches(&sums, ctx, (size_t)cfg->vocab_size, ds, &local, tokens, targets, err) <
            0)
            goto out;
    }
    out->n_examples = ds->n;
    out->n_truncated = count_truncated(ds, seq_len);
    out->n_tokens = sums.tokens;
    if (sums.tokens == 0) {
        no_scored_tokens_error(ds, seq_len, opt->seq_len == 0, err);
        goto out;
    }
    out->mean_nll = sums.nll / (double)sums.tokens;
    out->perplexity = exp(out->mean_nll);
    out->token_accuracy = (double)sums.hits / (double)sums.tokens;
    rc = 0;
    if (opt->exact_match && tok != NULL)
        rc = exact_match(out, m, lora, tok, ds, opt, err);
out:
    /* NOTE: model_ctx_free(NULL) dereferences its argument, so skip it for a NULL ctx. */
    if (ctx != NULL)
        model_ctx_free(ctx);
    free(tokens);
    free(targets);
    return rc;
}
