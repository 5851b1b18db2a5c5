/* kernels_avx512.c — the AVX-512 (F/BW/VL/DQ + VNNI) kernel level: the shared
 * x86 template (kernels_x86.h) compiled with vpdpbusd for the 8-bit dots and
 * 32 vector registers, plus 512-bit kernels where wider vectors pay off.
 * Selected at run time only when cpu.c found every one of these features. */
#include "kernels_internal.h"

#if defined(__x86_64__)
#define KX_TGT __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define KX_VNNI 1
#include "kernels_x86.h"

void infer__kernels_avx512(infer__kernels *k) { kx_fill(k); }
#else
void infer__kernels_avx512(infer__kernels *k) { (void)k; }
#endif
