/* The blocking ipc_client against an ipc_conn server running on an ioloop in a forked
 * child. */
#include "ipc-test.h"

#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>

struct server {
	struct ioloop *loop;
	int listen_fd;
	struct io *io;
	struct ipc_settings set;
};

static void server_reply(struct ipc_conn *conn, json_t *reply, int fd)
{
	ipc_conn_send(conn, reply, fd);
	json_decref(reply);
	if (fd >= 0)
		close(fd);
}

static void server_on_message(struct ipc_conn *conn, json_t *msg, int fd, void *context)
{
	const char *name = json_string_value(json_object_get(msg, "op"));
	json_t *reply = ipc_reply_ok(msg);
	(void)context;

	if (name == NULL || strcmp(name, "echo") == 0) {
		json_object_set(reply, "v", json_object_get(msg, "v"));
	} else if (strcmp(name, "readfd") == 0) {
		json_object_set_new(reply, "content", json_string(fd < 0 ? "(none)" : fd_content(fd)));
	} else if (strcmp(name, "getfile") == 0) {
		server_reply(conn, reply, memfd_with("reply file"));
		reply = NULL;
	} else if (strcmp(name, "fail") == 0) {
		json_decref(reply);
		reply = ipc_reply_error(msg, "NOTFOUND", "No such thing.");
	} else if (strcmp(name, "noise") == 0) {
		/* An event and a stray reply before the real one. */
		server_reply(conn, json_pack("{s:s}", "event", "x"), -1);
		server_reply(conn, json_pack("{s:I,s:b}", "id",
				 json_integer_value(json_object_get(msg, "id")) + 100, "ok", 1), -1);
		json_object_set_new(reply, "v", json_integer(3));
	} else if (strcmp(name, "slow") == 0) {
		json_decref(reply);
		reply = NULL;
	} else if (strcmp(name, "bye") == 0) {
		json_decref(reply);
		reply = NULL;
		ipc_conn_destroy(&conn);
	}
	if (reply != NULL)
		server_reply(conn, reply, -1);
	if (fd >= 0)
		close(fd);
}

static void server_on_close(struct ipc_conn *conn, const char *reason, void *context)
{
	(void)reason;
	(void)context;
	ipc_conn_destroy(&conn);
}

static void server_accept(void *context)
{
	struct server *srv = context;
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		(void)ipc_conn_create(srv->loop, fd, &srv->set, server_on_message,
				      server_on_close, srv);
}

static const char *socket_path(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	return path;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		abort();
	return fd;
}

/* Fork a server (serve = false: listen but never accept). Returns its pid. */
static pid_t start_server(const char *path, const char *protocol, bool serve)
{
	int listen_fd = listen_unix(path);
	pid_t pid = fork();
	if (pid == 0) {
		struct server srv = { .listen_fd = listen_fd, .set = test_settings };
		srv.set.protocol = protocol;
		srv.set.accept_fds = true;
		srv.loop = ioloop_create();
		if (serve)
			srv.io = io_add(srv.loop, listen_fd, IO_READ, server_accept, &srv);
		alarm(20);
		ioloop_run(srv.loop);
		_exit(0);
	}
	close(listen_fd);
	return pid;
}

static void stop_server(pid_t pid)
{
	int status;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
}

static json_t *call_ok(struct ipc_client *client, json_t *request, int send_fd, int *fd_r)
{
	json_t *reply = NULL;
	const char *error = "(unset)";
	int fd = -1;
	int ret = ipc_client_call(client, request, send_fd, &reply, &fd, &error);
	TEST_ASSERT_INT_EQ(ret, 0);
	if (ret < 0)
		fprintf(stderr, "call failed: %s\n", error);
	json_decref(request);
	if (fd_r != NULL)
		*fd_r = fd;
	else if (fd >= 0)
		close(fd);
	return reply;
}

static void test_client_calls(void)
{
	int before = count_fds();
	const char *path = socket_path("calls.sock");
	pid_t pid = start_server(path, "test", true);
	struct ipc_settings set = test_settings;
	const char *error = NULL;
	int fd;

	set.accept_fds = true;
	struct ipc_client *client = ipc_client_connect(path, &set, 2000, &error);
	TEST_ASSERT(client != NULL);
	if (client == NULL) {
		fprintf(stderr, "connect: %s\n", error);
		stop_server(pid);
		return;
	}
	json_t *req = json_pack("{s:s,s:i}", "op", "echo", "v", 5);
	json_t *reply = call_ok(client, json_incref(req), -1, &fd);
	TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(req, "id")), 1);
	TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(reply, "id")), 1);
	TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(reply, "v")), 5);
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(reply), IPC_REPLY_OK);
	TEST_ASSERT_INT_EQ(fd, -1);
	json_decref(reply);
	json_decref(req);

	int memfd = memfd_with("hello fd");
	reply = call_ok(client, json_pack("{s:s}", "op", "readfd"), memfd, NULL);
	close(memfd);
	TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(reply, "id")), 2);
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(reply, "content")), "hello fd");
	json_decref(reply);

	reply = call_ok(client, json_pack("{s:s}", "op", "getfile"), -1, &fd);
	TEST_ASSERT(fd >= 0);
	if (fd >= 0) {
		TEST_ASSERT_STR_EQ(fd_content(fd), "reply file");
		close(fd);
	}
	json_decref(reply);

	reply = call_ok(client, json_pack("{s:s}", "op", "fail"), -1, NULL);
	TEST_ASSERT_INT_EQ(ipc_reply_get_kind(reply), IPC_REPLY_ERROR);
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(reply, "code")), "NOTFOUND");
	json_decref(reply);

	reply = call_ok(client, json_pack("{s:s}", "op", "noise"), -1, NULL);
	TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(reply, "id")), 5);
	TEST_ASSERT_INT_EQ(json_integer_value(json_object_get(reply, "v")), 3);
	json_decref(reply);

	ipc_client_destroy(&client);
	TEST_ASSERT(client == NULL);
	stop_server(pid);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_client_timeout_and_close(void)
{
	int before = count_fds();
	const char *path = socket_path("slow.sock");
	pid_t pid = start_server(path, "test", true);
	const char *error = NULL;
	char expect[512];
	json_t *reply = NULL;
	int fd = -1;

	struct ipc_client *client = ipc_client_connect(path, &test_settings, 200, &error);
	TEST_ASSERT(client != NULL);
	if (client != NULL) {
		json_t *req = json_pack("{s:s}", "op", "slow");
		TEST_ASSERT_INT_EQ(ipc_client_call(client, req, -1, &reply, &fd, &error), -1);
		snprintf(expect, sizeof(expect), "%s: timed out waiting for the reply", path);
		TEST_ASSERT_STR_EQ(error, expect);
		TEST_ASSERT(reply == NULL && fd == -1);
		TEST_ASSERT_INT_EQ(ipc_client_call(client, req, -1, &reply, &fd, &error), -1);
		snprintf(expect, sizeof(expect), "%s: connection unusable after an earlier error",
			 path);
		TEST_ASSERT_STR_EQ(error, expect);
		json_decref(req);
		ipc_client_destroy(&client);
	}

	client = ipc_client_connect(path, &test_settings, 2000, &error);
	TEST_ASSERT(client != NULL);
	if (client != NULL) {
		json_t *req = json_pack("{s:s}", "op", "bye");
		TEST_ASSERT_INT_EQ(ipc_client_call(client, req, -1, &reply, &fd, &error), -1);
		snprintf(expect, sizeof(expect), "%s: connection closed by the server", path);
		TEST_ASSERT_STR_EQ(error, expect);
		json_decref(req);
		ipc_client_destroy(&client);
	}
	stop_server(pid);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_client_connect_errors(void)
{
	int before = count_fds();
	const char *error = NULL;
	char path[256], expect[512];

	snprintf(path, sizeof(path), "%s", socket_path("nosuch.sock"));
	TEST_ASSERT(ipc_client_connect(path, &test_settings, 1000, &error) == NULL);
	snprintf(expect, sizeof(expect), "connect(%s): No such file or directory", path);
	TEST_ASSERT_STR_EQ(error, expect);

	char long_path[200];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	TEST_ASSERT(ipc_client_connect(long_path, &test_settings, 1000, &error) == NULL);
	snprintf(expect, sizeof(expect), "connect(%s): File name too long", long_path);
	TEST_ASSERT_STR_EQ(error, expect);

	snprintf(path, sizeof(path), "%s", socket_path("other.sock"));
	pid_t pid = start_server(path, "other", true);
	TEST_ASSERT(ipc_client_connect(path, &test_settings, 1000, &error) == NULL);
	snprintf(expect, sizeof(expect),
		 "%s: protocol mismatch: peer speaks other 1.2, we speak test 1", path);
	TEST_ASSERT_STR_EQ(error, expect);
	stop_server(pid);

	/* Nobody accepts: the connect succeeds (backlog), the hello never comes. */
	snprintf(path, sizeof(path), "%s", socket_path("mute.sock"));
	pid = start_server(path, "test", false);
	TEST_ASSERT(ipc_client_connect(path, &test_settings, 100, &error) == NULL);
	snprintf(expect, sizeof(expect), "%s: timed out waiting for the server's hello", path);
	TEST_ASSERT_STR_EQ(error, expect);
	stop_server(pid);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

TEST_MAIN(TEST(test_client_calls), TEST(test_client_timeout_and_close),
	  TEST(test_client_connect_errors))
