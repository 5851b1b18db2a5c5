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
#include "index/idx.h"
#include "infer/tokenizer.h"

/* ==== model files ========================================================== */

/* Describes a GGUF file (architecture, sizes, types, tokenizer, chat template)
 * as text or JSON into out. */
int infer_model_describe_file(const char *path, keep_buf *out, int json, keep_err *err);

/* Opens the tokenizer of a GGUF file. Caller frees with infer_tokenizer_free. */
int infer_tokenizer_open_file(const char *path, infer_tokenizer **out, keep_err *err);

/* ==== embeddings ============================================================ */
/* Text embedding models of the BERT family (GGUF architecture "bert": bge,
 * all-MiniLM, e5, gte; "nomic-bert"): texts in, one L2-normalized float
 * vector per text out. Weights stay mmapped; a batch of texts runs as one
 * pass whose matrix products cover every token of the batch, on a thread
 * pool owned by the embedder.
 *
 * Thread safety: an embedder keeps scratch memory, so it serves one call at
 * a time (callers serialize; different embedders are independent). */

typedef struct infer_embedder infer_embedder;

/* Pooling of token states into one vector (llama.cpp's numbering, as in the
 * GGUF key <arch>.pooling_type). */
#define INFER_POOL_DEFAULT (-1) /* from the file */
#define INFER_POOL_NONE 0
#define INFER_POOL_MEAN 1
#define INFER_POOL_CLS 2
#define INFER_POOL_LAST 3

typedef struct infer_embed_opts {
    int n_threads;             /* <= 0: one per physical core */
    int pooling;               /* INFER_POOL_*; DEFAULT uses the file's */
    const char *query_prefix;  /* NULL: as detected from the model name; "" none */
    const char *passage_prefix;
    size_t max_batch_tokens;   /* tokens per pass; 0: 2048 (at least the context) */
} infer_embed_opts;

/* Opens a GGUF embedding model; opts may be NULL (all defaults). Every tensor
 * is checked by name, type and shape: a missing or misshapen one is an error
 * naming it. Caller frees *out with infer_embedder_free. */
int infer_embedder_open(const char *path, const infer_embed_opts *opts, infer_embedder **out,
                        keep_err *err);
/* Same over a GGUF file in memory, which is not copied: it must outlive the
 * embedder. Caller frees *out with infer_embedder_free. */
int infer_embedder_open_memory(const void *data, size_t len, const infer_embed_opts *opts,
                               infer_embedder **out, keep_err *err);
void infer_embedder_free(infer_embedder *e);

/* Width of the vectors. */
size_t infer_embedder_dim(const infer_embedder *e);
/* Tokens per text, [CLS] and [SEP] included; longer texts are truncated. */
size_t infer_embedder_max_tokens(const infer_embedder *e);
/* general.name of the model (or the file's base name). */
const char *infer_embedder_name(const infer_embedder *e);
/* INFER_POOL_MEAN / CLS / LAST in use. */
int infer_embedder_pooling(const infer_embedder *e);
/* The prefix put before queries (is_query != 0) or passages; "" for none.
 * Detected from the model name (e5: "query: "/"passage: "; bge/mxbai/arctic
 * English models: an instruction before queries; nomic:
 * "search_query: "/"search_document: ") unless opts set it. */
const char *infer_embedder_prefix(const infer_embedder *e, int is_query);
/* The embedder's tokenizer (owned by it). */
const infer_tokenizer *infer_embedder_tokenizer(const infer_embedder *e);

/* Embeds texts[0..n) (lens[i] bytes each, or NUL-terminated when lens is
 * NULL), each with the query or passage prefix, into out[i * dim ..]. Texts
 * longer than max_tokens are cut to max_tokens (the final [SEP] kept); when
 * truncated is not NULL, truncated[i] says whether text i was. An empty text
 * is embedded as [CLS][SEP]. */
int infer_embed(infer_embedder *e, const char *const *texts, const size_t *lens, size_t n,
                int is_query, float *out, unsigned char *truncated, keep_err *err);

/* Embeds already-tokenized sequences: ids of sequence i are
 * ids[off[i] .. off[i + 1]), each 1..max_tokens long and in the vocabulary
 * (KEEP_ERR_USAGE otherwise). No prefix, no special tokens added. */
int infer_embed_tokens(infer_embedder *e, const int32_t *ids, const size_t *off, size_t n,
                       float *out, keep_err *err);

/* A GGUF embedding model as index/'s idx_embedder (its vector space named
 * after the model, so switching models re-embeds). Caller frees with
 * idx_embedder_free. n_threads 0: one per physical core. */
int infer_idx_embedder_open(const char *path, int n_threads, idx_embedder **out, keep_err *err);
/* The embedder a data directory uses: the GGUF model at model_path when it
 * is set (keep.conf embedding_model), else the built-in one
 * (KEEP_ERR_NOTFOUND when it has not learned a space yet). */
int infer_configured_embedder(idx_store *s, const char *model_path, int n_threads,
                              idx_embedder **out, keep_err *err);
/* Embeds what is missing with that embedder (everything again when the
 * stored vectors were made by another); the built-in one learns first when
 * the corpus needs it. */
int infer_refresh_vectors(idx_store *s, const char *model_path, int n_threads,
                          idx_embed_progress_fn progress, void *ud, size_t *n_embedded,
                          keep_err *err);

/* ==== generation ============================================================ */

#endif
