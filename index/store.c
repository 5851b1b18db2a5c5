/* store.c — Keep's SQLite store: schema and migrations, documents, chunks and
 * the FTS5 index (see idx.h).
 *
 * Schema notes:
 *  - chunks.id is AUTOINCREMENT: an id is never reused, so a cached vector
 *    index can never return a deleted chunk under a recycled id;
 *  - chunks_fts is an external-content FTS5 table over chunks (title, heading,
 *    text) kept in step by triggers, so chunk text is stored once;
 *  - the schema version is PRAGMA user_version. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema ------------------------------------------------------------------ */

/* migrations[v] takes a database from version v to v + 1. */
static const char *const migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE documents("
    "  id INTEGER PRIMARY KEY,"
    "  parent_id INTEGER REFERENCES documents(id) ON DELETE CASCADE,"
    "  path TEXT NOT NULL,"
    "  collection TEXT NOT NULL,"
    "  format TEXT,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  mtime INTEGER NOT NULL DEFAULT 0,"
    "  content_hash TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('indexed','failed','skipped')),"
    "  error TEXT,"
    "  title TEXT,"
    "  ingested_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX documents_top ON documents(collection, path) WHERE parent_id IS NULL;"
    "CREATE INDEX documents_parent ON documents(parent_id);"
    "CREATE INDEX documents_path ON documents(path);"
    "CREATE TABLE doc_text("
    "  doc_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,"
    "  text TEXT NOT NULL);"
    "CREATE TABLE doc_meta("
    "  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, value TEXT NOT NULL);"
    "CREATE INDEX doc_meta_doc ON doc_meta(doc_id);"
    "CREATE TABLE chunks("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  ordinal INTEGER NOT NULL,"
    "  title TEXT, heading TEXT, text TEXT NOT NULL,"
    "  page_start INTEGER, page_end INTEGER, slide INTEGER, sheet TEXT,"
    "  ocr INTEGER NOT NULL DEFAULT 0,"
    "  start_char INTEGER NOT NULL, end_char INTEGER NOT NULL,"
    "  UNIQUE(doc_id, ordinal));"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, text,"
    "  content='chunks', content_rowid='id',"
    "  tokenize='porter unicode61 remove_diacritics 2');"
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN"
    "  INSERT INTO chunks_fts(rowid, title, heading, text)"
    "  VALUES (new.id, new.title, new.heading, new.text); END;"
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN"
    "  INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, text)"
    "  VALUES ('delete', old.id, old.title, old.heading, old.text); END;",
    /* 1 -> 2: embeddings, the change log that keeps the FAISS cache in step,
     * the built-in embedder's model, and access control */
    "CREATE TABLE chunk_vectors("
    "  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,"
    "  vec BLOB NOT NULL);"
    "CREATE TABLE vec_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL);"
    "CREATE TRIGGER chunk_vectors_ai AFTER INSERT ON chunk_vectors BEGIN"
    "  INSERT INTO vec_log(chunk_id) VALUES (new.chunk_id); END;"
    "CREATE TRIGGER chunks_ad_vec AFTER DELETE ON chunks BEGIN"
    "  INSERT INTO vec_log(chunk_id) VALUES (old.id); END;"
    "CREATE TABLE vec_meta("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  embedder TEXT, dim INTEGER NOT NULL DEFAULT 0,"
    "  space INTEGER NOT NULL DEFAULT 0,"
    "  cache_gen INTEGER NOT NULL DEFAULT 0, cache_seq INTEGER NOT NULL DEFAULT 0,"
    "  trimmed_seq INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO vec_meta(id) VALUES (1);"
    "CREATE TABLE embed_models("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL, dim INTEGER NOT NULL, n_terms INTEGER NOT NULL,"
    "  trained_chunks INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  terms BLOB NOT NULL, idf BLOB NOT NULL, proj BLOB NOT NULL);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, admin INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE user_groups(user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  grp TEXT NOT NULL, PRIMARY KEY(user, grp));"
    "CREATE TABLE collection_grants(collection TEXT NOT NULL, grp TEXT NOT NULL,"
    "  PRIMARY KEY(collection, grp));"
    "CREATE INDEX documents_collection ON documents(collection);",
    /* 2 -> 3: the web server's authentication (index/auth.c): password
     * hashes, API tokens and browser sessions (tokens and session ids are
     * stored hashed), and the drop folders the server watches */
    "CREATE TABLE user_passwords(user TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,"
    "  hash TEXT NOT NULL, changed_at INTEGER NOT NULL);"
    "CREATE TABLE api_tokens(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,"
    "  last_used INTEGER, revoked_at INTEGER);"
    "CREATE INDEX api_tokens_user ON api_tokens(user);"
    "CREATE TABLE sessions(hash TEXT PRIMARY KEY,"
    "  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  csrf TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user);"
    "CREATE TABLE drop_folders(id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE,"
    "  collection TEXT NOT NULL);",
    /* 3 -> 4: the audit log (index/audit.c): append-only rows chained by
     * hash; audit_anchor holds the hash of the last row retention pruned.
     * The triggers refuse any change but pruning the oldest rows. */
    "CREATE TABLE audit_log(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    "  user TEXT NOT NULL, via TEXT NOT NULL, remote TEXT NOT NULL, action TEXT NOT NULL,"
    "  target TEXT, query TEXT, returned TEXT, cited TEXT, status INTEGER NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_log_at ON audit_log(at);"
    "CREATE INDEX audit_log_user ON audit_log(user, id);"
    "CREATE INDEX audit_log_action ON audit_log(action, id);"
    "CREATE TABLE audit_anchor(id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  pruned_id INTEGER NOT NULL, hash TEXT NOT NULL,"
    "  pruned_rows INTEGER NOT NULL DEFAULT 0, pruned_at INTEGER);"
    "INSERT INTO audit_anchor(id, pruned_id, hash) VALUES (1, 0,"
    "  '0000000000000000000000000000000000000000000000000000000000000000');"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN"
    "  SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  WHEN old.id > (SELECT pruned_id FROM audit_anchor) BEGIN"
    "  SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_anchor_forward BEFORE UPDATE ON audit_anchor"
    "  WHEN new.pruned_id < old.pruned_id OR new.id <> old.id BEGIN"
    "  SELECT RAISE(ABORT, 'the audit anchor only moves forward'); END;"
    "CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor BEGIN"
    "  SELECT RAISE(ABORT, 'the audit anchor stays'); END;",
    /* 4 -> 5: generations that tell a reader's cached access bitmaps
     * (index/permcache.c) what changed: collection_gen.gen moves whenever a
     * chunk of the collection is added or removed or one of its documents
     * changes status or collection; acl_gen.gen whenever a grant, a group
     * membership or a user changes. Written by triggers in the writer's own
     * transaction, so a reader never sees new chunks with an old generation. */
    "CREATE TABLE acl_gen(id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);"
    "INSERT INTO acl_gen(id, gen) VALUES (1, 1);"
    "CREATE TABLE collection_gen(collection TEXT PRIMARY KEY, gen INTEGER NOT NULL);"
    "INSERT INTO collection_gen(collection, gen) SELECT DISTINCT collection, 1 FROM documents;"
    "CREATE TRIGGER chunks_ai_gen AFTER INSERT ON chunks BEGIN"
    "  INSERT INTO collection_gen(collection, gen)"
    "  SELECT collection, 1 FROM documents WHERE id = new.doc_id"
    "  ON CONFLICT(collection) DO UPDATE SET gen = gen + 1; END;"
    "CREATE TRIGGER chunks_ad_gen AFTER DELETE ON chunks BEGIN"
    "  UPDATE collection_gen SET gen = gen + 1"
    "  WHERE collection = (SELECT collection FROM documents WHERE id = old.doc_id); END;"
    "CREATE TRIGGER documents_au_gen AFTER UPDATE OF status, collection ON documents"
    "  WHEN old.status IS NOT new.status OR old.collection IS NOT new.collection BEGIN"
    "  INSERT INTO collection_gen(collection, gen) VALUES (old.collection, 1), (new.collection, 1)"
    "  ON CONFLICT(collection) DO UPDATE SET gen = gen + 1; END;"
    "CREATE TRIGGER documents_ad_gen AFTER DELETE ON documents BEGIN"
    "  UPDATE collection_gen SET gen = gen + 1 WHERE collection = old.collection; END;"
    "CREATE TRIGGER grants_ai_gen AFTER INSERT ON collection_grants BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;"
    "CREATE TRIGGER grants_ad_gen AFTER DELETE ON collection_grants BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;"
    "CREATE TRIGGER user_groups_ai_gen AFTER INSERT ON user_groups BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;"
    "CREATE TRIGGER user_groups_ad_gen AFTER DELETE ON user_groups BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;"
    "CREATE TRIGGER users_ai_gen AFTER INSERT ON users BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;"
    "CREATE TRIGGER users_au_gen AFTER UPDATE ON users BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;"
    "CREATE TRIGGER users_ad_gen AFTER DELETE ON users BEGIN"
    "  UPDATE acl_gen SET gen = gen + 1; END;",
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
_Static_assert(N_MIGRATIONS == IDX_SCHEMA_VERSION, "one migration per schema version");

int idx__exec(idx_store *s, const char *sql, keep_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        keep_err_set(err, KEEP_ERR_DB, "database: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return KEEP_ERR_DB;
    }
    return KEEP_OK;
}

int idx__db_error(idx_store *s, keep_err *err, const char *what)
{
    return keep_err_set(err, KEEP_ERR_DB, "database: %s: %s", what, sqlite3_errmsg(s->db));
}

static int get_user_version(idx_store *s, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return KEEP_ERR_DB;
    int rc = sqlite3_step(st) == SQLITE_ROW ? KEEP_OK : KEEP_ERR_DB;
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static int migrate(idx_store *s, keep_err *err)
{
    int v;
    if (get_user_version(s, &v))
        return idx__db_error(s, err, "reading the schema version");
    if (v > IDX_SCHEMA_VERSION)
        return keep_err_set(err, KEEP_ERR_VERSION,
                            "this database was written by a newer Keep (schema %d; this Keep "
                            "knows up to %d): upgrade Keep or use another data directory",
                            v, IDX_SCHEMA_VERSION);
    if (v < 0)
        return keep_err_set(err, KEEP_ERR_CORRUPT, "invalid schema version %d", v);
    while (v < IDX_SCHEMA_VERSION) {
        /* each step in its own transaction: an interrupted upgrade resumes */
        if (idx__exec(s, "BEGIN IMMEDIATE", err))
            return KEEP_ERR_DB;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (idx__exec(s, migrations[v], err) || idx__exec(s, pragma, err)) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return KEEP_ERR_DB;
        }
        if (idx__exec(s, "COMMIT", err))
            return KEEP_ERR_DB;
        v++;
    }
    s->schema_version = v;
    return KEEP_OK;
}

int idx__store_open_plain(const char *db_path, int busy_timeout_ms, idx_store **out, keep_err *err)
{
    *out = NULL;
    idx_store *s = keep_calloc(1, sizeof *s);
    if (!s)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    s->busy_timeout_ms = busy_timeout_ms;
    if (!(s->path = keep_strdup(db_path))) {
        keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(db_path, &s->db, flags, NULL) != SQLITE_OK) {
        keep_err_set(err, KEEP_ERR_DB, "cannot open %s: %s", db_path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, busy_timeout_ms);
    sqlite3_extended_result_codes(s->db, 1);
    /* A file that is not a database fails on the first read: say so plainly. */
    if (idx__exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                     /* searches read the FTS index and chunk rows at random:
                      * mapped pages cost no read() copy (measured at 100k
                      * chunks: the kernel's copies were a tenth of a search) */
                     "PRAGMA mmap_size=2147418112;", err))
        goto fail;
    *out = s;
    return KEEP_OK;
fail:
    idx_store_close(s);
    return err && err->code ? err->code : KEEP_ERR_DB;
}

int idx_store_open(const char *db_path, int busy_timeout_ms, idx_store **out, keep_err *err)
{
    idx_store *s;
    int rc = idx__store_open_plain(db_path, busy_timeout_ms, &s, err);
    if (rc)
        return rc;
    idx_store *audit;
    if ((rc = migrate(s, err)) || (rc = idx__perm_register(s, err)) ||
        (rc = idx__audit_db(s, &audit, err))) {
        idx_store_close(s);
        return rc;
    }
    *out = s;
    return KEEP_OK;
}

int idx_store_tune_reads(idx_store *s, int64_t mmap_bytes, int cache_kib, keep_err *err)
{
    char sql[128];
    if (mmap_bytes < 0 || cache_kib < 0)
        return keep_err_set(err, KEEP_ERR_USAGE, "negative database tuning");
    snprintf(sql, sizeof sql, "PRAGMA mmap_size=%lld; PRAGMA cache_size=-%d;", (long long)mmap_bytes,
             cache_kib);
    return idx__exec(s, sql, err);
}

void idx_store_close(idx_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < IDX_STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    idx__perm_cache_free(s->perm);
    keep_free(s->slot_bits);
    sqlite3_close(s->db);
    idx_store_close(s->audit);
    keep_free(s->path);
    keep_free(s);
}

int idx_store_schema_version(idx_store *s) { return s->schema_version; }

int idx_store_begin(idx_store *s, keep_err *err) { return idx__exec(s, "BEGIN IMMEDIATE", err); }

int idx_store_commit(idx_store *s, keep_err *err)
{
    int rc = idx__exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

sqlite3_stmt *idx__stmt(idx_store *s, int which, const char *sql, keep_err *err)
{
    if (!s->stmt[which] && sqlite3_prepare_v2(s->db, sql, -1, &s->stmt[which], NULL) != SQLITE_OK) {
        idx__db_error(s, err, "prepare");
        return NULL;
    }
    sqlite3_reset(s->stmt[which]);
    sqlite3_clear_bindings(s->stmt[which]);
    return s->stmt[which];
}

/* ---- documents -------------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? keep_strdup((const char *)t) : NULL;
}

void idx__doc_info_row(sqlite3_stmt *st, idx_doc_info *d)
{
    d->id = sqlite3_column_int64(st, 0);
    d->parent_id = sqlite3_column_int64(st, 1);
    d->path = (const char *)sqlite3_column_text(st, 2);
    d->collection = (const char *)sqlite3_column_text(st, 3);
    d->format = (const char *)sqlite3_column_text(st, 4);
    d->title = (const char *)sqlite3_column_text(st, 5);
    d->status = (const char *)sqlite3_column_text(st, 6);
    d->error = (const char *)sqlite3_column_text(st, 7);
    d->hash = (const char *)sqlite3_column_text(st, 8);
    d->size = sqlite3_column_int64(st, 9);
    d->mtime = sqlite3_column_int64(st, 10);
    d->chunks = sqlite3_column_int64(st, 11);
}

int idx_docs_list(idx_store *s, const char *status_filter,
                  int (*fn)(void *ud, const idx_doc_info *d), void *ud, keep_err *err)
{
    const char *sql =
        "SELECT d.id, COALESCE(d.parent_id, 0), d.path, d.collection, d.format, d.title,"
        " d.status, d.error, d.content_hash, d.size, d.mtime,"
        " (SELECT count(*) FROM chunks c WHERE c.doc_id = d.id)"
        " FROM documents d WHERE (?1 IS NULL OR d.status = ?1) ORDER BY d.collection, d.path, d.id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "listing documents");
    sqlite3_bind_text(st, 1, status_filter, -1, SQLITE_STATIC);
    int rc = KEEP_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        idx_doc_info d;
        idx__doc_info_row(st, &d);
        if (fn(ud, &d))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "listing documents");
    sqlite3_finalize(st);
    return rc;
}

/* Deletes the chunks of a document and of its attachments (so the FTS
 * triggers run), then the rows (text, meta and children cascade). Must run
 * inside a transaction. */
int idx__delete_doc_tree(idx_store *s, int64_t id, int keep_row, keep_err *err)
{
    static const char *const sql_chunks =
        "WITH RECURSIVE t(id) AS (SELECT ?1 UNION ALL"
        " SELECT d.id FROM documents d JOIN t ON d.parent_id = t.id)"
        " DELETE FROM chunks WHERE doc_id IN (SELECT id FROM t)";
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_DEL_CHUNKS, sql_chunks, err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        return idx__db_error(s, err, "deleting chunks");
    if (keep_row) {
        st = idx__stmt(s, IDX_STMT_DEL_CHILDREN,
                       "DELETE FROM documents WHERE parent_id = ?1", err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            return idx__db_error(s, err, "deleting attachments");
        st = idx__stmt(s, IDX_STMT_DEL_TEXT,
                       "DELETE FROM doc_text WHERE doc_id = ?1; ", err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            return idx__db_error(s, err, "deleting text");
        st = idx__stmt(s, IDX_STMT_DEL_META, "DELETE FROM doc_meta WHERE doc_id = ?1", err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            return idx__db_error(s, err, "deleting metadata");
        return KEEP_OK;
    }
    st = idx__stmt(s, IDX_STMT_DEL_DOC, "DELETE FROM documents WHERE id = ?1", err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        return idx__db_error(s, err, "deleting document");
    return KEEP_OK;
}

int idx_doc_remove(idx_store *s, int64_t id, keep_err *err)
{
    if (idx__exec(s, "BEGIN IMMEDIATE", err))
        return KEEP_ERR_DB;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM documents WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return idx__db_error(s, err, "finding document");
    }
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return keep_err_set(err, KEEP_ERR_NOTFOUND, "no document with id %lld", (long long)id);
    }
    int rc = idx__delete_doc_tree(s, id, 0, err);
    if (rc || idx__exec(s, "COMMIT", err)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc ? rc : KEEP_ERR_DB;
    }
    return KEEP_OK;
}

/* ---- full-text search --------------------------------------------------------- */

void idx_hits_free(idx_hit *hits, size_t n)
{
    if (!hits)
        return;
    for (size_t i = 0; i < n; i++) {
        keep_free(hits[i].path);
        keep_free(hits[i].title);
        keep_free(hits[i].collection);
        keep_free(hits[i].heading);
        keep_free(hits[i].sheet);
        keep_free(hits[i].text);
        keep_free(hits[i].snippet);
    }
    keep_free(hits);
}

int idx_fts_search(idx_store *s, const char *match, size_t k, idx_hit **hits, size_t *n,
                   keep_err *err)
{
    *hits = NULL;
    *n = 0;
    if (k == 0)
        return KEEP_OK;
    if (k > 10000)
        k = 10000;
    static const char *const sql =
        "SELECT c.id, c.doc_id, -bm25(chunks_fts, 1.0, 1.0, 1.0), d.path, d.title, d.collection,"
        " c.heading, c.sheet, c.text, snippet(chunks_fts, 2, '[', ']', '…', 24),"
        " COALESCE(c.page_start, 0), COALESCE(c.page_end, 0), COALESCE(c.slide, 0),"
        " c.start_char, c.end_char, c.ocr"
        " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
        " JOIN documents d ON d.id = c.doc_id"
        " WHERE chunks_fts MATCH ?1 AND d.status = 'indexed'"
        " ORDER BY bm25(chunks_fts, 1.0, 1.0, 1.0) LIMIT ?2";
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_FTS, sql, err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
    idx_hit *v = keep_calloc(k, sizeof *v);
    if (!v)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    size_t count = 0;
    int step;
    while (count < k && (step = sqlite3_step(st)) == SQLITE_ROW) {
        idx_hit *h = &v[count++];
        h->chunk_id = sqlite3_column_int64(st, 0);
        h->doc_id = sqlite3_column_int64(st, 1);
        h->score = sqlite3_column_double(st, 2);
        h->path = col_dup(st, 3);
        h->title = col_dup(st, 4);
        h->collection = col_dup(st, 5);
        h->heading = col_dup(st, 6);
        h->sheet = col_dup(st, 7);
        h->text = col_dup(st, 8);
        h->snippet = col_dup(st, 9);
        h->page_start = sqlite3_column_int(st, 10);
        h->page_end = sqlite3_column_int(st, 11);
        h->slide = sqlite3_column_int(st, 12);
        h->start = sqlite3_column_int64(st, 13);
        h->end = sqlite3_column_int64(st, 14);
        h->ocr = sqlite3_column_int(st, 15) != 0;
        if (!h->path || !h->text) {
            idx_hits_free(v, count);
            sqlite3_reset(st);
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        }
    }
    if (count < k && step != SQLITE_DONE) {
        idx_hits_free(v, count);
        int rc = idx__db_error(s, err, "search");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    *hits = v;
    *n = count;
    return KEEP_OK;
}
