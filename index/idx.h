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
#define IDX_SCHEMA_VERSION 1

typedef struct idx_store idx_store;

/* Opens (creating when absent) the database at db_path. Caller closes. */
int idx_store_open(const char *db_path, int busy_timeout_ms, idx_store **out, keep_err *err);
void idx_store_close(idx_store *s);
int idx_store_schema_version(idx_store *s);

/* ---- ingest ----------------------------------------------------------------- */

typedef struct idx_ingest_stats {
    size_t seen, added, updated, unchanged, removed, failed, skipped;
    uint64_t bytes;
} idx_ingest_stats;

/* Called after each file; path is as stored, status one of "added",
 * "updated", "unchanged", "failed", "skipped", "removed"; reason for failed
 * and skipped. Return non-zero to stop. */
typedef int (*idx_progress_fn)(void *ud, const char *path, const char *status,
                               const char *reason, const idx_ingest_stats *sofar);

typedef struct idx_ingest_opts {
    const char *collection;        /* "default" when NULL */
    ingest_options ingest;
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
 * left alone when its content hash is the same (*changed = 0). */
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

/* ---- full-text search ------------------------------------------------------------ */

typedef struct idx_hit {
    int64_t chunk_id, doc_id;
    double score;            /* higher is better */
    char *path, *title, *collection, *heading, *sheet, *text, *snippet;
    int page_start, page_end, slide;
    int64_t start, end;      /* character offsets into the document text */
} idx_hit;

/* Runs an FTS5 MATCH expression (built by retrieve/, never raw user text),
 * best first, at most k. Caller frees *hits with idx_hits_free. */
int idx_fts_search(idx_store *s, const char *match, size_t k, idx_hit **hits, size_t *n,
                   keep_err *err);
void idx_hits_free(idx_hit *hits, size_t n);

#endif
