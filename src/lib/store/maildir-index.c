/* The maildir backend's per-folder state and cache file (see maildir-index.h and
 * doc/maildir-index.md). Integers are little-endian; strings are length-prefixed. */
#include "maildir-index.h"
#include "alloc.h"
#include "buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define INDEX_MAGIC "PYMAPMX1"
#define INDEX_VERSION 2
#define INDEX_HEADER_MAX 1024   /* the header is shorter than this */

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

static uint32_t checksum(const unsigned char *data, size_t size)
{
	uint32_t hash = 2166136261u;   /* FNV-1a */
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ data[i]) * 16777619u;
	return hash;
}

char *maildir_index_serialize(const struct maildir_state *state, size_t *size_r)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	(void)buffer_append(&buf, INDEX_MAGIC, 8);
	put(&buf, INDEX_VERSION, 4);
	put(&buf, state->uidvalidity, 4);
	put(&buf, state->next_uid, 4);
	put(&buf, state->first_recent_uid, 4);
	put(&buf, state->count, 4);
	put(&buf, state->log_count, 4);
	put(&buf, state->modseq, 8);
	put(&buf, state->log_base_modseq, 8);
	put_str(&buf, state->guid, 1);
	put_stamp(&buf, &state->st_new);
	put_stamp(&buf, &state->st_cur);
	put_stamp(&buf, &state->st_uidlist);
	put_stamp(&buf, &state->st_keywords);
	put(&buf, state->unstable, 1);
	uint32_t unseen = 0, recent = 0;
	for (unsigned int i = 0; i < state->count; i++) {
		if ((state->msgs[i].meta.flags.system & STORE_FLAG_SEEN) == 0)
			unseen++;
		if (state->msgs[i].meta.uid >= state->first_recent_uid)
			recent++;
	}
	put(&buf, unseen, 4);
	put(&buf, recent, 4);
	put(&buf, checksum(buffer_data(&buf), buffer_len(&buf)), 4);
	for (unsigned int i = 0; i < state->count; i++) {
		put_meta(&buf, &state->msgs[i].meta);
		put(&buf, state->msgs[i].in_new, 1);
		put_str(&buf, state->msgs[i].name, 2);
	}
	for (unsigned int i = 0; i < state->log_count; i++) {
		put(&buf, state->log[i].kind, 1);
		put_meta(&buf, &state->log[i].meta);
	}
	put(&buf, checksum(buffer_data(&buf), buffer_len(&buf)), 4);
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

static int parse_body(struct reader *r, struct maildir_state *st, unsigned int count,
		      unsigned int log_count)
{
	for (unsigned int i = 0; i < count && !r->bad; i++) {
		struct maildir_msg *msg = maildir_state_add(st);
		get_meta(r, &msg->meta);
		msg->in_new = get(r, 1) != 0;
		msg->name = get_str_alloc(r);
		if (msg->meta.uid == 0 || msg->meta.uid >= st->next_uid ||
		    (i > 0 && msg->meta.uid <= st->msgs[i - 1].meta.uid))
			r->bad = true;
	}
	for (unsigned int i = 0; i < log_count && !r->bad; i++) {
		struct store_message_meta meta;
		unsigned int kind = (unsigned int)get(r, 1);
		get_meta(r, &meta);
		if (kind > STORE_CHANGE_EXPUNGE || meta.modseq <= st->log_base_modseq ||
		    meta.modseq > st->modseq)
			r->bad = true;
		else
			maildir_state_log(st, (enum store_change_kind)kind, &meta);
	}
	return r->bad || r->p != r->end ? -1 : 0;
}

/* The header (magic to header checksum). Its own checksum lets STATUS read only it. */
static int parse_header(struct reader *r, const unsigned char *data,
			struct maildir_state *st, struct maildir_index_counts *counts_r)
{
	if ((size_t)(r->end - r->p) < 12 || memcmp(r->p, INDEX_MAGIC, 8) != 0)
		return -1;
	r->p += 8;
	if (get(r, 4) != INDEX_VERSION)
		return -1;
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
	st->unstable = get(r, 1) != 0;
	counts_r->unseen = (uint32_t)get(r, 4);
	counts_r->recent = (uint32_t)get(r, 4);
	size_t header_size = (size_t)(r->p - data);
	uint32_t sum = (uint32_t)get(r, 4);
	if (r->bad || sum != checksum(data, header_size) || st->uidvalidity == 0 ||
	    counts_r->log_count > MAILDIR_LOG_MAX || counts_r->unseen > counts_r->count ||
	    counts_r->recent > counts_r->count)
		return -1;
	return 0;
}

int maildir_index_parse(const unsigned char *data, size_t size, struct maildir_state *state_r)
{
	struct maildir_state st;
	struct maildir_index_counts counts;
	memset(&st, 0, sizeof(st));
	if (size < 12)
		return -1;
	struct reader r = { data, data + size - 4, false };
	struct reader sum = { data + size - 4, data + size, false };
	if (get(&sum, 4) != checksum(data, size - 4) ||
	    parse_header(&r, data, &st, &counts) < 0 || counts.count > size / 40 ||
	    parse_body(&r, &st, counts.count, counts.log_count) < 0) {
		maildir_state_clear(&st);
		return -1;
	}
	st.valid = true;
	*state_r = st;
	return 0;
}

int maildir_index_read_header(const char *path, struct maildir_state *state_r,
			      struct maildir_index_counts *counts_r)
{
	unsigned char data[INDEX_HEADER_MAX];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = pread(fd, data, sizeof(data), 0);
	int err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	struct maildir_state st;
	memset(&st, 0, sizeof(st));
	struct reader r = { data, data + n, false };
	if (parse_header(&r, data, &st, counts_r) < 0)
		return 0;
	*state_r = st;
	return 1;
}

int maildir_index_write(const char *path, const struct maildir_state *state)
{
	size_t size;
	char *data = maildir_index_serialize(state, &size);
	/* A cache: no need to fsync; a torn or lost file is detected and rebuilt. */
	int ret = maildir_file_replace(path, data, size, 0600, false);
	int err = errno;
	free(data);
	errno = err;
	return ret;
}

int maildir_index_read(const char *path, struct maildir_state *state_r)
{
	char *data;
	size_t size;
	int ret = maildir_file_read(path, MAILDIR_INDEX_MAX_BYTES, &data, &size);
	if (ret <= 0)
		return ret;
	ret = maildir_index_parse((const unsigned char *)data, size, state_r) < 0 ? 0 : 1;
	free(data);
	return ret;
}
