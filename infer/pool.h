/* pool.h — the persistent thread pool the model code runs its matrix products
 * on: a parallel-for over an index range (rows of a weight matrix, tokens of a
 * batch) split into chunks that the calling thread and the workers claim one
 * at a time.
 *
 * Built for a shared box (an appliance where ingest and web requests take
 * cores away): chunks are claimed dynamically, so a worker that the kernel
 * has descheduled delays the job by at most one chunk, and idle threads spin
 * only briefly (a few microseconds, to catch the next job of a token's tight
 * sequence of products) before sleeping on a futex, so they never steal a
 * busy core for long. The caller never waits for a worker that has not
 * claimed work.
 *
 * One job at a time: infer_pool_for is not re-entrant and must be called by
 * one thread at a time (the model's own thread). */
#ifndef KEEP_INFER_POOL_H
#define KEEP_INFER_POOL_H

#include <stddef.h>

#include "common.h"

typedef struct infer_pool infer_pool;

/* Body of a parallel-for: handles items [begin, end). `thread` is 0 for the
 * calling thread and 1..n_threads-1 for the workers, for per-thread scratch. */
typedef void (*infer_pool_fn)(void *ctx, size_t begin, size_t end, int thread);

/* Number of physical cores this process may run on (hyper-threads counted
 * once, CPU affinity respected); at least 1. */
int infer_physical_cores(void);

/* Creates a pool of n_threads threads in all, counting the caller (so
 * n_threads - 1 workers); n_threads <= 0 means infer_physical_cores().
 * Capped at 256. Caller frees with infer_pool_free. */
int infer_pool_create(int n_threads, infer_pool **out, keep_err *err);

/* Stops and joins the workers. NULL is a no-op. */
void infer_pool_free(infer_pool *p);

/* Threads of the pool, counting the caller; 1 for a NULL pool. */
int infer_pool_threads(const infer_pool *p);

/* The busy-box check (pool.c): when the workers make jobs slower than the
 * caller alone would be (a worker descheduled inside its chunk), jobs run on
 * the caller alone for a while. On by default (off when the environment has
 * KEEP_POOL_ADAPTIVE=0); infer_pool_set_adaptive(p, 0) turns it off (tests,
 * measurements), which also ends a solo period. */
void infer_pool_set_adaptive(infer_pool *p, int on);

/* 1 while jobs run on the caller alone because of the check above. */
int infer_pool_solo(const infer_pool *p);

/* Runs fn over [0, n) and returns when every item is done. The range is cut
 * into chunks whose sizes are multiples of `grain` (except the last), a few
 * chunks per thread. A NULL pool, a 1-thread pool or a range of one chunk runs
 * fn(ctx, 0, n, 0) on the caller, as does a pool in a solo period. */
void infer_pool_for(infer_pool *p, size_t n, size_t grain, infer_pool_fn fn, void *ctx);

#endif
