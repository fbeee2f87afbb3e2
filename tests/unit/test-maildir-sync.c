/* Unit tests for the maildir sync's O(change) paths (store-maildir-sync.c,
 * doc/maildir-index.md): what a rescan finds reaches the index even when only a file
 * name changed, a file renamed under us is neither lost by STORE nor brought back
 * under its expunged UID, and a delivery hidden behind our own rename is seen a second
 * after it even while we keep writing. maildir_folders_flush() stands in for another
 * process: the next open loads the folder from the index (snapshot + deltas). */
#include "test-store-util.h"
#include "store/store-maildir.h"
#include "alloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct maildir_folder *folder_of(struct store_mailbox *mbox)
{
	return ((struct maildir_mailbox *)mbox)->folder;
}

/* The one file in dir (malloc'ed). */
static char *only_file(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *name = NULL;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			free(name);
			name = i_strdup(e->d_name);
		}
	}
	if (d != NULL)
		closedir(d);
	return name;
}

static struct store_user *setup(const char *name, struct store **store_r, char **root_r)
{
	char *base = i_strdup_printf("%s/%s", test_tmpdir(), name);
	TEST_ASSERT_INT_EQ(mkdir(base, 0700), 0);
	*store_r = test_maildir_store(base, NULL);
	*root_r = i_strdup_printf("%s/ann", base);
	free(base);
	return test_store_user(*store_r, "ann");
}

/* Another program moves a message from new/ to cur/ without a flag change; a rescan
 * sees it, and the index must say so, though no modseq changed: a process that loads
 * the folder later would otherwise look for the file under its old name, and its
 * STORE would do nothing. */
static void test_rename_only_rescan_reaches_index(void)
{
	struct store *store;
	char *root;
	struct store_user *user = setup("rename", &store, &root);
	struct store_mailbox *mbox;
	struct store_error error;
	uint32_t uid;
	test_store_append_text(user, "INBOX", "Subject: x\r\n\r\nx\r\n", 0, &uid);   /* new/X, UID 1 */
	TEST_ASSERT_UINT_EQ(uid, 1);
	maildir_folders_flush();
	char *newdir = i_strdup_printf("%s/new", root);
	char *x = only_file(newdir);
	char *from = i_strdup_printf("%s/%s", newdir, x);
	char *to = i_strdup_printf("%s/cur/%s:2,", root, x);
	TEST_ASSERT_INT_EQ(rename(from, to), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	TEST_ASSERT(!folder_of(mbox)->state.msgs[0].in_new);
	store_mailbox_close(&mbox);
	test_store_append_text(user, "INBOX", "Subject: y\r\n\r\ny\r\n", STORE_FLAG_SEEN, &uid);   /* a delta */
	maildir_folders_flush();
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	const struct maildir_msg *msg = &folder_of(mbox)->state.msgs[0];
	TEST_ASSERT(!msg->in_new);
	TEST_ASSERT_STR_EQ(msg->name, strrchr(to, '/') + 1);
	uint32_t uids[1] = { 1 };
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(mbox, uids, 1, STORE_FLAGS_ADD,
						      STORE_FLAG_FLAGGED, NULL, 0, &error), 0);
	TEST_ASSERT_UINT_EQ(folder_of(mbox)->state.msgs[0].meta.flags.system, STORE_FLAG_FLAGGED);
	store_mailbox_close(&mbox);
	char *flagged = i_strdup_printf("%s/cur/%s:2,F", root, x);
	TEST_ASSERT_INT_EQ(access(flagged, F_OK), 0);
	free(flagged);
	free(x);
	free(from);
	free(to);
	free(newdir);
	free(root);
	store_user_close(&user);
	store_destroy(&store);
}

/* A file renamed by someone else at a moment our stamps cannot show (here: its
 * directory's mtime put back): STORE finds it by rescanning instead of reporting a
 * change it did not make, and EXPUNGE removes it instead of leaving a file whose UID
 * the next rescan would bring back. */
static void test_renamed_under_us_store_and_expunge(void)
{
	struct store *store;
	char *root;
	struct store_user *user = setup("under", &store, &root);
	struct store_mailbox *mbox;
	struct store_error error;
	struct stat st;
	uint32_t uid;
	test_store_append_text(user, "INBOX", "Subject: x\r\n\r\nx\r\n", STORE_FLAG_DELETED, &uid);   /* cur/X:2,T */
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	usleep(1100000);   /* our own change settles: the state is trusted */
	struct store_snapshot *snap;
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), 0);   /* a refresh */
	store_snapshot_free(&snap);
	char *curdir = i_strdup_printf("%s/cur", root);
	char *x = only_file(curdir);
	TEST_ASSERT_INT_EQ(stat(curdir, &st), 0);
	char *from = i_strdup_printf("%s/%s", curdir, x);
	char *to = i_strdup_printf("%s/%.*sPT", curdir, (int)(strlen(x) - 1), x);  /* :2,PT */
	TEST_ASSERT_INT_EQ(rename(from, to), 0);
	struct timespec times[2] = { st.st_atim, st.st_mtim };
	TEST_ASSERT_INT_EQ(utimensat(AT_FDCWD, curdir, times, 0), 0);
	uint32_t uids[1] = { 1 };
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(mbox, uids, 1, STORE_FLAGS_ADD,
						      STORE_FLAG_SEEN, NULL, 0, &error), 0);
	char *seen = i_strdup_printf("%s/%.*sPST", curdir, (int)(strlen(x) - 1), x);
	TEST_ASSERT_INT_EQ(access(seen, F_OK), 0);   /* the flag is on the file */
	/* the same trick again, then EXPUNGE */
	TEST_ASSERT_INT_EQ(stat(curdir, &st), 0);
	TEST_ASSERT_INT_EQ(rename(seen, to), 0);
	struct timespec again[2] = { st.st_atim, st.st_mtim };
	TEST_ASSERT_INT_EQ(utimensat(AT_FDCWD, curdir, again, 0), 0);
	folder_of(mbox)->state.cur_settle_ns = 0;   /* as if a second had passed */
	TEST_ASSERT_INT_EQ(store_mailbox_expunge(mbox, NULL, 0, &error), 0);
	TEST_ASSERT_UINT_EQ(folder_of(mbox)->state.count, 0);
	TEST_ASSERT_INT_EQ(access(to, F_OK), -1);    /* gone, not left behind */
	uint64_t after = folder_of(mbox)->state.modseq;
	store_mailbox_close(&mbox);
	/* a delivery makes the next look rescan: UID 1 must not come back */
	char *mta = i_strdup_printf("%s/new/1700000001.M9P9.mta", root);
	FILE *fp = fopen(mta, "w");
	fputs("Subject: mta\n\nm\n", fp);
	fclose(fp);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	struct store_changes *changes;
	TEST_ASSERT_INT_EQ(store_mailbox_changes(mbox, after, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 1);
	TEST_ASSERT_UINT_EQ(changes->changes[0].meta.uid, 2);
	TEST_ASSERT(maildir_state_find(&folder_of(mbox)->state, 1) < 0);
	store_changes_free(&changes);
	store_mailbox_close(&mbox);
	free(mta);
	free(seen);
	free(to);
	free(from);
	free(x);
	free(curdir);
	free(root);
	store_user_close(&user);
	store_destroy(&store);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static bool has_file(const struct maildir_state *st, const char *name)
{
	for (unsigned int i = 0; i < st->count; i++) {
		if (strcmp(st->msgs[i].name, name) == 0)
			return true;
	}
	return false;
}

/* A delivery into new/ inside one of our APPENDs (its new/ mtime put back to the one
 * our APPEND leaves) is found about a second after that APPEND, although APPENDs keep
 * coming every 0.3 s and move new/'s mtime each time. */
static void test_own_writes_do_not_hide_a_delivery(void)
{
	struct store *store;
	char *root;
	struct store_user *user = setup("starve", &store, &root);
	struct store_mailbox *mbox;
	struct store_error error;
	struct stat st;
	uint32_t uid;
	test_store_append_text(user, "INBOX", "Subject: a\r\n\r\na\r\n", 0, &uid);
	usleep(1100000);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	struct maildir_folder *f = folder_of(mbox);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	test_store_append_text(user, "INBOX", "Subject: a\r\n\r\na\r\n", 0, &uid);   /* UID 2 */
	char *newdir = i_strdup_printf("%s/new", root);
	TEST_ASSERT_INT_EQ(stat(newdir, &st), 0);
	char *mta = i_strdup_printf("%s/1700000001.M9P9.mta", newdir);
	FILE *fp = fopen(mta, "w");
	fputs("Subject: mta\n\nm\n", fp);
	fclose(fp);
	struct timespec times[2] = { st.st_atim, st.st_mtim };
	TEST_ASSERT_INT_EQ(utimensat(AT_FDCWD, newdir, times, 0), 0);
	/* the deadline is a second after UID 2's APPEND, when new/ changed */
	double after = 0;
	for (unsigned int i = 1; i <= 10 && after == 0; i++) {
		usleep(300000);
		test_store_append_text(user, "INBOX", "Subject: b\r\n\r\nb\r\n", 0, &uid);
		if (has_file(&f->state, "1700000001.M9P9.mta"))
			after = seconds_since(&start);
	}
	/* not before the deadline (it was hidden), and not only once the APPENDs stop
	 * (before the fix, each APPEND put the next look off again); generous on a busy
	 * machine */
	TEST_ASSERT(after >= 0.95 && after <= 2.5);
	store_mailbox_close(&mbox);
	free(mta);
	free(newdir);
	free(root);
	store_user_close(&user);
	store_destroy(&store);
}

TEST_MAIN(TEST(test_rename_only_rescan_reaches_index),
	  TEST(test_renamed_under_us_store_and_expunge),
	  TEST(test_own_writes_do_not_hide_a_delivery))
