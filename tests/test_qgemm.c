/* test_qgemm.c — the prompt-phase GEMM of infer/qgemm.h: its scalar reference
 * against the plain vec-dot definition, every SIMD GEMM this CPU runs against
 * the reference on random data with odd shapes (token counts and row ranges
 * that are not multiples of the register tile, a row range not starting at
 * 0, untouched output around it), and infer_matmul's dispatch at each level
 * against the scalar level. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "infer/cpu.h"
#include "infer/kernels.h"
#include "infer/qgemm.h"
#include "infer/quant.h"
#include "tap.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static float urand(void) { return ((float)(rnd() >> 8) + 0.5f) / 16777216.0f; }

static float gauss(void) { return sqrtf(-2.0f * logf(urand())) * cosf(6.2831853f * urand()); }

static const char *tname(uint32_t t) { return infer_type_get(t)->name; }

typedef struct {
    uint32_t wt;
    size_t k, rows, m;
    uint8_t *w, *a;
    size_t wrb, arb;
} problem;

static int make(problem *p, uint32_t wt, size_t k, size_t rows, size_t m)
{
    memset(p, 0, sizeof *p);
    p->wt = wt;
    p->k = k;
    p->rows = rows;
    p->m = m;
    p->wrb = infer_type_row_bytes(wt, k);
    p->arb = infer_act_row_bytes(wt, k);
    float *x = keep_malloc((rows > m ? rows : m) * k * sizeof(float));
    p->w = keep_malloc(rows * p->wrb);
    p->a = keep_malloc(m * p->arb);
    if (!x || !p->w || !p->a) {
        keep_free(x);
        return 0;
    }
    for (size_t i = 0; i < rows * k; i++)
        x[i] = gauss() * 0.05f;
    for (size_t r = 0; r < rows; r++)
        infer_quantize_row(wt, x + r * k, p->w + r * p->wrb, k);
    for (size_t i = 0; i < m * k; i++)
        x[i] = gauss();
    infer_quantize_act_rows(wt, x, k, m, p->a, k);
    keep_free(x);
    return 1;
}

static void drop(problem *p)
{
    keep_free(p->w);
    keep_free(p->a);
}

/* max |got - want| / (|want| + 1) over the whole m x ldo matrix */
static double max_err(const float *got, const float *want, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (fabs((double)want[i]) + 1.0);
        if (!(d <= e)) e = isnan(d) ? 1e30 : d;
    }
    return e;
}

static const uint32_t types[] = {INFER_T_Q4_0, INFER_T_Q5_0, INFER_T_Q8_0, INFER_T_Q4_K,
                                 INFER_T_Q6_K};

static const struct {
    size_t k, rows, r0, r1, m;
} shapes[] = {
    {32, 16, 0, 16, 8},      /* one block, one half group */
    {96, 37, 3, 37, 13},     /* 34 rows: one group + a 2-row tail; 13 = 2 tiles + 1 */
    {256, 70, 5, 69, 7},     /* odd start and end; m below a tile */
    {896, 64, 0, 64, 20},    /* Qwen2.5-0.5B width, two whole groups */
    {2304, 33, 1, 33, 6},    /* exactly one 32-block tile of tokens */
    {768, 50, 2, 48, 9},     /* 3 super-blocks; 2 K tiles of 4 tokens + 1 */
};

static void test_ref(void)
{
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            problem p;
            size_t ldo = shapes[s].rows + 3, n = shapes[s].m * ldo;
            if (!infer_type_row_bytes(types[t], shapes[s].k))
                continue; /* k not whole blocks of this type */
            if (!make(&p, types[t], shapes[s].k, shapes[s].rows, shapes[s].m)) {
                OK(0, "allocation");
                continue;
            }
            float *got = keep_malloc(n * sizeof(float)), *want = keep_malloc(n * sizeof(float));
            if (!got || !want) {
                OK(0, "allocation");
                goto next;
            }
            for (size_t i = 0; i < n; i++)
                got[i] = want[i] = -777.0f;
            for (size_t i = 0; i < p.m; i++)
                for (size_t r = shapes[s].r0; r < shapes[s].r1; r++)
                    infer_vec_dot(p.wt, p.k, p.w + r * p.wrb, p.a + i * p.arb, &want[i * ldo + r]);
            int rc = infer__qgemm_ref(p.wt, p.w, p.k, shapes[s].r0, shapes[s].r1, p.a, p.m, got, ldo);
            double e = max_err(got, want, n);
            char what[160];
            snprintf(what, sizeof what, "%s reference GEMM k=%zu rows [%zu,%zu) m=%zu = vec dots (err %.2g)",
                     tname(p.wt), p.k, shapes[s].r0, shapes[s].r1, p.m, e);
            OK(rc == KEEP_OK && e < 1e-5, what);
        next:
            keep_free(got);
            keep_free(want);
            drop(&p);
        }
    float o = 0;
    ASSERT_EQ_INT(infer__qgemm_ref(INFER_T_Q4_1, NULL, 32, 0, 1, NULL, 1, &o, 1),
                  KEEP_ERR_UNSUPPORTED, "reference GEMM rejects q4_1");
}

/* One SIMD GEMM against the reference on every type and shape. */
static void check_simd(const char *name, infer__qgemm_fn fn, size_t n_types)
{
    for (size_t t = 0; t < n_types; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            problem p;
            size_t ldo = shapes[s].rows + 3, n = shapes[s].m * ldo;
            if (!infer_type_row_bytes(types[t], shapes[s].k))
                continue; /* k not whole blocks of this type */
            if (!make(&p, types[t], shapes[s].k, shapes[s].rows, shapes[s].m)) {
                OK(0, "allocation");
                continue;
            }
            float *got = keep_malloc(n * sizeof(float)), *want = keep_malloc(n * sizeof(float));
            if (!got || !want) {
                OK(0, "allocation");
                goto next;
            }
            for (size_t i = 0; i < n; i++)
                got[i] = want[i] = -777.0f;
            infer__qgemm_ref(p.wt, p.w, p.k, shapes[s].r0, shapes[s].r1, p.a, p.m, want, ldo);
            int rc = fn(p.wt, p.w, p.k, shapes[s].r0, shapes[s].r1, p.a, p.m, got, ldo);
            double e = max_err(got, want, n);
            char what[160];
            snprintf(what, sizeof what, "%s %s GEMM k=%zu rows [%zu,%zu) m=%zu = reference (err %.2g)",
                     name, tname(p.wt), p.k, shapes[s].r0, shapes[s].r1, p.m, e);
            OK(rc == KEEP_OK && e < 1e-6, what);
        next:
            keep_free(got);
            keep_free(want);
            drop(&p);
        }
}

static void test_simd(void)
{
    /* the 256-bit GEMMs take the first three types (no K-quants) */
    if (infer_cpu_set_level(INFER_CPU_AVX2) == KEEP_OK)
        check_simd("avx2", infer__qgemm_avx2, 3);
    else
        OK(1, "# SKIP no AVX2 on this CPU");
    if (infer_cpu_set_level(INFER_CPU_AVXVNNI) == KEEP_OK)
        check_simd("avxvnni", infer__qgemm_avxvnni, 3);
    else
        OK(1, "# SKIP no AVX-VNNI on this CPU");
    if (infer_cpu_set_level(INFER_CPU_AVX512) == KEEP_OK)
        check_simd("avx512", infer__qgemm_avx512, sizeof types / sizeof types[0]);
    else
        OK(1, "# SKIP no AVX-512 VNNI on this CPU");
    float o = 0;
    if (infer_cpu_set_level(INFER_CPU_AVX2) == KEEP_OK)
        ASSERT_EQ_INT(infer__qgemm_avx2(INFER_T_Q4_K, NULL, 256, 0, 1, NULL, 1, &o, 1),
                      KEEP_ERR_UNSUPPORTED, "avx2 GEMM declines q4_K (dot kernels run it)");
    infer_cpu_set_level(infer_cpu_best_level());
}

/* infer_matmul at every level = the scalar level, with m and rows large
 * enough that levels with a GEMM take it. */
static void test_dispatch(void)
{
    enum { K = 512, ROWS = 75, M = 19, LDO = 80 };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        problem p;
        if (!make(&p, types[t], K, ROWS, M)) {
            OK(0, "allocation");
            continue;
        }
        static float want[M * LDO], got[M * LDO];
        for (size_t i = 0; i < M * LDO; i++)
            got[i] = want[i] = -5.0f;
        infer_cpu_set_level(INFER_CPU_SCALAR);
        int rc = infer_matmul(p.wt, p.w, K, 1, ROWS, p.a, M, want, LDO);
        ASSERT_EQ_INT(infer_matmul_token_tile(p.wt), 64, "scalar level: 64-token matmul tiles");
        for (int lv = 1; lv < INFER_CPU_LEVELS; lv++) {
            if (infer_cpu_set_level(lv) != KEEP_OK)
                continue;
            for (size_t i = 0; i < M * LDO; i++)
                got[i] = -5.0f;
            rc |= infer_matmul(p.wt, p.w, K, 1, ROWS, p.a, M, got, LDO);
            double e = max_err(got, want, M * LDO);
            char what[160];
            snprintf(what, sizeof what, "%s matmul rows [1,%d) x %d tokens at %s = scalar (err %.2g)",
                     tname(p.wt), ROWS, M, infer_cpu_level_name(lv), e);
            OK(rc == KEEP_OK && e < 1e-5, what);
        }
        infer_cpu_set_level(infer_cpu_best_level());
        drop(&p);
    }
}

int main(void)
{
    test_ref();
    test_simd();
    test_dispatch();
    return tap_done();
}
