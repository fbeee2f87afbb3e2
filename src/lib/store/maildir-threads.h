#ifndef PYMAP_MAILDIR_THREADS_H
#define PYMAP_MAILDIR_THREADS_H
/* The maildir backend's per-user thread index, the file "pymap-threads" in the
 * user's maildir (format in doc/maildir-index.md): which THREADID (RFC 8474) each
 * Message-ID seen so far belongs to, so that a reply appended or copied into any
 * folder, by any pymap process, joins its thread. Called by store-maildir-save.c
 * (APPEND, and COPY/MOVE of a message without a THREADID).
 *
 * The file is append-only records with checksums, changed only under flock(LOCK_EX)
 * on it: a writer first reads what others appended since its last look, then appends
 * the ids it added or changed in one write, fdatasyncs and closes the file. A torn tail (a crash
 * mid-write) is cut off by the next writer. When superseded records outweigh the
 * live ones the file is rewritten (temp, fsync, rename); holders of the old file see
 * the new inode once they have its lock. At most MAILDIR_THREADS_MAX_IDS ids are
 * remembered (past it, new ids start new threads). In memory an id is a keyed
 * SipHash of it and its thread's 16 bytes (40-65 bytes an id). Each process keeps
 * the indexes of the last few users it served (together at most
 * MAILDIR_THREADS_MAX_IDS ids) and reads only the tail next time. */
#include <stddef.h>
#include "store.h"
#include "store-thread.h"

struct maildir_threads_batch;

#define MAILDIR_THREADS_NAME "pymap-threads"
#define MAILDIR_THREADS_MAX_IDS (1024u * 1024)
#define MAILDIR_THREADS_MAX_BYTES (256u * 1024 * 1024)
/* How much of a message's start is read for its Message-ID, In-Reply-To and
 * References. */
#define MAILDIR_THREADS_HEADER_MAX (64 * 1024)

/* The THREADID of a message, recorded in the thread index of the maildir at root,
 * from the message's bytes: in memory (data) or in a file (fd >= 0, data NULL); only
 * the header (at most MAILDIR_THREADS_HEADER_MAX bytes) is read. 0, or -1 (logged)
 * when the index cannot be read or written: threadid_r is a valid THREADID all the
 * same (a new one, or one whose link to this message's ids was not recorded). */
int maildir_threads_assign_msg(const char *root, const void *data, int fd, size_t size,
			       char threadid_r[STORE_ID_MAX_BYTES]);
/* Several messages under one lock, with one write and one fdatasync (APPEND of
 * several messages, COPY): begin, add each (threadid_r is final at once), end. When
 * the index cannot be used, begin logs it and every message gets a new thread;
 * end then returns -1, as it does when the records could not be written (the
 * THREADIDs handed out stay valid; replies may just not find them). */
struct maildir_threads_batch *maildir_threads_begin(const char *root);
void maildir_threads_add(struct maildir_threads_batch *batch,
			 const struct store_thread_ids *ids,
			 char threadid_r[STORE_ID_MAX_BYTES]);
void maildir_threads_add_msg(struct maildir_threads_batch *batch, const void *data, int fd,
			     size_t size, char threadid_r[STORE_ID_MAX_BYTES]);
int maildir_threads_end(struct maildir_threads_batch **batch);
/* Forget the process's in-memory indexes and close their files (tests, exit). */
void maildir_threads_flush(void);

#endif
