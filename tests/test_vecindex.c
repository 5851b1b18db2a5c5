/* test_vecindex.c — the vector index against a brute-force reference on random
 * unit vectors: exact search, removal, in-index filtering (id list and
 * callback), persistence with stale/missing/corrupt detection, and HNSW recall. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "index/vecindex.h"
#include "tests/tap.h"

#define DIM 32

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n random unit vectors of DIM floats. */
static float *random_unit(size_t n)
{
    float *x = malloc(n * DIM * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (size_t d = 0; d < DIM; d++) {
            float c = (float)((double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
            x[i * DIM + d] = c;
            norm += (double)c * c;
        }
        for (size_t d = 0; d < DIM; d++)
            x[i * DIM + d] = (float)(x[i * DIM + d] / sqrt(norm));
    }
    return x;
}

/* The reference collection: ids[i] -> x[i], alive[i]. */
typedef struct ref {
    size_t n;
    int64_t *ids;
    float *x;
    int *alive;
} ref;

static float dot(const float *a, const float *b)
{
    float s = 0;
    for (size_t d = 0; d < DIM; d++)
        s += a[d] * b[d];
    return s;
}

typedef int (*permit_fn)(int64_t id, void *ctx);

/* Brute-force top-k among alive entries that pass permit (NULL: all). */
static size_t brute(const ref *r, const float *q, size_t k, permit_fn permit, void *ctx,
                    int64_t *ids, float *scores)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->alive[i] || (permit && !permit(r->ids[i], ctx)))
            continue;
        float s = dot(q, r->x + i * DIM);
        size_t pos = n < k ? n : k;
        while (pos > 0 && scores[pos - 1] < s) {
            if (pos < k) {
                scores[pos] = scores[pos - 1];
                ids[pos] = ids[pos - 1];
            }
            pos--;
        }
        if (pos < k) {
            scores[pos] = s;
            ids[pos] = r->ids[i];
        }
        if (n < k)
            n++;
    }
    return n;
}

typedef struct idset {
    const int64_t *ids;
    size_t n;
} idset;

static int in_idset(int64_t id, void *ctx)
{
    const idset *s = ctx;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->ids[lo] == id;
}

static int multiple_of_7(int64_t id, void *ctx)
{
    (void)ctx;
    return id % 7 == 0;
}

static int is_alive_id(const ref *r, int64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ids[i] == id)
            return r->alive[i];
    return 0;
}

/* Runs nq queries with and compares ids and scores to brute force; returns
 * the number of mismatching queries. */
static int compare_queries(const idx_vec *v, const ref *r, const float *qs, size_t nq, size_t k,
                           const idx_vec_filter *f, permit_fn permit, void *ctx, int *bad_ids)
{
    int mismatches = 0;
    *bad_ids = 0;
    int64_t ids[64], want_ids[64];
    float scores[64], want_scores[64];
    for (size_t q = 0; q < nq; q++) {
        size_t n = 0;
        keep_err err = {0};
        if (idx_vec_search(v, qs + q * DIM, k, f, ids, scores, &n, &err) != KEEP_OK) {
            printf("# search failed: %s\n", err.msg);
            mismatches++;
            continue;
        }
        size_t want = brute(r, qs + q * DIM, k, permit, ctx, want_ids, want_scores);
        int same = n == want;
        for (size_t i = 0; same && i < n; i++)
            same = ids[i] == want_ids[i] && fabsf(scores[i] - want_scores[i]) < 1e-4f;
        for (size_t i = 0; i < n; i++)
            if (!is_alive_id(r, ids[i]) || (permit && !permit(ids[i], ctx)))
                (*bad_ids)++;
        if (!same) {
            printf("# query %zu: got %zu results, want %zu\n", q, n, want);
            mismatches++;
        }
    }
    return mismatches;
}

static char tmpdir[] = "/tmp/keep-vecindex-XXXXXX";

static void path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static int copy_file(const char *from, const char *to, long truncate_at, long flip_at)
{
    char *data;
    size_t len;
    if (keep_read_file(from, 1u << 30, &data, &len, NULL) != KEEP_OK)
        return -1;
    if (truncate_at >= 0 && (size_t)truncate_at < len)
        len = (size_t)truncate_at;
    if (flip_at >= 0 && (size_t)flip_at < len)
        data[flip_at] ^= 0x5a;
    FILE *f = fopen(to, "wb");
    int rc = f && fwrite(data, 1, len, f) == len ? 0 : -1;
    if (f)
        fclose(f);
    keep_free(data);
    return rc;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_exact(void)
{
    const size_t N = 2000, NQ = 20;
    keep_err err = {0};
    ref r = {.n = N, .ids = malloc(N * sizeof(int64_t)), .x = random_unit(N),
             .alive = malloc(N * sizeof(int))};
    for (size_t i = 0; i < N; i++) {
        r.ids[i] = 1000 + 3 * (int64_t)i;
        r.alive[i] = 1;
    }
    float *qs = random_unit(NQ);

    ASSERT_EQ_INT(idx_vec_choose_kind(10, NULL), IDX_VEC_EXACT, "small collections are exact");
    ASSERT_EQ_INT(idx_vec_choose_kind(1000000, NULL), IDX_VEC_HNSW, "large ones are HNSW");

    idx_vec_tunables t;
    idx_vec_tunables_default(&t);
    t.exact_filter_max = 100; /* so that large filters go through FAISS */
    idx_vec *v = NULL;
    ASSERT_EQ_INT(idx_vec_create(&v, DIM, IDX_VEC_EXACT, &t, &err), KEEP_OK, "create exact");
    ASSERT_EQ_INT(idx_vec_add(v, r.ids, r.x, N, &err), KEEP_OK, "add 2000 vectors with ids");
    ASSERT_EQ_INT(idx_vec_count(v), N, "count");
    ASSERT_EQ_INT(idx_vec_dim(v), DIM, "dim");
    OK(idx_vec_contains(v, 1003) && !idx_vec_contains(v, 1004), "contains");

    int bad;
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 10, NULL, NULL, NULL, &bad), 0,
                  "exact top-10 ids and scores equal brute force");

    /* the best hit of a stored vector is itself, with score 1 */
    int64_t ids[64];
    float scores[64];
    size_t n = 0;
    ASSERT_EQ_INT(idx_vec_search(v, r.x + 17 * DIM, 3, NULL, ids, scores, &n, &err), KEEP_OK,
                  "search for a stored vector");
    ASSERT_EQ_INT(ids[0], r.ids[17], "stored vector finds itself");
    ASSERT_NEAR(scores[0], 1.0, 1e-5, "with inner product 1");

    /* bad input is refused and changes nothing */
    ASSERT_EQ_INT(idx_vec_add(v, r.ids + 5, r.x, 1, &err), KEEP_ERR_USAGE, "duplicate id refused");
    int64_t twice[2] = {5, 5};
    float two[2 * DIM];
    memcpy(two, r.x, sizeof two);
    ASSERT_EQ_INT(idx_vec_add(v, twice, two, 2, &err), KEEP_ERR_USAGE,
                  "id repeated in a batch refused");
    OK(!idx_vec_contains(v, 5), "refused batch left nothing behind");
    two[3] = NAN;
    int64_t fresh = 7;
    ASSERT_EQ_INT(idx_vec_add(v, &fresh, two, 1, &err), KEEP_ERR_USAGE, "NaN vector refused");
    ASSERT_EQ_INT(idx_vec_search(v, qs, 0, NULL, ids, scores, &n, &err), KEEP_ERR_USAGE,
                  "k = 0 refused");
    ASSERT_EQ_INT(idx_vec_count(v), N, "count unchanged by refused calls");

    /* filtered search: few permitted ids -> exact over them */
    int64_t allow[40];
    for (size_t i = 0; i < 40; i++)
        allow[i] = r.ids[i * 37];
    idset small = {allow, 40};
    idx_vec_filter f = {.ids = allow, .n_ids = 40};
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 10, &f, in_idset, &small, &bad), 0,
                  "small id filter: k results equal brute force over the permitted ids");
    ASSERT_EQ_INT(bad, 0, "small id filter: nothing outside the filter");
    idx_vec_filter f3 = {.ids = allow, .n_ids = 3};
    ASSERT_EQ_INT(idx_vec_search(v, qs, 10, &f3, ids, scores, &n, &err), KEEP_OK,
                  "filter with 3 permitted ids");
    ASSERT_EQ_INT(n, 3, "returns exactly the 3 permitted");
    idx_vec_filter none = {.ids = NULL, .n_ids = 0};
    ASSERT_EQ_INT(idx_vec_search(v, qs, 10, &none, ids, scores, &n, &err), KEEP_OK,
                  "empty filter");
    ASSERT_EQ_INT(n, 0, "empty filter permits nothing");

    /* large filter (every other id, 1000 > exact_filter_max): inside FAISS */
    int64_t *half = malloc(N / 2 * sizeof *half);
    for (size_t i = 0; i < N / 2; i++)
        half[i] = r.ids[2 * i];
    idset big = {half, N / 2};
    idx_vec_filter fb = {.ids = half, .n_ids = N / 2};
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 50, &fb, in_idset, &big, &bad), 0,
                  "large id filter in FAISS: top-50 equal brute force");
    ASSERT_EQ_INT(bad, 0, "large id filter: nothing outside the filter");
    idx_vec_filter fc = {.allow = multiple_of_7};
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 20, &fc, multiple_of_7, NULL, &bad), 0,
                  "callback filter: top-20 equal brute force");
    ASSERT_EQ_INT(bad, 0, "callback filter: nothing it rejects");

    /* remove a quarter: compaction of the flat index happens on the spot */
    int64_t *gone = malloc(N / 4 * sizeof *gone);
    for (size_t i = 0; i < N / 4; i++) {
        gone[i] = r.ids[4 * i + 1];
        r.alive[4 * i + 1] = 0;
    }
    size_t removed = 0;
    int64_t unknown = 999999;
    ASSERT_EQ_INT(idx_vec_remove(v, &unknown, 1, &removed, &err), KEEP_OK, "remove unknown id");
    ASSERT_EQ_INT(removed, 0, "unknown id not counted");
    ASSERT_EQ_INT(idx_vec_remove(v, gone, N / 4, &removed, &err), KEEP_OK, "remove 500 ids");
    ASSERT_EQ_INT(removed, N / 4, "500 removed");
    ASSERT_EQ_INT(idx_vec_count(v), N - N / 4, "count after remove");
    ASSERT_EQ_INT(idx_vec_dead(v), 0, "flat index compacted (25% dead > 20%)");
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 50, NULL, NULL, NULL, &bad), 0,
                  "after remove: top-50 equal brute force over the rest");
    ASSERT_EQ_INT(bad, 0, "removed ids never returned");
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 50, &fb, in_idset, &big, &bad), 0,
                  "after remove: large filter equals brute force");
    ASSERT_EQ_INT(bad, 0, "filter naming removed ids never returns them");

    /* a few more removals stay as tombstones (below the compaction threshold) */
    int64_t few[3] = {r.ids[0], r.ids[2], r.ids[4]};
    r.alive[0] = r.alive[2] = r.alive[4] = 0;
    ASSERT_EQ_INT(idx_vec_remove(v, few, 3, &removed, &err), KEEP_OK, "remove 3 more");
    ASSERT_EQ_INT(idx_vec_dead(v), 3, "3 tombstones");
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, 50, NULL, NULL, NULL, &bad), 0,
                  "tombstoned ids excluded inside FAISS");
    ASSERT_EQ_INT(bad, 0, "tombstoned ids never returned");

    /* a removed id may come back with a new vector */
    ASSERT_EQ_INT(idx_vec_add(v, &r.ids[4], qs, 1, &err), KEEP_OK, "re-add a removed id");
    ASSERT_EQ_INT(idx_vec_search(v, qs, 1, NULL, ids, scores, &n, &err), KEEP_OK,
                  "search its new vector");
    ASSERT_EQ_INT(ids[0], r.ids[4], "re-added id found under its new vector");
    size_t one;
    ASSERT_EQ_INT(idx_vec_remove(v, &r.ids[4], 1, &one, &err), KEEP_OK, "remove it again");

    /* persistence */
    char path[256], bad_path[256];
    path_in_tmp(path, sizeof path, "exact.kvi");
    path_in_tmp(bad_path, sizeof bad_path, "bad.kvi");
    ASSERT_EQ_INT(idx_vec_save(v, path, 7, &err), KEEP_OK, "save");
    idx_vec *w = NULL;
    ASSERT_EQ_INT(idx_vec_load(&w, path, DIM, 7, &t, &err), KEEP_OK, "load");
    ASSERT_EQ_INT(idx_vec_count(w), idx_vec_count(v), "loaded count");
    ASSERT_EQ_INT(idx_vec_dead(w), 4, "loaded tombstones (3 + the re-added id)");
    int same = 1;
    for (size_t q = 0; q < NQ; q++) {
        int64_t a[50], b[50];
        float sa[50], sb[50];
        size_t na = 0, nb = 0;
        idx_vec_search(v, qs + q * DIM, 50, &fb, a, sa, &na, &err);
        idx_vec_search(w, qs + q * DIM, 50, &fb, b, sb, &nb, &err);
        same &= na == 50 && na == nb && !memcmp(a, b, sizeof a) && !memcmp(sa, sb, sizeof sa);
    }
    OK(same, "loaded index gives identical ids and scores");
    ASSERT_EQ_INT(compare_queries(w, &r, qs, NQ, 30, NULL, NULL, NULL, &bad), 0,
                  "loaded index equals brute force");
    ASSERT_EQ_INT(idx_vec_add(w, &fresh, qs, 1, &err), KEEP_OK, "loaded index accepts adds");
    idx_vec_free(w);
    w = NULL;

    ASSERT_EQ_INT(idx_vec_load(&w, path, DIM, 8, &t, &err), KEEP_ERR_VERSION,
                  "other generation is stale");
    ASSERT_EQ_INT(idx_vec_load(&w, path, DIM + 1, 7, &t, &err), KEEP_ERR_VERSION,
                  "other dimension is stale");
    path_in_tmp(bad_path, sizeof bad_path, "missing.kvi");
    ASSERT_EQ_INT(idx_vec_load(&w, bad_path, DIM, 7, &t, &err), KEEP_ERR_NOTFOUND,
                  "missing file");
    path_in_tmp(bad_path, sizeof bad_path, "bad.kvi");
    long size = file_size(path);
    OK(size > 100000, "saved file holds the vectors");
    struct {
        long truncate_at, flip_at;
        int want;
        const char *what;
    } cases[] = {
        {0, -1, KEEP_ERR_CORRUPT, "empty file is corrupt"},
        {10, -1, KEEP_ERR_CORRUPT, "10-byte file is corrupt"},
        {size / 2, -1, KEEP_ERR_CORRUPT, "half file is corrupt"},
        {size - 1, -1, KEEP_ERR_CORRUPT, "file missing its last byte is corrupt"},
        {-1, 0, KEEP_ERR_CORRUPT, "garbled magic is corrupt"},
        {-1, 33, KEEP_ERR_CORRUPT, "garbled slot count is corrupt"},
        {-1, 64 + 800, KEEP_ERR_CORRUPT, "garbled id table is corrupt"},
        {-1, size / 2, KEEP_ERR_CORRUPT, "garbled FAISS part is corrupt"},
        {-1, size - 100, KEEP_ERR_CORRUPT, "garbled FAISS tail is corrupt"},
        {-1, size - 40, KEEP_ERR_CORRUPT, "garbled trailer is corrupt"},
        {-1, size - 1, KEEP_ERR_CORRUPT, "garbled checksum is corrupt"},
        {-1, 8, KEEP_ERR_VERSION, "other format version is stale"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OK(copy_file(path, bad_path, cases[i].truncate_at, cases[i].flip_at) == 0, "copy");
        w = NULL;
        int rc = idx_vec_load(&w, bad_path, DIM, 7, &t, &err);
        ASSERT_EQ_INT(rc, cases[i].want, cases[i].what);
        OK(w == NULL, "no index on error");
        idx_vec_free(w);
    }
    /* overwriting an existing file is atomic and leaves no temporary behind */
    ASSERT_EQ_INT(idx_vec_save(v, path, 9, &err), KEEP_OK, "save over an existing file");
    ASSERT_EQ_INT(idx_vec_load(&w, path, DIM, 9, &t, &err), KEEP_OK, "load the new generation");
    idx_vec_free(w);

    idx_vec_free(v);
    free(half);
    free(gone);
    free(qs);
    free(r.ids);
    free(r.x);
    free(r.alive);
}

static void test_hnsw(void)
{
    const size_t N = 3000, NQ = 50, K = 10;
    keep_err err = {0};
    ref r = {.n = N, .ids = malloc(N * sizeof(int64_t)), .x = random_unit(N),
             .alive = malloc(N * sizeof(int))};
    for (size_t i = 0; i < N; i++) {
        r.ids[i] = 50 + 2 * (int64_t)i;
        r.alive[i] = 1;
    }
    float *qs = random_unit(NQ);
    idx_vec_tunables t;
    idx_vec_tunables_default(&t);
    t.exact_filter_max = 50;
    idx_vec *v = NULL;
    ASSERT_EQ_INT(idx_vec_create(&v, DIM, IDX_VEC_HNSW, &t, &err), KEEP_OK, "create HNSW");
    ASSERT_EQ_INT(idx_vec_add(v, r.ids, r.x, N / 2, &err), KEEP_OK, "HNSW add first half");
    ASSERT_EQ_INT(idx_vec_add(v, r.ids + N / 2, r.x + N / 2 * DIM, N - N / 2, &err), KEEP_OK,
                  "HNSW add second half");
    ASSERT_EQ_INT(idx_vec_get_kind(v), IDX_VEC_HNSW, "kind is HNSW");

    /* recall@10 against brute force */
    size_t hits = 0, total = 0;
    int64_t ids[64], want[64];
    float scores[64], want_s[64];
    int scores_ok = 1;
    for (size_t q = 0; q < NQ; q++) {
        size_t n = 0;
        idx_vec_search(v, qs + q * DIM, K, NULL, ids, scores, &n, &err);
        size_t nw = brute(&r, qs + q * DIM, K, NULL, NULL, want, want_s);
        total += nw;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < nw; j++)
                hits += ids[i] == want[j];
            for (size_t j = 0; j < N; j++)
                if (r.ids[j] == ids[i])
                    scores_ok &= fabsf(dot(qs + q * DIM, r.x + j * DIM) - scores[i]) < 1e-4f;
        }
    }
    double recall = (double)hits / (double)total;
    printf("# HNSW recall@10 = %.3f\n", recall);
    OK(recall >= 0.9, "HNSW recall@10 >= 0.9 against exact");
    OK(scores_ok, "HNSW scores are the true inner products");

    /* remove 10%: tombstones (HNSW cannot delete) */
    int64_t gone[300];
    for (size_t i = 0; i < 300; i++) {
        gone[i] = r.ids[10 * i];
        r.alive[10 * i] = 0;
    }
    size_t removed = 0;
    ASSERT_EQ_INT(idx_vec_remove(v, gone, 300, &removed, &err), KEEP_OK, "HNSW remove 300");
    ASSERT_EQ_INT(removed, 300, "300 removed");
    ASSERT_EQ_INT(idx_vec_dead(v), 300, "HNSW keeps tombstones");
    int bad = 0, full = 1;
    for (size_t q = 0; q < NQ; q++) {
        size_t n = 0;
        idx_vec_search(v, qs + q * DIM, 40, NULL, ids, scores, &n, &err);
        full &= n == 40;
        for (size_t i = 0; i < n; i++)
            bad += !is_alive_id(&r, ids[i]);
    }
    OK(full, "HNSW with tombstones still returns k results");
    ASSERT_EQ_INT(bad, 0, "HNSW never returns removed ids");

    /* large filter inside HNSW: permitted ids only, k of them */
    int64_t *third = malloc(N / 3 * sizeof *third);
    for (size_t i = 0; i < N / 3; i++)
        third[i] = r.ids[3 * i];
    idset s = {third, N / 3};
    idx_vec_filter f = {.ids = third, .n_ids = N / 3};
    hits = total = 0;
    bad = 0;
    full = 1;
    for (size_t q = 0; q < NQ; q++) {
        size_t n = 0;
        idx_vec_search(v, qs + q * DIM, K, &f, ids, scores, &n, &err);
        size_t nw = brute(&r, qs + q * DIM, K, in_idset, &s, want, want_s);
        full &= n == K;
        total += nw;
        for (size_t i = 0; i < n; i++) {
            bad += !is_alive_id(&r, ids[i]) || !in_idset(ids[i], &s);
            for (size_t j = 0; j < nw; j++)
                hits += ids[i] == want[j];
        }
    }
    printf("# HNSW filtered recall@10 = %.3f\n", (double)hits / (double)total);
    OK(full, "HNSW filtered search returns k results");
    ASSERT_EQ_INT(bad, 0, "HNSW filtered search stays inside the filter, skips removed");
    OK((double)hits / (double)total >= 0.9, "HNSW filtered recall@10 >= 0.9");
    /* a tight filter is answered exactly */
    int compare_bad;
    idx_vec_filter ft = {.ids = third + 100, .n_ids = 30};
    idset st = {third + 100, 30};
    ASSERT_EQ_INT(compare_queries(v, &r, qs, NQ, K, &ft, in_idset, &st, &compare_bad), 0,
                  "HNSW tight filter equals brute force");

    /* save / load keeps graph, tombstones and ids */
    char path[256];
    path_in_tmp(path, sizeof path, "hnsw.kvi");
    ASSERT_EQ_INT(idx_vec_save(v, path, 1, &err), KEEP_OK, "HNSW save");
    idx_vec *w = NULL;
    ASSERT_EQ_INT(idx_vec_load(&w, path, DIM, 1, &t, &err), KEEP_OK, "HNSW load");
    ASSERT_EQ_INT(idx_vec_get_kind(w), IDX_VEC_HNSW, "loaded kind");
    int same = 1;
    for (size_t q = 0; q < NQ; q++) {
        int64_t a[K], b[K];
        float sa[K], sb[K];
        size_t na = 0, nb = 0;
        idx_vec_search(v, qs + q * DIM, K, &f, a, sa, &na, &err);
        idx_vec_search(w, qs + q * DIM, K, &f, b, sb, &nb, &err);
        same &= na == nb && !memcmp(a, b, sizeof a) && !memcmp(sa, sb, sizeof sa);
    }
    OK(same, "loaded HNSW gives identical results");
    idx_vec_free(w);

    /* a wide frontier must reach recall 1 (FAISS 1.7.3 ignores the per-call
     * efSearch unless the shim applies it) */
    idx_vec_tunables twide = t;
    twide.hnsw_ef_search = 1024;
    ASSERT_EQ_INT(idx_vec_load(&w, path, DIM, 1, &twide, &err), KEEP_OK, "load with efSearch 1024");
    hits = total = 0;
    for (size_t q = 0; q < NQ; q++) {
        size_t n = 0;
        idx_vec_search(w, qs + q * DIM, K, NULL, ids, scores, &n, &err);
        size_t nw = brute(&r, qs + q * DIM, K, NULL, NULL, want, want_s);
        total += nw;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < nw; j++)
                hits += ids[i] == want[j];
    }
    printf("# HNSW recall@10 at efSearch 1024 = %.3f\n", (double)hits / (double)total);
    OK((double)hits / (double)total >= 0.99, "per-search efSearch takes effect");
    idx_vec_free(w);

    /* maintenance: tombstones over the threshold -> rebuild without them */
    idx_vec_tunables t2 = t;
    t2.max_dead_fraction = 0.05;
    idx_vec *m = NULL;
    ASSERT_EQ_INT(idx_vec_load(&m, path, DIM, 1, &t2, &err), KEEP_OK, "load with 5% dead cap");
    int rebuilt = 0;
    ASSERT_EQ_INT(idx_vec_maintain(m, &rebuilt, &err), KEEP_OK, "maintain");
    OK(rebuilt, "10% dead HNSW rebuilt");
    ASSERT_EQ_INT(idx_vec_dead(m), 0, "no tombstones after rebuild");
    ASSERT_EQ_INT(idx_vec_count(m), N - 300, "live count kept");
    ASSERT_EQ_INT(idx_vec_get_kind(m), IDX_VEC_EXACT,
                  "2700 vectors (< hnsw_min_vectors / 2) go back to exact");
    ASSERT_EQ_INT(compare_queries(m, &r, qs, NQ, 20, NULL, NULL, NULL, &compare_bad), 0,
                  "rebuilt exact index equals brute force");
    idx_vec_free(m);

    /* growing past the threshold switches an exact index to HNSW */
    t2 = t;
    t2.hnsw_min_vectors = 1000;
    ASSERT_EQ_INT(idx_vec_load(&m, path, DIM, 1, &t2, &err), KEEP_OK, "load again");
    ASSERT_EQ_INT(idx_vec_rebuild(m, IDX_VEC_EXACT, &err), KEEP_OK, "rebuild as exact");
    ASSERT_EQ_INT(idx_vec_maintain(m, &rebuilt, &err), KEEP_OK, "maintain");
    ASSERT_EQ_INT(idx_vec_get_kind(m), IDX_VEC_HNSW, "2700 >= 1000 -> HNSW");
    bad = 0;
    for (size_t q = 0; q < NQ; q++) {
        size_t n = 0;
        idx_vec_search(m, qs + q * DIM, K, NULL, ids, scores, &n, &err);
        for (size_t i = 0; i < n; i++)
            bad += !is_alive_id(&r, ids[i]);
    }
    ASSERT_EQ_INT(bad, 0, "migrated HNSW has no removed ids");
    idx_vec_free(m);

    idx_vec_free(v);
    free(third);
    free(qs);
    free(r.ids);
    free(r.x);
    free(r.alive);
}

static int oom_ok(int rc)
{
    return rc == KEEP_OK || rc == KEEP_ERR_NOMEM;
}

/* Every allocation failing in turn: each call reports out of memory or
 * succeeds, and the index stays consistent either way. */
static void test_oom(void)
{
    const size_t N = 300;
    int64_t *ids = malloc(N * sizeof *ids);
    float *x = random_unit(N), *q = random_unit(1);
    for (size_t i = 0; i < N; i++)
        ids[i] = 7 * (int64_t)i;
    char path[256], path2[256];
    path_in_tmp(path, sizeof path, "oom-src.kvi");
    path_in_tmp(path2, sizeof path2, "oom.kvi");
    idx_vec_tunables t;
    idx_vec_tunables_default(&t);
    t.exact_filter_max = 20;
    t.min_dead_for_rebuild = 1;
    idx_vec *src = NULL;
    keep_err err;
    int setup = idx_vec_create(&src, DIM, IDX_VEC_HNSW, &t, &err) == KEEP_OK &&
                idx_vec_add(src, ids, x, N, &err) == KEEP_OK &&
                idx_vec_save(src, path, 3, &err) == KEEP_OK;
    OK(setup, "OOM fixture");
    idx_vec_free(src);

    int all_ok = 1, consistent = 1, last_clean = 0;
    for (long fail_after = 0; fail_after < 400 && setup; fail_after++) {
        idx_vec *v = NULL, *w = NULL;
        int clean = 1, rc;
        int64_t out[20];
        float sc[20];
        size_t n = 0, removed = 0;
        idx_vec_filter f = {.ids = ids, .n_ids = 100};
        idx_vec_filter tight = {.ids = ids, .n_ids = 10};
        keep_alloc_fail_after(fail_after);
        rc = idx_vec_create(&v, DIM, IDX_VEC_EXACT, &t, &err);
        clean &= rc == KEEP_OK;
        all_ok &= oom_ok(rc);
        if (rc == KEEP_OK) {
            rc = idx_vec_add(v, ids, x, N, &err);
            clean &= rc == KEEP_OK;
            all_ok &= oom_ok(rc);
            rc = idx_vec_search(v, q, 20, &f, out, sc, &n, &err);
            clean &= rc == KEEP_OK;
            all_ok &= oom_ok(rc);
            rc = idx_vec_search(v, q, 20, &tight, out, sc, &n, &err);
            clean &= rc == KEEP_OK;
            all_ok &= oom_ok(rc);
            rc = idx_vec_remove(v, ids, 50, &removed, &err);
            clean &= rc == KEEP_OK;
            all_ok &= oom_ok(rc);
            rc = idx_vec_rebuild(v, IDX_VEC_HNSW, &err);
            clean &= rc == KEEP_OK;
            all_ok &= oom_ok(rc);
            rc = idx_vec_save(v, path2, 1, &err);
            clean &= rc == KEEP_OK;
            all_ok &= oom_ok(rc);
        }
        rc = idx_vec_load(&w, path, DIM, 3, &t, &err);
        clean &= rc == KEEP_OK;
        all_ok &= oom_ok(rc);
        keep_alloc_fail_after(-1);
        if (v) {
            /* whatever failed, the index answers with live ids only */
            rc = idx_vec_search(v, q, 20, NULL, out, sc, &n, &err);
            consistent &= rc == KEEP_OK && n == (idx_vec_count(v) < 20 ? idx_vec_count(v) : 20);
            for (size_t i = 0; i < n; i++)
                consistent &= idx_vec_contains(v, out[i]);
        }
        idx_vec_free(v);
        idx_vec_free(w);
        last_clean = clean;
        if (clean) {
            printf("# allocation failure injected at each of %ld allocations\n", fail_after);
            break;
        }
    }
    OK(all_ok, "allocation failures give KEEP_ERR_NOMEM, never another error");
    OK(consistent, "index consistent after allocation failures");
    OK(last_clean, "the run ends with every call succeeding");
    free(ids);
    free(x);
    free(q);
}

int main(void)
{
    idx_vec_set_threads(2);
    if (!mkdtemp(tmpdir)) {
        printf("# mkdtemp failed\n");
        return 1;
    }
    test_exact();
    test_hnsw();
    test_oom();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return tap_done();
}
