/* test_watch.c — the drop-folder watcher on real temp folders: settled
 * CHANGED after close plus quiet period, coalescing, renames, moves in and
 * out, folders appearing with files, ignored names and symlinks, two roots,
 * fd integration, overflow / caps / watch limit -> RESCAN, a root deleted
 * and re-created, and stop() waking a blocked poll. Waits are on events with
 * generous timeouts; "nothing else happened" is checked with a fence file
 * whose event comes after everything queued before it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/watch.h"
#include "tap.h"

#define QUIET 100
#define WAIT_MS 5000

typedef struct {
    int kind, is_dir;
    char tag[64], path[PATH_MAX], reason[256];
    double at;
} rec;

static rec evs[512];
static size_t n_evs;
static char A[1024], B[1024], OUT[1024], TOP[PATH_MAX];
static int fence_no;

static int collect(void *ud, const ingest_watch_event *ev)
{
    (void)ud;
    if (n_evs >= sizeof evs / sizeof evs[0])
        return 1;
    rec *r = &evs[n_evs++];
    r->kind = ev->kind;
    r->is_dir = ev->is_dir;
    int n = snprintf(r->tag, sizeof r->tag, "%s", ev->tag);
    n += snprintf(r->path, sizeof r->path, "%s", ev->path);
    n += snprintf(r->reason, sizeof r->reason, "%s", ev->reason ? ev->reason : "");
    (void)n;
    r->at = keep_now_ms();
    return 0;
}

static const char *P(const char *dir, const char *rel)
{
    static char bufs[8][PATH_MAX];
    static int i;
    char *b = bufs[i++ % 8];
    if (snprintf(b, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
        b[0] = '\0';
    return b;
}

static void write_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    ssize_t n = write(fd, content, strlen(content));
    (void)n;
    close(fd);
}

static int find(int kind, const char *path)
{
    for (size_t i = 0; i < n_evs; i++)
        if (evs[i].kind == kind && strcmp(evs[i].path, path) == 0)
            return (int)i;
    return -1;
}

static int count(int kind, const char *path)
{
    int n = 0;
    for (size_t i = 0; i < n_evs; i++)
        n += evs[i].kind == kind && (!path || strcmp(evs[i].path, path) == 0);
    return n;
}

/* Polls until an event of kind for path (any path when NULL) arrived. */
static int wait_for(ingest_watch *w, int kind, const char *path)
{
    double end = keep_now_ms() + WAIT_MS;
    keep_err err;
    while (keep_now_ms() < end) {
        for (size_t i = 0; i < n_evs; i++)
            if (evs[i].kind == kind && (!path || strcmp(evs[i].path, path) == 0))
                return (int)i;
        if (ingest_watch_poll(w, 100, collect, NULL, &err) != KEEP_OK)
            return -1;
    }
    return -1;
}

/* Writes a fence file in dir and waits for its event: whatever was queued
 * before it has been delivered by then. */
static int fence(ingest_watch *w, const char *dir)
{
    char name[64];
    snprintf(name, sizeof name, "fence-%d.txt", ++fence_no);
    const char *p = P(dir, name);
    write_file(p, "fence");
    return wait_for(w, INGEST_WATCH_CHANGED, p) >= 0;
}

static void pause_polling(ingest_watch *w, int ms)
{
    double end = keep_now_ms() + ms;
    keep_err err;
    while (keep_now_ms() < end)
        ingest_watch_poll(w, (int)(end - keep_now_ms()) + 1, collect, NULL, &err);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void *poll_thread(void *arg)
{
    ingest_watch *w = arg;
    keep_err err;
    static int rc;
    rc = ingest_watch_poll(w, -1, collect, NULL, &err);
    return &rc;
}

static void test_basic(void)
{
    ingest_watch *w = NULL;
    keep_err err;
    ASSERT_EQ_INT(ingest_watch_new(&w, QUIET, &err), KEEP_OK, "watcher created");
    ASSERT_EQ_INT(ingest_watch_add_root(w, A, "alpha", &err), KEEP_OK, "root A added");
    ASSERT_EQ_INT(ingest_watch_add_root(w, B, "beta", &err), KEEP_OK, "root B added");
    ASSERT_EQ_INT(ingest_watch_add_root(w, P(A, "pre"), "x", &err), KEEP_ERR_USAGE,
                  "a folder inside a root is refused (overlap)");
    ASSERT_EQ_INT(ingest_watch_add_root(w, TOP, "x", &err), KEEP_ERR_USAGE,
                  "a folder containing a root is refused (overlap)");
    ASSERT_EQ_INT(ingest_watch_add_root(w, P(A, "missing"), "x", &err), KEEP_ERR_NOTFOUND,
                  "a missing folder is NOTFOUND");
    ASSERT_EQ_INT(ingest_watch_add_root(w, P(A, "pre/old.txt"), "x", &err), KEEP_ERR_USAGE,
                  "a file is not a root");
    ASSERT_EQ_INT(ingest_watch_poll(w, 0, collect, NULL, &err), KEEP_OK, "poll(0) returns");
    ASSERT_EQ_INT(n_evs, 0, "files present before add_root are not reported");

    /* create */
    double t0 = keep_now_ms();
    write_file(P(A, "a.txt"), "hello");
    int i = wait_for(w, INGEST_WATCH_CHANGED, P(A, "a.txt"));
    OK(i >= 0, "new file -> CHANGED");
    if (i >= 0) {
        ASSERT_EQ_STR(evs[i].tag, "alpha", "event carries the root's tag");
        OK(evs[i].at - t0 >= QUIET - 5, "CHANGED comes after the quiet period");
    }
    OK(fence(w, A), "fence after create");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "a.txt")), 1, "exactly one CHANGED for it");
    ASSERT_EQ_INT(count(INGEST_WATCH_REMOVED, NULL), 0, "no REMOVED so far");

    /* slow write, pauses shorter than the quiet period */
    n_evs = 0;
    int fd = open(P(A, "slow.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t wr = write(fd, "part one ", 9);
    pause_polling(w, QUIET / 2);
    wr = write(fd, "part two", 8);
    (void)wr;
    pause_polling(w, QUIET / 2);
    close(fd);
    i = wait_for(w, INGEST_WATCH_CHANGED, P(A, "slow.txt"));
    OK(i >= 0, "slow write -> CHANGED");
    OK(fence(w, A), "fence after slow write");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "slow.txt")), 1, "slow write: one event");

    /* two writes of the same file in a row coalesce */
    n_evs = 0;
    write_file(P(A, "twice.txt"), "one");
    write_file(P(A, "twice.txt"), "two");
    OK(fence(w, A), "fence after double write");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "twice.txt")), 1, "two writes: one event");

    /* a file still open for writing is not reported, even after long quiet */
    n_evs = 0;
    fd = open(P(A, "open.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    wr = write(fd, "still writing", 13);
    (void)wr;
    OK(fence(w, A), "fence while a file is open");
    pause_polling(w, QUIET * 2);
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "open.txt")), 0, "open file not reported");
    close(fd);
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "open.txt")) >= 0, "reported once closed");

    /* written again after its close, before settling: waits for the new close */
    n_evs = 0;
    write_file(P(A, "again.txt"), "v1");
    fd = open(P(A, "again.txt"), O_WRONLY | O_APPEND);
    wr = write(fd, " v2", 3);
    (void)wr;
    OK(fence(w, A), "fence while a settled file is rewritten");
    pause_polling(w, QUIET * 2);
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "again.txt")), 0,
                  "a file written again after its close waits for the next close");
    close(fd);
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "again.txt")) >= 0, "then it is reported");

    /* modify */
    n_evs = 0;
    fd = open(P(A, "a.txt"), O_WRONLY | O_APPEND);
    wr = write(fd, " world", 6);
    (void)wr;
    close(fd);
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "a.txt")) >= 0, "modified file -> CHANGED");

    /* rename inside the tree */
    n_evs = 0;
    OK(rename(P(A, "a.txt"), P(A, "b.txt")) == 0, "rename a.txt -> b.txt");
    OK(wait_for(w, INGEST_WATCH_REMOVED, P(A, "a.txt")) >= 0, "rename: REMOVED old name");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "b.txt")) >= 0, "rename: CHANGED new name");

    /* move out, move in, delete */
    n_evs = 0;
    OK(rename(P(A, "b.txt"), P(OUT, "b.txt")) == 0, "move b.txt out");
    i = wait_for(w, INGEST_WATCH_REMOVED, P(A, "b.txt"));
    OK(i >= 0, "moved out -> REMOVED");
    if (i >= 0)
        ASSERT_EQ_INT(evs[i].is_dir, 0, "a file's REMOVED has is_dir 0");
    write_file(P(OUT, "c.txt"), "from outside");
    OK(rename(P(OUT, "c.txt"), P(A, "c.txt")) == 0, "move c.txt in");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "c.txt")) >= 0, "moved in -> CHANGED");
    OK(unlink(P(A, "c.txt")) == 0, "delete c.txt");
    OK(wait_for(w, INGEST_WATCH_REMOVED, P(A, "c.txt")) >= 0, "deleted -> REMOVED");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(OUT, "c.txt")), 0, "nothing from outside");

    /* deleted and re-created within the quiet period: only CHANGED */
    write_file(P(A, "d.txt"), "d1");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "d.txt")) >= 0, "d.txt reported");
    n_evs = 0;
    unlink(P(A, "d.txt"));
    write_file(P(A, "d.txt"), "d2");
    OK(fence(w, A), "fence after delete + re-create");
    ASSERT_EQ_INT(count(INGEST_WATCH_REMOVED, P(A, "d.txt")), 0, "delete + re-create: no REMOVED");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "d.txt")), 1, "delete + re-create: one CHANGED");

    /* a new folder with files written at once, nested */
    n_evs = 0;
    mkdir(P(A, "sub"), 0755);
    mkdir(P(A, "sub/deep"), 0755);
    write_file(P(A, "sub/x.txt"), "x");
    write_file(P(A, "sub/deep/y.txt"), "y");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "sub/x.txt")) >= 0, "new folder: file reported");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "sub/deep/y.txt")) >= 0,
       "new nested folder: file reported");
    OK(fence(w, A), "fence after new folders");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "sub/x.txt")), 1, "x.txt reported once");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "sub/deep/y.txt")), 1, "y.txt reported once");

    /* a folder prepared outside, moved in with its files */
    mkdir(P(OUT, "batch"), 0755);
    write_file(P(OUT, "batch/m1.txt"), "m1");
    write_file(P(OUT, "batch/m2.txt"), "m2");
    n_evs = 0;
    OK(rename(P(OUT, "batch"), P(A, "batch")) == 0, "move a folder in");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "batch/m1.txt")) >= 0, "moved-in folder: m1");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "batch/m2.txt")) >= 0, "moved-in folder: m2");

    /* folder renamed inside the tree; new watch paths follow */
    n_evs = 0;
    OK(rename(P(A, "sub"), P(A, "sub2")) == 0, "rename folder sub -> sub2");
    i = wait_for(w, INGEST_WATCH_REMOVED, P(A, "sub"));
    OK(i >= 0, "renamed folder: REMOVED old folder");
    if (i >= 0)
        ASSERT_EQ_INT(evs[i].is_dir, 1, "folder REMOVED has is_dir 1");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "sub2/x.txt")) >= 0, "renamed folder: files again");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "sub2/deep/y.txt")) >= 0,
       "renamed folder: nested files again");
    write_file(P(A, "sub2/deep/z.txt"), "z");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "sub2/deep/z.txt")) >= 0,
       "file written after the rename has the new path");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, P(A, "sub/deep/z.txt")), 0, "never the old path");

    /* folder moved out: REMOVED, and its watches are gone */
    n_evs = 0;
    OK(rename(P(A, "sub2"), P(OUT, "sub2")) == 0, "move folder out");
    OK(wait_for(w, INGEST_WATCH_REMOVED, P(A, "sub2")) >= 0, "moved-out folder: REMOVED");
    write_file(P(OUT, "sub2/w.txt"), "w");
    write_file(P(OUT, "sub2/deep/w.txt"), "w");
    OK(fence(w, A), "fence after writing into the moved-out folder");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, NULL), 1, "only the fence: moved-out folder unwatched");

    /* folder deleted */
    n_evs = 0;
    unlink(P(A, "batch/m1.txt"));
    unlink(P(A, "batch/m2.txt"));
    rmdir(P(A, "batch"));
    i = wait_for(w, INGEST_WATCH_REMOVED, P(A, "batch"));
    OK(i >= 0 && evs[i].is_dir, "deleted folder: REMOVED with is_dir");
    OK(wait_for(w, INGEST_WATCH_REMOVED, P(A, "batch/m1.txt")) >= 0, "its files: REMOVED");

    /* ignored names */
    n_evs = 0;
    write_file(P(A, "~$report.docx"), "lock");
    write_file(P(A, "draft.tmp"), "tmp");
    write_file(P(A, "movie.part"), "part");
    write_file(P(A, ".hidden"), "dot");
    mkdir(P(A, ".git"), 0755);
    write_file(P(A, ".git/config"), "dot folder");
    write_file(P(A, "notes.txt~"), "backup");
    OK(fence(w, A), "fence after ignored names");
    ASSERT_EQ_INT(n_evs, 1, "temp, lock, dot files and dot folders: no event");
    /* a download renamed from .part to its real name is reported */
    n_evs = 0;
    rename(P(A, "movie.part"), P(A, "movie.txt"));
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "movie.txt")) >= 0, ".part renamed -> CHANGED");
    ASSERT_EQ_INT(count(INGEST_WATCH_REMOVED, NULL), 0, "no REMOVED for an ignored name");

    /* symlinks */
    n_evs = 0;
    mkdir(P(OUT, "linked"), 0755);
    OK(symlink(P(OUT, "linked"), P(A, "link")) == 0, "symlink to an outside folder");
    write_file(P(OUT, "linked/secret.txt"), "outside");
    write_file(P(OUT, "target.txt"), "outside");
    symlink(P(OUT, "target.txt"), P(OUT, "flink.txt"));
    OK(rename(P(OUT, "flink.txt"), P(A, "flink.txt")) == 0, "move a file symlink in");
    write_file(P(A, "link/through.txt"), "via link");
    OK(fence(w, A), "fence after symlinks");
    ASSERT_EQ_INT(n_evs, 1, "nothing through or about symlinks");

    /* second root */
    n_evs = 0;
    write_file(P(B, "b1.txt"), "beta");
    i = wait_for(w, INGEST_WATCH_CHANGED, P(B, "b1.txt"));
    OK(i >= 0, "second root: CHANGED");
    if (i >= 0)
        ASSERT_EQ_STR(evs[i].tag, "beta", "second root's tag");

    /* fd integration: poll() on ingest_watch_fd, then ingest_watch_poll(0) */
    n_evs = 0;
    write_file(P(A, "fd.txt"), "fd");
    double end = keep_now_ms() + WAIT_MS;
    int wakeups = 0;
    while (find(INGEST_WATCH_CHANGED, P(A, "fd.txt")) < 0 && keep_now_ms() < end) {
        struct pollfd pf = {ingest_watch_fd(w), POLLIN, 0};
        if (poll(&pf, 1, (int)(end - keep_now_ms())) == 1)
            wakeups++;
        ingest_watch_poll(w, 0, collect, NULL, &err);
    }
    OK(find(INGEST_WATCH_CHANGED, P(A, "fd.txt")) >= 0, "event delivered through the fd loop");
    OK(wakeups >= 1 && wakeups < 20, "fd wakes for the event and the quiet deadline, no spin");

    /* remove a root */
    ASSERT_EQ_INT(ingest_watch_remove_root(w, B, &err), KEEP_OK, "root B removed");
    ASSERT_EQ_INT(ingest_watch_remove_root(w, B, &err), KEEP_ERR_NOTFOUND, "removing again: NOTFOUND");
    n_evs = 0;
    write_file(P(B, "b2.txt"), "beta");
    OK(fence(w, A), "fence after writing in a removed root");
    ASSERT_EQ_INT(n_evs, 1, "removed root: no events");

    /* queue overflow -> RESCAN (alternate two files so the kernel cannot merge) */
    long maxq = 0;
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    if (f) {
        if (fscanf(f, "%ld", &maxq) != 1)
            maxq = 0;
        fclose(f);
    }
    if (maxq > 0 && maxq <= 65536) {
        n_evs = 0;
        write_file(P(A, "o1.txt"), "1");
        write_file(P(A, "o2.txt"), "2");
        for (long k = 0; k < maxq / 2 + 64; k++) {
            close(open(P(A, "o1.txt"), O_WRONLY));
            close(open(P(A, "o2.txt"), O_WRONLY));
        }
        i = wait_for(w, INGEST_WATCH_RESCAN, A);
        OK(i >= 0 && strstr(evs[i].reason, "overflow"), "queue overflow -> RESCAN of the root");
        mkdir(P(A, "after"), 0755);
        write_file(P(A, "after/ok.txt"), "ok");
        OK(wait_for(w, INGEST_WATCH_CHANGED, P(A, "after/ok.txt")) >= 0,
           "after an overflow the watcher still works");
    } else {
        OK(1, "# SKIP max_queued_events too large to overflow quickly");
        OK(1, "# SKIP");
    }
    ingest_watch_free(w);
}

static void test_limits_and_root_loss(void)
{
    ingest_watch *w = NULL;
    keep_err err;
    char c[1024], d[1024];
    snprintf(c, sizeof c, "%s", P(TOP, "C"));
    snprintf(d, sizeof d, "%s", P(TOP, "D"));
    mkdir(c, 0755);
    mkdir(d, 0755);
    mkdir(P(d, "s1"), 0755);
    mkdir(P(d, "s2"), 0755);
    mkdir(P(d, "s3"), 0755);
    ingest_watch_new(&w, QUIET, &err);
    ingest_watch_set_limits(w, 3, 3);
    ASSERT_EQ_INT(ingest_watch_add_root(w, c, "gamma", &err), KEEP_OK, "root C added");
    ASSERT_EQ_INT(ingest_watch_add_root(w, d, "delta", &err), KEEP_OK,
                  "root D over the watch cap is still added");
    n_evs = 0;
    int i = wait_for(w, INGEST_WATCH_RESCAN, d);
    OK(i >= 0 && strstr(evs[i].reason, "watch limit"), "watch limit -> RESCAN with the reason");
    if (i >= 0)
        ASSERT_EQ_STR(evs[i].tag, "delta", "RESCAN names the root's tag");

    n_evs = 0;
    for (int k = 0; k < 6; k++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", k);
        write_file(P(c, name), "many");
    }
    i = wait_for(w, INGEST_WATCH_RESCAN, c);
    OK(i >= 0 && strstr(evs[i].reason, "too many"), "pending cap -> RESCAN");
    ASSERT_EQ_INT(count(INGEST_WATCH_CHANGED, NULL), 0, "pending entries dropped for the rescan");
    n_evs = 0;
    write_file(P(c, "later.txt"), "later");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(c, "later.txt")) >= 0, "events resume after RESCAN");

    /* root deleted, then re-created */
    n_evs = 0;
    nftw(c, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    i = wait_for(w, INGEST_WATCH_RESCAN, c);
    OK(i >= 0 && strstr(evs[i].reason, "root folder"), "root deleted -> RESCAN");
    n_evs = 0;
    mkdir(c, 0755);
    i = wait_for(w, INGEST_WATCH_RESCAN, c);
    OK(i >= 0 && strstr(evs[i].reason, "back"), "root re-created -> RESCAN");
    n_evs = 0;
    write_file(P(c, "new.txt"), "new");
    OK(wait_for(w, INGEST_WATCH_CHANGED, P(c, "new.txt")) >= 0, "re-created root is watched");
    ingest_watch_free(w);
}

/* Every allocation failing in turn: each call returns OK or NOMEM (never a
 * crash or a leak under ASan), and once allocations work again the watcher
 * still reports (a CHANGED, or the RESCAN that covers what it dropped). */
static void test_oom(void)
{
    char e[1024];
    snprintf(e, sizeof e, "%s", P(TOP, "E"));
    mkdir(e, 0755);
    mkdir(P(e, "s1"), 0755);
    mkdir(P(e, "s1/s2"), 0755);
    int all_ok = 1, recovered = 1, clean = 0;
    long k;
    for (k = 0; k < 200 && !clean; k++) {
        ingest_watch *w = NULL;
        keep_err err;
        char name[64];
        keep_alloc_fail_after(k);
        int rc = ingest_watch_new(&w, 20, &err);
        int ok = rc == KEEP_OK;
        all_ok &= rc == KEEP_OK || rc == KEEP_ERR_NOMEM;
        if (rc == KEEP_OK) {
            rc = ingest_watch_add_root(w, e, "epsilon", &err);
            ok &= rc == KEEP_OK;
            all_ok &= rc == KEEP_OK || rc == KEEP_ERR_NOMEM;
        }
        if (rc == KEEP_OK) {
            n_evs = 0;
            snprintf(name, sizeof name, "s1/s2/new%ld", k);
            mkdir(P(e, name), 0755);
            snprintf(name, sizeof name, "s1/s2/new%ld/f.txt", k);
            write_file(P(e, name), "f");
            double end = keep_now_ms() + 2000;
            while (n_evs == 0 && keep_now_ms() < end)
                all_ok &= ingest_watch_poll(w, 100, collect, NULL, &err) == KEEP_OK;
            ok &= n_evs == 1 && evs[0].kind == INGEST_WATCH_CHANGED &&
                  strcmp(evs[0].path, P(e, name)) == 0;
            keep_alloc_fail_after(-1);
            if (!ok) {
                snprintf(name, sizeof name, "after%ld.txt", k);
                write_file(P(e, name), "after");
                recovered &= wait_for(w, INGEST_WATCH_CHANGED, P(e, name)) >= 0 ||
                             count(INGEST_WATCH_RESCAN, NULL) > 0;
            }
        }
        keep_alloc_fail_after(-1);
        ingest_watch_free(w);
        nftw(P(e, "s1/s2"), rm_one, 16, FTW_DEPTH | FTW_PHYS); /* the next walk is as small */
        mkdir(P(e, "s1/s2"), 0755);
        clean = ok;
    }
    OK(all_ok, "allocation failures: every call returns OK or NOMEM");
    OK(recovered, "allocation failures: the watcher reports again afterwards");
    OK(clean && k > 5, "allocation failures: a run without failure reports the new file");
}

static void test_stop(void)
{
    ingest_watch *w = NULL;
    keep_err err;
    ingest_watch_new(&w, QUIET, &err);
    ingest_watch_add_root(w, A, "alpha", &err);
    pthread_t th;
    double t0 = keep_now_ms();
    pthread_create(&th, NULL, poll_thread, w);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    ingest_watch_stop(w);
    void *ret = NULL;
    pthread_join(th, &ret);
    ASSERT_EQ_INT(*(int *)ret, KEEP_ERR_CANCELLED, "stop() wakes a blocked poll: CANCELLED");
    OK(keep_now_ms() - t0 < 3000, "blocked poll returned promptly");
    ASSERT_EQ_INT(ingest_watch_poll(w, -1, collect, NULL, &err), KEEP_ERR_CANCELLED,
                  "later polls return CANCELLED at once");
    ingest_watch_free(w);
    ingest_watch_free(NULL);
}

int main(void)
{
    alarm(120); /* a hang fails the test instead of stalling the suite */
    char tmp[] = "/tmp/keep-test-watch-XXXXXX";
    if (!mkdtemp(tmp) || !realpath(tmp, TOP))
        return 1;
    if (strlen(TOP) > 900)
        return 1;
    snprintf(A, sizeof A, "%s", P(TOP, "A"));
    snprintf(B, sizeof B, "%s", P(TOP, "B"));
    snprintf(OUT, sizeof OUT, "%s", P(TOP, "outside"));
    mkdir(A, 0755);
    mkdir(B, 0755);
    mkdir(OUT, 0755);
    mkdir(P(A, "pre"), 0755);
    write_file(P(A, "pre/old.txt"), "old");
    test_basic();
    test_limits_and_root_loss();
    test_oom();
    test_stop();
    nftw(TOP, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
