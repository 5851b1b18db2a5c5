/* tok_impl.h — what the tokenizer's files share: the tokenizer struct, the
 * hash lookups over token and merge strings, the output id vector, and the
 * per-algorithm entry points (tok_spm.c, tok_bpe.c, tok_wpm.c). Private to
 * the tokenizer. */
#ifndef KEEP_INFER_TOK_IMPL_H
#define KEEP_INFER_TOK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "infer/tokenizer.h"

#define INFER_TOK_MAX_REGEX 4

struct infer_tokenizer {
    infer_vocab *v;

    /* token text -> id: open addressing, slot holds id + 1, 0 = empty */
    uint32_t *tok_hash;
    size_t tok_mask;
    /* merge pair -> rank, same scheme (slot holds rank + 1) */
    uint32_t *merge_hash;
    size_t merge_mask;
    uint32_t max_token_len;

    int32_t byte_tok[256]; /* SPM byte fallback: <0xXX> token per byte, -1 none */

    /* decoded piece of every token (detokenization), and the special
     * rendering of control tokens is their text */
    char *pieces;
    uint32_t *piece_off;
    uint32_t *piece_len;

    /* tokens recognised inside text: control/user-defined/unknown, longest first */
    int32_t *specials;
    size_t n_specials;
    uint8_t *eog; /* per token: ends generation */

    int add_bos, add_eos, add_space_prefix;
    int32_t begin_id, end_id; /* what ADD_SPECIAL adds: BOS/CLS and EOS/SEP */

    /* BPE */
    int ignore_merges;
    pcre2_general_context *gctx;
    pcre2_code *re[INFER_TOK_MAX_REGEX];
    size_t n_re;
    char pre[64];
    char warning[200];

    /* WordPiece: vocabulary marks word starts with U+2581 (GGUF from llama.cpp's
     * converter) rather than continuations with "##" (BERT's vocab.txt) */
    int wpm_phantom_space;
};

/* Growable id output of one tokenize call. */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;

int infer__ids_push(tok_ids *ids, int32_t id);

/* Id of the token whose text is s[0..len), -1 when none. */
int32_t infer__tok_lookup(const infer_tokenizer *t, const char *s, size_t len);
/* Rank of merging left = s[0..llen) with right = s[llen..llen+rlen), -1 when
 * no such merge. */
int32_t infer__merge_lookup(const infer_tokenizer *t, const char *s, size_t llen, size_t rlen);

/* Length of the UTF-8 sequence a lead byte announces (1 for a stray byte). */
static inline size_t infer__utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
}

/* Each tokenizes one fragment of raw text (no special tokens inside),
 * appending to ids. */
int infer__spm_tokenize(const infer_tokenizer *t, const char *text, size_t len, int prefix_space,
                        tok_ids *ids, keep_err *err);
int infer__bpe_tokenize(const infer_tokenizer *t, const char *text, size_t len, tok_ids *ids,
                        keep_err *err);
int infer__wpm_tokenize(const infer_tokenizer *t, const char *text, size_t len, tok_ids *ids,
                        keep_err *err);

/* A binary min-heap of fixed-size items ordered by `before` (a before b
 * means a pops first). Both merge tokenizers keep candidate pairs in one.
 * Zero-initialise with size and before set; free with infer__heap_free. */
typedef struct infer__heap {
    char *items;
    size_t n, cap, size;
    int (*before)(const void *a, const void *b);
} infer__heap;

#define INFER__HEAP_MAX_ITEM 32

int infer__heap_push(infer__heap *h, const void *item);
/* Pops the first item into out; h must not be empty. */
void infer__heap_pop(infer__heap *h, void *out);
void infer__heap_free(infer__heap *h);

/* Compiles the pre-tokenizer regexes for t->v->pre (sets t->pre, t->warning). */
int infer__bpe_init(infer_tokenizer *t, keep_err *err);
void infer__bpe_free(infer_tokenizer *t);

#endif
