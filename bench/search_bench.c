/* search_bench.c — hybrid search latency on a synthetic corpus: generates N
 * chunks of topic-clustered pseudo-words, ingests them, learns and embeds
 * with the built-in embedder, builds the FAISS index, then runs 1,000 hybrid
 * queries from 2 threads and prints p50/p99 latency, build times and memory.
 *
 * The documents are spread over 10 collections; the queries run once as the
 * administrator and once as a user whose group reads 5 of them (the access
 * filter inside FTS5 and FAISS). The corpus is written through the index API
 * in transactions of 10,000 documents.
 *
 * usage: search_bench N_CHUNKS [DATA_DIR [build|reuse]]   (N_CHUNKS: 1000 .. 2000000)
 * "build" stops once the corpus and its index are built; "reuse" keeps the
 * corpus a previous run left in DATA_DIR (same N_CHUNKS) and only times
 * opening the index and the queries. "--data-only" (same as "build", after
 * DATA_DIR) is what the HTTP benchmark (bench/http/run.sh) calls.
 * usage: search_bench --queries FILE   writes 1,000 queries over the same vocabulary. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/idx.h"
#include "index/vecindex.h"
#include "retrieve/retr.h"

#define N_VOCAB 30000
#define N_TOPICS 300
#define WORDS_PER_CHUNK 90
#define N_QUERIES 1000
#define N_THREADS 2
#define N_COLLECTIONS 10
#define TXN_DOCS 10000

static char vocab[N_VOCAB][12];

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static void make_vocab(void)
{
    static const char cons[] = "bcdfghklmnprstvz", vow[] = "aeiou";
    for (size_t i = 0; i < N_VOCAB; i++) {
        size_t syl = 2 + i % 3, n = 0;
        uint64_t x = i * 2654435761u + 17;
        for (size_t s = 0; s < syl; s++) {
            vocab[i][n++] = cons[x % 16];
            x /= 16;
            vocab[i][n++] = vow[x % 5];
            x /= 5;
        }
        n += (size_t)snprintf(vocab[i] + n, sizeof vocab[i] - n, "%zu", i % 97);
    }
}

/* A word of topic t: half the time one of the topic's 100 words, else a
 * Zipf-like draw from the whole vocabulary. */
static const char *word(size_t t)
{
    if (next() % 2)
        return vocab[(t * 100 + next() % 100) % N_VOCAB];
    double u = (double)(next() % 1000000) / 1000000.0;
    return vocab[(size_t)(N_VOCAB * u * u * u) % N_VOCAB];
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

typedef struct {
    const char *db;
    const char *user; /* NULL: the administrator */
    idx_vectors *v;
    idx_embedder *e;
    char (*queries)[128];
    size_t first, count;
    double *lat;
    int errors;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    idx_store *s = NULL;
    idx_principal *admin = NULL;
    keep_err err;
    if (idx_store_open(w->db, 10000, &s, &err) ||
        (w->user ? idx_principal_load(s, w->user, &admin, &err) : idx_principal_admin(&admin, &err))) {
        w->errors++;
        return NULL;
    }
    for (size_t i = 0; i < w->count; i++) {
        retr_request req = {w->queries[w->first + i], 10, "hybrid", admin, NULL, 3, w->v, w->e};
        retr_results *r = NULL;
        double t0 = keep_now_ms();
        if (retr_search(s, &req, &r, &err))
            w->errors++;
        w->lat[w->first + i] = keep_now_ms() - t0;
        retr_results_free(r);
    }
    idx_principal_free(admin);
    idx_store_close(s);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double loadavg(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* Runs the queries from N_THREADS threads as user (NULL: admin); fills the
 * p50/p99 latency (ms) and queries/s. */
static int run_queries(const char *db, const char *user, idx_vectors *v, idx_embedder *e,
                       char (*queries)[128], double *p50, double *p99, double *qps)
{
    static double lat[N_QUERIES];
    worker_t w[N_THREADS];
    pthread_t th[N_THREADS];
    double t0 = keep_now_ms();
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker_t){db, user, v, e, queries, (size_t)i * (N_QUERIES / N_THREADS),
                          N_QUERIES / N_THREADS, lat, 0};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    int errors = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
    }
    double wall = keep_now_ms() - t0;
    qsort(lat, N_QUERIES, sizeof lat[0], cmp_d);
    *p50 = lat[N_QUERIES / 2];
    *p99 = lat[N_QUERIES * 99 / 100];
    *qps = N_QUERIES / (wall / 1000);
    return errors;
}

/* N_QUERIES queries of 2 to 5 words of one topic. */
static void make_queries(char (*queries)[128])
{
    for (size_t q = 0; q < N_QUERIES; q++) {
        size_t t = (size_t)(next() % N_TOPICS), len = 0;
        int words = 2 + (int)(next() % 4);
        for (int w = 0; w < words; w++)
            len += (size_t)snprintf(queries[q] + len, sizeof queries[q] - len, "%s%s", w ? " " : "",
                                    vocab[(t * 100 + next() % 100) % N_VOCAB]);
    }
}

static int write_queries(const char *path, char (*queries)[128])
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    for (size_t q = 0; q < N_QUERIES; q++)
        fprintf(f, "%s\n", queries[q]);
    return fclose(f) != 0;
}

static char queries[N_QUERIES][128];

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--queries") == 0) {
        make_vocab();
        make_queries(queries);
        return write_queries(argv[2], queries);
    }
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    int reuse = argc > 3 && strcmp(argv[3], "reuse") == 0;
    int build_only = argc > 3 && (strcmp(argv[3], "build") == 0 || strcmp(argv[3], "--data-only") == 0);
    if (n < 1000 || n > 2000000) {
        fprintf(stderr, "usage: search_bench N_CHUNKS [DATA_DIR [reuse]] (1000..2000000)\n");
        return 2;
    }
    char dir[256];
    if (argc > 2)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else
        snprintf(dir, sizeof dir, "/tmp/keep-bench-%ld", n);
    mkdir(dir, 0700);
    char db[400], cache[400];
    snprintf(db, sizeof db, "%s/keep.db", dir);
    snprintf(cache, sizeof cache, "%s/vectors.faiss", dir);
    if (!reuse) {
        unlink(db);
        unlink(cache);
    }
    make_vocab();

    idx_store *s = NULL;
    keep_err err;
    if (idx_store_open(db, 10000, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_ingest = 0, t_learn = 0, t_embed = 0, t0;
    char coll[16];
    if (!reuse) {
        ingest_options o;
        ingest_options_default(&o);
        t0 = keep_now_ms();
        keep_buf text = {0};
        char path[64];
        for (long i = 0; i < n; i++) {
            if (i % TXN_DOCS == 0 && ((i && idx_store_commit(s, &err)) || idx_store_begin(s, &err))) {
                fprintf(stderr, "ingest: %s\n", err.msg);
                return 1;
            }
            size_t t = (size_t)(next() % N_TOPICS);
            keep_buf_reset(&text);
            for (int w = 0; w < WORDS_PER_CHUNK; w++)
                keep_buf_printf(&text, "%s%s", w ? " " : "", word(t));
            ingest_result *r = NULL;
            snprintf(path, sizeof path, "synthetic/%ld.txt", i);
            snprintf(coll, sizeof coll, "c%ld", i % N_COLLECTIONS);
            if (ingest_bytes("doc.txt", text.data, text.len, &o, &r, &err) ||
                idx_put_document(s, coll, path, r, (int64_t)text.len, 0, NULL, NULL, &err)) {
                fprintf(stderr, "ingest: %s\n", err.msg);
                return 1;
            }
            ingest_result_free(r);
        }
        keep_buf_free(&text);
        if (idx_store_commit(s, &err)) {
            fprintf(stderr, "ingest: %s\n", err.msg);
            return 1;
        }
        /* a user whose group reads half of the collections */
        if (idx_user_add(s, "half", 0, &err) || idx_user_join(s, "half", "halfgroup", &err))
            return 1;
        for (int c = 0; c < N_COLLECTIONS; c += 2) {
            snprintf(coll, sizeof coll, "c%d", c);
            if (idx_collection_grant(s, coll, "halfgroup", &err))
                return 1;
        }
        t_ingest = keep_now_ms() - t0;
        fprintf(stderr, "ingested %ld chunks in %.1f s\n", n, t_ingest / 1000);
        t0 = keep_now_ms();
        int64_t model;
        if (idx_builtin_learn(s, &model, &err)) {
            fprintf(stderr, "learn: %s\n", err.msg);
            return 1;
        }
        t_learn = keep_now_ms() - t0;
        fprintf(stderr, "learned in %.1f s\n", t_learn / 1000);
    }
    t0 = keep_now_ms();
    idx_embedder *e = NULL;
    size_t embedded = 0;
    if (idx_builtin_refresh(s, NULL, NULL, &e, &embedded, &err) || !e) {
        fprintf(stderr, "embed: %s\n", err.msg);
        return 1;
    }
    t_embed = keep_now_ms() - t0;
    fprintf(stderr, "embedded %zu chunks in %.1f s\n", embedded, t_embed / 1000);
    double t_index = 0;
    long rss0 = rss_kb(), rss1 = rss0;
    idx_vectors *v = NULL;
    if (!reuse) {
        /* both cores for the build; the query threads then use one each */
        idx_vec_set_threads(2);
        t0 = keep_now_ms();
        if (idx_vectors_open(s, cache, &v, &err)) {
            fprintf(stderr, "index: %s\n", err.msg);
            return 1;
        }
        t_index = keep_now_ms() - t0;
        rss1 = rss_kb();
        fprintf(stderr, "index built in %.1f s (%s)\n", t_index / 1000, idx_vectors_origin(v));
        idx_vectors_close(v);
        if (build_only) {
            printf("| %ld | %zu | %s | %.1f | %.1f | %.1f | %.1f | - | %.0f | built only |\n", n,
                   e->dim, n >= 100000 ? "HNSW" : "exact", t_ingest / 1000, t_learn / 1000,
                   t_embed / 1000, t_index / 1000, (double)(rss1 - rss0) / 1024);
            idx_embedder_free(e);
            idx_store_close(s);
            return 0;
        }
    }
    idx_vec_set_threads(1);
    t0 = keep_now_ms();
    if (idx_vectors_open(s, cache, &v, &err))
        return 1;
    double t_load = keep_now_ms() - t0;
    if (reuse)
        rss1 = rss_kb();
    if (idx_vectors_count(v) != (size_t)n) {
        fprintf(stderr, "%s holds %zu vectors, not %ld\n", dir, idx_vectors_count(v), n);
        return 1;
    }

    make_queries(queries);
    double p50a, p99a, qpsa, p50h, p99h, qpsh, l0 = loadavg();
    int errors = run_queries(db, NULL, v, e, queries, &p50a, &p99a, &qpsa);
    errors += run_queries(db, "half", v, e, queries, &p50h, &p99h, &qpsh);
    double l1 = loadavg();
    printf("| chunks | dim | index | ingest s | learn s | embed s | index build s | index load s |"
           " index RSS MB | p50 ms | p99 ms | queries/s | half-reader p50 ms | p99 ms |"
           " queries/s | errors | load avg |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    printf("| %ld | %zu | %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.0f | %.1f | %.1f | %.0f |"
           " %.1f | %.1f | %.0f | %d | %.1f-%.1f |\n",
           n, e->dim, n >= 100000 ? "HNSW" : "exact", t_ingest / 1000, t_learn / 1000,
           t_embed / 1000, t_index / 1000, t_load / 1000, (double)(rss1 - rss0) / 1024, p50a,
           p99a, qpsa, p50h, p99h, qpsh, errors, l0, l1);
    idx_vectors_close(v);
    idx_embedder_free(e);
    idx_store_close(s);
    return errors ? 1 : 0;
}
