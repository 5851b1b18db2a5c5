/* idx.h — the public face of index/: Keep's data store. SQLite (WAL) is the
 * source of truth for documents, their extracted text, chunks and the FTS5
 * full-text index; later the FAISS vector index is a cache rebuilt from it.
 *
 * One idx_store per thread; SQLite's busy timeout lets a search run while an
 * ingest writes. */
#ifndef KEEP_IDX_H
#define KEEP_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "ingest/ingest.h"

/* The schema this build writes. A database with a higher version is refused;
 * a lower one is migrated on open. */
#define IDX_SCHEMA_VERSION 5

typedef struct idx_store idx_store;

/* Opens (creating when absent) the database at db_path. Caller closes. */
int idx_store_open(const char *db_path, int busy_timeout_ms, idx_store **out, keep_err *err);
void idx_store_close(idx_store *s);
/* For a long-lived connection that mostly reads (the server's pool): maps up
 * to mmap_bytes of the database file instead of copying pages with read()
 * calls, and keeps cache_kib of pages in this connection's cache. */
int idx_store_tune_reads(idx_store *s, int64_t mmap_bytes, int cache_kib, keep_err *err);
int idx_store_schema_version(idx_store *s);
/* Bulk loading: one write transaction around many idx_put_document calls
 * (each then writes through a savepoint), committed by idx_store_commit. */
int idx_store_begin(idx_store *s, keep_err *err);
int idx_store_commit(idx_store *s, keep_err *err);

/* ---- ingest ----------------------------------------------------------------- */

typedef struct idx_ingest_stats {
    size_t seen, added, updated, unchanged, removed, failed, skipped;
    uint64_t bytes;          /* bytes of files added or updated */
    size_t files_total;      /* files found by the walk */
    uint64_t total_bytes;    /* their sizes */
    uint64_t to_parse_bytes; /* of those, bytes that need parsing */
    uint64_t done_bytes;     /* bytes handled so far (parsed or unchanged) */
} idx_ingest_stats;

/* Called after each file; path is as stored, status one of "added",
 * "updated", "unchanged", "failed", "skipped", "removed"; reason for failed
 * and skipped. Return non-zero to stop. */
typedef int (*idx_progress_fn)(void *ud, const char *path, const char *status,
                               const char *reason, const idx_ingest_stats *sofar);

typedef struct idx_ingest_opts {
    const char *collection;        /* "default" when NULL */
    ingest_options ingest;
    int threads;                   /* parser threads; 0 = one per core */
    idx_progress_fn progress;
    void *progress_ud;
} idx_ingest_opts;

/* Ingests files and folders (recursively). An unchanged file (same size and
 * mtime, or same content hash) is not re-parsed; a changed one has its chunks
 * replaced in one transaction; a file that disappeared from an ingested
 * folder is removed. A file that fails leaves nothing half-stored: its row
 * says failed with the reason. Returns KEEP_OK even when some files failed
 * (stats->failed says so); an error only when the store itself fails. */
int idx_ingest_paths(idx_store *s, const char *const *paths, size_t n_paths,
                     const idx_ingest_opts *opt, idx_ingest_stats *stats, keep_err *err);

/* Stores one document that does not come from a file in a watched tree
 * (uploads, test collections): parsed result r under (collection, path).
 * An existing document with that path is replaced in one transaction, or
 * left alone when its content hash is the same (*changed = 0). Inside a
 * transaction the caller opened (BEGIN ... COMMIT around many calls, for bulk
 * loads), it writes through a savepoint and the caller's COMMIT makes it durable. */
int idx_put_document(idx_store *s, const char *collection, const char *path,
                     const ingest_result *r, int64_t size, int64_t mtime, int64_t *id,
                     int *changed, keep_err *err);

/* ---- documents --------------------------------------------------------------- */

typedef struct idx_doc_info {
    int64_t id;
    int64_t parent_id; /* 0 for top-level documents */
    const char *path, *collection, *format, *title, *status, *error, *hash;
    int64_t size, mtime, chunks;
} idx_doc_info;

/* status_filter NULL for all, else "indexed", "failed" or "skipped". */
int idx_docs_list(idx_store *s, const char *status_filter,
                  int (*fn)(void *ud, const idx_doc_info *d), void *ud, keep_err *err);
/* Removes a document, its attachments, text and chunks. */
int idx_doc_remove(idx_store *s, int64_t id, keep_err *err);
/* Removes the document stored under (collection, path) and every document
 * under path + "/" (path was a folder), with attachments, text and chunks, in
 * one transaction. For file watchers: a path with nothing stored is not an
 * error. collection NULL means "default". */
int idx_doc_remove_path(idx_store *s, const char *collection, const char *path, keep_err *err);

/* ---- full-text search ------------------------------------------------------------ */

typedef struct idx_hit {
    int64_t chunk_id, doc_id;
    double score;            /* higher is better */
    char *path, *title, *collection, *heading, *sheet, *text, *snippet;
    int page_start, page_end, slide;
    int64_t start, end;      /* character offsets into the document text */
    int ordinal, ordinal_end; /* chunks ordinal..ordinal_end of the document */
    int ocr;                 /* some of the text was read by OCR */
} idx_hit;

/* Runs an FTS5 MATCH expression (built by retrieve/, never raw user text),
 * best first, at most k. Caller frees *hits with idx_hits_free. */
int idx_fts_search(idx_store *s, const char *match, size_t k, idx_hit **hits, size_t *n,
                   keep_err *err);
void idx_hits_free(idx_hit *hits, size_t n);

/* ---- term statistics ------------------------------------------------------------ */

/* Chunks in the store (every collection). */
int idx_chunk_total(idx_store *s, int64_t *n, keep_err *err);
/* Chunks whose full-text index holds word (tokenized and stemmed as search
 * does; 0 for a word that reduces to nothing). Counted over every
 * collection: a weight, never shown to a user. */
int idx_term_chunk_freq(idx_store *s, const char *word, int64_t *df, keep_err *err);

/* ---- embedders ---------------------------------------------------------------------
 * Anything that turns text into vectors: the built-in corpus-learned embedder
 * below, or a GGUF model adapted by the composition root (cli/). A vtable, so
 * index/ never depends on infer/. */
typedef struct idx_embedder idx_embedder;
struct idx_embedder {
    /* Names the vector space: vectors made under another name are re-made. */
    const char *name;
    size_t dim;
    size_t max_tokens; /* longer texts are truncated by the embedder */
    /* Chunks a corpus-learned embedder was learned from; 0 for a pretrained
     * model. Hybrid ranking weighs the vector list by it (retrieve/search.c). */
    size_t learned_from;
    /* Embeds n texts into out (n x dim floats), each L2-normalised (all zero
     * when a text holds nothing the embedder knows). is_query: 1 for a search
     * query, 0 for a passage (models with query/passage prefixes use it). */
    int (*embed)(idx_embedder *e, const char *const *texts, size_t n, int is_query, float *out,
                 keep_err *err);
    void (*free)(idx_embedder *e);
};
void idx_embedder_free(idx_embedder *e); /* NULL is fine */

/* The built-in embedder (latent semantic analysis of the store's own chunks;
 * see embed_builtin.c). Opens the latest learned model: KEEP_ERR_NOTFOUND
 * when none was learned yet. Caller frees with idx_embedder_free. */
int idx_builtin_open(idx_store *s, idx_embedder **out, keep_err *err);
/* *needed = 1 when no model exists or the store holds at least twice the
 * chunks the current one was learned from. */
int idx_builtin_needs_learning(idx_store *s, int *needed, keep_err *err);
/* Learns a new model from (a sample of) the stored chunks. */
int idx_builtin_learn(idx_store *s, int64_t *model_id, keep_err *err);

/* ---- stored vectors ------------------------------------------------------------------ */

/* Called with (done, total) while embedding; non-zero stops (KEEP_ERR_CANCELLED). */
typedef int (*idx_embed_progress_fn)(void *ud, size_t done, size_t total);

/* Brings the stored vectors in line with embedder e: when e's name differs
 * from the one that made the stored vectors, they are all dropped and every
 * chunk is embedded again from its stored text (no document is re-parsed);
 * otherwise only chunks without a vector are embedded. Embedding runs outside
 * any write transaction; vectors are written in short batches.
 * *n_embedded (may be NULL) receives how many chunks were embedded. */
int idx_vectors_embed(idx_store *s, idx_embedder *e, idx_embed_progress_fn progress, void *ud,
                      size_t *n_embedded, keep_err *err);

/* For the built-in embedder: learns a model when needed (first time, or the
 * corpus doubled), then embeds what is missing. *e (may be NULL) receives the
 * embedder in use (caller frees); it stays NULL when the store has no chunk. */
int idx_builtin_refresh(idx_store *s, idx_embed_progress_fn progress, void *ud,
                        idx_embedder **e, size_t *n_embedded, keep_err *err);

/* The name of the embedder that made the stored vectors (caller frees with
 * keep_free; NULL when there are none). */
int idx_vectors_embedder_name(idx_store *s, char **name, keep_err *err);

/* The FAISS index over the stored vectors: a cache file in the data
 * directory, loaded when it matches the database and rebuilt from SQLite when
 * missing, stale or corrupt. Before each search it applies the changes made
 * since (by this or another process), so a deleted or replaced chunk is never
 * returned. One idx_vectors may be shared by threads (each with its own
 * idx_store). */
typedef struct idx_vectors idx_vectors;

/* cache_path: the FAISS file (NULL: memory only). Caller closes. */
int idx_vectors_open(idx_store *s, const char *cache_path, idx_vectors **out, keep_err *err);
void idx_vectors_close(idx_vectors *v);
/* Applies pending changes; saves the cache when it had to rebuild or apply many. */
int idx_vectors_sync(idx_vectors *v, idx_store *s, keep_err *err);
size_t idx_vectors_dim(idx_vectors *v);
/* 1 when the indexed vectors were made by the embedder of that name. */
int idx_vectors_made_by(idx_vectors *v, const char *embedder);
size_t idx_vectors_count(idx_vectors *v);
/* How the last open/sync got its index: "loaded", "rebuilt" (file missing,
 * stale or corrupt) or "empty". */
const char *idx_vectors_origin(idx_vectors *v);
/* The k chunks nearest to query (dim floats), restricted to the permitted
 * chunk ids (sorted ascending) unless permitted is NULL. Syncs first. ids and
 * scores hold k entries; *n receives how many were filled. */
int idx_vectors_search(idx_vectors *v, idx_store *s, const float *query, size_t k,
                       const int64_t *permitted, size_t n_permitted, int64_t *ids, float *scores,
                       size_t *n, keep_err *err);

/* The same, restricted to the chunks perm holds (see idx_permitted_get,
 * declared below), tested inside FAISS before the top-k. */
struct idx_permitted;
int idx_vectors_search_in(idx_vectors *v, idx_store *s, const float *query, size_t k,
                          const struct idx_permitted *perm, int64_t *ids, float *scores,
                          size_t *n, keep_err *err);

/* The stored vector of a chunk into out (dim floats): KEEP_ERR_NOTFOUND when
 * the chunk has none of that size. */
int idx_chunk_vector(idx_store *s, int64_t chunk_id, float *out, size_t dim, keep_err *err);

/* ---- access control ---------------------------------------------------------------------
 * A principal is a user and its groups. Every user is also in the group
 * "everyone". Collections name the groups that may read them; a collection
 * no group may read is visible to admins only. Admins read everything. */
typedef struct idx_principal idx_principal;

/* The local administrator the CLI runs as. Caller frees with idx_principal_free. */
int idx_principal_admin(idx_principal **out, keep_err *err);
/* Loads a user with its groups: KEEP_ERR_NOTFOUND for an unknown user. */
int idx_principal_load(idx_store *s, const char *user, idx_principal **out, keep_err *err);
void idx_principal_free(idx_principal *p);
const char *idx_principal_name(const idx_principal *p);
int idx_principal_is_admin(const idx_principal *p);

/* User and grant management (names: 1..128 bytes of UTF-8). */
int idx_user_add(idx_store *s, const char *user, int admin, keep_err *err);
int idx_user_remove(idx_store *s, const char *user, keep_err *err);
int idx_user_join(idx_store *s, const char *user, const char *group, keep_err *err);
int idx_user_leave(idx_store *s, const char *user, const char *group, keep_err *err);
int idx_collection_grant(idx_store *s, const char *collection, const char *group, keep_err *err);
int idx_collection_revoke(idx_store *s, const char *collection, const char *group, keep_err *err);
/* Calls fn for each (collection, group) grant, ordered. */
int idx_grants_list(idx_store *s, int (*fn)(void *ud, const char *collection, const char *group),
                    void *ud, keep_err *err);
/* Calls fn for each user with its groups joined by ',' (NULL when none). */
int idx_users_list(idx_store *s,
                   int (*fn)(void *ud, const char *user, int admin, const char *groups), void *ud,
                   keep_err *err);

/* ---- filtered candidate search --------------------------------------------------------- */

/* Restricts a search; zero/NULL fields do not restrict. Times are
 * nanoseconds since the epoch (documents.mtime): since inclusive, until
 * exclusive. A record, so plain data. */
typedef struct idx_filter {
    const char *collection;
    const char *format;
    const char *path_prefix;
    int64_t since_ns, until_ns;
} idx_filter;

/* A ranked chunk before its details are fetched. */
typedef struct idx_cand {
    int64_t chunk_id, doc_id;
    int ordinal;
    double score; /* higher is better */
} idx_cand;

/* The chunks a principal may read under a filter, as a bitmap over chunk ids:
 * id is readable when base <= id < base + n_bits and its bit is set. Cached
 * per store (see index/permcache.c) and checked against generations in the
 * database on every call, so chunks added or removed and grants changed are
 * honoured by the next call. */
typedef struct idx_permitted {
    const uint8_t *bits; /* owned by the store: valid until the next idx_permitted_get on it */
    int64_t base, n_bits;
    size_t count;        /* bits set */
    uint64_t stamp;      /* unique per bitmap content in this process (a cache key) */
    int all_indexed;     /* 1: every indexed chunk (an admin without filters) */
} idx_permitted;

static inline int idx_permitted_has(const idx_permitted *p, int64_t id)
{
    if (!p->bits || id < p->base || id - p->base >= p->n_bits)
        return 0;
    int64_t off = id - p->base;
    return (p->bits[off / 8] >> (off % 8)) & 1;
}

/* Fills *out for p (NULL: nothing readable) under f (may be NULL). */
int idx_permitted_get(idx_store *s, const idx_principal *p, const idx_filter *f,
                      idx_permitted *out, keep_err *err);
/* BM25 over FTS5 restricted to perm inside the ranked query (the same
 * contract as idx_fts_candidates). Caller frees *out with keep_free. */
int idx_fts_candidates_in(idx_store *s, const char *match, const idx_permitted *perm,
                          const double weights[3], size_t k, idx_cand **out, size_t *n,
                          keep_err *err);
/* Fills doc_id and ordinal of candidates; drops (and compacts away) those
 * whose chunk no longer exists or perm does not hold. */
int idx_cands_locate_in(idx_store *s, const idx_permitted *perm, idx_cand *c, size_t *n,
                        keep_err *err);

/* BM25 over FTS5 (match built by retrieve/), restricted to what p may read and
 * f allows inside the ranked query itself, so the k best permitted chunks come
 * back. column weights: title, heading, text (NULL: 1, 1, 1). Caller frees
 * *out with keep_free. */
int idx_fts_candidates(idx_store *s, const char *match, const idx_principal *p,
                       const idx_filter *f, const double weights[3], size_t k, idx_cand **out,
                       size_t *n, keep_err *err);
/* The chunk ids (ascending) p may read under f. *all = 1 (and *ids NULL) when
 * nothing is restricted. Caller frees *ids with keep_free. */
int idx_permitted_chunks(idx_store *s, const idx_principal *p, const idx_filter *f,
                         int64_t **ids, size_t *n, int *all, keep_err *err);
/* Fills doc_id and ordinal of candidates known by chunk id; drops (and
 * compacts away) those whose chunk no longer exists or is not permitted. */
int idx_cands_locate(idx_store *s, const idx_principal *p, const idx_filter *f, idx_cand *c,
                     size_t *n, keep_err *err);
/* Fetches the details of one chunk into *h (fields owned by h, freed by
 * idx_hits_free). match (may be NULL) yields a snippet with matched words in
 * [brackets]; else the snippet is the start of the text. KEEP_ERR_NOTFOUND
 * when the chunk is gone. */
int idx_hit_fetch(idx_store *s, int64_t chunk_id, const char *match, idx_hit *h, keep_err *err);
/* The document text between character offsets [start, end). Caller frees *text. */
int idx_doc_text_range(idx_store *s, int64_t doc_id, int64_t start, int64_t end, char **text,
                       keep_err *err);
/* The text of a chunk as the embedders see it (title, heading path, body). */
int idx_chunk_embed_text(idx_store *s, int64_t chunk_id, char **text, keep_err *err);

/* ---- Audit log ----
 * Who searched, asked, viewed, downloaded, uploaded, deleted, logged in or
 * changed access, when, from where, with which query and which documents were
 * returned and cited. Never document text. Kept in its own file beside the
 * store's (keep-audit.db for keep.db), so appending never disturbs readers.
 *
 * Append-only and tamper-evident: each row stores a BLAKE2b-256 hash over
 * the previous row's hash and its own fields, so changing, removing or
 * inserting a row breaks the chain from that row on (idx_audit_verify finds
 * the first broken row). Triggers refuse UPDATE and DELETE; the only rows
 * ever deleted are the oldest ones, by retention (idx_audit_prune), which
 * first moves the anchor (the hash of the last pruned row) so the rows left
 * still verify. Times are seconds since the epoch. */

/* Caps on what one row stores (longer strings are cut at a UTF-8 boundary). */
#define IDX_AUDIT_MAX_TEXT 4096
#define IDX_AUDIT_MAX_IDS 8192 /* bytes of a doc-id list */

typedef struct idx_audit_entry {
    int64_t at;           /* 0: now */
    const char *user;     /* the account acting (token owner, SSO user); "" when none */
    const char *via;      /* "session", "token", "proxy", "cli" or "" */
    const char *remote;   /* client address */
    const char *action;   /* "search", "ask", "chat", "view", "download", "upload", ... */
    const char *target;   /* what was acted on (document id, user, group, ...); may be NULL */
    const char *query;    /* the query or question; may be NULL */
    const char *returned; /* document ids returned, comma-separated; may be NULL */
    const char *cited;    /* document ids cited by an answer; may be NULL */
    int status;           /* HTTP status (0 for none) */
} idx_audit_entry;

/* Appends one row (one short write transaction). *id (may be NULL) receives
 * the row's id. */
int idx_audit_append(idx_store *s, const idx_audit_entry *e, int64_t *id, keep_err *err);

typedef struct idx_audit_filter {
    const char *user, *action; /* exact matches; NULL or "": any */
    int64_t since, until;      /* at >= since, at < until; 0: open */
    int64_t before_id;         /* rows with id < before_id (paging); 0: from the newest */
    size_t limit;              /* 0: 100; capped at 10000 */
} idx_audit_filter;

/* Rows matching f, newest first. Strings passed to fn live until it returns;
 * fn returns non-zero to stop. */
int idx_audit_list(idx_store *s, const idx_audit_filter *f,
                   int (*fn)(void *ud, int64_t id, const idx_audit_entry *e), void *ud,
                   keep_err *err);

typedef struct idx_audit_check {
    int64_t rows;          /* rows checked */
    int64_t first_id;      /* first row kept (0 when none) */
    int64_t pruned_id;     /* rows up to this id were pruned by retention */
    int64_t bad_id;        /* first broken row; 0 when the chain holds */
    char reason[128];      /* why bad_id is broken */
} idx_audit_check;

/* Recomputes the chain from the anchor. KEEP_OK whether or not the chain
 * holds (c->bad_id says); an error only when the store fails. */
int idx_audit_verify(idx_store *s, idx_audit_check *c, keep_err *err);

/* Retention: deletes the rows older than cutoff (seconds) — the oldest rows
 * up to the last one with at < cutoff — after moving the anchor to the last
 * deleted row's hash. *pruned (may be NULL) receives the count. */
int idx_audit_prune(idx_store *s, int64_t cutoff, int64_t *pruned, keep_err *err);

/* A time filter value: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" (UTC) or seconds
 * since the epoch into *out; with end_of_day, a bare day means its end (for
 * an exclusive upper bound). -1 when s is none of these. */
int idx_audit_parse_time(const char *s, int end_of_day, int64_t *out);

/* One row as the JSON object the CLI and the admin API print: id, time
 * (ISO 8601 UTC), at, user, via, remote, action, target, query, returned and
 * cited (arrays of document ids), status. Caller frees with cJSON_Delete;
 * NULL when out of memory. */
struct cJSON *idx_audit_entry_json(int64_t id, const idx_audit_entry *e);

/* Rows in the log (for status pages). */
int idx_audit_count(idx_store *s, int64_t *n, keep_err *err);

#endif
