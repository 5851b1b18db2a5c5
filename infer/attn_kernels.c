/* attn_kernels.c — query·key and weight·value over F16 cache rows, portable C
 * and AVX2 (F16C converts 8 halves per instruction, FMA accumulates in four
 * independent registers to hide latency). The AVX2 functions carry target
 * attributes, so the file needs no special flags and only runs them when
 * cpu.c reports the level. */
#include "infer/attn_kernels.h"

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

static float dot_scalar(const float *x, const uint16_t *y, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] * f16_table[y[i]];
        s1 += x[i + 1] * f16_table[y[i + 1]];
        s2 += x[i + 2] * f16_table[y[i + 2]];
        s3 += x[i + 3] * f16_table[y[i + 3]];
    }
    for (; i < n; i++) s0 += x[i] * f16_table[y[i]];
    return (s0 + s1) + (s2 + s3);
}

static void axpy_scalar(float *acc, float w, const uint16_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++) acc[i] += w * f16_table[y[i]];
}

static void scores_scalar(const float *q, const uint16_t *K, size_t n_keys, size_t d, float *out)
{
    for (size_t p = 0; p < n_keys; p++) out[p] = dot_scalar(q, K + p * d, d);
}

static void wsum_scalar(float *out, const float *w, const uint16_t *V, size_t n_keys, size_t d)
{
    for (size_t i = 0; i < d; i++) out[i] = 0;
    for (size_t p = 0; p < n_keys; p++) axpy_scalar(out, w[p], V + p * d, d);
}

#if defined(__x86_64__)
#define TGT __attribute__((target("avx2,fma,f16c")))

TGT static float dot_avx2(const float *x, const uint16_t *y, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
           a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i))), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8))), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 16))), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 24))), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i))), a0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float r = _mm_cvtss_f32(h);
    for (; i < n; i++) r += x[i] * f16_table[y[i]];
    return r;
}

TGT static void axpy_avx2(float *acc, float w, const uint16_t *y, size_t n)
{
    __m256 wv = _mm256_set1_ps(w);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i)));
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wv, v, _mm256_loadu_ps(acc + i)));
    }
    for (; i < n; i++) acc[i] += w * f16_table[y[i]];
}

/* Eight keys at a time, one accumulator each, the query chunk loaded once;
 * the eight sums leave in one register through a transposing hadd tree. */
TGT static void scores_avx2(const float *q, const uint16_t *K, size_t n_keys, size_t d, float *out)
{
    size_t p = 0;
    if (d % 8 == 0) {
        for (; p + 8 <= n_keys; p += 8) {
            __m256 a[8];
            for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
            for (size_t i = 0; i < d; i += 8) {
                __m256 qv = _mm256_loadu_ps(q + i);
                for (int j = 0; j < 8; j++)
                    a[j] = _mm256_fmadd_ps(
                        qv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(K + (p + (size_t)j) * d + i))),
                        a[j]);
            }
            __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
            __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
            t0 = _mm256_hadd_ps(t0, t1);
            t2 = _mm256_hadd_ps(t2, t3);
            __m256 s = _mm256_add_ps(_mm256_permute2f128_ps(t0, t2, 0x20), _mm256_permute2f128_ps(t0, t2, 0x31));
            _mm256_storeu_ps(out + p, s);
        }
    }
    for (; p < n_keys; p++) out[p] = dot_avx2(q, K + p * d, d);
}

/* Output columns in blocks of 32 held in four registers across all keys. */
TGT static void wsum_avx2(float *out, const float *w, const uint16_t *V, size_t n_keys, size_t d)
{
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
               a3 = _mm256_setzero_ps();
        const uint16_t *v = V + i;
        for (size_t p = 0; p < n_keys; p++, v += d) {
            __m256 wv = _mm256_broadcast_ss(w + p);
            a0 = _mm256_fmadd_ps(wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)v)), a0);
            a1 = _mm256_fmadd_ps(wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 8))), a1);
            a2 = _mm256_fmadd_ps(wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 16))), a2);
            a3 = _mm256_fmadd_ps(wv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 24))), a3);
        }
        _mm256_storeu_ps(out + i, a0);
        _mm256_storeu_ps(out + i + 8, a1);
        _mm256_storeu_ps(out + i + 16, a2);
        _mm256_storeu_ps(out + i + 24, a3);
    }
    if (i < d) {
        for (size_t j = i; j < d; j++) out[j] = 0;
        for (size_t p = 0; p < n_keys; p++) axpy_avx2(out + i, w[p], V + p * d + i, d - i);
    }
}
#endif

infer__attn_kernels infer__attn_kernels_get(void)
{
    pthread_once(&table_once, table_init);
    infer__attn_kernels k = {dot_scalar, axpy_scalar, scores_scalar, wsum_scalar};
#if defined(__x86_64__)
    if (infer_cpu_level() >= INFER_CPU_AVX2) {
        k.dot = dot_avx2;
        k.axpy = axpy_avx2;
        k.scores = scores_avx2;
        k.wsum = wsum_avx2;
    }
#endif
    return k;
}
