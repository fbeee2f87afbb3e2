#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t fdpass_send(int sock, int fd, const void *data, size_t size)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t ret;

	if (size == 0) {
		/* A stream socket carries no descriptor without data. */
		errno = EINVAL;
		return -1;
	}
	if (fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		ret = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (ret < 0 && errno == EINTR);
	return ret;
}

/* Collect the descriptors of every SCM_RIGHTS header. Returns how many were found
 * (at most max are stored in fds; the rest are closed here). */
static unsigned int collect_fds(struct msghdr *msg, int *fds, unsigned int max)
{
	unsigned int count = 0;

	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	     cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
		    cmsg->cmsg_len < CMSG_LEN(0))
			continue;
		size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
			if (count < max)
				fds[count] = fd;
			else
				close(fd);
			count++;
		}
	}
	return count;
}

ssize_t fdpass_recv(int sock, int *fd_r, void *data, size_t size)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX_RECV_FDS)];
	} control;
	struct iovec iov = { .iov_base = data, .iov_len = size };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	int fds[FDPASS_MAX_RECV_FDS];
	ssize_t ret;

	*fd_r = -1;
	do {
		ret = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -1;
	unsigned int count = collect_fds(&msg, fds, FDPASS_MAX_RECV_FDS);
	if (count > 1 || (msg.msg_flags & MSG_CTRUNC) != 0 || (count == 1 && ret == 0)) {
		for (unsigned int i = 0; i < count && i < FDPASS_MAX_RECV_FDS; i++)
			close(fds[i]);
		errno = EPROTO;
		return -1;
	}
	if (count == 1)
		*fd_r = fds[0];
	return ret;
}
