#ifndef PYMAP_IOLOOP_H
#define PYMAP_IOLOOP_H
/* The event loop of every pymap process: one epoll set, fd readiness watches, one-shot
 * timers on the monotonic clock (a binary heap), signals delivered through
 * signalfd (handlers run in the loop, never in signal context) and deferred callbacks
 * that run once after the current dispatch round.
 *
 * Objects are owned by the caller that added them and removed with *_remove(&p), which
 * sets the pointer to NULL. Removing any watch from inside any callback is safe: memory
 * is released only after the current dispatch round. */
#include <stdbool.h>
#include <stdint.h>

struct ioloop;
struct io;
struct timeout;

typedef void io_callback_t(void *context);
typedef void signal_callback_t(int signo, void *context);

enum io_condition {
	IO_READ = 0x01,
	IO_WRITE = 0x02,
};

struct ioloop *ioloop_create(void);
/* Every io, timeout and deferred callback still registered is dropped. */
void ioloop_destroy(struct ioloop **loop);

/* Dispatch until ioloop_stop(). */
void ioloop_run(struct ioloop *loop);
/* One round: wait at most max_wait_msecs (-1 = until something happens). */
void ioloop_run_once(struct ioloop *loop, int max_wait_msecs);
void ioloop_stop(struct ioloop *loop);

/* Milliseconds on the monotonic clock, cached at the start of each dispatch round. */
uint64_t ioloop_now_msecs(struct ioloop *loop);

/* Watch fd for cond (level-triggered). A zero cond keeps the watch but pauses it.
 * With IO_EXCLUSIVE_ACCEPT the watch uses EPOLLEXCLUSIVE (listening sockets shared by
 * several processes: one is woken per connection). */
#define IO_EXCLUSIVE_ACCEPT 0x100
struct io *io_add(struct ioloop *loop, int fd, int cond, io_callback_t *callback,
		  void *context);
void io_set_condition(struct io *io, int cond);
void io_remove(struct io **io);

/* Timer: callback runs every msecs until timeout_remove() (call it from the callback
 * for a one-shot timer). The pointer stays valid until then. */
struct timeout *timeout_add(struct ioloop *loop, unsigned int msecs,
			    io_callback_t *callback, void *context);
/* Restart the interval from now. */
void timeout_reset(struct timeout *timeout);
void timeout_remove(struct timeout **timeout);

/* Block signo and deliver it to callback from the loop. One callback per signal.
 * The signal stays blocked: a process that forks and execs must restore the mask
 * in the child (sigprocmask) before exec. */
int ioloop_signal_add(struct ioloop *loop, int signo, signal_callback_t *callback,
		      void *context);
void ioloop_signal_remove(struct ioloop *loop, int signo);

/* Run callback once after the current round (before waiting again). */
void ioloop_defer(struct ioloop *loop, io_callback_t *callback, void *context);

#endif
