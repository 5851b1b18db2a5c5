/* pool.c — persistent workers for infer_pool_for (see pool.h for the design).
 *
 * Synchronisation, all through C11 atomics plus a futex to sleep on:
 *   - `claim` packs (job sequence << 32 | next chunk). A thread claims chunk i
 *     of job s by CAS from (s, i) to (s, i + 1), so a worker that wakes up late
 *     and still believes in job s - 1 can never take a chunk of job s.
 *   - the job's description (fn, ctx, n, chunk size) is written by the caller
 *     before `claim` moves to the new sequence (release) and read by workers
 *     after they saw that sequence (acquire), then validated by the CAS.
 *   - `done` counts finished chunks of the current job; the caller waits for
 *     it to reach the chunk count, not for workers to check in, so a worker
 *     the OS has parked costs nothing unless it holds a chunk.
 *   - `seq` is the futex word idle workers sleep on; `done` the one the caller
 *     sleeps on. Sleepers announce themselves first so that the waking side
 *     only makes a system call when someone actually sleeps.
 *
 * Busy box: a chunk that a worker claimed and then lost its core in the
 * middle of (the OS gave the core to another process) cannot be taken over,
 * and the caller waits until the worker runs again, typically a scheduler
 * time slice (milliseconds) against jobs of tens of microseconds while
 * generating. So the caller checks whether the workers pay off: per job it
 * times its own chunks and the whole job; its chunk time scaled to all
 * chunks estimates the job run alone. Summed over a window of jobs, when the
 * job took longer with workers than that estimate, the pool runs every job
 * on the caller alone for a while (workers stay asleep, leaving the core to
 * the other process), then probes again; the solo period doubles while
 * probes keep failing. On a quiet machine the workers win every window and
 * nothing changes. */
#include "infer/pool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

/* Spin iterations before sleeping: roughly 20-50 µs depending on the cost of
 * the pause instruction, enough to bridge the small serial steps between two
 * matrix products of a token, short enough not to starve another process. */
#define POOL_SPIN 1000
#define POOL_MAX_THREADS 256
#define POOL_CHUNKS_PER_THREAD 8
/* Workers are judged over windows of this many jobs or this much time,
 * whichever ends first; a failed window makes the caller run alone for
 * SOLO_MIN_NS, doubling per failed probe up to SOLO_MAX_NS. */
#define POOL_WINDOW_JOBS 64
#define POOL_WINDOW_NS 20000000ll
#define POOL_SOLO_MIN_NS 20000000ll
#define POOL_SOLO_MAX_NS 640000000ll

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void futex_wait(atomic_uint *word, unsigned expected)
{
#if defined(__linux__)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)expected;
    (void)word;
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
#endif
}

static void futex_wake_all(atomic_uint *word)
{
#if defined(__linux__)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)word;
#endif
}

typedef struct pool_worker {
    struct infer_pool *pool;
    pthread_t tid;
    int index;
} pool_worker;

struct infer_pool {
    int n_threads;
    int n_started; /* workers actually running */
    pool_worker *workers;

    _Atomic uint64_t claim;
    atomic_uint seq;       /* current job sequence (futex word for workers) */
    atomic_uint done;      /* finished chunks of the current job (caller's futex) */
    atomic_int n_sleeping; /* workers blocked (or about to block) on seq */
    atomic_int caller_sleeping;
    atomic_int stop;

    /* caller-only state for the busy-box check (see the top of this file) */
    long long win_total_ns, win_solo_ns, win_start_ns, solo_until_ns, solo_ns;
    int win_jobs;
    int adaptive; /* 0 disables the check (infer_pool_set_adaptive) */

    /* job descriptions: sequence s lives in job[s & 1]. Two slots, because a
     * worker may still be looking at job s while the caller publishes s + 1:
     * with one slot it could read s + 1's chunk count, then still win a CAS
     * on the tail of job s and run a chunk of s + 1 twice (seen as a test
     * failure under load). A slot is only rewritten for s + 2, when claim has
     * long left s, so no CAS on s can succeed any more. */
    struct pool_job {
        _Atomic(infer_pool_fn) fn;
        _Atomic(void *) ctx;
        _Atomic size_t n;
        _Atomic size_t chunk;
        atomic_uint n_chunks;
    } job[2];
};

/* Claims and runs chunks of job s until none is left. Returns when job s is
 * exhausted or superseded, with the number of chunks this thread ran. */
static unsigned run_chunks(struct infer_pool *p, uint32_t s, int thread)
{
    unsigned ran = 0;
    struct pool_job *jb = &p->job[s & 1];
    infer_pool_fn fn = atomic_load_explicit(&jb->fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&jb->ctx, memory_order_relaxed);
    size_t n = atomic_load_explicit(&jb->n, memory_order_relaxed);
    size_t chunk = atomic_load_explicit(&jb->chunk, memory_order_relaxed);
    uint32_t n_chunks = atomic_load_explicit(&jb->n_chunks, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(cur >> 32) != s) return ran;
        uint32_t i = (uint32_t)cur;
        if (i >= n_chunks) return ran;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &cur, cur + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        /* The CAS succeeded on sequence s, so the description read above
         * (published before claim moved to s) belongs to job s. */
        size_t b = (size_t)i * chunk;
        size_t e = b + chunk < n ? b + chunk : n;
        fn(ctx, b, e, thread);
        ran++;
        unsigned d = atomic_fetch_add(&p->done, 1) + 1;
        if (d == n_chunks && atomic_load(&p->caller_sleeping)) futex_wake_all(&p->done);
        cur = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Adds one job to the current window (see the top of this file) and decides
 * at the window's end whether the next jobs run on the caller alone. */
static void judge(struct infer_pool *p, long long t0, long long t_own, long long t_end,
                  unsigned own_chunks, unsigned n_chunks)
{
    if (own_chunks == 0) return; /* the workers did everything: no estimate */
    if (p->win_jobs == 0) p->win_start_ns = t0;
    p->win_jobs++;
    p->win_total_ns += t_end - t0;
    p->win_solo_ns += (t_own - t0) * (long long)n_chunks / own_chunks;
    if (p->win_jobs < POOL_WINDOW_JOBS && t_end - p->win_start_ns < POOL_WINDOW_NS) return;
    if (p->win_solo_ns < p->win_total_ns) {
        p->solo_ns = p->solo_ns ? p->solo_ns * 2 : POOL_SOLO_MIN_NS;
        if (p->solo_ns > POOL_SOLO_MAX_NS) p->solo_ns = POOL_SOLO_MAX_NS;
        p->solo_until_ns = t_end + p->solo_ns;
    } else {
        p->solo_ns = 0;
    }
    p->win_jobs = 0;
    p->win_total_ns = p->win_solo_ns = 0;
}

static void *worker_main(void *arg)
{
    pool_worker *w = arg;
    struct infer_pool *p = w->pool;
    unsigned seen = atomic_load(&p->seq);
    for (;;) {
        unsigned s;
        int spins = 0;
        while ((s = atomic_load_explicit(&p->seq, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            if (++spins < POOL_SPIN) {
                cpu_relax();
                continue;
            }
            atomic_fetch_add(&p->n_sleeping, 1);
            if (atomic_load(&p->seq) == seen && !atomic_load(&p->stop)) futex_wait(&p->seq, seen);
            atomic_fetch_sub(&p->n_sleeping, 1);
            spins = 0;
        }
        if (atomic_load(&p->stop)) break;
        seen = s;
        run_chunks(p, s, w->index);
    }
    return NULL;
}

static int count_cpus_in_list(const char *s)
{
    /* "0-3,8,10-11" */
    int count = 0;
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s) return 0;
        long b = a;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1) return 0;
            s = end;
        }
        if (b >= a && b - a < 4096) count += (int)(b - a + 1);
        if (*s == ',') s++;
    }
    return count;
}

int infer_physical_cores(void)
{
    int online = 1;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int cores = 0, logical = 0;
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (!CPU_ISSET(c, &set)) continue;
            logical++;
            /* count a core once: at its first allowed sibling */
            char path[128], buf[256];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
                     c);
            FILE *f = fopen(path, "r");
            int first = 1;
            if (f) {
                if (fgets(buf, sizeof buf, f)) {
                    int siblings = count_cpus_in_list(buf);
                    long lo = strtol(buf, NULL, 10);
                    if (siblings > 1 && lo >= 0 && lo < c && lo < CPU_SETSIZE &&
                        CPU_ISSET((int)lo, &set))
                        first = 0;
                }
                fclose(f);
            }
            if (first) cores++;
        }
        if (cores > 0) return cores;
        if (logical > 0) return logical;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0 && n < 4096) online = (int)n;
    return online;
}

int infer_pool_create(int n_threads, infer_pool **out, keep_err *err)
{
    *out = NULL;
    if (n_threads <= 0) n_threads = infer_physical_cores();
    if (n_threads > POOL_MAX_THREADS) n_threads = POOL_MAX_THREADS;
    struct infer_pool *p = keep_calloc(1, sizeof *p);
    if (!p) return keep_err_set(err, KEEP_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    atomic_init(&p->claim, 0);
    atomic_init(&p->seq, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->caller_sleeping, 0);
    atomic_init(&p->stop, 0);
    /* KEEP_POOL_ADAPTIVE=0 turns the busy-box check off (measurements) */
    const char *env = getenv("KEEP_POOL_ADAPTIVE");
    p->adaptive = !(env && env[0] == '0' && env[1] == 0);
    for (int k = 0; k < 2; k++) {
        atomic_init(&p->job[k].fn, NULL);
        atomic_init(&p->job[k].ctx, NULL);
        atomic_init(&p->job[k].n, 0);
        atomic_init(&p->job[k].chunk, 1);
        atomic_init(&p->job[k].n_chunks, 0);
    }
    if (n_threads > 1) {
        p->workers = keep_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
            keep_free(p);
            return keep_err_set(err, KEEP_ERR_NOMEM, "thread pool: out of memory");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].index = i + 1;
            if (pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i]) != 0) {
                infer_pool_free(p);
                return keep_err_set(err, KEEP_ERR_INTERNAL, "thread pool: cannot start thread %d of %d",
                                    i + 2, n_threads);
            }
            p->n_started++;
        }
    }
    *out = p;
    return KEEP_OK;
}

void infer_pool_free(infer_pool *p)
{
    if (!p) return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->seq, 1);
    futex_wake_all(&p->seq);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i].tid, NULL);
    keep_free(p->workers);
    keep_free(p);
}

int infer_pool_threads(const infer_pool *p)
{
    return p ? p->n_threads : 1;
}

void infer_pool_set_adaptive(infer_pool *p, int on)
{
    if (!p) return;
    p->adaptive = on != 0;
    p->solo_until_ns = p->solo_ns = 0;
    p->win_jobs = 0;
    p->win_total_ns = p->win_solo_ns = 0;
}

int infer_pool_solo(const infer_pool *p)
{
    return p && p->adaptive && p->solo_until_ns && now_ns() < p->solo_until_ns;
}

void infer_pool_for(infer_pool *p, size_t n, size_t grain, infer_pool_fn fn, void *ctx)
{
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t grains = (n + grain - 1) / grain;
    if (!p || p->n_threads <= 1 || grains <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    long long t0 = p->adaptive ? now_ns() : 0;
    if (p->adaptive && p->solo_until_ns) {
        if (t0 < p->solo_until_ns) {
            fn(ctx, 0, n, 0);
            return;
        }
        p->solo_until_ns = 0; /* probe the workers again */
    }
    size_t target = (size_t)p->n_threads * POOL_CHUNKS_PER_THREAD;
    size_t per = (grains + target - 1) / target; /* grains per chunk */
    size_t chunk = per * grain;
    size_t n_chunks = (n + chunk - 1) / chunk;

    unsigned s = atomic_load_explicit(&p->seq, memory_order_relaxed) + 1;
    struct pool_job *jb = &p->job[s & 1];
    atomic_store_explicit(&jb->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&jb->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&jb->n, n, memory_order_relaxed);
    atomic_store_explicit(&jb->chunk, chunk, memory_order_relaxed);
    atomic_store_explicit(&jb->n_chunks, (unsigned)n_chunks, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (uint64_t)s << 32, memory_order_release);
    atomic_store_explicit(&p->seq, s, memory_order_seq_cst);
    if (atomic_load(&p->n_sleeping) > 0) futex_wake_all(&p->seq);

    unsigned own = run_chunks(p, s, 0);
    long long t_own = p->adaptive ? now_ns() : 0;

    int spins = 0;
    unsigned d;
    while ((d = atomic_load_explicit(&p->done, memory_order_acquire)) != n_chunks) {
        if (++spins < POOL_SPIN) {
            cpu_relax();
            continue;
        }
        atomic_store(&p->caller_sleeping, 1);
        if (atomic_load(&p->done) == d) futex_wait(&p->done, d);
        atomic_store(&p->caller_sleeping, 0);
        spins = 0;
    }
    if (p->adaptive) judge(p, t0, t_own, now_ns(), own, (unsigned)n_chunks);
}
