/* attn_kernels.h — attention of one query row over an F16 KV cache, computed
 * the two ways llama.cpp's CPU backend computes it (its flash-attention
 * kernels, which it uses by default), so that Keep's results follow the
 * reference outputs to the last bit where possible:
 *
 *  - vec: the query is rounded to f16, keys are visited one by one with an
 *    online softmax, and the weighted sum of values is kept in an f16
 *    accumulator, rounded after every key. llama.cpp takes this path for a
 *    micro-batch of fewer than 64 query rows (generation, short prompts).
 *  - tiled: the query stays f32; keys go in tiles of 64 aligned to position
 *    0, each tile's scores are fused multiply-add chains over the head
 *    dimension, the softmax is rescaled per tile and the value sum is an f32
 *    fused multiply-add chain over keys. llama.cpp's path for micro-batches
 *    of 64 rows or more.
 *
 * Both portable C and AVX2+F16C+FMA, chosen by CPU level (cpu.h); the two
 * give bit-identical results (same operations in the same order; the C code
 * uses fmaf where the vector code fuses). Internal to infer/. */
#ifndef KEEP_INFER_ATTN_KERNELS_H
#define KEEP_INFER_ATTN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Keys per tile of the tiled path. */
#define INFER__ATT_TILE 64
/* Largest head size the kernels accept (model.c caps it the same). */
#define INFER__ATT_MAX_DIM 1024

/* out[0..dv) = softmax(scale * q.K[p]) weighted sum of V[p] over the keys
 * p < n_keys; K rows have dk halves, V rows dv halves, both contiguous.
 * n_keys >= 1, dk and dv <= INFER__ATT_MAX_DIM. */
typedef void (*infer__attend_fn)(const float *q, const uint16_t *K, const uint16_t *V,
                                 size_t n_keys, size_t dk, size_t dv, float scale, float *out);

/* Most queries one tiled_many call takes. */
#define INFER__ATT_MANY_MAX 256

/* The tiled path for n_q <= INFER__ATT_MANY_MAX queries over the same K and
 * V (one KV head): out[r] gets exactly what tiled(q[r], K, V, n_keys[r], ...)
 * gives, bit for bit, but each F16 tile is converted once for all queries.
 * scratch holds INFER__ATT_TILE * (dk + dv) floats. */
typedef void (*infer__attend_many_fn)(size_t n_q, const float *const *q, const size_t *n_keys,
                                      float *const *out, const uint16_t *K, const uint16_t *V, size_t dk,
                                      size_t dv, float scale, float *scratch);

typedef struct infer__attn_kernels {
    infer__attend_fn vec;        /* llama.cpp's one-row path */
    infer__attend_fn tiled;      /* llama.cpp's tiled path */
    infer__attend_many_fn tiled_many; /* the tiled path, many queries at once */
} infer__attn_kernels;

/* Kernels for the CPU level currently selected (infer_cpu_level()). Call it
 * per job, not once per process: tests switch levels. */
infer__attn_kernels infer__attn_kernels_get(void);

#endif
