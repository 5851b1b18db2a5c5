/* vectors.c — chunk embeddings: SQLite (chunk_vectors) is the source of
 * truth, the FAISS index (vecindex) a cache file kept in step with it.
 *
 * Keeping the cache in step: every vector written and every chunk deleted
 * appends its chunk id to vec_log (triggers, in the writer's transaction). A
 * cache records the log position it reflects; applying the entries after it
 * (remove the id, add it back when a vector exists now) is idempotent, so a
 * cache that is ahead of its recorded position is still correct. The file is
 * stamped with a random generation that vec_meta also records: a file written
 * by another process, or left from an earlier vector space, does not match and
 * is rebuilt from SQLite. vec_meta.space changes whenever the embedder
 * changes, which invalidates every cache at once. */
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "vecindex.h"

#define EMBED_BATCH 64
#define APPLY_SAVE_THRESHOLD 2000 /* changes applied before the cache file is rewritten */
#define LOG_KEEP 20000            /* log entries kept behind the saved cache */

/* ---- metadata ------------------------------------------------------------------- */

typedef struct {
    char embedder[256];
    int64_t dim, space, cache_gen, cache_seq, trimmed_seq, max_seq;
} vec_meta;

static int read_meta(idx_store *s, vec_meta *m, keep_err *err)
{
    memset(m, 0, sizeof *m);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT COALESCE(embedder, ''), dim, space, cache_gen, cache_seq,"
                           " trimmed_seq, (SELECT COALESCE(max(seq), 0) FROM vec_log)"
                           " FROM vec_meta WHERE id = 1",
                           -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "reading vector metadata");
    int rc = KEEP_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(m->embedder, sizeof m->embedder, "%s", (const char *)sqlite3_column_text(st, 0));
        m->dim = sqlite3_column_int64(st, 1);
        m->space = sqlite3_column_int64(st, 2);
        m->cache_gen = sqlite3_column_int64(st, 3);
        m->cache_seq = sqlite3_column_int64(st, 4);
        m->trimmed_seq = sqlite3_column_int64(st, 5);
        m->max_seq = sqlite3_column_int64(st, 6);
    } else {
        rc = idx__db_error(s, err, "reading vector metadata");
    }
    sqlite3_finalize(st);
    return rc;
}

int idx_vectors_embedder_name(idx_store *s, char **name, keep_err *err)
{
    *name = NULL;
    vec_meta m;
    int rc = read_meta(s, &m, err);
    if (rc || !m.embedder[0])
        return rc;
    if (!(*name = keep_strdup(m.embedder)))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    return KEEP_OK;
}

/* ---- embedding ---------------------------------------------------------------------- */

int idx_chunk_embed_text(idx_store *s, int64_t chunk_id, char **text, keep_err *err)
{
    *text = NULL;
    keep_buf sql = {0};
    keep_buf_printf(&sql, "SELECT %s FROM chunks c WHERE c.id = ?1", idx__chunk_embed_sql());
    sqlite3_stmt *st;
    if (!sql.data || sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        keep_buf_free(&sql);
        return idx__db_error(s, err, "reading chunk");
    }
    keep_buf_free(&sql);
    sqlite3_bind_int64(st, 1, chunk_id);
    int rc = KEEP_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (!(*text = keep_strdup((const char *)sqlite3_column_text(st, 0))))
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    } else {
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no chunk %lld", (long long)chunk_id);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Drops every stored vector and starts a new space for embedder e. */
static int start_space(idx_store *s, const idx_embedder *e, keep_err *err)
{
    if (idx__exec(s, "BEGIN IMMEDIATE", err))
        return KEEP_ERR_DB;
    sqlite3_stmt *st = NULL;
    int rc = idx__exec(s, "DELETE FROM chunk_vectors;", err);
    if (!rc && sqlite3_prepare_v2(s->db,
                                  "UPDATE vec_meta SET embedder = ?1, dim = ?2, space = space + 1,"
                                  " cache_gen = 0, cache_seq = 0,"
                                  " trimmed_seq = (SELECT COALESCE(max(seq), 0) FROM vec_log)"
                                  " WHERE id = 1",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = idx__db_error(s, err, "starting a vector space");
    if (!rc) {
        sqlite3_bind_text(st, 1, e->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)e->dim);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = idx__db_error(s, err, "starting a vector space");
    }
    sqlite3_finalize(st);
    if (!rc)
        rc = idx__exec(s, "DELETE FROM vec_log; COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static size_t count_pending(idx_store *s)
{
    sqlite3_stmt *st;
    size_t n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM chunks c WHERE NOT EXISTS"
                           " (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int idx_vectors_embed(idx_store *s, idx_embedder *e, idx_embed_progress_fn progress, void *ud,
                      size_t *n_embedded, keep_err *err)
{
    if (n_embedded)
        *n_embedded = 0;
    if (!e || !e->name || !e->embed || e->dim == 0 || e->dim > IDX_VEC_MAX_DIM)
        return keep_err_set(err, KEEP_ERR_USAGE, "invalid embedder");
    vec_meta m;
    int rc = read_meta(s, &m, err);
    if (rc)
        return rc;
    if (strcmp(m.embedder, e->name) != 0 || m.dim != (int64_t)e->dim)
        if ((rc = start_space(s, e, err)))
            return rc;
    size_t total = count_pending(s), done = 0;
    if (progress && total && progress(ud, 0, total))
        return keep_err_set(err, KEEP_ERR_CANCELLED, "cancelled");
    keep_buf sql = {0};
    keep_buf_printf(&sql,
                    "SELECT c.id, %s FROM chunks c WHERE c.id > ?1 AND NOT EXISTS"
                    " (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id)"
                    " ORDER BY c.id LIMIT %d",
                    idx__chunk_embed_sql(), EMBED_BATCH);
    sqlite3_stmt *sel = NULL, *ins = NULL;
    char *texts[EMBED_BATCH] = {0};
    int64_t ids[EMBED_BATCH];
    float *vecs = keep_malloc(EMBED_BATCH * e->dim * sizeof *vecs);
    if (!sql.data || !vecs) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(s->db, sql.data, -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO chunk_vectors(chunk_id, vec)"
                           " SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?1)",
                           -1, &ins, NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "preparing embedding");
        goto out;
    }
    int64_t last = 0;
    for (;;) {
        /* read a batch, then embed it with no transaction open */
        size_t n = 0;
        sqlite3_bind_int64(sel, 1, last);
        int step;
        while (n < EMBED_BATCH && (step = sqlite3_step(sel)) == SQLITE_ROW) {
            ids[n] = sqlite3_column_int64(sel, 0);
            if (!(texts[n] = keep_strdup((const char *)sqlite3_column_text(sel, 1)))) {
                sqlite3_reset(sel);
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                goto out;
            }
            n++;
        }
        sqlite3_reset(sel);
        if (n == 0)
            break;
        last = ids[n - 1];
        if ((rc = e->embed(e, (const char *const *)texts, n, 0, vecs, err)))
            goto out;
        if ((rc = idx__exec(s, "BEGIN IMMEDIATE", err)))
            goto out;
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_reset(ins);
            sqlite3_bind_int64(ins, 1, ids[i]);
            sqlite3_bind_blob(ins, 2, vecs + i * e->dim, (int)(e->dim * sizeof(float)),
                              SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                rc = idx__db_error(s, err, "writing vectors");
        }
        sqlite3_reset(ins);
        if (!rc)
            rc = idx__exec(s, "COMMIT", err);
        if (rc) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            keep_free(texts[i]);
            texts[i] = NULL;
        }
        done += n;
        if (n_embedded)
            *n_embedded = done;
        if (progress && progress(ud, done, total > done ? total : done)) {
            rc = keep_err_set(err, KEEP_ERR_CANCELLED, "cancelled");
            goto out;
        }
    }
out:
    for (size_t i = 0; i < EMBED_BATCH; i++)
        keep_free(texts[i]);
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    keep_free(vecs);
    keep_buf_free(&sql);
    return rc;
}

int idx_builtin_refresh(idx_store *s, idx_embed_progress_fn progress, void *ud, idx_embedder **out,
                        size_t *n_embedded, keep_err *err)
{
    if (out)
        *out = NULL;
    if (n_embedded)
        *n_embedded = 0;
    int needed = 0, rc = idx_builtin_needs_learning(s, &needed, err);
    if (rc)
        return rc;
    if (needed) {
        int64_t id;
        rc = idx_builtin_learn(s, &id, err);
        if (rc && rc != KEEP_ERR_NOTFOUND)
            return rc;
    }
    idx_embedder *e = NULL;
    rc = idx_builtin_open(s, &e, err);
    if (rc == KEEP_ERR_NOTFOUND) {
        keep_err_clear(err);
        return KEEP_OK; /* nothing to learn from yet */
    }
    if (rc)
        return rc;
    rc = idx_vectors_embed(s, e, progress, ud, n_embedded, err);
    if (rc || !out)
        idx_embedder_free(e);
    else
        *out = e;
    return rc;
}

/* ---- the FAISS cache ------------------------------------------------------------------- */

struct idx_vectors {
    pthread_rwlock_t lock;
    char *path;
    idx_vec *vec; /* NULL when the store holds no vectors */
    size_t dim;
    int64_t space, applied_seq;
    const char *origin;
    char embedder[256]; /* name of the embedder of the space */
    /* unique in the process, renewed whenever the index may have changed
     * (slots are renumbered by maintenance): keys the stores' slot bitmaps */
    uint64_t version;
};

static _Atomic uint64_t version_counter = 1;

static int64_t random_generation(void)
{
    uint64_t g = 0;
    if (sodium_init() < 0)
        return 1;
    while (g == 0 || g > INT64_MAX)
        randombytes_buf(&g, sizeof g), g >>= 1;
    return (int64_t)g;
}

/* Saves the cache and records it; failures only cost a rebuild later. */
static void save_cache(idx_vectors *v, idx_store *s)
{
    if (!v->path || !v->vec)
        return;
    int64_t gen = random_generation();
    keep_err err;
    if (idx_vec_save(v->vec, v->path, (uint64_t)gen, &err))
        return;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE vec_meta SET cache_gen = ?1, cache_seq = ?2 WHERE id = 1"
                           " AND space = ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, gen);
    sqlite3_bind_int64(st, 2, v->applied_seq);
    sqlite3_bind_int64(st, 3, v->space);
    sqlite3_step(st);
    sqlite3_finalize(st);
    /* keep the log short; a reader further behind than this rebuilds */
    int64_t cut = v->applied_seq - LOG_KEEP;
    if (cut > 0 && sqlite3_prepare_v2(s->db,
                                      "UPDATE vec_meta SET trimmed_seq = max(trimmed_seq, ?1)"
                                      " WHERE id = 1",
                                      -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, cut);
        int ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        if (ok && sqlite3_prepare_v2(s->db, "DELETE FROM vec_log WHERE seq <= ?1", -1, &st,
                                     NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, cut);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
    }
}

static int blob_vector(sqlite3_stmt *st, int col, size_t dim, const float **out)
{
    const void *b = sqlite3_column_blob(st, col);
    if (!b || (size_t)sqlite3_column_bytes(st, col) != dim * sizeof(float))
        return 0;
    *out = b;
    return 1;
}

/* Builds the index from every stored vector; inside the caller's read transaction. */
static int rebuild(idx_vectors *v, idx_store *s, const vec_meta *m, keep_err *err)
{
    idx_vec_free(v->vec);
    v->vec = NULL;
    v->dim = (size_t)m->dim;
    v->space = m->space;
    v->applied_seq = m->max_seq;
    snprintf(v->embedder, sizeof v->embedder, "%s", m->embedder);
    if (m->dim <= 0 || !m->embedder[0]) {
        v->origin = "empty";
        return KEEP_OK;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM chunk_vectors", -1, &st, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "counting vectors");
    size_t count = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    idx_vec *vec = NULL;
    int rc = idx_vec_create(&vec, v->dim, idx_vec_choose_kind(count, NULL), NULL, err);
    if (rc)
        return rc;
    enum { B = 4096 };
    int64_t *ids = keep_malloc(B * sizeof *ids);
    float *buf = keep_malloc(B * v->dim * sizeof *buf);
    if (!ids || !buf) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(s->db, "SELECT chunk_id, vec FROM chunk_vectors ORDER BY chunk_id", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "reading vectors");
        goto out;
    }
    size_t n = 0;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const float *f;
        if (!blob_vector(st, 1, v->dim, &f))
            continue; /* a vector of another size cannot be searched: skip it */
        ids[n] = sqlite3_column_int64(st, 0);
        memcpy(buf + n * v->dim, f, v->dim * sizeof *f);
        if (++n == B) {
            rc = idx_vec_add(vec, ids, buf, n, err);
            n = 0;
        }
    }
    if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = idx__db_error(s, err, "reading vectors");
    sqlite3_finalize(st);
    if (!rc && n)
        rc = idx_vec_add(vec, ids, buf, n, err);
out:
    keep_free(ids);
    keep_free(buf);
    if (rc) {
        idx_vec_free(vec);
        return rc;
    }
    v->vec = vec;
    v->origin = "rebuilt";
    return KEEP_OK;
}

/* Applies the log entries in (v->applied_seq, m->max_seq]. */
static int apply_log(idx_vectors *v, idx_store *s, const vec_meta *m, size_t *applied,
                     keep_err *err)
{
    *applied = 0;
    sqlite3_stmt *lg = NULL, *get = NULL;
    int rc = KEEP_OK;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT DISTINCT chunk_id FROM vec_log WHERE seq > ?1 AND seq <= ?2",
                           -1, &lg, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT vec FROM chunk_vectors WHERE chunk_id = ?1", -1, &get,
                           NULL) != SQLITE_OK) {
        rc = idx__db_error(s, err, "reading the vector log");
        goto out;
    }
    sqlite3_bind_int64(lg, 1, v->applied_seq);
    sqlite3_bind_int64(lg, 2, m->max_seq);
    int step;
    while (!rc && (step = sqlite3_step(lg)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(lg, 0);
        rc = idx_vec_remove(v->vec, &id, 1, NULL, err);
        sqlite3_reset(get);
        sqlite3_bind_int64(get, 1, id);
        const float *f;
        if (!rc && sqlite3_step(get) == SQLITE_ROW && blob_vector(get, 0, v->dim, &f))
            rc = idx_vec_add(v->vec, &id, f, 1, err);
        (*applied)++;
    }
    if (!rc && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "reading the vector log");
    if (!rc)
        v->applied_seq = m->max_seq;
out:
    sqlite3_finalize(lg);
    sqlite3_finalize(get);
    return rc;
}

/* Loads or rebuilds, then catches up; called with the write lock held. */
static int refresh_locked(idx_vectors *v, idx_store *s, int reload, keep_err *err)
{
    v->version = atomic_fetch_add(&version_counter, 1);
    if (idx__exec(s, "BEGIN", err)) /* one snapshot for meta, log and vectors */
        return KEEP_ERR_DB;
    vec_meta m;
    int rc = read_meta(s, &m, err), saved = 0;
    size_t applied = 0;
    if (rc)
        goto out;
    if (reload || m.space != v->space || v->applied_seq < m.trimmed_seq ||
        (!v->vec && m.dim > 0)) {
        idx_vec *loaded = NULL;
        keep_err lerr;
        if (v->path && m.cache_gen != 0 && m.dim > 0 && m.cache_seq >= m.trimmed_seq &&
            idx_vec_load(&loaded, v->path, (size_t)m.dim, (uint64_t)m.cache_gen, NULL, &lerr) ==
                KEEP_OK) {
            idx_vec_free(v->vec);
            v->vec = loaded;
            v->dim = (size_t)m.dim;
            v->space = m.space;
            v->applied_seq = m.cache_seq;
            v->origin = "loaded";
            snprintf(v->embedder, sizeof v->embedder, "%s", m.embedder);
        } else {
            if ((rc = rebuild(v, s, &m, err)))
                goto out;
            saved = 1;
        }
    }
    if (v->vec && v->applied_seq < m.max_seq)
        rc = apply_log(v, s, &m, &applied, err);
    else
        v->applied_seq = m.max_seq > v->applied_seq ? m.max_seq : v->applied_seq;
    if (!rc && v->vec)
        rc = idx_vec_maintain(v->vec, NULL, err);
out:
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && v->vec && (saved || applied >= APPLY_SAVE_THRESHOLD))
        save_cache(v, s);
    return rc;
}

int idx_vectors_open(idx_store *s, const char *cache_path, idx_vectors **out, keep_err *err)
{
    *out = NULL;
    idx_vectors *v = keep_calloc(1, sizeof *v);
    if (!v)
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    if (pthread_rwlock_init(&v->lock, NULL) != 0) {
        keep_free(v);
        return keep_err_set(err, KEEP_ERR_INTERNAL, "cannot create a lock");
    }
    v->space = -1;
    v->origin = "empty";
    if (cache_path && !(v->path = keep_strdup(cache_path))) {
        idx_vectors_close(v);
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    }
    int rc = refresh_locked(v, s, 1, err);
    if (rc) {
        idx_vectors_close(v);
        return rc;
    }
    *out = v;
    return KEEP_OK;
}

void idx_vectors_close(idx_vectors *v)
{
    if (!v)
        return;
    idx_vec_free(v->vec);
    keep_free(v->path);
    pthread_rwlock_destroy(&v->lock);
    keep_free(v);
}

int idx_vectors_sync(idx_vectors *v, idx_store *s, keep_err *err)
{
    vec_meta m;
    int rc = read_meta(s, &m, err);
    if (rc)
        return rc;
    pthread_rwlock_rdlock(&v->lock);
    int current = m.space == v->space && m.max_seq == v->applied_seq;
    pthread_rwlock_unlock(&v->lock);
    if (current)
        return KEEP_OK;
    pthread_rwlock_wrlock(&v->lock);
    rc = refresh_locked(v, s, 0, err);
    pthread_rwlock_unlock(&v->lock);
    return rc;
}

size_t idx_vectors_dim(idx_vectors *v) { return v->dim; }

int idx_vectors_made_by(idx_vectors *v, const char *embedder)
{
    pthread_rwlock_rdlock(&v->lock);
    int same = strcmp(v->embedder, embedder) == 0;
    pthread_rwlock_unlock(&v->lock);
    return same;
}

size_t idx_vectors_count(idx_vectors *v)
{
    pthread_rwlock_rdlock(&v->lock);
    size_t n = v->vec ? idx_vec_count(v->vec) : 0;
    pthread_rwlock_unlock(&v->lock);
    return n;
}

const char *idx_vectors_origin(idx_vectors *v) { return v->origin; }

int idx_vectors_search(idx_vectors *v, idx_store *s, const float *query, size_t k,
                       const int64_t *permitted, size_t n_permitted, int64_t *ids, float *scores,
                       size_t *n, keep_err *err)
{
    *n = 0;
    int rc = idx_vectors_sync(v, s, err);
    if (rc)
        return rc;
    if (k == 0)
        return KEEP_OK;
    if (k > IDX_VEC_MAX_K)
        k = IDX_VEC_MAX_K;
    pthread_rwlock_rdlock(&v->lock);
    if (v->vec && idx_vec_count(v->vec) > 0 && (!permitted || n_permitted > 0)) {
        idx_vec_filter f = {.ids = permitted, .n_ids = n_permitted};
        rc = idx_vec_search(v->vec, query, k, permitted ? &f : NULL, ids, scores, n, err);
    }
    pthread_rwlock_unlock(&v->lock);
    return rc;
}

int idx_vectors_search_in(idx_vectors *v, idx_store *s, const float *query, size_t k,
                          const idx_permitted *perm, int64_t *ids, float *scores, size_t *n,
                          keep_err *err)
{
    *n = 0;
    int rc = idx_vectors_sync(v, s, err);
    if (rc)
        return rc;
    if (k == 0 || perm->count == 0)
        return KEEP_OK;
    if (k > IDX_VEC_MAX_K)
        k = IDX_VEC_MAX_K;
    /* every indexed chunk: no selector (the caller's locate step drops a
     * chunk whose document stopped being indexed since) */
    idx_vec_filter f = {.id_bits = perm->bits, .id_base = perm->base, .id_n_bits = perm->n_bits};
    pthread_rwlock_rdlock(&v->lock);
    if (v->vec && idx_vec_count(v->vec) > 0 && !perm->all_indexed) {
        /* the slots of the permitted set: one pass over every slot, so kept
         * in the store (one thread at a time) for the next search with the
         * same set on the same index, such as the feedback search */
        if (!s->slot_bits || s->slot_stamp != perm->stamp || s->slot_version != v->version) {
            keep_free(s->slot_bits);
            s->slot_bits = NULL;
            rc = idx_vec_filter_slots(v->vec, &f, &s->slot_bits, &s->slot_n, err);
            s->slot_stamp = perm->stamp;
            s->slot_version = v->version;
        }
        f = (idx_vec_filter){.slot_bits = s->slot_bits, .n_slot_perm = s->slot_n};
    }
    if (!rc && v->vec && idx_vec_count(v->vec) > 0)
        rc = idx_vec_search(v->vec, query, k, perm->all_indexed ? NULL : &f, ids, scores, n, err);
    pthread_rwlock_unlock(&v->lock);
    return rc;
}

int idx_chunk_vector(idx_store *s, int64_t chunk_id, float *out, size_t dim, keep_err *err)
{
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_GET_VEC,
                                 "SELECT vec FROM chunk_vectors WHERE chunk_id = ?1", err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_int64(st, 1, chunk_id);
    const float *f;
    int rc = KEEP_OK;
    if (sqlite3_step(st) == SQLITE_ROW && blob_vector(st, 0, dim, &f))
        memcpy(out, f, dim * sizeof *f);
    else
        rc = keep_err_set(err, KEEP_ERR_NOTFOUND, "no vector for chunk %lld", (long long)chunk_id);
    sqlite3_reset(st);
    return rc;
}
