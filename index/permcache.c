/* permcache.c — which chunks a principal may read, as a bitmap over chunk
 * ids, cached per store connection so that a search does not enumerate the
 * permitted chunks again for every query.
 *
 * Two levels, both checked against generations the schema's triggers keep in
 * SQLite (collection_gen, acl_gen; see the 3 -> 4 migration in store.c):
 *  - one bitmap per collection: the chunks of its indexed documents, rebuilt
 *    when that collection's generation moves (a chunk added or removed, a
 *    document's status or collection changed);
 *  - a few unions, one per (principal, collection filter): the OR of the
 *    bitmaps of the collections the principal reads, recomputed when a
 *    collection bitmap or a grant, group membership or user changed. The
 *    readable collections come from the database at that moment, not from
 *    the principal loaded earlier, so a revoked right takes effect on the
 *    next query.
 * Checking costs one small query per search (the generations). A bitmap
 * covers only its [base, base + n_bits) id range: chunk ids are never reused
 * and a collection is usually ingested in bursts, so ranges stay compact.
 *
 * Searches consume the bitmap inside the ranked query: FTS5 through the SQL
 * function keep_permitted(?, rowid), FAISS through an id-bitmap selector, so
 * nothing is filtered after the top-k. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define PERM_UNIONS 8
/* Chunk ids above this cannot be cached (a bitmap would need 512 MB). */
#define PERM_MAX_ID ((int64_t)1 << 32)

typedef struct {
    char *name;
    int64_t gen;
    int seen;
    uint8_t *bits;
    int64_t base, n_bits; /* base is a multiple of 8 */
    size_t count;
} coll_bits;

typedef struct {
    char *key; /* principal name (or "" for admins), '\n', collection filter */
    int64_t acl_gen;
    uint64_t epoch;
    idx_permitted p;
    uint8_t *bits;
} union_bits;

struct idx__perm_cache {
    coll_bits *coll;
    size_t n_coll, cap_coll;
    int64_t acl_gen;
    uint64_t epoch; /* moves whenever a collection bitmap changes */
    union_bits u[PERM_UNIONS];
    size_t victim;
    uint8_t *scratch; /* the answer under per-query filters */
    size_t scratch_bytes;
};

/* Unique across the process: a consumer (the vector index) can key its own
 * cache on it. */
static _Atomic uint64_t stamp_counter = 1;

static uint64_t new_stamp(void) { return atomic_fetch_add(&stamp_counter, 1); }

static void union_clear(union_bits *u)
{
    keep_free(u->key);
    keep_free(u->bits);
    memset(u, 0, sizeof *u);
}

void idx__perm_cache_free(idx__perm_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_coll; i++) {
        keep_free(c->coll[i].name);
        keep_free(c->coll[i].bits);
    }
    keep_free(c->coll);
    for (size_t i = 0; i < PERM_UNIONS; i++)
        union_clear(&c->u[i]);
    keep_free(c->scratch);
    keep_free(c);
}

/* ---- the SQL function ------------------------------------------------------------------ */

#define PERM_POINTER_TYPE "keep_permitted"

static void sql_permitted(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const idx_permitted *p = sqlite3_value_pointer(argv[0], PERM_POINTER_TYPE);
    sqlite3_result_int(ctx, p && idx_permitted_has(p, sqlite3_value_int64(argv[1])));
}

int idx__perm_register(idx_store *s, keep_err *err)
{
    /* SQLITE_DIRECTONLY: never callable from a trigger or view a database
     * file could carry */
    if (sqlite3_create_function_v2(s->db, "keep_permitted", 2,
                                   SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, sql_permitted, NULL,
                                   NULL, NULL) != SQLITE_OK)
        return idx__db_error(s, err, "registering keep_permitted");
    return KEEP_OK;
}

int idx__perm_bind(sqlite3_stmt *st, int i, const idx_permitted *p)
{
    return sqlite3_bind_pointer(st, i, (void *)p, PERM_POINTER_TYPE, NULL);
}

/* ---- bitmaps ------------------------------------------------------------------------------ */

/* Sets bit `id` of a growable bitmap covering [*base, *base + *n_bits);
 * the first id fixes the base (rounded down to a byte). */
static int bits_set(uint8_t **bits, int64_t *base, int64_t *n_bits, int64_t id)
{
    if (id < 0 || id >= PERM_MAX_ID)
        return KEEP_ERR_TOOBIG;
    if (!*bits) {
        *base = id & ~(int64_t)7;
        *n_bits = 0;
    }
    if (id < *base) { /* ids come in ascending order; shift when they do not */
        int64_t nb = id & ~(int64_t)7, shift = (*base - nb) / 8, old = (*n_bits + 7) / 8;
        uint8_t *nbits = keep_calloc((size_t)(old + shift), 1);
        if (!nbits)
            return KEEP_ERR_NOMEM;
        if (old)
            memcpy(nbits + shift, *bits, (size_t)old);
        keep_free(*bits);
        *bits = nbits;
        *base = nb;
        *n_bits = (old + shift) * 8;
    }
    int64_t off = id - *base;
    if (off >= *n_bits) {
        int64_t old = (*n_bits + 7) / 8, want = off / 8 + 1, cap = old ? old : 64;
        while (cap < want)
            cap *= 2;
        uint8_t *nbits = keep_realloc(*bits, (size_t)cap);
        if (!nbits)
            return KEEP_ERR_NOMEM;
        memset(nbits + old, 0, (size_t)(cap - old));
        *bits = nbits;
        *n_bits = cap * 8;
    }
    (*bits)[off / 8] |= (uint8_t)(1u << (off % 8));
    return KEEP_OK;
}

static int coll_build(idx_store *s, coll_bits *c, keep_err *err)
{
    keep_free(c->bits);
    c->bits = NULL;
    c->base = c->n_bits = 0;
    c->count = 0;
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_PERM_COLL,
                                 "SELECT c.id FROM documents d JOIN chunks c ON c.doc_id = d.id"
                                 " WHERE d.collection = ?1 AND d.status = 'indexed'"
                                 " ORDER BY c.id",
                                 err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    int step, rc = KEEP_OK;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = bits_set(&c->bits, &c->base, &c->n_bits, sqlite3_column_int64(st, 0));
        c->count++;
    }
    sqlite3_reset(st);
    if (rc == KEEP_ERR_TOOBIG)
        return keep_err_set(err, rc, "chunk ids beyond %lld: run 'keep reindex'",
                            (long long)PERM_MAX_ID);
    if (rc)
        return keep_err_set(err, rc, "out of memory");
    if (step != SQLITE_DONE)
        return idx__db_error(s, err, "listing a collection's chunks");
    return KEEP_OK;
}

/* Brings the collection bitmaps and the grants generation up to date. */
static int refresh(idx_store *s, idx__perm_cache *c, keep_err *err)
{
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_PERM_GENS,
                                 "SELECT NULL, gen FROM acl_gen"
                                 " UNION ALL SELECT collection, gen FROM collection_gen",
                                 err);
    if (!st)
        return KEEP_ERR_DB;
    for (size_t i = 0; i < c->n_coll; i++)
        c->coll[i].seen = 0;
    int step, rc = KEEP_OK;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t gen = sqlite3_column_int64(st, 1);
        if (!name) {
            if (gen != c->acl_gen)
                c->acl_gen = gen;
            continue;
        }
        size_t i = 0;
        while (i < c->n_coll && strcmp(c->coll[i].name, name) != 0)
            i++;
        if (i == c->n_coll) {
            if (c->n_coll == c->cap_coll) {
                size_t nc = c->cap_coll ? c->cap_coll * 2 : 16;
                coll_bits *n = keep_reallocarray(c->coll, nc, sizeof *n);
                if (!n) {
                    rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                    break;
                }
                c->coll = n;
                c->cap_coll = nc;
            }
            memset(&c->coll[i], 0, sizeof c->coll[i]);
            if (!(c->coll[i].name = keep_strdup(name))) {
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                break;
            }
            c->coll[i].gen = gen - 1; /* forces the build below */
            c->n_coll++;
        }
        coll_bits *cb = &c->coll[i];
        cb->seen = 1;
        if (cb->gen != gen) {
            /* the statement is still stepping: build with another one */
            cb->gen = gen;
            cb->seen = 2;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "reading access generations");
    sqlite3_reset(st);
    for (size_t i = 0; !rc && i < c->n_coll; i++) {
        coll_bits *cb = &c->coll[i];
        if (cb->seen == 2) {
            rc = coll_build(s, cb, err);
            c->epoch++;
        } else if (!cb->seen) { /* the collection is gone */
            keep_free(cb->name);
            keep_free(cb->bits);
            c->coll[i--] = c->coll[--c->n_coll];
            c->epoch++;
        }
    }
    if (rc) { /* a half-built state must not be trusted next time */
        for (size_t i = 0; i < c->n_coll; i++)
            c->coll[i].gen = -1;
        c->epoch++;
    }
    return rc;
}

static coll_bits *find_coll(idx__perm_cache *c, const char *name)
{
    for (size_t i = 0; i < c->n_coll; i++)
        if (strcmp(c->coll[i].name, name) == 0)
            return &c->coll[i];
    return NULL;
}

/* Adds collection cb to the union under construction. */
static void union_add(union_bits *u, const coll_bits *cb)
{
    if (!cb || !cb->bits)
        return;
    int64_t off = (cb->base - u->p.base) / 8;
    for (int64_t b = 0; b < (cb->n_bits + 7) / 8; b++)
        u->bits[off + b] |= cb->bits[b];
    u->p.count += cb->count;
}

/* Computes union u for every collection (all = 1) or those in names (n of
 * them), restricted to `only` when not NULL. */
static int union_build(idx__perm_cache *c, union_bits *u, int all, char **names, size_t n,
                       const char *only, keep_err *err)
{
    const coll_bits *pick[256];
    const coll_bits **sel = pick;
    size_t n_sel = 0, total = all ? c->n_coll : n;
    if (total > sizeof pick / sizeof pick[0] &&
        !(sel = keep_reallocarray(NULL, total, sizeof *sel)))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < total; i++) {
        const coll_bits *cb = all ? &c->coll[i] : find_coll(c, names[i]);
        if (cb && cb->bits && (!only || strcmp(cb->name, only) == 0))
            sel[n_sel++] = cb;
    }
    int64_t lo = 0, hi = 0;
    for (size_t i = 0; i < n_sel; i++) {
        int64_t end = sel[i]->base + sel[i]->n_bits;
        if (i == 0 || sel[i]->base < lo)
            lo = sel[i]->base;
        if (i == 0 || end > hi)
            hi = end;
    }
    keep_free(u->bits);
    u->bits = NULL;
    memset(&u->p, 0, sizeof u->p);
    int rc = KEEP_OK;
    if (n_sel) {
        if (!(u->bits = keep_calloc((size_t)((hi - lo) / 8 + 1), 1))) {
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
            goto out;
        }
        u->p.base = lo;
        u->p.n_bits = hi - lo;
        for (size_t i = 0; i < n_sel; i++)
            union_add(u, sel[i]);
    }
    u->p.bits = u->bits;
    u->p.stamp = new_stamp();
out:
    if (sel != pick)
        keep_free(sel);
    return rc;
}

/* The collections user may read now. Caller frees each name and *out. */
static int readable(idx_store *s, const char *user, char ***out, size_t *n, keep_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = idx__stmt(
        s, IDX_STMT_PERM_READABLE,
        "SELECT DISTINCT collection FROM collection_grants"
        " WHERE EXISTS (SELECT 1 FROM users WHERE name = ?1)"
        " AND (grp = 'everyone' OR grp IN (SELECT grp FROM user_groups WHERE user = ?1))",
        err);
    if (!st)
        return KEEP_ERR_DB;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    char **v = NULL;
    size_t count = 0, cap = 0;
    int step, rc = KEEP_OK;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = keep_reallocarray(v, nc, sizeof *nv);
            if (!nv) {
                rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[count] = keep_strdup((const char *)sqlite3_column_text(st, 0))))
            rc = keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        else
            count++;
    }
    if (!rc && step != SQLITE_DONE)
        rc = idx__db_error(s, err, "reading grants");
    sqlite3_reset(st);
    if (rc) {
        for (size_t i = 0; i < count; i++)
            keep_free(v[i]);
        keep_free(v);
        return rc;
    }
    *out = v;
    *n = count;
    return KEEP_OK;
}

/* The union for (p, collection filter), from the cache or computed. */
static int get_union(idx_store *s, idx__perm_cache *c, const idx_principal *p, const char *only,
                     const idx_permitted **out, keep_err *err)
{
    int admin = idx_principal_is_admin(p);
    const char *who = admin ? "" : idx_principal_name(p);
    keep_buf key = {0};
    if (keep_buf_printf(&key, "%s\n%s", who, only ? only : ""))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < PERM_UNIONS; i++) {
        union_bits *u = &c->u[i];
        if (u->key && strcmp(u->key, key.data) == 0 && u->epoch == c->epoch &&
            u->acl_gen == c->acl_gen) {
            keep_buf_free(&key);
            *out = &u->p;
            return KEEP_OK;
        }
    }
    union_bits *u = NULL;
    for (size_t i = 0; i < PERM_UNIONS && !u; i++)
        if (c->u[i].key && strcmp(c->u[i].key, key.data) == 0)
            u = &c->u[i];
    if (!u) {
        u = &c->u[c->victim];
        c->victim = (c->victim + 1) % PERM_UNIONS;
    }
    union_clear(u);
    char **names = NULL;
    size_t n = 0;
    int rc = admin ? KEEP_OK : readable(s, who, &names, &n, err);
    if (!rc)
        rc = union_build(c, u, admin, names, n, only, err);
    for (size_t i = 0; i < n; i++)
        keep_free(names[i]);
    keep_free(names);
    if (rc) {
        union_clear(u);
        keep_buf_free(&key);
        return rc;
    }
    u->key = keep_buf_take(&key);
    u->epoch = c->epoch;
    u->acl_gen = c->acl_gen;
    u->p.all_indexed = admin && !only;
    *out = &u->p;
    return KEEP_OK;
}

/* Narrows `base` by the per-query filters (format, path prefix, dates) into
 * the scratch bitmap; these are not cached. */
static int narrow(idx_store *s, idx__perm_cache *c, const idx_permitted *base, const idx_filter *f,
                  idx_permitted *out, keep_err *err)
{
    memset(out, 0, sizeof *out);
    out->stamp = new_stamp();
    if (base->count == 0)
        return KEEP_OK;
    size_t nb = (size_t)((base->n_bits + 7) / 8);
    if (nb > c->scratch_bytes) {
        uint8_t *n = keep_realloc(c->scratch, nb);
        if (!n)
            return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
        c->scratch = n;
        c->scratch_bytes = nb;
    }
    memset(c->scratch, 0, nb);
    out->bits = c->scratch;
    out->base = base->base;
    out->n_bits = base->n_bits;
    sqlite3_stmt *st = idx__stmt(s, IDX_STMT_PERMITTED,
                                 "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id"
                                 " WHERE d.status = 'indexed'"
                                 " AND (?1 IS NULL OR d.collection = ?1)"
                                 " AND (?2 IS NULL OR d.format = ?2)"
                                 " AND (?3 IS NULL OR substr(d.path, 1, length(?3)) = ?3)"
                                 " AND (?4 IS NULL OR d.mtime >= ?4)"
                                 " AND (?5 IS NULL OR d.mtime < ?5)",
                                 err);
    if (!st)
        return KEEP_ERR_DB;
    if (f->collection)
        sqlite3_bind_text(st, 1, f->collection, -1, SQLITE_STATIC);
    if (f->format)
        sqlite3_bind_text(st, 2, f->format, -1, SQLITE_STATIC);
    if (f->path_prefix && *f->path_prefix)
        sqlite3_bind_text(st, 3, f->path_prefix, -1, SQLITE_STATIC);
    if (f->since_ns)
        sqlite3_bind_int64(st, 4, f->since_ns);
    if (f->until_ns)
        sqlite3_bind_int64(st, 5, f->until_ns);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (idx_permitted_has(base, id)) {
            int64_t off = id - base->base;
            c->scratch[off / 8] |= (uint8_t)(1u << (off % 8));
            out->count++;
        }
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return idx__db_error(s, err, "listing permitted chunks");
    return KEEP_OK;
}

int idx_permitted_get(idx_store *s, const idx_principal *p, const idx_filter *f,
                      idx_permitted *out, keep_err *err)
{
    memset(out, 0, sizeof *out);
    if (!p) { /* no principal: nothing is readable */
        out->stamp = new_stamp();
        return KEEP_OK;
    }
    if (!s->perm && !(s->perm = keep_calloc(1, sizeof *s->perm)))
        return keep_err_set(err, KEEP_ERR_NOMEM, "out of memory");
    idx__perm_cache *c = s->perm;
    /* one snapshot for the generations and the bitmaps built from them */
    int own_txn = sqlite3_get_autocommit(s->db);
    if (own_txn && idx__exec(s, "BEGIN", err))
        return KEEP_ERR_DB;
    const idx_permitted *u = NULL;
    int rc = refresh(s, c, err);
    if (!rc)
        rc = get_union(s, c, p, f ? f->collection : NULL, &u, err);
    if (!rc && f &&
        (f->format || (f->path_prefix && *f->path_prefix) || f->since_ns || f->until_ns))
        rc = narrow(s, c, u, f, out, err);
    else if (!rc)
        *out = *u;
    if (own_txn)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}
