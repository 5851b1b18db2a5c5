/* emb_gemm.c — float matrix product, GELU, softmax and layer norm for the encoder
 * models (emb_gemm.h): panel packing (weight dequantization), then the tiled
 * product of emb_gemm_tpl.h compiled three times — portable C, AVX2 + FMA and
 * AVX-512 — with the level chosen per call from infer_cpu_level(). Functions
 * of the SIMD levels carry target attributes, so no special compiler flags
 * are needed and nothing here runs on a CPU that lacks the level. */
#include "emb_gemm.h"

#include <math.h>
#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "quant.h"

/* ---- packing ---------------------------------------------------------------- */

#if defined(__x86_64__)
static void q8_0_row_avx2(const char *src, float *row, size_t k);
static void transpose_avx2(const float *rows, size_t k, size_t e0, float *dst);
#endif

/* Row j of a weight matrix as k floats. */
static void weight_row(const infer__gemm_b *b, size_t j, float *row)
{
    const char *src = b->data + j * b->row_bytes;
    size_t k = b->k;
    switch (b->type) {
    case INFER_T_F32:
        memcpy(row, src, k * sizeof(float));
        break;
    case INFER_T_F16: {
        const uint16_t *h = (const uint16_t *)(const void *)src;
        infer_f16_to_f32_row(h, row, k);
        break;
    }
    case INFER_T_Q8_0:
#if defined(__x86_64__)
        if (infer_cpu_level() >= INFER_CPU_AVX2) {
            q8_0_row_avx2(src, row, k);
            break;
        }
#endif
        for (size_t blk = 0; blk < k / INFER_QK; blk++) {
            const char *p = src + blk * 34;
            uint16_t dh;
            memcpy(&dh, p, 2);
            float d = infer_f16_to_f32(dh);
            const int8_t *q = (const int8_t *)(const void *)(p + 2);
            float *o = row + blk * INFER_QK;
            for (int i = 0; i < INFER_QK; i++)
                o[i] = d * (float)q[i];
        }
        break;
    default:
        infer_dequantize_row(b->type, src, row, k);
        break;
    }
}

/* Packs columns [col, min(col + NR, cend)) of B into dst as k rows of NR
 * floats (missing columns zero). rows is NR * k floats of scratch: the weight
 * rows are dequantized there first, then transposed in NR x NR tiles, so
 * both the reads and the writes of the transpose stay within L1. */
static void gemm_pack(const infer__gemm_b *b, size_t col, size_t cend, float *dst, float *rows)
{
    size_t k = b->k;
    size_t nc = cend - col < INFER__GEMM_NR ? cend - col : INFER__GEMM_NR;
    if (b->rowmajor_f32) {
        for (size_t e = 0; e < k; e++) {
            float *d = dst + e * INFER__GEMM_NR;
            memcpy(d, b->b + e * b->ldb + col, nc * sizeof(float));
            for (size_t j = nc; j < INFER__GEMM_NR; j++)
                d[j] = 0;
        }
        return;
    }
    for (size_t j = 0; j < nc; j++)
        weight_row(b, col + j, rows + j * k);
#if defined(__x86_64__)
    int fast = nc == INFER__GEMM_NR && infer_cpu_level() >= INFER_CPU_AVX2;
#else
    int fast = 0;
#endif
    for (size_t e0 = 0; e0 < k; e0 += INFER__GEMM_NR) {
        size_t ee = k - e0 < INFER__GEMM_NR ? k : e0 + INFER__GEMM_NR;
#if defined(__x86_64__)
        if (fast && ee - e0 == INFER__GEMM_NR) {
            transpose_avx2(rows, k, e0, dst);
            continue;
        }
#endif
        for (size_t e = e0; e < ee; e++) {
            float *d = dst + e * INFER__GEMM_NR;
            for (size_t j = 0; j < nc; j++)
                d[j] = rows[j * k + e];
            for (size_t j = nc; j < INFER__GEMM_NR; j++)
                d[j] = 0;
        }
    }
}

size_t infer__gemm_scratch_floats(size_t k)
{
    return (size_t)(INFER__GEMM_GROUP + 1) * INFER__GEMM_NR * k;
}

/* ---- exp and GELU ------------------------------------------------------------------ */

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

static void vgelu_c(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = 2.0f * GELU_C * (v + 0.044715f * v * v * v);
        x[i] = u < -87.0f ? 0.0f : v / (1.0f + expf(-u > 88.0f ? 88.0f : -u));
    }
}

static void layer_norm_c(float *x, const float *add, size_t d, const float *w, const float *b,
                         float eps)
{
    float mean = 0;
    for (size_t i = 0; i < d; i++) {
        if (add)
            x[i] += add[i];
        mean += x[i];
    }
    mean /= (float)d;
    float var = 0;
    for (size_t i = 0; i < d; i++)
        var += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf(var / (float)d + eps);
    for (size_t i = 0; i < d; i++)
        x[i] = (x[i] - mean) * inv * w[i] + b[i];
}

static void softmax_c(float *x, size_t n, float scale)
{
    float mx = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] *= scale;
        mx = x[i] > mx ? x[i] : mx;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    for (size_t i = 0; i < n; i++)
        x[i] /= sum;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define X2_TGT __attribute__((target("avx2,fma")))

/* exp on 8 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6
 * polynomial (Taylor coefficients: at |r| <= 0.347 the first omitted term is
 * below 3e-8), 2^n built in the exponent bits. Inputs are clamped to
 * [-87, 88] so 2^n stays a normal number; callers zero what lies below. */
static inline __attribute__((always_inline)) X2_TGT __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

X2_TGT static void vgelu_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(2.0f * GELU_C),
                                 _mm256_fmadd_ps(v3, _mm256_set1_ps(0.044715f), v));
        __m256 lo = _mm256_cmp_ps(u, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
        __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), u)));
        _mm256_storeu_ps(x + i, _mm256_andnot_ps(lo, _mm256_div_ps(v, d)));
    }
    vgelu_c(x + i, n - i);
}

X2_TGT static void q8_0_row_avx2(const char *src, float *row, size_t k)
{
    for (size_t blk = 0; blk < k / INFER_QK; blk++) {
        const char *p = src + blk * 34;
        uint16_t dh;
        memcpy(&dh, p, 2);
        __m256 d = _mm256_set1_ps(infer_f16_to_f32(dh));
        for (int i = 0; i < INFER_QK; i += 8) {
            __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(p + 2 + i));
            __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
            _mm256_storeu_ps(row + blk * INFER_QK + i, _mm256_mul_ps(f, d));
        }
    }
}

/* dst[e * NR + j] = rows[j * k + e] for the NR x NR tile at e0, by 8 x 8
 * register transposes. */
X2_TGT static void transpose_avx2(const float *rows, size_t k, size_t e0, float *dst)
{
    for (size_t jb = 0; jb < INFER__GEMM_NR; jb += 8) {
        for (size_t eb = 0; eb < INFER__GEMM_NR; eb += 8) {
            __m256 r[8], t[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(rows + (jb + (size_t)i) * k + e0 + eb);
            t[0] = _mm256_unpacklo_ps(r[0], r[1]);
            t[1] = _mm256_unpackhi_ps(r[0], r[1]);
            t[2] = _mm256_unpacklo_ps(r[2], r[3]);
            t[3] = _mm256_unpackhi_ps(r[2], r[3]);
            t[4] = _mm256_unpacklo_ps(r[4], r[5]);
            t[5] = _mm256_unpackhi_ps(r[4], r[5]);
            t[6] = _mm256_unpacklo_ps(r[6], r[7]);
            t[7] = _mm256_unpackhi_ps(r[6], r[7]);
            r[0] = _mm256_shuffle_ps(t[0], t[2], 0x44);
            r[1] = _mm256_shuffle_ps(t[0], t[2], 0xEE);
            r[2] = _mm256_shuffle_ps(t[1], t[3], 0x44);
            r[3] = _mm256_shuffle_ps(t[1], t[3], 0xEE);
            r[4] = _mm256_shuffle_ps(t[4], t[6], 0x44);
            r[5] = _mm256_shuffle_ps(t[4], t[6], 0xEE);
            r[6] = _mm256_shuffle_ps(t[5], t[7], 0x44);
            r[7] = _mm256_shuffle_ps(t[5], t[7], 0xEE);
            for (int i = 0; i < 4; i++) {
                t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
                t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
            }
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(dst + (e0 + eb + (size_t)i) * INFER__GEMM_NR + jb, t[i]);
        }
    }
}

static inline __attribute__((always_inline)) X2_TGT float hsum8(__m256 v)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

X2_TGT static void layer_norm_avx2(float *x, const float *add, size_t d, const float *w,
                                   const float *b, float eps)
{
    if (d % 8) {
        layer_norm_c(x, add, d, w, b, eps);
        return;
    }
    __m256 s = _mm256_setzero_ps();
    for (size_t i = 0; i < d; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        if (add) {
            v = _mm256_add_ps(v, _mm256_loadu_ps(add + i));
            _mm256_storeu_ps(x + i, v);
        }
        s = _mm256_add_ps(s, v);
    }
    __m256 mean = _mm256_set1_ps(hsum8(s) / (float)d);
    __m256 q = _mm256_setzero_ps();
    for (size_t i = 0; i < d; i += 8) {
        __m256 c = _mm256_sub_ps(_mm256_loadu_ps(x + i), mean);
        q = _mm256_fmadd_ps(c, c, q);
    }
    __m256 inv = _mm256_set1_ps(1.0f / sqrtf(hsum8(q) / (float)d + eps));
    for (size_t i = 0; i < d; i += 8) {
        __m256 c = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mean), inv);
        _mm256_storeu_ps(x + i, _mm256_fmadd_ps(c, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
    }
}

X2_TGT static void softmax_avx2(float *x, size_t n, float scale)
{
    size_t i = 0;
    __m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(-INFINITY);
    float mx = -INFINITY;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(x + i, v);
        vm = _mm256_max_ps(vm, v);
    }
    for (; i < n; i++) {
        x[i] *= scale;
        mx = x[i] > mx ? x[i] : mx;
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vm);
    for (int j = 0; j < 8; j++)
        mx = lanes[j] > mx ? lanes[j] : mx;
    __m256 m = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    float sum = 0;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
        __m256 lo = _mm256_cmp_ps(v, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
        v = _mm256_andnot_ps(lo, exp8(v));
        _mm256_storeu_ps(x + i, v);
        acc = _mm256_add_ps(acc, v);
    }
    for (; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    sum += hsum8(acc);
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] /= sum;
}
#endif

void infer__layer_norm(float *x, const float *add, size_t d, const float *w, const float *b,
                       float eps)
{
#if defined(__x86_64__)
    if (infer_cpu_level() >= INFER_CPU_AVX2) {
        layer_norm_avx2(x, add, d, w, b, eps);
        return;
    }
#endif
    layer_norm_c(x, add, d, w, b, eps);
}

void infer__softmax(float *x, size_t n, float scale)
{
#if defined(__x86_64__)
    if (infer_cpu_level() >= INFER_CPU_AVX2) {
        softmax_avx2(x, n, scale);
        return;
    }
#endif
    softmax_c(x, n, scale);
}

void infer__vgelu(float *x, size_t n)
{
#if defined(__x86_64__)
    if (infer_cpu_level() >= INFER_CPU_AVX2) {
        vgelu_avx2(x, n);
        return;
    }
#endif
    vgelu_c(x, n);
}

/* ---- the product, per level ---------------------------------------------------------- */

/* Rows of activations per block (EG_MB x EG_KC floats = 96 KiB stay in L2)
 * and k per block (a packed panel slice of EG_KC x NR floats = 32 KiB). */
#define EG_MB 96
#define EG_KC 256

/* Portable C: the tile is plain floats; the compiler may vectorize it. */
#define EG(x) x##_c
#define EG_TGT
#define EG_V float
#define EG_W 1
#define EG_NV 32
#define EG_MR 2
#define EG_ZERO() 0.0f
#define EG_SET1(x) (x)
#define EG_LOADU(p) (*(p))
#define EG_STOREU(p, v) (*(p) = (v))
#define EG_FMA(a, b, c) ((a) * (b) + (c))
#define EG_ADD(a, b) ((a) + (b))
#include "emb_gemm_tpl.h"
#undef EG
#undef EG_TGT
#undef EG_V
#undef EG_W
#undef EG_NV
#undef EG_MR
#undef EG_ZERO
#undef EG_SET1
#undef EG_LOADU
#undef EG_STOREU
#undef EG_FMA
#undef EG_ADD

#if defined(__x86_64__)
/* AVX2: tiles of 6 rows x 2 vectors of 8 floats (a panel is two tiles
 * wide): 12 accumulators, 2 weight vectors and a broadcast fit the 16 ymm
 * registers. */
#define EG(x) x##_avx2
#define EG_TGT X2_TGT
#define EG_V __m256
#define EG_W 8
#define EG_NV 2
#define EG_MR 6
#define EG_ZERO() _mm256_setzero_ps()
#define EG_SET1(x) _mm256_set1_ps(x)
#define EG_LOADU(p) _mm256_loadu_ps(p)
#define EG_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define EG_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define EG_ADD(a, b) _mm256_add_ps((a), (b))
#include "emb_gemm_tpl.h"
#undef EG
#undef EG_TGT
#undef EG_V
#undef EG_W
#undef EG_NV
#undef EG_MR
#undef EG_ZERO
#undef EG_SET1
#undef EG_LOADU
#undef EG_STOREU
#undef EG_FMA
#undef EG_ADD

/* AVX-512: 2 x 16-float vectors per row, 12 rows: 24 accumulators of the 32
 * zmm registers. */
#define EG(x) x##_avx512
#define EG_TGT __attribute__((target("avx512f,avx2,fma")))
#define EG_V __m512
#define EG_W 16
#define EG_NV 2
#define EG_MR 12
#define EG_ZERO() _mm512_setzero_ps()
#define EG_SET1(x) _mm512_set1_ps(x)
#define EG_LOADU(p) _mm512_loadu_ps(p)
#define EG_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define EG_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define EG_ADD(a, b) _mm512_add_ps((a), (b))
#include "emb_gemm_tpl.h"
#undef EG
#undef EG_TGT
#undef EG_V
#undef EG_W
#undef EG_NV
#undef EG_MR
#undef EG_ZERO
#undef EG_SET1
#undef EG_LOADU
#undef EG_STOREU
#undef EG_FMA
#undef EG_ADD
#endif

void infer__gemm(const infer__gemm_b *b, size_t c0, size_t c1, const float *a, size_t lda,
                 size_t m, const float *bias, float *out, size_t ldo, float *scratch, int act)
{
    if (c0 >= c1 || m == 0)
        return;
#if defined(__x86_64__)
    int level = infer_cpu_level();
    if (level >= INFER_CPU_AVX512) {
        gemm_avx512(b, c0, c1, a, lda, m, bias, out, ldo, scratch, act);
        return;
    }
    if (level >= INFER_CPU_AVX2) {
        gemm_avx2(b, c0, c1, a, lda, m, bias, out, ldo, scratch, act);
        return;
    }
#endif
    gemm_c(b, c0, c1, a, lda, m, bias, out, ldo, scratch, act);
}
