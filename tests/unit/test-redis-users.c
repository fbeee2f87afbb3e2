/* Key building and the user records of redis-users.c against a private redis-server. */
#include "test-redis-server.h"
#include "redis-keys.h"
#include "redis-users.h"

static struct redis_users *users;

static void test_keys(void)
{
	char *s = redis_keys_tag("alice@example.org");
	TEST_ASSERT_STR_EQ(s, "{alice@example.org}");
	free(s);
	s = redis_keys_tag("a{b}c d/%\xc3\xa9");
	TEST_ASSERT_STR_EQ(s, "{a%7Bb%7Dc%20d%2F%25%C3%A9}");
	free(s);
	s = redis_keys_mail_base("/mail", '/', "bob");
	TEST_ASSERT_STR_EQ(s, "/mail/{bob}/");
	free(s);
	s = redis_keys_user("/users", ':', "bob");
	TEST_ASSERT_STR_EQ(s, "/users:{bob}");
	free(s);
	s = redis_keys_user_index("/users", '/');
	TEST_ASSERT_STR_EQ(s, "/users/index");
	free(s);
}

static void test_setup(void)
{
	TEST_ASSERT_INT_EQ(test_redis_start(), 0);
	char *url = test_redis_url();
	json_t *config = json_pack("{s:{s:s, s:s, s:s}}", "redis", "address", url,
				   "users_prefix", "/users", "separator", "/");
	const char *error = NULL;
	users = redis_users_create(config, &error);
	TEST_ASSERT(users != NULL);
	json_decref(config);
	free(url);
}

static void test_records(void)
{
	json_t *rec = json_pack("{s:s, s:[s], s:{s:s}, s:s}", "password", "$argon2id$x",
				"roles", "admin", "params", "mailbox_path", "/x",
				"etag", "ignored");
	json_t *got = NULL;
	uint64_t tag = 0, tag2 = 0;
	TEST_ASSERT_INT_EQ(redis_users_get(users, "carol", &got), REDIS_USERS_NOTFOUND);
	TEST_ASSERT_INT_EQ(redis_users_set(users, "carol", rec, REDIS_USERS_CREATE, 0, &tag),
			   REDIS_USERS_OK);
	TEST_ASSERT(tag != 0);
	TEST_ASSERT_INT_EQ(redis_users_set(users, "carol", rec, REDIS_USERS_CREATE, 0, &tag2),
			   REDIS_USERS_CONFLICT);
	TEST_ASSERT_INT_EQ(redis_users_get(users, "carol", &got), REDIS_USERS_OK);
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(got, "password")), "$argon2id$x");
	TEST_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(got, "roles"), 0)),
			   "admin");
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(got, "params"),
							     "mailbox_path")), "/x");
	TEST_ASSERT_UINT_EQ(redis_users_record_tag(got), tag);
	json_decref(got);

	TEST_ASSERT_INT_EQ(redis_users_set(users, "carol", rec, REDIS_USERS_REPLACE_TAG,
					   tag + 1, &tag2), REDIS_USERS_CONFLICT);
	TEST_ASSERT_INT_EQ(redis_users_set(users, "carol", rec, REDIS_USERS_REPLACE_TAG,
					   tag, &tag2), REDIS_USERS_OK);
	TEST_ASSERT(tag2 != tag);
	TEST_ASSERT_INT_EQ(redis_users_set(users, "dave", rec, REDIS_USERS_REPLACE_TAG, 5, &tag),
			   REDIS_USERS_NOTFOUND);
	json_t *bare = json_object();
	TEST_ASSERT_INT_EQ(redis_users_set(users, "dave", bare, REDIS_USERS_OVERWRITE, 0, &tag),
			   REDIS_USERS_OK);
	TEST_ASSERT_INT_EQ(redis_users_get(users, "dave", &got), REDIS_USERS_OK);
	TEST_ASSERT(json_object_get(got, "password") == NULL);
	TEST_ASSERT_INT_EQ(json_array_size(json_object_get(got, "roles")), 0);
	json_decref(got);
	json_decref(bare);

	json_t *names = NULL;
	TEST_ASSERT_INT_EQ(redis_users_list(users, &names), REDIS_USERS_OK);
	TEST_ASSERT_INT_EQ(json_array_size(names), 2);
	TEST_ASSERT_STR_EQ(json_string_value(json_array_get(names, 0)), "carol");
	TEST_ASSERT_STR_EQ(json_string_value(json_array_get(names, 1)), "dave");
	json_decref(names);

	TEST_ASSERT_INT_EQ(redis_users_delete(users, "carol", tag2 + 1), REDIS_USERS_CONFLICT);
	TEST_ASSERT_INT_EQ(redis_users_delete(users, "carol", tag2), REDIS_USERS_OK);
	TEST_ASSERT_INT_EQ(redis_users_delete(users, "carol", 0), REDIS_USERS_NOTFOUND);
	TEST_ASSERT_INT_EQ(redis_users_list(users, &names), REDIS_USERS_OK);
	TEST_ASSERT_INT_EQ(json_array_size(names), 1);
	json_decref(names);
	json_decref(rec);
}

static void test_key_name_and_unavailable(void)
{
	redisContext *ctx = test_redis_ctx();
	redisReply *reply = redisCommand(ctx, "EXISTS %s", "/users/{dave}");
	TEST_ASSERT(reply != NULL && reply->integer == 1);
	freeReplyObject(reply);
	redisFree(ctx);
	test_redis_stop();
	json_t *got;
	TEST_ASSERT_INT_EQ(redis_users_get(users, "dave", &got), REDIS_USERS_UNAVAILABLE);
	redis_users_destroy(&users);
	TEST_ASSERT(users == NULL);
}

TEST_MAIN(TEST(test_keys), TEST(test_setup), TEST(test_records),
	  TEST(test_key_name_and_unavailable))
