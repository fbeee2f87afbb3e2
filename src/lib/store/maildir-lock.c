/* Dovecot-compatible dotlocks (see maildir-lock.h). */
#include "maildir-lock.h"
#include "maildir-file.h"
#include "alloc.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct maildir_lock {
	char *path;
};

static void local_hostname(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

bool maildir_lock_is_stale(const char *content, long age_secs, unsigned int stale_secs,
			   const char *hostname)
{
	if (age_secs > (long)stale_secs)
		return true;
	/* "<pid>:<host>": a dead process on this host cannot hold it. */
	char *end;
	errno = 0;
	long pid = strtol(content, &end, 10);
	if (errno != 0 || end == content || pid <= 0 || *end != ':')
		return false;
	size_t host_len = strcspn(end + 1, "\r\n");
	if (strlen(hostname) != host_len || strncmp(end + 1, hostname, host_len) != 0)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int try_create(const char *path, const char *host)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	char content[300];
	int len = snprintf(content, sizeof(content), "%ld:%s", (long)getpid(), host);
	(void)maildir_write_full(fd, content, (size_t)len);
	close(fd);
	return 0;
}

/* The process's link source for one lock: "<dir>/pymap-lock.<pid>.<host>" next to
 * the lock (tmp/ is for messages being written: nothing else belongs there). */
struct lock_source {
	struct lock_source *next;
	char *lock_path;
	char *src_path;
	pid_t pid;
	bool held;                /* lock_path is held by this process through it */
};
static struct lock_source *lock_sources;
static unsigned int lock_source_count;

/* Remove the source file (when this process made it) and forget it. */
static void lock_source_free(struct lock_source *src)
{
	if (src->pid == getpid())
		(void)unlink(src->src_path);
	free(src->lock_path);
	free(src->src_path);
	free(src);
}

static void lock_sources_cleanup(void)
{
	while (lock_sources != NULL) {
		struct lock_source *src = lock_sources;
		lock_sources = src->next;
		lock_source_free(src);
	}
	lock_source_count = 0;
}

/* The list is newest first: drop its tail. */
static void lock_source_drop_oldest(void)
{
	struct lock_source **p = &lock_sources;
	while (*p != NULL && (*p)->next != NULL)
		p = &(*p)->next;
	struct lock_source *src = *p;
	if (src == NULL)
		return;
	*p = NULL;
	lock_source_free(src);
	lock_source_count--;
}

void maildir_lock_cleanup(void)
{
	lock_sources_cleanup();
}

/* NFS may answer a retransmitted link() that succeeded with EEXIST: the lock is ours
 * when it is our source file's inode and no lock of this process holds it already
 * (the same source serves every lock file of the folder). */
static bool link_was_ours(const struct lock_source *src, const char *path)
{
	struct stat lock_st, src_st;
	return !src->held && lstat(path, &lock_st) == 0 && lstat(src->src_path, &src_st) == 0 &&
	       lock_st.st_ino == src_st.st_ino && lock_st.st_dev == src_st.st_dev;
}

/* Source files of processes of this host that are gone (killed before their atexit
 * cleanup) are removed when a process first locks in that folder. */
static void sweep_dead_sources(const char *dir, size_t dir_len, const char *host)
{
	char *path = i_strdup_printf("%.*s", (int)dir_len, dir);
	DIR *d = opendir(path);
	struct dirent *de;
	size_t host_len = strlen(host);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *end;
		if (strncmp(de->d_name, "pymap-lock.", 11) != 0)
			continue;
		long pid = strtol(de->d_name + 11, &end, 10);
		if (end == de->d_name + 11 || *end != '.' || strlen(end + 1) != host_len ||
		    strcmp(end + 1, host) != 0 || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			char *stale = i_strdup_printf("%s/%s", path, de->d_name);
			(void)unlink(stale);
			free(stale);
		}
	}
	if (d != NULL)
		closedir(d);
	free(path);
}

static struct lock_source *lock_source_get(const char *lock_path, const char *host)
{
	static bool registered;
	pid_t pid = getpid();
	for (struct lock_source *src = lock_sources; src != NULL; src = src->next) {
		if (src->pid == pid && strcmp(src->lock_path, lock_path) == 0)
			return src;
	}
	const char *slash = strrchr(lock_path, '/');
	if (slash == NULL)
		return NULL;
	if (lock_source_count >= MAILDIR_LOCK_MAX_SOURCES)
		lock_source_drop_oldest();
	if (!registered) {
		registered = true;
		atexit(lock_sources_cleanup);
	}
	sweep_dead_sources(lock_path, (size_t)(slash - lock_path), host);
	struct lock_source *src = i_new0(struct lock_source);
	src->lock_path = i_strdup(lock_path);
	src->src_path = i_strdup_printf("%.*s/pymap-lock.%ld.%s", (int)(slash - lock_path),
					lock_path, (long)pid, host);
	src->pid = pid;
	src->next = lock_sources;
	lock_sources = src;
	lock_source_count++;
	return src;
}

/* Create the lock as a hard link of the process's own source file (made once), so
 * taking a lock allocates no inode. 0 taken, -1 with errno (EEXIST: held); 1 when
 * linking is not possible here (link not supported): use try_create. */
static int try_link(const char *path, const char *host)
{
	struct lock_source *src = lock_source_get(path, host);
	if (src == NULL)
		return 1;
	for (unsigned int attempt = 0; attempt < 2; attempt++) {
		/* the lock's mtime is the source's: fresh, or others think it stale */
		if (utimensat(AT_FDCWD, src->src_path, NULL, AT_SYMLINK_NOFOLLOW) == 0) {
			if (link(src->src_path, path) == 0 ||
			    (errno == EEXIST && link_was_ours(src, path))) {
				src->held = true;
				return 0;
			}
			if (errno == EEXIST)
				return -1;
			if (errno != ENOENT)
				return 1;
		} else if (errno != ENOENT) {
			return 1;
		}
		/* (re)create the source: never made, or removed by someone */
		(void)unlink(src->src_path);
		if (try_create(src->src_path, host) < 0)
			return 1;
	}
	return 1;
}

/* 1 when an existing lock was removed as stale, 0 when it is live or gone. */
static int remove_if_stale(const char *path, unsigned int stale_secs, const char *host)
{
	struct stat st;
	char *content = NULL;
	size_t size;
	if (lstat(path, &st) < 0)
		return 0;
	if (maildir_file_read(path, 1024, &content, &size) <= 0)
		return 0;
	long age = (long)(time(NULL) - st.st_mtime);
	bool stale = maildir_lock_is_stale(content, age, stale_secs, host);
	free(content);
	if (!stale)
		return 0;
	log_warning("maildir: removing stale lock %s", path);
	return unlink(path) == 0 ? 1 : 0;
}

int maildir_lock_acquire(const char *file_path, unsigned int wait_msecs,
			 unsigned int stale_secs, struct maildir_lock **lock_r)
{
	char host[256];
	char *path = i_strdup_printf("%s.lock", file_path);
	unsigned int waited = 0, delay = 5;
	local_hostname(host, sizeof(host));
	for (;;) {
		int ret = try_link(path, host);
		if (ret == 0 || (ret > 0 && try_create(path, host) == 0))
			break;
		if (errno != EEXIST) {
			int err = errno;
			free(path);
			errno = err;
			return -1;
		}
		if (remove_if_stale(path, stale_secs, host) > 0)
			continue;
		if (waited >= wait_msecs) {
			free(path);
			errno = EWOULDBLOCK;
			return -1;
		}
		struct timespec ts = { 0, (long)delay * 1000000L };
		nanosleep(&ts, NULL);
		waited += delay;
		delay = delay * 2 > 500 ? 500 : delay * 2;
	}
	struct maildir_lock *lock = i_new0(struct maildir_lock);
	lock->path = path;
	*lock_r = lock;
	return 0;
}

void maildir_lock_touch(struct maildir_lock *lock)
{
	(void)utimensat(AT_FDCWD, lock->path, NULL, AT_SYMLINK_NOFOLLOW);
}

void maildir_lock_release(struct maildir_lock **_lock)
{
	struct maildir_lock *lock = *_lock;
	if (lock == NULL)
		return;
	*_lock = NULL;
	for (struct lock_source *src = lock_sources; src != NULL; src = src->next) {
		if (src->pid == getpid() && strcmp(src->lock_path, lock->path) == 0)
			src->held = false;
	}
	if (unlink(lock->path) < 0 && errno != ENOENT)
		log_error_errno("maildir: unlink(%s)", lock->path);
	free(lock->path);
	free(lock);
}
