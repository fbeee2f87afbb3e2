#include "test.h"
#include "buffer.h"

#include <stdlib.h>

static void test_append_and_consume(void)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(buffer_len(&buf), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "");
	TEST_ASSERT_INT_EQ(buffer_append_str(&buf, "hello "), 0);
	TEST_ASSERT_INT_EQ(buffer_printf(&buf, "%s %d", "world", 42), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "hello world 42");
	buffer_consume(&buf, 6);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "world 42");
	TEST_ASSERT_INT_EQ(buffer_len(&buf), 8);
	buffer_truncate(&buf, 5);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "world");
	buffer_consume(&buf, 100);
	TEST_ASSERT_INT_EQ(buffer_len(&buf), 0);
	buffer_deinit(&buf);
}

static void test_max_size_refuses_without_truncating(void)
{
	struct buffer buf;
	buffer_init(&buf, 8);
	TEST_ASSERT_INT_EQ(buffer_append_str(&buf, "12345"), 0);
	TEST_ASSERT_INT_EQ(buffer_append_str(&buf, "6789"), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "12345");
	TEST_ASSERT_INT_EQ(buffer_append_str(&buf, "678"), 0);
	TEST_ASSERT_INT_EQ(buffer_append_c(&buf, 'x'), -1);
	TEST_ASSERT(buffer_reserve(&buf, 1) == NULL);
	TEST_ASSERT_INT_EQ(buffer_printf(&buf, "%d", 1), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "12345678");
	buffer_consume(&buf, 4);
	TEST_ASSERT_INT_EQ(buffer_append_str(&buf, "abcd"), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "5678abcd");
	buffer_deinit(&buf);
}

static void test_long_printf(void)
{
	struct buffer buf;
	char big[1000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(buffer_printf(&buf, "<%s>", big), 0);
	TEST_ASSERT_INT_EQ(buffer_len(&buf), 1001);
	TEST_ASSERT(buffer_str(&buf)[0] == '<' && buffer_str(&buf)[1000] == '>');
	buffer_deinit(&buf);
}

static void test_stream_through_is_consistent(void)
{
	/* Feed a stream through a small window: contents must stay in order. */
	struct buffer buf;
	unsigned int next_in = 0, next_out = 0;
	buffer_init(&buf, 0);
	for (int round = 0; round < 10000; round++) {
		for (int i = 0; i < 7; i++) {
			unsigned char c = (unsigned char)(next_in++ % 251);
			buffer_append(&buf, &c, 1);
		}
		size_t take = buffer_len(&buf) > 5 ? 5 : buffer_len(&buf);
		for (size_t i = 0; i < take; i++) {
			if (buffer_data(&buf)[i] != (unsigned char)(next_out++ % 251)) {
				TEST_ASSERT(!"stream order broken");
				buffer_deinit(&buf);
				return;
			}
		}
		buffer_consume(&buf, take);
	}
	TEST_ASSERT_INT_EQ(buffer_len(&buf), next_in - next_out);
	TEST_ASSERT(buf.alloc < 64 * 1024);
	buffer_deinit(&buf);
}

static void test_steal(void)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	buffer_append_str(&buf, "xxabc");
	buffer_consume(&buf, 2);
	char *s = buffer_steal_str(&buf);
	TEST_ASSERT_STR_EQ(s, "abc");
	TEST_ASSERT_INT_EQ(buffer_len(&buf), 0);
	free(s);
	buffer_deinit(&buf);
}

TEST_MAIN(TEST(test_append_and_consume), TEST(test_max_size_refuses_without_truncating),
	  TEST(test_long_printf), TEST(test_stream_through_is_consistent), TEST(test_steal))
