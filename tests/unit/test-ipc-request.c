/* ipc_conn: requests and replies, timeouts, destroy from a reply callback, output
 * buffering, reply builders. */
#include "ipc-test.h"

#include <time.h>

struct reply_log {
	struct peer *peer;
	int order[8];
	long long value[8];      /* "v" of the reply, -1 for NULL */
	int fd[8];
	unsigned int count;
	bool destroy;            /* destroy the conn from the callback */
	bool closed_at_call[8];  /* on_close already ran */
};

struct reply_ctx {
	struct reply_log *log;
	int tag;
};

static void on_reply(json_t *reply, int fd, void *context)
{
	struct reply_ctx *ctx = context;
	struct reply_log *log = ctx->log;
	if (log->count < 8) {
		log->order[log->count] = ctx->tag;
		log->value[log->count] = reply == NULL ? -1 :
			(long long)json_integer_value(json_object_get(reply, "v"));
		log->fd[log->count] = fd;
		log->closed_at_call[log->count] = log->peer->close_count > 0;
	} else if (fd >= 0) {
		close(fd);
	}
	log->count++;
	if (log->destroy)
		ipc_conn_destroy(&log->peer->conn);
}

static void reply_log_clear(struct reply_log *log)
{
	for (unsigned int i = 0; i < log->count && i < 8; i++) {
		if (log->fd[i] >= 0)
			close(log->fd[i]);
	}
}

static json_t *op(const char *name)
{
	return json_pack("{s:s}", "op", name);
}

static void test_request_ids_and_out_of_order_replies(void)
{
	struct peer p;
	struct reply_log log = { .peer = &p };
	struct reply_ctx ctx[3] = { { &log, 1 }, { &log, 2 }, { &log, 3 } };

	peer_setup(&p, &test_settings);
	TEST_ASSERT_STR_EQ(raw_read_line(p.raw), "{\"hello\":\"test\",\"major\":1,\"minor\":2}");
	for (int i = 0; i < 3; i++) {
		json_t *req = json_pack("{s:s,s:i}", "op", "test.op", "n", i + 1);
		ipc_conn_request(p.conn, req, -1, 5000, on_reply, &ctx[i]);
		TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(req, "id")), i + 1);
		json_decref(req);
	}
	TEST_ASSERT_STR_EQ(raw_read_line(p.raw), "{\"op\":\"test.op\",\"n\":1,\"id\":1}");
	TEST_ASSERT_STR_EQ(raw_read_line(p.raw), "{\"op\":\"test.op\",\"n\":2,\"id\":2}");
	TEST_ASSERT_STR_EQ(raw_read_line(p.raw), "{\"op\":\"test.op\",\"n\":3,\"id\":3}");
	capture_start();
	raw_write(p.raw, TEST_HELLO "{\"id\":3,\"ok\":true,\"v\":30}\n"
		  "{\"id\":99,\"ok\":true,\"v\":990}\n{\"ok\":true}\n"
		  "{\"id\":1,\"ok\":false,\"code\":\"NOTFOUND\",\"v\":10}\n"
		  "{\"id\":2,\"ok\":true,\"v\":20}\n{\"id\":2,\"ok\":true,\"v\":21}\n");
	run_rounds(p.loop, 3);
	const char *text = capture_stop();
	TEST_ASSERT_UINT_EQ(log.count, 3);
	TEST_ASSERT_INT_EQ(log.order[0], 3);
	TEST_ASSERT_INT_EQ(log.value[0], 30);
	TEST_ASSERT_INT_EQ(log.order[1], 1);
	TEST_ASSERT_INT_EQ(log.value[1], 10);
	TEST_ASSERT_INT_EQ(log.order[2], 2);
	TEST_ASSERT_INT_EQ(log.value[2], 20);
	TEST_ASSERT(strstr(text, "ignoring a reply with unknown id 99") != NULL);
	TEST_ASSERT(strstr(text, "ignoring a reply without an integer id") != NULL);
	TEST_ASSERT(strstr(text, "ignoring a reply with unknown id 2") != NULL);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	TEST_ASSERT_UINT_EQ(p.msg_count, 0);
	reply_log_clear(&log);
	peer_teardown(&p);
}

static void test_request_timeout(void)
{
	struct peer p;
	struct reply_log log = { .peer = &p };
	struct reply_ctx ctx = { &log, 1 };
	struct timespec start, end;

	peer_setup(&p, &test_settings);
	raw_write(p.raw, TEST_HELLO);
	json_t *req = op("slow");
	clock_gettime(CLOCK_MONOTONIC, &start);
	ipc_conn_request(p.conn, req, -1, 50, on_reply, &ctx);
	json_decref(req);
	capture_start();
	for (int i = 0; i < 100 && log.count == 0; i++)
		ioloop_run_once(p.loop, 10);
	clock_gettime(CLOCK_MONOTONIC, &end);
	long elapsed = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
	TEST_ASSERT_UINT_EQ(log.count, 1);
	TEST_ASSERT_INT_EQ(log.value[0], -1);
	TEST_ASSERT_INT_EQ(log.fd[0], -1);
	TEST_ASSERT(elapsed >= 49 && elapsed < 1000);
	/* The late reply is an unknown id now. */
	raw_write(p.raw, "{\"id\":1,\"ok\":true,\"v\":1}\n");
	run_rounds(p.loop, 2);
	const char *text = capture_stop();
	TEST_ASSERT(strstr(text, "request 1 timed out") != NULL);
	TEST_ASSERT(strstr(text, "ignoring a reply with unknown id 1") != NULL);
	TEST_ASSERT_UINT_EQ(log.count, 1);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	peer_teardown(&p);
}

/* Pending requests get NULL when the connection closes, before on_close runs; a
 * request on a closed connection gets NULL from the loop, not from the call. */
static void test_close_fails_pending_requests(void)
{
	struct peer p;
	struct reply_log log = { .peer = &p };
	struct reply_ctx ctx[3] = { { &log, 1 }, { &log, 2 }, { &log, 3 } };

	peer_setup(&p, &test_settings);
	raw_read_line(p.raw);
	json_t *req = op("x");
	ipc_conn_request(p.conn, req, -1, 0, on_reply, &ctx[0]);
	ipc_conn_request(p.conn, req, -1, 1000, on_reply, &ctx[1]);
	close(p.raw);
	p.raw = -1;
	run_rounds(p.loop, 2);
	TEST_ASSERT_UINT_EQ(log.count, 2);
	TEST_ASSERT_INT_EQ(log.order[0], 1);
	TEST_ASSERT_INT_EQ(log.order[1], 2);
	TEST_ASSERT(!log.closed_at_call[0] && !log.closed_at_call[1]);
	TEST_ASSERT_UINT_EQ(p.close_count, 1);

	ipc_conn_send(p.conn, req, -1);  /* ignored */
	ipc_conn_request(p.conn, req, -1, 0, on_reply, &ctx[2]);
	TEST_ASSERT_UINT_EQ(log.count, 2);
	run_rounds(p.loop, 2);
	TEST_ASSERT_UINT_EQ(log.count, 3);
	TEST_ASSERT_INT_EQ(log.value[2], -1);
	json_decref(req);
	peer_teardown(&p);
}

static void test_destroy_fails_pending_requests(void)
{
	struct peer p;
	struct reply_log log = { .peer = &p };
	struct reply_ctx ctx[2] = { { &log, 1 }, { &log, 2 } };

	peer_setup(&p, &test_settings);
	json_t *req = op("x");
	ipc_conn_request(p.conn, req, -1, 0, on_reply, &ctx[0]);
	ipc_conn_request(p.conn, req, -1, 100, on_reply, &ctx[1]);
	json_decref(req);
	ipc_conn_destroy(&p.conn);
	TEST_ASSERT(p.conn == NULL);
	TEST_ASSERT_UINT_EQ(log.count, 2);
	TEST_ASSERT(log.value[0] == -1 && log.value[1] == -1);
	run_rounds(p.loop, 2);  /* no timer left behind */
	TEST_ASSERT_UINT_EQ(log.count, 2);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	peer_teardown(&p);
}

/* The first reply's callback destroys the connection: the other pending requests
 * get NULL, the rest of the read is not dispatched, on_close never runs. */
static void test_destroy_in_reply_callback(void)
{
	int before = count_fds();
	struct peer p;
	struct reply_log log = { .peer = &p, .destroy = true };
	struct reply_ctx ctx[3] = { { &log, 1 }, { &log, 2 }, { &log, 3 } };

	peer_setup(&p, &test_settings);
	json_t *req = op("x");
	for (int i = 0; i < 3; i++)
		ipc_conn_request(p.conn, req, -1, 1000, on_reply, &ctx[i]);
	json_decref(req);
	raw_write(p.raw, TEST_HELLO "{\"id\":1,\"ok\":true,\"v\":1}\n{\"id\":2,\"ok\":true,\"v\":2}\n"
		  "{\"op\":\"after\"}\n");
	run_rounds(p.loop, 3);
	TEST_ASSERT(p.conn == NULL);
	TEST_ASSERT_UINT_EQ(log.count, 3);
	TEST_ASSERT_INT_EQ(log.value[0], 1);
	TEST_ASSERT_INT_EQ(log.value[1], -1);
	TEST_ASSERT_INT_EQ(log.value[2], -1);
	TEST_ASSERT_UINT_EQ(p.msg_count, 0);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	peer_teardown(&p);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

/* ---- two ipc_conns: a server answering with the reply builders ---- */

static void server_on_message(struct ipc_conn *conn, json_t *msg, int fd, void *context)
{
	const char *name = json_string_value(json_object_get(msg, "op"));
	json_t *reply;
	int reply_fd = -1;
	(void)context;

	if (strcmp(name, "echo") == 0) {
		reply = ipc_reply_ok(msg);
		json_object_set(reply, "v", json_object_get(msg, "v"));
	} else if (strcmp(name, "getfile") == 0) {
		reply = ipc_reply_ok(msg);
		json_object_set_new(reply, "v", json_integer(fd >= 0 ? 7 : 0));
		reply_fd = memfd_with("reply file");
	} else {
		reply = ipc_reply_error(msg, "NOTFOUND", "No such op.");
	}
	ipc_conn_send(conn, reply, reply_fd);
	json_decref(reply);
	if (reply_fd >= 0)
		close(reply_fd);
	if (fd >= 0)
		close(fd);
}

static void test_request_reply_between_conns(void)
{
	int before = count_fds();
	struct ipc_settings set = test_settings;
	struct peer client;
	struct reply_log log = { .peer = &client };
	struct reply_ctx ctx[3] = { { &log, 1 }, { &log, 2 }, { &log, 3 } };
	int sv[2];

	set.accept_fds = true;
	memset(&client, 0, sizeof(client));
	client.raw = -1;
	client.loop = ioloop_create();
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	client.conn = ipc_conn_create(client.loop, sv[0], &set, peer_on_message,
				      peer_on_close, &client);
	struct ipc_conn *server = ipc_conn_create(client.loop, sv[1], &set,
						  server_on_message, NULL, NULL);
	json_t *req = json_pack("{s:s,s:i}", "op", "echo", "v", 42);
	ipc_conn_request(client.conn, req, -1, 1000, on_reply, &ctx[0]);
	json_decref(req);
	int memfd = memfd_with("request file");
	req = op("getfile");
	ipc_conn_request(client.conn, req, memfd, 1000, on_reply, &ctx[1]);
	json_decref(req);
	close(memfd);
	req = op("nosuch");
	ipc_conn_request(client.conn, req, -1, 1000, on_reply, &ctx[2]);
	json_decref(req);
	for (int i = 0; i < 50 && log.count < 3; i++)
		ioloop_run_once(client.loop, 10);
	TEST_ASSERT_UINT_EQ(log.count, 3);
	TEST_ASSERT_INT_EQ(log.value[0], 42);
	TEST_ASSERT_INT_EQ(log.value[1], 7);
	TEST_ASSERT(log.fd[1] >= 0);
	if (log.fd[1] >= 0)
		TEST_ASSERT_STR_EQ(fd_content(log.fd[1]), "reply file");
	TEST_ASSERT_INT_EQ(log.value[2], 0);
	TEST_ASSERT_INT_EQ(log.fd[2], -1);
	reply_log_clear(&log);
	ipc_conn_destroy(&server);
	peer_teardown(&client);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

/* ---- output ---- */

static void test_output_buffered_while_peer_is_slow(void)
{
	struct peer p;
	char pad[8001];
	unsigned int lines = 0;
	bool in_order = true;

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	peer_setup(&p, &test_settings);
	for (int i = 0; i < 100; i++) {
		json_t *msg = json_pack("{s:i,s:s}", "n", i, "pad", pad);
		ipc_conn_send(p.conn, msg, -1);
		json_decref(msg);
	}
	/* 800 kB do not fit in the socket: the rest waits for IO_WRITE. */
	TEST_ASSERT(ipc_conn_output_pending(p.conn) > 0);
	fcntl(p.raw, F_SETFL, O_NONBLOCK);
	static char buf[65536];
	size_t used = 0;
	for (int round = 0; round < 2000 && lines < 101; round++) {
		ioloop_run_once(p.loop, 1);
		ssize_t n = read(p.raw, buf + used, sizeof(buf) - used);
		if (n <= 0)
			continue;
		used += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', used)) != NULL) {
			size_t len = (size_t)(nl - buf) + 1;
			if (lines > 0) {
				char expect[32];
				snprintf(expect, sizeof(expect), "{\"n\":%u,", lines - 1);
				in_order = in_order && strncmp(buf, expect, strlen(expect)) == 0 &&
					len == strlen(expect) + 8000 + 10;
			}
			lines++;
			memmove(buf, buf + len, used - len);
			used -= len;
		}
	}
	TEST_ASSERT_UINT_EQ(lines, 101);
	TEST_ASSERT(in_order);
	TEST_ASSERT_UINT_EQ(ipc_conn_output_pending(p.conn), 0);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	peer_teardown(&p);
}

/* A descriptor queued behind other output still travels with its own line: sender
 * and receiver are two conns on two loops, the receiver not reading at first. */
static void test_fd_behind_queued_output(void)
{
	int before = count_fds();
	struct ipc_settings set = test_settings;
	struct peer a, b;
	static char pad[60001];
	int sv[2];

	set.accept_fds = true;
	memset(pad, 'p', sizeof(pad) - 1);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.raw = b.raw = -1;
	a.loop = ioloop_create();
	b.loop = ioloop_create();
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a.conn = ipc_conn_create(a.loop, sv[0], &set, peer_on_message, peer_on_close, &a);
	b.conn = ipc_conn_create(b.loop, sv[1], &set, peer_on_message, peer_on_close, &b);
	int memfd = memfd_with("queued");
	for (int i = 0; i < 22; i++) {
		json_t *msg = json_pack("{s:i,s:s}", "n", i, "pad", i < 20 ? pad : "");
		ipc_conn_send(a.conn, msg, i == 20 ? memfd : -1);
		json_decref(msg);
	}
	close(memfd);
	TEST_ASSERT(ipc_conn_output_pending(a.conn) > 60000);
	for (int i = 0; i < 1000 && b.msg_count < 22; i++) {
		ioloop_run_once(a.loop, 0);
		ioloop_run_once(b.loop, 1);
	}
	TEST_ASSERT_UINT_EQ(b.msg_count, 22);
	TEST_ASSERT_UINT_EQ(ipc_conn_output_pending(a.conn), 0);
	for (unsigned int i = 0; i < b.msg_count && i < TEST_MAX_MSGS; i++) {
		TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(b.msgs[i], "n")), i);
		if (i != 20)
			TEST_ASSERT_INT_EQ(b.fds[i], -1);
		else if (b.fds[i] < 0)
			TEST_ASSERT(!"descriptor lost");
		else
			TEST_ASSERT_STR_EQ(fd_content(b.fds[i]), "queued");
	}
	peer_teardown(&b);
	peer_teardown(&a);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_output_limit_closes(void)
{
	struct ipc_settings set = test_settings;
	struct peer p;
	char pad[901];

	set.max_message_bytes = 1000;  /* output limit: 1 MiB */
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	peer_setup(&p, &set);
	json_t *msg = json_pack("{s:s}", "pad", pad);
	for (int i = 0; i < 4000; i++)
		ipc_conn_send(p.conn, msg, -1);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);  /* never from inside the call */
	TEST_ASSERT(ipc_conn_output_pending(p.conn) <= 1024 * 1024);
	capture_start();
	run_rounds(p.loop, 2);
	capture_stop();
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT(strncmp(p.reason, "output queue full (", 19) == 0);
	/* Over the message limit: dropped with a log line, the conn stays usable. */
	json_decref(msg);
	peer_teardown(&p);

	peer_setup(&p, &set);
	char big[1001];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	msg = json_pack("{s:s}", "pad", big);
	capture_start();
	ipc_conn_send(p.conn, msg, -1);
	const char *text = capture_stop();
	TEST_ASSERT(strstr(text, "message not sent: message of 1010 bytes exceeds the limit of 1000") != NULL);
	TEST_ASSERT(!ipc_conn_is_closed(p.conn));
	json_decref(msg);
	peer_teardown(&p);
}

static void test_write_to_closed_peer(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	raw_read_line(p.raw);
	close(p.raw);
	p.raw = -1;
	json_t *msg = op("x");
	ipc_conn_send(p.conn, msg, -1);
	json_decref(msg);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	run_rounds(p.loop, 2);
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT_STR_EQ(p.reason, "write: Broken pipe");
	peer_teardown(&p);
}

/* ---- reply builders ---- */

static void assert_json(json_t *json, const char *expect)
{
	char *text = json_dumps(json, JSON_COMPACT);
	TEST_ASSERT_STR_EQ(text, expect);
	free(text);
	json_decref(json);
}

static void test_reply_builders(void)
{
	json_t *req = json_pack("{s:i,s:s}", "id", 7, "op", "user.get");
	json_t *no_id = op("x");

	assert_json(ipc_reply_ok(req), "{\"id\":7,\"ok\":true}");
	assert_json(ipc_reply_error(req, "NOTFOUND", "No such user."),
		    "{\"id\":7,\"ok\":false,\"code\":\"NOTFOUND\",\"message\":\"No such user.\"}");
	assert_json(ipc_reply_tempfail(req, "backend down"),
		    "{\"id\":7,\"ok\":false,\"temp\":true,\"reason\":\"backend down\"}");
	assert_json(ipc_reply_ok(no_id), "{\"ok\":true}");

	json_t *reply = ipc_reply_ok(req);
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(reply), IPC_REPLY_OK);
	json_decref(reply);
	reply = ipc_reply_error(req, "NOTFOUND", NULL);
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(reply), IPC_REPLY_ERROR);
	json_decref(reply);
	reply = ipc_reply_tempfail(req, "timeout");
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(reply), IPC_REPLY_TEMPFAIL);
	json_decref(reply);
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(NULL), IPC_REPLY_TEMPFAIL);
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(req), IPC_REPLY_TEMPFAIL);
	json_decref(req);
	json_decref(no_id);
}

TEST_MAIN(TEST(test_request_ids_and_out_of_order_replies), TEST(test_request_timeout),
	  TEST(test_close_fails_pending_requests), TEST(test_destroy_fails_pending_requests),
	  TEST(test_destroy_in_reply_callback), TEST(test_request_reply_between_conns),
	  TEST(test_output_buffered_while_peer_is_slow), TEST(test_fd_behind_queued_output), TEST(test_output_limit_closes),
	  TEST(test_write_to_closed_peer), TEST(test_reply_builders))
