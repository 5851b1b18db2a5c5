/* tokenizer.h — text <-> token ids for the models Keep runs, compatible with
 * the tokenizers GGUF files describe (tokenizer.ggml.model):
 *   "llama"  SentencePiece-style: best-scoring pair merges, byte fallback;
 *   "gpt2"   byte-level BPE with merge ranks after a regex pre-tokenizer
 *            chosen by tokenizer.ggml.pre (run by PCRE2);
 *   "bert"   WordPiece after BERT's basic tokenization (lower case, accents
 *            stripped, punctuation and CJK split).
 *
 * A tokenizer is immutable once built: any number of threads may call
 * tokenize/detokenize/piece on one tokenizer at the same time (all scratch
 * memory is per call). A stream decoder belongs to one thread.
 *
 * Text is untrusted: any bytes are accepted (invalid UTF-8 becomes byte
 * tokens where the vocabulary has them), and length is capped at
 * INFER_TOK_MAX_TEXT bytes. Internal to infer/.
 *
 * Ids match llama.cpp's for every fixture (tests/test_tokenizer.c). Known
 * differences, all outside well-formed input of the supported models:
 *  - SentencePiece: a byte sequence that is not well-formed UTF-8 is split
 *    into single bytes (llama.cpp trusts the lead byte), so it round-trips;
 *  - BPE: a merged string that is not a token falls back to the tokens of its
 *    characters (or UNK) rather than llama.cpp's per-byte lookup;
 *  - no model-name-specific strip attributes on special tokens (llama.cpp
 *    strips whitespace after Phi-3's chat tokens);
 *  - pre-tokenizers: gpt-2, llama-bpe (llama3), qwen2 and a few aliases;
 *    others fall back to GPT-2's regex with infer_tokenizer_warning() set;
 *  - detokenize never applies "clean up tokenization spaces". */
#ifndef KEEP_INFER_TOKENIZER_H
#define KEEP_INFER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "infer/gguf.h"
#include "infer/vocab.h"

typedef struct infer_tokenizer infer_tokenizer;

/* Bytes of text per tokenize call: far above any context window (a 128k-token
 * prompt is ~0.5 MB) while bounding the scratch memory of one call (SentencePiece
 * needs ~64 bytes per character in the worst case). */
#define INFER_TOK_MAX_TEXT ((size_t)4 << 20)

/* Builds the tokenizer described by the tokenizer.ggml.* keys of an open GGUF
 * file. The tokenizer copies what it needs: g may be closed afterwards.
 * Caller frees *out with infer_tokenizer_free. */
int infer_tokenizer_from_gguf(const infer_gguf *g, infer_tokenizer **out, keep_err *err);

/* Builds a tokenizer from a vocabulary, which it takes over in every case
 * (freed on failure too). Caller frees *out with infer_tokenizer_free. */
int infer_tokenizer_from_vocab(infer_vocab *v, infer_tokenizer **out, keep_err *err);

void infer_tokenizer_free(infer_tokenizer *t);

/* ---- tokenize ------------------------------------------------------------ */

/* Add BOS / CLS at the start and EOS / SEP at the end as the vocabulary asks
 * (tokenizer.ggml.add_bos_token etc., else the model type's default). */
#define INFER_TOK_ADD_SPECIAL 1u
/* Recognise control tokens (e.g. "<|im_start|>") written in the text.
 * User-defined tokens are always recognised, as llama.cpp does. */
#define INFER_TOK_PARSE_SPECIAL 2u

/* Tokenizes text[0..len) into ids[0..cap). *n_needed (always set on KEEP_OK
 * and KEEP_ERR_TOOBIG) is the number of ids of the whole text; when it
 * exceeds cap the first cap ids are written and KEEP_ERR_TOOBIG returned, so
 * a caller can size a buffer with cap = 0 first. ids may be NULL when cap is 0. */
int infer_tokenize(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                   int32_t *ids, size_t cap, size_t *n_needed, keep_err *err);

/* Same into a new array. Caller frees *ids with keep_free (NULL when *n is 0
 * is allowed). */
int infer_tokenize_alloc(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                         int32_t **ids, size_t *n, keep_err *err);

/* ---- detokenize ---------------------------------------------------------- */

/* Render control tokens (BOS, <|im_end|>, ...) as their text instead of nothing. */
#define INFER_DETOK_SPECIAL 1u
/* Keep the space that SentencePiece / WordPiece put before the first word
 * (by default it is removed, so detokenize(tokenize(s)) == s). */
#define INFER_DETOK_KEEP_LEADING_SPACE 2u

/* The bytes token id stands for: spaces restored, byte tokens as the raw
 * byte, byte-level BPE decoded. Control tokens give "" unless special.
 * Points into the tokenizer (valid until it is freed), not NUL-terminated
 * in general; NULL (and *len 0) for an id out of range. A piece may end
 * inside a UTF-8 character. */
const char *infer_token_piece(const infer_tokenizer *t, int32_t id, int special, size_t *len);

/* Appends the text of ids[0..n) to out. An id out of range is KEEP_ERR_USAGE.
 * The result is exactly the concatenated bytes (possibly invalid UTF-8 when
 * the ids are); use the stream decoder for text shown to people. */
int infer_detokenize(const infer_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                     keep_buf *out, keep_err *err);

/* Incremental decoding of generated tokens: push() appends to out only whole
 * UTF-8 characters, holding back a character split across tokens until its
 * last byte arrives; bytes that can never form a character come out as
 * U+FFFD, so out stays valid UTF-8. flush() ends the stream. */
typedef struct infer_tok_stream infer_tok_stream;
/* Caller frees *out with infer_tok_stream_free; t must outlive it. */
int infer_tok_stream_new(const infer_tokenizer *t, unsigned flags, infer_tok_stream **out,
                         keep_err *err);
int infer_tok_stream_push(infer_tok_stream *s, int32_t id, keep_buf *out, keep_err *err);
int infer_tok_stream_flush(infer_tok_stream *s, keep_buf *out, keep_err *err);
void infer_tok_stream_free(infer_tok_stream *s);

/* ---- about the vocabulary ------------------------------------------------- */

typedef enum {
    INFER_SPECIAL_BOS,
    INFER_SPECIAL_EOS,
    INFER_SPECIAL_EOT,
    INFER_SPECIAL_EOM,
    INFER_SPECIAL_UNK,
    INFER_SPECIAL_SEP,
    INFER_SPECIAL_PAD,
    INFER_SPECIAL_CLS,
    INFER_SPECIAL_MASK
} infer_special;

uint32_t infer_tokenizer_n_vocab(const infer_tokenizer *t);
infer_vocab_kind infer_tokenizer_kind(const infer_tokenizer *t);
/* The id of a special token, -1 when the vocabulary has none. */
int32_t infer_tokenizer_special(const infer_tokenizer *t, infer_special which);
/* Whether ADD_SPECIAL adds a BOS (CLS for WordPiece) / an EOS (SEP). */
int infer_tokenizer_adds_bos(const infer_tokenizer *t);
int infer_tokenizer_adds_eos(const infer_tokenizer *t);
/* infer_token_type of id, -1 when out of range. */
int infer_tokenizer_token_type(const infer_tokenizer *t, int32_t id);
/* 1 when generating id ends the answer (EOS, EOT, EOM and the usual
 * end-of-turn control tokens such as <|im_end|>, <|eot_id|>). */
int infer_tokenizer_is_eog(const infer_tokenizer *t, int32_t id);
/* Id of the token whose text is exactly s[0..len), -1 when none. */
int32_t infer_tokenizer_find(const infer_tokenizer *t, const char *s, size_t len);
/* The token's text as stored in the vocabulary (NUL-terminated). */
const char *infer_tokenizer_token_text(const infer_tokenizer *t, int32_t id);
/* Name of the pre-tokenizer in use ("llama-bpe", "qwen2", "gpt-2", ...; ""
 * for SPM/WordPiece). */
const char *infer_tokenizer_pre(const infer_tokenizer *t);
/* A warning about the vocabulary (e.g. an unknown pre-tokenizer replaced by
 * GPT-2's), NULL when none. */
const char *infer_tokenizer_warning(const infer_tokenizer *t);

#endif
