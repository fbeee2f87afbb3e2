#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H
/* Store helpers shared by the store-level unit tests (tests/unit/test-maildir-*.c,
 * tests/unit/test-redis-store.c): make a store from a config, open a user, and check
 * a mailbox's STATUS counts. Each fails the test on error. */
#include "test.h"
#include "store/store.h"

/* Creates a store from config (consumed) on loop (may be NULL). */
static inline struct store *test_store_create(json_t *config, struct ioloop *loop)
{
	struct store *store = NULL;
	const char *error = NULL;
	if (store_create(config, loop, &store, &error) < 0)
		test_fail(__FILE__, __LINE__, "store_create: %s", error);
	json_decref(config);
	return store;
}

static inline struct store_user *test_store_user(struct store *store, const char *name)
{
	struct store_user *user = NULL;
	struct store_error error;
	if (store_user_open(store, name, NULL, &user, &error) < 0)
		test_fail(__FILE__, __LINE__, "user_open %s: %s", name, error.message);
	return user;
}

/* STATUS of mailbox must report these MESSAGES, UNSEEN and UIDNEXT. */
#define TEST_STORE_STATUS_IS(user, mailbox, messages_, unseen_, uidnext_) \
	do { struct store_mailbox_status _st; struct store_error _err; \
	     TEST_ASSERT_INT_EQ(store_status(user, mailbox, &_st, &_err), 0); \
	     TEST_ASSERT_UINT_EQ(_st.messages, messages_); \
	     TEST_ASSERT_UINT_EQ(_st.unseen, unseen_); \
	     TEST_ASSERT_UINT_EQ(_st.uidnext, uidnext_); \
	} while (0)

#endif
