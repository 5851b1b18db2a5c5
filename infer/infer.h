/* infer.h — the public face of infer/, Keep's own GGUF inference engine.
 * Other stages include only this header.
 *
 * Sections, each owned by one part of infer/:
 *   model files   GGUF reader (infer/gguf.h) and model descriptions
 *   tokenizers    text <-> ids for llama/SPM, gpt2/BPE and bert/WordPiece
 *   embeddings    BERT-family embedding models (see the embeddings section)
 *   generation    llama / qwen2 / qwen3 decoders (see the generation section)
 * The structs behind every handle are private to infer/. */
#ifndef KEEP_INFER_H
#define KEEP_INFER_H

#include "common.h"
#include "infer/gguf.h"
#include "infer/tokenizer.h"

/* ==== model files ========================================================== */

/* Describes a GGUF file (architecture, sizes, types, tokenizer, chat template)
 * as text or JSON into out. */
int infer_model_describe_file(const char *path, keep_buf *out, int json, keep_err *err);

/* Opens the tokenizer of a GGUF file. Caller frees with infer_tokenizer_free. */
int infer_tokenizer_open_file(const char *path, infer_tokenizer **out, keep_err *err);

/* ==== embeddings ============================================================ */

/* ==== generation ============================================================ */

/* A decoder model: the mmapped GGUF file (weights are never copied), its
 * tokenizer and hyper-parameters. Read-only once open, so several contexts
 * (each with its own KV cache) may share one model. Architectures: llama
 * (Llama 2/3, SmolLM2, Mistral-style), qwen2, qwen3. */
typedef struct infer_model infer_model;

/* Opens and validates a decoder model. Unknown architecture or tensor type,
 * missing tensor, wrong shape: KEEP_ERR_UNSUPPORTED / KEEP_ERR_CORRUPT with
 * a message naming it. Caller frees with infer_model_free. */
int infer_model_open(const char *path, infer_model **out, keep_err *err);
void infer_model_free(infer_model *m);

const infer_tokenizer *infer_model_tokenizer(const infer_model *m);
size_t infer_model_n_vocab(const infer_model *m);
/* Context length the model was trained with (metadata). */
size_t infer_model_n_ctx_train(const infer_model *m);
/* "llama", "qwen2", "qwen3". */
const char *infer_model_arch(const infer_model *m);
/* tokenizer.chat_template, NULL when the file has none. */
const char *infer_model_chat_template(const infer_model *m);

/* An evaluation context: KV cache (F16), activations and thread pool, all
 * allocated at creation so that evaluating tokens never allocates. One
 * thread uses a context at a time. */
typedef struct infer_ctx infer_ctx;

typedef struct infer_ctx_params {
    size_t n_ctx;   /* KV cache positions; 0: min(training context, 4096) */
    size_t n_batch; /* prompt tokens per forward pass; 0: 256 */
    int n_threads;  /* 0: physical cores */
} infer_ctx_params;

/* Caller frees with infer_ctx_free; m must outlive the context. p may be NULL
 * (all defaults). */
int infer_ctx_new(const infer_model *m, const infer_ctx_params *p, infer_ctx **out, keep_err *err);
void infer_ctx_free(infer_ctx *c);
size_t infer_ctx_n_ctx(const infer_ctx *c);
int infer_ctx_n_threads(const infer_ctx *c);

/* Makes the KV cache hold ids[0..n) and computes the logits of the last
 * position. The longest prefix already in the cache (a system prompt, the
 * previous turn, the tokens generated so far) is reused: only the rest is
 * computed, in batches. n must be 1..n_ctx; an id out of the vocabulary is
 * KEEP_ERR_USAGE; KEEP_ERR_TOOBIG past the context. *n_computed (may be
 * NULL) receives how many positions were actually computed. */
int infer_ctx_eval(infer_ctx *c, const int32_t *ids, size_t n, size_t *n_computed, keep_err *err);

/* Logits of the last evaluated position (n_vocab floats, valid until the
 * next eval); NULL before the first eval. */
const float *infer_ctx_logits(const infer_ctx *c);
/* Positions currently in the KV cache. */
size_t infer_ctx_n_past(const infer_ctx *c);
/* Forgets the cache (the next eval computes everything). */
void infer_ctx_reset(infer_ctx *c);

#endif
