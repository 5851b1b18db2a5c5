/* attn_kernels.h — the two float kernels attention needs over an F16 KV cache
 * (kernels.h covers the weight products): a dot product of an f32 query with
 * an f16 key row, and acc += w * (f16 value row). Chosen by CPU level
 * (cpu.h): AVX2+F16C+FMA, or portable C through a 64 K-entry f16 table.
 * Internal to infer/. */
#ifndef KEEP_INFER_ATTN_KERNELS_H
#define KEEP_INFER_ATTN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct infer__attn_kernels {
    float (*dot)(const float *x, const uint16_t *y, size_t n);
    void (*axpy)(float *acc, float w, const uint16_t *y, size_t n);
} infer__attn_kernels;

/* Kernels for the CPU level currently selected (infer_cpu_level()). Call it
 * per job, not once per process: tests switch levels. */
infer__attn_kernels infer__attn_kernels_get(void);

#endif
