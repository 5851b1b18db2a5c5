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

int infer__qgemm_ref(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                    size_t m, float *out, size_t ldo)
{
    if (!infer__qgemm_supported(wtype))
        return KEEP_ERR_UNSUPPORTED;
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
