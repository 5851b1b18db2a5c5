/* watch.c — the drop-folder watcher (semantics in watch.h).
 *
 * One inotify instance watches every folder of every root. Raw events are
 * not delivered as they come: each path gets one pending entry (a hash
 * table keyed by path) holding its latest state, and entries wait in a FIFO
 * ordered by their last event until a quiet period has passed. Because the
 * quiet period is the same for all, the FIFO is also deadline order, so
 * delivery pops from its head. A file that is being written again (IN_MODIFY
 * after a close) leaves the FIFO until its next close.
 *
 * Folders: a table of watch descriptors (sorted by wd) maps each to its path
 * and root. A new or moved-in folder is watched before it is listed, so a
 * file that lands in it is seen either by the listing or by the watch. A
 * folder moved away has its watches removed by path prefix; a deleted one
 * loses its watch when the kernel says IN_IGNORED (it was empty by then).
 *
 * When events may have been lost (queue overflow, watch limit, pending cap,
 * root gone) the root is flagged for RESCAN and its pending entries are
 * dropped: the caller's full sync covers them. */
#include "ingest/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ingest/ingest.h"

#define WATCH_MASK                                                                               \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |     \
     IN_MOVE_SELF | IN_MODIFY | IN_DONT_FOLLOW | IN_ONLYDIR | IN_EXCL_UNLINK)
#define WATCH_MAX_DEPTH 64          /* as index/sync.c */
#define WATCH_MAX_QUIET_MS 600000
#define WATCH_LOST_RETRY_MS 1000    /* looking for a root that went away */
#define WATCH_DEGRADED_MS 300000    /* re-walk of a root over the watch limit */
#define WATCH_READS_PER_POLL 16     /* bounded work before delivering */
#define WATCH_EVBUF 65536

typedef struct wroot {
    unsigned id;
    char *given, *path, *tag;
    int lost, degraded, rescan;
    int64_t degraded_at, rescan_at;
    const char *rescan_reason;
} wroot;

typedef struct wdir {
    int wd;
    unsigned root_id;
    int depth;
    unsigned gen;
    char *path;
} wdir;

typedef struct pend {
    struct pend *hnext;       /* hash chain */
    struct pend *prev, *next; /* FIFO of entries waiting for their deadline */
    int64_t deadline;
    uint32_t hash;
    unsigned root_id;
    unsigned char kind;
    unsigned char is_dir;
    unsigned char writing; /* modified after its close: waits for the next close */
    unsigned char in_fifo;
    size_t len;
    char path[]; /* a folder's REMOVED entry ends with '/' so it never merges with a file's */
} pend;

struct ingest_watch {
    int ifd, efd, tfd, epfd;
    atomic_int stopped;
    int64_t quiet_ms;
    size_t max_pending, max_watches;
    wroot **roots;
    size_t n_roots;
    unsigned next_root_id;
    wdir *dirs; /* sorted by wd */
    size_t n_dirs, cap_dirs;
    unsigned gen;
    pend **buckets;
    size_t n_buckets, n_pend;
    pend *head, *tail;
    int64_t retry_at;
    keep_buf pb;
    union {
        struct inotify_event align;
        char bytes[WATCH_EVBUF];
    } evbuf;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static wroot *root_by_id(ingest_watch *w, unsigned id)
{
    for (size_t i = 0; i < w->n_roots; i++)
        if (w->roots[i]->id == id)
            return w->roots[i];
    return NULL;
}

/* ---- pending entries ----------------------------------------------------------- */

static uint32_t hash_path(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void fifo_unlink(ingest_watch *w, pend *p)
{
    if (!p->in_fifo)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        w->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        w->tail = p->prev;
    p->prev = p->next = NULL;
    p->in_fifo = 0;
}

static void fifo_append(ingest_watch *w, pend *p)
{
    p->prev = w->tail;
    p->next = NULL;
    if (w->tail)
        w->tail->next = p;
    else
        w->head = p;
    w->tail = p;
    p->in_fifo = 1;
}

static pend *pend_find(ingest_watch *w, const char *path, size_t len, uint32_t h)
{
    for (pend *p = w->buckets[h & (w->n_buckets - 1)]; p; p = p->hnext)
        if (p->hash == h && p->len == len && memcmp(p->path, path, len) == 0)
            return p;
    return NULL;
}

/* Unlinks p from the hash table and the FIFO; the caller frees it. */
static void pend_unlink(ingest_watch *w, pend *p)
{
    pend **pp = &w->buckets[p->hash & (w->n_buckets - 1)];
    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    fifo_unlink(w, p);
    w->n_pend--;
}

static void drop_pending(ingest_watch *w, unsigned root_id)
{
    for (size_t b = 0; b < w->n_buckets; b++) {
        pend **pp = &w->buckets[b];
        while (*pp) {
            pend *p = *pp;
            if (p->root_id == root_id) {
                *pp = p->hnext;
                fifo_unlink(w, p);
                w->n_pend--;
                keep_free(p);
            } else {
                pp = &p->hnext;
            }
        }
    }
}

/* Doubling keeps chains short; when it cannot allocate, chains just grow. */
static void grow_buckets(ingest_watch *w)
{
    size_t nb = w->n_buckets * 2;
    pend **b = keep_calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < w->n_buckets; i++) {
        pend *p = w->buckets[i];
        while (p) {
            pend *next = p->hnext;
            p->hnext = b[p->hash & (nb - 1)];
            b[p->hash & (nb - 1)] = p;
            p = next;
        }
    }
    keep_free(w->buckets);
    w->buckets = b;
    w->n_buckets = nb;
}

static void set_rescan(ingest_watch *w, wroot *r, const char *reason)
{
    if (!r->rescan) {
        r->rescan = 1;
        r->rescan_at = now_ms() + w->quiet_ms;
    }
    r->rescan_reason = reason;
    drop_pending(w, r->id);
}

/* Records the latest event for a path and restarts its quiet period. */
static void pend_touch(ingest_watch *w, wroot *r, const char *path, size_t len, int kind,
                       int is_dir)
{
    if (r->rescan || r->lost)
        return; /* the caller's full sync will see this path */
    uint32_t h = hash_path(path, len);
    pend *p = pend_find(w, path, len, h);
    if (!p) {
        size_t sz;
        if (w->n_pend >= w->max_pending || keep_add_overflow(sizeof *p, len + 1, &sz)) {
            set_rescan(w, r, "too many changes waiting to settle");
            return;
        }
        if (!(p = keep_calloc(1, sz))) {
            set_rescan(w, r, "out of memory while tracking changes");
            return;
        }
        memcpy(p->path, path, len);
        p->len = len;
        p->hash = h;
        p->hnext = w->buckets[h & (w->n_buckets - 1)];
        w->buckets[h & (w->n_buckets - 1)] = p;
        if (++w->n_pend > w->n_buckets)
            grow_buckets(w);
    }
    fifo_unlink(w, p);
    p->root_id = r->id;
    p->kind = (unsigned char)kind;
    p->is_dir = (unsigned char)is_dir;
    p->writing = 0;
    p->deadline = now_ms() + w->quiet_ms;
    fifo_append(w, p);
}

/* A write after a close: hold the file back until it is closed again. */
static void pend_modified(ingest_watch *w, const char *path, size_t len)
{
    pend *p = pend_find(w, path, len, hash_path(path, len));
    if (p && p->kind == INGEST_WATCH_CHANGED && !p->writing) {
        fifo_unlink(w, p);
        p->writing = 1;
    }
}

/* ---- watched folders --------------------------------------------------------------- */

/* Index of wd, or where it would go (with *found = 0). */
static size_t dir_search(const ingest_watch *w, int wd, int *found)
{
    size_t lo = 0, hi = w->n_dirs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->dirs[mid].wd < wd)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < w->n_dirs && w->dirs[lo].wd == wd;
    return lo;
}

static int dir_insert(ingest_watch *w, size_t at, int wd, unsigned root_id, int depth,
                      const char *path)
{
    if (w->n_dirs == w->cap_dirs) {
        size_t nc = w->cap_dirs ? w->cap_dirs * 2 : 64;
        wdir *nd = keep_reallocarray(w->dirs, nc, sizeof *nd);
        if (!nd)
            return KEEP_ERR_NOMEM;
        w->dirs = nd;
        w->cap_dirs = nc;
    }
    char *copy = keep_strdup(path);
    if (!copy)
        return KEEP_ERR_NOMEM;
    memmove(w->dirs + at + 1, w->dirs + at, (w->n_dirs - at) * sizeof *w->dirs);
    w->dirs[at] = (wdir){wd, root_id, depth, w->gen, copy};
    w->n_dirs++;
    return KEEP_OK;
}

static int is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Forgets the folders of a root (all, or only those at or under prefix,
 * or only those not seen in walk number gen when stale is set); their
 * kernel watches are removed too. */
static void drop_dirs(ingest_watch *w, unsigned root_id, const char *prefix, int stale)
{
    size_t j = 0;
    for (size_t i = 0; i < w->n_dirs; i++) {
        wdir *d = &w->dirs[i];
        int drop = d->root_id == root_id && (!prefix || is_under(d->path, prefix)) &&
                   (!stale || d->gen != w->gen);
        if (drop) {
            inotify_rm_watch(w->ifd, d->wd);
            keep_free(d->path);
        } else {
            w->dirs[j++] = *d;
        }
    }
    w->n_dirs = j;
}

static size_t count_dirs(const ingest_watch *w, unsigned root_id)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_dirs; i++)
        n += w->dirs[i].root_id == root_id;
    return n;
}

static void limit_hit(ingest_watch *w, wroot *r)
{
    if (r->degraded)
        return;
    r->degraded = 1;
    r->degraded_at = now_ms();
    set_rescan(w, r, "watch limit reached, some folders are not watched "
                     "(raise fs.inotify.max_user_watches)");
}

/* Watches the folder at pb (and, recursively, its subfolders), then lists
 * it; with report set, files found are queued as CHANGED. A rewalk (after an
 * overflow) re-finds folders already watched and updates their paths.
 * Returns 0 or the errno of watching pb itself. pb is restored on return. */
static int add_tree(ingest_watch *w, wroot *r, keep_buf *pb, int depth, int report, int rewalk)
{
    if (depth > WATCH_MAX_DEPTH)
        return 0;
    int wd = inotify_add_watch(w->ifd, pb->data, WATCH_MASK);
    if (wd < 0) {
        int e = errno;
        if (e == ENOSPC || e == ENOMEM)
            limit_hit(w, r);
        return e; /* ENOENT, ENOTDIR (became a link), EACCES: nothing to watch */
    }
    int found;
    size_t at = dir_search(w, wd, &found);
    if (found) {
        wdir *d = &w->dirs[at];
        if (d->root_id != r->id || !rewalk || d->gen == w->gen)
            return 0; /* the same folder reached twice (bind mount): once is enough */
        char *copy = keep_strdup(pb->data);
        if (!copy) {
            set_rescan(w, r, "out of memory while watching folders");
            return 0;
        }
        keep_free(d->path);
        d->path = copy;
        d->depth = depth;
        d->gen = w->gen;
    } else {
        if (w->max_watches && w->n_dirs >= w->max_watches) {
            inotify_rm_watch(w->ifd, wd);
            limit_hit(w, r);
            return ENOSPC;
        }
        if (dir_insert(w, at, wd, r->id, depth, pb->data)) {
            inotify_rm_watch(w->ifd, wd);
            set_rescan(w, r, "out of memory while watching folders");
            return ENOMEM;
        }
    }
    int fd = open(pb->data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *dp = fdopendir(fd);
    if (!dp) {
        close(fd);
        return 0;
    }
    size_t base = pb->len;
    int slash = base > 0 && pb->data[base - 1] == '/';
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (ingest_is_ignored_name(e->d_name))
            continue; /* also "." and ".." */
        pb->len = base;
        pb->data[base] = '\0';
        if ((!slash && keep_buf_putc(pb, '/')) || keep_buf_puts(pb, e->d_name)) {
            set_rescan(w, r, "out of memory while listing folders");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            add_tree(w, r, pb, depth + 1, report, rewalk);
        else if (S_ISREG(st.st_mode) && report)
            pend_touch(w, r, pb->data, pb->len, INGEST_WATCH_CHANGED, 0);
    }
    pb->len = base;
    pb->data[base] = '\0';
    closedir(dp);
    return 0;
}

/* Re-watches a whole root, keeping the watches that still apply and
 * dropping those of folders no longer there. Returns add_tree's status. */
static int rewalk(ingest_watch *w, wroot *r)
{
    w->gen++;
    keep_buf_reset(&w->pb);
    if (keep_buf_puts(&w->pb, r->path)) {
        set_rescan(w, r, "out of memory while watching folders");
        return ENOMEM;
    }
    int e = add_tree(w, r, &w->pb, 0, 0, 1);
    drop_dirs(w, r->id, NULL, 1);
    return e;
}

static void root_lost(ingest_watch *w, wroot *r, const char *reason)
{
    if (r->lost)
        return;
    drop_dirs(w, r->id, NULL, 0);
    set_rescan(w, r, reason);
    r->lost = 1;
    r->degraded = 0;
    w->retry_at = now_ms() + WATCH_LOST_RETRY_MS;
}

/* ---- kernel events ----------------------------------------------------------------- */

static void on_overflow(ingest_watch *w)
{
    for (size_t i = 0; i < w->n_roots; i++) {
        wroot *r = w->roots[i];
        if (r->lost)
            continue;
        set_rescan(w, r, "event queue overflowed");
        rewalk(w, r); /* folders created meanwhile were missed too */
    }
}

static void on_event(ingest_watch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        on_overflow(w);
        return;
    }
    int found;
    size_t at = dir_search(w, ev->wd, &found);
    if (!found)
        return; /* a watch already dropped (folder moved away, root removed) */
    wdir *d = &w->dirs[at];
    wroot *r = root_by_id(w, d->root_id);
    if (!r)
        return;
    int top = d->depth == 0;
    if (ev->mask & IN_IGNORED) {
        keep_free(d->path);
        memmove(w->dirs + at, w->dirs + at + 1, (w->n_dirs - at - 1) * sizeof *w->dirs);
        w->n_dirs--;
        if (top)
            root_lost(w, r, "root folder is gone");
        return;
    }
    if (ev->mask & IN_UNMOUNT) {
        if (top)
            root_lost(w, r, "root folder was unmounted");
        else
            set_rescan(w, r, "a folder under the root was unmounted");
        return;
    }
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (top)
            root_lost(w, r, ev->mask & IN_DELETE_SELF ? "root folder was deleted"
                                                      : "root folder was moved or renamed");
        return; /* other folders: handled through their parent's event */
    }
    if (ev->len == 0 || ingest_is_ignored_name(ev->name))
        return;
    int depth = d->depth;
    keep_buf *pb = &w->pb;
    keep_buf_reset(pb);
    size_t dl = strlen(d->path);
    if (keep_buf_puts(pb, d->path) || (!(dl && d->path[dl - 1] == '/') && keep_buf_putc(pb, '/')) ||
        keep_buf_puts(pb, ev->name)) {
        set_rescan(w, r, "out of memory while reading events");
        return;
    }
    /* d may move from here on (add_tree inserts) */
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
            add_tree(w, r, pb, depth + 1, 1, 0);
        } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
            if (ev->mask & IN_MOVED_FROM)
                drop_dirs(w, r->id, pb->data, 0);
            if (keep_buf_putc(pb, '/')) {
                set_rescan(w, r, "out of memory while reading events");
                return;
            }
            pend_touch(w, r, pb->data, pb->len, INGEST_WATCH_REMOVED, 1);
        }
        return;
    }
    if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
        pend_touch(w, r, pb->data, pb->len, INGEST_WATCH_CHANGED, 0);
    else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
        pend_touch(w, r, pb->data, pb->len, INGEST_WATCH_REMOVED, 0);
    else if (ev->mask & IN_MODIFY)
        pend_modified(w, pb->data, pb->len);
}

static int read_events(ingest_watch *w, keep_err *err)
{
    for (int round = 0; round < WATCH_READS_PER_POLL; round++) {
        ssize_t n = read(w->ifd, w->evbuf.bytes, sizeof w->evbuf.bytes);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return KEEP_OK;
            return keep_err_set(err, KEEP_ERR_IO, "reading file events: %s", strerror(errno));
        }
        size_t off = 0, len = (size_t)n;
        while (len - off >= sizeof(struct inotify_event)) {
            const struct inotify_event *ev = (const void *)(w->evbuf.bytes + off);
            size_t sz = sizeof *ev + ev->len;
            if (sz > len - off)
                break;
            if (ev->len == 0 || memchr(ev->name, '\0', ev->len))
                on_event(w, ev);
            off += sz;
        }
        if (len < sizeof w->evbuf.bytes / 2)
            return KEEP_OK; /* short read: the queue is likely empty */
    }
    return KEEP_OK;
}

/* Periodic work: look for roots that went away, re-walk degraded roots. */
static void tick(ingest_watch *w)
{
    int64_t now = now_ms();
    int any_lost = 0;
    for (size_t i = 0; i < w->n_roots; i++) {
        wroot *r = w->roots[i];
        if (r->lost && now >= w->retry_at) {
            struct stat st;
            if (lstat(r->path, &st) == 0 && S_ISDIR(st.st_mode)) {
                r->lost = 0;
                rewalk(w, r);
                if (count_dirs(w, r->id))
                    set_rescan(w, r, "root folder is back");
                else
                    r->lost = 1;
            }
        } else if (r->degraded && now >= r->degraded_at + WATCH_DEGRADED_MS) {
            r->degraded = 0;
            rewalk(w, r);
            set_rescan(w, r, "re-scan of a folder tree larger than the watch limit");
        }
        any_lost |= r->lost;
    }
    if (any_lost && now >= w->retry_at)
        w->retry_at = now + WATCH_LOST_RETRY_MS;
}

static int64_t next_wake(const ingest_watch *w)
{
    int64_t t = INT64_MAX;
    if (w->head)
        t = w->head->deadline;
    for (size_t i = 0; i < w->n_roots; i++) {
        const wroot *r = w->roots[i];
        if (r->rescan && r->rescan_at < t)
            t = r->rescan_at;
        if (r->lost && w->retry_at < t)
            t = w->retry_at;
        if (r->degraded && r->degraded_at + WATCH_DEGRADED_MS < t)
            t = r->degraded_at + WATCH_DEGRADED_MS;
    }
    return t;
}

/* Keeps the timerfd (part of ingest_watch_fd) due at the next deadline. */
static void arm_timer(ingest_watch *w)
{
    int64_t t = next_wake(w);
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (t != INT64_MAX) {
        if (t < 1)
            t = 1;
        its.it_value.tv_sec = (time_t)(t / 1000);
        its.it_value.tv_nsec = (long)(t % 1000) * 1000000;
    }
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Delivers what is due; returns 1 when the callback asked to stop. */
static int deliver(ingest_watch *w, ingest_watch_fn fn, void *ud, size_t *count)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < w->n_roots; i++) {
        wroot *r = w->roots[i];
        if (!r->rescan || now < r->rescan_at)
            continue;
        r->rescan = 0;
        ingest_watch_event ev = {INGEST_WATCH_RESCAN, r->tag, r->path, r->path, 0,
                                 r->rescan_reason};
        (*count)++;
        if (fn(ud, &ev))
            return 1;
    }
    while (w->head && w->head->deadline <= now) {
        pend *p = w->head;
        pend_unlink(w, p);
        wroot *r = root_by_id(w, p->root_id);
        int stop = 0;
        if (r && !r->lost && !r->rescan) {
            struct stat st;
            int ok = 1;
            if (p->kind == INGEST_WATCH_CHANGED)
                ok = lstat(p->path, &st) == 0 && S_ISREG(st.st_mode); /* links never */
            if (p->is_dir && p->len > 1)
                p->path[p->len - 1] = '\0';
            if (ok) {
                ingest_watch_event ev = {(ingest_watch_kind)p->kind, r->tag, r->path, p->path,
                                         p->is_dir, NULL};
                (*count)++;
                stop = fn(ud, &ev);
            }
        }
        keep_free(p);
        if (stop)
            return 1;
    }
    return 0;
}

/* ---- public ------------------------------------------------------------------------- */

int ingest_watch_new(ingest_watch **out, int quiet_ms, keep_err *err)
{
    if (!out)
        return keep_err_set(err, KEEP_ERR_USAGE, "ingest_watch_new: no output");
    *out = NULL;
    if (quiet_ms > WATCH_MAX_QUIET_MS)
        return keep_err_set(err, KEEP_ERR_USAGE, "quiet period of %d ms exceeds %d ms", quiet_ms,
                            WATCH_MAX_QUIET_MS);
    ingest_watch *w = keep_calloc(1, sizeof *w);
    if (!w)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    w->ifd = w->efd = w->tfd = w->epfd = -1;
    atomic_init(&w->stopped, 0);
    w->quiet_ms = quiet_ms > 0 ? quiet_ms : INGEST_WATCH_DEFAULT_QUIET_MS;
    w->max_pending = INGEST_WATCH_DEFAULT_MAX_PENDING;
    w->n_buckets = 1024;
    if (!(w->buckets = keep_calloc(w->n_buckets, sizeof *w->buckets))) {
        ingest_watch_free(w);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    const char *what = "inotify_init1";
    if ((w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
        goto fail;
    what = "eventfd";
    if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        goto fail;
    what = "timerfd_create";
    if ((w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        goto fail;
    what = "epoll";
    if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        goto fail;
    int fds[3] = {w->ifd, w->efd, w->tfd};
    for (int i = 0; i < 3; i++) {
        struct epoll_event ee = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fds[i], &ee) != 0)
            goto fail;
    }
    *out = w;
    return KEEP_OK;
fail:;
    int e = errno;
    ingest_watch_free(w);
    return keep_err_set(err, KEEP_ERR_IO, "cannot start watching (%s): %s%s", what, strerror(e),
                        e == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
}

void ingest_watch_free(ingest_watch *w)
{
    if (!w)
        return;
    if (w->buckets) {
        for (size_t b = 0; b < w->n_buckets; b++) {
            pend *p = w->buckets[b];
            while (p) {
                pend *next = p->hnext;
                keep_free(p);
                p = next;
            }
        }
        keep_free(w->buckets);
    }
    for (size_t i = 0; i < w->n_dirs; i++)
        keep_free(w->dirs[i].path);
    keep_free(w->dirs);
    for (size_t i = 0; i < w->n_roots; i++) {
        keep_free(w->roots[i]->given);
        keep_free(w->roots[i]->path);
        keep_free(w->roots[i]->tag);
        keep_free(w->roots[i]);
    }
    keep_free(w->roots);
    keep_buf_free(&w->pb);
    int fds[4] = {w->epfd, w->tfd, w->efd, w->ifd};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    keep_free(w);
}

void ingest_watch_set_limits(ingest_watch *w, size_t max_pending, size_t max_watches)
{
    if (!w)
        return;
    if (max_pending)
        w->max_pending = max_pending;
    if (max_watches)
        w->max_watches = max_watches;
}

static void free_root(wroot *r)
{
    if (!r)
        return;
    keep_free(r->given);
    keep_free(r->path);
    keep_free(r->tag);
    keep_free(r);
}

int ingest_watch_add_root(ingest_watch *w, const char *path, const char *tag, keep_err *err)
{
    if (!w || !path || !tag)
        return keep_err_set(err, KEEP_ERR_USAGE, "ingest_watch_add_root: missing argument");
    char real[PATH_MAX];
    if (!realpath(path, real))
        return keep_err_set(err, errno == ENOENT ? KEEP_ERR_NOTFOUND : KEEP_ERR_IO,
                            "cannot watch %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return keep_err_set(err, KEEP_ERR_USAGE, "cannot watch %s: not a folder", path);
    for (size_t i = 0; i < w->n_roots; i++)
        if (is_under(real, w->roots[i]->path) || is_under(w->roots[i]->path, real))
            return keep_err_set(err, KEEP_ERR_USAGE, "%s overlaps the watched folder %s", path,
                                w->roots[i]->path);
    wroot **nr = keep_reallocarray(w->roots, w->n_roots + 1, sizeof *nr);
    if (!nr)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    w->roots = nr;
    wroot *r = keep_calloc(1, sizeof *r);
    if (!r || !(r->given = keep_strdup(path)) || !(r->path = keep_strdup(real)) ||
        !(r->tag = keep_strdup(tag))) {
        free_root(r);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    r->id = ++w->next_root_id;
    w->roots[w->n_roots++] = r;
    w->gen++;
    keep_buf_reset(&w->pb);
    int e = keep_buf_puts(&w->pb, real) ? ENOMEM : add_tree(w, r, &w->pb, 0, 0, 0);
    if (e || !count_dirs(w, r->id)) {
        drop_dirs(w, r->id, NULL, 0);
        drop_pending(w, r->id);
        w->n_roots--;
        free_root(r);
        return keep_err_set(err, e == ENOMEM ? KEEP_ERR_NOMEM : KEEP_ERR_IO,
                            "cannot watch %s: %s%s", path,
                            strerror(e ? e : EEXIST),
                            e == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
    }
    return KEEP_OK;
}

int ingest_watch_remove_root(ingest_watch *w, const char *path, keep_err *err)
{
    if (!w || !path)
        return keep_err_set(err, KEEP_ERR_USAGE, "ingest_watch_remove_root: missing argument");
    char real[PATH_MAX];
    int have_real = realpath(path, real) != NULL;
    for (size_t i = 0; i < w->n_roots; i++) {
        wroot *r = w->roots[i];
        if (strcmp(r->given, path) == 0 || strcmp(r->path, path) == 0 ||
            (have_real && strcmp(r->path, real) == 0)) {
            drop_dirs(w, r->id, NULL, 0);
            drop_pending(w, r->id);
            free_root(r);
            memmove(w->roots + i, w->roots + i + 1, (w->n_roots - i - 1) * sizeof *w->roots);
            w->n_roots--;
            return KEEP_OK;
        }
    }
    return keep_err_set(err, KEEP_ERR_NOTFOUND, "%s is not watched", path);
}

int ingest_watch_fd(const ingest_watch *w) { return w ? w->epfd : -1; }

void ingest_watch_stop(ingest_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stopped, 1);
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof one); /* stays readable: every poll sees it */
    (void)n;
}

int ingest_watch_poll(ingest_watch *w, int timeout_ms, ingest_watch_fn fn, void *ud, keep_err *err)
{
    if (!w || !fn)
        return keep_err_set(err, KEEP_ERR_USAGE, "ingest_watch_poll: missing argument");
    int64_t end = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    for (;;) {
        if (atomic_load(&w->stopped))
            return keep_err_set(err, KEEP_ERR_CANCELLED, "watcher stopped");
        int rc = read_events(w, err);
        if (rc)
            return rc;
        tick(w);
        uint64_t expirations;
        ssize_t n = read(w->tfd, &expirations, sizeof expirations);
        (void)n;
        size_t count = 0;
        int halt = deliver(w, fn, ud, &count);
        arm_timer(w);
        int64_t now = now_ms();
        if (count || halt || now >= end)
            return KEEP_OK;
        int64_t until = next_wake(w);
        if (end < until)
            until = end;
        int wait = -1;
        if (until != INT64_MAX)
            wait = until <= now ? 0 : until - now > INT_MAX ? INT_MAX : (int)(until - now);
        struct pollfd pf[2] = {{w->ifd, POLLIN, 0}, {w->efd, POLLIN, 0}};
        if (poll(pf, 2, wait) < 0 && errno != EINTR)
            return keep_err_set(err, KEEP_ERR_IO, "waiting for file events: %s", strerror(errno));
    }
}
