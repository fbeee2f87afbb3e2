#ifndef PYMAP_IPC_SERVER_H
#define PYMAP_IPC_SERVER_H
/* The accepting side of an IPC service (the auth and admin children): takes
 * connections from a listening UNIX socket into ipc_conns, up to a limit, and tells
 * the owner about messages, closed connections and the connection count (for the
 * master's status reports). Owns the connections, not the listening socket. */
#include <jansson.h>

struct ioloop;
struct ipc_conn;
struct ipc_settings;
struct ipc_server;

struct ipc_server_callbacks {
	/* A request or message on conn; fd (or -1) now belongs to the callee. */
	void (*message)(struct ipc_conn *conn, json_t *msg, int fd, void *context);
	/* conn is closing (peer gone, protocol error, server destroyed); may be NULL. */
	void (*closed)(struct ipc_conn *conn, void *context);
	/* The number of connections changed; may be NULL. */
	void (*count_changed)(unsigned int count, void *context);
};

/* name is for log lines ("auth", "admin"). */
struct ipc_server *ipc_server_create(struct ioloop *loop, const char *name, int listen_fd,
				     const struct ipc_settings *ipc_set,
				     unsigned int max_connections,
				     const struct ipc_server_callbacks *callbacks, void *context);
/* Stop accepting; existing connections stay. */
void ipc_server_stop_listening(struct ipc_server *server);
unsigned int ipc_server_connection_count(const struct ipc_server *server);
unsigned int ipc_server_max_connections(const struct ipc_server *server);
/* Close every connection (closed callbacks run) and free the server. */
void ipc_server_destroy(struct ipc_server **server);

#endif
