/* A stand-in child for the master's integration tests (test_master.py compiles it):
 * it uses master-service.h exactly as the real children do. On every listener it
 * accepts connections and greets with "* OK testchild pid=PID role=ROLE gen=N uid=U";
 * each line "TAG ..." gets "TAG OK pid=PID". SIGTERM: "* BYE shutting down" to every
 * client, exit 0. SIGUSR2 or master gone: stop accepting, exit when the last client
 * leaves. */
#include "ioloop.h"
#include "log.h"
#include "master-service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 64

struct client {
	int fd;
	struct io *io;
};

static struct master_service *service;
static struct ioloop *loop;
static struct io *listen_ios[16];
static unsigned int listen_count;
static struct client clients[MAX_CLIENTS];
static unsigned int client_count;
static bool retiring;

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char line[512];
	va_list args;
	va_start(args, fmt);
	int len = vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (len > 0 && write(fd, line, (size_t)len) < 0)
		log_debug("write: %m");
}

static void report(void)
{
	master_service_report(service, client_count, retiring ? 0 : MAX_CLIENTS - client_count);
	if (retiring && client_count == 0)
		ioloop_stop(loop);
}

static void client_close(struct client *c)
{
	io_remove(&c->io);
	close(c->fd);
	c->fd = -1;
	client_count--;
	report();
}

static void client_input(void *context)
{
	struct client *c = context;
	char buf[512];
	ssize_t n = read(c->fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(c);
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, " \r\n")] = '\0';
	say(c->fd, "%s OK pid=%ld\r\n", buf, (long)getpid());
}

static void listener_accept(void *context)
{
	int lfd = (int)(long)context;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct client *c = NULL;
	for (unsigned int i = 0; i < MAX_CLIENTS && c == NULL; i++) {
		if (clients[i].fd < 0)
			c = &clients[i];
	}
	if (c == NULL || retiring) {
		close(fd);
		return;
	}
	client_count++;
	c->fd = fd;
	c->io = io_add(loop, fd, IO_READ, client_input, c);
	say(fd, "* OK testchild pid=%ld role=%s gen=%u uid=%u\r\n", (long)getpid(),
	    master_service_role(service), master_service_generation(service),
	    (unsigned int)getuid());
	report();
}

static void on_stop(enum master_stop_kind kind, void *context)
{
	(void)context;
	/* close the sockets too (as the imap worker does): a reload that lowers the
	 * worker count must not leave connections queued where nobody accepts */
	for (unsigned int i = 0; i < listen_count && i < 16 && !retiring; i++) {
		io_remove(&listen_ios[i]);
		close(master_service_listener_fd(service, i));
	}
	retiring = true;
	if (kind == MASTER_STOP_SHUTDOWN) {
		for (unsigned int i = 0; i < MAX_CLIENTS; i++) {
			if (clients[i].fd >= 0)
				say(clients[i].fd, "* BYE shutting down\r\n");
		}
		ioloop_stop(loop);
		return;
	}
	report();
}

int main(int argc, char *argv[])
{
	const char *role = getenv("PYMAP_ROLE");
	for (unsigned int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	service = master_service_init(role != NULL ? role : "imap", argc, argv);
	master_service_drop_privileges(service);
	loop = ioloop_create();
	master_service_attach(service, loop, on_stop, NULL);
	listen_count = master_service_listener_count(service);
	for (unsigned int i = 0; i < listen_count && i < 16; i++) {
		int fd = master_service_listener_fd(service, i);
		listen_ios[i] = io_add(loop, fd, IO_READ | IO_EXCLUSIVE_ACCEPT, listener_accept,
				       (void *)(long)fd);
	}
	report();
	ioloop_run(loop);
	for (unsigned int i = 0; i < listen_count && i < 16; i++)
		io_remove(&listen_ios[i]);
	for (unsigned int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd >= 0)
			client_close(&clients[i]);
	}
	ioloop_destroy(&loop);
	master_service_deinit(&service);
	return 0;
}
