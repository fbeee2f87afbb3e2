/* What a writer leaves on disk when it unlocks a maildir folder (store-maildir.h,
 * doc/maildir-index.md "Cost of one change"): the dovecot-uidlist records it added --
 * appended to the file as Dovecot does, or the file replaced when its header changed
 * or records were dropped -- and the folder's pymap-index: a delta with what changed
 * under the lock, or a new snapshot. Also the state side of a new message
 * (maildir_mbox_add_new). The lock itself and the sync are store-maildir-sync.c's. */
#include "store-maildir.h"
#include "maildir-lock.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The uidlist file's records were not read: the list holds only what is added now
 * (appended to the file at unlock). The rest of its header comes from the state,
 * which (locked, stamps equal) says what the file says. */
struct maildir_uidlist *maildir_mbox_uidlist_for_appends(struct maildir_folder *mb)
{
	const struct maildir_state *st = &mb->state;
	if (!st->valid || !st->st_uidlist.exists || st->guid[0] == '\0')
		return maildir_mbox_read_uidlist(mb);
	struct maildir_uidlist *list = maildir_uidlist_new(st->uidvalidity);
	memcpy(list->guid, st->guid, sizeof(list->guid));
	list->next_uid = st->next_uid;
	mb->uidlist_stamp = st->st_uidlist;
	mb->uidlist_on_disk = 0;
	mb->uidlist_partial = true;
	return list;
}

/* The records not yet in the file, appended to it (one write and fdatasync, as
 * Dovecot does; the header's next UID stays behind: readers take the last record's
 * UID + 1 when larger). 1 done, 0 the file is not the one read (or does not end
 * with a whole line), -1 error. */
static int append_uidlist(struct maildir_folder *mb, const char *path)
{
	struct maildir_uidlist *list = mb->uidlist;
	struct maildir_stamp after;
	size_t size;
	char *data = maildir_uidlist_format_records(list, mb->uidlist_on_disk, &size);
	int ret = maildir_file_append(path, mb->uidlist_stamp.ino, mb->uidlist_stamp.size,
				      '\n', data, size, true, &after);
	free(data);
	if (ret > 0) {
		mb->uidlist_stamp = mb->state.st_uidlist = after;
		mb->uidlist_on_disk = list->count;
	}
	return ret;
}

static int replace_uidlist(struct maildir_folder *mb, const char *path)
{
	if (maildir_uidlist_write(path, mb->uidlist) < 0)
		return -1;
	if (maildir_stamp_get(path, &mb->uidlist_stamp) == 0)
		mb->state.st_uidlist = mb->uidlist_stamp;
	mb->uidlist_on_disk = mb->uidlist->count;
	mb->uidlist_rewrite = false;
	return 1;
}

/* Appending to a file whose records were not read failed (its end is torn: a writer
 * died mid-line): read it whole and add this lock's records to it. */
static int load_whole_uidlist(struct maildir_folder *mb)
{
	struct maildir_uidlist *added = mb->uidlist;
	struct maildir_uidlist *list = maildir_mbox_read_uidlist(mb);
	if (added->count > 0 && list->next_uid > added->recs[0].uid) {
		log_error("maildir: %s: dovecot-uidlist changed under the lock", mb->path);
		maildir_uidlist_free(&list);
		errno = ESTALE;
		return -1;
	}
	for (unsigned int i = 0; i < added->count; i++)
		maildir_uidlist_append(list, added->recs[i].uid, added->recs[i].ext,
				       added->recs[i].name);
	maildir_uidlist_free(&mb->uidlist);
	mb->uidlist = list;
	mb->uidlist_rewrite = true;
	return 0;
}

int maildir_mbox_write_uidlist(struct maildir_folder *mb, struct store_error *error_r)
{
	if (!mb->uidlist_dirty || mb->uidlist == NULL)
		return 0;
	char *path = maildir_folder_file(mb, MAILDIR_UIDLIST_NAME);
	int ret = mb->uidlist_rewrite ? 0 : append_uidlist(mb, path);
	if (ret == 0 && mb->uidlist_partial)
		ret = load_whole_uidlist(mb);
	if (ret == 0)
		ret = replace_uidlist(mb, path);
	if (ret < 0)
		maildir_set_errno_error(error_r, "write dovecot-uidlist");
	else
		mb->uidlist_dirty = false;
	free(path);
	return ret < 0 ? -1 : 0;
}

void maildir_mbox_touch(struct maildir_folder *mb, uint32_t uid)
{
	if (mb->touched_count == mb->touched_alloc) {
		mb->touched_alloc = mb->touched_alloc == 0 ? 16 : mb->touched_alloc * 2;
		mb->touched = i_reallocarray(mb->touched, mb->touched_alloc, sizeof(*mb->touched));
	}
	mb->touched[mb->touched_count++] = uid;
}

/* Did the state change in a way the index must record (stamps alone do not: every
 * reader checks them against the disk anyway)? */
static bool state_changed(const struct maildir_state *a, const struct maildir_state *b)
{
	return a->modseq != b->modseq || a->first_recent_uid != b->first_recent_uid ||
	       a->next_uid != b->next_uid || a->uidvalidity != b->uidvalidity ||
	       a->count != b->count || a->valid != b->valid;
}

/* After changes made under the lock (ours, and an MTA's or Dovecot's that may have
 * come meanwhile), take the stamps of now, so that the next reader -- here or in
 * another process, from the index -- does not see our own change as a foreign one.
 * A directory that changed is listed again (verify_unlocked) to catch anything
 * someone else did while we held the lock: at the next use when we did not touch it,
 * a second after our first unchecked change when we did (dirs_to_list). */
static void adopt_stamps(struct maildir_folder *mb)
{
	struct maildir_state *st = &mb->state;
	struct maildir_stamp now[4];
	maildir_folder_stamps(mb->path, now);
	/* changed by us: a same-tick change of someone else's is looked for within a
	 * second; changed by someone else alone: at once */
	if (!maildir_stamp_equal(&now[0], &st->st_new)) {
		if (mb->wrote_new)
			maildir_state_settle_later(&st->new_settle_ns);
		else
			st->new_unsettled = true;
	}
	if (!maildir_stamp_equal(&now[1], &st->st_cur)) {
		if (mb->wrote_cur)
			maildir_state_settle_later(&st->cur_settle_ns);
		else
			st->unstable = true;
	}
	st->st_new = now[0];
	st->st_cur = now[1];
	if (!mb->uidlist_dirty)
		st->st_uidlist = now[2];
	st->st_keywords = now[3];
}

static int uid_cmp(const void *p1, const void *p2)
{
	uint32_t a = *(const uint32_t *)p1, b = *(const uint32_t *)p2;
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Sort uids and drop repeats: the count left. */
static unsigned int uids_sort_unique(uint32_t *uids, unsigned int count)
{
	unsigned int keep = 0;
	if (count > 1)
		qsort(uids, count, sizeof(*uids), uid_cmp);
	for (unsigned int i = 0; i < count; i++) {
		if (keep == 0 || uids[keep - 1] != uids[i])
			uids[keep++] = uids[i];
	}
	return keep;
}

/* The changes made under this lock as an index delta: every modseq since the lock
 * was taken must still be in the change log (a rescan or a huge change: snapshot). */
static int append_index(struct maildir_folder *mb, const char *path)
{
	const struct maildir_state *st = &mb->state, *sig = &mb->lock_sig;
	unsigned int first = st->log_count;
	while (first > 0 && st->log[first - 1].meta.modseq > sig->modseq)
		first--;
	if (mb->rescanned || mb->index_stale || st->uidvalidity != sig->uidvalidity ||
	    st->log_count - first != st->modseq - sig->modseq ||
	    maildir_index_wants_snapshot(&mb->ipos))
		return 0;
	struct maildir_index_delta delta = { .prev_modseq = sig->modseq, .first_log = first };
	unsigned int n = st->log_count - first + mb->touched_count;
	uint32_t *removed = i_new(uint32_t, n + 1), *changed = i_new(uint32_t, n + 1);
	for (unsigned int i = first; i < st->log_count; i++) {
		if (st->log[i].kind == STORE_CHANGE_EXPUNGE)
			removed[delta.removed_count++] = st->log[i].meta.uid;
		else
			changed[delta.changed_count++] = st->log[i].meta.uid;
	}
	for (unsigned int i = 0; i < mb->touched_count; i++)
		changed[delta.changed_count++] = mb->touched[i];
	delta.changed_count = uids_sort_unique(changed, delta.changed_count);
	delta.removed = removed;
	delta.changed = changed;
	int ret = maildir_index_append(path, st, &delta, &mb->ipos, &mb->st_index);
	free(removed);
	free(changed);
	return ret;
}

static void write_index(struct maildir_folder *mb)
{
	char *path = maildir_folder_file(mb, MAILDIR_INDEX_NAME);
	int ret = append_index(mb, path);
	if (ret == 0)
		ret = maildir_index_write(path, &mb->state, &mb->ipos, &mb->st_index) < 0 ? -1 : 1;
	if (ret < 0) {
		log_error_errno("maildir: write %s", path);
		mb->ipos.offset = 0;
	} else {
		mb->index_stale = false;
	}
	free(path);
}

void maildir_mbox_unlock(struct maildir_folder *mb)
{
	struct store_error error;
	if (mb->lock != NULL) {
		(void)maildir_mbox_write_uidlist(mb, &error);
		/* a rescan may have found files renamed without a change of flags (moved
		 * from new/ to cur/, an info flag pymap does not know): their names must
		 * reach the index even though nothing else changed */
		bool changed = mb->index_stale || mb->rescanned || mb->touched_count > 0 ||
			       state_changed(&mb->state, &mb->lock_sig);
		if (mb->state.valid)
			adopt_stamps(mb);
		if (changed)   /* else the index on disk already says this */
			write_index(mb);
		maildir_lock_release(&mb->lock);
	}
	mb->uidlist_dirty = mb->uidlist_rewrite = mb->uidlist_partial = false;
	mb->rescanned = mb->wrote_new = mb->wrote_cur = false;
	mb->touched_count = 0;
	maildir_uidlist_free(&mb->uidlist);
}


struct maildir_msg *maildir_mbox_add_new(struct maildir_folder *mb, const char *name,
					 bool in_new, const struct store_message_meta *meta)
{
	struct maildir_uidlist *list = mb->uidlist;
	size_t base_len = maildir_filename_base_len(name, mb->colon);
	char *base = i_strndup(name, base_len);
	maildir_uidlist_append(list, list->next_uid, "", base);
	free(base);
	mb->uidlist_dirty = true;
	struct maildir_msg *msg = maildir_state_add(&mb->state);
	msg->meta = *meta;
	msg->meta.uid = list->recs[list->count - 1].uid;
	msg->meta.modseq = ++mb->state.modseq;
	maildir_derive_ids(list, "", msg->meta.uid, msg->meta.emailid, msg->meta.threadid);
	msg->name = i_strdup(name);
	msg->in_new = in_new;
	maildir_state_count(&mb->state, msg, 1);
	mb->state.next_uid = list->next_uid;
	maildir_state_log(&mb->state, STORE_CHANGE_APPEND, &msg->meta);
	return msg;
}
