/* redis-net.c against a broken or hostile server (a forked fake that answers every
 * request with one canned byte stream): a reply over the byte limit or announcing
 * more elements than the element limit fails and drops nothing else of ours; a peer
 * that reads slowly cannot stretch the command timeout of a large write; a reply that
 * trickles in fails at the command timeout. */
#include "test-redis-server.h"
#include "redis-url.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum fake_kind {
	FAKE_HUGE_BULK,      /* "$100000000" then bytes for as long as we read */
	FAKE_HUGE_ARRAY,     /* "*50000000" then ":1" elements */
	FAKE_SLOW_READER,    /* reads 4 KiB every 200 ms, never answers */
	FAKE_TRICKLE,        /* "$10" then one byte every 900 ms */
	FAKE_GOOD,           /* "+OK" */
};

static pid_t fake_pid = -1;

static void fake_stream(int fd, const char *head, const char *unit)
{
	char block[16384];
	size_t unit_len = strlen(unit), n = 0;
	while (n + unit_len <= sizeof(block)) {
		memcpy(block + n, unit, unit_len);
		n += unit_len;
	}
	if (write(fd, head, strlen(head)) < 0)
		_exit(0);
	while (write(fd, block, n) > 0)
		;
	_exit(0);
}

static void fake_serve(int fd, enum fake_kind kind)
{
	char buf[4096];
	if (kind == FAKE_SLOW_READER) {
		while (read(fd, buf, sizeof(buf)) > 0)
			usleep(200 * 1000);
		_exit(0);
	}
	if (read(fd, buf, sizeof(buf)) <= 0)
		_exit(0);
	switch (kind) {
	case FAKE_HUGE_BULK: fake_stream(fd, "$100000000\r\n", "x"); break;
	case FAKE_HUGE_ARRAY: fake_stream(fd, "*50000000\r\n", ":1\r\n"); break;
	case FAKE_TRICKLE:
		if (write(fd, "$10\r\n", 5) < 0)
			_exit(0);
		for (int i = 0; i < 10; i++) {
			usleep(900 * 1000);
			if (write(fd, "y", 1) < 0)
				_exit(0);
		}
		break;
	default:
		if (write(fd, "+OK\r\n", 5) < 0)
			_exit(0);
		break;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

/* A fake server for one connection; returns a connection to it. */
static struct redis_net *fake_connect(enum fake_kind kind, unsigned int timeout_ms)
{
	unsigned int port;
	int lfd = test_redis_listen(&port);
	fake_pid = fork();
	if (fake_pid == 0) {
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			/* small buffers: the slow reader really is slow */
			int small = 4096;
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
			fake_serve(fd, kind);
		}
		_exit(0);
	}
	close(lfd);
	char str[128];
	struct redis_url url;
	const char *error = NULL;
	snprintf(str, sizeof(str), "redis://127.0.0.1:%u?timeout=%u&connect_timeout=1000",
		 port, timeout_ms);
	TEST_ASSERT_INT_EQ(redis_url_parse(str, &url, &error), 0);
	struct redis_net *net = redis_net_connect(&url, &error);
	redis_url_free(&url);
	TEST_ASSERT(net != NULL);
	return net;
}

static void fake_stop(struct redis_net **net)
{
	redis_net_destroy(net);
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	fake_pid = -1;
}

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ping(struct redis_net *net, redisReply **reply_r, const char **error_r)
{
	const char *argv[] = { "PING" };
	size_t lens[] = { 4 };
	return redis_net_command_argv(net, 1, argv, lens, reply_r, error_r);
}

static void test_bulk_over_the_byte_limit(void)
{
	struct redis_net *net = fake_connect(FAKE_HUGE_BULK, 5000);
	redisReply *reply = NULL;
	const char *error = NULL;
	redis_net_set_reply_limits(net, 1024 * 1024, 1000);
	TEST_ASSERT_INT_EQ(ping(net, &reply, &error), -1);
	TEST_ASSERT(reply == NULL);
	TEST_ASSERT(error != NULL && strstr(error, "reply over the limit") != NULL);
	fake_stop(&net);
}

static void test_array_over_the_element_limit(void)
{
	/* The header alone would make hiredis allocate 400 MB of element pointers. */
	struct redis_net *net = fake_connect(FAKE_HUGE_ARRAY, 5000);
	redisReply *reply = NULL;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(ping(net, &reply, &error), -1);
	TEST_ASSERT(error != NULL && strstr(error, "reply over the limit") != NULL);
	fake_stop(&net);
}

static void test_reply_within_limits(void)
{
	struct redis_net *net = fake_connect(FAKE_GOOD, 5000);
	redisReply *reply = NULL;
	const char *error = NULL;
	redis_net_set_reply_limits(net, 16, 1);
	TEST_ASSERT_INT_EQ(ping(net, &reply, &error), 0);
	TEST_ASSERT(reply != NULL && reply->type == REDIS_REPLY_STATUS &&
		    strcmp(reply->str, "OK") == 0);
	if (reply != NULL)
		freeReplyObject(reply);
	fake_stop(&net);
}

static void test_slow_reader_cannot_stretch_a_write(void)
{
	/* 8 MiB to a peer taking 20 KiB/s: without a deadline between partial writes
	 * this took minutes; the command timeout is 500 ms. */
	struct redis_net *net = fake_connect(FAKE_SLOW_READER, 500);
	size_t len = 8 * 1024 * 1024;
	char *data = malloc(len);
	const char *error = NULL;
	memset(data, 'z', len);
	double start = now_secs();
	TEST_ASSERT_INT_EQ(redis_net_write(net, data, len, &error), -1);
	TEST_ASSERT(error != NULL && strstr(error, "timed out") != NULL);
	TEST_ASSERT(now_secs() - start < 10.0);
	free(data);
	fake_stop(&net);
}

static void test_trickling_reply_fails_at_the_timeout(void)
{
	/* one byte every 900 ms, timeout 1000 ms: fails after a second, not at 1.8 s
	 * (a blocking read started at 0.9 s may wait a whole timeout more) */
	struct redis_net *net = fake_connect(FAKE_TRICKLE, 1000);
	redisReply *reply = NULL;
	const char *error = NULL;
	double start = now_secs();
	TEST_ASSERT_INT_EQ(ping(net, &reply, &error), -1);
	TEST_ASSERT(error != NULL && strstr(error, "no reply within") != NULL);
	TEST_ASSERT(now_secs() - start < 1.5);
	fake_stop(&net);
}

TEST_MAIN(TEST(test_bulk_over_the_byte_limit), TEST(test_array_over_the_element_limit),
	  TEST(test_reply_within_limits), TEST(test_slow_reader_cannot_stretch_a_write),
	  TEST(test_trickling_reply_fails_at_the_timeout))
