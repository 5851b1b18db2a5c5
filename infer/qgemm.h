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
 * dot kernels).
 *
 * Float-order contract (issue #7; every GEMM of every level, present and
 * future, must follow it): out[i][r] must be bit-equal to what the dot
 * kernel of the SAME level (kernels_<level>.c, k->dot / k->dotq) returns for
 * row r and token i; tests/test_qgemm.c is to compare them with ==, not a
 * tolerance. Integer sums are exact in any order; only the float steps
 * matter, and they are the dot kernels', i.e. llama.cpp's CPU order:
 * - q4_0/q5_0/q8_0 (x q8_0): per 32-element block the products are summed
 *   in int32 per vector lane (8 lanes of 4 products each at 256 bits), each
 *   lane converted to float and fma'd with the f32 product d_w * d_a into a
 *   per-lane float accumulator, blocks in order in one chain (q4_0: even
 *   and odd blocks in two chains), as kernels_x86.h's KX_LEGACY_STEP does;
 *   one horizontal sum (kx_hsum) at the very end. NOTE: the AVX-512 dotq
 *   (kernels_avx512.c KZ_LEGACYQ) today spreads blocks 4q..4q+3 over four
 *   lane groups instead: it differs from the AVX2 order and is a suspect
 *   for the unexplained tiny-llama3-q8_0 p4 avx512 exception (unverified).
 *   A GEMM that folds a block's 8 lanes into one int before converting
 *   does NOT follow it (the current qgemm_*.c do fold: not yet compliant).
 * - q4_K/q5_K (x q8_K): per 256-element super-block, each 32-element
 *   sub-block's int sum times its 6-bit scale, added in int32 per lane
 *   (8 lanes); converted once and fma'd with d_w * d_a (f32) into an 8-lane
 *   accumulator; the min term sum(mn * bsums) in int, then q4_K: fnmadd with
 *   dmin_w * d_a into the same accumulator, q5_K: a scalar fmaf chain
 *   added after the final horizontal sum.
 * - q6_K: like q4_K without the min term (scales signed, q - 32 folded in).
 * - scalar level: the plain sequential loops of kernels.c.
 * Where the SIMD layout makes this too costly, the GEMM must decline
 * (KEEP_ERR_UNSUPPORTED) rather than compute a different order. */
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
