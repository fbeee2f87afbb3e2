/* The per-user thread index file of the maildir backend (see maildir-threads.h and
 * doc/maildir-index.md). Integers are little-endian. */
#include "maildir-threads.h"
#include "maildir-file.h"
#include "store-private.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS_MAGIC "PYMAPTH1"
#define THREADS_MAGIC_LEN 8
#define THREADS_KEY_LEN crypto_shorthash_KEYBYTES
#define THREADS_HEADER_LEN (THREADS_MAGIC_LEN + THREADS_KEY_LEN)
#define THREAD_RAW 16              /* a THREADID "T" + 32 hex digits, as bytes */
#define REC_HEAD 8                 /* id length 2, thread length 1, zero 1, sum 4 */
#define REC_ID_MAX 1000
#define CACHE_MAX 4                /* users whose index a process keeps */
#define COMPACT_MIN_RECORDS 4096
#define OPEN_RETRIES 10

struct record_buf {
	struct buffer buf;
	size_t count;
};

/* The index in memory: SipHash-2-4 of each Message-ID (keyed by the file's random
 * key, so ids cannot be made to collide on purpose) -> its thread, 24 bytes a slot
 * (hash 0 marks a free slot), open addressing at most 3/4 full. */
struct thread_slot {
	uint64_t hash;
	unsigned char thread[THREAD_RAW];
};

struct thread_map {
	struct thread_slot *slots;
	size_t size, count;
	unsigned char key[THREADS_KEY_LEN];
	struct record_buf *changed;    /* records of changed ids go here, or NULL */
};

struct threads_file {
	char *path;
	int fd;                        /* -1: not open */
	uint64_t ino;                  /* of the file index was read from */
	off_t offset;                  /* end of the records read into index */
	size_t records;                /* records in the file up to offset */
	struct thread_map map;
	unsigned int last_use;
};

static struct threads_file cache[CACHE_MAX];
static unsigned int use_clock;

static uint32_t checksum(uint32_t hash, const void *data, size_t size)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ p[i]) * 16777619u;
	return hash;
}

static void append_record(const char *msgid, const char *threadid, void *context);

static uint64_t map_hash(const struct thread_map *map, const char *msgid)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t hash = 0;
	crypto_shorthash(out, (const unsigned char *)msgid, strlen(msgid), map->key);
	for (unsigned int i = 0; i < sizeof(out); i++)
		hash |= (uint64_t)out[i] << (8 * i);
	return hash != 0 ? hash : 1;
}

static struct thread_slot *map_slot(const struct thread_map *map, uint64_t hash)
{
	size_t mask = map->size - 1;
	for (size_t i = (size_t)(hash ^ (hash >> 32)) & mask; ; i = (i + 1) & mask) {
		if (map->slots[i].hash == hash || map->slots[i].hash == 0)
			return &map->slots[i];
	}
}

static void map_init(struct thread_map *map)
{
	free(map->slots);
	map->size = 1024;
	map->count = 0;
	map->slots = i_new(struct thread_slot, map->size);
	memset(map->slots, 0, map->size * sizeof(*map->slots));
}

static void map_grow(struct thread_map *map)
{
	struct thread_slot *old = map->slots;
	size_t old_size = map->size;
	map->size *= 2;
	map->slots = i_new(struct thread_slot, map->size);
	memset(map->slots, 0, map->size * sizeof(*map->slots));
	for (size_t i = 0; i < old_size; i++) {
		if (old[i].hash != 0)
			*map_slot(map, old[i].hash) = old[i];
	}
	free(old);
}

static bool thread_to_raw(const char *threadid, unsigned char raw[THREAD_RAW])
{
	size_t len;
	return threadid[0] == 'T' && strlen(threadid) == 1 + 2 * THREAD_RAW &&
	       sodium_hex2bin(raw, THREAD_RAW, threadid + 1, 2 * THREAD_RAW, NULL, &len,
			      NULL) == 0 && len == THREAD_RAW;
}

static void raw_to_thread(const unsigned char raw[THREAD_RAW],
			  char threadid_r[STORE_ID_MAX_BYTES])
{
	threadid_r[0] = 'T';
	sodium_bin2hex(threadid_r + 1, STORE_ID_MAX_BYTES - 1, raw, THREAD_RAW);
}

/* Remember msgid under raw: 1 added or changed, 0 already so, -1 full. */
static int map_put_raw(struct thread_map *map, const char *msgid,
		       const unsigned char raw[THREAD_RAW])
{
	uint64_t hash = map_hash(map, msgid);
	struct thread_slot *slot = map_slot(map, hash);
	if (slot->hash == 0) {
		if (map->count >= MAILDIR_THREADS_MAX_IDS)
			return -1;
		if ((map->count + 1) * 4 > map->size * 3) {
			map_grow(map);
			slot = map_slot(map, hash);
		}
		slot->hash = hash;
		map->count++;
	} else if (memcmp(slot->thread, raw, THREAD_RAW) == 0) {
		return 0;
	}
	memcpy(slot->thread, raw, THREAD_RAW);
	return 1;
}

static bool map_lookup(void *context, const char *msgid, char threadid_r[STORE_ID_MAX_BYTES])
{
	struct thread_map *map = context;
	const struct thread_slot *slot = map_slot(map, map_hash(map, msgid));
	if (slot->hash == 0)
		return false;
	raw_to_thread(slot->thread, threadid_r);
	return true;
}

static void map_put(void *context, const char *msgid, const char *threadid)
{
	struct thread_map *map = context;
	unsigned char raw[THREAD_RAW];
	if (thread_to_raw(threadid, raw) && map_put_raw(map, msgid, raw) > 0 &&
	    map->changed != NULL)
		append_record(msgid, threadid, map->changed);
}

static void file_reset(struct threads_file *tf)
{
	map_init(&tf->map);
	tf->ino = 0;
	tf->offset = 0;
	tf->records = 0;
}

/* Close the descriptor; what was read stays (the next lock checks it is still the
 * same file). */
static void file_close(struct threads_file *tf)
{
	if (tf->fd >= 0)
		close(tf->fd);
	tf->fd = -1;
}

static void file_free(struct threads_file *tf)
{
	file_close(tf);
	free(tf->map.slots);
	i_free(tf->path);
	memset(tf, 0, sizeof(*tf));
	tf->fd = -1;
}

void maildir_threads_flush(void)
{
	for (unsigned int i = 0; i < CACHE_MAX; i++) {
		if (cache[i].path != NULL)
			file_free(&cache[i]);
	}
}

static struct threads_file *file_get(const char *path)
{
	struct threads_file *oldest = &cache[0];
	for (unsigned int i = 0; i < CACHE_MAX; i++) {
		if (cache[i].path != NULL && strcmp(cache[i].path, path) == 0) {
			cache[i].last_use = ++use_clock;
			return &cache[i];
		}
		if (cache[i].path == NULL ||
		    (oldest->path != NULL && cache[i].last_use < oldest->last_use))
			oldest = &cache[i];
	}
	if (oldest->path != NULL)
		file_free(oldest);
	oldest->path = i_strdup(path);
	oldest->fd = -1;
	oldest->last_use = ++use_clock;
	file_reset(oldest);
	return oldest;
}

/* A new file's header: the magic and a new random hash key (also taken into map). */
static void new_header(struct thread_map *map, unsigned char header[THREADS_HEADER_LEN])
{
	memcpy(header, THREADS_MAGIC, THREADS_MAGIC_LEN);
	crypto_shorthash_keygen(map->key);
	memcpy(header + THREADS_MAGIC_LEN, map->key, THREADS_KEY_LEN);
}

/* Is the open file the one the index was read from? An inode number can be reused
 * once a compacted file is gone, but every file has its own random key. */
static bool same_key(const struct threads_file *tf)
{
	unsigned char header[THREADS_HEADER_LEN];
	if (tf->offset == 0)
		return true;
	return pread(tf->fd, header, sizeof(header), 0) == (ssize_t)sizeof(header) &&
	       memcmp(header + THREADS_MAGIC_LEN, tf->map.key, THREADS_KEY_LEN) == 0;
}

/* Open the file and hold its lock; the file locked is the one at path (a writer may
 * have replaced it while we waited). A new file gets its magic. */
static int file_lock(struct threads_file *tf)
{
	for (unsigned int i = 0; i < OPEN_RETRIES; i++) {
		struct stat st_fd, st_path;
		if (tf->fd < 0) {
			tf->fd = open(tf->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (tf->fd < 0)
				return -1;
		}
		if (flock(tf->fd, LOCK_EX) < 0 || fstat(tf->fd, &st_fd) < 0) {
			file_close(tf);
			return -1;
		}
		if (stat(tf->path, &st_path) == 0 && st_path.st_ino == st_fd.st_ino &&
		    st_path.st_dev == st_fd.st_dev) {
			if ((uint64_t)st_fd.st_ino != tf->ino || st_fd.st_size < tf->offset ||
			    !same_key(tf))
				file_reset(tf);
			tf->ino = (uint64_t)st_fd.st_ino;
			unsigned char header[THREADS_HEADER_LEN];
			if (st_fd.st_size == 0)
				new_header(&tf->map, header);
			if (st_fd.st_size == 0 &&
			    maildir_write_full(tf->fd, header, sizeof(header)) < 0) {
				file_close(tf);
				return -1;
			}
			return 0;
		}
		file_close(tf);   /* replaced (or removed) meanwhile: open it again */
	}
	errno = ESTALE;
	return -1;
}

static void file_unlock(struct threads_file *tf)
{
	if (tf->fd >= 0)
		(void)flock(tf->fd, LOCK_UN);
}

/* One record at p (at most avail bytes): its length, or 0 when it is torn or bad. */
static size_t parse_record(const unsigned char *p, size_t avail, char *id,
			   unsigned char raw[THREAD_RAW])
{
	char threadid[STORE_ID_MAX_BYTES];
	if (avail < REC_HEAD)
		return 0;
	size_t id_len = (size_t)p[0] | (size_t)p[1] << 8, tid_len = p[2];
	uint32_t sum = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
		       (uint32_t)p[7] << 24;
	if (id_len == 0 || id_len > REC_ID_MAX || tid_len == 0 ||
	    tid_len >= STORE_ID_MAX_BYTES || p[3] != 0 || avail - REC_HEAD < id_len + tid_len)
		return 0;
	const unsigned char *body = p + REC_HEAD;
	if (checksum(checksum(2166136261u, p, 4), body, id_len + tid_len) != sum ||
	    memchr(body, '\0', id_len + tid_len) != NULL)
		return 0;
	memcpy(id, body, id_len);
	id[id_len] = '\0';
	memcpy(threadid, body + id_len, tid_len);
	threadid[tid_len] = '\0';
	return thread_to_raw(threadid, raw) ? REC_HEAD + id_len + tid_len : 0;
}

/* Apply the records in data (starting at file offset start); the end of the sound
 * records. */
static off_t apply_records(struct threads_file *tf, const unsigned char *data, size_t size,
			   off_t start)
{
	char id[REC_ID_MAX + 1];
	unsigned char raw[THREAD_RAW];
	size_t pos = 0, len;
	if (start == 0) {
		if (size < THREADS_HEADER_LEN || memcmp(data, THREADS_MAGIC, THREADS_MAGIC_LEN) != 0)
			return 0;
		memcpy(tf->map.key, data + THREADS_MAGIC_LEN, THREADS_KEY_LEN);
		pos = THREADS_HEADER_LEN;
	}
	while ((len = parse_record(data + pos, size - pos, id, raw)) > 0) {
		(void)map_put_raw(&tf->map, id, raw);
		tf->records++;
		pos += len;
	}
	return start + (off_t)pos;
}

/* Read what was appended since our last look (locked). A torn or bad tail is cut
 * off: every writer holds the lock, so nobody is writing it now. */
static int file_catch_up(struct threads_file *tf)
{
	struct stat st;
	if (fstat(tf->fd, &st) < 0)
		return -1;
	if (st.st_size > (off_t)MAILDIR_THREADS_MAX_BYTES) {
		errno = EFBIG;
		return -1;
	}
	if (st.st_size == tf->offset)
		return 0;
	size_t size = (size_t)(st.st_size - tf->offset);
	unsigned char *data = i_malloc(size);
	ssize_t n = pread(tf->fd, data, size, tf->offset);
	int ret = -1;
	if (n == (ssize_t)size) {
		off_t end = apply_records(tf, data, size, tf->offset);
		ret = 0;
		if (end == 0) {
			/* not our file (bad magic): start it again */
			unsigned char header[THREADS_HEADER_LEN];
			new_header(&tf->map, header);
			ret = ftruncate(tf->fd, 0) < 0 ||
			      pwrite(tf->fd, header, sizeof(header), 0) != sizeof(header) ? -1 : 0;
			end = THREADS_HEADER_LEN;
		} else if (end < st.st_size) {
			log_warning("maildir: %s: cut off %lld damaged bytes at %lld", tf->path,
				    (long long)(st.st_size - end), (long long)end);
			ret = ftruncate(tf->fd, end);
		}
		tf->offset = end;
	} else if (n >= 0) {
		errno = EIO;
	}
	free(data);
	return ret;
}

static void append_record(const char *msgid, const char *threadid, void *context)
{
	struct record_buf *out = context;
	size_t id_len = strlen(msgid), tid_len = strlen(threadid);
	unsigned char head[REC_HEAD];
	if (id_len == 0 || id_len > REC_ID_MAX || tid_len == 0 || tid_len >= STORE_ID_MAX_BYTES)
		return;
	head[0] = (unsigned char)id_len;
	head[1] = (unsigned char)(id_len >> 8);
	head[2] = (unsigned char)tid_len;
	head[3] = 0;
	uint32_t sum = checksum(checksum(checksum(2166136261u, head, 4), msgid, id_len),
				threadid, tid_len);
	for (unsigned int i = 0; i < 4; i++)
		head[4 + i] = (unsigned char)(sum >> (8 * i));
	(void)buffer_append(&out->buf, head, sizeof(head));
	(void)buffer_append(&out->buf, msgid, id_len);
	(void)buffer_append(&out->buf, threadid, tid_len);
	out->count++;
}

/* Copy the live records of data (the whole file, locked) into out: the first
 * record of each id that says its current thread. */
static void live_records(struct threads_file *tf, const unsigned char *data, size_t size,
			 struct record_buf *out)
{
	unsigned char *written = i_malloc(tf->map.size / 8 + 1);
	char id[REC_ID_MAX + 1], threadid[STORE_ID_MAX_BYTES];
	unsigned char raw[THREAD_RAW];
	size_t pos = THREADS_HEADER_LEN, len;
	memset(written, 0, tf->map.size / 8 + 1);
	while ((len = parse_record(data + pos, size - pos, id, raw)) > 0) {
		const struct thread_slot *slot = map_slot(&tf->map, map_hash(&tf->map, id));
		size_t i = (size_t)(slot - tf->map.slots);
		if (slot->hash != 0 && memcmp(slot->thread, raw, THREAD_RAW) == 0 &&
		    (written[i / 8] & (1u << (i % 8))) == 0) {
			written[i / 8] |= (unsigned char)(1u << (i % 8));
			raw_to_thread(raw, threadid);
			append_record(id, threadid, out);
		}
		pos += len;
	}
	free(written);
}

/* Rewrite the file with only the live records when superseded ones outweigh them
 * (locked). Afterwards the next use reads the new file from its start. */
static void file_compact(struct threads_file *tf)
{
	if (tf->records < COMPACT_MIN_RECORDS || tf->records <= 2 * tf->map.count)
		return;
	size_t size = (size_t)tf->offset;
	unsigned char *data = i_malloc(size);
	struct record_buf out = { .count = 0 };
	buffer_init(&out.buf, 0);
	if (pread(tf->fd, data, size, 0) == (ssize_t)size && size >= THREADS_HEADER_LEN) {
		unsigned char header[THREADS_HEADER_LEN];
		struct buffer file;
		/* the live records (found by the old key), under a new key */
		live_records(tf, data, size, &out);
		new_header(&tf->map, header);
		buffer_init(&file, 0);
		(void)buffer_append(&file, header, sizeof(header));
		(void)buffer_append(&file, buffer_data(&out.buf), buffer_len(&out.buf));
		if (maildir_file_replace(tf->path, buffer_data(&file), buffer_len(&file), 0600,
					 true) < 0)
			log_error_errno("maildir: compact %s", tf->path);
		buffer_deinit(&file);
		/* the next lock reads the file (new, or as it was) from its start */
		file_close(tf);
		file_reset(tf);
	}
	buffer_deinit(&out.buf);
	free(data);
}

/* Keep the ids held in memory by this process under MAILDIR_THREADS_MAX_IDS: drop
 * the least recently used other users' indexes (they are read again when needed). */
static void cache_trim(const struct threads_file *keep)
{
	for (;;) {
		struct threads_file *oldest = NULL;
		size_t total = 0;
		for (unsigned int i = 0; i < CACHE_MAX; i++) {
			if (cache[i].path == NULL)
				continue;
			total += cache[i].map.count;
			if (&cache[i] != keep &&
			    (oldest == NULL || cache[i].last_use < oldest->last_use))
				oldest = &cache[i];
		}
		if (total <= MAILDIR_THREADS_MAX_IDS || oldest == NULL)
			return;
		file_free(oldest);
	}
}

struct maildir_threads_batch {
	char *path;
	struct threads_file *tf;   /* locked, once a message had ids */
	bool failed;               /* the file could not be used */
	struct record_buf out;     /* records of the ids the batch added or changed */
};

struct maildir_threads_batch *maildir_threads_begin(const char *root)
{
	struct maildir_threads_batch *batch = i_new0(struct maildir_threads_batch);
	batch->path = i_strdup_printf("%s/%s", root, MAILDIR_THREADS_NAME);
	buffer_init(&batch->out.buf, 0);
	return batch;
}

/* Lock the file and read its news (on the batch's first message with ids). */
static bool batch_open(struct maildir_threads_batch *batch)
{
	if (batch->tf != NULL || batch->failed)
		return !batch->failed;
	struct threads_file *tf = file_get(batch->path);
	if (file_lock(tf) == 0 && file_catch_up(tf) == 0) {
		batch->tf = tf;
		return true;
	}
	log_error_errno("maildir: thread index %s", batch->path);
	file_unlock(tf);
	file_close(tf);
	file_reset(tf);
	batch->failed = true;
	return false;
}

void maildir_threads_add(struct maildir_threads_batch *batch,
			 const struct store_thread_ids *ids,
			 char threadid_r[STORE_ID_MAX_BYTES])
{
	static const struct store_thread_map map_ops = { map_lookup, map_put };
	if ((ids->own == NULL && ids->ref_count == 0) || !batch_open(batch)) {
		store_random_id('T', threadid_r);   /* nothing to link it by */
		return;
	}
	batch->tf->map.changed = &batch->out;
	store_thread_assign_map(&map_ops, &batch->tf->map, ids, threadid_r);
	batch->tf->map.changed = NULL;
}

/* Append the batch's records in one write and fdatasync. */
static int batch_write(struct maildir_threads_batch *batch)
{
	struct threads_file *tf = batch->tf;
	size_t len = buffer_len(&batch->out.buf);
	if (len == 0)
		return 0;
	int ret = pwrite(tf->fd, buffer_data(&batch->out.buf), len, tf->offset) ==
		  (ssize_t)len ? 0 : -1;
	if (ret == 0)
		ret = fdatasync(tf->fd);
	if (ret == 0) {
		tf->offset += (off_t)len;
		tf->records += batch->out.count;
		return 0;
	}
	/* what we remembered is not in the file: read it again next time */
	log_error_errno("maildir: append to %s", tf->path);
	if (ftruncate(tf->fd, tf->offset) < 0)
		log_error_errno("maildir: truncate %s", tf->path);
	file_reset(tf);
	return -1;
}

int maildir_threads_end(struct maildir_threads_batch **_batch)
{
	struct maildir_threads_batch *batch = *_batch;
	int ret = batch->failed ? -1 : 0;
	*_batch = NULL;
	if (batch->tf != NULL) {
		ret = batch_write(batch);
		if (ret == 0)
			file_compact(batch->tf);
		/* no descriptor stays open between uses (a file system can be remounted
		 * read-only; no descriptor per user per process) */
		file_unlock(batch->tf);
		file_close(batch->tf);
		cache_trim(batch->tf);
	}
	buffer_deinit(&batch->out.buf);
	free(batch->path);
	free(batch);
	return ret;
}

void maildir_threads_add_msg(struct maildir_threads_batch *batch, const void *data, int fd,
			     size_t size, char threadid_r[STORE_ID_MAX_BYTES])
{
	struct store_thread_ids ids;
	unsigned char *head = NULL;
	if (size > MAILDIR_THREADS_HEADER_MAX)
		size = MAILDIR_THREADS_HEADER_MAX;
	if (data == NULL) {
		head = i_malloc(size + 1);
		ssize_t n = fd < 0 ? -1 : pread(fd, head, size, 0);
		size = n < 0 ? 0 : (size_t)n;
		data = head;
	}
	store_thread_ids_read(data, size, &ids);
	maildir_threads_add(batch, &ids, threadid_r);
	store_thread_ids_free(&ids);
	free(head);
}

int maildir_threads_assign_msg(const char *root, const void *data, int fd, size_t size,
			       char threadid_r[STORE_ID_MAX_BYTES])
{
	struct maildir_threads_batch *batch = maildir_threads_begin(root);
	maildir_threads_add_msg(batch, data, fd, size, threadid_r);
	return maildir_threads_end(&batch);
}
