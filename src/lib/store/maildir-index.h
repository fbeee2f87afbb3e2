#ifndef PYMAP_MAILDIR_INDEX_H
#define PYMAP_MAILDIR_INDEX_H
/* The maildir backend's per-folder state and its cache file "pymap-index" (format in
 * doc/maildir-index.md): every message's UID, file name, flags, size, internal date,
 * ids and modseq, the folder's modseq and change log, the first UID not yet claimed
 * as \Recent, and the stamps (inode, size, mtime) of new/, cur/, dovecot-uidlist and
 * dovecot-keywords the state was built from. A reader whose stamps still match needs
 * no directory scan; a mismatch means a rescan (store-maildir-sync.c). The file is a
 * cache: a damaged or missing one is rebuilt from the maildir, with a fresh modseq
 * base so sessions resynchronise from a snapshot. */
#include "store.h"
#include "maildir-file.h"
#include "maildir-keywords.h"
#include "maildir-uidlist.h"

#define MAILDIR_INDEX_NAME "pymap-index"
#define MAILDIR_INDEX_MAX_BYTES (1024u * 1024 * 1024)
#define MAILDIR_LOG_MAX 10000

struct maildir_msg {
	struct store_message_meta meta;   /* flags.keywords = keyword letter bits */
	char *name;                       /* current file name, info included */
	bool in_new;
};

struct maildir_state {
	uint32_t uidvalidity, next_uid, first_recent_uid;
	char guid[MAILDIR_GUID_HEX + 1];
	uint64_t modseq, log_base_modseq;
	struct maildir_msg *msgs;          /* ascending UID */
	unsigned int count, alloc;
	struct store_change *log;          /* changes with modseq > log_base_modseq */
	unsigned int log_count, log_alloc;
	struct maildir_stamp st_new, st_cur, st_uidlist, st_keywords;
	bool unstable;                     /* stamps too recent to trust */
	bool valid;                        /* built from the maildir at least once */
};

void maildir_state_clear(struct maildir_state *state);
/* Move src into dest (dest cleared first; src left empty). */
void maildir_state_move(struct maildir_state *dest, struct maildir_state *src);
struct maildir_msg *maildir_state_add(struct maildir_state *state);
int maildir_state_find(const struct maildir_state *state, uint32_t uid);
/* Append a change (bounded: the oldest half is dropped when full). */
void maildir_state_log(struct maildir_state *state, enum store_change_kind kind,
		       const struct store_message_meta *meta);

/* Serialize / parse the state. Parse returns 0, or -1 when the data is not a valid
 * index (bad magic, version, checksum, truncated or inconsistent records). */
char *maildir_index_serialize(const struct maildir_state *state, size_t *size_r);
int maildir_index_parse(const unsigned char *data, size_t size, struct maildir_state *state_r);
/* Write / read path. Read: 1 loaded, 0 missing or invalid, -1 error (errno). */
struct maildir_index_counts {
	unsigned int count, log_count;
	uint32_t unseen, recent;       /* messages without \Seen; UIDs >= first recent */
};
/* Only the header (one pread; checked by its own checksum): the state's header
 * fields (no messages, valid stays false) and the counts STATUS needs. 1, 0 missing
 * or invalid, -1 error. */
int maildir_index_read_header(const char *path, struct maildir_state *state_r,
			      struct maildir_index_counts *counts_r);
int maildir_index_write(const char *path, const struct maildir_state *state);
int maildir_index_read(const char *path, struct maildir_state *state_r);

#endif
