/* Unit tests of the train modules without a CLI: AdamW against its closed form in double,
 * the warmup + cosine schedule, global-norm clipping, the checkpoint file (round trip,
 * version, corruption, truncation) and the padded batches. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "optim.h"
#include "train_batch.h"
#include "train_ckpt.h"

/* Five AdamW steps on three parameters, compared with the update written out in double:
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr (m_hat / (sqrt(v_hat) + eps) +
 * wd p). float32 state keeps the two within 1e-6. */
static void test_adamw_closed_form(void)
{
    float p[3] = {0.5f, -1.0f, 2.0f}, g[3];
    double pd[3] = {0.5, -1.0, 2.0}, md[3] = {0}, vd[3] = {0};
    struct optim_tensor t = {p, g, 3};
    struct adamw_hparams hp = {0.9f, 0.999f, 1e-8f, 0.1f};
    struct adamw *opt = NULL;
    struct tr_error err = {{0}};
    const double lr = 1e-2;

    CHECK_EQ_INT(adamw_new(&opt, 3, &err), 0);
    if (opt == NULL)
        return;
    for (int step = 1; step <= 5; step++) {
        for (int i = 0; i < 3; i++) {
            double gd = 0.3 * (i + 1) - 0.1 * step;

            g[i] = (float)gd;
            md[i] = 0.9 * md[i] + 0.1 * gd;
            vd[i] = 0.999 * vd[i] + 0.001 * gd * gd;
            pd[i] -= lr * ((md[i] / (1 - pow(0.9, step))) /
                               (sqrt(vd[i] / (1 - pow(0.999, step))) + 1e-8) +
                           0.1 * pd[i]);
        }
        adamw_step(opt, &t, 1, (float)lr, &hp);
    }
    CHECK_EQ_INT(opt->step, 5);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(p[i], pd[i], 1e-6);
    adamw_free(opt);
}

static void test_lr_schedule(void)
{
    /* Warmup is linear from 0, as get_cosine_schedule_with_warmup starts at lambda(0) = 0. */
    CHECK_NEAR(optim_lr_cosine(0, 100, 10, 1.0), 0.0, 1e-12);
    CHECK_NEAR(optim_lr_cosine(5, 100, 10, 1.0), 0.5, 1e-12);
    CHECK_NEAR(optim_lr_cosine(10, 100, 10, 1.0), 1.0, 1e-12);
    CHECK_NEAR(optim_lr_cosine(55, 100, 10, 2e-4), 1e-4, 1e-12);
    CHECK_NEAR(optim_lr_cosine(100, 100, 10, 1.0), 0.0, 1e-12);
    /* Without warmup the first step runs at the full rate. */
    CHECK_NEAR(optim_lr_cosine(0, 10, 0, 3e-4), 3e-4, 1e-15);
}

static void test_clip_grad_norm(void)
{
    float g1[3] = {3.0f, 0.0f, 0.0f}, g2[2] = {0.0f, 4.0f};
    float p1[3] = {0}, p2[2] = {0};
    struct optim_tensor t[2] = {{p1, g1, 3}, {p2, g2, 2}};
    double norm;

    /* The example of clip_grad_norm_: total norm 5, scaled by 1 / (5 + 1e-6). */
    norm = optim_clip_grad_norm(t, 2, 1.0);
    CHECK_NEAR(norm, 5.0, 1e-12);
    CHECK_NEAR(g1[0], 3.0 / (5.0 + 1e-6), 1e-7);
    CHECK_NEAR(g2[1], 4.0 / (5.0 + 1e-6), 1e-7);
    CHECK_NEAR(optim_grad_norm(t, 2), 1.0, 1e-6);
    /* Below the limit nothing changes. */
    norm = optim_clip_grad_norm(t, 2, 10.0);
    CHECK_NEAR(g1[0], 3.0 / (5.0 + 1e-6), 1e-7);
    CHECK_NEAR(norm, 1.0, 1e-6);
}

static char *temp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    const char *tmp = getenv("TMPDIR");
    char *p = buf[next++ % 4];

    snprintf(p, 512, "%s/atelier-units-%d-%s", tmp != NULL ? tmp : "/tmp", (int)getpid(), name);
    return p;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return;
    fwrite(buf, 1, len, f);
    fclose(f);
}

static void test_checkpoint_round_trip(void)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {-1, 0.5f}, ga[4] = {0}, gb[2] = {0};
    float a2[4] = {0}, b2[2] = {0};
    struct optim_tensor t[2] = {{a, ga, 4}, {b, gb, 2}};
    struct optim_tensor t2[2] = {{a2, ga, 4}, {b2, gb, 2}};
    struct train_ckpt_header h = {0}, got = {0};
    struct adamw *opt = NULL, *opt2 = NULL, *small = NULL;
    struct tr_error err = {{0}};
    const char *path = temp_path("state.bin");
    uint8_t *bytes;
    size_t len = 0;

    CHECK_EQ_INT(adamw_new(&opt, 6, &err), 0);
    CHECK_EQ_INT(adamw_new(&opt2, 6, &err), 0);
    CHECK_EQ_INT(adamw_new(&small, 5, &err), 0);
    if (opt == NULL || opt2 == NULL || small == NULL)
        return;
    for (int i = 0; i < 6; i++) {
        opt->m[i] = 0.1f * (float)i;
        opt->v[i] = 0.01f * (float)i;
    }
    opt->step = 7;
    h = (struct train_ckpt_header){.step = 7,
                                   .total_steps = 20,
                                   .seed = 99,
                                   .tokens_seen = 1234,
                                   .rank = 2,
                                   .target_mask = 5,
                                   .num_layers = 1,
                                   .use_rslora = 1,
                                   .alpha = 16.0f,
                                   .dropout = 0.05f,
                                   .n_params = 6,
                                   .last_loss = 1.5,
                                   .elapsed_s = 3.25,
                                   .lr = 2e-4,
                                   .clip = 0.5,
                                   .weight_decay = 0.01,
                                   .eval_split = 0.25,
                                   .warmup = 3,
                                   .seq_len = 128,
                                   .batch = 4,
                                   .grad_accum = 3};
    memset(h.data_sha256, 'a', 64);
    snprintf(h.eval_sha256, sizeof(h.eval_sha256), "%s", "0123abcd");
    CHECK_EQ_INT(train_ckpt_write(path, &h, t, 2, opt, &err), 0);
    CHECK_EQ_INT(train_ckpt_read(&got, path, t2, 2, opt2, &err), 0);
    CHECK_EQ_INT(got.step, 7);
    CHECK_EQ_INT(got.seed, 99);
    CHECK_EQ_INT(got.tokens_seen, 1234);
    CHECK_EQ_INT(got.target_mask, 5);
    CHECK_NEAR(got.alpha, 16.0, 0);
    CHECK_NEAR(got.last_loss, 1.5, 0);
    CHECK_NEAR(got.lr, 2e-4, 0);
    CHECK_NEAR(got.clip, 0.5, 0);
    CHECK_NEAR(got.weight_decay, 0.01, 0);
    CHECK_NEAR(got.eval_split, 0.25, 0);
    CHECK_EQ_INT(got.warmup, 3);
    CHECK_EQ_INT(got.seq_len, 128);
    CHECK_EQ_INT(got.batch, 4);
    CHECK_EQ_INT(got.grad_accum, 3);
    CHECK_EQ_INT(strlen(got.data_sha256), 64);
    CHECK(strspn(got.data_sha256, "a") == 64);
    CHECK_EQ_STR(got.eval_sha256, "0123abcd");
    CHECK_EQ_INT(opt2->step, 7);
    CHECK(memcmp(a, a2, sizeof(a)) == 0);
    CHECK(memcmp(b, b2, sizeof(b)) == 0);
    CHECK(memcmp(opt->m, opt2->m, 6 * sizeof(float)) == 0);
    CHECK(memcmp(opt->v, opt2->v, 6 * sizeof(float)) == 0);

    /* A run with a different parameter count is rejected with the options to fix. */
    t2[1].n = 1;
    CHECK_EQ_INT(train_ckpt_read(&got, path, t2, 2, small, &err), -1);
    CHECK(strstr(err.msg, "--rank") != NULL);

    bytes = read_all(path, &len);
    CHECK(bytes != NULL);
    if (bytes != NULL) {
        const float *payload = NULL;

        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len, "state.bin", &err), 0);
        /* A version from a newer release. */
        bytes[8] = TRAIN_CKPT_VERSION + 1;
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "format version 4") != NULL);
        CHECK(strstr(err.msg, "release that wrote it") != NULL);
        /* Version 1 lacks the data and optimizer settings, so it cannot be checked. */
        bytes[8] = 1;
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "format version 1 from an older atelier") != NULL);
        CHECK(strstr(err.msg, "start a new run without --resume") != NULL);
        /* Version 2 lacks --batch and --grad-accum. */
        bytes[8] = 2;
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "format version 2 from an older atelier") != NULL);
        CHECK(strstr(err.msg, "start a new run without --resume") != NULL);
        bytes[8] = TRAIN_CKPT_VERSION;
        /* One flipped payload bit. */
        bytes[300] ^= 1;
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "corrupt") != NULL);
        CHECK(strstr(err.msg, "without --resume") != NULL);
        bytes[300] ^= 1;
        /* One flipped bit of the recorded learning rate. */
        bytes[100] ^= 1;
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "corrupt") != NULL);
        bytes[100] ^= 1;
        /* Truncated by one byte. */
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, len - 1, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "truncated") != NULL);
        CHECK(strstr(err.msg, "start a new run without --resume") != NULL);
        /* Cut inside the header. */
        CHECK_EQ_INT(train_ckpt_parse(&got, &payload, bytes, 100, "state.bin", &err), -1);
        CHECK(strstr(err.msg, "truncated") != NULL);
        CHECK(strstr(err.msg, "start a new run without --resume") != NULL);
        /* Wrong magic. */
        bytes[0] = 'X';
        write_all(path, bytes, len);
        CHECK_EQ_INT(train_ckpt_read(&got, path, t, 2, opt2, &err), -1);
        CHECK(strstr(err.msg, "not an atelier training checkpoint") != NULL);
        free(bytes);
    }
    unlink(path);
    adamw_free(opt);
    adamw_free(opt2);
    adamw_free(small);
}

static void test_batch_fill(void)
{
    int32_t ids1[5] = {1, 10, 11, 12, 2}, ids2[3] = {1, 20, 2};
    uint8_t mask1[5] = {0, 0, 1, 1, 1}, mask2[3] = {0, 1, 1};
    struct data_example e1 = {ids1, mask1, 5, NULL, NULL, 1, 2};
    struct data_example e2 = {ids2, mask2, 3, NULL, NULL, 2, 1};
    const struct data_example *batch[2] = {&e1, &e2};
    int32_t tokens[8], targets[8];
    size_t width, scored;

    width = train_batch_width(batch, 2, 4);
    CHECK_EQ_INT(width, 4);
    scored = train_batch_fill(tokens, targets, batch, 2, width, 0);
    /* Row 0 is cut to 4 tokens: targets 11 and 12 count, the EOS falls off. */
    CHECK_EQ_INT(scored, 2 + 2);
    CHECK_EQ_INT(targets[0], TRAIN_IGNORE_INDEX);
    CHECK_EQ_INT(targets[1], 11);
    CHECK_EQ_INT(targets[2], 12);
    CHECK_EQ_INT(targets[3], TRAIN_IGNORE_INDEX);
    /* Row 1 is padded after its 3 tokens, and padding is never a target. */
    CHECK_EQ_INT(tokens[4], 1);
    CHECK_EQ_INT(tokens[7], 0);
    CHECK_EQ_INT(targets[4], 20);
    CHECK_EQ_INT(targets[5], 2);
    CHECK_EQ_INT(targets[6], TRAIN_IGNORE_INDEX);
    CHECK_EQ_INT(targets[7], TRAIN_IGNORE_INDEX);
    CHECK_EQ_INT(train_batch_count_targets(&e1, 4), 2);
    CHECK_EQ_INT(train_batch_count_targets(&e1, 100), 3);
}

int main(void)
{
    test_adamw_closed_form();
    test_lr_schedule();
    test_clip_grad_norm();
    test_checkpoint_round_trip();
    test_batch_fill();
    return test_finish();
}
