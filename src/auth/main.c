/* The auth process: the only one that reads password hashes. Exec'd by the master
 * with its listener "auth" (auth.sock); serves the pymap-auth protocol (doc/ipc.md)
 * to the imap workers and the admin process. */
#include "auth-server.h"
#include "alloc.h"
#include "ioloop.h"
#include "ipc.h"
#include "ipc-server.h"
#include "log.h"
#include "master-proto.h"
#include "master-service.h"

#include <string.h>
#include <unistd.h>

#define AUTH_MAX_CONNECTIONS 1024

static struct ioloop *loop;
static struct master_service *service;
static struct auth_server *server;
static struct ipc_server *ipc_server;
static bool stopping;

static const struct ipc_settings auth_ipc_settings = {
	.protocol = AUTH_PROTOCOL,
	.major = AUTH_PROTOCOL_MAJOR,
	.minor = AUTH_PROTOCOL_MINOR,
};

static void report(unsigned int count, void *context)
{
	(void)context;
	master_service_report(service, count, stopping ? 0 : AUTH_MAX_CONNECTIONS - count);
}

static void on_message(struct ipc_conn *ipc, json_t *msg, int fd, void *context)
{
	(void)context;
	if (fd >= 0)
		close(fd);
	auth_server_handle(server, ipc, msg);
}

static void on_closed(struct ipc_conn *ipc, void *context)
{
	(void)context;
	auth_server_conn_closed(server, ipc);
}

static void on_stop(enum master_stop_kind kind, void *context)
{
	(void)kind;
	(void)context;
	/* Workers reconnect to the next auth process; requests in flight there fail as
	 * temporary errors (NO [UNAVAILABLE]), never as a wrong success. */
	stopping = true;
	ipc_server_stop_listening(ipc_server);
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
	set->config = master_service_config(s);
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
	set->hash_threads =
		(unsigned int)master_service_config_int(s, "auth", "hash_threads", 0);
}

int main(int argc, char *argv[])
{
	struct auth_server_settings set;
	const char *error;

	service = master_service_init("auth", argc, argv);
	int listen_fd = master_service_find_listener(service, "auth");
	if (listen_fd < 0)
		log_fatal(MASTER_EXIT_CONFIG, "auth: no listener named \"auth\"");
	master_service_drop_privileges(service);

	loop = ioloop_create();
	load_settings(&set);
	server = auth_server_create(loop, &set, &error);
	if (server == NULL)
		log_fatal(MASTER_EXIT_CONFIG, "auth: %s", error);
	master_service_attach(service, loop, on_stop, NULL);
	static const struct ipc_server_callbacks callbacks = {
		.message = on_message, .closed = on_closed, .count_changed = report,
	};
	ipc_server = ipc_server_create(loop, "auth", listen_fd, &auth_ipc_settings,
				       AUTH_MAX_CONNECTIONS, &callbacks, NULL);
	report(0, NULL);
	ioloop_run(loop);

	ipc_server_destroy(&ipc_server);
	auth_server_destroy(&server);
	/* The service's watches live in the loop: release them first. */
	master_service_deinit(&service);
	ioloop_destroy(&loop);
	return 0;
}
