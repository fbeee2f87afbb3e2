/* Unit tests for the maildir backend's shared folder state (store-maildir-folder.c,
 * doc/maildir-index.md): every handle of one folder in a process shares one state, a
 * change is seen by every handle without rewriting the index, a closed folder is
 * found again without reading its index, a folder made again under the same name is
 * a new one, and files delivered behind pymap's back get their UIDs. */
#include "test-store-util.h"
#include "store/store-maildir.h"
#include "alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct store_user *open_user(struct store *store)
{
	return test_store_user(store, "ann");
}

static struct maildir_folder *folder_of(struct store_mailbox *mbox)
{
	return ((struct maildir_mailbox *)mbox)->folder;
}

/* A file's identity, size and mtime: replaced or appended to, it differs. */
static struct maildir_stamp stamp_of(const char *path)
{
	struct maildir_stamp st;
	TEST_ASSERT_INT_EQ(maildir_stamp_get(path, &st), 0);
	TEST_ASSERT(st.exists);
	return st;
}

static void test_handles_share_one_state(void)
{
	char *base = i_strdup_printf("%s/share", test_tmpdir());
	TEST_ASSERT_INT_EQ(mkdir(base, 0700), 0);
	struct store *store = test_maildir_store(base, NULL);
	struct store_user *u1 = open_user(store), *u2 = open_user(store);
	struct store_mailbox *m1, *m2;
	struct store_error error;
	uint32_t uid;
	test_store_append_text(u1, "INBOX", "Subject: one\r\n\r\n1\r\n", 0, &uid);
	TEST_ASSERT_UINT_EQ(uid, 1);
	TEST_ASSERT_INT_EQ(store_mailbox_open(u1, "INBOX", false, &m1, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(u2, "INBOX", false, &m2, &error), 0);
	TEST_ASSERT(folder_of(m1) == folder_of(m2));
	TEST_ASSERT_UINT_EQ(folder_of(m1)->refcount, 2);

	struct store_snapshot *snap;
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(m2, &snap, &error), 0);
	uint64_t seen = snap->modseq;
	TEST_ASSERT_UINT_EQ(snap->count, 1);
	store_snapshot_free(&snap);

	/* a flag change through m1: m2 gets it as a change, and reading it writes
	 * neither the index nor the uidlist */
	uint32_t uids[1] = { 1 };
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(m1, uids, 1, STORE_FLAGS_ADD,
						      STORE_FLAG_SEEN, NULL, 0, &error), 0);
	char *index = i_strdup_printf("%s/ann/pymap-index", base);
	char *uidlist = i_strdup_printf("%s/ann/dovecot-uidlist", base);
	struct maildir_stamp index_st = stamp_of(index), uidlist_st = stamp_of(uidlist);
	struct store_changes *changes;
	TEST_ASSERT_INT_EQ(store_mailbox_changes(m2, seen, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 1);
	TEST_ASSERT_INT_EQ(changes->changes[0].kind, STORE_CHANGE_FLAGS);
	TEST_ASSERT_UINT_EQ(changes->changes[0].meta.flags.system, STORE_FLAG_SEEN);
	seen = changes->modseq;
	store_changes_free(&changes);
	TEST_ASSERT_INT_EQ(store_mailbox_changes(m1, seen, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 0);
	store_changes_free(&changes);
	struct maildir_stamp now = stamp_of(index);
	TEST_ASSERT(maildir_stamp_equal(&now, &index_st));
	now = stamp_of(uidlist);
	TEST_ASSERT(maildir_stamp_equal(&now, &uidlist_st));

	/* a file an MTA put into new/: found, given the next UID, as an APPEND */
	char *mta = i_strdup_printf("%s/ann/new/1700000001.M9P9.mta", base);
	FILE *f = fopen(mta, "w");
	TEST_ASSERT(f != NULL);
	fputs("Subject: mta\n\nm\n", f);
	fclose(f);
	TEST_ASSERT_INT_EQ(store_mailbox_changes(m2, seen, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 1);
	TEST_ASSERT_INT_EQ(changes->changes[0].kind, STORE_CHANGE_APPEND);
	TEST_ASSERT_UINT_EQ(changes->changes[0].meta.uid, 2);
	store_changes_free(&changes);

	/* closed and opened again: the same state, no index read */
	struct maildir_folder *folder = folder_of(m1);
	store_mailbox_close(&m1);
	store_mailbox_close(&m2);
	TEST_ASSERT_INT_EQ(store_mailbox_open(u2, "INBOX", true, &m2, &error), 0);
	TEST_ASSERT(folder_of(m2) == folder);
	TEST_ASSERT_UINT_EQ(folder->state.count, 2);
	store_mailbox_close(&m2);

	/* STATUS counts from the shared state */
	TEST_STORE_STATUS_IS(u1, "INBOX", 2, 1, 3);

	free(mta);
	free(index);
	free(uidlist);
	store_user_close(&u1);
	store_user_close(&u2);
	store_destroy(&store);
	free(base);
}

static void test_folder_made_again_is_new(void)
{
	char *base = i_strdup_printf("%s/again", test_tmpdir());
	TEST_ASSERT_INT_EQ(mkdir(base, 0700), 0);
	struct store *store = test_maildir_store(base, NULL);
	struct store_user *user = open_user(store);
	struct store_mailbox *mbox, *old;
	struct store_error error;
	char id[STORE_ID_MAX_BYTES];
	uint32_t uid;
	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "Box", id, &error), 0);
	test_store_append_text(user, "Box", "Subject: a\r\n\r\na\r\n", 0, &uid);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "Box", false, &old, &error), 0);
	uint32_t uidvalidity = folder_of(old)->state.uidvalidity;
	TEST_ASSERT_INT_EQ(store_delete_mailbox(user, "Box", &error), 0);
	sleep(1);   /* a new UIDVALIDITY (seconds) */
	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "Box", id, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "Box", false, &mbox, &error), 0);
	TEST_ASSERT(folder_of(mbox) != folder_of(old));
	TEST_ASSERT_UINT_EQ(folder_of(mbox)->state.count, 0);
	TEST_ASSERT(folder_of(mbox)->state.uidvalidity != uidvalidity);
	/* the old handle sees its folder gone */
	struct store_snapshot *snap;
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(old, &snap, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);
	store_mailbox_close(&old);
	store_mailbox_close(&mbox);
	maildir_folders_flush();
	store_user_close(&user);
	store_destroy(&store);
	free(base);
}

static void set_old_mtime(const char *path)
{
	struct timespec old[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
	TEST_ASSERT_INT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
}

/* STATUS of a folder this process holds no state of: from the index header alone when
 * its stamps match the disk and no directory is due to be listed again; otherwise
 * not. */
static void test_status_from_index_header(void)
{
	char *base = i_strdup_printf("%s/status", test_tmpdir());
	TEST_ASSERT_INT_EQ(mkdir(base, 0700), 0);
	struct store *store = test_maildir_store(base, NULL);
	struct store_user *user = open_user(store);
	struct maildir_user *muser = (struct maildir_user *)user;
	struct store_mailbox_status status;
	struct store_mailbox *mbox;
	struct store_error error;
	uint32_t uid;
	test_store_append_text(user, "INBOX", "Subject: a\r\n\r\na\r\n", 0, &uid);
	test_store_append_text(user, "INBOX", "Subject: b\r\n\r\nb\r\n", 0, &uid);
	maildir_folders_flush();
	/* written just now by our own APPENDs: trusted as a held folder would be (the
	 * same stamps, new/ not yet due for another look) ... */
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 1);
	TEST_ASSERT_UINT_EQ(status.messages, 2);
	TEST_ASSERT_UINT_EQ(status.uidnext, 3);
	/* ... until new/ is due to be listed again, a second after the first APPEND */
	usleep(1100000);
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 0);

	/* directories untouched for long: a rescan (no index) writes a stable index;
	 * a reader that only checks the files does not rewrite it */
	char *index = i_strdup_printf("%s/ann/pymap-index", base);
	char *dirs[2] = { i_strdup_printf("%s/ann/new", base), i_strdup_printf("%s/ann/cur", base) };
	set_old_mtime(dirs[0]);
	set_old_mtime(dirs[1]);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	store_mailbox_close(&mbox);
	maildir_folders_flush();
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 0);
	TEST_ASSERT_INT_EQ(unlink(index), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	store_mailbox_close(&mbox);
	maildir_folders_flush();
	memset(&status, 0xff, sizeof(status));
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 1);
	TEST_ASSERT_UINT_EQ(status.messages, 2);
	TEST_ASSERT_UINT_EQ(status.unseen, 2);
	TEST_ASSERT_UINT_EQ(status.recent, 2);
	TEST_ASSERT_UINT_EQ(status.uidnext, 3);
	TEST_ASSERT(status.uidvalidity != 0);
	TEST_ASSERT(!status.readonly);

	/* held by this process: the shared state answers instead */
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 0);
	store_mailbox_close(&mbox);
	maildir_folders_flush();

	/* a file someone else put into cur/ (with \Seen): the stamps differ */
	char *mta = i_strdup_printf("%s/ann/cur/1.M1P1.other:2,S", base);
	FILE *f = fopen(mta, "w");
	fputs("Subject: c\n\nc\n", f);
	fclose(f);
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 0);
	TEST_ASSERT_INT_EQ(store_status(user, "INBOX", &status, &error), 0);
	TEST_ASSERT_UINT_EQ(status.messages, 3);
	TEST_ASSERT_UINT_EQ(status.unseen, 2);

	/* a damaged header is never used */
	maildir_folders_flush();
	TEST_ASSERT_INT_EQ(unlink(index), 0);
	set_old_mtime(dirs[0]);
	set_old_mtime(dirs[1]);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	store_mailbox_close(&mbox);
	maildir_folders_flush();
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 1);
	int fd = open(index, O_WRONLY);
	TEST_ASSERT(fd >= 0);
	TEST_ASSERT_INT_EQ(pwrite(fd, "\x07", 1, 20), 1);   /* the message count */
	close(fd);
	TEST_ASSERT_INT_EQ(maildir_status_from_index(muser, "INBOX", &status), 0);

	free(mta);
	free(index);
	free(dirs[0]);
	free(dirs[1]);
	store_user_close(&user);
	store_destroy(&store);
	free(base);
}

TEST_MAIN(TEST(test_handles_share_one_state), TEST(test_folder_made_again_is_new),
	  TEST(test_status_from_index_header))
