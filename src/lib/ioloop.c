#include "ioloop.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define IOLOOP_MAX_EVENTS 128
#define IOLOOP_MAX_SIGNAL 65

struct io {
	struct ioloop *loop;
	int fd;
	int cond;
	bool exclusive;
	bool removed;
	io_callback_t *callback;
	void *context;
	struct io *next_removed;
};

struct timeout {
	struct ioloop *loop;
	unsigned int msecs;
	uint64_t due_msecs;
	size_t heap_index;
	io_callback_t *callback;
	void *context;
};

struct deferred {
	io_callback_t *callback;
	void *context;
	struct deferred *next;
};

struct signal_watch {
	signal_callback_t *callback;
	void *context;
};

struct ioloop {
	int epfd;
	bool running;
	uint64_t now_msecs;
	struct io *removed_ios;
	struct timeout **heap;
	size_t heap_count, heap_alloc;
	struct deferred *deferred_head, *deferred_tail;
	int signal_fd;
	struct io *signal_io;
	sigset_t signal_mask;
	struct signal_watch signals[IOLOOP_MAX_SIGNAL];
};

static uint64_t monotonic_msecs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ioloop *ioloop_create(void)
{
	struct ioloop *loop = i_new0(struct ioloop);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		log_fatal_errno(1, "epoll_create1");
	loop->signal_fd = -1;
	sigemptyset(&loop->signal_mask);
	loop->now_msecs = monotonic_msecs();
	return loop;
}

uint64_t ioloop_now_msecs(struct ioloop *loop) { return loop->now_msecs; }
void ioloop_stop(struct ioloop *loop) { loop->running = false; }

/* ---- fd watches ---- */

static uint32_t epoll_events(const struct io *io)
{
	uint32_t events = 0;
	if ((io->cond & IO_READ) != 0)
		events |= io->exclusive ? EPOLLIN : (EPOLLIN | EPOLLRDHUP);
	if ((io->cond & IO_WRITE) != 0)
		events |= EPOLLOUT;
	if (io->exclusive)
		events |= EPOLLEXCLUSIVE;  /* allowed only with EPOLLIN/EPOLLOUT */
	return events;
}

static void io_update_epoll(struct io *io, int new_cond);

struct io *io_add(struct ioloop *loop, int fd, int cond, io_callback_t *callback,
		  void *context)
{
	struct io *io = i_new0(struct io);
	io->loop = loop;
	io->fd = fd;
	io->exclusive = (cond & IO_EXCLUSIVE_ACCEPT) != 0;
	io->callback = callback;
	io->context = context;
	io_update_epoll(io, cond & (IO_READ | IO_WRITE));
	return io;
}

/* A paused watch is taken out of the epoll set so hang-ups cannot wake the loop. */
static void io_update_epoll(struct io *io, int new_cond)
{
	int epfd = io->loop->epfd;
	bool was_registered = io->cond != 0;

	io->cond = new_cond;
	struct epoll_event ev = { .events = epoll_events(io), .data.ptr = io };
	int op = !was_registered ? EPOLL_CTL_ADD : (new_cond == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
	if (op == EPOLL_CTL_MOD && io->exclusive) {
		/* EPOLLEXCLUSIVE watches cannot be modified: delete and add again. */
		epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL);
		op = EPOLL_CTL_ADD;
	}
	if ((was_registered || new_cond != 0) && epoll_ctl(epfd, op, io->fd, &ev) < 0)
		log_panic("epoll_ctl(%d, fd %d): %s", op, io->fd, strerror(errno));
}

void io_set_condition(struct io *io, int cond)
{
	if (io->cond != cond)
		io_update_epoll(io, cond);
}

void io_remove(struct io **_io)
{
	struct io *io = *_io;
	if (io == NULL)
		return;
	*_io = NULL;
	/* The fd may already be closed by the owner; ignore errors then. */
	if (io->cond != 0)
		epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->removed = true;
	io->next_removed = io->loop->removed_ios;
	io->loop->removed_ios = io;
}

static void free_removed_ios(struct ioloop *loop)
{
	while (loop->removed_ios != NULL) {
		struct io *io = loop->removed_ios;
		loop->removed_ios = io->next_removed;
		free(io);
	}
}

/* ---- timers: binary min-heap on due_msecs ---- */

static void heap_swap(struct ioloop *loop, size_t a, size_t b)
{
	struct timeout *tmp = loop->heap[a];
	loop->heap[a] = loop->heap[b];
	loop->heap[b] = tmp;
	loop->heap[a]->heap_index = a;
	loop->heap[b]->heap_index = b;
}

static void heap_up(struct ioloop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->due_msecs <= loop->heap[i]->due_msecs)
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void heap_down(struct ioloop *loop, size_t i)
{
	for (;;) {
		size_t left = 2 * i + 1, right = left + 1, min = i;
		if (left < loop->heap_count &&
		    loop->heap[left]->due_msecs < loop->heap[min]->due_msecs)
			min = left;
		if (right < loop->heap_count &&
		    loop->heap[right]->due_msecs < loop->heap[min]->due_msecs)
			min = right;
		if (min == i)
			break;
		heap_swap(loop, i, min);
		i = min;
	}
}

static void heap_insert(struct ioloop *loop, struct timeout *t)
{
	if (loop->heap_count == loop->heap_alloc) {
		loop->heap_alloc = loop->heap_alloc == 0 ? 16 : loop->heap_alloc * 2;
		loop->heap = i_reallocarray(loop->heap, loop->heap_alloc, sizeof(*loop->heap));
	}
	t->heap_index = loop->heap_count;
	loop->heap[loop->heap_count++] = t;
	heap_up(loop, t->heap_index);
}

static void heap_delete(struct ioloop *loop, struct timeout *t)
{
	size_t i = t->heap_index;
	i_assert(i < loop->heap_count && loop->heap[i] == t);
	loop->heap_count--;
	if (i != loop->heap_count) {
		loop->heap[i] = loop->heap[loop->heap_count];
		loop->heap[i]->heap_index = i;
		heap_down(loop, i);
		heap_up(loop, i);
	}
}

struct timeout *timeout_add(struct ioloop *loop, unsigned int msecs,
			    io_callback_t *callback, void *context)
{
	struct timeout *t = i_new0(struct timeout);
	t->loop = loop;
	t->msecs = msecs;
	t->callback = callback;
	t->context = context;
	t->due_msecs = monotonic_msecs() + msecs;
	heap_insert(loop, t);
	return t;
}

void timeout_reset(struct timeout *t)
{
	t->due_msecs = monotonic_msecs() + t->msecs;
	heap_down(t->loop, t->heap_index);
	heap_up(t->loop, t->heap_index);
}

void timeout_remove(struct timeout **_t)
{
	struct timeout *t = *_t;
	if (t == NULL)
		return;
	*_t = NULL;
	heap_delete(t->loop, t);
	free(t);
}

static void run_timeouts(struct ioloop *loop)
{
	/* Bounded: timers added by callbacks that are already due run next round. */
	size_t budget = loop->heap_count;
	while (budget-- > 0 && loop->heap_count > 0 &&
	       loop->heap[0]->due_msecs <= loop->now_msecs) {
		struct timeout *t = loop->heap[0];
		t->due_msecs = loop->now_msecs + (t->msecs == 0 ? 1 : t->msecs);
		heap_down(loop, 0);
		t->callback(t->context);
	}
}

static int next_timeout_msecs(struct ioloop *loop, int max_wait_msecs)
{
	if (loop->deferred_head != NULL)
		return 0;
	if (loop->heap_count == 0)
		return max_wait_msecs;
	uint64_t now = monotonic_msecs();
	uint64_t due = loop->heap[0]->due_msecs;
	int wait = due <= now ? 0 : (due - now > 86400000 ? 86400000 : (int)(due - now));
	return max_wait_msecs >= 0 && max_wait_msecs < wait ? max_wait_msecs : wait;
}

/* ---- signals ---- */

static void signal_fd_read(void *context)
{
	struct ioloop *loop = context;
	struct signalfd_siginfo info;

	while (read(loop->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		unsigned int signo = info.ssi_signo;
		if (signo < IOLOOP_MAX_SIGNAL && loop->signals[signo].callback != NULL)
			loop->signals[signo].callback((int)signo, loop->signals[signo].context);
	}
}

int ioloop_signal_add(struct ioloop *loop, int signo, signal_callback_t *callback,
		      void *context)
{
	if (signo <= 0 || signo >= IOLOOP_MAX_SIGNAL)
		return -1;
	loop->signals[signo].callback = callback;
	loop->signals[signo].context = context;
	sigaddset(&loop->signal_mask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->signal_mask, NULL) < 0)
		return -1;
	int fd = signalfd(loop->signal_fd, &loop->signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (loop->signal_fd < 0) {
		loop->signal_fd = fd;
		loop->signal_io = io_add(loop, fd, IO_READ, signal_fd_read, loop);
	}
	return 0;
}

void ioloop_signal_remove(struct ioloop *loop, int signo)
{
	if (signo <= 0 || signo >= IOLOOP_MAX_SIGNAL)
		return;
	loop->signals[signo].callback = NULL;
	sigdelset(&loop->signal_mask, signo);
	if (loop->signal_fd >= 0)
		signalfd(loop->signal_fd, &loop->signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, signo);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
}

/* ---- deferred callbacks ---- */

void ioloop_defer(struct ioloop *loop, io_callback_t *callback, void *context)
{
	struct deferred *d = i_new0(struct deferred);
	d->callback = callback;
	d->context = context;
	if (loop->deferred_tail == NULL)
		loop->deferred_head = d;
	else
		loop->deferred_tail->next = d;
	loop->deferred_tail = d;
}

static void run_deferred(struct ioloop *loop)
{
	/* Only the ones queued before this point; new ones run next round. */
	struct deferred *d = loop->deferred_head;
	loop->deferred_head = loop->deferred_tail = NULL;
	while (d != NULL) {
		struct deferred *next = d->next;
		d->callback(d->context);
		free(d);
		d = next;
	}
}

/* ---- dispatch ---- */

void ioloop_run_once(struct ioloop *loop, int max_wait_msecs)
{
	struct epoll_event events[IOLOOP_MAX_EVENTS];
	int wait = next_timeout_msecs(loop, max_wait_msecs);
	int count = epoll_wait(loop->epfd, events, IOLOOP_MAX_EVENTS, wait);

	if (count < 0 && errno != EINTR)
		log_panic("epoll_wait: %s", strerror(errno));
	loop->now_msecs = monotonic_msecs();
	for (int i = 0; i < count; i++) {
		struct io *io = events[i].data.ptr;
		if (io->removed || io->cond == 0)
			continue;
		/* Errors and hang-ups are reported to whichever condition is watched: the
		 * callback's read or write sees the failure itself. */
		io->callback(io->context);
	}
	run_timeouts(loop);
	run_deferred(loop);
	free_removed_ios(loop);
}

void ioloop_run(struct ioloop *loop)
{
	loop->running = true;
	while (loop->running)
		ioloop_run_once(loop, -1);
}

void ioloop_destroy(struct ioloop **_loop)
{
	struct ioloop *loop = *_loop;
	if (loop == NULL)
		return;
	*_loop = NULL;
	io_remove(&loop->signal_io);
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	if (!sigisemptyset(&loop->signal_mask))
		sigprocmask(SIG_UNBLOCK, &loop->signal_mask, NULL);
	while (loop->heap_count > 0) {
		struct timeout *t = loop->heap[0];
		timeout_remove(&t);
	}
	free(loop->heap);
	struct deferred *d = loop->deferred_head;
	while (d != NULL) {
		struct deferred *next = d->next;
		free(d);
		d = next;
	}
	free_removed_ios(loop);
	close(loop->epfd);
	free(loop);
}
