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
/* Callable from any thread: the eval or generation running on c (or the next
 * one, if none runs) stops at the next layer or token with
 * KEEP_ERR_CANCELLED; the request is consumed by that call. The cache keeps
 * every position computed before. */
void infer_ctx_cancel(infer_ctx *c);

/* ---- sampling ---- */

/* Applied in this order (as llama.cpp's default chain): repetition penalty
 * over the last repeat_last_n tokens, top-k, top-p, min-p, temperature, then
 * a draw from the rest. temperature <= 0 is greedy (argmax after the
 * penalty). */
typedef struct infer_sampling {
    float temperature;    /* 0.8 by default; <= 0: greedy */
    int top_k;            /* 40; 0: off */
    float top_p;          /* 0.95; 1: off */
    float min_p;          /* 0.05; 0: off */
    float repeat_penalty; /* 1.0 (off); > 1 discourages repeats */
    size_t repeat_last_n; /* 64 */
    uint64_t seed;        /* same seed, same prompt, same model: same tokens */
} infer_sampling;

void infer_sampling_defaults(infer_sampling *s);

/* One token from logits (n_vocab floats, not modified) given the history
 * ids[0..n_hist) for the penalty. *rng is the generator state (seed it with
 * infer_sampling.seed; advanced by each draw). scratch_p / scratch_id hold
 * n_vocab entries. Returns the token id. */
int32_t infer_sample(const infer_sampling *s, const float *logits, size_t n_vocab,
                     const int32_t *hist, size_t n_hist, uint64_t *rng, float *scratch_p,
                     int32_t *scratch_id);

/* ---- chat templates ---- */

typedef enum {
    INFER_CHAT_CHATML,  /* <|im_start|>role ... <|im_end|>: Qwen, SmolLM2, fallback */
    INFER_CHAT_LLAMA3,  /* <|start_header_id|>role<|end_header_id|> ... <|eot_id|> */
    INFER_CHAT_LLAMA2,  /* [INST] <<SYS>> ... <</SYS>> ... [/INST] */
    INFER_CHAT_MISTRAL, /* [INST] ... [/INST] without <<SYS>> */
    INFER_CHAT_PHI3,    /* <|user|> ... <|end|> <|assistant|> */
    INFER_CHAT_GEMMA,   /* <start_of_turn>user ... <end_of_turn> <start_of_turn>model */
    INFER_CHAT_COUNT
} infer_chat_format;

typedef struct infer_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} infer_chat_msg;

/* The format a tokenizer.chat_template (Jinja text) is written for,
 * recognised by its markers; ChatML when tmpl is NULL or unknown. */
infer_chat_format infer_chat_detect(const char *tmpl);
/* By name ("chatml", "qwen", "smollm2", "llama3", "llama2", "mistral",
 * "phi3", "gemma"), for a keep.conf override; -1 when unknown. */
int infer_chat_from_name(const char *name);
const char *infer_chat_name(infer_chat_format f);
/* Appends the conversation as prompt text to out (BOS not included: the
 * tokenizer adds it), ending with the assistant's turn opener when
 * add_assistant. Tokenize it with INFER_TOK_ADD_SPECIAL |
 * INFER_TOK_PARSE_SPECIAL. Unknown roles are KEEP_ERR_USAGE. */
int infer_chat_apply(infer_chat_format f, const infer_chat_msg *msgs, size_t n, int add_assistant,
                     keep_buf *out, keep_err *err);

/* ---- generation ---- */

/* Receives each piece of generated text (whole UTF-8 characters, stop
 * strings withheld); returning nonzero stops the generation. */
typedef int (*infer_piece_fn)(void *user, const char *text, size_t len);

typedef enum {
    INFER_STOP_EOG,       /* end-of-generation token (EOS, EOT, <|im_end|> ...) */
    INFER_STOP_STRING,    /* a stop string appeared */
    INFER_STOP_LENGTH,    /* max_tokens reached */
    INFER_STOP_CONTEXT,   /* context full */
    INFER_STOP_CALLBACK,  /* the piece callback asked to stop */
    INFER_STOP_CANCELLED  /* infer_ctx_cancel */
} infer_stop_reason;

typedef struct infer_gen_params {
    infer_sampling sampling;
    size_t max_tokens;         /* 0: until EOG or the context is full */
    const char *const *stop;   /* stop strings (not included in the output) */
    size_t n_stop;
    infer_piece_fn on_piece;   /* may be NULL */
    void *user;
} infer_gen_params;

typedef struct infer_gen_result {
    infer_stop_reason stop;
    size_t n_prompt;     /* prompt tokens */
    size_t n_reused;     /* of which already in the cache */
    size_t n_generated;  /* tokens sampled (the EOG token included) */
    double prompt_ms, gen_ms;
} infer_gen_result;

void infer_gen_defaults(infer_gen_params *p);

/* Evaluates the prompt (reusing the cached prefix) and samples until a stop
 * condition, streaming text to p->on_piece and appending it to text (may be
 * NULL). Cancellation returns KEEP_ERR_CANCELLED with res->stop
 * INFER_STOP_CANCELLED and the text so far delivered. */
int infer_generate(infer_ctx *c, const int32_t *prompt, size_t n_prompt, const infer_gen_params *p,
                   keep_buf *text, infer_gen_result *res, keep_err *err);

#endif
