#include "ipc-server.h"
#include "alloc.h"
#include "ioloop.h"
#include "ipc.h"
#include "log.h"
#include "llist.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

struct server_conn {
	struct ipc_server *server;
	struct ipc_conn *ipc;
	struct server_conn *prev, *next;
};

struct ipc_server {
	struct ioloop *loop;
	const char *name;
	int listen_fd;
	struct io *listen_io;
	const struct ipc_settings *ipc_set;
	unsigned int max_connections, count;
	struct ipc_server_callbacks callbacks;
	void *context;
	struct server_conn *conns;
};

static void count_changed(struct ipc_server *server)
{
	if (server->callbacks.count_changed != NULL)
		server->callbacks.count_changed(server->count, server->context);
}

static void conn_destroy(struct server_conn *conn)
{
	struct ipc_server *server = conn->server;
	if (server->callbacks.closed != NULL)
		server->callbacks.closed(conn->ipc, server->context);
	DLLIST_REMOVE(&server->conns, conn);
	ipc_conn_destroy(&conn->ipc);
	free(conn);
	server->count--;
	count_changed(server);
}

static void on_message(struct ipc_conn *ipc, json_t *msg, int fd, void *context)
{
	struct server_conn *conn = context;
	conn->server->callbacks.message(ipc, msg, fd, conn->server->context);
}

static void on_close(struct ipc_conn *ipc, const char *reason, void *context)
{
	struct server_conn *conn = context;
	(void)ipc;
	log_debug("%s: connection closed: %s", conn->server->name, reason);
	conn_destroy(conn);
}

static void accept_connection(void *context)
{
	struct ipc_server *server = context;
	int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
			log_error_errno("%s: accept", server->name);
		return;
	}
	if (server->count >= server->max_connections) {
		log_warning("%s: connection limit (%u) reached", server->name,
			    server->max_connections);
		close(fd);
		return;
	}
	struct server_conn *conn = i_new0(struct server_conn);
	conn->server = server;
	conn->next = server->conns;
	if (server->conns != NULL)
		server->conns->prev = conn;
	server->conns = conn;
	server->count++;
	conn->ipc = ipc_conn_create(server->loop, fd, server->ipc_set, on_message, on_close, conn);
	count_changed(server);
}

struct ipc_server *ipc_server_create(struct ioloop *loop, const char *name, int listen_fd,
				     const struct ipc_settings *ipc_set,
				     unsigned int max_connections,
				     const struct ipc_server_callbacks *callbacks, void *context)
{
	struct ipc_server *server = i_new0(struct ipc_server);
	server->loop = loop;
	server->name = name;
	server->listen_fd = listen_fd;
	server->ipc_set = ipc_set;
	server->max_connections = max_connections;
	server->callbacks = *callbacks;
	server->context = context;
	server->listen_io = io_add(loop, listen_fd, IO_READ, accept_connection, server);
	return server;
}

void ipc_server_stop_listening(struct ipc_server *server)
{
	io_remove(&server->listen_io);
}

unsigned int ipc_server_connection_count(const struct ipc_server *server)
{
	return server->count;
}

unsigned int ipc_server_max_connections(const struct ipc_server *server)
{
	return server->max_connections;
}

void ipc_server_destroy(struct ipc_server **_server)
{
	struct ipc_server *server = *_server;
	if (server == NULL)
		return;
	*_server = NULL;
	server->callbacks.count_changed = NULL;
	while (server->conns != NULL)
		conn_destroy(server->conns);
	io_remove(&server->listen_io);
	free(server);
}
