/* search.c — query building and BM25 search over the store (see retr.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "retr.h"

struct retr_results {
    char *query;
    char *mode;
    idx_hit *hits;
    size_t n;
    double took_ms;
};

/* Words so common that they only slow FTS5 down and blur BM25. */
static const char *const stop_words[] = {
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "of", "on", "or", "that", "the", "this", "to", "was", "we", "what",
    "when", "where", "which", "who", "why", "with", "you", "our", "my", "your", "there", "their",
    "have", "has", "had", "been", "will", "would", "should", "could", "not", "no", "if", "then",
    "than", "so", "such", "its", "into", "about", "any", "all", "also", "these", "those",
};

static int is_stop_word(const char *w, size_t n)
{
    char lower[16];
    if (n >= sizeof lower)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof stop_words / sizeof stop_words[0]; i++)
        if (strcmp(lower, stop_words[i]) == 0)
            return 1;
    return 0;
}

static int is_word_cp(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_CO:
        return 1;
    default:
        return 0;
    }
}

/* Caps the expression: a pasted page of text must not become a 10,000-term
 * OR that takes seconds to evaluate. */
#define RETR_MAX_TERMS 64

int retr_fts_expression(const char *text, char **match, keep_err *err)
{
    *match = NULL;
    if (!text)
        return KEEP_OK;
    size_t len = strlen(text);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    struct { size_t off, len; } words[RETR_MAX_TERMS];
    size_t n = 0, i = 0;
    while (i < len && n < RETR_MAX_TERMS) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (l <= 0) {
            i++; /* invalid byte: a separator */
            continue;
        }
        if (!is_word_cp(cp)) {
            i += (size_t)l;
            continue;
        }
        size_t start = i;
        while (i < len) {
            l = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
            if (l <= 0 || !is_word_cp(cp))
                break;
            i += (size_t)l;
        }
        /* the same word twice adds nothing to an OR query */
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++)
            dup = words[k].len == i - start && memcmp(text + words[k].off, text + start, i - start) == 0;
        if (!dup) {
            words[n].off = start;
            words[n].len = i - start;
            n++;
        }
    }
    size_t content = 0;
    for (size_t k = 0; k < n; k++)
        content += !is_stop_word(text + words[k].off, words[k].len);
    keep_buf b = {0};
    int rc = KEEP_OK;
    for (size_t k = 0; k < n && !rc; k++) {
        if (content && is_stop_word(text + words[k].off, words[k].len))
            continue;
        if (b.len)
            rc = keep_buf_puts(&b, " OR ");
        /* a word holds no '"' by construction, so quoting is enough */
        if (!rc)
            rc = keep_buf_putc(&b, '"');
        if (!rc)
            rc = keep_buf_append(&b, text + words[k].off, words[k].len);
        if (!rc)
            rc = keep_buf_putc(&b, '"');
    }
    if (rc) {
        keep_buf_free(&b);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    *match = b.data; /* NULL when no word */
    return KEEP_OK;
}

/* Pseudo-relevance feedback on the vector side (Rocchio): the query vector
 * plus the mean vector of the best RETR_PRF_DOCS first-pass chunks (weight
 * RETR_PRF_BETA), searched again. Textbook values, not tuned. */
#define RETR_PRF_DOCS 5
#define RETR_PRF_BETA 1.0
/* Candidates fetched from each list: enough for the per-document cap and
 * merging to still leave k results. */
#define RETR_MIN_DEPTH 100
#define RETR_MAX_DEPTH 2000

typedef struct {
    int64_t doc_id;
    int omin, omax;         /* ordinals covered */
    int64_t best_chunk;
    double score;
    int64_t chunks[64];     /* chunk ids merged, at most the cap */
    size_t n_chunks;
} group_t;

typedef struct {
    int64_t chunk_id, doc_id;
    int ordinal;
    double score;
} fused_t;

static int cmp_fused(const void *a, const void *b)
{
    const fused_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

static void hit_clear(idx_hit *h)
{
    keep_free(h->path);
    keep_free(h->title);
    keep_free(h->collection);
    keep_free(h->heading);
    keep_free(h->sheet);
    keep_free(h->text);
    keep_free(h->snippet);
    memset(h, 0, sizeof *h);
}

static int cmp_fused_id(const void *a, const void *b)
{
    const fused_t *x = a, *y = b;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

/* Weight of the vector list in hybrid fusion: how far the embedder can be
 * trusted. A pretrained model: fully. A space learned from the corpus (LSA)
 * of d dimensions out of n chunks keeps d of the n degrees of freedom of the
 * chunks' term matrix: with n close to d it reproduces that matrix instead of
 * generalising from it (it learned nothing BM25 does not know, and adds
 * noise), and it is worth more the more it had to compress. So (n - d) / n:
 * 0 for a corpus no larger than the space (samples/, 187 chunks in 187
 * dimensions), 0.85 for Cranfield (1,699 chunks, 256 dimensions), above 0.99
 * from 40,000 chunks. Derived, not fitted: no query set chose it. The floor
 * keeps the vector order among chunks BM25 did not rank at all. */
#define RETR_MIN_VECTOR_WEIGHT 1e-3

static double vector_weight(const idx_embedder *e)
{
    if (!e || e->learned_from == 0)
        return 1.0;
    double n = (double)e->learned_from, d = (double)e->dim;
    double w = n > d ? (n - d) / n : 0.0;
    return w > RETR_MIN_VECTOR_WEIGHT ? w : RETR_MIN_VECTOR_WEIGHT;
}

/* Fuses two ranked lists (best first) by the sum of their z-normalised
 * scores, the second weighted by wb (with fused; a chunk absent from a list
 * gets nothing from it), else (one list) keeps its own scores. Measured on
 * Cranfield (bench/README.md), this beat reciprocal rank fusion (0.371 vs
 * 0.362 nDCG@10 before feedback): RRF throws away how far ahead the top hits
 * are. Sorted best first; caller frees *out. */
static int fuse(const idx_cand *a, size_t na, const idx_cand *b, size_t nb, int fused,
                double wb, fused_t **out, size_t *n)
{
    *n = 0;
    *out = keep_calloc(na + nb + 1, sizeof **out);
    if (!*out)
        return KEEP_ERR_NOMEM;
    fused_t *f = *out;
    size_t m = 0;
    for (int list = 0; list < 2; list++) {
        const idx_cand *c = list ? b : a;
        size_t nc = list ? nb : na;
        /* z-score normalisation puts BM25 and cosine scores on one scale */
        double mean = 0, sd = 0;
        for (size_t i = 0; i < nc; i++)
            mean += c[i].score;
        mean = nc ? mean / (double)nc : 0;
        for (size_t i = 0; i < nc; i++)
            sd += (c[i].score - mean) * (c[i].score - mean);
        sd = nc ? sqrt(sd / (double)nc) : 0;
        if (sd <= 0)
            sd = 1;
        for (size_t i = 0; i < nc; i++, m++) {
            f[m].chunk_id = c[i].chunk_id;
            f[m].doc_id = c[i].doc_id;
            f[m].ordinal = c[i].ordinal;
            f[m].score = fused ? (list ? wb : 1.0) * (c[i].score - mean) / sd : c[i].score;
        }
    }
    if (m > 1)
        qsort(f, m, sizeof *f, cmp_fused_id);
    size_t w = 0;
    for (size_t i = 0; i < m; i++) {
        if (w && f[w - 1].chunk_id == f[i].chunk_id)
            f[w - 1].score += f[i].score;
        else
            f[w++] = f[i];
    }
    if (w > 1)
        qsort(f, w, sizeof *f, cmp_fused);
    *n = w;
    return KEEP_OK;
}

/* Vector candidates: embeds the query, searches the permitted chunks. */
static int vector_candidates(idx_store *s, const retr_request *req, const idx_permitted *perm,
                             size_t depth, const idx_cand *lex, size_t n_lex, idx_cand **out,
                             size_t *n, keep_err *err)
{
    *out = NULL;
    *n = 0;
    idx_embedder *e = req->embedder;
    int rc0 = idx_vectors_sync(req->vectors, s, err);
    if (rc0)
        return rc0;
    if (idx_vectors_dim(req->vectors) != e->dim || !idx_vectors_made_by(req->vectors, e->name))
        return keep_err_set(err, KEEP_ERR_VERSION,
                            "the stored vectors were made by another embedder than %s (reopen it,"
                            " or run 'keep reindex')", e->name);
    float *q = keep_malloc(e->dim * sizeof *q);
    int64_t *ids = keep_malloc(depth * sizeof *ids);
    float *scores = keep_malloc(depth * sizeof *scores);
    idx_cand *c = NULL;
    int rc = KEEP_OK;
    size_t found = 0;
    if (!q || !ids || !scores) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *text = req->query ? req->query : "";
    if ((rc = e->embed(e, &text, 1, 1, q, err)))
        goto out;
    double norm = 0;
    for (size_t i = 0; i < e->dim; i++)
        norm += (double)q[i] * q[i];
    if (norm == 0)
        goto out; /* nothing the embedder knows: no semantic neighbours */
    if ((rc = idx_vectors_search_in(req->vectors, s, q, depth, perm, ids, scores, &found, err)))
        goto out;
    /* room for `depth`: the feedback search below may find more than the
     * first one when an ingest added vectors in between */
    c = keep_calloc(depth ? depth : 1, sizeof *c);
    if (!c) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < found; i++) {
        c[i].chunk_id = ids[i];
        c[i].score = scores[i];
    }
    /* feedback from the fused first pass in hybrid mode (the best evidence
     * there is), from the vector list alone in vector mode */
    if (found) {
        float *fb = keep_calloc(e->dim, sizeof *fb), *tmp = keep_malloc(e->dim * sizeof *tmp);
        fused_t *ff = NULL;
        size_t nff = 0, used = 0;
        if (!fb || !tmp ||
            fuse(lex, n_lex, c, found, n_lex > 0, vector_weight(e), &ff, &nff)) {
            keep_free(fb);
            keep_free(tmp);
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; used < RETR_PRF_DOCS && i < nff; i++) {
            keep_err e2;
            if (idx_chunk_vector(s, ff[i].chunk_id, tmp, e->dim, &e2) == KEEP_OK) {
                for (size_t d = 0; d < e->dim; d++)
                    fb[d] += tmp[d];
                used++;
            }
        }
        keep_free(ff);
        double nn = 0;
        for (size_t d = 0; used && d < e->dim; d++) {
            q[d] += (float)(RETR_PRF_BETA * fb[d] / (double)used);
            nn += (double)q[d] * q[d];
        }
        keep_free(fb);
        keep_free(tmp);
        if (used && nn > 0) {
            for (size_t d = 0; d < e->dim; d++)
                q[d] = (float)(q[d] / sqrt(nn));
            if ((rc = idx_vectors_search_in(req->vectors, s, q, depth, perm, ids, scores, &found,
                                            err)))
                goto out;
            for (size_t i = 0; i < found; i++) {
                c[i].chunk_id = ids[i];
                c[i].score = scores[i];
            }
        }
    }
    /* doc and ordinal; also drops a chunk deleted since the index was synced */
    if ((rc = idx_cands_locate_in(s, perm, c, &found, err)))
        goto out;
    *out = c;
    *n = found;
    c = NULL;
out:
    keep_free(q);
    keep_free(ids);
    keep_free(scores);
    keep_free(c);
    return rc;
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Same section: a passage never joins two headings, slides or sheets, so its
 * location names all of its text (a page change inside a section is fine:
 * the passage then reports a page range). */
static int same_section(const idx_hit *a, const idx_hit *b)
{
    return a->slide == b->slide && same_text(a->heading, b->heading) &&
           same_text(a->sheet, b->sheet);
}

static int cmp_hit_ordinal(const void *a, const void *b)
{
    const idx_hit *x = a, *y = b;
    return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

/* Fetches a group: one chunk, or adjacent chunks of the best chunk's section
 * merged into one passage. The group's chunks of other sections, left out of
 * the passage, go to left[] (*n_left of them; room for g->n_chunks) so they
 * become results of their own instead of vanishing. */
static int fetch_group(idx_store *s, const group_t *g, const char *match, idx_hit *h,
                       int64_t *left, size_t *n_left, keep_err *err)
{
    *n_left = 0;
    int rc = idx_hit_fetch(s, g->best_chunk, match, h, err);
    if (rc || g->n_chunks < 2)
        return rc;
    idx_hit others[64];
    size_t n = 0;
    for (size_t i = 0; i < g->n_chunks && n < 64; i++) {
        keep_err e2;
        if (g->chunks[i] != g->best_chunk && idx_hit_fetch(s, g->chunks[i], NULL, &others[n], &e2) == KEEP_OK)
            n++; /* a chunk gone since ranking is simply left out */
    }
    qsort(others, n, sizeof *others, cmp_hit_ordinal);
    /* grow outwards from the best chunk while ordinals are contiguous and the
     * section is the same */
    int lo = h->ordinal, hi = h->ordinal;
    for (int moved = 1; moved;) {
        moved = 0;
        for (size_t i = 0; i < n; i++) {
            idx_hit *o = &others[i];
            if ((o->ordinal != lo - 1 && o->ordinal != hi + 1) || !same_section(o, h))
                continue;
            h->ocr |= o->ocr;
            if (o->ordinal == lo - 1) {
                lo = o->ordinal;
                h->start = o->start;
                if (o->page_start)
                    h->page_start = o->page_start;
            } else {
                hi = o->ordinal;
                h->end = o->end;
                if (o->page_end)
                    h->page_end = o->page_end;
            }
            moved = 1;
        }
    }
    h->ordinal = lo;
    h->ordinal_end = hi;
    for (size_t i = 0; i < n; i++) {
        if (others[i].ordinal < lo || others[i].ordinal > hi)
            left[(*n_left)++] = others[i].chunk_id;
        hit_clear(&others[i]);
    }
    if (lo == hi)
        return KEEP_OK;
    char *text = NULL;
    if (idx_doc_text_range(s, h->doc_id, h->start, h->end, &text, err) == KEEP_OK && text &&
        *text) {
        keep_free(h->text);
        h->text = text;
    } else {
        keep_free(text);
        keep_err_clear(err);
    }
    return KEEP_OK;
}

int retr_search(idx_store *s, const retr_request *req, retr_results **out, keep_err *err)
{
    *out = NULL;
    double t0 = keep_now_ms();
    if (!req->as)
        return keep_err_set(err, KEEP_ERR_USAGE, "a search runs as a principal");
    int have_vectors = req->vectors && req->embedder && idx_vectors_count(req->vectors) > 0;
    const char *mode = req->mode ? req->mode : have_vectors ? RETR_MODE_HYBRID : RETR_MODE_BM25;
    int use_bm25 = strcmp(mode, RETR_MODE_BM25) == 0 || strcmp(mode, RETR_MODE_HYBRID) == 0;
    int use_vec = strcmp(mode, RETR_MODE_VECTOR) == 0 || strcmp(mode, RETR_MODE_HYBRID) == 0;
    if (!use_bm25 && !use_vec)
        return keep_err_set(err, KEEP_ERR_USAGE,
                            "unknown search mode '%s' (available: bm25, vector, hybrid)", mode);
    if (use_vec && (!req->vectors || !req->embedder))
        return keep_err_set(err, KEEP_ERR_NOTFOUND,
                            "mode '%s' needs embeddings: none are stored yet (run 'keep reindex')",
                            mode);
    size_t k = req->k ? req->k : 10;
    if (k > 1000)
        k = 1000;
    size_t depth = k * 3 < RETR_MIN_DEPTH ? RETR_MIN_DEPTH : k * 3;
    if (depth > RETR_MAX_DEPTH)
        depth = RETR_MAX_DEPTH;
    retr_results *r = keep_calloc(1, sizeof *r);
    if (!r)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    r->query = keep_strdup(req->query ? req->query : "");
    r->mode = keep_strdup(mode);
    char *match = NULL;
    idx_cand *lex = NULL, *sem = NULL;
    size_t n_lex = 0, n_sem = 0, n_f = 0, n_g = 0;
    fused_t *f = NULL;
    group_t *g = NULL;
    int rc = KEEP_OK;
    if (!r->query || !r->mode)
        goto oom;
    if ((rc = retr_fts_expression(req->query, &match, err)))
        goto fail;
    /* what the principal may read, once for both lists (borrowed from the
     * store's cache until its next permission lookup) */
    idx_permitted perm;
    if ((rc = idx_permitted_get(s, req->as, req->filter, &perm, err)))
        goto fail;
    if (use_bm25 && match &&
        (rc = idx_fts_candidates_in(s, match, &perm, NULL, depth, &lex, &n_lex, err)))
        goto fail;
    if (use_vec && (rc = vector_candidates(s, req, &perm, depth, lex, n_lex, &sem, &n_sem, err)))
        goto fail;
    if (fuse(lex, n_lex, sem, n_sem, use_bm25 && use_vec && n_lex > 0,
             use_vec ? vector_weight(req->embedder) : 1.0, &f, &n_f))
        goto oom;

    /* per-document cap and merging of adjacent chunks, in fused order */
    size_t cap = req->max_chunks_per_doc ? req->max_chunks_per_doc : SIZE_MAX;
    if (cap > 64)
        cap = 64;
    g = keep_calloc(k, sizeof *g);
    if (!g)
        goto oom;
    for (size_t i = 0; i < n_f; i++) {
        size_t used = 0, adj = SIZE_MAX;
        for (size_t j = 0; j < n_g; j++) {
            if (g[j].doc_id != f[i].doc_id)
                continue;
            used += g[j].n_chunks;
            if (adj == SIZE_MAX && (f[i].ordinal == g[j].omin - 1 || f[i].ordinal == g[j].omax + 1))
                adj = j;
        }
        if (used >= cap)
            continue;
        if (adj != SIZE_MAX) {
            group_t *x = &g[adj];
            if (f[i].ordinal < x->omin)
                x->omin = f[i].ordinal;
            else
                x->omax = f[i].ordinal;
            x->chunks[x->n_chunks++] = f[i].chunk_id;
            continue;
        }
        if (n_g == k)
            continue; /* later candidates may still extend a kept passage */
        group_t *x = &g[n_g++];
        x->doc_id = f[i].doc_id;
        x->omin = x->omax = f[i].ordinal;
        x->best_chunk = f[i].chunk_id;
        x->score = f[i].score;
        x->chunks[0] = f[i].chunk_id;
        x->n_chunks = 1;
    }
    /* room for every chunk of every group: chunks of another section than
     * their group's best become results of their own, right after it */
    size_t room = 0;
    for (size_t i = 0; i < n_g; i++)
        room += g[i].n_chunks;
    r->hits = keep_calloc(room ? room : 1, sizeof *r->hits);
    if (!r->hits)
        goto oom;
    for (size_t i = 0; i < n_g && r->n < k; i++) {
        idx_hit *h = &r->hits[r->n];
        int64_t left[64];
        size_t n_left = 0;
        rc = fetch_group(s, &g[i], match, h, left, &n_left, err);
        if (rc == KEEP_ERR_NOTFOUND) { /* deleted since ranking */
            keep_err_clear(err);
            rc = KEEP_OK;
            continue;
        }
        if (rc)
            goto fail;
        h->score = g[i].score;
        r->n++;
        for (size_t j = 0; j < n_left && r->n < k; j++) {
            idx_hit *o = &r->hits[r->n];
            keep_err e2;
            if (idx_hit_fetch(s, left[j], match, o, &e2) != KEEP_OK)
                continue;
            o->score = g[i].score;
            r->n++;
        }
    }
    r->took_ms = keep_now_ms() - t0;
    keep_free(match);
    keep_free(lex);
    keep_free(sem);
    keep_free(f);
    keep_free(g);
    *out = r;
    return KEEP_OK;
oom:
    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
fail:
    keep_free(match);
    keep_free(lex);
    keep_free(sem);
    keep_free(f);
    keep_free(g);
    retr_results_free(r);
    return rc;
}

void retr_results_free(retr_results *r)
{
    if (!r)
        return;
    idx_hits_free(r->hits, r->n);
    keep_free(r->query);
    keep_free(r->mode);
    keep_free(r);
}

size_t retr_results_count(const retr_results *r) { return r->n; }
const idx_hit *retr_results_hit(const retr_results *r, size_t i) { return i < r->n ? &r->hits[i] : NULL; }
double retr_results_took_ms(const retr_results *r) { return r->took_ms; }
const char *retr_results_mode(const retr_results *r) { return r->mode; }

static cJSON *int_or_null(int v) { return v ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

cJSON *retr_results_json(const retr_results *r)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "query", r->query);
    cJSON_AddStringToObject(root, "mode", r->mode);
    cJSON *arr = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; arr && i < r->n; i++) {
        const idx_hit *h = &r->hits[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "rank", (double)(i + 1));
        cJSON_AddNumberToObject(o, "score", h->score);
        cJSON_AddNumberToObject(o, "doc_id", (double)h->doc_id);
        cJSON_AddNumberToObject(o, "chunk_id", (double)h->chunk_id);
        cJSON_AddStringToObject(o, "path", h->path);
        cJSON_AddItemToObject(o, "title", str_or_null(h->title));
        cJSON_AddItemToObject(o, "collection", str_or_null(h->collection));
        cJSON *loc = cJSON_AddObjectToObject(o, "location");
        if (loc) {
            cJSON_AddItemToObject(loc, "page", int_or_null(h->page_start));
            cJSON_AddItemToObject(loc, "page_end", int_or_null(h->page_end));
            cJSON_AddItemToObject(loc, "slide", int_or_null(h->slide));
            cJSON_AddItemToObject(loc, "sheet", str_or_null(h->sheet));
            cJSON_AddItemToObject(loc, "heading", str_or_null(h->heading));
        }
        cJSON_AddNumberToObject(o, "start", (double)h->start);
        cJSON_AddNumberToObject(o, "end", (double)h->end);
        cJSON_AddBoolToObject(o, "ocr", h->ocr);
        cJSON_AddStringToObject(o, "text", h->text);
        cJSON_AddItemToObject(o, "snippet", str_or_null(h->snippet));
    }
    cJSON_AddNumberToObject(root, "took_ms", (double)((long long)(r->took_ms * 100 + 0.5)) / 100.0);
    return root;
}
