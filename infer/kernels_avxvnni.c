/* kernels_avxvnni.c — the AVX-VNNI kernel level: the shared x86 template
 * (kernels_x86.h) compiled with the VEX-encoded vpdpbusd/vpdpwssd that
 * AVX2-only CPUs with AVX-VNNI have (Alder Lake and its N-series, Zen 5).
 * Selected at run time only when cpu.c found AVX2, FMA, F16C and AVX-VNNI. */
#include "kernels_internal.h"

#if defined(__x86_64__)
#define KX_TGT __attribute__((target("avx2,fma,f16c,avxvnni")))
#define KX_VNNI 2
#include "kernels_x86.h"

void infer__kernels_avxvnni(infer__kernels *k)
{
    kx_fill(k);
    k->gemm[INFER_T_Q4_0] = infer__qgemm_avxvnni;
    k->gemm[INFER_T_Q5_0] = infer__qgemm_avxvnni;
    k->gemm[INFER_T_Q8_0] = infer__qgemm_avxvnni;
}
#else
void infer__kernels_avxvnni(infer__kernels *k) { (void)k; }
#endif
