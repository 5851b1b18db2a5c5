/* kernels_avx2.c — the AVX2 + FMA + F16C kernel level. The code is the shared
 * x86 template (kernels_x86.h) compiled for this target with vpmaddubsw int8
 * products; functions carry target attributes, so no special compiler flags
 * are needed and the file is harmless on CPUs without AVX2 (nothing here runs
 * unless cpu.c detected the level). */
#include "kernels_internal.h"

#if defined(__x86_64__)
#define KX_TGT __attribute__((target("avx2,fma,f16c")))
#define KX_VNNI 0
#include "kernels_x86.h"

void infer__kernels_avx2(infer__kernels *k)
{
    kx_fill(k);
    k->gemm[INFER_T_Q4_0] = infer__qgemm_avx2;
    k->gemm[INFER_T_Q5_0] = infer__qgemm_avx2;
    k->gemm[INFER_T_Q8_0] = infer__qgemm_avx2;
}
#else
void infer__kernels_avx2(infer__kernels *k) { (void)k; }
#endif
