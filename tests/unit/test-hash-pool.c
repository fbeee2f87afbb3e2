#include "test.h"
#include "src/auth/hash-pool.h"
#include "src/auth/password.h"
#include "ioloop.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MANY 500

struct job {
	unsigned int input;
	unsigned long long output;      /* written by the pool thread */
	unsigned int done_calls;        /* loop thread */
	bool ran;
	unsigned int *delivered;
};

static void square_work(void *context)
{
	struct job *job = context;
	job->output = (unsigned long long)job->input * job->input;
}

static void count_done(void *context, bool ran)
{
	struct job *job = context;
	job->done_calls++;
	job->ran = ran;
	(*job->delivered)++;
}

/* Run the loop until *counter reaches want (or about 20 s pass). */
static void run_until(struct ioloop *loop, const unsigned int *counter, unsigned int want)
{
	for (unsigned int i = 0; i < 2000 && *counter < want; i++)
		ioloop_run_once(loop, 10);
}

static void test_many_jobs_each_delivered_once(void)
{
	struct ioloop *loop = ioloop_create();
	const char *error;
	struct hash_pool *pool = hash_pool_create(loop, 3, MANY, &error);
	static struct job jobs[MANY];
	unsigned int delivered = 0;
	TEST_ASSERT(pool != NULL);
	TEST_ASSERT_UINT_EQ(hash_pool_thread_count(pool), 3);
	for (unsigned int i = 0; i < MANY; i++) {
		jobs[i] = (struct job){ .input = i + 1, .delivered = &delivered };
		TEST_ASSERT_INT_EQ(hash_pool_submit(pool, square_work, count_done, &jobs[i]), 0);
	}
	TEST_ASSERT_UINT_EQ(hash_pool_job_count(pool), MANY);
	run_until(loop, &delivered, MANY);
	TEST_ASSERT_UINT_EQ(delivered, MANY);
	TEST_ASSERT_UINT_EQ(hash_pool_job_count(pool), 0);
	for (unsigned int i = 0; i < MANY; i++) {
		TEST_ASSERT_UINT_EQ(jobs[i].done_calls, 1);
		TEST_ASSERT(jobs[i].ran);
		TEST_ASSERT_UINT_EQ(jobs[i].output, (unsigned long long)(i + 1) * (i + 1));
	}
	/* nothing more comes */
	ioloop_run_once(loop, 20);
	TEST_ASSERT_UINT_EQ(delivered, MANY);
	hash_pool_destroy(&pool);
	TEST_ASSERT(pool == NULL);
	ioloop_destroy(&loop);
}

/* A job that waits until the test opens the gate. */
static atomic_bool gate_open;
static atomic_uint gate_started;

static void gated_work(void *context)
{
	atomic_fetch_add(&gate_started, 1);
	for (unsigned int i = 0; i < 4000 && !atomic_load(&gate_open); i++)
		usleep(5000);
	square_work(context);
}

static void wait_started(unsigned int want)
{
	for (unsigned int i = 0; i < 4000 && atomic_load(&gate_started) < want; i++)
		usleep(1000);
}

static void test_bound(void)
{
	struct ioloop *loop = ioloop_create();
	const char *error;
	struct hash_pool *pool = hash_pool_create(loop, 1, 4, &error);
	struct job jobs[6];
	unsigned int delivered = 0;
	atomic_store(&gate_open, false);
	atomic_store(&gate_started, 0);
	for (unsigned int i = 0; i < 6; i++)
		jobs[i] = (struct job){ .input = 7, .delivered = &delivered };
	for (unsigned int i = 0; i < 4; i++)
		TEST_ASSERT_INT_EQ(hash_pool_submit(pool, gated_work, count_done, &jobs[i]), 0);
	/* full: refused, and its done is never called */
	TEST_ASSERT_INT_EQ(hash_pool_submit(pool, gated_work, count_done, &jobs[4]), -1);
	TEST_ASSERT_UINT_EQ(hash_pool_job_count(pool), 4);
	wait_started(1);
	/* a job that finished but was not yet delivered still counts */
	atomic_store(&gate_open, true);
	usleep(50000);
	TEST_ASSERT_INT_EQ(hash_pool_submit(pool, gated_work, count_done, &jobs[4]), -1);
	run_until(loop, &delivered, 4);
	TEST_ASSERT_UINT_EQ(delivered, 4);
	TEST_ASSERT_UINT_EQ(hash_pool_job_count(pool), 0);
	TEST_ASSERT_INT_EQ(hash_pool_submit(pool, gated_work, count_done, &jobs[5]), 0);
	run_until(loop, &delivered, 5);
	TEST_ASSERT_UINT_EQ(jobs[4].done_calls, 0);
	TEST_ASSERT_UINT_EQ(jobs[5].done_calls, 1);
	TEST_ASSERT_UINT_EQ(jobs[5].output, 49);
	hash_pool_destroy(&pool);
	ioloop_destroy(&loop);
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	usleep(300000);
	atomic_store(&gate_open, true);
	return NULL;
}

static void test_destroy_with_jobs_in_flight(void)
{
	struct ioloop *loop = ioloop_create();
	const char *error;
	struct hash_pool *pool = hash_pool_create(loop, 1, 10, &error);
	struct job jobs[5];
	unsigned int delivered = 0, ran = 0;
	atomic_store(&gate_open, false);
	atomic_store(&gate_started, 0);
	for (unsigned int i = 0; i < 5; i++) {
		jobs[i] = (struct job){ .input = i, .delivered = &delivered };
		TEST_ASSERT_INT_EQ(hash_pool_submit(pool, gated_work, count_done, &jobs[i]), 0);
	}
	wait_started(1);
	TEST_ASSERT_UINT_EQ(atomic_load(&gate_started), 1);
	/* destroy while job 0 runs: it finishes (the gate opens 300 ms later, long after
	 * destroy told the thread to stop); the 4 queued ones are delivered unstarted */
	pthread_t opener;
	TEST_ASSERT_INT_EQ(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
	hash_pool_destroy(&pool);
	pthread_join(opener, NULL);
	TEST_ASSERT_UINT_EQ(delivered, 5);
	for (unsigned int i = 0; i < 5; i++) {
		TEST_ASSERT_UINT_EQ(jobs[i].done_calls, 1);
		ran += jobs[i].ran;
	}
	TEST_ASSERT(jobs[0].ran);
	TEST_ASSERT_UINT_EQ(ran, atomic_load(&gate_started));
	TEST_ASSERT_UINT_EQ(ran, 1);
	/* the eventfd watch is gone with the pool */
	ioloop_run_once(loop, 10);
	ioloop_destroy(&loop);
}

static void test_thread_count(void)
{
	struct ioloop *loop = ioloop_create();
	const char *error;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct hash_pool *pool = hash_pool_create(loop, 0, 1, &error);
	TEST_ASSERT_UINT_EQ(hash_pool_thread_count(pool), cpus < 1 ? 1 : cpus);
	hash_pool_destroy(&pool);
	pool = hash_pool_create(loop, 1000, 1, &error);
	TEST_ASSERT_UINT_EQ(hash_pool_thread_count(pool), HASH_POOL_MAX_THREADS);
	hash_pool_destroy(&pool);
	ioloop_destroy(&loop);
}

/* Real verifications in parallel: every scheme family, right and wrong passwords. */
struct verify_job {
	const char *password, *hash;
	enum password_verify_result want, got;
	unsigned int *delivered;
};

static void verify_work(void *context)
{
	struct verify_job *job = context;
	const char *error;
	job->got = password_verify(job->password, strlen(job->password), job->hash, &error);
}

static void verify_done(void *context, bool ran)
{
	struct verify_job *job = context;
	TEST_ASSERT(ran);
	(*job->delivered)++;
}

static const struct {
	const char *password, *hash;
} vectors[] = {
	{ "erinpass", "$y$j9T$duy9Sn99B6HTY/WtThTS21$mpvUazV4zityTKYiGjB849IESowLaIJ4F1HEWFMIlM0" },
	{ "frankpass", "$6$saltsaltsalt$hnnPRpu/.VFGbNlf/v8EAac/CZ95QrXq22ICKxzCHlSzZpclsLMjsdDtc7sEOMDPHH821zlNpKdCRi1KwmfCl." },
	{ "alicepass", "$pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$+1JtMv6a1i6oQJxsOqSE5yoc5rqEN/LGx+vWatewxAE=" },
	{ "ivanpass", "$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzYWx0$1jT8oggBicRb4VPyC69+Bgmr6ETzgBWP8DQgVytjfTQ" },
};
#define NVEC (sizeof(vectors) / sizeof(vectors[0]))
#define ROUNDS 6

static void test_parallel_verification(void)
{
	struct ioloop *loop = ioloop_create();
	const char *error;
	TEST_ASSERT(sodium_init() >= 0);   /* as the auth server does before its threads */
	struct hash_pool *pool = hash_pool_create(loop, 4, 100, &error);
	struct verify_job jobs[NVEC * ROUNDS];
	unsigned int delivered = 0;
	for (unsigned int i = 0; i < NVEC * ROUNDS; i++) {
		bool right = (i / NVEC) % 2 == 0;
		jobs[i] = (struct verify_job){
			.password = right ? vectors[i % NVEC].password : "wrongpass",
			.hash = vectors[i % NVEC].hash,
			.want = right ? PASSWORD_MATCH : PASSWORD_MISMATCH,
			.got = PASSWORD_UNUSABLE, .delivered = &delivered,
		};
		TEST_ASSERT_INT_EQ(hash_pool_submit(pool, verify_work, verify_done, &jobs[i]), 0);
	}
	run_until(loop, &delivered, NVEC * ROUNDS);
	TEST_ASSERT_UINT_EQ(delivered, NVEC * ROUNDS);
	for (unsigned int i = 0; i < NVEC * ROUNDS; i++) {
		if (jobs[i].got != jobs[i].want)
			test_fail(__FILE__, __LINE__, "job %u (%.12s...): got %d, want %d", i,
				  jobs[i].hash, jobs[i].got, jobs[i].want);
	}
	hash_pool_destroy(&pool);
	ioloop_destroy(&loop);
}

TEST_MAIN(TEST(test_many_jobs_each_delivered_once), TEST(test_bound),
	  TEST(test_destroy_with_jobs_in_flight), TEST(test_thread_count),
	  TEST(test_parallel_verification))
