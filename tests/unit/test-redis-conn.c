/* redis-conn.c / redis-net.c against a TLS-only redis-server: commands, pipelines,
 * replies larger than one TLS record, scripts, the non-blocking pub/sub path, and
 * failures that must be quick and clear: wrong CA, wrong server name, a peer that
 * never answers (handshake and command timeouts). */
#include "test-redis-server.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

static bool started;

static void test_start(void)
{
	TEST_ASSERT_INT_EQ(test_redis_make_certs(), 0);
	TEST_ASSERT_INT_EQ(test_redis_start_tls(), 0);
	started = test_redis_pid > 0;
}

static struct redis_conn *tls_conn(const char *ca, const char *extra)
{
	struct redis_url url;
	const char *error = NULL;
	char *str = test_redis_tls_url(ca, extra);
	int ret = redis_url_parse(str, &url, &error);
	free(str);
	TEST_ASSERT_INT_EQ(ret, 0);
	return ret == 0 ? redis_conn_create(&url) : NULL;
}

static void test_commands_over_tls(void)
{
	struct redis_conn *conn = tls_conn("ca", "");
	redisReply *reply;
	/* 300 KB with NULs: many TLS records and reads on the way back. */
	size_t big_len = 300000;
	char *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i % 251);
	const char *set[] = { "SET", "big", big };
	const size_t set_lens[] = { 3, 3, big_len };
	TEST_ASSERT_INT_EQ(redis_conn_commandv(conn, 3, set, set_lens, &reply), 0);
	TEST_ASSERT_STR_EQ(reply->str, "OK");
	freeReplyObject(reply);
	const char *get[] = { "GET", "big" };
	TEST_ASSERT_INT_EQ(redis_conn_commandv(conn, 2, get, NULL, &reply), 0);
	TEST_ASSERT_INT_EQ(reply->type, REDIS_REPLY_STRING);
	TEST_ASSERT(test_mem_eq(reply->str, reply->len, big, big_len));
	freeReplyObject(reply);
	free(big);

	const char *incr[] = { "INCR", "n" };
	const int argcs[] = { 2, 2, 2 };
	const char *const *argvs[] = { incr, incr, incr };
	const size_t *lens[] = { NULL, NULL, NULL };
	redisReply *replies[3];
	TEST_ASSERT_INT_EQ(redis_conn_pipeline(conn, 3, argcs, argvs, lens, replies), 0);
	for (int i = 0; i < 3; i++) {
		TEST_ASSERT_INT_EQ(replies[i]->integer, i + 1);
		freeReplyObject(replies[i]);
	}
	/* An error reply is a reply, not a connection failure. */
	const char *bad[] = { "NOSUCHCOMMAND" };
	TEST_ASSERT_INT_EQ(redis_conn_commandv(conn, 1, bad, NULL, &reply), 0);
	TEST_ASSERT_INT_EQ(reply->type, REDIS_REPLY_ERROR);
	freeReplyObject(reply);
	TEST_ASSERT(redis_conn_is_up(conn));

	struct redis_script script;
	redis_script_init(&script, "return {KEYS[1], ARGV[1]}");
	const char *args[] = { "k", "v" };
	TEST_ASSERT_INT_EQ(redis_conn_eval(conn, &script, 1, 2, args, NULL, &reply), 0);
	TEST_ASSERT_INT_EQ(reply->type, REDIS_REPLY_ARRAY);
	TEST_ASSERT_UINT_EQ(reply->elements, 2);
	if (reply->elements == 2) {
		TEST_ASSERT_STR_EQ(reply->element[0]->str, "k");
		TEST_ASSERT_STR_EQ(reply->element[1]->str, "v");
	}
	freeReplyObject(reply);
	TEST_ASSERT_INT_EQ(redis_conn_command(conn, &reply, "PING"), 0);
	TEST_ASSERT_STR_EQ(reply->str, "PONG");
	freeReplyObject(reply);
	redis_conn_destroy(&conn);
	TEST_ASSERT(conn == NULL);
}

static struct redis_net *net_connect(const char *ca, const char *extra, const char **error_r)
{
	struct redis_url url;
	char *str = test_redis_tls_url(ca, extra);
	if (redis_url_parse(str, &url, error_r) < 0)
		abort();
	free(str);
	struct redis_net *net = redis_net_connect(&url, error_r);
	redis_url_free(&url);
	return net;
}

static void test_wrong_ca(void)
{
	const char *error = NULL;
	TEST_ASSERT(net_connect("otherca", "", &error) == NULL);
	TEST_ASSERT(error != NULL && strstr(error, "certificate verification failed") != NULL);
	/* Through redis_conn: -1 (the store says UNAVAILABLE), down, and still -1 at
	 * once while backing off. */
	struct redis_conn *conn = tls_conn("otherca", "");
	redisReply *reply;
	TEST_ASSERT_INT_EQ(redis_conn_command(conn, &reply, "PING"), -1);
	TEST_ASSERT(!redis_conn_is_up(conn));
	TEST_ASSERT_INT_EQ(redis_conn_command(conn, &reply, "PING"), -1);
	redis_conn_destroy(&conn);
	/* A CA file that does not exist names the file. */
	error = NULL;
	TEST_ASSERT(net_connect("missing", "", &error) == NULL);
	TEST_ASSERT(error != NULL && strstr(error, "missing.crt") != NULL);
}

static void test_server_name(void)
{
	const char *error = NULL;
	struct redis_net *net = net_connect("ca", "&tls_server_name=redis.test", &error);
	TEST_ASSERT(net != NULL);
	redis_net_destroy(&net);
	TEST_ASSERT(net_connect("ca", "&tls_server_name=other.test", &error) == NULL);
	TEST_ASSERT(error != NULL && strstr(error, "certificate verification failed") != NULL);
}

static void test_pubsub_nonblocking(void)
{
	const char *error = NULL;
	struct redis_net *sub = net_connect("ca", "", &error), *pub = net_connect("ca", "", &error);
	redisReply *reply = NULL;
	TEST_ASSERT(sub != NULL && pub != NULL);
	if (sub == NULL || pub == NULL)
		return;
	const char *subscribe[] = { "SUBSCRIBE", "chan" };
	TEST_ASSERT_INT_EQ(redis_net_command_argv(sub, 2, subscribe, NULL, &reply, &error), 0);
	freeReplyObject(reply);
	TEST_ASSERT_INT_EQ(redis_net_set_nonblocking(sub, &error), 0);
	/* Nothing there yet: a non-blocking read returns at once with no reply. */
	TEST_ASSERT_INT_EQ(redis_net_read_available(sub, &error), 0);
	TEST_ASSERT_INT_EQ(redis_net_next_reply(sub, &reply, &error), 0);
	const char *publish[] = { "PUBLISH", "chan", "hello" };
	TEST_ASSERT_INT_EQ(redis_net_command_argv(pub, 3, publish, NULL, &reply, &error), 0);
	TEST_ASSERT_INT_EQ(reply->integer, 1);
	freeReplyObject(reply);
	struct pollfd pfd = { .fd = redis_net_fd(sub), .events = POLLIN };
	TEST_ASSERT_INT_EQ(poll(&pfd, 1, 5000), 1);
	TEST_ASSERT_INT_EQ(redis_net_read_available(sub, &error), 0);
	TEST_ASSERT_INT_EQ(redis_net_next_reply(sub, &reply, &error), 1);
	TEST_ASSERT(reply->type == REDIS_REPLY_ARRAY && reply->elements == 3);
	if (reply->elements == 3)
		TEST_ASSERT_STR_EQ(reply->element[2]->str, "hello");
	freeReplyObject(reply);
	redis_net_destroy(&pub);
	/* The server going away is an error on the non-blocking path too. */
	test_redis_stop();
	TEST_ASSERT_INT_EQ(poll(&pfd, 1, 5000), 1);
	TEST_ASSERT_INT_EQ(redis_net_read_available(sub, &error), -1);
	redis_net_destroy(&sub);
	TEST_ASSERT_INT_EQ(test_redis_start_tls(), 0);
}

static void test_silent_peer_times_out(void)
{
	unsigned int port;
	int fd = test_redis_listen(&port);
	char str[128];
	struct redis_url url;
	const char *error = NULL;
	snprintf(str, sizeof(str), "rediss://127.0.0.1:%u?connect_timeout=200", port);
	TEST_ASSERT_INT_EQ(redis_url_parse(str, &url, &error), 0);
	TEST_ASSERT(redis_net_connect(&url, &error) == NULL);
	TEST_ASSERT(error != NULL && strstr(error, "TLS handshake timed out") != NULL);
	redis_url_free(&url);
	snprintf(str, sizeof(str), "redis://127.0.0.1:%u?timeout=200", port);
	TEST_ASSERT_INT_EQ(redis_url_parse(str, &url, &error), 0);
	struct redis_net *net = redis_net_connect(&url, &error);
	redisReply *reply;
	const char *ping[] = { "PING" };
	TEST_ASSERT(net != NULL);
	if (net != NULL) {
		TEST_ASSERT_INT_EQ(redis_net_command_argv(net, 1, ping, NULL, &reply, &error), -1);
		TEST_ASSERT(strstr(error, "no reply within 200 ms") != NULL);
		redis_net_destroy(&net);
	}
	struct redis_conn *conn = redis_conn_create(&url);
	TEST_ASSERT_INT_EQ(redis_conn_command(conn, &reply, "PING"), -1);
	TEST_ASSERT(!redis_conn_is_up(conn));
	redis_conn_destroy(&conn);
	close(fd);
}

static void test_stop(void)
{
	if (started)
		test_redis_stop();
}

TEST_MAIN(TEST(test_start), TEST(test_commands_over_tls), TEST(test_wrong_ca),
	  TEST(test_server_name), TEST(test_pubsub_nonblocking),
	  TEST(test_silent_peer_times_out), TEST(test_stop))
