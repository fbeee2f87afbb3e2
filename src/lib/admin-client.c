/* Socket path and connection for the admin service's clients (see admin-client.h). */
#include "admin-client.h"
#include "alloc.h"
#include "ipc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/stat.h>

static bool is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

char *admin_client_socket_path(const char *explicit_path)
{
	const char *env = getenv("PYMAP_ADMIN_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (explicit_path != NULL && explicit_path[0] != '\0')
		return i_strdup(explicit_path);
	if (env != NULL && env[0] != '\0')
		return i_strdup(env);
	char *candidates[3] = {
		i_strdup("/run/pymap/admin.sock"),
		xdg != NULL && xdg[0] != '\0' ? i_strdup_printf("%s/pymap/admin.sock", xdg) : NULL,
		i_strdup_printf("/tmp/pymap-%u/admin.sock", (unsigned int)getuid()),
	};
	char *found = NULL;
	for (unsigned int i = 0; i < 3; i++) {
		if (found == NULL && candidates[i] != NULL && is_socket(candidates[i])) {
			found = candidates[i];
			candidates[i] = NULL;
		}
	}
	if (found == NULL) {
		found = candidates[0];
		candidates[0] = NULL;
	}
	for (unsigned int i = 0; i < 3; i++)
		free(candidates[i]);
	return found;
}

struct ipc_client *admin_client_connect(const char *path, unsigned int timeout_msecs,
					const char **error_r)
{
	static const struct ipc_settings set = {
		.protocol = ADMIN_CLIENT_PROTOCOL,
		.major = ADMIN_CLIENT_MAJOR,
		.minor = ADMIN_CLIENT_MINOR,
		.max_message_bytes = ADMIN_MAX_MESSAGE_BYTES,
	};
	return ipc_client_connect(path, &set, timeout_msecs, error_r);
}

static int spool_copy(int in_fd, int out_fd, unsigned long long limit, const char **error_r)
{
	static char error_buf[256];
	char buf[65536];
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = read(in_fd, buf, sizeof(buf));
		if (n == 0)
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(error_buf, sizeof(error_buf), "reading the message: %s",
				 strerror(errno));
			*error_r = error_buf;
			return -1;
		}
		total += (unsigned long long)n;
		if (total > limit)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(error_buf, sizeof(error_buf), "spooling the message: %s",
					 strerror(errno));
				*error_r = error_buf;
				return -1;
			}
			off += w;
		}
	}
}

int admin_client_spool(int in_fd, unsigned long long limit, int *fd_r, const char **error_r)
{
	struct stat st;
	if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    lseek(in_fd, 0, SEEK_CUR) == 0) {
		if ((unsigned long long)st.st_size > limit)
			return 0;
		*fd_r = in_fd;
		return 1;
	}
	int fd = memfd_create("pymap-message", MFD_CLOEXEC);
	if (fd < 0) {
		*error_r = "memfd_create failed";
		return -1;
	}
	int ret = spool_copy(in_fd, fd, limit, error_r);
	if (ret <= 0) {
		close(fd);
		return ret;
	}
	*fd_r = fd;
	return 1;
}
