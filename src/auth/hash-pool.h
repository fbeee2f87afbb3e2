#ifndef PYMAP_AUTH_HASH_POOL_H
#define PYMAP_AUTH_HASH_POOL_H
/* A fixed set of threads in the auth process for the one expensive thing it does:
 * password hashing (verification for auth.login, new hashes for auth.hash). Used by
 * auth-server.c; everything else (users files, Redis, lockout, failure delay, IPC)
 * stays on the loop thread.
 *
 * Jobs are submitted from the loop thread. work(context) runs on a pool thread and
 * must touch only memory that the job owns (no jansson object, no logging, no
 * global that the loop writes). done(context, ran) then runs on the loop thread,
 * woken through an eventfd, exactly once per accepted job; ran is false only for a
 * job that hash_pool_destroy() dropped before a thread started it.
 *
 * Bounded: at most max_jobs jobs are accepted and not yet done; beyond that
 * hash_pool_submit() refuses (the caller answers "busy"). Jobs run in submission
 * order. The threads block every signal (the loop receives them via signalfd). */
#include <stdbool.h>

struct ioloop;
struct hash_pool;

#define HASH_POOL_MAX_THREADS 256

typedef void hash_pool_work_t(void *context);
typedef void hash_pool_done_t(void *context, bool ran);

/* threads 0 = the number of online CPUs (capped at HASH_POOL_MAX_THREADS).
 * Returns NULL with a static message in error_r when threads or the eventfd cannot
 * be created. */
struct hash_pool *hash_pool_create(struct ioloop *loop, unsigned int threads,
				   unsigned int max_jobs, const char **error_r);
/* Stop the threads: each finishes the job it is running; the queued ones are not
 * started. Then every undelivered job's done() runs (ran = whether work() ran).
 * Not from inside a done() callback. */
void hash_pool_destroy(struct hash_pool **pool);

/* 0 accepted, -1 the pool is full (done is not called). */
int hash_pool_submit(struct hash_pool *pool, hash_pool_work_t *work,
		     hash_pool_done_t *done, void *context);

unsigned int hash_pool_thread_count(const struct hash_pool *pool);
/* Jobs accepted and not yet done (queued, running or finished and undelivered). */
unsigned int hash_pool_job_count(const struct hash_pool *pool);

#endif
