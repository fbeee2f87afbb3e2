#ifndef PYMAP_MASTER_SERVICE_H
#define PYMAP_MASTER_SERVICE_H
/* The child side of master-proto.h, used by every process the master execs (imap,
 * auth, admin): read the effective config, find the listeners, drop privileges,
 * report status, and learn when to stop.
 *
 * Stop requests: SIGTERM (shutdown: end every session now, e.g. with "* BYE") and
 * SIGUSR2 (retire after a reload: stop accepting, finish the current sessions, exit),
 * and EOF on MASTER_DEAD_FD (the master is gone: behave as for retire). SIGUSR1
 * reopens the log. All arrive as callbacks from the ioloop.
 *
 * master_service_init() also ignores SIGPIPE (writes to vanished peers return EPIPE)
 * and SIGINT (Ctrl-C reaches the whole process group; the master then sends SIGTERM),
 * and marks the contract descriptors close-on-exec. */
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct ioloop;
struct master_service;

enum master_stop_kind {
	MASTER_STOP_SHUTDOWN,  /* SIGTERM */
	MASTER_STOP_RETIRE,    /* SIGUSR2 or master gone */
};
typedef void master_stop_callback_t(enum master_stop_kind kind, void *context);

/* role: "imap", "auth", "admin". Initialises logging (PYMAP_DEBUG), reads and parses
 * the config memfd, checks the environment. Exits with MASTER_EXIT_CONFIG and a log
 * line when something is missing (e.g. the program was not started by the master). */
struct master_service *master_service_init(const char *role, int argc, char *argv[]);
void master_service_deinit(struct master_service **service);

/* The effective configuration (see doc/pymap.conf.md), borrowed: valid until deinit.
 * Shape: {"section": {"key": value, ...}, ...} with every key present (defaults
 * filled in by the master). */
const json_t *master_service_config(const struct master_service *service);
/* Convenience lookups into the config; the default is returned when absent or of
 * another type. _bool is also true for a non-empty string (e.g. [dict] demo_data, which
 * is yes, no or a directory). Lists (e.g. [server] host) are JSON arrays: use
 * master_service_config(). */
const char *master_service_config_str(const struct master_service *service,
				      const char *section, const char *key, const char *def);
long long master_service_config_int(const struct master_service *service,
				    const char *section, const char *key, long long def);
bool master_service_config_bool(const struct master_service *service,
				const char *section, const char *key, bool def);

/* The role given to init, and the config generation (PYMAP_GENERATION). */
const char *master_service_role(const struct master_service *service);
uint32_t master_service_generation(const struct master_service *service);

unsigned int master_service_listener_count(const struct master_service *service);
int master_service_listener_fd(const struct master_service *service, unsigned int idx);
/* The listener's name as in PYMAP_LISTEN_NAMES, e.g. "imap", "imaps", "auth". */
const char *master_service_listener_name(const struct master_service *service,
					 unsigned int idx);
/* The descriptor of the first listener with this name, or -1. */
int master_service_find_listener(const struct master_service *service, const char *name);

/* Run root-only set-up before this (reading TLS keys, opening files), then drop to
 * the user and group the config names for this role: setgroups, setgid, setuid,
 * PR_SET_NO_NEW_PRIVS, and verify that setuid(0) now fails ([users] ROLE_user and
 * ROLE_group; uid 0 is refused unless [server] allow_root = yes). Exits with
 * MASTER_EXIT_CONFIG on failure, so the master does not respawn it. */
void master_service_drop_privileges(struct master_service *service);

/* Hook the service into loop: signals (SIGTERM, SIGUSR1, SIGUSR2), the master-dead
 * pipe, and the callback for stop requests. */
void master_service_attach(struct master_service *service, struct ioloop *loop,
			   master_stop_callback_t *on_stop, void *context);
/* Tell the master how many sessions this child serves and how many more it takes.
 * The first call after start means "ready". */
void master_service_report(struct master_service *service, unsigned int sessions,
			   unsigned int available);
/* Ask the master to reload its configuration (as SIGHUP does). The master honours
 * this from the admin service only. */
void master_service_request_reload(struct master_service *service);

#endif
