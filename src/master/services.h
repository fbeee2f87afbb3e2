#ifndef PYMAP_MASTER_SERVICES_H
#define PYMAP_MASTER_SERVICES_H
/* The services the master runs and how one child is started: the role table (which
 * listeners each role gets, whether the master can run without it), the sealed
 * config memfd of a generation, and fork+exec with the descriptor layout and clean
 * environment of master-proto.h. Called by supervise.c. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct config;
struct listeners;

struct service_role {
	const char *name;              /* imap, auth, admin */
	const char *listeners[3];      /* listener names it gets, NULL-terminated */
	bool required;                 /* the master stops when it cannot run */
};

extern const struct service_role service_roles[];
extern const unsigned int service_role_count;

/* A sealed memfd holding the config as JSON (close-on-exec), or -1 (logged). */
int service_config_memfd(const struct config *cfg);

struct service_spawn {
	const struct service_role *role;
	const char *binary;
	const struct listeners *listeners;
	unsigned int instance;  /* slot number within the role: picks per-worker sockets */
	int config_fd;
	int dead_fd;            /* read end of the master-dead pipe */
	uint32_t generation;
	bool debug;
	const char *log_file;   /* "" or a path */
};

/* fork+exec one child. Return its pid and the read end of its status pipe
 * (close-on-exec, non-blocking), or -1 (logged). */
pid_t service_spawn(const struct service_spawn *spawn, int *status_fd_r);

#endif
