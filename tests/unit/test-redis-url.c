#include "test.h"
#include "redis-url.h"

#include <stdlib.h>

static void test_tcp_defaults(void)
{
	struct redis_url url;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("redis://localhost", &url, &error), 0);
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
					   "&connect_timeout=250", &url, &error), 0);
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
	TEST_ASSERT_INT_EQ(redis_url_parse("redis://:pw@[::1]:6380", &url, &error), 0);
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
	TEST_ASSERT_INT_EQ(redis_url_parse("unix:///run/redis/redis.sock?db=2",
					   &url, &error), 0);
	TEST_ASSERT_INT_EQ(url.kind, REDIS_URL_UNIX);
	TEST_ASSERT_STR_EQ(url.path, "/run/redis/redis.sock");
	TEST_ASSERT_UINT_EQ(url.db, 2);
	redis_url_free(&url);
	TEST_ASSERT_INT_EQ(redis_url_parse("unix://u:p@/tmp/r.sock", &url, &error), 0);
	TEST_ASSERT_STR_EQ(url.path, "/tmp/r.sock");
	TEST_ASSERT_STR_EQ(url.username, "u");
	TEST_ASSERT_STR_EQ(url.password, "p");
	redis_url_free(&url);
}

static void test_tls(void)
{
	struct redis_url url;
	const char *error = NULL;
	/* TLS is always available now (redis-net.c); the flag is ignored. */
	TEST_ASSERT_INT_EQ(redis_url_parse("rediss://h:6390", &url, &error), 0);
	TEST_ASSERT_INT_EQ(url.kind, REDIS_URL_TLS);
	TEST_ASSERT_UINT_EQ(url.port, 6390);
	TEST_ASSERT(url.tls_ca_file == NULL && url.tls_cert_file == NULL);
	TEST_ASSERT(url.tls_key_file == NULL && url.tls_server_name == NULL);
	redis_url_free(&url);
	TEST_ASSERT_INT_EQ(redis_url_parse("rediss://:pw@10.1.2.3/2?tls_ca_file=/etc/r%20ca.pem"
					   "&tls_cert_file=/c.pem&tls_key_file=/k.pem"
					   "&tls_server_name=redis.example.org&timeout=900", &url, &error), 0);
	TEST_ASSERT_STR_EQ(url.host, "10.1.2.3");
	TEST_ASSERT_UINT_EQ(url.port, 6379);
	TEST_ASSERT_UINT_EQ(url.db, 2);
	TEST_ASSERT_STR_EQ(url.tls_ca_file, "/etc/r ca.pem");
	TEST_ASSERT_STR_EQ(url.tls_cert_file, "/c.pem");
	TEST_ASSERT_STR_EQ(url.tls_key_file, "/k.pem");
	TEST_ASSERT_STR_EQ(url.tls_server_name, "redis.example.org");
	TEST_ASSERT_UINT_EQ(url.command_timeout_ms, 900);
	redis_url_free(&url);
}

static void test_copy_node(void)
{
	struct redis_url url, node;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(redis_url_parse("rediss://u:p@first:7000/0?tls_ca_file=/ca.pem"
					   "&timeout=700", &url, &error), 0);
	redis_url_copy_node(&url, "10.0.0.9", 7002, &node);
	redis_url_free(&url);   /* the copy owns its strings */
	TEST_ASSERT_INT_EQ(node.kind, REDIS_URL_TLS);
	TEST_ASSERT_STR_EQ(node.host, "10.0.0.9");
	TEST_ASSERT_UINT_EQ(node.port, 7002);
	TEST_ASSERT_STR_EQ(node.username, "u");
	TEST_ASSERT_STR_EQ(node.password, "p");
	TEST_ASSERT_STR_EQ(node.tls_ca_file, "/ca.pem");
	TEST_ASSERT_UINT_EQ(node.command_timeout_ms, 700);
	redis_url_free(&node);
	TEST_ASSERT_INT_EQ(redis_url_parse("unix:///tmp/r.sock", &url, &error), 0);
	redis_url_copy_node(&url, "127.0.0.1", 7001, &node);
	TEST_ASSERT_INT_EQ(node.kind, REDIS_URL_TCP);
	TEST_ASSERT(node.path == NULL);
	redis_url_free(&url);
	redis_url_free(&node);
}

static void test_rejects(void)
{
	static const char *const bad[] = {
		"http://x", "redis://", "redis://h:0", "redis://h:65536", "redis://h:12x",
		"redis://h/abc", "redis://[::1", "redis://[::1]x", "unix://relative.sock",
		"redis://h?timeout=0", "redis://h?bogus=1", "redis://h?timeout",
		"redis://a:%zz@h", "redis://a:%00@h", "redis://a:%4@h",
		"redis://h?tls_ca_file=/ca.pem", "rediss://h?tls_ca_file=",
		"rediss://h?tls_key_file=/k.pem", "rediss://h?tls_ca_file=a&tls_ca_file=b",
		"rediss://h?tls_server_name=%00", "unix:///s?tls_cert_file=/c.pem",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct redis_url url;
		const char *error = NULL;
		if (redis_url_parse(bad[i], &url, &error) == 0) {
			test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
			redis_url_free(&url);
		}
		TEST_ASSERT(error != NULL);
	}
}

TEST_MAIN(TEST(test_tcp_defaults), TEST(test_tcp_full), TEST(test_password_only_and_ipv6),
	  TEST(test_unix), TEST(test_tls), TEST(test_copy_node),
	  TEST(test_rejects))
