/* redis-conn.c's cluster redirections against fake nodes (forked processes that speak
 * just enough RESP): MOVED fills the slot map so the next command for that slot goes
 * straight to its node, ASK sends ASKING + the command once without changing the map,
 * the hop limit ends a MOVED loop, the node table stays bounded (least recently used
 * node closed, its slots forgotten) and a failed node's slots go back to the first
 * node. Node 0 is the configured address; node N > 0 owns key "kN". */
#include "test-redis-server.h"
#include "redis-cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAKE_NODES 18   /* more than REDIS_CONN_MAX_NODES */

static unsigned int ports[FAKE_NODES];
static pid_t pids[FAKE_NODES];
static struct redis_conn *conn;

static unsigned int key_slot(const char *key)
{
	return redis_cluster_key_slot(key, strlen(key));
}

/* The reply of node index to one request. */
static void fake_reply(unsigned int index, const redisReply *req, bool *asking,
		       unsigned int *gets, char *out, size_t size)
{
	const char *cmd = req->elements > 0 ? req->element[0]->str : "";
	const char *key = req->elements > 1 ? req->element[1]->str : "";
	bool was_asking = *asking;
	*asking = strcmp(cmd, "ASKING") == 0;
	if (*asking)
		snprintf(out, size, "+OK\r\n");
	else if (strcmp(cmd, "COUNT") == 0)
		snprintf(out, size, ":%u\r\n", *gets);
	else if (strcmp(cmd, "GET") != 0)
		snprintf(out, size, "-ERR unknown command\r\n");
	else if (index == 0 && (++*gets, strcmp(key, "loop") == 0))
		snprintf(out, size, "-MOVED %u 127.0.0.1:%u\r\n", key_slot(key), ports[0]);
	else if (index == 0 && strcmp(key, "same") == 0)   /* unknown endpoint */
		snprintf(out, size, "-MOVED %u ?:%u\r\n", key_slot(key), ports[6]);
	else if (index == 0 && strcmp(key, "ask") == 0)
		snprintf(out, size, "-ASK %u 127.0.0.1:%u\r\n", key_slot(key), ports[1]);
	else if (index == 0)
		snprintf(out, size, "-MOVED %u 127.0.0.1:%u\r\n", key_slot(key),
			 ports[atoi(key + 1)]);
	else if (strcmp(key, "ask") == 0 && !was_asking)
		snprintf(out, size, "-MOVED %u 127.0.0.1:%u\r\n", key_slot(key), ports[0]);
	else
		snprintf(out, size, "+%s from %u\r\n", key, index);
}

/* One connection at a time: the client keeps one per node. */
static void fake_node_run(int lfd, unsigned int index)
{
	unsigned int gets = 0;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(0);
		redisReader *reader = redisReaderCreate();
		bool asking = false;
		char buf[4096], out[256];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			void *req;
			redisReaderFeed(reader, buf, (size_t)n);
			while (redisReaderGetReply(reader, &req) == REDIS_OK && req != NULL) {
				fake_reply(index, req, &asking, &gets, out, sizeof(out));
				if (write(fd, out, strlen(out)) < 0)
					_exit(1);
				freeReplyObject(req);
			}
		}
		redisReaderFree(reader);
		close(fd);
	}
}

static void test_start(void)
{
	int fds[FAKE_NODES];
	for (unsigned int i = 0; i < FAKE_NODES; i++)
		fds[i] = test_redis_listen(&ports[i]);
	for (unsigned int i = 0; i < FAKE_NODES; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			fake_node_run(fds[i], i);
	}
	for (unsigned int i = 0; i < FAKE_NODES; i++)
		close(fds[i]);
	char str[128];
	struct redis_url url;
	const char *error;
	snprintf(str, sizeof(str), "redis://127.0.0.1:%u?timeout=2000&connect_timeout=1000",
		 ports[0]);
	TEST_ASSERT_INT_EQ(redis_url_parse(str, &url, &error), 0);
	conn = redis_conn_create(&url);
}

/* GET key: the reply's text, "" for an error reply, NULL when unreachable. */
static char *get(const char *key)
{
	const char *argv[] = { "GET", key };
	redisReply *reply;
	if (redis_conn_commandv(conn, 2, argv, NULL, &reply) < 0)
		return NULL;
	char *text = strdup(reply->type == REDIS_REPLY_ERROR ? "" : reply->str);
	freeReplyObject(reply);
	return text;
}

static void assert_get(const char *key, const char *expected)
{
	char *text = get(key);
	TEST_ASSERT_STR_EQ(text, expected);
	free(text);
}

/* GETs node 0 has answered so far (COUNT has no key: it goes to node 0). */
static long long node0_gets(void)
{
	redisReply *reply;
	if (redis_conn_command(conn, &reply, "COUNT") < 0)
		return -1;
	long long count = reply->integer;
	freeReplyObject(reply);
	return count;
}

static void test_moved_fills_the_slot_map(void)
{
	long long before = node0_gets();
	assert_get("k3", "k3 from 3");
	TEST_ASSERT_INT_EQ(node0_gets(), before + 1);
	assert_get("k3", "k3 from 3");   /* straight to node 3 */
	assert_get("k3", "k3 from 3");
	TEST_ASSERT_INT_EQ(node0_gets(), before + 1);
}

static void test_moved_without_host(void)
{
	/* "?:port": the same host as the node that answered (127.0.0.1). */
	assert_get("same", "same from 6");
}

static void test_ask_is_one_shot(void)
{
	long long before = node0_gets();
	assert_get("ask", "ask from 1");
	assert_get("ask", "ask from 1");
	TEST_ASSERT_INT_EQ(node0_gets(), before + 2);   /* the map was not changed */
}

static void test_moved_loop_stops(void)
{
	char *text = get("loop");
	TEST_ASSERT_STR_EQ(text, "");   /* the last MOVED comes back as an error reply */
	free(text);
	TEST_ASSERT(redis_conn_is_up(conn));
}

static void test_pipeline_redirects_each_command(void)
{
	const char *a[] = { "GET", "k4" }, *b[] = { "GET", "k5" }, *c[] = { "COUNT" };
	const int argcs[] = { 2, 2, 1 };
	const char *const *argvs[] = { a, b, c };
	const size_t *lens[] = { NULL, NULL, NULL };
	redisReply *replies[3];
	TEST_ASSERT_INT_EQ(redis_conn_pipeline(conn, 3, argcs, argvs, lens, replies), 0);
	TEST_ASSERT_STR_EQ(replies[0]->str, "k4 from 4");
	TEST_ASSERT_STR_EQ(replies[1]->str, "k5 from 5");
	TEST_ASSERT_INT_EQ(replies[2]->type, REDIS_REPLY_INTEGER);
	for (int i = 0; i < 3; i++)
		freeReplyObject(replies[i]);
}

static void test_node_table_is_bounded(void)
{
	char key[16], expected[32];
	for (unsigned int round = 0; round < 2; round++) {
		for (unsigned int i = 1; i < FAKE_NODES; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			snprintf(expected, sizeof(expected), "k%u from %u", i, i);
			assert_get(key, expected);
		}
	}
	/* 17 other nodes, 15 places: the fake nodes serve one connection at a time, so
	 * a second round only works because evicted connections were closed. */
	long long before = node0_gets();
	assert_get("k17", "k17 from 17");   /* the most recent one is still mapped */
	TEST_ASSERT_INT_EQ(node0_gets(), before);
}

static void test_failed_node_loses_its_slots(void)
{
	assert_get("k2", "k2 from 2");
	long long before = node0_gets();
	assert_get("k2", "k2 from 2");
	TEST_ASSERT_INT_EQ(node0_gets(), before);
	kill(pids[2], SIGKILL);
	waitpid(pids[2], NULL, 0);
	pids[2] = 0;
	char *text = get("k2");
	TEST_ASSERT(text == NULL);   /* unreachable: the store says UNAVAILABLE */
	free(text);
	TEST_ASSERT(!redis_conn_is_up(conn));
	/* The slot went back to node 0, which is asked again (then node 2 is still
	 * down and backing off). */
	before = node0_gets();
	text = get("k2");
	TEST_ASSERT(text == NULL);
	free(text);
	TEST_ASSERT_INT_EQ(node0_gets(), before + 1);
	assert_get("k3", "k3 from 3");   /* other nodes are not affected */
}

static void test_stop(void)
{
	redis_conn_destroy(&conn);
	for (unsigned int i = 0; i < FAKE_NODES; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			waitpid(pids[i], NULL, 0);
		}
	}
}

TEST_MAIN(TEST(test_start), TEST(test_moved_fills_the_slot_map), TEST(test_moved_without_host),
	  TEST(test_ask_is_one_shot),
	  TEST(test_moved_loop_stops), TEST(test_pipeline_redirects_each_command),
	  TEST(test_node_table_is_bounded), TEST(test_failed_node_loses_its_slots),
	  TEST(test_stop))
