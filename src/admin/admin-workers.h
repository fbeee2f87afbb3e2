#ifndef PYMAP_ADMIN_WORKERS_H
#define PYMAP_ADMIN_WORKERS_H
/* The imap workers' sessions as the admin service knows them. Each worker keeps a
 * connection to admin.sock and sends "worker.report" (all its sessions and counters)
 * after connecting, then "worker.update" (sessions changed or ended) whenever they
 * change; the admin service answers sessions.list and stats from these
 * reports and asks the workers to end sessions for sessions.kick ("worker.kick", sent
 * back over the worker's own connection). A report is accepted only from a sibling
 * process: a child of the same master (checked in /proc from SO_PEERCRED's pid). */
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

struct ipc_conn;

/* Whether pid is another child of our master. */
bool admin_workers_is_sibling(pid_t pid);
/* Part part of a worker's report (a report is split so each message stays under the
 * IPC size limit); when last, what we know of the worker on conn is replaced by the
 * parts 0..part together. sessions and stats are borrowed. */
void admin_workers_update(struct ipc_conn *conn, pid_t pid, const json_t *sessions,
			  const json_t *stats, unsigned int part, bool last);
/* A worker's changes since its last report or update: upsert replaces sessions by
 * id, remove (ids) drops them, stats replaces the counters. All borrowed. */
void admin_workers_apply(struct ipc_conn *conn, pid_t pid, const json_t *upsert,
			 const json_t *remove, const json_t *stats);
/* The connection is going away. */
void admin_workers_forget(struct ipc_conn *conn);
/* All sessions (array of objects, each with "worker_pid" added); new reference. */
json_t *admin_workers_sessions(void);
/* Per-worker counters and their sums; new reference. */
json_t *admin_workers_stats(void);
/* Ask every worker to end the sessions of user; returns how many workers were asked. */
unsigned int admin_workers_kick(const char *user);
void admin_workers_deinit(void);

#endif
