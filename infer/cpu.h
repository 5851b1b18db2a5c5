/* cpu.h — which x86 SIMD extensions this CPU and OS support, and which kernel
 * level Keep's matrix code runs at. Detection runs once (cpuid + xgetbv, so an
 * OS that does not save the wide registers disables the level). Tests and
 * users can force a lower level: infer_cpu_set_level(), or the environment
 * variable KEEP_CPU=scalar|avx2|avxvnni|avx512 read at first use. Each level
 * implies the ones below it. */
#ifndef KEEP_INFER_CPU_H
#define KEEP_INFER_CPU_H

typedef enum {
    INFER_CPU_SCALAR = 0,  /* portable C */
    INFER_CPU_AVX2 = 1,    /* AVX2 + FMA + F16C (Haswell, Zen 1 and later) */
    INFER_CPU_AVXVNNI = 2, /* AVX2 + AVX-VNNI (Alder Lake, N100, Zen 5) */
    INFER_CPU_AVX512 = 3,  /* AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Zen 4 and later) */
    INFER_CPU_LEVELS
} infer_cpu_level_id;

/* Raw features, each 0 or 1, already masked by OS register-state support. */
typedef struct infer_cpu_features {
    int avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
    int avx_vnni; /* VEX-encoded VNNI (Alder Lake and later) */
    int amx_tile, amx_int8;
} infer_cpu_features;

/* Detected once; never NULL. */
const infer_cpu_features *infer_cpu_features_get(void);

/* 1 when this machine can run kernels of the given level. */
int infer_cpu_level_supported(int level);

/* Highest supported level. */
int infer_cpu_best_level(void);

/* The level the kernels currently use (best level, or KEEP_CPU if set). */
int infer_cpu_level(void);

/* Selects the kernel level; KEEP_ERR_UNSUPPORTED when the CPU lacks it,
 * KEEP_ERR_USAGE for an unknown level. Not safe while other threads run
 * kernels: call it at start-up or between tests. */
int infer_cpu_set_level(int level);

/* "scalar", "avx2", "avxvnni", "avx512"; "?" for anything else. */
const char *infer_cpu_level_name(int level);

/* Space-separated list of detected features ("avx2 fma f16c avx512f ...") for
 * logs; static string, never NULL. */
const char *infer_cpu_describe(void);

#endif
