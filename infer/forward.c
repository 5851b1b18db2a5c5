/* forward.c — the decoder's forward pass over an F16 KV cache: RMSNorm,
 * q/k/v projections (+ biases for qwen2, per-head RMS norms for qwen3), RoPE
 * (llama's adjacent pairs or NEOX halves, frequency factors, linear/YaRN
 * scaling), grouped-query causal attention (llama.cpp's flash-attention
 * arithmetic, attn_kernels.h), output projection, SwiGLU FFN.
 *
 * A prompt runs as batches of up to n_batch tokens: each weight matrix is
 * multiplied with the whole batch of activations, quantized once per matrix
 * input (kernels.h reuses every decoded weight block for several tokens).
 * Work is spread over the thread pool by weight rows (products) and by
 * (head, token block) (attention). Everything is allocated by infer_ctx_new:
 * evaluating never allocates. */
#include <math.h>
#include <string.h>

#include "infer/attn_kernels.h"
#include "infer/kernels.h"
#include "infer/model.h"
#include "infer/quant.h"

/* Tokens per attention work item. */
#define ATT_TOKEN_BLOCK 16
#define MAX_POOL_THREADS 256


/* ---- small helpers -------------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *w, size_t n, float eps)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    /* squares in float summed in double, mean in float, then 1/sqrtf: the
     * reference's rounding (quantized activations downstream amplify
     * last-bit differences) */
    float mean = (float)(ss / (double)n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (size_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

static void rope_table(const infer_model *m, size_t pos0, size_t n_tok, float *cs)
{
    size_t half = m->n_rot / 2;
    float theta_scale = powf(m->rope_base, -2.0f / (float)m->n_rot);
    float low = 0, high = 0, mscale = 1.0f;
    if (m->yarn) {
        /* dimension pairs rotating fewer than beta times over the original
         * context are interpolated, faster ones extrapolated, with a ramp
         * between (YaRN, Peng et al. 2023) */
        double b = log((double)m->rope_base) * 2;
        double lo = m->n_rot * log((double)m->yarn_n_ctx_orig / (m->yarn_beta_fast * 2 * M_PI)) / b;
        double hi = m->n_rot * log((double)m->yarn_n_ctx_orig / (m->yarn_beta_slow * 2 * M_PI)) / b;
        low = (float)fmax(0, floor(lo));
        high = (float)fmin((double)m->n_rot - 1, ceil(hi));
        mscale = m->yarn_attn_factor * (1.0f + 0.1f * logf(1.0f / m->rope_freq_scale));
    }
    /* float arithmetic throughout, angle advanced by repeated
     * multiplication: the reference's rounding, which the quantized
     * activations downstream would otherwise amplify */
    float ts = (float)theta_scale;
    for (size_t t = 0; t < n_tok; t++) {
        float theta = (float)(pos0 + t);
        for (size_t i = 0; i < half; i++) {
            float th = theta;
            if (m->rope_factors) th /= m->rope_factors[i];
            float interp = th * m->rope_freq_scale;
            if (m->yarn) {
                float y = ((float)i - low) / fmaxf(0.001f, high - low);
                float ramp = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * m->yarn_ext_factor;
                th = interp * (1 - ramp) + th * ramp;
            } else {
                th = interp;
            }
            cs[(t * half + i) * 2] = cosf(th) * mscale;
            cs[(t * half + i) * 2 + 1] = sinf(th) * mscale;
            theta *= ts;
        }
    }
}

/* Rotates the first n_rot dims of one head vector. */
static void rope_apply(const infer_model *m, float *x, const float *cs)
{
    size_t half = m->n_rot / 2;
    if (m->rope_kind == INFER_ROPE_NORM) {
        for (size_t i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            float a = x[2 * i], b = x[2 * i + 1];
            x[2 * i] = a * c - b * s;
            x[2 * i + 1] = a * s + b * c;
        }
    } else {
        for (size_t i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            float a = x[i], b = x[i + half];
            x[i] = a * c - b * s;
            x[i + half] = a * s + b * c;
        }
    }
}

/* ---- matrix products on the pool ------------------------------------------ */

typedef struct {
    int n;
    const infer_mat *w[3];
    float *out[3];
    const char *a; /* quantized activations, m rows of arb bytes */
    size_t arb, m;
} mm_job;

static void mm_body(void *ctx, size_t b, size_t e, int thread)
{
    (void)thread;
    const mm_job *j = ctx;
    size_t base = 0;
    for (int i = 0; i < j->n && b < e; i++) {
        const infer_mat *w = j->w[i];
        size_t end = base + w->rows;
        if (b < end) {
            size_t r0 = b - base, r1 = (e < end ? e : end) - base;
            size_t tile = infer_matmul_token_tile(w->type);
            if (!tile) tile = j->m;
            for (size_t t = 0; t < j->m; t += tile) {
                size_t mt = j->m - t < tile ? j->m - t : tile;
                infer_matmul(w->type, w->data, w->k, r0, r1, j->a + t * j->arb, mt,
                             j->out[i] + t * w->rows, w->rows);
            }
            b = end < e ? end : e;
        }
        base = end;
    }
}

typedef struct {
    uint32_t wtype;
    const float *x;
    size_t k;
    char *dst;
    size_t arb;
} qa_job;

static void qa_body(void *ctx, size_t b, size_t e, int thread)
{
    (void)thread;
    const qa_job *j = ctx;
    infer_quantize_act_rows(j->wtype, j->x + b * j->k, j->k, e - b, j->dst + b * j->arb, j->k);
}

/* out_i = x @ w_i^T for up to three matrices sharing the input x (m rows of
 * k floats), in one pool job (one synchronisation instead of three). The
 * matrices must share an activation type; otherwise they run one by one. */
static void matmul_multi(infer_ctx *c, const float *x, size_t m, int n, const infer_mat *const *w,
                         float *const *out)
{
    uint32_t at = infer_act_type(w[0]->type);
    for (int i = 1; i < n; i++)
        if (infer_act_type(w[i]->type) != at) {
            for (int k = 0; k < n; k++) matmul_multi(c, x, m, 1, &w[k], &out[k]);
            return;
        }
    size_t k = w[0]->k, arb = infer_act_row_bytes(w[0]->type, k);
    qa_job q = {w[0]->type, x, k, c->qa, arb};
    infer_pool_for(m >= 4 ? c->pool : NULL, m, 1, qa_body, &q);
    mm_job j = {.n = n, .a = c->qa, .arb = arb, .m = m};
    size_t rows = 0;
    for (int i = 0; i < n; i++) {
        j.w[i] = w[i];
        j.out[i] = out[i];
        rows += w[i]->rows;
    }
    /* a prompt batch in row chunks of whole 32-row groups (the GEMM's) */
    infer_pool_for(c->pool, rows, m >= 8 ? 32 : 4, mm_body, &j);
}

static void matmul1(infer_ctx *c, const float *x, size_t m, const infer_mat *w, float *out)
{
    matmul_multi(c, x, m, 1, &w, &out);
}

/* ---- attention ------------------------------------------------------------- */

typedef struct {
    infer_ctx *c;
    size_t layer, pos0, n_tok;
    infer__attn_kernels kern;
    int by_kv; /* work items are (KV head, token block), not (q head, token block) */
} att_job;

/* Micro-batch size llama.cpp evaluates a prompt in (its default n_ubatch):
 * its attention path depends on how many query rows one micro-batch has, so
 * Keep picks the path per token from the micro-batch llama.cpp would have
 * put it in, whatever Keep's own n_batch is. */
#define REF_UBATCH 512
/* Rows from which llama.cpp takes its tiled attention path. */
#define REF_TILED_ROWS 64

/* 1 when the token at position pos of the current eval is attended the
 * tiled way: its reference micro-batch has REF_TILED_ROWS rows or more (and
 * the value size is whole 8-float vectors, as llama.cpp also requires). */
static int att_tiled(const infer_ctx *c, size_t pos)
{
    if (c->m->head_dim_v % 8) return 0;
    size_t ub = (pos - c->eval_first) / REF_UBATCH * REF_UBATCH + c->eval_first;
    size_t rows = c->eval_end - ub < REF_UBATCH ? c->eval_end - ub : REF_UBATCH;
    return rows >= REF_TILED_ROWS;
}

/* Attention of the query rows of one work item. With j->by_kv an item is a
 * KV head and a block of tokens, and the tiled rows of all the q heads that
 * share the KV head go to tiled_many together, so each F16 key/value tile is
 * converted once for all of them (same results as one row at a time). */
static void att_body(void *ctx, size_t b, size_t e, int thread)
{
    (void)thread;
    const att_job *j = ctx;
    infer_ctx *c = j->c;
    const infer_model *m = c->m;
    size_t hdk = m->head_dim_k, hdv = m->head_dim_v, group = m->n_head / m->n_head_kv;
    size_t n_blocks = (j->n_tok + ATT_TOKEN_BLOCK - 1) / ATT_TOKEN_BLOCK;
    size_t heads_per_item = j->by_kv ? group : 1;
    float scale = 1.0f / sqrtf((float)hdk);
    float *scratch = j->by_kv ? keep_malloc(INFER__ATT_TILE * (hdk + hdv) * sizeof *scratch) : NULL;
    const float *mq[INFER__ATT_MANY_MAX];
    float *mo[INFER__ATT_MANY_MAX];
    size_t mk[INFER__ATT_MANY_MAX], nm = 0;
    for (size_t item = b; item < e; item++) {
        size_t h0 = item / n_blocks * heads_per_item, blk = item % n_blocks;
        size_t kvh = h0 / group;
        const uint16_t *K = c->kcache + ((j->layer * m->n_head_kv + kvh) * c->n_ctx) * hdk;
        const uint16_t *V = c->vcache + ((j->layer * m->n_head_kv + kvh) * c->n_ctx) * hdv;
        size_t t_end = (blk + 1) * ATT_TOKEN_BLOCK < j->n_tok ? (blk + 1) * ATT_TOKEN_BLOCK : j->n_tok;
        for (size_t h = h0; h < h0 + heads_per_item; h++)
            for (size_t t = blk * ATT_TOKEN_BLOCK; t < t_end; t++) {
                const float *qv = c->q + (t * m->n_head + h) * hdk;
                size_t pos = j->pos0 + t;
                float *o = c->att + (t * m->n_head + h) * hdv;
                if (!att_tiled(c, pos)) {
                    j->kern.vec(qv, K, V, pos + 1, hdk, hdv, scale, o);
                } else if (!scratch) {
                    j->kern.tiled(qv, K, V, pos + 1, hdk, hdv, scale, o);
                } else {
                    mq[nm] = qv;
                    mo[nm] = o;
                    mk[nm++] = pos + 1;
                    if (nm == INFER__ATT_MANY_MAX) {
                        j->kern.tiled_many(nm, mq, mk, mo, K, V, hdk, hdv, scale, scratch);
                        nm = 0;
                    }
                }
            }
        if (nm) j->kern.tiled_many(nm, mq, mk, mo, K, V, hdk, hdv, scale, scratch);
        nm = 0;
    }
    keep_free(scratch);
}

/* ---- element-wise work over tokens ------------------------------------------ */

typedef struct {
    infer_ctx *c;
    size_t n;
} swiglu_job;

static void swiglu_body(void *ctx, size_t b, size_t e, int thread)
{
    (void)thread;
    const swiglu_job *j = ctx;
    float *g = j->c->gate, *u = j->c->up;
    for (size_t i = b; i < e; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- one batch ---------------------------------------------------------------- */

static void add_bias(float *x, const float *bias, size_t m, size_t n)
{
    if (!bias) return;
    for (size_t t = 0; t < m; t++)
        for (size_t i = 0; i < n; i++) x[t * n + i] += bias[i];
}

/* Runs tokens ids[0..n) at positions pos0.. through every layer, leaving the
 * final residual stream of each in c->x; the KV cache gets their keys and
 * values. */
static int forward_batch(infer_ctx *c, const int32_t *ids, size_t n, size_t pos0)
{
    const infer_model *m = c->m;
    size_t E = m->n_embd, hdk = m->head_dim_k, hdv = m->head_dim_v;
    size_t qd = m->n_head * hdk, kd = m->n_head_kv * hdk, vd = m->n_head_kv * hdv,
           half = m->n_rot / 2;

    for (size_t t = 0; t < n; t++)
        infer_dequantize_row(m->tok_embd.type,
                             (const char *)m->tok_embd.data + (size_t)ids[t] * m->tok_embd.row_bytes,
                             c->x + t * E, E);
    rope_table(m, pos0, n, c->rope_cs);
    /* a batch that reaches the tiled path shares each KV head's tile
     * conversions among its q heads; shorter ones keep one item per q head */
    att_job aj = {c, 0, pos0, n, infer__attn_kernels_get(), n >= REF_TILED_ROWS};

    for (size_t l = 0; l < m->n_layer; l++) {
        const infer_layer *L = &m->layers[l];
        if (atomic_load_explicit(&c->cancel, memory_order_relaxed)) return KEEP_ERR_CANCELLED;
        for (size_t t = 0; t < n; t++) rmsnorm(c->xn + t * E, c->x + t * E, L->attn_norm, E, m->rms_eps);
        const infer_mat *wqkv[3] = {&L->wq, &L->wk, &L->wv};
        float *oqkv[3] = {c->q, c->k, c->v};
        matmul_multi(c, c->xn, n, 3, wqkv, oqkv);
        add_bias(c->q, L->bq, n, qd);
        add_bias(c->k, L->bk, n, kd);
        add_bias(c->v, L->bv, n, vd);
        for (size_t t = 0; t < n; t++) {
            const float *cs = c->rope_cs + t * half * 2;
            for (size_t h = 0; h < m->n_head; h++) {
                float *qh = c->q + t * qd + h * hdk;
                if (L->q_norm) rmsnorm(qh, qh, L->q_norm, hdk, m->rms_eps);
                rope_apply(m, qh, cs);
            }
            for (size_t h = 0; h < m->n_head_kv; h++) {
                float *kh = c->k + t * kd + h * hdk;
                if (L->k_norm) rmsnorm(kh, kh, L->k_norm, hdk, m->rms_eps);
                rope_apply(m, kh, cs);
                size_t slot = (l * m->n_head_kv + h) * c->n_ctx + pos0 + t;
                infer_f32_to_f16_row(kh, c->kcache + slot * hdk, hdk);
                infer_f32_to_f16_row(c->v + t * vd + h * hdv, c->vcache + slot * hdv, hdv);
            }
        }
        aj.layer = l;
        size_t items = (aj.by_kv ? m->n_head_kv : m->n_head) * ((n + ATT_TOKEN_BLOCK - 1) / ATT_TOKEN_BLOCK);
        infer_pool_for(c->pool, items, 1, att_body, &aj);

        matmul1(c, c->att, n, &L->wo, c->tmp);
        add_bias(c->tmp, L->bo, n, E);
        for (size_t i = 0; i < n * E; i++) c->x[i] += c->tmp[i];

        for (size_t t = 0; t < n; t++) rmsnorm(c->xn + t * E, c->x + t * E, L->ffn_norm, E, m->rms_eps);
        const infer_mat *wgu[2] = {&L->wgate, &L->wup};
        float *ogu[2] = {c->gate, c->up};
        matmul_multi(c, c->xn, n, 2, wgu, ogu);
        swiglu_job sj = {c, n * m->n_ff};
        infer_pool_for(n >= 4 ? c->pool : NULL, n * m->n_ff, 256, swiglu_body, &sj);
        matmul1(c, c->gate, n, &L->wdown, c->tmp);
        for (size_t i = 0; i < n * E; i++) c->x[i] += c->tmp[i];
    }
    return KEEP_OK;
}

/* ---- context ------------------------------------------------------------------ */

static void *alloc_floats(size_t n, int *fail)
{
    size_t bytes;
    if (keep_mul_overflow(n, sizeof(float), &bytes)) {
        *fail = 1;
        return NULL;
    }
    void *p = keep_malloc(bytes ? bytes : 1);
    if (!p) *fail = 1;
    return p;
}

static size_t max_act_bytes(const infer_model *m, const infer_mat *w, size_t cur)
{
    size_t b = infer_act_row_bytes(w->type, w->k);
    (void)m;
    return b > cur ? b : cur;
}

int infer_ctx_new(const infer_model *m, const infer_ctx_params *p, infer_ctx **out, keep_err *err)
{
    *out = NULL;
    infer_ctx_params d = {0};
    if (p) d = *p;
    if (d.n_ctx == 0) d.n_ctx = m->n_ctx_train < 4096 ? m->n_ctx_train : 4096;
    if (d.n_ctx > ((size_t)1 << 20))
        return keep_err_set(err, KEEP_ERR_TOOBIG, "context of %zu positions is too large", d.n_ctx);
    if (d.n_batch == 0) d.n_batch = 256;
    if (d.n_batch > d.n_ctx) d.n_batch = d.n_ctx;
    if (d.n_batch > 4096) d.n_batch = 4096;

    infer_ctx *c = keep_calloc(1, sizeof *c);
    if (!c) return keep_err_set(err, KEEP_ERR_NOMEM, "context: out of memory");
    c->m = m;
    c->n_ctx = d.n_ctx;
    c->n_batch = d.n_batch;
    int rc = infer_pool_create(d.n_threads, &c->pool, err);
    if (rc) goto fail;
    c->n_threads = infer_pool_threads(c->pool);

    size_t B = c->n_batch, E = m->n_embd;
    size_t qd = m->n_head * m->head_dim_k, kd = m->n_head_kv * m->head_dim_k,
           vd = m->n_head_kv * m->head_dim_v, od = m->n_head * m->head_dim_v;
    size_t kv_k, kv_v;
    if (keep_mul_overflow(m->n_layer * m->n_head_kv, c->n_ctx, &kv_k) ||
        keep_mul_overflow(kv_k, m->head_dim_v, &kv_v) ||
        keep_mul_overflow(kv_k, m->head_dim_k, &kv_k) || kv_k > ((size_t)1 << 34) / 2 ||
        kv_v > ((size_t)1 << 34) / 2) {
        rc = keep_err_set(err, KEEP_ERR_TOOBIG, "context: KV cache of %zu positions is too large",
                          c->n_ctx);
        goto fail;
    }
    c->kcache = keep_malloc(kv_k * sizeof(uint16_t));
    c->vcache = keep_malloc(kv_v * sizeof(uint16_t));
    c->tokens = keep_malloc(c->n_ctx * sizeof(int32_t));
    int fail = !c->kcache || !c->vcache || !c->tokens;
    c->x = alloc_floats(B * E, &fail);
    c->xn = alloc_floats(B * (E > od ? E : od), &fail);
    c->q = alloc_floats(B * qd, &fail);
    c->k = alloc_floats(B * kd, &fail);
    c->v = alloc_floats(B * vd, &fail);
    c->att = alloc_floats(B * od, &fail);
    c->gate = alloc_floats(B * m->n_ff, &fail);
    c->up = alloc_floats(B * m->n_ff, &fail);
    c->tmp = alloc_floats(B * E, &fail);
    c->rope_cs = alloc_floats(B * m->n_rot, &fail);
    c->logits = alloc_floats(m->n_vocab, &fail);
    c->samp_p = alloc_floats(m->n_vocab, &fail);
    c->samp_id = keep_malloc(m->n_vocab * sizeof(int32_t));
    c->seq = keep_malloc(c->n_ctx * sizeof(int32_t));
    if (!c->samp_id || !c->seq) fail = 1;
    atomic_init(&c->cancel, 0);
    size_t ab = max_act_bytes(m, &m->output, 0);
    for (size_t l = 0; l < m->n_layer; l++) {
        const infer_layer *L = &m->layers[l];
        if (atomic_load_explicit(&c->cancel, memory_order_relaxed)) return KEEP_ERR_CANCELLED;
        const infer_mat *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->wgate, &L->wup, &L->wdown};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) ab = max_act_bytes(m, ws[i], ab);
    }
    c->qa_cap = ab * B;
    c->qa = keep_malloc(c->qa_cap);
    if (fail || !c->qa) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "context: out of memory (%zu positions)", c->n_ctx);
        goto fail;
    }
    *out = c;
    return KEEP_OK;
fail:
    infer_ctx_free(c);
    return rc;
}

void infer_ctx_free(infer_ctx *c)
{
    if (!c) return;
    infer_pool_free(c->pool);
    keep_free(c->kcache);
    keep_free(c->vcache);
    keep_free(c->tokens);
    keep_free(c->x);
    keep_free(c->xn);
    keep_free(c->q);
    keep_free(c->k);
    keep_free(c->v);
    keep_free(c->att);
    keep_free(c->gate);
    keep_free(c->up);
    keep_free(c->tmp);
    keep_free(c->rope_cs);
    keep_free(c->logits);
    keep_free(c->qa);
    keep_free(c->samp_p);
    keep_free(c->samp_id);
    keep_free(c->seq);
    keep_free(c);
}

size_t infer_ctx_n_ctx(const infer_ctx *c) { return c->n_ctx; }
int infer_ctx_n_threads(const infer_ctx *c) { return c->n_threads; }
size_t infer_ctx_n_past(const infer_ctx *c) { return c->n_past; }
const float *infer_ctx_logits(const infer_ctx *c) { return c->have_logits ? c->logits : NULL; }

void infer_ctx_cancel(infer_ctx *c)
{
    atomic_store(&c->cancel, 1);
}

void infer_ctx_reset(infer_ctx *c)
{
    c->n_past = 0;
    c->have_logits = 0;
}

int infer_ctx_eval(infer_ctx *c, const int32_t *ids, size_t n, size_t *n_computed, keep_err *err)
{
    const infer_model *m = c->m;
    if (n_computed) *n_computed = 0;
    if (n == 0) return keep_err_set(err, KEEP_ERR_USAGE, "eval: no tokens");
    if (n > c->n_ctx)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "eval: %zu tokens exceed the context of %zu", n,
                            c->n_ctx);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->n_vocab)
            return keep_err_set(err, KEEP_ERR_USAGE, "eval: token id %d out of the vocabulary",
                                (int)ids[i]);
    size_t keep = 0;
    while (keep < c->n_past && keep < n && c->tokens[keep] == ids[keep]) keep++;
    /* the last position is always computed: its logits are the result */
    if (keep == n) keep = n - 1;
    c->n_past = keep;
    c->have_logits = 0;
    c->eval_first = keep;
    c->eval_end = n;
    size_t done = keep;
    while (done < n) {
        size_t nb = n - done < c->n_batch ? n - done : c->n_batch;
        if (forward_batch(c, ids + done, nb, done)) {
            if (n_computed) *n_computed = done - keep;
            atomic_store(&c->cancel, 0);
            return keep_err_set(err, KEEP_ERR_CANCELLED, "eval: cancelled");
        }
        memcpy(c->tokens + done, ids + done, nb * sizeof *ids);
        done += nb;
        c->n_past = done;
        if (done == n) {
            size_t E = m->n_embd;
            const float *last = c->x + (nb - 1) * E;
            rmsnorm(c->xn, last, m->output_norm, E, m->rms_eps);
            matmul1(c, c->xn, 1, &m->output, c->logits);
        }
    }
    c->have_logits = 1;
    if (n_computed) *n_computed = n - keep;
    return KEEP_OK;
}
