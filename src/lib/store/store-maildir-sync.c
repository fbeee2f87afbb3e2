/* One maildir folder's state (store-maildir.h): loading the index (whole, or the
 * deltas after our offset), deciding from the stamps of new/, cur/, dovecot-uidlist
 * and dovecot-keywords whether anything changed (and when a directory must be listed
 * again), checking without the lock, taking the lock, and rescanning under it when
 * something did change: files without a UID get the next ones (in file name order)
 * and the differences to the previous state become change log entries with new
 * modseqs, so every process sees the same history. What a writer leaves on disk at
 * unlock is store-maildir-commit.c's. */
#include "store-maildir.h"
#include "maildir-round.h"
#include "maildir-lock.h"
#include "maildir-threads.h"
#include "alloc.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

struct scan_entry {
	char *name;
	size_t base_len;
	bool in_new;
	bool used;
};

struct scan {
	struct scan_entry *entries;
	unsigned int count, alloc;
};

uint64_t maildir_modseq_base(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

void maildir_set_errno_error(struct store_error *error_r, const char *what)
{
	int err = errno;
	if (err == ENOSPC || err == EDQUOT) {
		store_error_set(error_r, STORE_ERR_OVERQUOTA, "Not enough disk space.");
	} else if (err == EWOULDBLOCK) {
		store_error_set(error_r, STORE_ERR_INUSE, "Mailbox is locked, try again.");
	} else if (err == EROFS) {
		log_error("maildir: %s: %s", what, strerror(err));
		store_error_set(error_r, STORE_ERR_SERVERBUG, "Mail storage is read-only.");
	} else {
		log_error("maildir: %s: %s", what, strerror(err));
		store_error_set(error_r, STORE_ERR_SERVERBUG, "Internal error in mail storage.");
	}
	errno = err;
}

int maildir_folder_path(struct maildir_user *user, const char *name, char **path_r,
			struct store_error *error_r)
{
	char *rel;
	const char *error;
	if (maildir_name_to_dir(user->layout, name, &rel, &error) < 0) {
		store_error_set(error_r, STORE_ERR_CANNOT, "%s", error);
		return -1;
	}
	*path_r = rel[0] == '\0' ? i_strdup(user->root) : i_strdup_printf("%s/%s", user->root, rel);
	free(rel);
	return 0;
}

char *maildir_folder_file(const struct maildir_folder *mb, const char *name)
{
	return i_strdup_printf("%s/%s", mb->path, name);
}

char *maildir_msg_path(const struct maildir_folder *mb, const struct maildir_msg *msg)
{
	return i_strdup_printf("%s/%s/%s", mb->path, msg->in_new ? "new" : "cur", msg->name);
}

static bool is_real_dir(const char *path, uint64_t *ino_r)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (ino_r != NULL)
		*ino_r = (uint64_t)st.st_ino;
	return true;
}

static bool folder_gone(const struct maildir_folder *mb)
{
	uint64_t ino;
	char *cur = maildir_folder_file(mb, "cur");
	bool gone = !is_real_dir(mb->path, &ino) || ino != mb->dir_ino || !is_real_dir(cur, NULL);
	free(cur);
	return gone;
}

static void load_keywords(struct maildir_folder *mb)
{
	struct maildir_stamp st;
	char *path = maildir_folder_file(mb, MAILDIR_KEYWORDS_NAME);
	if (maildir_stamp_get(path, &st) == 0 && !maildir_stamp_equal(&st, &mb->kw_stamp)) {
		if (maildir_keywords_read(path, &mb->kw) < 0)
			log_error_errno("maildir: read %s", path);
		else
			mb->kw_stamp = st;
	}
	free(path);
}

/* Catch up with the deltas appended to the index since the state was read from it.
 * false: not possible (another file, or a delta that does not fit: the state is
 * dropped, as it may be damaged). */
static bool read_index_tail(struct maildir_folder *mb, const char *path)
{
	if (!mb->state.valid || mb->ipos.offset == 0)
		return false;
	int ret = maildir_index_read_tail(path, &mb->state, &mb->ipos);
	if (ret > 0)
		return true;
	if (ret < 0)
		log_error_errno("maildir: read %s", path);
	maildir_state_clear(&mb->state);
	return false;
}

static void read_index_whole(struct maildir_folder *mb, const char *path)
{
	struct maildir_state loaded;
	struct maildir_index_pos pos;
	mb->index_stale = true;
	mb->ipos.offset = 0;
	if (maildir_index_read(path, &loaded, &pos) <= 0)
		return;
	mb->index_stale = false;
	if (loaded.modseq >= mb->state.modseq || !mb->state.valid) {
		maildir_state_move(&mb->state, &loaded);
		mb->ipos = pos;
	} else {
		maildir_state_clear(&loaded);   /* ours is newer: the next write replaces it */
	}
}

static void load_index(struct maildir_folder *mb)
{
	struct maildir_stamp st;
	char *path = maildir_folder_file(mb, MAILDIR_INDEX_NAME);
	if (maildir_stamp_get(path, &st) == 0 &&
	    (!maildir_stamp_equal(&st, &mb->st_index) || !mb->state.valid)) {
		mb->st_index = st;
		if (!st.exists) {
			mb->index_stale = true;
			mb->ipos.offset = 0;
		} else if (read_index_tail(mb, path)) {
			mb->index_stale = false;
		} else {
			read_index_whole(mb, path);
		}
	}
	free(path);
}

void maildir_folder_stamps(const char *dir, struct maildir_stamp st[4])
{
	static const char *const names[] = {
		"new", "cur", MAILDIR_UIDLIST_NAME, MAILDIR_KEYWORDS_NAME
	};
	for (unsigned int i = 0; i < 4; i++) {
		char *path = i_strdup_printf("%s/%s", dir, names[i]);
		if (maildir_stamp_get(path, &st[i]) < 0)
			memset(&st[i], 0, sizeof(st[i]));
		free(path);
	}
}

static void get_stamps(const struct maildir_folder *mb, struct maildir_stamp st[4])
{
	maildir_folder_stamps(mb->path, st);
}

/* A directory we changed ourselves is listed again (for a change by someone else in
 * the same clock tick as ours) a second after the first such change not yet checked,
 * as Dovecot does with cur/ (MAILDIR_SYNC_SECS): while writers keep changing it, at
 * most one listing a second instead of one per change (a listing of cur/ is
 * O(folder size)), and never later than a second after the first change however
 * often ours follow. The change feed polls the views again then (maildir-watch.c). */
#define SETTLE_NSECS 1000000000LL

enum list_dirs { LIST_NEW = 1, LIST_CUR = 2 };

static int64_t now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static bool settle_due(int64_t settle_ns)
{
	return settle_ns != 0 && now_ns() >= settle_ns;
}

/* Which of new/ and cur/ must be listed before the state can be trusted, given the
 * stamps of now. */
static unsigned int dirs_to_list(const struct maildir_state *s, const struct maildir_stamp st[4])
{
	unsigned int dirs = 0;
	if (s->unstable)
		return LIST_NEW | LIST_CUR;
	if (s->new_unsettled || !maildir_stamp_equal(&st[0], &s->st_new) ||
	    settle_due(s->new_settle_ns))
		dirs |= LIST_NEW;
	if (!maildir_stamp_equal(&st[1], &s->st_cur) || settle_due(s->cur_settle_ns))
		dirs |= LIST_CUR;
	return dirs;
}

/* After listing dirs with stamps st read at taken: may a change in the same clock
 * tick still hide behind them? Then look again a second later. */
static void set_settling(const struct maildir_folder *mb, struct maildir_state *s,
			 unsigned int dirs, const struct maildir_stamp st[4],
			 const struct timespec *taken)
{
	int64_t later = (int64_t)taken->tv_sec * 1000000000 + taken->tv_nsec + SETTLE_NSECS;
	if ((dirs & LIST_NEW) != 0) {
		s->new_unsettled = false;
		s->new_settle_ns = maildir_stamp_is_unsettled(&st[0], taken, mb->fine_clock) ?
				   later : 0;
	}
	if ((dirs & LIST_CUR) != 0)
		s->cur_settle_ns = maildir_stamp_is_unsettled(&st[1], taken, mb->fine_clock) ?
				   later : 0;
}

/* Our own change of a directory: look again a second after the first one unchecked. */
void maildir_state_settle_later(int64_t *settle_ns)
{
	if (*settle_ns == 0)
		*settle_ns = now_ns() + SETTLE_NSECS;
}

static void state_set_stamps(struct maildir_state *state, const struct maildir_stamp st[4])
{
	state->st_new = st[0];
	state->st_cur = st[1];
	state->st_uidlist = st[2];
	state->st_keywords = st[3];
}

bool maildir_state_stamps_trusted(const struct maildir_state *s,
				  const struct maildir_stamp st[4])
{
	return dirs_to_list(s, st) == 0 && maildir_stamp_equal(&st[2], &s->st_uidlist) &&
	       maildir_stamp_equal(&st[3], &s->st_keywords);
}

static bool stamps_match(const struct maildir_state *s, const struct maildir_stamp st[4])
{
	return s->valid && maildir_state_stamps_trusted(s, st);
}

static bool stamps_changed(const struct maildir_folder *mb)
{
	struct maildir_stamp st[4];
	get_stamps(mb, st);
	return !stamps_match(&mb->state, st);
}

/* ---- scanning ---- */

static void scan_free(struct scan *scan)
{
	for (unsigned int i = 0; i < scan->count; i++)
		free(scan->entries[i].name);
	free(scan->entries);
	memset(scan, 0, sizeof(*scan));
}

static int scan_dir(const struct maildir_folder *mb, bool in_new, struct scan *scan)
{
	char *path = maildir_folder_file(mb, in_new ? "new" : "cur");
	DIR *dir = opendir(path);
	struct dirent *d;
	free(path);
	if (dir == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || d->d_type == DT_DIR || d->d_type == DT_LNK ||
		    strchr(d->d_name, ' ') != NULL)
			continue;
		if (scan->count == scan->alloc) {
			scan->alloc = scan->alloc == 0 ? 256 : scan->alloc * 2;
			scan->entries = i_reallocarray(scan->entries, scan->alloc,
						       sizeof(*scan->entries));
		}
		struct scan_entry *e = &scan->entries[scan->count++];
		e->name = i_strdup(d->d_name);
		e->base_len = maildir_filename_base_len(e->name, mb->colon);
		e->in_new = in_new;
		e->used = false;
	}
	closedir(dir);
	return 0;
}

static int base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int ret = memcmp(a, b, alen < blen ? alen : blen);
	return ret != 0 ? ret : alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int entry_cmp(const void *p1, const void *p2)
{
	const struct scan_entry *a = p1, *b = p2;
	int ret = base_cmp(a->name, a->base_len, b->name, b->base_len);
	/* the cur/ one of a base in both comes first */
	return ret != 0 ? ret : (int)a->in_new - (int)b->in_new;
}

static struct scan_entry *scan_find(struct scan *scan, const char *name, size_t len)
{
	unsigned int lo = 0, hi = scan->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct scan_entry *e = &scan->entries[mid];
		if (base_cmp(e->name, e->base_len, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < scan->count &&
	    base_cmp(scan->entries[lo].name, scan->entries[lo].base_len, name, len) == 0)
		return &scan->entries[lo];
	return NULL;
}

struct maildir_uidlist *maildir_mbox_read_uidlist(struct maildir_folder *mb)
{
	struct maildir_uidlist *list = NULL;
	const char *error;
	char *path = maildir_folder_file(mb, MAILDIR_UIDLIST_NAME);
	if (maildir_stamp_get(path, &mb->uidlist_stamp) < 0)
		memset(&mb->uidlist_stamp, 0, sizeof(mb->uidlist_stamp));
	int ret = maildir_uidlist_read(path, &list, &error);
	if (ret < 0)
		log_error("maildir: %s: %s (starting a new UIDVALIDITY)", path, error);
	else if (ret > 0 && list->bad_records > 0)
		log_warning("maildir: %s: skipped %u malformed records", path, list->bad_records);
	free(path);
	if (ret <= 0) {
		list = maildir_uidlist_new(store_new_uidvalidity());
		mb->uidlist_dirty = mb->uidlist_rewrite = true;
	}
	if (list->guid[0] == '\0') {
		struct maildir_uidlist *fresh = maildir_uidlist_new(list->uidvalidity);
		memcpy(list->guid, fresh->guid, sizeof(list->guid));
		maildir_uidlist_free(&fresh);
		mb->uidlist_dirty = mb->uidlist_rewrite = true;
	}
	mb->uidlist_on_disk = list->count;
	mb->uidlist_partial = false;
	return list;
}

void maildir_derive_ids(const struct maildir_uidlist *list, const char *ext, uint32_t uid,
			   char emailid_r[STORE_ID_MAX_BYTES], char threadid_r[STORE_ID_MAX_BYTES])
{
	char buf[STORE_ID_MAX_BYTES];
	if (maildir_uidlist_ext_get(ext, 'E', buf, sizeof(buf)) != NULL && buf[0] != '\0') {
		memcpy(emailid_r, buf, sizeof(buf));
	} else {
		/* stable for every process: a hash of the folder's GUID and the UID */
		unsigned char hash[16];
		char input[64];
		int len = snprintf(input, sizeof(input), "%s:%u", list->guid, uid);
		crypto_generichash(hash, sizeof(hash), (const unsigned char *)input,
				   (size_t)len, NULL, 0);
		emailid_r[0] = 'M';
		sodium_bin2hex(emailid_r + 1, STORE_ID_MAX_BYTES - 1, hash, sizeof(hash));
	}
	if (maildir_uidlist_ext_get(ext, 'T', buf, sizeof(buf)) != NULL)
		memcpy(threadid_r, buf, sizeof(buf));
	else
		threadid_r[0] = '\0';
}

static int16_t local_tz_min(time_t when)
{
	struct tm tm;
	if (localtime_r(&when, &tm) == NULL)
		return 0;
	return (int16_t)(tm.tm_gmtoff / 60);
}

/* The file's size once every bare LF is preceded by CR (read once per new file). */
static uint64_t crlf_size(const struct maildir_folder *mb, const struct scan_entry *e,
			  uint64_t size)
{
	char *path = i_strdup_printf("%s/%s/%s", mb->path, e->in_new ? "new" : "cur", e->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return size;
	unsigned char buf[65536];
	unsigned char prev = 0;
	uint64_t bare = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				bare++;
			prev = buf[i];
		}
	}
	close(fd);
	return size + bare;
}

/* Fill meta for a file not seen before. false when the file vanished. */
static bool new_message_meta(const struct maildir_folder *mb, const struct scan_entry *e,
			     struct store_message_meta *meta)
{
	struct stat st;
	char *path = i_strdup_printf("%s/%s/%s", mb->path, e->in_new ? "new" : "cur", e->name);
	int ret = lstat(path, &st);
	free(path);
	if (ret < 0 || !S_ISREG(st.st_mode))
		return false;
	/* RFC822.SIZE counts CRLF line ends: files an MTA wrote with bare LF are served
	 * with CRLF (maildir_get_content), so their size is the W= size or counted. */
	if (!maildir_filename_vsize(e->name, mb->colon, &meta->size))
		meta->size = crlf_size(mb, e, (uint64_t)st.st_size);
	meta->internal_date = (int64_t)st.st_mtime;
	meta->internal_tz_min = local_tz_min(st.st_mtime);
	return true;
}

static void add_message(struct maildir_folder *mb, struct maildir_state *st,
			const struct maildir_state *old, unsigned int *o, bool fresh,
			const struct maildir_uidlist_rec *rec, const struct scan_entry *e)
{
	struct store_message_meta meta;
	uint32_t system, letters;
	/* older messages that are no longer there were expunged */
	while (*o < old->count && old->msgs[*o].meta.uid < rec->uid) {
		if (!fresh) {
			memset(&meta, 0, sizeof(meta));
			meta.uid = old->msgs[*o].meta.uid;
			meta.modseq = ++st->modseq;
			maildir_state_log(st, STORE_CHANGE_EXPUNGE, &meta);
		}
		(*o)++;
	}
	maildir_filename_flags(e->name, mb->colon, &system, &letters);
	if (!fresh && *o < old->count && old->msgs[*o].meta.uid == rec->uid) {
		meta = old->msgs[(*o)++].meta;
		if (meta.flags.system != system || meta.flags.keywords != letters) {
			meta.flags.system = system;
			meta.flags.keywords = letters;
			meta.modseq = ++st->modseq;
			maildir_state_log(st, STORE_CHANGE_FLAGS, &meta);
		}
	} else {
		memset(&meta, 0, sizeof(meta));
		if (!new_message_meta(mb, e, &meta))
			return;
		meta.uid = rec->uid;
		meta.flags.system = system;
		meta.flags.keywords = letters;
		maildir_derive_ids(mb->uidlist, rec->ext, rec->uid, meta.emailid, meta.threadid);
		meta.modseq = fresh ? st->modseq : ++st->modseq;
		if (!fresh)
			maildir_state_log(st, STORE_CHANGE_APPEND, &meta);
	}
	struct maildir_msg *msg = maildir_state_add(st);
	msg->meta = meta;
	msg->name = i_strdup(e->name);
	msg->in_new = e->in_new;
}

/* Keep the records whose files exist (all of them when the scan was not stable). */
static void merge_records(struct maildir_folder *mb, struct maildir_state *st,
			  const struct maildir_state *old, unsigned int *o, bool fresh,
			  struct scan *scan, bool stable)
{
	struct maildir_uidlist *list = mb->uidlist;
	unsigned int keep = 0;
	for (unsigned int i = 0; i < list->count; i++) {
		struct maildir_uidlist_rec *rec = &list->recs[i];
		size_t len = maildir_filename_base_len(rec->name, mb->colon);
		struct scan_entry *e = scan_find(scan, rec->name, len);
		if (e == NULL || e->used) {
			if (mb->lock != NULL && (stable || e != NULL)) {
				free(rec->ext);
				free(rec->name);
				mb->uidlist_dirty = mb->uidlist_rewrite = true;
				continue;
			}
		} else {
			e->used = true;
			add_message(mb, st, old, o, fresh, rec, e);
		}
		list->recs[keep++] = *rec;
	}
	list->count = keep;
}

/* The THREADID of a file delivered without pymap (an MTA, Dovecot), from its header,
 * recorded in the user's thread index like an APPEND's. */
static void thread_of_file(const struct maildir_folder *mb, const struct scan_entry *e,
			   struct maildir_threads_batch **batch, char threadid_r[STORE_ID_MAX_BYTES])
{
	char *path = i_strdup_printf("%s/%s/%s", mb->path, e->in_new ? "new" : "cur", e->name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return;
	if (*batch == NULL)
		*batch = maildir_threads_begin(mb->root);
	maildir_threads_add_msg(*batch, NULL, fd, MAILDIR_THREADS_HEADER_MAX, threadid_r);
	close(fd);
}

/* Files without a record get the next UIDs, in file name order. Those that arrive in
 * a folder already known (not a first scan: that would read every header of a big
 * maildir on its first SELECT) get a THREADID too. */
static void merge_new_files(struct maildir_folder *mb, struct maildir_state *st,
			    const struct maildir_state *old, unsigned int *o, bool fresh,
			    struct scan *scan)
{
	struct maildir_uidlist *list = mb->uidlist;
	struct maildir_threads_batch *batch = NULL;
	if (mb->lock == NULL)
		return;
	for (unsigned int i = 0; i < scan->count; i++) {
		struct scan_entry *e = &scan->entries[i];
		char threadid[STORE_ID_MAX_BYTES] = "", ext[STORE_ID_MAX_BYTES + 1] = "";
		if (e->used)
			continue;
		if (!fresh)
			thread_of_file(mb, e, &batch, threadid);
		if (threadid[0] != '\0')
			snprintf(ext, sizeof(ext), "T%s", threadid);
		char *base = i_strndup(e->name, e->base_len);
		maildir_uidlist_append(list, list->next_uid, ext, base);
		free(base);
		mb->uidlist_dirty = true;
		e->used = true;
		add_message(mb, st, old, o, fresh, &list->recs[list->count - 1], e);
	}
	if (batch != NULL)
		(void)maildir_threads_end(&batch);
}

static void merge(struct maildir_folder *mb, struct scan *scan, bool stable)
{
	struct maildir_state *old = &mb->state, st;
	struct maildir_uidlist *list = mb->uidlist;
	bool fresh = !old->valid || old->uidvalidity != list->uidvalidity;
	unsigned int o = 0;

	memset(&st, 0, sizeof(st));
	if (fresh) {
		st.modseq = st.log_base_modseq = maildir_modseq_base();
		if (old->valid && st.modseq <= old->modseq)
			st.modseq = st.log_base_modseq = old->modseq + 1;
	} else {
		st.modseq = old->modseq;
		st.log_base_modseq = old->log_base_modseq;
		st.log = old->log;
		st.log_count = old->log_count;
		st.log_alloc = old->log_alloc;
		old->log = NULL;
		old->log_count = old->log_alloc = 0;
		st.first_recent_uid = old->first_recent_uid;
	}
	if (scan->count > 0)
		qsort(scan->entries, scan->count, sizeof(*scan->entries), entry_cmp);
	for (unsigned int i = 1; i < scan->count; i++) {
		if (entry_cmp(&scan->entries[i - 1], &scan->entries[i]) == 0 ||
		    base_cmp(scan->entries[i - 1].name, scan->entries[i - 1].base_len,
			     scan->entries[i].name, scan->entries[i].base_len) == 0)
			scan->entries[i].used = true;   /* same base twice: keep the cur/ one */
	}
	merge_records(mb, &st, old, &o, fresh, scan, stable);
	merge_new_files(mb, &st, old, &o, fresh, scan);
	for (; !fresh && o < old->count; o++) {
		struct store_message_meta meta;
		memset(&meta, 0, sizeof(meta));
		meta.uid = old->msgs[o].meta.uid;
		meta.modseq = ++st.modseq;
		maildir_state_log(&st, STORE_CHANGE_EXPUNGE, &meta);
	}
	st.uidvalidity = list->uidvalidity;
	st.next_uid = list->next_uid;
	memcpy(st.guid, list->guid, sizeof(st.guid));
	if (fresh) {
		st.first_recent_uid = st.next_uid;
		for (unsigned int i = 0; i < st.count; i++) {
			if (st.msgs[i].in_new) {
				st.first_recent_uid = st.msgs[i].meta.uid;
				break;
			}
		}
	}
	if (st.first_recent_uid == 0 || st.first_recent_uid > st.next_uid)
		st.first_recent_uid = st.next_uid;
	maildir_state_recount(&st);
	st.valid = true;
	maildir_state_move(&mb->state, &st);
}

static int scan_locked(struct maildir_folder *mb, struct store_error *error_r)
{
	struct maildir_stamp before[4], after[4];
	struct scan scan;
	bool stable = false;
	memset(&scan, 0, sizeof(scan));
	struct timespec taken;
	mb->rescanned = true;
	if (mb->lock == NULL)
		mb->ipos.offset = 0;   /* not written to the index: read it whole next time */
	for (unsigned int attempt = 0; attempt < 3 && !stable; attempt++) {
		scan_free(&scan);
		maildir_uidlist_free(&mb->uidlist);
		mb->uidlist_dirty = mb->uidlist_rewrite = false;
		maildir_stamp_clock(&taken);
		get_stamps(mb, before);
		load_keywords(mb);
		mb->uidlist = maildir_mbox_read_uidlist(mb);
		if (scan_dir(mb, true, &scan) < 0 || scan_dir(mb, false, &scan) < 0) {
			maildir_set_errno_error(error_r, "readdir");
			scan_free(&scan);
			return -1;
		}
		get_stamps(mb, after);
		stable = maildir_stamp_equal(&before[0], &after[0]) &&
			 maildir_stamp_equal(&before[1], &after[1]);
	}
	merge(mb, &scan, stable);
	scan_free(&scan);
	state_set_stamps(&mb->state, before);
	mb->state.unstable = !stable;
	set_settling(mb, &mb->state, LIST_NEW | LIST_CUR, before, &taken);
	return 0;
}

/* Does the uidlist on disk still say what the state says (read without the lock: it
 * is replaced by rename or appended to in whole lines; a line being appended can only
 * make this fail, which costs a rescan)? Every message of the state must have its
 * record; records of files already gone may remain. */
static bool uidlist_agrees(struct maildir_folder *mb)
{
	const struct maildir_state *st = &mb->state;
	struct maildir_uidlist *list = NULL;
	const char *error;
	char *path = maildir_folder_file(mb, MAILDIR_UIDLIST_NAME);
	int ret = maildir_uidlist_read(path, &list, &error);
	free(path);
	bool ok = ret > 0 && list->uidvalidity == st->uidvalidity &&
		  list->next_uid == st->next_uid && strcmp(list->guid, st->guid) == 0;
	unsigned int r = 0;
	for (unsigned int i = 0; ok && i < st->count; i++) {
		const struct maildir_msg *msg = &st->msgs[i];
		while (r < list->count && list->recs[r].uid < msg->meta.uid)
			r++;
		if (r == list->count || list->recs[r].uid != msg->meta.uid) {
			ok = false;
			break;
		}
		size_t len = maildir_filename_base_len(msg->name, mb->colon);
		const char *rec = list->recs[r].name;
		ok = base_cmp(rec, maildir_filename_base_len(rec, mb->colon),
			      msg->name, len) == 0;
	}
	maildir_uidlist_free(&list);
	return ok;
}

/* Are the scanned files exactly the state's messages (same names, same directory)?
 * With only_new, the scan is of new/ alone and the state's messages in new/ count. */
static bool scan_matches_state(const struct maildir_folder *mb, struct scan *scan,
			       bool only_new)
{
	const struct maildir_state *st = &mb->state;
	unsigned int expected = 0;
	for (unsigned int i = 0; only_new && i < st->count; i++)
		expected += st->msgs[i].in_new ? 1 : 0;
	if (scan->count != (only_new ? expected : st->count))
		return false;
	if (scan->count > 0)
		qsort(scan->entries, scan->count, sizeof(*scan->entries), entry_cmp);
	for (unsigned int i = 0; i < st->count; i++) {
		const struct maildir_msg *msg = &st->msgs[i];
		if (only_new && !msg->in_new)
			continue;
		size_t len = maildir_filename_base_len(msg->name, mb->colon);
		const struct scan_entry *e = scan_find(scan, msg->name, len);
		if (e == NULL || e->in_new != msg->in_new || strcmp(e->name, msg->name) != 0)
			return false;
	}
	return true;
}

/* List dirs and compare with the state: true when they hold exactly its files and
 * did not change meanwhile. */
static bool dirs_match_state(struct maildir_folder *mb, unsigned int dirs,
			     const struct maildir_stamp before[4])
{
	struct maildir_stamp after[4];
	struct scan scan;
	memset(&scan, 0, sizeof(scan));
	bool same = scan_dir(mb, true, &scan) == 0 &&
		    ((dirs & LIST_CUR) == 0 || scan_dir(mb, false, &scan) == 0);
	get_stamps(mb, after);
	same = same && maildir_stamp_equal(&before[0], &after[0]) &&
	       maildir_stamp_equal(&before[1], &after[1]) &&
	       scan_matches_state(mb, &scan, (dirs & LIST_CUR) == 0);
	scan_free(&scan);
	return same;
}

/* The stamps changed (or were too recent to trust): check without the lock whether
 * anything changed that the state does not already say -- the usual case after a
 * pymap writer's own change, whose index already holds it. 1 nothing changed (the
 * stamps are taken over in memory; no file is written), 0 something did (the caller
 * rescans under the lock). */
static int verify_unlocked(struct maildir_folder *mb)
{
	struct maildir_state *st = &mb->state;
	struct maildir_stamp before[4];
	struct timespec taken;
	if (!st->valid)
		return 0;
	maildir_stamp_clock(&taken);
	get_stamps(mb, before);
	if (!maildir_stamp_equal(&before[2], &st->st_uidlist) && !uidlist_agrees(mb))
		return 0;
	unsigned int dirs = dirs_to_list(st, before);
	if (dirs != 0) {
		if (!dirs_match_state(mb, dirs, before))
			return 0;
		st->unstable = false;
		set_settling(mb, st, dirs, before, &taken);
	}
	state_set_stamps(st, before);
	return 1;
}

int maildir_mbox_lock(struct maildir_folder *mb, bool force, struct store_error *error_r)
{
	if (folder_gone(mb)) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (mb->can_write && mb->lock == NULL) {
		char *path = maildir_folder_file(mb, MAILDIR_UIDLIST_NAME);
		int ret = maildir_lock_acquire(path, MAILDIR_LOCK_WAIT_MSECS,
					       MAILDIR_LOCK_STALE_SECS, &mb->lock);
		free(path);
		if (ret < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
			mb->can_write = false;
		} else if (ret < 0) {
			maildir_set_errno_error(error_r, "lock dovecot-uidlist");
			return -1;
		}
	}
	load_index(mb);
	load_keywords(mb);
	mb->lock_sig = mb->state;
	mb->lock_sig.msgs = NULL;
	mb->lock_sig.log = NULL;
	if ((force || (stamps_changed(mb) && verify_unlocked(mb) == 0)) &&
	    scan_locked(mb, error_r) < 0) {
		maildir_mbox_unlock(mb);
		return -1;
	}
	/* Writers (save, flags, expunge) change the uidlist: without a rescan it was not
	 * read yet (the last unlock freed it). A NULL here crashed APPEND. */
	if (mb->lock != NULL && mb->uidlist == NULL)
		mb->uidlist = maildir_mbox_uidlist_for_appends(mb);
	return 0;
}

int maildir_mbox_rescan(struct maildir_folder *mb, struct store_error *error_r)
{
	return scan_locked(mb, error_r);
}

/* Compare the folder with the disk: six lstat calls when nothing changed (the index,
 * the folder, new/, cur/, the uidlist, the keywords). */
static int refresh_check(struct maildir_folder *mb, struct store_error *error_r)
{
	struct maildir_stamp st[4];
	uint64_t ino;
	load_index(mb);
	get_stamps(mb, st);
	if (!is_real_dir(mb->path, &ino) || ino != mb->dir_ino || !st[1].exists) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (!maildir_stamp_equal(&st[3], &mb->kw_stamp))
		load_keywords(mb);
	if (stamps_match(&mb->state, st))
		return 0;
	if (folder_gone(mb)) {   /* cur/ must be a real directory before it is read */
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (verify_unlocked(mb) > 0)
		return 0;
	/* new files need UIDs, or someone else changed files: rescan under the lock */
	if (maildir_mbox_lock(mb, false, error_r) < 0)
		return -1;
	maildir_mbox_unlock(mb);
	return 0;
}

/* Called before every command's use of the folder. Inside a push round
 * (maildir-round.h: the views' polls after one watch event) only the first call
 * checks; the state is shared, so the others would find what it found. */
int maildir_mbox_refresh(struct maildir_folder *mb, struct store_error *error_r)
{
	if (mb->lock != NULL || maildir_round_checked(&mb->round_mark))
		return 0;
	if (refresh_check(mb, error_r) < 0)
		return -1;
	maildir_round_mark(&mb->round_mark);
	return 0;
}

