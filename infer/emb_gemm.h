/* emb_gemm.h — the float matrix product behind batched encoder passes
 * (infer/bert.c), and the GELU, softmax and layer norm they need. Internal to infer/.
 *
 * An encoder pass multiplies every weight matrix by the hidden states of all
 * tokens of a batch at once (hundreds to thousands of rows), so the product is
 * compute-bound: weights are dequantized once per call into float panels of
 * INFER__GEMM_NR columns, and a register-tiled kernel (rows x 32 columns of
 * accumulators) runs the activation rows over them in cache-sized blocks.
 * Activations stay float (no activation quantization). The kernel level
 * follows infer_cpu_level() (cpu.h): portable C, AVX2+FMA, or AVX-512.
 *
 * Shapes: out[i * ldo + j] = bias[j] + sum_e a[i * lda + e] * B(e, j) for
 * i < m and columns j in [c0, c1), where B is either
 *   - weight rows: row j of a GGUF matrix (k elements of any type
 *     infer_can_dequantize accepts), B(e, j) = W[j][e]; or
 *   - a float matrix stored e-major: B(e, j) = b[e * ldb + j]. */
#ifndef KEEP_INFER_EMB_GEMM_H
#define KEEP_INFER_EMB_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Columns per packed panel: the kernel's tile width. */
#define INFER__GEMM_NR 32
/* Panels packed per pass over the activations (bounds the scratch). */
#define INFER__GEMM_GROUP 8

typedef struct infer__gemm_b {
    int rowmajor_f32;  /* 0: weight rows (type, data, row_bytes); 1: b, ldb */
    uint32_t type;     /* infer_type id of the weight rows */
    const char *data;  /* weight row 0 */
    size_t row_bytes;  /* bytes from one weight row to the next */
    const float *b;    /* e-major float matrix */
    size_t ldb;
    size_t k;          /* shared dimension */
    size_t n;          /* columns of B (weight rows) */
} infer__gemm_b;

/* Floats of scratch one infer__gemm call needs for a B with shared
 * dimension k (per thread; reuse it across calls). */
size_t infer__gemm_scratch_floats(size_t k);

/* What to apply to each output after the bias. */
#define INFER__ACT_NONE 0
#define INFER__ACT_GELU 1

/* Columns [c0, c1) of the product described above (c1 <= b->n), single
 * threaded: callers split columns between threads in multiples of
 * INFER__GEMM_NR. bias (b->n floats) may be NULL. scratch holds
 * infer__gemm_scratch_floats(b->k) floats. B's weight type must be
 * dequantizable (checked when the model is loaded). */
void infer__gemm(const infer__gemm_b *b, size_t c0, size_t c1, const float *a, size_t lda,
                 size_t m, const float *bias, float *out, size_t ldo, float *scratch, int act);

/* x[i] = GELU(x[i]) in its tanh form, x * sigmoid(2 * sqrt(2/pi) * (x +
 * 0.044715 x^3)), as BERT-family GGUF models are run. */
void infer__vgelu(float *x, size_t n);

/* x[0..d) = LayerNorm(x + add) * w + b (add may be NULL): mean and
 * variance over the d elements, eps added to the variance. */
void infer__layer_norm(float *x, const float *add, size_t d, const float *w, const float *b,
                       float eps);

/* x[0..n) = softmax(x * scale). */
void infer__softmax(float *x, size_t n, float scale);

#endif
