/* qgemm_x86_tpl.h — the 256-bit prompt-phase GEMM (qgemm.h) for q4_0 / q5_0 /
 * q8_0 weights x q8_0 activations, written once and compiled by qgemm_avx2.c
 * twice: plain AVX2 (vpmaddubsw + vpmaddwd) and AVX-VNNI (vpdpbusd on ymm).
 * Include only from there, after defining
 *   QT_TGT    __attribute__((target("..."))) for every function here
 *   QT_VNNI   0 or 1
 *   QT(name)  a per-variant prefix for the static names
 *   QT_ENTRY  the entry point's name
 *
 * Same scheme as qgemm_avx512.c on half the width: groups of 16 weight rows
 * repacked per call (gathered straight from the weights) so that one ymm
 * holds the same 4 bytes of 8 rows, a broadcast activation word feeds 8 rows
 * per product and accumulators hold rows in lanes; tiles of 16 rows x 2
 * tokens (16 ymm registers). With VNNI the rows are stored biased to
 * unsigned (q + 128, removed through -128 * sum(activation block) as the
 * start of each block's sum); without it they stay signed and each product
 * is vpsignb (activation takes the weight's sign) + vpmaddubsw(|w|, .) +
 * vpmaddwd, exact since |w|, |a| <= 127. */

#define QT_INL static inline __attribute__((always_inline)) QT_TGT
#define QT_ROWS 16
#define QT_TOK 2

/* 8 dwords, bytes off..off+3 of rows base + vidx[lane]; lanes not in live
 * (all-ones lanes) read nothing and give 0 */
QT_INL __m256i QT(g32)(const char *base, size_t off, __m256i vidx, __m256i live)
{
    return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(base + off), vidx,
                                       live, 1);
}

QT_INL __m256 QT(h2f)(__m256i v)
{
    __m256i p = _mm256_packus_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)),
                                    _mm256_setzero_si256());
    p = _mm256_permute4x64_epi64(p, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(p));
}

QT_INL __m256i QT(q5_bits)(__m256i qh, int G)
{
    __m256i x = _mm256_srli_epi32(qh, 4 * G);
    __m256i r = _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(1)), 4);
    r = _mm256_or_si256(r, _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(2)), 11));
    r = _mm256_or_si256(r, _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(4)), 18));
    return _mm256_or_si256(r, _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(8)), 25));
}

/* Rows [r, r + nr) (nr <= 16) into pw (512 bytes per block: group g, half h
 * at (g * 2 + h) * 32) and pd (16 scales per block). Values are q (+128 with
 * VNNI). */
QT_INL void QT(repack)(uint32_t wtype, const char *w, size_t wrb, size_t nb, size_t r, size_t nr,
                       uint8_t *pw, float *pd)
{
    size_t bs = infer_type_get(wtype)->bytes;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i vidx = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)wrb));
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i off = _mm256_set1_epi8((char)(QT_VNNI ? 128 : 0));
    for (size_t h = 0; h < 2; h++) {
        size_t left = nr > 8 * h ? nr - 8 * h : 0;
        __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left > 8 ? 8 : left)), lane);
        const char *rows = w + (r + 8 * h) * wrb;
        for (size_t b = 0; b < nb; b++) {
            const char *base = rows + b * bs;
            uint8_t *dst = pw + b * 512 + h * 32;
            _mm256_storeu_ps(pd + b * QT_ROWS + 8 * h, QT(h2f)(QT(g32)(base, 0, vidx, live)));
            if (wtype == INFER_T_Q8_0) {
                for (int g = 0; g < 8; g++)
                    _mm256_storeu_si256((__m256i *)(dst + g * 64),
                                        _mm256_add_epi8(QT(g32)(base, 2 + 4 * (size_t)g, vidx, live), off));
            } else if (wtype == INFER_T_Q4_0) {
                const __m256i bias = _mm256_add_epi8(off, _mm256_set1_epi8(-8));
                for (int g = 0; g < 4; g++) {
                    __m256i v = QT(g32)(base, 2 + 4 * (size_t)g, vidx, live);
                    _mm256_storeu_si256((__m256i *)(dst + g * 64),
                                        _mm256_add_epi8(_mm256_and_si256(v, m4), bias));
                    _mm256_storeu_si256(
                        (__m256i *)(dst + (g + 4) * 64),
                        _mm256_add_epi8(_mm256_and_si256(_mm256_srli_epi32(v, 4), m4), bias));
                }
            } else {
                const __m256i bias = _mm256_add_epi8(off, _mm256_set1_epi8(-16));
                __m256i qh = QT(g32)(base, 2, vidx, live);
                for (int g = 0; g < 4; g++) {
                    __m256i v = QT(g32)(base, 6 + 4 * (size_t)g, vidx, live);
                    __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m4), QT(q5_bits)(qh, g));
                    __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(v, 4), m4),
                                                 QT(q5_bits)(qh, g + 4));
                    _mm256_storeu_si256((__m256i *)(dst + g * 64), _mm256_add_epi8(lo, bias));
                    _mm256_storeu_si256((__m256i *)(dst + (g + 4) * 64), _mm256_add_epi8(hi, bias));
                }
            }
        }
    }
}

/* Per token and block: the activation scale and -128 * sum of its bytes. */
QT_INL void QT(prep_act)(const char *a, size_t arb, size_t m, size_t nb, float *da, int32_t *corr)
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
            corr[i * nb + b] = QT_VNNI ? (int32_t)(-128 * sum) : 0;
        }
    }
}

QT_INL __m256i QT(dot4)(__m256i acc, __m256i w, __m256i aw, __m256i av)
{
#if QT_VNNI
    (void)aw;
    return _mm256_dpbusd_avx_epi32(acc, w, av);
#else
    __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(av, w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
#endif
}

QT_INL void QT(tile)(int nt, const uint8_t *pw, const float *pd, size_t nb, const char *a,
                     size_t arb, const float *da, const int32_t *corr, float *out, size_t ldo,
                     __m256i m0, __m256i m1)
{
    __m256 acc0[QT_TOK], acc1[QT_TOK];
    for (int c = 0; c < nt; c++)
        acc0[c] = acc1[c] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        __m256i s0[QT_TOK], s1[QT_TOK];
        const int8_t *ap[QT_TOK];
        for (int c = 0; c < nt; c++) {
            s0[c] = s1[c] = _mm256_set1_epi32(corr[(size_t)c * nb + b]);
            ap[c] = ((const infer_block_q8_0 *)(a + (size_t)c * arb))[b].qs;
        }
        const uint8_t *wb = pw + b * 512;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i w0 = _mm256_loadu_si256((const __m256i *)(wb + g * 64));
            __m256i w1 = _mm256_loadu_si256((const __m256i *)(wb + g * 64 + 32));
            __m256i a0 = QT_VNNI ? w0 : _mm256_abs_epi8(w0);
            __m256i a1 = QT_VNNI ? w1 : _mm256_abs_epi8(w1);
            for (int c = 0; c < nt; c++) {
                int32_t v;
                memcpy(&v, ap[c] + 4 * g, 4);
                __m256i av = _mm256_set1_epi32(v);
                s0[c] = QT(dot4)(s0[c], w0, a0, av);
                s1[c] = QT(dot4)(s1[c], w1, a1, av);
            }
        }
        __m256 d0 = _mm256_loadu_ps(pd + b * QT_ROWS), d1 = _mm256_loadu_ps(pd + b * QT_ROWS + 8);
        for (int c = 0; c < nt; c++) {
            __m256 s = _mm256_set1_ps(da[(size_t)c * nb + b]);
            acc0[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0[c]), _mm256_mul_ps(d0, s), acc0[c]);
            acc1[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1[c]), _mm256_mul_ps(d1, s), acc1[c]);
        }
    }
    for (int c = 0; c < nt; c++) {
        _mm256_maskstore_ps(out + (size_t)c * ldo, m0, acc0[c]);
        _mm256_maskstore_ps(out + (size_t)c * ldo + 8, m1, acc1[c]);
    }
}

static QT_TGT void QT(tile_1)(const uint8_t *pw, const float *pd, size_t nb, const char *a,
                              size_t arb, const float *da, const int32_t *corr, float *out,
                              size_t ldo, __m256i m0, __m256i m1)
{
    QT(tile)(1, pw, pd, nb, a, arb, da, corr, out, ldo, m0, m1);
}

static QT_TGT void QT(tile_2)(const uint8_t *pw, const float *pd, size_t nb, const char *a,
                              size_t arb, const float *da, const int32_t *corr, float *out,
                              size_t ldo, __m256i m0, __m256i m1)
{
    QT(tile)(2, pw, pd, nb, a, arb, da, corr, out, ldo, m0, m1);
}

QT_TGT int QT_ENTRY(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                    size_t m, float *out, size_t ldo)
{
    if (wtype != INFER_T_Q4_0 && wtype != INFER_T_Q5_0 && wtype != INFER_T_Q8_0)
        return KEEP_ERR_UNSUPPORTED;
    if (!infer__qgemm_supported(wtype))
        return KEEP_ERR_UNSUPPORTED;
    size_t wrb = infer_type_row_bytes(wtype, k), arb = infer_act_row_bytes(wtype, k);
    size_t nb = k / INFER_QK;
    if (r0 >= r1 || m == 0 || nb == 0)
        return KEEP_OK;
    if (wrb > (1u << 27))
        return KEEP_ERR_UNSUPPORTED; /* 32-bit gather offsets over 7 rows */
    size_t pw_bytes, pd_bytes, act_n, total;
    if (keep_mul_overflow(nb, (size_t)512, &pw_bytes) ||
        keep_mul_overflow(nb, QT_ROWS * sizeof(float), &pd_bytes) ||
        keep_mul_overflow(m, nb, &act_n) || keep_mul_overflow(act_n, (size_t)8, &total) ||
        keep_add_overflow(total, pw_bytes + pd_bytes + 64, &total))
        return KEEP_ERR_NOMEM;
    char *mem = keep_malloc(total);
    if (!mem)
        return KEEP_ERR_NOMEM;
    uint8_t *pw = (uint8_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    float *pd = (float *)(pw + pw_bytes);
    float *da = pd + nb * QT_ROWS;
    int32_t *corr = (int32_t *)(da + act_n);
    QT(prep_act)(a, arb, m, nb, da, corr);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t r = r0; r < r1; r += QT_ROWS) {
        size_t nr = r1 - r < QT_ROWS ? r1 - r : QT_ROWS;
        QT(repack)(wtype, w, wrb, nb, r, nr, pw, pd);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(nr > 8 ? 8 : nr)), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(nr > 8 ? nr - 8 : 0)), lane);
        for (size_t i = 0; i < m; i += QT_TOK) {
            const char *ai = (const char *)a + i * arb;
            float *oi = out + i * ldo + r;
            if (m - i >= 2)
                QT(tile_2)(pw, pd, nb, ai, arb, da + i * nb, corr + i * nb, oi, ldo, m0, m1);
            else
                QT(tile_1)(pw, pd, nb, ai, arb, da + i * nb, corr + i * nb, oi, ldo, m0, m1);
        }
    }
    keep_free(mem);
    return KEEP_OK;
}

#undef QT_INL
#undef QT_ROWS
#undef QT_TOK
