/* attn_kernels.c — the two attention paths of attn_kernels.h (llama.cpp's
 * vector path with an f16 accumulator and its tiled f32 path), in portable C
 * and in AVX2 (F16C converts 8 halves per instruction, FMA fuses as the C
 * code's fmaf does). The AVX2 functions carry target attributes, so the file
 * needs no special flags and only runs them when cpu.c reports the level.
 *
 * The order of every sum is part of the contract: f16 dot products run in
 * 4 x 8 lanes over 32-element steps, lanes folded (0+2)+(1+3), then the 8
 * lanes as a tree, the rest added in double; tile exponential sums fold 8
 * lanes the same way into a double. That is the order llama.cpp's AVX2 build
 * (the build the reference outputs come from) sums in, and the scalar code
 * emulates it so that both levels agree bit for bit. */
#include "infer/attn_kernels.h"

#include <math.h>
#include <pthread.h>

#include "infer/cpu.h"
#include "infer/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float f16_table[65536];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 65536; i++) f16_table[i] = infer_f16_to_f32((uint16_t)i);
}

#define H(x) f16_table[(x)]

/* ---- portable C ------------------------------------------------------------ */

/* dot of two f16 rows in the lane order described at the top */
static float dot_hh_scalar(const uint16_t *x, const uint16_t *y, size_t n)
{
    float acc[32] = {0};
    size_t np = n & ~(size_t)31;
    for (size_t i = 0; i < np; i += 32)
        for (int l = 0; l < 32; l++) acc[l] = fmaf(H(x[i + l]), H(y[i + l]), acc[l]);
    float r[8];
    for (int l = 0; l < 8; l++) r[l] = (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
    float t0 = r[0] + r[4], t1 = r[1] + r[5], t2 = r[2] + r[6], t3 = r[3] + r[7];
    double sum = (t0 + t1) + (t2 + t3);
    for (size_t i = np; i < n; i++) sum += (double)(H(x[i]) * H(y[i]));
    return (float)sum;
}

static void scale_h_scalar(uint16_t *y, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) y[i] = infer_f32_to_f16(H(y[i]) * v);
}

static void mad_h_scalar(uint16_t *y, const uint16_t *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) y[i] = infer_f32_to_f16(fmaf(H(x[i]), v, H(y[i])));
}

static void vec_scalar(const float *q, const uint16_t *K, const uint16_t *V, size_t n_keys,
                       size_t dk, size_t dv, float scale, float *out)
{
    uint16_t qh[INFER__ATT_MAX_DIM], acc[INFER__ATT_MAX_DIM];
    for (size_t i = 0; i < dk; i++) qh[i] = infer_f32_to_f16(q[i]);
    for (size_t i = 0; i < dv; i++) acc[i] = 0;
    float M = -INFINITY, S = 0;
    for (size_t p = 0; p < n_keys; p++) {
        float s = dot_hh_scalar(qh, K + p * dk, dk) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            float old = M;
            M = s;
            ms = expf(old - M);
            scale_h_scalar(acc, dv, ms);
        } else {
            vs = expf(s - M);
        }
        mad_h_scalar(acc, V + p * dv, dv, vs);
        float sm = S * ms;
        S = sm + vs;
    }
    float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (size_t i = 0; i < dv; i++) out[i] = H(acc[i]) * inv;
}

/* exp(s - m) over a tile in place; returns the sum in the lane order above */
static double tile_exp_scalar(float *s, float m)
{
    double sum = 0;
    for (int g = 0; g < INFER__ATT_TILE; g += 8) {
        float *e = s + g;
        for (int l = 0; l < 8; l++) e[l] = expf(e[l] - m);
        float a0 = e[0] + e[4], a1 = e[1] + e[5], a2 = e[2] + e[6], a3 = e[3] + e[7];
        sum += (double)((a0 + a2) + (a1 + a3));
    }
    return sum;
}

/* The per-tile bookkeeping both tiled versions share: scores sc of one tile
 * (padded with -inf) in, running max/sum and the output rescaled; sc turns
 * into the tile's weights. */
static void tile_softmax(float *sc, float *M, float *S, float *out, size_t dv)
{
    float tmax = -INFINITY;
    for (int j = 0; j < INFER__ATT_TILE; j++) tmax = fmaxf(tmax, sc[j]);
    float mnew = fmaxf(*M, tmax);
    if (mnew > *M) {
        float ms = expf(*M - mnew);
        for (size_t i = 0; i < dv; i++) out[i] *= ms;
        *S *= ms;
    }
    *M = mnew;
    *S = (float)((double)*S + tile_exp_scalar(sc, mnew));
}

static void tiled_scalar(const float *q, const uint16_t *K, const uint16_t *V, size_t n_keys,
                         size_t dk, size_t dv, float scale, float *out)
{
    float sc[INFER__ATT_TILE], M = -INFINITY, S = 0;
    for (size_t i = 0; i < dv; i++) out[i] = 0;
    for (size_t t0 = 0; t0 < n_keys; t0 += INFER__ATT_TILE) {
        size_t nt = n_keys - t0 < INFER__ATT_TILE ? n_keys - t0 : INFER__ATT_TILE;
        for (size_t j = 0; j < nt; j++) {
            const uint16_t *k = K + (t0 + j) * dk;
            float s = 0;
            for (size_t i = 0; i < dk; i++) s = fmaf(q[i], H(k[i]), s);
            sc[j] = s * scale;
        }
        for (size_t j = nt; j < INFER__ATT_TILE; j++) sc[j] = -INFINITY;
        tile_softmax(sc, &M, &S, out, dv);
        for (size_t j = 0; j < nt; j++) {
            const uint16_t *v = V + (t0 + j) * dv;
            for (size_t i = 0; i < dv; i++) out[i] = fmaf(sc[j], H(v[i]), out[i]);
        }
    }
    float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (size_t i = 0; i < dv; i++) out[i] *= inv;
}

/* The batched form of tiled_scalar: each query on its own, the reference the
 * AVX2 batch kernel must equal bit for bit. */
static void tiled_many_scalar(size_t n_q, const float *const *q, const size_t *n_keys, float *const *out,
                              const uint16_t *K, const uint16_t *V, size_t dk, size_t dv, float scale,
                              float *scratch)
{
    (void)scratch;
    for (size_t r = 0; r < n_q; r++) tiled_scalar(q[r], K, V, n_keys[r], dk, dv, scale, out[r]);
}

/* ---- AVX2 + F16C + FMA ------------------------------------------------------- */

#if defined(__x86_64__)
#define TGT __attribute__((target("avx2,fma,f16c")))

TGT static inline __m256 ld8h(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

TGT static inline void st8h(uint16_t *p, __m256 v)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

TGT static float dot_hh_avx2(const uint16_t *x, const uint16_t *y, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
           a3 = _mm256_setzero_ps();
    size_t np = n & ~(size_t)31;
    for (size_t i = 0; i < np; i += 32) {
        a0 = _mm256_fmadd_ps(ld8h(x + i), ld8h(y + i), a0);
        a1 = _mm256_fmadd_ps(ld8h(x + i + 8), ld8h(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(ld8h(x + i + 16), ld8h(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(ld8h(x + i + 24), ld8h(y + i + 24), a3);
    }
    __m256 r = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(r), _mm256_extractf128_ps(r, 1));
    t = _mm_hadd_ps(t, t);
    t = _mm_hadd_ps(t, t);
    double sum = _mm_cvtss_f32(t);
    for (size_t i = np; i < n; i++) sum += (double)(H(x[i]) * H(y[i]));
    return (float)sum;
}

TGT static void scale_h_avx2(uint16_t *y, size_t n, float v)
{
    __m256 vv = _mm256_set1_ps(v);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) st8h(y + i, _mm256_mul_ps(ld8h(y + i), vv));
    for (; i < n; i++) y[i] = infer_f32_to_f16(H(y[i]) * v);
}

TGT static void mad_h_avx2(uint16_t *y, const uint16_t *x, size_t n, float v)
{
    __m256 vv = _mm256_set1_ps(v);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) st8h(y + i, _mm256_fmadd_ps(ld8h(x + i), vv, ld8h(y + i)));
    for (; i < n; i++) y[i] = infer_f32_to_f16(fmaf(H(x[i]), v, H(y[i])));
}

TGT static void vec_avx2(const float *q, const uint16_t *K, const uint16_t *V, size_t n_keys,
                         size_t dk, size_t dv, float scale, float *out)
{
    uint16_t qh[INFER__ATT_MAX_DIM], acc[INFER__ATT_MAX_DIM];
    size_t i = 0;
    for (; i + 8 <= dk; i += 8) st8h(qh + i, _mm256_loadu_ps(q + i));
    for (; i < dk; i++) qh[i] = infer_f32_to_f16(q[i]);
    for (i = 0; i < dv; i++) acc[i] = 0;
    float M = -INFINITY, S = 0;
    for (size_t p = 0; p < n_keys; p++) {
        float s = dot_hh_avx2(qh, K + p * dk, dk) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            float old = M;
            M = s;
            ms = expf(old - M);
            scale_h_avx2(acc, dv, ms);
        } else {
            vs = expf(s - M);
        }
        mad_h_avx2(acc, V + p * dv, dv, vs);
        float sm = S * ms;
        S = sm + vs;
    }
    float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (i = 0; i < dv; i++) out[i] = H(acc[i]) * inv;
}

/* 8x8 transpose of floats: row j of the input holds key j's dims. */
TGT static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Scores of 8 keys, each a sequential fused chain over the dims (the tiled
 * path's order): 8 dims of 8 keys are transposed so one register holds one
 * dim of all 8 keys. */
TGT static __m256 scores8_avx2(const float *q, const uint16_t *K, size_t dk)
{
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dk; i += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; j++) r[j] = ld8h(K + (size_t)j * dk + i);
        transpose8(r);
        for (int l = 0; l < 8; l++) acc = _mm256_fmadd_ps(_mm256_set1_ps(q[i + (size_t)l]), r[l], acc);
    }
    for (; i < dk; i++) {
        float kv[8];
        for (int j = 0; j < 8; j++) kv[j] = H(K[(size_t)j * dk + i]);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(q[i]), _mm256_loadu_ps(kv), acc);
    }
    return acc;
}

TGT static void tiled_avx2(const float *q, const uint16_t *K, const uint16_t *V, size_t n_keys,
                           size_t dk, size_t dv, float scale, float *out)
{
    float sc[INFER__ATT_TILE], M = -INFINITY, S = 0;
    __m256 vscale = _mm256_set1_ps(scale);
    for (size_t i = 0; i < dv; i++) out[i] = 0;
    for (size_t t0 = 0; t0 < n_keys; t0 += INFER__ATT_TILE) {
        size_t nt = n_keys - t0 < INFER__ATT_TILE ? n_keys - t0 : INFER__ATT_TILE;
        size_t j = 0;
        for (; j + 8 <= nt; j += 8)
            _mm256_storeu_ps(sc + j, _mm256_mul_ps(scores8_avx2(q, K + (t0 + j) * dk, dk), vscale));
        for (; j < nt; j++) {
            const uint16_t *k = K + (t0 + j) * dk;
            float s = 0;
            for (size_t i = 0; i < dk; i++) s = fmaf(q[i], H(k[i]), s);
            sc[j] = s * scale;
        }
        for (j = nt; j < INFER__ATT_TILE; j++) sc[j] = -INFINITY;
        tile_softmax(sc, &M, &S, out, dv);
        for (j = 0; j < nt; j++) {
            const uint16_t *v = V + (t0 + j) * dv;
            __m256 w = _mm256_set1_ps(sc[j]);
            size_t i = 0;
            for (; i + 8 <= dv; i += 8)
                _mm256_storeu_ps(out + i, _mm256_fmadd_ps(w, ld8h(v + i), _mm256_loadu_ps(out + i)));
            for (; i < dv; i++) out[i] = fmaf(sc[j], H(v[i]), out[i]);
        }
    }
    float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (size_t i = 0; i < dv; i++) out[i] *= inv;
}

/* tiled_avx2 for n_q queries over the same K/V: each 64-key tile is converted
 * to f32 once (keys transposed in groups of 8, as scores8_avx2 sees them) and
 * reused by every query that reaches it. Per query the operations and their
 * order are tiled_avx2's, so the results are the same bits; only the
 * conversions (exact) are shared. */
TGT static void tiled_many_avx2(size_t n_q, const float *const *q, const size_t *n_keys, float *const *out,
                                const uint16_t *K, const uint16_t *V, size_t dk, size_t dv, float scale,
                                float *scratch)
{
    float M[INFER__ATT_MANY_MAX], S[INFER__ATT_MANY_MAX], sc[INFER__ATT_TILE];
    float *KT = scratch, *VF = scratch + INFER__ATT_TILE * dk;
    __m256 vscale = _mm256_set1_ps(scale);
    size_t max_keys = 0;
    for (size_t r = 0; r < n_q; r++) {
        M[r] = -INFINITY;
        S[r] = 0;
        for (size_t i = 0; i < dv; i++) out[r][i] = 0;
        if (n_keys[r] > max_keys) max_keys = n_keys[r];
    }
    for (size_t t0 = 0; t0 < max_keys; t0 += INFER__ATT_TILE) {
        size_t ntm = max_keys - t0 < INFER__ATT_TILE ? max_keys - t0 : INFER__ATT_TILE;
        size_t ng = (ntm + 7) / 8;
        for (size_t g = 0; g < ng; g++) {
            float *dst = KT + g * 8 * dk;
            const uint16_t *src = K + (t0 + g * 8) * dk;
            if (g * 8 + 8 <= ntm) {
                size_t i = 0;
                for (; i + 8 <= dk; i += 8) {
                    __m256 rr[8];
                    for (int l = 0; l < 8; l++) rr[l] = ld8h(src + (size_t)l * dk + i);
                    transpose8(rr);
                    for (int l = 0; l < 8; l++) _mm256_storeu_ps(dst + (i + (size_t)l) * 8, rr[l]);
                }
                for (; i < dk; i++)
                    for (size_t l = 0; l < 8; l++) dst[i * 8 + l] = H(src[l * dk + i]);
            } else {
                size_t nl = ntm - g * 8;
                for (size_t i = 0; i < dk; i++)
                    for (size_t l = 0; l < 8; l++) dst[i * 8 + l] = l < nl ? H(src[l * dk + i]) : 0.0f;
            }
        }
        for (size_t j = 0; j < ntm; j++) {
            const uint16_t *v = V + (t0 + j) * dv;
            float *d = VF + j * dv;
            size_t i = 0;
            for (; i + 8 <= dv; i += 8) _mm256_storeu_ps(d + i, ld8h(v + i));
            for (; i < dv; i++) d[i] = H(v[i]);
        }
        for (size_t r = 0; r < n_q; r++) {
            if (n_keys[r] <= t0) continue;
            size_t nt = n_keys[r] - t0 < INFER__ATT_TILE ? n_keys[r] - t0 : INFER__ATT_TILE;
            const float *qr = q[r];
            float *o = out[r];
            for (size_t g = 0; g * 8 < nt; g++) {
                const float *kt = KT + g * 8 * dk;
                __m256 acc = _mm256_setzero_ps();
                for (size_t i = 0; i < dk; i++)
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(qr[i]), _mm256_loadu_ps(kt + i * 8), acc);
                _mm256_storeu_ps(sc + g * 8, _mm256_mul_ps(acc, vscale));
            }
            for (size_t j = nt; j < INFER__ATT_TILE; j++) sc[j] = -INFINITY;
            tile_softmax(sc, &M[r], &S[r], o, dv);
            for (size_t j = 0; j < nt; j++) {
                const float *v = VF + j * dv;
                __m256 w = _mm256_set1_ps(sc[j]);
                size_t i = 0;
                for (; i + 8 <= dv; i += 8)
                    _mm256_storeu_ps(o + i,
                                     _mm256_fmadd_ps(w, _mm256_loadu_ps(v + i), _mm256_loadu_ps(o + i)));
                for (; i < dv; i++) o[i] = fmaf(sc[j], v[i], o[i]);
            }
        }
    }
    for (size_t r = 0; r < n_q; r++) {
        float inv = S[r] == 0.0f ? 0.0f : 1.0f / S[r];
        for (size_t i = 0; i < dv; i++) out[r][i] *= inv;
    }
}
#endif

infer__attn_kernels infer__attn_kernels_get(void)
{
    pthread_once(&table_once, table_init);
    infer__attn_kernels k = {vec_scalar, tiled_scalar, tiled_many_scalar};
#if defined(__x86_64__)
    if (infer_cpu_level() >= INFER_CPU_AVX2) {
        k.vec = vec_avx2;
        k.tiled = tiled_avx2;
        k.tiled_many = tiled_many_avx2;
    }
#endif
    return k;
}
