#include "systemd.h"
#include "alloc.h"
#include "log.h"
#include "strnum.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3
#define SD_MAX_LISTEN_FDS 64

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;

void systemd_notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return;
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(notify_addr.sun_path)) {
		log_warning("NOTIFY_SOCKET=%s: not a usable socket path, ignored", path);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				      (path[0] == '@' ? 0 : 1));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0)
		log_warning_errno("NOTIFY_SOCKET: socket()");
	unsetenv("NOTIFY_SOCKET");
}

void systemd_notify_deinit(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

void systemd_notify(const char *fmt, ...)
{
	if (notify_fd < 0)
		return;
	char msg[512];
	va_list args;
	va_start(args, fmt);
	int len = vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	if (len < 0 || (size_t)len >= sizeof(msg))
		return;
	if (sendto(notify_fd, msg, (size_t)len, MSG_NOSIGNAL,
		   (const struct sockaddr *)&notify_addr, notify_addr_len) < 0)
		log_debug("sd_notify(%s): %m", msg);
}

static void listen_fds_unset(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

static unsigned int listen_fds_count(void)
{
	const char *pid_str = getenv("LISTEN_PID"), *fds_str = getenv("LISTEN_FDS");
	unsigned int pid, count;
	if (pid_str == NULL || fds_str == NULL)
		return 0;
	if (str_to_uint(pid_str, &pid) < 0 || (pid_t)pid != getpid()) {
		log_debug("LISTEN_PID=%s is not this process: ignoring LISTEN_FDS", pid_str);
		return 0;
	}
	if (str_to_uint(fds_str, &count) < 0 || count > SD_MAX_LISTEN_FDS) {
		log_warning("LISTEN_FDS=%s: invalid, ignored", fds_str);
		return 0;
	}
	return count;
}

unsigned int systemd_listen_fds(struct systemd_listen_fd **fds_r)
{
	unsigned int count = listen_fds_count();
	const char *names = getenv("LISTEN_FDNAMES");
	*fds_r = NULL;
	if (count == 0) {
		listen_fds_unset();
		return 0;
	}
	struct systemd_listen_fd *fds = i_new(struct systemd_listen_fd, count);
	for (unsigned int i = 0; i < count; i++) {
		fds[i].fd = SD_LISTEN_FDS_START + (int)i;
		fds[i].name[0] = '\0';
		fcntl(fds[i].fd, F_SETFD, FD_CLOEXEC);
		if (names == NULL)
			continue;
		const char *end = strchr(names, ':');
		size_t len = end == NULL ? strlen(names) : (size_t)(end - names);
		snprintf(fds[i].name, sizeof(fds[i].name), "%.*s", (int)len, names);
		names = end == NULL ? NULL : end + 1;
	}
	listen_fds_unset();
	*fds_r = fds;
	return count;
}
