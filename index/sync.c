/* sync.c — brings the store in line with files on disk (idx_ingest_paths).
 *
 * For each file: unchanged size and mtime -> nothing read; else the file is
 * parsed outside any transaction, and its old chunks are replaced by the new
 * ones in one short transaction, so a crash leaves either the old or the new
 * version, and readers never wait on a parse. After walking a folder, the
 * documents under it that were not seen are removed. Symbolic links are not
 * followed: a link can point out of the folder the operator chose. */
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_int.h"

/* Folders nested deeper than this are not walked (loops are already
 * impossible without following links; this bounds the path stack). */
#define SYNC_MAX_DEPTH 64

typedef struct {
    idx_store *s;
    const idx_ingest_opts *opt;
    const char *collection;
    idx_ingest_stats *stats;
    int stop;
    int nested; /* the current write is a savepoint inside the caller's transaction */
} sync_ctx;

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int report(sync_ctx *c, const char *path, const char *status, const char *reason)
{
    if (c->opt->progress && c->opt->progress(c->opt->progress_ud, path, status, reason, c->stats))
        c->stop = 1;
    return KEEP_OK;
}

static int mark_seen(sync_ctx *c, int64_t id, keep_err *err)
{
    sqlite3_stmt *st =
        idx__stmt(c->s, IDX_STMT_SEEN, "INSERT OR IGNORE INTO temp.seen(id) VALUES (?1)", err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    return sqlite3_step(st) == SQLITE_DONE ? KEEP_OK : idx__db_error(c->s, err, "tracking files");
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Writes one parsed document (row already chosen: id > 0 updates in place)
 * and its attachments; inside the caller's transaction. */
static int write_doc(sync_ctx *c, int64_t *id, int64_t parent, const char *path, int64_t size,
                     int64_t mtime, const ingest_result *r, const char *status,
                     const char *error, keep_err *err)
{
    idx_store *s = c->s;
    const char *title = r ? ingest_result_title(r) : NULL;
    if (!title)
        title = base_name(path);
    sqlite3_stmt *st;
    if (*id) {
        int rc = idx__delete_doc_tree(s, *id, 1, err);
        if (rc)
            return rc;
        st = idx__stmt(s, IDX_STMT_UPD_DOC,
                       "UPDATE documents SET format=?2, size=?3, mtime=?4, content_hash=?5,"
                       " status=?6, error=?7, title=?8, ingested_at=?9 WHERE id=?1",
                       err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(st, 1, *id);
    } else {
        st = idx__stmt(s, IDX_STMT_INS_DOC,
                       "INSERT INTO documents(format, size, mtime, content_hash, status, error,"
                       " title, ingested_at, path, collection, parent_id)"
                       " VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                       err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_text(st, 10, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 11, c->collection, -1, SQLITE_TRANSIENT);
        if (parent)
            sqlite3_bind_int64(st, 12, parent);
        else
            sqlite3_bind_null(st, 12);
    }
    bind_text_or_null(st, 2, r ? ingest_result_format(r) : NULL);
    sqlite3_bind_int64(st, 3, size);
    sqlite3_bind_int64(st, 4, mtime);
    bind_text_or_null(st, 5, r ? ingest_result_hash(r) : NULL);
    sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
    bind_text_or_null(st, 7, error);
    sqlite3_bind_text(st, 8, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, (int64_t)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE)
        return idx__db_error(s, err, "writing document");
    if (!*id)
        *id = sqlite3_last_insert_rowid(s->db);
    if (!r || strcmp(status, "indexed") != 0)
        return KEEP_OK;

    size_t text_len;
    const char *text = ingest_result_text(r, &text_len);
    st = idx__stmt(s, IDX_STMT_INS_TEXT, "INSERT INTO doc_text(doc_id, text) VALUES (?1, ?2)", err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, *id);
    sqlite3_bind_text64(st, 2, text, text_len, SQLITE_STATIC, SQLITE_UTF8);
    if (sqlite3_step(st) != SQLITE_DONE)
        return idx__db_error(s, err, "writing text");

    for (size_t i = 0; i < ingest_result_n_meta(r); i++) {
        const char *k, *v;
        ingest_result_meta(r, i, &k, &v);
        st = idx__stmt(s, IDX_STMT_INS_META,
                       "INSERT INTO doc_meta(doc_id, key, value) VALUES (?1, ?2, ?3)", err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(st, 1, *id);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            return idx__db_error(s, err, "writing metadata");
    }

    for (size_t i = 0; i < ingest_result_n_chunks(r); i++) {
        const ingest_chunk *ch = ingest_result_chunk(r, i);
        st = idx__stmt(s, IDX_STMT_INS_CHUNK,
                       "INSERT INTO chunks(doc_id, ordinal, title, heading, text, page_start,"
                       " page_end, slide, sheet, ocr, start_char, end_char)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                       err);
        if (!st)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(st, 1, *id);
        sqlite3_bind_int(st, 2, ch->ordinal);
        sqlite3_bind_text(st, 3, title, -1, SQLITE_TRANSIENT);
        bind_text_or_null(st, 4, ch->heading);
        sqlite3_bind_text64(st, 5, ch->text, ch->text_len, SQLITE_STATIC, SQLITE_UTF8);
        if (ch->page_start)
            sqlite3_bind_int(st, 6, ch->page_start);
        if (ch->page_end)
            sqlite3_bind_int(st, 7, ch->page_end);
        if (ch->slide)
            sqlite3_bind_int(st, 8, ch->slide);
        bind_text_or_null(st, 9, ch->sheet);
        sqlite3_bind_int(st, 10, ch->ocr);
        sqlite3_bind_int64(st, 11, (int64_t)ch->start);
        sqlite3_bind_int64(st, 12, (int64_t)ch->end);
        if (sqlite3_step(st) != SQLITE_DONE)
            return idx__db_error(s, err, "writing chunk");
    }

    /* attachments: child documents whose path cites back to the parent */
    for (size_t i = 0; i < ingest_result_n_children(r); i++) {
        const char *name;
        const ingest_result *child = ingest_result_child(r, i, &name);
        char *child_path = NULL;
        size_t n = strlen(path) + strlen(name) + 2;
        child_path = keep_malloc(n);
        if (!child_path)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        snprintf(child_path, n, "%s#%s", path, name);
        int64_t child_id = 0;
        size_t clen;
        ingest_result_text(child, &clen);
        int rc = write_doc(c, &child_id, *id, child_path, (int64_t)clen, mtime, child, "indexed",
                           NULL, err);
        keep_free(child_path);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int find_doc(sync_ctx *c, const char *path, int64_t *id, int64_t *size, int64_t *mtime,
                    char *status, size_t status_cap, char *hash, keep_err *err)
{
    sqlite3_stmt *st = idx__stmt(c->s, IDX_STMT_FIND_DOC,
                                 "SELECT id, size, mtime, status, content_hash FROM documents"
                                 " WHERE collection = ?1 AND path = ?2 AND parent_id IS NULL",
                                 err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_text(st, 1, c->collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    *id = 0;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *size = sqlite3_column_int64(st, 1);
        *mtime = sqlite3_column_int64(st, 2);
        const char *stt = (const char *)sqlite3_column_text(st, 3);
        const char *h = (const char *)sqlite3_column_text(st, 4);
        snprintf(status, status_cap, "%s", stt ? stt : "");
        snprintf(hash, 65, "%s", h ? h : "");
    } else if (step != SQLITE_DONE) {
        return idx__db_error(c->s, err, "finding document");
    }
    sqlite3_reset(st);
    return KEEP_OK;
}

/* One file's writes: a transaction of its own, or a savepoint when the
 * caller already holds a transaction (a bulk loader batching many documents
 * into one commit). */
static int in_txn(sync_ctx *c, keep_err *err)
{
    c->nested = !sqlite3_get_autocommit(c->s->db);
    return idx__exec(c->s, c->nested ? "SAVEPOINT put_doc" : "BEGIN IMMEDIATE", err);
}

static int end_txn(sync_ctx *c, int rc, keep_err *err)
{
    if (rc) {
        sqlite3_exec(c->s->db, c->nested ? "ROLLBACK TO put_doc; RELEASE put_doc" : "ROLLBACK",
                     NULL, NULL, NULL);
        return rc;
    }
    return idx__exec(c->s, c->nested ? "RELEASE put_doc" : "COMMIT", err);
}

/* ---- the pipeline -----------------------------------------------------------
 * 1. walk: every file to look at, with its stat (so totals and ETA are known);
 * 2. check: unchanged files (same size and mtime) are marked seen and never read;
 * 3. parse: worker threads parse the rest, at most `window` results ahead of
 *    the writer, so memory stays bounded whatever the file sizes;
 * 4. write: the calling thread stores results in walk order, one short
 *    transaction per file, so a killed run resumes where it stopped: what was
 *    committed is unchanged next time, the rest is parsed again. */

typedef struct {
    char *path;
    int64_t size, mtime;
    int64_t id;             /* existing document, 0 when new */
    char old_status[16];
    char old_hash[65];
    int parse;              /* needs parsing (not unchanged) */
    /* filled by a worker */
    int done;
    int prc;
    ingest_result *r;
    keep_err perr;
} work_item;

typedef struct {
    work_item *v;
    size_t n, cap;
} work_list;

static int work_add(work_list *w, const char *path, const struct stat *st, keep_err *err)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        work_item *v = keep_reallocarray(w->v, cap, sizeof *v);
        if (!v)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        w->v = v;
        w->cap = cap;
    }
    work_item *it = &w->v[w->n];
    memset(it, 0, sizeof *it);
    if (!(it->path = keep_strdup(path)))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    it->size = (int64_t)st->st_size;
    it->mtime = mtime_ns(st);
    w->n++;
    return KEEP_OK;
}

static void work_free(work_list *w)
{
    for (size_t i = 0; i < w->n; i++) {
        keep_free(w->v[i].path);
        ingest_result_free(w->v[i].r);
    }
    keep_free(w->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(sync_ctx *c, const char *dir, int depth, work_list *w, keep_err *err)
{
    if (depth > SYNC_MAX_DEPTH)
        return KEEP_OK;
    DIR *d = opendir(dir);
    if (!d) {
        c->stats->failed++;
        return report(c, dir, "failed", strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = KEEP_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (ingest_is_ignored_name(e->d_name))
            continue; /* also ".", ".." and dotfiles */
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nn = keep_reallocarray(names, nc, sizeof *nn);
            if (!nn) {
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                goto out;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = keep_strdup(e->d_name))) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !c->stop && !rc; i++) {
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(c, path, depth + 1, w, err);
        else if (S_ISREG(st.st_mode))
            rc = work_add(w, path, &st, err);
    }
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        keep_free(names[i]);
    keep_free(names);
    return rc;
}

/* Marks unchanged files seen; the rest need parsing. */
static int check_item(sync_ctx *c, work_item *it, keep_err *err)
{
    int64_t old_size = 0, old_mtime = 0;
    int rc = find_doc(c, it->path, &it->id, &old_size, &old_mtime, it->old_status,
                      sizeof it->old_status, it->old_hash, err);
    if (rc)
        return rc;
    /* skipped files are retried: a newer Keep may read their format */
    if (it->id && old_size == it->size && old_mtime == it->mtime &&
        strcmp(it->old_status, "skipped") != 0) {
        c->stats->seen++;
        c->stats->unchanged++;
        c->stats->done_bytes += (uint64_t)it->size;
        if ((rc = mark_seen(c, it->id, err)))
            return rc;
        return report(c, it->path, "unchanged", NULL);
    }
    it->parse = 1;
    c->stats->to_parse_bytes += (uint64_t)it->size;
    return KEEP_OK;
}

/* Stores one parsed item (calling thread only). */
static int store_item(sync_ctx *c, work_item *it, keep_err *err)
{
    int rc;
    c->stats->seen++;
    c->stats->done_bytes += (uint64_t)it->size;
    ingest_result *r = it->r;
    int prc = it->prc;
    if (prc == KEEP_OK && it->id && strcmp(it->old_status, "indexed") == 0 &&
        strcmp(it->old_hash, ingest_result_hash(r)) == 0) {
        /* touched but same bytes: remember the new mtime, keep the chunks */
        sqlite3_stmt *u = idx__stmt(c->s, IDX_STMT_TOUCH_DOC,
                                    "UPDATE documents SET mtime = ?2, size = ?3 WHERE id = ?1", err);
        if (!u)
            return KEEP_ERR_DB;
        sqlite3_bind_int64(u, 1, it->id);
        sqlite3_bind_int64(u, 2, it->mtime);
        sqlite3_bind_int64(u, 3, it->size);
        rc = sqlite3_step(u) == SQLITE_DONE ? KEEP_OK : idx__db_error(c->s, err, "updating");
        if (!rc)
            rc = mark_seen(c, it->id, err);
        c->stats->unchanged++;
        return rc ? rc : report(c, it->path, "unchanged", NULL);
    }
    const char *status = "indexed", *what;
    if (prc == KEEP_ERR_UNSUPPORTED) {
        status = what = "skipped";
        c->stats->skipped++;
    } else if (prc != KEEP_OK) {
        status = what = "failed";
        c->stats->failed++;
    } else {
        what = it->id ? "updated" : "added";
        if (it->id)
            c->stats->updated++;
        else
            c->stats->added++;
        c->stats->bytes += (uint64_t)it->size;
    }
    rc = in_txn(c, err);
    if (!rc) {
        int64_t id = it->id;
        rc = write_doc(c, &id, 0, it->path, it->size, it->mtime, r, status,
                       prc == KEEP_OK ? NULL : it->perr.msg, err);
        if (!rc)
            rc = mark_seen(c, id, err);
        rc = end_txn(c, rc, err);
    }
    if (rc)
        return rc;
    return report(c, it->path, what, prc == KEEP_OK ? NULL : it->perr.msg);
}

typedef struct {
    sync_ctx *c;
    work_list *w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;    /* next item a worker claims */
    size_t written; /* items the writer has finished */
    size_t window;  /* max items parsed ahead of the writer */
    int quit;
} pipeline;

static void *parse_worker(void *arg)
{
    pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->next < p->w->n &&
               (!p->w->v[p->next].parse || p->next >= p->written + p->window)) {
            if (!p->w->v[p->next].parse) {
                p->next++; /* unchanged: nothing to parse */
                continue;
            }
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (p->quit || p->next >= p->w->n)
            break;
        work_item *it = &p->w->v[p->next++];
        pthread_mutex_unlock(&p->mu);
        keep_err_clear(&it->perr);
        it->prc = ingest_file(it->path, &p->c->opt->ingest, &it->r, &it->perr);
        pthread_mutex_lock(&p->mu);
        it->done = 1;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int run_pipeline(sync_ctx *c, work_list *w, keep_err *err)
{
    int rc = KEEP_OK;
    size_t to_parse = 0;
    for (size_t i = 0; i < w->n && !rc && !c->stop; i++) {
        rc = check_item(c, &w->v[i], err);
        to_parse += w->v[i].parse;
    }
    if (rc || c->stop || !to_parse)
        return rc;
    int threads = c->opt->threads > 0 ? c->opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    if ((size_t)threads > to_parse)
        threads = (int)to_parse;
    pipeline p = {.c = c, .w = w, .window = (size_t)threads * 2};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t tid[64];
    int started = 0;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, parse_worker, &p) == 0)
            started++;
    if (!started) {
        /* no threads to be had: parse inline, one at a time */
        for (size_t i = 0; i < w->n && !rc && !c->stop; i++) {
            work_item *it = &w->v[i];
            if (!it->parse)
                continue;
            keep_err_clear(&it->perr);
            it->prc = ingest_file(it->path, &c->opt->ingest, &it->r, &it->perr);
            rc = store_item(c, it, err);
            ingest_result_free(it->r);
            it->r = NULL;
        }
    } else {
        for (size_t i = 0; i < w->n && !rc && !c->stop; i++) {
            work_item *it = &w->v[i];
            if (it->parse) {
                pthread_mutex_lock(&p.mu);
                while (!it->done)
                    pthread_cond_wait(&p.cv, &p.mu);
                pthread_mutex_unlock(&p.mu);
                rc = store_item(c, it, err);
                ingest_result_free(it->r);
                it->r = NULL;
            }
            pthread_mutex_lock(&p.mu);
            p.written = i + 1;
            pthread_cond_broadcast(&p.cv);
            pthread_mutex_unlock(&p.mu);
        }
        pthread_mutex_lock(&p.mu);
        p.quit = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        for (int i = 0; i < started; i++)
            pthread_join(tid[i], NULL);
    }
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

/* Removes documents under dir (in this collection) not seen in this run. */
static int remove_unseen(sync_ctx *c, const char *dir, keep_err *err)
{
    char lo[PATH_MAX + 2], hi[PATH_MAX + 2];
    snprintf(lo, sizeof lo, "%s/", strcmp(dir, "/") == 0 ? "" : dir);
    snprintf(hi, sizeof hi, "%s0", strcmp(dir, "/") == 0 ? "" : dir); /* '0' follows '/' */
    sqlite3_stmt *st;
    const char *sql = "SELECT id, path FROM documents WHERE collection = ?1 AND parent_id IS NULL"
                      " AND path >= ?2 AND path < ?3 AND id NOT IN (SELECT id FROM temp.seen)";
    if (sqlite3_prepare_v2(c->s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(c->s, err, "finding removed files");
    sqlite3_bind_text(st, 1, c->collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
    int64_t *ids = NULL;
    char **paths = NULL;
    size_t n = 0;
    int rc = KEEP_OK;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t *ni = keep_reallocarray(ids, n + 1, sizeof *ni);
        if (ni)
            ids = ni;
        char **np = keep_reallocarray(paths, n + 1, sizeof *np);
        if (np)
            paths = np;
        if (!ni || !np) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            break;
        }
        ids[n] = sqlite3_column_int64(st, 0);
        paths[n] = keep_strdup((const char *)sqlite3_column_text(st, 1));
        n++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = in_txn(c, err);
        if (!rc)
            rc = end_txn(c, idx__delete_doc_tree(c->s, ids[i], 0, err), err);
        if (!rc) {
            c->stats->removed++;
            report(c, paths[i] ? paths[i] : "", "removed", NULL);
        }
    }
    for (size_t i = 0; i < n; i++)
        keep_free(paths[i]);
    keep_free(paths);
    keep_free(ids);
    return rc;
}

int idx_ingest_paths(idx_store *s, const char *const *paths, size_t n_paths,
                     const idx_ingest_opts *opt, idx_ingest_stats *stats, keep_err *err)
{
    memset(stats, 0, sizeof *stats);
    sync_ctx c = {s, opt, opt->collection ? opt->collection : "default", stats, 0, 0};
    work_list w = {0};
    char **dirs = keep_calloc(n_paths ? n_paths : 1, sizeof *dirs);
    size_t n_dirs = 0;
    if (!dirs)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    int rc = idx__exec(s, "CREATE TEMP TABLE IF NOT EXISTS seen(id INTEGER PRIMARY KEY);"
                          "DELETE FROM temp.seen;", err);
    for (size_t i = 0; i < n_paths && !rc && !c.stop; i++) {
        char real[PATH_MAX];
        if (!realpath(paths[i], real)) {
            stats->failed++;
            report(&c, paths[i], "failed", strerror(errno));
            continue;
        }
        struct stat st;
        if (stat(real, &st) != 0) {
            stats->failed++;
            report(&c, real, "failed", strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(&c, real, 0, &w, err);
            if (!rc && !(dirs[n_dirs++] = keep_strdup(real)))
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        } else if (S_ISREG(st.st_mode)) {
            rc = work_add(&w, real, &st, err);
        } else {
            stats->skipped++;
            report(&c, real, "skipped", "not a regular file or folder");
        }
    }
    stats->files_total = w.n;
    for (size_t i = 0; i < w.n; i++)
        stats->total_bytes += (uint64_t)w.v[i].size;
    if (!rc && !c.stop)
        rc = run_pipeline(&c, &w, err);
    /* removal only after a complete walk and sync: an interrupted run must
     * never remove what it simply did not reach */
    for (size_t i = 0; i < n_dirs && !rc && !c.stop; i++)
        rc = remove_unseen(&c, dirs[i], err);
    for (size_t i = 0; i < n_dirs; i++)
        keep_free(dirs[i]);
    keep_free(dirs);
    work_free(&w);
    return rc;
}

int idx_put_document(idx_store *s, const char *collection, const char *path,
                     const ingest_result *r, int64_t size, int64_t mtime, int64_t *id,
                     int *changed, keep_err *err)
{
    idx_ingest_opts opt = {0};
    idx_ingest_stats stats = {0};
    sync_ctx c = {s, &opt, collection ? collection : "default", &stats, 0, 0};
    int64_t old_size, old_mtime;
    char old_status[16] = "", old_hash[65] = "";
    int64_t doc_id = 0;
    if (changed)
        *changed = 0;
    int rc = find_doc(&c, path, &doc_id, &old_size, &old_mtime, old_status, sizeof old_status,
                      old_hash, err);
    if (rc)
        return rc;
    if (doc_id && strcmp(old_status, "indexed") == 0 && strcmp(old_hash, ingest_result_hash(r)) == 0) {
        if (id)
            *id = doc_id;
        return KEEP_OK;
    }
    rc = in_txn(&c, err);
    if (!rc)
        rc = end_txn(&c, write_doc(&c, &doc_id, 0, path, size, mtime, r, "indexed", NULL, err), err);
    if (rc)
        return rc;
    if (id)
        *id = doc_id;
    if (changed)
        *changed = 1;
    return KEEP_OK;
}

int idx_doc_remove_path(idx_store *s, const char *collection, const char *path, keep_err *err)
{
    if (!s || !path || !*path)
        return keep_err_set(err, KEEP_ERR_USAGE, "idx_doc_remove_path: no path");
    size_t n = strlen(path);
    if (n > 65536)
        return keep_err_set(err, KEEP_ERR_USAGE, "path of %zu bytes is too long", n);
    while (n > 1 && path[n - 1] == '/')
        n--;
    /* documents under the folder sort in [path + "/", path + "0"): '0' follows '/' */
    char *lo = keep_malloc(n + 2), *hi = keep_malloc(n + 2);
    int64_t *ids = NULL;
    size_t n_ids = 0;
    sqlite3_stmt *st = NULL;
    int rc = KEEP_OK;
    if (!lo || !hi) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(lo, path, n);
    memcpy(hi, path, n);
    lo[n] = '/';
    hi[n] = '0';
    lo[n + 1] = hi[n + 1] = '\0';
    if ((rc = idx__exec(s, "BEGIN IMMEDIATE", err)))
        goto out;
    const char *sql = "SELECT id FROM documents WHERE collection = ?1 AND parent_id IS NULL"
                      " AND (path = ?2 OR (path >= ?3 AND path < ?4))";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "finding documents to remove");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, collection ? collection : "default", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, (int)n, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, hi, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *ni = keep_reallocarray(ids, n_ids + 1, sizeof *ni);
        if (!ni) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto rollback;
        }
        ids = ni;
        ids[n_ids++] = sqlite3_column_int64(st, 0);
    }
    if (step != SQLITE_DONE) {
        rc = idx__db_error(s, err, "finding documents to remove");
        goto rollback;
    }
    sqlite3_finalize(st);
    st = NULL;
    for (size_t i = 0; i < n_ids; i++)
        if ((rc = idx__delete_doc_tree(s, ids[i], 0, err)))
            goto rollback;
    rc = idx__exec(s, "COMMIT", err);
    if (!rc)
        goto out;
rollback:
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    keep_free(ids);
    keep_free(lo);
    keep_free(hi);
    return rc;
}
