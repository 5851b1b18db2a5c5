/* qgemm_avx512.c — the prompt-phase GEMM (qgemm.h) with AVX-512 VNNI, for
 * q4_0 / q5_0 / q8_0 weights x q8_0 activations, and q4_K / q6_K x q8_K
 * (second half of the file).
 *
 * Per group of 32 weight rows the call repacks the rows once into scratch:
 * block b, 4-byte group g, half h (rows 16h..16h+15) is one 64-byte vector
 * holding bytes 4g..4g+3 of those 16 rows, as unsigned values q + 128 (the
 * three types all decode to signed bytes, so after the bias they share one
 * kernel), plus the rows' f32 block scales. vpdpbusd takes the biased
 * weights as its unsigned operand and a broadcast 4-byte activation word as
 * the signed one; the bias adds 128 * sum(activation block), which is
 * subtracted by starting each block's integer sum at -128 * sum (computed
 * once per call for every token and block). Then a tile of 32 rows x 6
 * tokens runs over k with 12 float accumulators whose lanes are rows: per
 * block 8 x 2 x 6 vpdpbusd, then one convert and one fma per accumulator.
 *
 * Repacking on the fly rather than at model load keeps the weights mmapped
 * (resident memory stays file + KV + a few hundred KB of scratch per thread);
 * its cost is one pass over the group's weights per call, against m tokens
 * of work on them. Selected only when cpu.c found AVX-512 F/BW/VL + VNNI. */
#include "qgemm.h"

#include <string.h>

#include "common.h"
#include "kernels.h"
#include "quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define GZ_TGT __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define GZ_INL static inline __attribute__((always_inline)) GZ_TGT

/* rows per repacked group (two vectors of 16 lanes) and tokens per tile */
#define GZ_ROWS 32
#define GZ_TOK 6
/* gathers address rows with 32-bit offsets: 15 rows of this + a block */
#define GZ_MAX_ROW_BYTES (1u << 26)

/* 16 dwords, one per row of a half group: bytes off..off+3 of rows
 * base + vidx[lane] (vidx = lane * row bytes); rows at or past the group's
 * end (lanes not in live) read nothing and give 0. */
GZ_INL __m512i gz_g32(const char *base, size_t off, __m512i vidx, __mmask16 live)
{
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, vidx, base + off, 1);
}

/* f16 in the low (hi = 0) or high (hi = 1) half of each dword, as floats */
GZ_INL __m512 gz_h2f(__m512i v, int hi)
{
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(hi ? _mm512_srli_epi32(v, 16) : v));
}

/* bit 4 of each byte from 4 consecutive bits (from bit 4G) of qh: q5_0's
 * fifth bit for elements 4G..4G+3 */
GZ_INL __m512i gz_q5_bits(__m512i qh, int G)
{
    __m512i x = _mm512_srli_epi32(qh, (unsigned)(4 * G));
    __m512i r = _mm512_slli_epi32(_mm512_and_si512(x, _mm512_set1_epi32(1)), 4);
    r = _mm512_or_si512(r, _mm512_slli_epi32(_mm512_and_si512(x, _mm512_set1_epi32(2)), 11));
    r = _mm512_or_si512(r, _mm512_slli_epi32(_mm512_and_si512(x, _mm512_set1_epi32(4)), 18));
    return _mm512_or_si512(r, _mm512_slli_epi32(_mm512_and_si512(x, _mm512_set1_epi32(8)), 25));
}

/* Repacks rows [r, r + nr) (nr <= GZ_ROWS) into pw / pd, gathering straight
 * from the weights; missing rows become zeros with scale 0. */
GZ_INL void gz_repack(uint32_t wtype, const char *w, size_t wrb, size_t nb, size_t r, size_t nr,
                      uint8_t *pw, float *pd)
{
    size_t bs = infer_type_get(wtype)->bytes;
    const __m512i vidx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)wrb));
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (size_t h = 0; h < 2 && 16 * h < GZ_ROWS; h++) {
        size_t left = nr > 16 * h ? nr - 16 * h : 0;
        __mmask16 live = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        const char *rows = w + (r + 16 * h) * wrb;
        for (size_t b = 0; b < nb; b++) {
            const char *base = rows + b * bs;
            uint8_t *dst = pw + b * 1024 + h * 64;
            _mm512_storeu_ps(pd + b * GZ_ROWS + 16 * h, gz_h2f(gz_g32(base, 0, vidx, live), 0));
            if (wtype == INFER_T_Q8_0) {
#pragma GCC unroll 8
                for (int g = 0; g < 8; g++)
                    _mm512_storeu_si512(dst + g * 128,
                                        _mm512_xor_si512(gz_g32(base, 2 + 4 * (size_t)g, vidx, live),
                                                         _mm512_set1_epi8((char)0x80)));
            } else if (wtype == INFER_T_Q4_0) {
                const __m512i bias = _mm512_set1_epi8(120);
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) {
                    __m512i v = gz_g32(base, 2 + 4 * (size_t)g, vidx, live);
                    _mm512_storeu_si512(dst + g * 128, _mm512_add_epi8(_mm512_and_si512(v, m4), bias));
                    _mm512_storeu_si512(dst + (g + 4) * 128,
                                        _mm512_add_epi8(_mm512_and_si512(_mm512_srli_epi32(v, 4), m4), bias));
                }
            } else {
                const __m512i bias = _mm512_set1_epi8(112);
                __m512i qh = gz_g32(base, 2, vidx, live);
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) {
                    __m512i v = gz_g32(base, 6 + 4 * (size_t)g, vidx, live);
                    __m512i lo = _mm512_or_si512(_mm512_and_si512(v, m4), gz_q5_bits(qh, g));
                    __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(v, 4), m4),
                                                 gz_q5_bits(qh, g + 4));
                    _mm512_storeu_si512(dst + g * 128, _mm512_add_epi8(lo, bias));
                    _mm512_storeu_si512(dst + (g + 4) * 128, _mm512_add_epi8(hi, bias));
                }
            }
        }
    }
}

/* Per token and block: the activation scale and -128 * sum of its bytes. */
GZ_INL void gz_prep_act(const char *a, size_t arb, size_t m, size_t nb, float *da, int32_t *corr)
{
    for (size_t i = 0; i < m; i++) {
        const infer_block_q8_0 *y = (const infer_block_q8_0 *)(a + i * arb);
        for (size_t b = 0; b < nb; b++) {
            __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)y[b].qs),
                                         _mm256_set1_epi8((char)0x80));
            __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
            __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            int64_t sum = _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1) - 32 * 128;
            da[i * nb + b] = _cvtsh_ss(y[b].d);
            corr[i * nb + b] = (int32_t)(-128 * sum);
        }
    }
}

/* One tile: GZ_ROWS repacked rows x NT tokens (NT a compile-time constant
 * through the switch below). */
GZ_INL void gz_tile(int nt, const uint8_t *pw, const float *pd, size_t nb, const char *a,
                    size_t arb, const float *da, const int32_t *corr, float *out, size_t ldo,
                    __mmask16 m0, __mmask16 m1)
{
    __m512 acc0[GZ_TOK], acc1[GZ_TOK];
    for (int c = 0; c < nt; c++)
        acc0[c] = acc1[c] = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        __m512i s0[GZ_TOK], s1[GZ_TOK];
        const int8_t *ap[GZ_TOK];
#pragma GCC unroll 6
        for (int c = 0; c < nt; c++) {
            s0[c] = s1[c] = _mm512_set1_epi32(corr[(size_t)c * nb + b]);
            ap[c] = ((const infer_block_q8_0 *)(a + (size_t)c * arb))[b].qs;
        }
        const uint8_t *wb = pw + b * 1024;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i w0 = _mm512_loadu_si512(wb + g * 128), w1 = _mm512_loadu_si512(wb + g * 128 + 64);
#pragma GCC unroll 6
            for (int c = 0; c < nt; c++) {
                int32_t v;
                memcpy(&v, ap[c] + 4 * g, 4);
                __m512i av = _mm512_set1_epi32(v);
                s0[c] = _mm512_dpbusd_epi32(s0[c], w0, av);
                s1[c] = _mm512_dpbusd_epi32(s1[c], w1, av);
            }
        }
        __m512 d0 = _mm512_loadu_ps(pd + b * GZ_ROWS), d1 = _mm512_loadu_ps(pd + b * GZ_ROWS + 16);
#pragma GCC unroll 6
        for (int c = 0; c < nt; c++) {
            __m512 s = _mm512_set1_ps(da[(size_t)c * nb + b]);
            acc0[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[c]), _mm512_mul_ps(d0, s), acc0[c]);
            acc1[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[c]), _mm512_mul_ps(d1, s), acc1[c]);
        }
    }
    for (int c = 0; c < nt; c++) {
        _mm512_mask_storeu_ps(out + (size_t)c * ldo, m0, acc0[c]);
        _mm512_mask_storeu_ps(out + (size_t)c * ldo + 16, m1, acc1[c]);
    }
}

#define GZ_TILE_N(N)                                                                               \
    static GZ_TGT void gz_tile_##N(const uint8_t *pw, const float *pd, size_t nb, const char *a,   \
                                   size_t arb, const float *da, const int32_t *corr, float *out,   \
                                   size_t ldo, __mmask16 m0, __mmask16 m1)                         \
    {                                                                                              \
        gz_tile(N, pw, pd, nb, a, arb, da, corr, out, ldo, m0, m1);                                \
    }
GZ_TILE_N(1)
GZ_TILE_N(2)
GZ_TILE_N(3)
GZ_TILE_N(4)
GZ_TILE_N(5)
GZ_TILE_N(6)

typedef void (*gz_tile_fn)(const uint8_t *, const float *, size_t, const char *, size_t,
                           const float *, const int32_t *, float *, size_t, __mmask16, __mmask16);

/* ---- K-quants: q4_K and q6_K x q8_K ---------------------------------------------
 * Per 256-element super-block and 32-row group, KB bytes of scratch:
 *   Q  [t 0..63][h][64]  bytes 4t..4t+3 of 16 rows, unsigned (q4_K: q 0..15;
 *                        q6_K: q + 32, 0..63)
 *   SC [sub-block][h][16] int32 scales (8 sub-blocks of 32 for q4_K, 16 of 16
 *                        for q6_K)
 *   MP [p 0..7][h][16]   int16 pairs against the activation's bsums pair p
 *                        (bsums[2p], bsums[2p+1]): q4_K (mn[p], mn[p]) for the
 *                        mins term, q6_K (sc[2p], sc[2p+1]) for the +32 bias
 *   D, DM [h][16]        f32 d and dmin of the rows
 * Per sub-block the vpdpbusd sums are multiplied by the row's scale
 * (vpmulld) into an exact integer total per super-block; the mins / bias
 * term is a vpdpwssd per bsums pair. */
#define GK_Q 0
#define GK_SC 8192
#define GK_MP 10240
#define GK_D 11264
#define GK_DM 11392
#define GK_BYTES 11520
#define GK_TOK 4

/* Repacks super-block b of rows [r, r + nr) into P, gathering straight from
 * the weights (16 rows per gather, scales unpacked lane-parallel); missing
 * rows become zeros. */
GZ_INL void gk_repack(uint32_t wtype, const char *w, size_t wrb, size_t b, size_t r, size_t nr,
                      uint8_t *P)
{
    size_t bs = infer_type_get(wtype)->bytes;
    const __m512i vidx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)wrb));
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(3);
    const __m512i m6 = _mm512_set1_epi32(63), m4d = _mm512_set1_epi32(15), m2d = _mm512_set1_epi32(3);
    for (size_t h = 0; h < 2; h++) {
        size_t left = nr > 16 * h ? nr - 16 * h : 0;
        __mmask16 live = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        const char *base = w + (r + 16 * h) * wrb + b * bs;
        uint8_t *q = P + GK_Q + h * 64;
        uint8_t *sc = P + GK_SC + h * 64, *mp = P + GK_MP + h * 64;
        if (wtype == INFER_T_Q4_K) {
            __m512i hd = gz_g32(base, 0, vidx, live);
            _mm512_store_ps(P + GK_D + h * 64, gz_h2f(hd, 0));
            _mm512_store_ps(P + GK_DM + h * 64, gz_h2f(hd, 1));
            __m512i u0 = gz_g32(base, 4, vidx, live), u1 = gz_g32(base, 8, vidx, live);
            __m512i u2 = gz_g32(base, 12, vidx, live);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                unsigned sh = (unsigned)(8 * j);
                __m512i s_lo = _mm512_and_si512(_mm512_srli_epi32(u0, sh), m6);
                __m512i n_lo = _mm512_and_si512(_mm512_srli_epi32(u1, sh), m6);
                __m512i s_hi = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srli_epi32(u2, sh), m4d),
                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, sh + 6), m2d), 4));
                __m512i n_hi = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srli_epi32(u2, sh + 4), m4d),
                    _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, sh + 6), m2d), 4));
                _mm512_store_si512(sc + (size_t)j * 128, s_lo);
                _mm512_store_si512(sc + (size_t)(j + 4) * 128, s_hi);
                _mm512_store_si512(mp + (size_t)j * 128,
                                   _mm512_or_si512(n_lo, _mm512_slli_epi32(n_lo, 16)));
                _mm512_store_si512(mp + (size_t)(j + 4) * 128,
                                   _mm512_or_si512(n_hi, _mm512_slli_epi32(n_hi, 16)));
            }
            /* dword 4g of qs[32j..]: low nibbles are sub-block 2j, high 2j + 1 */
#pragma GCC unroll 8
            for (int j = 0; j < 4; j++)
                for (int g = 0; g < 8; g++) {
                    __m512i v = gz_g32(base, 16 + 32 * (size_t)j + 4 * (size_t)g, vidx, live);
                    _mm512_store_si512(q + (size_t)((2 * j) * 8 + g) * 128, _mm512_and_si512(v, m4));
                    _mm512_store_si512(q + (size_t)((2 * j + 1) * 8 + g) * 128,
                                       _mm512_and_si512(_mm512_srli_epi32(v, 4), m4));
                }
            continue;
        }
        /* q6_K: ql at 0, qh at 128, scales at 192, d at 208 (read as the high
         * half of the dword at 206, which stays inside the block) */
        _mm512_store_ps(P + GK_D + h * 64, gz_h2f(gz_g32(base, 206, vidx, live), 1));
        __m512i s16[16];
        for (int t = 0; t < 4; t++) {
            __m512i u = gz_g32(base, 192 + 4 * (size_t)t, vidx, live);
            for (int e = 0; e < 4; e++)
                s16[4 * t + e] = _mm512_srai_epi32(_mm512_slli_epi32(u, (unsigned)(24 - 8 * e)), 24);
        }
        for (int j = 0; j < 16; j++)
            _mm512_store_si512(sc + (size_t)j * 128, s16[j]);
        for (int p = 0; p < 8; p++)
            _mm512_store_si512(
                mp + (size_t)p * 128,
                _mm512_or_si512(_mm512_and_si512(s16[2 * p], _mm512_set1_epi32(0xffff)),
                                _mm512_slli_epi32(s16[2 * p + 1], 16)));
        _mm512_store_ps(P + GK_DM + h * 64, _mm512_setzero_ps());
        /* element 128 h2 + 32 j + l: ql byte 64 h2 + 32 (j & 1) + l (high
         * nibble for j >= 2), qh byte 32 h2 + l bits 2j..2j+1 */
        for (int h2 = 0; h2 < 2; h2++)
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                __m512i qh = gz_g32(base, 128 + 32 * (size_t)h2 + 4 * (size_t)g, vidx, live);
                for (int jj = 0; jj < 2; jj++) {
                    __m512i ql = gz_g32(base, 64 * (size_t)h2 + 32 * (size_t)jj + 4 * (size_t)g, vidx, live);
                    __m512i v0 = _mm512_or_si512(
                        _mm512_and_si512(ql, m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, (unsigned)(2 * jj)), m3), 4));
                    __m512i v1 = _mm512_or_si512(
                        _mm512_and_si512(_mm512_srli_epi32(ql, 4), m4),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, (unsigned)(2 * jj + 4)), m3), 4));
                    _mm512_store_si512(q + (size_t)(32 * h2 + 8 * jj + g) * 128, v0);
                    _mm512_store_si512(q + (size_t)(32 * h2 + 8 * (jj + 2) + g) * 128, v1);
                }
            }
    }
}

GZ_INL void gk_tile(int nt, int q4k, const uint8_t *pk, size_t nsb, const char *a, size_t arb,
                    float *out, size_t ldo, __mmask16 m0, __mmask16 m1)
{
    const int nsub = q4k ? 8 : 16, gper = q4k ? 8 : 4;
    __m512 acc0[GK_TOK], acc1[GK_TOK];
    for (int c = 0; c < nt; c++)
        acc0[c] = acc1[c] = _mm512_setzero_ps();
    for (size_t b = 0; b < nsb; b++) {
        const uint8_t *P = pk + b * GK_BYTES;
        const infer_block_q8_K *y[GK_TOK];
        __m512i t0[GK_TOK], t1[GK_TOK];
        for (int c = 0; c < nt; c++) {
            y[c] = (const infer_block_q8_K *)(a + (size_t)c * arb) + b;
            t0[c] = t1[c] = _mm512_setzero_si512();
        }
        for (int sb = 0; sb < nsub; sb++) {
            __m512i s0[GK_TOK], s1[GK_TOK];
            for (int c = 0; c < nt; c++)
                s0[c] = s1[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int g = 0; g < gper; g++) {
                int t = sb * gper + g;
                __m512i w0 = _mm512_load_si512(P + GK_Q + (size_t)t * 128);
                __m512i w1 = _mm512_load_si512(P + GK_Q + (size_t)t * 128 + 64);
#pragma GCC unroll 4
                for (int c = 0; c < nt; c++) {
                    int32_t v;
                    memcpy(&v, y[c]->qs + 4 * t, 4);
                    __m512i av = _mm512_set1_epi32(v);
                    s0[c] = _mm512_dpbusd_epi32(s0[c], w0, av);
                    s1[c] = _mm512_dpbusd_epi32(s1[c], w1, av);
                }
            }
            __m512i sc0 = _mm512_load_si512(P + GK_SC + (size_t)sb * 128);
            __m512i sc1 = _mm512_load_si512(P + GK_SC + (size_t)sb * 128 + 64);
#pragma GCC unroll 4
            for (int c = 0; c < nt; c++) {
                t0[c] = _mm512_add_epi32(t0[c], _mm512_mullo_epi32(s0[c], sc0));
                t1[c] = _mm512_add_epi32(t1[c], _mm512_mullo_epi32(s1[c], sc1));
            }
        }
        __m512i n0[GK_TOK], n1[GK_TOK];
        for (int c = 0; c < nt; c++)
            n0[c] = n1[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
            __m512i p0 = _mm512_load_si512(P + GK_MP + (size_t)p * 128);
            __m512i p1 = _mm512_load_si512(P + GK_MP + (size_t)p * 128 + 64);
#pragma GCC unroll 4
            for (int c = 0; c < nt; c++) {
                int32_t v;
                memcpy(&v, y[c]->bsums + 2 * p, 4);
                __m512i av = _mm512_set1_epi32(v);
                n0[c] = _mm512_dpwssd_epi32(n0[c], p0, av);
                n1[c] = _mm512_dpwssd_epi32(n1[c], p1, av);
            }
        }
        __m512 d0 = _mm512_load_ps(P + GK_D), d1 = _mm512_load_ps(P + GK_D + 64);
        __m512 e0 = _mm512_load_ps(P + GK_DM), e1 = _mm512_load_ps(P + GK_DM + 64);
#pragma GCC unroll 4
        for (int c = 0; c < nt; c++) {
            __m512 da = _mm512_set1_ps(y[c]->d);
            if (q4k) {
                acc0[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t0[c]), _mm512_mul_ps(d0, da), acc0[c]);
                acc1[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t1[c]), _mm512_mul_ps(d1, da), acc1[c]);
                acc0[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(n0[c]), _mm512_mul_ps(e0, da), acc0[c]);
                acc1[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(n1[c]), _mm512_mul_ps(e1, da), acc1[c]);
            } else {
                __m512i x0 = _mm512_sub_epi32(t0[c], _mm512_slli_epi32(n0[c], 5));
                __m512i x1 = _mm512_sub_epi32(t1[c], _mm512_slli_epi32(n1[c], 5));
                acc0[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(x0), _mm512_mul_ps(d0, da), acc0[c]);
                acc1[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(x1), _mm512_mul_ps(d1, da), acc1[c]);
            }
        }
    }
    for (int c = 0; c < nt; c++) {
        _mm512_mask_storeu_ps(out + (size_t)c * ldo, m0, acc0[c]);
        _mm512_mask_storeu_ps(out + (size_t)c * ldo + 16, m1, acc1[c]);
    }
}

#define GK_TILE_N(N, Q4K)                                                                          \
    static GZ_TGT void gk_tile_##N##_##Q4K(const uint8_t *pk, size_t nsb, const char *a,           \
                                           size_t arb, float *out, size_t ldo, __mmask16 m0,       \
                                           __mmask16 m1)                                           \
    {                                                                                              \
        gk_tile(N, Q4K, pk, nsb, a, arb, out, ldo, m0, m1);                                        \
    }
GK_TILE_N(1, 0)
GK_TILE_N(2, 0)
GK_TILE_N(3, 0)
GK_TILE_N(4, 0)
GK_TILE_N(1, 1)
GK_TILE_N(2, 1)
GK_TILE_N(3, 1)
GK_TILE_N(4, 1)

typedef void (*gk_tile_fn)(const uint8_t *, size_t, const char *, size_t, float *, size_t,
                           __mmask16, __mmask16);

static GZ_TGT int gk_gemm(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                          const void *a, size_t m, float *out, size_t ldo)
{
    static const gk_tile_fn tiles[2][GK_TOK + 1] = {
        {NULL, gk_tile_1_0, gk_tile_2_0, gk_tile_3_0, gk_tile_4_0},
        {NULL, gk_tile_1_1, gk_tile_2_1, gk_tile_3_1, gk_tile_4_1}};
    size_t wrb = infer_type_row_bytes(wtype, k), arb = infer_act_row_bytes(wtype, k);
    size_t nsb = k / INFER_QK_K, bytes;
    if (wrb > GZ_MAX_ROW_BYTES)
        return KEEP_ERR_UNSUPPORTED;
    if (keep_mul_overflow(nsb, (size_t)GK_BYTES, &bytes) ||
        keep_add_overflow(bytes, (size_t)64, &bytes))
        return KEEP_ERR_NOMEM;
    char *mem = keep_malloc(bytes);
    if (!mem)
        return KEEP_ERR_NOMEM;
    uint8_t *pk = (uint8_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    int q4k = wtype == INFER_T_Q4_K;
    for (size_t r = r0; r < r1; r += GZ_ROWS) {
        size_t nr = r1 - r < GZ_ROWS ? r1 - r : GZ_ROWS;
        for (size_t b = 0; b < nsb; b++)
            gk_repack(wtype, w, wrb, b, r, nr, pk + b * GK_BYTES);
        __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
        __mmask16 m1 = nr <= 16 ? 0 : nr >= 32 ? 0xffff : (__mmask16)((1u << (nr - 16)) - 1);
        for (size_t i = 0; i < m; i += GK_TOK) {
            size_t nt = m - i < GK_TOK ? m - i : GK_TOK;
            tiles[q4k][nt](pk, nsb, (const char *)a + i * arb, arb, out + i * ldo + r, ldo, m0, m1);
        }
    }
    keep_free(mem);
    return KEEP_OK;
}

GZ_TGT int infer__qgemm_avx512(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                              const void *a, size_t m, float *out, size_t ldo)
{
    static const gz_tile_fn tiles[GZ_TOK + 1] = {NULL,      gz_tile_1, gz_tile_2, gz_tile_3,
                                                 gz_tile_4, gz_tile_5, gz_tile_6};
    if (!infer__qgemm_supported(wtype))
        return KEEP_ERR_UNSUPPORTED;
    if (r0 >= r1 || m == 0 || k == 0)
        return KEEP_OK;
    if (wtype == INFER_T_Q4_K || wtype == INFER_T_Q6_K)
        return gk_gemm(wtype, w, k, r0, r1, a, m, out, ldo);
    size_t wrb = infer_type_row_bytes(wtype, k), arb = infer_act_row_bytes(wtype, k);
    size_t nb = k / INFER_QK;
    if (wrb > GZ_MAX_ROW_BYTES)
        return KEEP_ERR_UNSUPPORTED;
    /* scratch: repacked group (1024 bytes per block) | its scales | per
     * token and block: activation scale, correction */
    size_t pw_bytes, pd_bytes, act_n, total;
    if (keep_mul_overflow(nb, (size_t)1024, &pw_bytes) ||
        keep_mul_overflow(nb, GZ_ROWS * sizeof(float), &pd_bytes) ||
        keep_mul_overflow(m, nb, &act_n) || keep_mul_overflow(act_n, (size_t)8, &total) ||
        keep_add_overflow(total, pw_bytes + pd_bytes + 64, &total))
        return KEEP_ERR_NOMEM;
    char *mem = keep_malloc(total);
    if (!mem)
        return KEEP_ERR_NOMEM;
    uint8_t *pw = (uint8_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    float *pd = (float *)(pw + pw_bytes);
    float *da = pd + nb * GZ_ROWS;
    int32_t *corr = (int32_t *)(da + act_n);
    gz_prep_act(a, arb, m, nb, da, corr);
    for (size_t r = r0; r < r1; r += GZ_ROWS) {
        size_t nr = r1 - r < GZ_ROWS ? r1 - r : GZ_ROWS;
        gz_repack(wtype, w, wrb, nb, r, nr, pw, pd);
        __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
        __mmask16 m1 = nr <= 16 ? 0 : nr >= 32 ? 0xffff : (__mmask16)((1u << (nr - 16)) - 1);
        for (size_t i = 0; i < m; i += GZ_TOK) {
            size_t nt = m - i < GZ_TOK ? m - i : GZ_TOK;
            tiles[nt](pw, pd, nb, (const char *)a + i * arb, arb, da + i * nb, corr + i * nb,
                      out + i * ldo + r, ldo, m0, m1);
        }
    }
    keep_free(mem);
    return KEEP_OK;
}
#else
int infer__qgemm_avx512(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                       const void *a, size_t m, float *out, size_t ldo)
{
    (void)wtype, (void)w, (void)k, (void)r0, (void)r1, (void)a, (void)m, (void)out, (void)ldo;
    return KEEP_ERR_UNSUPPORTED;
}
#endif
