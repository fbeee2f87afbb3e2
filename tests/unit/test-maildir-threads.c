/* Unit tests for the maildir backend's per-user thread index (maildir-threads.c):
 * replies join the thread they name (RFC 8474 THREADID), the file keeps it across
 * processes and restarts, a torn tail is cut off, superseded records are compacted.
 * The record layout is checked byte by byte against doc/maildir-index.md. */
#include "test.h"
#include "store/maildir-threads.h"
#include "alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *user_root(const char *name)
{
	char *root = i_strdup_printf("%s/%s", test_tmpdir(), name);
	TEST_ASSERT_INT_EQ(mkdir(root, 0700), 0);
	return root;
}

static void assign(const char *root, const char *msg, char threadid_r[STORE_ID_MAX_BYTES])
{
	TEST_ASSERT_INT_EQ(maildir_threads_assign_msg(root, msg, -1, strlen(msg), threadid_r), 0);
	TEST_ASSERT(threadid_r[0] == 'T' && strlen(threadid_r) == 33);
}

static off_t file_size(const char *root)
{
	char *path = i_strdup_printf("%s/%s", root, MAILDIR_THREADS_NAME);
	struct stat st;
	off_t size = stat(path, &st) == 0 ? st.st_size : -1;
	free(path);
	return size;
}

static void test_replies_join_their_thread(void)
{
	char *root = user_root("links");
	char a[STORE_ID_MAX_BYTES], b[STORE_ID_MAX_BYTES], c[STORE_ID_MAX_BYTES];
	char d[STORE_ID_MAX_BYTES], e[STORE_ID_MAX_BYTES], none[STORE_ID_MAX_BYTES];
	assign(root, "Message-ID: <a@x>\r\nSubject: lunch\r\n\r\nbody\r\n", a);
	assign(root, "Message-ID: < b@x >\r\nIn-Reply-To: <a@x>\r\n\r\nok\r\n", b);
	TEST_ASSERT_STR_EQ(b, a);
	assign(root, "Message-ID: <c@x>\r\n\r\nother\r\n", c);
	TEST_ASSERT(strcmp(c, a) != 0);
	/* References, folded over two lines; the first known id decides */
	assign(root, "References: <zz@x>\r\n <b@x>\r\n\r\n", d);
	TEST_ASSERT_STR_EQ(d, a);
	/* a message that a reply named before it arrived */
	assign(root, "In-Reply-To: <early@x>\r\n\r\n", e);
	assign(root, "Message-ID: <early@x>\r\n\r\n", none);
	TEST_ASSERT_STR_EQ(none, e);
	/* no ids at all: a thread of its own, and no file write */
	off_t size = file_size(root);
	assign(root, "Subject: alone\r\n\r\n", none);
	TEST_ASSERT(strcmp(none, a) != 0 && strcmp(none, c) != 0);
	TEST_ASSERT_INT_EQ(file_size(root), size);
	/* the header only: an id in the body does not count */
	assign(root, "Subject: x\r\n\r\nIn-Reply-To: <a@x>\r\n", none);
	TEST_ASSERT(strcmp(none, a) != 0);
	maildir_threads_flush();
	free(root);
}

static uint32_t fnv(uint32_t hash, const void *data, size_t size)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < size; i++)
		hash = (hash ^ p[i]) * 16777619u;
	return hash;
}

static void test_file_format_and_restart(void)
{
	char *root = user_root("format");
	char a[STORE_ID_MAX_BYTES], b[STORE_ID_MAX_BYTES];
	assign(root, "Message-ID: <a@x>\r\n\r\n", a);
	/* magic, hash key (16), then: id length 5 (2), thread length 33 (1), 0,
	 * FNV-1a, id, thread */
	char *path = i_strdup_printf("%s/%s", root, MAILDIR_THREADS_NAME);
	unsigned char data[128];
	int fd = open(path, O_RDONLY);
	TEST_ASSERT_INT_EQ(read(fd, data, sizeof(data)), 24 + 8 + 5 + 33);
	close(fd);
	TEST_ASSERT_MEM_EQ(data, 8, "PYMAPTH1", 8);
	const unsigned char *rec = data + 24;
	TEST_ASSERT(rec[0] == 5 && rec[1] == 0 && rec[2] == 33 && rec[3] == 0);
	uint32_t sum = fnv(fnv(fnv(2166136261u, rec, 4), "<a@x>", 5), a, 33);
	TEST_ASSERT_UINT_EQ((uint32_t)rec[4] | (uint32_t)rec[5] << 8 |
			    (uint32_t)rec[6] << 16 | (uint32_t)rec[7] << 24, sum);
	TEST_ASSERT_MEM_EQ(rec + 8, 5, "<a@x>", 5);
	TEST_ASSERT_MEM_EQ(rec + 13, 33, a, 33);
	/* a new process (nothing in memory) reads it back */
	maildir_threads_flush();
	assign(root, "In-Reply-To: <a@x>\r\n\r\n", b);
	TEST_ASSERT_STR_EQ(b, a);
	maildir_threads_flush();
	free(path);
	free(root);
}

static void test_two_processes_agree(void)
{
	char *root = user_root("procs");
	char a[STORE_ID_MAX_BYTES], b[STORE_ID_MAX_BYTES], child[STORE_ID_MAX_BYTES];
	int fds[2];
	/* this process has the file in memory before the other one appends */
	assign(root, "Message-ID: <first@x>\r\n\r\n", a);
	TEST_ASSERT_INT_EQ(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char id[STORE_ID_MAX_BYTES];
		const char *msg = "Message-ID: <other@x>\r\n\r\n";
		int ret = maildir_threads_assign_msg(root, msg, -1, strlen(msg), id);
		_exit(ret == 0 && write(fds[1], id, sizeof(id)) == sizeof(id) ? 0 : 1);
	}
	int status;
	TEST_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0);
	TEST_ASSERT_INT_EQ(read(fds[0], child, sizeof(child)), sizeof(child));
	close(fds[0]);
	close(fds[1]);
	TEST_ASSERT(strcmp(child, a) != 0);
	/* the reply, here, to the other process's message joins its thread */
	assign(root, "In-Reply-To: <other@x>\r\n\r\n", b);
	TEST_ASSERT_STR_EQ(b, child);
	maildir_threads_flush();
	free(root);
}

static void test_torn_tail_is_cut(void)
{
	char *root = user_root("torn");
	char a[STORE_ID_MAX_BYTES], b[STORE_ID_MAX_BYTES];
	assign(root, "Message-ID: <a@x>\r\n\r\n", a);
	off_t good = file_size(root);
	maildir_threads_flush();
	/* a crash in the middle of a record: its head and part of its id */
	char *path = i_strdup_printf("%s/%s", root, MAILDIR_THREADS_NAME);
	int fd = open(path, O_WRONLY | O_APPEND);
	TEST_ASSERT_INT_EQ(write(fd, "\x05\x00\x21\x00\x01\x02\x03\x04<b@", 11), 11);
	close(fd);
	assign(root, "In-Reply-To: <a@x>\r\nMessage-ID: <c@x>\r\n\r\n", b);
	TEST_ASSERT_STR_EQ(b, a);
	/* the torn bytes are gone: only the new record (<c@x>) follows the good part */
	TEST_ASSERT_INT_EQ(file_size(root), good + 8 + 5 + 33);
	maildir_threads_flush();
	assign(root, "References: <c@x>\r\n\r\n", b);
	TEST_ASSERT_STR_EQ(b, a);
	/* a file that is not ours is started again */
	maildir_threads_flush();
	fd = open(path, O_WRONLY | O_TRUNC);
	TEST_ASSERT_INT_EQ(write(fd, "garbage!garbage!", 16), 16);
	close(fd);
	assign(root, "In-Reply-To: <a@x>\r\n\r\n", b);
	TEST_ASSERT(strcmp(b, a) != 0);
	TEST_ASSERT_INT_EQ(file_size(root), 24 + 8 + 5 + 33);
	maildir_threads_flush();
	free(path);
	free(root);
}

static void test_compaction(void)
{
	char *root = user_root("compact");
	char first[STORE_ID_MAX_BYTES], last[STORE_ID_MAX_BYTES], t[STORE_ID_MAX_BYTES];
	char hubs[50 * 12 + 32];
	size_t len = 0;
	for (unsigned int h = 0; h < 50; h++)
		len += (size_t)snprintf(hubs + len, sizeof(hubs) - len, " <h%u@x>", h);
	/* each round moves 50 ids to a new thread: 51 records, one more live id */
	for (unsigned int i = 0; i < 100; i++) {
		char msg[800];
		snprintf(msg, sizeof(msg), "Message-ID: <n%u@x>\r\n\r\n", i);
		assign(root, msg, i == 0 ? first : last);
		/* the first known id (the new one) decides; the hubs move to it */
		snprintf(msg, sizeof(msg), "Message-ID: <r%u@x>\r\nReferences: <n%u@x>%s\r\n\r\n",
			 i, i, hubs);
		assign(root, msg, t);
		TEST_ASSERT_STR_EQ(t, i == 0 ? first : last);
	}
	/* 100 rounds * ~51 records of ~46 bytes = ~230 KB without compaction */
	TEST_ASSERT(file_size(root) < 100 * 1024);
	maildir_threads_flush();
	assign(root, "In-Reply-To: <n0@x>\r\n\r\n", t);
	TEST_ASSERT_STR_EQ(t, first);
	assign(root, "In-Reply-To: <n99@x>\r\n\r\n", t);
	TEST_ASSERT_STR_EQ(t, last);
	assign(root, "In-Reply-To: <h25@x>\r\n\r\n", t);
	TEST_ASSERT_STR_EQ(t, last);
	maildir_threads_flush();
	free(root);
}

static void test_batch(void)
{
	char *root = user_root("batch");
	char a[STORE_ID_MAX_BYTES], b[STORE_ID_MAX_BYTES], c[STORE_ID_MAX_BYTES];
	const char *m1 = "Message-ID: <b1@x>\r\n\r\n";
	const char *m2 = "In-Reply-To: <b1@x>\r\nMessage-ID: <b2@x>\r\n\r\n";
	/* a reply later in the same batch joins a message earlier in it */
	struct maildir_threads_batch *batch = maildir_threads_begin(root);
	maildir_threads_add_msg(batch, m1, -1, strlen(m1), a);
	maildir_threads_add_msg(batch, m2, -1, strlen(m2), b);
	TEST_ASSERT_STR_EQ(b, a);
	TEST_ASSERT_INT_EQ(file_size(root), 24);   /* nothing written before the end */
	TEST_ASSERT_INT_EQ(maildir_threads_end(&batch), 0);
	TEST_ASSERT(batch == NULL);
	TEST_ASSERT_INT_EQ(file_size(root), 24 + 2 * (8 + 6 + 33));
	maildir_threads_flush();
	assign(root, "References: <b2@x>\r\n\r\n", c);
	TEST_ASSERT_STR_EQ(c, a);
	/* an unusable index: every message its own new thread, and end says so */
	char *gone = i_strdup_printf("%s/no-such-dir", test_tmpdir());
	batch = maildir_threads_begin(gone);
	maildir_threads_add_msg(batch, m1, -1, strlen(m1), b);
	maildir_threads_add_msg(batch, m2, -1, strlen(m2), c);
	TEST_ASSERT(b[0] == 'T' && c[0] == 'T' && strcmp(b, c) != 0 && strcmp(b, a) != 0);
	TEST_ASSERT_INT_EQ(maildir_threads_end(&batch), -1);
	maildir_threads_flush();
	free(gone);
	free(root);
}

static char *read_all(const char *path, size_t *size_r)
{
	char *data = i_malloc(65536);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, data, 65536);
	if (fd >= 0)
		close(fd);
	*size_r = n < 0 ? 0 : (size_t)n;
	return data;
}

/* Another file under the same inode number (reused after a compaction removed the
 * old one): the process must read it whole, not its tail from the old offset. */
static void test_other_file_same_inode(void)
{
	char *root = user_root("reuse"), *other = user_root("reuse-other");
	char a[STORE_ID_MAX_BYTES], z[STORE_ID_MAX_BYTES], t[STORE_ID_MAX_BYTES];
	assign(root, "Message-ID: <a@x>\r\n\r\n", a);
	assign(other, "Message-ID: <z@x>\r\n\r\n", z);
	assign(other, "Message-ID: <zz@x>\r\nReferences: <z@x>\r\n\r\n", t);
	char *path = i_strdup_printf("%s/%s", root, MAILDIR_THREADS_NAME);
	char *other_path = i_strdup_printf("%s/%s", other, MAILDIR_THREADS_NAME);
	size_t size;
	char *data = read_all(other_path, &size);
	int fd = open(path, O_WRONLY | O_TRUNC);   /* same inode, other content */
	TEST_ASSERT_INT_EQ(write(fd, data, size), (ssize_t)size);
	close(fd);
	assign(root, "In-Reply-To: <zz@x>\r\n\r\n", t);
	TEST_ASSERT_STR_EQ(t, z);
	assign(root, "In-Reply-To: <a@x>\r\n\r\n", t);
	TEST_ASSERT(strcmp(t, a) != 0);   /* that file never knew <a@x> */
	maildir_threads_flush();
	free(data);
	free(path);
	free(other_path);
	free(root);
	free(other);
}

TEST_MAIN(TEST(test_replies_join_their_thread), TEST(test_other_file_same_inode), TEST(test_batch), TEST(test_file_format_and_restart),
	  TEST(test_two_processes_agree), TEST(test_torn_tail_is_cut), TEST(test_compaction))
