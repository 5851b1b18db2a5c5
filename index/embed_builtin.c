/* embed_builtin.c — the built-in embedder: latent semantic analysis learned
 * from the operator's own chunks, so Keep ranks by meaning with no model file.
 *
 * Learning: a sample of the chunks (at most BI_MAX_TRAIN) becomes a sparse
 * term x chunk matrix with log-tf x idf weights (columns L2-normalised); a
 * randomized SVD (range finder with power iterations, then an eigen-
 * decomposition of the small projected Gram matrix, LAPACK/BLAS doing the
 * dense work) gives the top singular vectors U_k and values s_k. A term's
 * vector is its row of U_k scaled by s_k^BI_SIGMA_POWER; a text's embedding
 * is the idf-weighted sum of its terms' vectors, L2-normalised ("folding in").
 * Vocabulary, idf and projection are stored in SQLite (embed_models), so the
 * space is fixed until the next learning: folding in new chunks never moves
 * the vectors of the old ones. The caller re-learns when the corpus has
 * doubled since the last learning (idx_builtin_needs_learning).
 *
 * Tokens: lower-cased letter/digit runs, English stop words dropped, a light
 * English suffix stemmer, at most BI_MAX_TOKEN_BYTES bytes each. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "store_int.h"

#define BI_KIND "lsa1"
#define BI_MAX_TOKEN_BYTES 48
#define BI_MAX_TRAIN 40000      /* chunks sampled to learn the space */
#define BI_MAX_TERMS 60000      /* vocabulary cap (most frequent first) */
#define BI_MAX_DIM 256
#define BI_OVERSAMPLE 16
#define BI_POWER_ITERS 2
#define BI_MAX_TEXT_TOKENS 20000 /* longer texts: the rest is ignored */
#define BI_SIGMA_POWER 0.0

/* ---- LAPACK / BLAS (linked for FAISS) ---------------------------------------- */
extern void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau,
                    float *work, const int *lwork, int *info);
extern void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
                    const float *tau, float *work, const int *lwork, int *info);
extern void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                   const float *alpha, const float *a, const int *lda, const float *b,
                   const int *ldb, const float *beta, float *c, const int *ldc);
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info);

/* ---- tokens ------------------------------------------------------------------- */

static const char *const bi_stop[] = {
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "been", "before", "being", "below", "between", "both", "but", "by", "can",
    "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my",
    "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
    "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
};

static int bi_is_stop(const char *w)
{
    size_t lo = 0, hi = sizeof bi_stop / sizeof bi_stop[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(w, bi_stop[mid]);
        if (!c)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

static int is_vowel(const char *w, size_t i)
{
    switch (w[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u':
        return 1;
    case 'y':
        return i > 0 && !is_vowel(w, i - 1);
    default:
        return 0;
    }
}

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_vowel(w, i))
            return 1;
    return 0;
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t m = strlen(suf);
    return n > m && memcmp(w + n - m, suf, m) == 0;
}

/* A light English stemmer (plural, -ed/-ing, a few derivational suffixes):
 * enough to conflate "flows/flowing/flowed", cheap and predictable. Only
 * applied to ASCII letters; w is modified in place, the new length returned. */
static size_t bi_stem(char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return n;
    if (n <= 3)
        return n;
    if (ends(w, n, "sses"))
        n -= 2;
    else if (ends(w, n, "ies"))
        n -= 2, w[n - 1] = 'y';
    else if (w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i')
        n -= 1;
    int cut = 0;
    if (ends(w, n, "eed")) {
        if (n > 4)
            n -= 1;
    } else if (ends(w, n, "ed") && has_vowel(w, n - 2)) {
        n -= 2, cut = 1;
    } else if (ends(w, n, "ing") && has_vowel(w, n - 3) && n > 5) {
        n -= 3, cut = 1;
    }
    if (cut) {
        if (ends(w, n + 1, "at") || ends(w, n + 1, "bl") || ends(w, n + 1, "iz")) {
            w[n++] = 'e';
        } else if (n >= 2 && w[n - 1] == w[n - 2] && !is_vowel(w, n - 1) && w[n - 1] != 'l' &&
                   w[n - 1] != 's' && w[n - 1] != 'z') {
            n--;
        }
    }
    static const struct { const char *from, *to; } rules[] = {
        {"ational", "ate"}, {"tional", "tion"}, {"ization", "ize"}, {"ation", "ate"},
        {"fulness", "ful"}, {"iveness", "ive"}, {"ousness", "ous"}, {"ness", ""},
        {"ically", "ic"},   {"ally", "al"},     {"ly", ""},         {"ment", ""},
    };
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        size_t fl = strlen(rules[r].from), tl = strlen(rules[r].to);
        if (ends(w, n, rules[r].from) && n - fl + tl >= 3) {
            memcpy(w + n - fl, rules[r].to, tl);
            n = n - fl + tl;
            break;
        }
    }
    return n;
}

typedef int (*bi_token_fn)(void *ud, const char *tok, size_t n);

/* Calls fn for each token of text (at most max_tokens); stops when fn returns
 * non-zero and returns that value. */
static int bi_tokenize(const char *text, size_t len, size_t max_tokens, bi_token_fn fn, void *ud)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    char tok[BI_MAX_TOKEN_BYTES + 8];
    size_t tn = 0, count = 0, i = 0;
    int too_long = 0;
    while (i <= len && count < max_tokens) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t l = 1;
        int word = 0;
        if (i < len) {
            l = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
            if (l <= 0)
                l = 1, cp = -1;
            else {
                utf8proc_category_t c = utf8proc_category(cp);
                word = (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
                       c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_MN;
            }
        }
        if (word) {
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t el = utf8proc_encode_char(utf8proc_tolower(cp), enc);
            if (tn + (size_t)el <= BI_MAX_TOKEN_BYTES) {
                memcpy(tok + tn, enc, (size_t)el);
                tn += (size_t)el;
            } else {
                too_long = 1;
            }
        } else if (tn) {
            tok[tn] = '\0';
            if (!too_long && !(tn == 1 && tok[0] >= 'a' && tok[0] <= 'z') && !bi_is_stop(tok)) {
                size_t sn = bi_stem(tok, tn);
                tok[sn] = '\0';
                count++;
                int rc = fn(ud, tok, sn);
                if (rc)
                    return rc;
            }
            tn = 0;
            too_long = 0;
        }
        i += (size_t)l;
    }
    return 0;
}

/* ---- string -> id hash table --------------------------------------------------- */

typedef struct {
    char **keys;   /* owned */
    uint32_t *ids; /* UINT32_MAX = empty */
    size_t cap, n;
} bi_map;

static uint64_t bi_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void bi_map_free(bi_map *m)
{
    if (m->keys)
        for (size_t i = 0; i < m->cap; i++)
            keep_free(m->keys[i]);
    keep_free(m->keys);
    keep_free(m->ids);
    memset(m, 0, sizeof *m);
}

static int bi_map_init(bi_map *m, size_t expected)
{
    size_t cap = 64;
    while (cap < expected * 2 + 2)
        cap *= 2;
    m->keys = keep_calloc(cap, sizeof *m->keys);
    m->ids = keep_malloc(cap * sizeof *m->ids);
    if (!m->keys || !m->ids) {
        bi_map_free(m);
        return KEEP_ERR_NOMEM;
    }
    memset(m->ids, 0xff, cap * sizeof *m->ids);
    m->cap = cap;
    m->n = 0;
    return KEEP_OK;
}

/* Index of the cell holding s, or of the empty cell where it would go. */
static size_t bi_map_cell(const bi_map *m, const char *s, size_t n)
{
    size_t i = (size_t)bi_hash(s, n) & (m->cap - 1);
    while (m->ids[i] != UINT32_MAX && !(strlen(m->keys[i]) == n && memcmp(m->keys[i], s, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static uint32_t bi_map_get(const bi_map *m, const char *s, size_t n)
{
    return m->cap ? m->ids[bi_map_cell(m, s, n)] : UINT32_MAX;
}

static int bi_map_grow(bi_map *m)
{
    bi_map nm;
    if (bi_map_init(&nm, m->cap))
        return KEEP_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->ids[i] == UINT32_MAX)
            continue;
        size_t c = bi_map_cell(&nm, m->keys[i], strlen(m->keys[i]));
        nm.keys[c] = m->keys[i];
        nm.ids[c] = m->ids[i];
        m->keys[i] = NULL;
    }
    nm.n = m->n;
    bi_map_free(m);
    *m = nm;
    return KEEP_OK;
}

/* Inserts s with id when absent; *id receives the stored id. */
static int bi_map_put(bi_map *m, const char *s, size_t n, uint32_t id, uint32_t *out)
{
    if ((m->n + 1) * 2 > m->cap && bi_map_grow(m))
        return KEEP_ERR_NOMEM;
    size_t c = bi_map_cell(m, s, n);
    if (m->ids[c] == UINT32_MAX) {
        if (!(m->keys[c] = keep_strndup(s, n)))
            return KEEP_ERR_NOMEM;
        m->ids[c] = id;
        m->n++;
    }
    *out = m->ids[c];
    return KEEP_OK;
}

/* ---- the model ------------------------------------------------------------------- */

typedef struct {
    idx_embedder base;
    char name[64];
    size_t dim, n_terms;
    bi_map vocab;
    float *idf;  /* n_terms */
    float *proj; /* n_terms x dim, row-major */
} bi_model;

typedef struct {
    const bi_map *vocab;
    uint32_t *ids;
    size_t n, cap;
    int oom;
} bi_collect;

static int collect_known(void *ud, const char *tok, size_t n)
{
    bi_collect *c = ud;
    uint32_t id = bi_map_get(c->vocab, tok, n);
    if (id == UINT32_MAX)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint32_t *v = keep_reallocarray(c->ids, cap, sizeof *v);
        if (!v) {
            c->oom = 1;
            return 1;
        }
        c->ids = v;
        c->cap = cap;
    }
    c->ids[c->n++] = id;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int bi_embed(idx_embedder *e, const char *const *texts, size_t n, int is_query, float *out,
                    keep_err *err)
{
    (void)is_query; /* one space for queries and passages */
    bi_model *m = (bi_model *)e;
    bi_collect c = {&m->vocab, NULL, 0, 0, 0};
    for (size_t t = 0; t < n; t++) {
        float *v = out + t * m->dim;
        memset(v, 0, m->dim * sizeof *v);
        c.n = 0;
        const char *text = texts[t] ? texts[t] : "";
        bi_tokenize(text, strlen(text), BI_MAX_TEXT_TOKENS, collect_known, &c);
        if (c.oom) {
            keep_free(c.ids);
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        }
        if (c.n > 1)
            qsort(c.ids, c.n, sizeof *c.ids, cmp_u32);
        for (size_t i = 0; i < c.n;) {
            size_t j = i;
            while (j < c.n && c.ids[j] == c.ids[i])
                j++;
            float w = (1.0f + logf((float)(j - i))) * m->idf[c.ids[i]];
            const float *row = m->proj + (size_t)c.ids[i] * m->dim;
            for (size_t d = 0; d < m->dim; d++)
                v[d] += w * row[d];
            i = j;
        }
        double norm = 0;
        for (size_t d = 0; d < m->dim; d++)
            norm += (double)v[d] * v[d];
        if (norm > 0) {
            float inv = (float)(1.0 / sqrt(norm));
            for (size_t d = 0; d < m->dim; d++)
                v[d] *= inv;
        }
    }
    keep_free(c.ids);
    return KEEP_OK;
}

static void bi_free(idx_embedder *e)
{
    bi_model *m = (bi_model *)e;
    if (!m)
        return;
    bi_map_free(&m->vocab);
    keep_free(m->idf);
    keep_free(m->proj);
    keep_free(m);
}

void idx_embedder_free(idx_embedder *e)
{
    if (e && e->free)
        e->free(e);
}

int idx_builtin_open(idx_store *s, idx_embedder **out, keep_err *err)
{
    *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, dim, n_terms, terms, idf, proj, trained_chunks FROM embed_models"
                           " WHERE kind = '" BI_KIND "' ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading the embedding model");
    int rc = KEEP_OK;
    bi_model *m = NULL;
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no built-in embedding model learned yet");
        goto done;
    }
    if (step != SQLITE_ROW) {
        rc = idx__db_error(s, err, "reading the embedding model");
        goto done;
    }
    int64_t id = sqlite3_column_int64(st, 0), dim = sqlite3_column_int64(st, 1),
            nt = sqlite3_column_int64(st, 2);
    const char *terms = sqlite3_column_blob(st, 3);
    size_t terms_len = (size_t)sqlite3_column_bytes(st, 3);
    const void *idf = sqlite3_column_blob(st, 4);
    size_t idf_len = (size_t)sqlite3_column_bytes(st, 4);
    const void *proj = sqlite3_column_blob(st, 5);
    size_t proj_len = (size_t)sqlite3_column_bytes(st, 5);
    int64_t trained = sqlite3_column_int64(st, 6);
    if (dim < 1 || dim > BI_MAX_DIM || nt < 1 || nt > BI_MAX_TERMS ||
        idf_len != (size_t)nt * sizeof(float) ||
        proj_len != (size_t)nt * (size_t)dim * sizeof(float) || !terms ||
        terms[terms_len - 1] != '\0') {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "the stored embedding model is inconsistent");
        goto done;
    }
    m = keep_calloc(1, sizeof *m);
    if (!m || bi_map_init(&m->vocab, (size_t)nt))
        goto oom;
    m->dim = (size_t)dim;
    m->n_terms = (size_t)nt;
    m->idf = keep_malloc(idf_len);
    m->proj = keep_malloc(proj_len);
    if (!m->idf || !m->proj)
        goto oom;
    memcpy(m->idf, idf, idf_len);
    memcpy(m->proj, proj, proj_len);
    size_t off = 0;
    for (uint32_t t = 0; t < (uint32_t)nt; t++) {
        if (off >= terms_len) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "the stored vocabulary is truncated");
            goto done;
        }
        size_t l = strlen(terms + off);
        uint32_t got;
        if (bi_map_put(&m->vocab, terms + off, l, t, &got))
            goto oom;
        off += l + 1;
    }
    for (size_t i = 0; i < m->n_terms * m->dim; i++)
        if (!isfinite(m->proj[i])) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "the stored embedding model is corrupt");
            goto done;
        }
    snprintf(m->name, sizeof m->name, "builtin-" BI_KIND ":%lld", (long long)id);
    m->base.name = m->name;
    m->base.dim = m->dim;
    m->base.max_tokens = BI_MAX_TEXT_TOKENS;
    m->base.embed = bi_embed;
    m->base.learned_from = (size_t)(trained > 0 ? trained : 1);
    m->base.free = bi_free;
    *out = &m->base;
    m = NULL;
    goto done;
oom:
    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
done:
    sqlite3_finalize(st);
    if (m)
        bi_free(&m->base);
    return rc;
}

/* ---- learning ----------------------------------------------------------------------- */

typedef struct {
    uint32_t term;
    float w;
} bi_entry;

typedef struct {
    bi_map terms;     /* all terms seen */
    uint32_t *df;     /* per term id */
    size_t df_cap;
    uint32_t *doc_terms; /* token ids of the current doc (scratch) */
    size_t dt_n, dt_cap;
    /* documents as (term, tf) lists */
    bi_entry *ent;
    size_t n_ent, cap_ent;
    size_t *doc_off; /* n_docs + 1 */
    size_t n_docs, cap_docs;
    int oom;
} bi_learn;

static int learn_token(void *ud, const char *tok, size_t n)
{
    bi_learn *L = ud;
    uint32_t id;
    if (bi_map_put(&L->terms, tok, n, (uint32_t)L->terms.n, &id))
        goto oom;
    if (id >= L->df_cap) {
        size_t cap = L->df_cap ? L->df_cap * 2 : 4096;
        uint32_t *d = keep_reallocarray(L->df, cap, sizeof *d);
        if (!d)
            goto oom;
        memset(d + L->df_cap, 0, (cap - L->df_cap) * sizeof *d);
        L->df = d;
        L->df_cap = cap;
    }
    if (L->dt_n == L->dt_cap) {
        size_t cap = L->dt_cap ? L->dt_cap * 2 : 512;
        uint32_t *d = keep_reallocarray(L->doc_terms, cap, sizeof *d);
        if (!d)
            goto oom;
        L->doc_terms = d;
        L->dt_cap = cap;
    }
    L->doc_terms[L->dt_n++] = id;
    return 0;
oom:
    L->oom = 1;
    return 1;
}

static int learn_doc(bi_learn *L, const char *text)
{
    L->dt_n = 0;
    bi_tokenize(text, strlen(text), BI_MAX_TEXT_TOKENS, learn_token, L);
    if (L->oom)
        return KEEP_ERR_NOMEM;
    if (L->dt_n > 1)
        qsort(L->doc_terms, L->dt_n, sizeof *L->doc_terms, cmp_u32);
    if (L->n_docs + 2 > L->cap_docs) {
        size_t cap = L->cap_docs ? L->cap_docs * 2 : 1024;
        size_t *d = keep_reallocarray(L->doc_off, cap, sizeof *d);
        if (!d)
            return KEEP_ERR_NOMEM;
        L->doc_off = d;
        L->cap_docs = cap;
    }
    if (L->n_docs == 0)
        L->doc_off[0] = 0;
    for (size_t i = 0; i < L->dt_n;) {
        size_t j = i;
        while (j < L->dt_n && L->doc_terms[j] == L->doc_terms[i])
            j++;
        if (L->n_ent == L->cap_ent) {
            size_t cap = L->cap_ent ? L->cap_ent * 2 : 65536;
            bi_entry *e = keep_reallocarray(L->ent, cap, sizeof *e);
            if (!e)
                return KEEP_ERR_NOMEM;
            L->ent = e;
            L->cap_ent = cap;
        }
        L->ent[L->n_ent].term = L->doc_terms[i];
        L->ent[L->n_ent].w = (float)(j - i);
        L->n_ent++;
        L->df[L->doc_terms[i]]++;
        i = j;
    }
    L->n_docs++;
    L->doc_off[L->n_docs] = L->n_ent;
    return KEEP_OK;
}

static void learn_free(bi_learn *L)
{
    bi_map_free(&L->terms);
    keep_free(L->df);
    keep_free(L->doc_terms);
    keep_free(L->ent);
    keep_free(L->doc_off);
}

/* Deterministic standard normal numbers (xorshift64* + Box-Muller), so the
 * same corpus always learns the same space. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}
static float rng_normal(uint64_t *s)
{
    double u1 = ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Orthonormalises the columns of a (rows x cols, column-major) in place. */
static int orthonormalize(float *a, int rows, int cols)
{
    int info = 0, lwork = -1;
    float wq;
    float *tau = keep_malloc((size_t)cols * sizeof *tau);
    if (!tau)
        return KEEP_ERR_NOMEM;
    sgeqrf_(&rows, &cols, a, &rows, tau, &wq, &lwork, &info);
    lwork = (int)wq + 1;
    float wq2;
    int lw2 = -1;
    sorgqr_(&rows, &cols, &cols, a, &rows, tau, &wq2, &lw2, &info);
    if ((int)wq2 + 1 > lwork)
        lwork = (int)wq2 + 1;
    float *work = keep_malloc((size_t)lwork * sizeof *work);
    if (!work) {
        keep_free(tau);
        return KEEP_ERR_NOMEM;
    }
    sgeqrf_(&rows, &cols, a, &rows, tau, work, &lwork, &info);
    if (!info)
        sorgqr_(&rows, &cols, &cols, a, &rows, tau, work, &lwork, &info);
    keep_free(work);
    keep_free(tau);
    return info ? KEEP_ERR_INTERNAL : KEEP_OK;
}

/* y (V x l, column-major) = A x (N x l, column-major), A sparse by column. */
static void mul_a(const bi_learn *L, const float *x, float *y, size_t V, size_t N, size_t l)
{
    memset(y, 0, V * l * sizeof *y);
    for (size_t j = 0; j < l; j++) {
        float *yj = y + j * V;
        const float *xj = x + j * N;
        for (size_t d = 0; d < N; d++) {
            float xd = xj[d];
            for (size_t e = L->doc_off[d]; e < L->doc_off[d + 1]; e++)
                yj[L->ent[e].term] += L->ent[e].w * xd;
        }
    }
}

/* z (N x l, column-major) = A^T q (q: V x l, column-major). */
static void mul_at(const bi_learn *L, const float *q, float *z, size_t V, size_t N, size_t l)
{
    for (size_t j = 0; j < l; j++) {
        const float *qj = q + j * V;
        float *zj = z + j * N;
        for (size_t d = 0; d < N; d++) {
            float acc = 0;
            for (size_t e = L->doc_off[d]; e < L->doc_off[d + 1]; e++)
                acc += L->ent[e].w * qj[L->ent[e].term];
            zj[d] = acc;
        }
    }
}

/* Stores the learned model and returns its id. */
static int store_model(idx_store *s, const bi_learn *L, const uint32_t *keep_ids, size_t V,
                       const float *idf, const float *proj, size_t dim, size_t trained_chunks,
                       int64_t *model_id, keep_err *err)
{
    keep_buf terms = {0};
    int rc = KEEP_OK;
    /* keep_ids[new] = old id (ascending); names come from the map */
    char **names = keep_calloc(V ? V : 1, sizeof *names);
    if (!names)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < L->terms.cap; c++) {
        if (L->terms.ids[c] == UINT32_MAX)
            continue;
        uint32_t old = L->terms.ids[c];
        for (size_t lo = 0, hi = V; lo < hi;) {
            size_t mid = (lo + hi) / 2;
            if (keep_ids[mid] == old) {
                names[mid] = L->terms.keys[c];
                break;
            }
            if (keep_ids[mid] < old)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    for (size_t t = 0; t < V && !rc; t++)
        rc = keep_buf_append(&terms, names[t], strlen(names[t]) + 1);
    keep_free(names);
    if (rc) {
        keep_buf_free(&terms);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO embed_models(kind, dim, n_terms, trained_chunks, created_at,"
                           " terms, idf, proj) VALUES ('" BI_KIND "', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &st, NULL) != SQLITE_OK) {
        keep_buf_free(&terms);
        return idx__db_error(s, err, "storing the embedding model");
    }
    sqlite3_bind_int64(st, 1, (int64_t)dim);
    sqlite3_bind_int64(st, 2, (int64_t)V);
    sqlite3_bind_int64(st, 3, (int64_t)trained_chunks);
    sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
    sqlite3_bind_blob64(st, 5, terms.data, terms.len, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 6, idf, V * sizeof *idf, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 7, proj, V * dim * sizeof *proj, SQLITE_STATIC);
    if (idx__exec(s, "BEGIN IMMEDIATE", err) == KEEP_OK) {
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = idx__db_error(s, err, "storing the embedding model");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            *model_id = sqlite3_last_insert_rowid(s->db);
            /* older models are no longer needed */
            char sql[160];
            snprintf(sql, sizeof sql, "DELETE FROM embed_models WHERE kind = '" BI_KIND
                                      "' AND id < %lld; COMMIT", (long long)*model_id);
            rc = idx__exec(s, sql, err);
            if (rc)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
    } else {
        rc = KEEP_ERR_DB;
    }
    sqlite3_finalize(st);
    keep_buf_free(&terms);
    return rc;
}

static size_t count_chunks(idx_store *s)
{
    sqlite3_stmt *st;
    size_t n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM chunks", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int idx_builtin_needs_learning(idx_store *s, int *needed, keep_err *err)
{
    *needed = 0;
    size_t n = count_chunks(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT trained_chunks FROM embed_models WHERE kind = '" BI_KIND
                           "' ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading the embedding model");
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        size_t trained = (size_t)sqlite3_column_int64(st, 0);
        *needed = n >= 2 * (trained ? trained : 1);
    } else {
        *needed = n > 0;
    }
    sqlite3_finalize(st);
    return KEEP_OK;
}

/* The text a chunk is embedded and learned from: title, heading path, body. */
const char *idx__chunk_embed_sql(void)
{
    return "COALESCE(c.title, '') || char(10) || COALESCE(c.heading, '') || char(10) || c.text";
}

int idx_builtin_learn(idx_store *s, int64_t *model_id, keep_err *err)
{
    bi_learn L;
    memset(&L, 0, sizeof L);
    float *y = NULL, *z = NULL, *idf = NULL, *proj = NULL, *U = NULL, *Wk = NULL;
    double *C = NULL, *ev = NULL, *work = NULL;
    float *Cf = NULL;
    uint32_t *keep_ids = NULL, *remap = NULL;
    int rc = KEEP_OK;
    if (bi_map_init(&L.terms, 4096))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    size_t total = count_chunks(s);
    keep_buf sql = {0};
    keep_buf_printf(&sql, "SELECT %s FROM chunks c ORDER BY c.id", idx__chunk_embed_sql());
    sqlite3_stmt *st;
    if (!sql.data || sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        keep_buf_free(&sql);
        learn_free(&L);
        return idx__db_error(s, err, "reading chunks");
    }
    keep_buf_free(&sql);
    /* systematic sample: row i is taken when it starts a new stride */
    size_t row = 0, taken = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        size_t want = total > BI_MAX_TRAIN ? (row * BI_MAX_TRAIN) / total : row;
        row++;
        if (total > BI_MAX_TRAIN && want < taken)
            continue;
        if (taken >= BI_MAX_TRAIN)
            break;
        taken++;
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (learn_doc(&L, t ? t : "")) {
            sqlite3_finalize(st);
            learn_free(&L);
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        }
    }
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        learn_free(&L);
        return idx__db_error(s, err, "reading chunks");
    }
    size_t N = L.n_docs;
    if (N == 0) {
        learn_free(&L);
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no chunks to learn from");
    }

    /* vocabulary: terms in at least two chunks (one when the corpus is tiny),
     * the most frequent first, capped */
    size_t n_all = L.terms.n, min_df = N >= 50 ? 2 : 1, V = 0;
    for (size_t t = 0; t < n_all; t++)
        V += L.df[t] >= min_df;
    if (V == 0) {
        learn_free(&L);
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no words to learn from");
    }
    keep_ids = keep_malloc(V * sizeof *keep_ids);
    remap = keep_malloc(n_all * sizeof *remap);
    if (!keep_ids || !remap)
        goto oom;
    V = 0;
    for (uint32_t t = 0; t < n_all; t++)
        if (L.df[t] >= min_df)
            keep_ids[V++] = t;
    if (V > BI_MAX_TERMS) {
        /* keep the BI_MAX_TERMS highest df: find the df threshold by counting */
        uint32_t maxdf = 0;
        for (size_t i = 0; i < V; i++)
            if (L.df[keep_ids[i]] > maxdf)
                maxdf = L.df[keep_ids[i]];
        size_t *hist = keep_calloc((size_t)maxdf + 1, sizeof *hist);
        if (!hist)
            goto oom;
        for (size_t i = 0; i < V; i++)
            hist[L.df[keep_ids[i]]]++;
        uint32_t thr = maxdf;
        size_t acc = 0;
        while (thr > 0 && acc + hist[thr] <= BI_MAX_TERMS)
            acc += hist[thr--];
        keep_free(hist);
        size_t w = 0;
        for (size_t i = 0; i < V; i++)
            if (L.df[keep_ids[i]] > thr)
                keep_ids[w++] = keep_ids[i];
        V = w;
    }
    for (size_t t = 0; t < n_all; t++)
        remap[t] = UINT32_MAX;
    for (size_t i = 0; i < V; i++)
        remap[keep_ids[i]] = (uint32_t)i;
    idf = keep_malloc(V * sizeof *idf);
    if (!idf)
        goto oom;
    for (size_t i = 0; i < V; i++)
        idf[i] = (float)log(1.0 + (double)N / L.df[keep_ids[i]]);
    /* weights in place: drop out-of-vocabulary terms, log-tf x idf, unit columns */
    {
        size_t w = 0, begin = 0;
        for (size_t d = 0; d < N; d++) {
            size_t end = L.doc_off[d + 1], start = w;
            double norm = 0;
            for (size_t x = begin; x < end; x++) {
                uint32_t nt = remap[L.ent[x].term];
                if (nt == UINT32_MAX)
                    continue;
                float v = (1.0f + logf(L.ent[x].w)) * idf[nt];
                L.ent[w].term = nt;
                L.ent[w].w = v;
                norm += (double)v * v;
                w++;
            }
            if (norm > 0)
                for (size_t x = start; x < w; x++)
                    L.ent[x].w = (float)(L.ent[x].w / sqrt(norm));
            L.doc_off[d] = start;
            begin = end;
        }
        L.doc_off[N] = w;
    }

    size_t maxrank = V < N ? V : N;
    size_t l = BI_MAX_DIM + BI_OVERSAMPLE;
    if (l > maxrank)
        l = maxrank;
    size_t k = l > BI_MAX_DIM ? BI_MAX_DIM : l;
    y = keep_malloc(V * l * sizeof *y);
    z = keep_malloc(N * l * sizeof *z);
    if (!y || !z)
        goto oom;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < N * l; i++)
        z[i] = rng_normal(&seed);
    mul_a(&L, z, y, V, N, l);
    if ((rc = orthonormalize(y, (int)V, (int)l)))
        goto fail_la;
    for (int it = 0; it < BI_POWER_ITERS; it++) {
        mul_at(&L, y, z, V, N, l);
        if ((rc = orthonormalize(z, (int)N, (int)l)))
            goto fail_la;
        mul_a(&L, z, y, V, N, l);
        if ((rc = orthonormalize(y, (int)V, (int)l)))
            goto fail_la;
    }
    /* B^T = A^T Q (N x l); C = B B^T = Z^T Z (l x l) */
    mul_at(&L, y, z, V, N, l);
    Cf = keep_malloc(l * l * sizeof *Cf);
    C = keep_malloc(l * l * sizeof *C);
    ev = keep_malloc(l * sizeof *ev);
    if (!Cf || !C || !ev)
        goto oom;
    {
        int li = (int)l, ni = (int)N;
        float one = 1, zero = 0;
        sgemm_("T", "N", &li, &li, &ni, &one, z, &ni, z, &ni, &zero, Cf, &li);
        for (size_t i = 0; i < l * l; i++)
            C[i] = Cf[i];
        int info = 0, lwork = -1;
        double wq;
        dsyev_("V", "U", &li, C, &li, ev, &wq, &lwork, &info);
        lwork = (int)wq + 1;
        work = keep_malloc((size_t)lwork * sizeof *work);
        if (!work)
            goto oom;
        dsyev_("V", "U", &li, C, &li, ev, work, &lwork, &info);
        if (info) {
            rc = keep_err_set(err, KEEP_ERR_INTERNAL, "eigen-decomposition failed (%d)", info);
            goto fail;
        }
    }
    /* eigenvalues ascend: take the last k columns, largest first */
    Wk = keep_malloc(l * k * sizeof *Wk);
    U = keep_malloc(V * k * sizeof *U);
    proj = keep_malloc(V * k * sizeof *proj);
    if (!Wk || !U || !proj)
        goto oom;
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < l; i++)
            Wk[j * l + i] = (float)C[(l - 1 - j) * l + i];
    {
        int vi = (int)V, ki = (int)k, li = (int)l;
        float one = 1, zero = 0;
        sgemm_("N", "N", &vi, &ki, &li, &one, y, &vi, Wk, &li, &zero, U, &vi);
    }
    for (size_t j = 0; j < k; j++) {
        double sv = ev[l - 1 - j] > 0 ? sqrt(ev[l - 1 - j]) : 0;
        float scale = (float)(sv > 0 ? pow(sv, BI_SIGMA_POWER) : 0);
        for (size_t t = 0; t < V; t++)
            proj[t * k + j] = U[j * V + t] * scale;
    }
    for (size_t i = 0; i < V * k; i++)
        if (!isfinite(proj[i]))
            proj[i] = 0;
    rc = store_model(s, &L, keep_ids, V, idf, proj, k, total, model_id, err);
    goto done;
fail_la:
    rc = keep_err_set(err, rc == KEEP_ERR_NOMEM ? KEEP_ERR_NOMEM : KEEP_ERR_INTERNAL,
                      rc == KEEP_ERR_NOMEM ? "out of memory" : "orthonormalisation failed");
    goto done;
oom:
    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    goto done;
fail:
done:
    learn_free(&L);
    keep_free(y);
    keep_free(z);
    keep_free(idf);
    keep_free(proj);
    keep_free(U);
    keep_free(Wk);
    keep_free(C);
    keep_free(Cf);
    keep_free(ev);
    keep_free(work);
    keep_free(keep_ids);
    keep_free(remap);
    return rc;
}
