/* bench_kernels.c — throughput of infer_matmul per weight type and CPU level,
 * for tuning the kernels against llama.cpp. Built on request only
 * (`make bench-kernels`), never by `make check`; run it on an idle machine.
 *
 *   tests/bench_kernels [-q] [type ...]     e.g. tests/bench_kernels q4_K q8_0
 *
 * For each level this CPU has and each type: a 4096-column weight matrix
 * times 1 activation row (token generation: memory bound, reported in GB/s
 * of weights read) and times 64 rows (prompt processing: compute bound,
 * reported in billions of multiply-adds per second). -q shrinks everything
 * to a smoke test that checks the program runs. */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "infer/cpu.h"
#include "infer/kernels.h"
#include "infer/quant.h"

static const uint32_t all_types[] = {
    INFER_T_F32,  INFER_T_F16,  INFER_T_BF16, INFER_T_Q8_0, INFER_T_Q4_0,
    INFER_T_Q4_1, INFER_T_Q5_0, INFER_T_Q5_1, INFER_T_Q2_K, INFER_T_Q3_K,
    INFER_T_Q4_K, INFER_T_Q5_K, INFER_T_Q6_K,
};

static uint32_t rng = 12345;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((int32_t)rng >> 8) / 8388608.0f;
}

/* Runs the product until at least min_ms passed; returns ms per product. */
static double time_matmul(uint32_t t, const void *w, size_t k, size_t rows, const void *a, size_t m,
                          float *out, double min_ms)
{
    infer_matmul(t, w, k, 0, rows, a, m, out, rows); /* warm caches and pages */
    int reps = 0;
    double t0 = keep_now_ms(), el;
    do {
        infer_matmul(t, w, k, 0, rows, a, m, out, rows);
        reps++;
        el = keep_now_ms() - t0;
    } while (el < min_ms);
    return el / reps;
}

int main(int argc, char **argv)
{
    int quick = 0, ntypes = 0;
    uint32_t types[sizeof all_types / sizeof all_types[0]];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) {
            quick = 1;
            continue;
        }
        for (size_t j = 0; j < sizeof all_types / sizeof all_types[0]; j++)
            if (strcmp(argv[i], infer_type_get(all_types[j])->name) == 0 &&
                ntypes < (int)(sizeof types / sizeof types[0]))
                types[ntypes++] = all_types[j];
    }
    if (!ntypes)
        for (size_t j = 0; j < sizeof all_types / sizeof all_types[0]; j++)
            types[ntypes++] = all_types[j];

    size_t k = quick ? 256 : 4096, rows = quick ? 16 : 4096, mbig = quick ? 5 : 64;
    double min_ms = quick ? 0.0 : 300.0;
    float *x = keep_malloc(mbig * k * sizeof(float));
    float *wf = keep_malloc(k * sizeof(float));
    float *out = keep_malloc(mbig * rows * sizeof(float));
    void *w = keep_malloc(rows * k * sizeof(float));
    void *a = keep_malloc(mbig * k * sizeof(float) + 64);
    if (!x || !wf || !out || !w || !a) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < mbig * k; i++)
        x[i] = frand();
    printf("# cpu: %s\n# k=%zu rows=%zu\n", infer_cpu_describe(), k, rows);
    char mcol[32];
    snprintf(mcol, sizeof mcol, "m=%zu ms", mbig);
    printf("%-8s %-6s %12s %10s %12s %10s\n", "level", "type", "m=1 ms", "GB/s", mcol, "GMAC/s");
    for (int lv = 0; lv < INFER_CPU_LEVELS; lv++) {
        if (infer_cpu_set_level(lv) != KEEP_OK)
            continue;
        for (int ti = 0; ti < ntypes; ti++) {
            uint32_t t = types[ti];
            size_t wrb = infer_type_row_bytes(t, k);
            for (size_t r = 0; r < rows; r++) {
                for (size_t e = 0; e < k; e++)
                    wf[e] = 0.05f * frand();
                infer_quantize_row(t, wf, (char *)w + r * wrb, k);
            }
            infer_quantize_act_rows(t, x, k, mbig, a, k);
            double t1 = time_matmul(t, w, k, rows, a, 1, out, min_ms);
            double tm = time_matmul(t, w, k, rows, a, mbig, out, min_ms);
            printf("%-8s %-6s %12.3f %10.2f %12.3f %10.2f\n", infer_cpu_level_name(lv),
                   infer_type_get(t)->name, t1, (double)(rows * wrb) / (t1 * 1e6), tm,
                   (double)(rows * k * mbig) / (tm * 1e6));
        }
    }
    keep_free(x);
    keep_free(wf);
    keep_free(out);
    keep_free(w);
    keep_free(a);
    return 0;
}
