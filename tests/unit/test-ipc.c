/* ipc_conn: framing, hello, descriptors, destroy from callbacks. Requests, output and
 * the blocking client are in test-ipc-request.c and test-ipc-client.c. */
#include "ipc-test.h"

static const char *msg_str(json_t *msg, const char *key)
{
	return json_string_value(json_object_get(msg, key));
}

static void test_hello_is_sent_first(void)
{
	int before = count_fds();
	struct peer p;
	peer_setup(&p, &test_settings);
	TEST_ASSERT_STR_EQ(raw_read_line(p.raw), "{\"hello\":\"test\",\"major\":1,\"minor\":2}");
	TEST_ASSERT_UINT_EQ(ipc_conn_output_pending(p.conn), 0);
	peer_teardown(&p);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_partial_reads_one_byte_at_a_time(void)
{
	const char *input = TEST_HELLO "{\"op\":\"ping\",\"n\":1}\n";
	size_t len = strlen(input);
	struct peer p;
	peer_setup(&p, &test_settings);
	for (size_t i = 0; i < len; i++) {
		char c[2] = { input[i], '\0' };
		raw_write(p.raw, c);
		ioloop_run_once(p.loop, 100);
		if (i + 1 < len && p.msg_count != 0) {
			TEST_ASSERT(!"message dispatched before its newline");
			break;
		}
	}
	TEST_ASSERT_UINT_EQ(p.msg_count, 1);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	if (p.msg_count == 1) {
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[0], "op"), "ping");
		TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(p.msgs[0], "n")), 1);
		TEST_ASSERT_INT_EQ(p.fds[0], -1);
	}
	peer_teardown(&p);
}

static void test_two_messages_in_one_read(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	raw_write(p.raw, TEST_HELLO "{\"op\":\"a\"}\n{\"op\":\"b\",\"s\":\"x\\ny\"}\n");
	ioloop_run_once(p.loop, 100);
	TEST_ASSERT_UINT_EQ(p.msg_count, 2);
	if (p.msg_count == 2) {
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[0], "op"), "a");
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[1], "op"), "b");
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[1], "s"), "x\ny");
	}
	peer_teardown(&p);
}

/* A line of exactly max_message_bytes passes; one byte more closes the connection as
 * soon as the limit is passed, without waiting for the newline. */
static void test_size_limit(void)
{
	struct ipc_settings set = test_settings;
	char line[80];
	struct peer p;

	set.max_message_bytes = 64;
	peer_setup(&p, &set);
	/* {"op":"x","pad":"…"} = 19 + pad bytes */
	snprintf(line, sizeof(line), "{\"op\":\"x\",\"pad\":\"%045d\"}\n", 0);
	TEST_ASSERT_UINT_EQ(strlen(line), 65);
	raw_write(p.raw, TEST_HELLO);
	raw_write(p.raw, line);
	run_rounds(p.loop, 3);
	TEST_ASSERT_UINT_EQ(p.msg_count, 1);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);

	capture_start();
	snprintf(line, sizeof(line), "{\"op\":\"x\",\"pad\":\"%045d", 0);
	TEST_ASSERT_UINT_EQ(strlen(line), 62);
	raw_write(p.raw, line);
	run_rounds(p.loop, 3);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	raw_write(p.raw, "\"}");  /* 64 bytes, still no newline: fine */
	run_rounds(p.loop, 3);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	raw_write(p.raw, " ");    /* 65 bytes without a newline: too long */
	run_rounds(p.loop, 3);
	const char *log = capture_stop();
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT_STR_EQ(p.reason, "message exceeds 64 bytes");
	TEST_ASSERT(strstr(log, "ipc(test, pid ") != NULL);
	TEST_ASSERT(strstr(log, "closing: message exceeds 64 bytes") != NULL);
	TEST_ASSERT_UINT_EQ(p.msg_count, 1);
	TEST_ASSERT(ipc_conn_is_closed(p.conn));
	peer_teardown(&p);
}

static void test_oversize_complete_line(void)
{
	struct ipc_settings set = test_settings;
	struct peer p;
	set.max_message_bytes = 40;
	peer_setup(&p, &set);
	capture_start();
	raw_write(p.raw, TEST_HELLO "{\"op\":\"01234567890123456789012345678901\"}\n{}\n");
	run_rounds(p.loop, 3);
	capture_stop();
	TEST_ASSERT_UINT_EQ(p.msg_count, 0);
	TEST_ASSERT_STR_EQ(p.reason, "message exceeds 40 bytes");
	peer_teardown(&p);
}

static void expect_close(const char *input, const char *reason)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	capture_start();
	raw_write(p.raw, input);
	run_rounds(p.loop, 3);
	const char *log = capture_stop();
	TEST_ASSERT_UINT_EQ(p.msg_count, 0);
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT_STR_EQ(p.reason, reason);
	TEST_ASSERT(strstr(log, reason) != NULL);
	TEST_ASSERT(strstr(log, "secret") == NULL);
	peer_teardown(&p);
}

static void test_invalid_json_closes(void)
{
	expect_close(TEST_HELLO "{\"op\":\n", "invalid JSON at byte 6: unexpected token");
	expect_close(TEST_HELLO "\n", "invalid JSON at byte 0: '[' or '{' expected");
	/* jansson would quote the bad token ("near '"secret"'"): never logged. */
	expect_close(TEST_HELLO "{\"op\":\"x\" \"secret\"}\n",
		     "invalid JSON at byte 18: '}' expected");
	expect_close(TEST_HELLO "{\"a\":1,\"a\":2}\n",
		     "invalid JSON at byte 10: duplicate object key");
}

static void test_non_object_closes(void)
{
	expect_close(TEST_HELLO "[1,2]\n", "message is not a JSON object");
	expect_close(TEST_HELLO "42\n", "invalid JSON at byte 2: '[' or '{' expected");
}

static void test_message_before_hello_closes(void)
{
	expect_close("{\"op\":\"x\"}\n" TEST_HELLO,
		     "expected a hello for test 1 first, got another message");
	expect_close("{\"hello\":\"test\",\"major\":\"1\",\"minor\":2}\n",
		     "expected a hello for test 1 first, got another message");
}

static void test_hello_mismatch_closes(void)
{
	expect_close("{\"hello\":\"other\",\"major\":1,\"minor\":2}\n",
		     "protocol mismatch: peer speaks other 1.2, we speak test 1");
	expect_close("{\"hello\":\"test\",\"major\":2,\"minor\":0}\n",
		     "protocol mismatch: peer speaks test 2.0, we speak test 1");
	expect_close("{\"hello\":\"te st\\n\",\"major\":0,\"minor\":0}\n",
		     "protocol mismatch: peer speaks te?st? 0.0, we speak test 1");
}

static void test_minor_mismatch_accepted(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	raw_write(p.raw, "{\"hello\":\"test\",\"major\":1,\"minor\":7,\"new\":true}\n{\"op\":\"a\"}\n");
	run_rounds(p.loop, 2);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	TEST_ASSERT_UINT_EQ(p.msg_count, 1);
	peer_teardown(&p);
}

static void test_eof_closes(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	raw_read_line(p.raw);
	raw_write(p.raw, TEST_HELLO "{\"op\":\"a\"}\n{\"op\":");
	run_rounds(p.loop, 1);
	close(p.raw);
	p.raw = -1;
	run_rounds(p.loop, 2);
	TEST_ASSERT_UINT_EQ(p.msg_count, 1);
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT_STR_EQ(p.reason, "EOF");
	peer_teardown(&p);
}

/* A peer that closes without reading what we sent resets the connection. */
static void test_reset_closes(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	raw_write(p.raw, TEST_HELLO);
	close(p.raw);
	p.raw = -1;
	capture_start();
	run_rounds(p.loop, 2);
	const char *log = capture_stop();
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT_STR_EQ(p.reason, "read: Connection reset by peer");
	TEST_ASSERT_STR_EQ(log, "");  /* a normal way to hang up: debug level */
	peer_teardown(&p);
}

/* ---- descriptors ---- */

static void test_fd_between_two_conns(void)
{
	int before = count_fds();
	struct ipc_settings accept = test_settings;
	struct peer a, b;
	int sv[2];

	accept.accept_fds = true;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.raw = b.raw = -1;
	a.loop = b.loop = ioloop_create();
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a.conn = ipc_conn_create(a.loop, sv[0], &accept, peer_on_message, peer_on_close, &a);
	b.conn = ipc_conn_create(b.loop, sv[1], &accept, peer_on_message, peer_on_close, &b);
	int memfd = memfd_with("From: a@b\r\n\r\nbody\r\n");
	json_t *msg = json_pack("{s:s}", "op", "deliver");
	ipc_conn_send(b.conn, msg, memfd);
	ipc_conn_send(b.conn, msg, -1);
	ipc_conn_send(a.conn, msg, memfd);
	json_decref(msg);
	close(memfd);  /* the conns hold their own duplicates until sent */
	for (int i = 0; i < 50 && (a.msg_count < 2 || b.msg_count < 1); i++)
		ioloop_run_once(a.loop, 10);
	TEST_ASSERT_UINT_EQ(a.msg_count, 2);
	TEST_ASSERT_UINT_EQ(b.msg_count, 1);
	TEST_ASSERT(a.fds[0] >= 0 && a.fds[1] == -1 && b.fds[0] >= 0);
	if (a.fds[0] >= 0 && b.fds[0] >= 0) {
		TEST_ASSERT_STR_EQ(fd_content(a.fds[0]), "From: a@b\r\n\r\nbody\r\n");
		TEST_ASSERT_STR_EQ(fd_content(b.fds[0]), "From: a@b\r\n\r\nbody\r\n");
	}
	ipc_conn_destroy(&b.conn);
	b.loop = NULL;
	peer_teardown(&b);
	peer_teardown(&a);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

/* The descriptor goes with the message whose line holds the last byte of the read
 * that brought it, even when earlier lines arrive in the same read. */
static void test_fd_tied_to_its_line(void)
{
	int before = count_fds();
	struct ipc_settings set = test_settings;
	struct peer p;

	set.accept_fds = true;
	peer_setup(&p, &set);
	int memfd1 = memfd_with("one"), memfd2 = memfd_with("two");
	raw_write(p.raw, TEST_HELLO "{\"op\":\"a\",\"x\":\"");
	raw_write(p.raw, "1\"}\n");
	TEST_ASSERT_INT_EQ(fdpass_send(p.raw, memfd1, "{\"op\":\"b\"}\n", 11), 11);
	raw_write(p.raw, "{\"op\":\"c\"}\n");
	run_rounds(p.loop, 3);
	/* A descriptor with the first part of a line, the rest later. */
	TEST_ASSERT_INT_EQ(fdpass_send(p.raw, memfd2, "{\"op\":", 6), 6);
	run_rounds(p.loop, 2);
	raw_write(p.raw, "\"d\"}\n{\"op\":\"e\"}\n");
	run_rounds(p.loop, 2);
	close(memfd1);
	close(memfd2);
	TEST_ASSERT_UINT_EQ(p.msg_count, 5);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	if (p.msg_count == 5) {
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[0], "op"), "a");
		TEST_ASSERT_INT_EQ(p.fds[0], -1);
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[1], "op"), "b");
		TEST_ASSERT_STR_EQ(fd_content(p.fds[1]), "one");
		TEST_ASSERT_INT_EQ(p.fds[2], -1);
		TEST_ASSERT_STR_EQ(msg_str(p.msgs[3], "op"), "d");
		TEST_ASSERT_STR_EQ(fd_content(p.fds[3]), "two");
		TEST_ASSERT_INT_EQ(p.fds[4], -1);
	}
	peer_teardown(&p);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_fd_refused_when_not_accepted(void)
{
	int before = count_fds();
	struct peer p;
	peer_setup(&p, &test_settings);
	int memfd = memfd_with("x");
	raw_write(p.raw, TEST_HELLO);
	TEST_ASSERT_INT_EQ(fdpass_send(p.raw, memfd, "{\"op\":\"b\"}\n", 11), 11);
	close(memfd);
	capture_start();
	run_rounds(p.loop, 3);
	capture_stop();
	TEST_ASSERT_UINT_EQ(p.msg_count, 0);
	TEST_ASSERT_STR_EQ(p.reason,
			   "peer sent a file descriptor, which this socket does not accept");
	peer_teardown(&p);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_fd_errors_never_leak(void)
{
	int before = count_fds();
	struct ipc_settings set = test_settings;
	struct peer p;
	set.accept_fds = true;

	/* Two descriptors for one line. */
	peer_setup(&p, &set);
	int memfd = memfd_with("x");
	raw_write(p.raw, TEST_HELLO);
	TEST_ASSERT_INT_EQ(fdpass_send(p.raw, memfd, "{\"op\":", 6), 6);
	run_rounds(p.loop, 2);
	TEST_ASSERT_INT_EQ(fdpass_send(p.raw, memfd, "\"b\"}\n", 5), 5);
	capture_start();
	run_rounds(p.loop, 2);
	capture_stop();
	TEST_ASSERT_STR_EQ(p.reason, "peer sent two file descriptors for one message");
	peer_teardown(&p);

	/* A descriptor with a line that turns out to be invalid, one with the hello, and
	 * one whose line never completes. */
	const char *lines[] = { TEST_HELLO "{\"op\"\n", "{\"hello\":\"test\",\"major\":1,\"minor\":2}\n",
				TEST_HELLO "{\"op\":" };
	for (size_t i = 0; i < 3; i++) {
		peer_setup(&p, &set);
		TEST_ASSERT(fdpass_send(p.raw, memfd, lines[i], strlen(lines[i])) > 0);
		capture_start();
		run_rounds(p.loop, 2);
		capture_stop();
		TEST_ASSERT_UINT_EQ(p.close_count, i == 2 ? 0 : 1);
		peer_teardown(&p);
	}
	close(memfd);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

/* ---- destroy from callbacks ---- */

static void test_destroy_in_message_callback(void)
{
	int before = count_fds();
	struct ipc_settings set = test_settings;
	struct peer p;
	set.accept_fds = true;
	peer_setup(&p, &set);
	p.destroy_in_message = true;
	int memfd = memfd_with("x");
	raw_write(p.raw, TEST_HELLO "{\"op\":\"a\"}\n");
	/* The second line and its descriptor arrive in the same read: never dispatched,
	 * and the descriptor is closed by the destroy. */
	TEST_ASSERT_INT_EQ(fdpass_send(p.raw, memfd, "{\"op\":\"b\"}\n{\"op\":", 16), 16);
	close(memfd);
	run_rounds(p.loop, 3);
	TEST_ASSERT_UINT_EQ(p.msg_count, 1);
	TEST_ASSERT(p.conn == NULL);
	TEST_ASSERT_UINT_EQ(p.close_count, 0);
	peer_teardown(&p);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_destroy_in_close_callback(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	p.destroy_in_close = true;
	capture_start();
	raw_write(p.raw, TEST_HELLO "not json\n{\"op\":\"a\"}\n");
	run_rounds(p.loop, 3);
	capture_stop();
	TEST_ASSERT_UINT_EQ(p.close_count, 1);
	TEST_ASSERT_UINT_EQ(p.msg_count, 0);
	TEST_ASSERT(p.conn == NULL);
	peer_teardown(&p);
}

static void test_peer_credentials(void)
{
	struct peer p;
	peer_setup(&p, &test_settings);
	const struct ucred *cred = ipc_conn_peer_cred(p.conn);
	TEST_ASSERT(cred != NULL);
	if (cred != NULL) {
		TEST_ASSERT_INT_EQ(cred->pid, getpid());
		TEST_ASSERT_UINT_EQ(cred->uid, getuid());
		TEST_ASSERT_UINT_EQ(cred->gid, getgid());
	}
	peer_teardown(&p);
}

TEST_MAIN(TEST(test_hello_is_sent_first), TEST(test_partial_reads_one_byte_at_a_time),
	  TEST(test_two_messages_in_one_read), TEST(test_size_limit),
	  TEST(test_oversize_complete_line), TEST(test_invalid_json_closes),
	  TEST(test_non_object_closes), TEST(test_message_before_hello_closes),
	  TEST(test_hello_mismatch_closes), TEST(test_minor_mismatch_accepted),
	  TEST(test_eof_closes), TEST(test_reset_closes), TEST(test_fd_between_two_conns),
	  TEST(test_fd_tied_to_its_line), TEST(test_fd_refused_when_not_accepted),
	  TEST(test_fd_errors_never_leak), TEST(test_destroy_in_message_callback),
	  TEST(test_destroy_in_close_callback), TEST(test_peer_credentials))
