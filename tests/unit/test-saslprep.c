#include "test.h"
#include "saslprep.h"

#include <stdlib.h>

static void check_ok(const char *in, const char *expect)
{
	char *out = NULL;
	const char *error = NULL;
	int ret = saslprep(in, strlen(in), &out, &error);
	if (ret != 0) {
		test_fail(__FILE__, __LINE__, "saslprep(\"%s\") failed: %s", in, error);
		return;
	}
	TEST_ASSERT_STR_EQ(out, expect);
	free(out);
}

static void check_error(const char *in, size_t len, const char *expect_error)
{
	char *out = NULL;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(saslprep(in, len, &out, &error), -1);
	TEST_ASSERT(out == NULL);
	TEST_ASSERT_STR_EQ(error, expect_error);
}

/* RFC 4013 section 3, the examples table */
static void test_rfc4013_examples(void)
{
	check_ok("I\xc2\xadX", "IX");                /* 1: SOFT HYPHEN mapped to nothing */
	check_ok("user", "user");                     /* 2 */
	check_ok("USER", "USER");                     /* 3: case preserved */
	check_ok("\xc2\xaa", "a");                    /* 4: U+00AA -> NFKC "a" */
	check_ok("\xe2\x85\xa8", "IX");               /* 5: U+2168 -> "IX" */
	check_error("\x07", 1, "prohibited character");  /* 6 */
	check_error("\xd8\xa7" "1", 3, "malformed bidirectional string"); /* 7 */
}

static void test_mapping(void)
{
	/* non-ASCII spaces (C.1.2) become U+0020: NO-BREAK SPACE, EM SPACE */
	check_ok("\xc2\xa0" "a" "\xe2\x80\x83" "b", " a b");
	/* B.1: ZERO WIDTH SPACE and variation selector 16 vanish */
	check_ok("p\xe2\x80\x8bw\xef\xb8\x8f", "pw");
	check_ok("", "");
	check_ok("\xc2\xad", "");  /* maps to the empty string, which is allowed */
}

static void test_nfkc(void)
{
	check_ok("e\xcc\x81", "\xc3\xa9");                   /* e + COMBINING ACUTE -> U+00E9 */
	check_ok("\xef\xac\x81", "fi");                      /* U+FB01 LATIN SMALL LIGATURE FI */
	check_ok("\xef\xbd\x86\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c", "full"); /* fullwidth */
	check_ok("\xf0\x9d\x90\x80", "A");                   /* U+1D400 MATHEMATICAL BOLD A */
	/* Hangul jamo L V T compose to U+AC01 */
	check_ok("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81");
	/* U+00C5 stays composed; A + ring + dot below reorders and composes to U+1EA0 U+030A */
	check_ok("A\xcc\x8a\xcc\xa3", "\xe1\xba\xa0\xcc\x8a");
	check_ok("\xc3\x85", "\xc3\x85");
}

static void test_prohibited(void)
{
	check_error("a\x7f", 2, "prohibited character");            /* C.2.1 DEL */
	check_error("\xc2\x85", 2, "prohibited character");         /* C.2.2 NEL */
	check_error("\xee\x80\x80", 3, "prohibited character");     /* C.3 private use */
	check_error("\xef\xbf\xbe", 3, "prohibited character");     /* C.4 non-character */
	check_error("\xe2\x80\x8e", 3, "prohibited character");     /* C.8 LRM */
	check_error("\xf3\xa0\x80\x81", 4, "prohibited character"); /* C.9 LANGUAGE TAG */
	check_error("\xc8\xb7", 2, "prohibited character");         /* A.1: U+0237 unassigned in 3.2 */
	check_error("a\0b", 3, "prohibited character");             /* NUL is C.2.1 */
}

static void test_bidi(void)
{
	check_ok("\xd8\xa7" "1" "\xd8\xa8", "\xd8\xa7" "1" "\xd8\xa8"); /* R/AL at both ends */
	check_error("\xd8\xa7" "a" "\xd8\xa8", 5, "forbidden bidirectional character");
	check_error("a\xd8\xa7", 3, "forbidden bidirectional character");
}

static void test_bad_utf8_and_size(void)
{
	check_error("\xff", 1, "not valid UTF-8");
	check_error("a\xc3", 2, "not valid UTF-8");
	check_error("\xed\xa0\x80", 3, "not valid UTF-8");   /* surrogate */
	char *big = malloc(SASLPREP_MAX_INPUT_BYTES + 2);
	memset(big, 'a', SASLPREP_MAX_INPUT_BYTES + 1);
	big[SASLPREP_MAX_INPUT_BYTES + 1] = '\0';
	check_error(big, SASLPREP_MAX_INPUT_BYTES + 1, "string too long");
	/* worst-case expansion: U+FDFA decomposes into 18 code points */
	for (unsigned int i = 0; i + 3 <= SASLPREP_MAX_INPUT_BYTES; i += 3)
		memcpy(big + i, "\xef\xb7\xba", 3);
	char *out;
	const char *error;
	size_t len = SASLPREP_MAX_INPUT_BYTES / 3 * 3;
	/* (Arabic letters and spaces: R/AL at both ends, no L: valid) */
	TEST_ASSERT_INT_EQ(saslprep(big, len, &out, &error), 0);
	TEST_ASSERT_UINT_EQ(strlen(out), len / 3 * 33);  /* 18 cps: 15 x 2 bytes + 3 spaces */
	free(out);
	free(big);
}

TEST_MAIN(TEST(test_rfc4013_examples), TEST(test_mapping), TEST(test_nfkc),
	  TEST(test_prohibited), TEST(test_bidi), TEST(test_bad_utf8_and_size))
