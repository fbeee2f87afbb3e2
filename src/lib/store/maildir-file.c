/* File helpers for the maildir backend. */
#include "maildir-file.h"
#include "alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define MAILDIR_STAMP_RECENT_SECS 2
#define MAILDIR_STAMP_SETTLE_NSECS 20000000   /* 20 ms: coarse clock ticks, granularity */

static void stamp_from_stat(const struct stat *st, struct maildir_stamp *stamp_r)
{
	stamp_r->exists = true;
	stamp_r->ino = (uint64_t)st->st_ino;
	stamp_r->size = (uint64_t)st->st_size;
	stamp_r->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	stamp_r->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
}

int maildir_stamp_get(const char *path, struct maildir_stamp *stamp_r)
{
	struct stat st;
	memset(stamp_r, 0, sizeof(*stamp_r));
	if (lstat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	stamp_from_stat(&st, stamp_r);
	return 0;
}

bool maildir_stamp_equal(const struct maildir_stamp *a, const struct maildir_stamp *b)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->ino == b->ino && a->size == b->size && a->mtime_sec == b->mtime_sec &&
	       a->mtime_nsec == b->mtime_nsec;
}

bool maildir_stamp_is_recent(const struct maildir_stamp *stamp)
{
	struct timespec now;
	if (!stamp->exists)
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec - stamp->mtime_sec < MAILDIR_STAMP_RECENT_SECS;
}

/* Local file systems that stamp with the kernel's clock in nanoseconds. */
bool maildir_fs_has_fine_clock(const char *path)
{
	static const unsigned long fine[] = {
		0xEF53,        /* ext2/3/4 */
		0x01021994,    /* tmpfs */
		0x58465342,    /* xfs */
		0x9123683E,    /* btrfs */
	};
	struct statfs sfs;
	if (statfs(path, &sfs) < 0)
		return false;
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		if ((unsigned long)sfs.f_type == fine[i])
			return true;
	}
	return false;
}

void maildir_stamp_clock(struct timespec *now_r)
{
	clock_gettime(CLOCK_REALTIME_COARSE, now_r);
}

bool maildir_stamp_is_unsettled(const struct maildir_stamp *stamp,
				const struct timespec *taken, bool fine_clock)
{
	if (!stamp->exists)
		return false;
	if (!fine_clock || stamp->mtime_nsec == 0)
		return (int64_t)taken->tv_sec - stamp->mtime_sec < MAILDIR_STAMP_RECENT_SECS;
	/* A change after the stamp was read gets an mtime of at least the coarse clock
	 * then, which is at least taken: an mtime clearly below taken cannot recur. */
	int64_t mtime_ns = stamp->mtime_sec * 1000000000 + stamp->mtime_nsec;
	int64_t taken_ns = (int64_t)taken->tv_sec * 1000000000 + taken->tv_nsec;
	return mtime_ns > taken_ns - MAILDIR_STAMP_SETTLE_NSECS;
}

int maildir_file_read(const char *path, size_t max_size, char **data_r, size_t *size_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max_size) {
		int err = errno;
		if ((size_t)st.st_size > max_size)
			err = EFBIG;
		close(fd);
		errno = err;
		return -1;
	}
	size_t alloc = (size_t)st.st_size + 1, used = 0;
	char *data = i_malloc(alloc);
	for (;;) {
		if (used + 1 >= alloc) {
			if (alloc > max_size + 1) {
				free(data);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			alloc *= 2;
			data = i_realloc(data, alloc);
		}
		ssize_t n = read(fd, data + used, alloc - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			free(data);
			close(fd);
			errno = err;
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	data[used] = '\0';
	*data_r = data;
	*size_r = used;
	return 1;
}

int maildir_write_full(int fd, const void *data, size_t size)
{
	const unsigned char *p = data;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int maildir_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = fsync(fd);
	int err = errno;
	close(fd);
	errno = err;
	return ret;
}

static char *parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return i_strdup(".");
	if (slash == path)
		return i_strdup("/");
	return i_strndup(path, (size_t)(slash - path));
}

int maildir_file_replace(const char *path, const void *data, size_t size, mode_t mode,
			 bool durable)
{
	static unsigned int counter;
	char *tmp = i_strdup_printf("%s.tmp.%ld.%u", path, (long)getpid(), ++counter);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int err;
	if (fd < 0) {
		err = errno;
		free(tmp);
		errno = err;
		return -1;
	}
	if (maildir_write_full(fd, data, size) < 0 || (durable && fsync(fd) < 0)) {
		err = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		err = errno;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		err = errno;
		goto fail;
	}
	free(tmp);
	if (!durable)
		return 0;
	char *dir = parent_dir(path);
	(void)maildir_fsync_dir(dir);
	free(dir);
	return 0;
fail:
	(void)unlink(tmp);
	free(tmp);
	errno = err;
	return -1;
}

/* Is fd the file of (ino, size), ending with last_byte (when >= 0)? */
static bool append_target_ok(int fd, uint64_t ino, uint64_t size, int last_byte)
{
	struct stat st;
	unsigned char last;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino ||
	    (uint64_t)st.st_size != size)
		return false;
	return last_byte < 0 ||
	       (size > 0 && pread(fd, &last, 1, (off_t)size - 1) == 1 && last == last_byte);
}

int maildir_file_append(const char *path, uint64_t ino, uint64_t size, int last_byte,
			const void *data, size_t data_size, bool durable,
			struct maildir_stamp *stamp_r)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);   /* read: its last byte */
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (!append_target_ok(fd, ino, size, last_byte)) {
		close(fd);
		return 0;
	}
	if (maildir_write_full(fd, data, data_size) < 0 || (durable && fdatasync(fd) < 0) ||
	    fstat(fd, &st) < 0) {
		int err = errno;
		if (ftruncate(fd, (off_t)size) < 0) {
			/* a torn tail stays: readers check every record */
		}
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	stamp_from_stat(&st, stamp_r);
	return 1;
}

int maildir_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int maildir_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	DIR *dir = opendir(path);
	if (dir == NULL)
		return -1;
	struct dirent *d;
	int ret = 0;
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		char *child = i_strdup_printf("%s/%s", path, d->d_name);
		if (maildir_remove_tree(child) < 0)
			ret = -1;
		free(child);
	}
	closedir(dir);
	if (rmdir(path) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}
