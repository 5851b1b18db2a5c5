/* attn_kernels.h — the two float kernels attention needs over an F16 KV cache
 * (kernels.h covers the weight products): dot products of an f32 query with
 * f16 key rows, and weighted sums of f16 value rows. Chosen by CPU level
 * (cpu.h): AVX2+F16C+FMA, or portable C through a 64 K-entry f16 table.
 * Internal to infer/. */
#ifndef KEEP_INFER_ATTN_KERNELS_H
#define KEEP_INFER_ATTN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct infer__attn_kernels {
    float (*dot)(const float *x, const uint16_t *y, size_t n);
    void (*axpy)(float *acc, float w, const uint16_t *y, size_t n);
    /* out[p] = dot(q, K row p) for p < n_keys; rows of d halves, contiguous */
    void (*scores)(const float *q, const uint16_t *K, size_t n_keys, size_t d, float *out);
    /* out[0..d) = sum_p w[p] * V row p, for p < n_keys */
    void (*wsum)(float *out, const float *w, const uint16_t *V, size_t n_keys, size_t d);
} infer__attn_kernels;

/* Kernels for the CPU level currently selected (infer_cpu_level()). Call it
 * per job, not once per process: tests switch levels. */
infer__attn_kernels infer__attn_kernels_get(void);

#endif
