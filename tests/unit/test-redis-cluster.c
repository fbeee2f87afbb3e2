#include "test.h"
#include "redis-cluster.h"

#include <string.h>

static unsigned int slot_of(const char *key)
{
	return redis_cluster_key_slot(key, strlen(key));
}

static void test_key_slot(void)
{
	/* CRC16/XMODEM check value: crc("123456789") = 0x31C3 = 12739. */
	TEST_ASSERT_UINT_EQ(slot_of("123456789"), 12739);
	/* Examples from the Redis Cluster specification / CLUSTER KEYSLOT docs. */
	TEST_ASSERT_UINT_EQ(slot_of("foo"), 12182);
	TEST_ASSERT_UINT_EQ(slot_of("somekey"), 11058);
	TEST_ASSERT_UINT_EQ(slot_of(""), 0);
	/* Hash tags: only the first {...} with content counts. */
	TEST_ASSERT_UINT_EQ(slot_of("{foo}bar"), 12182);
	TEST_ASSERT_UINT_EQ(slot_of("x{foo}y{z}"), 12182);
	TEST_ASSERT_UINT_EQ(slot_of("/mail/{user1000}/mailboxes"),
			    slot_of("/users/{user1000}"));
	TEST_ASSERT_UINT_EQ(slot_of("{user1000}"), slot_of("user1000"));
	/* "{}" is empty: the whole key is hashed, as is a '{' without '}'. */
	TEST_ASSERT(slot_of("{}foo") != slot_of("foo"));
	TEST_ASSERT_UINT_EQ(slot_of("{}foo"), 9500);   /* crc16("{}foo") mod 16384 */
	TEST_ASSERT_UINT_EQ(slot_of("{foo"), 13308);
	/* "{{foo}}": the tag is "{foo" (up to the first '}'). */
	TEST_ASSERT_UINT_EQ(slot_of("{{foo}}"), slot_of("{foo"));
	/* A NUL inside the key is hashed as a byte. */
	TEST_ASSERT(redis_cluster_key_slot("a\0b", 3) != redis_cluster_key_slot("a", 1));
}

/* text parses as a redirect with exactly these fields. */
static void check_redirect(const char *text, bool ask, unsigned int slot, const char *host,
			   unsigned int port)
{
	struct redis_redirect rd;
	TEST_ASSERT_INT_EQ(redis_cluster_parse_redirect(text, strlen(text), &rd), 1);
	TEST_ASSERT(rd.ask == ask);
	TEST_ASSERT_UINT_EQ(rd.slot, slot);
	TEST_ASSERT_STR_EQ(rd.host, host);
	TEST_ASSERT_UINT_EQ(rd.port, port);
}

static void test_redirects(void)
{
	check_redirect("MOVED 3999 127.0.0.1:6381", false, 3999, "127.0.0.1", 6381);
	check_redirect("ASK 16383 redis-2.example.org:7000", true, 16383, "redis-2.example.org",
		       7000);
	check_redirect("MOVED 0 ::1:7001", false, 0, "::1", 7001);
	check_redirect("MOVED 5 [fe80::2]:7001", false, 5, "fe80::2", 7001);
	/* Unknown endpoint ("?") or none: the same host as asked. */
	check_redirect("MOVED 12 ?:7002", false, 12, "", 7002);
	check_redirect("MOVED 12 :7002", false, 12, "", 7002);
}

static void test_not_redirects(void)
{
	static const char *const other[] = {
		"ERR unknown command", "NOSCRIPT No matching script", "MOVEDX 1 h:1",
		"ASKING", "WRONGTYPE Operation", "",
	};
	static const char *const bad[] = {
		"MOVED ", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0",
		"MOVED 1 h:65536", "MOVED 1 h:1x", "ASK 1", "MOVED 1 a b:1", "MOVED -1 h:1",
	};
	struct redis_redirect rd;
	rd.port = 4242;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		TEST_ASSERT_INT_EQ(redis_cluster_parse_redirect(other[i], strlen(other[i]), &rd), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (redis_cluster_parse_redirect(bad[i], strlen(bad[i]), &rd) != -1)
			test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
	}
	TEST_ASSERT_UINT_EQ(rd.port, 4242);   /* untouched on failure */
	/* A host longer than the buffer is malformed, not truncated. */
	char big[400] = "MOVED 1 ";
	memset(big + 8, 'a', 300);
	memcpy(big + 308, ":1", 3);
	TEST_ASSERT_INT_EQ(redis_cluster_parse_redirect(big, strlen(big), &rd), -1);
}

TEST_MAIN(TEST(test_key_slot), TEST(test_redirects), TEST(test_not_redirects))
