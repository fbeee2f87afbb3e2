/* The maildir backend's per-folder state and cache file (see maildir-index.h and
 * doc/maildir-index.md). Integers are little-endian; strings are length-prefixed. */
#include "maildir-index.h"
#include "alloc.h"
#include "buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define INDEX_MAGIC "PYMAPMX1"
#define INDEX_VERSION 3
#define INDEX_HEADER_MAX 1024   /* the header is shorter than this */
#define DELTA_TYPE 1
#define DELTA_FRAME 12          /* length before, checksum and length after the payload */
#define DELTA_MAX (64u * 1024 * 1024)
#define LAST_DELTA_READ_MAX (1024u * 1024)
#define SNAPSHOT_MIN_DELTAS (256u * 1024)   /* deltas worth a new snapshot */

void maildir_state_clear(struct maildir_state *state)
{
	for (unsigned int i = 0; i < state->count; i++)
		free(state->msgs[i].name);
	free(state->msgs);
	free(state->log);
	memset(state, 0, sizeof(*state));
}

void maildir_state_move(struct maildir_state *dest, struct maildir_state *src)
{
	maildir_state_clear(dest);
	*dest = *src;
	memset(src, 0, sizeof(*src));
}

struct maildir_msg *maildir_state_add(struct maildir_state *state)
{
	if (state->count == state->alloc) {
		state->alloc = state->alloc == 0 ? 64 : state->alloc * 2;
		state->msgs = i_reallocarray(state->msgs, state->alloc, sizeof(*state->msgs));
	}
	struct maildir_msg *msg = &state->msgs[state->count++];
	memset(msg, 0, sizeof(*msg));
	return msg;
}

int maildir_state_find(const struct maildir_state *state, uint32_t uid)
{
	unsigned int lo = 0, hi = state->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (state->msgs[mid].meta.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < state->count && state->msgs[lo].meta.uid == uid ? (int)lo : -1;
}

void maildir_state_count(struct maildir_state *state, const struct maildir_msg *msg, int sign)
{
	if ((msg->meta.flags.system & STORE_FLAG_SEEN) == 0)
		state->unseen += (uint32_t)sign;
}

void maildir_state_recount(struct maildir_state *state)
{
	state->unseen = 0;
	for (unsigned int i = 0; i < state->count; i++)
		maildir_state_count(state, &state->msgs[i], 1);
}

uint32_t maildir_state_recent(const struct maildir_state *state)
{
	unsigned int lo = 0, hi = state->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (state->msgs[mid].meta.uid < state->first_recent_uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return state->count - lo;
}

void maildir_state_log(struct maildir_state *state, enum store_change_kind kind,
		       const struct store_message_meta *meta)
{
	if (state->log_count >= MAILDIR_LOG_MAX) {
		unsigned int drop = state->log_count / 2;
		state->log_base_modseq = state->log[drop - 1].meta.modseq;
		memmove(state->log, state->log + drop,
			(state->log_count - drop) * sizeof(*state->log));
		state->log_count -= drop;
	}
	if (state->log_count == state->log_alloc) {
		state->log_alloc = state->log_alloc == 0 ? 64 : state->log_alloc * 2;
		state->log = i_reallocarray(state->log, state->log_alloc, sizeof(*state->log));
	}
	struct store_change *change = &state->log[state->log_count++];
	memset(change, 0, sizeof(*change));
	change->kind = kind;
	change->meta = *meta;
}

/* ---- encoding ---- */

static void put(struct buffer *buf, uint64_t value, unsigned int bytes)
{
	unsigned char tmp[8];
	for (unsigned int i = 0; i < bytes; i++)
		tmp[i] = (unsigned char)(value >> (8 * i));
	(void)buffer_append(buf, tmp, bytes);
}

static void put_at(struct buffer *buf, size_t offset, uint64_t value, unsigned int bytes)
{
	unsigned char *p = (unsigned char *)buffer_data(buf) + offset;
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(value >> (8 * i));
}

static void put_str(struct buffer *buf, const char *str, unsigned int len_bytes)
{
	size_t len = strlen(str);
	put(buf, len, len_bytes);
	(void)buffer_append(buf, str, len);
}

static void put_stamp(struct buffer *buf, const struct maildir_stamp *st)
{
	put(buf, st->exists, 1);
	put(buf, st->ino, 8);
	put(buf, st->size, 8);
	put(buf, (uint64_t)st->mtime_sec, 8);
	put(buf, (uint64_t)st->mtime_nsec, 8);
}

static void put_meta(struct buffer *buf, const struct store_message_meta *m)
{
	put(buf, m->uid, 4);
	put(buf, m->flags.system, 4);
	put(buf, m->flags.keywords, 8);
	put(buf, m->size, 8);
	put(buf, (uint64_t)m->internal_date, 8);
	put(buf, (uint64_t)(uint16_t)m->internal_tz_min, 2);
	put(buf, m->modseq, 8);
	put_str(buf, m->emailid, 1);
	put_str(buf, m->threadid, 1);
}

static void put_msg(struct buffer *buf, const struct maildir_msg *msg)
{
	put_meta(buf, &msg->meta);
	put(buf, msg->in_new, 1);
	put_str(buf, msg->name, 2);
}

static void put_change(struct buffer *buf, const struct store_change *change)
{
	put(buf, change->kind, 1);
	put_meta(buf, &change->meta);
}

/* The state's header fields, as both the base and every delta carry them. */
static void put_fields(struct buffer *buf, const struct maildir_state *state)
{
	put(buf, state->uidvalidity, 4);
	put(buf, state->next_uid, 4);
	put(buf, state->first_recent_uid, 4);
	put(buf, state->count, 4);
	put(buf, state->log_count, 4);
	put(buf, state->modseq, 8);
	put(buf, state->log_base_modseq, 8);
	put_str(buf, state->guid, 1);
	put_stamp(buf, &state->st_new);
	put_stamp(buf, &state->st_cur);
	put_stamp(buf, &state->st_uidlist);
	put_stamp(buf, &state->st_keywords);
	put(buf, (state->unstable ? 1 : 0) | (state->new_unsettled ? 2 : 0), 1);
	put(buf, (uint64_t)state->new_settle_ns, 8);
	put(buf, (uint64_t)state->cur_settle_ns, 8);
	put(buf, state->unseen, 4);
	put(buf, maildir_state_recent(state), 4);
}

static uint32_t checksum(const unsigned char *data, size_t size)
{
	uint32_t hash = 2166136261u;   /* FNV-1a */
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ data[i]) * 16777619u;
	return hash;
}

char *maildir_index_serialize(const struct maildir_state *state, uint64_t file_id,
			      size_t *size_r)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	(void)buffer_append(&buf, INDEX_MAGIC, 8);
	put(&buf, INDEX_VERSION, 4);
	put(&buf, file_id, 8);
	put(&buf, 0, 8);               /* the base's size, known at the end */
	put_fields(&buf, state);
	size_t header_size = buffer_len(&buf);
	put(&buf, 0, 4);               /* the header's checksum, after the size */
	for (unsigned int i = 0; i < state->count; i++)
		put_msg(&buf, &state->msgs[i]);
	for (unsigned int i = 0; i < state->log_count; i++)
		put_change(&buf, &state->log[i]);
	put_at(&buf, 20, buffer_len(&buf) + 4, 8);
	put_at(&buf, header_size, checksum(buffer_data(&buf), header_size), 4);
	put(&buf, checksum(buffer_data(&buf), buffer_len(&buf)), 4);
	*size_r = buffer_len(&buf);
	return buffer_steal_str(&buf);
}

/* Changed messages still in the state (added then removed in one lock: only
 * removed). delta->changed is ascending without repeats. */
static void put_changed(struct buffer *buf, const struct maildir_state *state,
			const struct maildir_index_delta *delta)
{
	size_t count_at = buffer_len(buf);
	uint32_t count = 0;
	put(buf, 0, 4);
	for (unsigned int i = 0; i < delta->changed_count; i++) {
		int idx = maildir_state_find(state, delta->changed[i]);
		if (idx < 0)
			continue;
		put_msg(buf, &state->msgs[idx]);
		count++;
	}
	put_at(buf, count_at, count, 4);
}

/* One delta record: the state after the change, what changed since delta->prev_modseq. */
static char *serialize_delta(const struct maildir_state *state, uint64_t file_id,
			     const struct maildir_index_delta *delta, size_t *size_r)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	put(&buf, 0, 4);               /* the payload's length */
	put(&buf, DELTA_TYPE, 1);
	put(&buf, file_id, 8);
	put(&buf, delta->prev_modseq, 8);
	put_fields(&buf, state);
	put(&buf, delta->removed_count, 4);
	for (unsigned int i = 0; i < delta->removed_count; i++)
		put(&buf, delta->removed[i], 4);
	put_changed(&buf, state, delta);
	put(&buf, state->log_count - delta->first_log, 4);
	for (unsigned int i = delta->first_log; i < state->log_count; i++)
		put_change(&buf, &state->log[i]);
	size_t payload = buffer_len(&buf) - 4;
	put_at(&buf, 0, payload, 4);
	put(&buf, checksum((const unsigned char *)buffer_data(&buf) + 4, payload), 4);
	put(&buf, payload, 4);
	*size_r = buffer_len(&buf);
	return buffer_steal_str(&buf);
}

/* ---- decoding ---- */

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t get(struct reader *r, unsigned int bytes)
{
	uint64_t value = 0;
	if (r->bad || (size_t)(r->end - r->p) < bytes) {
		r->bad = true;
		return 0;
	}
	for (unsigned int i = 0; i < bytes; i++)
		value |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	return value;
}

static void get_str(struct reader *r, unsigned int len_bytes, char *dest, size_t dest_size)
{
	size_t len = (size_t)get(r, len_bytes);
	if (r->bad || len >= dest_size || (size_t)(r->end - r->p) < len ||
	    memchr(r->p, '\0', len) != NULL) {
		r->bad = true;
		dest[0] = '\0';
		return;
	}
	memcpy(dest, r->p, len);
	dest[len] = '\0';
	r->p += len;
}

static char *get_str_alloc(struct reader *r)
{
	size_t len = (size_t)get(r, 2);
	if (r->bad || len == 0 || (size_t)(r->end - r->p) < len || memchr(r->p, '\0', len) != NULL ||
	    memchr(r->p, '/', len) != NULL) {
		r->bad = true;
		return NULL;
	}
	char *str = i_strndup((const char *)r->p, len);
	r->p += len;
	return str;
}

static void get_stamp(struct reader *r, struct maildir_stamp *st)
{
	st->exists = get(r, 1) != 0;
	st->ino = get(r, 8);
	st->size = get(r, 8);
	st->mtime_sec = (int64_t)get(r, 8);
	st->mtime_nsec = (int64_t)get(r, 8);
}

static void get_meta(struct reader *r, struct store_message_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)get(r, 4);
	m->flags.system = (uint32_t)get(r, 4) & STORE_FLAGS_ALL;
	m->flags.keywords = get(r, 8);
	m->size = get(r, 8);
	m->internal_date = (int64_t)get(r, 8);
	m->internal_tz_min = (int16_t)(uint16_t)get(r, 2);
	m->modseq = get(r, 8);
	get_str(r, 1, m->emailid, sizeof(m->emailid));
	get_str(r, 1, m->threadid, sizeof(m->threadid));
}

static void get_msg(struct reader *r, struct maildir_msg *msg)
{
	get_meta(r, &msg->meta);
	msg->in_new = get(r, 1) != 0;
	msg->name = get_str_alloc(r);
}

/* A change log entry into the state (its modseq within the state's log range). */
static void get_change(struct reader *r, struct maildir_state *st)
{
	struct store_message_meta meta;
	unsigned int kind = (unsigned int)get(r, 1);
	get_meta(r, &meta);
	if (kind > STORE_CHANGE_EXPUNGE || meta.modseq <= st->log_base_modseq ||
	    meta.modseq > st->modseq)
		r->bad = true;
	if (!r->bad)
		maildir_state_log(st, (enum store_change_kind)kind, &meta);
}

/* The header fields (put_fields) into st's header and counts. */
static void get_fields(struct reader *r, struct maildir_state *st,
		       struct maildir_index_counts *counts_r)
{
	st->uidvalidity = (uint32_t)get(r, 4);
	st->next_uid = (uint32_t)get(r, 4);
	st->first_recent_uid = (uint32_t)get(r, 4);
	counts_r->count = (unsigned int)get(r, 4);
	counts_r->log_count = (unsigned int)get(r, 4);
	st->modseq = get(r, 8);
	st->log_base_modseq = get(r, 8);
	get_str(r, 1, st->guid, sizeof(st->guid));
	get_stamp(r, &st->st_new);
	get_stamp(r, &st->st_cur);
	get_stamp(r, &st->st_uidlist);
	get_stamp(r, &st->st_keywords);
	unsigned int unsettled = (unsigned int)get(r, 1);
	st->unstable = (unsettled & 1) != 0;
	st->new_unsettled = (unsettled & 2) != 0;
	st->new_settle_ns = (int64_t)get(r, 8);
	st->cur_settle_ns = (int64_t)get(r, 8);
	counts_r->unseen = (uint32_t)get(r, 4);
	counts_r->recent = (uint32_t)get(r, 4);
	if (st->uidvalidity == 0 || counts_r->log_count > MAILDIR_LOG_MAX ||
	    counts_r->unseen > counts_r->count || counts_r->recent > counts_r->count)
		r->bad = true;
}

static int parse_body(struct reader *r, struct maildir_state *st, unsigned int count,
		      unsigned int log_count)
{
	for (unsigned int i = 0; i < count && !r->bad; i++) {
		struct maildir_msg *msg = maildir_state_add(st);
		get_msg(r, msg);
		if (msg->meta.uid == 0 || msg->meta.uid >= st->next_uid ||
		    (i > 0 && msg->meta.uid <= st->msgs[i - 1].meta.uid))
			r->bad = true;
	}
	for (unsigned int i = 0; i < log_count && !r->bad; i++)
		get_change(r, st);
	maildir_state_recount(st);
	return r->bad || r->p != r->end ? -1 : 0;
}

/* The base's header (magic to header checksum). Its own checksum lets STATUS read
 * only it. */
static int parse_header(struct reader *r, const unsigned char *data, struct maildir_state *st,
			uint64_t *file_id_r, uint64_t *base_size_r,
			struct maildir_index_counts *counts_r)
{
	if ((size_t)(r->end - r->p) < 12 || memcmp(r->p, INDEX_MAGIC, 8) != 0)
		return -1;
	r->p += 8;
	if (get(r, 4) != INDEX_VERSION)
		return -1;
	*file_id_r = get(r, 8);
	*base_size_r = get(r, 8);
	get_fields(r, st, counts_r);
	size_t header_size = (size_t)(r->p - data);
	uint32_t sum = (uint32_t)get(r, 4);
	return r->bad || sum != checksum(data, header_size) ? -1 : 0;
}

/* The base: 0, or -1 (st cleared). */
static int parse_base(const unsigned char *data, size_t size, struct maildir_state *st,
		      uint64_t *file_id_r)
{
	struct maildir_index_counts counts;
	uint64_t base_size;
	memset(st, 0, sizeof(*st));
	struct reader r = { data, data + size, false };
	if (parse_header(&r, data, st, file_id_r, &base_size, &counts) < 0 ||
	    base_size != size || size < 4 || counts.count > size / 40)
		return -1;
	struct reader sum = { data + size - 4, data + size, false };
	r.end = data + size - 4;
	if (get(&sum, 4) != checksum(data, size - 4) ||
	    parse_body(&r, st, counts.count, counts.log_count) < 0) {
		maildir_state_clear(st);
		return -1;
	}
	st->valid = true;
	return 0;
}

int maildir_index_parse(const unsigned char *data, size_t size, struct maildir_state *state_r)
{
	uint64_t file_id;
	struct maildir_state st;
	if (parse_base(data, size, &st, &file_id) < 0)
		return -1;
	*state_r = st;
	return 0;
}

/* ---- deltas ---- */

/* The payload of the complete, intact record at data (avail bytes): false when the
 * record is cut short or damaged (a writer died in the middle, or is still writing). */
static bool delta_frame(const unsigned char *data, size_t avail, struct reader *payload_r,
			size_t *frame_size_r)
{
	struct reader r = { data, data + avail, false };
	uint64_t len = get(&r, 4);
	if (r.bad || len == 0 || len > DELTA_MAX || avail < len + DELTA_FRAME)
		return false;
	struct reader tail = { data + 4 + len, data + len + DELTA_FRAME, false };
	if (get(&tail, 4) != checksum(data + 4, (size_t)len) || get(&tail, 4) != len)
		return false;
	payload_r->p = data + 4;
	payload_r->end = data + 4 + len;
	payload_r->bad = false;
	*frame_size_r = (size_t)len + DELTA_FRAME;
	return true;
}

static void remove_uids(struct maildir_state *st, struct reader *r, unsigned int count)
{
	bool any = false;
	for (unsigned int i = 0; i < count && !r->bad; i++) {
		int idx = maildir_state_find(st, (uint32_t)get(r, 4));
		if (idx < 0)
			continue;
		maildir_state_count(st, &st->msgs[idx], -1);
		free(st->msgs[idx].name);
		st->msgs[idx].name = NULL;
		any = true;
	}
	if (!any)
		return;
	unsigned int keep = 0;
	while (keep < st->count && st->msgs[keep].name != NULL)
		keep++;   /* those before the first removed one stay where they are */
	for (unsigned int i = keep; i < st->count; i++) {
		if (st->msgs[i].name != NULL)
			st->msgs[keep++] = st->msgs[i];
	}
	st->count = keep;
}

/* Replace the message of msg's UID, or add it in UID order. */
static void upsert(struct maildir_state *st, struct maildir_msg *msg)
{
	int idx = maildir_state_find(st, msg->meta.uid);
	if (idx >= 0) {
		maildir_state_count(st, &st->msgs[idx], -1);
		free(st->msgs[idx].name);
		st->msgs[idx] = *msg;
	} else {
		/* a new UID is above every other (UIDs only grow; checked by the caller) */
		idx = (int)st->count;
		*maildir_state_add(st) = *msg;
	}
	maildir_state_count(st, &st->msgs[idx], 1);
}

static void upsert_msgs(struct maildir_state *st, struct reader *r, unsigned int count)
{
	for (unsigned int i = 0; i < count && !r->bad; i++) {
		struct maildir_msg msg;
		get_msg(r, &msg);
		bool known = maildir_state_find(st, msg.meta.uid) >= 0;
		if (r->bad || msg.meta.uid == 0 || msg.meta.uid >= st->next_uid ||
		    (!known && st->count > 0 &&
		     msg.meta.uid < st->msgs[st->count - 1].meta.uid)) {
			r->bad = true;
			free(msg.name);
			return;
		}
		upsert(st, &msg);
	}
}

/* 0, or -1: nothing changed when the record is not for this state, st damaged when
 * it was but did not fit. */
static int apply_payload(struct maildir_state *st, uint64_t file_id, struct reader *r)
{
	struct maildir_state hdr;
	struct maildir_index_counts counts;
	memset(&hdr, 0, sizeof(hdr));
	if (get(r, 1) != DELTA_TYPE || get(r, 8) != file_id || get(r, 8) != st->modseq)
		return -1;
	get_fields(r, &hdr, &counts);
	uint64_t n = get(r, 4);
	if (r->bad || n > (size_t)(r->end - r->p) / 4)
		return -1;
	remove_uids(st, r, (unsigned int)n);
	st->next_uid = hdr.next_uid;
	upsert_msgs(st, r, (unsigned int)get(r, 4));
	st->modseq = hdr.modseq;
	n = get(r, 4);
	for (uint64_t i = 0; i < n && !r->bad; i++)
		get_change(r, st);
	if (r->bad || r->p != r->end || st->count != counts.count ||
	    st->log_count != counts.log_count || st->log_base_modseq != hdr.log_base_modseq ||
	    st->unseen != counts.unseen || hdr.uidvalidity != st->uidvalidity)
		return -1;
	st->first_recent_uid = hdr.first_recent_uid;
	st->st_new = hdr.st_new;
	st->st_cur = hdr.st_cur;
	st->st_uidlist = hdr.st_uidlist;
	st->st_keywords = hdr.st_keywords;
	st->unstable = hdr.unstable;
	st->new_unsettled = hdr.new_unsettled;
	st->new_settle_ns = hdr.new_settle_ns;
	st->cur_settle_ns = hdr.cur_settle_ns;
	return 0;
}

/* Apply the record at record (size bytes) to the state it was made from: 1 applied
 * (*used_r: the record's size), 0 no intact record there (cut short: a writer died or
 * is still writing; nothing changed), -1 it does not fit the state (which may be
 * damaged: read the file again). */
static int apply_delta(struct maildir_state *state, uint64_t file_id,
		       const unsigned char *record, size_t size, size_t *used_r)
{
	struct reader payload;
	size_t frame_size;
	if (!delta_frame(record, size, &payload, &frame_size))
		return 0;
	if (apply_payload(state, file_id, &payload) < 0)
		return -1;
	*used_r = frame_size;
	return 1;
}

/* ---- files ---- */

static int open_index(const char *path, struct stat *st_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st_r) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* size bytes at offset (malloc'ed); NULL with errno (EFBIG beyond the bound). */
static unsigned char *read_range(int fd, uint64_t offset, uint64_t size)
{
	if (size > MAILDIR_INDEX_MAX_BYTES) {
		errno = EFBIG;
		return NULL;
	}
	unsigned char *data = i_malloc((size_t)size + 1);
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(fd, data + done, (size_t)size - done, (off_t)(offset + done));
		if (n <= 0) {
			int err = n == 0 ? EIO : errno;   /* cut short under us: read again */
			free(data);
			errno = err;
			return NULL;
		}
		done += (size_t)n;
	}
	return data;
}

/* Apply the records of data (size bytes) in order: the bytes used, or -1 when one
 * did not fit. A torn record at the end stops it. */
static int64_t apply_records(struct maildir_state *st, uint64_t file_id,
			     const unsigned char *data, size_t size)
{
	size_t done = 0, used;
	int ret;
	while (done < size &&
	       (ret = apply_delta(st, file_id, data + done, size - done, &used)) != 0) {
		if (ret < 0)
			return -1;
		done += used;
	}
	return (int64_t)done;
}

int maildir_index_read(const char *path, struct maildir_state *state_r,
		       struct maildir_index_pos *pos_r)
{
	struct stat sb;
	struct maildir_state st;
	uint64_t file_id, base_size;
	struct maildir_index_counts counts;
	int fd = open_index(path, &sb);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	unsigned char *data = read_range(fd, 0, (uint64_t)sb.st_size);
	int err = errno;
	close(fd);
	if (data == NULL) {
		errno = err;
		return err == EFBIG || err == EIO ? 0 : -1;
	}
	size_t size = (size_t)sb.st_size;
	struct reader r = { data, data + size, false };
	memset(&st, 0, sizeof(st));
	int ret = 0;
	if (parse_header(&r, data, &st, &file_id, &base_size, &counts) == 0 && base_size <= size &&
	    parse_base(data, (size_t)base_size, &st, &file_id) == 0) {
		int64_t used = apply_records(&st, file_id, data + base_size, size - base_size);
		if (used < 0) {
			maildir_state_clear(&st);
		} else {
			pos_r->ino = (uint64_t)sb.st_ino;
			pos_r->file_id = file_id;
			pos_r->base_size = base_size;
			pos_r->offset = base_size + (uint64_t)used;
			*state_r = st;
			ret = 1;
		}
	}
	free(data);
	return ret;
}

int maildir_index_read_tail(const char *path, struct maildir_state *state,
			    struct maildir_index_pos *pos)
{
	struct stat sb;
	unsigned char id[8];
	int fd = open_index(path, &sb);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct reader r = { id, id + sizeof(id), false };
	if ((uint64_t)sb.st_ino != pos->ino || (uint64_t)sb.st_size < pos->offset ||
	    pread(fd, id, sizeof(id), 12) != (ssize_t)sizeof(id) || get(&r, 8) != pos->file_id) {
		close(fd);
		return 0;
	}
	uint64_t size = (uint64_t)sb.st_size - pos->offset;
	unsigned char *data = size == 0 ? NULL : read_range(fd, pos->offset, size);
	int err = errno;
	close(fd);
	if (size == 0)
		return 1;
	if (data == NULL) {
		errno = err;
		return err == EFBIG ? 0 : -1;
	}
	int64_t used = apply_records(state, pos->file_id, data, (size_t)size);
	free(data);
	if (used < 0)
		return 0;
	pos->offset += (uint64_t)used;
	return 1;
}

/* The last delta's header fields, read from the end of the file (its length is
 * written after it too). 1, or 0 when the end is not an intact record. */
static int read_last_fields(int fd, uint64_t base_size, uint64_t size,
			    struct maildir_state *st, struct maildir_index_counts *counts_r)
{
	unsigned char tail[4];
	if (size < base_size + DELTA_FRAME ||
	    pread(fd, tail, sizeof(tail), (off_t)(size - 4)) != (ssize_t)sizeof(tail))
		return 0;
	struct reader t = { tail, tail + 4, false };
	uint64_t frame = get(&t, 4) + DELTA_FRAME;
	if (frame > LAST_DELTA_READ_MAX || frame > size - base_size)
		return 0;   /* a huge last delta: the caller reads the whole file */
	unsigned char *data = read_range(fd, size - frame, frame);
	if (data == NULL)
		return 0;
	struct reader r;
	size_t frame_size;
	int ret = 0;
	if (delta_frame(data, (size_t)frame, &r, &frame_size) && get(&r, 1) == DELTA_TYPE) {
		(void)get(&r, 8);   /* file id */
		(void)get(&r, 8);   /* previous modseq */
		get_fields(&r, st, counts_r);
		ret = r.bad ? 0 : 1;
	}
	free(data);
	return ret;
}

int maildir_index_read_header(const char *path, struct maildir_state *state_r,
			      struct maildir_index_counts *counts_r)
{
	unsigned char data[INDEX_HEADER_MAX];
	struct stat sb;
	uint64_t file_id, base_size;
	int fd = open_index(path, &sb);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = pread(fd, data, sizeof(data), 0);
	int err = errno;
	struct maildir_state st;
	memset(&st, 0, sizeof(st));
	struct reader r = { data, data + (n < 0 ? 0 : n), false };
	int ret = n < 0 ? -1 : 0;
	if (n >= 0 && parse_header(&r, data, &st, &file_id, &base_size, counts_r) == 0) {
		uint64_t size = (uint64_t)sb.st_size;
		ret = size == base_size ? 1 :
		      size > base_size ? read_last_fields(fd, base_size, size, &st, counts_r) : 0;
	}
	close(fd);
	if (ret > 0)
		*state_r = st;
	errno = err;
	return ret;
}

int maildir_index_write(const char *path, const struct maildir_state *state,
			struct maildir_index_pos *pos_r, struct maildir_stamp *stamp_r)
{
	size_t size;
	uint64_t file_id = ((uint64_t)randombytes_random() << 32) | randombytes_random();
	char *data = maildir_index_serialize(state, file_id, &size);
	/* A cache: no need to fsync; a torn or lost file is detected and rebuilt. */
	int ret = maildir_file_replace(path, data, size, 0600, false);
	int err = errno;
	free(data);
	if (ret == 0 && maildir_stamp_get(path, stamp_r) == 0) {
		pos_r->ino = stamp_r->ino;
		pos_r->file_id = file_id;
		pos_r->base_size = pos_r->offset = size;
		return 0;
	}
	errno = ret < 0 ? err : errno;
	return -1;
}

int maildir_index_append(const char *path, const struct maildir_state *state,
			 const struct maildir_index_delta *delta, struct maildir_index_pos *pos,
			 struct maildir_stamp *stamp_r)
{
	size_t size;
	char *data = serialize_delta(state, pos->file_id, delta, &size);
	if (size > DELTA_MAX) {   /* readers would take it for a torn one: a snapshot */
		free(data);
		return 0;
	}
	int ret = maildir_file_append(path, pos->ino, pos->offset, -1, data, size, false, stamp_r);
	free(data);
	if (ret > 0)
		pos->offset += size;
	return ret;
}

bool maildir_index_wants_snapshot(const struct maildir_index_pos *pos)
{
	uint64_t deltas = pos->offset - pos->base_size;
	return pos->offset == 0 || (deltas > SNAPSHOT_MIN_DELTAS && deltas > pos->base_size);
}
