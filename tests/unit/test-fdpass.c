#include "test.h"
#include "fdpass.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static int count_fds(void)
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

static int memfd_with(const char *content)
{
	int fd = memfd_create("test-fdpass", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_send_and_receive_memfd(void)
{
	int before = count_fds(), sv[2], fd = -2;
	char buf[16], content[16] = "";
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int memfd = memfd_with("payload");
	TEST_ASSERT(memfd >= 0);
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], memfd, "ab", 2), 2);
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), 2);
	TEST_ASSERT_MEM_EQ(buf, 2, "ab", 2);
	TEST_ASSERT(fd >= 0 && fd != memfd);
	TEST_ASSERT((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	TEST_ASSERT_INT_EQ(pread(fd, content, sizeof(content) - 1, 0), 7);
	TEST_ASSERT_STR_EQ(content, "payload");
	close(fd);
	close(memfd);
	close(sv[0]);
	close(sv[1]);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void test_plain_data_and_eof(void)
{
	int sv[2], fd = -2;
	char buf[16];
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], -1, "hello", 5), 5);
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), 5);
	TEST_ASSERT_INT_EQ(fd, -1);
	TEST_ASSERT_MEM_EQ(buf, 5, "hello", 5);
	errno = 0;
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], -1, "", 0), -1);
	TEST_ASSERT_INT_EQ(errno, EINVAL);
	close(sv[0]);
	fd = -2;
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), 0);
	TEST_ASSERT_INT_EQ(fd, -1);
	close(sv[1]);
}

static void test_closed_peer_is_epipe(void)
{
	int sv[2];
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	errno = 0;
	/* MSG_NOSIGNAL: without it this test would die of SIGPIPE. */
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], -1, "x", 1), -1);
	TEST_ASSERT_INT_EQ(errno, EPIPE);
	close(sv[0]);
}

/* The rule ipc.c relies on: a read that returns a descriptor ends inside the data
 * sent with it, and may start with earlier data. */
static void test_descriptor_ends_the_read(void)
{
	int before = count_fds(), sv[2], fd = -2;
	char buf[16];
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int memfd = memfd_with("x");
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], -1, "abc", 3), 3);
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], memfd, "de", 2), 2);
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], -1, "fg", 2), 2);
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), 5);
	TEST_ASSERT_MEM_EQ(buf, 5, "abcde", 5);
	TEST_ASSERT(fd >= 0);
	close(fd);
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), 2);
	TEST_ASSERT_MEM_EQ(buf, 2, "fg", 2);
	TEST_ASSERT_INT_EQ(fd, -1);
	/* A short read of the data sent with a descriptor still returns it. */
	TEST_ASSERT_INT_EQ(fdpass_send(sv[0], memfd, "hijk", 4), 4);
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, 1), 1);
	TEST_ASSERT(fd >= 0);
	close(fd);
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), 3);
	TEST_ASSERT_INT_EQ(fd, -1);
	close(memfd);
	close(sv[0]);
	close(sv[1]);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

static void send_two_fds(int sock, int fd1, int fd2)
{
	union { struct cmsghdr align; char buf[CMSG_SPACE(2 * sizeof(int))]; } control;
	struct iovec iov = { .iov_base = (void *)"x", .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	int fds[2] = { fd1, fd2 };
	memset(&control, 0, sizeof(control));
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	TEST_ASSERT_INT_EQ(sendmsg(sock, &msg, 0), 1);
}

static void test_two_descriptors_refused_and_closed(void)
{
	int before = count_fds(), sv[2], fd = -2;
	char buf[4];
	TEST_ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int a = memfd_with("a"), b = memfd_with("b");
	send_two_fds(sv[0], a, b);
	close(a);
	close(b);
	errno = 0;
	TEST_ASSERT_INT_EQ(fdpass_recv(sv[1], &fd, buf, sizeof(buf)), -1);
	TEST_ASSERT_INT_EQ(errno, EPROTO);
	TEST_ASSERT_INT_EQ(fd, -1);
	close(sv[0]);
	close(sv[1]);
	TEST_ASSERT_INT_EQ(count_fds(), before);
}

TEST_MAIN(TEST(test_send_and_receive_memfd), TEST(test_plain_data_and_eof),
	  TEST(test_closed_peer_is_epipe), TEST(test_descriptor_ends_the_read),
	  TEST(test_two_descriptors_refused_and_closed))
