/* test_pool.c — the thread pool: every item of every job runs exactly once,
 * chunk boundaries respect the grain, thread indices stay in range, and many
 * small jobs in a row (the token loop's pattern) neither lose nor repeat work. */
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "infer/pool.h"
#include "tap.h"

#define N_MAX 5000

typedef struct {
    atomic_int hits[N_MAX];
    atomic_int bad_grain, bad_thread;
    size_t grain;
    int n_threads;
} job;

static void body(void *ctx, size_t b, size_t e, int thread)
{
    job *j = ctx;
    if (b % j->grain) atomic_fetch_add(&j->bad_grain, 1);
    if (thread < 0 || thread >= j->n_threads) atomic_fetch_add(&j->bad_thread, 1);
    for (size_t i = b; i < e; i++) atomic_fetch_add(&j->hits[i], 1);
}

static int run_jobs(infer_pool *p, int reps, job *j)
{
    static const size_t sizes[] = {1, 2, 3, 7, 16, 17, 100, 896, 4864, N_MAX};
    static const size_t grains[] = {1, 4, 16, 64};
    int ok = 1;
    for (int r = 0; r < reps; r++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
            for (size_t gi = 0; gi < sizeof grains / sizeof *grains; gi++) {
                size_t n = sizes[si];
                for (size_t i = 0; i < n; i++) atomic_store(&j->hits[i], 0);
                j->grain = grains[gi];
                infer_pool_for(p, n, grains[gi], body, j);
                for (size_t i = 0; i < n; i++)
                    if (atomic_load(&j->hits[i]) != 1) {
                        if (ok)
                            printf("#   n %zu grain %zu: item %zu ran %d times\n", n, grains[gi], i,
                                   atomic_load(&j->hits[i]));
                        ok = 0;
                    }
            }
    return ok;
}

/* Busy box: workers that lose their core inside each chunk (a 3 ms sleep
 * here, against 50 microseconds per chunk on the caller) make
 * every job slower than the caller alone, so the pool must go solo. */
typedef struct {
    atomic_int by_worker;
} slow_job;

static void slow_body(void *ctx, size_t b, size_t e, int thread)
{
    slow_job *j = ctx;
    (void)b;
    (void)e;
    if (thread != 0) {
        atomic_fetch_add(&j->by_worker, 1);
        usleep(3000);
    } else {
        usleep(50); /* long enough for a sleeping worker to wake and claim */
    }
}

static void test_busy_box(void)
{
    keep_err err = {0};
    infer_pool *p = NULL;
    if (infer_pool_create(2, &p, &err) != KEEP_OK) {
        OK(0, "create 2 threads");
        return;
    }
    slow_job sj;
    atomic_init(&sj.by_worker, 0);
    OK(!infer_pool_solo(p), "a new pool uses its workers");
    int jobs = 0;
    /* a window ends after 20 ms or 64 jobs; 200 jobs is far */
    while (!infer_pool_solo(p) && jobs < 200) {
        infer_pool_for(p, 16, 1, slow_body, &sj);
        jobs++;
    }
    char what[128];
    snprintf(what, sizeof what, "descheduled workers: the pool runs jobs alone after %d jobs", jobs);
    OK(infer_pool_solo(p) && atomic_load(&sj.by_worker) > 0, what);
    atomic_store(&sj.by_worker, 0);
    for (int i = 0; i < 5; i++) infer_pool_for(p, 16, 1, slow_body, &sj);
    ASSERT_EQ_INT(atomic_load(&sj.by_worker), 0, "solo period: no chunk goes to a worker");
    infer_pool_set_adaptive(p, 0);
    OK(!infer_pool_solo(p), "turning the check off ends the solo period");
    infer_pool_free(p);
    OK(!infer_pool_solo(NULL), "NULL pool is never solo");
}

/* A worker that stalls (as one the OS has descheduled) holds back only the
 * chunk it claimed: the caller takes every other chunk. */
typedef struct {
    atomic_int by_caller, by_worker, stalled;
} stall_job;

static void stall_body(void *ctx, size_t b, size_t e, int thread)
{
    stall_job *j = ctx;
    (void)b;
    (void)e;
    if (thread == 0) {
        atomic_fetch_add(&j->by_caller, 1);
    } else {
        atomic_fetch_add(&j->by_worker, 1);
        if (!atomic_exchange(&j->stalled, 1)) usleep(30000);
    }
}

int main(void)
{
    keep_err err = {0};
    job *j = calloc(1, sizeof *j);
    if (!j) return 1;
    OK(infer_physical_cores() >= 1, "physical cores >= 1");

    static const int threads[] = {1, 2, 3, 4, 8};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        infer_pool *p = NULL;
        char what[128];
        snprintf(what, sizeof what, "create %d threads", threads[t]);
        ASSERT_EQ_INT(infer_pool_create(threads[t], &p, &err), KEEP_OK, what);
        ASSERT_EQ_INT(infer_pool_threads(p), threads[t], "thread count");
        j->n_threads = threads[t];
        /* tiny jobs on a loaded test box may not pay off: keep the workers
         * in play so that the check covers them */
        infer_pool_set_adaptive(p, 0);
        atomic_store(&j->bad_grain, 0);
        atomic_store(&j->bad_thread, 0);
        snprintf(what, sizeof what, "%d threads: every item exactly once over 1200 jobs", threads[t]);
        OK(run_jobs(p, 30, j), what);
        ASSERT_EQ_INT(atomic_load(&j->bad_grain), 0, "chunks start on a grain boundary");
        ASSERT_EQ_INT(atomic_load(&j->bad_thread), 0, "thread index in range");
        infer_pool_free(p);
    }

    {
        infer_pool *p2 = NULL;
        infer_pool_create(2, &p2, &err);
        stall_job sj;
        atomic_init(&sj.by_caller, 0);
        atomic_init(&sj.by_worker, 0);
        atomic_init(&sj.stalled, 0);
        /* let the worker fall asleep first, then wake it with a job of 16 chunks */
        usleep(20000);
        infer_pool_for(p2, 16, 1, stall_body, &sj);
        ASSERT_EQ_INT(atomic_load(&sj.by_caller) + atomic_load(&sj.by_worker), 16, "stall: 16 chunks run");
        OK(atomic_load(&sj.by_worker) <= 2, "a stalled worker holds at most its own chunk(s)");
        infer_pool_free(p2);
    }

    test_busy_box();

    /* default size and a NULL pool */
    infer_pool *p = NULL;
    ASSERT_EQ_INT(infer_pool_create(0, &p, &err), KEEP_OK, "create default");
    ASSERT_EQ_INT(infer_pool_threads(p), infer_physical_cores(), "default = physical cores");
    infer_pool_free(p);
    ASSERT_EQ_INT(infer_pool_threads(NULL), 1, "NULL pool has one thread");
    j->n_threads = 1;
    OK(run_jobs(NULL, 1, j), "NULL pool runs on the caller");
    infer_pool_free(NULL);
    free(j);
    return tap_done();
}
