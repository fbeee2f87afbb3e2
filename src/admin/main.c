/* The admin process: serves the pymap-admin protocol (doc/ipc.md) on the listener
 * "admin" (admin.sock, or $PYMAP_ADMIN_SOCKET) to pymapctl and pymap-lda. Exec'd by
 * the master; requests are handled by admin-server.c. */
#include "admin-client.h"
#include "admin-ops.h"
#include "admin-server.h"
#include "admin-workers.h"
#include "alloc.h"
#include "ioloop.h"
#include "ipc.h"
#include "ipc-server.h"
#include "log.h"
#include "master-proto.h"
#include "master-service.h"

#include <string.h>
#include <unistd.h>

#define ADMIN_MAX_CONNECTIONS 256

static struct ioloop *loop;
static struct master_service *service;
static struct admin_server *server;
static struct ipc_server *ipc_server;
static bool stopping;

static const struct ipc_settings admin_ipc_settings = {
	.protocol = ADMIN_PROTOCOL,
	.major = ADMIN_PROTOCOL_MAJOR,
	.minor = ADMIN_PROTOCOL_MINOR,
	.max_message_bytes = ADMIN_MAX_MESSAGE_BYTES,
	.accept_fds = true,
};

static void report(unsigned int count, void *context)
{
	(void)context;
	master_service_report(service, count, stopping ? 0 : ADMIN_MAX_CONNECTIONS - count);
}

static void on_message(struct ipc_conn *ipc, json_t *msg, int fd, void *context)
{
	(void)context;
	admin_server_handle(server, ipc, msg, fd);
}

static void on_closed(struct ipc_conn *ipc, void *context)
{
	(void)context;
	admin_workers_forget(ipc);
	admin_server_conn_closed(server, ipc);
}

static void on_stop(enum master_stop_kind kind, void *context)
{
	(void)kind;
	(void)context;
	/* Requests are answered synchronously, except logins waiting for the auth
	 * service, which are dropped: a client whose connection closes before its reply
	 * treats it as a temporary failure. */
	stopping = true;
	ipc_server_stop_listening(ipc_server);
	ioloop_stop(loop);
}

int main(int argc, char *argv[])
{
	service = master_service_init("admin", argc, argv);
	int listen_fd = master_service_find_listener(service, "admin");
	if (listen_fd < 0)
		log_fatal(MASTER_EXIT_CONFIG, "admin: no listener named \"admin\"");
	master_service_drop_privileges(service);

	loop = ioloop_create();
	server = admin_server_create(loop, master_service_config(service), service);
	master_service_attach(service, loop, on_stop, NULL);
	static const struct ipc_server_callbacks callbacks = {
		.message = on_message, .closed = on_closed, .count_changed = report,
	};
	ipc_server = ipc_server_create(loop, "admin", listen_fd, &admin_ipc_settings,
				       ADMIN_MAX_CONNECTIONS, &callbacks, NULL);
	report(0, NULL);
	ioloop_run(loop);

	ipc_server_destroy(&ipc_server);
	admin_workers_deinit();
	admin_server_destroy(&server);
	/* The service's watches live in the loop: release them first. */
	master_service_deinit(&service);
	ioloop_destroy(&loop);
	return 0;
}
