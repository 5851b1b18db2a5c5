/* cpu.c — run-time CPU feature detection and the kernel level switch.
 * Only cpuid/xgetbv are x86-specific; elsewhere every level but scalar is
 * reported absent, so the portable kernels run. */
#include "cpu.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "kernels_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static void detect(infer_cpu_features *f)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx)
        return;
    uint64_t xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;
    int os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 high, ZMM16-31 */
    int os_amx = (xcr0 & 0x60000) == 0x60000;     /* XTILECFG, XTILEDATA */
    if (!os_ymm)
        return;
    f->fma = (c >> 12) & 1;
    f->f16c = (c >> 29) & 1;
    unsigned max_leaf = __get_cpuid_max(0, 0);
    if (max_leaf < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = (b >> 5) & 1;
    if (os_zmm) {
        f->avx512f = (b >> 16) & 1;
        f->avx512dq = (b >> 17) & 1;
        f->avx512bw = (b >> 30) & 1;
        f->avx512vl = (b >> 31) & 1;
        f->avx512vnni = (c >> 11) & 1;
    }
    if (os_amx) {
        f->amx_tile = (d >> 24) & 1;
        f->amx_int8 = (d >> 25) & 1;
    }
    unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avx_vnni = (a >> 4) & 1;
        if (os_zmm)
            f->avx512bf16 = (a >> 5) & 1;
    }
}
#else
static void detect(infer_cpu_features *f) { (void)f; }
#endif

static infer_cpu_features features;
static int best_level, cur_level;
static char described[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int level_ok(const infer_cpu_features *f, int level)
{
    switch (level) {
    case INFER_CPU_SCALAR: return 1;
    case INFER_CPU_AVX2: return f->avx2 && f->fma && f->f16c;
    case INFER_CPU_AVXVNNI: return level_ok(f, INFER_CPU_AVX2) && f->avx_vnni;
    case INFER_CPU_AVX512:
        return level_ok(f, INFER_CPU_AVX2) && f->avx512f && f->avx512bw && f->avx512vl &&
               f->avx512dq && f->avx512vnni;
    default: return 0;
    }
}

static void describe(void)
{
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"avx2", offsetof(infer_cpu_features, avx2)},
        {"fma", offsetof(infer_cpu_features, fma)},
        {"f16c", offsetof(infer_cpu_features, f16c)},
        {"avx512f", offsetof(infer_cpu_features, avx512f)},
        {"avx512bw", offsetof(infer_cpu_features, avx512bw)},
        {"avx512vl", offsetof(infer_cpu_features, avx512vl)},
        {"avx512dq", offsetof(infer_cpu_features, avx512dq)},
        {"avx512vnni", offsetof(infer_cpu_features, avx512vnni)},
        {"avx512bf16", offsetof(infer_cpu_features, avx512bf16)},
        {"avx_vnni", offsetof(infer_cpu_features, avx_vnni)},
        {"amx_tile", offsetof(infer_cpu_features, amx_tile)},
        {"amx_int8", offsetof(infer_cpu_features, amx_int8)},
    };
    size_t len = 0;
    described[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int on;
        memcpy(&on, (const char *)&features + names[i].off, sizeof on);
        size_t nl = strlen(names[i].name);
        if (!on || len + nl + 2 > sizeof described)
            continue;
        if (len)
            described[len++] = ' ';
        memcpy(described + len, names[i].name, nl + 1);
        len += nl;
    }
}

static void init_once(void)
{
    detect(&features);
    describe();
    best_level = INFER_CPU_SCALAR;
    for (int l = INFER_CPU_LEVELS - 1; l > 0; l--)
        if (level_ok(&features, l)) {
            best_level = l;
            break;
        }
    cur_level = best_level;
    const char *env = getenv("KEEP_CPU");
    if (env)
        for (int l = 0; l < INFER_CPU_LEVELS; l++)
            if (strcmp(env, infer_cpu_level_name(l)) == 0 && l < cur_level)
                cur_level = l;
    infer__kernels_select(cur_level);
}

const infer_cpu_features *infer_cpu_features_get(void)
{
    pthread_once(&once, init_once);
    return &features;
}

int infer_cpu_level_supported(int level)
{
    pthread_once(&once, init_once);
    return level_ok(&features, level);
}

int infer_cpu_best_level(void)
{
    pthread_once(&once, init_once);
    return best_level;
}

int infer_cpu_level(void)
{
    pthread_once(&once, init_once);
    return cur_level;
}

int infer_cpu_set_level(int level)
{
    pthread_once(&once, init_once);
    if (level < 0 || level >= INFER_CPU_LEVELS)
        return KEEP_ERR_USAGE;
    if (!level_ok(&features, level))
        return KEEP_ERR_UNSUPPORTED;
    cur_level = level;
    infer__kernels_select(level);
    return KEEP_OK;
}

const char *infer_cpu_level_name(int level)
{
    switch (level) {
    case INFER_CPU_SCALAR: return "scalar";
    case INFER_CPU_AVX2: return "avx2";
    case INFER_CPU_AVXVNNI: return "avxvnni";
    case INFER_CPU_AVX512: return "avx512";
    default: return "?";
    }
}

const char *infer_cpu_describe(void)
{
    pthread_once(&once, init_once);
    return described;
}
