#ifndef PYMAP_MASTER_SUPERVISE_H
#define PYMAP_MASTER_SUPERVISE_H
/* Supervision of the children: one slot per process the current configuration wants
 * (N imap workers, one auth, one admin), each filled by a child that is restarted with
 * back-off when it dies; the status pipes; reload generations (old children retire);
 * shutdown (SIGTERM, grace period, SIGKILL); systemd READY/STATUS. Called by main.c. */
#include <stdbool.h>

struct config;
struct ioloop;
struct listeners;
struct supervisor;

/* Called once when a stop has finished (every child is gone), with the exit code
 * the master should use. */
typedef void supervisor_done_callback_t(int exit_code, void *context);

/* ls: the master's listeners; the supervisor binds and closes the per-worker
 * sockets of the imap slots in it (listeners.h). */
struct supervisor *supervisor_create(struct ioloop *loop, struct listeners *ls,
				     supervisor_done_callback_t *done, void *context);
void supervisor_destroy(struct supervisor **sup);

/* Start the children of cfg as a new generation. The supervisor owns cfg from now on.
 * Children of an earlier generation are retired (SIGUSR2, SIGKILL after the grace
 * period). Return 0, or -1 when not even the memfd could be made (cfg is freed). */
int supervisor_start(struct supervisor *sup, struct config *cfg);
/* The configuration the current generation runs with. */
const struct config *supervisor_config(const struct supervisor *sup);
/* SIGTERM every child, SIGKILL after the grace period, then call done. */
void supervisor_stop(struct supervisor *sup, int exit_code);
/* Forward a signal (SIGUSR1) to every child. */
void supervisor_signal_all(struct supervisor *sup, int signo);

#endif
