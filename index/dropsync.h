/* dropsync.h — keeps drop folders indexed: the loop behind `keep watch` and
 * the watcher inside `keep serve`. It couples ingest/watch.h's settled events
 * to the store: each root is watched and then fully synced (so nothing
 * written during the sync is missed); CHANGED re-ingests one file, REMOVED
 * removes a file's or a folder's documents, RESCAN re-syncs the root.
 *
 * Threads: like the watcher, used by one thread at a time, except
 * idx_dropsync_stop (any thread, or a signal handler). */
#ifndef KEEP_IDX_DROPSYNC_H
#define KEEP_IDX_DROPSYNC_H

#include "idx.h"

typedef struct idx_dropsync idx_dropsync;

/* One line per action: action is "added", "updated", "failed", "skipped",
 * "removed" (detail "/" for a folder), "rescan" (detail: why) or "error"
 * (detail: the message). detail may be NULL. */
typedef void (*idx_dropsync_log_fn)(void *ud, const char *action, const char *path,
                                    const char *detail);

/* opt is copied (its collection and progress fields are ignored). The store
 * stays the caller's. Caller frees *out with idx_dropsync_free. */
int idx_dropsync_new(idx_store *s, const idx_ingest_opts *opt, int quiet_ms,
                     idx_dropsync_log_fn log, void *ud, idx_dropsync **out, keep_err *err);
void idx_dropsync_free(idx_dropsync *d);

/* Starts watching folder path for collection, then syncs it (errors of the
 * sync are logged; the next event retries). */
int idx_dropsync_add(idx_dropsync *d, const char *path, const char *collection, keep_err *err);
/* Stops watching a root (its documents stay). */
int idx_dropsync_remove(idx_dropsync *d, const char *path, keep_err *err);

/* Waits up to timeout_ms (-1: no limit) and acts on settled events.
 * KEEP_ERR_CANCELLED once idx_dropsync_stop was called. */
int idx_dropsync_poll(idx_dropsync *d, int timeout_ms, keep_err *err);
/* Makes poll (and a running sync, between files) return. Async-signal-safe. */
void idx_dropsync_stop(idx_dropsync *d);
/* Documents added, updated or removed since the last call (to know when
 * embeddings need refreshing). */
size_t idx_dropsync_take_changes(idx_dropsync *d);

#endif
