/* train: the LoRA training loop. train_run loads everything, then runs optimizer steps of
 * grad_accum micro-batches each. The gradient of a step is the token-weighted mean over all
 * its micro-batches (each backward gets loss_scale = its scored tokens / the step's scored
 * tokens), as Hugging Face's Trainer computes it since transformers 4.46.
 *
 * The data order is a stream of per-epoch permutations: micro-batch k takes stream positions
 * [k * batch, (k + 1) * batch), and epoch e's permutation is a Fisher-Yates shuffle seeded
 * from (seed, e). Dropout masks of micro-batch k are seeded from (seed, k). So a step's
 * inputs depend only on the seed and the step number, which is what makes --resume exact. */
#include "train.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "card.h"
#include "data.h"
#include "eval.h"
#include "lora.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "tok.h"
#include "train_batch.h"
#include "train_ckpt.h"

#define CKPT_SUBDIR "checkpoint"
#define CKPT_FILE   "state.bin"
#define EVAL_BATCH  8

void train_options_default(struct train_options *o)
{
    memset(o, 0, sizeof(*o));
    o->target_mask = (1u << LORA_Q_PROJ) | (1u << LORA_V_PROJ);
    o->rank = 8;
    o->alpha = 16.0f;
    o->dropout = 0.05f;
    o->lr = 2e-4;
    o->epochs = 1.0;
    o->batch = 4;
    o->grad_accum = 1;
    o->seq_len = 512;
    o->clip = 1.0;
    o->seed = 42;
    o->progress = stdout;
    o->log = stderr;
}

/* State of one training run; freed by trainer_dispose. */
struct trainer {
    const struct train_options *opt;
    struct model *model;
    struct tok *tok;
    struct data_set *train_file;
    struct data_set *eval_file;
    struct data_set train_view; /* examples trained on (ex owned when split) */
    struct data_set eval_view;  /* held-out examples (ex owned when split) */
    bool views_owned;
    struct lora_set *lora;
    struct optim_tensor *tensors; /* A, dA and B, dB of every adapted linear, in layer order */
    size_t n_tensors;
    struct adamw *adamw;
    struct model_ctx *ctx;
    int32_t *tokens;     /* (batch, seq_len) */
    int32_t *targets;    /* (batch, seq_len) */
    size_t *perm;        /* order of the current epoch */
    uint64_t perm_epoch; /* epoch perm holds; UINT64_MAX when none */
    size_t seq_len;
    uint64_t total_steps;
    char ckpt_dir[4096];
    char ckpt_path[4200];
    bool created_out; /* this run created --out, so a failed run may remove it when empty */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix_seed(uint64_t seed, uint64_t salt, uint64_t index)
{
    uint64_t z = seed ^ (salt * 0x9e3779b97f4a7c15ull) ^ (index * 0xbf58476d1ce4e5b9ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

enum seed_salt { SALT_INIT = 1, SALT_SPLIT, SALT_EPOCH, SALT_DROPOUT };

static void shuffle(size_t *idx, size_t n, uint64_t seed)
{
    struct rng r;

    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next_u64(&r) % i);
        size_t tmp = idx[i - 1];

        idx[i - 1] = idx[j];
        idx[j] = tmp;
    }
}

/* ---- setup ---- */

static int make_dir(const char *path, struct tr_error *err)
{
    struct stat st;

    if (mkdir(path, 0755) == 0)
        return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return tr_error_set(err, "cannot create directory %s: %s; choose a writable --out", path,
                        strerror(errno));
}

/* Creates out_dir and its checkpoint directory and checks that both take files, so an
 * unwritable --out fails before any training time is spent. */
static int prepare_out_dir(struct trainer *tr, struct tr_error *err)
{
    const char *out = tr->opt->out_dir;
    char probe[4300];
    FILE *f;

    tr->created_out = access(out, F_OK) != 0;
    if (make_dir(out, err) < 0)
        return -1;
    if ((size_t)snprintf(tr->ckpt_dir, sizeof(tr->ckpt_dir), "%s/%s", out, CKPT_SUBDIR) >=
        sizeof(tr->ckpt_dir))
        return tr_error_set(err, "--out path is too long: %s", out);
    snprintf(tr->ckpt_path, sizeof(tr->ckpt_path), "%s/%s", tr->ckpt_dir, CKPT_FILE);
    if (make_dir(tr->ckpt_dir, err) < 0)
        return -1;
    snprintf(probe, sizeof(probe), "%s/.write-test", tr->ckpt_dir);
    f = fopen(probe, "w");
    if (f == NULL)
        return tr_error_set(err, "cannot write into %s: %s; choose a writable --out", out,
                            strerror(errno));
    fclose(f);
    unlink(probe);
    return 0;
}

/* Holds out the last eval_split share of a seeded shuffle of the training file. */
static int split_eval(struct trainer *tr, struct tr_error *err)
{
    const struct data_set *all = tr->train_file;
    size_t n_eval = (size_t)ceil(tr->opt->eval_split * (double)all->n);
    size_t *idx = NULL;

    if (n_eval == 0 || n_eval >= all->n)
        return tr_error_set(err,
                            "--eval-split %g of %zu example%s leaves %zu for evaluation and "
                            "%zu for training; both need at least one",
                            tr->opt->eval_split, all->n, all->n == 1 ? "" : "s", n_eval,
                            all->n - (n_eval < all->n ? n_eval : all->n));
    idx = malloc(all->n * sizeof(size_t));
    tr->train_view.ex = malloc((all->n - n_eval) * sizeof(struct data_example));
    tr->eval_view.ex = malloc(n_eval * sizeof(struct data_example));
    tr->views_owned = true;
    if (idx == NULL || tr->train_view.ex == NULL || tr->eval_view.ex == NULL) {
        free(idx);
        return tr_error_set(err, "cannot allocate the eval split");
    }
    /* Keep file order inside each part, so the split depends on the seed only. */
    shuffle(idx, all->n, mix_seed(tr->opt->seed, SALT_SPLIT, 0));
    {
        uint8_t *held = calloc(all->n, 1);

        if (held == NULL) {
            free(idx);
            return tr_error_set(err, "cannot allocate the eval split");
        }
        for (size_t i = all->n - n_eval; i < all->n; i++)
            held[idx[i]] = 1;
        for (size_t i = 0; i < all->n; i++) {
            if (held[i])
                tr->eval_view.ex[tr->eval_view.n++] = all->ex[i];
            else
                tr->train_view.ex[tr->train_view.n++] = all->ex[i];
        }
        free(held);
    }
    free(idx);
    return 0;
}

static int load_inputs(struct trainer *tr, struct tr_error *err)
{
    const struct train_options *o = tr->opt;
    const struct model_config *cfg;
    size_t context;

    if (model_open(&tr->model, o->base_dir, err) < 0)
        return -1;
    cfg = model_get_config(tr->model);
    context = (size_t)cfg->max_position_embeddings;
    if ((size_t)o->seq_len > context)
        return tr_error_set(err,
                            "--seq-len %d is above the model context of %zu tokens; use "
                            "--seq-len 2..%zu",
                            o->seq_len, context, context);
    tr->seq_len = (size_t)o->seq_len;
    if (tok_open(&tr->tok, o->base_dir, err) < 0 ||
        tok_check_model_vocab(tr->tok, cfg->vocab_size, o->base_dir, err) < 0)
        return -1;
    if (data_load(&tr->train_file, o->data_path, tr->tok, context, err) < 0)
        return -1;
    if (tr->train_file->n == 0)
        return tr_error_set(err, "%s holds no examples", o->data_path);
    if (o->eval_path != NULL) {
        if (data_load(&tr->eval_file, o->eval_path, tr->tok, context, err) < 0)
            return tr_error_prefix(err, "--eval");
        tr->eval_view = *tr->eval_file;
    }
    if (o->eval_path == NULL && o->eval_split > 0.0)
        return split_eval(tr, err);
    tr->train_view = *tr->train_file;
    return 0;
}

static void log_truncation(const struct trainer *tr)
{
    size_t cut = 0;

    for (size_t i = 0; i < tr->train_view.n; i++)
        cut += tr->train_view.ex[i].n > tr->seq_len;
    if (cut > 0)
        fprintf(tr->opt->log,
                "atelier train: warning: %zu of %zu training example%s %s longer than "
                "--seq-len %zu tokens and %s truncated to their first %zu tokens\n",
                cut, tr->train_view.n, tr->train_view.n == 1 ? "" : "s", cut == 1 ? "is" : "are",
                tr->seq_len, cut == 1 ? "was" : "were", tr->seq_len);
}

static uint64_t plan_steps(const struct trainer *tr)
{
    const struct train_options *o = tr->opt;
    uint64_t micro_per_epoch, steps;

    if (o->steps > 0)
        return o->steps;
    micro_per_epoch = (tr->train_view.n + (size_t)o->batch - 1) / (size_t)o->batch;
    steps = (uint64_t)ceil(o->epochs * (double)micro_per_epoch / (double)o->grad_accum);
    return steps > 0 ? steps : 1;
}

static int build_tensor_list(struct trainer *tr, struct tr_error *err)
{
    struct lora_set *lora = tr->lora;
    size_t k = 0;

    tr->tensors = calloc((size_t)lora->num_layers * LORA_NUM_TARGETS * 2 + 1, sizeof(*tr->tensors));
    if (tr->tensors == NULL)
        return tr_error_set(err, "cannot allocate the parameter list");
    for (int layer = 0; layer < lora->num_layers; layer++) {
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            struct lora_matrix *lm = lora_set_get(lora, layer, (enum lora_target)t);

            if (lm == NULL || lm->A == NULL)
                continue;
            tr->tensors[k++] = (struct optim_tensor){lm->A, lm->dA, (size_t)lora->rank * lm->in};
            tr->tensors[k++] = (struct optim_tensor){lm->B, lm->dB, (size_t)lm->out * lora->rank};
        }
    }
    tr->n_tensors = k;
    return adamw_new(&tr->adamw, lora_set_num_params(lora), err);
}

static int build_state(struct trainer *tr, struct tr_error *err)
{
    const struct train_options *o = tr->opt;
    size_t batch = (size_t)o->batch;

    tr->lora = lora_set_new(model_get_config(tr->model), o->rank, o->alpha, o->rslora, o->dropout,
                            o->target_mask, true, err);
    if (tr->lora == NULL)
        return -1;
    lora_set_init(tr->lora, mix_seed(o->seed, SALT_INIT, 0));
    if (build_tensor_list(tr, err) < 0)
        return -1;
    tr->ctx = model_ctx_new(tr->model, tr->lora, batch, tr->seq_len, true, err);
    if (tr->ctx == NULL)
        return -1;
    tr->tokens = malloc(batch * tr->seq_len * sizeof(int32_t));
    tr->targets = malloc(batch * tr->seq_len * sizeof(int32_t));
    tr->perm = malloc(tr->train_view.n * sizeof(size_t));
    tr->perm_epoch = UINT64_MAX;
    if (tr->tokens == NULL || tr->targets == NULL || tr->perm == NULL)
        return tr_error_set(err, "cannot allocate batches of %zu x %zu tokens", batch, tr->seq_len);
    tr->total_steps = plan_steps(tr);
    return 0;
}

static void trainer_dispose(struct trainer *tr)
{
    if (tr->ctx != NULL) /* model_ctx_free(NULL) is not safe */
        model_ctx_free(tr->ctx);
    adamw_free(tr->adamw);
    free(tr->tensors);
    lora_set_free(tr->lora);
    free(tr->tokens);
    free(tr->targets);
    free(tr->perm);
    if (tr->views_owned) {
        free(tr->train_view.ex);
        free(tr->eval_view.ex);
    }
    data_set_free(tr->train_file);
    data_set_free(tr->eval_file);
    tok_free(tr->tok);
    model_free(tr->model);
}

/* ---- checkpoints ---- */

static void fill_header(struct train_ckpt_header *h, const struct trainer *tr, uint64_t step,
                        uint64_t tokens, double last_loss, double elapsed_s)
{
    memset(h, 0, sizeof(*h));
    h->step = step;
    h->total_steps = tr->total_steps;
    h->seed = tr->opt->seed;
    h->tokens_seen = tokens;
    h->rank = (uint32_t)tr->lora->rank;
    h->target_mask = tr->lora->target_mask;
    h->num_layers = (uint32_t)tr->lora->num_layers;
    h->use_rslora = tr->lora->rslora;
    h->alpha = tr->lora->alpha;
    h->dropout = tr->lora->dropout;
    h->n_params = tr->adamw->n_params;
    h->last_loss = last_loss;
    h->elapsed_s = elapsed_s;
    h->lr = tr->opt->lr;
    h->clip = tr->opt->clip;
    h->weight_decay = tr->opt->weight_decay;
    h->eval_split = tr->opt->eval_path == NULL ? tr->opt->eval_split : 0.0;
    h->warmup = tr->opt->warmup;
    h->seq_len = (uint32_t)tr->seq_len;
    h->batch = (uint32_t)tr->opt->batch;
    h->grad_accum = (uint32_t)tr->opt->grad_accum;
    snprintf(h->data_sha256, sizeof(h->data_sha256), "%s", tr->train_file->sha256_hex);
    snprintf(h->eval_sha256, sizeof(h->eval_sha256), "%s",
             tr->eval_file != NULL ? tr->eval_file->sha256_hex : "");
}

static int save_checkpoint(const struct trainer *tr, uint64_t step, uint64_t tokens,
                           double last_loss, double elapsed_s, struct tr_error *err)
{
    struct train_ckpt_header h;

    fill_header(&h, tr, step, tokens, last_loss, elapsed_s);
    return train_ckpt_write(tr->ckpt_path, &h, tr->tensors, tr->n_tensors, tr->adamw, err);
}

/* Fills buf with the --targets list of mask, such as "q_proj,v_proj". */
static void target_names(char *buf, size_t size, unsigned mask);

/* Writes v with the fewest significant digits that read back as the same value, so 0.05f
 * prints as 0.05 and not 0.0500000007. is_float compares at float precision. */
static void format_shortest(char *buf, size_t size, double v, bool is_float)
{
    for (int digits = 1; digits <= 17; digits++) {
        double back;

        snprintf(buf, size, "%.*g", digits, v);
        back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)v : back == v)
            return;
    }
}

/* Fills saved and run with the two values of the first option that differs between the
 * checkpoint h and this run's header want, and returns the option's name; NULL when none
 * differs. The data files are compared apart, by their SHA-256. */
static const char *first_changed_option(char *saved, char *run, size_t size,
                                        const struct train_ckpt_header *h,
                                        const struct train_ckpt_header *want)
{
    if (h->seed != want->seed) {
        snprintf(saved, size, "%llu", (unsigned long long)h->seed);
        snprintf(run, size, "%llu", (unsigned long long)want->seed);
        return "--seed";
    }
    if (h->rank != want->rank) {
        snprintf(saved, size, "%u", h->rank);
        snprintf(run, size, "%u", want->rank);
        return "--rank";
    }
    if (h->target_mask != want->target_mask) {
        target_names(saved, size, h->target_mask);
        target_names(run, size, want->target_mask);
        return "--targets";
    }
    if (h->use_rslora != want->use_rslora) {
        snprintf(saved, size, "%s", h->use_rslora ? "on" : "off");
        snprintf(run, size, "%s", want->use_rslora ? "on" : "off");
        return "--rslora";
    }
    {
        const struct {
            const char *option;
            double saved, run;
            bool is_float;
        } numbers[] = {
            {"--alpha", h->alpha, want->alpha, true},
            {"--dropout", h->dropout, want->dropout, true},
            {"--lr", h->lr, want->lr, false},
            {"--clip", h->clip, want->clip, false},
            {"--weight-decay", h->weight_decay, want->weight_decay, false},
            {"--eval-split", h->eval_split, want->eval_split, false},
        };

        for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
            if (numbers[i].saved == numbers[i].run)
                continue;
            format_shortest(saved, size, numbers[i].saved, numbers[i].is_float);
            format_shortest(run, size, numbers[i].run, numbers[i].is_float);
            return numbers[i].option;
        }
    }
    if (h->warmup != want->warmup) {
        snprintf(saved, size, "%llu", (unsigned long long)h->warmup);
        snprintf(run, size, "%llu", (unsigned long long)want->warmup);
        return "--warmup";
    }
    if (h->seq_len != want->seq_len) {
        snprintf(saved, size, "%u", h->seq_len);
        snprintf(run, size, "%u", want->seq_len);
        return "--seq-len";
    }
    if (h->batch != want->batch) {
        snprintf(saved, size, "%u", h->batch);
        snprintf(run, size, "%u", want->batch);
        return "--batch";
    }
    if (h->grad_accum != want->grad_accum) {
        snprintf(saved, size, "%u", h->grad_accum);
        snprintf(run, size, "%u", want->grad_accum);
        return "--grad-accum";
    }
    if (h->total_steps != want->total_steps) {
        snprintf(saved, size, "%llu", (unsigned long long)h->total_steps);
        snprintf(run, size, "%llu", (unsigned long long)want->total_steps);
        return "step count (--steps or --epochs)";
    }
    return NULL;
}

/* Rejects a checkpoint whose run differs from this one in an option or in its data, naming
 * the option and both values, because resuming would not continue that run. */
static int check_resume_matches(const struct train_ckpt_header *h, const struct trainer *tr,
                                struct tr_error *err)
{
    struct train_ckpt_header want;
    char saved[128], run[128];
    const char *option;

    fill_header(&want, tr, 0, 0, 0.0, 0.0);
    option = first_changed_option(saved, run, sizeof(saved), h, &want);
    if (option != NULL)
        return tr_error_set(err,
                            "%s was written with %s %s but this run has %s; resume with the "
                            "options of the interrupted run, or start over without --resume",
                            tr->ckpt_path, option, saved, run);
    if (strcmp(h->data_sha256, want.data_sha256) != 0)
        return tr_error_set(err,
                            "the training data changed since %s was written (SHA-256 %.12s... "
                            "then, %.12s... now); resume with the same --data file, or start "
                            "over without --resume",
                            tr->ckpt_path, h->data_sha256, want.data_sha256);
    if (strcmp(h->eval_sha256, want.eval_sha256) != 0)
        return tr_error_set(err,
                            "the --eval data changed since %s was written (%s then, %s now); "
                            "resume with the same --eval file, or start over without --resume",
                            tr->ckpt_path, h->eval_sha256[0] != '\0' ? "a file" : "none",
                            want.eval_sha256[0] != '\0' ? "another file" : "none");
    return 0;
}

static int maybe_resume(uint64_t *step, uint64_t *tokens, double *elapsed, double *last_loss,
                        struct trainer *tr, struct tr_error *err)
{
    struct train_ckpt_header h;
    uint8_t *buf = NULL;
    int rc;

    *step = 0;
    *tokens = 0;
    *elapsed = 0.0;
    if (!tr->opt->resume)
        return 0;
    if (access(tr->ckpt_path, F_OK) != 0) {
        fprintf(tr->opt->log,
                "atelier train: warning: --resume: no checkpoint at %s, starting at step "
                "0\n",
                tr->ckpt_path);
        return 0;
    }
    if (train_ckpt_load(&h, &buf, tr->ckpt_path, err) < 0)
        return -1;
    /* Options first: a different --rank or --targets also changes the parameter count,
     * and the option is the clearer message. */
    rc = check_resume_matches(&h, tr, err);
    if (rc == 0)
        rc = train_ckpt_restore(&h, buf, tr->ckpt_path, tr->tensors, tr->n_tensors, tr->adamw, err);
    free(buf);
    if (rc < 0)
        return -1;
    *step = h.step;
    *tokens = h.tokens_seen;
    *elapsed = h.elapsed_s;
    *last_loss = h.last_loss;
    fprintf(tr->opt->log, "atelier train: resuming from %s at step %llu of %llu\n", tr->ckpt_path,
            (unsigned long long)h.step, (unsigned long long)tr->total_steps);
    return 0;
}

/* ---- one step ---- */

/* Returns the example at position pos of the data stream (epoch pos / n, shuffled). */
static const struct data_example *example_at(struct trainer *tr, uint64_t pos)
{
    size_t n = tr->train_view.n;
    uint64_t epoch;

    assert(n > 0); /* load_inputs rejects empty training data */
    epoch = pos / n;

    if (epoch != tr->perm_epoch) {
        shuffle(tr->perm, n, mix_seed(tr->opt->seed, SALT_EPOCH, epoch));
        tr->perm_epoch = epoch;
    }
    return &tr->train_view.ex[tr->perm[pos % n]];
}

/* Points batch[0..batch) at the examples of micro-batch k. */
static void micro_batch_examples(const struct data_example **batch, struct trainer *tr, uint64_t k)
{
    uint64_t pos = k * (uint64_t)tr->opt->batch;

    for (int i = 0; i < tr->opt->batch; i++)
        batch[i] = example_at(tr, pos + (uint64_t)i);
}

/* Returns the scored targets of all micro-batches of step. */
static size_t step_targets(struct trainer *tr, uint64_t step)
{
    uint64_t first = step * (uint64_t)tr->opt->grad_accum * (uint64_t)tr->opt->batch;
    uint64_t count = (uint64_t)tr->opt->grad_accum * (uint64_t)tr->opt->batch;
    size_t total = 0;

    for (uint64_t i = 0; i < count; i++)
        total += train_batch_count_targets(example_at(tr, first + i), tr->seq_len);
    return total;
}

/* Explains why step has no scored tokens. When its examples have targets but --seq-len
 * cuts them all off, the message names --seq-len and the longest prompt instead of the
 * data. */
static int no_scored_tokens_error(struct trainer *tr, uint64_t step, struct tr_error *err)
{
    uint64_t first = step * (uint64_t)tr->opt->grad_accum * (uint64_t)tr->opt->batch;
    uint64_t count = (uint64_t)tr->opt->grad_accum * (uint64_t)tr->opt->batch;
    size_t longest_prompt = 0;
    bool cut_off = false;

    for (uint64_t i = 0; i < count && !cut_off; i++) {
        const struct data_example *ex = example_at(tr, first + i);

        cut_off = train_batch_count_targets(ex, ex->n) > 0;
    }
    if (!cut_off)
        return tr_error_set(err,
                            "step %llu has no scored tokens: every example of its batch "
                            "is fully masked or one token long; check the data",
                            (unsigned long long)step + 1);
    for (size_t i = 0; i < tr->train_view.n; i++) {
        if (tr->train_view.ex[i].n_prompt > longest_prompt)
            longest_prompt = tr->train_view.ex[i].n_prompt;
    }
    return tr_error_set(err,
                        "step %llu has no scored tokens because --seq-len %zu cuts off every "
                        "target token of its examples; raise --seq-len above %zu, the length "
                        "of the longest prompt in tokens",
                        (unsigned long long)step + 1, tr->seq_len, longest_prompt);
}

struct step_stats {
    double loss;      /* token-weighted mean over the step */
    size_t scored;    /* target tokens */
    size_t tokens;    /* input tokens, padding excluded */
    double grad_norm; /* before clipping */
};

static size_t count_input_tokens(const struct data_example *const *batch, size_t b, size_t seq_len)
{
    size_t n = 0;

    for (size_t i = 0; i < b; i++)
        n += batch[i]->n < seq_len ? batch[i]->n : seq_len;
    return n;
}

/* Runs forward and backward of micro-batch k, adding to the gradients with weight
 * (its targets / the step's targets). */
static int run_micro_batch(struct step_stats *st, struct trainer *tr, uint64_t k,
                           size_t step_scored, const struct data_example **batch,
                           struct tr_error *err)
{
    size_t b = (size_t)tr->opt->batch;
    size_t t = 0, scored, n_targets = 0;
    float loss = 0.0f;

    micro_batch_examples(batch, tr, k);
    t = train_batch_width(batch, b, tr->seq_len);
    scored = train_batch_fill(tr->tokens, tr->targets, batch, b, t, 0);
    st->tokens += count_input_tokens(batch, b, tr->seq_len);
    if (scored == 0)
        return 0;
    model_ctx_set_seed(tr->ctx, mix_seed(tr->opt->seed, SALT_DROPOUT, k));
    if (model_forward(tr->ctx, tr->tokens, tr->targets, b, t, &loss, &n_targets, err) < 0) {
        /* NOTE: model_forward reports a non-finite loss as an error, and only the text of
         * its message distinguishes that case from the others. */
        if (strstr(err->msg, "not finite") == NULL)
            return -1;
        st->loss = NAN;
        return 0;
    }
    if (!isfinite(loss)) {
        st->loss = loss;
        return 0;
    }
    st->loss += (double)loss * (double)n_targets / (double)step_scored;
    st->scored += n_targets;
    return model_backward(tr->ctx, (float)((double)n_targets / (double)step_scored), err);
}

/* Runs one optimizer step. On a NaN or infinite loss or gradient it returns 0 with a
 * non-finite st->loss or st->grad_norm and leaves the parameters untouched. */
static int run_step(struct step_stats *st, struct trainer *tr, uint64_t step, double lr,
                    struct tr_error *err)
{
    const struct data_example **batch = NULL;
    size_t step_scored = step_targets(tr, step);
    struct adamw_hparams hp = {0.9f, 0.999f, 1e-8f, (float)tr->opt->weight_decay};
    int rc = 0;

    memset(st, 0, sizeof(*st));
    if (step_scored == 0)
        return no_scored_tokens_error(tr, step, err);
    batch = malloc((size_t)tr->opt->batch * sizeof(*batch));
    if (batch == NULL)
        return tr_error_set(err, "cannot allocate a batch");
    lora_set_zero_grads(tr->lora);
    for (int j = 0; j < tr->opt->grad_accum && rc == 0 && isfinite(st->loss); j++) {
        uint64_t k = step * (uint64_t)tr->opt->grad_accum + (uint64_t)j;

        rc = run_micro_batch(st, tr, k, step_scored, batch, err);
    }
    free(batch);
    if (rc < 0 || !isfinite(st->loss))
        return rc;
    st->grad_norm = optim_clip_grad_norm(tr->tensors, tr->n_tensors, tr->opt->clip);
    if (!isfinite(st->grad_norm))
        return 0;
    adamw_step(tr->adamw, tr->tensors, tr->n_tensors, (float)lr, &hp);
    return 0;
}

/* ---- progress and evaluation ---- */

static void print_progress(const struct trainer *tr, uint64_t step, const struct step_stats *st,
                           double lr, double step_s, double eta_s)
{
    FILE *f = tr->opt->progress;

    if (f == NULL)
        return;
    fprintf(f,
            "{\"step\": %llu, \"total_steps\": %llu, \"loss\": %.6f, \"lr\": %.6g, "
            "\"grad_norm\": %.6g, \"tokens_per_s\": %.1f, \"eta_s\": %.1f}\n",
            (unsigned long long)step, (unsigned long long)tr->total_steps, st->loss, lr,
            st->grad_norm, step_s > 0.0 ? (double)st->tokens / step_s : 0.0, eta_s);
    fflush(f);
}

static int run_eval(double *loss, struct trainer *tr, bool with_adapter, struct tr_error *err)
{
    struct eval_metrics em;
    struct eval_options eo = {EVAL_BATCH, tr->seq_len, false, 0};

    if (eval_run(&em, tr->model, with_adapter ? tr->lora : NULL, tr->tok, &tr->eval_view, &eo,
                 err) < 0)
        return tr_error_prefix(err, "evaluation");
    *loss = em.mean_nll;
    return 0;
}

static int eval_and_report(struct train_result *res, struct trainer *tr, uint64_t step,
                           struct tr_error *err)
{
    double loss = 0.0;

    if (tr->eval_view.n == 0)
        return 0;
    if (run_eval(&loss, tr, true, err) < 0)
        return -1;
    res->has_eval = true;
    res->eval_loss = loss;
    res->eval_perplexity = exp(loss);
    if (tr->opt->progress != NULL) {
        fprintf(tr->opt->progress, "{\"step\": %llu, \"eval_loss\": %.6f}\n",
                (unsigned long long)step, loss);
        fflush(tr->opt->progress);
    }
    return 0;
}

/* ---- the loop ---- */

static int stop_on_nonfinite(struct trainer *tr, uint64_t step, const struct step_stats *st,
                             uint64_t tokens, double last_loss, double elapsed,
                             struct tr_error *err)
{
    struct tr_error save_err = {{0}};
    const char *what = isfinite(st->loss) ? "gradient norm" : "loss";
    double value = isfinite(st->loss) ? st->grad_norm : st->loss;

    /* The parameters still hold the state after the last good step, so save that. */
    if (save_checkpoint(tr, step, tokens, last_loss, elapsed, &save_err) < 0)
        return tr_error_set(err,
                            "%s is %g at step %llu and saving the last good state failed "
                            "too: %s",
                            what, value, (unsigned long long)step + 1, save_err.msg);
    return tr_error_set(err,
                        "%s is %g at step %llu; training stopped and the last good state "
                        "(after step %llu) is in %s; lower --lr or set --clip, then rerun with "
                        "--resume",
                        what, value, (unsigned long long)step + 1, (unsigned long long)step,
                        tr->ckpt_path);
}

/* Trailing zero-gradient steps before the run warns, and the most steps averaged at the end
 * of the run when comparing its last losses with the first. A healthy run can have a single
 * flat or zero-gradient step, and single-step losses vary from batch to batch. */
#define COLLAPSE_MIN_STEPS 3

/* The final eval loss, or the mean training loss of the last steps, counts as clearly worse
 * than the base eval loss, or the loss of the first step, above these factors. Each
 * training loss comes from a different batch, and single batches of tests/data/style range
 * from 1.32 to 1.59 in a 4-step run at the default --lr, hence the wider margin. */
#define COLLAPSE_EVAL_RATIO 1.05
#define COLLAPSE_LOSS_RATIO 1.25

struct collapse_watch {
    uint64_t zero_grad;                   /* trailing steps whose gradient norm was exactly 0 */
    uint64_t steps;                       /* steps run by this process (not before --resume) */
    double first_loss;                    /* loss of the first step of this process */
    double last_loss[COLLAPSE_MIN_STEPS]; /* ring of the losses of the latest steps */
};

static void collapse_watch_update(struct collapse_watch *w, const struct step_stats *st)
{
    w->zero_grad = st->grad_norm == 0.0 ? w->zero_grad + 1 : 0;
    if (w->steps == 0)
        w->first_loss = st->loss;
    w->last_loss[w->steps % COLLAPSE_MIN_STEPS] = st->loss;
    w->steps++;
}

/* Stores in *last the mean loss of the last n steps of this process, with n at most
 * COLLAPSE_MIN_STEPS and leaving out the first step, which serves as the start. Returns n,
 * or 0 when fewer than 2 steps ran. */
static uint64_t collapse_watch_end(const struct collapse_watch *w, double *last)
{
    uint64_t n = w->steps > 0 ? w->steps - 1 : 0;

    if (n > COLLAPSE_MIN_STEPS)
        n = COLLAPSE_MIN_STEPS;
    *last = 0.0;
    for (uint64_t i = 0; i < n; i++)
        *last += w->last_loss[(w->steps - 1 - i) % COLLAPSE_MIN_STEPS];
    if (n > 0)
        *last /= (double)n;
    return n;
}

/* Prints a warning when the run did not learn: the last steps had no gradient, the final
 * eval loss is clearly above the base model's, or the loss at the end is clearly above the
 * loss at the start. The run still succeeded, so this is the only hint. */
static void collapse_watch_report(const struct collapse_watch *w, const struct train_result *res,
                                  FILE *log)
{
    double last = 0.0;
    uint64_t n = collapse_watch_end(w, &last);

    if (w->zero_grad >= COLLAPSE_MIN_STEPS)
        fprintf(log,
                "atelier train: warning: the run collapsed: the gradient norm was 0 in each "
                "of the last %llu steps, so the adapter stopped learning; start over with a "
                "lower --lr or --alpha\n",
                (unsigned long long)w->zero_grad);
    else if (res->has_eval && res->eval_loss > COLLAPSE_EVAL_RATIO * res->base_eval_loss)
        fprintf(log,
                "atelier train: warning: the run collapsed: the eval loss %.4f is more than "
                "5%% above the base model's %.4f; start over with a lower --lr or --alpha\n",
                res->eval_loss, res->base_eval_loss);
    else if (n > 0 && !(last <= COLLAPSE_LOSS_RATIO * w->first_loss))
        fprintf(log,
                "atelier train: warning: the run collapsed: the mean loss of the last %llu "
                "step%s (%.4f) is more than 25%% above the loss of the first step (%.4f); "
                "start over with a lower --lr or --alpha\n",
                (unsigned long long)n, n == 1 ? "" : "s", last, w->first_loss);
}

static int train_loop(struct train_result *res, struct trainer *tr, struct tr_error *err)
{
    const struct train_options *o = tr->opt;
    uint64_t step = 0, tokens = 0;
    double elapsed = 0.0, last_loss = NAN;
    struct collapse_watch watch;

    memset(&watch, 0, sizeof(watch));
    if (maybe_resume(&step, &tokens, &elapsed, &last_loss, tr, err) < 0)
        return -1;
    for (; step < tr->total_steps; step++) {
        struct step_stats st;
        double lr = optim_lr_cosine(step, tr->total_steps, o->warmup, o->lr);
        double t0 = now_s(), dt;

        if (run_step(&st, tr, step, lr, err) < 0)
            return -1;
        if (!isfinite(st.loss) || !isfinite(st.grad_norm))
            return stop_on_nonfinite(tr, step, &st, tokens, last_loss, elapsed, err);
        dt = now_s() - t0;
        elapsed += dt;
        tokens += st.scored;
        last_loss = st.loss;
        collapse_watch_update(&watch, &st);
        print_progress(tr, step + 1, &st, lr, dt,
                       elapsed / (double)(step + 1) * (double)(tr->total_steps - step - 1));
        if (o->stop_requested != NULL && *o->stop_requested && step + 1 < tr->total_steps) {
            if (save_checkpoint(tr, step + 1, tokens, last_loss, elapsed, err) < 0)
                return -1;
            return tr_error_set(err,
                                "stopped by a signal after step %llu of %llu; the state is "
                                "in %s, so rerun with --resume to continue",
                                (unsigned long long)step + 1, (unsigned long long)tr->total_steps,
                                tr->ckpt_path);
        }
        if (o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0 &&
            step + 1 < tr->total_steps) {
            if (save_checkpoint(tr, step + 1, tokens, last_loss, elapsed, err) < 0)
                return -1;
            if (eval_and_report(res, tr, step + 1, err) < 0)
                return -1;
        }
    }
    if (save_checkpoint(tr, step, tokens, last_loss, elapsed, err) < 0)
        return -1;
    res->train_loss = last_loss;
    res->steps = step;
    res->tokens = tokens;
    res->seconds = elapsed;
    if (eval_and_report(res, tr, step, err) < 0)
        return -1;
    collapse_watch_report(&watch, res, o->log);
    return 0;
}

/* ---- outputs ---- */

static void target_names(char *buf, size_t size, unsigned mask)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!(mask & (1u << t)))
            continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s", used > 0 ? "," : "",
                                 lora_target_name((enum lora_target)t));
        if (used >= size)
            break;
    }
}

static int write_results(const char *dir, const struct train_result *r, struct tr_error *err)
{
    char path[4096];
    json_t *root = json_object();
    int rc;

    if (root == NULL)
        return tr_error_set(err, "cannot build train_results.json");
    json_object_set_new(root, "train_loss", json_real(r->train_loss));
    json_object_set_new(root, "eval_loss", r->has_eval ? json_real(r->eval_loss) : json_null());
    json_object_set_new(root, "eval_perplexity",
                        r->has_eval ? json_real(r->eval_perplexity) : json_null());
    json_object_set_new(root, "base_eval_loss",
                        r->has_eval ? json_real(r->base_eval_loss) : json_null());
    json_object_set_new(root, "steps", json_integer((json_int_t)r->steps));
    json_object_set_new(root, "tokens", json_integer((json_int_t)r->tokens));
    json_object_set_new(root, "seconds", json_real(r->seconds));
    snprintf(path, sizeof(path), "%s/train_results.json", dir);
    /* 10 significant digits keep losses exact enough and drop the binary rounding noise. */
    rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (rc != 0)
        return tr_error_set(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static const char *base_name_of(const char *path)
{
    const char *end = path + strlen(path);
    const char *p;

    while (end > path && end[-1] == '/')
        end--;
    p = end;
    while (p > path && p[-1] != '/')
        p--;
    return p;
}

static int write_outputs(const struct trainer *tr, const struct train_result *res,
                         struct tr_error *err)
{
    const struct train_options *o = tr->opt;
    struct adapter_save_info info = {o->base_name != NULL ? o->base_name : o->base_dir,
                                     o->base_revision};
    char targets[128], model_name[256];
    struct card_data card;
    size_t name_len;

    if (adapter_save(o->out_dir, tr->lora, &info, err) < 0)
        return -1;
    target_names(targets, sizeof(targets), tr->lora->target_mask);
    name_len = strcspn(base_name_of(o->out_dir), "/");
    snprintf(model_name, sizeof(model_name), "%.*s", (int)name_len, base_name_of(o->out_dir));
    card = (struct card_data){o,
                              res,
                              model_name,
                              tr->train_file->sha256_hex,
                              targets,
                              tr->train_view.n,
                              tr->eval_view.n,
                              tr->eval_file != NULL ? tr->eval_file->sha256_hex : NULL,
                              model_thread_count()};
    if (card_write(o->out_dir, &card, err) < 0)
        return -1;
    return write_results(o->out_dir, res, err);
}

/* Removes the checkpoint folder when a failed run leaves it empty, and --out too when this
 * run created it and it is empty, so a run that failed before its first checkpoint leaves
 * no empty folders behind. rmdir fails on a folder that contains anything, which keeps every
 * file. */
static void remove_empty_out_dir(const struct trainer *tr)
{
    if (tr->ckpt_dir[0] == '\0')
        return;
    if (rmdir(tr->ckpt_dir) == 0 && tr->created_out)
        rmdir(tr->opt->out_dir);
}

/* Returns a note for the plan line when --eval-split rounds up to a share of the data well
 * above the one requested (1 of 2 examples for 0.1), else "". The split takes the ceiling
 * of share x examples, so small datasets can give much more to evaluation. */
static const char *split_note(char *buf, size_t size, const struct trainer *tr)
{
    size_t n_all = tr->train_view.n + tr->eval_view.n;
    double share;

    buf[0] = '\0';
    if (tr->opt->eval_path != NULL || tr->opt->eval_split <= 0.0 || n_all == 0)
        return buf;
    share = (double)tr->eval_view.n / (double)n_all;
    if (share > 1.5 * tr->opt->eval_split)
        snprintf(buf, size,
                 " (--eval-split %g rounds up to %zu of %zu examples, a share of %.2g; add data "
                 "or use --eval FILE for a smaller share)",
                 tr->opt->eval_split, tr->eval_view.n, n_all, share);
    return buf;
}

int train_run(struct train_result *out, const struct train_options *o, struct tr_error *err)
{
    char note[200];
    struct trainer tr;
    int rc = -1;

    memset(&tr, 0, sizeof(tr));
    memset(out, 0, sizeof(*out));
    tr.opt = o;
    model_set_threads(o->threads);
    {
        int threads = model_thread_count();

        fprintf(o->log, "atelier train: seed %llu, %d thread%s%s\n", (unsigned long long)o->seed,
                threads, threads == 1 ? "" : "s", o->threads > 0 ? "" : " (the OpenMP default)");
    }
    if (prepare_out_dir(&tr, err) < 0) {
        rc = TRAIN_USAGE_ERROR;
        goto out;
    }
    if (load_inputs(&tr, err) < 0 || build_state(&tr, err) < 0)
        goto out;
    /* With --steps the CLI checks --warmup itself; with --epochs the step count is known
     * only now. */
    if (o->warmup > tr.total_steps) {
        tr_error_set(err,
                     "invalid --warmup value %llu: expected at most the %llu step%s that "
                     "--epochs %g gives; lower --warmup or raise --epochs",
                     (unsigned long long)o->warmup, (unsigned long long)tr.total_steps,
                     tr.total_steps == 1 ? "" : "s", o->epochs);
        rc = TRAIN_USAGE_ERROR;
        goto out;
    }
    log_truncation(&tr);
    fprintf(o->log,
            "atelier train: %zu training and %zu eval examples%s, %llu step%s, %zu adapter "
            "parameters\n",
            tr.train_view.n, tr.eval_view.n, split_note(note, sizeof(note), &tr),
            (unsigned long long)tr.total_steps, tr.total_steps == 1 ? "" : "s", tr.adamw->n_params);
    if (tr.eval_view.n > 0 && run_eval(&out->base_eval_loss, &tr, false, err) < 0)
        goto out;
    if (train_loop(out, &tr, err) < 0)
        goto out;
    rc = write_outputs(&tr, out, err);
out:
    if (rc != 0)
        remove_empty_out_dir(&tr);
    trainer_dispose(&tr);
    return rc;
}
