/* fuzz_query.c — user text to FTS5 expression: whatever the input, the
 * expression must be accepted by FTS5 (checked against an in-memory table). */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retrieve/retr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;
static sqlite3_stmt *st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db) {
        sqlite3_open(":memory:", &db);
        sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61');"
                         "INSERT INTO t VALUES ('hello world')", NULL, NULL, NULL);
        sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?1", -1, &st, NULL);
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *match = NULL;
    keep_err err;
    if (retr_fts_expression(text, &match, &err) == KEEP_OK && match) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW)
            __builtin_trap(); /* an FTS5 syntax error got through */
    }
    keep_free(match);
    free(text);
    return 0;
}
