/* eval: scores a model (optionally with a LoRA adapter) on a data_set. Reports the
 * token-weighted mean negative log-likelihood over the loss-masked tokens, its perplexity,
 * the share of those tokens that the model ranks first, and for prompt/completion data the
 * share of completions that greedy decoding reproduces exactly. Exact match decodes at most
 * as many tokens as the reference completion has (plus eval_options.max_new_tokens), stops
 * at EOS, drops special tokens and compares the texts with surrounding whitespace
 * trimmed. */
#ifndef EVAL_H
#define EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "data.h"
#include "lora.h"
#include "model.h"
#include "tok.h"
#include "tr_error.h"

struct eval_metrics {
    double mean_nll;       /* nats per scored token */
    double perplexity;     /* exp(mean_nll) */
    double token_accuracy; /* argmax == target over the scored tokens */
    size_t n_tokens;       /* scored tokens */
    size_t n_examples;
    size_t n_truncated;   /* examples cut to seq_len */
    bool has_exact_match; /* the data had prompt/completion examples */
    double exact_match;   /* share of those whose greedy completion equals the reference */
    size_t n_exact_match; /* prompt/completion examples decoded */
};

struct eval_options {
    size_t batch;       /* sequences per forward pass */
    size_t seq_len;     /* examples longer than this are truncated to their first tokens */
    bool exact_match;   /* decode prompt/completion examples greedily */
    int max_new_tokens; /* tokens decoded beyond the reference length (EOS excluded) */
};

/** Scores every example of ds with model m and lora (may be NULL for the base model). tok
 * is needed only for exact match. */
int eval_run(struct eval_metrics *out, const struct model *m, struct lora_set *lora,
             const struct tok *tok, const struct data_set *ds, const struct eval_options *opt,
             struct tr_error *err);

#endif
