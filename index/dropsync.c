/* dropsync.c — drop folders kept in step with the store (see dropsync.h). */
#include "dropsync.h"

#include <signal.h>
#include <string.h>

#include "ingest/watch.h"

struct idx_dropsync {
    idx_store *store;
    idx_ingest_opts opt;
    ingest_watch *watch;
    idx_dropsync_log_fn log;
    void *ud;
    volatile sig_atomic_t stopping;
    size_t changes;
};

static int on_progress(void *ud, const char *path, const char *status, const char *reason,
                       const idx_ingest_stats *s)
{
    idx_dropsync *d = ud;
    (void)s;
    if (strcmp(status, "unchanged") != 0) {
        d->changes++;
        d->log(d->ud, status, path, reason);
    }
    return d->stopping; /* a stop cuts a long sync short */
}

static void sync_path(idx_dropsync *d, const char *collection, const char *path)
{
    idx_ingest_stats st;
    keep_err err;
    keep_err_clear(&err);
    d->opt.collection = collection;
    if (idx_ingest_paths(d->store, &path, 1, &d->opt, &st, &err))
        d->log(d->ud, "error", path, err.msg);
}

static int on_event(void *ud, const ingest_watch_event *ev)
{
    idx_dropsync *d = ud;
    keep_err err;
    keep_err_clear(&err);
    switch (ev->kind) {
    case INGEST_WATCH_CHANGED:
        sync_path(d, ev->tag, ev->path);
        break;
    case INGEST_WATCH_REMOVED:
        if (idx_doc_remove_path(d->store, ev->tag, ev->path, &err)) {
            d->log(d->ud, "error", ev->path, err.msg);
        } else {
            d->changes++;
            d->log(d->ud, "removed", ev->path, ev->is_dir ? "/" : NULL);
        }
        break;
    case INGEST_WATCH_RESCAN:
        d->log(d->ud, "rescan", ev->path, ev->reason ? ev->reason : "");
        sync_path(d, ev->tag, ev->path);
        break;
    }
    return d->stopping;
}

int idx_dropsync_new(idx_store *s, const idx_ingest_opts *opt, int quiet_ms,
                     idx_dropsync_log_fn log, void *ud, idx_dropsync **out, keep_err *err)
{
    *out = NULL;
    idx_dropsync *d = keep_calloc(1, sizeof *d);
    if (!d)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    d->store = s;
    d->opt = *opt;
    d->opt.progress = on_progress;
    d->opt.progress_ud = d;
    d->log = log;
    d->ud = ud;
    int rc = ingest_watch_new(&d->watch, quiet_ms, err);
    if (rc) {
        keep_free(d);
        return rc;
    }
    *out = d;
    return KEEP_OK;
}

void idx_dropsync_free(idx_dropsync *d)
{
    if (!d)
        return;
    ingest_watch_free(d->watch);
    keep_free(d);
}

int idx_dropsync_add(idx_dropsync *d, const char *path, const char *collection, keep_err *err)
{
    int rc = ingest_watch_add_root(d->watch, path, collection, err);
    if (rc)
        return rc;
    if (!d->stopping)
        sync_path(d, collection, path);
    return KEEP_OK;
}

int idx_dropsync_remove(idx_dropsync *d, const char *path, keep_err *err)
{
    return ingest_watch_remove_root(d->watch, path, err);
}

int idx_dropsync_poll(idx_dropsync *d, int timeout_ms, keep_err *err)
{
    if (d->stopping)
        return keep_err_set(err, KEEP_ERR_CANCELLED, "stopped");
    return ingest_watch_poll(d->watch, timeout_ms, on_event, d, err);
}

void idx_dropsync_stop(idx_dropsync *d)
{
    if (!d)
        return;
    d->stopping = 1;
    ingest_watch_stop(d->watch);
}

size_t idx_dropsync_take_changes(idx_dropsync *d)
{
    size_t n = d->changes;
    d->changes = 0;
    return n;
}
