/* qgemm.c — scalar reference of the prompt-phase GEMM (qgemm.h): the exact
 * integer sums and float scaling order the SIMD GEMMs use, written plainly so
 * tests can hold every SIMD GEMM to it. */
#include "qgemm.h"

#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels.h"
#include "quant.h"

int infer__qgemm_supported(uint32_t wtype)
{
    switch (wtype) {
    case INFER_T_Q4_0:
    case INFER_T_Q5_0:
    case INFER_T_Q8_0: return infer_act_type(wtype) == INFER_T_Q8_0;
    case INFER_T_Q4_K:
    case INFER_T_Q6_K: return infer_act_type(wtype) == INFER_T_Q8_K;
    default: return 0;
    }
}

/* The 32 signed values of block b of a q4_0/q5_0/q8_0 row, and its scale. */
static float decode32(uint32_t wtype, const char *row, size_t b, int8_t q[32])
{
    uint16_t d;
    if (wtype == INFER_T_Q8_0) {
        const infer_block_q8_0 *x = (const infer_block_q8_0 *)row + b;
        memcpy(q, x->qs, 32);
        d = x->d;
    } else if (wtype == INFER_T_Q4_0) {
        const infer_block_q4_0 *x = (const infer_block_q4_0 *)row + b;
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((x->qs[j] & 0xf) - 8);
            q[j + 16] = (int8_t)((x->qs[j] >> 4) - 8);
        }
        d = x->d;
    } else {
        const infer_block_q5_0 *x = (const infer_block_q5_0 *)row + b;
        uint32_t qh = (uint32_t)x->qh[0] | (uint32_t)x->qh[1] << 8 | (uint32_t)x->qh[2] << 16 |
                      (uint32_t)x->qh[3] << 24;
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(((x->qs[j] & 0xf) | (int)((qh >> j) & 1) << 4) - 16);
            q[j + 16] = (int8_t)(((x->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - 16);
        }
        d = x->d;
    }
    return infer_f16_to_f32(d);
}

void infer__qgemm_k_scales(uint32_t wtype, const void *blk, int32_t sc[16], int32_t mn[8],
                           float *d, float *dmin)
{
    if (wtype == INFER_T_Q4_K) {
        const infer_block_q4_K *x = blk;
        const uint8_t *s = x->scales;
        for (int j = 0; j < 4; j++) {
            sc[j] = s[j] & 63;
            mn[j] = s[j + 4] & 63;
            sc[j + 4] = (s[j + 8] & 0xf) | (s[j] >> 6) << 4;
            mn[j + 4] = (s[j + 8] >> 4) | (s[j + 4] >> 6) << 4;
        }
        *d = infer_f16_to_f32(x->d);
        *dmin = infer_f16_to_f32(x->dmin);
    } else {
        const infer_block_q6_K *x = blk;
        for (int j = 0; j < 16; j++)
            sc[j] = x->scales[j];
        *d = infer_f16_to_f32(x->d);
        *dmin = 0;
    }
}

/* The 256 unsigned values of a q4_K (0..15) or q6_K (q + 32, 0..63) block. */
static void decode_k(uint32_t wtype, const void *blk, uint8_t q[256])
{
    if (wtype == INFER_T_Q4_K) {
        const infer_block_q4_K *x = blk;
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                q[64 * j + l] = x->qs[32 * j + l] & 0xf;
                q[64 * j + 32 + l] = x->qs[32 * j + l] >> 4;
            }
        return;
    }
    const infer_block_q6_K *x = blk;
    for (int e = 0; e < 256; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        uint8_t lb = x->ql[64 * h + 32 * (j & 1) + l];
        int lo = j >= 2 ? lb >> 4 : lb & 0xf;
        int hi = (x->qh[32 * h + l] >> (2 * j)) & 3;
        q[e] = (uint8_t)(lo | hi << 4);
    }
}

/* K-quant reference: per super-block an exact integer total, then one fma
 * (q6_K: the +32 bias comes off as 32 * sum(sc * bsum); q4_K: the mins term
 * as a second fma). */
static void ref_k(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                  size_t m, float *out, size_t ldo)
{
    size_t wrb = infer_type_row_bytes(wtype, k), nsb = k / INFER_QK_K;
    size_t bs = infer_type_get(wtype)->bytes;
    for (size_t r = r0; r < r1; r++)
        for (size_t i = 0; i < m; i++) {
            const infer_block_q8_K *y = (const infer_block_q8_K *)a + i * nsb;
            float acc = 0;
            for (size_t b = 0; b < nsb; b++) {
                const char *blk = (const char *)w + r * wrb + b * bs;
                uint8_t q[256];
                int32_t sc[16], mn[8];
                float d, dmin;
                decode_k(wtype, blk, q);
                infer__qgemm_k_scales(wtype, blk, sc, mn, &d, &dmin);
                int sub = wtype == INFER_T_Q4_K ? 32 : 16;
                int32_t tot = 0, mins = 0;
                for (int sb = 0; sb < 256 / sub; sb++) {
                    int32_t t = 0;
                    for (int l = 0; l < sub; l++)
                        t += q[sb * sub + l] * y[b].qs[sb * sub + l];
                    tot += sc[sb] * t;
                }
                if (wtype == INFER_T_Q4_K) {
                    for (int sb = 0; sb < 8; sb++)
                        mins += mn[sb] * (y[b].bsums[2 * sb] + y[b].bsums[2 * sb + 1]);
                    acc = fmaf((float)tot, d * y[b].d, acc);
                    acc = fmaf(-(float)mins, dmin * y[b].d, acc);
                } else {
                    for (int sb = 0; sb < 16; sb++)
                        mins += sc[sb] * y[b].bsums[sb];
                    acc = fmaf((float)(tot - 32 * mins), d * y[b].d, acc);
                }
            }
            out[i * ldo + r] = acc;
        }
}

int infer__qgemm_ref(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                    size_t m, float *out, size_t ldo)
{
    if (!infer__qgemm_supported(wtype))
        return KEEP_ERR_UNSUPPORTED;
    if (wtype == INFER_T_Q4_K || wtype == INFER_T_Q6_K) {
        ref_k(wtype, w, k, r0, r1, a, m, out, ldo);
        return KEEP_OK;
    }
    size_t wrb = infer_type_row_bytes(wtype, k), arb = infer_act_row_bytes(wtype, k);
    size_t nb = k / INFER_QK;
    for (size_t r = r0; r < r1; r++) {
        const char *row = (const char *)w + r * wrb;
        for (size_t i = 0; i < m; i++) {
            const infer_block_q8_0 *y = (const infer_block_q8_0 *)((const char *)a + i * arb);
            float acc = 0;
            for (size_t b = 0; b < nb; b++) {
                int8_t q[32];
                float dw = decode32(wtype, row, b, q);
                int32_t s = 0;
                for (int e = 0; e < 32; e++)
                    s += q[e] * y[b].qs[e];
                acc = fmaf((float)s, dw * infer_f16_to_f32(y[b].d), acc);
            }
            out[i * ldo + r] = acc;
        }
    }
    return KEEP_OK;
}
