#ifndef TEST_REDIS_SERVER_H
#define TEST_REDIS_SERVER_H
/* A private redis-server for unit tests: 127.0.0.1, a free port, a temp dir, no
 * RDB snapshots; an fsynced append-only file so a restart keeps what was
 * acknowledged. Stopped by pid. Included by tests/unit/test-redis-*.c only.
 * test_redis_start_tls() starts a TLS-only one instead (--port 0, --tls-port) with a
 * CA and certificates made by openssl in the temp dir (see test_redis_make_certs). */
#include "test.h"
#include "redis-conn.h"
#include "redis-net.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t test_redis_pid;
static unsigned int test_redis_port;

/* A socket listening on 127.0.0.1, a free port (*port_r): for fake servers. */
static inline int test_redis_listen(unsigned int *port_r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		abort();
	*port_r = ntohs(sin.sin_port);
	return fd;
}

static inline unsigned int test_redis_free_port(void)
{
	unsigned int port;
	close(test_redis_listen(&port));
	return port;
}

/* Start (or restart on the same port). 0 once it answers PING. */
static inline int test_redis_start(void)
{
	char port[16];
	if (test_redis_port == 0)
		test_redis_port = test_redis_free_port();
	snprintf(port, sizeof(port), "%u", test_redis_port);
	const char *dir = test_tmpdir();   /* made here, not in the child */
	test_redis_pid = fork();
	if (test_redis_pid == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "yes",
		       "--appendfsync", "always", "--dir", dir,
		       "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		redisContext *ctx = redisConnect("127.0.0.1", (int)test_redis_port);
		if (ctx != NULL && ctx->err == 0) {
			redisReply *reply = redisCommand(ctx, "PING");
			bool ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
			if (reply != NULL)
				freeReplyObject(reply);
			redisFree(ctx);
			if (ok)
				return 0;
		} else if (ctx != NULL) {
			redisFree(ctx);
		}
		usleep(20000);
	}
	return -1;
}

static inline void test_redis_stop(void)
{
	if (test_redis_pid <= 0)
		return;
	kill(test_redis_pid, SIGTERM);
	waitpid(test_redis_pid, NULL, 0);
	test_redis_pid = 0;
}

static inline char *test_redis_url(void)
{
	char *url = malloc(64);
	snprintf(url, 64, "redis://127.0.0.1:%u?timeout=1000&connect_timeout=500",
		 test_redis_port);
	return url;
}

/* A direct context for checks. */
static inline redisContext *test_redis_ctx(void)
{
	return redisConnect("127.0.0.1", (int)test_redis_port);
}

/* CA "ca", a second CA "otherca", server certificate for IP 127.0.0.1 and DNS
 * redis.test signed by "ca", in test_tmpdir()/certs. 0 or -1. */
static inline int test_redis_make_certs(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s/certs; cd %s/certs; exec >/dev/null 2>&1;"
		 "for ca in ca otherca; do openssl req -x509 -newkey rsa:2048 -nodes -days 2"
		 " -subj /CN=$ca -keyout $ca.key -out $ca.crt; done;"
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:redis.test\n' > server.ext;"
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=server -keyout server.key"
		 " -out server.csr;"
		 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
		 " -days 2 -extfile server.ext -out server.crt",
		 test_tmpdir(), test_tmpdir());
	return system(cmd) == 0 ? 0 : -1;
}

/* "rediss://127.0.0.1:PORT?tls_ca_file=DIR/certs/CA.crt&..." + extra (allocated). */
static inline char *test_redis_tls_url(const char *ca, const char *extra)
{
	char *url = malloc(1024);
	snprintf(url, 1024, "rediss://127.0.0.1:%u?tls_ca_file=%s/certs/%s.crt"
		 "&timeout=1000&connect_timeout=500%s", test_redis_port, test_tmpdir(), ca,
		 extra);
	return url;
}

/* A TLS-only redis-server (after test_redis_make_certs). 0 once it answers. */
static inline int test_redis_start_tls(void)
{
	char port[16], cert[512], key[512], ca[512];
	const char *dir = test_tmpdir();
	if (test_redis_port == 0)
		test_redis_port = test_redis_free_port();
	snprintf(port, sizeof(port), "%u", test_redis_port);
	snprintf(cert, sizeof(cert), "%s/certs/server.crt", dir);
	snprintf(key, sizeof(key), "%s/certs/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/certs/ca.crt", dir);
	test_redis_pid = fork();
	if (test_redis_pid == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", "0", "--tls-port", port,
		       "--bind", "127.0.0.1", "--tls-cert-file", cert, "--tls-key-file", key,
		       "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", "--save", "",
		       "--appendonly", "no", "--dir", dir, "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	char *str = test_redis_tls_url("ca", "");
	struct redis_url url;
	const char *error;
	int ret = redis_url_parse(str, &url, &error);
	free(str);
	for (int i = 0; ret == 0 && i < 200; i++) {
		struct redis_net *net = redis_net_connect(&url, &error);
		if (net != NULL) {
			redis_net_destroy(&net);
			redis_url_free(&url);
			return 0;
		}
		usleep(20000);
	}
	if (ret == 0)
		redis_url_free(&url);
	return -1;
}

#endif
