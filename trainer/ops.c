/* ops: kernels of the decoder forward and backward passes (see ops.h). Row loops are
 * parallel with static schedules, and every sum runs in a fixed order inside one thread,
 * so results do not depend on scheduling. */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Loops with fewer elements of work than this run on one thread: below it, starting and
 * joining the OpenMP team costs more than the loop, most of all on a busy machine. */
#define OPS_PARALLEL_MIN_WORK 32768

/* True when a loop over n items of unit_work elements each is worth threading. */
#define OPS_PAR(n, unit_work) ((size_t)(n) * (size_t)(unit_work) >= OPS_PARALLEL_MIN_WORK)

/* Products with fewer multiply-adds than this run as one single-threaded sgemm call. */
#define OPS_GEMM_MIN_SPLIT_WORK (1u << 18)

/* Returns e^x in single precision, within 2 ulp for results in the normal range. libm's expf
 * is a call that may set errno, so loops over it run one element at a time. This one is plain
 * arithmetic, which the loops below vectorize with `omp simd`. It splits the argument as
 * x = k ln 2 + r with |r| <= ln(2)/2, takes e^r from a degree-6 polynomial (the Cephes expf
 * coefficients) and builds 2^k in the exponent bits. NaN stays NaN. Above 88 the result is
 * +inf (libm's is finite up to 88.72), and below -87.33 it is 0 (libm's is subnormal). That
 * is harmless here because the kernels pass differences from a maximum, which are never
 * above 0, or SiLU's -x, whose result only enters as 1 / (1 + e^-x). */
#pragma omp declare simd notinbranch
static inline float ops_expf(float x)
{
    int nan = x != x, big = x > 88.0f, tiny = x < -87.33654f;
    float xc = (nan | big | tiny) ? 0.0f : x;
    float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = (xc - k * 0.693359375f) + k * 2.12194440e-4f;            /* ln 2 in two parts */
    float p = 1.9875691500e-4f;
    int32_t bits = ((int32_t)k + 127) * (1 << 23);
    float scale;

    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    memcpy(&scale, &bits, sizeof(scale));
    p *= scale;
    p = big ? INFINITY : p;
    p = tiny ? 0.0f : p;
    return nan ? x : p;
}

void ops_threads_init(void)
{
    static int done;

    /* OpenBLAS's own worker threads spin after each call and then compete with the OpenMP
     * team for the same cores, so OpenBLAS runs single-threaded and ops_gemm threads the
     * products itself. */
    if (!done) {
        openblas_set_num_threads(1);
        done = 1;
    }
}

void ops_gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int nthreads = 1;
    bool split_m;

    ops_threads_init();
#ifdef _OPENMP
    nthreads = omp_get_max_threads();
#endif
    if (nthreads <= 1 || (size_t)M * (size_t)N * (size_t)K < OPS_GEMM_MIN_SPLIT_WORK ||
        (M < 2 * nthreads && N < 2 * nthreads)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Each thread owns a block of rows of C (or of columns when C has few rows), so every
     * element is summed by one sgemm call in a fixed order. */
    split_m = M >= N || M >= 16 * nthreads;
#pragma omp parallel num_threads(nthreads)
    {
#ifdef _OPENMP
        int id = omp_get_thread_num(), team = omp_get_num_threads();
#else
        int id = 0, team = 1;
#endif
        int total = split_m ? M : N;
        int lo = (int)((long long)total * id / team),
            hi = (int)((long long)total * (id + 1) / team);

        if (hi > lo && split_m) {
            const float *a = ta == CblasNoTrans ? A + (size_t)lo * (size_t)lda : A + lo;

            cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                        C + (size_t)lo * (size_t)ldc, ldc);
        } else if (hi > lo) {
            const float *b = tb == CblasNoTrans ? B + lo : B + (size_t)lo * (size_t)ldb;

            cblas_sgemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, b, ldb, beta, C + lo,
                        ldc);
        }
    }
}

static float ops_dot(const float *a, const float *b, int n)
{
    float s = 0.0f;

#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void ops_axpy(float *y, float alpha, const float *x, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

void ops_embedding_forward(float *out, const int32_t *ids, const float *table, size_t n, int C)
{
#pragma omp parallel for schedule(static) if (OPS_PAR(n, C))
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * (size_t)C, table + (size_t)ids[i] * (size_t)C, (size_t)C * sizeof(float));
}

void ops_embedding_backward(float *dtable, const float *dout, const int32_t *ids, size_t n, int C)
{
    /* Columns in parallel: rows sharing an id then add up in row order in one thread. */
#pragma omp parallel for schedule(static) if (OPS_PAR(n, C))
    for (int c = 0; c < C; c++) {
        for (size_t i = 0; i < n; i++)
            dtable[(size_t)ids[i] * (size_t)C + (size_t)c] += dout[i * (size_t)C + (size_t)c];
    }
}

void ops_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t n, int C,
                         float eps)
{
#pragma omp parallel for schedule(static) if (OPS_PAR(n, C))
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * (size_t)C;
        float *yr = out + i * (size_t)C;
        float ms = ops_dot(xr, xr, C) / (float)C;
        float r = 1.0f / sqrtf(ms + eps);

        rstd[i] = r;
        for (int j = 0; j < C; j++)
            yr[j] = w[j] * (xr[j] * r);
    }
}

void ops_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                          const float *w, size_t n, int C)
{
#pragma omp parallel for schedule(static) if (OPS_PAR(n, C))
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * (size_t)C, *dyr = dy + i * (size_t)C;
        float *dxr = dx + i * (size_t)C;
        float r = rstd[i], m = 0.0f;

#pragma omp simd reduction(+ : m)
        for (int j = 0; j < C; j++)
            m += dyr[j] * w[j] * xr[j] * r;
        m /= (float)C;
        for (int j = 0; j < C; j++)
            dxr[j] += r * (dyr[j] * w[j] - xr[j] * r * m);
    }
}

void ops_linear_forward(float *y, const float *x, const float *W, const float *bias, size_t n,
                        int in, int out)
{
    if (n == 0)
        return;
    ops_gemm(CblasNoTrans, CblasTrans, (int)n, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    if (bias == NULL)
        return;
#pragma omp parallel for schedule(static) if (OPS_PAR(n, out))
    for (size_t i = 0; i < n; i++)
        ops_axpy(y + i * (size_t)out, 1.0f, bias, out);
}

void ops_linear_backward(float *dx, const float *dy, const float *W, size_t n, int in, int out,
                         float beta)
{
    if (n == 0)
        return;
    ops_gemm(CblasNoTrans, CblasNoTrans, (int)n, in, out, 1.0f, dy, out, W, in, beta, dx, in);
}

void ops_lora_forward(float *y, float *h, const float *x, const float *A, const float *B,
                      float scale, size_t n, int in, int out, int r)
{
    if (n == 0)
        return;
    ops_gemm(CblasNoTrans, CblasTrans, (int)n, r, in, 1.0f, x, in, A, in, 0.0f, h, r);
    ops_gemm(CblasNoTrans, CblasTrans, (int)n, out, r, scale, h, r, B, r, 1.0f, y, out);
}

void ops_lora_backward(float *dx, float *dA, float *dB, float *dh, const float *dy, const float *x,
                       const float *h, const float *A, const float *B, float scale, size_t n,
                       int in, int out, int r)
{
    if (n == 0)
        return;
    ops_gemm(CblasTrans, CblasNoTrans, out, r, (int)n, scale, dy, out, h, r, 1.0f, dB, r);
    ops_gemm(CblasNoTrans, CblasNoTrans, (int)n, r, out, scale, dy, out, B, r, 0.0f, dh, r);
    ops_gemm(CblasTrans, CblasNoTrans, r, in, (int)n, 1.0f, dh, r, x, in, 1.0f, dA, in);
    if (dx != NULL)
        ops_gemm(CblasNoTrans, CblasNoTrans, (int)n, in, r, 1.0f, dh, r, A, in, 1.0f, dx, in);
}

void ops_rope_table(float *cos_t, float *sin_t, const float *inv_freq, size_t pos0, size_t t,
                    int hd)
{
    int half = hd / 2;

    for (size_t p = 0; p < t; p++) {
        /* HF multiplies float32 positions by float32 inverse frequencies. */
        float pos = (float)(pos0 + p);

        for (int i = 0; i < half; i++) {
            float angle = pos * inv_freq[i];

            cos_t[p * (size_t)half + (size_t)i] = cosf(angle);
            sin_t[p * (size_t)half + (size_t)i] = sinf(angle);
        }
    }
}

void ops_rope(float *x, size_t b, size_t t, int nheads, int hd, const float *cos_t,
              const float *sin_t, int inverse)
{
    int half = hd / 2;
    float sign = inverse ? -1.0f : 1.0f;

#pragma omp parallel for schedule(static) if (OPS_PAR(b * t, nheads * hd))
    for (size_t row = 0; row < b * t; row++) {
        const float *c = cos_t + (row % t) * (size_t)half;
        const float *s = sin_t + (row % t) * (size_t)half;

        for (int h = 0; h < nheads; h++) {
            float *xh = x + row * (size_t)nheads * (size_t)hd + (size_t)h * (size_t)hd;

            for (int i = 0; i < half; i++) {
                float x1 = xh[i], x2 = xh[i + half], sn = sign * s[i];

                xh[i] = x1 * c[i] - x2 * sn;
                xh[i + half] = x2 * c[i] + x1 * sn;
            }
        }
    }
}

static size_t ops_window_start(size_t i, int window)
{
    return (window > 0 && i + 1 > (size_t)window) ? i + 1 - (size_t)window : 0;
}

/* Fills P (t x t) with the attention probabilities of one (sequence, head): the scaled
 * scores from S = q k^T, masked to the causal window, normalised with the row log-sum-exp.
 * With lse_out the row log-sum-exp is computed and stored; otherwise it is read from lse. */
static void ops_attention_probs(float *P, const float *q, const float *k, size_t t, int hd,
                                size_t qs, size_t ks, int window, float *lse_out, const float *lse)
{
    float c = 1.0f / sqrtf((float)hd);

    ops_gemm(CblasNoTrans, CblasTrans, (int)t, (int)t, hd, c, q, (int)qs, k, (int)ks, 0.0f, P,
             (int)t);
#pragma omp parallel for schedule(static) if (OPS_PAR(t, t))
    for (size_t i = 0; i < t; i++) {
        float *row = P + i * t;
        size_t lo = ops_window_start(i, window);
        float l;

        if (lse_out != NULL) {
            float mx = -INFINITY, sum = 0.0f;

            for (size_t j = lo; j <= i; j++)
                mx = row[j] > mx ? row[j] : mx;
#pragma omp simd reduction(+ : sum)
            for (size_t j = lo; j <= i; j++)
                sum += ops_expf(row[j] - mx);
            l = mx + logf(sum);
            lse_out[i] = l;
        } else {
            l = lse[i];
        }
        for (size_t j = 0; j < lo; j++)
            row[j] = 0.0f;
#pragma omp simd
        for (size_t j = lo; j <= i; j++)
            row[j] = ops_expf(row[j] - l);
        for (size_t j = i + 1; j < t; j++)
            row[j] = 0.0f;
    }
}

/* The products run through sgemm one (sequence, head) at a time, so OpenBLAS threads each
 * product and the masked half of the t x t scores is computed and then zeroed. */
int ops_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                          size_t b, size_t t, int nh, int nkv, int hd, int window)
{
    size_t qs = (size_t)nh * (size_t)hd, ks = (size_t)nkv * (size_t)hd;
    int group = nh / nkv;
    float *P = malloc(t * t * sizeof(float));

    if (P == NULL)
        return -1;
    for (size_t bi = 0; bi < b; bi++) {
        for (int h = 0; h < nh; h++) {
            size_t qo = bi * t * qs + (size_t)h * (size_t)hd;
            size_t ko = bi * t * ks + (size_t)(h / group) * (size_t)hd;

            ops_attention_probs(P, q + qo, k + ko, t, hd, qs, ks, window,
                                lse + (bi * (size_t)nh + (size_t)h) * t, NULL);
            ops_gemm(CblasNoTrans, CblasNoTrans, (int)t, hd, (int)t, 1.0f, P, (int)t, v + ko,
                     (int)ks, 0.0f, out + qo, (int)qs);
        }
    }
    free(P);
    return 0;
}

int ops_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *q, const float *k, const float *v, const float *lse,
                           size_t b, size_t t, int nh, int nkv, int hd, int window)
{
    size_t qs = (size_t)nh * (size_t)hd, ks = (size_t)nkv * (size_t)hd;
    int group = nh / nkv;
    float c = 1.0f / sqrtf((float)hd);
    float *P = malloc(t * t * sizeof(float)), *dS = malloc(t * t * sizeof(float));

    if (P == NULL || dS == NULL) {
        free(P);
        free(dS);
        return -1;
    }
    for (size_t bi = 0; bi < b; bi++) {
        for (size_t j = 0; j < t; j++) {
            memset(dk + (bi * t + j) * ks, 0, ks * sizeof(float));
            memset(dv + (bi * t + j) * ks, 0, ks * sizeof(float));
        }
        for (int h = 0; h < nh; h++) {
            size_t qo = bi * t * qs + (size_t)h * (size_t)hd;
            size_t ko = bi * t * ks + (size_t)(h / group) * (size_t)hd;

            ops_attention_probs(P, q + qo, k + ko, t, hd, qs, ks, window, NULL,
                                lse + (bi * (size_t)nh + (size_t)h) * t);
            /* dV += P^T dO and dP = dO V^T (into dS). */
            ops_gemm(CblasTrans, CblasNoTrans, (int)t, hd, (int)t, 1.0f, P, (int)t, dout + qo,
                     (int)qs, 1.0f, dv + ko, (int)ks);
            ops_gemm(CblasNoTrans, CblasTrans, (int)t, (int)t, hd, 1.0f, dout + qo, (int)qs, v + ko,
                     (int)ks, 0.0f, dS, (int)t);
            /* dS = P * (dP - rowsum(dO * O)); masked entries have P = 0. */
#pragma omp parallel for schedule(static) if (OPS_PAR(t, t))
            for (size_t i = 0; i < t; i++) {
                float Di = ops_dot(dout + qo + i * qs, out + qo + i * qs, hd);

                for (size_t j = 0; j < t; j++)
                    dS[i * t + j] = P[i * t + j] * (dS[i * t + j] - Di);
            }
            /* dQ = c dS K and dK += c dS^T Q. */
            ops_gemm(CblasNoTrans, CblasNoTrans, (int)t, hd, (int)t, c, dS, (int)t, k + ko, (int)ks,
                     0.0f, dq + qo, (int)qs);
            ops_gemm(CblasTrans, CblasNoTrans, (int)t, hd, (int)t, c, dS, (int)t, q + qo, (int)qs,
                     1.0f, dk + ko, (int)ks);
        }
    }
    free(P);
    free(dS);
    return 0;
}

void ops_swiglu_forward(float *act, const float *g, const float *u, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_PAR(n, 8))
    for (size_t i = 0; i < n; i++)
        act[i] = g[i] / (1.0f + ops_expf(-g[i])) * u[i];
}

void ops_swiglu_backward(float *dg, float *du, const float *dact, const float *g, const float *u,
                         size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_PAR(n, 8))
    for (size_t i = 0; i < n; i++) {
        float gi = g[i], ui = u[i], da = dact[i];
        float sig = 1.0f / (1.0f + ops_expf(-gi));

        dg[i] = da * ui * sig * (1.0f + gi * (1.0f - sig));
        du[i] = da * gi * sig;
    }
}

double ops_cross_entropy(float *dlogits, const float *logits, const int32_t *targets, size_t n,
                         int V, float grad_scale)
{
    double *row_loss = calloc(n + 1, sizeof(double));
    double total = 0.0;

    if (row_loss == NULL)
        return NAN;
#pragma omp parallel for schedule(static) if (OPS_PAR(n, V))
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * (size_t)V;
        float *dz = dlogits != NULL ? dlogits + i * (size_t)V : NULL;
        float mx = -INFINITY, zt;
        double sum = 0.0;

        if (targets[i] < 0) {
            if (dz != NULL)
                memset(dz, 0, (size_t)V * sizeof(float));
            continue;
        }
        /* Read the target's logit first because dz may alias z. */
        zt = z[targets[i]];
        for (int j = 0; j < V; j++)
            mx = z[j] > mx ? z[j] : mx;
        if (dz != NULL) {
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++) {
                float e = ops_expf(z[j] - mx);

                sum += e;
                dz[j] = e;
            }
        } else {
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < V; j++)
                sum += ops_expf(z[j] - mx);
        }
        row_loss[i] = (double)mx + log(sum) - (double)zt;
        if (dz != NULL) {
            float f = (float)(grad_scale / sum);

            for (int j = 0; j < V; j++)
                dz[j] *= f;
            dz[targets[i]] -= grad_scale;
        }
    }
    for (size_t i = 0; i < n; i++)
        total += row_loss[i];
    free(row_loss);
    return total;
}

void ops_add(float *y, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (OPS_PAR(n, 1))
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}
