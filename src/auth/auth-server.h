#ifndef PYMAP_AUTH_SERVER_H
#define PYMAP_AUTH_SERVER_H
/* The auth process's operations (doc/ipc.md, protocol "pymap-auth" 1.0): auth.login,
 * auth.cram, auth.user, auth.hash. Owns the user source chosen by [backend] type (the
 * dict demo user, the maildir users files, redis), the failure delay (an
 * ioloop timer per delayed reply, never a sleep), the lockout counters and the pool
 * of password hashing threads (hash-pool.h): auth.login's verification and
 * auth.hash's new hash run there, everything else on the loop thread. At most
 * AUTH_HASH_MAX_JOBS hashes, holding at most AUTH_HASH_MAX_BYTES of passwords, wait or
 * run at once; beyond that a request is answered with a temporary failure (code
 * UNAVAILABLE) at once.
 * main.c accepts connections and hands each request here. */
#include <stdbool.h>
#include <jansson.h>

struct ioloop;
struct ipc_conn;

#define AUTH_PROTOCOL "pymap-auth"
#define AUTH_PROTOCOL_MAJOR 1
#define AUTH_PROTOCOL_MINOR 0

/* About 0.85 s of SHA512-CRYPT work on 2 CPUs; each job holds one password. */
#define AUTH_HASH_MAX_JOBS 1024
/* Passwords may be up to an IPC message long (64 KiB): bound their sum too. */
#define AUTH_HASH_MAX_BYTES (4 * 1024 * 1024)

enum auth_backend { AUTH_BACKEND_DICT, AUTH_BACKEND_MAILDIR, AUTH_BACKEND_REDIS };

struct auth_server_settings {
	enum auth_backend backend;
	const char *demo_user, *demo_password;      /* dict */
	const char *base_dir;                       /* maildir */
	const char *passwd_file, *shadow_file, *group_file;
	unsigned int failure_delay_ms;
	unsigned int lockout_threshold, lockout_window_secs;
	const char *hash_scheme;
	unsigned int hash_threads;                  /* 0 = one per online CPU */
	const json_t *config;                       /* redis: [redis] address etc. */
};

struct auth_server;
/* Returns NULL with error_r on a bad setting (unknown hash scheme) or when the
 * hashing threads cannot be started. */
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
