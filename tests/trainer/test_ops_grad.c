/* Gradient checks of every kernel in ops.c. Each op has a float64 reference forward here,
 * and the float kernel's forward must match it. The float backward must match central
 * finite differences of sum(dy * f(x)) computed on the float64 reference. Step: 1e-6.
 * Tolerance: 1e-4 x max(1, |numeric gradient|), which float32 rounding of the analytic
 * backward stays well inside while a wrong formula misses by far more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops.h"
#include "rng.h"

#define STEP 1e-6
#define TOL  1e-4

static struct rng rng;

static void fill(float *f, double *d, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) {
        f[i] = scale * rng_normal(&rng);
        if (d != NULL)
            d[i] = f[i];
    }
}

static double (*loss_fn)(void);

/* Central difference of loss_fn with respect to p[i]. */
static double numeric(double *p, size_t i)
{
    double keep = p[i], up, down;

    p[i] = keep + STEP;
    up = loss_fn();
    p[i] = keep - STEP;
    down = loss_fn();
    p[i] = keep;
    return (up - down) / (2 * STEP);
}

/* Compares an analytic float gradient with finite differences over every element; returns
 * the count of mismatches and prints the first. */
static int compare(const char *label, const float *analytic, double *p, size_t n)
{
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        double num = numeric(p, i), tol = TOL * (fabs(num) > 1 ? fabs(num) : 1);

        if (fabs(num - analytic[i]) > tol && bad++ == 0)
            printf("# %s[%zu]: analytic %.9g, numeric %.9g\n", label, i, analytic[i], num);
    }
    return bad;
}

/* ---- RMSNorm: y = w * x / sqrt(mean(x^2) + eps) ---- */
enum { RN = 3, RC = 8 };
static double rx[RN * RC], rw[RC], rdy[RN * RC];

static double rmsnorm_loss(void)
{
    double s = 0;

    for (int i = 0; i < RN; i++) {
        double ms = 0;

        for (int j = 0; j < RC; j++)
            ms += rx[i * RC + j] * rx[i * RC + j];
        ms = 1 / sqrt(ms / RC + 1e-5);
        for (int j = 0; j < RC; j++)
            s += rdy[i * RC + j] * rw[j] * rx[i * RC + j] * ms;
    }
    return s;
}

static void check_rmsnorm(void)
{
    float x[RN * RC], w[RC], dy[RN * RC], y[RN * RC], rstd[RN], dx[RN * RC] = {0};
    double ref_y = 0;

    fill(x, rx, RN * RC, 1.0f);
    fill(w, rw, RC, 1.0f);
    fill(dy, rdy, RN * RC, 1.0f);
    ops_rmsnorm_forward(y, rstd, x, w, RN, RC, 1e-5f);
    for (int i = 0; i < RN * RC; i++)
        ref_y += dy[i] * y[i];
    loss_fn = rmsnorm_loss;
    CHECK_NEAR(ref_y, rmsnorm_loss(), 1e-5);
    ops_rmsnorm_backward(dx, dy, x, rstd, w, RN, RC);
    CHECK_EQ_INT(compare("rmsnorm dx", dx, rx, RN * RC), 0);
}

/* ---- linear + LoRA: y = x W^T + b + s (x A^T) B^T ---- */
enum { LN = 4, LIN = 6, LOUT = 5, LR = 3 };
static double lx[LN * LIN], lW[LOUT * LIN], lb[LOUT], lA[LR * LIN], lB[LOUT * LR], ldy[LN * LOUT];
static const double lscale = 1.5;

static double linear_loss(void)
{
    double s = 0;

    for (int i = 0; i < LN; i++) {
        double h[LR];

        for (int r = 0; r < LR; r++) {
            h[r] = 0;
            for (int j = 0; j < LIN; j++)
                h[r] += lx[i * LIN + j] * lA[r * LIN + j];
        }
        for (int o = 0; o < LOUT; o++) {
            double y = lb[o];

            for (int j = 0; j < LIN; j++)
                y += lx[i * LIN + j] * lW[o * LIN + j];
            for (int r = 0; r < LR; r++)
                y += lscale * h[r] * lB[o * LR + r];
            s += ldy[i * LOUT + o] * y;
        }
    }
    return s;
}

static void check_linear_lora(void)
{
    float x[LN * LIN], W[LOUT * LIN], b[LOUT], A[LR * LIN], B[LOUT * LR], dy[LN * LOUT];
    float y[LN * LOUT], h[LN * LR], dh[LN * LR], dx[LN * LIN], dA[LR * LIN] = {0};
    float dB[LOUT * LR] = {0};
    double ref_y = 0;

    fill(x, lx, LN * LIN, 1.0f);
    fill(W, lW, LOUT * LIN, 1.0f);
    fill(b, lb, LOUT, 1.0f);
    fill(A, lA, LR * LIN, 1.0f);
    fill(B, lB, LOUT * LR, 1.0f);
    fill(dy, ldy, LN * LOUT, 1.0f);
    ops_linear_forward(y, x, W, b, LN, LIN, LOUT);
    ops_lora_forward(y, h, x, A, B, (float)lscale, LN, LIN, LOUT, LR);
    for (int i = 0; i < LN * LOUT; i++)
        ref_y += dy[i] * y[i];
    loss_fn = linear_loss;
    CHECK_NEAR(ref_y, linear_loss(), 1e-4);
    ops_linear_backward(dx, dy, W, LN, LIN, LOUT, 0.0f);
    ops_lora_backward(dx, dA, dB, dh, dy, x, h, A, B, (float)lscale, LN, LIN, LOUT, LR);
    CHECK_EQ_INT(compare("linear+lora dx", dx, lx, LN * LIN), 0);
    CHECK_EQ_INT(compare("lora dA", dA, lA, LR * LIN), 0);
    CHECK_EQ_INT(compare("lora dB", dB, lB, LOUT * LR), 0);
    /* Accumulation: a second backward doubles dA. */
    ops_lora_backward(NULL, dA, dB, dh, dy, x, h, A, B, (float)lscale, LN, LIN, LOUT, LR);
    CHECK_NEAR(dA[0], 2 * numeric(lA, 0), 2 * TOL * (1 + fabs(dA[0])));
}

/* ---- RoPE (rotate_half) over b=2 sequences of t=3, 2 heads of 4 ---- */
enum { PB = 2, PT = 3, PH = 2, PD = 4 };
static double px[PB * PT * PH * PD], pdy[PB * PT * PH * PD];
static float pcos[PT * PD / 2], psin[PT * PD / 2];

static double rope_loss(void)
{
    double s = 0;

    for (int row = 0; row < PB * PT; row++) {
        for (int h = 0; h < PH; h++) {
            const double *x = px + (row * PH + h) * PD;
            const double *dy = pdy + (row * PH + h) * PD;

            for (int i = 0; i < PD / 2; i++) {
                double c = pcos[(row % PT) * PD / 2 + i], sn = psin[(row % PT) * PD / 2 + i];

                s += dy[i] * (x[i] * c - x[i + PD / 2] * sn);
                s += dy[i + PD / 2] * (x[i + PD / 2] * c + x[i] * sn);
            }
        }
    }
    return s;
}

static void check_rope(void)
{
    enum { N = PB * PT * PH * PD };
    float x[N], dy[N], inv[PD / 2] = {1.0f, 0.1f};
    double ref_y = 0;

    ops_rope_table(pcos, psin, inv, 0, PT, PD);
    fill(x, px, N, 1.0f);
    fill(dy, pdy, N, 1.0f);
    ops_rope(x, PB, PT, PH, PD, pcos, psin, 0);
    for (int i = 0; i < N; i++)
        ref_y += dy[i] * x[i];
    loss_fn = rope_loss;
    CHECK_NEAR(ref_y, rope_loss(), 1e-5);
    /* The backward is the inverse rotation applied to dy. */
    ops_rope(dy, PB, PT, PH, PD, pcos, psin, 1);
    CHECK_EQ_INT(compare("rope dx", dy, px, N), 0);
}

/* ---- causal GQA attention: b=2, t=5, 4 query heads, 2 kv heads, hd=4 ---- */
enum { AB = 2, AT = 5, ANH = 4, ANKV = 2, AD = 4 };
enum { AQ = AB * AT * ANH * AD, AK = AB * AT * ANKV * AD };
static double aq[AQ], ak[AK], av[AK], ady[AQ];
static int awindow;

static double attention_loss(void)
{
    double s = 0, c = 1 / sqrt((double)AD);

    for (int b = 0; b < AB; b++) {
        for (int h = 0; h < ANH; h++) {
            int kh = h / (ANH / ANKV);

            for (int i = 0; i < AT; i++) {
                const double *q = aq + ((b * AT + i) * ANH + h) * AD;
                double sc[AT], mx = -1e300, sum = 0;
                int lo = awindow > 0 && i + 1 > awindow ? i + 1 - awindow : 0;

                for (int j = lo; j <= i; j++) {
                    const double *k = ak + ((b * AT + j) * ANKV + kh) * AD;

                    sc[j] = 0;
                    for (int e = 0; e < AD; e++)
                        sc[j] += c * q[e] * k[e];
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int j = lo; j <= i; j++)
                    sum += exp(sc[j] - mx);
                for (int j = lo; j <= i; j++) {
                    const double *v = av + ((b * AT + j) * ANKV + kh) * AD;
                    const double *dy = ady + ((b * AT + i) * ANH + h) * AD;

                    for (int e = 0; e < AD; e++)
                        s += dy[e] * exp(sc[j] - mx) / sum * v[e];
                }
            }
        }
    }
    return s;
}

static void check_attention(int window)
{
    float q[AQ], k[AK], v[AK], dy[AQ], out[AQ], lse[AB * ANH * AT], dq[AQ], dk[AK], dv[AK];
    double ref_y = 0;

    awindow = window;
    fill(q, aq, AQ, 1.0f);
    fill(k, ak, AK, 1.0f);
    fill(v, av, AK, 1.0f);
    fill(dy, ady, AQ, 1.0f);
    CHECK_EQ_INT(ops_attention_forward(out, lse, q, k, v, AB, AT, ANH, ANKV, AD, window), 0);
    for (int i = 0; i < AQ; i++)
        ref_y += dy[i] * out[i];
    loss_fn = attention_loss;
    CHECK_NEAR(ref_y, attention_loss(), 1e-4);
    ops_attention_backward(dq, dk, dv, dy, out, q, k, v, lse, AB, AT, ANH, ANKV, AD, window);
    CHECK_EQ_INT(compare("attention dq", dq, aq, AQ), 0);
    CHECK_EQ_INT(compare("attention dk", dk, ak, AK), 0);
    CHECK_EQ_INT(compare("attention dv", dv, av, AK), 0);
}

/* ---- SwiGLU: act = silu(g) * u ---- */
enum { SN = 12 };
static double sg[SN], su[SN], sdy[SN];

static double swiglu_loss(void)
{
    double s = 0;

    for (int i = 0; i < SN; i++)
        s += sdy[i] * sg[i] / (1 + exp(-sg[i])) * su[i];
    return s;
}

static void check_swiglu(void)
{
    float g[SN], u[SN], dy[SN], act[SN], dg[SN], du[SN];
    double ref_y = 0;

    fill(g, sg, SN, 2.0f);
    fill(u, su, SN, 1.0f);
    fill(dy, sdy, SN, 1.0f);
    ops_swiglu_forward(act, g, u, SN);
    for (int i = 0; i < SN; i++)
        ref_y += dy[i] * act[i];
    loss_fn = swiglu_loss;
    CHECK_NEAR(ref_y, swiglu_loss(), 1e-5);
    ops_swiglu_backward(dg, du, dy, g, u, SN);
    CHECK_EQ_INT(compare("swiglu dg", dg, sg, SN), 0);
    CHECK_EQ_INT(compare("swiglu du", du, su, SN), 0);
}

/* ---- cross-entropy over 3 rows of 7 logits, the middle row ignored ---- */
enum { CN = 3, CV = 7 };
static double cz[CN * CV];
static const int32_t ctargets[CN] = {2, -100, 6};

static double ce_loss(void)
{
    double s = 0;

    for (int i = 0; i < CN; i++) {
        double mx = -1e300, sum = 0;

        if (ctargets[i] < 0)
            continue;
        for (int j = 0; j < CV; j++)
            mx = cz[i * CV + j] > mx ? cz[i * CV + j] : mx;
        for (int j = 0; j < CV; j++)
            sum += exp(cz[i * CV + j] - mx);
        s += mx + log(sum) - cz[i * CV + ctargets[i]];
    }
    return s;
}

static void check_cross_entropy(void)
{
    float z[CN * CV], dz[CN * CV];
    double loss;

    fill(z, cz, CN * CV, 3.0f);
    loss_fn = ce_loss;
    loss = ops_cross_entropy(dz, z, ctargets, CN, CV, 1.0f);
    CHECK_NEAR(loss, ce_loss(), 1e-5);
    CHECK_EQ_INT(compare("cross-entropy dz", dz, cz, CN * CV), 0);
    /* In place (dlogits == logits) gives the same gradient. */
    CHECK_NEAR(ops_cross_entropy(z, z, ctargets, CN, CV, 1.0f), loss, 1e-6);
    CHECK(memcmp(z, dz, sizeof(z)) == 0);
}

/* ---- embedding gather, with a repeated id ---- */
enum { EV = 5, EC = 3, EN = 4 };
static double etable[EV * EC], edy[EN * EC];
static const int32_t eids[EN] = {3, 0, 3, 4};

static double embedding_loss(void)
{
    double s = 0;

    for (int i = 0; i < EN; i++)
        for (int c = 0; c < EC; c++)
            s += edy[i * EC + c] * etable[eids[i] * EC + c];
    return s;
}

static void check_embedding(void)
{
    float table[EV * EC], dy[EN * EC], out[EN * EC], dtable[EV * EC] = {0};

    fill(table, etable, EV * EC, 1.0f);
    fill(dy, edy, EN * EC, 1.0f);
    ops_embedding_forward(out, eids, table, EN, EC);
    CHECK(memcmp(out + 2 * EC, table + 3 * EC, EC * sizeof(float)) == 0);
    ops_embedding_backward(dtable, dy, eids, EN, EC);
    loss_fn = embedding_loss;
    CHECK_EQ_INT(compare("embedding dtable", dtable, etable, EV * EC), 0);
}

/* ops_gemm splits large products across threads by rows or by columns of C; each of the
 * four transpose cases, split both ways, must match a float64 product. */
static void check_gemm(int M, int N, int K)
{
    float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
    float *C = malloc((size_t)M * N * sizeof(float));
    int bad = 0;

    fill(A, NULL, (size_t)M * K, 1.0f);
    fill(B, NULL, (size_t)K * N, 1.0f);
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < M * N; i++)
                C[i] = 1.0f;
            ops_gemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 0.5f,
                     A, ta ? M : K, B, tb ? K : N, 2.0f, C, N);
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    double want = 2.0;

                    for (int k = 0; k < K; k++)
                        want += 0.5 * (double)(ta ? A[k * M + i] : A[i * K + k]) *
                                (double)(tb ? B[j * K + k] : B[k * N + j]);
                    bad += fabs(C[i * N + j] - want) > 1e-4 * (1 + fabs(want));
                }
            }
        }
    }
    printf("# gemm %d x %d x %d\n", M, N, K);
    CHECK_EQ_INT(bad, 0);
    free(A);
    free(B);
    free(C);
}

/* ---- the exponential inside softmax, cross-entropy and SiLU ---- */
/* ops.c computes e^x with its own vectorized polynomial. The probability a two-logit row
 * [0, x] gives its second token is e^x / (1 + e^x), so it shows the error of e^x over the whole
 * range the kernels use (x <= 0), to within 2 ulp plus the division's rounding. */
static void check_exp_accuracy(void)
{
    const int32_t target[1] = {0};
    double worst = 0;
    float z[2], dz[2], act[4];
    const float g[4] = {-100.0f, -20.0f, 20.0f, 100.0f}, u[4] = {1.0f, 1.0f, 1.0f, 1.0f};

    for (double x = -87.0; x <= 0.0; x += 0.0371) {
        double want, rel;

        z[0] = 0.0f;
        z[1] = (float)x;
        want = exp((double)z[1]) / (1.0 + exp((double)z[1]));
        ops_cross_entropy(dz, z, target, 1, 2, 1.0f);
        rel = fabs(dz[1] - want) / want;
        worst = rel > worst ? rel : worst;
    }
    printf("# worst relative error of softmax probabilities: %.3g\n", worst);
    CHECK(worst < 4e-7);
    /* Far below the normal range the probability is 0. */
    z[1] = -90.0f;
    ops_cross_entropy(dz, z, target, 1, 2, 1.0f);
    CHECK(dz[1] == 0.0f);
    /* A NaN logit makes the loss NaN, which stops training. */
    z[1] = NAN;
    CHECK(isnan(ops_cross_entropy(dz, z, target, 1, 2, 1.0f)));
    /* SiLU at large |x|: 0 on the left, x on the right, never NaN. */
    ops_swiglu_forward(act, g, u, 4);
    CHECK(fabsf(act[0]) < 1e-30f);
    CHECK_NEAR(act[1], -20.0 / (1.0 + exp(20.0)), 1e-12);
    CHECK_NEAR(act[2], 20.0 / (1.0 + exp(-20.0)), 1e-5);
    CHECK(act[3] == 100.0f);
}

int main(void)
{
    rng_seed(&rng, 42);
    check_embedding();
    check_rmsnorm();
    check_linear_lora();
    check_rope();
    check_attention(0);
    check_attention(3);
    check_swiglu();
    check_cross_entropy();
    check_exp_accuracy();
    check_gemm(300, 40, 30);
    check_gemm(3, 400, 300);
    check_gemm(7, 9, 5);
    return test_finish();
}
