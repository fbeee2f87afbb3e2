/* APPEND, COPY and MOVE for the maildir backend (store-maildir.h). Every message is
 * first written completely into tmp/ (or hard-linked there from the source folder),
 * fsynced and given its internal date as mtime; then, under the destination's uidlist
 * lock, renamed into new/ (no flags) or cur/ (with its flags), the directories are
 * fsynced and the messages' uidlist records appended (maildir_mbox_write_uidlist).
 * A crash at any point leaves either the whole message or only a file in tmp/, which
 * no reader looks at.
 *
 * Ids (RFC 8474): a new message gets its THREADID from the user's thread index
 * (maildir-threads.c); a copy keeps the source's EMAILID and THREADID. Both are
 * written into the message's dovecot-uidlist record as the extension fields E and T
 * (which Dovecot keeps when it rewrites the file), and a copy also gets Dovecot's G
 * (the source's message GUID: its G field, else its base name), as Dovecot's own
 * copies do. */
#include "store-maildir.h"
#include "maildir-threads.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF_SIZE (256 * 1024)

struct save_item {
	char *tmp_path;          /* NULL once renamed */
	char *final_path;
	char *base;
	struct store_message_meta meta;
	uint32_t system, letters;
	bool in_new;
	const char **kw_names;
	unsigned int kw_count;
	char emailid[STORE_ID_MAX_BYTES];   /* "" : derived from the folder and UID */
	char threadid[STORE_ID_MAX_BYTES];
	char *guid;                         /* Dovecot's G field, or NULL */
};

static void save_items_free(struct save_item *items, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		if (items[i].tmp_path != NULL)
			(void)unlink(items[i].tmp_path);
		free(items[i].tmp_path);
		free(items[i].final_path);
		free(items[i].base);
		free(items[i].kw_names);
		free(items[i].guid);
	}
	free(items);
}

static int copy_fd_data(int out, int in, size_t size)
{
	unsigned char *buf = i_malloc(COPY_BUF_SIZE);
	size_t done = 0;
	int ret = 0;
	while (done < size && ret == 0) {
		size_t want = size - done < COPY_BUF_SIZE ? size - done : COPY_BUF_SIZE;
		ssize_t n = pread(in, buf, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			ret = -1;
		} else if (maildir_write_full(out, buf, (size_t)n) < 0) {
			ret = -1;
		} else {
			done += (size_t)n;
		}
	}
	free(buf);
	return ret;
}

/* Bare LFs (not preceded by CR) in the message: served as CRLF, so they count in
 * RFC822.SIZE; the name then carries ,W=<size with CRLF> as Dovecot's do. */
static uint64_t count_bare_lf(const unsigned char *data, int in_fd, size_t size)
{
	unsigned char buf[65536], prev = 0;
	uint64_t bare = 0;
	for (size_t off = 0; off < size; ) {
		const unsigned char *p = data != NULL ? data + off : buf;
		size_t n = data != NULL ? size - off : (size - off < sizeof(buf) ? size - off : sizeof(buf));
		if (data == NULL) {
			ssize_t r = pread(in_fd, buf, n, (off_t)off);
			if (r <= 0)
				break;
			n = (size_t)r;
		}
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n' && prev != '\r')
				bare++;
			prev = p[i];
		}
		off += n;
	}
	return bare;
}

/* Write one message into dir/tmp: data from memory or from fd. */
static int write_tmp(const char *folder, struct save_item *item, const unsigned char *data,
		     int in_fd, size_t size, struct store_error *error_r)
{
	uint64_t vsize = size + count_bare_lf(data, in_fd, size);
	item->base = maildir_filename_new(size, vsize);
	item->tmp_path = i_strdup_printf("%s/tmp/%s", folder, item->base);
	int fd = open(item->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		maildir_set_errno_error(error_r, "create in tmp/");
		i_free(item->tmp_path);
		return -1;
	}
	int ret = data != NULL ? maildir_write_full(fd, data, size) : copy_fd_data(fd, in_fd, size);
	if (ret == 0 && fsync(fd) < 0)
		ret = -1;
	if (ret == 0 && item->meta.internal_date > 0) {
		struct timespec times[2] = {
			{ (time_t)item->meta.internal_date, 0 }, { (time_t)item->meta.internal_date, 0 }
		};
		(void)futimens(fd, times);
	}
	if (ret < 0)
		maildir_set_errno_error(error_r, "write message");
	if (close(fd) < 0 && ret == 0) {
		maildir_set_errno_error(error_r, "close message");
		ret = -1;
	}
	item->meta.size = vsize;
	return ret;
}

/* Rename every item into new/ or cur/, all or none. */
static int publish(struct maildir_folder *mb, struct save_item *items, unsigned int count,
		   struct store_error *error_r)
{
	unsigned int i;
	for (i = 0; i < count; i++) {
		struct save_item *item = &items[i];
		bool in_new = item->in_new = item->system == 0 && item->letters == 0;
		char *name = in_new ? i_strdup(item->base) :
			maildir_filename_with_flags(item->base, strlen(item->base), mb->colon,
						    item->system, item->letters);
		item->final_path = i_strdup_printf("%s/%s/%s", mb->path, in_new ? "new" : "cur", name);
		free(name);
		mb->wrote_cur |= !in_new;
		mb->wrote_new |= in_new;
		if (rename(item->tmp_path, item->final_path) < 0) {
			maildir_set_errno_error(error_r, "rename into the maildir");
			break;
		}
		i_free(item->tmp_path);
	}
	if (i < count) {
		while (i-- > 0)
			(void)unlink(items[i].final_path);
		return -1;
	}
	/* only the directories that got a name (an APPEND without flags: new/ only) */
	bool used[2] = { false, false };
	for (i = 0; i < count; i++)
		used[items[i].in_new ? 0 : 1] = true;
	for (unsigned int d = 0; d < 2; d++) {
		if (!used[d])
			continue;
		char *dir = i_strdup_printf("%s/%s", mb->path, d == 0 ? "new" : "cur");
		(void)maildir_fsync_dir(dir);
		free(dir);
	}
	return 0;
}

/* Give the message just added (the last uidlist record) the item's ids. */
static void set_ids(struct maildir_folder *mb, struct maildir_msg *msg,
		    const struct save_item *item)
{
	struct maildir_uidlist_rec *rec = &mb->uidlist->recs[mb->uidlist->count - 1];
	struct maildir_state *st = &mb->state;
	struct buffer ext;
	buffer_init(&ext, 0);
	if (item->guid != NULL)
		(void)buffer_printf(&ext, "G%s", item->guid);
	if (item->emailid[0] != '\0')
		(void)buffer_printf(&ext, "%sE%s", buffer_len(&ext) > 0 ? " " : "", item->emailid);
	if (item->threadid[0] != '\0')
		(void)buffer_printf(&ext, "%sT%s", buffer_len(&ext) > 0 ? " " : "", item->threadid);
	free(rec->ext);
	rec->ext = buffer_steal_str(&ext);
	if (item->emailid[0] != '\0')
		memcpy(msg->meta.emailid, item->emailid, sizeof(msg->meta.emailid));
	if (item->threadid[0] != '\0')
		memcpy(msg->meta.threadid, item->threadid, sizeof(msg->meta.threadid));
	if (st->log_count > 0 && st->log[st->log_count - 1].meta.uid == msg->meta.uid)
		st->log[st->log_count - 1].meta = msg->meta;
}

/* Drop the uidlist records from UID first_uid on (the list may have been read whole
 * meanwhile: maildir_mbox_write_uidlist). */
static void drop_records(struct maildir_uidlist *list, uint32_t first_uid)
{
	while (list->count > 0 && list->recs[list->count - 1].uid >= first_uid) {
		list->count--;
		free(list->recs[list->count].ext);
		free(list->recs[list->count].name);
	}
	list->next_uid = first_uid;
}

/* Take UIDs for the published items; on a uidlist write failure undo everything. */
static int assign_uids(struct maildir_folder *mb, struct save_item *items, unsigned int count,
		       uint32_t *uids_r, struct store_error *error_r)
{
	struct maildir_state *st = &mb->state;
	unsigned int old_count = st->count;
	uint32_t old_next = mb->uidlist->next_uid, old_unseen = st->unseen;
	uint64_t old_modseq = st->modseq;
	bool old_dirty = mb->uidlist_dirty;
	for (unsigned int i = 0; i < count; i++) {
		const char *name = strrchr(items[i].final_path, '/') + 1;
		items[i].meta.flags.system = items[i].system;
		items[i].meta.flags.keywords = items[i].letters;
		struct maildir_msg *msg = maildir_mbox_add_new(mb, name, items[i].in_new,
							       &items[i].meta);
		set_ids(mb, msg, &items[i]);
		uids_r[i] = msg->meta.uid;
	}
	if (maildir_mbox_write_uidlist(mb, error_r) == 0)
		return 0;
	for (unsigned int i = 0; i < count; i++)
		(void)unlink(items[i].final_path);
	for (unsigned int i = old_count; i < st->count; i++)
		free(st->msgs[i].name);
	st->count = old_count;
	/* our entries go; a log trimmed meanwhile keeps its raised base */
	while (st->log_count > 0 && st->log[st->log_count - 1].meta.modseq > old_modseq)
		st->log_count--;
	if (st->log_base_modseq > old_modseq)
		st->log_base_modseq = old_modseq;
	st->modseq = old_modseq;
	st->next_uid = old_next;
	st->unseen = old_unseen;
	drop_records(mb->uidlist, old_next);
	mb->uidlist_dirty = old_dirty;
	return -1;
}

static int save_commit(struct maildir_folder *mb, struct save_item *items, unsigned int count,
		       uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r)
{
	if (maildir_mbox_lock(mb, false, error_r) < 0)
		return -1;
	if (mb->lock == NULL) {
		maildir_mbox_unlock(mb);
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	int ret = 0;
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		ret = maildir_mbox_keywords(mb, items[i].kw_names, items[i].kw_count, true,
					    &items[i].letters, error_r);
	}
	if (ret == 0)
		ret = publish(mb, items, count, error_r);
	if (ret == 0)
		ret = assign_uids(mb, items, count, uids_r, error_r);
	*uidvalidity_r = mb->state.uidvalidity;
	maildir_mbox_unlock(mb);
	return ret;
}

int maildir_append(struct store_user *user, const char *mailbox,
		   const struct store_append_msg *msgs, unsigned int count,
		   uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r)
{
	struct maildir_folder *mb;
	if (maildir_folder_get((struct maildir_user *)user, mailbox, &mb, error_r) < 0)
		return -1;
	if (!mb->can_write) {
		maildir_folder_unref(&mb);
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	struct save_item *items = i_new(struct save_item, count + 1);
	memset(items, 0, (count + 1) * sizeof(*items));
	int ret = 0;
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		items[i].meta.internal_date = msgs[i].internal_date;
		items[i].meta.internal_tz_min = msgs[i].internal_tz_min;
		items[i].system = msgs[i].flags.system & STORE_FLAGS_ALL;
		items[i].kw_names = i_new(const char *, msgs[i].keyword_count + 1);
		/* as in store-dict.c: every listed name is set on the message */
		for (unsigned int k = 0; k < msgs[i].keyword_count; k++)
			items[i].kw_names[items[i].kw_count++] = msgs[i].keyword_names[k];
		ret = write_tmp(mb->path, &items[i], msgs[i].data, msgs[i].fd, msgs[i].size,
				error_r);
	}
	if (ret == 0 && count > 0) {
		/* THREADIDs of all messages under one lock of the user's thread index */
		struct maildir_threads_batch *batch =
			maildir_threads_begin(((struct maildir_user *)user)->root);
		for (unsigned int i = 0; i < count; i++) {
			maildir_threads_add_msg(batch, msgs[i].data, msgs[i].fd, msgs[i].size,
						items[i].threadid);
		}
		(void)maildir_threads_end(&batch);
	}
	if (ret == 0)
		ret = save_commit(mb, items, count, uidvalidity_r, uids_r, error_r);
	save_items_free(items, count);
	maildir_folder_unref(&mb);
	return ret;
}

/* A source without a THREADID (delivered by an MTA or Dovecot) gives its copies
 * one now, from the header (the copy's file in tmp/). */
static void copy_threads(struct save_item *items, unsigned int count, const char *root)
{
	struct maildir_threads_batch *batch = NULL;
	for (unsigned int i = 0; i < count; i++) {
		if (items[i].threadid[0] != '\0')
			continue;
		if (batch == NULL)
			batch = maildir_threads_begin(root);
		int fd = open(items[i].tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		maildir_threads_add_msg(batch, NULL, fd, MAILDIR_THREADS_HEADER_MAX,
					items[i].threadid);
		if (fd >= 0)
			close(fd);
	}
	if (batch != NULL)
		(void)maildir_threads_end(&batch);
}

/* Dovecot's message GUID of each copied source message (its uidlist G field, else
 * its base name), for the copy's own G field. */
static void copy_guids(struct maildir_folder *src, const uint32_t *uids,
		       struct save_item *items, unsigned int count)
{
	char *path = i_strdup_printf("%s/%s", src->path, MAILDIR_UIDLIST_NAME);
	char **guids = i_new(char *, count + 1);
	if (maildir_uidlist_read_ext(path, uids, count, 'G', guids) < 0)
		log_error_errno("maildir: read %s", path);
	for (unsigned int i = 0; i < count; i++) {
		int idx = maildir_state_find(&src->state, uids[i]);
		if (guids[i] != NULL) {
			items[i].guid = guids[i];
		} else if (idx >= 0) {
			const char *name = src->state.msgs[idx].name;
			items[i].guid = i_strndup(name, maildir_filename_base_len(name, src->colon));
		}
	}
	free(guids);
	free(path);
}

/* Put a copy of a source message into dest's tmp/: a hard link, or a byte copy. */
static int copy_to_tmp(struct maildir_folder *src, const struct maildir_msg *msg,
		       struct maildir_folder *dest, struct save_item *item,
		       struct store_error *error_r)
{
	char *src_path = maildir_msg_path(src, msg);
	item->meta = msg->meta;
	item->system = msg->meta.flags.system;
	item->kw_names = i_new(const char *, src->kw.count + 1);
	for (unsigned int k = 0; k < src->kw.count; k++) {
		if ((msg->meta.flags.keywords & (1u << k)) != 0 && src->kw.names[k] != NULL)
			item->kw_names[item->kw_count++] = src->kw.names[k];
	}
	uint64_t physical;
	if (!maildir_filename_size(msg->name, src->colon, &physical))
		physical = msg->meta.size;
	item->base = maildir_filename_new(physical, msg->meta.size);
	item->tmp_path = i_strdup_printf("%s/tmp/%s", dest->path, item->base);
	int ret = link(src_path, item->tmp_path);
	if (ret < 0 && errno != ENOENT) {
		int fd = open(src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		i_free(item->tmp_path);
		i_free(item->base);
		ret = fd < 0 || fstat(fd, &st) < 0 ? -1 :
		      write_tmp(dest->path, item, NULL, fd, (size_t)st.st_size, error_r);
		if (fd >= 0)
			close(fd);
		if (fd < 0)
			maildir_set_errno_error(error_r, "open message");
	} else if (ret < 0) {
		/* expunged meanwhile: skipped, and the item is used for the next one */
		free(item->tmp_path);
		free(item->base);
		free(item->kw_names);
		memset(item, 0, sizeof(*item));
		free(src_path);
		return 1;
	}
	free(src_path);
	/* a copy keeps the source's EMAILID and THREADID (RFC 8474 5.1, 5.2) */
	memcpy(item->emailid, msg->meta.emailid, sizeof(item->emailid));
	memcpy(item->threadid, msg->meta.threadid, sizeof(item->threadid));
	return ret;
}

static void move_remove_sources(struct maildir_folder *src, const uint32_t *uids,
				unsigned int count)
{
	struct store_error error;
	if (maildir_mbox_lock(src, false, &error) < 0)
		return;
	bool *remove = i_new(bool, src->state.count + 1);   /* zeroed */
	for (unsigned int i = 0; i < count; i++) {
		int idx = maildir_state_find(&src->state, uids[i]);
		if (idx >= 0)
			remove[idx] = true;
	}
	if (src->lock != NULL)
		maildir_mbox_remove(src, remove);
	free(remove);
	maildir_mbox_unlock(src);
}

int maildir_copy(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		 const char *dest_name, bool move, uint32_t *uidvalidity_r,
		 uint32_t *src_uids_r, uint32_t *dest_uids_r, unsigned int *copied_r,
		 struct store_error *error_r)
{
	struct maildir_folder *src = ((struct maildir_mailbox *)mbox)->folder, *dest;
	if (maildir_mbox_refresh(src, error_r) < 0 ||
	    maildir_folder_get((struct maildir_user *)mbox->user, dest_name, &dest,
			       error_r) < 0)
		return -1;
	struct save_item *items = i_new(struct save_item, count + 1);
	memset(items, 0, (count + 1) * sizeof(*items));
	unsigned int n = 0;
	int ret = 0;
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		int m = maildir_state_find(&src->state, uids[i]);
		if (m < 0)
			continue;
		ret = copy_to_tmp(src, &src->state.msgs[m], dest, &items[n], error_r);
		if (ret == 0)
			src_uids_r[n++] = uids[i];
		else if (ret > 0)
			ret = 0;
	}
	if (ret == 0 && n > 0) {
		copy_guids(src, src_uids_r, items, n);
		copy_threads(items, n, ((struct maildir_user *)mbox->user)->root);
		ret = save_commit(dest, items, n, uidvalidity_r, dest_uids_r, error_r);
	} else if (ret == 0) {
		(void)maildir_mbox_refresh(dest, error_r);
		*uidvalidity_r = dest->state.uidvalidity;
	}
	save_items_free(items, count);
	maildir_folder_unref(&dest);
	if (ret < 0)
		return -1;
	if (move && n > 0)
		move_remove_sources(src, src_uids_r, n);
	*copied_r = n;
	return 0;
}
