/* bert.c — BERT-family text embedding models (infer.h, "embeddings"):
 * architecture "bert" (bge, all-MiniLM, e5, gte) and "nomic-bert".
 *
 * bert:       x = LN(tok[id] + pos[p] + type[0]); per layer (post-norm):
 *             x = LN(x + O(attn(Qx+bq, Kx+bk, Vx+bv)) + bo);
 *             x = LN(x + Down(GELU(Up x + bu)) + bd)
 * nomic-bert: no position table and no biases; fused QKV, rotary positions
 *             (NeoX halves) on q and k, SwiGLU FFN: Down(SiLU(Gate x) * Up x).
 * Then pooling (mean / CLS / last token) and L2 normalization.
 *
 * A batch is the tokens of many texts packed end to end (no padding): every
 * matrix product covers all of them at once, and attention runs per text
 * over its own tokens only, which is what an attention mask over a padded
 * batch computes, without the wasted rows. Work is split on the embedder's
 * thread pool: products by column panels, attention by (text, head, block of
 * query rows), norms by tokens. Weights stay in the mapping; float scratch
 * grows to the largest batch seen and is then reused. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emb_gemm.h"
#include "infer.h"
#include "pool.h"
#include "quant.h"

#define ARCH_BERT 0
#define ARCH_NOMIC 1

/* Bounds on what a file may ask for: far above real models, low enough that
 * sizes computed from them cannot overflow or exhaust memory on their own. */
#define MAX_EMBD 8192
#define MAX_FF 32768
#define MAX_LAYERS 256
#define MAX_HEADS 256
#define MAX_CTX 8192
#define DEFAULT_BATCH_TOKENS 2048
/* Bytes of per-pass float scratch at most (the usable context shrinks for a
 * file whose width would need more for one text). */
#define SCRATCH_BUDGET ((size_t)256 << 20)
/* Query rows per attention work item (bounds the score scratch). */
#define ATT_QB 64

typedef struct {
    infer__gemm_b w;
    const float *bias; /* NULL when the model has none */
} linear;

typedef struct {
    linear q, k, v, qkv, o, up, gate, down;
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} layer;

struct infer_embedder {
    infer_gguf *g;
    infer_tokenizer *tok;
    infer_pool *pool;
    char *name;
    int arch, pooling, n_threads;
    size_t d, n_head, dh, n_layer, ff, n_ctx, n_vocab, max_tokens, max_batch;
    float eps, rope_base;
    infer__gemm_b tok_embd;
    const float *pos, *type0, *eln_w, *eln_b;
    float *inv_freq; /* nomic-bert: rotary frequency of each pair (dh / 2) */
    layer *layers;
    float **owned; /* float copies of the small tensors */
    size_t n_owned;
    char *qprefix, *pprefix;
    /* scratch: per batch (cap_tokens rows) and per thread */
    size_t cap_tokens;
    float *x, *qkv, *ctx, *tmp, *ffb, *rope; /* rope: cos, sin per token and pair */
    float *thread_scratch;
    size_t thread_floats, gemm_floats; /* per thread; the scores follow the gemm part */
    /* pending batch of token ids */
    int32_t *ids;
    size_t ids_cap;
    size_t *off;
    size_t off_cap;
};

/* ---- loading ---------------------------------------------------------------------- */

static int want_tensor(infer_embedder *e, const char *path, const char *name, uint64_t ne0,
                       uint64_t ne1, infer_gguf_tensor *t, keep_err *err)
{
    if (infer_gguf_tensor_by_name(e->g, name, t))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: tensor %s missing", path, name);
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return keep_err_set(err, KEEP_ERR_CORRUPT,
                            "%s: tensor %s has shape [%llu, %llu, %llu, %llu], expected [%llu, %llu]",
                            path, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                            (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                            (unsigned long long)ne0, (unsigned long long)ne1);
    if (!infer_can_dequantize(t->type))
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s: tensor %s has unsupported type %s", path,
                            name, infer_type_get(t->type)->name);
    return KEEP_OK;
}

/* A float copy of a small tensor of ne0 x ne1 elements, owned by e. */
static int load_floats(infer_embedder *e, const char *path, const char *name, uint64_t ne0,
                       uint64_t ne1, const float **out, keep_err *err)
{
    infer_gguf_tensor t;
    int rc = want_tensor(e, path, name, ne0, ne1, &t, err);
    if (rc)
        return rc;
    float **grown = keep_reallocarray(e->owned, e->n_owned + 1, sizeof *grown);
    if (!grown)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory loading %s", name);
    e->owned = grown;
    float *f = keep_malloc((size_t)(ne0 * ne1) * sizeof(float));
    if (!f)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory loading %s", name);
    e->owned[e->n_owned++] = f;
    size_t rb = infer_type_row_bytes(t.type, ne0);
    for (uint64_t r = 0; r < ne1; r++)
        if (infer_dequantize_row(t.type, (const char *)t.data + r * rb, f + r * ne0, ne0))
            return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "%s: cannot decode tensor %s", path, name);
    *out = f;
    return KEEP_OK;
}

/* A matrix of n rows of k elements, used in place. */
static int load_matrix(infer_embedder *e, const char *path, const char *name, size_t k, size_t n,
                       infer__gemm_b *m, keep_err *err)
{
    infer_gguf_tensor t;
    int rc = want_tensor(e, path, name, k, n, &t, err);
    if (rc)
        return rc;
    memset(m, 0, sizeof *m);
    m->type = t.type;
    m->data = t.data;
    m->row_bytes = infer_type_row_bytes(t.type, k);
    m->k = k;
    m->n = n;
    return KEEP_OK;
}

static int load_linear(infer_embedder *e, const char *path, int il, const char *what, size_t k,
                       size_t n, int bias, linear *l, keep_err *err)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", il, what);
    int rc = load_matrix(e, path, name, k, n, &l->w, err);
    if (rc || !bias)
        return rc;
    snprintf(name, sizeof name, "blk.%d.%s.bias", il, what);
    return load_floats(e, path, name, n, 1, &l->bias, err);
}

static int load_norm(infer_embedder *e, const char *path, int il, const char *what,
                     const float **w, const float **b, keep_err *err)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", il, what);
    int rc = load_floats(e, path, name, e->d, 1, w, err);
    if (rc)
        return rc;
    snprintf(name, sizeof name, "blk.%d.%s.bias", il, what);
    return load_floats(e, path, name, e->d, 1, b, err);
}

/* An integer hyperparameter <arch>.suffix in [lo, hi]. */
static int arch_int(const infer_embedder *e, const char *path, const char *suffix, int64_t lo,
                    int64_t hi, size_t *out, keep_err *err)
{
    long i = infer_gguf_find_arch_key(e->g, suffix);
    int64_t v;
    if (i < 0)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: key %s.%s missing", path,
                            infer_gguf_arch(e->g), suffix);
    if (infer_gguf_get_i64(e->g, (size_t)i, &v) || v < lo || v > hi)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: %s.%s must be an integer in [%lld, %lld]",
                            path, infer_gguf_arch(e->g), suffix, (long long)lo, (long long)hi);
    *out = (size_t)v;
    return KEEP_OK;
}

/* Whether hay contains needle (lower case), ignoring case. */
static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == needle[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* The query / passage prefixes model families were trained with, by name. */
static void detect_prefixes(const char *name, const char **q, const char **p)
{
    static const char retrieval[] = "Represent this sentence for searching relevant passages: ";
    *q = *p = "";
    if (contains_ci(name, "nomic")) {
        *q = "search_query: ";
        *p = "search_document: ";
    } else if (contains_ci(name, "e5-") || contains_ci(name, "-e5")) {
        *q = "query: ";
        *p = "passage: ";
    } else if (contains_ci(name, "bge") && !contains_ci(name, "m3")) {
        *q = contains_ci(name, "-zh") ? "\xe4\xb8\xba\xe8\xbf\x99\xe4\xb8\xaa\xe5\x8f\xa5\xe5\xad\x90"
                                     "\xe7\x94\x9f\xe6\x88\x90\xe8\xa1\xa8\xe7\xa4\xba\xe4\xbb\xa5"
                                     "\xe7\x94\xa8\xe4\xba\x8e\xe6\xa3\x80\xe7\xb4\xa2\xe7\x9b\xb8"
                                     "\xe5\x85\xb3\xe6\x96\x87\xe7\xab\xa0\xef\xbc\x9a"
                                   : retrieval;
    } else if (contains_ci(name, "mxbai-embed") || contains_ci(name, "arctic-embed")) {
        *q = retrieval;
    }
}

static int load_model(infer_embedder *e, const char *path, const infer_embed_opts *o, keep_err *err)
{
    const char *arch = infer_gguf_arch(e->g);
    if (!strcmp(arch, "bert"))
        e->arch = ARCH_BERT;
    else if (!strcmp(arch, "nomic-bert"))
        e->arch = ARCH_NOMIC;
    else
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "%s: architecture '%s' is not an embedding model Keep runs (bert, nomic-bert)",
                            path, arch);
    int rc;
    if ((rc = arch_int(e, path, "embedding_length", 1, MAX_EMBD, &e->d, err)) ||
        (rc = arch_int(e, path, "block_count", 1, MAX_LAYERS, &e->n_layer, err)) ||
        (rc = arch_int(e, path, "attention.head_count", 1, MAX_HEADS, &e->n_head, err)) ||
        (rc = arch_int(e, path, "feed_forward_length", 1, MAX_FF, &e->ff, err)) ||
        (rc = arch_int(e, path, "context_length", 2, INT32_MAX, &e->n_ctx, err)))
        return rc;
    if (e->d % e->n_head)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: embedding width %zu is not a multiple of %zu heads",
                            path, e->d, e->n_head);
    e->dh = e->d / e->n_head;
    if (e->arch == ARCH_NOMIC && e->dh % 2)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: odd head width %zu for rotary positions", path, e->dh);
    double eps = 1e-12;
    long ki = infer_gguf_find_arch_key(e->g, "attention.layer_norm_epsilon");
    if (ki >= 0 && (infer_gguf_get_f64(e->g, (size_t)ki, &eps) || !(eps > 0 && eps < 1)))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: bad attention.layer_norm_epsilon", path);
    e->eps = (float)eps;
    e->rope_base = 10000.0f;
    ki = infer_gguf_find_arch_key(e->g, "rope.freq_base");
    if (ki >= 0) {
        double b;
        if (infer_gguf_get_f64(e->g, (size_t)ki, &b) || !(b > 1 && b < 1e9))
            return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: bad rope.freq_base", path);
        e->rope_base = (float)b;
    }
    /* Pooling: the file's unless overridden; a file without the key gets
     * mean pooling (sentence-transformers' default). */
    size_t pooling = INFER_POOL_MEAN;
    if (infer_gguf_find_arch_key(e->g, "pooling_type") >= 0 &&
        (rc = arch_int(e, path, "pooling_type", 0, 4, &pooling, err)))
        return rc;
    e->pooling = o && o->pooling != INFER_POOL_DEFAULT ? o->pooling : (int)pooling;
    if (e->pooling != INFER_POOL_MEAN && e->pooling != INFER_POOL_CLS && e->pooling != INFER_POOL_LAST)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "%s: pooling type %d does not give one vector per text (mean, cls or last needed)",
                            path, e->pooling);

    if ((rc = infer_tokenizer_from_gguf(e->g, &e->tok, err)))
        return rc;
    e->n_vocab = infer_tokenizer_n_vocab(e->tok);
    if (!e->n_vocab)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: empty vocabulary", path);

    /* Embeddings. */
    if ((rc = load_matrix(e, path, "token_embd.weight", e->d, e->n_vocab, &e->tok_embd, err)))
        return rc;
    size_t n_pos = e->n_ctx > MAX_CTX ? MAX_CTX : e->n_ctx;
    if (e->arch == ARCH_BERT) {
        /* The whole table is loaded; the usable context is the shorter of the
         * table and context_length. */
        infer_gguf_tensor t;
        if (infer_gguf_tensor_by_name(e->g, "position_embd.weight", &t))
            return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: tensor position_embd.weight missing", path);
        if (t.ne[1] < 2 || t.ne[1] > MAX_CTX)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: tensor position_embd.weight has %llu rows (2..%d)",
                                path, (unsigned long long)t.ne[1], MAX_CTX);
        if ((rc = load_floats(e, path, "position_embd.weight", e->d, t.ne[1], &e->pos, err)))
            return rc;
        if (t.ne[1] < n_pos)
            n_pos = t.ne[1];
    }
    e->max_tokens = n_pos;
    if (e->arch == ARCH_NOMIC) {
        e->inv_freq = keep_malloc(e->dh / 2 * sizeof(float));
        if (!e->inv_freq)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < e->dh / 2; i++)
            e->inv_freq[i] = (float)pow(e->rope_base, -2.0 * (double)i / (double)e->dh);
    }
    /* token_types holds one row per segment type; texts are all segment 0. */
    infer_gguf_tensor tt;
    if (infer_gguf_tensor_by_name(e->g, "token_types.weight", &tt) == KEEP_OK) {
        if (tt.ne[1] < 1 || tt.ne[1] > 16)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: tensor token_types.weight has %llu rows",
                                path, (unsigned long long)tt.ne[1]);
        if ((rc = load_floats(e, path, "token_types.weight", e->d, tt.ne[1], &e->type0, err)))
            return rc;
    } else if (e->arch == ARCH_BERT) {
        return keep_err_set(err, KEEP_ERR_CORRUPT, "%s: tensor token_types.weight missing", path);
    }
    if ((rc = load_floats(e, path, "token_embd_norm.weight", e->d, 1, &e->eln_w, err)) ||
        (rc = load_floats(e, path, "token_embd_norm.bias", e->d, 1, &e->eln_b, err)))
        return rc;

    e->layers = keep_calloc(e->n_layer, sizeof *e->layers);
    if (!e->layers)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    int bias = e->arch == ARCH_BERT;
    for (size_t i = 0; i < e->n_layer; i++) {
        layer *l = &e->layers[i];
        int il = (int)i;
        if (e->arch == ARCH_BERT) {
            if ((rc = load_linear(e, path, il, "attn_q", e->d, e->d, 1, &l->q, err)) ||
                (rc = load_linear(e, path, il, "attn_k", e->d, e->d, 1, &l->k, err)) ||
                (rc = load_linear(e, path, il, "attn_v", e->d, e->d, 1, &l->v, err)))
                return rc;
        } else if ((rc = load_linear(e, path, il, "attn_qkv", e->d, 3 * e->d, 0, &l->qkv, err))) {
            return rc;
        }
        if ((rc = load_linear(e, path, il, "attn_output", e->d, e->d, bias, &l->o, err)) ||
            (rc = load_norm(e, path, il, "attn_output_norm", &l->ln1_w, &l->ln1_b, err)) ||
            (rc = load_linear(e, path, il, "ffn_up", e->d, e->ff, bias, &l->up, err)) ||
            (e->arch == ARCH_NOMIC &&
             (rc = load_linear(e, path, il, "ffn_gate", e->d, e->ff, 0, &l->gate, err))) ||
            (rc = load_linear(e, path, il, "ffn_down", e->ff, e->d, bias, &l->down, err)) ||
            (rc = load_norm(e, path, il, "layer_output_norm", &l->ln2_w, &l->ln2_b, err)))
            return rc;
    }

    /* Name and prefixes. */
    e->name = infer_gguf_key_strdup(e->g, "general.name");
    if (!e->name) {
        const char *slash = strrchr(path, '/');
        e->name = keep_strdup(slash ? slash + 1 : path);
    }
    if (!e->name)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    const char *q, *p;
    detect_prefixes(e->name, &q, &p);
    if (o && o->query_prefix)
        q = o->query_prefix;
    if (o && o->passage_prefix)
        p = o->passage_prefix;
    e->qprefix = keep_strdup(q);
    e->pprefix = keep_strdup(p);
    if (!e->qprefix || !e->pprefix)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");

    /* Scratch per token of a pass: hidden, qkv, context, residual, FFN and
     * the rotary cos/sin (see ensure_batch). */
    size_t per_token = (6 * e->d + (e->arch == ARCH_NOMIC ? 2 * e->ff : e->ff) + e->dh) * sizeof(float);
    size_t fit = SCRATCH_BUDGET / per_token;
    if (fit < 2)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "%s: model too wide for the scratch budget", path);
    if (e->max_tokens > fit)
        e->max_tokens = fit;
    e->max_batch = o && o->max_batch_tokens ? o->max_batch_tokens : DEFAULT_BATCH_TOKENS;
    if (e->max_batch > fit)
        e->max_batch = fit;
    if (e->max_batch < e->max_tokens)
        e->max_batch = e->max_tokens;
    return KEEP_OK;
}

/* Builds the embedder over an open reader, which it takes over in every
 * case; label names the model in messages. */
static int open_gguf(infer_gguf *g, const char *label, const infer_embed_opts *opts,
                     infer_embedder **out, keep_err *err)
{
    *out = NULL;
    infer_embedder *e = keep_calloc(1, sizeof *e);
    if (!e) {
        infer_gguf_close(g);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    e->g = g;
    int rc = load_model(e, label, opts, err);
    if (rc)
        goto fail;
    if ((rc = infer_pool_create(opts ? opts->n_threads : 0, &e->pool, err)))
        goto fail;
    e->n_threads = infer_pool_threads(e->pool);
    /* Per-thread scratch: packed weight panels for the widest shared
     * dimension, plus one block of attention scores. */
    size_t kmax = e->d > e->ff ? e->d : e->ff;
    if (kmax < e->max_tokens)
        kmax = e->max_tokens;
    e->gemm_floats = infer__gemm_scratch_floats(kmax);
    e->thread_floats = e->gemm_floats + (size_t)ATT_QB * e->max_tokens;
    e->thread_floats = (e->thread_floats + 15) & ~(size_t)15;
    e->thread_scratch = keep_calloc((size_t)e->n_threads, e->thread_floats * sizeof(float));
    if (!e->thread_scratch) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for embedding scratch");
        goto fail;
    }
    *out = e;
    return KEEP_OK;
fail:
    infer_embedder_free(e);
    return rc;
}

int infer_embedder_open(const char *path, const infer_embed_opts *opts, infer_embedder **out,
                        keep_err *err)
{
    infer_gguf *g = NULL;
    *out = NULL;
    int rc = infer_gguf_open(path, &g, err);
    if (rc)
        return rc;
    return open_gguf(g, path, opts, out, err);
}

int infer_embedder_open_memory(const void *data, size_t len, const infer_embed_opts *opts,
                               infer_embedder **out, keep_err *err)
{
    infer_gguf *g = NULL;
    *out = NULL;
    int rc = infer_gguf_open_memory(data, len, &g, err);
    if (rc)
        return rc;
    return open_gguf(g, "model", opts, out, err);
}

static void free_batch(infer_embedder *e)
{
    keep_free(e->x);
    keep_free(e->qkv);
    keep_free(e->ctx);
    keep_free(e->tmp);
    keep_free(e->ffb);
    keep_free(e->rope);
    e->x = e->qkv = e->ctx = e->tmp = e->ffb = e->rope = NULL;
    e->cap_tokens = 0;
}

void infer_embedder_free(infer_embedder *e)
{
    if (!e)
        return;
    infer_pool_free(e->pool);
    free_batch(e);
    keep_free(e->thread_scratch);
    keep_free(e->ids);
    keep_free(e->off);
    for (size_t i = 0; i < e->n_owned; i++)
        keep_free(e->owned[i]);
    keep_free(e->owned);
    keep_free(e->layers);
    keep_free(e->inv_freq);
    keep_free(e->name);
    keep_free(e->qprefix);
    keep_free(e->pprefix);
    infer_tokenizer_free(e->tok);
    infer_gguf_close(e->g);
    keep_free(e);
}

size_t infer_embedder_dim(const infer_embedder *e) { return e->d; }
size_t infer_embedder_max_tokens(const infer_embedder *e) { return e->max_tokens; }
const char *infer_embedder_name(const infer_embedder *e) { return e->name; }
int infer_embedder_pooling(const infer_embedder *e) { return e->pooling; }
const infer_tokenizer *infer_embedder_tokenizer(const infer_embedder *e) { return e->tok; }
const char *infer_embedder_prefix(const infer_embedder *e, int is_query)
{
    return is_query ? e->qprefix : e->pprefix;
}

/* ---- forward pass ------------------------------------------------------------------ */

/* One batch being computed: T tokens of ns texts. */
typedef struct {
    infer_embedder *e;
    const int32_t *ids;
    const size_t *off;
    size_t ns, T;
    /* current product */
    const linear *lin[3];
    size_t lin_cols[3], lin_out_col[3], n_lin, panels_per[3];
    const float *a;
    size_t lda, ldo;
    float *out;
    int act;
    /* current norm */
    const float *nw, *nb;
    const float *add;
    /* attention items: per text, head and block of ATT_QB query rows */
    size_t *att_first; /* first item of each text, ns + 1 entries */
    /* In the last layer of a CLS / last-token model only the pooled row of
     * each text is carried on: its attention, output and FFN. */
    int pooled_only;
} fwd;

static float *thread_buf(infer_embedder *e, int thread)
{
    return e->thread_scratch + (size_t)thread * e->thread_floats;
}

static void embed_job(void *ctx, size_t t0, size_t t1, int thread)
{
    fwd *f = ctx;
    infer_embedder *e = f->e;
    (void)thread;
    size_t d = e->d;
    size_t s = 0;
    for (size_t t = t0; t < t1; t++) {
        while (f->off[s + 1] <= t)
            s++;
        float *x = e->x + t * d;
        infer__gemm_b *te = &e->tok_embd;
        if (te->type == INFER_T_F32)
            memcpy(x, te->data + (size_t)f->ids[t] * te->row_bytes, d * sizeof(float));
        else
            infer_dequantize_row(te->type, te->data + (size_t)f->ids[t] * te->row_bytes, x, d);
        if (e->pos) {
            const float *p = e->pos + (t - f->off[s]) * d;
            for (size_t i = 0; i < d; i++)
                x[i] += p[i];
        }
        if (e->type0)
            for (size_t i = 0; i < d; i++)
                x[i] += e->type0[i];
        infer__layer_norm(x, NULL, d, e->eln_w, e->eln_b, e->eps);
        if (e->inv_freq) {
            /* cos and sin of this token's rotary angles, for every layer */
            float *cs = e->rope + t * e->dh;
            float pos = (float)(t - f->off[s]);
            for (size_t i = 0; i < e->dh / 2; i++) {
                cs[2 * i] = cosf(pos * e->inv_freq[i]);
                cs[2 * i + 1] = sinf(pos * e->inv_freq[i]);
            }
        }
    }
}

/* x = LN(x + add) over tokens. */
static void norm_job(void *ctx, size_t t0, size_t t1, int thread)
{
    fwd *f = ctx;
    infer_embedder *e = f->e;
    (void)thread;
    for (size_t t = t0; t < t1; t++) {
        infer__layer_norm(e->x + t * e->d, f->add + t * e->d, e->d, f->nw, f->nb, e->eps);
    }
}

/* Products: item i is one column panel of one of the n_lin matrices. */
static void linear_job(void *ctx, size_t i0, size_t i1, int thread)
{
    fwd *f = ctx;
    float *scratch = thread_buf(f->e, thread);
    size_t i = i0;
    while (i < i1) {
        size_t which = 0, base = 0;
        while (i >= base + f->panels_per[which]) {
            base += f->panels_per[which];
            which++;
        }
        size_t end = i1 < base + f->panels_per[which] ? i1 : base + f->panels_per[which];
        size_t c0 = (i - base) * INFER__GEMM_NR;
        size_t c1 = (end - base) * INFER__GEMM_NR;
        if (c1 > f->lin_cols[which])
            c1 = f->lin_cols[which];
        const linear *l = f->lin[which];
        infer__gemm(&l->w, c0, c1, f->a, f->lda, f->T, l->bias, f->out + f->lin_out_col[which], f->ldo,
                    scratch, f->act);
        i = end;
    }
}

static void run_linear(fwd *f, const linear *const *lins, size_t n_lin, const float *a, size_t lda,
                       float *out, size_t ldo, int act)
{
    size_t total = 0, col = 0;
    for (size_t j = 0; j < n_lin; j++) {
        f->lin[j] = lins[j];
        f->lin_cols[j] = lins[j]->w.n;
        f->lin_out_col[j] = col;
        col += lins[j]->w.n;
        f->panels_per[j] = (lins[j]->w.n + INFER__GEMM_NR - 1) / INFER__GEMM_NR;
        total += f->panels_per[j];
    }
    f->n_lin = n_lin;
    f->a = a;
    f->lda = lda;
    f->out = out;
    f->ldo = ldo;
    f->act = act;
    infer_pool_for(f->e->pool, total, 1, linear_job, f);
}

/* Rotary positions on the q and k of every token (NeoX layout: element i
 * pairs with i + dh/2). */
static void rope_job(void *ctx, size_t t0, size_t t1, int thread)
{
    fwd *f = ctx;
    infer_embedder *e = f->e;
    (void)thread;
    size_t half = e->dh / 2;
    for (size_t t = t0; t < t1; t++) {
        const float *cs = e->rope + t * half * 2; /* filled by embed_job */
        for (size_t h = 0; h < 2 * e->n_head; h++) {
            float *v = e->qkv + t * 3 * e->d + h * e->dh; /* q heads then k heads */
            for (size_t i = 0; i < half; i++) {
                float c = cs[2 * i], sn = cs[2 * i + 1];
                float a = v[i], b = v[i + half];
                v[i] = a * c - b * sn;
                v[i + half] = a * sn + b * c;
            }
        }
    }
}

/* Attention for items [i0, i1): each is (text, head, block of query rows).
 * scores = q k^T / sqrt(dh) over the text's own keys, softmax, times v. */
static void attn_job(void *ctx, size_t i0, size_t i1, int thread)
{
    fwd *f = ctx;
    infer_embedder *e = f->e;
    size_t d = e->d, dh = e->dh, ld = 3 * d;
    float *scratch = thread_buf(e, thread);
    float *scores = scratch + e->gemm_floats;
    float scale = 1.0f / sqrtf((float)dh);
    size_t s = 0;
    for (size_t it = i0; it < i1; it++) {
        while (f->att_first[s + 1] <= it)
            s++;
        size_t L = f->off[s + 1] - f->off[s];
        size_t nqb = f->pooled_only ? 1 : (L + ATT_QB - 1) / ATT_QB;
        size_t rel = it - f->att_first[s];
        size_t h = rel / nqb, qb = rel % nqb;
        size_t r0 = qb * ATT_QB, r1 = r0 + ATT_QB < L ? r0 + ATT_QB : L;
        if (f->pooled_only) {
            r0 = e->pooling == INFER_POOL_CLS ? 0 : L - 1;
            r1 = r0 + 1;
        }
        const float *base = e->qkv + f->off[s] * ld;
        infer__gemm_b kb = {0};
        kb.type = INFER_T_F32;
        kb.data = (const char *)(base + d + h * dh);
        kb.row_bytes = ld * sizeof(float);
        kb.k = dh;
        kb.n = L;
        infer__gemm(&kb, 0, L, base + r0 * ld + h * dh, ld, r1 - r0, NULL, scores, L, scratch,
                    INFER__ACT_NONE);
        for (size_t r = 0; r < r1 - r0; r++)
            infer__softmax(scores + r * L, L, scale);
        infer__gemm_b vb = {0};
        vb.rowmajor_f32 = 1;
        vb.b = base + 2 * d + h * dh;
        vb.ldb = ld;
        vb.k = L;
        vb.n = dh;
        infer__gemm(&vb, 0, dh, scores, L, r1 - r0, NULL, e->ctx + (f->off[s] + r0) * d + h * dh, d,
                    scratch, INFER__ACT_NONE);
    }
}

/* SwiGLU: ffb holds [up | gate] per token; up = silu(gate) * up in place. */
static void swiglu_job(void *ctx, size_t t0, size_t t1, int thread)
{
    fwd *f = ctx;
    infer_embedder *e = f->e;
    (void)thread;
    for (size_t t = t0; t < t1; t++) {
        float *u = e->ffb + t * 2 * e->ff, *g = u + e->ff;
        for (size_t i = 0; i < e->ff; i++)
            u[i] *= g[i] / (1.0f + expf(-g[i]));
    }
}

static int ensure_batch(infer_embedder *e, size_t T, keep_err *err)
{
    if (T <= e->cap_tokens)
        return KEEP_OK;
    free_batch(e);
    size_t ffw = e->arch == ARCH_NOMIC ? 2 * e->ff : e->ff;
    e->x = keep_malloc(T * e->d * sizeof(float));
    e->qkv = keep_malloc(T * 3 * e->d * sizeof(float));
    e->ctx = keep_malloc(T * e->d * sizeof(float));
    e->tmp = keep_malloc(T * e->d * sizeof(float));
    e->ffb = keep_malloc(T * ffw * sizeof(float));
    e->rope = e->arch == ARCH_NOMIC ? keep_malloc(T * e->dh * sizeof(float)) : NULL;
    if (!e->x || !e->qkv || !e->ctx || !e->tmp || !e->ffb || (e->arch == ARCH_NOMIC && !e->rope)) {
        free_batch(e);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for a batch of %zu tokens", T);
    }
    e->cap_tokens = T;
    return KEEP_OK;
}

/* Runs the model over ns texts packed in ids (text i is ids[off[i] ..
 * off[i + 1]), off[0] == 0) and writes the pooled, normalized vectors. */
static int forward(infer_embedder *e, const int32_t *ids, const size_t *off, size_t ns, float *out,
                   keep_err *err)
{
    size_t T = off[ns], d = e->d;
    int rc = ensure_batch(e, T, err);
    if (rc)
        return rc;
    fwd f;
    memset(&f, 0, sizeof f);
    f.e = e;
    f.ids = ids;
    f.off = off;
    f.ns = ns;
    f.T = T;
    f.att_first = keep_malloc((ns + 1) * sizeof(size_t));
    if (!f.att_first)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    size_t tok_grain = 16;
    infer_pool_for(e->pool, T, tok_grain, embed_job, &f);
    for (size_t il = 0; il < e->n_layer; il++) {
        const layer *l = &e->layers[il];
        f.pooled_only = il + 1 == e->n_layer && e->pooling != INFER_POOL_MEAN;
        f.att_first[0] = 0;
        for (size_t s = 0; s < ns; s++) {
            size_t L = off[s + 1] - off[s];
            f.att_first[s + 1] = f.att_first[s] + e->n_head * (f.pooled_only ? 1 : (L + ATT_QB - 1) / ATT_QB);
        }
        if (e->arch == ARCH_BERT) {
            const linear *qkv[3] = {&l->q, &l->k, &l->v};
            run_linear(&f, qkv, 3, e->x, d, e->qkv, 3 * d, INFER__ACT_NONE);
        } else {
            const linear *qkv[1] = {&l->qkv};
            run_linear(&f, qkv, 1, e->x, d, e->qkv, 3 * d, INFER__ACT_NONE);
            infer_pool_for(e->pool, T, tok_grain, rope_job, &f);
        }
        infer_pool_for(e->pool, f.att_first[ns], 1, attn_job, &f);
        if (f.pooled_only) {
            /* Move each text's pooled row to row s (s <= its row, so in
             * increasing s nothing is overwritten before it is read). */
            for (size_t s = 0; s < ns; s++) {
                size_t r = e->pooling == INFER_POOL_CLS ? off[s] : off[s + 1] - 1;
                memmove(e->ctx + s * d, e->ctx + r * d, d * sizeof(float));
                memmove(e->x + s * d, e->x + r * d, d * sizeof(float));
            }
            f.T = ns;
        }
        const linear *o[1] = {&l->o};
        run_linear(&f, o, 1, e->ctx, d, e->tmp, d, INFER__ACT_NONE);
        f.add = e->tmp;
        f.nw = l->ln1_w;
        f.nb = l->ln1_b;
        infer_pool_for(e->pool, f.T, tok_grain, norm_job, &f);
        if (e->arch == ARCH_BERT) {
            const linear *up[1] = {&l->up};
            run_linear(&f, up, 1, e->x, d, e->ffb, e->ff, INFER__ACT_GELU);
            const linear *down[1] = {&l->down};
            run_linear(&f, down, 1, e->ffb, e->ff, e->tmp, d, INFER__ACT_NONE);
        } else {
            const linear *ug[2] = {&l->up, &l->gate};
            run_linear(&f, ug, 2, e->x, d, e->ffb, 2 * e->ff, INFER__ACT_NONE);
            infer_pool_for(e->pool, f.T, tok_grain, swiglu_job, &f);
            const linear *down[1] = {&l->down};
            run_linear(&f, down, 1, e->ffb, 2 * e->ff, e->tmp, d, INFER__ACT_NONE);
        }
        f.add = e->tmp;
        f.nw = l->ln2_w;
        f.nb = l->ln2_b;
        infer_pool_for(e->pool, f.T, tok_grain, norm_job, &f);
    }
    keep_free(f.att_first);

    for (size_t s = 0; s < ns; s++) {
        float *o = out + s * d;
        size_t L = off[s + 1] - off[s];
        if (e->pooling != INFER_POOL_MEAN) {
            memcpy(o, e->x + s * d, d * sizeof(float)); /* moved there in the last layer */
        } else {
            memset(o, 0, d * sizeof(float));
            for (size_t t = off[s]; t < off[s + 1]; t++)
                for (size_t i = 0; i < d; i++)
                    o[i] += e->x[t * d + i];
            for (size_t i = 0; i < d; i++)
                o[i] /= (float)L;
        }
        double n2 = 0;
        for (size_t i = 0; i < d; i++)
            n2 += (double)o[i] * o[i];
        /* Random or corrupt weights can overflow; a vector of NaN would
         * poison an index silently, so it is an error. */
        if (!isfinite(n2))
            return keep_err_set(err, KEEP_ERR_CORRUPT, "the model produced non-finite values (text %zu of the pass)", s);
        if (n2 > 0) {
            double inv = 1.0 / sqrt(n2); /* in double: n2 may be far outside float range */
            for (size_t i = 0; i < d; i++)
                o[i] = (float)((double)o[i] * inv);
        }
    }
    return KEEP_OK;
}

/* ---- batching ------------------------------------------------------------------------ */

static int reserve_ids(infer_embedder *e, size_t n_ids, size_t n_seq, keep_err *err)
{
    if (n_ids > e->ids_cap) {
        int32_t *p = keep_reallocarray(e->ids, n_ids, sizeof *p);
        if (!p)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        e->ids = p;
        e->ids_cap = n_ids;
    }
    if (n_seq + 1 > e->off_cap) {
        size_t *p = keep_reallocarray(e->off, n_seq + 1, sizeof *p);
        if (!p)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        e->off = p;
        e->off_cap = n_seq + 1;
    }
    return KEEP_OK;
}

int infer_embed_tokens(infer_embedder *e, const int32_t *ids, const size_t *off, size_t n,
                       float *out, keep_err *err)
{
    if (n == 0)
        return KEEP_OK;
    if (off[0] != 0)
        return keep_err_set(err, KEEP_ERR_USAGE, "token offsets must start at 0");
    for (size_t i = 0; i < n; i++) {
        if (off[i + 1] <= off[i] || off[i + 1] - off[i] > e->max_tokens)
            return keep_err_set(err, KEEP_ERR_USAGE, "sequence %zu has %zu tokens (1..%zu allowed)", i,
                                off[i + 1] > off[i] ? off[i + 1] - off[i] : 0, e->max_tokens);
        for (size_t t = off[i]; t < off[i + 1]; t++)
            if (ids[t] < 0 || (size_t)ids[t] >= e->n_vocab)
                return keep_err_set(err, KEEP_ERR_USAGE, "token id %ld out of the vocabulary",
                                    (long)ids[t]);
    }
    /* Passes of at most max_batch tokens, each a run of whole texts. */
    size_t s0 = 0;
    while (s0 < n) {
        size_t s1 = s0 + 1;
        while (s1 < n && off[s1 + 1] - off[s0] <= e->max_batch)
            s1++;
        int rc = reserve_ids(e, 0, s1 - s0, err);
        if (rc)
            return rc;
        for (size_t s = s0; s <= s1; s++)
            e->off[s - s0] = off[s] - off[s0];
        rc = forward(e, ids + off[s0], e->off, s1 - s0, out + s0 * e->d, err);
        if (rc)
            return rc;
        s0 = s1;
    }
    return KEEP_OK;
}

int infer_embed(infer_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                int is_query, float *out, unsigned char *truncated, keep_err *err)
{
    const char *prefix = is_query ? e->qprefix : e->pprefix;
    size_t plen = strlen(prefix);
    keep_buf text = {0};
    int32_t *tids = NULL;
    size_t nt = 0, n_ids = 0, s0 = 0;
    int rc = KEEP_OK;
    int32_t sep = infer_tokenizer_special(e->tok, INFER_SPECIAL_SEP);
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        /* Only the first max_tokens tokens are used, so a long text is
         * tokenized by growing prefixes cut after a space: WordPiece treats
         * the words before a space alike with or without what follows, so
         * once a prefix gives enough tokens they are the text's first ones. */
        size_t take = e->max_tokens * 16;
        int cut;
        for (;;) {
            size_t use = len;
            if (take < len) {
                use = take;
                while (use > 0 && texts[i][use - 1] != ' ' && texts[i][use - 1] != '\n')
                    use--;
            }
            keep_buf_reset(&text);
            if (keep_buf_append(&text, prefix, plen) || keep_buf_append(&text, texts[i], use)) {
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                goto done;
            }
            keep_free(tids);
            tids = NULL;
            rc = infer_tokenize_alloc(e->tok, text.data ? text.data : "", text.len, INFER_TOK_ADD_SPECIAL,
                                      &tids, &nt, err);
            if (rc)
                goto done;
            /* Enough when the prefix's tokens before [SEP] fill the context. */
            if (use == len || nt > e->max_tokens)
                break;
            take *= 2;
        }
        cut = nt > e->max_tokens;
        if (cut) {
            /* Keep the head of the text and the closing [SEP] it had. */
            int32_t last = tids[nt - 1];
            nt = e->max_tokens;
            if (infer_tokenizer_adds_eos(e->tok) && last == sep)
                tids[nt - 1] = sep;
        }
        if (nt == 0) {
            rc = keep_err_set(err, KEEP_ERR_USAGE, "text %zu has no tokens", i);
            goto done;
        }
        if (truncated)
            truncated[i] = (unsigned char)cut;
        /* Flush the pending texts when this one would overflow the pass. */
        if (i > s0 && n_ids + nt > e->max_batch) {
            if ((rc = forward(e, e->ids, e->off, i - s0, out + s0 * e->d, err)))
                goto done;
            s0 = i;
            n_ids = 0;
        }
        if ((rc = reserve_ids(e, n_ids + nt, i - s0 + 1, err)))
            goto done;
        e->off[0] = 0;
        memcpy(e->ids + n_ids, tids, nt * sizeof *tids);
        n_ids += nt;
        e->off[i - s0 + 1] = n_ids;
    }
    if (n > s0)
        rc = forward(e, e->ids, e->off, n - s0, out + s0 * e->d, err);
done:
    keep_free(tids);
    keep_buf_free(&text);
    return rc;
}
