#include "test.h"
#include "strnum.h"

static void test_uint64(void)
{
	uint64_t n = 7;
	TEST_ASSERT_INT_EQ(str_to_uint64("0", &n), 0);
	TEST_ASSERT_UINT_EQ(n, 0);
	TEST_ASSERT_INT_EQ(str_to_uint64("18446744073709551615", &n), 0);
	TEST_ASSERT_UINT_EQ(n, UINT64_MAX);
	n = 7;
	TEST_ASSERT_INT_EQ(str_to_uint64("18446744073709551616", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64("", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64("-1", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64("+1", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64(" 1", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64("1 ", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64("12a", &n), -1);
	TEST_ASSERT_UINT_EQ(n, 7);
}

static void test_uint32(void)
{
	uint32_t n = 0;
	TEST_ASSERT_INT_EQ(str_to_uint32("4294967295", &n), 0);
	TEST_ASSERT_UINT_EQ(n, 4294967295u);
	TEST_ASSERT_INT_EQ(str_to_uint32("4294967296", &n), -1);
	TEST_ASSERT_INT_EQ(str_to_uint64_n("123xyz", 3, &(uint64_t){0}), 0);
	TEST_ASSERT_INT_EQ(str_to_uint64_n("123xyz", 4, &(uint64_t){0}), -1);
}

static void test_parse_prefix(void)
{
	uint64_t n;
	const char *end;
	TEST_ASSERT_INT_EQ(str_parse_uint64("42:7", &n, &end), 0);
	TEST_ASSERT_UINT_EQ(n, 42);
	TEST_ASSERT_STR_EQ(end, ":7");
	TEST_ASSERT_INT_EQ(str_parse_uint64(":7", &n, &end), -1);
}

TEST_MAIN(TEST(test_uint64), TEST(test_uint32), TEST(test_parse_prefix))
