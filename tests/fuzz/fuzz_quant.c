/* fuzz_quant.c — differential fuzzer for the block formats and kernels.
 * Input byte 0 picks a weight type, byte 1 the row length in blocks, the rest
 * are the raw weight bytes (hostile scales, NaN and infinity included) and a
 * seed for sane activations. Every row is dequantized (must not crash or hit
 * UB), then the dot product and a 2-row matmul at every CPU level the machine
 * has must agree with the scalar reference within a tolerance scaled by the
 * size of the terms, whenever the reference is finite. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "infer/cpu.h"
#include "infer/kernels.h"
#include "infer/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t types[] = {
    INFER_T_F32,  INFER_T_F16,  INFER_T_BF16, INFER_T_Q4_0, INFER_T_Q4_1,
    INFER_T_Q5_0, INFER_T_Q5_1, INFER_T_Q8_0, INFER_T_Q2_K, INFER_T_Q3_K,
    INFER_T_Q4_K, INFER_T_Q5_K, INFER_T_Q6_K,
};

/* Zeroes the min fields, so dequantizing gives only the scale * q part. */
static void zero_mins(uint32_t t, uint8_t *w, size_t nb, size_t bsz)
{
    size_t off;
    switch (t) {
    case INFER_T_Q4_1:
    case INFER_T_Q5_1:
    case INFER_T_Q4_K:
    case INFER_T_Q5_K: off = 2; break;
    case INFER_T_Q2_K: off = 82; break;
    default: return;
    }
    for (size_t b = 0; b < nb; b++)
        memset(w + b * bsz + off, 0, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAXK = 8 * 256 };
    static _Alignas(32) uint8_t w[MAXK * 4], w0[MAXK * 4], a[2 * MAXK * 2];
    static float wf[MAXK], wf0[MAXK], x[2 * MAXK], af[2 * MAXK];
    if (size < 2)
        return 0;
    uint32_t t = types[data[0] % (sizeof types / sizeof types[0])];
    const infer_type_info *ti = infer_type_get(t);
    size_t blk = ti->block == 1 ? 32 : ti->block;
    size_t k = (size_t)(data[1] % 8 + 1) * blk - (ti->block == 1 ? data[1] % 7 : 0);
    size_t wrb = infer_type_row_bytes(t, k), nb = k / ti->block;
    data += 2;
    size -= 2;
    memset(w, 0, wrb);
    memcpy(w, data, size < wrb ? size : wrb);
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    for (size_t i = 0; i < 2 * k; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)seed >> 8) / 4194304.0f; /* about [-2, 2) */
    }

    infer_dequantize_row(t, w, wf, k);
    memcpy(w0, w, wrb);
    zero_mins(t, w0, nb, ti->bytes);
    infer_dequantize_row(t, w0, wf0, k);

    int level = infer_cpu_level();
    infer_cpu_set_level(INFER_CPU_SCALAR);
    size_t arb = infer_act_row_bytes(t, k);
    infer_quantize_act_rows(t, x, k, 2, a, k);
    uint32_t at = infer_act_type(t);
    infer_dequantize_row(at, a, af, k);
    infer_dequantize_row(at, a + arb, af + k, k);

    double mag[2] = {0, 0};
    for (int j = 0; j < 2; j++)
        for (size_t i = 0; i < k; i++)
            mag[j] += (fabs(wf0[i]) + fabs((double)wf[i] - wf0[i])) * fabs(af[j * k + i]);
    float ref[2];
    infer_matmul(t, w, k, 0, 1, a, 2, ref, 1);

    for (int lv = INFER_CPU_AVX2; lv < INFER_CPU_LEVELS; lv++) {
        if (infer_cpu_set_level(lv) != KEEP_OK)
            continue;
        float got[2], one;
        infer_matmul(t, w, k, 0, 1, a, 2, got, 1);
        infer_vec_dot(t, k, w, a, &one);
        for (int j = 0; j < 2; j++) {
            if (!isfinite(ref[j]) || !isfinite(mag[j]) || mag[j] > 1e30)
                continue;
            double tol = 1e-4 * mag[j] + 1e-30;
            if (fabs(got[j] - ref[j]) > tol || (j == 0 && fabs(one - ref[0]) > tol))
                __builtin_trap();
        }
    }
    infer_cpu_set_level(level);
    return 0;
}
