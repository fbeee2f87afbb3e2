/* The imap worker: many IMAP sessions on one event loop. Exec'd by the master with
 * its listeners (master-proto.h); never started by hand. */
#include "client.h"
#include "admin-report.h"
#include "auth-client.h"
#include "ioloop.h"
#include "log.h"
#include "master-service.h"
#include "store/store.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define IMAP_MAX_CLIENTS 100000

struct listener {
	struct io *io;
	int fd;
	bool tls;
};

static struct ioloop *loop;
static struct master_service *service;
static struct store *store;
static struct client_settings settings;
static struct listener listeners[16];
static unsigned int listener_count;
static bool retiring;

static void report_status(void)
{
	unsigned int sessions = client_count();
	master_service_report(service, sessions, retiring ? 0 : IMAP_MAX_CLIENTS - sessions);
}

static void accept_connection(void *context)
{
	struct listener *listener = context;
	int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
			log_error_errno("accept");
		return;
	}
	/* Responses are written as soon as they are complete (a body literal, then its
	 * closing line): without this, Nagle holds the tail until the client's delayed
	 * ACK, about 40 ms per FETCH of a large body. */
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 && errno != EOPNOTSUPP)
		log_debug("setsockopt(TCP_NODELAY): %s", strerror(errno));
	client_create(loop, fd, &settings, store, listener->tls);
	report_status();
}

/* Closed, not only unwatched: a per-worker socket (SO_REUSEPORT, listeners.h in the
 * master) that this retiring worker kept open would stay in the kernel's group and
 * collect connections nobody accepts. The master and the successor keep their own
 * references, so the socket itself lives on when it is still wanted. */
static void stop_listening(void)
{
	for (unsigned int i = 0; i < listener_count; i++) {
		io_remove(&listeners[i].io);
		if (listeners[i].fd >= 0)
			close(listeners[i].fd);
		listeners[i].fd = -1;
	}
}

static void check_retired(void *context)
{
	(void)context;
	report_status();
	if (retiring && client_count() == 0)
		ioloop_stop(loop);
}

static void on_stop(enum master_stop_kind kind, void *context)
{
	(void)context;
	retiring = true;
	stop_listening();
	if (kind == MASTER_STOP_SHUTDOWN) {
		client_disconnect_all("[UNAVAILABLE] Server shutting down.");
		ioloop_defer(loop, check_retired, NULL);
	}
}

static void load_settings(void)
{
	settings.login_timeout_secs = (unsigned int)master_service_config_int(service, "imap", "login_timeout_secs", 60);
	settings.autologout_secs = (unsigned int)master_service_config_int(service, "imap", "autologout_secs", 1800);
	settings.write_timeout_secs = (unsigned int)master_service_config_int(service, "imap", "write_timeout_secs", 300);
	settings.idle_keepalive_secs = (unsigned int)master_service_config_int(service, "imap", "idle_keepalive_secs", 120);
	settings.bad_command_limit = (unsigned int)master_service_config_int(service, "imap", "bad_command_limit", 5);
	settings.max_append_bytes = (uint64_t)master_service_config_int(service, "imap", "max_append_bytes", 1000000000);
	settings.max_line_bytes = (unsigned int)master_service_config_int(service, "imap", "max_line_bytes", 65536);
	settings.fqdn = master_service_config_str(service, "server", "fqdn", "localhost");
	settings.plaintext_auth = master_service_config_str(service, "imap", "plaintext_auth", "loopback");
	settings.auth_socket_path = master_service_config_str(service, "server", "auth_socket",
							      "/run/pymap/auth.sock");
}

static void setup_listeners(void)
{
	for (unsigned int i = 0; i < master_service_listener_count(service) && i < 16; i++) {
		const char *name = master_service_listener_name(service, i);
		struct listener *l = &listeners[listener_count];
		if (strcmp(name, "imap") != 0 && strcmp(name, "imaps") != 0)
			continue;
		l->fd = master_service_listener_fd(service, i);
		l->tls = strcmp(name, "imaps") == 0;
		l->io = io_add(loop, l->fd, IO_READ | IO_EXCLUSIVE_ACCEPT, accept_connection, l);
		listener_count++;
	}
}

int main(int argc, char *argv[])
{
	const char *error;

	service = master_service_init("imap", argc, argv);
	loop = ioloop_create();
	load_settings();
	/* Root-only set-up first: the TLS key is read before privileges are dropped. */
	int tls = tls_server_init(master_service_config(service), &error);
	if (tls < 0)
		log_fatal(78, "tls: %s", error);
	settings.tls_available = tls > 0;
	if (store_create(master_service_config(service), loop, &store, &error) < 0)
		log_fatal(78, "storage: %s", error);
	master_service_drop_privileges(service);
	auth_client_init(loop, settings.auth_socket_path);
	admin_report_init(loop, master_service_config_str(service, "server", "admin_socket",
							  "/run/pymap/admin.sock"));
	setup_listeners();
	master_service_attach(service, loop, on_stop, NULL);
	struct timeout *status_timer = timeout_add(loop, 1000, check_retired, NULL);
	report_status();
	ioloop_run(loop);

	timeout_remove(&status_timer);
	auth_client_deinit();
	admin_report_deinit();
	store_destroy(&store);
	tls_server_deinit();
	/* The service's watches live in the loop: release them first. */
	master_service_deinit(&service);
	ioloop_destroy(&loop);
	return 0;
}
