/* maildir-lock.c's link sources: the first lock a process takes in a folder removes
 * the "pymap-lock.<pid>.<host>" files that processes of this host left when they were
 * killed, and keeps those of live processes and of other hosts. */
#include "test.h"
#include "store/maildir-lock.h"
#include "alloc.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool exists(const char *dir, const char *name)
{
	char *path = i_strdup_printf("%s/%s", dir, name);
	bool ret = access(path, F_OK) == 0;
	free(path);
	return ret;
}

static void touch(const char *dir, const char *name)
{
	char *path = i_strdup_printf("%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	TEST_ASSERT(fd >= 0);
	if (fd >= 0)
		close(fd);
	free(path);
}

static void test_dead_sources_are_swept(void)
{
	char host[256], dead[300], live[300], other[300];
	char *dir = i_strdup_printf("%s/folder", test_tmpdir());
	TEST_ASSERT_INT_EQ(mkdir(dir, 0700), 0);
	TEST_ASSERT_INT_EQ(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);        /* a pid that is gone */
	snprintf(dead, sizeof(dead), "pymap-lock.%ld.%s", (long)child, host);
	snprintf(live, sizeof(live), "pymap-lock.%ld.%s", (long)getppid(), host);
	snprintf(other, sizeof(other), "pymap-lock.%ld.elsewhere.example", (long)child);
	touch(dir, dead);
	touch(dir, live);
	touch(dir, other);
	touch(dir, "dovecot-uidlist");

	struct maildir_lock *lock = NULL;
	char *file = i_strdup_printf("%s/dovecot-uidlist", dir);
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(file, 1000, MAILDIR_LOCK_STALE_SECS, &lock), 0);
	TEST_ASSERT(exists(dir, "dovecot-uidlist.lock"));
	maildir_lock_release(&lock);
	TEST_ASSERT(!exists(dir, "dovecot-uidlist.lock"));
	TEST_ASSERT(!exists(dir, dead));
	TEST_ASSERT(exists(dir, live));
	TEST_ASSERT(exists(dir, other));
	maildir_lock_cleanup();
	free(file);
	free(dir);
}

TEST_MAIN(TEST(test_dead_sources_are_swept))
