/* qgemm_avx2.c — the 256-bit prompt-phase GEMMs (qgemm.h) for q4_0 / q5_0 /
 * q8_0 weights: qgemm_x86_tpl.h compiled for AVX2 (vpmaddubsw) and for
 * AVX-VNNI (vpdpbusd on ymm: Alder Lake, N100, Zen 5 without AVX-512 in
 * use). Target attributes per function; nothing here runs unless cpu.c
 * detected the level. */
#include "qgemm.h"

#include <string.h>

#include "common.h"
#include "kernels.h"
#include "quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define QT_TGT __attribute__((target("avx2,fma,f16c")))
#define QT_VNNI 0
#define QT(name) qa2_##name
#define QT_ENTRY infer__qgemm_avx2
#include "qgemm_x86_tpl.h"
#undef QT_TGT
#undef QT_VNNI
#undef QT
#undef QT_ENTRY

#define QT_TGT __attribute__((target("avx2,fma,f16c,avxvnni")))
#define QT_VNNI 1
#define QT(name) qav_##name
#define QT_ENTRY infer__qgemm_avxvnni
#include "qgemm_x86_tpl.h"
#else
int infer__qgemm_avx2(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                      size_t m, float *out, size_t ldo)
{
    (void)wtype, (void)w, (void)k, (void)r0, (void)r1, (void)a, (void)m, (void)out, (void)ldo;
    return KEEP_ERR_UNSUPPORTED;
}
int infer__qgemm_avxvnni(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1,
                         const void *a, size_t m, float *out, size_t ldo)
{
    (void)wtype, (void)w, (void)k, (void)r0, (void)r1, (void)a, (void)m, (void)out, (void)ldo;
    return KEEP_ERR_UNSUPPORTED;
}
#endif
