#ifndef PYMAP_REDIS_CONN_H
#define PYMAP_REDIS_CONN_H
/* A synchronous Redis client over redis-net.c (TCP, UNIX socket or TLS) with bounded
 * connect and command timeouts, AUTH/SELECT from the URL, lazy reconnection with
 * exponential back-off (200 ms doubling to 5 s: while backing off, commands fail at
 * once instead of waiting), and Lua scripts run with EVALSHA falling back to EVAL.
 * Used by the redis store (store-redis*.c) and redis-users.c.
 *
 * Redis Cluster: a "-MOVED slot host:port" reply records the slot's node in a slot map
 * and repeats the command there; "-ASK slot host:port" sends ASKING and the command to
 * that node once (at most 5 hops per command). Commands are routed by the slot of
 * their first key (EVAL/EVALSHA: the first of KEYS) once a MOVED has been seen; one
 * connection per node, at most REDIS_CONN_MAX_NODES (the least recently used one is
 * closed to make room). The configured address is the first node; a single server
 * never answers MOVED, so nothing changes there.
 *
 * A failed round trip (connection refused, reset, timeout) returns -1 and drops the
 * connection: the caller reports "unavailable". A Redis error reply is not a failure
 * of the connection: it comes back as a reply of type REDIS_REPLY_ERROR. */
#include <stddef.h>
#include <stdbool.h>
#include <hiredis.h>

#include "redis-url.h"

#define REDIS_CONN_MAX_NODES 16

struct redis_conn;

struct redis_script {
	const char *body;
	char sha1[41];           /* filled by redis_script_init */
};

/* Takes ownership of url (its fields). */
struct redis_conn *redis_conn_create(struct redis_url *url);
void redis_conn_destroy(struct redis_conn **conn);
const struct redis_url *redis_conn_url(const struct redis_conn *conn);
/* True after the last round trip succeeded (or before the first). */
bool redis_conn_is_up(const struct redis_conn *conn);

/* 0 with *reply_r (freeReplyObject it), -1 when Redis could not be reached in time. */
int redis_conn_commandv(struct redis_conn *conn, int argc, const char **argv,
			const size_t *lens, redisReply **reply_r);
int redis_conn_command(struct redis_conn *conn, redisReply **reply_r, const char *fmt, ...);
/* Several commands in one round trip (pipelined); replies_r[i] for each, all or -1. */
int redis_conn_pipeline(struct redis_conn *conn, unsigned int count, const int *argcs,
			const char *const *const *argvs, const size_t *const *lens,
			redisReply **replies_r);

void redis_script_init(struct redis_script *script, const char *body);
/* EVALSHA sha nkeys args... (args = keys then arguments); NOSCRIPT -> EVAL. */
int redis_conn_eval(struct redis_conn *conn, struct redis_script *script, int nkeys,
		    int argc, const char **argv, const size_t *lens, redisReply **reply_r);

#endif
