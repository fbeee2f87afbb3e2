/* The admin process: serves the pymap-admin protocol (doc/ipc.md) on the listener
 * "admin" (admin.sock, or $PYMAP_ADMIN_SOCKET) to pymapctl and pymap-lda. Exec'd by
 * the master; requests are handled by admin-server.c. */
#include "admin-ops.h"
#include "admin-server.h"
#include "admin-workers.h"
#include "alloc.h"
#include "ioloop.h"
#include "ipc.h"
#include "log.h"
#include "master-proto.h"
#include "master-service.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_MAX_CONNECTIONS 256

struct admin_conn {
	struct ipc_conn *ipc;
	struct admin_conn *prev, *next;
};

static struct ioloop *loop;
static struct master_service *service;
static struct admin_server *server;
static struct io *listen_io;
static int listen_fd = -1;
static struct admin_conn *conns;
static unsigned int conn_count;
static bool stopping;

static const struct ipc_settings admin_ipc_settings = {
	.protocol = ADMIN_PROTOCOL,
	.major = ADMIN_PROTOCOL_MAJOR,
	.minor = ADMIN_PROTOCOL_MINOR,
	.accept_fds = true,
};

static void report(void)
{
	master_service_report(service, conn_count,
			      stopping ? 0 : ADMIN_MAX_CONNECTIONS - conn_count);
}

static void conn_destroy(struct admin_conn *conn)
{
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	ipc_conn_destroy(&conn->ipc);
	free(conn);
	conn_count--;
	report();
}

static void on_message(struct ipc_conn *ipc, json_t *msg, int fd, void *context)
{
	(void)context;
	admin_server_handle(server, ipc, msg, fd);
}

static void on_close(struct ipc_conn *ipc, const char *reason, void *context)
{
	log_debug("admin: connection closed: %s", reason);
	admin_workers_forget(ipc);
	conn_destroy(context);
}

static void accept_connection(void *context)
{
	(void)context;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
			log_error_errno("accept");
		return;
	}
	if (conn_count >= ADMIN_MAX_CONNECTIONS) {
		log_warning("admin: connection limit (%d) reached", ADMIN_MAX_CONNECTIONS);
		close(fd);
		return;
	}
	struct admin_conn *conn = i_new0(struct admin_conn);
	conn->next = conns;
	if (conns != NULL)
		conns->prev = conn;
	conns = conn;
	conn_count++;
	conn->ipc = ipc_conn_create(loop, fd, &admin_ipc_settings, on_message, on_close, conn);
	report();
}

static void on_stop(enum master_stop_kind kind, void *context)
{
	(void)kind;
	(void)context;
	/* Requests are answered synchronously: nothing is half-done here. A client
	 * whose connection closes before its reply treats it as a temporary failure. */
	stopping = true;
	io_remove(&listen_io);
	ioloop_stop(loop);
}

static int find_listener(void)
{
	for (unsigned int i = 0; i < master_service_listener_count(service); i++) {
		if (strcmp(master_service_listener_name(service, i), "admin") == 0)
			return master_service_listener_fd(service, i);
	}
	return -1;
}

int main(int argc, char *argv[])
{
	service = master_service_init("admin", argc, argv);
	listen_fd = find_listener();
	if (listen_fd < 0)
		log_fatal(MASTER_EXIT_CONFIG, "admin: no listener named \"admin\"");
	master_service_drop_privileges(service);

	loop = ioloop_create();
	server = admin_server_create(loop, master_service_config(service));
	master_service_attach(service, loop, on_stop, NULL);
	listen_io = io_add(loop, listen_fd, IO_READ, accept_connection, NULL);
	report();
	ioloop_run(loop);

	admin_workers_deinit();
	while (conns != NULL)
		conn_destroy(conns);
	io_remove(&listen_io);
	admin_server_destroy(&server);
	/* The service's watches live in the loop: release them first. */
	master_service_deinit(&service);
	ioloop_destroy(&loop);
	return 0;
}
