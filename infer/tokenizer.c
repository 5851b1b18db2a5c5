/* tokenizer.c — the tokenizer object: lookup tables built once from a
 * vocabulary, special-token recognition (text is cut around special tokens
 * before the algorithm of tok_spm.c / tok_bpe.c / tok_wpm.c sees it), the
 * BOS/EOS policy, decoded pieces, detokenization and the streaming decoder. */
#include "infer/tok_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing ------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

/* Power of two >= 2n (load factor <= 1/2). */
static size_t table_size(size_t n)
{
    size_t s = 16;
    while (s < 2 * n)
        s <<= 1;
    return s;
}

int32_t infer__tok_lookup(const infer_tokenizer *t, const char *s, size_t len)
{
    const infer_vocab *v = t->v;
    if (len > t->max_token_len)
        return -1;
    size_t i = (size_t)hash_bytes(s, len, 0) & t->tok_mask;
    for (;;) {
        uint32_t slot = t->tok_hash[i];
        if (!slot)
            return -1;
        uint32_t id = slot - 1;
        if (v->tok_len[id] == len && memcmp(v->text + v->tok_off[id], s, len) == 0)
            return (int32_t)id;
        i = (i + 1) & t->tok_mask;
    }
}

int32_t infer__merge_lookup(const infer_tokenizer *t, const char *s, size_t llen, size_t rlen)
{
    const infer_vocab *v = t->v;
    if (!t->merge_hash)
        return -1;
    size_t i = (size_t)hash_bytes(s, llen + rlen, llen) & t->merge_mask;
    for (;;) {
        uint32_t slot = t->merge_hash[i];
        if (!slot)
            return -1;
        uint32_t m = slot - 1;
        if (v->m_llen[m] == llen && v->m_rlen[m] == rlen &&
            memcmp(v->mtext + v->m_off[m], s, llen + rlen) == 0)
            return (int32_t)m;
        i = (i + 1) & t->merge_mask;
    }
}

static int build_token_hash(infer_tokenizer *t, keep_err *err)
{
    const infer_vocab *v = t->v;
    size_t size = table_size(v->n_tokens);
    t->tok_hash = keep_calloc(size, sizeof *t->tok_hash);
    if (!t->tok_hash)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the token table");
    t->tok_mask = size - 1;
    for (uint32_t id = 0; id < v->n_tokens; id++) {
        const char *s = v->text + v->tok_off[id];
        size_t len = v->tok_len[id];
        if (len > t->max_token_len)
            t->max_token_len = (uint32_t)len;
        size_t i = (size_t)hash_bytes(s, len, 0) & t->tok_mask;
        for (;;) {
            uint32_t slot = t->tok_hash[i];
            if (!slot)
                break;
            uint32_t o = slot - 1;
            if (v->tok_len[o] == len && memcmp(v->text + v->tok_off[o], s, len) == 0)
                break; /* duplicate text: the later id wins, as in llama.cpp */
            i = (i + 1) & t->tok_mask;
        }
        t->tok_hash[i] = id + 1;
    }
    return KEEP_OK;
}

static int build_merge_hash(infer_tokenizer *t, keep_err *err)
{
    const infer_vocab *v = t->v;
    if (!v->n_merges)
        return KEEP_OK;
    size_t size = table_size(v->n_merges);
    t->merge_hash = keep_calloc(size, sizeof *t->merge_hash);
    if (!t->merge_hash)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the merge table");
    t->merge_mask = size - 1;
    for (uint32_t m = 0; m < v->n_merges; m++) {
        const char *s = v->mtext + v->m_off[m];
        size_t ll = v->m_llen[m], rl = v->m_rlen[m];
        size_t i = (size_t)hash_bytes(s, ll + rl, ll) & t->merge_mask;
        int dup = 0;
        for (;;) {
            uint32_t slot = t->merge_hash[i];
            if (!slot)
                break;
            uint32_t o = slot - 1;
            if (v->m_llen[o] == ll && v->m_rlen[o] == rl &&
                memcmp(v->mtext + v->m_off[o], s, ll + rl) == 0) {
                dup = 1; /* a repeated rule keeps its first (best) rank */
                break;
            }
            i = (i + 1) & t->merge_mask;
        }
        if (!dup)
            t->merge_hash[i] = m + 1;
    }
    return KEEP_OK;
}

/* ---- pieces (token -> bytes) ----------------------------------------------------- */

/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes are shifted to U+0100.. in byte order. */
static int bpe_cp_to_byte(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp >= 256 && cp <= 288)
        return (int)(cp - 256);
    if (cp >= 289 && cp <= 322)
        return (int)(cp - 289 + 127);
    if (cp == 323)
        return 173;
    return -1;
}

/* Decodes one UTF-8 character at s (n > 0 bytes left); *cp = -1 for a bad one. */
static size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned c = s[0];
    size_t len = infer__utf8_len((unsigned char)c);
    if (len == 1 || len > n) {
        *cp = c < 0x80 ? (int32_t)c : -1;
        return 1;
    }
    uint32_t v = c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    *cp = (int32_t)v;
    return len;
}

static int append_spaced(keep_buf *b, const char *s, size_t n)
{
    /* U+2581 (e2 96 81) is SentencePiece's visible space */
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            if (keep_buf_putc(b, ' '))
                return -1;
            i += 3;
        } else {
            if (keep_buf_putc(b, s[i]))
                return -1;
            i++;
        }
    }
    return 0;
}

static int parse_byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int build_pieces(infer_tokenizer *t, keep_err *err)
{
    const infer_vocab *v = t->v;
    keep_buf b = {0};
    t->piece_off = keep_calloc(v->n_tokens, sizeof *t->piece_off);
    t->piece_len = keep_calloc(v->n_tokens, sizeof *t->piece_len);
    if (!t->piece_off || !t->piece_len)
        goto nomem;
    if (keep_buf_reserve(&b, v->text_len + 16))
        goto nomem;
    for (uint32_t id = 0; id < v->n_tokens; id++) {
        const char *s = v->text + v->tok_off[id];
        size_t n = v->tok_len[id];
        int type = v->types[id];
        size_t start = b.len;
        int r = 0;
        if (type == INFER_TOKEN_CONTROL) {
            /* nothing: control tokens are shown only on request */
        } else if (type == INFER_TOKEN_BYTE && parse_byte_token(s, n) >= 0) {
            r = keep_buf_putc(&b, (char)parse_byte_token(s, n));
        } else if (type == INFER_TOKEN_UNKNOWN && v->kind == INFER_VOCAB_SPM) {
            r = keep_buf_puts(&b, "\xE2\x96\x85"); /* what llama.cpp prints for <unk> */
        } else if (v->kind == INFER_VOCAB_SPM) {
            r = append_spaced(&b, s, n);
        } else if (v->kind == INFER_VOCAB_WPM) {
            if (t->wpm_phantom_space)
                r = append_spaced(&b, s, n);
            else if (n >= 2 && s[0] == '#' && s[1] == '#')
                r = keep_buf_append(&b, s + 2, n - 2);
            else if ((r = keep_buf_putc(&b, ' ')) == 0)
                r = keep_buf_append(&b, s, n);
        } else if (type == INFER_TOKEN_USER_DEFINED) {
            r = keep_buf_append(&b, s, n);
        } else {
            /* byte-level BPE: each character stands for one byte; a character
             * outside the alphabet is kept as it is */
            const unsigned char *u = (const unsigned char *)s;
            for (size_t i = 0; i < n && !r;) {
                int32_t cp;
                size_t l = utf8_decode(u + i, n - i, &cp);
                int byte = cp >= 0 ? bpe_cp_to_byte((uint32_t)cp) : -1;
                r = byte >= 0 ? keep_buf_putc(&b, (char)byte) : keep_buf_append(&b, s + i, l);
                i += l;
            }
        }
        if (r)
            goto nomem;
        if (b.len > UINT32_MAX) {
            keep_buf_free(&b);
            return keep_err_set(err, KEEP_ERR_TOOBIG, "decoded vocabulary too large");
        }
        t->piece_off[id] = (uint32_t)start;
        t->piece_len[id] = (uint32_t)(b.len - start);
    }
    t->pieces = b.data ? b.data : keep_strdup("");
    if (!t->pieces)
        goto nomem;
    return KEEP_OK;
nomem:
    keep_buf_free(&b);
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for token pieces");
}

/* ---- specials ----------------------------------------------------------------------- */

typedef struct {
    uint32_t len;
    int32_t id;
} len_id;

static int cmp_len_id(const void *a, const void *b)
{
    const len_id *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int build_specials(infer_tokenizer *t, keep_err *err)
{
    const infer_vocab *v = t->v;
    size_t n = 0;
    for (uint32_t id = 0; id < v->n_tokens; id++) {
        int ty = v->types[id];
        if ((ty == INFER_TOKEN_CONTROL || ty == INFER_TOKEN_USER_DEFINED ||
             ty == INFER_TOKEN_UNKNOWN) && v->tok_len[id] > 0)
            n++;
    }
    if (!n)
        return KEEP_OK;
    len_id *tmp = keep_calloc(n, sizeof *tmp);
    t->specials = keep_calloc(n, sizeof *t->specials);
    if (!tmp || !t->specials) {
        keep_free(tmp);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for special tokens");
    }
    size_t k = 0;
    for (uint32_t id = 0; id < v->n_tokens; id++) {
        int ty = v->types[id];
        if ((ty == INFER_TOKEN_CONTROL || ty == INFER_TOKEN_USER_DEFINED ||
             ty == INFER_TOKEN_UNKNOWN) && v->tok_len[id] > 0)
            tmp[k++] = (len_id){v->tok_len[id], (int32_t)id};
    }
    qsort(tmp, n, sizeof *tmp, cmp_len_id);
    for (size_t i = 0; i < n; i++)
        t->specials[i] = tmp[i].id;
    t->n_specials = n;
    keep_free(tmp);
    return KEEP_OK;
}

/* End-of-generation tokens: the declared ones, plus the end-of-turn markers
 * of common chat formats when the vocabulary has them as control tokens
 * (many GGUF files declare only EOS although the template ends turns with
 * another token). */
static int build_eog(infer_tokenizer *t, keep_err *err)
{
    infer_vocab *v = t->v;
    static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<|eom_id|>", "<EOT>", "<|end_of_text|>"};
    t->eog = keep_calloc(v->n_tokens, 1);
    if (!t->eog)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    if (v->eot < 0) {
        static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                                "<end_of_turn>", "<EOT>"};
        for (size_t i = 0; i < sizeof eot_names / sizeof eot_names[0] && v->eot < 0; i++) {
            int32_t id = infer__tok_lookup(t, eot_names[i], strlen(eot_names[i]));
            if (id >= 0 && v->types[id] == INFER_TOKEN_CONTROL)
                v->eot = id;
        }
    }
    int32_t decl[] = {v->eos, v->eot, v->eom};
    for (size_t i = 0; i < 3; i++)
        if (decl[i] >= 0)
            t->eog[decl[i]] = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int32_t id = infer__tok_lookup(t, names[i], strlen(names[i]));
        if (id >= 0 && v->types[id] == INFER_TOKEN_CONTROL)
            t->eog[id] = 1;
    }
    return KEEP_OK;
}

/* ---- construction -------------------------------------------------------------------- */

static int id_ok(const infer_vocab *v, int32_t id)
{
    return id >= -1 && id < (int32_t)v->n_tokens;
}

int infer_tokenizer_from_vocab(infer_vocab *v, infer_tokenizer **out, keep_err *err)
{
    *out = NULL;
    int rc;
    if (!v)
        return keep_err_set(err, KEEP_ERR_USAGE, "no vocabulary");
    infer_tokenizer *t = keep_calloc(1, sizeof *t);
    if (!t) {
        infer_vocab_free(v);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the tokenizer");
    }
    t->v = v;
    if (v->n_tokens == 0) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vocabulary has no tokens");
        goto fail;
    }
    int32_t all[] = {v->bos, v->eos, v->eot, v->eom, v->unk, v->sep, v->pad, v->cls, v->mask};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!id_ok(v, all[i])) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "special token id %d out of range",
                              (int)all[i]);
            goto fail;
        }
    /* Defaults per model type where the file is silent, as the files in the
     * wild expect (llama.cpp's behaviour). */
    if (v->kind == INFER_VOCAB_SPM) {
        if (v->bos < 0 && v->n_tokens > 1)
            v->bos = 1;
        if (v->eos < 0 && v->n_tokens > 2)
            v->eos = 2;
        if (v->unk < 0)
            v->unk = 0;
        t->add_bos = v->add_bos >= 0 ? v->add_bos : 1;
        t->add_eos = v->add_eos >= 0 ? v->add_eos : 0;
        t->add_space_prefix = v->add_space_prefix >= 0 ? v->add_space_prefix : 1;
        t->begin_id = v->bos;
        t->end_id = v->eos;
    } else if (v->kind == INFER_VOCAB_BPE) {
        /* Llama 3's vocabulary relies on BOS being added by default */
        int llama3 = strcmp(v->pre, "llama-bpe") == 0 || strcmp(v->pre, "llama3") == 0 ||
                     strcmp(v->pre, "llama-v3") == 0;
        t->add_bos = v->add_bos >= 0 ? v->add_bos : llama3;
        t->add_eos = v->add_eos >= 0 ? v->add_eos : 0;
        t->begin_id = v->bos;
        t->end_id = v->eos;
    } else {
        t->add_bos = v->add_bos >= 0 ? v->add_bos : 1;
        t->add_eos = v->add_sep >= 0 ? v->add_sep : v->add_eos >= 0 ? v->add_eos : 1;
        for (uint32_t id = 0; id < v->n_tokens; id++)
            if (v->tok_len[id] >= 3 && memcmp(v->text + v->tok_off[id], "\xE2\x96\x81", 3) == 0) {
                t->wpm_phantom_space = 1;
                break;
            }
    }
    if ((rc = build_token_hash(t, err)) != KEEP_OK)
        goto fail;
    if (v->kind == INFER_VOCAB_WPM) {
        /* BERT vocabularies name their specials; files often omit the ids */
        static const struct {
            const char *name;
            size_t off;
        } named[] = {{"[UNK]", offsetof(infer_vocab, unk)},  {"[CLS]", offsetof(infer_vocab, cls)},
                     {"[SEP]", offsetof(infer_vocab, sep)},  {"[PAD]", offsetof(infer_vocab, pad)},
                     {"[MASK]", offsetof(infer_vocab, mask)}};
        for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
            int32_t *field = (int32_t *)((char *)v + named[i].off);
            if (*field < 0)
                *field = infer__tok_lookup(t, named[i].name, strlen(named[i].name));
        }
        t->begin_id = v->cls >= 0 ? v->cls : v->bos;
        t->end_id = v->sep >= 0 ? v->sep : v->eos;
    }
    if ((rc = build_merge_hash(t, err)) != KEEP_OK || (rc = build_pieces(t, err)) != KEEP_OK ||
        (rc = build_specials(t, err)) != KEEP_OK || (rc = build_eog(t, err)) != KEEP_OK)
        goto fail;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id = infer__tok_lookup(t, name, 6);
        if (id < 0) {
            char c = (char)b;
            id = infer__tok_lookup(t, &c, 1);
        }
        t->byte_tok[b] = id;
    }
    if (v->kind == INFER_VOCAB_BPE && (rc = infer__bpe_init(t, err)) != KEEP_OK)
        goto fail;
    *out = t;
    return KEEP_OK;
fail:
    infer_tokenizer_free(t);
    return rc;
}

int infer_tokenizer_from_gguf(const infer_gguf *g, infer_tokenizer **out, keep_err *err)
{
    infer_vocab *v;
    *out = NULL;
    int rc = infer_vocab_from_gguf(g, &v, err);
    if (rc != KEEP_OK)
        return rc;
    return infer_tokenizer_from_vocab(v, out, err);
}

void infer_tokenizer_free(infer_tokenizer *t)
{
    if (!t)
        return;
    infer__bpe_free(t);
    keep_free(t->tok_hash);
    keep_free(t->merge_hash);
    keep_free(t->pieces);
    keep_free(t->piece_off);
    keep_free(t->piece_len);
    keep_free(t->specials);
    keep_free(t->eog);
    infer_vocab_free(t->v);
    keep_free(t);
}

/* ---- tokenize ------------------------------------------------------------------------- */

int infer__ids_push(tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t ncap = ids->cap ? ids->cap * 2 : 64;
        int32_t *nv = keep_reallocarray(ids->v, ncap, sizeof *nv);
        if (!nv)
            return KEEP_ERR_NOMEM;
        ids->v = nv;
        ids->cap = ncap;
    }
    ids->v[ids->n++] = id;
    return KEEP_OK;
}

/* A piece of the input: raw text (id < 0) or a recognised special token. */
typedef struct {
    int32_t id;
    size_t off, len;
} frag;

typedef struct {
    frag *v;
    size_t n, cap;
} frag_vec;

static int frag_push(frag_vec *f, int32_t id, size_t off, size_t len)
{
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        frag *nv = keep_reallocarray(f->v, ncap, sizeof *nv);
        if (!nv)
            return KEEP_ERR_NOMEM;
        f->v = nv;
        f->cap = ncap;
    }
    f->v[f->n++] = (frag){id, off, len};
    return KEEP_OK;
}

/* Cuts the raw-text fragments around every occurrence of the special tokens,
 * longest token first over the whole text (so a long token wins over a
 * shorter one it contains, wherever they are). */
static int partition(const infer_tokenizer *t, const char *text, size_t len, int parse_special,
                     frag_vec *out)
{
    const infer_vocab *v = t->v;
    frag_vec cur = {0}, next = {0};
    int rc = KEEP_ERR_NOMEM;
    if (len && frag_push(&cur, -1, 0, len))
        goto fail;
    for (size_t s = 0; s < t->n_specials; s++) {
        int32_t id = t->specials[s];
        if (!parse_special && v->types[id] != INFER_TOKEN_USER_DEFINED)
            continue;
        const char *st = v->text + v->tok_off[id];
        size_t sl = v->tok_len[id];
        if (!memmem(text, len, st, sl))
            continue;
        next.n = 0;
        for (size_t f = 0; f < cur.n; f++) {
            frag fr = cur.v[f];
            if (fr.id >= 0) {
                if (frag_push(&next, fr.id, fr.off, fr.len))
                    goto fail;
                continue;
            }
            size_t pos = fr.off, end = fr.off + fr.len;
            while (pos < end) {
                const char *hit = memmem(text + pos, end - pos, st, sl);
                if (!hit)
                    break;
                size_t at = (size_t)(hit - text);
                if (at > pos && frag_push(&next, -1, pos, at - pos))
                    goto fail;
                if (frag_push(&next, id, at, sl))
                    goto fail;
                pos = at + sl;
            }
            if (pos < end && frag_push(&next, -1, pos, end - pos))
                goto fail;
        }
        frag_vec tmp = cur;
        cur = next;
        next = tmp;
    }
    keep_free(next.v);
    *out = cur;
    return KEEP_OK;
fail:
    keep_free(cur.v);
    keep_free(next.v);
    return rc;
}

static int tokenize_ids(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                        tok_ids *ids, keep_err *err)
{
    const infer_vocab *v = t->v;
    if (len > INFER_TOK_MAX_TEXT)
        return keep_err_set(err, KEEP_ERR_TOOBIG, "text of %zu bytes exceeds the %zu byte limit",
                            len, INFER_TOK_MAX_TEXT);
    if (!text && len)
        return keep_err_set(err, KEEP_ERR_USAGE, "NULL text");
    int add = (flags & INFER_TOK_ADD_SPECIAL) != 0;
    frag_vec fr = {0};
    int rc = partition(t, text, len, (flags & INFER_TOK_PARSE_SPECIAL) != 0, &fr);
    if (rc != KEEP_OK)
        return keep_err_set(err, rc, "out of memory splitting special tokens");
    if (add && t->add_bos && t->begin_id >= 0 && (rc = infer__ids_push(ids, t->begin_id)))
        goto nomem;
    int prev_special = 1; /* SentencePiece prefixes a space at the start and after a special */
    for (size_t i = 0; i < fr.n; i++) {
        if (fr.v[i].id >= 0) {
            if ((rc = infer__ids_push(ids, fr.v[i].id)))
                goto nomem;
            prev_special = 1;
            continue;
        }
        const char *s = text + fr.v[i].off;
        size_t n = fr.v[i].len;
        switch (v->kind) {
        case INFER_VOCAB_SPM:
            rc = infer__spm_tokenize(t, s, n, t->add_space_prefix && prev_special, ids, err);
            break;
        case INFER_VOCAB_BPE:
            rc = infer__bpe_tokenize(t, s, n, ids, err);
            break;
        default:
            rc = infer__wpm_tokenize(t, s, n, ids, err);
            break;
        }
        if (rc != KEEP_OK)
            goto out;
        prev_special = 0;
    }
    if (add && t->add_eos && t->end_id >= 0 && (rc = infer__ids_push(ids, t->end_id)))
        goto nomem;
    keep_free(fr.v);
    return KEEP_OK;
nomem:
    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for token ids");
out:
    keep_free(fr.v);
    return rc;
}

int infer_tokenize(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                   int32_t *ids, size_t cap, size_t *n_needed, keep_err *err)
{
    tok_ids out = {0};
    *n_needed = 0;
    int rc = tokenize_ids(t, text, len, flags, &out, err);
    if (rc == KEEP_OK) {
        *n_needed = out.n;
        size_t n = out.n < cap ? out.n : cap;
        if (n)
            memcpy(ids, out.v, n * sizeof *ids);
        if (out.n > cap)
            rc = keep_err_set(err, KEEP_ERR_TOOBIG, "%zu tokens do not fit in %zu", out.n, cap);
    }
    keep_free(out.v);
    return rc;
}

int infer_tokenize_alloc(const infer_tokenizer *t, const char *text, size_t len, unsigned flags,
                         int32_t **ids, size_t *n, keep_err *err)
{
    tok_ids out = {0};
    *ids = NULL;
    *n = 0;
    int rc = tokenize_ids(t, text, len, flags, &out, err);
    if (rc != KEEP_OK) {
        keep_free(out.v);
        return rc;
    }
    *ids = out.v;
    *n = out.n;
    return KEEP_OK;
}

/* ---- detokenize ------------------------------------------------------------------------- */

const char *infer_token_piece(const infer_tokenizer *t, int32_t id, int special, size_t *len)
{
    const infer_vocab *v = t->v;
    if (id < 0 || (uint32_t)id >= v->n_tokens) {
        *len = 0;
        return NULL;
    }
    if (special && v->types[id] == INFER_TOKEN_CONTROL) {
        *len = v->tok_len[id];
        return v->text + v->tok_off[id];
    }
    *len = t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

/* SentencePiece and WordPiece put a space before the first word; removing
 * it once at the start of the output makes detokenize undo tokenize. */
static int strips_leading_space(const infer_tokenizer *t, unsigned flags)
{
    if (flags & INFER_DETOK_KEEP_LEADING_SPACE)
        return 0;
    return (t->v->kind == INFER_VOCAB_SPM && t->add_space_prefix) ||
           t->v->kind == INFER_VOCAB_WPM;
}

int infer_detokenize(const infer_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                     keep_buf *out, keep_err *err)
{
    int strip = strips_leading_space(t, flags);
    int started = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = infer_token_piece(t, ids[i], (flags & INFER_DETOK_SPECIAL) != 0, &len);
        if (!p)
            return keep_err_set(err, KEEP_ERR_USAGE, "token id %d out of range", (int)ids[i]);
        if (!len)
            continue;
        if (!started && strip && p[0] == ' ') {
            p++;
            len--;
        }
        started = 1;
        if (keep_buf_append(out, p, len))
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory detokenizing");
    }
    return KEEP_OK;
}

/* ---- streaming decoder ---------------------------------------------------------------------- */

struct infer_tok_stream {
    const infer_tokenizer *t;
    unsigned flags;
    int started;
    unsigned char pend[4]; /* the start of a character still missing bytes */
    size_t npend, need;
};

int infer_tok_stream_new(const infer_tokenizer *t, unsigned flags, infer_tok_stream **out,
                         keep_err *err)
{
    infer_tok_stream *s = keep_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    s->t = t;
    s->flags = flags;
    *out = s;
    return KEEP_OK;
}

void infer_tok_stream_free(infer_tok_stream *s)
{
    keep_free(s);
}

/* Whether c may be byte number idx (1-based after the lead) of the character
 * begun by lead: rules out overlongs, surrogates and code points > U+10FFFF. */
static int cont_ok(unsigned lead, size_t idx, unsigned c)
{
    if ((c & 0xC0) != 0x80)
        return 0;
    if (idx != 1)
        return 1;
    if (lead == 0xE0)
        return c >= 0xA0;
    if (lead == 0xED)
        return c < 0xA0;
    if (lead == 0xF0)
        return c >= 0x90;
    if (lead == 0xF4)
        return c < 0x90;
    return 1;
}

static int put_replacement(keep_buf *out)
{
    return keep_buf_append(out, "\xEF\xBF\xBD", 3);
}

static int stream_bytes(infer_tok_stream *s, const unsigned char *p, size_t n, keep_buf *out)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (s->npend) {
            if (cont_ok(s->pend[0], s->npend, c)) {
                s->pend[s->npend++] = (unsigned char)c;
                i++;
                if (s->npend == s->need) {
                    if (keep_buf_append(out, s->pend, s->npend))
                        return -1;
                    s->npend = 0;
                }
                continue;
            }
            /* the character was cut short: replace it and look at c afresh */
            s->npend = 0;
            if (put_replacement(out))
                return -1;
            continue;
        }
        if (c < 0x80) {
            if (keep_buf_putc(out, (char)c))
                return -1;
        } else if (c >= 0xC2 && c <= 0xF4) {
            s->pend[0] = (unsigned char)c;
            s->npend = 1;
            s->need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        } else if (put_replacement(out)) {
            return -1;
        }
        i++;
    }
    return 0;
}

int infer_tok_stream_push(infer_tok_stream *s, int32_t id, keep_buf *out, keep_err *err)
{
    size_t len;
    const char *p = infer_token_piece(s->t, id, (s->flags & INFER_DETOK_SPECIAL) != 0, &len);
    if (!p)
        return keep_err_set(err, KEEP_ERR_USAGE, "token id %d out of range", (int)id);
    if (!len)
        return KEEP_OK;
    if (!s->started && strips_leading_space(s->t, s->flags) && p[0] == ' ') {
        p++;
        len--;
    }
    s->started = 1;
    if (stream_bytes(s, (const unsigned char *)p, len, out))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory decoding");
    return KEEP_OK;
}

int infer_tok_stream_flush(infer_tok_stream *s, keep_buf *out, keep_err *err)
{
    if (s->npend) {
        s->npend = 0;
        if (put_replacement(out))
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory decoding");
    }
    return KEEP_OK;
}

/* ---- accessors ---------------------------------------------------------------------------- */

uint32_t infer_tokenizer_n_vocab(const infer_tokenizer *t)
{
    return t->v->n_tokens;
}

infer_vocab_kind infer_tokenizer_kind(const infer_tokenizer *t)
{
    return t->v->kind;
}

int32_t infer_tokenizer_special(const infer_tokenizer *t, infer_special which)
{
    const infer_vocab *v = t->v;
    switch (which) {
    case INFER_SPECIAL_BOS: return v->bos;
    case INFER_SPECIAL_EOS: return v->eos;
    case INFER_SPECIAL_EOT: return v->eot;
    case INFER_SPECIAL_EOM: return v->eom;
    case INFER_SPECIAL_UNK: return v->unk;
    case INFER_SPECIAL_SEP: return v->sep;
    case INFER_SPECIAL_PAD: return v->pad;
    case INFER_SPECIAL_CLS: return v->cls;
    case INFER_SPECIAL_MASK: return v->mask;
    }
    return -1;
}

int infer_tokenizer_adds_bos(const infer_tokenizer *t)
{
    return t->add_bos && t->begin_id >= 0;
}

int infer_tokenizer_adds_eos(const infer_tokenizer *t)
{
    return t->add_eos && t->end_id >= 0;
}

int infer_tokenizer_token_type(const infer_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->v->n_tokens)
        return -1;
    return t->v->types[id];
}

int infer_tokenizer_is_eog(const infer_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->v->n_tokens)
        return 0;
    return t->eog[id];
}

int32_t infer_tokenizer_find(const infer_tokenizer *t, const char *s, size_t len)
{
    return infer__tok_lookup(t, s, len);
}

const char *infer_tokenizer_token_text(const infer_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->v->n_tokens)
        return NULL;
    return t->v->text + t->v->tok_off[id];
}

const char *infer_tokenizer_pre(const infer_tokenizer *t)
{
    return t->pre;
}

const char *infer_tokenizer_warning(const infer_tokenizer *t)
{
    return t->warning[0] ? t->warning : NULL;
}

/* ---- the merge heap shared by the SentencePiece and BPE tokenizers ---------- */

int infer__heap_push(infer__heap *h, const void *item)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        char *ni = keep_reallocarray(h->items, ncap, h->size);
        if (!ni)
            return KEEP_ERR_NOMEM;
        h->items = ni;
        h->cap = ncap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h->before(item, h->items + p * h->size))
            break;
        memcpy(h->items + i * h->size, h->items + p * h->size, h->size);
        i = p;
    }
    memcpy(h->items + i * h->size, item, h->size);
    return KEEP_OK;
}

void infer__heap_pop(infer__heap *h, void *out)
{
    char last[INFER__HEAP_MAX_ITEM];
    memcpy(out, h->items, h->size);
    memcpy(last, h->items + --h->n * h->size, h->size);
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h->before(h->items + (c + 1) * h->size, h->items + c * h->size))
            c++;
        if (!h->before(h->items + c * h->size, last))
            break;
        memcpy(h->items + i * h->size, h->items + c * h->size, h->size);
        i = c;
    }
    if (n)
        memcpy(h->items + i * h->size, last, h->size);
}

void infer__heap_free(infer__heap *h)
{
    keep_free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
