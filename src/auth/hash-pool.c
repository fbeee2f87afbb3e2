#include "hash-pool.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct hash_pool_job {
	hash_pool_work_t *work;
	hash_pool_done_t *done;
	void *context;
	struct hash_pool_job *next;
};

/* A FIFO of jobs. */
struct job_list {
	struct hash_pool_job *head, *tail;
};

struct hash_pool {
	int event_fd;
	struct io *io;
	unsigned int max_jobs, jobs;       /* loop thread only */
	unsigned int thread_count;
	pthread_t *threads;

	/* under mutex: */
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	struct job_list queued, finished;
	bool stopping;
};

static void job_list_push(struct job_list *list, struct hash_pool_job *job)
{
	job->next = NULL;
	if (list->tail != NULL)
		list->tail->next = job;
	else
		list->head = job;
	list->tail = job;
}

static struct hash_pool_job *job_list_pop(struct job_list *list)
{
	struct hash_pool_job *job = list->head;
	if (job != NULL) {
		list->head = job->next;
		if (list->head == NULL)
			list->tail = NULL;
		job->next = NULL;
	}
	return job;
}

static void wake_loop(struct hash_pool *pool)
{
	uint64_t one = 1;
	/* Fails only when the counter would overflow: the loop is woken anyway. */
	while (write(pool->event_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void *pool_thread(void *arg)
{
	struct hash_pool *pool = arg;
	pthread_mutex_lock(&pool->mutex);
	for (;;) {
		while (!pool->stopping && pool->queued.head == NULL)
			pthread_cond_wait(&pool->cond, &pool->mutex);
		if (pool->stopping)
			break;
		struct hash_pool_job *job = job_list_pop(&pool->queued);
		pthread_mutex_unlock(&pool->mutex);

		job->work(job->context);

		pthread_mutex_lock(&pool->mutex);
		bool was_empty = pool->finished.head == NULL;
		job_list_push(&pool->finished, job);
		if (was_empty) {
			/* the loop takes the whole list per wake-up: one write per batch */
			wake_loop(pool);
		}
	}
	pthread_mutex_unlock(&pool->mutex);
	return NULL;
}

static void deliver(struct hash_pool *pool, struct hash_pool_job *job, bool ran)
{
	hash_pool_done_t *done = job->done;
	void *context = job->context;
	free(job);
	pool->jobs--;
	done(context, ran);
}

static void pool_input(void *context)
{
	struct hash_pool *pool = context;
	uint64_t count;
	if (read(pool->event_fd, &count, sizeof(count)) < 0 &&
	    errno != EAGAIN && errno != EINTR)
		log_error_errno("auth: hash pool: read(eventfd)");
	pthread_mutex_lock(&pool->mutex);
	struct hash_pool_job *job = pool->finished.head;
	pool->finished.head = pool->finished.tail = NULL;
	pthread_mutex_unlock(&pool->mutex);
	while (job != NULL) {
		struct hash_pool_job *next = job->next;
		deliver(pool, job, true);
		job = next;
	}
}

static unsigned int pool_threads_wanted(unsigned int threads)
{
	if (threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus < 1 ? 1 : (unsigned int)(cpus > HASH_POOL_MAX_THREADS ?
							HASH_POOL_MAX_THREADS : cpus);
	}
	return threads > HASH_POOL_MAX_THREADS ? HASH_POOL_MAX_THREADS : threads;
}

/* Start the threads with every signal blocked: a signal for the process must go to
 * the loop thread (signalfd), never run its default action in a pool thread. */
static int pool_start_threads(struct hash_pool *pool, unsigned int wanted)
{
	sigset_t all, old;
	int ret = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pool->threads = i_new(pthread_t, wanted);
	for (; pool->thread_count < wanted; pool->thread_count++) {
		if (pthread_create(&pool->threads[pool->thread_count], NULL, pool_thread,
				   pool) != 0) {
			ret = -1;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void pool_stop_threads(struct hash_pool *pool)
{
	pthread_mutex_lock(&pool->mutex);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->mutex);
	for (unsigned int i = 0; i < pool->thread_count; i++)
		pthread_join(pool->threads[i], NULL);
	pool->thread_count = 0;
}

static void pool_free(struct hash_pool *pool)
{
	io_remove(&pool->io);
	if (pool->event_fd >= 0)
		close(pool->event_fd);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->mutex);
	free(pool->threads);
	free(pool);
}

struct hash_pool *hash_pool_create(struct ioloop *loop, unsigned int threads,
				   unsigned int max_jobs, const char **error_r)
{
	struct hash_pool *pool = i_new0(struct hash_pool);
	pool->max_jobs = max_jobs == 0 ? 1 : max_jobs;
	pthread_mutex_init(&pool->mutex, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->event_fd < 0) {
		*error_r = "hash pool: eventfd() failed";
		pool_free(pool);
		return NULL;
	}
	if (pool_start_threads(pool, pool_threads_wanted(threads)) < 0) {
		*error_r = "hash pool: pthread_create() failed";
		pool_stop_threads(pool);
		pool_free(pool);
		return NULL;
	}
	pool->io = io_add(loop, pool->event_fd, IO_READ, pool_input, pool);
	return pool;
}

void hash_pool_destroy(struct hash_pool **_pool)
{
	struct hash_pool *pool = *_pool;
	struct hash_pool_job *job;
	if (pool == NULL)
		return;
	*_pool = NULL;
	pool_stop_threads(pool);
	/* no thread left: the lists are ours */
	while ((job = job_list_pop(&pool->finished)) != NULL)
		deliver(pool, job, true);
	while ((job = job_list_pop(&pool->queued)) != NULL)
		deliver(pool, job, false);
	pool_free(pool);
}

int hash_pool_submit(struct hash_pool *pool, hash_pool_work_t *work,
		     hash_pool_done_t *done, void *context)
{
	if (pool->jobs >= pool->max_jobs)
		return -1;
	struct hash_pool_job *job = i_new0(struct hash_pool_job);
	job->work = work;
	job->done = done;
	job->context = context;
	pool->jobs++;
	pthread_mutex_lock(&pool->mutex);
	job_list_push(&pool->queued, job);
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->mutex);
	return 0;
}

unsigned int hash_pool_thread_count(const struct hash_pool *pool)
{
	return pool->thread_count;
}

unsigned int hash_pool_job_count(const struct hash_pool *pool)
{
	return pool->jobs;
}
