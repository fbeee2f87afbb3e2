#include "test.h"
#include "redis-url.h"

#include <stdlib.h>

static void test_tcp_defaults(void)
{
	struct redis_url url;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("redis://localhost", false, &url, &error), 0);
	TEST_ASSERT_INT_EQ(url.kind, REDIS_URL_TCP);
	TEST_ASSERT_STR_EQ(url.host, "localhost");
	TEST_ASSERT_UINT_EQ(url.port, 6379);
	TEST_ASSERT_UINT_EQ(url.db, 0);
	TEST_ASSERT(url.password == NULL && url.username == NULL);
	TEST_ASSERT_UINT_EQ(url.connect_timeout_ms, 2000);
	TEST_ASSERT_UINT_EQ(url.command_timeout_ms, 3000);
	redis_url_free(&url);
}

static void test_tcp_full(void)
{
	struct redis_url url;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("redis://alice:s%40cret@10.0.0.5:7000/3?timeout=500"
					   "&connect_timeout=250", false, &url, &error), 0);
	TEST_ASSERT_STR_EQ(url.host, "10.0.0.5");
	TEST_ASSERT_UINT_EQ(url.port, 7000);
	TEST_ASSERT_UINT_EQ(url.db, 3);
	TEST_ASSERT_STR_EQ(url.username, "alice");
	TEST_ASSERT_STR_EQ(url.password, "s@cret");
	TEST_ASSERT_UINT_EQ(url.command_timeout_ms, 500);
	TEST_ASSERT_UINT_EQ(url.connect_timeout_ms, 250);
	char *desc = redis_url_describe(&url);
	TEST_ASSERT_STR_EQ(desc, "10.0.0.5:7000/3");
	free(desc);
	redis_url_free(&url);
}

static void test_password_only_and_ipv6(void)
{
	struct redis_url url;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("redis://:pw@[::1]:6380", false, &url, &error), 0);
	TEST_ASSERT(url.username == NULL);
	TEST_ASSERT_STR_EQ(url.password, "pw");
	TEST_ASSERT_STR_EQ(url.host, "::1");
	TEST_ASSERT_UINT_EQ(url.port, 6380);
	char *desc = redis_url_describe(&url);
	TEST_ASSERT_STR_EQ(desc, "[::1]:6380/0");
	free(desc);
	redis_url_free(&url);
}

static void test_unix(void)
{
	struct redis_url url;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("unix:///run/redis/redis.sock?db=2", false,
					   &url, &error), 0);
	TEST_ASSERT_INT_EQ(url.kind, REDIS_URL_UNIX);
	TEST_ASSERT_STR_EQ(url.path, "/run/redis/redis.sock");
	TEST_ASSERT_UINT_EQ(url.db, 2);
	redis_url_free(&url);
	TEST_ASSERT_INT_EQ(redis_url_parse("unix://u:p@/tmp/r.sock", false, &url, &error), 0);
	TEST_ASSERT_STR_EQ(url.path, "/tmp/r.sock");
	TEST_ASSERT_STR_EQ(url.username, "u");
	TEST_ASSERT_STR_EQ(url.password, "p");
	redis_url_free(&url);
}

static void test_tls(void)
{
	struct redis_url url;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("rediss://h:6390", false, &url, &error), -1);
	TEST_ASSERT(error != NULL && strstr(error, "TLS") != NULL);
	TEST_ASSERT_INT_EQ(redis_url_parse("rediss://h:6390", true, &url, &error), 0);
	TEST_ASSERT_INT_EQ(url.kind, REDIS_URL_TLS);
	TEST_ASSERT_UINT_EQ(url.port, 6390);
	redis_url_free(&url);
}

static void test_rejects(void)
{
	static const char *const bad[] = {
		"http://x", "redis://", "redis://h:0", "redis://h:65536", "redis://h:12x",
		"redis://h/abc", "redis://[::1", "redis://[::1]x", "unix://relative.sock",
		"redis://h?timeout=0", "redis://h?bogus=1", "redis://h?timeout",
		"redis://a:%zz@h", "redis://a:%00@h", "redis://a:%4@h",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct redis_url url;
		const char *error = NULL;
		if (redis_url_parse(bad[i], false, &url, &error) == 0) {
			test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
			redis_url_free(&url);
		}
		TEST_ASSERT(error != NULL);
	}
}

TEST_MAIN(TEST(test_tcp_defaults), TEST(test_tcp_full), TEST(test_password_only_and_ipv6),
	  TEST(test_unix), TEST(test_tls), TEST(test_rejects))
