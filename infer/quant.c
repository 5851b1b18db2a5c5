/* quant.c — scalar reference for Keep's block formats: fp16/bf16 conversion,
 * row dequantizers and deterministic quantizers (see quant.h for layouts).
 * Written for clarity; the fast paths live in kernels*.c and are tested
 * against these. */
#include "quant.h"

#include <math.h>
#include <string.h>

#include "common.h"

/* ---- half precision --------------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float infer_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 is exact in f32 */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t infer_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN: keep it quiet and non-zero */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    if (x >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    uint32_t e = x >> 23;
    if (e < 113) {
        /* f16 subnormal (or zero): units of 2^-24, round half to even */
        if (e == 0)
            return sign;
        uint32_t m = (x & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;
        if (shift > 24)
            return sign;
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t mant = x & 0x7fffffu;
    uint32_t q = ((e - 112) << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1)))
        q++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | q);
}

float infer_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t infer_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

#define H2F(h) infer_f16_to_f32(h)
/* Scales and mins saturate at the largest finite f16, so an out-of-range
 * input row quantizes to finite (clipped) values rather than inf * 0 = NaN. */
static uint16_t f2h_sat(float f)
{
    if (f > 65504.0f)
        f = 65504.0f;
    else if (f < -65504.0f)
        f = -65504.0f;
    return infer_f32_to_f16(f);
}
#define F2H(f) f2h_sat(f)

/* ---- dequantizers --------------------------------------------------------------- */

static void dq_q4_0(const infer_block_q4_0 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK) {
        float d = H2F(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((b[i].qs[j] & 0xf) - 8);
            y[j + 16] = d * (float)((b[i].qs[j] >> 4) - 8);
        }
    }
}

static void dq_q4_1(const infer_block_q4_1 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK) {
        float d = H2F(b[i].d), m = H2F(b[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)(b[i].qs[j] & 0xf) + m;
            y[j + 16] = d * (float)(b[i].qs[j] >> 4) + m;
        }
    }
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dq_q5_0(const infer_block_q5_0 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK) {
        float d = H2F(b[i].d);
        uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = d * (float)(lo - 16);
            y[j + 16] = d * (float)(hi - 16);
        }
    }
}

static void dq_q5_1(const infer_block_q5_1 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK) {
        float d = H2F(b[i].d), m = H2F(b[i].m);
        uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = d * (float)lo + m;
            y[j + 16] = d * (float)hi + m;
        }
    }
}

static void dq_q8_0(const infer_block_q8_0 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK) {
        float d = H2F(b[i].d);
        for (int j = 0; j < INFER_QK; j++)
            y[j] = d * (float)b[i].qs[j];
    }
}

static void dq_q8_1(const infer_block_q8_1 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK) {
        float d = H2F(b[i].d);
        for (int j = 0; j < INFER_QK; j++)
            y[j] = d * (float)b[i].qs[j];
    }
}

static void dq_q2_K(const infer_block_q2_K *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int q = (b[i].qs[32 * h + l] >> (2 * j)) & 3;
            uint8_t sc = b[i].scales[8 * h + 2 * j + l / 16];
            y[e] = d * (float)(sc & 0xf) * (float)q - dmin * (float)(sc >> 4);
        }
    }
}

/* The sixteen 6-bit q3_K scales, still offset by +32. */
static void q3k_scales(const uint8_t *s, int out[16])
{
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
        int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = lo | hi << 4;
    }
}

static void dq_q3_K(const infer_block_q3_K *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK_K) {
        float d = H2F(b[i].d);
        int sc[16];
        q3k_scales(b[i].scales, sc);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int q = (b[i].qs[32 * h + l] >> (2 * j)) & 3;
            int hb = (b[i].hmask[l] >> (4 * h + j)) & 1;
            y[e] = d * (float)(sc[8 * h + 2 * j + l / 16] - 32) * (float)(q + 4 * hb - 4);
        }
    }
}

/* Scale and min of sub-block j (0..7) of a q4_K/q5_K super-block. */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        *mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

static void dq_q4_K(const infer_block_q4_K *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        for (int sb = 0; sb < 8; sb++) {
            int sc, mn;
            k4_scale_min(b[i].scales, sb, &sc, &mn);
            float ds = d * (float)sc, dm = dmin * (float)mn;
            const uint8_t *q = b[i].qs + 32 * (sb / 2);
            int shift = 4 * (sb & 1);
            for (int l = 0; l < 32; l++)
                y[32 * sb + l] = ds * (float)((q[l] >> shift) & 0xf) - dm;
        }
    }
}

static void dq_q5_K(const infer_block_q5_K *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        for (int sb = 0; sb < 8; sb++) {
            int sc, mn;
            k4_scale_min(b[i].scales, sb, &sc, &mn);
            float ds = d * (float)sc, dm = dmin * (float)mn;
            const uint8_t *q = b[i].qs + 32 * (sb / 2);
            int shift = 4 * (sb & 1);
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0xf) | ((b[i].qh[l] >> sb) & 1) << 4;
                y[32 * sb + l] = ds * (float)v - dm;
            }
        }
    }
}

static void dq_q6_K(const infer_block_q6_K *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK_K) {
        float d = H2F(b[i].d);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            uint8_t lb = b[i].ql[64 * h + 32 * (j & 1) + l];
            int lo = j >= 2 ? lb >> 4 : lb & 0xf;
            int hi = (b[i].qh[32 * h + l] >> (2 * j)) & 3;
            y[e] = d * (float)b[i].scales[8 * h + 2 * j + l / 16] * (float)((lo | hi << 4) - 32);
        }
    }
}

static void dq_q8_K(const infer_block_q8_K *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += INFER_QK_K)
        for (int j = 0; j < INFER_QK_K; j++)
            y[j] = b[i].d * (float)b[i].qs[j];
}

int infer_can_dequantize(uint32_t type)
{
    switch (type) {
    case INFER_T_F32:
    case INFER_T_F16:
    case INFER_T_BF16:
    case INFER_T_Q4_0:
    case INFER_T_Q4_1:
    case INFER_T_Q5_0:
    case INFER_T_Q5_1:
    case INFER_T_Q8_0:
    case INFER_T_Q8_1:
    case INFER_T_Q2_K:
    case INFER_T_Q3_K:
    case INFER_T_Q4_K:
    case INFER_T_Q5_K:
    case INFER_T_Q6_K:
    case INFER_T_Q8_K: return 1;
    default: return 0;
    }
}

int infer_can_quantize(uint32_t type) { return infer_can_dequantize(type); }

static int check_row(uint32_t type, size_t n, size_t *nb)
{
    const infer_type_info *t = infer_type_get(type);
    if (!t || !infer_can_dequantize(type))
        return KEEP_ERR_UNSUPPORTED;
    if (n % t->block)
        return KEEP_ERR_USAGE;
    *nb = n / t->block;
    return KEEP_OK;
}

int infer_dequantize_row(uint32_t type, const void *src, float *dst, size_t n)
{
    size_t nb;
    int rc = check_row(type, n, &nb);
    if (rc)
        return rc;
    switch (type) {
    case INFER_T_F32: memcpy(dst, src, n * sizeof(float)); break;
    case INFER_T_F16: {
        const uint8_t *p = src;
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = infer_f16_to_f32(h);
        }
        break;
    }
    case INFER_T_BF16: {
        const uint8_t *p = src;
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = infer_bf16_to_f32(h);
        }
        break;
    }
    case INFER_T_Q4_0: dq_q4_0(src, dst, nb); break;
    case INFER_T_Q4_1: dq_q4_1(src, dst, nb); break;
    case INFER_T_Q5_0: dq_q5_0(src, dst, nb); break;
    case INFER_T_Q5_1: dq_q5_1(src, dst, nb); break;
    case INFER_T_Q8_0: dq_q8_0(src, dst, nb); break;
    case INFER_T_Q8_1: dq_q8_1(src, dst, nb); break;
    case INFER_T_Q2_K: dq_q2_K(src, dst, nb); break;
    case INFER_T_Q3_K: dq_q3_K(src, dst, nb); break;
    case INFER_T_Q4_K: dq_q4_K(src, dst, nb); break;
    case INFER_T_Q5_K: dq_q5_K(src, dst, nb); break;
    case INFER_T_Q6_K: dq_q6_K(src, dst, nb); break;
    case INFER_T_Q8_K: dq_q8_K(src, dst, nb); break;
    default: return KEEP_ERR_UNSUPPORTED;
    }
    return KEEP_OK;
}

/* ---- quantizers --------------------------------------------------------------
 * The block formats cannot carry NaN or infinity, so those read as 0. Sums run
 * in double so that results do not depend on the order a compiler picks. */

static void sanitize(const float *x, float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = isfinite(x[i]) ? x[i] : 0.0f;
}

/* round(v) clamped to [lo, hi]; clamps first so the conversion never overflows. */
static int qclamp(float v, int lo, int hi)
{
    if (!(v > (float)lo))
        return lo;
    if (v > (float)hi)
        return hi;
    int q = (int)roundf(v);
    return q > hi ? hi : q;
}

/* Best s for x ~= s*q with integer q in [-nneg, npos]. Tries a few scales that
 * map the largest-magnitude value onto either end of the range, and refits s by
 * least squares for each candidate's q. Returns 0 for an all-zero input. */
static float fit_sym(const float *x, int n, int nneg, int npos)
{
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    if (amax < 1e-30f)
        return 0;
    double best_gain = -1;
    float best_s = 0;
    for (int side = 0; side < 2; side++) {
        int lim = side ? npos : nneg;
        for (int t = -4; t <= 4; t++) {
            float den = (float)lim + 0.25f * (float)t;
            if (den < 0.5f)
                continue;
            float s = (side ? vmax : -vmax) / den, is = 1.0f / s;
            double sxq = 0, sqq = 0;
            for (int i = 0; i < n; i++) {
                int q = qclamp(x[i] * is, -nneg, npos);
                sxq += (double)x[i] * q;
                sqq += (double)q * q;
            }
            if (sqq <= 0)
                continue;
            /* squared error is sum(x^2) - sxq^2/sqq at the optimal s */
            double gain = sxq * sxq / sqq;
            if (gain > best_gain) {
                best_gain = gain;
                best_s = (float)(sxq / sqq);
            }
        }
    }
    return best_s;
}

/* Best s, m for x ~= s*q + m with q in [0, nmax]. When nonpos_min, m is held
 * <= 0 (the K-quants store -m as an unsigned 6-bit value). */
static float fit_aff(const float *x, int n, int nmax, int nonpos_min, float *mout)
{
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    if (nonpos_min && mn > 0)
        mn = 0;
    *mout = mn;
    if (mx - mn < 1e-30f)
        return 0;
    int q[256];
    double best_err = INFINITY;
    float best_s = (mx - mn) / (float)nmax;
    for (int t = -4; t <= 4; t++) {
        float s = (mx - mn) / ((float)nmax + 0.25f * (float)t), is = 1.0f / s;
        double sq = 0, sqq = 0, sx = 0, sxq = 0;
        for (int i = 0; i < n; i++) {
            q[i] = qclamp((x[i] - mn) * is, 0, nmax);
            sq += q[i];
            sqq += (double)q[i] * q[i];
            sx += x[i];
            sxq += (double)x[i] * q[i];
        }
        double det = n * sqq - sq * sq, so, mo;
        if (det <= 0)
            continue;
        so = (n * sxq - sq * sx) / det;
        mo = (sqq * sx - sq * sxq) / det;
        if (nonpos_min && mo > 0) {
            mo = 0;
            so = sxq / sqq;
        }
        if (so <= 0)
            continue;
        double err = 0;
        for (int i = 0; i < n; i++) {
            double r = x[i] - (so * q[i] + mo);
            err += r * r;
        }
        if (err < best_err) {
            best_err = err;
            best_s = (float)so;
            *mout = (float)mo;
        }
    }
    return best_s;
}

static float inv_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

static void q_q4_0(const float *x, infer_block_q4_0 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK) {
        float xb[INFER_QK];
        sanitize(x, xb, INFER_QK);
        b[i].d = F2H(fit_sym(xb, INFER_QK, 8, 7));
        float id = inv_or_zero(H2F(b[i].d));
        for (int j = 0; j < 16; j++) {
            int lo = qclamp(xb[j] * id, -8, 7) + 8, hi = qclamp(xb[j + 16] * id, -8, 7) + 8;
            b[i].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void q_q4_1(const float *x, infer_block_q4_1 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK) {
        float xb[INFER_QK], m;
        sanitize(x, xb, INFER_QK);
        b[i].d = F2H(fit_aff(xb, INFER_QK, 15, 0, &m));
        b[i].m = F2H(m);
        float id = inv_or_zero(H2F(b[i].d)), mf = H2F(b[i].m);
        for (int j = 0; j < 16; j++) {
            int lo = qclamp((xb[j] - mf) * id, 0, 15), hi = qclamp((xb[j + 16] - mf) * id, 0, 15);
            b[i].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void q_q5_0(const float *x, infer_block_q5_0 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK) {
        float xb[INFER_QK];
        sanitize(x, xb, INFER_QK);
        b[i].d = F2H(fit_sym(xb, INFER_QK, 16, 15));
        float id = inv_or_zero(H2F(b[i].d));
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = qclamp(xb[j] * id, -16, 15) + 16, hi = qclamp(xb[j + 16] * id, -16, 15) + 16;
            b[i].qs[j] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        store_u32(b[i].qh, qh);
    }
}

static void q_q5_1(const float *x, infer_block_q5_1 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK) {
        float xb[INFER_QK], m;
        sanitize(x, xb, INFER_QK);
        b[i].d = F2H(fit_aff(xb, INFER_QK, 31, 0, &m));
        b[i].m = F2H(m);
        float id = inv_or_zero(H2F(b[i].d)), mf = H2F(b[i].m);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = qclamp((xb[j] - mf) * id, 0, 31), hi = qclamp((xb[j + 16] - mf) * id, 0, 31);
            b[i].qs[j] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        store_u32(b[i].qh, qh);
    }
}

/* 8-bit formats: absmax scaling to +-127 (never -128, which the SIMD
 * kernels' sign trick relies on), round half to even like the SIMD paths.
 * The multiplier is 127/amax, not 1/d: llama.cpp's x86 quantizer computes it
 * that way, and its last bit decides ties in the rounding. */
static float absmax_scale(const float *x, int n, float *id)
{
    float amax = 0;
    for (int i = 0; i < n; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    *id = amax != 0.0f ? 127.0f / amax : 0.0f;
    return amax / 127.0f;
}

static int8_t q8_round(float v)
{
    float r = nearbyintf(v);
    return (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : r);
}

static void q_q8_0(const float *x, infer_block_q8_0 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK) {
        float xb[INFER_QK], id;
        sanitize(x, xb, INFER_QK);
        b[i].d = F2H(absmax_scale(xb, INFER_QK, &id));
        for (int j = 0; j < INFER_QK; j++)
            b[i].qs[j] = q8_round(xb[j] * id);
    }
}

static void q_q8_1(const float *x, infer_block_q8_1 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK) {
        float xb[INFER_QK], id;
        sanitize(x, xb, INFER_QK);
        float d = absmax_scale(xb, INFER_QK, &id);
        int sum = 0;
        for (int j = 0; j < INFER_QK; j++) {
            b[i].qs[j] = q8_round(xb[j] * id);
            sum += b[i].qs[j];
        }
        b[i].d = F2H(d);
        b[i].s = F2H(d * (float)sum);
    }
}

/* q8_K as llama.cpp defines it: the value of largest magnitude (the first
 * one on a tie), with its sign, maps to -127, and d = 1/multiplier, so d is
 * negative when that value is positive. */
static void q_q8_K(const float *x, infer_block_q8_K *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK_K) {
        float xb[INFER_QK_K], amax = 0, vmax = 0;
        sanitize(x, xb, INFER_QK_K);
        for (int j = 0; j < INFER_QK_K; j++)
            if (fabsf(xb[j]) > amax) {
                amax = fabsf(xb[j]);
                vmax = xb[j];
            }
        float iscale = amax != 0.0f ? -127.0f / vmax : 0.0f;
        b[i].d = amax != 0.0f ? 1.0f / iscale : 0.0f;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 16 * g; j < 16 * g + 16; j++) {
                b[i].qs[j] = q8_round(xb[j] * iscale);
                sum += b[i].qs[j];
            }
            b[i].bsums[g] = (int16_t)sum;
        }
    }
}

/* Sub-block scales/mins of an affine K-quant, quantized to `levels` steps
 * against a super-block scale. Fills ls/lm and returns d, dmin as stored f16. */
static void k_affine_scales(const float *sc, const float *mn, int nsub, int levels, uint16_t *d16,
                            uint16_t *dmin16, int *ls, int *lm)
{
    float maxs = 0, maxm = 0;
    for (int j = 0; j < nsub; j++) {
        maxs = sc[j] > maxs ? sc[j] : maxs;
        maxm = mn[j] > maxm ? mn[j] : maxm;
    }
    *d16 = F2H(maxs / (float)levels);
    *dmin16 = F2H(maxm / (float)levels);
    float id = inv_or_zero(H2F(*d16)), idm = inv_or_zero(H2F(*dmin16));
    for (int j = 0; j < nsub; j++) {
        ls[j] = qclamp(sc[j] * id, 0, levels);
        lm[j] = qclamp(mn[j] * idm, 0, levels);
    }
}

/* q for x ~= d*q - m with q in [0, nmax]. */
static int k_affine_q(float x, float d, float m, int nmax)
{
    return d > 0 ? qclamp((x + m) / d, 0, nmax) : 0;
}

static void q_q2_K(const float *x, infer_block_q2_K *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK_K) {
        float xb[INFER_QK_K], sc[16], mn[16];
        int ls[16], lm[16];
        sanitize(x, xb, INFER_QK_K);
        for (int j = 0; j < 16; j++) {
            float m;
            sc[j] = fit_aff(xb + 16 * j, 16, 3, 1, &m);
            mn[j] = -m;
        }
        k_affine_scales(sc, mn, 16, 15, &b[i].d, &b[i].dmin, ls, lm);
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        memset(b[i].qs, 0, sizeof b[i].qs);
        for (int j = 0; j < 16; j++)
            b[i].scales[j] = (uint8_t)(ls[j] | lm[j] << 4);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32, s = 8 * h + 2 * j + l / 16;
            int q = k_affine_q(xb[e], d * (float)ls[s], dmin * (float)lm[s], 3);
            b[i].qs[32 * h + l] |= (uint8_t)(q << (2 * j));
        }
    }
}

static void q_q3_K(const float *x, infer_block_q3_K *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK_K) {
        float xb[INFER_QK_K], sc[16], amax = 0;
        sanitize(x, xb, INFER_QK_K);
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_sym(xb + 16 * j, 16, 4, 3);
            amax = fabsf(sc[j]) > amax ? fabsf(sc[j]) : amax;
        }
        b[i].d = F2H(amax / 31.0f);
        float d = H2F(b[i].d), id = inv_or_zero(d);
        int ls[16];
        memset(b[i].scales, 0, sizeof b[i].scales);
        for (int j = 0; j < 16; j++) {
            ls[j] = qclamp(sc[j] * id, -32, 31);
            int v = ls[j] + 32;
            if (j < 8)
                b[i].scales[j] |= (uint8_t)(v & 0xf);
            else
                b[i].scales[j - 8] |= (uint8_t)((v & 0xf) << 4);
            b[i].scales[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
        }
        memset(b[i].qs, 0, sizeof b[i].qs);
        memset(b[i].hmask, 0, sizeof b[i].hmask);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32, s = 8 * h + 2 * j + l / 16;
            float ds = d * (float)ls[s];
            int q = (ds != 0.0f ? qclamp(xb[e] / ds, -4, 3) : 0) + 4;
            b[i].qs[32 * h + l] |= (uint8_t)((q & 3) << (2 * j));
            b[i].hmask[l] |= (uint8_t)((q >> 2) << (4 * h + j));
        }
    }
}

static void k4_pack_scales(uint8_t *s, const int *ls, const int *lm)
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(ls[j] | (ls[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(lm[j] | (lm[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((ls[j + 4] & 0xf) | (lm[j + 4] & 0xf) << 4);
    }
}

/* Shared by q4_K (nmax 15) and q5_K (nmax 31): fills scales and q[256]. */
static void k45_quantize(const float *xb, int nmax, uint16_t *d16, uint16_t *dmin16,
                         uint8_t *scales, uint8_t *q)
{
    float sc[8], mn[8];
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        float m;
        sc[j] = fit_aff(xb + 32 * j, 32, nmax, 1, &m);
        mn[j] = -m;
    }
    k_affine_scales(sc, mn, 8, 63, d16, dmin16, ls, lm);
    k4_pack_scales(scales, ls, lm);
    float d = H2F(*d16), dmin = H2F(*dmin16);
    for (int e = 0; e < INFER_QK_K; e++)
        q[e] = (uint8_t)k_affine_q(xb[e], d * (float)ls[e / 32], dmin * (float)lm[e / 32], nmax);
}

static void q_q4_K(const float *x, infer_block_q4_K *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK_K) {
        float xb[INFER_QK_K];
        uint8_t q[INFER_QK_K];
        sanitize(x, xb, INFER_QK_K);
        k45_quantize(xb, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * g + l] = (uint8_t)(q[64 * g + l] | q[64 * g + 32 + l] << 4);
    }
}

static void q_q5_K(const float *x, infer_block_q5_K *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK_K) {
        float xb[INFER_QK_K];
        uint8_t q[INFER_QK_K];
        sanitize(x, xb, INFER_QK_K);
        k45_quantize(xb, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * g + l] =
                    (uint8_t)((q[64 * g + l] & 0xf) | (q[64 * g + 32 + l] & 0xf) << 4);
        for (int e = 0; e < INFER_QK_K; e++)
            b[i].qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
    }
}

static void q_q6_K(const float *x, infer_block_q6_K *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += INFER_QK_K) {
        float xb[INFER_QK_K], sc[16], amax = 0;
        sanitize(x, xb, INFER_QK_K);
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_sym(xb + 16 * j, 16, 32, 31);
            amax = fabsf(sc[j]) > amax ? fabsf(sc[j]) : amax;
        }
        b[i].d = F2H(amax / 127.0f);
        float d = H2F(b[i].d), id = inv_or_zero(d);
        for (int j = 0; j < 16; j++)
            b[i].scales[j] = (int8_t)qclamp(sc[j] * id, -127, 127);
        memset(b[i].ql, 0, sizeof b[i].ql);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int e = 0; e < INFER_QK_K; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32, s = 8 * h + 2 * j + l / 16;
            float ds = d * (float)b[i].scales[s];
            int q = (ds != 0.0f ? qclamp(xb[e] / ds, -32, 31) : 0) + 32;
            b[i].ql[64 * h + 32 * (j & 1) + l] |= (uint8_t)((q & 0xf) << (j >= 2 ? 4 : 0));
            b[i].qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * j));
        }
    }
}

int infer_quantize_row(uint32_t type, const float *src, void *dst, size_t n)
{
    size_t nb;
    int rc = check_row(type, n, &nb);
    if (rc)
        return rc;
    switch (type) {
    case INFER_T_F32: memcpy(dst, src, n * sizeof(float)); break;
    case INFER_T_F16:
    case INFER_T_BF16: {
        uint8_t *p = dst;
        for (size_t i = 0; i < n; i++) {
            uint16_t h = type == INFER_T_F16 ? infer_f32_to_f16(src[i]) : infer_f32_to_bf16(src[i]);
            memcpy(p + 2 * i, &h, 2);
        }
        break;
    }
    case INFER_T_Q4_0: q_q4_0(src, dst, nb); break;
    case INFER_T_Q4_1: q_q4_1(src, dst, nb); break;
    case INFER_T_Q5_0: q_q5_0(src, dst, nb); break;
    case INFER_T_Q5_1: q_q5_1(src, dst, nb); break;
    case INFER_T_Q8_0: q_q8_0(src, dst, nb); break;
    case INFER_T_Q8_1: q_q8_1(src, dst, nb); break;
    case INFER_T_Q2_K: q_q2_K(src, dst, nb); break;
    case INFER_T_Q3_K: q_q3_K(src, dst, nb); break;
    case INFER_T_Q4_K: q_q4_K(src, dst, nb); break;
    case INFER_T_Q5_K: q_q5_K(src, dst, nb); break;
    case INFER_T_Q6_K: q_q6_K(src, dst, nb); break;
    case INFER_T_Q8_K: q_q8_K(src, dst, nb); break;
    default: return KEEP_ERR_UNSUPPORTED;
    }
    return KEEP_OK;
}
