#ifndef PYMAP_MAILDIR_UIDLIST_H
#define PYMAP_MAILDIR_UIDLIST_H
/* dovecot-uidlist: the UID of every message file of one maildir folder, in Dovecot's
 * format (read and written by the maildir backend's sync, store-maildir-sync.c).
 *
 * Version 3 (written): header "3 V<uidvalidity> N<next uid> G<32 hex guid>" plus any
 * other "<letter><value>" fields, which are kept; then one record per line,
 * "<uid> [<letter><value> ...] :<file name>", UIDs ascending. Extension fields of
 * records are kept verbatim (Dovecot's S/W sizes, pymap's E=emailid and T=threadid).
 * Version 1 ("1 <uidvalidity> <next uid>", records "<uid> <file name>") is read too.
 * LF or CRLF on read, LF on write. The file is replaced whole (maildir_file_replace)
 * when its header changes or records go; new records are appended to it, as Dovecot
 * does, so the header's next UID may be behind: a reader takes the last record's UID
 * + 1 when that is larger (Dovecot does the same).
 *
 * A bad header fails the parse (the caller starts a new UIDVALIDITY). A bad record
 * (no number, not ascending, no file name) is skipped and counted. */
#include <stddef.h>
#include <stdint.h>

#define MAILDIR_UIDLIST_NAME "dovecot-uidlist"
#define MAILDIR_UIDLIST_MAX_BYTES (512u * 1024 * 1024)
#define MAILDIR_GUID_HEX 32

struct maildir_uidlist_rec {
	uint32_t uid;
	char *ext;         /* extension fields as written ("" when none) */
	char *name;        /* file name as recorded (may carry a ":2,..." info part) */
};

struct maildir_uidlist {
	unsigned int version;
	uint32_t uidvalidity;
	uint32_t next_uid;
	char guid[MAILDIR_GUID_HEX + 1];   /* "" when the header had none */
	char *header_ext;                  /* other header fields ("" when none) */
	struct maildir_uidlist_rec *recs;
	unsigned int count, alloc;
	unsigned int bad_records;          /* skipped while parsing */
};

/* A new, empty list with a fresh uidvalidity and guid. */
struct maildir_uidlist *maildir_uidlist_new(uint32_t uidvalidity);
/* Parse data (size bytes). 0, or -1 with *error_r (static) for a bad header. */
int maildir_uidlist_parse(const char *data, size_t size, struct maildir_uidlist **list_r,
			  const char **error_r);
/* 1 read, 0 missing file, -1 unreadable or bad header (*error_r). */
int maildir_uidlist_read(const char *path, struct maildir_uidlist **list_r,
			 const char **error_r);
/* Text of the list in version 3 format (malloc'ed, NUL-terminated). */
char *maildir_uidlist_format(const struct maildir_uidlist *list, size_t *size_r);
/* The records from index first on, in the same format (to append to the file). */
char *maildir_uidlist_format_records(const struct maildir_uidlist *list, unsigned int first,
				     size_t *size_r);
int maildir_uidlist_write(const char *path, const struct maildir_uidlist *list);
/* Append a record (uid must be larger than every existing one); next_uid follows. */
void maildir_uidlist_append(struct maildir_uidlist *list, uint32_t uid, const char *ext,
			    const char *name);
/* The value of extension field key in ext, copied into buf (NUL-terminated); NULL
 * when absent. */
const char *maildir_uidlist_ext_get(const char *ext, char key, char *buf, size_t size);
/* The value of extension field key in the records of uids (count, ascending) of the
 * uidlist file at path, found without building the list: values_r[i] is malloc'ed,
 * or NULL when the record or field is absent. 1 read, 0 missing file (all NULL), -1
 * unreadable (errno). */
int maildir_uidlist_read_ext(const char *path, const uint32_t *uids, unsigned int count,
			     char key, char **values_r);
void maildir_uidlist_free(struct maildir_uidlist **list);

#endif
