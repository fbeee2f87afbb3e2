/* Unit tests for the maildir MIME parse cache file (maildir-mime.c, format in
 * doc/maildir-index.md): records found again by a fresh handle, keys that must match
 * exactly, torn and corrupt files detected and rebuilt, another UIDVALIDITY replacing
 * the file, records appended by another handle, and compaction of dead records. */
#include "test.h"
#include "store/maildir-mime.h"
#include "mime/mime-parser.h"
#include "mime/mime-tree.h"
#include "alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MSG[] =
	"From: Ann <ann@example.org>\r\n"
	"Subject: cached\r\n"
	"Content-Type: multipart/mixed; boundary=XX\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"one\r\n"
	"--XX--\r\n";

static char *new_dir(const char *name)
{
	char *dir = i_strdup_printf("%s/%s", test_tmpdir(), name);
	TEST_ASSERT_INT_EQ(mkdir(dir, 0700), 0);
	return dir;
}

static char *cache_path(const char *dir)
{
	return i_strdup_printf("%s/%s", dir, MAILDIR_MIME_NAME);
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static struct maildir_mime_key key_of(uint32_t uid, const char *base)
{
	struct maildir_mime_key key = { uid, base, strlen(base), sizeof(MSG) - 1, 0 };
	return key;
}

static void store_msg(struct maildir_mime *mm, uint32_t uid, const char *base)
{
	struct mime_tree *tree = mime_parse(MSG, sizeof(MSG) - 1);
	struct maildir_mime_key key = key_of(uid, base);
	TEST_ASSERT_INT_EQ(maildir_mime_store(mm, &key, tree), 0);
	mime_tree_destroy(&tree);
}

/* 1 when a fresh lookup finds uid/base with the right parse. */
static int lookup(struct maildir_mime *mm, uint32_t uid, const char *base)
{
	struct maildir_mime_key key = key_of(uid, base);
	struct mime_tree *tree = NULL;
	int ret = maildir_mime_lookup(mm, &key, &tree);
	if (ret > 0) {
		TEST_ASSERT_UINT_EQ(tree->size, sizeof(MSG) - 1);
		TEST_ASSERT_UINT_EQ(tree->part_count, 2);
		TEST_ASSERT_STR_EQ(mime_tree_str(tree, tree->envelopes[0].fields[MIME_ENV_SUBJECT]),
				   "cached");
		TEST_ASSERT_UINT_EQ(tree->parts[1].hdr_start, 98);
		TEST_ASSERT_UINT_EQ(tree->parts[1].body_start, 126);
		mime_tree_destroy(&tree);
	}
	return ret;
}

static void test_store_and_find_again(void)
{
	char *dir = new_dir("basic");
	struct maildir_mime *mm = maildir_mime_create(dir, 42, NULL, NULL);
	struct maildir_mime_stats stats;
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "1.M1.host"), 0);
	store_msg(mm, 1, "1.M1.host");
	store_msg(mm, 7, "7.M7.host");
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "1.M1.host"), 1);
	maildir_mime_unref(&mm);
	TEST_ASSERT(mm == NULL);

	/* header: magic, UIDVALIDITY 42, MIME cache version 1 */
	char *path = cache_path(dir);
	unsigned char hdr[16];
	FILE *f = fopen(path, "rb");
	TEST_ASSERT(f != NULL && fread(hdr, 1, 16, f) == 16);
	fclose(f);
	TEST_ASSERT_MEM_EQ(hdr, 16, "PYMAPMC1\x2a\0\0\0\x01\0\0\0", 16);

	mm = maildir_mime_create(dir, 42, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 7, "7.M7.host"), 1);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "1.M1.host"), 1);
	/* the key must match: another file, size or UID is a miss */
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "1.M9.host"), 0);
	TEST_ASSERT_INT_EQ(lookup(mm, 2, "1.M1.host"), 0);
	struct maildir_mime_key key = key_of(1, "1.M1.host");
	struct mime_tree *tree = NULL;
	key.size++;
	TEST_ASSERT_INT_EQ(maildir_mime_lookup(mm, &key, &tree), 0);
	TEST_ASSERT(tree == NULL);
	maildir_mime_get_stats(mm, &stats);
	TEST_ASSERT_UINT_EQ(stats.hits, 2);
	TEST_ASSERT_UINT_EQ(stats.scans, 1);
	TEST_ASSERT_UINT_EQ(stats.compactions, 0);
	maildir_mime_unref(&mm);
	free(path);
	free(dir);
}

static void test_newer_record_wins(void)
{
	char *dir = new_dir("newer");
	struct maildir_mime *mm = maildir_mime_create(dir, 1, NULL, NULL);
	store_msg(mm, 3, "old.name");
	store_msg(mm, 3, "new.name");
	TEST_ASSERT_INT_EQ(lookup(mm, 3, "new.name"), 1);
	TEST_ASSERT_INT_EQ(lookup(mm, 3, "old.name"), 0);
	maildir_mime_unref(&mm);
	mm = maildir_mime_create(dir, 1, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 3, "new.name"), 1);
	TEST_ASSERT_INT_EQ(lookup(mm, 3, "old.name"), 0);
	maildir_mime_unref(&mm);
	free(dir);
}

static void test_other_handle_appends(void)
{
	char *dir = new_dir("shared");
	struct maildir_mime *a = maildir_mime_create(dir, 5, NULL, NULL);
	struct maildir_mime *b = maildir_mime_create(dir, 5, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(a, 1, "one"), 0);     /* a has indexed the empty file */
	store_msg(b, 1, "one");
	store_msg(b, 2, "two");
	TEST_ASSERT_INT_EQ(lookup(a, 2, "two"), 1);     /* found by a tail scan */
	TEST_ASSERT_INT_EQ(lookup(a, 1, "one"), 1);
	store_msg(a, 3, "three");
	TEST_ASSERT_INT_EQ(lookup(b, 3, "three"), 1);
	maildir_mime_unref(&a);
	maildir_mime_unref(&b);
	free(dir);
}

static void test_torn_tail_and_garbage(void)
{
	char *dir = new_dir("torn");
	char *path = cache_path(dir);
	struct maildir_mime *mm = maildir_mime_create(dir, 9, NULL, NULL);
	struct maildir_mime_stats stats;
	store_msg(mm, 1, "one");
	off_t after_one = file_size(path);
	store_msg(mm, 2, "two");
	maildir_mime_unref(&mm);
	/* a crash in the middle of writing record 2 */
	TEST_ASSERT_INT_EQ(truncate(path, file_size(path) - 10), 0);
	mm = maildir_mime_create(dir, 9, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 1);
	TEST_ASSERT_INT_EQ(lookup(mm, 2, "two"), 0);
	maildir_mime_get_stats(mm, &stats);
	TEST_ASSERT_UINT_EQ(stats.compactions, 0);      /* an end inside a record may be a
							 * write in progress */
	store_msg(mm, 2, "two");                        /* lands after the torn bytes */
	TEST_ASSERT_INT_EQ(lookup(mm, 2, "two"), 1);
	maildir_mime_unref(&mm);

	/* now the torn record is followed by more: damage, the file is rewritten with
	 * the sound records before it */
	mm = maildir_mime_create(dir, 9, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 1);
	maildir_mime_get_stats(mm, &stats);
	TEST_ASSERT_UINT_EQ(stats.compactions, 1);
	TEST_ASSERT_INT_EQ(file_size(path), after_one);
	TEST_ASSERT_INT_EQ(lookup(mm, 2, "two"), 0);
	store_msg(mm, 2, "two");
	maildir_mime_unref(&mm);
	mm = maildir_mime_create(dir, 9, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 1);
	TEST_ASSERT_INT_EQ(lookup(mm, 2, "two"), 1);
	maildir_mime_unref(&mm);

	/* a flipped byte inside a blob: the record's checksum refuses it */
	int fd = open(path, O_RDWR);
	unsigned char c;
	TEST_ASSERT(pread(fd, &c, 1, after_one - 40) == 1);
	c ^= 0x10;
	TEST_ASSERT(pwrite(fd, &c, 1, after_one - 40) == 1);
	close(fd);
	mm = maildir_mime_create(dir, 9, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 0);
	TEST_ASSERT_INT_EQ(lookup(mm, 2, "two"), 0);
	maildir_mime_unref(&mm);
	free(path);
	free(dir);
}

static void test_bad_header_or_uidvalidity(void)
{
	char *dir = new_dir("header");
	char *path = cache_path(dir);
	struct maildir_mime *mm = maildir_mime_create(dir, 100, NULL, NULL);
	store_msg(mm, 1, "one");
	maildir_mime_unref(&mm);
	/* the folder got a new UIDVALIDITY: UID 1 is another message now */
	mm = maildir_mime_create(dir, 101, NULL, NULL);
	TEST_ASSERT_UINT_EQ(maildir_mime_uidvalidity(mm), 101);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 0);
	TEST_ASSERT_INT_EQ(file_size(path), MAILDIR_MIME_HEADER_SIZE);
	maildir_mime_unref(&mm);

	FILE *f = fopen(path, "wb");
	fputs("not a cache file at all", f);
	fclose(f);
	mm = maildir_mime_create(dir, 101, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 0);
	store_msg(mm, 1, "one");
	maildir_mime_unref(&mm);
	mm = maildir_mime_create(dir, 101, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(mm, 1, "one"), 1);
	maildir_mime_unref(&mm);
	free(path);
	free(dir);
}

static bool live_above_900(void *context, const struct maildir_mime_key *key)
{
	(*(unsigned int *)context)++;
	return key->uid > 900;
}

static void test_compaction_drops_dead_records(void)
{
	char *dir = new_dir("compact");
	char *path = cache_path(dir);
	unsigned int calls = 0;
	struct maildir_mime *mm = maildir_mime_create(dir, 3, NULL, NULL);
	for (uint32_t uid = 1; uid <= 1000; uid++)
		store_msg(mm, uid, "m");
	maildir_mime_unref(&mm);
	off_t full = file_size(path);
	TEST_ASSERT(full > 256 * 1024);

	/* a holder of the old file, then a handle that knows 1..900 are expunged */
	struct maildir_mime *old = maildir_mime_create(dir, 3, NULL, NULL);
	TEST_ASSERT_INT_EQ(lookup(old, 950, "m"), 1);
	mm = maildir_mime_create(dir, 3, live_above_900, &calls);
	TEST_ASSERT_INT_EQ(lookup(mm, 950, "m"), 1);
	TEST_ASSERT_UINT_EQ(calls, 1100);      /* the old file, then the new one */
	TEST_ASSERT_INT_EQ(lookup(mm, 5, "m"), 0);
	struct maildir_mime_stats stats;
	maildir_mime_get_stats(mm, &stats);
	TEST_ASSERT_UINT_EQ(stats.compactions, 1);
	TEST_ASSERT_UINT_EQ(stats.scans, 2);            /* the old file, then the new one */
	TEST_ASSERT_INT_EQ(file_size(path), MAILDIR_MIME_HEADER_SIZE +
			   (full - MAILDIR_MIME_HEADER_SIZE) / 10);
	/* the old holder notices the replacement before it appends */
	store_msg(old, 1001, "m");
	maildir_mime_unref(&old);
	TEST_ASSERT_INT_EQ(lookup(mm, 1001, "m"), 1);
	maildir_mime_detach(mm);
	maildir_mime_unref(&mm);
	free(path);
	free(dir);
}

/* A bare-LF file is served with CRLF: its parse describes more bytes than the file
 * holds. The record is keyed by the file's size and checked against the served size. */
static void test_parse_of_converted_content(void)
{
	static const char LF_MSG[] = "Subject: lf\n\nbody\n";
	static const char CRLF_MSG[] = "Subject: lf\r\n\r\nbody\r\n";
	char *dir = new_dir("crlf");
	struct maildir_mime *mm = maildir_mime_create(dir, 9, NULL, NULL);
	struct mime_tree *tree = mime_parse(CRLF_MSG, sizeof(CRLF_MSG) - 1);
	struct maildir_mime_key key = { 3, "3.M3.host", 9, sizeof(LF_MSG) - 1,
					sizeof(CRLF_MSG) - 1 };
	TEST_ASSERT_INT_EQ(maildir_mime_store(mm, &key, tree), 0);
	mime_tree_destroy(&tree);
	TEST_ASSERT_INT_EQ(maildir_mime_lookup(mm, &key, &tree), 1);
	TEST_ASSERT_UINT_EQ(tree->size, sizeof(CRLF_MSG) - 1);
	mime_tree_destroy(&tree);
	/* Without the served size the sizes disagree: no hit. */
	key.content_size = 0;
	TEST_ASSERT_INT_EQ(maildir_mime_lookup(mm, &key, &tree), 0);
	maildir_mime_unref(&mm);
	free(dir);
}

TEST_MAIN(TEST(test_store_and_find_again), TEST(test_parse_of_converted_content), TEST(test_newer_record_wins),
	  TEST(test_other_handle_appends), TEST(test_torn_tail_and_garbage),
	  TEST(test_bad_header_or_uidvalidity), TEST(test_compaction_drops_dead_records))
