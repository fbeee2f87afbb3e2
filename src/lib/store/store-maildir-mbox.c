/* Open maildir folders (store-maildir.h): snapshots and change lists from the folder
 * state, \Recent claims, flag changes by renaming files, expunge by unlinking, and
 * message content mapped from the file with its MIME parse from the folder's cache
 * (maildir-mime.c). */
#include "store-maildir.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"
#include "mime/mime-tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB(mbox) (((struct maildir_mailbox *)(mbox))->folder)

/* Files up to this size are read into memory, bigger ones mapped. */
#define MAILDIR_READ_MAX (256 * 1024)

struct maildir_content {
	struct store_content base;
	void *map;                   /* a big file mapped, or NULL */
	unsigned char *read_copy;    /* a small file read into memory, or NULL */
	size_t map_size;             /* the file's size */
	unsigned char *converted;    /* CRLF copy of a bare-LF file, or NULL */
	struct maildir_folder *mb;   /* referenced until the bytes are loaded (lazy) */
	void (*free_parsed)(void *parsed);
	/* where set_parsed stores a new parse: the cache and the message's key */
	struct maildir_mime *mime;
	uint32_t uid;
	char *base_name;
	bool cached;                 /* parsed came from (or went to) the cache */
};

int maildir_mailbox_open(struct store_user *user, const char *name, bool readonly,
			 struct store_mailbox **mbox_r, struct store_error *error_r)
{
	struct maildir_folder *folder;
	if (maildir_folder_get((struct maildir_user *)user, name, &folder, error_r) < 0)
		return -1;
	if (maildir_mbox_refresh(folder, error_r) < 0) {
		maildir_folder_unref(&folder);
		return -1;
	}
	struct maildir_mailbox *mbox = i_new0(struct maildir_mailbox);
	mbox->folder = folder;
	mbox->base.user = user;
	mbox->base.name = i_strdup(name);
	mbox->base.readonly = readonly || !folder->can_write;
	*mbox_r = &mbox->base;
	return 0;
}

void maildir_mailbox_close(struct store_mailbox *_mbox)
{
	struct maildir_mailbox *mbox = (struct maildir_mailbox *)_mbox;
	maildir_folder_unref(&mbox->folder);
	free(mbox->base.name);
	free(mbox);
}

/* The keyword table: letter i is bit i; a letter without a name gets a placeholder. */
static char **keyword_table(const struct maildir_folder *mb, unsigned int *count_r)
{
	char **names = i_new(char *, mb->kw.count + 1);
	for (unsigned int i = 0; i < mb->kw.count; i++) {
		names[i] = mb->kw.names[i] != NULL ? i_strdup(mb->kw.names[i]) :
			   i_strdup_printf("$MaildirKeyword%c", 'a' + i);
	}
	*count_r = mb->kw.count;
	return names;
}

int maildir_snapshot(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
		     struct store_error *error_r)
{
	struct maildir_folder *mb = MB(mbox);
	if (maildir_mbox_refresh(mb, error_r) < 0)
		return -1;
	struct store_snapshot *snap = i_new0(struct store_snapshot);
	maildir_status_from_state(mb, &snap->status);
	snap->status.readonly = mbox->readonly;
	snap->modseq = mb->state.modseq;
	snap->count = mb->state.count;
	snap->msgs = i_new(struct store_message_meta, mb->state.count + 1);
	for (unsigned int i = 0; i < mb->state.count; i++)
		snap->msgs[i] = mb->state.msgs[i].meta;
	snap->keywords = keyword_table(mb, &snap->keyword_count);
	*snapshot_r = snap;
	return 0;
}

int maildir_changes(struct store_mailbox *mbox, uint64_t since_modseq,
		    struct store_changes **changes_r, struct store_error *error_r)
{
	struct maildir_folder *mb = MB(mbox);
	const struct maildir_state *st = &mb->state;
	if (maildir_mbox_refresh(mb, error_r) < 0)
		return -1;
	if (since_modseq < st->log_base_modseq || since_modseq > st->modseq)
		return 0;
	unsigned int lo = 0, hi = st->log_count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (st->log[mid].meta.modseq <= since_modseq)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct store_changes *changes = i_new0(struct store_changes);
	changes->modseq = st->modseq;
	changes->count = st->log_count - lo;
	changes->changes = i_new(struct store_change, changes->count + 1);
	if (changes->count > 0)
		memcpy(changes->changes, st->log + lo, changes->count * sizeof(struct store_change));
	changes->keywords = keyword_table(mb, &changes->keyword_count);
	*changes_r = changes;
	return 1;
}

/* Move a message from new/ to cur/ (keeping its base name and flags). */
static void move_to_cur(struct maildir_folder *mb, struct maildir_msg *msg)
{
	size_t base_len = maildir_filename_base_len(msg->name, mb->colon);
	char *name = maildir_filename_with_flags(msg->name, base_len, mb->colon,
						 msg->meta.flags.system,
						 (uint32_t)msg->meta.flags.keywords);
	char *old_path = maildir_msg_path(mb, msg);
	char *new_path = i_strdup_printf("%s/cur/%s", mb->path, name);
	if (rename(old_path, new_path) == 0) {
		free(msg->name);
		msg->name = name;
		msg->in_new = false;
		mb->wrote_new = mb->wrote_cur = true;
		maildir_mbox_touch(mb, msg->meta.uid);
	} else {
		free(name);
	}
	free(old_path);
	free(new_path);
}

int maildir_claim_recent(struct store_mailbox *mbox, uint32_t *first_uid_r,
			 struct store_error *error_r)
{
	struct maildir_folder *mb = MB(mbox);
	if (maildir_mbox_refresh(mb, error_r) < 0)
		return -1;
	if (mbox->readonly || mb->state.first_recent_uid >= mb->state.next_uid) {
		/* nothing to claim: no lock, no index write (files still in new/ move to
		 * cur/ with the next claim that has something) */
		*first_uid_r = mb->state.next_uid;
		return 0;
	}
	if (maildir_mbox_lock(mb, false, error_r) < 0)
		return -1;
	struct maildir_state *st = &mb->state;
	*first_uid_r = st->first_recent_uid;
	/* the claimed messages leave new/ (as with Dovecot), so new/ stays short */
	if (mb->lock != NULL) {
		for (unsigned int i = st->count - maildir_state_recent(st); i < st->count; i++) {
			if (st->msgs[i].in_new)
				move_to_cur(mb, &st->msgs[i]);
		}
	}
	st->first_recent_uid = st->next_uid;
	maildir_mbox_unlock(mb);
	return 0;
}

static uint32_t apply_mode(uint32_t cur, uint32_t change, enum store_flags_mode mode)
{
	return mode == STORE_FLAGS_REPLACE ? change :
	       mode == STORE_FLAGS_ADD ? (cur | change) : (cur & ~change);
}

/* Rename one message for new flags. 1 done, 0 the file is gone, -1 error. */
static int rename_flags(struct maildir_folder *mb, struct maildir_msg *msg, uint32_t system,
			uint32_t letters, struct store_error *error_r)
{
	size_t base_len = maildir_filename_base_len(msg->name, mb->colon);
	char *name = maildir_filename_with_flags(msg->name, base_len, mb->colon,
						 system, letters);
	char *old_path = maildir_msg_path(mb, msg);
	char *new_path = i_strdup_printf("%s/cur/%s", mb->path, name);
	int ret = 1;
	if (strcmp(old_path, new_path) != 0 && rename(old_path, new_path) < 0) {
		if (errno == ENOENT) {
			ret = 0;
		} else {
			maildir_set_errno_error(error_r, "rename");
			ret = -1;
		}
	}
	if (ret > 0) {
		mb->wrote_new |= msg->in_new;
		free(msg->name);
		msg->name = name;
		msg->in_new = false;
		mb->wrote_cur = true;
	} else {
		free(name);
	}
	free(old_path);
	free(new_path);
	return ret;
}

static int locked_for_write(struct maildir_folder *mb, struct store_error *error_r)
{
	if (mb->lock != NULL)
		return 0;
	maildir_mbox_unlock(mb);
	store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
	return -1;
}

/* Apply a flag change to one message (locked mb). 1 done or nothing to do (also: no
 * such UID), 0 its file is not under the name the state has, -1 error. */
static int store_flags_one(struct maildir_folder *mb, uint32_t uid, enum store_flags_mode mode,
			   uint32_t system_flags, uint32_t letters, struct store_error *error_r)
{
	struct maildir_state *st = &mb->state;
	int m = maildir_state_find(st, uid);   /* O(log n): not a walk from 1 */
	if (m < 0)
		return 1;
	struct maildir_msg *msg = &st->msgs[m];
	uint32_t sys = apply_mode(msg->meta.flags.system, system_flags & STORE_FLAGS_ALL, mode);
	uint32_t kw = apply_mode((uint32_t)msg->meta.flags.keywords, letters, mode);
	if (sys == msg->meta.flags.system && kw == msg->meta.flags.keywords)
		return 1;
	int r = rename_flags(mb, msg, sys, kw, error_r);
	if (r <= 0)
		return r;
	maildir_state_count(st, msg, -1);
	msg->meta.flags.system = sys;
	msg->meta.flags.keywords = kw;
	maildir_state_count(st, msg, 1);
	msg->meta.modseq = ++st->modseq;
	maildir_state_log(st, STORE_CHANGE_FLAGS, &msg->meta);
	return 1;
}

int maildir_update_flags(struct store_mailbox *mbox, const uint32_t *uids,
			 unsigned int count, enum store_flags_mode mode,
			 uint32_t system_flags, const char *const *keyword_names,
			 unsigned int keyword_count, struct store_error *error_r)
{
	struct maildir_folder *mb = MB(mbox);
	uint32_t letters;
	int ret = 0;
	if (maildir_mbox_lock(mb, false, error_r) < 0 || locked_for_write(mb, error_r) < 0)
		return -1;
	if (maildir_mbox_keywords(mb, keyword_names, keyword_count,
				  mode != STORE_FLAGS_REMOVE, &letters, error_r) < 0) {
		maildir_mbox_unlock(mb);
		return -1;
	}
	bool rescanned = false;
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		int r = store_flags_one(mb, uids[i], mode, system_flags, letters, error_r);
		if (r == 0 && !rescanned) {
			/* the file is not where the state says: renamed by someone else in a
			 * moment our stamps could not show; look again once, then retry */
			rescanned = true;
			r = maildir_mbox_rescan(mb, error_r) < 0 ? -1 :
			    store_flags_one(mb, uids[i], mode, system_flags, letters, error_r);
		}
		if (r < 0)
			ret = -1;
	}
	maildir_mbox_unlock(mb);
	return ret;
}

/* Unlink and drop the messages at the marked state indexes. A file not found under
 * the name the state has is kept (it was renamed by someone else: dropping it would
 * bring its UID back when the next rescan finds it): its UID goes to *missing. */
static void remove_pass(struct maildir_folder *mb, const bool *remove, struct buffer *missing)
{
	struct maildir_state *st = &mb->state;
	unsigned int keep = 0;
	while (keep < st->count && !remove[keep])
		keep++;   /* messages before the first removed one stay where they are */
	for (unsigned int i = keep; i < st->count; i++) {
		struct maildir_msg *msg = &st->msgs[i];
		char *path = remove[i] ? maildir_msg_path(mb, msg) : NULL;
		int ret = path == NULL ? 1 : unlink(path) == 0 ? 0 : errno == ENOENT ? 2 : -1;
		if (ret < 0)
			log_error_errno("maildir: unlink(%s)", path);
		free(path);
		if (ret == 2)
			(void)buffer_append(missing, &msg->meta.uid, sizeof(msg->meta.uid));
		if (ret != 0) {
			st->msgs[keep++] = *msg;
			continue;
		}
		mb->wrote_cur |= !msg->in_new;
		mb->wrote_new |= msg->in_new;
		struct store_message_meta meta;
		memset(&meta, 0, sizeof(meta));
		meta.uid = msg->meta.uid;
		meta.modseq = ++st->modseq;
		maildir_state_log(st, STORE_CHANGE_EXPUNGE, &meta);
		maildir_state_count(st, msg, -1);
		free(msg->name);
	}
	st->count = keep;
}

void maildir_mbox_remove(struct maildir_folder *mb, const bool *remove)
{
	struct buffer missing, ignored;
	struct store_error error;
	buffer_init(&missing, 0);
	buffer_init(&ignored, 0);
	remove_pass(mb, remove, &missing);
	unsigned int count = (unsigned int)(buffer_len(&missing) / sizeof(uint32_t));
	/* renamed under us: look again once and remove them under their names of now */
	if (count > 0 && maildir_mbox_rescan(mb, &error) == 0) {
		bool *again = i_new(bool, mb->state.count + 1);
		for (unsigned int i = 0; i < count; i++) {
			uint32_t uid;
			memcpy(&uid, buffer_data(&missing) + i * sizeof(uid), sizeof(uid));
			int idx = maildir_state_find(&mb->state, uid);
			if (idx >= 0)
				again[idx] = true;
		}
		remove_pass(mb, again, &ignored);
		free(again);
	}
	buffer_deinit(&missing);
	buffer_deinit(&ignored);
}

int maildir_expunge(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		    struct store_error *error_r)
{
	struct maildir_folder *mb = MB(mbox);
	if (maildir_mbox_lock(mb, false, error_r) < 0 || locked_for_write(mb, error_r) < 0)
		return -1;
	struct maildir_state *st = &mb->state;
	bool *remove = i_new(bool, st->count + 1);   /* zeroed */
	/* UID EXPUNGE: the given UIDs by binary search; EXPUNGE: every message */
	for (unsigned int i = 0; i < (uids != NULL ? count : st->count); i++) {
		int idx = uids != NULL ? maildir_state_find(st, uids[i]) : (int)i;
		if (idx >= 0 && (st->msgs[idx].meta.flags.system & STORE_FLAG_DELETED) != 0)
			remove[idx] = true;
	}
	maildir_mbox_remove(mb, remove);
	free(remove);
	maildir_mbox_unlock(mb);
	return 0;
}

/* A file with bare LF line ends (written by an MTA) is served with CRLF, as IMAP
 * requires (RFC 3501 2.3.4 sizes and literals count CRLF); the index holds that size. */
static void content_to_crlf(struct maildir_content *content, uint64_t crlf_size)
{
	const unsigned char *src = content->base.data;
	size_t size = content->base.size, i = 0, o = 0;
	unsigned char *dst = i_malloc(crlf_size + 1);
	/* copy the runs between line ends whole; insert CR before each bare LF */
	while (i < size && o < crlf_size) {
		const unsigned char *lf = memchr(src + i, '\n', size - i);
		size_t run = (lf != NULL ? (size_t)(lf - src) : size) - i;
		if (run > crlf_size - o)
			run = crlf_size - o;
		memcpy(dst + o, src + i, run);
		o += run;
		i += run;
		if (lf == NULL || i != (size_t)(lf - src) || o == crlf_size)
			continue;
		if ((i == 0 || src[i - 1] != '\r'))
			dst[o++] = '\r';
		if (o < crlf_size) {
			dst[o++] = '\n';
			i++;
		}
	}
	content->converted = dst;
	content->base.data = dst;
	content->base.size = o;
}

static void content_release(struct store_content *_content)
{
	struct maildir_content *content = (struct maildir_content *)_content;
	free(content->converted);
	free(content->read_copy);
	if (content->map != NULL)
		munmap(content->map, content->map_size);
	if (content->free_parsed != NULL)
		content->free_parsed(content->base.parsed);
	maildir_mime_unref(&content->mime);
	maildir_folder_unref(&content->mb);
	free(content->base_name);
	free(content);
}

/* Open the message file; *idx_r is its index in the (possibly rescanned) state. */
static int open_message(struct maildir_folder *mb, uint32_t uid, int *fd_r, int *idx_r,
			struct store_error *error_r)
{
	for (unsigned int attempt = 0; attempt < 2; attempt++) {
		int idx = maildir_state_find(&mb->state, uid);
		if (idx < 0)
			break;
		char *path = maildir_msg_path(mb, &mb->state.msgs[idx]);
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		free(path);
		if (fd >= 0) {
			*fd_r = fd;
			*idx_r = idx;
			return 0;
		}
		if (errno != ENOENT) {
			maildir_set_errno_error(error_r, "open message");
			return -1;
		}
		/* renamed or removed by someone else: rescan once */
		if (attempt == 0 && maildir_mbox_lock(mb, true, error_r) < 0)
			return -1;
		maildir_mbox_unlock(mb);
	}
	store_error_set(error_r, STORE_ERR_NONEXISTENT, "Message was expunged.");
	return -1;
}

static void free_tree(void *parsed)
{
	struct mime_tree *tree = parsed;
	mime_tree_destroy(&tree);
}

/* Compaction of the MIME cache keeps the records of messages still in the folder. */
static bool mime_record_live(void *context, const struct maildir_mime_key *key)
{
	const struct maildir_folder *mb = context;
	int idx = maildir_state_find(&mb->state, key->uid);
	if (idx < 0)
		return false;
	const struct maildir_msg *msg = &mb->state.msgs[idx];
	size_t len = maildir_filename_base_len(msg->name, mb->colon);
	return len == key->base_len && memcmp(msg->name, key->base, len) == 0;
}

static struct maildir_mime *mbox_mime(struct maildir_folder *mb)
{
	if (mb->mime != NULL && maildir_mime_uidvalidity(mb->mime) != mb->state.uidvalidity) {
		maildir_mime_detach(mb->mime);
		maildir_mime_unref(&mb->mime);
	}
	if (mb->mime == NULL)
		mb->mime = maildir_mime_create(mb->path, mb->state.uidvalidity, mime_record_live, mb);
	return mb->mime;
}

/* The cached parse of the message, when there is a valid one. */
static void content_load_parsed(struct maildir_folder *mb, struct maildir_content *content,
				const struct maildir_msg *msg)
{
	struct maildir_mime_key key;
	struct mime_tree *tree;
	content->mime = mbox_mime(mb);
	maildir_mime_ref(content->mime);
	content->uid = msg->meta.uid;
	content->base_name = i_strndup(msg->name, maildir_filename_base_len(msg->name,
									    mb->colon));
	key.uid = content->uid;
	key.base = content->base_name;
	key.base_len = strlen(content->base_name);
	key.size = content->map_size;   /* the file's own size: a rewritten file misses */
	key.content_size = msg->meta.size;  /* what is served: CRLF for a bare-LF file */
	if (maildir_mime_lookup(content->mime, &key, &tree) > 0) {
		content->base.parsed = tree;
		content->free_parsed = free_tree;
		content->cached = true;
	}
}

/* A small file is read (cheaper than mmap + munmap, which were a third of a header
 * SEARCH over 100,000 messages), a big one mapped. */
static int content_read_bytes(struct maildir_content *content, int fd,
			      struct store_error *error_r)
{
	size_t size = content->map_size, done = 0;
	if (size == 0)
		return 0;
	if (size > MAILDIR_READ_MAX) {
		content->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (content->map != MAP_FAILED)
			return 0;
		content->map = NULL;
		maildir_set_errno_error(error_r, "mmap message");
		return -1;
	}
	content->read_copy = i_malloc(size);
	while (done < size) {
		ssize_t n = pread(fd, content->read_copy + done, size - done, (off_t)done);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;   /* cut short under us */
			maildir_set_errno_error(error_r, "read message");
			i_free(content->read_copy);
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Map the message file into content (with CRLF conversion when the index size says
 * the file has bare LFs). *idx_r: the message's index after a possible rescan. */
static int content_map(struct maildir_folder *mb, struct maildir_content *content,
		       struct store_error *error_r)
{
	struct stat st;
	int fd, idx;
	if (open_message(mb, content->uid, &fd, &idx, error_r) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		maildir_set_errno_error(error_r, "fstat message");
		close(fd);
		return -1;
	}
	content->map_size = (size_t)st.st_size;
	if (content_read_bytes(content, fd, error_r) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	content->base.data = content->map != NULL ? content->map :
			     content->read_copy != NULL ? content->read_copy :
			     (const unsigned char *)"";
	content->base.size = content->map_size;
	if (mb->state.msgs[idx].meta.size > content->map_size)
		content_to_crlf(content, mb->state.msgs[idx].meta.size);
	return 0;
}

/* store_content_load(): the bytes of a content handed out with a cached parse. */
static int content_load(struct store_content *_content, struct store_error *error_r)
{
	struct maildir_content *content = (struct maildir_content *)_content;
	struct maildir_folder *mb = content->mb;
	uint64_t expected = content->base.size;
	content->mb = NULL;   /* only needed until the bytes are here */
	if (mb == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Message was expunged.");
		return -1;
	}
	int ret = content_map(mb, content, error_r);
	maildir_folder_unref(&mb);
	if (ret < 0)
		return -1;
	if (content->base.size != expected) {
		/* Changed since the index said so: the cached parse may not fit. */
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Message changed on disk.");
		return -1;
	}
	return 0;
}

int maildir_get_content(struct store_mailbox *mbox, uint32_t uid,
			struct store_content **content_r, struct store_error *error_r)
{
	struct maildir_folder *mb = MB(mbox);
	int idx = maildir_state_find(&mb->state, uid);
	struct maildir_content *content = i_new0(struct maildir_content);
	content->uid = uid;
	content->base.backend = &store_maildir_vfuncs;
	content->base.release = content_release;
	uint64_t physical;
	if (idx >= 0 && maildir_filename_size(mb->state.msgs[idx].name, mb->colon,
					      &physical)) {
		/* The name tells the file's size: look the parse up without opening it. */
		content->map_size = (size_t)physical;
		content_load_parsed(mb, content, &mb->state.msgs[idx]);
		if (content->base.parsed != NULL) {
			content->base.size = mb->state.msgs[idx].meta.size;
			content->base.load = content_load;
			content->mb = mb;
			maildir_folder_ref(mb);
			*content_r = &content->base;
			return 0;
		}
		maildir_mime_unref(&content->mime);
		i_free(content->base_name);
		content->map_size = 0;
	}
	if (content_map(mb, content, error_r) < 0) {
		free(content);
		return -1;
	}
	idx = maildir_state_find(&mb->state, uid);
	content_load_parsed(mb, content, &mb->state.msgs[idx]);
	*content_r = &content->base;
	return 0;
}

void maildir_set_parsed(struct store_content *_content, void *parsed,
			void (*free_parsed)(void *parsed))
{
	struct maildir_content *content = (struct maildir_content *)_content;
	if (content->free_parsed != NULL)
		content->free_parsed(content->base.parsed);
	content->base.parsed = parsed;
	content->free_parsed = free_parsed;
	/* a fresh parse (the IMAP layer's struct mime_tree): keep it for next time */
	if (parsed != NULL && !content->cached && content->mime != NULL) {
		struct maildir_mime_key key = {
			content->uid, content->base_name, strlen(content->base_name),
			content->map_size, 0
		};
		(void)maildir_mime_store(content->mime, &key, parsed);
		content->cached = true;
	}
}
