/* train_bench: one LoRA training configuration timed with atelier's trainer library. It
 * writes a randomly initialised model with the shape of CONFIG_DIR/config.json to WORK_DIR
 * (model.safetensors plus the config), loads it back through model_open, trains LoRA r=8 on
 * q_proj and v_proj
 * with AdamW on random token ids, and prints one JSON line with tokens/s, the peak resident
 * set size and the sgemm rate OpenBLAS reaches on this machine. bench/train_bench.sh builds
 * and runs it next to the PyTorch version of the same computation. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "lora.h"
#include "merge.h"
#include "model.h"
#include "optim.h"
#include "rng.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Returns the sgemm rate in GFLOP/s on n x n matrices, best of reps. */
static double sgemm_gflops(int n, int reps)
{
    size_t count = (size_t)n * (size_t)n;
    float *a = malloc(count * sizeof(float)), *b = malloc(count * sizeof(float));
    float *c = calloc(count, sizeof(float));
    double best = 0.0;

    if (a == NULL || b == NULL || c == NULL)
        return 0.0;
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now_s(), dt;

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        dt = now_s() - t0;
        if (2.0 * n * (double)n * n / dt / 1e9 > best)
            best = 2.0 * n * (double)n * n / dt / 1e9;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* Estimated FLOPs of one training token. The forward pass costs 2 x (linear weights) in
 * matmuls and 2 x 2 x (T / 2) x (heads x head_dim) per layer in causal attention. The
 * backward pass needs only input gradients of the frozen linears (about one forward) and
 * twice the attention. LoRA terms are left out (under 1% at r=8). */
static double flops_per_token(const struct model_config *c, size_t T)
{
    double H = c->hidden_size, inter = c->intermediate_size, hd = c->head_dim;
    double q = c->num_attention_heads * hd, kv = c->num_key_value_heads * hd;
    double linear = H * q + 2.0 * H * kv + q * H + 3.0 * H * inter;
    double per_layer_fwd = 2.0 * linear + 2.0 * 2.0 * ((double)T / 2.0) * q;
    double head_fwd = 2.0 * H * c->vocab_size;
    double attn_fwd = 2.0 * 2.0 * ((double)T / 2.0) * q;

    return c->num_hidden_layers * (2.0 * per_layer_fwd + attn_fwd) + 2.0 * head_fwd;
}

int main(int argc, char **argv)
{
    const char *config_dir = argc > 1 ? argv[1] : NULL;
    const char *dir = argc > 2 ? argv[2] : NULL;
    int steps = argc > 3 ? atoi(argv[3]) : 5;
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    size_t B = 4, T = 256;
    struct model_config cfg;
    struct model *random_model = NULL, *m = NULL;
    struct lora_set *lora = NULL;
    struct model_ctx *ctx = NULL;
    struct adamw *opt = NULL;
    struct optim_tensor tensors[512];
    size_t n_tensors = 0;
    struct adamw_hparams hp = {0.9f, 0.999f, 1e-8f, 0.0f};
    struct tr_error err = {{0}};
    char path[4096];
    int32_t *tokens, *targets;
    struct rng r;
    double t0, dt, loss_sum = 0.0, peak_gflops;
    struct rusage ru;

    if (config_dir == NULL || dir == NULL || steps < 1) {
        fprintf(stderr, "usage: train_bench CONFIG_DIR WORK_DIR [STEPS] [THREADS]\n");
        return 2;
    }
    model_set_threads(threads);
    snprintf(path, sizeof(path), "%s/config.json", config_dir);
    if (model_config_load(&cfg, path, &err) < 0 ||
        model_new_random(&random_model, &cfg, 1, &err) < 0 ||
        merge_write(dir, config_dir, random_model, NULL, ST_F32, &err) < 0)
        goto fail;
    model_free(random_model);
    random_model = NULL;
    if (model_open(&m, dir, &err) < 0)
        goto fail;
    lora = lora_set_new(&cfg, 8, 16.0f, false, 0.0f, (1u << LORA_Q_PROJ) | (1u << LORA_V_PROJ),
                        true, &err);
    if (lora == NULL)
        goto fail;
    lora_set_init(lora, 2);
    for (int l = 0; l < lora->num_layers; l++) {
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            struct lora_matrix *lm = lora_set_get(lora, l, (enum lora_target)t);

            if (lm == NULL)
                continue;
            tensors[n_tensors++] = (struct optim_tensor){lm->A, lm->dA, (size_t)8 * lm->in};
            tensors[n_tensors++] = (struct optim_tensor){lm->B, lm->dB, (size_t)lm->out * 8};
        }
    }
    if (adamw_new(&opt, lora_set_num_params(lora), &err) < 0)
        goto fail;
    ctx = model_ctx_new(m, lora, B, T, true, &err);
    if (ctx == NULL)
        goto fail;
    tokens = malloc(B * T * sizeof(int32_t));
    targets = malloc(B * T * sizeof(int32_t));
    rng_seed(&r, 3);
    for (size_t i = 0; i < B * T; i++)
        tokens[i] = (int32_t)(rng_next_u64(&r) % (uint64_t)cfg.vocab_size);
    for (size_t i = 0; i < B * T; i++)
        targets[i] = (i + 1) % T == 0 ? -100 : tokens[i + 1];

    t0 = 0.0;
    for (int s = 0; s <= steps; s++) {
        float loss = 0.0f;
        size_t n_targets = 0;

        if (s == 1)
            t0 = now_s(); /* step 0 warms caches and thread pools */
        lora_set_zero_grads(lora);
        if (model_forward(ctx, tokens, targets, B, T, &loss, &n_targets, &err) < 0 ||
            model_backward(ctx, 1.0f, &err) < 0)
            goto fail;
        adamw_step(opt, tensors, n_tensors, 1e-4f, &hp);
        if (s > 0)
            loss_sum += loss;
    }
    dt = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru);
    /* The trainer holds OpenBLAS to one thread and splits products with OpenMP itself, so
     * the reference rate is measured with OpenBLAS on all the threads of the run. */
    openblas_set_num_threads(threads);
    peak_gflops = sgemm_gflops(2048, 3);
    if (sgemm_gflops(1024, 5) > peak_gflops)
        peak_gflops = sgemm_gflops(1024, 5);
    printf("{\"impl\": \"atelier\", \"threads\": %d, \"steps\": %d, \"tokens_per_s\": %.1f, "
           "\"peak_rss_mb\": %.1f, \"mean_loss\": %.4f, \"train_gflops\": %.2f, "
           "\"sgemm_gflops\": %.2f}\n",
           threads, steps, (double)(B * T) * steps / dt, ru.ru_maxrss / 1024.0, loss_sum / steps,
           flops_per_token(&cfg, T) * (double)(B * T) * steps / dt / 1e9, peak_gflops);
    free(tokens);
    free(targets);
    model_ctx_free(ctx);
    adamw_free(opt);
    lora_set_free(lora);
    model_free(m);
    return 0;
fail:
    fprintf(stderr, "train_bench: %s\n", err.msg);
    model_free(random_model);
    return 1;
}
