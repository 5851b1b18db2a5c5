/* qgemm_avx512.c — the prompt-phase GEMM (qgemm.h) with AVX-512 VNNI, for
 * q4_0 / q5_0 / q8_0 weights x q8_0 activations.
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

/* The 32 values of block b of a row as unsigned bytes q + 128. */
GZ_INL __m256i gz_decode(uint32_t wtype, const char *row, size_t b, float *d)
{
    if (wtype == INFER_T_Q8_0) {
        const infer_block_q8_0 *x = (const infer_block_q8_0 *)row + b;
        *d = _cvtsh_ss(x->d);
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x->qs),
                                _mm256_set1_epi8((char)0x80));
    }
    if (wtype == INFER_T_Q4_0) {
        const infer_block_q4_0 *x = (const infer_block_q4_0 *)row + b;
        *d = _cvtsh_ss(x->d);
        __m128i v = _mm_loadu_si128((const __m128i *)x->qs);
        __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0f));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0f));
        return _mm256_add_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(120));
    }
    const infer_block_q5_0 *x = (const infer_block_q5_0 *)row + b;
    *d = _cvtsh_ss(x->d);
    uint32_t qh;
    memcpy(&qh, x->qh, 4);
    __m128i v = _mm_loadu_si128((const __m128i *)x->qs);
    __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0f));
    __m256i q = _mm256_set_m128i(hi, lo);
    q = _mm256_or_si256(q, _mm256_and_si256(_mm256_movm_epi8((__mmask32)qh), _mm256_set1_epi8(0x10)));
    return _mm256_add_epi8(q, _mm256_set1_epi8(112));
}

/* Repacks rows [r, r + nr) (nr <= GZ_ROWS) into pw / pd; missing rows become
 * zeros with scale 0. */
GZ_INL void gz_repack(uint32_t wtype, const char *w, size_t wrb, size_t nb, size_t r, size_t nr,
                      uint8_t *pw, float *pd)
{
    const __m256i idx = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    for (size_t l = 0; l < GZ_ROWS; l++) {
        size_t h = l / 16, lane = l % 16;
        int *base = (int *)(pw + h * 64 + lane * 4);
        if (l >= nr) {
            for (size_t b = 0; b < nb; b++) {
                _mm256_i32scatter_epi32(base + b * 256, idx, _mm256_set1_epi8((char)0x80), 4);
                pd[b * GZ_ROWS + l] = 0;
            }
            continue;
        }
        const char *row = w + (r + l) * wrb;
        for (size_t b = 0; b < nb; b++) {
            float d;
            __m256i q = gz_decode(wtype, row, b, &d);
            /* dword g goes to vector (b * 8 + g) * 2 + h: 256 ints per block */
            _mm256_i32scatter_epi32(base + b * 256, idx, q, 4);
            pd[b * GZ_ROWS + l] = d;
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

GZ_TGT int infer__qgemm_avx512(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                              const void *a, size_t m, float *out, size_t ldo)
{
    static const gz_tile_fn tiles[GZ_TOK + 1] = {NULL,      gz_tile_1, gz_tile_2, gz_tile_3,
                                                 gz_tile_4, gz_tile_5, gz_tile_6};
    if (!infer__qgemm_supported(wtype))
        return KEEP_ERR_UNSUPPORTED;
    size_t wrb = infer_type_row_bytes(wtype, k), arb = infer_act_row_bytes(wtype, k);
    size_t nb = k / INFER_QK;
    if (r0 >= r1 || m == 0 || nb == 0)
        return KEEP_OK;
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
