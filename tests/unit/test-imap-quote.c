/* Tests for imap-quote: expected output written from RFC 3501 section 4.3 / 9. */
#include "test.h"
#include "imap-quote.h"
#include "buffer.h"

#include <stdlib.h>

static char *out;

#define APPEND(call) do { \
	struct buffer qbuf; buffer_init(&qbuf, 0); \
	TEST_ASSERT_INT_EQ((call), 0); \
	free(out); out = buffer_steal_str(&qbuf); buffer_deinit(&qbuf); \
	} while (0)
#define B (&qbuf)

static void test_string(void)
{
	APPEND(imap_append_string(B, "hello world"));
	TEST_ASSERT_STR_EQ(out, "\"hello world\"");
	APPEND(imap_append_string(B, ""));
	TEST_ASSERT_STR_EQ(out, "\"\"");
	APPEND(imap_append_string(B, "a\"b\\c"));
	TEST_ASSERT_STR_EQ(out, "\"a\\\"b\\\\c\"");
	APPEND(imap_append_string(B, "line1\r\nline2"));
	TEST_ASSERT_STR_EQ(out, "{12}\r\nline1\r\nline2");
	APPEND(imap_append_string(B, "caf\xc3\xa9"));
	TEST_ASSERT_STR_EQ(out, "{5}\r\ncaf\xc3\xa9");
	APPEND(imap_append_string_data(B, "a\0b", 3));
	TEST_ASSERT(memcmp(out, "{3}\r\na\0b", 8) == 0);
	APPEND(imap_append_string(B, "tab\there"));
	TEST_ASSERT_STR_EQ(out, "\"tab\there\"");
	/* long strings become literals */
	char big[IMAP_QUOTE_MAX_QUOTED_BYTES + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	APPEND(imap_append_string(B, big));
	TEST_ASSERT(strncmp(out, "{1025}\r\nxxx", 11) == 0);
	big[sizeof(big) - 2] = '\0';
	APPEND(imap_append_string(B, big));
	TEST_ASSERT(out[0] == '"' && strlen(out) == 1026);
}

static void test_nstring(void)
{
	APPEND(imap_append_nstring(B, NULL));
	TEST_ASSERT_STR_EQ(out, "NIL");
	APPEND(imap_append_nstring(B, "NIL"));
	TEST_ASSERT_STR_EQ(out, "\"NIL\"");
	APPEND(imap_append_nstring_data(B, NULL, 0));
	TEST_ASSERT_STR_EQ(out, "NIL");
	APPEND(imap_append_nstring_data(B, "ab", 1));
	TEST_ASSERT_STR_EQ(out, "\"a\"");
}

static void test_astring(void)
{
	APPEND(imap_append_astring(B, "INBOX"));
	TEST_ASSERT_STR_EQ(out, "INBOX");
	APPEND(imap_append_astring(B, "foo]bar"));
	TEST_ASSERT_STR_EQ(out, "foo]bar");
	APPEND(imap_append_astring(B, "nil"));
	TEST_ASSERT_STR_EQ(out, "\"nil\"");
	APPEND(imap_append_astring(B, ""));
	TEST_ASSERT_STR_EQ(out, "\"\"");
	APPEND(imap_append_astring(B, "a b"));
	TEST_ASSERT_STR_EQ(out, "\"a b\"");
	APPEND(imap_append_astring(B, "[Gmail]"));
	TEST_ASSERT_STR_EQ(out, "\"[Gmail]\"");
	static const char *const quoted[] = { "a(", "a)", "a{", "a%", "a*", "a\"", "a\\" };
	for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++) {
		APPEND(imap_append_astring(B, quoted[i]));
		TEST_ASSERT(out[0] == '"');
	}
}

static void test_literal8_and_mailbox(void)
{
	APPEND(imap_append_literal8(B, "\0\1", 2));
	TEST_ASSERT(memcmp(out, "~{2}\r\n\0\1", 8) == 0);
	APPEND(imap_append_mailbox(B, "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
				   "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"));
	TEST_ASSERT_STR_EQ(out, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	APPEND(imap_append_mailbox(B, "Sent Items"));
	TEST_ASSERT_STR_EQ(out, "\"Sent Items\"");
	APPEND(imap_append_mailbox(B, "A&B"));
	TEST_ASSERT_STR_EQ(out, "A&-B");
	struct buffer buf;
	buffer_init(&buf, 0);
	buffer_append_str(&buf, "x");
	TEST_ASSERT_INT_EQ(imap_append_mailbox(&buf, "bad\xff"), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "x");
	buffer_deinit(&buf);
}

static void test_max_size_unchanged(void)
{
	struct buffer buf;
	buffer_init(&buf, 10);
	buffer_append_str(&buf, "ab");
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, "123456789"), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "ab");
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, "a\r\nbcd"), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "ab");
	TEST_ASSERT_INT_EQ(imap_append_literal8(&buf, "abcdef", 6), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "ab");
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, "12345"), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "ab\"12345\"");
	buffer_deinit(&buf);
}

/* Escapes count toward the limit exactly: x"y quotes to "x\"y" (6 octets), x"y\\ to
 * 10 octets. */
static void test_max_size_escapes(void)
{
	struct buffer buf;
	buffer_init(&buf, 8);
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, "x\"y\\\\"), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "");
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, "x\"y"), 0);
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, ""), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "\"x\\\"y\"\"\"");
	TEST_ASSERT_INT_EQ(imap_append_string(&buf, ""), -1);
	buffer_deinit(&buf);
}

static void test_char_classes(void)
{
	TEST_ASSERT(imap_is_atom_char('a'));
	TEST_ASSERT(imap_is_atom_char('['));
	TEST_ASSERT(!imap_is_atom_char(']'));
	TEST_ASSERT(imap_is_astring_char(']'));
	TEST_ASSERT(!imap_is_atom_char(' '));
	TEST_ASSERT(!imap_is_atom_char(0x7f));
	TEST_ASSERT(!imap_is_atom_char(0x80));
	TEST_ASSERT(!imap_is_atom_char('\0'));
	free(out);
	out = NULL;
}

TEST_MAIN(TEST(test_string), TEST(test_nstring), TEST(test_astring),
	  TEST(test_literal8_and_mailbox), TEST(test_max_size_unchanged),
	  TEST(test_max_size_escapes),
	  TEST(test_char_classes))
