/* kernels_avx512.c — the AVX-512 (F/BW/VL/DQ + VNNI) kernel level: the shared
 * x86 template (kernels_x86.h) compiled with EVEX vpdpbusd/vpdpwssd and 32
 * vector registers, then 512-bit kernels over it for the float weights, the
 * matmul form of the 32-element block types (two blocks per zmm) and the
 * K-quants. A K-quant zmm holds 64 consecutive elements, so one
 * activation load, one vpmaddubsw and one vpdpwssd (scales per 128- or
 * 256-bit lane) cover what takes two of each on 256-bit vectors.
 * Selected at run time only when cpu.c found every one of these features. */
#include "kernels_internal.h"

#if defined(__x86_64__)
#define KX_TGT                                                                                     \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define KX_VNNI 1
#include "kernels_x86.h"

/* ---- helpers ------------------------------------------------------------------- */

KX_INL __m512i kz_load(const void *p) { return _mm512_loadu_si512(p); }

/* the 32 bytes at p in both 256-bit halves */
KX_INL __m512i kz_bcast256(const void *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* 16-bit words: lo in the low 256-bit half, hi in the high half */
KX_INL __m512i kz_halves16(short lo, short hi)
{
    return _mm512_inserti64x4(_mm512_set1_epi16(lo), _mm256_set1_epi16(hi), 1);
}

/* 16-bit words: v[l] in 128-bit lane l */
KX_INL __m512i kz_lanes16(short v0, short v1, short v2, short v3)
{
    return _mm512_set_epi16(v3, v3, v3, v3, v3, v3, v3, v3, v2, v2, v2, v2, v2, v2, v2, v2, v1, v1,
                            v1, v1, v1, v1, v1, v1, v0, v0, v0, v0, v0, v0, v0, v0);
}

KX_INL __m512i kz_scaled(__m512i acc, __m512i q, __m512i y, __m512i sc16)
{
    return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(q, y), sc16);
}

/* ---- float weights -------------------------------------------------------------- */

KX_INL __m512 kz_ld_f32(const void *p) { return _mm512_loadu_ps(p); }
KX_INL __m512 kz_ld_f16(const void *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
KX_INL __m512 kz_ld_bf16(const void *p)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

/* 32 elements per step in two accumulators per row; the <32 tail goes
 * through the 256-bit template kernel, which has its own scalar tail. */
#define KZ_FLOAT_DOT(NAME, ESZ, LOAD, TAIL)                                                        \
    KX_INL void NAME##_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)    \
    {                                                                                              \
        const char *wp = w;                                                                        \
        __m512 acc0[4], acc1[4];                                                                   \
        for (int j = 0; j < 4; j++)                                                                \
            acc0[j] = acc1[j] = _mm512_setzero_ps();                                               \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m512 w0 = LOAD(wp + i * ESZ), w1 = LOAD(wp + (i + 16) * ESZ);                        \
            _Pragma("GCC unroll 4") for (int j = 0; j < na; j++)                                   \
            {                                                                                      \
                const float *y = (const float *)((const char *)a + (size_t)j * as) + i;            \
                acc0[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(y), acc0[j]);                        \
                acc1[j] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(y + 16), acc1[j]);                   \
            }                                                                                      \
        }                                                                                          \
        float tail[4] = {0, 0, 0, 0};                                                              \
        if (i < n)                                                                                 \
            TAIL(n - i, wp + i * ESZ, (const float *)a + i, as, na, tail);                         \
        for (int j = 0; j < na; j++)                                                               \
            out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[j], acc1[j])) + tail[j];              \
    }                                                                                              \
    KX_NA_SWITCH(NAME)

KZ_FLOAT_DOT(kz_dot_f32, 4, kz_ld_f32, kx_dot_f32)
KZ_FLOAT_DOT(kz_dot_f16, 2, kz_ld_f16, kx_dot_f16)
KZ_FLOAT_DOT(kz_dot_bf16, 2, kz_ld_bf16, kx_dot_bf16)

/* ---- 32-element block types, two blocks per zmm ----------------------------------
 * Four blocks per step. Signed weights go through vpdpbusd as |w| with the
 * activation negated under the sign mask (AVX-512 has no vpsignb on zmm);
 * the f32 scales of four blocks are multiplied at once and spread to the
 * two 256-bit halves with vpermps. The <4-block tail uses the 256-bit
 * kernel. Only the dotq form (scales pre-converted by the matmul).
 * Unlike the K-quants below, these sum in their own order (two 512-bit
 * chains of block pairs), not in the 256-bit kernels' one: following that
 * order cost up to 2x here (the chain of 256-bit multiply-adds is
 * latency-bound), so this level's bits for these types differ from avx2's
 * (tests/test_decoder.c lists what that changes). */

KX_INL __m512i kz_join(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* nibbles of two blocks: [lo(qs0) hi(qs0) | lo(qs1) hi(qs1)] as bytes 0..15 */
KX_INL __m512i kz_nib_pair(const uint8_t *qs0, const uint8_t *qs1)
{
    __m512i z = _mm512_castsi256_si512(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)qs1),
                                                        _mm_loadu_si128((const __m128i *)qs0)));
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(1, 1, 0, 0));
    return _mm512_and_si512(_mm512_srlv_epi16(z, kz_lanes16(0, 4, 0, 4)), _mm512_set1_epi8(0x0f));
}

/* bit 4 of each element of two q5 blocks, as a byte mask */
KX_INL __mmask64 kz_q5_bits(const uint8_t *qh0, const uint8_t *qh1)
{
    uint32_t h0, h1;
    memcpy(&h0, qh0, 4);
    memcpy(&h1, qh1, 4);
    return (__mmask64)((uint64_t)h1 << 32 | h0);
}

KX_INL __m512i kz_pair_q8_0(const infer_block_q8_0 *b)
{
    return kz_join(kx_load(b[0].qs), kx_load(b[1].qs));
}
KX_INL __m512i kz_pair_q4_0(const infer_block_q4_0 *b)
{
    return _mm512_sub_epi8(kz_nib_pair(b[0].qs, b[1].qs), _mm512_set1_epi8(8));
}
KX_INL __m512i kz_pair_q4_1(const infer_block_q4_1 *b) { return kz_nib_pair(b[0].qs, b[1].qs); }
KX_INL __m512i kz_pair_q5_0(const infer_block_q5_0 *b)
{
    __m512i z = kz_nib_pair(b[0].qs, b[1].qs);
    z = _mm512_mask_add_epi8(z, kz_q5_bits(b[0].qh, b[1].qh), z, _mm512_set1_epi8(0x10));
    return _mm512_sub_epi8(z, _mm512_set1_epi8(16));
}
KX_INL __m512i kz_pair_q5_1(const infer_block_q5_1 *b)
{
    __m512i z = kz_nib_pair(b[0].qs, b[1].qs);
    return _mm512_mask_add_epi8(z, kz_q5_bits(b[0].qh, b[1].qh), z, _mm512_set1_epi8(0x10));
}

/* four f16 values 'stride' bytes apart, as floats */
KX_INL __m128 kz_h4(const char *p, size_t stride)
{
    uint16_t h[4];
    for (int t = 0; t < 4; t++)
        memcpy(&h[t], p + (size_t)t * stride, 2);
    return _mm_cvtph_ps(
        _mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3], 0, 0, 0, 0));
}

KX_INL float kz_hsum128(__m128 s)
{
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define KZ_LEGACYQ(NAME, WB, AB, PAIR, SIGNED, HAS_S, TAIL)                                        \
    KX_INL void NAME##_n(size_t n, const void *w, const void *a, size_t as, int na,                \
                         const float *ad, const float *asum, size_t ads, float *out)               \
    {                                                                                              \
        const WB *x = w;                                                                           \
        size_t nb = n / INFER_QK, ib = 0;                                                          \
        const __m512i i01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);     \
        const __m512i i23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);     \
        const __m512i zero = _mm512_setzero_si512();                                               \
        __m512 acc0[4], acc1[4];                                                                   \
        __m128 accm[4];                                                                            \
        for (int j = 0; j < 4; j++) {                                                              \
            acc0[j] = acc1[j] = _mm512_setzero_ps();                                               \
            accm[j] = _mm_setzero_ps();                                                            \
        }                                                                                          \
        for (; ib + 4 <= nb; ib += 4) {                                                            \
            __m512i w01 = PAIR(x + ib), w23 = PAIR(x + ib + 2);                                    \
            __mmask64 n01 = 0, n23 = 0;                                                            \
            if (SIGNED) {                                                                          \
                n01 = _mm512_movepi8_mask(w01);                                                    \
                n23 = _mm512_movepi8_mask(w23);                                                    \
                w01 = _mm512_abs_epi8(w01);                                                        \
                w23 = _mm512_abs_epi8(w23);                                                        \
            }                                                                                      \
            __m128 dw = kz_h4((const char *)(x + ib), sizeof(WB));                                 \
            __m128 dm = HAS_S ? kz_h4((const char *)(x + ib) + 2, sizeof(WB)) : _mm_setzero_ps();  \
            _Pragma("GCC unroll 4") for (int j = 0; j < na; j++)                                   \
            {                                                                                      \
                const AB *y = KX_ROW(AB, a, as, j, ib);                                            \
                __m512i a01 = kz_join(kx_load(y[0].qs), kx_load(y[1].qs));                         \
                __m512i a23 = kz_join(kx_load(y[2].qs), kx_load(y[3].qs));                         \
                if (SIGNED) {                                                                      \
                    a01 = _mm512_mask_sub_epi8(a01, n01, zero, a01);                               \
                    a23 = _mm512_mask_sub_epi8(a23, n23, zero, a23);                               \
                }                                                                                  \
                __m512i s01 = _mm512_dpbusd_epi32(zero, w01, a01);                                 \
                __m512i s23 = _mm512_dpbusd_epi32(zero, w23, a23);                                 \
                __m512 sc = _mm512_castps128_ps512(                                                \
                    _mm_mul_ps(dw, _mm_loadu_ps(ad + (size_t)j * ads + ib)));                      \
                acc0[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s01), _mm512_permutexvar_ps(i01, sc), \
                                          acc0[j]);                                                \
                acc1[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), _mm512_permutexvar_ps(i23, sc), \
                                          acc1[j]);                                                \
                if (HAS_S)                                                                         \
                    accm[j] =                                                                      \
                        _mm_fmadd_ps(dm, _mm_loadu_ps(asum + (size_t)j * ads + ib), accm[j]);      \
            }                                                                                      \
        }                                                                                          \
        float tail[4] = {0, 0, 0, 0};                                                              \
        if (ib < nb)                                                                               \
            TAIL##_n((nb - ib) * INFER_QK, x + ib, (const AB *)a + ib, as, na, ad + ib,            \
                     HAS_S ? asum + ib : NULL, ads, tail);                                         \
        for (int j = 0; j < na; j++)                                                               \
            out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[j], acc1[j])) + kz_hsum128(accm[j]) + \
                     tail[j];                                                                      \
    }                                                                                              \
    KX_NA_SWITCH_Q(NAME)

KZ_LEGACYQ(kz_dotq_q4_0, infer_block_q4_0, infer_block_q8_0, kz_pair_q4_0, 1, 0, kx_dotq_q4_0)
KZ_LEGACYQ(kz_dotq_q4_1, infer_block_q4_1, infer_block_q8_1, kz_pair_q4_1, 0, 1, kx_dotq_q4_1)
KZ_LEGACYQ(kz_dotq_q5_0, infer_block_q5_0, infer_block_q8_0, kz_pair_q5_0, 1, 0, kx_dotq_q5_0)
KZ_LEGACYQ(kz_dotq_q5_1, infer_block_q5_1, infer_block_q8_1, kz_pair_q5_1, 0, 1, kx_dotq_q5_1)
KZ_LEGACYQ(kz_dotq_q8_0, infer_block_q8_0, infer_block_q8_0, kz_pair_q8_0, 1, 0, kx_dotq_q8_0)

/* ---- K-quants ------------------------------------------------------------------------
 * A zmm's low half holds one 32-element chunk, its high half the next, so
 * adding the halves gives exactly the 8 integer lanes of the 256-bit
 * kernels; the float steps after that are theirs (kernels_x86.h), so every
 * level gives the same bits. */

KX_INL __m256i kz_fold(__m512i a, __m512i b)
{
    __m512i s = _mm512_add_epi32(a, b);
    return _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
}

/* Unpacked 6-bit scales and mins of a q4_K/q5_K super-block: sc as 8 words
 * in every 128-bit lane, mins repeated per 16-element bsum (16 words). */
KX_INL void kz_k4_scales(const uint8_t *s, __m512i *sc, __m256i *mn16)
{
    uint32_t u[3];
    memcpy(u, s, 12);
    uint32_t sc_lo = u[0] & 0x3f3f3f3fu;
    uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
    uint32_t mn_lo = u[1] & 0x3f3f3f3fu;
    uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
    __m128i mnb = _mm_setr_epi32((int)mn_lo, (int)mn_hi, 0, 0);
    *mn16 = _mm256_cvtepu8_epi16(
        _mm_shuffle_epi8(mnb, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
    *sc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_setr_epi32((int)sc_lo, (int)sc_hi, 0, 0)));
}

/* Scale words for the 64 elements 64g..64g+63: sub-block 2g in the low half,
 * 2g+1 in the high half (in-lane byte shuffle of the broadcast words). */
KX_INL __m512i kz_k4_pair(__m512i sc, int g)
{
    return _mm512_shuffle_epi8(sc, kz_halves16((short)(0x0100 + 0x0202 * (2 * g)),
                                               (short)(0x0100 + 0x0202 * (2 * g + 1))));
}

/* q4_K and q5_K share everything but the fifth bit. */
KX_INL void kz_dot_q45_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out,
                           int five)
{
    const size_t bsz = five ? sizeof(infer_block_q5_K) : sizeof(infer_block_q4_K);
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    const __m512i sh_nib = kz_halves16(0, 4), sh_bit = kz_halves16(0, 1);
    __m256 acc[4];
    float summs[4] = {0, 0, 0, 0};
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        const char *blk = (const char *)w + i * bsz;
        uint16_t d16, dm16;
        memcpy(&d16, blk, 2);
        memcpy(&dm16, blk + 2, 2);
        const uint8_t *scales = (const uint8_t *)blk + 4;
        const uint8_t *qh = five ? (const uint8_t *)blk + 16 : NULL;
        const uint8_t *qs = (const uint8_t *)blk + (five ? 48 : 16);
        __m512i sc;
        __m256i mn16;
        kz_k4_scales(scales, &sc, &mn16);
        float dw = kx_h2f(d16), dmw = kx_h2f(dm16);
        __m512i hbits = five ? _mm512_srlv_epi16(kz_bcast256(qh), sh_bit) : _mm512_setzero_si512();
        __m512i isum[2][4]; /* two chains per row: vpdpwssd has 5-cycle latency */
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            /* low nibbles of qs[32g..] are elements 64g.., high nibbles 64g+32.. */
            __m512i q = _mm512_and_si512(_mm512_srlv_epi16(kz_bcast256(qs + 32 * g), sh_nib), m4);
            if (five) {
                q = _mm512_or_si512(q, _mm512_and_si512(_mm512_slli_epi16(hbits, 4), b4));
                hbits = _mm512_srli_epi16(hbits, 2);
            }
            __m512i s = kz_k4_pair(sc, g);
#pragma GCC unroll 4
            for (int j = 0; j < na; j++) {
                const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                isum[g & 1][j] = kz_scaled(isum[g & 1][j], q, kz_load(y->qs + 64 * g), s);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i ms = _mm256_madd_epi16(kx_load(y->bsums), mn16);
            __m256i is = kz_fold(isum[0][j], isum[1][j]);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
            if (five)
                summs[j] = fmaf(-(dmw * y->d), (float)kx_hsum_i32(ms), summs[j]);
            else
                acc[j] =
                    _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(dmw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]) + summs[j];
}

KX_INL void kz_dot_q4_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    kz_dot_q45_K_n(n, w, a, as, na, out, 0);
}
KX_NA_SWITCH(kz_dot_q4_K)

KX_INL void kz_dot_q5_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    kz_dot_q45_K_n(n, w, a, as, na, out, 1);
}
KX_NA_SWITCH(kz_dot_q5_K)

/* For the 16-element sub-block types: scale words of sub-blocks b..b+3 in
 * the four 128-bit lanes, from 16 words in the low half of sc. */
KX_INL __m512i kz_sub4(__m512i sc, int b)
{
    return _mm512_permutexvar_epi16(
        kz_lanes16((short)b, (short)(b + 1), (short)(b + 2), (short)(b + 3)), sc);
}

KX_INL void kz_dot_q6_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q6_K *x = w;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(3);
    const __m512i sh01 = kz_halves16(0, 2), sh23 = kz_halves16(4, 6);
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m512i sc = _mm512_zextsi256_si512(sc16);
        float dw = kx_h2f(x[i].d);
        __m512i isum[2][4]; /* two chains per row: vpdpwssd has 5-cycle latency */
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            /* ql[64h..64h+63] low nibbles: elements 128h + 0..63 (qh bits 0-1 | 2-3),
             * high nibbles: 128h + 64..127 (qh bits 4-5 | 6-7) */
            __m512i ql = kz_load(x[i].ql + 64 * h), qh = kz_bcast256(x[i].qh + 32 * h);
            __m512i v0 = _mm512_or_si512(
                _mm512_and_si512(ql, m4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh01), m3), 4));
            __m512i v1 = _mm512_or_si512(
                _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh23), m3), 4));
            __m512i s0 = kz_sub4(sc, 8 * h), s1 = kz_sub4(sc, 8 * h + 4);
#pragma GCC unroll 4
            for (int j = 0; j < na; j++) {
                const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                isum[0][j] = kz_scaled(isum[0][j], v0, kz_load(y->qs + 128 * h), s0);
                isum[1][j] = kz_scaled(isum[1][j], v1, kz_load(y->qs + 128 * h + 64), s1);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(kx_load(y->bsums), sc16), 5);
            __m256i is = _mm256_sub_epi32(kz_fold(isum[0][j], isum[1][j]), off);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kz_dot_q6_K)

KX_INL void kz_dot_q3_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q3_K *x = w;
    const __m512i m3 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    const __m512i sh01 = kz_halves16(0, 2), sh23 = kz_halves16(4, 6);
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
        __m256i sc16 = _mm256_cvtepi8_epi16(scb);
        __m512i sc = _mm512_zextsi256_si512(sc16);
        float dw = kx_h2f(x[i].d);
        /* hmask bit 4h+c of byte l: shift each half by its own chunk index */
        __m512i hm = _mm512_srlv_epi16(kz_bcast256(x[i].hmask), kz_halves16(0, 1));
        __m512i isum[2][4]; /* two chains per row: vpdpwssd has 5-cycle latency */
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i qs = kz_bcast256(x[i].qs + 32 * h);
            __m512i v0 = _mm512_or_si512(_mm512_and_si512(_mm512_srlv_epi16(qs, sh01), m3),
                                         _mm512_slli_epi16(_mm512_and_si512(hm, one), 2));
            __m512i v1 = _mm512_or_si512(
                _mm512_and_si512(_mm512_srlv_epi16(qs, sh23), m3),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hm, 2), one), 2));
            hm = _mm512_srli_epi16(hm, 4);
            __m512i s0 = kz_sub4(sc, 8 * h), s1 = kz_sub4(sc, 8 * h + 4);
#pragma GCC unroll 4
            for (int j = 0; j < na; j++) {
                const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                isum[0][j] = kz_scaled(isum[0][j], v0, kz_load(y->qs + 128 * h), s0);
                isum[1][j] = kz_scaled(isum[1][j], v1, kz_load(y->qs + 128 * h + 64), s1);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(kx_load(y->bsums), sc16), 2);
            __m256i is = _mm256_sub_epi32(kz_fold(isum[0][j], isum[1][j]), off);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kz_dot_q3_K)

KX_INL void kz_dot_q2_K_n(size_t n, const void *w, const void *a, size_t as, int na, float *out)
{
    const infer_block_q2_K *x = w;
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i sh01 = kz_halves16(0, 2), sh23 = kz_halves16(4, 6);
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m512i sc =
            _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f))));
        __m256i mn16 =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
        float dw = kx_h2f(x[i].d), dmw = kx_h2f(x[i].dmin);
        __m512i isum[2][4]; /* two chains per row: vpdpwssd has 5-cycle latency */
        for (int j = 0; j < 4; j++)
            isum[0][j] = isum[1][j] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i qs = kz_bcast256(x[i].qs + 32 * h);
            __m512i v0 = _mm512_and_si512(_mm512_srlv_epi16(qs, sh01), m3);
            __m512i v1 = _mm512_and_si512(_mm512_srlv_epi16(qs, sh23), m3);
            __m512i s0 = kz_sub4(sc, 8 * h), s1 = kz_sub4(sc, 8 * h + 4);
#pragma GCC unroll 4
            for (int j = 0; j < na; j++) {
                const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
                isum[0][j] = kz_scaled(isum[0][j], v0, kz_load(y->qs + 128 * h), s0);
                isum[1][j] = kz_scaled(isum[1][j], v1, kz_load(y->qs + 128 * h + 64), s1);
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < na; j++) {
            const infer_block_q8_K *y = KX_ROW(infer_block_q8_K, a, as, j, i);
            __m256i ms = _mm256_madd_epi16(kx_load(y->bsums), mn16);
            __m256i is = kz_fold(isum[0][j], isum[1][j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(dmw * y->d), acc[j]);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw * y->d), acc[j]);
        }
    }
    for (int j = 0; j < na; j++)
        out[j] = kx_hsum(acc[j]);
}
KX_NA_SWITCH(kz_dot_q2_K)

void infer__kernels_avx512(infer__kernels *k)
{
    kx_fill(k);
    k->dot[INFER_T_F32] = kz_dot_f32;
    k->dot[INFER_T_F16] = kz_dot_f16;
    k->dot[INFER_T_BF16] = kz_dot_bf16;
    k->dot[INFER_T_Q2_K] = kz_dot_q2_K;
    k->dot[INFER_T_Q3_K] = kz_dot_q3_K;
    k->dot[INFER_T_Q4_K] = kz_dot_q4_K;
    k->dot[INFER_T_Q5_K] = kz_dot_q5_K;
    k->dot[INFER_T_Q6_K] = kz_dot_q6_K;
    k->dotq[INFER_T_Q4_0] = kz_dotq_q4_0;
    k->dotq[INFER_T_Q4_1] = kz_dotq_q4_1;
    k->dotq[INFER_T_Q5_0] = kz_dotq_q5_0;
    k->dotq[INFER_T_Q5_1] = kz_dotq_q5_1;
    k->dotq[INFER_T_Q8_0] = kz_dotq_q8_0;
    k->gemm[INFER_T_Q4_0] = infer__qgemm_avx512;
    k->gemm[INFER_T_Q5_0] = infer__qgemm_avx512;
    k->gemm[INFER_T_Q8_0] = infer__qgemm_avx512;
    k->gemm[INFER_T_Q4_K] = infer__qgemm_avx512;
    k->gemm[INFER_T_Q6_K] = infer__qgemm_avx512;
}
#else
void infer__kernels_avx512(infer__kernels *k) { (void)k; }
#endif
