/* kernels_x86.h — x86 SIMD kernels written once on 256-bit vectors and
 * compiled three times: by kernels_avx2.c (AVX2 + FMA + F16C, int8 products
 * with vpmaddubsw + vpmaddwd), kernels_avxvnni.c (AVX-VNNI vpdpbusd and
 * vpdpwssd, for AVX2-only CPUs such as Alder Lake-N) and kernels_avx512.c
 * (the AVX-512 target with EVEX VNNI and 32 vector registers, which adds
 * 512-bit kernels on top). Not a public header: include it only from those
 * files, after defining
 *   KX_TGT   __attribute__((target("..."))) for every function here
 *   KX_VNNI  0: vpmaddubsw + vpmaddwd; 1: AVX512-VNNI (EVEX vpdpbusd,
 *            vpdpwssd on ymm); 2: AVX-VNNI (the same instructions, VEX)
 * Everything is static, so each including file gets its own copy compiled
 * for its own target; the dispatcher picks one at run time.
 *
 * Layout conventions used throughout (see quant.h): a 32-element block's
 * nibbles expand to one __m256i of bytes in element order; a K-quant
 * super-block is walked in 32-element chunks that line up with the q8_K
 * activation bytes, and per-16 or per-32 scales are applied with vpmaddwd. */
#ifndef KEEP_INFER_KERNELS_X86_H
#define KEEP_INFER_KERNELS_X86_H

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels_internal.h"
#include "quant.h"

#define KX_INL static inline __attribute__((always_inline)) KX_TGT

/* ---- small helpers ------------------------------------------------------------- */

KX_INL float kx_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

KX_INL float kx_hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

KX_INL int kx_hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

KX_INL float kx_h2f(uint16_t h) { return _cvtsh_ss(h); }

KX_INL float kx_h2f_at(const void *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

KX_INL __m256i kx_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* sum over groups of 4 bytes of x*y, x unsigned, y signed -> 8 x int32 */
KX_INL __m256i kx_dot_u8(__m256i x, __m256i y)
{
#if KX_VNNI == 1
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y);
#elif KX_VNNI == 2
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), x, y);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
#endif
}

/* acc + pairwise int16 products of p and s summed into int32 lanes */
KX_INL __m256i kx_madd_add(__m256i acc, __m256i p, __m256i s)
{
#if KX_VNNI == 1
    return _mm256_dpwssd_epi32(acc, p, s);
#elif KX_VNNI == 2
    return _mm256_dpwssd_avx_epi32(acc, p, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
#endif
}

/* Same for signed x. The sign of x moves onto y so that the unsigned-times-
 * signed instruction applies; exact because activations never hold -128. */
KX_INL __m256i kx_dot_s8(__m256i x, __m256i y)
{
    return kx_dot_u8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* 16 low nibbles then 16 high nibbles of qs[0..15], as 32 bytes 0..15. */
KX_INL __m256i kx_nibbles(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* Byte i = 0xff when bit i of the little-endian 32-bit word at p is set. */
KX_INL __m256i kx_bits(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    __m256i v =
        _mm256_shuffle_epi8(_mm256_set1_epi32((int)x),
                            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                             2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

#define KX_ROW(T, a, as, j, i) ((const T *)((const char *)(a) + (size_t)(j) * (as)) + (i))

/* Instantiates NAME for na = 1..4 so the per-row loops unroll and the
 * accumulators stay in registers. */
#define KX_NA_SWITCH(NAME)                                                                         \
    static KX_TGT void NAME(size_t n, const void *w, const void *a, size_t as, int na, float *out) \
    {                                                                                              \
        switch (na) {                                                                              \
        case 1: NAME##_n(n, w, a, as, 1, out); break;                                              \
        case 2: NAME##_n(n, w, a, as, 2, out); break;                                              \
        case 3: NAME##_n(n, w, a, as, 3, out); break;                                              \
        default: NAME##_n(n, w, a, as, 4, out); break;                                             \
        }                                                                                          \
    }

/* ---- float weights (activations are f32 rows) ------------------------------------- */

KX_INL __m256 kx_ld_f32(const void *p) { return _mm256_loadu_ps((const float *)p); }
KX_INL __m256 kx_ld_f16(const void *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
KX_INL __m256 kx_ld_bf16(const void *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

#define KX_FLOAT_DOT(NAME, ESZ, LOAD, SCALAR)                                                      \
    KX_INL void NAME##_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)    \
    {                                                                                              \
        const char *wp = w;                                                                        \
        __m256 acc0[4], acc1[4];                                                                   \
        for (int j = 0; j < 4; j++)                                                                \
            acc0[j] = acc1[j] = _mm256_setzero_ps();                                               \
        size_t i = 0;                                                                              \
        for (; i + 16 <= n; i += 16) {                                                             \
            __m256 w0 = LOAD(wp + i * ESZ), w1 = LOAD(wp + (i + 8) * ESZ);                         \
            _Pragma("GCC unroll 4") for (int j = 0; j < na; j++)                                   \
            {                                                                                      \
                const float *y = (const float *)((const char *)a + (size_t)j * as) + i;            \
                acc0[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y), acc0[j]);                        \
                acc1[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y + 8), acc1[j]);                    \
            }                                                                                      \
        }                                                                                          \
        for (; i + 8 <= n; i += 8) {                                                               \
            __m256 w0 = LOAD(wp + i * ESZ);                                                        \
            _Pragma("GCC unroll 4") for (int j = 0; j < na; j++)                                   \
            {                                                                                      \
                const float *y = (const float *)((const char *)a + (size_t)j * as) + i;            \
                acc0[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y), acc0[j]);                        \
            }                                                                                      \
        }                                                                                          \
        for (int j = 0; j < na; j++) {                                                             \
            const float *y = (const float *)((const char *)a + (size_t)j * as);                    \
            float s = kx_hsum(_mm256_add_ps(acc0[j], acc1[j]));                                    \
            for (size_t t = i; t < n; t++)                                                         \
                s += SCALAR(wp + t * ESZ) * y[t];                                                  \
            out[j] = s;                                                                            \
        }                                                                                          \
    }                                                                                              \
    KX_NA_SWITCH(NAME)

KX_INL float kx_sc_f32(const char *p)
{
    float f;
    memcpy(&f, p, 4);
    return f;
}
KX_INL float kx_sc_f16(const char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
KX_INL float kx_sc_bf16(const char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return infer_bf16_to_f32(h);
}

KX_FLOAT_DOT(kx_dot_f32, 4, kx_ld_f32, kx_sc_f32)
KX_FLOAT_DOT(kx_dot_f16, 2, kx_ld_f16, kx_sc_f16)
KX_FLOAT_DOT(kx_dot_bf16, 2, kx_ld_bf16, kx_sc_bf16)

/* ---- 32-element block weights ---------------------------------------------------
 * One block decodes to 32 bytes once, then meets each activation row. The
 * float sums follow llama.cpp's AVX2 dot products, whose rounding decides
 * which 8-bit activations later flip (tests/test_decoder.c compares with
 * its outputs): 8 lanes of 4-byte integer sums, each block's scaled into
 * one accumulator chain in block order, folded as kx_hsum does. ALT = 1
 * (q4_0 only) puts even and odd blocks into two chains instead, the order
 * measured closest to llama.cpp for q4_0 (which it repacks and sums its own
 * way). MINTERM (an expression of x, i, y) adds q4_1/q5_1's m * s against
 * q8_1, block by block; 0.0f for the others. */
#define KX_LEGACY_STEP(WB, AB, DECODE, DOT, MINTERM, IDX, ACC)                                     \
    do {                                                                                           \
        size_t i = (IDX);                                                                          \
        __m256i q = DECODE(x + i);                                                                 \
        float dw = kx_h2f(x[i].d);                                                                 \
        _Pragma("GCC unroll 4") for (int j = 0; j < na; j++)                                       \
        {                                                                                          \
            const AB *y = KX_ROW(AB, a, as, j, i);                                                 \
            __m256 p = _mm256_cvtepi32_ps(DOT(q, kx_load(y->qs)));                                 \
            ACC[j] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw * kx_h2f(y->d)), ACC[j]);                \
            mins[j] += MINTERM;                                                                    \
        }                                                                                          \
    } while (0)

#define KX_LEGACY_DOT(NAME, WB, AB, DECODE, DOT, MINTERM, ALT)                                     \
    KX_INL void NAME##_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)    \
    {                                                                                              \
        const WB *x = w;                                                                           \
        size_t nb = n / INFER_QK, ib = 0;                                                          \
        __m256 acc0[4], acc1[4];                                                                   \
        float mins[4] = {0, 0, 0, 0};                                                              \
        for (int j = 0; j < 4; j++)                                                                \
            acc0[j] = acc1[j] = _mm256_setzero_ps();                                               \
        for (; ib + 2 <= nb; ib += 2) {                                                            \
            KX_LEGACY_STEP(WB, AB, DECODE, DOT, MINTERM, ib, acc0);                                \
            if (ALT)                                                                               \
                KX_LEGACY_STEP(WB, AB, DECODE, DOT, MINTERM, ib + 1, acc1);                        \
            else                                                                                   \
                KX_LEGACY_STEP(WB, AB, DECODE, DOT, MINTERM, ib + 1, acc0);                        \
        }                                                                                          \
        if (ib < nb)                                                                               \
            KX_LEGACY_STEP(WB, AB, DECODE, DOT, MINTERM, ib, acc0);                                \
        for (int j = 0; j < na; j++)                                                               \
            out[j] = kx_hsum(_mm256_add_ps(acc0[j], acc1[j])) + mins[j];                           \
    }                                                                                              \
    KX_NA_SWITCH(NAME)

KX_INL __m256i kx_dec_q4_0(const infer_block_q4_0 *b)
{
    return _mm256_sub_epi8(kx_nibbles(b->qs), _mm256_set1_epi8(8));
}
KX_INL __m256i kx_dec_q4_1(const infer_block_q4_1 *b) { return kx_nibbles(b->qs); }
KX_INL __m256i kx_dec_q5_0(const infer_block_q5_0 *b)
{
    __m256i hb = _mm256_and_si256(kx_bits(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_sub_epi8(_mm256_or_si256(kx_nibbles(b->qs), hb), _mm256_set1_epi8(16));
}
KX_INL __m256i kx_dec_q5_1(const infer_block_q5_1 *b)
{
    __m256i hb = _mm256_and_si256(kx_bits(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(kx_nibbles(b->qs), hb);
}
KX_INL __m256i kx_dec_q8_0(const infer_block_q8_0 *b) { return kx_load(b->qs); }

KX_LEGACY_DOT(kx_dot_q4_0, infer_block_q4_0, infer_block_q8_0, kx_dec_q4_0, kx_dot_s8, 0.0f, 1)
KX_LEGACY_DOT(kx_dot_q4_1, infer_block_q4_1, infer_block_q8_1, kx_dec_q4_1, kx_dot_u8,
              kx_h2f(x[i].m) * kx_h2f(y->s), 0)
KX_LEGACY_DOT(kx_dot_q5_0, infer_block_q5_0, infer_block_q8_0, kx_dec_q5_0, kx_dot_s8, 0.0f, 0)
KX_LEGACY_DOT(kx_dot_q5_1, infer_block_q5_1, infer_block_q8_1, kx_dec_q5_1, kx_dot_u8,
              kx_h2f(x[i].m) * kx_h2f(y->s), 0)
KX_LEGACY_DOT(kx_dot_q8_0, infer_block_q8_0, infer_block_q8_0, kx_dec_q8_0, kx_dot_s8, 0.0f, 0)

/* The same dots with the activation block scales already converted to
 * floats by the matmul (infer__dotq_fn): the f16 decode of d (and q8_1's s)
 * happens once per activation tile instead of once per weight row, leaving
 * one broadcast load and one multiply per block and row. */
#define KX_LEGACYQ_STEP(WB, AB, DECODE, DOT, HAS_S, IDX, ACC)                                      \
    do {                                                                                           \
        size_t i = (IDX);                                                                          \
        __m256i q = DECODE(x + i);                                                                 \
        __m256 vdw = _mm256_set1_ps(kx_h2f(x[i].d));                                               \
        _Pragma("GCC unroll 4") for (int j = 0; j < na; j++)                                       \
        {                                                                                          \
            const AB *y = KX_ROW(AB, a, as, j, i);                                                 \
            __m256 p = _mm256_cvtepi32_ps(DOT(q, kx_load(y->qs)));                                 \
            __m256 sc = _mm256_mul_ps(vdw, _mm256_broadcast_ss(ad + (size_t)j * ads + i));         \
            ACC[j] = _mm256_fmadd_ps(p, sc, ACC[j]);                                               \
            if (HAS_S)                                                                             \
                mins[j] += kx_h2f_at((const char *)(x + i) + 2) * asum[(size_t)j * ads + i];       \
        }                                                                                          \
    } while (0)

#define KX_NA_SWITCH_Q(NAME)                                                                       \
    static KX_TGT void NAME(size_t n, const void *w, const void *a, size_t as, int na,             \
                            const float *ad, const float *asum, size_t ads, float *out)            \
    {                                                                                              \
        switch (na) {                                                                              \
        case 1: NAME##_n(n, w, a, as, 1, ad, asum, ads, out); break;                               \
        case 2: NAME##_n(n, w, a, as, 2, ad, asum, ads, out); break;                               \
        case 3: NAME##_n(n, w, a, as, 3, ad, asum, ads, out); break;                               \
        default: NAME##_n(n, w, a, as, 4, ad, asum, ads, out); break;                              \
        }                                                                                          \
    }

#define KX_LEGACYQ_DOT(NAME, WB, AB, DECODE, DOT, HAS_S, ALT)                                      \
    KX_INL void NAME##_n(size_t n, const void *w, const void *a, size_t as, int na,                \
                         const float *ad, const float *asum, size_t ads, float *out)               \
    {                                                                                              \
        const WB *x = w;                                                                           \
        size_t nb = n / INFER_QK, ib = 0;                                                          \
        __m256 acc0[4], acc1[4];                                                                   \
        float mins[4] = {0, 0, 0, 0};                                                              \
        for (int j = 0; j < 4; j++)                                                                \
            acc0[j] = acc1[j] = _mm256_setzero_ps();                                               \
        for (; ib + 2 <= nb; ib += 2) {                                                            \
            KX_LEGACYQ_STEP(WB, AB, DECODE, DOT, HAS_S, ib, acc0);                                 \
            if (ALT)                                                                               \
                KX_LEGACYQ_STEP(WB, AB, DECODE, DOT, HAS_S, ib + 1, acc1);                         \
            else                                                                                   \
                KX_LEGACYQ_STEP(WB, AB, DECODE, DOT, HAS_S, ib + 1, acc0);                         \
        }                                                                                          \
        if (ib < nb)                                                                               \
            KX_LEGACYQ_STEP(WB, AB, DECODE, DOT, HAS_S, ib, acc0);                                 \
        for (int j = 0; j < na; j++)                                                               \
            out[j] = kx_hsum(_mm256_add_ps(acc0[j], acc1[j])) + mins[j];                           \
    }                                                                                              \
    KX_NA_SWITCH_Q(NAME)

/* q4_1/q5_1 keep m right after d (quant.h); HAS_S reads it there. */
_Static_assert(offsetof(infer_block_q4_1, m) == 2 && offsetof(infer_block_q5_1, m) == 2,
               "m follows d");

KX_LEGACYQ_DOT(kx_dotq_q4_0, infer_block_q4_0, infer_block_q8_0, kx_dec_q4_0, kx_dot_s8, 0, 1)
KX_LEGACYQ_DOT(kx_dotq_q4_1, infer_block_q4_1, infer_block_q8_1, kx_dec_q4_1, kx_dot_u8, 1, 0)
KX_LEGACYQ_DOT(kx_dotq_q5_0, infer_block_q5_0, infer_block_q8_0, kx_dec_q5_0, kx_dot_s8, 0, 0)
KX_LEGACYQ_DOT(kx_dotq_q5_1, infer_block_q5_1, infer_block_q8_1, kx_dec_q5_1, kx_dot_u8, 1, 0)
KX_LEGACYQ_DOT(kx_dotq_q8_0, infer_block_q8_0, infer_block_q8_0, kx_dec_q8_0, kx_dot_s8, 0, 0)

/* ---- K-quants against q8_K ---------------------------------------------------------
 * Per super-block the integer sum stays in int32 lanes (bounded by
 * 256 * 63 * 127 * 127 < 2^31) and is scaled once. Unsigned weight values
 * multiply with vpmaddubsw (pairs <= 2 * 63 * 127, no saturation), then
 * vpmaddwd applies the sub-block scales. Offsets (q3_K's -4, q6_K's -32) and
 * mins (q2_K, q4_K, q5_K) come from the activation's per-16 bsums. The
 * float steps per super-block follow llama.cpp's AVX2 dot products where
 * that was measured to reproduce its outputs: q2_K scales its mins before
 * its sums, q5_K keeps its min term as one scalar fused multiply-add per
 * super-block added after the lanes are folded. */

/* With VNNI the scale product accumulates in place (vpdpwssd, 5-cycle
 * latency), so with one or two activation rows alternate 32-element chunks go
 * to a second accumulator to keep more chains in flight; with more rows, or
 * without VNNI (a 1-cycle vpaddd chain), one accumulator saves registers.
 * Uses the kernel's na; with VNNI the chunk loops are fully unrolled
 * (KX_CUNROLL), so the index is a constant. */
#define KX_PAR(c) (KX_VNNI && na <= 2 ? ((c)&1) : 0)
#if KX_VNNI
#define KX_CUNROLL _Pragma("GCC unroll 4")
#else
#define KX_CUNROLL
#endif

/* acc + (q * y summed in pairs) * sc16, q unsigned bytes, y signed bytes */
KX_INL __m256i kx_scaled(__m256i acc, __m256i q, __m256i y, __m256i sc16)
{
    return kx_madd_add(acc, _mm256_maddubs_epi16(q, y), sc16);
}

/* For 16-element sub-blocks: from 8 int16 scales t (sub-blocks 2c'..), the
 * vector with scale 2c in the low lane and 2c+1 in the high lane. */
KX_INL __m256i kx_pair_scale(__m256i tt, int c)
{
    const __m256i idx = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3,
                                         2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    return _mm256_shuffle_epi8(tt, _mm256_add_epi8(idx, _mm256_set1_epi8((char)(4 * c))));
}

KX_INL __m256i kx_bcast128(__m128i t) { return _mm256_broadcastsi128_si256(t); }

KX_INL void kx_dot_q4_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q4_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        uint32_t u[3];
        memcpy(u, x[i].scales, 12);
        uint32_t sc_lo = u[0] & 0x3f3f3f3fu;
        uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
        uint32_t mn_lo = u[1] & 0x3f3f3f3fu;
        uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
        /* mins repeated per 16-element bsum, scales as int16 words */
        __m128i mnb = _mm_setr_epi32((int)mn_lo, (int)mn_hi, 0, 0);
        __m256i mn16 = _mm256_cvtepu8_epi16(
            _mm_shuffle_epi8(mnb, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
        __m256i sc16 = kx_bcast128(_mm_cvtepu8_epi16(_mm_setr_epi32((int)sc_lo, (int)sc_hi, 0, 0)));
        float dw = kx_h2f(x[i].d), dmw = kx_h2f(x[i].dmin);
        __m256i isum[2][4];
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            __m256i raw = kx_load(x[i].qs + 32 * g);
            __m256i lo = _mm256_and_si256(raw, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            /* word 2g / 2g+1 of sc16 broadcast */
            __m256i s0 =
                _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * 2 * g)));
            __m256i s1 = _mm256_shuffle_epi8(
                sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * g + 1))));
#pragma GCC unroll 4
            for (int j = 0; j < na; j++) {
                const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                isum[0][j] = kx_scaled(isum[0][j], lo, kx_load(y->qs + 64 * g), s0);
                isum[KX_PAR(1)][j] =
                    kx_scaled(isum[KX_PAR(1)][j], hi, kx_load(y->qs + 64 * g + 32), s1);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i ms = _mm256_madd_epi16(kx_load(y->bsums), mn16);
            __m256i is = _mm256_add_epi32(isum[0][j], isum[1][j]);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(dmw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kx_dot_q4_K)

KX_INL void kx_dot_q5_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q5_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc[4];
    float summs[4] = {0, 0, 0, 0};
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        uint32_t u[3];
        memcpy(u, x[i].scales, 12);
        uint32_t sc_lo = u[0] & 0x3f3f3f3fu;
        uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
        uint32_t mn_lo = u[1] & 0x3f3f3f3fu;
        uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
        __m128i mnb = _mm_setr_epi32((int)mn_lo, (int)mn_hi, 0, 0);
        __m256i mn16 = _mm256_cvtepu8_epi16(
            _mm_shuffle_epi8(mnb, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
        __m256i sc16 = kx_bcast128(_mm_cvtepu8_epi16(_mm_setr_epi32((int)sc_lo, (int)sc_hi, 0, 0)));
        float dw = kx_h2f(x[i].d), dmw = kx_h2f(x[i].dmin);
        __m256i qh = kx_load(x[i].qh);
        __m256i isum[2][4];
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            __m256i raw = kx_load(x[i].qs + 32 * g);
            /* bit 2g of qh is bit 4 of sub-block 2g, bit 2g+1 of sub-block 2g+1 */
            __m256i lo = _mm256_or_si256(_mm256_and_si256(raw, m4),
                                         _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
            __m256i hi = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
            qh = _mm256_srli_epi16(qh, 2);
            __m256i s0 =
                _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * 2 * g)));
            __m256i s1 = _mm256_shuffle_epi8(
                sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * g + 1))));
#pragma GCC unroll 4
            for (int j = 0; j < na; j++) {
                const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                isum[0][j] = kx_scaled(isum[0][j], lo, kx_load(y->qs + 64 * g), s0);
                isum[KX_PAR(1)][j] =
                    kx_scaled(isum[KX_PAR(1)][j], hi, kx_load(y->qs + 64 * g + 32), s1);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i ms = _mm256_madd_epi16(kx_load(y->bsums), mn16);
            __m256i is = _mm256_add_epi32(isum[0][j], isum[1][j]);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
            summs[j] = fmaf(-(dmw * y->d), (float)kx_hsum_i32(ms), summs[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]) + summs[j];
}
KX_NA_SWITCH(kx_dot_q5_K)

KX_INL void kx_dot_q6_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q6_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3),
                  m30 = _mm256_set1_epi8(0x30);
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        __m128i scb = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i sc_all = _mm256_cvtepi8_epi16(scb); /* 16 x int16, for the -32 offset */
        float dw = kx_h2f(x[i].d);
        __m256i isum[2][4];
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i tt = kx_bcast128(_mm_cvtepi8_epi16(h ? _mm_srli_si128(scb, 8) : scb));
            __m256i ql0 = kx_load(x[i].ql + 64 * h), ql1 = kx_load(x[i].ql + 64 * h + 32);
            __m256i qh = kx_load(x[i].qh + 32 * h);
            __m256i v[4];
            v[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            v[1] =
                _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0c)), 2));
            v[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                   _mm256_and_si256(qh, m30));
            v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            KX_CUNROLL for (int c = 0; c < 4; c++)
            {
                __m256i s = kx_pair_scale(tt, c);
#pragma GCC unroll 4
                for (int j = 0; j < na; j++) {
                    const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                    isum[KX_PAR(c)][j] =
                        kx_scaled(isum[KX_PAR(c)][j], v[c], kx_load(y->qs + 128 * h + 32 * c), s);
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(kx_load(y->bsums), sc_all), 5);
            __m256i is = _mm256_sub_epi32(_mm256_add_epi32(isum[0][j], isum[1][j]), off);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kx_dot_q6_K)

KX_INL void kx_dot_q3_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q3_K *x = w;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        uint32_t u[3], s4[4];
        memcpy(u, x[i].scales, 12);
        s4[0] = (u[0] & 0x0f0f0f0fu) | (u[2] & 0x03030303u) << 4;
        s4[1] = (u[1] & 0x0f0f0f0fu) | ((u[2] >> 2) & 0x03030303u) << 4;
        s4[2] = ((u[0] >> 4) & 0x0f0f0f0fu) | ((u[2] >> 4) & 0x03030303u) << 4;
        s4[3] = ((u[1] >> 4) & 0x0f0f0f0fu) | ((u[2] >> 6) & 0x03030303u) << 4;
        __m128i scb = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)s4), _mm_set1_epi8(32));
        __m256i sc_all = _mm256_cvtepi8_epi16(scb);
        float dw = kx_h2f(x[i].d);
        __m256i hm = kx_load(x[i].hmask);
        __m256i isum[2][4];
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i tt = kx_bcast128(_mm_cvtepi8_epi16(h ? _mm_srli_si128(scb, 8) : scb));
            __m256i qs = kx_load(x[i].qs + 32 * h);
            KX_CUNROLL for (int c = 0; c < 4; c++)
            {
                __m256i v = _mm256_or_si256(_mm256_and_si256(qs, m3),
                                            _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
                qs = _mm256_srli_epi16(qs, 2);
                hm = _mm256_srli_epi16(hm, 1);
                __m256i s = kx_pair_scale(tt, c);
#pragma GCC unroll 4
                for (int j = 0; j < na; j++) {
                    const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                    isum[KX_PAR(c)][j] =
                        kx_scaled(isum[KX_PAR(c)][j], v, kx_load(y->qs + 128 * h + 32 * c), s);
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(kx_load(y->bsums), sc_all), 2);
            __m256i is = _mm256_sub_epi32(_mm256_add_epi32(isum[0][j], isum[1][j]), off);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kx_dot_q3_K)

KX_INL void kx_dot_q2_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q2_K *x = w;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m128i scb = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
        __m256i mn16 =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
        float dw = kx_h2f(x[i].d), dmw = kx_h2f(x[i].dmin);
        __m256i isum[2][4];
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i tt = kx_bcast128(_mm_cvtepu8_epi16(h ? _mm_srli_si128(scb, 8) : scb));
            __m256i qs = kx_load(x[i].qs + 32 * h);
            KX_CUNROLL for (int c = 0; c < 4; c++)
            {
                __m256i v = _mm256_and_si256(qs, m3);
                qs = _mm256_srli_epi16(qs, 2);
                __m256i s = kx_pair_scale(tt, c);
#pragma GCC unroll 4
                for (int j = 0; j < na; j++) {
                    const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                    isum[KX_PAR(c)][j] =
                        kx_scaled(isum[KX_PAR(c)][j], v, kx_load(y->qs + 128 * h + 32 * c), s);
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i ms = _mm256_madd_epi16(kx_load(y->bsums), mn16);
            __m256i is = _mm256_add_epi32(isum[0][j], isum[1][j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(dmw * y->d), acc[j]);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kx_dot_q2_K)

/* ---- activation quantizers -----------------------------------------------------------
 * Bit-identical to the scalar reference (same scales and multipliers, round
 * half to even); inputs must be finite. */

/* 32 floats times id, rounded, to 32 int8 in order; returns their int32 sums
 * in 8 lanes (for q8_1's s). */
KX_INL __m256i kx_q8_32(const float *x, float id, int8_t *q)
{
    const __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), vid),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vid),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vid),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vid),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    return sum;
}

/* f16 of a scale, saturated like the scalar quantizers' */
KX_INL uint16_t kx_f2h_sat(float f)
{
    f = f > 65504.0f ? 65504.0f : f < -65504.0f ? -65504.0f : f;
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

KX_INL float kx_absmax(const float *x, size_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (size_t i = 0; i < n; i += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    return kx_hmax(m);
}

/* The value of largest magnitude with its sign, the first one on a tie (as
 * the scalar q8_K quantizer picks it): the vector max finds the magnitude,
 * a scan finds its first position. */
KX_INL float kx_signed_absmax(const float *x, size_t n)
{
    float amax = kx_absmax(x, n);
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) == amax) return x[i];
    return 0.0f;
}

static KX_TGT void kx_act_q8_0(const float *x, void *dst, size_t n)
{
    infer_block_q8_0 *b = dst;
    for (size_t i = 0; i < n / INFER_QK; i++, x += INFER_QK) {
        float amax = kx_absmax(x, INFER_QK);
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        b[i].d = kx_f2h_sat(d);
        kx_q8_32(x, id, b[i].qs);
    }
}

static KX_TGT void kx_act_q8_1(const float *x, void *dst, size_t n)
{
    infer_block_q8_1 *b = dst;
    for (size_t i = 0; i < n / INFER_QK; i++, x += INFER_QK) {
        float amax = kx_absmax(x, INFER_QK);
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = kx_hsum_i32(kx_q8_32(x, id, b[i].qs));
        b[i].d = kx_f2h_sat(d);
        b[i].s = kx_f2h_sat(d * (float)sum);
    }
}

static KX_TGT void kx_act_q8_K(const float *x, void *dst, size_t n)
{
    infer_block_q8_K *b = dst;
    for (size_t i = 0; i < n / INFER_QK_K; i++, x += INFER_QK_K) {
        float vmax = kx_signed_absmax(x, INFER_QK_K);
        float id = vmax != 0.0f ? -127.0f / vmax : 0.0f;
        b[i].d = vmax != 0.0f ? 1.0f / id : 0.0f;
        for (int c = 0; c < 8; c++) {
            /* lanes 0-3 sum elements 0-15 of this chunk of 32, lanes 4-7 the rest */
            kx_q8_32(x + 32 * c, id, b[i].qs + 32 * c);
            __m256i v = kx_load(b[i].qs + 32 * c);
            __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), v);
            __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
            /* s32 lanes: sums of 4 bytes; lanes 0-3 -> first 16 bytes (low 128) */
            __m128i lo = _mm256_castsi256_si128(s32), hi = _mm256_extracti128_si256(s32, 1);
            lo = _mm_hadd_epi32(lo, hi);
            lo = _mm_hadd_epi32(lo, lo);
            b[i].bsums[2 * c] = (int16_t)_mm_cvtsi128_si32(lo);
            b[i].bsums[2 * c + 1] = (int16_t)_mm_extract_epi32(lo, 1);
        }
    }
}

/* ---- fp16 rows (F16C) ------------------------------------------------------------------- */

static KX_TGT void kx_to_f16(const float *x, uint16_t *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = (uint16_t)_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

static KX_TGT void kx_from_f16(const uint16_t *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = _cvtsh_ss(x[i]);
}

/* Fills the table entries this target implements. */
static inline void kx_fill(infer__kernels *k)
{
    k->dot[INFER_T_F32] = kx_dot_f32;
    k->dot[INFER_T_F16] = kx_dot_f16;
    k->dot[INFER_T_BF16] = kx_dot_bf16;
    k->dot[INFER_T_Q4_0] = kx_dot_q4_0;
    k->dot[INFER_T_Q4_1] = kx_dot_q4_1;
    k->dot[INFER_T_Q5_0] = kx_dot_q5_0;
    k->dot[INFER_T_Q5_1] = kx_dot_q5_1;
    k->dot[INFER_T_Q8_0] = kx_dot_q8_0;
    k->dot[INFER_T_Q2_K] = kx_dot_q2_K;
    k->dot[INFER_T_Q3_K] = kx_dot_q3_K;
    k->dot[INFER_T_Q4_K] = kx_dot_q4_K;
    k->dot[INFER_T_Q5_K] = kx_dot_q5_K;
    k->dot[INFER_T_Q6_K] = kx_dot_q6_K;
    k->dotq[INFER_T_Q4_0] = kx_dotq_q4_0;
    k->dotq[INFER_T_Q4_1] = kx_dotq_q4_1;
    k->dotq[INFER_T_Q5_0] = kx_dotq_q5_0;
    k->dotq[INFER_T_Q5_1] = kx_dotq_q5_1;
    k->dotq[INFER_T_Q8_0] = kx_dotq_q8_0;
    k->act[INFER_T_Q8_0] = kx_act_q8_0;
    k->act[INFER_T_Q8_1] = kx_act_q8_1;
    k->act[INFER_T_Q8_K] = kx_act_q8_K;
    k->to_f16 = kx_to_f16;
    k->from_f16 = kx_from_f16;
}

#endif
