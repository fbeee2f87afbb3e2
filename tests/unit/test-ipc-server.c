#include "test.h"
#include "ioloop.h"
#include "ipc.h"
#include "ipc-server.h"

#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct seen {
	unsigned int messages, closed, count;
	char op[32];
};

static void on_message(struct ipc_conn *conn, json_t *msg, int fd, void *context)
{
	struct seen *seen = context;
	(void)conn;
	if (fd >= 0)
		close(fd);
	seen->messages++;
	snprintf(seen->op, sizeof(seen->op), "%s", json_string_value(json_object_get(msg, "op")));
}

static void on_closed(struct ipc_conn *conn, void *context)
{
	(void)conn;
	((struct seen *)context)->closed++;
}

static void on_count(unsigned int count, void *context)
{
	((struct seen *)context)->count = count;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0)
		return -1;
	return fd;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -1 : fd;
}

static void spin(struct ioloop *loop)
{
	for (int i = 0; i < 10; i++)
		ioloop_run_once(loop, 20);
}

static void test_accept_dispatch_limit_close(void)
{
	static const struct ipc_settings set = { .protocol = "test", .major = 1 };
	static const struct ipc_server_callbacks callbacks = {
		.message = on_message, .closed = on_closed, .count_changed = on_count,
	};
	char path[96];
	struct seen seen = { 0 };
	snprintf(path, sizeof(path), "%s/s.sock", test_tmpdir());
	int lfd = listen_unix(path);
	TEST_ASSERT(lfd >= 0);
	struct ioloop *loop = ioloop_create();
	struct ipc_server *server = ipc_server_create(loop, "test", lfd, &set, 1, &callbacks, &seen);

	int c1 = connect_unix(path);
	const char *lines = "{\"hello\":\"test\",\"major\":1,\"minor\":0}\n{\"id\":1,\"op\":\"x\"}\n";
	TEST_ASSERT(write(c1, lines, strlen(lines)) == (ssize_t)strlen(lines));
	spin(loop);
	TEST_ASSERT_INT_EQ(seen.messages, 1);
	TEST_ASSERT_STR_EQ(seen.op, "x");
	TEST_ASSERT_INT_EQ(seen.count, 1);
	TEST_ASSERT_INT_EQ(ipc_server_connection_count(server), 1);

	/* Over the limit: the second connection is closed at once. */
	int c2 = connect_unix(path);
	spin(loop);
	char buf[256];
	TEST_ASSERT_INT_EQ(read(c2, buf, sizeof(buf)), 0);
	TEST_ASSERT_INT_EQ(ipc_server_connection_count(server), 1);

	close(c1);
	spin(loop);
	TEST_ASSERT_INT_EQ(seen.closed, 1);
	TEST_ASSERT_INT_EQ(seen.count, 0);

	/* Destroy closes what is left and runs the closed callback. */
	int c3 = connect_unix(path);
	spin(loop);
	TEST_ASSERT_INT_EQ(seen.count, 1);
	ipc_server_destroy(&server);
	TEST_ASSERT(server == NULL);
	TEST_ASSERT_INT_EQ(seen.closed, 2);
	close(c2);
	close(c3);
	close(lfd);
	ioloop_destroy(&loop);
}

TEST_MAIN(TEST(test_accept_dispatch_limit_close))
