/* emb_gemm_tpl.h — the blocked float product of emb_gemm.h, written once and
 * compiled per kernel level by emb_gemm.c. Include only from there, after
 * defining:
 *   EG(x)        the name x with the level's suffix
 *   EG_TGT       target attribute for every function here (may be empty)
 *   EG_V         vector type of EG_W floats; EG_MR rows per register tile
 *   EG_ZERO() EG_SET1(x) EG_LOADU(p) EG_STOREU(p, v) EG_FMA(a, b, c) EG_ADD(a, b)
 * The tile is EG_MR rows x INFER__GEMM_NR columns of accumulators; the loops
 * over it carry unroll pragmas so they live in registers. */

/* Vectors per tile row: a tile covers EG_NV * EG_W columns, a panel's
 * INFER__GEMM_NR columns take EG_NH tiles side by side. */
#define EG_NH (INFER__GEMM_NR / (EG_NV * EG_W))
#define EG_INL static inline __attribute__((always_inline)) EG_TGT

/* One tile: rows a[0..mr) (stride lda) times kc packed rows of bp (each
 * INFER__GEMM_NR floats apart, EG_NV * EG_W of them used), stored to c
 * (stride ldc): overwritten (plus bias, when not NULL) when first, added to
 * otherwise. Only ncols columns are stored. mr is a constant at every call site, so each instance is
 * specialised. */
EG_INL void EG(tile)(const int mr, size_t kc, const float *a, size_t lda, const float *bp, float *c,
                     size_t ldc, int first, const float *bias, size_t ncols)
{
    EG_V acc[EG_MR][EG_NV];
#pragma GCC unroll 16
    for (int r = 0; r < EG_MR; r++)
#pragma GCC unroll 8
        for (int v = 0; v < EG_NV; v++)
            acc[r][v] = EG_ZERO();
    for (size_t e = 0; e < kc; e++) {
        EG_V bv[EG_NV];
#pragma GCC unroll 8
        for (int v = 0; v < EG_NV; v++)
            bv[v] = EG_LOADU(bp + e * INFER__GEMM_NR + (size_t)v * EG_W);
#pragma GCC unroll 16
        for (int r = 0; r < EG_MR; r++) {
            if (r < mr) {
                EG_V av = EG_SET1(a[(size_t)r * lda + e]);
#pragma GCC unroll 8
                for (int v = 0; v < EG_NV; v++)
                    acc[r][v] = EG_FMA(av, bv[v], acc[r][v]);
            }
        }
    }
    if (ncols == (size_t)EG_NV * EG_W) {
#pragma GCC unroll 16
        for (int r = 0; r < EG_MR; r++) {
            if (r < mr) {
                float *cr = c + (size_t)r * ldc;
#pragma GCC unroll 8
                for (int v = 0; v < EG_NV; v++) {
                    EG_V x = acc[r][v];
                    if (!first)
                        x = EG_ADD(x, EG_LOADU(cr + (size_t)v * EG_W));
                    else if (bias)
                        x = EG_ADD(x, EG_LOADU(bias + (size_t)v * EG_W));
                    EG_STOREU(cr + (size_t)v * EG_W, x);
                }
            }
        }
        return;
    }
    for (int r = 0; r < mr; r++) {
        float tmp[EG_NV * EG_W];
        for (int v = 0; v < EG_NV; v++)
            EG_STOREU(tmp + (size_t)v * EG_W, acc[r][v]);
        float *cr = c + (size_t)r * ldc;
        for (size_t j = 0; j < ncols; j++)
            cr[j] = !first ? cr[j] + tmp[j] : bias ? tmp[j] + bias[j] : tmp[j];
    }
}

/* Rows [i0, i1) of one tile column over one k block, in tiles of EG_MR rows. */
EG_TGT static void EG(tile_rows)(size_t i0, size_t i1, size_t kc, const float *a, size_t lda,
                                 const float *bp, float *c, size_t ldc, int first,
                                 const float *bias, size_t ncols)
{
    size_t i = i0;
    for (; i + EG_MR <= i1; i += EG_MR)
        EG(tile)(EG_MR, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
    switch (i1 - i) {
#if EG_MR > 15
    case 15:
        EG(tile)(15, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 14
    case 14:
        EG(tile)(14, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 13
    case 13:
        EG(tile)(13, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 12
    case 12:
        EG(tile)(12, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 11
    case 11:
        EG(tile)(11, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 10
    case 10:
        EG(tile)(10, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 9
    case 9:
        EG(tile)(9, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 8
    case 8:
        EG(tile)(8, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 7
    case 7:
        EG(tile)(7, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 6
    case 6:
        EG(tile)(6, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 5
    case 5:
        EG(tile)(5, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 4
    case 4:
        EG(tile)(4, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 3
    case 3:
        EG(tile)(3, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
#if EG_MR > 2
    case 2:
        EG(tile)(2, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
#endif
    case 1:
        EG(tile)(1, kc, a + i * lda, lda, bp, c + i * ldc, ldc, first, bias, ncols);
        break;
    default:
        break;
    }
}

/* Rows [i0, i1) of one panel: EG_NH tile columns side by side. */
EG_TGT static void EG(panel_rows)(size_t i0, size_t i1, size_t kc, const float *a, size_t lda,
                                  const float *bp, float *c, size_t ldc, int first,
                                  const float *bias, size_t ncols)
{
    const size_t tn = (size_t)EG_NV * EG_W;
    for (size_t h = 0; h < EG_NH && h * tn < ncols; h++) {
        size_t nc = ncols - h * tn < tn ? ncols - h * tn : tn;
        EG(tile_rows)(i0, i1, kc, a, lda, bp + h * tn, c + h * tn, ldc, first, bias ? bias + h * tn : NULL,
                      nc);
    }
}

/* The product over columns [c0, c1): panels of up to INFER__GEMM_GROUP x
 * NR columns are packed, then rows stream past them in blocks of EG_MB rows
 * and k in blocks of EG_KC, so a block of activations (EG_MB x EG_KC floats)
 * stays in L2 while each packed panel slice (EG_KC x NR) stays in L1. */
EG_TGT static void EG(gemm)(const infer__gemm_b *b, size_t c0, size_t c1, const float *a,
                            size_t lda, size_t m, const float *bias, float *out, size_t ldo,
                            float *scratch, int act)
{
    size_t k = b->k;
    const size_t gw = (size_t)INFER__GEMM_GROUP * INFER__GEMM_NR;
    for (size_t g0 = c0; g0 < c1; g0 += gw) {
        size_t g1 = c1 - g0 < gw ? c1 : g0 + gw;
        size_t np = (g1 - g0 + INFER__GEMM_NR - 1) / INFER__GEMM_NR;
        for (size_t p = 0; p < np; p++)
            gemm_pack(b, g0 + p * INFER__GEMM_NR, g1, scratch + p * k * INFER__GEMM_NR,
                      scratch + (size_t)INFER__GEMM_GROUP * k * INFER__GEMM_NR);
        for (size_t t0 = 0; t0 < m; t0 += EG_MB) {
            size_t t1 = m - t0 < EG_MB ? m : t0 + EG_MB;
            for (size_t kb = 0; kb < k; kb += EG_KC) {
                size_t kc = k - kb < EG_KC ? k - kb : EG_KC;
                for (size_t p = 0; p < np; p++) {
                    size_t col = g0 + p * INFER__GEMM_NR;
                    size_t ncols = g1 - col < INFER__GEMM_NR ? g1 - col : INFER__GEMM_NR;
                    EG(panel_rows)(t0, t1, kc, a + kb, lda,
                                   scratch + p * k * INFER__GEMM_NR + kb * INFER__GEMM_NR,
                                   out + col, ldo, kb == 0, bias ? bias + col : NULL, ncols);
                }
            }
            if (act == INFER__ACT_GELU)
                for (size_t i = t0; i < t1; i++)
                    infer__vgelu(out + i * ldo + g0, g1 - g0);
        }
    }
}

#undef EG_NH
#undef EG_INL
