#include "test.h"
#include "src/auth/lockout.h"

#include <stdio.h>

static void test_threshold_and_window(void)
{
	struct lockout_settings set = { .threshold = 3, .window_secs = 60 };
	struct lockout *l = lockout_create(&set);
	TEST_ASSERT(!lockout_is_locked(l, "10.0.0.1", "alice", 100));
	lockout_failure(l, "10.0.0.1", "alice", 100);
	lockout_failure(l, "10.0.0.1", "alice", 101);
	TEST_ASSERT(!lockout_is_locked(l, "10.0.0.1", "alice", 102));
	lockout_failure(l, "10.0.0.1", "alice", 102);
	/* locked by IP and by user: either key alone is enough */
	TEST_ASSERT(lockout_is_locked(l, "10.0.0.1", "bob", 103));
	TEST_ASSERT(lockout_is_locked(l, "10.0.0.2", "alice", 103));
	TEST_ASSERT(!lockout_is_locked(l, "10.0.0.2", "bob", 103));
	TEST_ASSERT(lockout_is_locked(l, "10.0.0.1", NULL, 161));
	TEST_ASSERT(!lockout_is_locked(l, "10.0.0.1", "alice", 162));   /* 102 + 60 */
	lockout_destroy(&l);
	TEST_ASSERT(l == NULL);
}

static void test_window_resets_and_success_clears(void)
{
	struct lockout_settings set = { .threshold = 2, .window_secs = 10 };
	struct lockout *l = lockout_create(&set);
	lockout_failure(l, "ip1", "u", 0);
	lockout_failure(l, "ip1", "u", 11);   /* first failure's window is over */
	TEST_ASSERT(!lockout_is_locked(l, "ip1", "u", 12));
	lockout_success(l, "ip1", "u");
	lockout_failure(l, "ip1", "u", 13);   /* counting starts again */
	TEST_ASSERT(!lockout_is_locked(l, "ip1", "u", 13));
	lockout_failure(l, "ip1", "u", 14);
	TEST_ASSERT(lockout_is_locked(l, "ip1", "u", 14));
	lockout_destroy(&l);
}

static void test_disabled(void)
{
	struct lockout_settings set = { .threshold = 0, .window_secs = 10 };
	struct lockout *l = lockout_create(&set);
	for (int i = 0; i < 100; i++)
		lockout_failure(l, "ip", "u", 1);
	TEST_ASSERT(!lockout_is_locked(l, "ip", "u", 1));
	TEST_ASSERT_INT_EQ(lockout_entry_count(l), 0);
	lockout_destroy(&l);
}

static void test_many_keys_bounded(void)
{
	struct lockout_settings set = { .threshold = 5, .window_secs = 10 };
	struct lockout *l = lockout_create(&set);
	char ip[32];
	for (unsigned int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.1", i / 256, i % 256);
		lockout_failure(l, ip, NULL, i / 1000 * 20);   /* older ones expire */
	}
	TEST_ASSERT(lockout_entry_count(l) <= 5000);
	TEST_ASSERT(lockout_entry_count(l) >= 1000);
	snprintf(ip, sizeof(ip), "10.%u.%u.1", 4999 / 256, 4999 % 256);
	for (int i = 0; i < 4; i++)
		lockout_failure(l, ip, NULL, 80);
	TEST_ASSERT(lockout_is_locked(l, ip, NULL, 80));
	lockout_destroy(&l);
}

TEST_MAIN(TEST(test_threshold_and_window), TEST(test_window_resets_and_success_clears),
	  TEST(test_disabled), TEST(test_many_keys_bounded))
