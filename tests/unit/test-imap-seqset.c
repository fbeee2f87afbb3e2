/* Tests for imap-seqset: RFC 3501 section 9 sequence-set and the "*" rules of
 * section 6.4.8 / RFC 9051. */
#include "test.h"
#include "imap-seqset.h"
#include "buffer.h"

#include <stdlib.h>

/* Parse, optionally resolve "*", and write back as text. */
static char *roundtrip(const char *str, int64_t max)
{
	struct imap_seqset *set;
	struct buffer buf;
	if (imap_seqset_parse(str, &set, NULL) < 0)
		return strdup("ERROR");
	if (max >= 0)
		imap_seqset_resolve_star(set, (uint32_t)max);
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(imap_seqset_append(&buf, set), 0);
	imap_seqset_destroy(&set);
	TEST_ASSERT(set == NULL);
	return buffer_steal_str(&buf);
}

#define CHECK_SET(str, max, expected) do { \
	char *_s = roundtrip(str, max); \
	TEST_ASSERT_STR_EQ(_s, expected); \
	free(_s); } while (0)

static void test_parse(void)
{
	CHECK_SET("1", -1, "1");
	CHECK_SET("1:5", -1, "1:5");
	CHECK_SET("5:1", -1, "1:5");
	CHECK_SET("3,1,2", -1, "1:3");
	CHECK_SET("1:3,5,7:9,4", -1, "1:5,7:9");
	CHECK_SET("10:20,15:30,1:2,3", -1, "1:3,10:30");
	CHECK_SET("4294967295", -1, "4294967295");
	CHECK_SET("4294967294:4294967295,1", -1, "1,4294967294:4294967295");
	CHECK_SET("*", -1, "*");
	CHECK_SET("3:*", -1, "3:*");
	CHECK_SET("*:3", -1, "3:*");
	CHECK_SET("1,3:*,9:*", -1, "1,3:*,9:*");
	CHECK_SET("*:*", -1, "*");
	static const char *const bad[] = {
		"", "0", "0:5", "5:0", "01", "1:", ":1", "1,", ",1", "1,,2", "1:2:3",
		"4294967296", "99999999999999999999", "-1", "+1", "1 ", " 1", "a", "1;2",
		"**", "1:**", "1.5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_seqset *set = NULL;
		const char *error = NULL;
		if (imap_seqset_parse(bad[i], &set, &error) != -1)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
		TEST_ASSERT(set == NULL);
		TEST_ASSERT(error != NULL);
	}
}

static void test_star(void)
{
	CHECK_SET("*", 10, "10");
	CHECK_SET("3:*", 10, "3:10");
	CHECK_SET("12:*", 10, "10:12");   /* RFC 3501: "*" may be below n */
	CHECK_SET("1,3:*,20:*", 10, "1,3:20");
	CHECK_SET("1:2,*", 10, "1:2,10");
	CHECK_SET("1:2,*", 3, "1:3");
	CHECK_SET("*", 0, "");           /* empty mailbox: "*" matches nothing */
	CHECK_SET("1,5:*", 0, "1");
	struct imap_seqset *set;
	TEST_ASSERT_INT_EQ(imap_seqset_parse("2:*", &set, NULL), 0);
	TEST_ASSERT(imap_seqset_has_star(set));
	TEST_ASSERT(!imap_seqset_contains(set, 2));
	imap_seqset_resolve_star(set, 5);
	TEST_ASSERT(!imap_seqset_has_star(set));
	TEST_ASSERT(imap_seqset_contains(set, 2) && imap_seqset_contains(set, 5));
	TEST_ASSERT(!imap_seqset_contains(set, 6) && !imap_seqset_contains(set, 1));
	imap_seqset_destroy(&set);
}

static void test_queries(void)
{
	struct imap_seqset *set;
	TEST_ASSERT_INT_EQ(imap_seqset_parse("7:9,1,3:4,4294967295", &set, NULL), 0);
	unsigned int count;
	const struct imap_seq_range *r = imap_seqset_get_ranges(set, &count);
	TEST_ASSERT_INT_EQ(count, 4);
	TEST_ASSERT_INT_EQ(r[1].seq1, 3);
	TEST_ASSERT_INT_EQ(r[1].seq2, 4);
	TEST_ASSERT_UINT_EQ(imap_seqset_count(set), 7);
	TEST_ASSERT_UINT_EQ(imap_seqset_first(set), 1);
	TEST_ASSERT_UINT_EQ(imap_seqset_last(set), 4294967295U);
	static const uint32_t in[] = { 1, 3, 4, 7, 8, 9, 4294967295U };
	static const uint32_t out[] = { 0, 2, 5, 6, 10, 4294967294U };
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		TEST_ASSERT(imap_seqset_contains(set, in[i]));
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		TEST_ASSERT(!imap_seqset_contains(set, out[i]));
	/* iteration ends after UINT32_MAX without wrapping */
	struct imap_seqset_iter it;
	uint32_t n;
	size_t k = 0;
	imap_seqset_iter_init(&it, set);
	while (imap_seqset_iter_next(&it, &n)) {
		if (k < sizeof(in) / sizeof(in[0]))
			TEST_ASSERT_UINT_EQ(n, in[k]);
		k++;
	}
	TEST_ASSERT_INT_EQ(k, 7);
	imap_seqset_destroy(&set);

	set = imap_seqset_create();
	TEST_ASSERT(imap_seqset_is_empty(set));
	TEST_ASSERT_UINT_EQ(imap_seqset_first(set), 0);
	TEST_ASSERT(!imap_seqset_contains(set, 1));
	imap_seqset_iter_init(&it, set);
	TEST_ASSERT(!imap_seqset_iter_next(&it, &n));
	imap_seqset_destroy(&set);
}

static void test_add_range(void)
{
	struct imap_seqset *set = imap_seqset_create();
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 5), 0);
	TEST_ASSERT_INT_EQ(imap_seqset_add_range(set, 10, 8), 0);
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 1), 0);
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 0), -1);
	TEST_ASSERT_INT_EQ(imap_seqset_add_range(set, 0, 3), -1);
	imap_seqset_append(&buf, set);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "1,5,8:10");
	TEST_ASSERT_INT_EQ(imap_seqset_add_range(set, 2, 7), 0);  /* joins everything */
	buffer_reset(&buf);
	imap_seqset_append(&buf, set);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "1:10");
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 12), 0);
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 11), 0);
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 4294967295U), 0);
	buffer_reset(&buf);
	imap_seqset_append(&buf, set);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "1:12,4294967295");
	imap_seqset_destroy(&set);
	buffer_deinit(&buf);
}

static void test_limits(void)
{
	/* IMAP_SEQSET_MAX_RANGES items parse, one more does not */
	struct buffer buf;
	struct imap_seqset *set;
	buffer_init(&buf, 0);
	for (unsigned int i = 0; i < IMAP_SEQSET_MAX_RANGES; i++)
		buffer_printf(&buf, "%s%u", i == 0 ? "" : ",", (i * 7919U) % 1000003U * 2 + 1);
	TEST_ASSERT_INT_EQ(imap_seqset_parse(buffer_str(&buf), &set, NULL), 0);
	TEST_ASSERT_UINT_EQ(imap_seqset_count(set), IMAP_SEQSET_MAX_RANGES);
	TEST_ASSERT(imap_seqset_contains(set, 1) && !imap_seqset_contains(set, 2));
	/* adding beyond the limit fails, merging into an existing range still works */
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 4000000000U), -1);
	TEST_ASSERT_INT_EQ(imap_seqset_add(set, 2), 0);
	imap_seqset_destroy(&set);
	buffer_append_str(&buf, ",3");
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(imap_seqset_parse(buffer_str(&buf), &set, &error), -1);
	TEST_ASSERT_STR_EQ(error, "Too many ranges in sequence set");
	buffer_deinit(&buf);
}

static void test_append_uids(void)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	static const uint32_t uids[] = { 1, 2, 3, 7, 5, 6, 0, 9, 4294967295U, 1 };
	TEST_ASSERT_INT_EQ(imap_seqset_append_uids(&buf, uids, 10), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "1:3,7,5:6,9,4294967295,1");
	buffer_reset(&buf);
	TEST_ASSERT_INT_EQ(imap_seqset_append_uids(&buf, uids, 0), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "");
	buffer_deinit(&buf);
	buffer_init(&buf, 6);
	buffer_append_str(&buf, "x");
	TEST_ASSERT_INT_EQ(imap_seqset_append_uids(&buf, uids, 10), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "x");
	buffer_deinit(&buf);
}

TEST_MAIN(TEST(test_parse), TEST(test_star), TEST(test_queries), TEST(test_add_range),
	  TEST(test_limits), TEST(test_append_uids))
