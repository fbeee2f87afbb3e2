#ifndef PYMAP_MAILDIR_LOCK_H
#define PYMAP_MAILDIR_LOCK_H
/* Dotlocks compatible with Dovecot's (dovecot-uidlist.lock, dovecot-keywords.lock):
 * the lock is the existence of "<file>.lock", created with O_CREAT|O_EXCL and holding
 * "<pid>:<hostname>". A lock whose mtime is older than stale_secs, or one made on this
 * host by a process that no longer exists, is removed as stale. Waiting retries with a
 * growing back-off up to wait_msecs; then -1 with errno EWOULDBLOCK (the caller
 * reports STORE_ERR_INUSE). Used by the maildir backend around uidlist, keywords and
 * index updates.
 *
 * To allocate no inode per lock, the lock is made as a hard link of the process's own
 * "pymap-lock.<pid>.<host>" next to it (same content, mtime refreshed before each
 * link), as Dovecot's own dotlocks may be made by link(); the source files are
 * removed at exit (maildir_lock_cleanup, also atexit). A file left by a killed process
 * is harmless (never a lock itself); the first time a process takes a given lock file
 * it removes those of this host's processes that are gone. On NFS a link() reported as
 * EEXIST is ours when the lock is then the source's inode and this process does not
 * hold that lock already (a retransmitted request). */
#include <stdbool.h>

#define MAILDIR_LOCK_STALE_SECS 120       /* Dovecot's uidlist lock stale timeout */
#define MAILDIR_LOCK_WAIT_MSECS 10000
#define MAILDIR_LOCK_MAX_SOURCES 1024     /* link sources kept per process */

struct maildir_lock;

/* Lock file_path (the lock file is file_path + ".lock"). 0, or -1 with errno. */
int maildir_lock_acquire(const char *file_path, unsigned int wait_msecs,
			 unsigned int stale_secs, struct maildir_lock **lock_r);
/* Refresh the lock's mtime (long operations). */
void maildir_lock_touch(struct maildir_lock *lock);
void maildir_lock_release(struct maildir_lock **lock);
/* Remove this process's link source files. */
void maildir_lock_cleanup(void);

/* Exposed for tests: is this lock file stale now? content is its data. */
bool maildir_lock_is_stale(const char *content, long age_secs, unsigned int stale_secs,
			   const char *hostname);

#endif
