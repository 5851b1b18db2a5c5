/* test_quant.c — block formats and kernels of infer/: fp16/bf16 conversion,
 * hand-built blocks with known values (layout), quantize->dequantize error
 * bounds, scalar dot vs the dot of dequantized floats, every SIMD level
 * against the scalar one (dots, activation quantizers, matmul tiles), and
 * matmul against repeated vec-dots. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "infer/cpu.h"
#include "infer/kernels.h"
#include "infer/quant.h"
#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static float urand(void) { return ((float)(rnd() >> 8) + 0.5f) / 16777216.0f; }

static float gauss(void) { return sqrtf(-2.0f * logf(urand())) * cosf(6.2831853f * urand()); }

static void fill(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = gauss() * scale;
}

static const uint32_t weight_types[] = {
    INFER_T_F32,  INFER_T_F16,  INFER_T_BF16, INFER_T_Q4_0, INFER_T_Q4_1,
    INFER_T_Q5_0, INFER_T_Q5_1, INFER_T_Q8_0, INFER_T_Q2_K, INFER_T_Q3_K,
    INFER_T_Q4_K, INFER_T_Q5_K, INFER_T_Q6_K,
};
#define N_WTYPES (sizeof weight_types / sizeof weight_types[0])

static const char *tname(uint32_t t) { return infer_type_get(t)->name; }

/* ---- fp16 / bf16 ------------------------------------------------------------ */

static void test_half(void)
{
    ASSERT_EQ_INT(infer_f32_to_f16(1.0f), 0x3c00, "f16(1.0)");
    ASSERT_EQ_INT(infer_f32_to_f16(-2.0f), 0xc000, "f16(-2.0)");
    ASSERT_EQ_INT(infer_f32_to_f16(65504.0f), 0x7bff, "f16 max finite");
    ASSERT_EQ_INT(infer_f32_to_f16(65519.0f), 0x7bff, "f16 just below the overflow tie");
    ASSERT_EQ_INT(infer_f32_to_f16(65520.0f), 0x7c00, "f16 overflow tie rounds to inf");
    ASSERT_EQ_INT(infer_f32_to_f16(ldexpf(1.0f, -24)), 0x0001, "f16 smallest subnormal");
    ASSERT_EQ_INT(infer_f32_to_f16(ldexpf(1.0f, -25)), 0x0000,
                  "f16 half-ulp subnormal tie -> even 0");
    ASSERT_EQ_INT(infer_f32_to_f16(ldexpf(3.0f, -25)), 0x0002, "f16 1.5 ulp tie -> even 2");
    ASSERT_EQ_INT(infer_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00, "f16 tie to even down");
    ASSERT_EQ_INT(infer_f32_to_f16(1.0f + ldexpf(3.0f, -11)), 0x3c02, "f16 tie to even up");
    ASSERT_EQ_INT(infer_f32_to_f16(ldexpf(1.0f, -14) * 0.99999994f), 0x0400,
                  "f16 rounding up into the smallest normal");
    OK(isnan(infer_f16_to_f32(infer_f32_to_f16(NAN))), "f16 NaN stays NaN");
    OK(isinf(infer_f16_to_f32(0x7c00)) && infer_f16_to_f32(0xfc00) < 0, "f16 infinities");
    ASSERT_NEAR(infer_f16_to_f32(0x0001), 5.9604645e-8, 1e-15, "f16 subnormal to f32");
    int all_exact = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        if (infer_f32_to_f16(infer_f16_to_f32((uint16_t)h)) != h)
            all_exact = 0;
    }
    OK(all_exact, "every non-NaN f16 survives f16->f32->f16");

    ASSERT_EQ_INT(infer_f32_to_bf16(1.0f), 0x3f80, "bf16(1.0)");
    ASSERT_EQ_INT(infer_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80, "bf16 tie to even down");
    ASSERT_EQ_INT(infer_f32_to_bf16(1.0f + ldexpf(3.0f, -8)), 0x3f82, "bf16 tie to even up");
    ASSERT_NEAR(infer_bf16_to_f32(0xc040), -3.0, 0, "bf16 -3.0");
    OK(isnan(infer_bf16_to_f32(infer_f32_to_bf16(NAN))), "bf16 NaN stays NaN");
}

/* ---- layouts: hand-built blocks ----------------------------------------------- */

static void test_layouts(void)
{
    float y[256];

    infer_block_q4_0 b40;
    b40.d = infer_f32_to_f16(0.5f);
    for (int j = 0; j < 16; j++)
        b40.qs[j] = (uint8_t)(j | (15 - j) << 4);
    infer_dequantize_row(INFER_T_Q4_0, &b40, y, 32);
    ASSERT_NEAR(y[0], -4.0, 0, "q4_0 element 0 = d*(0-8)");
    ASSERT_NEAR(y[15], 3.5, 0, "q4_0 element 15 = low nibble of qs[15]");
    ASSERT_NEAR(y[16], 3.5, 0, "q4_0 element 16 = high nibble of qs[0]");
    ASSERT_NEAR(y[31], -4.0, 0, "q4_0 element 31 = high nibble of qs[15]");

    infer_block_q5_1 b51;
    memset(&b51, 0, sizeof b51);
    b51.d = infer_f32_to_f16(1.0f);
    b51.m = infer_f32_to_f16(-1.0f);
    b51.qh[0] = 0x02; /* element 1 */
    b51.qh[3] = 0x80; /* element 31 */
    b51.qs[1] = 0x03;
    b51.qs[15] = 0x50;
    infer_dequantize_row(INFER_T_Q5_1, &b51, y, 32);
    ASSERT_NEAR(y[1], 18.0, 0, "q5_1 element 1 = 16+3 - 1");
    ASSERT_NEAR(y[31], 20.0, 0, "q5_1 element 31 = 16+5 - 1");
    ASSERT_NEAR(y[0], -1.0, 0, "q5_1 element 0 = min");

    infer_block_q4_K b4k;
    memset(&b4k, 0, sizeof b4k);
    b4k.d = infer_f32_to_f16(1.0f);
    b4k.dmin = infer_f32_to_f16(1.0f);
    /* sub-block 5: scale 0x2a (low 4 bits in scales[9], top 2 in scales[1]>>6),
     * min 0x13 (low 4 in scales[9]>>4, top 2 in scales[5]>>6) */
    b4k.scales[9] = 0x3a;
    b4k.scales[1] = 0x80;
    b4k.scales[5] = 0x40;
    b4k.qs[64 + 7] = 0x20; /* element 32*5 + 7: high nibble of qs[64+7] */
    infer_dequantize_row(INFER_T_Q4_K, &b4k, y, 256);
    ASSERT_NEAR(y[167], 42.0 * 2 - 19.0, 0, "q4_K sub-block 5 unpacks 6-bit scale and min");
    ASSERT_NEAR(y[0], 0.0, 0, "q4_K sub-block 0 scale 0 min 0");

    infer_block_q6_K b6k;
    memset(&b6k, 0, sizeof b6k);
    b6k.d = infer_f32_to_f16(0.25f);
    for (int j = 0; j < 16; j++)
        b6k.scales[j] = (int8_t)(j + 1);
    /* element 128 + 64 + 20: h=1, j=2 (high nibble of ql[64+20]), qh[32+20] bits 4-5 */
    b6k.ql[64 + 20] = 0x70;
    b6k.qh[32 + 20] = 0x20;
    infer_dequantize_row(INFER_T_Q6_K, &b6k, y, 256);
    ASSERT_NEAR(y[212], 0.25 * 14 * ((7 | 2 << 4) - 32), 0, "q6_K element 212");
    ASSERT_NEAR(y[0], 0.25 * 1 * -32, 0, "q6_K element 0");

    infer_block_q3_K b3k;
    memset(&b3k, 0, sizeof b3k);
    b3k.d = infer_f32_to_f16(1.0f);
    /* scale 13: low nibble in scales[5]>>4, top bits in scales[8+1] bits 6-7 */
    b3k.scales[5] = 0x50;
    b3k.scales[9] = 0xc0; /* 0x35 - 32 = 21 */
    /* element 128 + 64 + 16 + 3 = 211: h=1, j=2, l=19 -> sub-block 8+4+1 = 13 */
    b3k.qs[32 + 19] = 0x30;       /* 2 low bits = 3 */
    b3k.hmask[19] = 1 << (4 + 2); /* high bit set: value 3 */
    infer_dequantize_row(INFER_T_Q3_K, &b3k, y, 256);
    ASSERT_NEAR(y[211], 21.0 * 3, 0, "q3_K element 211 (scale 13)");

    infer_block_q2_K b2k;
    memset(&b2k, 0, sizeof b2k);
    b2k.d = infer_f32_to_f16(2.0f);
    b2k.dmin = infer_f32_to_f16(0.5f);
    b2k.scales[7] = 0x35;       /* sub-block 7: scale 5, min 3 */
    b2k.qs[16 + 1] = 0x03 << 6; /* element 96 + 17 = 113 -> h0 j3 l17 -> sub-block 7 */
    infer_dequantize_row(INFER_T_Q2_K, &b2k, y, 256);
    ASSERT_NEAR(y[113], 2.0 * 5 * 3 - 0.5 * 3, 0, "q2_K element 113");

    infer_block_q5_K b5k;
    memset(&b5k, 0, sizeof b5k);
    b5k.d = infer_f32_to_f16(1.0f);
    b5k.scales[2] = 1; /* sub-block 2: scale 1 */
    b5k.qh[9] = 1 << 2;
    b5k.qs[32 + 9] = 0x0e; /* element 64 + 9: low nibble of qs[32+9] */
    infer_dequantize_row(INFER_T_Q5_K, &b5k, y, 256);
    ASSERT_NEAR(y[73], 30.0, 0, "q5_K element 73 uses bit 2 of qh[9]");
}

/* ---- round trips --------------------------------------------------------------- */

static void test_roundtrip(void)
{
    static const struct {
        uint32_t type;
        double max_rel;
    } cases[] = {
        {INFER_T_F16, 0.001},  {INFER_T_BF16, 0.005}, {INFER_T_Q8_0, 0.008}, {INFER_T_Q8_1, 0.008},
        {INFER_T_Q8_K, 0.010}, {INFER_T_Q4_0, 0.10},  {INFER_T_Q4_1, 0.09},  {INFER_T_Q5_0, 0.05},
        {INFER_T_Q5_1, 0.045}, {INFER_T_Q2_K, 0.32},  {INFER_T_Q3_K, 0.17},  {INFER_T_Q4_K, 0.085},
        {INFER_T_Q5_K, 0.045}, {INFER_T_Q6_K, 0.022},
    };
    enum { N = 4096 };
    static float x[N], y[N];
    static _Alignas(32) uint8_t q[N * 4], q2[N * 4];
    fill(x, N, 0.02f);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t t = cases[c].type;
        char what[128];
        int rc = infer_quantize_row(t, x, q, N);
        rc |= infer_dequantize_row(t, q, y, N);
        double se = 0, sx = 0;
        for (int i = 0; i < N; i++) {
            se += (double)(x[i] - y[i]) * (x[i] - y[i]);
            sx += (double)x[i] * x[i];
        }
        double rel = sqrt(se / sx);
        snprintf(what, sizeof what, "%s round trip: rc %d, relative RMS error %.4f <= %.3f",
                 tname(t), rc, rel, cases[c].max_rel);
        OK(rc == KEEP_OK && rel <= cases[c].max_rel && rel > 0, what);
        infer_quantize_row(t, x, q2, N);
        snprintf(what, sizeof what, "%s quantizer is deterministic", tname(t));
        OK(memcmp(q, q2, infer_type_row_bytes(t, N)) == 0, what);
    }

    /* Edge inputs: all zero, a constant, and non-finite values read as zero. */
    float z[256] = {0}, c7[256], nf[256], big[256];
    for (int i = 0; i < 256; i++) {
        c7[i] = 7.0f;
        big[i] = (i & 1 ? -3e9f : 2e9f) * (float)(i % 5 + 1);
        nf[i] = (i % 3 == 0) ? NAN : (i % 3 == 1 ? INFINITY : 1.0f);
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t t = cases[c].type;
        char what[128];
        int ok = 1;
        infer_quantize_row(t, z, q, 256);
        infer_dequantize_row(t, q, y, 256);
        for (int i = 0; i < 256; i++)
            ok &= y[i] == 0.0f;
        snprintf(what, sizeof what, "%s: zeros stay zeros", tname(t));
        OK(ok, what);
        infer_quantize_row(t, c7, q, 256);
        infer_dequantize_row(t, q, y, 256);
        double maxerr = 0;
        for (int i = 0; i < 256; i++)
            maxerr = fmax(maxerr, fabs(y[i] - 7.0));
        snprintf(what, sizeof what, "%s: a constant row comes back within 5%% (err %.3g)", tname(t),
                 maxerr);
        OK(maxerr <= 0.35, what);
        if (t == INFER_T_F16 || t == INFER_T_BF16)
            continue;
        infer_quantize_row(t, big, q, 256);
        infer_dequantize_row(t, q, y, 256);
        ok = 1;
        for (int i = 0; i < 256; i++)
            ok &= isfinite(y[i]);
        snprintf(what, sizeof what, "%s: values beyond the f16 scale range saturate, stay finite",
                 tname(t));
        OK(ok, what);
        infer_quantize_row(t, nf, q, 256);
        infer_dequantize_row(t, q, y, 256);
        ok = 1;
        for (int i = 0; i < 256; i++)
            ok &= isfinite(y[i]) && (i % 3 != 2 || fabsf(y[i] - 1.0f) < 0.5f);
        snprintf(what, sizeof what, "%s: NaN/inf inputs quantize to finite blocks", tname(t));
        OK(ok, what);
    }

    ASSERT_EQ_INT(infer_quantize_row(INFER_T_Q4_0, x, q, 33), KEEP_ERR_USAGE,
                  "quantize: n not a whole number of blocks");
    ASSERT_EQ_INT(infer_dequantize_row(INFER_T_Q4_K, q, y, 128), KEEP_ERR_USAGE,
                  "dequantize: n not a whole number of super-blocks");
    ASSERT_EQ_INT(infer_dequantize_row(INFER_T_I32, q, y, 4), KEEP_ERR_UNSUPPORTED,
                  "dequantize: i32 unsupported");
    ASSERT_EQ_INT(infer_quantize_row(99, x, q, 32), KEEP_ERR_UNSUPPORTED, "quantize: unknown type");
}

/* ---- dots ----------------------------------------------------------------------- */

typedef struct {
    uint32_t wt, at;
    size_t k, wrb, arb;
    uint8_t *w, *a; /* one weight row, INFER__MAX_NA (4) activation rows */
    float *wf, *af; /* their dequantized values */
} dot_case;

static size_t case_k(uint32_t wt, int blocks)
{
    if (wt == INFER_T_F32 || wt == INFER_T_F16 || wt == INFER_T_BF16)
        return (size_t)blocks * 32 + (size_t)(blocks * 7 % 32); /* odd lengths: every tail path */
    return (size_t)blocks * infer_type_get(wt)->block;
}

static int case_make(dot_case *c, uint32_t wt, int blocks)
{
    memset(c, 0, sizeof *c);
    c->wt = wt;
    c->at = infer_act_type(wt);
    c->k = case_k(wt, blocks);
    c->wrb = infer_type_row_bytes(wt, c->k);
    c->arb = infer_act_row_bytes(wt, c->k);
    c->w = keep_malloc(c->wrb);
    c->a = keep_malloc(c->arb * 4);
    c->wf = keep_malloc(c->k * sizeof(float));
    c->af = keep_malloc(c->k * 4 * sizeof(float));
    float *tmp = keep_malloc(c->k * sizeof(float));
    if (!c->w || !c->a || !c->wf || !c->af || !tmp) {
        keep_free(tmp);
        return -1;
    }
    fill(tmp, c->k, 0.05f);
    infer_quantize_row(wt, tmp, c->w, c->k);
    infer_dequantize_row(wt, c->w, c->wf, c->k);
    for (int j = 0; j < 4; j++) {
        fill(tmp, c->k, 1.0f + j);
        infer_quantize_row(c->at, tmp, c->a + j * c->arb, c->k);
        infer_dequantize_row(c->at, c->a + j * c->arb, c->af + j * c->k, c->k);
    }
    keep_free(tmp);
    return 0;
}

static void case_free(dot_case *c)
{
    keep_free(c->w);
    keep_free(c->a);
    keep_free(c->wf);
    keep_free(c->af);
}

/* Exact dot of the dequantized values and the scale for a tolerance. */
static double ref_dot(const dot_case *c, int row, double *mag)
{
    double s = 0, m = 0;
    for (size_t i = 0; i < c->k; i++) {
        double p = (double)c->wf[i] * c->af[row * c->k + i];
        s += p;
        m += fabs(p);
    }
    *mag = m;
    return s;
}

static const int block_counts[] = {1, 3, 7, 33};

static void test_scalar_dots(void)
{
    infer_cpu_set_level(INFER_CPU_SCALAR);
    for (size_t t = 0; t < N_WTYPES; t++)
        for (size_t b = 0; b < 4; b++) {
            dot_case c;
            char what[160];
            if (case_make(&c, weight_types[t], block_counts[b])) {
                OK(0, "allocation");
                return;
            }
            double mag, ref = ref_dot(&c, 0, &mag);
            float got = NAN;
            int rc = infer_vec_dot(c.wt, c.k, c.w, c.a, &got);
            /* q4_1/q5_1 take s (an f16 rounding of d*sum) from the activation */
            double tol = 2e-5 * mag + (c.at == INFER_T_Q8_1 ? 2e-3 * mag : 0);
            snprintf(what, sizeof what, "scalar %s dot, k=%zu: %.6g vs dequantized %.6g",
                     tname(c.wt), c.k, got, ref);
            OK(rc == KEEP_OK && fabs(got - ref) <= tol, what);
            case_free(&c);
        }
}

static void test_levels(void)
{
    printf("# cpu features: %s; best level %s\n", infer_cpu_describe(),
           infer_cpu_level_name(infer_cpu_best_level()));
    ASSERT_EQ_INT(infer_cpu_set_level(INFER_CPU_LEVELS), KEEP_ERR_USAGE,
                  "set_level rejects unknown");
    ASSERT_EQ_INT(infer_cpu_set_level(INFER_CPU_SCALAR), KEEP_OK, "scalar level always available");
    ASSERT_EQ_INT(infer_cpu_level(), INFER_CPU_SCALAR, "level switched to scalar");

    for (int lv = INFER_CPU_AVX2; lv < INFER_CPU_LEVELS; lv++) {
        char what[200];
        if (!infer_cpu_level_supported(lv)) {
            snprintf(what, sizeof what, "level %s: skipped, CPU lacks it",
                     infer_cpu_level_name(lv));
            OK(infer_cpu_set_level(lv) == KEEP_ERR_UNSUPPORTED, what);
            continue;
        }
        for (size_t t = 0; t < N_WTYPES; t++)
            for (size_t b = 0; b < 4; b++) {
                dot_case c;
                if (case_make(&c, weight_types[t], block_counts[b])) {
                    OK(0, "allocation");
                    return;
                }
                float sref[4], simd[4], one = NAN;
                infer_cpu_set_level(INFER_CPU_SCALAR);
                infer_matmul(c.wt, c.w, c.k, 0, 1, c.a, 4, sref, 1);
                infer_cpu_set_level(lv);
                infer_vec_dot(c.wt, c.k, c.w, c.a, &one);
                int ok = 1;
                double worst = 0;
                for (int na = 1; na <= 4; na++) {
                    /* matmul with m = na runs the na-row tile kernel */
                    memset(simd, 0, sizeof simd);
                    infer_matmul(c.wt, c.w, c.k, 0, 1, c.a, (size_t)na, simd, 1);
                    for (int j = 0; j < na; j++) {
                        double mag;
                        ref_dot(&c, j, &mag);
                        double err = fabs(simd[j] - sref[j]);
                        worst = fmax(worst, err / (mag + 1e-30));
                        ok &= err <= 1e-5 * mag + 1e-30;
                    }
                }
                double mag0;
                ref_dot(&c, 0, &mag0);
                ok &= fabs(one - sref[0]) <= 1e-5 * mag0;
                snprintf(what, sizeof what, "%s %s dot = scalar, k=%zu, 1-4 rows (worst rel %.2g)",
                         infer_cpu_level_name(lv), tname(c.wt), c.k, worst);
                OK(ok, what);
                case_free(&c);
            }

        /* activation quantizers: bit-identical to the scalar reference */
        static const uint32_t acts[] = {INFER_T_Q4_0, INFER_T_Q4_1, INFER_T_Q4_K};
        for (size_t t = 0; t < 3; t++) {
            size_t k = 256 * 5;
            static float x[256 * 5];
            static _Alignas(32) uint8_t qa[256 * 5 * 2], qb[256 * 5 * 2];
            fill(x, k, 3.0f);
            x[17] = 0; /* a zero and an exact tie */
            x[40] = x[41] = 0;
            memset(x + 64, 0, 32 * sizeof(float)); /* an all-zero block */
            infer_cpu_set_level(INFER_CPU_SCALAR);
            int rc = infer_quantize_act(acts[t], x, qa, k);
            infer_cpu_set_level(lv);
            rc |= infer_quantize_act(acts[t], x, qb, k);
            snprintf(what, sizeof what, "%s activation quantizer to %s = scalar bytes",
                     infer_cpu_level_name(lv), tname(infer_act_type(acts[t])));
            OK(rc == KEEP_OK && memcmp(qa, qb, infer_act_row_bytes(acts[t], k)) == 0, what);
        }
        /* fp16 rows: bit-identical to the scalar conversions, specials included */
        {
            enum { NH = 67 };
            float x[NH], back[NH];
            uint16_t h[NH];
            int ok = 1;
            fill(x, NH, 100.0f);
            x[3] = NAN;
            x[4] = -INFINITY;
            x[5] = 70000.0f;
            x[6] = ldexpf(3.0f, -25);
            x[7] = -0.0f;
            x[8] = 1.0f + ldexpf(1.0f, -11);
            infer_f32_to_f16_row(x, h, NH);
            for (int i = 0; i < NH; i++)
                ok &= h[i] == infer_f32_to_f16(x[i]);
            infer_f16_to_f32_row(h, back, NH);
            for (int i = 0; i < NH; i++) {
                float want = infer_f16_to_f32(h[i]);
                ok &= memcmp(&back[i], &want, 4) == 0;
            }
            snprintf(what, sizeof what, "%s fp16 row conversions = scalar bits",
                     infer_cpu_level_name(lv));
            OK(ok, what);
        }
    }
    infer_cpu_set_level(infer_cpu_best_level());
}

/* ---- matmul ---------------------------------------------------------------------- */

static void test_matmul_level(void)
{
    enum { ROWS = 9, M = 6, LDO = 11 };
    /* k past 8192 crosses the matmul's scale-chunk boundary */
    static const struct {
        uint32_t type;
        size_t k;
    } types[] = {{INFER_T_Q4_0, 512},  {INFER_T_Q4_1, 512},  {INFER_T_Q4_K, 512},
                 {INFER_T_Q6_K, 512},  {INFER_T_F16, 40},    {INFER_T_Q8_0, 512},
                 {INFER_T_Q5_0, 8288}, {INFER_T_Q5_1, 8288}, {INFER_T_Q2_K, 8448}};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        uint32_t wt = types[t].type;
        size_t k = types[t].k;
        size_t wrb = infer_type_row_bytes(wt, k), arb = infer_act_row_bytes(wt, k);
        float *wf = keep_malloc(ROWS * k * sizeof(float)), *af = keep_malloc(M * k * sizeof(float));
        uint8_t *w = keep_malloc(ROWS * wrb), *a = keep_malloc(M * arb);
        float out[M * LDO], want[M * LDO];
        if (!wf || !af || !w || !a) {
            OK(0, "allocation");
            goto next;
        }
        fill(wf, ROWS * k, 0.1f);
        fill(af, M * k, 1.0f);
        for (int r = 0; r < ROWS; r++)
            infer_quantize_row(wt, wf + r * k, w + r * wrb, k);
        for (int i = 0; i < M; i++)
            infer_quantize_act(wt, af + i * k, a + i * arb, k);
        for (int i = 0; i < M * LDO; i++)
            out[i] = want[i] = -12345.0f;
        /* rows 2..7 only: the rest of out must stay untouched */
        for (int i = 0; i < M; i++)
            for (int r = 2; r < 7; r++)
                infer_vec_dot(wt, k, w + r * wrb, a + i * arb, &want[i * LDO + r]);
        int rc = infer_matmul(wt, w, k, 2, 7, a, M, out, LDO);
        int ok = rc == KEEP_OK;
        for (int i = 0; i < M * LDO; i++)
            ok &= fabsf(out[i] - want[i]) <= 1e-4f * (fabsf(want[i]) + 1.0f);
        char what[128];
        snprintf(what, sizeof what,
                 "%s matmul k=%zu rows [2,7) x 6 activation rows = vec dots (%s)", tname(wt), k,
                 infer_cpu_level_name(infer_cpu_level()));
        OK(ok, what);
    next:
        keep_free(wf);
        keep_free(af);
        keep_free(w);
        keep_free(a);
    }
}

static void test_matmul(void)
{
    for (int lv = 0; lv < INFER_CPU_LEVELS; lv++)
        if (infer_cpu_set_level(lv) == KEEP_OK)
            test_matmul_level();
    infer_cpu_set_level(infer_cpu_best_level());
    {
        /* multi-row activation quantizer = row by row */
        float x[3 * 300];
        _Alignas(32) uint8_t qa[3 * 292], qb[3 * 292];
        fill(x, 3 * 300, 1.0f);
        int rc = infer_quantize_act_rows(INFER_T_Q6_K, x, 300, 3, qa, 256);
        for (int i = 0; i < 3; i++)
            rc |= infer_quantize_act(INFER_T_Q6_K, x + i * 300, qb + i * 292, 256);
        OK(rc == KEEP_OK && memcmp(qa, qb, sizeof qa) == 0, "quantize_act_rows = row-by-row");
    }
    float o[4];
    ASSERT_EQ_INT(infer_matmul(INFER_T_Q4_0, NULL, 33, 0, 1, NULL, 1, o, 1), KEEP_ERR_USAGE,
                  "matmul: k not whole blocks");
    ASSERT_EQ_INT(infer_matmul(INFER_T_Q4_0, NULL, 32, 0, 3, NULL, 1, o, 2), KEEP_ERR_USAGE,
                  "matmul: ldo < r1");
    ASSERT_EQ_INT(infer_matmul(INFER_T_I8, NULL, 32, 0, 1, NULL, 1, o, 1), KEEP_ERR_UNSUPPORTED,
                  "matmul: type without kernel");
    ASSERT_EQ_INT(infer_act_type(INFER_T_Q5_1), INFER_T_Q8_1, "q5_1 takes q8_1 activations");
    ASSERT_EQ_INT(infer_act_type(INFER_T_Q3_K), INFER_T_Q8_K, "q3_K takes q8_K activations");
    ASSERT_EQ_INT(infer_act_row_bytes(INFER_T_Q4_K, 512), 2 * 292, "q8_K row bytes");
}

/* ---- blocks quantized by llama.cpp ---------------------------------------------------
 * tests/data/quant/llama-TYPE.bin: 8 rows of 256 weights of each type, cut
 * from the tiny-llama fixtures (llama-quantize's own scale choices, e.g.
 * q6_K scales of -128). Every level's dots and matmul must match the scalar
 * kernels, and the scalar dot the dot of the dequantized floats. */
static void test_llama_blocks(void)
{
    static const uint32_t types[] = {INFER_T_F16,  INFER_T_BF16, INFER_T_Q8_0, INFER_T_Q4_0,
                                     INFER_T_Q4_1, INFER_T_Q5_0, INFER_T_Q5_1, INFER_T_Q2_K,
                                     INFER_T_Q3_K, INFER_T_Q4_K, INFER_T_Q5_K, INFER_T_Q6_K};
    enum { K = 256, ROWS = 8, M = 3 };
    const char *dir = getenv("KEEP_SRCDIR");
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        uint32_t wt = types[t];
        char path[4096], what[200];
        snprintf(path, sizeof path, "%s/tests/data/quant/llama-%s.bin", dir ? dir : ".", tname(wt));
        char *w = NULL;
        size_t len = 0, wrb = infer_type_row_bytes(wt, K), arb = infer_act_row_bytes(wt, K);
        keep_err err;
        if (keep_read_file(path, 1 << 20, &w, &len, &err) != KEEP_OK || len != wrb * ROWS) {
            snprintf(what, sizeof what, "read tests/data/quant/llama-%s.bin (%zu bytes)", tname(wt),
                     len);
            OK(0, what);
            keep_free(w);
            continue;
        }
        _Alignas(32) uint8_t a[M * 292 * 4];
        float x[M * K], wf[ROWS * K], af[M * K], ref[M * ROWS], got[M * ROWS];
        fill(x, M * K, 1.0f);
        infer_cpu_set_level(INFER_CPU_SCALAR);
        int rc = infer_quantize_act_rows(wt, x, K, M, a, K);
        for (int r = 0; r < ROWS; r++)
            rc |= infer_dequantize_row(wt, w + r * wrb, wf + r * K, K);
        for (int i = 0; i < M; i++)
            rc |= infer_dequantize_row(infer_act_type(wt), a + i * arb, af + i * K, K);
        rc |= infer_matmul(wt, w, K, 0, ROWS, a, M, ref, ROWS);
        int ok = rc == KEEP_OK;
        for (int i = 0; i < M; i++)
            for (int r = 0; r < ROWS; r++) {
                double d = 0, mag = 0;
                for (int e = 0; e < K; e++) {
                    d += (double)wf[r * K + e] * af[i * K + e];
                    mag += fabs((double)wf[r * K + e] * af[i * K + e]);
                }
                double tol = 2e-5 * mag + (infer_act_type(wt) == INFER_T_Q8_1 ? 2e-3 * mag : 0);
                ok &= fabs(ref[i * ROWS + r] - d) <= tol;
            }
        snprintf(what, sizeof what, "llama.cpp %s blocks: scalar matmul = dequantized dot",
                 tname(wt));
        OK(ok, what);
        for (int lv = INFER_CPU_AVX2; lv < INFER_CPU_LEVELS; lv++) {
            if (infer_cpu_set_level(lv) != KEEP_OK)
                continue;
            ok = infer_matmul(wt, w, K, 0, ROWS, a, M, got, ROWS) == KEEP_OK;
            for (int i = 0; i < M * ROWS; i++)
                ok &= fabsf(got[i] - ref[i]) <= 1e-5f * (fabsf(ref[i]) + 1.0f);
            /* all 8 rows as one long row: multi-block paths and tails */
            float one_ref, one;
            size_t kk = (size_t)K * ROWS;
            _Alignas(32) uint8_t al[292 * 8 * 4];
            float xl[K * ROWS];
            fill(xl, kk, 1.0f);
            infer_quantize_act(wt, xl, al, kk);
            infer_vec_dot(wt, kk, w, al, &one);
            infer_cpu_set_level(INFER_CPU_SCALAR);
            infer_vec_dot(wt, kk, w, al, &one_ref);
            ok &= fabsf(one - one_ref) <= 1e-5f * (fabsf(one_ref) + 1.0f);
            snprintf(what, sizeof what, "llama.cpp %s blocks: %s matmul and long dot = scalar",
                     tname(wt), infer_cpu_level_name(lv));
            OK(ok, what);
        }
        keep_free(w);
    }
    infer_cpu_set_level(infer_cpu_best_level());
}

/* KEEP_CPU caps the level chosen at start-up (read once, at first use). */
static void test_env_level(void)
{
    int want = infer_cpu_level_supported(INFER_CPU_AVX2) ? INFER_CPU_AVX2 : INFER_CPU_SCALAR;
    ASSERT_EQ_INT(infer_cpu_level(), want, "KEEP_CPU=avx2 caps the start-up level");
    OK(infer_cpu_best_level() >= infer_cpu_level(), "best level is not below the capped one");
}

int main(void)
{
    setenv("KEEP_CPU", "avx2", 1);
    test_env_level();
    test_half();
    test_layouts();
    test_roundtrip();
    test_scalar_dots();
    test_levels();
    test_matmul();
    test_llama_blocks();
    return tap_done();
}
