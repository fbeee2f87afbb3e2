/* pymap-index version 3: a snapshot followed by deltas (maildir-index.c,
 * doc/maildir-index.md). A writer appends what it changed; a reader that holds the
 * state of an earlier offset applies just the deltas after it. */
#include "test.h"
#include "store/maildir-index.h"
#include "alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct maildir_msg *add_msg(struct maildir_state *st, uint32_t uid, uint32_t flags,
				   const char *name)
{
	struct maildir_msg *msg = maildir_state_add(st);
	msg->meta.uid = uid;
	msg->meta.flags.system = flags;
	msg->meta.size = 100 + uid;
	msg->meta.modseq = st->modseq;
	snprintf(msg->meta.emailid, sizeof(msg->meta.emailid), "M%u", uid);
	msg->name = i_strdup(name);
	maildir_state_count(st, msg, 1);
	return msg;
}

/* Three messages, UIDs 1-3; 1 and 3 \Seen; next UID 4; UID 3 not yet \Recent-claimed. */
static void base_state(struct maildir_state *st)
{
	memset(st, 0, sizeof(*st));
	st->uidvalidity = 7;
	st->next_uid = 4;
	st->first_recent_uid = 3;
	st->modseq = st->log_base_modseq = 1000;
	strcpy(st->guid, "00112233445566778899aabbccddeeff");
	st->valid = true;
	add_msg(st, 1, STORE_FLAG_SEEN, "1.M1.h:2,S");
	add_msg(st, 2, 0, "2.M2.h:2,");
	add_msg(st, 3, STORE_FLAG_SEEN, "3.M3.h:2,S");
}

/* The changes of one writer under its lock: UID 4 appended (unseen), UID 2 flagged
 * (renamed), UID 1 expunged, every one a new modseq and log entry. */
static void change_state(struct maildir_state *st)
{
	struct store_message_meta meta;
	st->modseq++;
	struct maildir_msg *msg = add_msg(st, 4, 0, "4.M4.h");
	msg->in_new = true;
	st->next_uid = 5;
	maildir_state_log(st, STORE_CHANGE_APPEND, &msg->meta);
	msg = &st->msgs[maildir_state_find(st, 2)];
	maildir_state_count(st, msg, -1);
	msg->meta.flags.system = STORE_FLAG_FLAGGED | STORE_FLAG_SEEN;
	maildir_state_count(st, msg, 1);
	msg->meta.modseq = ++st->modseq;
	free(msg->name);
	msg->name = i_strdup("2.M2.h:2,FS");
	maildir_state_log(st, STORE_CHANGE_FLAGS, &msg->meta);
	memset(&meta, 0, sizeof(meta));
	meta.uid = 1;
	meta.modseq = ++st->modseq;
	maildir_state_log(st, STORE_CHANGE_EXPUNGE, &meta);
	maildir_state_count(st, &st->msgs[0], -1);
	free(st->msgs[0].name);
	memmove(st->msgs, st->msgs + 1, 3 * sizeof(*st->msgs));
	st->count--;
	st->st_cur.exists = true;
	st->st_cur.mtime_nsec = 42;
}

static int append_change(const char *path, struct maildir_state *st,
			 struct maildir_index_pos *pos, struct maildir_stamp *stamp)
{
	static const uint32_t removed[] = { 1 }, changed[] = { 4, 2, 4 };
	struct maildir_index_delta delta = {
		.prev_modseq = 1000, .removed = removed, .removed_count = 1,
		.changed = changed, .changed_count = 3, .first_log = 0,
	};
	change_state(st);
	return maildir_index_append(path, st, &delta, pos, stamp);
}

static void assert_changed(const struct maildir_state *st)
{
	TEST_ASSERT_UINT_EQ(st->count, 3);
	TEST_ASSERT_UINT_EQ(st->msgs[0].meta.uid, 2);
	TEST_ASSERT_STR_EQ(st->msgs[0].name, "2.M2.h:2,FS");
	TEST_ASSERT_UINT_EQ(st->msgs[0].meta.flags.system, STORE_FLAG_FLAGGED | STORE_FLAG_SEEN);
	TEST_ASSERT_UINT_EQ(st->msgs[2].meta.uid, 4);
	TEST_ASSERT(st->msgs[2].in_new);
	TEST_ASSERT_STR_EQ(st->msgs[2].meta.emailid, "M4");
	TEST_ASSERT_UINT_EQ(st->next_uid, 5);
	TEST_ASSERT_UINT_EQ(st->modseq, 1003);
	TEST_ASSERT_UINT_EQ(st->unseen, 1);          /* only UID 4 */
	TEST_ASSERT_UINT_EQ(maildir_state_recent(st), 2);   /* UIDs 3 and 4 */
	TEST_ASSERT_UINT_EQ(st->log_count, 3);
	TEST_ASSERT_INT_EQ(st->log[2].kind, STORE_CHANGE_EXPUNGE);
	TEST_ASSERT_UINT_EQ(st->log[2].meta.uid, 1);
	TEST_ASSERT_INT_EQ(st->st_cur.mtime_nsec, 42);
}

static char *index_path(const char *name)
{
	char *path = i_strdup_printf("%s/%s", test_tmpdir(), name);
	(void)unlink(path);
	return path;
}

/* A reader that holds the snapshot's state applies only the delta; a new reader
 * reads snapshot + delta; both end where the writer is. */
static void test_index_delta_roundtrip(void)
{
	char *path = index_path("idx-roundtrip");
	struct maildir_state w, r, whole;
	struct maildir_index_pos wpos, rpos, pos;
	struct maildir_stamp stamp;
	base_state(&w);
	TEST_ASSERT_INT_EQ(maildir_index_write(path, &w, &wpos, &stamp), 0);
	TEST_ASSERT_INT_EQ(maildir_index_read(path, &r, &rpos), 1);
	TEST_ASSERT_UINT_EQ(rpos.offset, wpos.offset);
	TEST_ASSERT_UINT_EQ(r.unseen, 1);
	uint64_t base = wpos.offset;
	TEST_ASSERT_INT_EQ(append_change(path, &w, &wpos, &stamp), 1);
	TEST_ASSERT(wpos.offset > base);
	TEST_ASSERT_UINT_EQ(stamp.size, wpos.offset);
	TEST_ASSERT_INT_EQ(maildir_index_read_tail(path, &r, &rpos), 1);
	TEST_ASSERT_UINT_EQ(rpos.offset, wpos.offset);
	assert_changed(&r);
	TEST_ASSERT_INT_EQ(maildir_index_read(path, &whole, &pos), 1);
	assert_changed(&whole);
	TEST_ASSERT_UINT_EQ(pos.base_size, base);
	/* nothing new: the tail read changes nothing */
	TEST_ASSERT_INT_EQ(maildir_index_read_tail(path, &r, &rpos), 1);
	assert_changed(&r);
	maildir_state_clear(&w);
	maildir_state_clear(&r);
	maildir_state_clear(&whole);
	free(path);
}

/* STATUS reads the header of the newest state: the last delta's, from the file's end. */
static void test_index_header_from_last_delta(void)
{
	char *path = index_path("idx-header");
	struct maildir_state w, hdr;
	struct maildir_index_pos pos;
	struct maildir_stamp stamp;
	struct maildir_index_counts counts;
	base_state(&w);
	TEST_ASSERT_INT_EQ(maildir_index_write(path, &w, &pos, &stamp), 0);
	TEST_ASSERT_INT_EQ(maildir_index_read_header(path, &hdr, &counts), 1);
	TEST_ASSERT_UINT_EQ(counts.count, 3);
	TEST_ASSERT_UINT_EQ(counts.unseen, 1);
	TEST_ASSERT_UINT_EQ(counts.recent, 1);
	TEST_ASSERT_UINT_EQ(hdr.modseq, 1000);
	TEST_ASSERT_INT_EQ(append_change(path, &w, &pos, &stamp), 1);
	TEST_ASSERT_INT_EQ(maildir_index_read_header(path, &hdr, &counts), 1);
	TEST_ASSERT_UINT_EQ(counts.count, 3);
	TEST_ASSERT_UINT_EQ(counts.unseen, 1);
	TEST_ASSERT_UINT_EQ(counts.recent, 2);
	TEST_ASSERT_UINT_EQ(counts.log_count, 3);
	TEST_ASSERT_UINT_EQ(hdr.modseq, 1003);
	TEST_ASSERT_UINT_EQ(hdr.next_uid, 5);
	TEST_ASSERT_INT_EQ(hdr.st_cur.mtime_nsec, 42);
	/* a torn end is not a header: the caller loads the folder instead */
	TEST_ASSERT_INT_EQ(truncate(path, (off_t)stamp.size - 1), 0);
	TEST_ASSERT_INT_EQ(maildir_index_read_header(path, &hdr, &counts), 0);
	maildir_state_clear(&w);
	free(path);
}

/* A writer that died mid-delta: readers stop before the torn record, and the next
 * writer does not append after it (it writes a snapshot). */
static void test_index_torn_delta(void)
{
	char *path = index_path("idx-torn");
	struct maildir_state w, r;
	struct maildir_index_pos wpos, rpos, base_pos;
	struct maildir_stamp stamp;
	base_state(&w);
	TEST_ASSERT_INT_EQ(maildir_index_write(path, &w, &wpos, &stamp), 0);
	base_pos = wpos;
	TEST_ASSERT_INT_EQ(append_change(path, &w, &wpos, &stamp), 1);
	TEST_ASSERT_INT_EQ(truncate(path, (off_t)wpos.offset - 5), 0);
	TEST_ASSERT_INT_EQ(maildir_index_read(path, &r, &rpos), 1);
	TEST_ASSERT_UINT_EQ(rpos.offset, base_pos.offset);
	TEST_ASSERT_UINT_EQ(r.count, 3);
	TEST_ASSERT_UINT_EQ(r.modseq, 1000);
	TEST_ASSERT_INT_EQ(maildir_index_read_tail(path, &r, &rpos), 1);
	TEST_ASSERT_UINT_EQ(rpos.offset, base_pos.offset);
	TEST_ASSERT_UINT_EQ(r.modseq, 1000);
	/* appending at the reader's offset: the file is longer than that, so no */
	struct maildir_index_delta none = { .prev_modseq = 1000, .first_log = r.log_count };
	TEST_ASSERT_INT_EQ(maildir_index_append(path, &r, &none, &rpos, &stamp), 0);
	maildir_state_clear(&w);
	maildir_state_clear(&r);
	free(path);
}

/* A reader's offset in a file that was replaced by a new snapshot, or a delta made
 * from another state, is refused: the caller reads the file whole. */
static void test_index_tail_refused(void)
{
	char *path = index_path("idx-refused");
	struct maildir_state w, r, other;
	struct maildir_index_pos wpos, rpos, opos;
	struct maildir_stamp stamp;
	base_state(&w);
	TEST_ASSERT_INT_EQ(maildir_index_write(path, &w, &wpos, &stamp), 0);
	TEST_ASSERT_INT_EQ(maildir_index_read(path, &r, &rpos), 1);
	/* the reader's state moved on by itself (modseq 1001): the delta from 1000 does
	 * not fit it */
	r.modseq++;
	TEST_ASSERT_INT_EQ(append_change(path, &w, &wpos, &stamp), 1);
	TEST_ASSERT_INT_EQ(maildir_index_read_tail(path, &r, &rpos), 0);
	maildir_state_clear(&r);
	/* a new snapshot (another inode and file id) */
	TEST_ASSERT_INT_EQ(maildir_index_read(path, &other, &opos), 1);
	TEST_ASSERT_INT_EQ(maildir_index_write(path, &w, &wpos, &stamp), 0);
	TEST_ASSERT(wpos.file_id != opos.file_id);
	TEST_ASSERT_INT_EQ(maildir_index_read_tail(path, &other, &opos), 0);
	maildir_state_clear(&other);
	maildir_state_clear(&w);
	free(path);
}

static void test_index_wants_snapshot(void)
{
	struct maildir_index_pos pos = { .base_size = 1000, .offset = 1000 };
	TEST_ASSERT(!maildir_index_wants_snapshot(&pos));
	pos.offset = 1000 + 200 * 1024;            /* deltas > base, but small */
	TEST_ASSERT(!maildir_index_wants_snapshot(&pos));
	pos.offset = 1000 + 300 * 1024;
	TEST_ASSERT(maildir_index_wants_snapshot(&pos));
	pos.base_size = 10 * 1024 * 1024;          /* a big base outweighs its deltas */
	pos.offset = pos.base_size + 5 * 1024 * 1024;
	TEST_ASSERT(!maildir_index_wants_snapshot(&pos));
	pos.offset = 0;                            /* no file read: a snapshot */
	TEST_ASSERT(maildir_index_wants_snapshot(&pos));
}

TEST_MAIN(TEST(test_index_delta_roundtrip), TEST(test_index_header_from_last_delta),
	  TEST(test_index_torn_delta), TEST(test_index_tail_refused),
	  TEST(test_index_wants_snapshot))
