// The kernels' worker threads. A job is n tasks: the caller runs task 0 and worker i runs task
// i. Between jobs a worker spins on the job counter for a while before it sleeps, so the
// hundreds of short jobs of one decoded token (each mat-vec, attention) start within a
// microsecond instead of waiting for a sleeping thread to be scheduled: with Dispatch's
// workers, a 7B Q4_0 decode kept its two threads busy about 70% of the time.
#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LK_PAUSE() __asm__ __volatile__("yield")
#else
#define LK_PAUSE() ((void)0)
#endif

enum { LK_POOL_MAX_WORKERS = 255 };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic unsigned generation;   // bumped (under `lock`) as each job is posted
    _Atomic int pending;           // workers yet to finish (or pass on) the current job
    _Atomic int busy;              // a caller owns the pool
    _Atomic long spin_ns;          // how long an idle worker spins before it sleeps
    lk_pool_task fn;
    void *ctx;
    size_t tasks;
    int workers;                   // started so far (only the owner starts more)
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 200000, NULL, NULL, 0, 0};

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/// Waits until the generation differs from `seen` and returns it: spinning first, then asleep.
static unsigned next_job(unsigned seen) {
    long budget = atomic_load_explicit(&pool.spin_ns, memory_order_relaxed);
    if (budget > 0) {
        long start = now_ns();
        for (unsigned i = 1;; i++) {
            unsigned g = atomic_load_explicit(&pool.generation, memory_order_acquire);
            if (g != seen) return g;
            LK_PAUSE();
            if ((i & 63) == 0 && now_ns() - start > budget) break;
        }
    }
    pthread_mutex_lock(&pool.lock);
    unsigned g;
    while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

/// The generation each worker was started at: it runs every job posted after that.
static unsigned start_generation[LK_POOL_MAX_WORKERS + 1];

static void *worker_main(void *arg) {
    size_t index = (size_t)arg;
    unsigned seen = start_generation[index];
    for (;;) {
        seen = next_job(seen);
        // Workers past the job's task count sit this one out, but every worker reports, so
        // none can still be reading this job's fields when the next one is posted.
        if (index < pool.tasks) pool.fn(pool.ctx, index);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
    return NULL;
}

int lk_pool_run(size_t tasks, lk_pool_task fn, void *ctx) {
    if (tasks <= 1) {
        if (tasks == 1) fn(ctx, 0);
        return 0;
    }
    if (tasks - 1 > LK_POOL_MAX_WORKERS || atomic_exchange_explicit(&pool.busy, 1, memory_order_acquire)) return -1;
    while ((size_t)pool.workers < tasks - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        start_generation[pool.workers + 1] = atomic_load_explicit(&pool.generation, memory_order_relaxed);
        int failed = pthread_create(&thread, &attr, worker_main, (void *)(size_t)(pool.workers + 1));
        pthread_attr_destroy(&attr);
        if (failed) {
            atomic_store_explicit(&pool.busy, 0, memory_order_release);
            return -1;
        }
        pool.workers++;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.tasks = tasks;
    atomic_store_explicit(&pool.pending, pool.workers, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(ctx, 0);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) LK_PAUSE();
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 0;
}

void lk_pool_set_spin(long nanoseconds) {
    atomic_store_explicit(&pool.spin_ns, nanoseconds < 0 ? 0 : nanoseconds, memory_order_relaxed);
}
