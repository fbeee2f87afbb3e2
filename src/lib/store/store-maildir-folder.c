/* The process's table of maildir folders (store-maildir.h: struct maildir_folder).
 * Every handle, STATUS, APPEND and COPY of one folder directory in this process share
 * one state, so a change made by anyone is synced once per process and an unchanged
 * folder opened again costs a few stat calls, not a read of its index. Found by path
 * in a hash table; a folder whose directory was replaced (deleted and made again, or
 * renamed away) is taken out of the table and a new one made. Unreferenced folders
 * stay in an idle list, newest first, until there are too many or they hold too many
 * messages. The process is single-threaded: the table needs no lock. Also here: a
 * folder's keyword table (dovecot-keywords under its own dotlock) and STATUS. */
#include "store-maildir.h"
#include "maildir-lock.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOLDER_HASH_SIZE 4096          /* buckets (chained) */
#define FOLDER_IDLE_MAX 16             /* unreferenced folders kept */
#define FOLDER_IDLE_MAX_MESSAGES 200000 /* ... holding at most this many messages */

static struct maildir_folder *folder_hash[FOLDER_HASH_SIZE];
static struct maildir_folder *idle_head, *idle_tail;
static unsigned int idle_count;
static struct maildir_folder *table_find(const char *path);
static uint64_t idle_messages;

static unsigned int path_hash(const char *path)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h % FOLDER_HASH_SIZE;
}

static bool dir_ino(const char *path, uint64_t *ino_r)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	*ino_r = (uint64_t)st.st_ino;
	return true;
}

static void folder_free(struct maildir_folder *mb)
{
	if (mb->mime != NULL) {
		/* contents still out keep the cache handle, but not its pointer to us */
		maildir_mime_detach(mb->mime);
		maildir_mime_unref(&mb->mime);
	}
	maildir_lock_release(&mb->lock);
	maildir_uidlist_free(&mb->uidlist);
	free(mb->touched);
	maildir_state_clear(&mb->state);
	maildir_keywords_clear(&mb->kw);
	free(mb->name);
	free(mb->path);
	free(mb->root);
	free(mb);
}

static void table_remove(struct maildir_folder *mb)
{
	if (!mb->in_table)
		return;
	struct maildir_folder **p = &folder_hash[path_hash(mb->path)];
	while (*p != mb)
		p = &(*p)->hash_next;
	*p = mb->hash_next;
	mb->hash_next = NULL;
	mb->in_table = false;
}

static void idle_unlink(struct maildir_folder *mb)
{
	if (mb->idle_prev != NULL)
		mb->idle_prev->idle_next = mb->idle_next;
	else
		idle_head = mb->idle_next;
	if (mb->idle_next != NULL)
		mb->idle_next->idle_prev = mb->idle_prev;
	else
		idle_tail = mb->idle_prev;
	mb->idle_prev = mb->idle_next = NULL;
	idle_count--;
	idle_messages -= mb->state.count;
}

static void idle_evict(void)
{
	while (idle_tail != NULL &&
	       (idle_count > FOLDER_IDLE_MAX || idle_messages > FOLDER_IDLE_MAX_MESSAGES)) {
		struct maildir_folder *mb = idle_tail;
		idle_unlink(mb);
		table_remove(mb);
		folder_free(mb);
	}
}

void maildir_folders_flush(void)
{
	while (idle_tail != NULL) {
		struct maildir_folder *mb = idle_tail;
		idle_unlink(mb);
		table_remove(mb);
		folder_free(mb);
	}
}

void maildir_folder_ref(struct maildir_folder *mb)
{
	if (mb->refcount++ == 0 && mb->in_table)
		idle_unlink(mb);
}

void maildir_folder_unref(struct maildir_folder **_mb)
{
	struct maildir_folder *mb = *_mb;
	if (mb == NULL)
		return;
	*_mb = NULL;
	if (--mb->refcount > 0)
		return;
	/* never keep a lock or a half-done update past the call that made it */
	maildir_lock_release(&mb->lock);
	maildir_uidlist_free(&mb->uidlist);
	if (!mb->in_table) {
		folder_free(mb);
		return;
	}
	mb->idle_next = idle_head;
	if (idle_head != NULL)
		idle_head->idle_prev = mb;
	idle_head = mb;
	if (idle_tail == NULL)
		idle_tail = mb;
	idle_count++;
	idle_messages += mb->state.count;
	idle_evict();
}

struct maildir_folder *maildir_folder_lookup(const char *path)
{
	return table_find(path);
}

static struct maildir_folder *table_find(const char *path)
{
	for (struct maildir_folder *mb = folder_hash[path_hash(path)]; mb != NULL;
	     mb = mb->hash_next) {
		if (strcmp(mb->path, path) == 0)
			return mb;
	}
	return NULL;
}

static struct maildir_folder *folder_new(struct maildir_user *user, const char *name,
					 char *path, uint64_t ino)
{
	struct maildir_folder *mb = i_new0(struct maildir_folder);
	mb->path = path;
	mb->root = i_strdup(user->root);
	mb->name = i_strdup(name);
	mb->colon = user->colon;
	mb->dir_ino = ino;
	mb->can_write = access(path, W_OK) == 0;
	mb->fine_clock = maildir_fs_has_fine_clock(path);
	mb->refcount = 1;
	unsigned int h = path_hash(path);
	mb->hash_next = folder_hash[h];
	folder_hash[h] = mb;
	mb->in_table = true;
	return mb;
}

int maildir_folder_get(struct maildir_user *user, const char *name,
		       struct maildir_folder **folder_r, struct store_error *error_r)
{
	char *path, *cur;
	uint64_t ino, cur_ino;
	if (maildir_folder_path(user, name, &path, error_r) < 0)
		return -1;
	cur = i_strdup_printf("%s/cur", path);
	bool exists = dir_ino(path, &ino) && dir_ino(cur, &cur_ino);
	free(cur);
	struct maildir_folder *mb = table_find(path);
	if (mb != NULL && (!exists || mb->dir_ino != ino || mb->colon != user->colon)) {
		/* another directory now (or none): handles still open keep the old one */
		if (mb->refcount == 0)
			idle_unlink(mb);
		table_remove(mb);
		if (mb->refcount == 0)
			folder_free(mb);
		mb = NULL;
	}
	if (!exists) {
		free(path);
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (mb != NULL) {
		free(path);
		maildir_folder_ref(mb);
	} else {
		mb = folder_new(user, name, path, ino);
	}
	*folder_r = mb;
	return 0;
}

/* ---- keywords and STATUS of a folder ---- */

static int add_keywords_locked(struct maildir_folder *mb, const char *const *names,
			       unsigned int count, struct store_error *error_r)
{
	struct maildir_lock *lock;
	char *path = i_strdup_printf("%s/%s", mb->path, MAILDIR_KEYWORDS_NAME);
	int ret = -1;
	if (maildir_lock_acquire(path, MAILDIR_LOCK_WAIT_MSECS, MAILDIR_LOCK_STALE_SECS,
				 &lock) < 0) {
		maildir_set_errno_error(error_r, "lock dovecot-keywords");
		free(path);
		return -1;
	}
	if (maildir_keywords_read(path, &mb->kw) < 0) {
		maildir_set_errno_error(error_r, "read dovecot-keywords");
		goto out;
	}
	for (unsigned int i = 0; i < count; i++) {
		if (maildir_keywords_add(&mb->kw, names[i]) < 0) {
			store_error_set(error_r, STORE_ERR_LIMIT, "Too many keywords in this mailbox.");
			(void)maildir_keywords_read(path, &mb->kw);
			goto out;
		}
	}
	if (maildir_keywords_write(path, &mb->kw) < 0) {
		maildir_set_errno_error(error_r, "write dovecot-keywords");
		goto out;
	}
	(void)maildir_stamp_get(path, &mb->kw_stamp);
	ret = 0;
out:
	maildir_lock_release(&lock);
	free(path);
	return ret;
}

int maildir_mbox_keywords(struct maildir_folder *mb, const char *const *names,
			  unsigned int count, bool add, uint32_t *letters_r,
			  struct store_error *error_r)
{
	uint32_t letters = 0;
	bool missing = false;
	for (unsigned int i = 0; i < count; i++) {
		int idx = maildir_keywords_lookup(&mb->kw, names[i]);
		if (idx >= 0)
			letters |= 1u << idx;
		else
			missing = true;
	}
	if (missing && add) {
		if (add_keywords_locked(mb, names, count, error_r) < 0)
			return -1;
		letters = 0;
		for (unsigned int i = 0; i < count; i++)
			letters |= 1u << maildir_keywords_lookup(&mb->kw, names[i]);
	}
	*letters_r = letters;
	return 0;
}

/* STATUS from a state's header fields (a whole state, or an index header) and its
 * counts. */
static void fill_status(const struct maildir_state *st, const struct maildir_index_counts *counts,
			bool readonly, struct store_mailbox_status *status_r)
{
	memset(status_r, 0, sizeof(*status_r));
	status_r->uidvalidity = st->uidvalidity;
	status_r->uidnext = st->next_uid;
	status_r->messages = counts->count;
	status_r->unseen = counts->unseen;
	status_r->recent = counts->recent;
	status_r->highest_modseq = st->modseq;
	status_r->readonly = readonly;
	snprintf(status_r->mailboxid, sizeof(status_r->mailboxid), "%s", st->guid);
}

int maildir_status_from_index(struct maildir_user *user, const char *name,
			       struct store_mailbox_status *status_r)
{
	struct maildir_state hdr;
	struct maildir_index_counts counts;
	struct maildir_stamp st[4];
	struct store_error error;
	char *path, *file;
	uint64_t ino;
	if (maildir_folder_path(user, name, &path, &error) < 0)
		return 0;
	file = i_strdup_printf("%s/cur", path);
	bool usable = maildir_folder_lookup(path) == NULL && dir_ino(path, &ino) &&
		      dir_ino(file, &ino);
	free(file);
	file = i_strdup_printf("%s/%s", path, MAILDIR_INDEX_NAME);
	if (usable && maildir_index_read_header(file, &hdr, &counts) > 0) {
		maildir_folder_stamps(path, st);
		usable = maildir_state_stamps_trusted(&hdr, st);
	} else {
		usable = false;
	}
	if (usable)
		fill_status(&hdr, &counts, access(path, W_OK) != 0, status_r);
	free(file);
	free(path);
	return usable ? 1 : 0;
}

void maildir_status_from_state(const struct maildir_folder *mb,
			       struct store_mailbox_status *status_r)
{
	const struct maildir_state *st = &mb->state;
	struct maildir_index_counts counts = {
		.count = st->count, .unseen = st->unseen, .recent = maildir_state_recent(st)
	};
	fill_status(st, &counts, !mb->can_write, status_r);
}
