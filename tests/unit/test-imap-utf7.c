/* Tests for imap-utf7: RFC 3501 section 5.1.3 examples and hand-derived encodings. */
#include "test.h"
#include "imap-utf7.h"
#include "buffer.h"

static const struct { const char *utf7, *utf8; } valid_pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "Entw&APw-rfe", "Entw\xc3\xbc" "rfe" },
	{ "&-", "&" },
	{ "&-&AOk-&-", "&\xc3\xa9&" },
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },                 /* U+1F600, surrogate pair */
	{ "a&AAk-b", "a\tb" },                               /* controls are encoded */
	{ "&ANw-n&AO8-c&APY-d&AOk- &2D3eAA- x",
	  "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xf0\x9f\x98\x80 x" },
	{ "&Ti1lhw-&-&Ti1lhw-", "\xe4\xb8\xad\xe6\x96\x87&\xe4\xb8\xad\xe6\x96\x87" },
	{ "[Gmail]/Sent Mail", "[Gmail]/Sent Mail" },
};

static void test_round_trips(void)
{
	for (size_t i = 0; i < sizeof(valid_pairs) / sizeof(valid_pairs[0]); i++) {
		struct buffer buf;
		buffer_init(&buf, 0);
		buffer_append_str(&buf, "x:");
		TEST_ASSERT_INT_EQ(imap_utf7_to_utf8(valid_pairs[i].utf7, &buf), 0);
		TEST_ASSERT_STR_EQ(buffer_str(&buf) + 2, valid_pairs[i].utf8);
		buffer_reset(&buf);
		TEST_ASSERT_INT_EQ(imap_utf7_from_utf8(valid_pairs[i].utf8, &buf), 0);
		TEST_ASSERT_STR_EQ(buffer_str(&buf), valid_pairs[i].utf7);
		TEST_ASSERT(imap_utf7_is_valid(valid_pairs[i].utf7));
		TEST_ASSERT(imap_utf7_utf8_is_valid(valid_pairs[i].utf8));
		buffer_deinit(&buf);
	}
}

static void test_invalid_utf7(void)
{
	static const char *const invalid[] = {
		"&",            /* unterminated */
		"a&U,BTFw",     /* unterminated */
		"&U,BTF-",      /* 5 chars: 14 dangling bits */
		"&AOl-",        /* non-zero leftover bits */
		"&AGE-",        /* "a" must not be encoded */
		"&ACY-",        /* "&" must be "&-" */
		"&ACA-",        /* SP must not be encoded */
		"&AOk-&AOk-",   /* adjacent shifts must be one */
		"&2D0-",        /* lone high surrogate */
		"&2D3YPQ-",     /* high surrogate followed by high surrogate */
		"&3gA-",        /* lone low surrogate */
		"&AAA-",        /* U+0000 */
		"&U/BTFw-",     /* "/" is not modified base64 */
		"&U,BTFw=-",    /* padding */
		"&U,B TFw-",
		"a\tb",         /* raw control */
		"a\x7f",
		"\xc3\xa9",     /* raw 8-bit */
		"&-&",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct buffer buf;
		buffer_init(&buf, 0);
		buffer_append_str(&buf, "keep");
		if (imap_utf7_to_utf8(invalid[i], &buf) != -1)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", invalid[i]);
		TEST_ASSERT_STR_EQ(buffer_str(&buf), "keep");
		TEST_ASSERT(!imap_utf7_is_valid(invalid[i]));
		buffer_deinit(&buf);
	}
}

static void test_invalid_utf8(void)
{
	static const char *const invalid[] = {
		"\xc3",                 /* truncated */
		"a\xc3(",
		"\xc0\x80",             /* overlong NUL */
		"\xc1\xbf",             /* overlong */
		"\xe0\x80\xaf",         /* overlong "/" */
		"\xed\xa0\x80",         /* surrogate U+D800 */
		"\xf4\x90\x80\x80",     /* > U+10FFFF */
		"\xf8\x88\x80\x80\x80",
		"\xff",
		"\x80",
		"ok \xe6\x97",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct buffer buf;
		buffer_init(&buf, 0);
		buffer_append_str(&buf, "keep");
		if (imap_utf7_from_utf8(invalid[i], &buf) != -1)
			test_fail(__FILE__, __LINE__, "accepted case %zu", i);
		TEST_ASSERT_STR_EQ(buffer_str(&buf), "keep");
		TEST_ASSERT(!imap_utf7_utf8_is_valid(invalid[i]));
		buffer_deinit(&buf);
	}
	/* the largest code point and the edges around the surrogates are fine */
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(imap_utf7_from_utf8("\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80", &buf), 0);
	/* U+10FFFF = DBFF DFFF, U+D7FF, U+E000 */
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "&2,,f,9f,4AA-");
	buffer_reset(&buf);
	TEST_ASSERT_INT_EQ(imap_utf7_to_utf8("&2,,f,9f,4AA-", &buf), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80");
	buffer_deinit(&buf);
}

static void test_max_size(void)
{
	struct buffer buf;
	buffer_init(&buf, 8);
	buffer_append_str(&buf, "ab");
	TEST_ASSERT_INT_EQ(imap_utf7_from_utf8("\xe5\x8f\xb0\xe5\x8c\x97", &buf), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "ab");
	TEST_ASSERT_INT_EQ(imap_utf7_to_utf8("&U,BTFw-", &buf), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "ab\xe5\x8f\xb0\xe5\x8c\x97");
	buffer_deinit(&buf);
}

TEST_MAIN(TEST(test_round_trips), TEST(test_invalid_utf7), TEST(test_invalid_utf8),
	  TEST(test_max_size))
