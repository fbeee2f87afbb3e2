#include "pidfile.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct pidfile {
	char *path;
	int fd;
};

struct pidfile *pidfile_create(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		log_error_errno("pid file %s", path);
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_error("pid file %s: pymap is already running (pid %s)", path,
			  buf[0] != '\0' ? buf : "?");
		close(fd);
		return NULL;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		log_error_errno("pid file %s: write", path);
		close(fd);
		unlink(path);
		return NULL;
	}
	struct pidfile *pf = i_new0(struct pidfile);
	pf->path = i_strdup(path);
	pf->fd = fd;
	return pf;
}

void pidfile_remove(struct pidfile **_pf)
{
	struct pidfile *pf = *_pf;
	if (pf == NULL)
		return;
	*_pf = NULL;
	unlink(pf->path);
	close(pf->fd);
	i_free(pf->path);
	i_free(pf);
}
