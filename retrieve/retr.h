/* retr.h — the public face of retrieve/: a user's question in, ranked
 * passages out, in the JSON shape every client relies on.
 *
 * Any user text is a valid query: retrieve/ turns it into a safe FTS5
 * expression (words only, each quoted), so quotes, NEAR(, *, -, : and other
 * FTS5 syntax never reach SQLite as operators. */
#ifndef KEEP_RETR_H
#define KEEP_RETR_H

#include <cjson/cJSON.h>

#include "common.h"
#include "index/idx.h"

/* Builds the FTS5 MATCH expression for user text: the words of the text,
 * each quoted, joined by OR; common English stop words dropped when other
 * words remain. *match is NULL when the text has no searchable word. Caller
 * frees *match with keep_free. */
int retr_fts_expression(const char *text, char **match, keep_err *err);

typedef struct retr_results retr_results;

/* Ranking modes. */
#define RETR_MODE_BM25 "bm25"     /* FTS5 BM25 over the words of the query */
#define RETR_MODE_VECTOR "vector" /* nearest chunk embeddings */
#define RETR_MODE_HYBRID "hybrid" /* both lists fused (reciprocal rank fusion) */

typedef struct retr_request {
    const char *query;
    size_t k;                 /* results wanted (10 when 0) */
    const char *mode;         /* NULL: hybrid when vectors are available, else bm25 */
    const idx_principal *as;  /* required: who runs the query */
    const idx_filter *filter; /* NULL: no filter */
    size_t max_chunks_per_doc; /* 0: no cap */
    /* Needed by vector and hybrid: the vector index and the embedder that
     * made it (its name must match the stored vectors'). */
    idx_vectors *vectors;
    idx_embedder *embedder;
} retr_request;

/* Runs a search: only chunks the principal may read and the filter allows
 * are ranked (before the top k). Chunks of one document beyond
 * max_chunks_per_doc are dropped, and adjacent chunks of one document are
 * merged into one result. Caller frees *out with retr_results_free. */
int retr_search(idx_store *s, const retr_request *req, retr_results **out, keep_err *err);
void retr_results_free(retr_results *r);
size_t retr_results_count(const retr_results *r);
const idx_hit *retr_results_hit(const retr_results *r, size_t i);
double retr_results_took_ms(const retr_results *r);
const char *retr_results_mode(const retr_results *r);

/* The documented JSON: {"query", "mode", "results": [...], "took_ms"}.
 * Caller frees with cJSON_Delete; NULL on OOM. */
cJSON *retr_results_json(const retr_results *r);

/* ---- context for the model ----------------------------------------------------------- */

/* Counts the tokens of text[0..len) with the generator's tokenizer. */
typedef size_t (*retr_token_count_fn)(void *ud, const char *text, size_t len);

/* One numbered passage of a context: everything a citation needs. */
typedef struct retr_passage {
    int number; /* [number] in the rendered text, from 1 */
    int64_t doc_id;
    const char *title, *path, *heading, *sheet, *text;
    int page_start, page_end, slide;
    int64_t start, end; /* character offsets of text in the document */
    size_t tokens;      /* of the passage's rendered block */
} retr_passage;

typedef struct retr_context retr_context;

/* Selects passages from r, best first, whose rendered blocks fit in
 * budget_tokens (counted by count, or estimated as bytes / 4 when count is
 * NULL); a passage that does not fit is skipped for later, smaller ones, and
 * when even the best one alone does not fit it is cut to the budget. The
 * passages are numbered [1]..[n] and rendered as
 *   [n] Title (path, page P, Heading)\n text\n\n
 * Caller frees *out with retr_context_free. */
int retr_context_build(const retr_results *r, size_t budget_tokens, retr_token_count_fn count,
                       void *ud, retr_context **out, keep_err *err);
void retr_context_free(retr_context *c);
size_t retr_context_count(const retr_context *c);
const retr_passage *retr_context_passage(const retr_context *c, size_t i);
const char *retr_context_text(const retr_context *c); /* every block, in order */
size_t retr_context_tokens(const retr_context *c);

#endif
