/* ops: the forward and backward kernels of the decoder, on row-major float matrices with
 * one row per token. Matrix products, attention's included, go through OpenBLAS sgemm.
 * Element-wise loops use OpenMP with static schedules and no cross-thread reductions, so
 * a given thread count gives bit-identical results. Backward kernels named *_backward
 * ACCUMULATE into their gradient outputs unless their comment marks them OVERWRITTEN. */
#ifndef TR_OPS_H
#define TR_OPS_H

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>

/** Sets OpenBLAS to one thread (once per process), because ops_gemm threads the products
 * with OpenMP. Called by ops_gemm, model_ctx_new and model_set_threads. */
void ops_threads_init(void);

/** Row-major C = alpha op(A) op(B) + beta C, with the arguments of cblas_sgemm after its
 * layout. Large products are split into blocks of rows (or columns) of C, one sgemm call
 * per OpenMP thread, so the result depends only on the thread count. Call it outside
 * parallel regions. */
void ops_gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
              float alpha, const float *A, int lda, const float *B, int ldb, float beta,
              float *C, int ldc);

/** Gathers rows of table (V, C) for n ids into out (n, C). Ids must be in range. */
void ops_embedding_forward(float *out, const int32_t *ids, const float *table, size_t n,
                           int C);
/** Adds dout (n, C) into the rows of dtable (V, C) selected by ids. */
void ops_embedding_backward(float *dtable, const float *dout, const int32_t *ids, size_t n,
                            int C);

/** out = w * x * rstd with rstd = 1/sqrt(mean(x^2) + eps), per row of x (n, C). out may
 * equal x. rstd (n) is stored for the backward. */
void ops_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, size_t n,
                         int C, float eps);
/** dx += rstd * (g - xhat * mean(g * xhat)) with g = dy * w and xhat = x * rstd. */
void ops_rmsnorm_backward(float *dx, const float *dy, const float *x, const float *rstd,
                          const float *w, size_t n, int C);

/** y = x W^T + bias (overwrites y). x (n, in), W (out, in), bias (out) or NULL. */
void ops_linear_forward(float *y, const float *x, const float *W, const float *bias, size_t n,
                        int in, int out);
/** dx = beta * dx + dy W, with dy (n, out). beta 0 overwrites dx, 1 accumulates. */
void ops_linear_backward(float *dx, const float *dy, const float *W, size_t n, int in, int out,
                         float beta);

/** LoRA branch: h = x A^T (n, r, overwritten) and y += scale * h B^T. */
void ops_lora_forward(float *y, float *h, const float *x, const float *A, const float *B,
                      float scale, size_t n, int in, int out, int r);
/** Backward of ops_lora_forward given dy: dB += scale * dy^T h, dA += dh^T x and
 * dx += dh A with dh = scale * dy B (scratch dh is n x r). dx may be NULL. */
void ops_lora_backward(float *dx, float *dA, float *dB, float *dh, const float *dy,
                       const float *x, const float *h, const float *A, const float *B,
                       float scale, size_t n, int in, int out, int r);

/** Fills cos/sin tables (t, hd/2) for positions pos0 .. pos0 + t - 1 from inv_freq (hd/2). */
void ops_rope_table(float *cos_t, float *sin_t, const float *inv_freq, size_t pos0, size_t t,
                    int hd);
/** Rotates each head of x (b*t rows of nheads*hd) in the rotate_half layout: dimension i
 * pairs with i + hd/2. Row r uses table row r % t. inverse rotates by -angle, which is the
 * backward of the forward rotation. */
void ops_rope(float *x, size_t b, size_t t, int nheads, int hd, const float *cos_t,
              const float *sin_t, int inverse);

/** Causal grouped-query attention of b sequences of t tokens. q (b*t, nh*hd), k and v
 * (b*t, nkv*hd), out (b*t, nh*hd) overwritten, lse (b, nh, t) the row log-sum-exp of the
 * scaled scores kept for the backward. window > 0 limits each query to the window last
 * keys (itself included). Returns -1 when its t x t scratch matrix cannot be
 * allocated. */
int ops_attention_forward(float *out, float *lse, const float *q, const float *k,
                           const float *v, size_t b, size_t t, int nh, int nkv, int hd,
                           int window);
/** Backward of ops_attention_forward: dq, dk and dv are OVERWRITTEN. Returns -1 when its
 * two t x t scratch matrices cannot be allocated. */
int ops_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                            const float *out, const float *q, const float *k, const float *v,
                            const float *lse, size_t b, size_t t, int nh, int nkv, int hd,
                            int window);

/** act = silu(g) * u over n elements. */
void ops_swiglu_forward(float *act, const float *g, const float *u, size_t n);
/** dg and du (OVERWRITTEN) from dact; dg may alias g and du may alias u. */
void ops_swiglu_backward(float *dg, float *du, const float *dact, const float *g,
                         const float *u, size_t n);

/** Computes the cross-entropy of n rows of logits (n, V) against targets, where -100 marks
 * an ignored row and other targets must be in [0, V). Returns the sum of the per-row
 * losses in double. When dlogits is not NULL, it receives grad_scale * (softmax - onehot)
 * per row and zero on ignored rows. dlogits may equal logits. */
double ops_cross_entropy(float *dlogits, const float *logits, const int32_t *targets,
                         size_t n, int V, float grad_scale);

/** y = x + y over n elements (residual add). */
void ops_add(float *y, const float *x, size_t n);

#endif
