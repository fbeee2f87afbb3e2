/* Unit tests for the maildir backend's file formats: dovecot-uidlist, dovecot-keywords,
 * folder and message file names, dotlocks and the pymap-index cache. Expected values
 * are written by hand from Dovecot's documented formats. */
#include "test.h"
#include "store/maildir-uidlist.h"
#include "store/maildir-keywords.h"
#include "store/maildir-names.h"
#include "store/maildir-lock.h"
#include "store/maildir-index.h"
#include "store/maildir-file.h"
#include "alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void test_uidlist_v3_parse(void)
{
	const char *text = "3 V1700000000 N7 G0123456789abcdef0123456789abcdef X1\r\n"
			   "1 :1.M1P1.host,S=10:2,S\n"
			   "5 S10 W12 Eabc :5.M1P1.host\n";
	struct maildir_uidlist *list;
	const char *error = NULL;
	char buf[64];
	TEST_ASSERT_INT_EQ(maildir_uidlist_parse(text, strlen(text), &list, &error), 0);
	TEST_ASSERT_UINT_EQ(list->uidvalidity, 1700000000u);
	TEST_ASSERT_UINT_EQ(list->next_uid, 7);
	TEST_ASSERT_STR_EQ(list->guid, "0123456789abcdef0123456789abcdef");
	TEST_ASSERT_STR_EQ(list->header_ext, " X1");
	TEST_ASSERT_UINT_EQ(list->count, 2);
	TEST_ASSERT_UINT_EQ(list->recs[1].uid, 5);
	TEST_ASSERT_STR_EQ(list->recs[0].name, "1.M1P1.host,S=10:2,S");
	TEST_ASSERT_STR_EQ(list->recs[1].ext, "S10 W12 Eabc");
	TEST_ASSERT_STR_EQ(maildir_uidlist_ext_get(list->recs[1].ext, 'E', buf, sizeof(buf)), "abc");
	TEST_ASSERT(maildir_uidlist_ext_get(list->recs[1].ext, 'T', buf, sizeof(buf)) == NULL);
	size_t size;
	char *out = maildir_uidlist_format(list, &size);
	TEST_ASSERT_STR_EQ(out, "3 V1700000000 N7 G0123456789abcdef0123456789abcdef X1\n"
			   "1 :1.M1P1.host,S=10:2,S\n5 S10 W12 Eabc :5.M1P1.host\n");
	free(out);
	maildir_uidlist_free(&list);
}

static void test_uidlist_malformed(void)
{
	struct maildir_uidlist *list;
	const char *error = NULL;
	static const char *const bad_headers[] = {
		"", "2 V1 N1\n", "3 N5 G0123\n", "3 V0 N1\n", "3 V1 Nx\n", "3 V1 N1 %%\n",
		"3 V99999999999 N1\n",
	};
	for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
		TEST_ASSERT_INT_EQ(maildir_uidlist_parse(bad_headers[i], strlen(bad_headers[i]),
							 &list, &error), -1);
	}
	/* bad records are skipped, the rest kept; next_uid covers the highest */
	const char *text = "3 V5 N2\nx :a\n3 :b\n2 :c\n0 :d\n4 nocolon\n9 :e/f\n10 :g\n";
	TEST_ASSERT_INT_EQ(maildir_uidlist_parse(text, strlen(text), &list, &error), 0);
	TEST_ASSERT_UINT_EQ(list->count, 2);
	TEST_ASSERT_STR_EQ(list->recs[0].name, "b");
	TEST_ASSERT_STR_EQ(list->recs[1].name, "g");
	TEST_ASSERT_UINT_EQ(list->bad_records, 5);
	TEST_ASSERT_UINT_EQ(list->next_uid, 11);
	maildir_uidlist_free(&list);
	/* version 1 */
	text = "1 42 3\n1 a:2,S\n2 b\n";
	TEST_ASSERT_INT_EQ(maildir_uidlist_parse(text, strlen(text), &list, &error), 0);
	TEST_ASSERT_UINT_EQ(list->uidvalidity, 42);
	TEST_ASSERT_UINT_EQ(list->count, 2);
	TEST_ASSERT_STR_EQ(list->recs[1].name, "b");
	maildir_uidlist_free(&list);
}

static void test_uidlist_write_read(void)
{
	char *path = i_strdup_printf("%s/dovecot-uidlist", test_tmpdir());
	struct maildir_uidlist *list = maildir_uidlist_new(77), *back;
	const char *error;
	maildir_uidlist_append(list, 1, "", "a,S=3");
	maildir_uidlist_append(list, 4, "T9", "b");
	TEST_ASSERT_INT_EQ(maildir_uidlist_write(path, list), 0);
	TEST_ASSERT_INT_EQ(maildir_uidlist_read(path, &back, &error), 1);
	TEST_ASSERT_UINT_EQ(back->uidvalidity, 77);
	TEST_ASSERT_UINT_EQ(back->next_uid, 5);
	TEST_ASSERT_STR_EQ(back->guid, list->guid);
	TEST_ASSERT_STR_EQ(back->recs[1].ext, "T9");
	maildir_uidlist_free(&back);
	maildir_uidlist_free(&list);
	unlink(path);
	TEST_ASSERT_INT_EQ(maildir_uidlist_read(path, &back, &error), 0);
	free(path);
}

static void test_keywords(void)
{
	struct maildir_keywords kw = { { NULL }, 0, 0 };
	const char *text = "0 $Forwarded\r\n2 Work\n3 \\Seen\n27 Big\nx y\n4 two words\n5 work\n";
	maildir_keywords_parse(text, strlen(text), &kw);
	TEST_ASSERT_UINT_EQ(kw.count, 3);
	TEST_ASSERT_STR_EQ(kw.names[0], "$Forwarded");
	TEST_ASSERT(kw.names[1] == NULL);
	TEST_ASSERT_STR_EQ(kw.names[2], "Work");
	TEST_ASSERT_UINT_EQ(kw.bad_lines, 5);
	TEST_ASSERT_INT_EQ(maildir_keywords_lookup(&kw, "work"), 2);
	TEST_ASSERT_INT_EQ(maildir_keywords_add(&kw, "New"), 3);
	TEST_ASSERT_INT_EQ(maildir_keywords_add(&kw, "$forwarded"), 0);
	TEST_ASSERT_INT_EQ(maildir_keywords_add(&kw, "bad(name"), -1);
	size_t size;
	char *out = maildir_keywords_format(&kw, &size);
	TEST_ASSERT_STR_EQ(out, "0 $Forwarded\n2 Work\n3 New\n");
	free(out);
	for (unsigned int i = 4; i < MAILDIR_MAX_KEYWORDS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "k%u", i);
		TEST_ASSERT_INT_EQ(maildir_keywords_add(&kw, name), (int)i);
	}
	TEST_ASSERT_INT_EQ(maildir_keywords_add(&kw, "onemore"), -1);
	maildir_keywords_clear(&kw);
}

static void check_dir(enum maildir_layout layout, const char *name, const char *expected)
{
	char *dir = NULL, *back = NULL;
	const char *error = NULL;
	int ret = maildir_name_to_dir(layout, name, &dir, &error);
	if (expected == NULL) {
		TEST_ASSERT_INT_EQ(ret, -1);
		free(dir);
		return;
	}
	TEST_ASSERT_INT_EQ(ret, 0);
	TEST_ASSERT_STR_EQ(dir, expected);
	if (ret == 0 && expected[0] != '\0') {
		TEST_ASSERT_INT_EQ(maildir_name_from_dir(layout, dir, &back), 0);
		TEST_ASSERT_STR_EQ(back, name);
	}
	free(dir);
	free(back);
}

static void test_folder_names(void)
{
	check_dir(MAILDIR_LAYOUT_PP, "INBOX", "");
	check_dir(MAILDIR_LAYOUT_PP, "Sent", ".Sent");
	check_dir(MAILDIR_LAYOUT_PP, "Foo/Bar", ".Foo.Bar");
	check_dir(MAILDIR_LAYOUT_PP, "Caf\xc3\xa9 & co", ".Caf&AOk- &- co");
	check_dir(MAILDIR_LAYOUT_FS, "Foo/Bar", "Foo/Bar");
	check_dir(MAILDIR_LAYOUT_FS, "a.b", "a.b");
	/* refused */
	check_dir(MAILDIR_LAYOUT_PP, "a.b", NULL);
	check_dir(MAILDIR_LAYOUT_PP, "..", NULL);
	check_dir(MAILDIR_LAYOUT_FS, "../etc", NULL);
	check_dir(MAILDIR_LAYOUT_FS, "x/../../etc", NULL);
	check_dir(MAILDIR_LAYOUT_FS, ".hidden", NULL);
	check_dir(MAILDIR_LAYOUT_FS, "a//b", NULL);
	check_dir(MAILDIR_LAYOUT_FS, "a/cur", NULL);
	check_dir(MAILDIR_LAYOUT_PP, "tab\there", NULL);
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	check_dir(MAILDIR_LAYOUT_FS, longname, NULL);
	check_dir(MAILDIR_LAYOUT_PP, longname + 44, NULL);   /* '.' + 255 > 255 */
	char expected[300];
	snprintf(expected, sizeof(expected), ".%s", longname + 45);  /* exactly 255 */
	check_dir(MAILDIR_LAYOUT_PP, longname + 45, expected);
	char *name;
	TEST_ASSERT_INT_EQ(maildir_name_from_dir(MAILDIR_LAYOUT_PP, "..trash", &name), -1);
	TEST_ASSERT_INT_EQ(maildir_name_from_dir(MAILDIR_LAYOUT_PP, ".a..b", &name), -1);
	TEST_ASSERT_INT_EQ(maildir_name_from_dir(MAILDIR_LAYOUT_PP, ".bad&utf7", &name), -1);
	TEST_ASSERT_INT_EQ(maildir_name_from_dir(MAILDIR_LAYOUT_PP, ".INBOX", &name), -1);
}

static void test_file_names(void)
{
	uint32_t sys, letters;
	uint64_t size;
	maildir_filename_flags("1.M2P3.h,S=42:2,FRSTac", ':', &sys, &letters);
	TEST_ASSERT_UINT_EQ(sys, 0x02 | 0x04 | 0x01 | 0x08);
	TEST_ASSERT_UINT_EQ(letters, 0x5);
	maildir_filename_flags("1.M2P3.h:2,DPz,ignored", ':', &sys, &letters);
	TEST_ASSERT_UINT_EQ(sys, 0x10);
	TEST_ASSERT_UINT_EQ(letters, 1u << 25);
	maildir_filename_flags("1.M2P3.h:1,S", ':', &sys, &letters);
	TEST_ASSERT_UINT_EQ(sys, 0);
	maildir_filename_flags("1.M2P3.h!2,S", '!', &sys, &letters);
	TEST_ASSERT_UINT_EQ(sys, 0x01);
	TEST_ASSERT_UINT_EQ(maildir_filename_base_len("abc:2,S", ':'), 3);
	TEST_ASSERT_UINT_EQ(maildir_filename_base_len("abc:2,S", '!'), 3);
	TEST_ASSERT(maildir_filename_size("1.M2P3.h,S=42,W=44:2,S", ':', &size));
	TEST_ASSERT_UINT_EQ(size, 42);
	TEST_ASSERT(!maildir_filename_size("1.M2P3.h:2,S=4", ':', &size));
	TEST_ASSERT(!maildir_filename_size("1.h,S=x", ':', &size));
	char *name = maildir_filename_with_flags("base:junk", 4, ':', 0x1f, 0x3);
	TEST_ASSERT_STR_EQ(name, "base:2,DFRSTab");
	free(name);
	/* mutt's P (passed) and other unknown upper-case info flags stay, in ASCII order;
	 * cleared known flags and keyword letters go */
	name = maildir_filename_with_flags("base:2,FPSTXbc", 4, ':', STORE_FLAG_ANSWERED, 0x1);
	TEST_ASSERT_STR_EQ(name, "base:2,PRXa");
	free(name);
	name = maildir_filename_new(123, 123);
	TEST_ASSERT(strstr(name, ",S=123") != NULL && strstr(name, ",W=") == NULL &&
		    strchr(name, '/') == NULL && strchr(name, ':') == NULL);
	free(name);
	/* A message with bare LFs: W= is its size with CRLF line ends. */
	name = maildir_filename_new(120, 125);
	TEST_ASSERT(strstr(name, ",S=120,W=125") != NULL);
	TEST_ASSERT(maildir_filename_vsize(name, ':', &size));
	TEST_ASSERT_UINT_EQ(size, 125);
	TEST_ASSERT(maildir_filename_size(name, ':', &size));
	TEST_ASSERT_UINT_EQ(size, 120);
	free(name);
}

static void test_lock(void)
{
	char *path = i_strdup_printf("%s/lockme", test_tmpdir());
	struct maildir_lock *lock, *lock2;
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock), 0);
	errno = 0;
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock2), -1);
	TEST_ASSERT_INT_EQ(errno, EWOULDBLOCK);
	maildir_lock_release(&lock);
	TEST_ASSERT(lock == NULL);
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock), 0);
	maildir_lock_release(&lock);
	/* a lock left by a dead process on this host is stale at once */
	char *lock_path = i_strdup_printf("%s.lock", path);
	char host[256];
	gethostname(host, sizeof(host));
	FILE *f = fopen(lock_path, "w");
	fprintf(f, "999999999:%s", host);
	fclose(f);
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock), 0);
	maildir_lock_release(&lock);
	TEST_ASSERT(maildir_lock_is_stale("1:otherhost", 500, 120, host));
	TEST_ASSERT(!maildir_lock_is_stale("1:otherhost", 5, 120, host));
	TEST_ASSERT(!maildir_lock_is_stale("garbage", 5, 120, host));
	char live[300];
	snprintf(live, sizeof(live), "%ld:%s", (long)getpid(), host);
	TEST_ASSERT(!maildir_lock_is_stale(live, 5, 120, host));
	free(lock_path);
	free(path);
}

/* A lock is a hard link of the process's own source file: no new inode per lock, the
 * content Dovecot expects, and a fresh mtime even when the source is old. */
static void test_lock_link(void)
{
	char *path = i_strdup_printf("%s/linkme", test_tmpdir());
	char *lock_path = i_strdup_printf("%s.lock", path);
	char host[256], expected[300], *content;
	size_t size;
	struct stat st;
	struct maildir_lock *lock;
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(expected, sizeof(expected), "%ld:%s", (long)getpid(), host);
	char *src = i_strdup_printf("%s/pymap-lock.%ld.%s", test_tmpdir(), (long)getpid(), host);

	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock), 0);
	TEST_ASSERT_INT_EQ(lstat(lock_path, &st), 0);
	TEST_ASSERT_UINT_EQ(st.st_nlink, 2);
	ino_t ino = st.st_ino;
	TEST_ASSERT_INT_EQ(maildir_file_read(lock_path, 1024, &content, &size), 1);
	TEST_ASSERT_STR_EQ(content, expected);
	free(content);
	maildir_lock_release(&lock);
	TEST_ASSERT_INT_EQ(lstat(lock_path, &st), -1);
	TEST_ASSERT_INT_EQ(lstat(src, &st), 0);
	TEST_ASSERT_UINT_EQ(st.st_nlink, 1);

	/* an old source: the lock still gets a fresh mtime (else others break it) */
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	TEST_ASSERT_INT_EQ(utimensat(AT_FDCWD, src, old, 0), 0);
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock), 0);
	TEST_ASSERT_INT_EQ(lstat(lock_path, &st), 0);
	TEST_ASSERT_UINT_EQ(st.st_ino, ino);
	TEST_ASSERT(time(NULL) - st.st_mtime < 60);
	maildir_lock_release(&lock);

	/* the source removed by someone: made again */
	TEST_ASSERT_INT_EQ(unlink(src), 0);
	TEST_ASSERT_INT_EQ(maildir_lock_acquire(path, 100, 120, &lock), 0);
	TEST_ASSERT_INT_EQ(lstat(lock_path, &st), 0);
	TEST_ASSERT_UINT_EQ(st.st_nlink, 2);
	maildir_lock_release(&lock);
	maildir_lock_cleanup();
	TEST_ASSERT_INT_EQ(lstat(src, &st), -1);
	free(src);
	free(lock_path);
	free(path);
}

/* When may a directory's stamp be trusted to show the next change? */
static void test_stamp_unsettled(void)
{
	struct timespec taken = { 1700000100, 500000000 };
	struct maildir_stamp st;
	memset(&st, 0, sizeof(st));
	TEST_ASSERT(!maildir_stamp_is_unsettled(&st, &taken, true));   /* missing */
	st.exists = true;
	st.mtime_sec = 1700000100;
	st.mtime_nsec = 470000000;      /* 30 ms before: a later change gets a later mtime */
	TEST_ASSERT(!maildir_stamp_is_unsettled(&st, &taken, true));
	st.mtime_nsec = 490000000;      /* 10 ms before: within the margin */
	TEST_ASSERT(maildir_stamp_is_unsettled(&st, &taken, true));
	st.mtime_sec = 1700000101;      /* after the clock was read */
	TEST_ASSERT(maildir_stamp_is_unsettled(&st, &taken, true));
	/* not a local ns-clock file system: the 2 second rule */
	st.mtime_sec = 1700000099;
	st.mtime_nsec = 100;
	TEST_ASSERT(maildir_stamp_is_unsettled(&st, &taken, false));
	st.mtime_sec = 1700000098;
	TEST_ASSERT(!maildir_stamp_is_unsettled(&st, &taken, false));
	/* a whole-second mtime: the file system may stamp in seconds */
	st.mtime_sec = 1700000099;
	st.mtime_nsec = 0;
	TEST_ASSERT(maildir_stamp_is_unsettled(&st, &taken, true));
}

static void test_index_roundtrip(void)
{
	struct maildir_state st, back;
	memset(&st, 0, sizeof(st));
	st.uidvalidity = 9;
	st.next_uid = 12;
	st.first_recent_uid = 11;
	st.modseq = 100;
	st.log_base_modseq = 90;
	strcpy(st.guid, "0123456789abcdef0123456789abcdef");
	st.st_cur.exists = true;
	st.st_cur.mtime_nsec = 5;
	struct maildir_msg *msg = maildir_state_add(&st);
	msg->meta.uid = 3;
	msg->meta.flags.system = 0x3;
	msg->meta.flags.keywords = 0x4;
	msg->meta.size = 1234;
	msg->meta.internal_date = 1700000000;
	msg->meta.internal_tz_min = -300;
	msg->meta.modseq = 95;
	strcpy(msg->meta.emailid, "Mabc");
	msg->name = i_strdup("3.M1.h:2,RS");
	maildir_state_log(&st, STORE_CHANGE_FLAGS, &msg->meta);
	size_t size;
	char *data = maildir_index_serialize(&st, 77, &size);
	TEST_ASSERT_INT_EQ(maildir_index_parse((unsigned char *)data, size, &back), 0);
	TEST_ASSERT_UINT_EQ(back.count, 1);
	TEST_ASSERT_UINT_EQ(back.first_recent_uid, 11);
	TEST_ASSERT_STR_EQ(back.msgs[0].name, "3.M1.h:2,RS");
	TEST_ASSERT_INT_EQ(back.msgs[0].meta.internal_tz_min, -300);
	TEST_ASSERT_STR_EQ(back.msgs[0].meta.emailid, "Mabc");
	TEST_ASSERT_UINT_EQ(back.log_count, 1);
	TEST_ASSERT_UINT_EQ(back.log[0].meta.modseq, 95);
	TEST_ASSERT(back.st_cur.exists && back.st_cur.mtime_nsec == 5);
	maildir_state_clear(&back);
	/* any flipped byte or truncation is refused */
	for (size_t i = 0; i < size; i += 7) {
		data[i] ^= 0x20;
		TEST_ASSERT_INT_EQ(maildir_index_parse((unsigned char *)data, size, &back), -1);
		data[i] ^= 0x20;
	}
	TEST_ASSERT_INT_EQ(maildir_index_parse((unsigned char *)data, size - 1, &back), -1);
	free(data);
	maildir_state_clear(&st);
}

/* COPY reads the source's Dovecot GUIDs (G fields) of just the copied UIDs. */
static void test_uidlist_read_ext(void)
{
	char *path = i_strdup_printf("%s/uidlist-ext", test_tmpdir());
	const char *text = "3 V5 N20 G0123456789abcdef0123456789abcdef\n"
			   "2 G1.M1P1.h E Tt1 :2.M2P2.h:2,S\n"
			   "4 :4.M4P4.h\n"
			   "7 W9 Gabc :7.M7P7.h\n"
			   "9 GGG :9.x\n";
	const uint32_t uids[] = { 1, 2, 4, 7, 12 };
	char *values[5];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	TEST_ASSERT(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	TEST_ASSERT_INT_EQ(maildir_uidlist_read_ext(path, uids, 5, 'G', values), 1);
	TEST_ASSERT(values[0] == NULL);
	TEST_ASSERT_STR_EQ(values[1], "1.M1P1.h");
	TEST_ASSERT(values[2] == NULL);
	TEST_ASSERT_STR_EQ(values[3], "abc");
	TEST_ASSERT(values[4] == NULL);
	for (unsigned int i = 0; i < 5; i++)
		free(values[i]);
	TEST_ASSERT_INT_EQ(maildir_uidlist_read_ext(path, uids + 1, 1, 'T', values), 1);
	TEST_ASSERT_STR_EQ(values[0], "t1");
	free(values[0]);
	/* an empty field ("E") is absent */
	TEST_ASSERT_INT_EQ(maildir_uidlist_read_ext(path, uids + 1, 1, 'E', values), 1);
	TEST_ASSERT(values[0] == NULL);
	unlink(path);
	values[0] = (char *)"x";
	TEST_ASSERT_INT_EQ(maildir_uidlist_read_ext(path, uids, 1, 'G', values), 0);
	TEST_ASSERT(values[0] == NULL);
	free(path);
}

TEST_MAIN(TEST(test_uidlist_v3_parse), TEST(test_uidlist_read_ext), TEST(test_uidlist_malformed),
	  TEST(test_uidlist_write_read), TEST(test_keywords), TEST(test_folder_names),
	  TEST(test_file_names), TEST(test_lock), TEST(test_lock_link), TEST(test_stamp_unsettled),
	  TEST(test_index_roundtrip))
