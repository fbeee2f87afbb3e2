#ifndef PYMAP_MASTER_PROTO_H
#define PYMAP_MASTER_PROTO_H
/* The contract between the pymap master and the children it fork+execs (imap, auth,
 * admin). Everything a child learns from the master is here: descriptor numbers,
 * environment variable names and the status record. Children use master-service.h
 * rather than these numbers directly. */
#include <stdint.h>
#include <sys/types.h>

/* Descriptors present in every child. */
#define MASTER_STATUS_FD 3        /* child writes struct master_status records */
#define MASTER_DEAD_FD 4          /* read end of a pipe: EOF means the master died */
#define MASTER_CONFIG_FD 5        /* sealed memfd: the effective config as one JSON object */
#define MASTER_LISTEN_FD_FIRST 6  /* listening sockets, PYMAP_LISTEN_COUNT of them */
/* An imap worker gets its own socket of each TCP listener the master bound (one
 * SO_REUSEPORT group per address, the kernel spreads connections over the workers);
 * a socket from systemd socket activation is the same one in every worker. A child
 * treats both alike: accept with IO_EXCLUSIVE_ACCEPT, and close them when retiring so
 * that no connection queues on a socket nobody accepts from. */

/* Environment: the child starts from an empty environment plus these (and TZ and
 * JOURNAL_STREAM when the master has them; NOTIFY_SOCKET is never passed on). */
#define MASTER_ENV_ROLE "PYMAP_ROLE"                 /* "imap", "auth", "admin" */
#define MASTER_ENV_LISTEN_COUNT "PYMAP_LISTEN_COUNT" /* number of listener fds */
#define MASTER_ENV_LISTEN_NAMES "PYMAP_LISTEN_NAMES" /* comma list, e.g. "imap,imaps" */
#define MASTER_ENV_GENERATION "PYMAP_GENERATION"     /* config generation (reloads) */
#define MASTER_ENV_DEBUG "PYMAP_DEBUG"               /* "1" for debug logging */
#define MASTER_ENV_LOG_FILE "PYMAP_LOG_FILE"         /* set when logging to a file:
							 SIGUSR1 reopens it (log.h) */

/* Exit code meaning "the configuration is unusable": the master does not respawn
 * (and stops when the service is required: imap, auth). Other exits and signals are
 * restarted with back-off (1 s doubling to 60 s). A child that sends no first status
 * within MASTER_READY_TIMEOUT_SECS is killed. */
#define MASTER_READY_TIMEOUT_SECS 30
#define MASTER_EXIT_CONFIG 78     /* EX_CONFIG */

/* Written by children to MASTER_STATUS_FD whenever their capacity changes; smaller
 * than PIPE_BUF so each write is atomic. The first one means "ready". Records whose
 * pid or generation do not match the child are ignored.
 *
 * Signals from the master: SIGTERM = shut down now (send "* BYE", exit);
 * SIGUSR2 = retire (stop accepting, finish sessions, exit); SIGUSR1 = reopen logs.
 * EOF on MASTER_DEAD_FD = the master died: retire. */
struct master_status {
	pid_t pid;
	uint32_t generation;
	uint32_t sessions;       /* connections currently served */
	uint32_t available;      /* how many more it accepts */
	uint32_t request;        /* MASTER_REQUEST_*: asks the master to act */
};

/* Requests in a status record. Only honoured from the admin service (which runs
 * unprivileged and cannot signal a master running as root). */
#define MASTER_REQUEST_NONE 0
#define MASTER_REQUEST_RELOAD 1   /* same as SIGHUP */

#endif
