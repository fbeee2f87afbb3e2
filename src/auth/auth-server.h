#ifndef PYMAP_AUTH_SERVER_H
#define PYMAP_AUTH_SERVER_H
/* The auth process's operations (doc/ipc.md, protocol "pymap-auth" 1.0): auth.login,
 * auth.cram, auth.user, auth.hash. Owns the user source chosen by [backend] type (the
 * dict demo user, the maildir users files, redis: not yet), the failure delay (an
 * ioloop timer per delayed reply, never a sleep) and the lockout counters.
 * main.c accepts connections and hands each request here. */
#include <stdbool.h>
#include <jansson.h>

struct ioloop;
struct ipc_conn;

#define AUTH_PROTOCOL "pymap-auth"
#define AUTH_PROTOCOL_MAJOR 1
#define AUTH_PROTOCOL_MINOR 0

enum auth_backend { AUTH_BACKEND_DICT, AUTH_BACKEND_MAILDIR, AUTH_BACKEND_REDIS };

struct auth_server_settings {
	enum auth_backend backend;
	const char *demo_user, *demo_password;      /* dict */
	const char *base_dir;                       /* maildir */
	const char *passwd_file, *shadow_file, *group_file;
	unsigned int failure_delay_ms;
	unsigned int lockout_threshold, lockout_window_secs;
	const char *hash_scheme;
	const json_t *config;                       /* redis: [redis] address etc. */
};

struct auth_server;
/* Returns NULL with error_r on a bad setting (unknown hash scheme). */
struct auth_server *auth_server_create(struct ioloop *loop,
				       const struct auth_server_settings *set,
				       const char **error_r);
void auth_server_destroy(struct auth_server **server);

/* Answer request on conn (now, or after the failure delay). */
void auth_server_handle(struct auth_server *server, struct ipc_conn *conn,
			const json_t *request);
/* conn is going away: drop its delayed replies. */
void auth_server_conn_closed(struct auth_server *server, struct ipc_conn *conn);

#endif
