/* vecindex.c — the chunk-embedding index (see vecindex.h for the design): slot
 * bookkeeping, the id -> slot hash table, filtered top-k search through the
 * FAISS C API, rebuilds, and the checksummed on-disk format. */
#include "index/vecindex.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "index/faiss_c_ext.h"

/* FAISS's HNSW stores neighbours as int, so slots stay below INT32_MAX. */
#define MAX_SLOTS ((size_t)INT32_MAX - 1)
#define SLOT_NONE UINT32_MAX

struct idx_vec {
    FaissIndex *fi;
    idx_vec_kind kind;
    size_t dim;
    idx_vec_tunables t;
    int64_t *slot_ids; /* chunk id of each slot (dead slots keep theirs) */
    uint8_t *live;     /* bit s set <=> slot s is live; the search selector */
    size_t n_slots, cap_slots, n_live;
    /* open addressing (linear probing) over live ids only: id -> slot */
    int64_t *hkeys;
    uint32_t *hvals; /* SLOT_NONE marks an empty cell */
    size_t hcap;     /* power of two (or 0); load factor <= 1/2 */
    /* set when FAISS and our slots disagree after a failed add: every later
     * call fails until the caller rebuilds from SQLite */
    int broken;
};

static size_t bitmap_bytes(size_t nbits)
{
    return nbits / 8 + (nbits % 8 != 0);
}
static int bit_get(const uint8_t *bm, size_t i)
{
    return (bm[i >> 3] >> (i & 7)) & 1;
}
static void bit_set(uint8_t *bm, size_t i)
{
    bm[i >> 3] = (uint8_t)(bm[i >> 3] | (1u << (i & 7)));
}
static void bit_clear(uint8_t *bm, size_t i)
{
    bm[i >> 3] = (uint8_t)(bm[i >> 3] & ~(1u << (i & 7)));
}

/* A FAISS C API failure as a keep_err line, with FAISS's own message. */
static int faiss_fail(keep_err *err, int code, const char *what, int rc)
{
    const char *msg = faiss_get_last_error();
    return keep_err_set(err, code, "faiss %s failed (%d): %.400s", what, rc,
                        msg ? msg : "no message");
}

/* ---- tunables ------------------------------------------------------------ */

void idx_vec_tunables_default(idx_vec_tunables *t)
{
    t->hnsw_min_vectors = 100000;
    t->max_dead_fraction = 0.2;
    t->min_dead_for_rebuild = 64;
    t->exact_filter_max = 10000;
    t->hnsw_m = 32;
    t->hnsw_ef_search = 64;
}

static int tunables_check(const idx_vec_tunables *t, keep_err *err)
{
    if (t->hnsw_m < 4 || t->hnsw_m > 256)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: hnsw_m %d not in 4..256", t->hnsw_m);
    if (t->hnsw_ef_search < 1 || t->hnsw_ef_search > (1 << 20))
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: hnsw_ef_search %d out of range",
                            t->hnsw_ef_search);
    if (!(t->max_dead_fraction > 0.0 && t->max_dead_fraction <= 1.0))
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: max_dead_fraction not in (0, 1]");
    return KEEP_OK;
}

idx_vec_kind idx_vec_choose_kind(size_t n_vectors, const idx_vec_tunables *t)
{
    idx_vec_tunables def;
    if (!t) {
        idx_vec_tunables_default(&def);
        t = &def;
    }
    return n_vectors >= t->hnsw_min_vectors ? IDX_VEC_HNSW : IDX_VEC_EXACT;
}

void idx_vec_set_threads(int n)
{
    omp_set_num_threads(n < 1 ? 1 : n);
}

/* ---- id -> slot table ------------------------------------------------------ */

static size_t map_home(int64_t id, size_t mask)
{
    /* splitmix64 finalizer: chunk ids are sequential, FAISS-style low-bit
     * hashing would cluster them */
    uint64_t x = (uint64_t)id;
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (size_t)x & mask;
}

static uint32_t map_find(const idx_vec *v, int64_t id)
{
    if (!v->hcap)
        return SLOT_NONE;
    size_t mask = v->hcap - 1;
    for (size_t i = map_home(id, mask);; i = (i + 1) & mask) {
        if (v->hvals[i] == SLOT_NONE)
            return SLOT_NONE;
        if (v->hkeys[i] == id)
            return v->hvals[i];
    }
}

/* Caller guarantees room (map_reserve) and that id is absent. */
static void map_put(int64_t *keys, uint32_t *vals, size_t cap, int64_t id, uint32_t slot)
{
    size_t mask = cap - 1, i = map_home(id, mask);
    while (vals[i] != SLOT_NONE)
        i = (i + 1) & mask;
    keys[i] = id;
    vals[i] = slot;
}

/* Builds an empty table for `entries` ids. Caller frees both with keep_free. */
static int map_alloc(size_t entries, int64_t **keys, uint32_t **vals, size_t *cap)
{
    size_t c = 16;
    while (c / 2 < entries) {
        if (c > SIZE_MAX / 4)
            return KEEP_ERR_NOMEM;
        c *= 2;
    }
    *keys = keep_reallocarray(NULL, c, sizeof **keys);
    *vals = keep_reallocarray(NULL, c, sizeof **vals);
    if (!*keys || !*vals) {
        keep_free(*keys);
        keep_free(*vals);
        *keys = NULL;
        *vals = NULL;
        return KEEP_ERR_NOMEM;
    }
    memset(*vals, 0xff, c * sizeof **vals);
    *cap = c;
    return KEEP_OK;
}

/* Makes room for `entries` ids in total. */
static int map_reserve(idx_vec *v, size_t entries)
{
    if (v->hcap && entries <= v->hcap / 2)
        return KEEP_OK;
    int64_t *keys;
    uint32_t *vals;
    size_t cap;
    if (map_alloc(entries, &keys, &vals, &cap) != KEEP_OK)
        return KEEP_ERR_NOMEM;
    for (size_t i = 0; i < v->hcap; i++)
        if (v->hvals[i] != SLOT_NONE)
            map_put(keys, vals, cap, v->hkeys[i], v->hvals[i]);
    keep_free(v->hkeys);
    keep_free(v->hvals);
    v->hkeys = keys;
    v->hvals = vals;
    v->hcap = cap;
    return KEEP_OK;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void map_erase(idx_vec *v, int64_t id)
{
    if (!v->hcap)
        return;
    size_t mask = v->hcap - 1, i = map_home(id, mask);
    for (;; i = (i + 1) & mask) {
        if (v->hvals[i] == SLOT_NONE)
            return;
        if (v->hkeys[i] == id)
            break;
    }
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (v->hvals[j] == SLOT_NONE)
            break;
        size_t h = map_home(v->hkeys[j], mask);
        /* the entry at j may move to the hole at i unless its home lies
         * cyclically in (i, j] */
        int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!stays) {
            v->hkeys[i] = v->hkeys[j];
            v->hvals[i] = v->hvals[j];
            i = j;
        }
    }
    v->hvals[i] = SLOT_NONE;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int new_faiss_index(FaissIndex **fi, size_t dim, idx_vec_kind kind,
                           const idx_vec_tunables *t, keep_err *err)
{
    char desc[32];
    if (kind == IDX_VEC_EXACT)
        snprintf(desc, sizeof desc, "Flat");
    else if (kind == IDX_VEC_HNSW)
        snprintf(desc, sizeof desc, "HNSW%d", t->hnsw_m);
    else
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: unknown kind %d", (int)kind);
    *fi = NULL;
    int rc = faiss_index_factory(fi, (int)dim, desc, METRIC_INNER_PRODUCT);
    if (rc)
        return faiss_fail(err, KEEP_ERR_INTERNAL, "index_factory", rc);
    return KEEP_OK;
}

int idx_vec_create(idx_vec **out, size_t dim, idx_vec_kind kind, const idx_vec_tunables *t,
                   keep_err *err)
{
    if (!out)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: NULL output");
    *out = NULL;
    if (dim == 0 || dim > IDX_VEC_MAX_DIM)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: dimension %zu not in 1..%d", dim,
                            IDX_VEC_MAX_DIM);
    idx_vec *v = keep_calloc(1, sizeof *v);
    if (!v)
        return keep_err_set(err, KEEP_ERR_NOMEM, "vector index: out of memory");
    if (t)
        v->t = *t;
    else
        idx_vec_tunables_default(&v->t);
    int rc = tunables_check(&v->t, err);
    if (rc)
        goto fail;
    v->dim = dim;
    v->kind = kind;
    rc = new_faiss_index(&v->fi, dim, kind, &v->t, err);
    if (rc)
        goto fail;
    *out = v;
    return KEEP_OK;
fail:
    idx_vec_free(v);
    return rc;
}

void idx_vec_free(idx_vec *v)
{
    if (!v)
        return;
    if (v->fi)
        faiss_Index_free(v->fi);
    keep_free(v->slot_ids);
    keep_free(v->live);
    keep_free(v->hkeys);
    keep_free(v->hvals);
    keep_free(v);
}

size_t idx_vec_count(const idx_vec *v)
{
    return v ? v->n_live : 0;
}
size_t idx_vec_dim(const idx_vec *v)
{
    return v ? v->dim : 0;
}
idx_vec_kind idx_vec_get_kind(const idx_vec *v)
{
    return v ? v->kind : IDX_VEC_EXACT;
}
size_t idx_vec_dead(const idx_vec *v)
{
    return v ? v->n_slots - v->n_live : 0;
}
int idx_vec_contains(const idx_vec *v, int64_t id)
{
    return v && map_find(v, id) != SLOT_NONE;
}

static int check_usable(const idx_vec *v, keep_err *err)
{
    if (!v)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: NULL index");
    if (v->broken)
        return keep_err_set(err, KEEP_ERR_INTERNAL,
                            "vector index is inconsistent after a failed add; rebuild it");
    return KEEP_OK;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* ---- add / remove ------------------------------------------------------------ */

static int reserve_slots(idx_vec *v, size_t need)
{
    if (need <= v->cap_slots)
        return KEEP_OK;
    size_t cap = v->cap_slots ? v->cap_slots : 64;
    while (cap < need)
        cap = cap > MAX_SLOTS / 2 ? MAX_SLOTS : cap * 2;
    int64_t *ids = keep_reallocarray(v->slot_ids, cap, sizeof *ids);
    if (!ids)
        return KEEP_ERR_NOMEM;
    v->slot_ids = ids;
    uint8_t *live = keep_realloc(v->live, bitmap_bytes(cap));
    if (!live)
        return KEEP_ERR_NOMEM;
    size_t old = bitmap_bytes(v->cap_slots);
    memset(live + old, 0, bitmap_bytes(cap) - old);
    v->live = live;
    v->cap_slots = cap;
    return KEEP_OK;
}

int idx_vec_add(idx_vec *v, const int64_t *ids, const float *vectors, size_t n, keep_err *err)
{
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    if (n == 0)
        return KEEP_OK;
    if (!ids || !vectors)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: NULL ids or vectors");
    size_t total, nfloats;
    if (keep_add_overflow(v->n_slots, n, &total) || total > MAX_SLOTS ||
        keep_mul_overflow(n, v->dim, &nfloats))
        return keep_err_set(err, KEEP_ERR_TOOBIG, "vector index: more than %zu vectors",
                            MAX_SLOTS);
    if (!all_finite(vectors, nfloats))
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: vector with a NaN or infinity");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0)
            return keep_err_set(err, KEEP_ERR_USAGE, "vector index: negative id %lld",
                                (long long)ids[i]);
    if (reserve_slots(v, total) || map_reserve(v, v->n_live + n))
        return keep_err_set(err, KEEP_ERR_NOMEM, "vector index: out of memory");

    size_t inserted = 0;
    for (; inserted < n; inserted++) {
        int64_t id = ids[inserted];
        if (map_find(v, id) != SLOT_NONE) {
            rc = keep_err_set(err, KEEP_ERR_USAGE,
                              "vector index: id %lld already present or repeated in the batch",
                              (long long)id);
            goto rollback;
        }
        map_put(v->hkeys, v->hvals, v->hcap, id, (uint32_t)(v->n_slots + inserted));
    }
    int frc = faiss_Index_add(v->fi, (idx_t)n, vectors);
    if (frc) {
        rc = faiss_fail(err, KEEP_ERR_INTERNAL, "add", frc);
        if ((size_t)faiss_Index_ntotal(v->fi) != v->n_slots)
            v->broken = 1;
        goto rollback;
    }
    for (size_t i = 0; i < n; i++) {
        v->slot_ids[v->n_slots + i] = ids[i];
        bit_set(v->live, v->n_slots + i);
    }
    v->n_slots += n;
    v->n_live += n;
    return KEEP_OK;
rollback:
    while (inserted > 0)
        map_erase(v, ids[--inserted]);
    return rc;
}

static int needs_compaction(const idx_vec *v)
{
    size_t dead = v->n_slots - v->n_live;
    return dead >= v->t.min_dead_for_rebuild &&
           (double)dead > v->t.max_dead_fraction * (double)v->n_slots;
}

int idx_vec_remove(idx_vec *v, const int64_t *ids, size_t n, size_t *n_removed, keep_err *err)
{
    if (n_removed)
        *n_removed = 0;
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    if (n && !ids)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index: NULL ids");
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t slot = map_find(v, ids[i]);
        if (slot == SLOT_NONE)
            continue;
        map_erase(v, ids[i]);
        bit_clear(v->live, slot);
        v->n_live--;
        removed++;
    }
    if (n_removed)
        *n_removed = removed;
    /* Compacting a flat index is a copy, so it happens right away. Its failure
     * (out of memory) leaves a valid tombstoned index: the removal itself
     * succeeded, so it is not reported. */
    if (v->kind == IDX_VEC_EXACT && removed && needs_compaction(v))
        (void)idx_vec_rebuild(v, IDX_VEC_EXACT, NULL);
    return KEEP_OK;
}

/* ---- rebuild --------------------------------------------------------------- */

#define REBUILD_BATCH 4096

int idx_vec_rebuild(idx_vec *v, idx_vec_kind kind, keep_err *err)
{
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    FaissIndex *fi = NULL;
    int64_t *slot_ids = NULL, *hkeys = NULL;
    uint32_t *hvals = NULL;
    uint8_t *live = NULL;
    float *batch = NULL, *packed = NULL;
    size_t hcap = 0, cap = v->n_live ? v->n_live : 1, n = 0;
    size_t bytes = (size_t)REBUILD_BATCH * v->dim;

    rc = new_faiss_index(&fi, v->dim, kind, &v->t, err);
    if (rc)
        goto fail;
    slot_ids = keep_reallocarray(NULL, cap, sizeof *slot_ids);
    live = keep_malloc(bitmap_bytes(cap));
    batch = keep_reallocarray(NULL, bytes, sizeof *batch);
    packed = keep_reallocarray(NULL, bytes, sizeof *packed);
    if (!slot_ids || !live || !batch || !packed ||
        map_alloc(v->n_live, &hkeys, &hvals, &hcap) != KEEP_OK) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector index rebuild: out of memory");
        goto fail;
    }
    memset(live, 0, bitmap_bytes(cap));
    for (size_t s0 = 0; s0 < v->n_slots; s0 += REBUILD_BATCH) {
        size_t ns = v->n_slots - s0 < REBUILD_BATCH ? v->n_slots - s0 : REBUILD_BATCH, m = 0;
        int frc = faiss_Index_reconstruct_n(v->fi, (idx_t)s0, (idx_t)ns, batch);
        if (frc) {
            rc = faiss_fail(err, KEEP_ERR_INTERNAL, "reconstruct_n", frc);
            goto fail;
        }
        for (size_t i = 0; i < ns; i++) {
            if (!bit_get(v->live, s0 + i))
                continue;
            memcpy(packed + m * v->dim, batch + i * v->dim, v->dim * sizeof *batch);
            slot_ids[n + m] = v->slot_ids[s0 + i];
            bit_set(live, n + m);
            map_put(hkeys, hvals, hcap, v->slot_ids[s0 + i], (uint32_t)(n + m));
            m++;
        }
        if (m) {
            frc = faiss_Index_add(fi, (idx_t)m, packed);
            if (frc) {
                rc = faiss_fail(err, KEEP_ERR_INTERNAL, "add", frc);
                goto fail;
            }
        }
        n += m;
    }
    faiss_Index_free(v->fi);
    keep_free(v->slot_ids);
    keep_free(v->live);
    keep_free(v->hkeys);
    keep_free(v->hvals);
    v->fi = fi;
    v->kind = kind;
    v->slot_ids = slot_ids;
    v->live = live;
    v->n_slots = v->n_live = n;
    v->cap_slots = cap;
    v->hkeys = hkeys;
    v->hvals = hvals;
    v->hcap = hcap;
    keep_free(batch);
    keep_free(packed);
    return KEEP_OK;
fail:
    if (fi)
        faiss_Index_free(fi);
    keep_free(slot_ids);
    keep_free(live);
    keep_free(hkeys);
    keep_free(hvals);
    keep_free(batch);
    keep_free(packed);
    return rc;
}

int idx_vec_maintain(idx_vec *v, int *rebuilt, keep_err *err)
{
    if (rebuilt)
        *rebuilt = 0;
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    idx_vec_kind want = v->kind;
    if (v->kind == IDX_VEC_EXACT && v->n_live >= v->t.hnsw_min_vectors)
        want = IDX_VEC_HNSW;
    else if (v->kind == IDX_VEC_HNSW && v->n_live < v->t.hnsw_min_vectors / 2)
        want = IDX_VEC_EXACT;
    if (want == v->kind && !needs_compaction(v))
        return KEEP_OK;
    rc = idx_vec_rebuild(v, want, err);
    if (rc == KEEP_OK && rebuilt)
        *rebuilt = 1;
    return rc;
}

/* ---- search ------------------------------------------------------------------- */

/* Running top-k: a min-heap whose root is the worst kept hit. */
typedef struct topk {
    float *score;
    uint32_t *slot;
    size_t n, k;
} topk;

static int hit_worse(const topk *h, size_t a, size_t b)
{
    return h->score[a] < h->score[b] || (h->score[a] == h->score[b] && h->slot[a] > h->slot[b]);
}

static void hit_swap(topk *h, size_t a, size_t b)
{
    float s = h->score[a];
    uint32_t t = h->slot[a];
    h->score[a] = h->score[b];
    h->slot[a] = h->slot[b];
    h->score[b] = s;
    h->slot[b] = t;
}

static void heap_down(topk *h, size_t i, size_t n)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_worse(h, l, m))
            m = l;
        if (r < n && hit_worse(h, r, m))
            m = r;
        if (m == i)
            return;
        hit_swap(h, i, m);
        i = m;
    }
}

static void topk_push(topk *h, float score, uint32_t slot)
{
    if (h->n < h->k) {
        size_t i = h->n++;
        h->score[i] = score;
        h->slot[i] = slot;
        while (i > 0 && hit_worse(h, i, (i - 1) / 2)) {
            hit_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
        return;
    }
    if (score < h->score[0] || (score == h->score[0] && slot > h->slot[0]))
        return;
    h->score[0] = score;
    h->slot[0] = slot;
    heap_down(h, 0, h->n);
}

/* Exact scores of query against every slot set in `perm`; best first. */
static int exact_scan(const idx_vec *v, const float *query, size_t k, const uint8_t *perm,
                      int64_t *ids, float *scores, size_t *n_found, keep_err *err)
{
    int rc = KEEP_OK;
    topk h = {.k = k};
    float *vec = keep_reallocarray(NULL, v->dim, sizeof *vec);
    h.score = keep_reallocarray(NULL, k, sizeof *h.score);
    h.slot = keep_reallocarray(NULL, k, sizeof *h.slot);
    if (!vec || !h.score || !h.slot) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector search: out of memory");
        goto done;
    }
    size_t nbytes = bitmap_bytes(v->n_slots);
    for (size_t b = 0; b < nbytes; b++) {
        if (!perm[b])
            continue;
        for (size_t s = b * 8; s < b * 8 + 8 && s < v->n_slots; s++) {
            if (!bit_get(perm, s))
                continue;
            int frc = faiss_Index_reconstruct(v->fi, (idx_t)s, vec);
            if (frc) {
                rc = faiss_fail(err, KEEP_ERR_INTERNAL, "reconstruct", frc);
                goto done;
            }
            float dot = 0.0f;
            for (size_t d = 0; d < v->dim; d++)
                dot += vec[d] * query[d];
            topk_push(&h, dot, (uint32_t)s);
        }
    }
    /* heap sort: repeatedly move the worst to the end -> best first */
    for (size_t n = h.n; n > 1; n--) {
        hit_swap(&h, 0, n - 1);
        heap_down(&h, 0, n - 1);
    }
    for (size_t i = 0; i < h.n; i++) {
        ids[i] = v->slot_ids[h.slot[i]];
        scores[i] = h.score[i];
    }
    *n_found = h.n;
done:
    keep_free(vec);
    keep_free(h.score);
    keep_free(h.slot);
    return rc;
}

/* One FAISS search restricted to the slots set in `perm` (NULL: all slots). */
static int faiss_scan(const idx_vec *v, const float *query, size_t k, const uint8_t *perm,
                      int ef, int64_t *ids, float *scores, size_t *n_found, keep_err *err)
{
    int rc = KEEP_OK, frc;
    FaissIDSelectorBitmap *sel = NULL;
    FaissSearchParameters *sp = NULL;
    float *dist = keep_reallocarray(NULL, k, sizeof *dist);
    idx_t *lab = keep_reallocarray(NULL, k, sizeof *lab);
    if (!dist || !lab) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector search: out of memory");
        goto done;
    }
    if (perm && (frc = faiss_IDSelectorBitmap_new(&sel, bitmap_bytes(v->n_slots), perm))) {
        rc = faiss_fail(err, KEEP_ERR_INTERNAL, "IDSelectorBitmap_new", frc);
        goto done;
    }
    if (v->kind == IDX_VEC_HNSW)
        frc = faiss_SearchParametersHNSW_new_with(&sp, (FaissIDSelector *)sel, ef);
    else
        frc = sel ? faiss_SearchParameters_new(&sp, (FaissIDSelector *)sel) : 0;
    if (frc) {
        rc = faiss_fail(err, KEEP_ERR_INTERNAL, "SearchParameters_new", frc);
        goto done;
    }
    /* one query gains nothing from an OpenMP team, and the team's idle
     * threads spin: on a loaded machine that costs more than the search */
    int omp_saved = omp_get_max_threads();
    omp_set_num_threads(1);
    frc = faiss_Index_search_with_params(v->fi, 1, query, (idx_t)k, sp, dist, lab);
    omp_set_num_threads(omp_saved);
    if (frc) {
        rc = faiss_fail(err, KEEP_ERR_INTERNAL, "search", frc);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < k; i++) {
        /* FAISS pads with -1; the range and selector checks are defence in
         * depth: a slot FAISS should have excluded is dropped, not returned */
        if (lab[i] < 0 || (size_t)lab[i] >= v->n_slots)
            continue;
        size_t s = (size_t)lab[i];
        if (!bit_get(perm ? perm : v->live, s))
            continue;
        ids[n] = v->slot_ids[s];
        scores[n] = dist[i];
        n++;
    }
    *n_found = n;
done:
    if (sp)
        faiss_SearchParameters_free(sp);
    if (sel)
        faiss_IDSelector_free((FaissIDSelector *)sel);
    keep_free(dist);
    keep_free(lab);
    return rc;
}

/* Bitmap of live slots permitted by filter; *n_perm counts them. Caller frees
 * *out with keep_free. */
static int filter_bitmap(const idx_vec *v, const idx_vec_filter *f, uint8_t **out, size_t *n_perm,
                         keep_err *err)
{
    *n_perm = 0;
    *out = NULL;
    if (!f->ids && f->n_ids && !f->allow)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector search: filter has n_ids but no ids");
    uint8_t *bm = keep_calloc(bitmap_bytes(v->n_slots) + 1, 1);
    if (!bm)
        return keep_err_set(err, KEEP_ERR_NOMEM, "vector search: out of memory");
    size_t n = 0;
    if (f->id_bits) {
        for (size_t s = 0; s < v->n_slots; s++) {
            int64_t off = v->slot_ids[s] - f->id_base;
            if (off >= 0 && off < f->id_n_bits && ((f->id_bits[off / 8] >> (off % 8)) & 1) &&
                bit_get(v->live, s)) {
                bit_set(bm, s);
                n++;
            }
        }
    } else if (f->ids || !f->allow) {
        for (size_t i = 0; i < f->n_ids; i++) {
            uint32_t s = map_find(v, f->ids[i]);
            if (s != SLOT_NONE && !bit_get(bm, s)) {
                bit_set(bm, s);
                n++;
            }
        }
    } else {
        for (size_t s = 0; s < v->n_slots; s++) {
            if (bit_get(v->live, s) && f->allow(v->slot_ids[s], f->ctx)) {
                bit_set(bm, s);
                n++;
            }
        }
    }
    *out = bm;
    *n_perm = n;
    return KEEP_OK;
}

int idx_vec_filter_slots(const idx_vec *v, const idx_vec_filter *f, uint8_t **bits, size_t *n_perm,
                         keep_err *err)
{
    *bits = NULL;
    *n_perm = 0;
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    if (!f || f->slot_bits)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector filter: nothing to compute");
    return filter_bitmap(v, f, bits, n_perm, err);
}

int idx_vec_search(const idx_vec *v, const float *query, size_t k, const idx_vec_filter *filter,
                   int64_t *ids, float *scores, size_t *n_found, keep_err *err)
{
    if (n_found)
        *n_found = 0;
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    if (!query || !ids || !scores || !n_found)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector search: NULL argument");
    if (k == 0 || k > IDX_VEC_MAX_K)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector search: k %zu not in 1..%d", k,
                            IDX_VEC_MAX_K);
    if (!all_finite(query, v->dim))
        return keep_err_set(err, KEEP_ERR_USAGE, "vector search: query with a NaN or infinity");
    if (v->n_live == 0)
        return KEEP_OK;

    uint8_t *fbm = NULL;
    const uint8_t *perm = NULL; /* NULL: every slot is live, no selector needed */
    size_t n_perm = v->n_live;
    if (filter) {
        if (filter->slot_bits) {
            perm = filter->slot_bits;
            n_perm = filter->n_slot_perm;
        } else {
            rc = filter_bitmap(v, filter, &fbm, &n_perm, err);
            if (rc)
                return rc;
            perm = fbm;
        }
        if (n_perm == 0)
            goto done;
        if (n_perm <= v->t.exact_filter_max) {
            rc = exact_scan(v, query, k, perm, ids, scores, n_found, err);
            goto done;
        }
    } else if (v->n_live < v->n_slots) {
        perm = v->live;
    }

    size_t want = k < n_perm ? k : n_perm;
    /* Only about n_perm / n_slots of HNSW's frontier is permitted, so the
     * frontier grows by the inverse fraction (up to 16x, then the retries). */
    size_t ef0 = (size_t)v->t.hnsw_ef_search > k ? (size_t)v->t.hnsw_ef_search : k;
    size_t widen = (v->n_slots + n_perm - 1) / n_perm;
    ef0 *= widen < 16 ? widen : 16;
    int ef = ef0 > INT_MAX ? INT_MAX : (int)ef0;
    for (int attempt = 0;; attempt++) {
        rc = faiss_scan(v, query, k, perm, ef, ids, scores, n_found, err);
        if (rc || *n_found >= want || v->kind != IDX_VEC_HNSW)
            break;
        /* HNSW missed permitted vectors (dead or filtered-out nodes crowd its
         * frontier): widen the frontier, then fall back to an exact scan. */
        if (attempt == 2 || (size_t)ef >= v->n_slots) {
            rc = exact_scan(v, query, k, perm ? perm : v->live, ids, scores, n_found, err);
            break;
        }
        ef = ef > INT_MAX / 8 ? INT_MAX : ef * 8;
    }
done:
    keep_free(fbm);
    return rc;
}

/* ---- persistence ---------------------------------------------------------------
 * File layout (integers little-endian):
 *   header  64 bytes: "KEEPVEC\0", u32 format, u32 kind, u32 dim, u32 0,
 *                     u64 generation, u64 n_slots, u64 n_live, 16 zero bytes
 *   body    n_slots x i64 chunk id, live bitmap (ceil(n_slots/8) bytes),
 *           FAISS index (faiss_write_index)
 *   trailer 48 bytes: u64 length of the FAISS part, "KEEPEND\0",
 *                     BLAKE2b-256 of every preceding byte of the file */

#define FILE_MAGIC "KEEPVEC"
#define TRAILER_MAGIC "KEEPEND"
#define FILE_FORMAT 1
#define HEADER_SIZE 64
#define TRAILER_SIZE 48
#define HASH_SIZE 32
#define IO_CHUNK 65536

static void put_u32(uint8_t *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t x = 0;
    for (int i = 3; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A stdio stream that hashes what it writes, so faiss_write_index (which only
 * takes a FILE*) streams into the checksum and the file in one pass. */
typedef struct hash_writer {
    int fd;
    uint64_t written;
    crypto_generichash_state st;
} hash_writer;

static ssize_t hash_writer_write(void *cookie, const char *buf, size_t n)
{
    hash_writer *w = cookie;
    if (write_all(w->fd, buf, n))
        return 0;
    crypto_generichash_update(&w->st, (const unsigned char *)buf, n);
    w->written += n;
    return (ssize_t)n;
}

/* The directory holding path, "." when path has no slash. Caller frees with
 * keep_free; NULL on OOM. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return keep_strdup(".");
    return keep_strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int idx_vec_save(const idx_vec *v, const char *path, uint64_t generation, keep_err *err)
{
    int rc = check_usable(v, err);
    if (rc)
        return rc;
    if (!path)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index save: NULL path");
    if (sodium_init() < 0)
        return keep_err_set(err, KEEP_ERR_INTERNAL, "vector index save: libsodium init failed");
    keep_buf tmp = {0};
    FILE *f = NULL;
    int fd = -1;
    hash_writer hw = {.fd = -1};
    uint8_t *chunk = keep_malloc(IO_CHUNK);
    char *dir = parent_dir(path);
    if (!chunk || !dir || keep_buf_printf(&tmp, "%s.tmp.XXXXXX", path)) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector index save: out of memory");
        goto done;
    }
    fd = mkstemp(tmp.data);
    if (fd < 0) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index save: cannot create %s: %s", tmp.data,
                          strerror(errno));
        goto done;
    }
    hw.fd = fd;
    crypto_generichash_init(&hw.st, NULL, 0, HASH_SIZE);
    cookie_io_functions_t io = {.write = hash_writer_write};
    f = fopencookie(&hw, "w", io);
    if (!f) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector index save: out of memory");
        goto fail;
    }

    uint8_t hdr[HEADER_SIZE] = {0};
    memcpy(hdr, FILE_MAGIC, sizeof FILE_MAGIC);
    put_u32(hdr + 8, FILE_FORMAT);
    put_u32(hdr + 12, (uint32_t)v->kind);
    put_u32(hdr + 16, (uint32_t)v->dim);
    put_u64(hdr + 24, generation);
    put_u64(hdr + 32, v->n_slots);
    put_u64(hdr + 40, v->n_live);
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr)
        goto write_error;
    for (size_t i = 0; i < v->n_slots;) {
        size_t m = 0;
        for (; m < IO_CHUNK / 8 && i < v->n_slots; m++, i++)
            put_u64(chunk + 8 * m, (uint64_t)v->slot_ids[i]);
        if (fwrite(chunk, 8, m, f) != m)
            goto write_error;
    }
    size_t nb = bitmap_bytes(v->n_slots);
    if (nb && fwrite(v->live, 1, nb, f) != nb)
        goto write_error;
    if (fflush(f))
        goto write_error;
    uint64_t faiss_start = hw.written;
    int frc = faiss_write_index(v->fi, f);
    if (frc) {
        rc = faiss_fail(err, KEEP_ERR_IO, "write_index", frc);
        goto fail;
    }
    if (fflush(f))
        goto write_error;
    uint8_t trailer[TRAILER_SIZE] = {0};
    put_u64(trailer, hw.written - faiss_start);
    memcpy(trailer + 8, TRAILER_MAGIC, sizeof TRAILER_MAGIC);
    if (fwrite(trailer, 1, 16, f) != 16 || fflush(f))
        goto write_error;
    crypto_generichash_final(&hw.st, trailer + 16, HASH_SIZE);
    if (write_all(fd, trailer + 16, HASH_SIZE) || fsync(fd))
        goto write_error;
    fclose(f);
    f = NULL;
    if (close(fd)) {
        fd = -1;
        goto write_error;
    }
    fd = -1;
    if (rename(tmp.data, path)) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index save: rename to %s: %s", path,
                          strerror(errno));
        goto fail;
    }
    /* the rename is durable only once the directory entry is */
    if (fsync_dir(dir))
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index save: fsync of %s: %s", dir,
                          strerror(errno));
    goto done;

write_error:
    rc = keep_err_set(err, KEEP_ERR_IO, "vector index save: writing %s: %s", tmp.data,
                      strerror(errno));
fail:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    unlink(tmp.data);
done:
    keep_buf_free(&tmp);
    keep_free(chunk);
    keep_free(dir);
    return rc;
}

static int read_at(int fd, void *buf, size_t n, off_t off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) {
            errno = EIO; /* the file shrank under us */
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

/* Checks every byte before the stored hash against it. */
static int verify_hash(int fd, uint64_t size, const char *path, keep_err *err)
{
    uint8_t stored[HASH_SIZE], got[HASH_SIZE];
    crypto_generichash_state st;
    uint8_t *buf = keep_malloc(IO_CHUNK);
    if (!buf)
        return keep_err_set(err, KEEP_ERR_NOMEM, "vector index load: out of memory");
    int rc = KEEP_OK;
    uint64_t end = size - HASH_SIZE;
    crypto_generichash_init(&st, NULL, 0, HASH_SIZE);
    for (uint64_t off = 0; off < end;) {
        size_t n = end - off < IO_CHUNK ? (size_t)(end - off) : IO_CHUNK;
        if (read_at(fd, buf, n, (off_t)off)) {
            rc = keep_err_set(err, KEEP_ERR_IO, "vector index load: reading %s: %s", path,
                              strerror(errno));
            goto done;
        }
        crypto_generichash_update(&st, buf, n);
        off += n;
    }
    crypto_generichash_final(&st, got, HASH_SIZE);
    if (read_at(fd, stored, HASH_SIZE, (off_t)end)) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index load: reading %s: %s", path,
                          strerror(errno));
        goto done;
    }
    if (sodium_memcmp(stored, got, HASH_SIZE) != 0)
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vector index %s: checksum mismatch", path);
done:
    keep_free(buf);
    return rc;
}

int idx_vec_load(idx_vec **out, const char *path, size_t expected_dim,
                 uint64_t expected_generation, const idx_vec_tunables *t, keep_err *err)
{
    if (!out || !path)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index load: NULL argument");
    *out = NULL;
    if (expected_dim == 0 || expected_dim > IDX_VEC_MAX_DIM)
        return keep_err_set(err, KEEP_ERR_USAGE, "vector index load: dimension %zu not in 1..%d",
                            expected_dim, IDX_VEC_MAX_DIM);
    if (sodium_init() < 0)
        return keep_err_set(err, KEEP_ERR_INTERNAL, "vector index load: libsodium init failed");
    int rc;
    idx_vec *v = NULL;
    FILE *f = NULL;
    uint8_t *raw_ids = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return keep_err_set(err, KEEP_ERR_NOTFOUND, "vector index %s: no such file", path);
        return keep_err_set(err, KEEP_ERR_IO, "vector index %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index %s: not a readable regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t hdr[HEADER_SIZE], trailer[TRAILER_SIZE];
    if (size < HEADER_SIZE + TRAILER_SIZE) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vector index %s: truncated (%llu bytes)", path,
                          (unsigned long long)size);
        goto fail;
    }
    if (read_at(fd, hdr, HEADER_SIZE, 0) ||
        read_at(fd, trailer, TRAILER_SIZE, (off_t)(size - TRAILER_SIZE))) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index %s: %s", path, strerror(errno));
        goto fail;
    }
    if (memcmp(hdr, FILE_MAGIC, sizeof FILE_MAGIC) != 0) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vector index %s: not a Keep vector index", path);
        goto fail;
    }
    /* Stale before corrupt: a file of another generation is rebuilt anyway,
     * so it is not worth hashing. */
    uint32_t format = get_u32(hdr + 8), kind = get_u32(hdr + 12), dim = get_u32(hdr + 16);
    uint64_t gen = get_u64(hdr + 24), n_slots = get_u64(hdr + 32), n_live = get_u64(hdr + 40);
    if (format != FILE_FORMAT) {
        rc = keep_err_set(err, KEEP_ERR_VERSION, "vector index %s: format %u, expected %u", path,
                          format, FILE_FORMAT);
        goto fail;
    }
    if (gen != expected_generation || dim != expected_dim) {
        rc = keep_err_set(err, KEEP_ERR_VERSION,
                          "vector index %s is stale: generation %llu dim %u, expected %llu dim %zu",
                          path, (unsigned long long)gen, dim,
                          (unsigned long long)expected_generation, expected_dim);
        goto fail;
    }
    uint64_t faiss_len = get_u64(trailer);
    uint64_t ids_len = n_slots * 8, bm_len = n_slots / 8 + (n_slots % 8 != 0), body_end = 0;
    if (memcmp(trailer + 8, TRAILER_MAGIC, sizeof TRAILER_MAGIC) != 0 || n_slots > MAX_SLOTS ||
        n_live > n_slots || (kind != IDX_VEC_EXACT && kind != IDX_VEC_HNSW) ||
        __builtin_add_overflow((uint64_t)HEADER_SIZE + ids_len + bm_len, faiss_len, &body_end) ||
        body_end > UINT64_MAX - TRAILER_SIZE || body_end + TRAILER_SIZE != size) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vector index %s: truncated or inconsistent",
                          path);
        goto fail;
    }
    rc = verify_hash(fd, size, path, err);
    if (rc)
        goto fail;

    /* The bytes are the ones we wrote; still check what FAISS cannot. */
    v = keep_calloc(1, sizeof *v);
    if (!v) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector index load: out of memory");
        goto fail;
    }
    if (t)
        v->t = *t;
    else
        idx_vec_tunables_default(&v->t);
    rc = tunables_check(&v->t, err);
    if (rc)
        goto fail;
    v->dim = dim;
    v->kind = (idx_vec_kind)kind;
    size_t cap = n_slots ? (size_t)n_slots : 1;
    v->slot_ids = keep_reallocarray(NULL, cap, sizeof *v->slot_ids);
    v->live = keep_calloc(bitmap_bytes(cap), 1);
    raw_ids = keep_malloc(ids_len ? (size_t)ids_len : 1);
    if (!v->slot_ids || !v->live || !raw_ids || map_reserve(v, (size_t)n_live)) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector index load: out of memory");
        goto fail;
    }
    v->cap_slots = cap;
    if (read_at(fd, raw_ids, (size_t)ids_len, HEADER_SIZE) ||
        read_at(fd, v->live, (size_t)bm_len, (off_t)(HEADER_SIZE + ids_len))) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index %s: %s", path, strerror(errno));
        goto fail;
    }
    size_t live_count = 0;
    for (size_t s = 0; s < bitmap_bytes(cap) * 8; s++) {
        if (!bit_get(v->live, s))
            continue;
        int64_t id = (int64_t)get_u64(raw_ids + 8 * s);
        if (s >= n_slots || id < 0 || map_find(v, id) != SLOT_NONE || live_count >= n_live) {
            rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vector index %s: inconsistent id table",
                              path);
            goto fail;
        }
        map_put(v->hkeys, v->hvals, v->hcap, id, (uint32_t)s);
        live_count++;
    }
    if (live_count != n_live) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT, "vector index %s: inconsistent live count", path);
        goto fail;
    }
    for (size_t s = 0; s < n_slots; s++)
        v->slot_ids[s] = (int64_t)get_u64(raw_ids + 8 * s);
    v->n_slots = (size_t)n_slots;
    v->n_live = (size_t)n_live;

    off_t faiss_off = (off_t)(HEADER_SIZE + ids_len + bm_len);
    f = fdopen(fd, "rb");
    if (!f) {
        rc = keep_err_set(err, KEEP_ERR_NOMEM, "vector index load: fdopen: %s", strerror(errno));
        goto fail;
    }
    fd = -1; /* owned by f now */
    if (fseeko(f, faiss_off, SEEK_SET)) {
        rc = keep_err_set(err, KEEP_ERR_IO, "vector index %s: %s", path, strerror(errno));
        goto fail;
    }
    int frc = faiss_read_index(f, 0, &v->fi);
    if (frc) {
        v->fi = NULL;
        rc = faiss_fail(err, KEEP_ERR_CORRUPT, "read_index", frc);
        goto fail;
    }
    if (ftello(f) != (off_t)(faiss_off + (off_t)faiss_len) || faiss_Index_d(v->fi) != (int)dim ||
        faiss_Index_ntotal(v->fi) != (idx_t)n_slots ||
        faiss_Index_metric_type(v->fi) != METRIC_INNER_PRODUCT) {
        rc = keep_err_set(err, KEEP_ERR_CORRUPT,
                          "vector index %s: FAISS part disagrees with the header", path);
        goto fail;
    }
    fclose(f);
    keep_free(raw_ids);
    *out = v;
    return KEEP_OK;
fail:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    keep_free(raw_ids);
    idx_vec_free(v);
    return rc;
}
