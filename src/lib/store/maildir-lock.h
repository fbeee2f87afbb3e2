#ifndef PYMAP_MAILDIR_LOCK_H
#define PYMAP_MAILDIR_LOCK_H
/* Dotlocks compatible with Dovecot's (dovecot-uidlist.lock, dovecot-keywords.lock):
 * the lock is the existence of "<file>.lock", created with O_CREAT|O_EXCL and holding
 * "<pid>:<hostname>". A lock whose mtime is older than stale_secs, or one made on this
 * host by a process that no longer exists, is removed as stale. Waiting retries with a
 * growing back-off up to wait_msecs; then -1 with errno EWOULDBLOCK (the caller
 * reports STORE_ERR_INUSE). Used by the maildir backend around uidlist, keywords and
 * index updates. */
#include <stdbool.h>

#define MAILDIR_LOCK_STALE_SECS 120       /* Dovecot's uidlist lock stale timeout */
#define MAILDIR_LOCK_WAIT_MSECS 10000

struct maildir_lock;

/* Lock file_path (the lock file is file_path + ".lock"). 0, or -1 with errno. */
int maildir_lock_acquire(const char *file_path, unsigned int wait_msecs,
			 unsigned int stale_secs, struct maildir_lock **lock_r);
/* Refresh the lock's mtime (long operations). */
void maildir_lock_touch(struct maildir_lock *lock);
void maildir_lock_release(struct maildir_lock **lock);

/* Exposed for tests: is this lock file stale now? content is its data. */
bool maildir_lock_is_stale(const char *content, long age_secs, unsigned int stale_secs,
			   const char *hostname);

#endif
