#ifndef PYMAP_USERS_FILE_H
#define PYMAP_USERS_FILE_H
/* The maildir backend's users files in the Python pymap's format (pymap-inventory.md
 * 3.2): pymap-etc-passwd (passwd(5) fields), pymap-etc-shadow (shadow(5) fields) and
 * pymap-etc-group (group(5) fields: role name and a sorted comma list of users).
 *
 * Format, exactly as pymap reads and writes it: one record per line, CRLF on write
 * (LF or CRLF on read), fields separated by ':' that is not preceded by '\'; after
 * splitting, every "\:" in a field becomes ':'. On write every ':' in a field becomes
 * "\:" (backslashes are not otherwise escaped). Missing trailing fields are empty;
 * more fields than the format has, an empty name, a shadow line without a password
 * field, an over-long line or bytes that are not UTF-8 make the line malformed: it is
 * logged as "file:line: reason" (never its content: it may hold a hash) and skipped.
 * A later line with the same name replaces an earlier one (pymap's dict semantics).
 * The file is rewritten whole through a temporary file and rename, and removed when
 * it becomes empty.
 *
 * Users: the auth process reads all three (users_db); the admin process edits them
 * (users_file_* then users_file_write). */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define USERS_FILE_PASSWD_NAME "pymap-etc-passwd"
#define USERS_FILE_SHADOW_NAME "pymap-etc-shadow"
#define USERS_FILE_GROUP_NAME "pymap-etc-group"
#define USERS_FILE_MAX_LINE_BYTES (64 * 1024)
#define USERS_FILE_MAX_FILE_BYTES (256 * 1024 * 1024)

enum users_file_kind {
	USERS_FILE_PASSWD,  /* name password uid gid comment home_dir shell */
	USERS_FILE_SHADOW,  /* name password lastchg min max warn inactive expire reserved */
	USERS_FILE_GROUP,   /* name password gid users_list */
};
/* Field indexes used by callers. */
#define USERS_PASSWD_UID 2
#define USERS_PASSWD_HOME_DIR 5
#define USERS_SHADOW_PASSWORD 1
#define USERS_GROUP_USERS 3

struct users_file_record {
	char **fields;          /* always the kind's full field count; "" when absent */
	unsigned int line;      /* 1-based line in the file it was read from; 0 = new */
};

struct users_file {
	enum users_file_kind kind;
	char *path;
	struct users_file_record *records;  /* file order, names unique */
	unsigned int count, alloc;
	unsigned int *index, index_size;    /* private: hash index by name */
	/* identity of the file when read, for users_file_changed() */
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

unsigned int users_file_field_count(enum users_file_kind kind);

/* Read path. A missing file is an empty file (exists=false). Malformed lines are
 * logged and skipped; *malformed_r (may be NULL) counts them. Returns 0, or -1 with
 * error_r (a static/borrowed string valid until the next call) when the file cannot
 * be opened or read (EACCES, too big, ...). */
int users_file_read(const char *path, enum users_file_kind kind,
		    struct users_file **file_r, unsigned int *malformed_r,
		    const char **error_r);
/* An empty file for path, not read from disk. */
struct users_file *users_file_create(const char *path, enum users_file_kind kind);
void users_file_destroy(struct users_file **file);
/* true when the file at file->path is not the one that was read: created, removed,
 * or its inode, size or mtime differ. */
bool users_file_changed(const struct users_file *file);

/* Split one line (no line ending) into the kind's fields. Returns the record's field
 * array (count = users_file_field_count(kind)), or NULL with *reason_r on a malformed
 * line. Exposed for tests. */
char **users_file_parse_line(enum users_file_kind kind, const char *line, size_t len,
			     const char **reason_r);
/* Append the escaped line (no line ending) for fields to out (malloc'ed string). */
char *users_file_format_line(enum users_file_kind kind, char *const *fields);

/* Lookup by name; NULL when absent. Borrowed until the record changes. */
const struct users_file_record *users_file_get(const struct users_file *file,
					       const char *name);
/* Insert or replace the record named fields[0] (copies fields; missing ones ""). */
void users_file_set(struct users_file *file, const char *const *fields,
		    unsigned int field_count);
/* Returns 1 when removed, 0 when absent. */
int users_file_remove(struct users_file *file, const char *name);

/* Write the file whole: temporary file in the same directory (mode and, when root,
 * owner copied from the existing file, else mode), fsync, rename over path. An
 * empty file removes path instead. 0 or -1 with error_r (logged errno text). */
int users_file_write(struct users_file *file, mode_t mode, const char **error_r);

/* ---- the three files together (the auth process) ---- */

struct users_db_settings {
	const char *base_dir;
	const char *passwd_name, *shadow_name, *group_name;  /* NULL = pymap defaults */
};

struct users_db_user {
	const char *name;
	const char *mailbox_path;   /* passwd home_dir, or NULL when empty (= name) */
	const char *uid;            /* passwd uid field ("" when unset) */
	const char *hash;           /* shadow password field, NULL without a shadow line */
	unsigned int shadow_line;   /* for log lines about an unusable hash */
	const char *shadow_path;
	char **roles;               /* NULL-terminated; malloc'ed, free with users_db_user_free */
};

struct users_db;
struct users_db *users_db_create(const struct users_db_settings *set);
void users_db_destroy(struct users_db **db);
/* Re-read whichever file changed since the last read. A file that cannot be read
 * keeps its previous contents and returns -1 with error_r (and logs once). */
int users_db_refresh(struct users_db *db, const char **error_r);
/* 1 found (user_r filled; strings borrowed until the next refresh, roles owned),
 * 0 unknown user. A user exists when it has a passwd line. Roles: the groups that list
 * the user, plus "admin" when the passwd uid field is "0" (pymap's rule). */
int users_db_lookup(struct users_db *db, const char *name, struct users_db_user *user_r);
void users_db_user_free(struct users_db_user *user);

#endif
