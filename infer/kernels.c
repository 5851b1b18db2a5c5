/* kernels.c — scalar reference kernels (portable C, integer dots per block,
 * the definition the SIMD kernels are tested against), the per-level kernel
 * table, and the public dot/matmul entry points of kernels.h. */
#include "kernels.h"

#include <math.h>
#include <string.h>

#include "common.h"
#include "cpu.h"
#include "kernels_internal.h"
#include "quant.h"

#define H2F(h) infer_f16_to_f32(h)

/* ---- scalar dots, one activation row -------------------------------------------- */

static float dot1_f32(size_t n, const void *w, const void *a)
{
    const float *x = w, *y = a;
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static float dot1_f16(size_t n, const void *w, const void *a)
{
    const uint16_t *x = w;
    const float *y = a;
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += infer_f16_to_f32(x[i]) * y[i];
    return s;
}

static float dot1_bf16(size_t n, const void *w, const void *a)
{
    const uint16_t *x = w;
    const float *y = a;
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += infer_bf16_to_f32(x[i]) * y[i];
    return s;
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float dot1_q4_0(size_t n, const void *w, const void *a)
{
    const infer_block_q4_0 *x = w;
    const infer_block_q8_0 *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK; i++) {
        int acc = 0;
        for (int j = 0; j < 16; j++)
            acc +=
                ((x[i].qs[j] & 0xf) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        s += H2F(x[i].d) * H2F(y[i].d) * (float)acc;
    }
    return s;
}

static float dot1_q4_1(size_t n, const void *w, const void *a)
{
    const infer_block_q4_1 *x = w;
    const infer_block_q8_1 *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK; i++) {
        int acc = 0;
        for (int j = 0; j < 16; j++)
            acc += (x[i].qs[j] & 0xf) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        s += H2F(x[i].d) * H2F(y[i].d) * (float)acc + H2F(x[i].m) * H2F(y[i].s);
    }
    return s;
}

static float dot1_q5_0(size_t n, const void *w, const void *a)
{
    const infer_block_q5_0 *x = w;
    const infer_block_q8_0 *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK; i++) {
        uint32_t qh = ld32(x[i].qh);
        int acc = 0;
        for (int j = 0; j < 16; j++) {
            int lo = ((x[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4) - 16;
            int hi = ((x[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - 16;
            acc += lo * y[i].qs[j] + hi * y[i].qs[j + 16];
        }
        s += H2F(x[i].d) * H2F(y[i].d) * (float)acc;
    }
    return s;
}

static float dot1_q5_1(size_t n, const void *w, const void *a)
{
    const infer_block_q5_1 *x = w;
    const infer_block_q8_1 *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK; i++) {
        uint32_t qh = ld32(x[i].qh);
        int acc = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (x[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            acc += lo * y[i].qs[j] + hi * y[i].qs[j + 16];
        }
        s += H2F(x[i].d) * H2F(y[i].d) * (float)acc + H2F(x[i].m) * H2F(y[i].s);
    }
    return s;
}

static float dot1_q8_0(size_t n, const void *w, const void *a)
{
    const infer_block_q8_0 *x = w;
    const infer_block_q8_0 *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK; i++) {
        int acc = 0;
        for (int j = 0; j < INFER_QK; j++)
            acc += x[i].qs[j] * y[i].qs[j];
        s += H2F(x[i].d) * H2F(y[i].d) * (float)acc;
    }
    return s;
}

static float dot1_q2_K(size_t n, const void *w, const void *a)
{
    const infer_block_q2_K *x = w;
    const infer_block_q8_K *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        int sum[16] = {0}, msum = 0, acc = 0;
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            sum[8 * h + 2 * j + l / 16] += ((x[i].qs[32 * h + l] >> (2 * j)) & 3) * y[i].qs[e];
        }
        for (int sb = 0; sb < 16; sb++) {
            acc += (x[i].scales[sb] & 0xf) * sum[sb];
            msum += (x[i].scales[sb] >> 4) * y[i].bsums[sb];
        }
        s += y[i].d * (H2F(x[i].d) * (float)acc - H2F(x[i].dmin) * (float)msum);
    }
    return s;
}

static void q3k_unpack_scales(const uint8_t *s, int out[16])
{
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
        out[j] = (lo | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
    }
}

static float dot1_q3_K(size_t n, const void *w, const void *a)
{
    const infer_block_q3_K *x = w;
    const infer_block_q8_K *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        int sum[16] = {0}, sc[16], acc = 0;
        q3k_unpack_scales(x[i].scales, sc);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int q = ((x[i].qs[32 * h + l] >> (2 * j)) & 3) +
                    4 * ((x[i].hmask[l] >> (4 * h + j)) & 1) - 4;
            sum[8 * h + 2 * j + l / 16] += q * y[i].qs[e];
        }
        for (int sb = 0; sb < 16; sb++)
            acc += sc[sb] * sum[sb];
        s += y[i].d * H2F(x[i].d) * (float)acc;
    }
    return s;
}

static void k4_unpack(const uint8_t *s, int sc[8], int mn[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0xf) | (s[j] >> 6) << 4;
        mn[j + 4] = (s[j + 8] >> 4) | (s[j + 4] >> 6) << 4;
    }
}

static float dot1_q4_K(size_t n, const void *w, const void *a)
{
    const infer_block_q4_K *x = w;
    const infer_block_q8_K *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        int sc[8], mn[8], acc = 0, msum = 0;
        k4_unpack(x[i].scales, sc, mn);
        for (int sb = 0; sb < 8; sb++) {
            const uint8_t *q = x[i].qs + 32 * (sb / 2);
            int shift = 4 * (sb & 1), sum = 0;
            for (int l = 0; l < 32; l++)
                sum += ((q[l] >> shift) & 0xf) * y[i].qs[32 * sb + l];
            acc += sc[sb] * sum;
            msum += mn[sb] * (y[i].bsums[2 * sb] + y[i].bsums[2 * sb + 1]);
        }
        s += y[i].d * (H2F(x[i].d) * (float)acc - H2F(x[i].dmin) * (float)msum);
    }
    return s;
}

static float dot1_q5_K(size_t n, const void *w, const void *a)
{
    const infer_block_q5_K *x = w;
    const infer_block_q8_K *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        int sc[8], mn[8], acc = 0, msum = 0;
        k4_unpack(x[i].scales, sc, mn);
        for (int sb = 0; sb < 8; sb++) {
            const uint8_t *q = x[i].qs + 32 * (sb / 2);
            int shift = 4 * (sb & 1), sum = 0;
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0xf) | ((x[i].qh[l] >> sb) & 1) << 4;
                sum += v * y[i].qs[32 * sb + l];
            }
            acc += sc[sb] * sum;
            msum += mn[sb] * (y[i].bsums[2 * sb] + y[i].bsums[2 * sb + 1]);
        }
        s += y[i].d * (H2F(x[i].d) * (float)acc - H2F(x[i].dmin) * (float)msum);
    }
    return s;
}

static float dot1_q6_K(size_t n, const void *w, const void *a)
{
    const infer_block_q6_K *x = w;
    const infer_block_q8_K *y = a;
    float s = 0;
    for (size_t i = 0; i < n / INFER_QK_K; i++) {
        int sum[16] = {0}, acc = 0;
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            uint8_t lb = x[i].ql[64 * h + 32 * (j & 1) + l];
            int lo = j >= 2 ? lb >> 4 : lb & 0xf;
            int hi = (x[i].qh[32 * h + l] >> (2 * j)) & 3;
            sum[8 * h + 2 * j + l / 16] += ((lo | hi << 4) - 32) * y[i].qs[e];
        }
        for (int sb = 0; sb < 16; sb++)
            acc += x[i].scales[sb] * sum[sb];
        s += y[i].d * H2F(x[i].d) * (float)acc;
    }
    return s;
}

/* The scalar table's na loop: same block decode per row, which is fine for a
 * reference. */
#define SCALAR_DOT(T)                                                                              \
    static void dot_##T(size_t n, const void *w, const void *a, size_t as, int na, float *out)     \
    {                                                                                              \
        for (int j = 0; j < na; j++)                                                               \
            out[j] = dot1_##T(n, w, (const char *)a + (size_t)j * as);                             \
    }
SCALAR_DOT(f32)
SCALAR_DOT(f16)
SCALAR_DOT(bf16)
SCALAR_DOT(q4_0)
SCALAR_DOT(q4_1)
SCALAR_DOT(q5_0)
SCALAR_DOT(q5_1)
SCALAR_DOT(q8_0)
SCALAR_DOT(q2_K)
SCALAR_DOT(q3_K)
SCALAR_DOT(q4_K)
SCALAR_DOT(q5_K)
SCALAR_DOT(q6_K)

static void act_q8_0(const float *x, void *dst, size_t n)
{
    infer_quantize_row(INFER_T_Q8_0, x, dst, n);
}
static void act_q8_1(const float *x, void *dst, size_t n)
{
    infer_quantize_row(INFER_T_Q8_1, x, dst, n);
}
static void act_q8_K(const float *x, void *dst, size_t n)
{
    infer_quantize_row(INFER_T_Q8_K, x, dst, n);
}

static void to_f16_scalar(const float *x, uint16_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = infer_f32_to_f16(x[i]);
}

static void from_f16_scalar(const uint16_t *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = infer_f16_to_f32(x[i]);
}

void infer__kernels_scalar(infer__kernels *k)
{
    k->to_f16 = to_f16_scalar;
    k->from_f16 = from_f16_scalar;
    k->dot[INFER_T_F32] = dot_f32;
    k->dot[INFER_T_F16] = dot_f16;
    k->dot[INFER_T_BF16] = dot_bf16;
    k->dot[INFER_T_Q4_0] = dot_q4_0;
    k->dot[INFER_T_Q4_1] = dot_q4_1;
    k->dot[INFER_T_Q5_0] = dot_q5_0;
    k->dot[INFER_T_Q5_1] = dot_q5_1;
    k->dot[INFER_T_Q8_0] = dot_q8_0;
    k->dot[INFER_T_Q2_K] = dot_q2_K;
    k->dot[INFER_T_Q3_K] = dot_q3_K;
    k->dot[INFER_T_Q4_K] = dot_q4_K;
    k->dot[INFER_T_Q5_K] = dot_q5_K;
    k->dot[INFER_T_Q6_K] = dot_q6_K;
    k->act[INFER_T_Q8_0] = act_q8_0;
    k->act[INFER_T_Q8_1] = act_q8_1;
    k->act[INFER_T_Q8_K] = act_q8_K;
}

/* ---- dispatch -------------------------------------------------------------------- */

static infer__kernels current;

void infer__kernels_select(int level)
{
    infer__kernels k;
    memset(&k, 0, sizeof k);
    infer__kernels_scalar(&k);
    if (level >= INFER_CPU_AVX2)
        infer__kernels_avx2(&k);
    if (level == INFER_CPU_AVXVNNI)
        infer__kernels_avxvnni(&k);
    if (level >= INFER_CPU_AVX512)
        infer__kernels_avx512(&k);
    current = k;
}

static const infer__kernels *kernels(void)
{
    (void)infer_cpu_level(); /* runs detection and selection once */
    return &current;
}

uint32_t infer_act_type(uint32_t wtype)
{
    switch (wtype) {
    case INFER_T_F32:
    case INFER_T_F16:
    case INFER_T_BF16: return INFER_T_F32;
    case INFER_T_Q4_0:
    case INFER_T_Q5_0:
    case INFER_T_Q8_0: return INFER_T_Q8_0;
    case INFER_T_Q4_1:
    case INFER_T_Q5_1: return INFER_T_Q8_1;
    case INFER_T_Q2_K:
    case INFER_T_Q3_K:
    case INFER_T_Q4_K:
    case INFER_T_Q5_K:
    case INFER_T_Q6_K: return INFER_T_Q8_K;
    default: return INFER_T_COUNT;
    }
}

size_t infer_act_row_bytes(uint32_t wtype, size_t k)
{
    uint32_t at = infer_act_type(wtype);
    if (at == INFER_T_COUNT || !infer_type_row_bytes(wtype, k))
        return 0;
    return infer_type_row_bytes(at, k);
}

int infer_quantize_act(uint32_t wtype, const float *x, void *dst, size_t k)
{
    uint32_t at = infer_act_type(wtype);
    if (at == INFER_T_COUNT)
        return KEEP_ERR_UNSUPPORTED;
    if (!infer_act_row_bytes(wtype, k))
        return k ? KEEP_ERR_USAGE : KEEP_OK;
    if (at == INFER_T_F32) {
        float *y = dst;
        if (wtype == INFER_T_F16)
            for (size_t i = 0; i < k; i++) y[i] = infer_f16_to_f32(infer_f32_to_f16(x[i]));
        else if (wtype == INFER_T_BF16)
            for (size_t i = 0; i < k; i++) y[i] = infer_bf16_to_f32(infer_f32_to_bf16(x[i]));
        else
            memcpy(dst, x, k * sizeof(float));
        return KEEP_OK;
    }
    kernels()->act[at](x, dst, k);
    return KEEP_OK;
}

int infer_quantize_act_rows(uint32_t wtype, const float *x, size_t ldx, size_t m, void *dst,
                            size_t k)
{
    size_t arb = infer_act_row_bytes(wtype, k);
    for (size_t i = 0; i < m; i++) {
        int rc = infer_quantize_act(wtype, x + i * ldx, (char *)dst + i * arb, k);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

void infer_f32_to_f16_row(const float *x, uint16_t *y, size_t n) { kernels()->to_f16(x, y, n); }

void infer_f16_to_f32_row(const uint16_t *x, float *y, size_t n) { kernels()->from_f16(x, y, n); }

int infer_vec_dot(uint32_t wtype, size_t k, const void *w, const void *a, float *out)
{
    if (infer_act_type(wtype) == INFER_T_COUNT)
        return KEEP_ERR_UNSUPPORTED;
    if (k == 0) {
        *out = 0;
        return KEEP_OK;
    }
    size_t arb = infer_act_row_bytes(wtype, k);
    if (!arb)
        return KEEP_ERR_USAGE;
    kernels()->dot[wtype](k, w, a, arb, 1, out);
    return KEEP_OK;
}

/* Weight rows per cache block: enough that their bytes fill about half of a
 * typical 1-2 MB L2 share, so the block stays resident while every
 * activation tile streams past it. */
#define MATMUL_BLOCK_BYTES (256u * 1024u)

/* Blocks of k per pre-converted scale chunk (dotq path): 8192 elements, so
 * the scale buffers stay small on the stack whatever k is. */
#define PRE_BLOCKS 256

size_t infer_matmul_token_tile(uint32_t wtype)
{
    return infer_act_type(wtype) != INFER_T_COUNT && kernels()->gemm[wtype] ? 0 : 64;
}

static size_t row_block(size_t wrb)
{
    size_t rb = MATMUL_BLOCK_BYTES / wrb;
    return rb < 4 ? 4 : rb;
}

static float f16_at(const char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return infer_f16_to_f32(h);
}

/* matmul through a dotq kernel: per activation tile and k chunk, the block
 * scales (and q8_1 sums) are converted once, then every weight row of the
 * cache block runs over them; chunk results add up in out. */
static void matmul_pre(infer__dotq_fn dq, uint32_t wtype, const char *wb, size_t wrb, size_t k,
                       size_t r0, size_t r1, const char *ab, size_t arb, size_t m, float *out,
                       size_t ldo)
{
    uint32_t at = infer_act_type(wtype);
    int has_s = at == INFER_T_Q8_1;
    size_t wbs = infer_type_get(wtype)->bytes, abs_ = infer_type_get(at)->bytes;
    size_t nb = k / INFER_QK, rb = row_block(wrb);
    float dbuf[INFER__MAX_NA * PRE_BLOCKS], sbuf[INFER__MAX_NA * PRE_BLOCKS];
    for (size_t rs = r0; rs < r1; rs += rb) {
        size_t re = r1 - rs < rb ? r1 : rs + rb;
        for (size_t i = 0; i < m; i += INFER__MAX_NA) {
            int na = m - i < INFER__MAX_NA ? (int)(m - i) : INFER__MAX_NA;
            for (size_t cb = 0; cb < nb; cb += PRE_BLOCKS) {
                size_t len = nb - cb < PRE_BLOCKS ? nb - cb : PRE_BLOCKS;
                for (int j = 0; j < na; j++) {
                    const char *arow = ab + (i + (size_t)j) * arb + cb * abs_;
                    for (size_t b = 0; b < len; b++) {
                        dbuf[(size_t)j * PRE_BLOCKS + b] = f16_at(arow + b * abs_);
                        if (has_s)
                            sbuf[(size_t)j * PRE_BLOCKS + b] = f16_at(arow + b * abs_ + 2);
                    }
                }
                const char *atile = ab + i * arb + cb * abs_;
                for (size_t r = rs; r < re; r++) {
                    float tmp[INFER__MAX_NA];
                    dq(len * INFER_QK, wb + r * wrb + cb * wbs, atile, arb, na, dbuf,
                       has_s ? sbuf : NULL, PRE_BLOCKS, tmp);
                    for (int j = 0; j < na; j++) {
                        float *o = out + (i + (size_t)j) * ldo + r;
                        *o = cb ? *o + tmp[j] : tmp[j];
                    }
                }
            }
        }
    }
}

int infer_matmul(uint32_t wtype, const void *w, size_t k, size_t r0, size_t r1, const void *a,
                 size_t m, float *out, size_t ldo)
{
    if (infer_act_type(wtype) == INFER_T_COUNT)
        return KEEP_ERR_UNSUPPORTED;
    if (r0 > r1 || ldo < r1)
        return KEEP_ERR_USAGE;
    if (r0 == r1 || m == 0)
        return KEEP_OK;
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            memset(out + i * ldo + r0, 0, (r1 - r0) * sizeof(float));
        return KEEP_OK;
    }
    size_t wrb = infer_type_row_bytes(wtype, k), arb = infer_act_row_bytes(wtype, k);
    if (!wrb || !arb)
        return KEEP_ERR_USAGE;
    const infer__kernels *kt = kernels();
    if (kt->gemm[wtype] && m >= INFER__QGEMM_MIN_M && r1 - r0 >= INFER__QGEMM_MIN_ROWS &&
        infer__qgemm_supported(wtype) && kt->gemm[wtype](wtype, w, k, r0, r1, a, m, out, ldo) == KEEP_OK)
        return KEEP_OK;
    const char *wb = w, *ab = a;
    if (kt->dotq[wtype]) {
        matmul_pre(kt->dotq[wtype], wtype, wb, wrb, k, r0, r1, ab, arb, m, out, ldo);
        return KEEP_OK;
    }
    infer__dot_fn dot = kt->dot[wtype];
    if (m == 1) {
        for (size_t r = r0; r < r1; r++)
            dot(k, wb + r * wrb, ab, arb, 1, out + r);
        return KEEP_OK;
    }
    size_t rb = row_block(wrb);
    for (size_t rs = r0; rs < r1; rs += rb) {
        size_t re = r1 - rs < rb ? r1 : rs + rb;
        for (size_t i = 0; i < m; i += INFER__MAX_NA) {
            int na = m - i < INFER__MAX_NA ? (int)(m - i) : INFER__MAX_NA;
            const char *arow = ab + i * arb;
            float *orow = out + i * ldo;
            for (size_t r = rs; r < re; r++) {
                float tmp[INFER__MAX_NA];
                dot(k, wb + r * wrb, arow, arb, na, tmp);
                for (int j = 0; j < na; j++)
                    orow[(size_t)j * ldo + r] = tmp[j];
            }
        }
    }
    return KEEP_OK;
}
