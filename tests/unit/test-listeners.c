/* The master's per-worker listening sockets (src/master/listeners.c): one
 * SO_REUSEPORT socket per imap worker slot on each TCP address, resized on reload,
 * closed and bound again around a dead worker; sockets from systemd stay shared. */
#include "test.h"
#include "src/master/listeners.h"
#include "config.h"
#include "alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECTS 300

static unsigned int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TEST_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	TEST_ASSERT(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* A config listening on 127.0.0.1:port, the UNIX sockets in the test's directory. */
static struct config *make_config(unsigned int port, const char *tag)
{
	struct config_env env;
	char value[512];
	config_env_init(&env);
	env.check_files = false;
	struct config *cfg = config_create();
	config_set(cfg, "backend", "type", "maildir", "maildir");
	config_set(cfg, "maildir", "base_dir", test_tmpdir(), "maildir");
	config_set(cfg, "server", "host", "127.0.0.1", "--host");
	snprintf(value, sizeof(value), "%u", port);
	config_set(cfg, "server", "port", value, "--port");
	config_set(cfg, "server", "tls_port", "0", "--tls-port");
	snprintf(value, sizeof(value), "%s/auth-%s.sock", test_tmpdir(), tag);
	config_set(cfg, "server", "auth_socket", value, "test");
	snprintf(value, sizeof(value), "%s/admin-%s.sock", test_tmpdir(), tag);
	config_set(cfg, "server", "admin_socket", value, "test");
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	config_env_deinit(&env);
	return cfg;
}

static struct listener *find(struct listeners *ls, const char *name)
{
	for (unsigned int i = 0; i < ls->count; i++) {
		if (strcmp(ls->items[i].name, name) == 0)
			return &ls->items[i];
	}
	return NULL;
}

/* Connect count times to port; count per worker slot which socket got each one. */
static void connect_and_count(unsigned int port, const struct listener *l,
			      unsigned int *counts)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(counts, 0, sizeof(unsigned int) * l->worker_fd_count);
	for (unsigned int n = 0; n < CONNECTS; n++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		TEST_ASSERT(connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0);
		unsigned int found = 0;
		for (unsigned int slot = 0; slot < l->worker_fd_count; slot++) {
			if (l->worker_fds[slot] < 0)
				continue;
			/* loopback: the handshake is done when connect() returns */
			int a = accept4(l->worker_fds[slot], NULL, NULL, SOCK_CLOEXEC);
			if (a >= 0) {
				counts[slot]++;
				found++;
				close(a);
			}
		}
		TEST_ASSERT_UINT_EQ(found, 1);
		close(c);
	}
}

static void test_per_worker_sockets(void)
{
	unsigned int port = free_port(), counts[3];
	struct config *cfg = make_config(port, "a");
	struct listeners ls;
	TEST_ASSERT_INT_EQ(listeners_open(&ls, cfg), 0);
	struct listener *imap = find(&ls, "imap"), *auth = find(&ls, "auth");
	TEST_ASSERT(imap != NULL && auth != NULL);
	if (imap == NULL || auth == NULL)
		return;
	TEST_ASSERT_INT_EQ(imap->fd, -1);
	TEST_ASSERT_UINT_EQ(imap->worker_fd_count, 1);
	TEST_ASSERT_UINT_EQ(auth->worker_fd_count, 0);

	listeners_set_workers(&ls, 3);
	TEST_ASSERT_UINT_EQ(imap->worker_fd_count, 3);
	for (unsigned int slot = 0; slot < 3; slot++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		int one = 0;
		socklen_t one_len = sizeof(one);
		int fd = imap->worker_fds[slot];
		TEST_ASSERT(fd >= 0);
		TEST_ASSERT_INT_EQ(listener_worker_fd(imap, slot), fd);
		TEST_ASSERT(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
		TEST_ASSERT_UINT_EQ(ntohs(sin.sin_port), port);
		TEST_ASSERT(getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, &one_len) == 0);
		TEST_ASSERT_INT_EQ(one, 1);
		TEST_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		TEST_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
		/* UNIX sockets are shared by every child */
		TEST_ASSERT_INT_EQ(listener_worker_fd(auth, slot), auth->fd);
	}
	TEST_ASSERT(imap->worker_fds[0] != imap->worker_fds[1] &&
		    imap->worker_fds[1] != imap->worker_fds[2]);

	/* The kernel hashes over the three: each gets 100 +- 40 (5 sigma) of 300. */
	connect_and_count(port, imap, counts);
	for (unsigned int slot = 0; slot < 3; slot++)
		TEST_ASSERT(counts[slot] >= 60 && counts[slot] <= 140);

	/* Slot 1's worker died: its socket is gone, nothing is lost, it shares slot 0's
	 * until bound again. */
	int kept0 = imap->worker_fds[0], kept2 = imap->worker_fds[2];
	listeners_worker_close(&ls, 1);
	TEST_ASSERT_INT_EQ(imap->worker_fds[1], -1);
	TEST_ASSERT_INT_EQ(listener_worker_fd(imap, 1), kept0);
	connect_and_count(port, imap, counts);
	TEST_ASSERT_UINT_EQ(counts[1], 0);
	TEST_ASSERT(counts[0] >= 90 && counts[2] >= 90);
	listeners_worker_open(&ls, 1);
	TEST_ASSERT(imap->worker_fds[1] >= 0);
	TEST_ASSERT_INT_EQ(imap->worker_fds[0], kept0);
	TEST_ASSERT_INT_EQ(imap->worker_fds[2], kept2);
	connect_and_count(port, imap, counts);
	TEST_ASSERT(counts[1] >= 60 && counts[1] <= 140);

	/* A reload down to one worker keeps slot 0's socket and closes the others. */
	listeners_set_workers(&ls, 1);
	TEST_ASSERT_UINT_EQ(imap->worker_fd_count, 1);
	TEST_ASSERT_INT_EQ(imap->worker_fds[0], kept0);
	TEST_ASSERT(fcntl(kept2, F_GETFD) < 0 && errno == EBADF);
	connect_and_count(port, imap, counts);
	TEST_ASSERT_UINT_EQ(counts[0], CONNECTS);
	/* no worker (imap disabled): the address stays bound */
	listeners_set_workers(&ls, 0);
	TEST_ASSERT_UINT_EQ(imap->worker_fd_count, 1);
	TEST_ASSERT_INT_EQ(imap->worker_fds[0], kept0);

	/* A second instance on the same address is refused although ours use
	 * SO_REUSEPORT. */
	struct config *cfg2 = make_config(port, "b");
	struct listeners ls2;
	TEST_ASSERT_INT_EQ(listeners_open(&ls2, cfg2), -1);
	listeners_close(&ls2);
	config_destroy(&cfg2);

	listeners_close(&ls);
	config_destroy(&cfg);
}

/* A socket from systemd (LISTEN_FDS) is one socket that every worker shares. */
static void test_activated_socket_shared(void)
{
	if (fcntl(3, F_GETFD) >= 0) {
		printf("descriptor 3 in use: skipping the socket activation test\n");
		return;
	}
	unsigned int port = free_port();
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ASSERT(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 8) == 0);
	if (fd != 3) {      /* the lowest free descriptor may be 3 itself */
		TEST_ASSERT_INT_EQ(dup2(fd, 3), 3);
		close(fd);
	}
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "imap", 1);
	struct config *cfg = make_config(free_port(), "c");
	struct listeners ls;
	TEST_ASSERT_INT_EQ(listeners_open(&ls, cfg), 0);
	struct listener *imap = find(&ls, "imap");
	TEST_ASSERT(imap != NULL);
	if (imap != NULL) {
		TEST_ASSERT_INT_EQ(imap->fd, 3);
		listeners_set_workers(&ls, 4);
		TEST_ASSERT_UINT_EQ(imap->worker_fd_count, 0);
		for (unsigned int slot = 0; slot < 4; slot++)
			TEST_ASSERT_INT_EQ(listener_worker_fd(imap, slot), 3);
		/* the configured port was not bound: systemd's replaces it */
		unsigned int imap_count = 0;
		for (unsigned int i = 0; i < ls.count; i++)
			imap_count += strcmp(ls.items[i].name, "imap") == 0;
		TEST_ASSERT_UINT_EQ(imap_count, 1);
	}
	listeners_close(&ls);
	config_destroy(&cfg);
}

TEST_MAIN(TEST(test_per_worker_sockets), TEST(test_activated_socket_shared))
