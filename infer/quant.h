/* quant.h — Keep's quantized block formats: the on-disk block layouts that GGUF
 * files use (a file format, so the byte layout is fixed), fp16/bf16 scalar
 * conversions, and the scalar reference dequantizers and quantizers.
 *
 * The SIMD dot-product kernels and the matrix API live in kernels.h; this file
 * is the slow, obviously-correct definition they are tested against.
 *
 * All multi-byte fields are little-endian on disk; Keep only targets
 * little-endian hosts (x86-64, aarch64), so the structs are read in place.
 *
 * Block layouts (offset:size in bytes; "f16" is an IEEE half in a uint16_t).
 * 32-element blocks:
 *   q4_0  18 B  d f16 @0 | qs[16] @2          x = d * (nibble - 8)
 *   q4_1  20 B  d f16 @0 | m f16 @2 | qs[16] @4          x = d * nibble + m
 *   q5_0  22 B  d f16 @0 | qh[4] @2 | qs[16] @6          x = d * (q5 - 16)
 *   q5_1  24 B  d f16 @0 | m f16 @2 | qh[4] @4 | qs[16] @8   x = d * q5 + m
 *   q8_0  34 B  d f16 @0 | qs[32] int8 @2                x = d * q
 *   q8_1  36 B  d f16 @0 | s f16 @2 | qs[32] int8 @4     s = d * sum(qs)
 *   In q4_0, q4_1, q5_0 and q5_1, element j (0..15) is the low nibble of qs[j], element j+16
 *   the high nibble; for q5_0/q5_1 bit j of the little-endian uint32 qh is bit 4
 *   of element j (j = 0..31).
 * 256-element super-blocks (K-quants):
 *   q2_K  84 B  scales[16] @0 | qs[64] @16 | d f16 @80 | dmin f16 @82
 *               16 sub-blocks of 16; scales[i] low nibble = scale, high = min;
 *               x = d*sc*q - dmin*mn, q 2 bits.
 *   q3_K 110 B  hmask[32] @0 | qs[64] @32 | scales[12] @96 | d f16 @108
 *               16 sub-blocks of 16, 6-bit scales stored +32;
 *               x = d*(sc-32)*(q2 + 4*hbit - 4).
 *   q4_K 144 B  d f16 @0 | dmin f16 @2 | scales[12] @4 | qs[128] @16
 *               8 sub-blocks of 32, 6-bit scale and 6-bit min packed in 12 B;
 *               x = d*sc*q4 - dmin*mn.
 *   q5_K 176 B  d f16 @0 | dmin f16 @2 | scales[12] @4 | qh[32] @16 | qs[128] @48
 *               as q4_K with a fifth bit: element e has bit (e/32) of qh[e%32].
 *   q6_K 210 B  ql[128] @0 | qh[64] @128 | scales[16] int8 @192 | d f16 @208
 *               16 sub-blocks of 16; x = d*sc*(q6 - 32).
 *   q8_K 292 B  d f32 @0 | qs[256] int8 @4 | bsums[16] int16 @260
 *               activation format for K-quant dots; bsums[i] = sum of
 *               qs[16i..16i+15].
 * Element-to-bit mapping of the K-quants for element e of a super-block,
 * with h = e/128, j = (e%128)/32, l = e%32:
 *   q2_K/q3_K: 2 low bits = (qs[32h+l] >> 2j) & 3, sub-block 8h+2j+l/16;
 *              q3_K high bit = (hmask[l] >> (4h+j)) & 1.
 *   q4_K/q5_K: with g = e/64, nibble (e%64)/32 of qs[32g+l], sub-block e/32.
 *   q6_K: low nibble (j/2 selects high half) of ql[64h + 32(j%2) + l],
 *         2 high bits = (qh[32h+l] >> 2j) & 3, sub-block 8h+2j+l/16.
 */
#ifndef KEEP_INFER_QUANT_H
#define KEEP_INFER_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "ggml_types.h"

#define INFER_QK 32    /* elements per block of the q4_0 ... q8_1 formats */
#define INFER_QK_K 256 /* elements per K-quant super-block */

typedef struct {
    uint16_t d;
    uint8_t qs[INFER_QK / 2];
} infer_block_q4_0;

typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[INFER_QK / 2];
} infer_block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[INFER_QK / 2];
} infer_block_q5_0;

typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[INFER_QK / 2];
} infer_block_q5_1;

typedef struct {
    uint16_t d;
    int8_t qs[INFER_QK];
} infer_block_q8_0;

typedef struct {
    uint16_t d;
    uint16_t s; /* d * sum(qs), so a dot with q4_1/q5_1 gets the min term free */
    int8_t qs[INFER_QK];
} infer_block_q8_1;

typedef struct {
    uint8_t scales[INFER_QK_K / 16];
    uint8_t qs[INFER_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} infer_block_q2_K;

typedef struct {
    uint8_t hmask[INFER_QK_K / 8];
    uint8_t qs[INFER_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} infer_block_q3_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[INFER_QK_K / 2];
} infer_block_q4_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[INFER_QK_K / 8];
    uint8_t qs[INFER_QK_K / 2];
} infer_block_q5_K;

typedef struct {
    uint8_t ql[INFER_QK_K / 2];
    uint8_t qh[INFER_QK_K / 4];
    int8_t scales[INFER_QK_K / 16];
    uint16_t d;
} infer_block_q6_K;

typedef struct {
    float d;
    int8_t qs[INFER_QK_K];
    int16_t bsums[INFER_QK_K / 16];
} infer_block_q8_K;

_Static_assert(sizeof(infer_block_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(infer_block_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(infer_block_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(infer_block_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(infer_block_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(infer_block_q8_1) == 36, "q8_1 block size");
_Static_assert(sizeof(infer_block_q2_K) == 84, "q2_K block size");
_Static_assert(sizeof(infer_block_q3_K) == 110, "q3_K block size");
_Static_assert(sizeof(infer_block_q4_K) == 144, "q4_K block size");
_Static_assert(sizeof(infer_block_q5_K) == 176, "q5_K block size");
_Static_assert(sizeof(infer_block_q6_K) == 210, "q6_K block size");
_Static_assert(sizeof(infer_block_q8_K) == 292, "q8_K block size");

/* ---- half-precision scalars ----------------------------------------------
 * Round to nearest even; NaN stays NaN, overflow becomes infinity,
 * fp16 subnormals are handled exactly. */
float infer_f16_to_f32(uint16_t h);
uint16_t infer_f32_to_f16(float f);
float infer_bf16_to_f32(uint16_t h);
uint16_t infer_f32_to_bf16(float f);

/* ---- rows -------------------------------------------------------------------
 * n is the number of elements and must be a multiple of the type's block size
 * (infer_type_get(type)->block); src/dst hold infer_type_row_bytes(type, n)
 * bytes on the quantized side and n floats on the other. The quantized side
 * must be aligned like its block struct (2 bytes; 4 for q8_K and F32), which
 * GGUF tensor data (32-byte aligned, whole blocks per row) always is.
 * Both return KEEP_OK, KEEP_ERR_UNSUPPORTED for a type without that
 * direction, or KEEP_ERR_USAGE when n is not a whole number of blocks.
 * Thread-safe, no allocation. */

/* Types accepted: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K,
 * Q3_K, Q4_K, Q5_K, Q6_K, Q8_K. */
int infer_dequantize_row(uint32_t type, const void *src, float *dst, size_t n);

/* Deterministic reference quantizers (same input, same bytes, any CPU).
 * Types accepted: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K,
 * Q3_K, Q4_K, Q5_K, Q6_K, Q8_K. Non-finite inputs are treated as 0 in the
 * block formats. The K-quants search scales per sub-block to minimise squared
 * error, so they are slower than the activation quantizers in kernels.h. */
int infer_quantize_row(uint32_t type, const float *src, void *dst, size_t n);

/* 1 when infer_dequantize_row / infer_quantize_row accept the type. */
int infer_can_dequantize(uint32_t type);
int infer_can_quantize(uint32_t type);

#endif
