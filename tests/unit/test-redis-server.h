#ifndef TEST_REDIS_SERVER_H
#define TEST_REDIS_SERVER_H
/* A private redis-server for unit tests: 127.0.0.1, a free port, a temp dir, no
 * RDB snapshots; an fsynced append-only file so a restart keeps what was
 * acknowledged. Stopped by pid. Included by tests/unit/test-redis-*.c only. */
#include "test.h"
#include "redis-conn.h"

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

static unsigned int test_redis_free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		abort();
	close(fd);
	return ntohs(sin.sin_port);
}

/* Start (or restart on the same port). 0 once it answers PING. */
static int test_redis_start(void)
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

static void test_redis_stop(void)
{
	if (test_redis_pid <= 0)
		return;
	kill(test_redis_pid, SIGTERM);
	waitpid(test_redis_pid, NULL, 0);
	test_redis_pid = 0;
}

static char *test_redis_url(void)
{
	char *url = malloc(64);
	snprintf(url, 64, "redis://127.0.0.1:%u?timeout=1000&connect_timeout=500",
		 test_redis_port);
	return url;
}

/* A direct context for checks. */
static redisContext *test_redis_ctx(void)
{
	return redisConnect("127.0.0.1", (int)test_redis_port);
}

#endif
