/* tok_spm.c — SentencePiece-style tokenization ("llama" vocabularies).
 *
 * Spaces become U+2581 (with one prepended at the start of the text), the
 * text is cut into characters, and then the adjacent pair whose union is the
 * best-scoring token is merged, again and again, until no union is a token.
 * Candidate pairs live in a binary heap (best score first, leftmost on ties)
 * and symbols in a linked list, so a text of n characters costs O(n log n).
 * A final symbol that is not a token (a character outside the vocabulary)
 * falls back to one <0xXX> token per byte, or to the unknown token. Bytes
 * that are not well-formed UTF-8 are characters of one byte each. */
#include "infer/tok_impl.h"

#include <string.h>

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;
} bigram;

typedef struct {
    const infer_tokenizer *t;
    const char *s;
    int32_t *prev, *next;
    uint32_t *start, *len;
    infer__heap heap;
} spm_state;

/* a before b in the heap: higher score, then the leftmost pair */
static int better(const void *va, const void *vb)
{
    const bigram *a = va, *b = vb;
    if (a->score != b->score)
        return a->score > b->score;
    return a->left < b->left;
}

static int try_pair(spm_state *st, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return KEEP_OK;
    size_t size = (size_t)st->len[l] + st->len[r];
    int32_t id = infer__tok_lookup(st->t, st->s + st->start[l], size);
    if (id < 0)
        return KEEP_OK;
    bigram b = {st->t->v->scores[id], l, r, (uint32_t)size};
    return infer__heap_push(&st->heap, &b);
}

/* Bytes of the character at s: a well-formed UTF-8 sequence, else a single
 * byte (which then becomes a byte token). llama.cpp trusts the lead byte
 * alone; checking the continuation bytes keeps a following U+2581 whole, so
 * invalid input still round-trips. */
static size_t char_len(const char *s, size_t n)
{
    size_t l = infer__utf8_len((unsigned char)s[0]);
    if (l > n || !keep_utf8_valid(s, l))
        return 1;
    return l;
}

static int emit_symbol(const infer_tokenizer *t, const char *s, size_t n, tok_ids *ids)
{
    int32_t id = infer__tok_lookup(t, s, n);
    if (id >= 0)
        return infer__ids_push(ids, id);
    for (size_t i = 0; i < n; i++) {
        int32_t b = t->byte_tok[(unsigned char)s[i]];
        if (b < 0) {
            /* no byte fallback: the whole character is unknown */
            return t->v->unk >= 0 ? infer__ids_push(ids, t->v->unk) : KEEP_OK;
        }
        if (infer__ids_push(ids, b))
            return KEEP_ERR_NOMEM;
    }
    return KEEP_OK;
}

int infer__spm_tokenize(const infer_tokenizer *t, const char *text, size_t len, int prefix_space,
                        tok_ids *ids, keep_err *err)
{
    spm_state st = {.t = t, .heap = {.size = sizeof(bigram), .before = better}};
    char *buf = NULL;
    int rc = KEEP_ERR_NOMEM;
    size_t nsp = 0;
    for (size_t i = 0; i < len; i++)
        nsp += text[i] == ' ';
    /* each space grows from 1 to 3 bytes; len <= INFER_TOK_MAX_TEXT keeps this small */
    size_t blen = len + 2 * nsp + (prefix_space ? 3 : 0);
    if (blen == 0)
        return KEEP_OK;
    buf = keep_malloc(blen);
    if (!buf)
        goto fail;
    size_t o = 0;
    if (prefix_space) {
        memcpy(buf, "\xE2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, "\xE2\x96\x81", 3);
            o += 3;
        } else {
            buf[o++] = text[i];
        }
    }
    st.s = buf;

    size_t nsym = 0;
    for (size_t i = 0; i < blen; i += char_len(buf + i, blen - i))
        nsym++;
    st.prev = keep_reallocarray(NULL, nsym, sizeof *st.prev);
    st.next = keep_reallocarray(NULL, nsym, sizeof *st.next);
    st.start = keep_reallocarray(NULL, nsym, sizeof *st.start);
    st.len = keep_reallocarray(NULL, nsym, sizeof *st.len);
    if (!st.prev || !st.next || !st.start || !st.len)
        goto fail;
    size_t k = 0;
    for (size_t i = 0; i < blen; k++) {
        size_t l = char_len(buf + i, blen - i);
        st.start[k] = (uint32_t)i;
        st.len[k] = (uint32_t)l;
        st.prev[k] = (int32_t)k - 1;
        st.next[k] = k + 1 < nsym ? (int32_t)k + 1 : -1;
        i += l;
    }
    for (size_t i = 0; i + 1 < nsym; i++)
        if (try_pair(&st, (int32_t)i, (int32_t)i + 1))
            goto fail;
    while (st.heap.n) {
        bigram b;
        infer__heap_pop(&st.heap, &b);
        int32_t l = b.left, r = b.right;
        /* stale when either side has been merged into something else since */
        if (st.len[l] == 0 || st.len[r] == 0 || st.next[l] != r ||
            st.len[l] + st.len[r] != b.size)
            continue;
        st.len[l] += st.len[r];
        st.len[r] = 0;
        st.next[l] = st.next[r];
        if (st.next[r] >= 0)
            st.prev[st.next[r]] = l;
        if (try_pair(&st, st.prev[l], l) || try_pair(&st, l, st.next[l]))
            goto fail;
    }
    for (int32_t i = 0; i >= 0; i = st.next[i])
        if (emit_symbol(t, buf + st.start[i], st.len[i], ids))
            goto fail;
    rc = KEEP_OK;
fail:
    keep_free(buf);
    keep_free(st.prev);
    keep_free(st.next);
    keep_free(st.start);
    keep_free(st.len);
    infer__heap_free(&st.heap);
    if (rc != KEEP_OK)
        return keep_err_set(err, rc, "out of memory tokenizing");
    return KEEP_OK;
}
