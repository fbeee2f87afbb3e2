#ifndef PYMAP_MAILDIR_INDEX_H
#define PYMAP_MAILDIR_INDEX_H
/* The maildir backend's per-folder state and its cache file "pymap-index" (format in
 * doc/maildir-index.md): every message's UID, file name, flags, size, internal date,
 * ids and modseq, the folder's modseq and change log, the first UID not yet claimed
 * as \Recent, and the stamps (inode, size, mtime) of new/, cur/, dovecot-uidlist and
 * dovecot-keywords the state was built from. A reader whose stamps still match needs
 * no directory scan; a mismatch means a rescan (store-maildir-sync.c). The file is a
 * cache: a damaged or missing one is rebuilt from the maildir, with a fresh modseq
 * base so sessions resynchronise from a snapshot.
 *
 * The file is a snapshot of the whole state (the base) followed by deltas: a writer
 * appends what its change did (messages added, changed, removed, new log entries,
 * the new header) instead of rewriting the whole file, and a reader that already
 * holds the state of an earlier offset of the same file applies just the deltas after
 * it. When the deltas outweigh the base, the next writer writes a new snapshot. */
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
	/* stamps too recent to trust (store-maildir-sync.c): unstable (a scan saw new/ or
	 * cur/ move): list both at the next use; new_unsettled (someone else changed new/
	 * while we held the lock): list new/ at the next use; new_settle_ns, cur_settle_ns
	 * (ns since the epoch, 0: none): list the directory at or after that time (set a
	 * second after the first of our own changes not yet checked) */
	bool unstable, new_unsettled;
	int64_t new_settle_ns, cur_settle_ns;
	bool valid;                        /* built from the maildir at least once */
	uint32_t unseen;                   /* messages without \Seen (kept by every change) */
};

void maildir_state_clear(struct maildir_state *state);
/* Move src into dest (dest cleared first; src left empty). */
void maildir_state_move(struct maildir_state *dest, struct maildir_state *src);
struct maildir_msg *maildir_state_add(struct maildir_state *state);
int maildir_state_find(const struct maildir_state *state, uint32_t uid);
/* Append a change (bounded: the oldest half is dropped when full). */
void maildir_state_log(struct maildir_state *state, enum store_change_kind kind,
		       const struct store_message_meta *meta);
/* Keep state->unseen: call with sign -1 before a message's flags change or it is
 * removed, +1 after its flags are set or it is added. */
void maildir_state_count(struct maildir_state *state, const struct maildir_msg *msg, int sign);
/* Count state->unseen from scratch (after building a state message by message). */
void maildir_state_recount(struct maildir_state *state);
/* Messages with UID >= first_recent_uid (a binary search). */
uint32_t maildir_state_recent(const struct maildir_state *state);

/* Where a state stands in its index file: which file (inode and the random id its
 * base carries) and how many of its bytes the state includes. offset 0: none (the
 * next read is a whole one, the next write a new snapshot). */
struct maildir_index_pos {
	uint64_t ino, file_id;
	uint64_t base_size, offset;
};

/* What one writer changed since prev_modseq (its state before): uids removed, uids
 * added or changed (ascending, each once; their messages are taken from the state),
 * and the state's change log entries from first_log on. */
struct maildir_index_delta {
	uint64_t prev_modseq;
	const uint32_t *removed, *changed;
	unsigned int removed_count, changed_count;
	unsigned int first_log;
};

/* Serialize / parse a snapshot (a base without deltas). Parse returns 0, or -1 when
 * the data is not a valid index (bad magic, version, checksum, truncated or
 * inconsistent records). */
char *maildir_index_serialize(const struct maildir_state *state, uint64_t file_id,
			      size_t *size_r);
int maildir_index_parse(const unsigned char *data, size_t size, struct maildir_state *state_r);
struct maildir_index_counts {
	unsigned int count, log_count;
	uint32_t unseen, recent;       /* messages without \Seen; UIDs >= first recent */
};
/* The header fields of the newest state in the file (no messages, valid stays
 * false) and the counts STATUS needs: the base's header and, when deltas follow, the
 * last delta's (read from the end). A few preads. 1, 0 missing or invalid, -1 error. */
int maildir_index_read_header(const char *path, struct maildir_state *state_r,
			      struct maildir_index_counts *counts_r);
/* Write a new snapshot (temp file + rename); *pos_r and *stamp_r describe it. */
int maildir_index_write(const char *path, const struct maildir_state *state,
			struct maildir_index_pos *pos_r, struct maildir_stamp *stamp_r);
/* Append a delta when the file is still the one of *pos, ending at pos->offset: 1
 * appended (*pos, *stamp_r updated), 0 it is not (write a snapshot instead), -1
 * error (errno). */
int maildir_index_append(const char *path, const struct maildir_state *state,
			 const struct maildir_index_delta *delta, struct maildir_index_pos *pos,
			 struct maildir_stamp *stamp_r);
/* Should the next write be a snapshot (the deltas outweigh the base)? */
bool maildir_index_wants_snapshot(const struct maildir_index_pos *pos);
/* Read the whole file: 1 loaded (*pos_r set), 0 missing or invalid, -1 error. A torn
 * delta at the end (a writer died) is left out; pos_r->offset stops before it. */
int maildir_index_read(const char *path, struct maildir_state *state_r,
		       struct maildir_index_pos *pos_r);
/* Apply the deltas appended after pos->offset to state (which is the file's state
 * at that offset): 1 done (pos moved; possibly nothing new), 0 the file is another
 * one or a delta did not fit (state damaged: read it whole), -1 error (errno). */
int maildir_index_read_tail(const char *path, struct maildir_state *state,
			    struct maildir_index_pos *pos);

#endif
