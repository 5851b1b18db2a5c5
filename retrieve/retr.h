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

typedef struct retr_request {
    const char *query;
    size_t k;
    const char *mode; /* "bm25" (the only mode until vectors land) */
} retr_request;

/* Runs a search. Caller frees *out with retr_results_free. */
int retr_search(idx_store *s, const retr_request *req, retr_results **out, keep_err *err);
void retr_results_free(retr_results *r);
size_t retr_results_count(const retr_results *r);
const idx_hit *retr_results_hit(const retr_results *r, size_t i);
double retr_results_took_ms(const retr_results *r);

/* The documented JSON: {"query", "mode", "results": [...], "took_ms"}.
 * Caller frees with cJSON_Delete; NULL on OOM. */
cJSON *retr_results_json(const retr_results *r);

#endif
