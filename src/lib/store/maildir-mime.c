/* The maildir backend's MIME parse cache file "pymap-mime" (see maildir-mime.h and
 * doc/maildir-index.md). Records are appended with one write() on an O_APPEND
 * descriptor, so concurrent processes never interleave them; readers index the file
 * once (UID -> offset) and pick up what others appended when they miss. */
#include "maildir-mime.h"
#include "maildir-file.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"
#include "mime/mime-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAGIC "PYMAPMC1"
#define RECORD_MAGIC "PMR1"
#define MAX_NAME_LEN 1024
/* Rewrite a file whose dead records outweigh the live ones once it is this big. */
#define COMPACT_MIN_BYTES (256u * 1024)

struct mime_entry {
	uint32_t uid;
	uint32_t len;     /* whole record */
	uint64_t off;
};

struct maildir_mime {
	int refcount;
	char *path;
	uint32_t uidvalidity;
	maildir_mime_live_t *live;
	void *live_context;

	int fd;           /* -1: not open (yet, or unavailable) */
	bool opened;      /* open was tried */
	bool writable;
	uint64_t ino;
	uint64_t scanned; /* records up to here are indexed */
	struct mime_entry *ents;   /* ascending uid, one per uid (the newest) */
	unsigned int count, alloc;
	struct maildir_mime_stats stats;
};

static void put(unsigned char *p, uint64_t value, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t get(const unsigned char *p, unsigned int bytes)
{
	uint64_t value = 0;
	for (unsigned int i = 0; i < bytes; i++)
		value |= (uint64_t)p[i] << (8 * i);
	return value;
}

static uint32_t fnv1a(uint32_t hash, const unsigned char *data, size_t size)
{
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ data[i]) * 16777619u;
	return hash;
}

/* Checksum of a whole record: header without its checksum field, then the rest. */
static uint32_t record_checksum(const unsigned char *rec, size_t len)
{
	uint32_t hash = fnv1a(2166136261u, rec, 24);
	return fnv1a(hash, rec + MAILDIR_MIME_RECORD_HEADER, len - MAILDIR_MIME_RECORD_HEADER);
}

struct maildir_mime *maildir_mime_create(const char *folder_dir, uint32_t uidvalidity,
					 maildir_mime_live_t *live, void *live_context)
{
	struct maildir_mime *mm = i_new0(struct maildir_mime);
	mm->refcount = 1;
	mm->path = i_strdup_printf("%s/%s", folder_dir, MAILDIR_MIME_NAME);
	mm->uidvalidity = uidvalidity;
	mm->live = live;
	mm->live_context = live_context;
	mm->fd = -1;
	return mm;
}

void maildir_mime_ref(struct maildir_mime *mm)
{
	mm->refcount++;
}

static void close_file(struct maildir_mime *mm)
{
	if (mm->fd >= 0)
		close(mm->fd);
	mm->fd = -1;
	mm->opened = false;
	mm->scanned = 0;
	mm->count = 0;
}

void maildir_mime_unref(struct maildir_mime **_mm)
{
	struct maildir_mime *mm = *_mm;
	*_mm = NULL;
	if (mm == NULL || --mm->refcount > 0)
		return;
	close_file(mm);
	free(mm->ents);
	free(mm->path);
	free(mm);
}

uint32_t maildir_mime_uidvalidity(const struct maildir_mime *mm)
{
	return mm->uidvalidity;
}

void maildir_mime_detach(struct maildir_mime *mm)
{
	mm->live = NULL;
	mm->live_context = NULL;
}

void maildir_mime_get_stats(const struct maildir_mime *mm, struct maildir_mime_stats *stats_r)
{
	*stats_r = mm->stats;
}

/* ---- the in-memory index ---- */

static int find_entry(const struct maildir_mime *mm, uint32_t uid, unsigned int *pos_r)
{
	unsigned int lo = 0, hi = mm->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (mm->ents[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos_r = lo;
	return lo < mm->count && mm->ents[lo].uid == uid ? 1 : 0;
}

/* Record uid at off (a later record replaces an earlier one). */
static void set_entry(struct maildir_mime *mm, uint32_t uid, uint64_t off, uint32_t len)
{
	unsigned int pos;
	if (find_entry(mm, uid, &pos) > 0) {
		if (mm->ents[pos].off < off) {
			mm->ents[pos].off = off;
			mm->ents[pos].len = len;
		}
		return;
	}
	if (mm->count == mm->alloc) {
		mm->alloc = mm->alloc == 0 ? 256 : mm->alloc * 2;
		mm->ents = i_reallocarray(mm->ents, mm->alloc, sizeof(*mm->ents));
	}
	memmove(mm->ents + pos + 1, mm->ents + pos, (mm->count - pos) * sizeof(*mm->ents));
	mm->ents[pos] = (struct mime_entry){ uid, len, off };
	mm->count++;
}

static int entry_cmp(const void *p1, const void *p2)
{
	const struct mime_entry *a = p1, *b = p2;
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off ? 1 : 0;
}

/* After a full scan appended entries in file order: sort, keep the newest per uid. */
static void sort_entries(struct maildir_mime *mm)
{
	unsigned int keep = 0;
	if (mm->count == 0)
		return;
	qsort(mm->ents, mm->count, sizeof(*mm->ents), entry_cmp);
	for (unsigned int i = 0; i < mm->count; i++) {
		if (keep > 0 && mm->ents[keep - 1].uid == mm->ents[i].uid)
			keep--;
		mm->ents[keep++] = mm->ents[i];
	}
	mm->count = keep;
}

/* ---- scanning ---- */

/* Length of a structurally sound record at p (avail bytes left in the file): > 0, or
 * 0 when the file ends inside it (being written, or torn at the end), -1 garbage. */
static long record_len(const unsigned char *p, uint64_t avail)
{
	if (avail < MAILDIR_MIME_RECORD_HEADER)
		return 0;
	uint64_t blob_len = get(p + 16, 4), name_len = get(p + 20, 2);
	if (memcmp(p, RECORD_MAGIC, 4) != 0 || get(p + 4, 4) == 0 || name_len == 0 ||
	    name_len > MAX_NAME_LEN || blob_len == 0 || blob_len > MAILDIR_MIME_MAX_BLOB ||
	    get(p + 22, 2) != 0)
		return -1;
	uint64_t len = MAILDIR_MIME_RECORD_HEADER + name_len + blob_len;
	return len > avail ? 0 : (long)len;
}

static bool record_key(const unsigned char *rec, struct maildir_mime_key *key_r)
{
	key_r->uid = (uint32_t)get(rec + 4, 4);
	key_r->size = get(rec + 8, 8);
	key_r->base_len = (size_t)get(rec + 20, 2);
	key_r->base = (const char *)rec + MAILDIR_MIME_RECORD_HEADER;
	return true;
}

/* Index records of map[from, size). Returns the end of the sound part; *garbage_r
 * when it stopped at garbage rather than at the end. */
static uint64_t scan_records(struct maildir_mime *mm, const unsigned char *map, uint64_t from,
			     uint64_t size, bool *garbage_r)
{
	uint64_t off = from;
	*garbage_r = false;
	while (off < size) {
		long len = record_len(map + off, size - off);
		/* Bytes below the file size are written ones (the kernel raises the size
		 * after copying the data), so a bad checksum is damage, not a write still in
		 * progress: stop there. The end of the file inside a record is not. */
		if (len > 0 && get(map + off + 24, 4) != record_checksum(map + off, (size_t)len))
			len = -1;
		if (len <= 0) {
			*garbage_r = len < 0;
			break;
		}
		if (mm->count == mm->alloc) {
			mm->alloc = mm->alloc == 0 ? 256 : mm->alloc * 2;
			mm->ents = i_reallocarray(mm->ents, mm->alloc, sizeof(*mm->ents));
		}
		mm->ents[mm->count++] = (struct mime_entry){ (uint32_t)get(map + off + 4, 4),
							     (uint32_t)len, off };
		off += (uint64_t)len;
	}
	return off;
}

static void write_header(unsigned char hdr[MAILDIR_MIME_HEADER_SIZE], uint32_t uidvalidity)
{
	memcpy(hdr, FILE_MAGIC, 8);
	put(hdr + 8, uidvalidity, 4);
	put(hdr + 12, MIME_CACHE_VERSION, 4);
}

/* Write a new file: header plus the given records of map (NULL: none), temp + rename.
 * Not fsynced: it is a cache. */
static int rewrite_file(struct maildir_mime *mm, const unsigned char *map,
			const struct mime_entry *ents, unsigned int count)
{
	char *tmp = i_strdup_printf("%s.tmp.%ld", mm->path, (long)getpid());
	unsigned char hdr[MAILDIR_MIME_HEADER_SIZE];
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret = fd < 0 ? -1 : 0;
	write_header(hdr, mm->uidvalidity);
	if (ret == 0)
		ret = maildir_write_full(fd, hdr, sizeof(hdr));
	for (unsigned int i = 0; i < count && ret == 0; i++)
		ret = maildir_write_full(fd, map + ents[i].off, ents[i].len);
	if (fd >= 0 && close(fd) < 0)
		ret = -1;
	if (ret == 0 && rename(tmp, mm->path) < 0)
		ret = -1;
	if (ret < 0 && fd >= 0)
		(void)unlink(tmp);
	free(tmp);
	return ret;
}

static bool header_ok(const struct maildir_mime *mm, const unsigned char *map, uint64_t size)
{
	unsigned char hdr[MAILDIR_MIME_HEADER_SIZE];
	write_header(hdr, mm->uidvalidity);
	return size >= MAILDIR_MIME_HEADER_SIZE && size <= MAILDIR_MIME_MAX_BYTES &&
	       memcmp(map, hdr, sizeof(hdr)) == 0;
}

/* Drop entries of messages that are gone; true when the dead bytes (dropped and
 * superseded records) outweigh the live ones. */
static bool drop_dead(struct maildir_mime *mm, const unsigned char *map, uint64_t end)
{
	uint64_t live_bytes = 0;
	unsigned int keep = 0;
	for (unsigned int i = 0; i < mm->count; i++) {
		struct maildir_mime_key key;
		(void)record_key(map + mm->ents[i].off, &key);
		if (mm->live != NULL && !mm->live(mm->live_context, &key))
			continue;
		live_bytes += mm->ents[i].len;
		mm->ents[keep++] = mm->ents[i];
	}
	mm->count = keep;
	uint64_t dead = end - MAILDIR_MIME_HEADER_SIZE - live_bytes;
	return end >= COMPACT_MIN_BYTES && dead > live_bytes;
}

/* Index the whole file behind mm->fd: 0 done, 1 it was rewritten just now (open the
 * new one), -1 it is unusable (bad header, size, version: replace it). */
static int full_scan(struct maildir_mime *mm, uint64_t size)
{
	if (size < MAILDIR_MIME_HEADER_SIZE || size > MAILDIR_MIME_MAX_BYTES)
		return -1;
	unsigned char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, mm->fd, 0);
	if (map == MAP_FAILED)
		return -1;
	int ret = 0;
	bool garbage;
	mm->stats.scans++;
	mm->count = 0;
	if (!header_ok(mm, map, size)) {
		ret = -1;
	} else {
		mm->scanned = scan_records(mm, map, MAILDIR_MIME_HEADER_SIZE, size, &garbage);
		sort_entries(mm);
		bool compact = drop_dead(mm, map, mm->scanned);
		/* keep what is sound and live, in a fresh file (when that fails, go on
		 * with the sound prefix) */
		if ((garbage || compact) && mm->writable &&
		    rewrite_file(mm, map, mm->ents, mm->count) == 0) {
			mm->stats.compactions++;
			ret = 1;
		}
	}
	munmap(map, size);
	return ret;
}

static int open_fd(struct maildir_mime *mm, struct stat *st_r)
{
	int fd = open(mm->path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	mm->writable = fd >= 0;
	if (fd < 0 && (errno == EACCES || errno == EROFS))
		fd = open(mm->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, st_r) < 0 || !S_ISREG(st_r->st_mode))) {
		close(fd);
		errno = EINVAL;
		fd = -1;
	}
	return fd;
}

/* Open (creating or replacing a missing or unusable file) and index the cache. */
static void open_file(struct maildir_mime *mm)
{
	mm->opened = true;
	for (unsigned int attempt = 0; attempt < 3; attempt++) {
		struct stat st;
		mm->fd = open_fd(mm, &st);
		if (mm->fd >= 0) {
			mm->ino = (uint64_t)st.st_ino;
			int ret = full_scan(mm, (uint64_t)st.st_size);
			if (ret == 0)
				return;
			close_file(mm);
			mm->opened = true;
			if (ret > 0)
				continue;
			if (!mm->writable)
				return;
		} else if (errno != ENOENT) {
			return;
		}
		if (rewrite_file(mm, NULL, NULL, 0) < 0)
			return;
	}
}

/* The file was replaced by another process (compaction): index the new one. */
static void reopen_if_replaced(struct maildir_mime *mm)
{
	struct stat st;
	if (mm->fd < 0 || (stat(mm->path, &st) == 0 && (uint64_t)st.st_ino == mm->ino))
		return;
	close_file(mm);
	open_file(mm);
}

/* Index what others appended since the last look. */
static void scan_tail(struct maildir_mime *mm)
{
	struct stat st;
	if (mm->fd < 0 || fstat(mm->fd, &st) < 0 || (uint64_t)st.st_size <= mm->scanned ||
	    (uint64_t)st.st_size > MAILDIR_MIME_MAX_BYTES)
		return;
	uint64_t size = (uint64_t)st.st_size;
	unsigned char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, mm->fd, 0);
	if (map == MAP_FAILED)
		return;
	/* scan into a side list, then merge (keeps ents sorted) */
	struct maildir_mime tail;
	bool garbage;
	memset(&tail, 0, sizeof(tail));
	uint64_t end = scan_records(&tail, map, mm->scanned, size, &garbage);
	for (unsigned int i = 0; i < tail.count; i++)
		set_entry(mm, tail.ents[i].uid, tail.ents[i].off, tail.ents[i].len);
	free(tail.ents);
	mm->scanned = end;
	munmap(map, size);
}

/* ---- lookup and store ---- */

static bool record_matches(const unsigned char *rec, size_t len,
			   const struct maildir_mime_key *key)
{
	struct maildir_mime_key rkey;
	if (record_len(rec, len) != (long)len || get(rec + 24, 4) != record_checksum(rec, len))
		return false;
	(void)record_key(rec, &rkey);
	return rkey.uid == key->uid && rkey.size == key->size && rkey.base_len == key->base_len &&
	       memcmp(rkey.base, key->base, key->base_len) == 0;
}

int maildir_mime_lookup(struct maildir_mime *mm, const struct maildir_mime_key *key,
			struct mime_tree **tree_r)
{
	unsigned int pos;
	if (!mm->opened)
		open_file(mm);
	if (mm->fd < 0)
		return 0;
	if (find_entry(mm, key->uid, &pos) == 0) {
		reopen_if_replaced(mm);
		scan_tail(mm);
		if (mm->fd < 0 || find_entry(mm, key->uid, &pos) == 0)
			return 0;
	}
	const struct mime_entry *ent = &mm->ents[pos];
	unsigned char *rec = i_malloc(ent->len);
	ssize_t got = pread(mm->fd, rec, ent->len, (off_t)ent->off);
	struct mime_tree *tree = NULL;
	int ret = 0;
	if (got == (ssize_t)ent->len && record_matches(rec, ent->len, key)) {
		size_t name_len = (size_t)get(rec + 20, 2);
		const unsigned char *blob = rec + MAILDIR_MIME_RECORD_HEADER + name_len;
		size_t blob_len = ent->len - MAILDIR_MIME_RECORD_HEADER - name_len;
		uint64_t described = key->content_size != 0 ? key->content_size : key->size;
		if (mime_cache_deserialize(blob, blob_len, &tree) == 0 && tree->size == described)
			ret = 1;
		else if (tree != NULL)
			mime_tree_destroy(&tree);
	}
	free(rec);
	if (ret > 0) {
		mm->stats.hits++;
		*tree_r = tree;
	}
	return ret;
}

static int append_record(struct maildir_mime *mm, const struct buffer *rec)
{
	ssize_t ret = write(mm->fd, buffer_data(rec), buffer_len(rec));
	if (ret != (ssize_t)buffer_len(rec)) {
		/* a partial record is found torn by the next scan; stop writing here */
		if (ret < 0 && errno != ENOSPC && errno != EDQUOT)
			log_error_errno("maildir: write %s", mm->path);
		mm->writable = false;
		return -1;
	}
	off_t end = lseek(mm->fd, 0, SEEK_CUR);
	if (end >= (off_t)ret) {
		uint64_t off = (uint64_t)end - (uint64_t)ret;
		set_entry(mm, (uint32_t)get(buffer_data(rec) + 4, 4), off, (uint32_t)ret);
		if (off == mm->scanned)
			mm->scanned = (uint64_t)end;
	}
	mm->stats.stores++;
	return 0;
}

int maildir_mime_store(struct maildir_mime *mm, const struct maildir_mime_key *key,
		       const struct mime_tree *tree)
{
	if (!mm->opened)
		open_file(mm);
	reopen_if_replaced(mm);
	if (mm->fd < 0 || !mm->writable || key->uid == 0 || key->base_len == 0 ||
	    key->base_len > MAX_NAME_LEN)
		return -1;
	struct buffer rec;
	unsigned char hdr[MAILDIR_MIME_RECORD_HEADER];
	buffer_init(&rec, 0);
	memset(hdr, 0, sizeof(hdr));
	(void)buffer_append(&rec, hdr, sizeof(hdr));
	(void)buffer_append(&rec, key->base, key->base_len);
	size_t before = buffer_len(&rec);
	int ret = mime_cache_serialize(tree, &rec);
	size_t blob_len = buffer_len(&rec) - before;
	if (ret == 0 && blob_len > 0 && blob_len <= MAILDIR_MIME_MAX_BLOB) {
		unsigned char *p = rec.data + rec.skip;
		memcpy(p, RECORD_MAGIC, 4);
		put(p + 4, key->uid, 4);
		put(p + 8, key->size, 8);
		put(p + 16, blob_len, 4);
		put(p + 20, key->base_len, 2);
		put(p + 24, record_checksum(p, buffer_len(&rec)), 4);
		ret = append_record(mm, &rec);
	} else {
		ret = -1;
	}
	buffer_deinit(&rec);
	return ret;
}
