#include "users-file.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned int field_counts[] = {
	[USERS_FILE_PASSWD] = 7,
	[USERS_FILE_SHADOW] = 9,
	[USERS_FILE_GROUP] = 4,
};

unsigned int users_file_field_count(enum users_file_kind kind)
{
	return field_counts[kind];
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF): pymap reads the files as
 * UTF-8 text and fails on anything else. */
static bool utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		unsigned int n, cp;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
		else return false;
		if (i + n >= len)
			return false;
		for (unsigned int k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n + 1;
	}
	return true;
}

static void fields_free(char **fields, unsigned int count)
{
	if (fields == NULL)
		return;
	for (unsigned int i = 0; i < count; i++)
		i_free(fields[i]);
	free(fields);
}

/* One field from [start, end): "\:" becomes ':', everything else is kept. */
static char *field_unescape(const char *start, const char *end)
{
	char *out = i_malloc(end - start + 1), *o = out;
	for (const char *p = start; p < end; p++) {
		if (p[0] == '\\' && p + 1 < end && p[1] == ':')
			continue;
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

char **users_file_parse_line(enum users_file_kind kind, const char *line, size_t len,
			     const char **reason_r)
{
	unsigned int max = field_counts[kind], n = 0;
	char **fields = i_new(char *, max);
	const char *start = line, *end = line + len;

	if (len > USERS_FILE_MAX_LINE_BYTES) {
		*reason_r = "line too long";
		free(fields);
		return NULL;
	}
	if (memchr(line, '\0', len) != NULL || !utf8_valid((const void *)line, len)) {
		*reason_r = "not valid UTF-8 text";
		free(fields);
		return NULL;
	}
	for (const char *p = line; p <= end; p++) {
		if (p < end && (*p != ':' || (p > line && p[-1] == '\\')))
			continue;
		if (n == max) {
			fields_free(fields, n);
			*reason_r = "too many fields";
			return NULL;
		}
		fields[n++] = field_unescape(start, p);
		start = p + 1;
	}
	if (fields[0][0] == '\0' || (kind == USERS_FILE_SHADOW && n < 2)) {
		*reason_r = fields[0][0] == '\0' ? "empty name" : "missing password field";
		fields_free(fields, n);
		return NULL;
	}
	while (n < max)
		fields[n++] = i_strdup("");
	return fields;
}

char *users_file_format_line(enum users_file_kind kind, char *const *fields)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	for (unsigned int i = 0; i < field_counts[kind]; i++) {
		if (i > 0)
			buffer_append_c(&buf, ':');
		for (const char *p = fields[i]; *p != '\0'; p++) {
			if (*p == ':')
				buffer_append_c(&buf, '\\');
			buffer_append_c(&buf, (unsigned char)*p);
		}
	}
	return buffer_steal_str(&buf);
}

struct users_file *users_file_create(const char *path, enum users_file_kind kind)
{
	struct users_file *file = i_new0(struct users_file);
	file->kind = kind;
	file->path = i_strdup(path);
	return file;
}

static void record_free(struct users_file *file, struct users_file_record *rec)
{
	fields_free(rec->fields, field_counts[file->kind]);
	rec->fields = NULL;
}

void users_file_destroy(struct users_file **_file)
{
	struct users_file *file = *_file;
	if (file == NULL)
		return;
	*_file = NULL;
	for (unsigned int i = 0; i < file->count; i++)
		record_free(file, &file->records[i]);
	free(file->records);
	free(file->index);
	i_free(file->path);
	free(file);
}

static unsigned int name_hash(const char *name)
{
	unsigned int h = 2166136261u;
	for (const unsigned char *p = (const void *)name; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* Open addressing over record indexes + 1 (0 = empty slot); kept at most half full. */
static void index_rebuild(struct users_file *file)
{
	unsigned int size = 64;
	while (size < file->count * 2 + 2)
		size *= 2;
	free(file->index);
	file->index = i_new(unsigned int, size);
	memset(file->index, 0, size * sizeof(unsigned int));
	file->index_size = size;
	for (unsigned int i = 0; i < file->count; i++) {
		unsigned int slot = name_hash(file->records[i].fields[0]) & (size - 1);
		while (file->index[slot] != 0)
			slot = (slot + 1) & (size - 1);
		file->index[slot] = i + 1;
	}
}

static int record_index(const struct users_file *file, const char *name)
{
	if (file->index_size == 0)
		return -1;
	unsigned int mask = file->index_size - 1;
	for (unsigned int slot = name_hash(name) & mask; file->index[slot] != 0;
	     slot = (slot + 1) & mask) {
		unsigned int i = file->index[slot] - 1;
		if (strcmp(file->records[i].fields[0], name) == 0)
			return (int)i;
	}
	return -1;
}

const struct users_file_record *users_file_get(const struct users_file *file,
					       const char *name)
{
	int idx = record_index(file, name);
	return idx < 0 ? NULL : &file->records[idx];
}

/* Takes ownership of fields. Replacing keeps the record's position (dict order). */
static void file_put(struct users_file *file, char **fields, unsigned int line)
{
	int idx = record_index(file, fields[0]);
	if (idx >= 0) {
		record_free(file, &file->records[idx]);
		file->records[idx].fields = fields;
		file->records[idx].line = line;
		return;
	}
	if (file->count == file->alloc) {
		file->alloc = file->alloc == 0 ? 16 : file->alloc * 2;
		file->records = i_reallocarray(file->records, file->alloc,
					       sizeof(*file->records));
	}
	file->records[file->count].fields = fields;
	file->records[file->count++].line = line;
	if (file->count * 2 + 2 > file->index_size) {
		index_rebuild(file);
	} else {
		unsigned int mask = file->index_size - 1;
		unsigned int slot = name_hash(fields[0]) & mask;
		while (file->index[slot] != 0)
			slot = (slot + 1) & mask;
		file->index[slot] = file->count;
	}
}

void users_file_set(struct users_file *file, const char *const *fields,
		    unsigned int field_count)
{
	unsigned int max = field_counts[file->kind];
	char **copy = i_new(char *, max);
	i_assert(field_count >= 1 && fields[0] != NULL && fields[0][0] != '\0');
	for (unsigned int i = 0; i < max; i++) {
		const char *f = i < field_count && fields[i] != NULL ? fields[i] : "";
		copy[i] = i_strdup(f);
	}
	file_put(file, copy, 0);
}

int users_file_remove(struct users_file *file, const char *name)
{
	int idx = record_index(file, name);
	if (idx < 0)
		return 0;
	record_free(file, &file->records[idx]);
	memmove(&file->records[idx], &file->records[idx + 1],
		(file->count - idx - 1) * sizeof(*file->records));
	file->count--;
	index_rebuild(file);
	return 1;
}

static int read_all(int fd, struct buffer *buf, const char **error_r)
{
	for (;;) {
		unsigned char *p = buffer_reserve(buf, 65536);
		if (p == NULL) {
			*error_r = "file too large";
			return -1;
		}
		ssize_t n = read(fd, p, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		if (n == 0)
			return 0;
		buffer_commit(buf, (size_t)n);
	}
}

static void file_set_identity(struct users_file *file, const struct stat *st)
{
	file->exists = st != NULL;
	if (st == NULL)
		return;
	file->dev = st->st_dev;
	file->ino = st->st_ino;
	file->size = st->st_size;
	file->mtime = st->st_mtim;
}

/* Lines end in LF, CRLF or a lone CR (Python's universal newlines); empty lines are
 * skipped silently. */
static unsigned int file_parse(struct users_file *file, const char *data, size_t len)
{
	unsigned int line_no = 0, malformed = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && data[end] != '\n' && data[end] != '\r')
			end++;
		line_no++;
		if (end > pos) {
			const char *reason;
			char **fields = users_file_parse_line(file->kind, data + pos, end - pos,
							      &reason);
			if (fields == NULL) {
				log_warning("%s:%u: malformed line skipped: %s",
					    file->path, line_no, reason);
				malformed++;
			} else {
				file_put(file, fields, line_no);
			}
		}
		if (end + 1 < len && data[end] == '\r' && data[end + 1] == '\n')
			end++;
		pos = end + 1;
	}
	return malformed;
}

int users_file_read(const char *path, enum users_file_kind kind,
		    struct users_file **file_r, unsigned int *malformed_r,
		    const char **error_r)
{
	struct users_file *file;
	struct buffer buf;
	struct stat st;
	unsigned int malformed = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 && errno != ENOENT) {
		*error_r = strerror(errno);
		return -1;
	}
	file = users_file_create(path, kind);
	if (fd >= 0) {
		bool ok = fstat(fd, &st) == 0;
		if (!ok || !S_ISREG(st.st_mode)) {
			*error_r = !ok ? strerror(errno) : "not a regular file";
			close(fd);
			users_file_destroy(&file);
			return -1;
		}
		buffer_init(&buf, USERS_FILE_MAX_FILE_BYTES);
		if (read_all(fd, &buf, error_r) < 0) {
			buffer_deinit_secret(&buf);
			close(fd);
			users_file_destroy(&file);
			return -1;
		}
		close(fd);
		file_set_identity(file, &st);
		malformed = file_parse(file, buffer_str(&buf), buffer_len(&buf));
		buffer_deinit_secret(&buf);
	}
	if (malformed_r != NULL)
		*malformed_r = malformed;
	*file_r = file;
	return 0;
}

bool users_file_changed(const struct users_file *file)
{
	struct stat st;
	if (stat(file->path, &st) < 0)
		return file->exists || errno != ENOENT;
	return !file->exists || st.st_dev != file->dev || st.st_ino != file->ino ||
	       st.st_size != file->size || st.st_mtim.tv_sec != file->mtime.tv_sec ||
	       st.st_mtim.tv_nsec != file->mtime.tv_nsec;
}

static int write_records(struct users_file *file, int fd)
{
	struct buffer buf;
	int ret = 0;
	buffer_init(&buf, 0);
	for (unsigned int i = 0; i < file->count; i++) {
		char *line = users_file_format_line(file->kind, file->records[i].fields);
		buffer_append_str(&buf, line);
		buffer_append_str(&buf, "\r\n");
		i_free_secret(line, strlen(line));
	}
	const unsigned char *p = buffer_data(&buf);
	size_t left = buffer_len(&buf);
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -1;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	buffer_deinit_secret(&buf);
	return ret == 0 ? fsync(fd) : -1;
}

static int write_remove(struct users_file *file, const char **error_r)
{
	if (unlink(file->path) < 0 && errno != ENOENT) {
		*error_r = strerror(errno);
		return -1;
	}
	file_set_identity(file, NULL);
	return 0;
}

int users_file_write(struct users_file *file, mode_t mode, const char **error_r)
{
	struct stat st;
	bool had = stat(file->path, &st) == 0;
	if (file->count == 0)
		return write_remove(file, error_r);

	char *tmp = i_strdup_printf("%s.tmpXXXXXX", file->path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*error_r = strerror(errno);
		free(tmp);
		return -1;
	}
	int ret = fchmod(fd, had ? (st.st_mode & 07777) : mode);
	if (ret == 0 && had && geteuid() == 0)
		ret = fchown(fd, st.st_uid, st.st_gid);
	if (ret == 0)
		ret = write_records(file, fd);
	if (ret == 0 && fstat(fd, &st) == 0 && rename(tmp, file->path) == 0) {
		file_set_identity(file, &st);
	} else {
		*error_r = strerror(errno);
		ret = -1;
		unlink(tmp);
	}
	close(fd);
	free(tmp);
	return ret;
}

/* ---- users_db ---- */

struct users_db {
	struct users_file *files[3];   /* indexed by enum users_file_kind */
	bool failed[3];                /* last read failed (logged once) */
	bool loaded[3];                /* read at least once */
};

static const char *const default_names[] = {
	[USERS_FILE_PASSWD] = USERS_FILE_PASSWD_NAME,
	[USERS_FILE_SHADOW] = USERS_FILE_SHADOW_NAME,
	[USERS_FILE_GROUP] = USERS_FILE_GROUP_NAME,
};

static char *db_path(const char *base_dir, const char *name)
{
	if (name[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
		return i_strdup(name);
	return i_strdup_printf("%s/%s", base_dir, name);
}

struct users_db *users_db_create(const struct users_db_settings *set)
{
	struct users_db *db = i_new0(struct users_db);
	const char *names[3] = { set->passwd_name, set->shadow_name, set->group_name };
	for (unsigned int k = 0; k < 3; k++) {
		const char *name = names[k] != NULL && names[k][0] != '\0' ?
			names[k] : default_names[k];
		char *path = db_path(set->base_dir, name);
		db->files[k] = users_file_create(path, (enum users_file_kind)k);
		free(path);
	}
	return db;
}

void users_db_destroy(struct users_db **_db)
{
	struct users_db *db = *_db;
	if (db == NULL)
		return;
	*_db = NULL;
	for (unsigned int k = 0; k < 3; k++)
		users_file_destroy(&db->files[k]);
	free(db);
}

static int db_refresh_one(struct users_db *db, unsigned int k, bool force,
			  const char **error_r)
{
	struct users_file *file = db->files[k], *new_file;
	if (!force && !users_file_changed(file))
		return 0;
	if (users_file_read(file->path, file->kind, &new_file, NULL, error_r) < 0) {
		if (!db->failed[k])
			log_error("%s: cannot read users file: %s", file->path, *error_r);
		db->failed[k] = true;
		return -1;
	}
	if (db->failed[k] || file->exists || new_file->exists)
		log_info("%s: loaded %u entries", new_file->path, new_file->count);
	db->failed[k] = false;
	db->loaded[k] = true;
	users_file_destroy(&db->files[k]);
	db->files[k] = new_file;
	return 0;
}

int users_db_refresh(struct users_db *db, const char **error_r)
{
	int ret = 0;
	for (unsigned int k = 0; k < 3; k++) {
		bool force = db->failed[k] || !db->loaded[k];
		if (db_refresh_one(db, k, force, error_r) < 0)
			ret = -1;
	}
	return ret;
}

/* Is name in the comma list (pymap: users_list.split(',')). */
static bool users_list_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end == NULL ? strlen(p) : (size_t)(end - p);
		if (n == len && memcmp(p, name, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

static char **db_roles(struct users_db *db, const char *name, bool uid_zero)
{
	const struct users_file *groups = db->files[USERS_FILE_GROUP];
	char **roles = i_new(char *, groups->count + 2);
	unsigned int n = 0;
	bool have_admin = false;
	for (unsigned int i = 0; i < groups->count; i++) {
		char **f = groups->records[i].fields;
		if (users_list_has(f[USERS_GROUP_USERS], name)) {
			have_admin = have_admin || strcmp(f[0], "admin") == 0;
			roles[n++] = i_strdup(f[0]);
		}
	}
	if (uid_zero && !have_admin)
		roles[n++] = i_strdup("admin");
	roles[n] = NULL;
	return roles;
}

int users_db_lookup(struct users_db *db, const char *name, struct users_db_user *user_r)
{
	const struct users_file_record *pw, *sh;
	pw = users_file_get(db->files[USERS_FILE_PASSWD], name);
	if (pw == NULL)
		return 0;
	sh = users_file_get(db->files[USERS_FILE_SHADOW], name);
	memset(user_r, 0, sizeof(*user_r));
	user_r->name = pw->fields[0];
	user_r->uid = pw->fields[USERS_PASSWD_UID];
	user_r->mailbox_path = pw->fields[USERS_PASSWD_HOME_DIR][0] != '\0' ?
		pw->fields[USERS_PASSWD_HOME_DIR] : NULL;
	user_r->hash = sh == NULL ? NULL : sh->fields[USERS_SHADOW_PASSWORD];
	user_r->shadow_line = sh == NULL ? 0 : sh->line;
	user_r->shadow_path = db->files[USERS_FILE_SHADOW]->path;
	user_r->roles = db_roles(db, name, strcmp(user_r->uid, "0") == 0);
	return 1;
}

void users_db_user_free(struct users_db_user *user)
{
	if (user->roles != NULL) {
		for (char **r = user->roles; *r != NULL; r++)
			free(*r);
		i_free(user->roles);
	}
}
