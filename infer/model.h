/* model.h — the decoder's internal structures, shared by model.c (loading a
 * GGUF file into views of its mmapped tensors), forward.c (the forward pass
 * over a KV cache) and generate.c. Internal to infer/; other stages use the
 * opaque handles of infer.h. */
#ifndef KEEP_INFER_MODEL_H
#define KEEP_INFER_MODEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "infer/gguf.h"
#include "infer/infer.h"
#include "infer/pool.h"
#include "infer/tokenizer.h"

typedef enum { INFER_ARCH_LLAMA, INFER_ARCH_QWEN2, INFER_ARCH_QWEN3 } infer_arch;

typedef enum { INFER_ROPE_NORM, INFER_ROPE_NEOX } infer_rope_kind;

/* A weight matrix viewed in the mapping: `rows` rows of `k` elements. */
typedef struct infer_mat {
    const char *name; /* points into the GGUF reader */
    uint32_t type;
    size_t k, rows;
    size_t row_bytes;
    const void *data;
} infer_mat;

typedef struct infer_layer {
    const float *attn_norm, *ffn_norm;
    const float *bq, *bk, *bv, *bo; /* NULL when absent */
    const float *q_norm, *k_norm;   /* qwen3: per-head RMS norm weights (head_dim) */
    infer_mat wq, wk, wv, wo, wgate, wup, wdown;
} infer_layer;

struct infer_model {
    infer_gguf *gguf;
    infer_tokenizer *tok;
    infer_arch arch;
    char arch_name[32];
    size_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx_train;
    size_t head_dim_k, head_dim_v, n_rot;
    float rms_eps;
    infer_rope_kind rope_kind;
    float rope_base, rope_freq_scale;
    /* YaRN (rope.scaling.type == yarn): 0 when off */
    int yarn;
    float yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    size_t yarn_n_ctx_orig;
    float *rope_factors; /* n_rot / 2 divisors of the frequencies (Llama 3), or NULL */

    infer_mat tok_embd, output; /* output aliases tok_embd when tied */
    const float *output_norm;
    infer_layer *layers;

    /* small 1-D tensors not stored as f32 in the file, converted at load */
    float **owned;
    size_t n_owned;
    char *chat_template; /* tokenizer.chat_template or NULL */
};

/* An evaluation context (infer.h); generate.c drives it token by token. */
struct infer_ctx {
    const infer_model *m;
    infer_pool *pool;
    int n_threads;
    size_t n_ctx, n_batch;

    uint16_t *kcache, *vcache; /* [layer][kv head][n_ctx][head dim] */
    int32_t *tokens;           /* what the cache holds, n_past of them */
    size_t n_past;

    float *x, *xn, *q, *k, *v, *att, *gate, *up, *tmp;
    float *rope_cs;      /* [n_batch][n_rot/2][2] cos, sin */
    char *qa;            /* quantized activations */
    size_t qa_cap;
    size_t eval_first, eval_end; /* positions the current eval computes */
    float *logits;
    int have_logits;

    atomic_int cancel;   /* set by infer_ctx_cancel from any thread */
    int32_t *seq;        /* generation: prompt + generated ids, n_ctx */
    float *samp_p;       /* sampler scratch: n_vocab probabilities */
    int32_t *samp_id;    /* and ids */
};

#endif
