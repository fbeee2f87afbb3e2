#ifndef PYMAP_IPC_TEST_H
#define PYMAP_IPC_TEST_H
/* Helpers shared by test-ipc*.c: an ipc_conn on one end of a socketpair with a raw
 * test-controlled peer on the other, recording callbacks; descriptor counting; log
 * capture. Header-only so each test binary stays one file. */
#include "test.h"
#include "ioloop.h"
#include "ipc.h"
#include "fdpass.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define UNUSED __attribute__((unused))
#define TEST_HELLO "{\"hello\":\"test\",\"major\":1,\"minor\":2}\n"
#define TEST_MAX_MSGS 32

struct peer {
	struct ioloop *loop;
	struct ipc_conn *conn;
	int raw;                        /* the test's end of the socketpair */
	json_t *msgs[TEST_MAX_MSGS];
	int fds[TEST_MAX_MSGS];
	unsigned int msg_count;
	unsigned int close_count;
	char reason[256];
	unsigned int replies_before_close; /* reply callbacks run before on_close */
	bool destroy_in_message, destroy_in_close;
};

static UNUSED const struct ipc_settings test_settings = {
	.protocol = "test", .major = 1, .minor = 2,
};

static UNUSED int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int count = 0;
	if (dir == NULL)
		return -1;
	while (readdir(dir) != NULL)
		count++;
	closedir(dir);
	return count;
}

static UNUSED int memfd_with(const char *content)
{
	int fd = memfd_create("test-ipc", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The whole content of a descriptor from offset 0 (static buffer). */
static UNUSED const char *fd_content(int fd)
{
	static char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static UNUSED void peer_on_message(struct ipc_conn *conn, json_t *msg, int fd, void *context)
{
	struct peer *p = context;
	TEST_ASSERT(conn == p->conn);
	if (p->msg_count < TEST_MAX_MSGS) {
		p->msgs[p->msg_count] = json_incref(msg);
		p->fds[p->msg_count] = fd;
	} else if (fd >= 0) {
		close(fd);
	}
	p->msg_count++;
	if (p->destroy_in_message)
		ipc_conn_destroy(&p->conn);
}

static UNUSED void peer_on_close(struct ipc_conn *conn, const char *reason, void *context)
{
	struct peer *p = context;
	TEST_ASSERT(conn == p->conn);
	p->close_count++;
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	if (p->destroy_in_close)
		ipc_conn_destroy(&p->conn);
}

static UNUSED void peer_setup(struct peer *p, const struct ipc_settings *set)
{
	int sv[2];
	memset(p, 0, sizeof(*p));
	p->loop = ioloop_create();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	p->raw = sv[1];
	p->conn = ipc_conn_create(p->loop, sv[0], set, peer_on_message, peer_on_close, p);
}

static UNUSED void peer_teardown(struct peer *p)
{
	ipc_conn_destroy(&p->conn);
	if (p->raw >= 0)
		close(p->raw);
	for (unsigned int i = 0; i < p->msg_count && i < TEST_MAX_MSGS; i++) {
		json_decref(p->msgs[i]);
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	}
	ioloop_destroy(&p->loop);
}

static UNUSED void run_rounds(struct ioloop *loop, unsigned int rounds)
{
	for (unsigned int i = 0; i < rounds; i++)
		ioloop_run_once(loop, 5);
}

static UNUSED void raw_write(int fd, const char *data)
{
	size_t len = strlen(data), pos = 0;
	while (pos < len) {
		ssize_t n = write(fd, data + pos, len - pos);
		if (n <= 0) {
			TEST_ASSERT(!"raw write failed");
			return;
		}
		pos += (size_t)n;
	}
}

/* One line without its '\n' (static buffer), waiting up to a second; "" on EOF. */
static UNUSED const char *raw_read_line(int fd)
{
	static char line[128 * 1024];
	size_t len = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (len < sizeof(line) - 1) {
		if (poll(&pfd, 1, 1000) <= 0 || read(fd, line + len, 1) != 1)
			break;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	return line;
}

/* Log capture: stderr goes into a memfd until capture_stop(). */
static int capture_saved_fd = -1, capture_fd = -1;

static UNUSED void capture_start(void)
{
	capture_fd = memfd_create("test-log", MFD_CLOEXEC);
	capture_saved_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
	dup2(capture_fd, STDERR_FILENO);
}

/* The captured log (static buffer). */
static UNUSED const char *capture_stop(void)
{
	static char buf[8192];
	dup2(capture_saved_fd, STDERR_FILENO);
	close(capture_saved_fd);
	ssize_t n = pread(capture_fd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	close(capture_fd);
	capture_fd = capture_saved_fd = -1;
	return buf;
}

#endif
