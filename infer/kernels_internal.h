/* kernels_internal.h — the table of kernels one CPU level provides; shared by
 * kernels.c (scalar + dispatch), kernels_avx2.c and kernels_avx512.c. Internal
 * to infer/. */
#ifndef KEEP_INFER_KERNELS_INTERNAL_H
#define KEEP_INFER_KERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "qgemm.h"
#include "ggml_types.h"

/* Activation rows one dot call handles at most (the matmul tile height). */
#define INFER__MAX_NA 4

/* out[j] = dot(weight row w, activation row j) for j < na (1..INFER__MAX_NA);
 * activation row j starts at (const char *)a + j * a_stride. n is the row
 * length in elements, a whole number of weight blocks. */
typedef void (*infer__dot_fn)(size_t n, const void *w, const void *a, size_t a_stride, int na,
                              float *out);

/* For 32-element block weights: the same product with the activation block
 * scales pre-converted to floats by the caller. ad[j * ads + b] is d of
 * block b of activation row j; asum (q8_1 activations only, else NULL) holds
 * s the same way. Lets the kernel skip an f16 decode per block and row. */
typedef void (*infer__dotq_fn)(size_t n, const void *w, const void *a, size_t a_stride, int na,
                               const float *ad, const float *asum, size_t ads, float *out);

/* Quantizes n floats (whole blocks) into an activation format. */
typedef void (*infer__act_fn)(const float *x, void *dst, size_t n);

typedef struct infer__kernels {
    infer__dot_fn dot[INFER_T_COUNT];   /* by weight type */
    infer__dotq_fn dotq[INFER_T_COUNT]; /* optional, 32-element block types */
    infer__act_fn act[INFER_T_COUNT];   /* by activation type: Q8_0, Q8_1, Q8_K */
    infer__qgemm_fn gemm[INFER_T_COUNT]; /* optional prompt-phase GEMM (qgemm.h) */
    void (*to_f16)(const float *x, uint16_t *y, size_t n);
    void (*from_f16)(const uint16_t *x, float *y, size_t n);
} infer__kernels;

/* Each fills the entries it implements and leaves the others alone, so a
 * level is built as scalar, then avx2 over it, then avxvnni or avx512 over
 * that. */
void infer__kernels_scalar(infer__kernels *k);
void infer__kernels_avx2(infer__kernels *k);
void infer__kernels_avxvnni(infer__kernels *k);
void infer__kernels_avx512(infer__kernels *k);

/* Builds the table for a level; called by cpu.c under its once-guard or by
 * infer_cpu_set_level. */
void infer__kernels_select(int level);

#endif
