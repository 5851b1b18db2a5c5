/* watch.h — Keep's drop-folder watcher: reports, for several root folders at
 * once, which files changed or went away, once writes have settled. It only
 * reads metadata (it never opens, moves or deletes a user file) and never
 * touches the database: index/ and cli/ act on its events.
 *
 * Event semantics (what the callback of ingest_watch_poll receives):
 *  - CHANGED path: a regular file was written and closed (IN_CLOSE_WRITE) or
 *    moved into the tree (IN_MOVED_TO), and then nothing happened to that
 *    path for the quiet period. Repeated writes coalesce into one event; a
 *    file written again before the quiet period ends waits for its next
 *    close. A file still open for writing is not reported until it is
 *    closed. Files found in a folder that appeared (created or moved in) are
 *    reported too, since they may have arrived before the folder was watched;
 *    for those the watcher cannot know whether a writer still has them open,
 *    so they are reported after a quiet period with no write seen. A new
 *    name made without writing (a hard link) is not reported.
 *  - REMOVED path: a file or folder was deleted or moved out of the tree.
 *    is_dir is set for a folder: everything that was under it is gone.
 *    A rename inside the tree is REMOVED(old) + CHANGED(new) (for a folder:
 *    REMOVED(old folder) + CHANGED for each file under the new name).
 *    A path deleted and re-created within the quiet period is only CHANGED.
 *  - RESCAN root: events may have been lost for this root (the kernel event
 *    queue overflowed, the watch limit fs.inotify.max_user_watches was hit,
 *    the pending-event cap was reached, the root folder itself was moved,
 *    deleted or unmounted, or came back): the caller should re-sync the
 *    whole root. reason says which, for the log.
 * Events for one path are delivered in the order they happened; paths are
 * absolute, under the root's canonical path (realpath at add time), which is
 * how index/sync.c stores them.
 *
 * Ignored: names for which ingest_is_ignored_name() is true (temp and lock
 * files, dotfiles and dot-folders), symbolic links (never followed: a
 * symlinked folder is neither watched nor descended), anything that is not a
 * regular file or folder. Folders deeper than 64 levels are not watched.
 * Files already present when a root is added are not reported: the caller
 * syncs the root itself (add the root first, then sync, so that nothing
 * written during the sync is missed).
 *
 * A root that is moved or deleted is reported as RESCAN, then looked for at
 * its path about once a second; when a folder is there again it is watched
 * again and reported as RESCAN once more. A root that hit the watch limit is
 * re-walked (and reported as RESCAN) every 5 minutes, so that changes in the
 * folders that could not be watched are picked up eventually.
 *
 * Threads: a watcher is used by one thread at a time (add_root, remove_root,
 * poll, free must not run concurrently, and the callback must not call them).
 * ingest_watch_stop may be called at any time from any thread or from a
 * signal handler (it is async-signal-safe), until ingest_watch_free.
 *
 * Memory is bounded: at most max_pending paths wait to settle (default
 * 65536; beyond that the root gets a RESCAN and its waiting paths are
 * dropped), and optionally at most max_watches folders are watched (beyond
 * that, treated like the kernel's watch limit). */
#ifndef KEEP_INGEST_WATCH_H
#define KEEP_INGEST_WATCH_H

#include <stddef.h>

#include "common.h"

#define INGEST_WATCH_DEFAULT_QUIET_MS 1000
#define INGEST_WATCH_DEFAULT_MAX_PENDING 65536

typedef struct ingest_watch ingest_watch;

typedef enum {
    INGEST_WATCH_CHANGED = 1,
    INGEST_WATCH_REMOVED = 2,
    INGEST_WATCH_RESCAN = 3
} ingest_watch_kind;

/* Valid only during the callback. */
typedef struct ingest_watch_event {
    ingest_watch_kind kind;
    const char *tag;    /* the root's tag as given to add_root */
    const char *root;   /* the root's canonical path */
    const char *path;   /* absolute; the root itself for RESCAN */
    int is_dir;         /* REMOVED: the path was a folder */
    const char *reason; /* RESCAN: why, one line; NULL otherwise */
} ingest_watch_event;

/* Return non-zero to stop delivering: poll returns KEEP_OK and the
 * remaining settled events are delivered by the next poll. */
typedef int (*ingest_watch_fn)(void *ud, const ingest_watch_event *ev);

/* Creates a watcher with no roots. quiet_ms <= 0 means the default (1 s);
 * at most 10 minutes. Caller frees *out with ingest_watch_free. */
int ingest_watch_new(ingest_watch **out, int quiet_ms, keep_err *err);
void ingest_watch_free(ingest_watch *w);

/* Tunes the memory bounds (0 leaves a value unchanged; max_watches is
 * unlimited by default, the kernel's limit applies). */
void ingest_watch_set_limits(ingest_watch *w, size_t max_pending, size_t max_watches);

/* Starts watching folder path (recursively) for the caller's tag (copied).
 * KEEP_ERR_USAGE when path is not a folder, overlaps a root already
 * watched, or tag is NULL; KEEP_ERR_IO when the folder cannot be watched at
 * all. Hitting the watch limit inside the tree is not an error: the root is
 * reported as RESCAN. */
int ingest_watch_add_root(ingest_watch *w, const char *path, const char *tag, keep_err *err);
/* Stops watching the root added with this path (as given or canonical);
 * its pending events are dropped. KEEP_ERR_NOTFOUND when there is none. */
int ingest_watch_remove_root(ingest_watch *w, const char *path, keep_err *err);

/* A descriptor that becomes readable when ingest_watch_poll has something
 * to do (an event arrived, a quiet period ended, or stop was called), for
 * an outer poll()/epoll loop; then call ingest_watch_poll(w, 0, ...). Owned
 * by the watcher. */
int ingest_watch_fd(const ingest_watch *w);

/* Reads file events and delivers the settled ones. Waits at most
 * timeout_ms (-1: no limit, 0: do not wait) for at least one event to
 * deliver; returns KEEP_OK after delivering one batch or when the time is
 * up with nothing to deliver. Returns KEEP_ERR_CANCELLED (immediately, and
 * at every later call) once ingest_watch_stop was called; KEEP_ERR_IO when
 * the kernel interface fails. */
int ingest_watch_poll(ingest_watch *w, int timeout_ms, ingest_watch_fn fn, void *ud, keep_err *err);

/* Makes a blocked or later poll return KEEP_ERR_CANCELLED. Thread- and
 * async-signal-safe. */
void ingest_watch_stop(ingest_watch *w);

#endif
