#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H
/* Store helpers shared by the store-level unit tests (tests/unit/test-maildir-*.c,
 * tests/unit/test-redis-store.c): make a store from a config (or a maildir store on a
 * directory), open a user, append a message, and check a mailbox's STATUS counts.
 * Each fails the test on error. */
#include "test.h"
#include "store/store.h"

#include <string.h>

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

/* A maildir store on base_dir (which must exist), on loop (may be NULL). */
static inline struct store *test_maildir_store(const char *base_dir, struct ioloop *loop)
{
	return test_store_create(json_pack("{s:{s:s}, s:{s:s}}", "backend", "type", "maildir",
					   "maildir", "base_dir", base_dir), loop);
}

static inline struct store_user *test_store_user(struct store *store, const char *name)
{
	struct store_user *user = NULL;
	struct store_error error;
	if (store_user_open(store, name, NULL, &user, &error) < 0)
		test_fail(__FILE__, __LINE__, "user_open %s: %s", name, error.message);
	return user;
}

/* APPEND text (NUL-terminated) with system flags to mailbox; *uid_r its UID. */
static inline void test_store_append_text(struct store_user *user, const char *mailbox,
					  const char *text, uint32_t flags, uint32_t *uid_r)
{
	struct store_append_msg msg;
	struct store_error error;
	uint32_t uidvalidity;
	memset(&msg, 0, sizeof(msg));
	msg.data = (const unsigned char *)text;
	msg.size = strlen(text);
	msg.fd = -1;
	msg.flags.system = flags;
	msg.internal_date = 1700000000;
	if (store_append(user, mailbox, &msg, 1, &uidvalidity, uid_r, &error) < 0)
		test_fail(__FILE__, __LINE__, "append to %s: %s", mailbox, error.message);
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
