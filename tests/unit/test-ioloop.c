#include "test.h"
#include "ioloop.h"

#include <signal.h>
#include <unistd.h>

struct counter { struct ioloop *loop; int count; struct timeout *to; };

static void count_and_stop(void *context)
{
	struct counter *c = context;
	if (++c->count == 3) {
		timeout_remove(&c->to);
		ioloop_stop(c->loop);
	}
}

static void test_repeating_timer(void)
{
	struct counter c = { .loop = ioloop_create() };
	uint64_t start = ioloop_now_msecs(c.loop);
	c.to = timeout_add(c.loop, 20, count_and_stop, &c);
	ioloop_run(c.loop);
	TEST_ASSERT_INT_EQ(c.count, 3);
	TEST_ASSERT(c.to == NULL);
	TEST_ASSERT(ioloop_now_msecs(c.loop) - start >= 60);
	ioloop_destroy(&c.loop);
}

static int order[4];
static int order_count;
struct timer_rec { int id; struct timeout *to; };
static void record(void *context)
{
	struct timer_rec *r = context;
	order[order_count++] = r->id;
	timeout_remove(&r->to);  /* one-shot */
}

static void test_timer_order(void)
{
	struct ioloop *loop = ioloop_create();
	struct timer_rec r30 = { 30, NULL }, r10 = { 10, NULL }, r20 = { 20, NULL };
	r30.to = timeout_add(loop, 30, record, &r30);
	r10.to = timeout_add(loop, 10, record, &r10);
	r20.to = timeout_add(loop, 20, record, &r20);
	order_count = 0;
	for (int i = 0; i < 20 && order_count < 3; i++)
		ioloop_run_once(loop, 100);
	TEST_ASSERT_INT_EQ(order_count, 3);
	TEST_ASSERT_INT_EQ(order[0], 10);
	TEST_ASSERT_INT_EQ(order[1], 20);
	TEST_ASSERT_INT_EQ(order[2], 30);
	TEST_ASSERT(r10.to == NULL && r20.to == NULL && r30.to == NULL);
	ioloop_destroy(&loop);
}

struct pipe_ctx { struct ioloop *loop; int fd; struct io *io; char got[8]; size_t len; };

static void pipe_read(void *context)
{
	struct pipe_ctx *p = context;
	ssize_t n = read(p->fd, p->got + p->len, sizeof(p->got) - p->len);
	if (n > 0)
		p->len += (size_t)n;
	if (n <= 0 || p->len >= 3) {
		io_remove(&p->io);
		ioloop_stop(p->loop);
	}
}

static void test_fd_readiness(void)
{
	int fds[2];
	TEST_ASSERT(pipe(fds) == 0);
	struct pipe_ctx p = { .loop = ioloop_create(), .fd = fds[0] };
	p.io = io_add(p.loop, fds[0], IO_READ, pipe_read, &p);
	TEST_ASSERT(write(fds[1], "abc", 3) == 3);
	ioloop_run(p.loop);
	TEST_ASSERT_MEM_EQ(p.got, p.len, "abc", 3);
	TEST_ASSERT(p.io == NULL);
	close(fds[0]);
	close(fds[1]);
	ioloop_destroy(&p.loop);
}

static void paused_never_called(void *context)
{
	(*(int *)context)++;
}

static void test_paused_watch_ignores_hangup(void)
{
	int fds[2], calls = 0;
	TEST_ASSERT(pipe(fds) == 0);
	struct ioloop *loop = ioloop_create();
	struct io *io = io_add(loop, fds[0], IO_READ, paused_never_called, &calls);
	io_set_condition(io, 0);
	close(fds[1]);
	ioloop_run_once(loop, 50);
	TEST_ASSERT_INT_EQ(calls, 0);
	io_set_condition(io, IO_READ);
	ioloop_run_once(loop, 50);
	TEST_ASSERT_INT_EQ(calls, 1);
	io_remove(&io);
	close(fds[0]);
	ioloop_destroy(&loop);
}

static void on_signal(int signo, void *context)
{
	struct counter *c = context;
	c->count = signo;
	ioloop_stop(c->loop);
}

static void test_signal(void)
{
	struct counter c = { .loop = ioloop_create() };
	TEST_ASSERT_INT_EQ(ioloop_signal_add(c.loop, SIGUSR1, on_signal, &c), 0);
	kill(getpid(), SIGUSR1);
	ioloop_run(c.loop);
	TEST_ASSERT_INT_EQ(c.count, SIGUSR1);
	ioloop_destroy(&c.loop);
}

struct defer_ctx { struct ioloop *loop; struct io *io; int steps; };
static void deferred(void *context)
{
	struct defer_ctx *d = context;
	d->steps++;
	ioloop_stop(d->loop);
}

static void remove_other(void *context)
{
	struct defer_ctx *d = context;
	io_remove(&d->io);  /* safe while dispatching */
	ioloop_defer(d->loop, deferred, d);
}

static void test_defer_and_remove_in_callback(void)
{
	int fds[2];
	TEST_ASSERT(pipe(fds) == 0);
	struct defer_ctx d = { .loop = ioloop_create() };
	d.io = io_add(d.loop, fds[1], IO_WRITE, remove_other, &d);
	ioloop_run(d.loop);
	TEST_ASSERT_INT_EQ(d.steps, 1);
	TEST_ASSERT(d.io == NULL);
	close(fds[0]);
	close(fds[1]);
	ioloop_destroy(&d.loop);
}

TEST_MAIN(TEST(test_repeating_timer), TEST(test_timer_order), TEST(test_fd_readiness),
	  TEST(test_paused_watch_ignores_hangup), TEST(test_signal),
	  TEST(test_defer_and_remove_in_callback))
