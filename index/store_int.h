/* store_int.h — the store's private struct, shared by the files of index/. */
#ifndef KEEP_INDEX_STORE_INT_H
#define KEEP_INDEX_STORE_INT_H

#include <sqlite3.h>

#include "idx.h"

/* Statements prepared once per store and reused. */
enum {
    IDX_STMT_DEL_CHUNKS,
    IDX_STMT_DEL_CHILDREN,
    IDX_STMT_DEL_TEXT,
    IDX_STMT_DEL_META,
    IDX_STMT_DEL_DOC,
    IDX_STMT_FTS,
    IDX_STMT_FIND_DOC,
    IDX_STMT_INS_DOC,
    IDX_STMT_UPD_DOC,
    IDX_STMT_TOUCH_DOC,
    IDX_STMT_INS_TEXT,
    IDX_STMT_INS_META,
    IDX_STMT_INS_CHUNK,
    IDX_STMT_SEEN,
    IDX_STMT_FTS_CAND,
    IDX_STMT_PERMITTED,
    IDX_STMT_LOCATE,
    IDX_STMT_HIT,
    IDX_STMT_SNIPPET,
    IDX_STMT_TEXT_RANGE,
    IDX_STMT_GET_VEC,
    IDX_STMT_AUDIT_LAST,
    IDX_STMT_AUDIT_INS,
    IDX_STMT_PERM_COLL,
    IDX_STMT_PERM_GENS,
    IDX_STMT_PERM_READABLE,
    IDX_STMT_COUNT
};

/* Cached access bitmaps of one connection (permcache.c). */
typedef struct idx__perm_cache idx__perm_cache;

struct idx_store {
    sqlite3 *db;
    char *path;              /* the database file, as opened */
    int busy_timeout_ms;
    struct idx_store *audit; /* the audit log's own database (audit.c); NULL until used */
    int schema_version;
    sqlite3_stmt *stmt[IDX_STMT_COUNT];
    idx__perm_cache *perm; /* NULL until the first search */
    /* The last permitted set turned into vector-index slots (vectors.c):
     * valid while both the set (stamp) and the index (version) are the same. */
    uint8_t *slot_bits;
    size_t slot_n;
    uint64_t slot_stamp, slot_version;
};

/* Registers the SQL function keep_permitted(bitmap, chunk_id) on s. */
int idx__perm_register(idx_store *s, keep_err *err);
/* Binds p (borrowed: it must outlive the statement's run) as parameter i, the
 * first argument of keep_permitted. */
int idx__perm_bind(sqlite3_stmt *st, int i, const idx_permitted *p);
void idx__perm_cache_free(idx__perm_cache *c);

/* Opens (creating) a database with the store's pragmas but none of keep.db's
 * schema: the audit log's file. Caller closes with idx_store_close. */
int idx__store_open_plain(const char *path, int busy_timeout_ms, idx_store **out, keep_err *err);
/* Opens s's audit log database (audit.c) unless open; *out receives it. */
int idx__audit_db(idx_store *s, idx_store **out, keep_err *err);
int idx__exec(idx_store *s, const char *sql, keep_err *err);
int idx__db_error(idx_store *s, keep_err *err, const char *what);
/* A cached prepared statement, reset and unbound; NULL on error. */
sqlite3_stmt *idx__stmt(idx_store *s, int which, const char *sql, keep_err *err);
/* SQL expression (over chunks c) of the text a chunk is embedded from. */
const char *idx__chunk_embed_sql(void);
/* Fills d from a row whose first 12 columns are id, parent id, path,
 * collection, format, title, status, error, hash, size, mtime, chunk count
 * (strings point into the statement's row). */
void idx__doc_info_row(sqlite3_stmt *st, idx_doc_info *d);
int idx__delete_doc_tree(idx_store *s, int64_t id, int keep_row, keep_err *err);

#endif
