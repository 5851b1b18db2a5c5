/* kernels.h — the dot products and matrix product the model code runs, with
 * the activation quantizer they need. Every call dispatches on the CPU level
 * chosen at start-up (cpu.h): scalar C, AVX2, or AVX-512 with VNNI.
 *
 * Shapes: a weight matrix W has `rows` rows of k elements of type wtype, stored
 * row after row, each infer_type_row_bytes(wtype, k) bytes. An activation
 * matrix A has m rows of k floats that are first quantized row by row with
 * infer_quantize_act into infer_act_type(wtype) (each row
 * infer_act_row_bytes(wtype, k) bytes). The product is out[i][r] =
 * sum_e W[r][e] * A[i][e], an m x rows matrix, row-major with leading
 * dimension ldo (ldo >= rows).
 *
 * Kernels per level (cpu.h): scalar C for every type; avx2 and avxvnni run
 * 256-bit kernels for every type (avxvnni fuses the int8 products with
 * vpdpbusd/vpdpwssd); avx512 adds 512-bit kernels for f32/f16/bf16, q2_K to
 * q6_K and the matmul of q4_0/q4_1/q5_0/q5_1/q8_0, and runs the rest as
 * 256-bit EVEX-VNNI code. Results agree with the scalar reference to float
 * rounding (the integer parts are exact); activation bytes are identical.
 *
 * Typical use, one row range per thread:
 *   size_t arb = infer_act_row_bytes(wt, k);          (scratch: m * arb bytes)
 *   infer_quantize_act_rows(wt, x, k, m, scratch, k); (once per product)
 *   infer_matmul(wt, W, k, r0, r1, scratch, m, out, rows);
 * Activation rows must come from infer_quantize_act(_rows): the SIMD kernels
 * rely on its 8-bit values staying within +-127. */
#ifndef KEEP_INFER_KERNELS_H
#define KEEP_INFER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ggml_types.h"

/* Activation format a weight type's dot product takes: INFER_T_Q8_0 for
 * q4_0/q5_0/q8_0, INFER_T_Q8_1 for q4_1/q5_1, INFER_T_Q8_K for the K-quants,
 * INFER_T_F32 for f32/f16/bf16 weights; INFER_T_COUNT when wtype has no
 * kernel. */
uint32_t infer_act_type(uint32_t wtype);

/* Bytes of one quantized activation row of k elements; 0 when unsupported
 * or k is not a whole number of the activation type's blocks. */
size_t infer_act_row_bytes(uint32_t wtype, size_t k);

/* Quantizes one activation row of k floats for weights of type wtype (fast
 * path of the current CPU level; inputs must be finite). dst holds
 * infer_act_row_bytes(wtype, k) bytes, aligned to 4. KEEP_ERR_UNSUPPORTED /
 * KEEP_ERR_USAGE as infer_quantize_row. */
int infer_quantize_act(uint32_t wtype, const float *x, void *dst, size_t k);

/* Quantizes m activation rows: row i is x + i * ldx floats and goes to
 * (char *)dst + i * infer_act_row_bytes(wtype, k). Same rules as above. */
int infer_quantize_act_rows(uint32_t wtype, const float *x, size_t ldx, size_t m, void *dst,
                            size_t k);

/* fp16 rows (e.g. a KV cache): same results as infer_f32_to_f16 /
 * infer_f16_to_f32 element by element (round half to even), with F16C when
 * the CPU has it. Any n, no alignment needed. */
void infer_f32_to_f16_row(const float *x, uint16_t *y, size_t n);
void infer_f16_to_f32_row(const uint16_t *x, float *y, size_t n);

/* *out = dot(weight row w, quantized activation row a), both of k elements. */
int infer_vec_dot(uint32_t wtype, size_t k, const void *w, const void *a, float *out);

/* Rows [r0, r1) of the product described at the top of this file:
 * for i < m, r0 <= r < r1: out[i * ldo + r] = dot(W row r, A row i).
 * w points at row 0 of W (not row r0), a at row 0 of the quantized A.
 * Single-threaded; a thread pool gives each thread its own row range. For
 * m > 1 each weight block is decoded once for up to 4 activation rows and a
 * block of weight rows is kept hot in cache across all of A; for larger
 * tiles (m >= 8, 16 rows or more) levels with a GEMM (qgemm.h: AVX-512 VNNI
 * for q4_0/q5_0/q8_0/q4_K/q6_K) repack groups of rows and run register tiles of rows
 * x tokens instead (if the GEMM cannot run, e.g. out of memory for its
 * scratch, the dot kernels do the product).
 * KEEP_ERR_UNSUPPORTED for a type without kernel, KEEP_ERR_USAGE for a bad
 * shape (k not whole blocks, r0 > r1, ldo < r1). */
int infer_matmul(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                 size_t m, float *out, size_t ldo);

/* Activation rows per infer_matmul call that suit the current CPU level and
 * weight type: 64 for the dot kernels (a tile of quantized activations stays
 * in L2 while weight rows stream past), 0 (= all of them in one call) when a
 * prompt-phase GEMM repacks weight rows per call and wants to reuse each
 * repacked group for as many tokens as possible. */
size_t infer_matmul_token_tile(uint32_t wtype);

#endif
