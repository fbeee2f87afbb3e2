/* The auth process: the only one that reads password hashes. Exec'd by the master
 * with its listener "auth" (auth.sock); serves the pymap-auth protocol (doc/ipc.md)
 * to the imap workers and the admin process. */
#include "auth-server.h"
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

#define AUTH_MAX_CONNECTIONS 1024

struct auth_conn {
	struct ipc_conn *ipc;
	struct auth_conn *prev, *next;
};

static struct ioloop *loop;
static struct master_service *service;
static struct auth_server *server;
static struct io *listen_io;
static int listen_fd = -1;
static struct auth_conn *conns;
static unsigned int conn_count;
static bool stopping;

static const struct ipc_settings auth_ipc_settings = {
	.protocol = AUTH_PROTOCOL,
	.major = AUTH_PROTOCOL_MAJOR,
	.minor = AUTH_PROTOCOL_MINOR,
};

static void report(void)
{
	master_service_report(service, conn_count,
			      stopping ? 0 : AUTH_MAX_CONNECTIONS - conn_count);
}

static void conn_destroy(struct auth_conn *conn)
{
	auth_server_conn_closed(server, conn->ipc);
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
	(void)ipc;
	struct auth_conn *conn = context;
	if (fd >= 0)
		close(fd);
	auth_server_handle(server, conn->ipc, msg);
}

static void on_close(struct ipc_conn *ipc, const char *reason, void *context)
{
	(void)ipc;
	log_debug("auth: connection closed: %s", reason);
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
	if (conn_count >= AUTH_MAX_CONNECTIONS) {
		log_warning("auth: connection limit (%d) reached", AUTH_MAX_CONNECTIONS);
		close(fd);
		return;
	}
	struct auth_conn *conn = i_new0(struct auth_conn);
	conn->next = conns;
	if (conns != NULL)
		conns->prev = conn;
	conns = conn;
	conn_count++;
	conn->ipc = ipc_conn_create(loop, fd, &auth_ipc_settings, on_message, on_close, conn);
	report();
}

static void on_stop(enum master_stop_kind kind, void *context)
{
	(void)kind;
	(void)context;
	/* Workers reconnect to the next auth process; requests in flight there fail as
	 * temporary errors (NO [UNAVAILABLE]), never as a wrong success. */
	stopping = true;
	io_remove(&listen_io);
	ioloop_stop(loop);
}

static enum auth_backend parse_backend(const char *type)
{
	if (strcmp(type, "maildir") == 0)
		return AUTH_BACKEND_MAILDIR;
	if (strcmp(type, "redis") == 0)
		return AUTH_BACKEND_REDIS;
	return AUTH_BACKEND_DICT;
}

static void load_settings(struct auth_server_settings *set)
{
	const struct master_service *s = service;
	set->backend = parse_backend(master_service_config_str(s, "backend", "type", "dict"));
	set->demo_user = master_service_config_str(s, "dict", "demo_user", "demouser");
	set->demo_password = master_service_config_str(s, "dict", "demo_password", "demopass");
	set->base_dir = master_service_config_str(s, "maildir", "base_dir", "");
	set->passwd_file = master_service_config_str(s, "auth", "passwd_file", "pymap-etc-passwd");
	set->shadow_file = master_service_config_str(s, "auth", "shadow_file", "pymap-etc-shadow");
	set->group_file = master_service_config_str(s, "auth", "group_file", "pymap-etc-group");
	set->failure_delay_ms =
		(unsigned int)master_service_config_int(s, "auth", "failure_delay_ms", 2000);
	set->lockout_threshold =
		(unsigned int)master_service_config_int(s, "auth", "lockout_threshold", 10);
	set->lockout_window_secs =
		(unsigned int)master_service_config_int(s, "auth", "lockout_window_secs", 300);
	set->hash_scheme = master_service_config_str(s, "auth", "hash_scheme", "yescrypt");
}

static int find_listener(void)
{
	for (unsigned int i = 0; i < master_service_listener_count(service); i++) {
		if (strcmp(master_service_listener_name(service, i), "auth") == 0)
			return master_service_listener_fd(service, i);
	}
	return -1;
}

int main(int argc, char *argv[])
{
	struct auth_server_settings set;
	const char *error;

	service = master_service_init("auth", argc, argv);
	listen_fd = find_listener();
	if (listen_fd < 0)
		log_fatal(MASTER_EXIT_CONFIG, "auth: no listener named \"auth\"");
	master_service_drop_privileges(service);

	loop = ioloop_create();
	load_settings(&set);
	server = auth_server_create(loop, &set, &error);
	if (server == NULL)
		log_fatal(MASTER_EXIT_CONFIG, "auth: %s", error);
	master_service_attach(service, loop, on_stop, NULL);
	listen_io = io_add(loop, listen_fd, IO_READ, accept_connection, NULL);
	report();
	ioloop_run(loop);

	while (conns != NULL)
		conn_destroy(conns);
	io_remove(&listen_io);
	auth_server_destroy(&server);
	/* The service's watches live in the loop: release them first. */
	master_service_deinit(&service);
	ioloop_destroy(&loop);
	return 0;
}
