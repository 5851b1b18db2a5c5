/* search.c — query building and BM25 search over the store (see retr.h). */
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

int retr_search(idx_store *s, const retr_request *req, retr_results **out, keep_err *err)
{
    *out = NULL;
    double t0 = keep_now_ms();
    const char *mode = req->mode ? req->mode : "bm25";
    if (strcmp(mode, "bm25") != 0)
        return keep_err_set(err, KEEP_ERR_USAGE, "unknown search mode '%s' (available: bm25)", mode);
    retr_results *r = keep_calloc(1, sizeof *r);
    if (!r)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    r->query = keep_strdup(req->query ? req->query : "");
    r->mode = keep_strdup(mode);
    if (!r->query || !r->mode) {
        retr_results_free(r);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    char *match = NULL;
    int rc = retr_fts_expression(req->query, &match, err);
    if (!rc && match)
        rc = idx_fts_search(s, match, req->k ? req->k : 10, &r->hits, &r->n, err);
    keep_free(match);
    if (rc) {
        retr_results_free(r);
        return rc;
    }
    r->took_ms = keep_now_ms() - t0;
    *out = r;
    return KEEP_OK;
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
        cJSON_AddStringToObject(o, "text", h->text);
        cJSON_AddItemToObject(o, "snippet", str_or_null(h->snippet));
    }
    cJSON_AddNumberToObject(root, "took_ms", (double)((long long)(r->took_ms * 100 + 0.5)) / 100.0);
    return root;
}
