/* qgemm.h — the prompt-phase matrix product (many activation rows at once),
 * internal to infer/. infer_matmul (kernels.h) hands a product to one of these
 * when the CPU level registered a GEMM for the weight type and the tile is
 * big enough (INFER__QGEMM_MIN_M tokens, INFER__QGEMM_MIN_ROWS rows).
 *
 * Why a separate path: the per-row dot kernels decode each weight block for
 * at most four tokens and reduce every (row, token) pair horizontally. The
 * GEMM instead repacks a group of weight rows on the fly (per call, into a
 * small scratch buffer: the weights stay mmapped and are never duplicated as
 * a whole) into an interleaved layout where one vector holds the same four
 * elements of 16 rows, so one broadcast activation word feeds 16 rows at
 * once and the accumulators hold rows in lanes: no horizontal sums, and each
 * repacked group is reused by every token of the call.
 *
 * Same shapes and contract as infer_matmul: out[i * ldo + r] for i < m,
 * r0 <= r < r1; w at row 0, a = m quantized activation rows
 * (infer_quantize_act_rows). Returns KEEP_OK, KEEP_ERR_NOMEM when the
 * scratch cannot be allocated or KEEP_ERR_UNSUPPORTED for rows too long for
 * 32-bit gather offsets (nothing written then; infer_matmul then runs its
 * dot kernels). */
#ifndef KEEP_INFER_QGEMM_H
#define KEEP_INFER_QGEMM_H

#include <stddef.h>
#include <stdint.h>

/* Below these sizes the repacking costs more than it saves. */
#define INFER__QGEMM_MIN_M 8
#define INFER__QGEMM_MIN_ROWS 16

typedef int (*infer__qgemm_fn)(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                              const void *a, size_t m, float *out, size_t ldo);

/* 1 when the scalar reference below handles wtype (the same set every SIMD
 * GEMM handles: q4_0, q5_0, q8_0 with q8_0 activations; q4_K, q6_K with
 * q8_K activations), 0 otherwise. */
int infer__qgemm_supported(uint32_t wtype);

/* Unpacked scales of a q4_K block (sc[0..7], mins mn[0..7], d, dmin) or a
 * q6_K block (sc[0..15] signed, d; mn and dmin unused). Shared by the
 * reference and the SIMD repacking. */
void infer__qgemm_k_scales(uint32_t wtype, const void *blk, int32_t sc[16], int32_t mn[8],
                           float *d, float *dmin);

/* Scalar reference of every GEMM: the same integer sums per block (or per
 * K-quant sub-block) and the same float scaling order as the SIMD kernels,
 * in portable C. KEEP_ERR_UNSUPPORTED when !infer__qgemm_supported(wtype). */
int infer__qgemm_ref(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                    size_t m, float *out, size_t ldo);

/* The 256-bit GEMMs (qgemm_avx2.c: plain AVX2 and AVX-VNNI) for q4_0 /
 * q5_0 / q8_0 only (KEEP_ERR_UNSUPPORTED for the K-quants), and the AVX-512
 * VNNI GEMM (qgemm_avx512.c) for all five types; only called when the CPU
 * has the instructions. */
int infer__qgemm_avx2(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                      size_t m, float *out, size_t ldo);
int infer__qgemm_avxvnni(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                         const void *a, size_t m, float *out, size_t ldo);
int infer__qgemm_avx512(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                       const void *a, size_t m, float *out, size_t ldo);

#endif
