/* model.c — opening a decoder (llama, qwen2, qwen3) from a GGUF file: the
 * hyper-parameters from metadata, and a view of every weight tensor in the
 * mapping after checking its type and shape. Weights are never copied; only
 * 1-D tensors (norm weights, biases, rope factors) that a file stores in
 * something other than f32 are converted, which costs a few KB.
 *
 * Everything in the file is untrusted: sizes are capped, every tensor is
 * checked against the shape the metadata implies, and each failure is one
 * line naming the key or tensor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "infer/kernels.h"
#include "infer/model.h"
#include "infer/quant.h"

/* Caps that keep hostile metadata from sizing huge allocations: far above any
 * model Keep can run on a CPU. */
#define MAX_EMBD 65536
#define MAX_LAYERS 1024
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 1024
#define MAX_FF (1u << 20)
#define MAX_VOCAB (1u << 22)

static int get_size(const infer_gguf *g, const char *suffix, size_t *out, int required, size_t max,
                    keep_err *err)
{
    long i = infer_gguf_find_arch_key(g, suffix);
    if (i < 0) {
        if (required)
            return keep_err_set(err, KEEP_ERR_CORRUPT, "model: missing metadata key %s.%s",
                                infer_gguf_arch(g), suffix);
        return KEEP_OK;
    }
    uint64_t v;
    if (infer_gguf_get_u64(g, (size_t)i, &v) || v == 0 || v > max)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: %s.%s is not an integer in 1..%zu",
                            infer_gguf_arch(g), suffix, max);
    *out = (size_t)v;
    return KEEP_OK;
}

static int get_float(const infer_gguf *g, const char *suffix, float *out, keep_err *err)
{
    long i = infer_gguf_find_arch_key(g, suffix);
    if (i < 0) return KEEP_OK;
    double v;
    if (infer_gguf_get_f64(g, (size_t)i, &v) || !isfinite(v))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: %s.%s is not a finite number",
                            infer_gguf_arch(g), suffix);
    *out = (float)v;
    return KEEP_OK;
}

static int find(const infer_model *m, const char *name, infer_gguf_tensor *t, int required,
                keep_err *err)
{
    if (infer_gguf_tensor_by_name(m->gguf, name, t) == KEEP_OK) return 1;
    if (required) keep_err_set(err, KEEP_ERR_CORRUPT, "model: missing tensor %s", name);
    return 0;
}

/* A weight matrix of exactly rows x k. */
static int load_mat(infer_model *m, const char *name, size_t k, size_t rows, infer_mat *out,
                    keep_err *err)
{
    infer_gguf_tensor t;
    if (!find(m, name, &t, 1, err)) return KEEP_ERR_CORRUPT;
    if (t.ne[0] != k || t.ne[1] != rows || t.ne[2] != 1 || t.ne[3] != 1)
        return keep_err_set(err, KEEP_ERR_CORRUPT,
                            "model: tensor %s has shape [%llu, %llu], expected [%zu, %zu]", name,
                            (unsigned long long)t.ne[0], (unsigned long long)t.ne[1], k, rows);
    const infer_type_info *ti = infer_type_get(t.type);
    if (infer_act_type(t.type) == INFER_T_COUNT || !ti)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "model: tensor %s has type %s, which has no matrix kernel", name,
                            ti && ti->name ? ti->name : "?");
    size_t rb = infer_type_row_bytes(t.type, k);
    if (!rb || !infer_act_row_bytes(t.type, k))
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "model: tensor %s: rows of %zu elements are not whole %s blocks", name, k,
                            ti->name);
    out->name = t.name;
    out->type = t.type;
    out->k = k;
    out->rows = rows;
    out->row_bytes = rb;
    out->data = t.data;
    return KEEP_OK;
}

/* A 1-D tensor of n floats: a view when stored as f32, else a converted copy
 * owned by the model. *out stays NULL when absent and not required. */
static int load_vec(infer_model *m, const char *name, size_t n, int required, const float **out,
                    keep_err *err)
{
    infer_gguf_tensor t;
    *out = NULL;
    if (!find(m, name, &t, required, err)) return required ? KEEP_ERR_CORRUPT : KEEP_OK;
    if (t.n_elements != n || t.ne[0] != n)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: tensor %s has %llu elements, expected %zu",
                            name, (unsigned long long)t.n_elements, n);
    if (t.type == INFER_T_F32) {
        *out = t.data;
        return KEEP_OK;
    }
    const infer_type_info *ti = infer_type_get(t.type);
    if (!infer_can_dequantize(t.type) || !ti || n % ti->block)
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "model: tensor %s has unsupported type %s",
                            name, ti && ti->name ? ti->name : "?");
    float **grown = keep_reallocarray(m->owned, m->n_owned + 1, sizeof *grown);
    if (!grown) return keep_err_set(err, KEEP_ERR_NOMEM, "model: out of memory");
    m->owned = grown;
    float *v = keep_malloc(n * sizeof *v);
    if (!v) return keep_err_set(err, KEEP_ERR_NOMEM, "model: out of memory");
    m->owned[m->n_owned++] = v;
    if (infer_dequantize_row(t.type, t.data, v, n))
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "model: cannot convert tensor %s", name);
    *out = v;
    return KEEP_OK;
}

static int load_hparams(infer_model *m, keep_err *err)
{
    const infer_gguf *g = m->gguf;
    const char *arch = infer_gguf_arch(g);
    if (!strcmp(arch, "llama")) {
        m->arch = INFER_ARCH_LLAMA;
        m->rope_kind = INFER_ROPE_NORM;
    } else if (!strcmp(arch, "qwen2")) {
        m->arch = INFER_ARCH_QWEN2;
        m->rope_kind = INFER_ROPE_NEOX;
    } else if (!strcmp(arch, "qwen3")) {
        m->arch = INFER_ARCH_QWEN3;
        m->rope_kind = INFER_ROPE_NEOX;
    } else {
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED,
                            "model: architecture \"%.64s\" is not supported (llama, qwen2, qwen3)",
                            *arch ? arch : "(none)");
    }
    snprintf(m->arch_name, sizeof m->arch_name, "%s", arch);
    int rc;
    if ((rc = get_size(g, "embedding_length", &m->n_embd, 1, MAX_EMBD, err)) ||
        (rc = get_size(g, "block_count", &m->n_layer, 1, MAX_LAYERS, err)) ||
        (rc = get_size(g, "attention.head_count", &m->n_head, 1, MAX_HEADS, err)) ||
        (rc = get_size(g, "feed_forward_length", &m->n_ff, 1, MAX_FF, err)))
        return rc;
    m->n_head_kv = m->n_head;
    m->n_ctx_train = 4096;
    if ((rc = get_size(g, "attention.head_count_kv", &m->n_head_kv, 0, MAX_HEADS, err)) ||
        (rc = get_size(g, "context_length", &m->n_ctx_train, 0, (size_t)1 << 24, err)))
        return rc;
    if (m->n_head % m->n_head_kv)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: %zu heads are not a multiple of %zu KV heads",
                            m->n_head, m->n_head_kv);
    m->head_dim_k = m->head_dim_v = m->n_embd / m->n_head;
    if ((rc = get_size(g, "attention.key_length", &m->head_dim_k, 0, MAX_HEAD_DIM, err)) ||
        (rc = get_size(g, "attention.value_length", &m->head_dim_v, 0, MAX_HEAD_DIM, err)))
        return rc;
    if (m->head_dim_k == 0 || m->head_dim_v == 0 || m->head_dim_k % 2)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: bad head size %zu", m->head_dim_k);
    m->n_rot = m->head_dim_k;
    if ((rc = get_size(g, "rope.dimension_count", &m->n_rot, 0, MAX_HEAD_DIM, err))) return rc;
    if (m->n_rot > m->head_dim_k || m->n_rot % 2)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: rope dimension %zu does not fit head size %zu",
                            m->n_rot, m->head_dim_k);
    m->rms_eps = 1e-5f;
    m->rope_base = 10000.0f;
    m->rope_freq_scale = 1.0f;
    if ((rc = get_float(g, "attention.layer_norm_rms_epsilon", &m->rms_eps, err)) ||
        (rc = get_float(g, "rope.freq_base", &m->rope_base, err)))
        return rc;
    if (!(m->rms_eps > 0 && m->rms_eps < 1) || !(m->rope_base > 1))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: bad rms epsilon or rope base");

    /* rope scaling: "none", "linear" (positions divided by the factor) or
     * "yarn"; older files give a linear scale as rope.scale_linear */
    float factor = 0;
    char type[16] = "";
    long ti = infer_gguf_find_arch_key(g, "rope.scaling.type");
    if (ti >= 0 && infer_gguf_get_str_copy(g, (size_t)ti, type, sizeof type))
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: bad %s.rope.scaling.type", arch);
    if ((rc = get_float(g, "rope.scaling.factor", &factor, err))) return rc;
    if (!factor && (rc = get_float(g, "rope.scale_linear", &factor, err))) return rc;
    if (factor < 0 || factor > 1e6)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: bad rope scaling factor %g", factor);
    if (!strcmp(type, "") || !strcmp(type, "linear") || !strcmp(type, "none")) {
        if (strcmp(type, "none") && factor > 0) m->rope_freq_scale = 1.0f / factor;
    } else if (!strcmp(type, "yarn")) {
        if (factor > 0) m->rope_freq_scale = 1.0f / factor;
        m->yarn = 1;
        m->yarn_ext_factor = 1.0f;
        m->yarn_attn_factor = 1.0f;
        m->yarn_beta_fast = 32.0f;
        m->yarn_beta_slow = 1.0f;
        m->yarn_n_ctx_orig = m->n_ctx_train;
        if ((rc = get_size(g, "rope.scaling.original_context_length", &m->yarn_n_ctx_orig, 0,
                           (size_t)1 << 24, err)))
            return rc;
    } else {
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "model: rope scaling \"%s\" is not supported",
                            type);
    }
    return KEEP_OK;
}

static int load_tensors(infer_model *m, keep_err *err)
{
    int rc;
    infer_gguf_tensor t;
    if (!find(m, "token_embd.weight", &t, 1, err)) return KEEP_ERR_CORRUPT;
    if (t.ne[1] == 0 || t.ne[1] > MAX_VOCAB)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "model: token_embd.weight has %llu rows",
                            (unsigned long long)t.ne[1]);
    m->n_vocab = (size_t)t.ne[1];
    if ((rc = load_mat(m, "token_embd.weight", m->n_embd, m->n_vocab, &m->tok_embd, err)))
        return rc;
    if (!infer_can_dequantize(m->tok_embd.type))
        return keep_err_set(err, KEEP_ERR_UNSUPPORTED, "model: token_embd.weight type cannot be read");
    if (infer_gguf_find_tensor(m->gguf, "output.weight") >= 0) {
        if ((rc = load_mat(m, "output.weight", m->n_embd, m->n_vocab, &m->output, err))) return rc;
    } else {
        m->output = m->tok_embd; /* tied embeddings */
    }
    if ((rc = load_vec(m, "output_norm.weight", m->n_embd, 1, &m->output_norm, err))) return rc;
    const float *ff = NULL;
    if ((rc = load_vec(m, "rope_freqs.weight", m->n_rot / 2, 0, &ff, err))) return rc;
    if (ff) {
        m->rope_factors = keep_malloc(m->n_rot / 2 * sizeof(float));
        if (!m->rope_factors) return keep_err_set(err, KEEP_ERR_NOMEM, "model: out of memory");
        for (size_t i = 0; i < m->n_rot / 2; i++) {
            if (!(ff[i] > 0) || !isfinite(ff[i]))
                return keep_err_set(err, KEEP_ERR_CORRUPT, "model: rope_freqs.weight[%zu] is not positive", i);
            m->rope_factors[i] = ff[i];
        }
    }

    m->layers = keep_calloc(m->n_layer, sizeof *m->layers);
    if (!m->layers) return keep_err_set(err, KEEP_ERR_NOMEM, "model: out of memory");
    size_t E = m->n_embd, qd = m->n_head * m->head_dim_k, kd = m->n_head_kv * m->head_dim_k,
           vd = m->n_head_kv * m->head_dim_v, od = m->n_head * m->head_dim_v;
    for (size_t i = 0; i < m->n_layer; i++) {
        infer_layer *L = &m->layers[i];
        char n[64];
#define NAME(s) (snprintf(n, sizeof n, "blk.%zu.%s", i, s), n)
        if ((rc = load_vec(m, NAME("attn_norm.weight"), E, 1, &L->attn_norm, err)) ||
            (rc = load_vec(m, NAME("ffn_norm.weight"), E, 1, &L->ffn_norm, err)) ||
            (rc = load_mat(m, NAME("attn_q.weight"), E, qd, &L->wq, err)) ||
            (rc = load_mat(m, NAME("attn_k.weight"), E, kd, &L->wk, err)) ||
            (rc = load_mat(m, NAME("attn_v.weight"), E, vd, &L->wv, err)) ||
            (rc = load_mat(m, NAME("attn_output.weight"), od, E, &L->wo, err)) ||
            (rc = load_mat(m, NAME("ffn_gate.weight"), E, m->n_ff, &L->wgate, err)) ||
            (rc = load_mat(m, NAME("ffn_up.weight"), E, m->n_ff, &L->wup, err)) ||
            (rc = load_mat(m, NAME("ffn_down.weight"), m->n_ff, E, &L->wdown, err)))
            return rc;
        int need_bias = m->arch == INFER_ARCH_QWEN2;
        if ((rc = load_vec(m, NAME("attn_q.bias"), qd, need_bias, &L->bq, err)) ||
            (rc = load_vec(m, NAME("attn_k.bias"), kd, need_bias, &L->bk, err)) ||
            (rc = load_vec(m, NAME("attn_v.bias"), vd, need_bias, &L->bv, err)) ||
            (rc = load_vec(m, NAME("attn_output.bias"), E, 0, &L->bo, err)))
            return rc;
        int need_norm = m->arch == INFER_ARCH_QWEN3;
        if ((rc = load_vec(m, NAME("attn_q_norm.weight"), m->head_dim_k, need_norm, &L->q_norm, err)) ||
            (rc = load_vec(m, NAME("attn_k_norm.weight"), m->head_dim_k, need_norm, &L->k_norm, err)))
            return rc;
#undef NAME
    }
    return KEEP_OK;
}

int infer_model_open(const char *path, infer_model **out, keep_err *err)
{
    *out = NULL;
    infer_model *m = keep_calloc(1, sizeof *m);
    if (!m) return keep_err_set(err, KEEP_ERR_NOMEM, "model: out of memory");
    int rc = infer_gguf_open(path, &m->gguf, err);
    if (rc) goto fail;
    if ((rc = load_hparams(m, err)) || (rc = load_tensors(m, err))) goto fail;
    if ((rc = infer_tokenizer_from_gguf(m->gguf, &m->tok, err))) goto fail;
    if (infer_tokenizer_n_vocab(m->tok) > m->n_vocab) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "model: vocabulary of %u tokens but %zu embedding rows",
                          infer_tokenizer_n_vocab(m->tok), m->n_vocab);
        goto fail;
    }
    m->chat_template = infer_gguf_key_strdup(m->gguf, "tokenizer.chat_template");
    *out = m;
    return KEEP_OK;
fail:
    infer_model_free(m);
    return rc;
}

void infer_model_free(infer_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_owned; i++) keep_free(m->owned[i]);
    keep_free(m->owned);
    keep_free(m->layers);
    keep_free(m->rope_factors);
    keep_free(m->chat_template);
    infer_tokenizer_free(m->tok);
    infer_gguf_close(m->gguf);
    keep_free(m);
}

const infer_tokenizer *infer_model_tokenizer(const infer_model *m) { return m->tok; }
size_t infer_model_n_vocab(const infer_model *m) { return m->n_vocab; }
size_t infer_model_n_ctx_train(const infer_model *m) { return m->n_ctx_train; }
const char *infer_model_arch(const infer_model *m) { return m->arch_name; }
const char *infer_model_chat_template(const infer_model *m) { return m->chat_template; }
