/* tok_wpm.c — WordPiece ("bert" vocabularies, e.g. bge / MiniLM).
 *
 * BERT's basic tokenization first: control characters dropped, whitespace
 * separates words, letters lower-cased and accents removed (canonical
 * decomposition by utf8proc, then combining marks Mn dropped), and every
 * punctuation mark and CJK ideograph becomes a word of its own. Each word is
 * then cut greedily into the longest vocabulary pieces from the left; a word
 * with a remainder no piece matches (or longer than 100 characters) is the
 * unknown token as a whole. */
#include "infer/tok_impl.h"

#include <string.h>
#include <utf8proc.h>

#define WPM_MAX_WORD_CHARS 100

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_space(int32_t c, utf8proc_category_t cat)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || cat == UTF8PROC_CATEGORY_ZS;
}

static int is_punct(int32_t c, utf8proc_category_t cat)
{
    /* BERT counts every non-alphanumeric ASCII symbol ($, +, ^, `...) as punctuation */
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

typedef struct {
    const infer_tokenizer *t;
    char *w; /* the current word, after the U+2581 prefix when the vocab uses it */
    size_t n, cap;
    size_t prefix; /* bytes of the prefix */
    size_t chars;
    tok_ids *ids;
} wpm_state;

static int word_put(wpm_state *st, int32_t c)
{
    if (st->n + 4 > st->cap) {
        size_t ncap = st->cap * 2;
        char *nw = keep_realloc(st->w, ncap);
        if (!nw)
            return KEEP_ERR_NOMEM;
        st->w = nw;
        st->cap = ncap;
    }
    st->n += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)st->w + st->n);
    st->chars++;
    return KEEP_OK;
}

/* Greedy longest-match of the word in st->w, then reset the word. */
static int word_end(wpm_state *st)
{
    const infer_tokenizer *t = st->t;
    int rc = KEEP_OK;
    if (st->n == st->prefix)
        return KEEP_OK;
    size_t mark = st->ids->n;
    if (st->chars > WPM_MAX_WORD_CHARS)
        goto unknown;
    if (t->wpm_phantom_space) {
        /* pieces: "▁word-start" then bare continuations */
        for (size_t i = 0; i < st->n;) {
            size_t j = st->n - i > t->max_token_len ? i + t->max_token_len : st->n;
            int32_t id = -1;
            for (; j > i; j--)
                if ((id = infer__tok_lookup(t, st->w + i, j - i)) >= 0)
                    break;
            if (id < 0)
                goto unknown;
            if ((rc = infer__ids_push(st->ids, id)))
                goto out;
            i = j;
        }
    } else {
        /* BERT's own vocab.txt: bare word start, "##" continuations */
        char piece[INFER_VOCAB_MAX_TOKEN_BYTES + 2];
        for (size_t i = 0; i < st->n;) {
            size_t j = st->n - i > t->max_token_len ? i + t->max_token_len : st->n;
            int32_t id = -1;
            for (; j > i; j--) {
                if (i == 0) {
                    id = infer__tok_lookup(t, st->w, j);
                } else if (j - i + 2 <= sizeof piece) {
                    piece[0] = piece[1] = '#';
                    memcpy(piece + 2, st->w + i, j - i);
                    id = infer__tok_lookup(t, piece, j - i + 2);
                }
                if (id >= 0)
                    break;
            }
            if (id < 0)
                goto unknown;
            if ((rc = infer__ids_push(st->ids, id)))
                goto out;
            i = j;
        }
    }
    goto out;
unknown:
    st->ids->n = mark;
    if (t->v->unk >= 0)
        rc = infer__ids_push(st->ids, t->v->unk);
out:
    st->n = st->prefix;
    st->chars = 0;
    return rc;
}

static int handle_cp(wpm_state *st, int32_t c)
{
    utf8proc_category_t cat = utf8proc_category(c);
    if (is_space(c, cat))
        return word_end(st);
    if (c == 0 || c == 0xFFFD || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF)
        return KEEP_OK;
    if (cat == UTF8PROC_CATEGORY_MN)
        return KEEP_OK; /* accent of a decomposed letter */
    if (is_punct(c, cat) || is_cjk(c)) {
        int rc = word_end(st);
        if (rc == KEEP_OK)
            rc = word_put(st, c);
        if (rc == KEEP_OK)
            rc = word_end(st);
        return rc;
    }
    return word_put(st, utf8proc_tolower(c));
}

int infer__wpm_tokenize(const infer_tokenizer *t, const char *text, size_t len, tok_ids *ids,
                        keep_err *err)
{
    wpm_state st = {.t = t, .ids = ids, .cap = 256};
    st.w = keep_malloc(st.cap);
    if (!st.w)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory tokenizing");
    if (t->wpm_phantom_space) {
        memcpy(st.w, "\xE2\x96\x81", 3);
        st.prefix = st.n = 3;
    }
    int rc = KEEP_OK;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    for (size_t i = 0; i < len && rc == KEEP_OK;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
        if (l <= 0) {
            i++; /* invalid byte: dropped, like U+FFFD */
            continue;
        }
        i += (size_t)l;
        utf8proc_int32_t dec[8];
        utf8proc_ssize_t nd = utf8proc_decompose_char(c, dec, 8, UTF8PROC_DECOMPOSE, NULL);
        if (nd < 0 || nd > 8) {
            rc = handle_cp(&st, c);
            continue;
        }
        for (utf8proc_ssize_t k = 0; k < nd && rc == KEEP_OK; k++)
            rc = handle_cp(&st, dec[k]);
    }
    if (rc == KEEP_OK)
        rc = word_end(&st);
    keep_free(st.w);
    if (rc != KEEP_OK)
        return keep_err_set(err, rc, "out of memory tokenizing");
    return KEEP_OK;
}
