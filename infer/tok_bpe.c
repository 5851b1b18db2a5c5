/* tok_bpe.c — byte-level BPE ("gpt2" vocabularies: GPT-2, Llama 3, Qwen2...).
 *
 * The pre-tokenizer named by tokenizer.ggml.pre cuts the text into words with
 * the model's regular expressions (run by PCRE2 in UTF + UCP mode, JIT
 * compiled once per tokenizer); each word is mapped byte by byte to GPT-2's
 * printable alphabet and then merged pairwise, lowest merge rank first, with
 * the same heap + linked list scheme as the SentencePiece tokenizer. */
#include "infer/tok_impl.h"

#include <stdio.h>
#include <string.h>

/* Contractions, letters, digits, other symbols and whitespace runs, as the
 * tokenizer.json of each model family defines them. */
#define RE_GPT2 \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3                                                                   \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"        \
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                    \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"             \
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const struct {
    const char *name;
    const char *re[INFER_TOK_MAX_REGEX];
    int ignore_merges; /* a word that is a token as a whole is taken as is */
} pretok[] = {
    {"gpt-2", {RE_GPT2}, 0},
    {"phi-2", {RE_GPT2}, 0},
    {"roberta-bpe", {RE_GPT2}, 0},
    {"llama-bpe", {RE_LLAMA3}, 1},
    {"llama3", {RE_LLAMA3}, 1},
    {"llama-v3", {RE_LLAMA3}, 1},
    {"smaug-bpe", {RE_LLAMA3}, 0},
    {"dbrx", {RE_LLAMA3}, 0},
    {"qwen2", {RE_QWEN2}, 0},
    {"deepseek-r1-qwen", {RE_QWEN2}, 0},
};

static void *pcre_alloc(size_t n, void *data)
{
    (void)data;
    return keep_malloc(n);
}

static void pcre_free(void *p, void *data)
{
    (void)data;
    keep_free(p);
}

int infer__bpe_init(infer_tokenizer *t, keep_err *err)
{
    const char *pre = t->v->pre;
    size_t which = 0;
    int found = 0;
    for (size_t i = 0; i < sizeof pretok / sizeof pretok[0]; i++)
        if (strcmp(pretok[i].name, pre) == 0) {
            which = i;
            found = 1;
            break;
        }
    if (!found)
        snprintf(t->warning, sizeof t->warning,
                 "unknown pre-tokenizer '%.60s': using GPT-2's, tokens may differ from the model's",
                 pre[0] ? pre : "(none)");
    snprintf(t->pre, sizeof t->pre, "%s", pretok[which].name);
    t->ignore_merges = pretok[which].ignore_merges;

    t->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!t->gctx)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the pre-tokenizer");
    pcre2_compile_context *cctx = pcre2_compile_context_create(t->gctx);
    if (!cctx)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory for the pre-tokenizer");
    for (size_t i = 0; i < INFER_TOK_MAX_REGEX && pretok[which].re[i]; i++) {
        int ecode;
        PCRE2_SIZE eoff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pretok[which].re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ecode,
                                       &eoff, cctx);
        if (!re) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(ecode, msg, sizeof msg);
            pcre2_compile_context_free(cctx);
            return keep_err_set(err, ecode == PCRE2_ERROR_HEAP_FAILED ? KEEP_ERR_NOMEM
                                                                      : KEEP_ERR_INTERNAL,
                                "pre-tokenizer regex: %s at %zu", (const char *)msg,
                                (size_t)eoff);
        }
        /* JIT is an optimisation: without it (unsupported CPU) matching still works */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        t->re[t->n_re++] = re;
    }
    pcre2_compile_context_free(cctx);
    return KEEP_OK;
}

void infer__bpe_free(infer_tokenizer *t)
{
    for (size_t i = 0; i < t->n_re; i++)
        pcre2_code_free(t->re[i]);
    t->n_re = 0;
    pcre2_general_context_free(t->gctx);
    t->gctx = NULL;
}

/* ---- pre-tokenization ------------------------------------------------------------------- */

typedef struct {
    size_t off, len;
} span;

typedef struct {
    span *v;
    size_t n, cap;
} span_vec;

static int span_push(span_vec *s, size_t off, size_t len)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        span *nv = keep_reallocarray(s->v, ncap, sizeof *nv);
        if (!nv)
            return KEEP_ERR_NOMEM;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = (span){off, len};
    return KEEP_OK;
}

/* Cuts text[sp] into the regex's matches and the gaps between them (bytes the
 * regex does not match, e.g. invalid UTF-8, stay words of their own). */
static int split_one(const pcre2_code *re, pcre2_match_data *md, const char *text, span sp,
                     span_vec *out, keep_err *err)
{
    PCRE2_SPTR subj = (PCRE2_SPTR)(text + sp.off);
    size_t pos = 0, gap = 0;
    while (pos < sp.len) {
        int rc = pcre2_match(re, subj, sp.len, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(re, subj, sp.len, pos, PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return keep_err_set(err, rc == PCRE2_ERROR_NOMEMORY ? KEEP_ERR_NOMEM : KEEP_ERR_INTERNAL,
                                "pre-tokenizer: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
            /* an empty match makes no word: step over one character */
            pos = ms + 1;
            while (pos < sp.len && (subj[pos] & 0xC0) == 0x80)
                pos++;
            continue;
        }
        if (ms > gap && span_push(out, sp.off + gap, ms - gap))
            goto nomem;
        if (span_push(out, sp.off + ms, me - ms))
            goto nomem;
        pos = gap = me;
    }
    if (gap < sp.len && span_push(out, sp.off + gap, sp.len - gap))
        goto nomem;
    return KEEP_OK;
nomem:
    return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory pre-tokenizing");
}

static int pre_tokenize(const infer_tokenizer *t, const char *text, size_t len, span_vec *words,
                        keep_err *err)
{
    span_vec cur = {0}, next = {0};
    int rc;
    pcre2_match_data *md = NULL;
    if (span_push(&cur, 0, len))
        goto nomem;
    for (size_t r = 0; r < t->n_re; r++) {
        if (!md && !(md = pcre2_match_data_create_from_pattern(t->re[r], t->gctx)))
            goto nomem;
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++)
            if ((rc = split_one(t->re[r], md, text, cur.v[i], &next, err)) != KEEP_OK)
                goto fail;
        span_vec tmp = cur;
        cur = next;
        next = tmp;
    }
    pcre2_match_data_free(md);
    keep_free(next.v);
    *words = cur;
    return KEEP_OK;
nomem:
    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory pre-tokenizing");
fail:
    pcre2_match_data_free(md);
    keep_free(cur.v);
    keep_free(next.v);
    return rc;
}

/* ---- merging ------------------------------------------------------------------------------- */

typedef struct {
    int32_t rank;
    int32_t left, right;
    uint32_t size;
} pair;

typedef struct {
    const infer_tokenizer *t;
    char *w; /* the word in GPT-2's alphabet */
    size_t wcap;
    int32_t *prev, *next;
    uint32_t *start, *len;
    size_t symcap;
    infer__heap heap;
} bpe_state;

static int pair_before(const void *va, const void *vb)
{
    const pair *a = va, *b = vb;
    if (a->rank != b->rank)
        return a->rank < b->rank;
    return a->left < b->left;
}

static int try_pair(bpe_state *st, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return KEEP_OK;
    int32_t rank = infer__merge_lookup(st->t, st->w + st->start[l], st->len[l], st->len[r]);
    if (rank < 0)
        return KEEP_OK;
    pair p = {rank, l, r, st->len[l] + st->len[r]};
    return infer__heap_push(&st->heap, &p);
}

/* Grows every scratch array of st for a word of n bytes (<= 2n alphabet bytes). */
static int bpe_reserve(bpe_state *st, size_t n)
{
    if (2 * n > st->wcap) {
        char *nw = keep_realloc(st->w, 2 * n);
        if (!nw)
            return KEEP_ERR_NOMEM;
        st->w = nw;
        st->wcap = 2 * n;
    }
    if (n > st->symcap) {
        int32_t *p = keep_reallocarray(st->prev, n, sizeof *p);
        if (!p)
            return KEEP_ERR_NOMEM;
        st->prev = p;
        int32_t *q = keep_reallocarray(st->next, n, sizeof *q);
        if (!q)
            return KEEP_ERR_NOMEM;
        st->next = q;
        uint32_t *s = keep_reallocarray(st->start, n, sizeof *s);
        if (!s)
            return KEEP_ERR_NOMEM;
        st->start = s;
        uint32_t *l = keep_reallocarray(st->len, n, sizeof *l);
        if (!l)
            return KEEP_ERR_NOMEM;
        st->len = l;
        st->symcap = n;
    }
    return KEEP_OK;
}

/* GPT-2's alphabet: printable Latin-1 bytes are themselves, the other 68
 * bytes become U+0100.. in order. Writes the UTF-8 of byte b's character. */
static size_t byte_char(unsigned b, char *out)
{
    unsigned cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))
        cp = b;
    else if (b <= 32)
        cp = 256 + b;
    else if (b <= 160)
        cp = 256 + 33 + (b - 127);
    else
        cp = 256 + 33 + 34; /* 173 */
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static int bpe_word(bpe_state *st, const char *word, size_t n, tok_ids *ids)
{
    const infer_tokenizer *t = st->t;
    if (n == 0)
        return KEEP_OK;
    if (bpe_reserve(st, n))
        return KEEP_ERR_NOMEM;
    size_t wl = 0;
    for (size_t i = 0; i < n; i++) {
        st->start[i] = (uint32_t)wl;
        st->len[i] = (uint32_t)byte_char((unsigned char)word[i], st->w + wl);
        wl += st->len[i];
        st->prev[i] = (int32_t)i - 1;
        st->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    if (t->ignore_merges) {
        int32_t id = infer__tok_lookup(t, st->w, wl);
        if (id >= 0)
            return infer__ids_push(ids, id);
    }
    st->heap.n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (try_pair(st, (int32_t)i, (int32_t)i + 1))
            return KEEP_ERR_NOMEM;
    while (st->heap.n) {
        pair p;
        infer__heap_pop(&st->heap, &p);
        int32_t l = p.left, r = p.right;
        if (st->len[l] == 0 || st->len[r] == 0 || st->next[l] != r ||
            st->len[l] + st->len[r] != p.size)
            continue;
        st->len[l] += st->len[r];
        st->len[r] = 0;
        st->next[l] = st->next[r];
        if (st->next[r] >= 0)
            st->prev[st->next[r]] = l;
        if (try_pair(st, st->prev[l], l) || try_pair(st, l, st->next[l]))
            return KEEP_ERR_NOMEM;
    }
    for (int32_t i = 0; i >= 0; i = st->next[i]) {
        int32_t id = infer__tok_lookup(t, st->w + st->start[i], st->len[i]);
        if (id >= 0) {
            if (infer__ids_push(ids, id))
                return KEEP_ERR_NOMEM;
            continue;
        }
        /* a merge produced a string that is not a token (a vocabulary cut
         * short): fall back to the tokens of its single bytes */
        const char *s = st->w + st->start[i];
        for (size_t k = 0; k < st->len[i];) {
            size_t cl = infer__utf8_len((unsigned char)s[k]);
            if (cl > st->len[i] - k)
                cl = st->len[i] - k;
            int32_t bid = infer__tok_lookup(t, s + k, cl);
            if (bid < 0)
                bid = t->v->unk;
            if (bid >= 0 && infer__ids_push(ids, bid))
                return KEEP_ERR_NOMEM;
            k += cl;
        }
    }
    return KEEP_OK;
}

int infer__bpe_tokenize(const infer_tokenizer *t, const char *text, size_t len, tok_ids *ids,
                        keep_err *err)
{
    span_vec words = {0};
    bpe_state st = {.t = t, .heap = {.size = sizeof(pair), .before = pair_before}};
    int rc = pre_tokenize(t, text, len, &words, err);
    if (rc != KEEP_OK)
        return rc;
    for (size_t i = 0; i < words.n; i++)
        if (bpe_word(&st, text + words.v[i].off, words.v[i].len, ids)) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory tokenizing");
            break;
        }
    keep_free(words.v);
    keep_free(st.w);
    keep_free(st.prev);
    keep_free(st.next);
    keep_free(st.start);
    keep_free(st.len);
    infer__heap_free(&st.heap);
    return rc;
}
