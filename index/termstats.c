/* termstats.c — how rare a word is in the store: the number of chunks whose
 * FTS5 index holds it (same porter/unicode61 tokenizer as search), so the
 * answering layer can weigh a question's words by inverse document frequency
 * (a word every chunk has says little about which sentence answers). */
#include <sqlite3.h>
#include <string.h>

#include "store_int.h"

int idx_chunk_total(idx_store *s, int64_t *n, keep_err *err)
{
    sqlite3_stmt *st = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM chunks", -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "count chunks");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? KEEP_OK : idx__db_error(s, err, "count chunks");
}

int idx_term_chunk_freq(idx_store *s, const char *word, int64_t *df, keep_err *err)
{
    *df = 0;
    size_t n = strlen(word);
    if (n == 0 || n > 256)
        return KEEP_OK;
    /* one FTS5 string: double quotes inside are doubled, so any word is a
     * phrase and never an operator */
    char q[520];
    size_t o = 0;
    q[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (word[i] == '"')
            q[o++] = '"';
        q[o++] = word[i];
    }
    q[o++] = '"';
    q[o] = '\0';
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", -1,
                           &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "term frequency");
    sqlite3_bind_text(st, 1, q, (int)o, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *df = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    /* a word the tokenizer reduces to nothing is a syntax error for FTS5:
     * it simply occurs nowhere */
    return KEEP_OK;
}
