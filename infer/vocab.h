/* vocab.h — a tokenizer vocabulary as a GGUF file describes it: token strings,
 * scores, token types, BPE merges, special ids and the flags that decide what
 * tokenize() adds. The tokenizer (tokenizer.h) is built from one of these;
 * the GGUF loader (vocab_gguf.c) fills it, and tests can build one by hand.
 *
 * The struct is internal to infer/ and deliberately plain: the loader and the
 * tokenizer share it, nothing outside infer/ sees it. Everything is validated
 * when the tokenizer is built from it, not when a field is set. */
#ifndef KEEP_INFER_VOCAB_H
#define KEEP_INFER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "infer/gguf.h"

/* GGUF token types (tokenizer.ggml.token_type); the numbers are on disk. */
typedef enum {
    INFER_TOKEN_UNDEFINED = 0,
    INFER_TOKEN_NORMAL = 1,
    INFER_TOKEN_UNKNOWN = 2,
    INFER_TOKEN_CONTROL = 3,
    INFER_TOKEN_USER_DEFINED = 4,
    INFER_TOKEN_UNUSED = 5,
    INFER_TOKEN_BYTE = 6
} infer_token_type;

/* The algorithm, chosen by tokenizer.ggml.model. */
typedef enum {
    INFER_VOCAB_SPM = 1, /* "llama": SentencePiece with scores and byte fallback */
    INFER_VOCAB_BPE = 2, /* "gpt2": byte-level BPE with merge ranks */
    INFER_VOCAB_WPM = 3  /* "bert": WordPiece */
} infer_vocab_kind;

/* Limits on what a (possibly hostile) file may ask for. */
#define INFER_VOCAB_MAX_TOKENS (1u << 22)      /* 4M tokens; real vocabs are < 300k */
#define INFER_VOCAB_MAX_MERGES (1u << 23)
#define INFER_VOCAB_MAX_TOKEN_BYTES 4096u     /* one token's text */
#define INFER_VOCAB_MAX_TEXT_BYTES (256u << 20) /* all token or merge text together */

typedef struct infer_vocab {
    infer_vocab_kind kind;
    char model[32]; /* tokenizer.ggml.model */
    char pre[64];   /* tokenizer.ggml.pre, "" when absent */

    uint32_t n_tokens;
    size_t tok_cap;
    char *text;         /* token strings back to back, each followed by a NUL */
    size_t text_len, text_cap;
    uint32_t *tok_off;  /* start of token i in text */
    uint32_t *tok_len;  /* its length (a token may contain NUL bytes) */
    float *scores;
    uint8_t *types;     /* infer_token_type */

    /* BPE merges in rank order. Merge i is the pair (left, right) with
     * left = mtext[m_off[i] .. +m_llen[i]) and right following it directly
     * (the separating space is not stored, so the pair is one contiguous key). */
    uint32_t n_merges;
    size_t merge_cap;
    char *mtext;
    size_t mtext_len, mtext_cap;
    uint32_t *m_off;
    uint32_t *m_llen;
    uint32_t *m_rlen;

    /* Special ids, -1 when the vocabulary has none. */
    int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask;
    /* -1: not said by the file (the tokenizer applies the model type's default). */
    int add_bos, add_eos, add_sep, add_space_prefix;
} infer_vocab;

/* A new empty vocabulary for tokenizer.ggml.model `model` ("llama", "gpt2",
 * "bert") and pre-tokenizer name `pre` (NULL or "" when absent).
 * KEEP_ERR_UNSUPPORTED for another model. Caller frees *out with
 * infer_vocab_free (or hands it to infer_tokenizer_from_vocab). */
int infer_vocab_new(const char *model, const char *pre, infer_vocab **out, keep_err *err);
void infer_vocab_free(infer_vocab *v);

/* Appends token number v->n_tokens. The text is copied. */
int infer_vocab_add_token(infer_vocab *v, const char *text, size_t len, float score, int type,
                          keep_err *err);

/* Appends the next merge rule, "left right" as GGUF stores it: split at the
 * first space that is not the first byte; both sides must be non-empty. */
int infer_vocab_add_merge(infer_vocab *v, const char *rule, size_t len, keep_err *err);

/* Reads tokenizer.ggml.* from an open GGUF file. Missing or inconsistent
 * arrays, ids out of range and unparsable merges are a one-line error.
 * Caller frees *out with infer_vocab_free. */
int infer_vocab_from_gguf(const infer_gguf *g, infer_vocab **out, keep_err *err);

#endif
