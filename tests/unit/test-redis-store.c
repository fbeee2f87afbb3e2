/* The redis store against a private redis-server: mailbox list, append, flags,
 * change log, expunge, copy/move with content reference counts, MIME cache, watch
 * through pub/sub, Redis going away and coming back, hash-tag discipline and THREADID
 * linking. */
#include "test-redis-server.h"
#include "test-store-util.h"
#include "ioloop.h"
#include "buffer.h"

static const char msg1[] = "From: a@example.org\r\nSubject: one\r\n\r\nbody one\r\n";
static const char msg2[] = "From: b@example.org\r\nSubject: two\r\n"
			   "Content-Type: text/plain\r\n\r\nbody two\r\n";

static struct ioloop *loop;

static struct store *new_store(void)
{
	char *url = test_redis_url();
	struct store *store = test_store_create(
		json_pack("{s:{s:s}, s:{s:s, s:s, s:s}}", "backend", "type", "redis",
			  "redis", "data_address", url, "separator", "/", "prefix", "/mail"),
		loop);
	free(url);
	return store;
}

static struct store_append_msg mk_msg(const char *data, uint32_t flags,
				      const char *const *kw, unsigned int kwcount)
{
	struct store_append_msg msg = {
		.data = (const unsigned char *)data, .fd = -1, .size = strlen(data),
		.flags = { .system = flags }, .keyword_names = kw, .keyword_count = kwcount,
		.internal_date = 1700000000, .internal_tz_min = 60,
	};
	return msg;
}

static void test_mailbox_list(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "list@example.org");
	struct store_error error;
	struct store_list_entry *entries;
	unsigned int count;
	char id[STORE_ID_MAX_BYTES];

	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "a/b/c", id, &error), 0);
	TEST_ASSERT(id[0] == 'F' && strlen(id) == 33);
	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "Sent", id, &error), 0);
	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "Sent", id, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_ALREADYEXISTS);
	TEST_ASSERT_INT_EQ(store_list(user, &entries, &count, &error), 0);
	TEST_ASSERT_INT_EQ(count, 5);
	if (count == 5) {
		TEST_ASSERT_STR_EQ(entries[0].name, "INBOX");
		/* Byte order after INBOX; missing parents before their children. */
		TEST_ASSERT_STR_EQ(entries[1].name, "Sent");
		TEST_ASSERT_STR_EQ(entries[2].name, "a");
		TEST_ASSERT(entries[2].noselect);
		TEST_ASSERT_STR_EQ(entries[3].name, "a/b");
		TEST_ASSERT(entries[3].noselect);
		TEST_ASSERT_STR_EQ(entries[4].name, "a/b/c");
		TEST_ASSERT(!entries[4].noselect);
	}
	store_list_free(&entries, count);

	TEST_ASSERT_INT_EQ(store_rename_mailbox(user, "a", "x", &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);
	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "a", id, &error), 0);
	TEST_ASSERT_INT_EQ(store_rename_mailbox(user, "a", "a/d", &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_CANNOT);
	TEST_ASSERT_INT_EQ(store_rename_mailbox(user, "a", "Sent", &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_ALREADYEXISTS);
	TEST_ASSERT_INT_EQ(store_rename_mailbox(user, "a", "z", &error), 0);
	struct store_mailbox_status status;
	TEST_ASSERT_INT_EQ(store_status(user, "z/b/c", &status, &error), 0);
	TEST_ASSERT_INT_EQ(store_status(user, "a/b/c", &status, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);
	TEST_ASSERT_INT_EQ(store_delete_mailbox(user, "INBOX", &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_CANNOT);
	TEST_ASSERT_INT_EQ(store_delete_mailbox(user, "Sent", &error), 0);
	TEST_ASSERT_INT_EQ(store_delete_mailbox(user, "Sent", &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);

	TEST_ASSERT_INT_EQ(store_subscribe(user, "Ünïcode", true, &error), 0);
	TEST_ASSERT_INT_EQ(store_subscribe(user, "gone", true, &error), 0);
	TEST_ASSERT_INT_EQ(store_subscribe(user, "gone", false, &error), 0);
	TEST_ASSERT_INT_EQ(store_subscriptions(user, &entries, &count, &error), 0);
	TEST_ASSERT_INT_EQ(count, 1);
	if (count == 1)
		TEST_ASSERT_STR_EQ(entries[0].name, "Ünïcode");
	store_list_free(&entries, count);
	store_user_close(&user);
	store_destroy(&store);
}

static void test_append_flags_changes(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "flags");
	struct store_error error;
	struct store_mailbox *mbox;
	struct store_snapshot *snap;
	struct store_changes *changes;
	const char *kw[] = { "$Forwarded", "Work" };
	struct store_append_msg msgs[2] = { mk_msg(msg1, STORE_FLAG_SEEN, kw, 2),
					    mk_msg(msg2, 0, NULL, 0) };
	uint32_t uidv = 0, uids[2] = { 0, 0 }, first;

	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", msgs, 2, &uidv, uids, &error), 0);
	TEST_ASSERT_UINT_EQ(uids[0], 1);
	TEST_ASSERT_UINT_EQ(uids[1], 2);
	TEST_ASSERT(uidv != 0);
	TEST_ASSERT_INT_EQ(store_append(user, "Nope", msgs, 1, &uidv, uids, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);

	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), 0);
	TEST_ASSERT_UINT_EQ(snap->count, 2);
	TEST_ASSERT_UINT_EQ(snap->status.uidvalidity, uidv);
	TEST_ASSERT_UINT_EQ(snap->status.uidnext, 3);
	TEST_ASSERT_UINT_EQ(snap->status.unseen, 1);
	TEST_ASSERT_UINT_EQ(snap->status.recent, 2);
	TEST_ASSERT_UINT_EQ(snap->keyword_count, 2);
	TEST_ASSERT_STR_EQ(snap->keywords[1], "Work");
	TEST_ASSERT_UINT_EQ(snap->msgs[0].flags.system, STORE_FLAG_SEEN);
	TEST_ASSERT_UINT_EQ(snap->msgs[0].flags.keywords, 3);
	TEST_ASSERT_UINT_EQ(snap->msgs[0].size, strlen(msg1));
	TEST_ASSERT_INT_EQ(snap->msgs[0].internal_date, 1700000000);
	TEST_ASSERT_INT_EQ(snap->msgs[0].internal_tz_min, 60);
	TEST_ASSERT_UINT_EQ(snap->msgs[1].flags.keywords, 0);
	TEST_ASSERT(snap->msgs[0].emailid[0] == 'M');
	uint64_t base = snap->modseq;
	store_snapshot_free(&snap);

	TEST_ASSERT_INT_EQ(store_mailbox_claim_recent(mbox, &first, &error), 0);
	TEST_ASSERT_UINT_EQ(first, 1);
	TEST_ASSERT_INT_EQ(store_mailbox_claim_recent(mbox, &first, &error), 0);
	TEST_ASSERT_UINT_EQ(first, 3);

	uint32_t both[] = { 1, 2 };
	const char *kw2[] = { "work", "New" };
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(mbox, both, 2, STORE_FLAGS_ADD,
						      STORE_FLAG_FLAGGED, kw2, 2, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_changes(mbox, base, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 2);
	TEST_ASSERT_UINT_EQ(changes->keyword_count, 3);
	if (changes->count == 2) {
		TEST_ASSERT_INT_EQ(changes->changes[0].kind, STORE_CHANGE_FLAGS);
		TEST_ASSERT_UINT_EQ(changes->changes[0].meta.uid, 1);
		TEST_ASSERT_UINT_EQ(changes->changes[0].meta.flags.system,
				    STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
		TEST_ASSERT_UINT_EQ(changes->changes[0].meta.flags.keywords, 7);
		TEST_ASSERT_UINT_EQ(changes->changes[1].meta.flags.keywords, 6);
		TEST_ASSERT_UINT_EQ(changes->changes[1].meta.modseq, base + 2);
	}
	TEST_ASSERT_UINT_EQ(changes->modseq, base + 2);
	store_changes_free(&changes);
	/* No-op changes do not move the modseq. */
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(mbox, both, 2, STORE_FLAGS_ADD,
						      STORE_FLAG_FLAGGED, NULL, 0, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_changes(mbox, base + 2, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 0);
	store_changes_free(&changes);
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(mbox, both, 1, STORE_FLAGS_REPLACE,
						      STORE_FLAG_DELETED, NULL, 0, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_update_flags(mbox, both + 1, 1, STORE_FLAGS_REMOVE,
						      0, kw2, 1, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_expunge(mbox, NULL, 0, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_changes(mbox, base + 2, &changes, &error), 1);
	TEST_ASSERT_UINT_EQ(changes->count, 3);
	if (changes->count == 3) {
		TEST_ASSERT_UINT_EQ(changes->changes[0].meta.flags.system, STORE_FLAG_DELETED);
		TEST_ASSERT_UINT_EQ(changes->changes[0].meta.flags.keywords, 0);
		TEST_ASSERT_UINT_EQ(changes->changes[1].meta.uid, 2);
		TEST_ASSERT_UINT_EQ(changes->changes[1].meta.flags.keywords, 4);
		TEST_ASSERT_INT_EQ(changes->changes[2].kind, STORE_CHANGE_EXPUNGE);
		TEST_ASSERT_UINT_EQ(changes->changes[2].meta.uid, 1);
	}
	store_changes_free(&changes);
	TEST_STORE_STATUS_IS(user, "INBOX", 1, 1, 3);
	struct store_mailbox_status status;
	TEST_ASSERT_INT_EQ(store_status(user, "INBOX", &status, &error), 0);
	TEST_ASSERT_UINT_EQ(status.recent, 0);
	store_mailbox_close(&mbox);
	store_user_close(&user);
	store_destroy(&store);
}

static long long key_exists(redisContext *ctx, const char *key)
{
	redisReply *reply = redisCommand(ctx, "EXISTS %s", key);
	long long n = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
	if (reply != NULL)
		freeReplyObject(reply);
	return n;
}

static void test_copy_move_content(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "copy");
	struct store_error error;
	struct store_mailbox *mbox, *dest;
	struct store_content *content;
	struct store_append_msg msg = mk_msg(msg2, STORE_FLAG_DELETED, NULL, 0);
	uint32_t uidv, uid, src_uids[1], dest_uids[1];
	unsigned int copied;
	char id[STORE_ID_MAX_BYTES];
	redisContext *ctx = test_redis_ctx();

	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "Archive", id, &error), 0);
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", &msg, 1, &uidv, &uid, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, uid, &content, &error), 0);
	TEST_ASSERT_MEM_EQ(content->data, content->size, msg2, strlen(msg2));
	TEST_ASSERT(content->parsed != NULL);   /* cached at append time */
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 99, &content, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);

	TEST_ASSERT_INT_EQ(store_mailbox_copy(mbox, &uid, 1, "Archive", false, &uidv, src_uids,
					      dest_uids, &copied, &error), 0);
	TEST_ASSERT_UINT_EQ(copied, 1);
	TEST_ASSERT_UINT_EQ(dest_uids[0], 1);
	TEST_ASSERT_INT_EQ(store_mailbox_copy(mbox, &uid, 1, "Archive", true, &uidv, src_uids,
					      dest_uids, &copied, &error), 0);
	TEST_ASSERT_UINT_EQ(copied, 1);
	TEST_ASSERT_UINT_EQ(src_uids[0], uid);
	TEST_ASSERT_UINT_EQ(dest_uids[0], 2);
	TEST_ASSERT_INT_EQ(store_mailbox_copy(mbox, &uid, 1, "Archive", true, &uidv, src_uids,
					      dest_uids, &copied, &error), 0);
	TEST_ASSERT_UINT_EQ(copied, 0);
	TEST_ASSERT_INT_EQ(store_mailbox_copy(mbox, &uid, 1, "None", false, &uidv, src_uids,
					      dest_uids, &copied, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);

	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "Archive", false, &dest, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(dest, 2, &content, &error), 0);
	char *key = content != NULL ? malloc(200) : NULL;
	if (content != NULL) {
		struct store_snapshot *snap;
		TEST_ASSERT_INT_EQ(store_mailbox_snapshot(dest, &snap, &error), 0);
		TEST_ASSERT_UINT_EQ(snap->count, 2);
		/* Both copies share one stored content. */
		TEST_ASSERT_STR_EQ(snap->msgs[0].emailid, snap->msgs[1].emailid);
		snprintf(key, 200, "/mail/{copy}/content/%s", snap->msgs[0].emailid);
		store_snapshot_free(&snap);
		store_content_release(&content);
	}
	TEST_ASSERT_INT_EQ(key_exists(ctx, key), 1);
	uint32_t one = 1;
	TEST_ASSERT_INT_EQ(store_mailbox_expunge(dest, &one, 1, &error), 0);
	TEST_ASSERT_INT_EQ(key_exists(ctx, key), 1);
	TEST_ASSERT_INT_EQ(store_delete_mailbox(user, "Archive", &error), 0);
	TEST_ASSERT_INT_EQ(key_exists(ctx, key), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(dest, NULL, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);
	free(key);
	redisFree(ctx);
	store_mailbox_close(&dest);
	store_mailbox_close(&mbox);
	store_user_close(&user);
	store_destroy(&store);
}

/* Scripts run by Redis since the last CONFIG RESETSTAT (EVALSHA and EVAL calls): the
 * store's round trips. */
static long long script_calls(redisContext *ctx)
{
	redisReply *reply = redisCommand(ctx, "INFO commandstats");
	long long total = 0;
	const char *names[] = { "cmdstat_evalsha:calls=", "cmdstat_eval:calls=" };
	for (size_t i = 0; reply != NULL && reply->str != NULL && i < 2; i++) {
		const char *p = strstr(reply->str, names[i]);
		if (p != NULL)
			total += atoll(p + strlen(names[i]));
	}
	if (reply != NULL)
		freeReplyObject(reply);
	return total;
}

static void reset_stats(redisContext *ctx)
{
	redisReply *reply = redisCommand(ctx, "CONFIG RESETSTAT");
	if (reply != NULL)
		freeReplyObject(reply);
}

/* FETCH's read-ahead: one script for a batch; structure-only leaves the bytes in
 * Redis until a section needs them; what is bigger than the byte budget and what
 * was not prefetched is read on demand; a sync drops the read-ahead. */
static void test_prefetch(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "prefetch");
	struct store_error error;
	struct store_mailbox *mbox;
	struct store_content *content;
	struct store_snapshot *snap;
	struct store_append_msg msgs[3] = { mk_msg(msg1, 0, NULL, 0), mk_msg(msg2, 0, NULL, 0),
					    mk_msg(msg1, 0, NULL, 0) };
	uint32_t uidv, uids[3], ask[] = { 1, 2, 99, 3 };
	redisContext *ctx = test_redis_ctx();

	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", msgs, 3, &uidv, uids, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	/* Run each script once first: the first EVALSHA of a script fails with NOSCRIPT
	 * and is sent again as EVAL, which would count twice below. */
	TEST_ASSERT_INT_EQ(store_mailbox_prefetch(mbox, ask, 1, STORE_PREFETCH_STRUCTURE,
						  &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 1, &content, &error), 0);
	TEST_ASSERT_INT_EQ(store_content_load(content, &error), 0);
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), 0);
	store_snapshot_free(&snap);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 1, &content, &error), 0);
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), 0);
	store_snapshot_free(&snap);
	reset_stats(ctx);
	TEST_ASSERT_INT_EQ(store_mailbox_prefetch(mbox, ask, 4, STORE_PREFETCH_STRUCTURE,
						  &error), 0);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 1);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 2, &content, &error), 0);
	TEST_ASSERT(content->parsed != NULL);
	TEST_ASSERT(content->data == NULL);          /* not read: the parse was enough */
	TEST_ASSERT_UINT_EQ(content->size, strlen(msg2));
	TEST_ASSERT_INT_EQ(store_content_load(content, &error), 0);
	TEST_ASSERT_MEM_EQ(content->data, content->size, msg2, strlen(msg2));
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 2);    /* the load */
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 1, &content, &error), 0);
	TEST_ASSERT(content->parsed != NULL && content->data == NULL);
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 2);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 99, &content, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_NONEXISTENT);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 3);
	/* A sync drops the rest (UID 3 is read on its own). */
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), 0);
	store_snapshot_free(&snap);
	reset_stats(ctx);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 3, &content, &error), 0);
	TEST_ASSERT_MEM_EQ(content->data, content->size, msg1, strlen(msg1));
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 1);

	/* Full: the bytes come along, within the byte budget. */
	struct buffer big;
	buffer_init(&big, 0);
	buffer_append_str(&big, "Subject: big\r\n\r\n");
	while (buffer_len(&big) < 5 * 1024 * 1024)
		buffer_append_str(&big, "0123456789012345678901234567890123456789012345678\r\n");
	struct store_append_msg bigmsg = mk_msg(buffer_str(&big), 0, NULL, 0);
	uint32_t bigask[] = { 1, 4, 2 };
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", &bigmsg, 1, &uidv, uids, &error), 0);
	TEST_ASSERT_UINT_EQ(uids[0], 4);
	reset_stats(ctx);
	TEST_ASSERT_INT_EQ(store_mailbox_prefetch(mbox, bigask, 3, STORE_PREFETCH_FULL, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 1, &content, &error), 0);
	TEST_ASSERT(content->data != NULL && content->parsed != NULL);
	TEST_ASSERT_MEM_EQ(content->data, content->size, msg1, strlen(msg1));
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 1);
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 4, &content, &error), 0);
	TEST_ASSERT_MEM_EQ(content->data, content->size, buffer_data(&big), buffer_len(&big));
	store_content_release(&content);
	TEST_ASSERT_INT_EQ(script_calls(ctx), 2);    /* over the budget: read on its own */
	TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, 2, &content, &error), 0);
	TEST_ASSERT_MEM_EQ(content->data, content->size, msg2, strlen(msg2));
	TEST_ASSERT_INT_EQ(script_calls(ctx), 2);    /* the batch went on after it */
	store_content_release(&content);

	/* Three 1.5 MiB messages: the budget takes two; asking for the third reads the
	 * rest of what was announced from there. */
	buffer_truncate(&big, 1536 * 1024);
	struct store_append_msg mid[3] = { mk_msg(buffer_str(&big), 0, NULL, 0),
					   mk_msg(buffer_str(&big), 0, NULL, 0),
					   mk_msg(buffer_str(&big), 0, NULL, 0) };
	uint32_t midask[] = { 5, 6, 7, 3 };
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", mid, 3, &uidv, uids, &error), 0);
	TEST_ASSERT_UINT_EQ(uids[2], 7);
	reset_stats(ctx);
	TEST_ASSERT_INT_EQ(store_mailbox_prefetch(mbox, midask, 4, STORE_PREFETCH_FULL, &error), 0);
	for (unsigned int i = 0; i < 4; i++) {
		TEST_ASSERT_INT_EQ(store_mailbox_get_content(mbox, midask[i], &content, &error), 0);
		if (i < 3)
			TEST_ASSERT_MEM_EQ(content->data, content->size, buffer_data(&big), 1536 * 1024);
		else
			TEST_ASSERT_MEM_EQ(content->data, content->size, msg1, strlen(msg1));
		store_content_release(&content);
		TEST_ASSERT_INT_EQ(script_calls(ctx), i < 2 ? 1 : 2);
	}
	/* Prefetched and never asked for: freed at close (the sanitizer build checks). */
	TEST_ASSERT_INT_EQ(store_mailbox_prefetch(mbox, ask, 4, STORE_PREFETCH_FULL, &error), 0);
	buffer_deinit(&big);
	redisFree(ctx);
	store_mailbox_close(&mbox);
	store_user_close(&user);
	store_destroy(&store);
}

static int watch_calls;
static void watch_cb(void *context)
{
	(void)context;
	watch_calls++;
}

static void run_until(int *counter, int target, int max_ms)
{
	for (int waited = 0; *counter < target && waited < max_ms; waited += 10)
		ioloop_run_once(loop, 10);
}

static void test_watch_across_stores(void)
{
	struct store *a = new_store(), *b = new_store();
	struct store_user *ua = test_store_user(a, "watch"), *ub = test_store_user(b, "watch");
	struct store_user *other = test_store_user(b, "someone-else");
	struct store_error error;
	struct store_mailbox *mbox;
	struct store_append_msg msg = mk_msg(msg1, 0, NULL, 0);
	uint32_t uidv, uid;

	TEST_ASSERT_INT_EQ(store_mailbox_open(ua, "INBOX", false, &mbox, &error), 0);
	struct store_watch *watch = store_mailbox_watch(mbox, watch_cb, NULL);
	run_until(&watch_calls, 1, 100);   /* let SUBSCRIBE settle */
	watch_calls = 0;
	TEST_ASSERT_INT_EQ(store_append(other, "INBOX", &msg, 1, &uidv, &uid, &error), 0);
	run_until(&watch_calls, 1, 200);
	TEST_ASSERT_INT_EQ(watch_calls, 0);   /* another user's channel */
	TEST_ASSERT_INT_EQ(store_append(ub, "INBOX", &msg, 1, &uidv, &uid, &error), 0);
	run_until(&watch_calls, 1, 1000);
	TEST_ASSERT_INT_EQ(watch_calls, 1);
	store_watch_remove(&watch);
	store_mailbox_close(&mbox);
	store_user_close(&ua);
	store_user_close(&ub);
	store_user_close(&other);
	store_destroy(&a);
	store_destroy(&b);
}

static void test_unavailable_and_recovery(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "down");
	struct store_error error;
	struct store_mailbox *mbox;
	struct store_append_msg msg = mk_msg(msg1, 0, NULL, 0);
	uint32_t uidv, uid;

	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	struct store_watch *watch = store_mailbox_watch(mbox, watch_cb, NULL);
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", &msg, 1, &uidv, &uid, &error), 0);
	test_redis_stop();
	watch_calls = 0;
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", &msg, 1, &uidv, &uid, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_UNAVAILABLE);
	struct store_snapshot *snap = NULL;
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), -1);
	TEST_ASSERT_INT_EQ(error.code, STORE_ERR_UNAVAILABLE);
	run_until(&watch_calls, 1, 100);
	TEST_ASSERT_INT_EQ(test_redis_start(), 0);
	/* Back-off is at most a few hundred ms after one failure. */
	int ret = -1;
	for (int i = 0; i < 50 && ret < 0; i++) {
		ioloop_run_once(loop, 100);
		ret = store_append(user, "INBOX", &msg, 1, &uidv, &uid, &error);
	}
	if (ret < 0)
		test_fail(__FILE__, __LINE__, "append after restart: %s", error.message);
	struct store_mailbox_status status;
	TEST_ASSERT_INT_EQ(store_status(user, "INBOX", &status, &error), 0);
	TEST_ASSERT_UINT_EQ(status.messages, 2);   /* the acknowledged one survived */
	/* The subscriber reconnects and calls every watch once. */
	run_until(&watch_calls, 1, 6000);
	TEST_ASSERT(watch_calls >= 1);
	store_watch_remove(&watch);
	store_mailbox_close(&mbox);
	store_user_close(&user);
	store_destroy(&store);
}

static void test_hash_tag_discipline(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "tag {x}@example.org");
	struct store_error error;
	struct store_mailbox *mbox;
	struct store_append_msg msg = mk_msg(msg1, 0, NULL, 0);
	uint32_t uidv, uid, su, du;
	unsigned int copied;
	char id[STORE_ID_MAX_BYTES];
	TEST_ASSERT_INT_EQ(store_create_mailbox(user, "Other", id, &error), 0);
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", &msg, 1, &uidv, &uid, &error), 0);
	TEST_ASSERT_INT_EQ(store_subscribe(user, "Other", true, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", false, &mbox, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_copy(mbox, &uid, 1, "Other", false, &uidv, &su, &du,
					      &copied, &error), 0);
	store_mailbox_close(&mbox);

	redisContext *ctx = test_redis_ctx();
	redisReply *reply = redisCommand(ctx, "KEYS %s", "*tag*");
	unsigned int n = 0;
	for (size_t i = 0; reply != NULL && i < reply->elements; i++) {
		const char *key = reply->element[i]->str;
		const char *open = strchr(key, '{'), *close = strchr(key, '}');
		TEST_ASSERT(open != NULL && close != NULL);
		if (open != NULL && close != NULL)
			TEST_ASSERT_MEM_EQ(open, (size_t)(close - open + 1),
					   "{tag%20%7Bx%7D@example.org}", 27u);
		n++;
	}
	/* uidvalidity, mailboxes, subscribed, content, 2 x (meta, msgs, uids, unseen, log) */
	TEST_ASSERT_UINT_EQ(n, 14);
	freeReplyObject(reply);
	redisFree(ctx);
	store_user_close(&user);
	store_destroy(&store);
}

/* THREADID (RFC 8474) through the user's threads hash: a reply joins its parent's
 * thread; ids longer than 998 bytes are not recorded; at most 100 references. */
static void test_thread_linking(void)
{
	struct store *store = new_store();
	struct store_user *user = test_store_user(store, "threads");
	struct store_error error;
	struct store_mailbox *mbox;
	struct store_snapshot *snap;
	struct buffer parent, reply, many;
	uint32_t uidv, uids[3];
	buffer_init(&parent, 0);
	buffer_init(&reply, 0);
	buffer_init(&many, 0);
	buffer_append_str(&parent, "Subject: p\r\nMessage-ID: <p@x>\r\n\r\nP\r\n");
	/* References: a 1000-byte id, then the parent. */
	buffer_append_str(&reply, "Subject: r\r\nMessage-ID: <r@x>\r\nReferences: <");
	for (int i = 0; i < 998; i++)
		buffer_append_c(&reply, 'l');
	buffer_append_str(&reply, ">\r\n <p@x>\r\n\r\nR\r\n");
	/* 150 references, none known: a new thread; the first 100 are recorded. */
	buffer_append_str(&many, "Subject: m\r\nReferences:");
	for (int i = 0; i < 150; i++)
		buffer_printf(&many, "\r\n <m%d@x>", i);
	buffer_append_str(&many, "\r\n\r\nM\r\n");
	struct store_append_msg msgs[3] = { mk_msg(buffer_str(&parent), 0, NULL, 0),
					    mk_msg(buffer_str(&reply), 0, NULL, 0),
					    mk_msg(buffer_str(&many), 0, NULL, 0) };
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", msgs, 1, &uidv, uids, &error), 0);
	TEST_ASSERT_INT_EQ(store_append(user, "INBOX", msgs + 1, 2, &uidv, uids, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_open(user, "INBOX", true, &mbox, &error), 0);
	TEST_ASSERT_INT_EQ(store_mailbox_snapshot(mbox, &snap, &error), 0);
	TEST_ASSERT_UINT_EQ(snap->count, 3);
	if (snap->count == 3) {
		TEST_ASSERT(snap->msgs[0].threadid[0] == 'T');
		TEST_ASSERT_UINT_EQ(strlen(snap->msgs[0].threadid), 33);
		TEST_ASSERT_STR_EQ(snap->msgs[1].threadid, snap->msgs[0].threadid);
		TEST_ASSERT(strcmp(snap->msgs[2].threadid, snap->msgs[0].threadid) != 0);
	}
	store_snapshot_free(&snap);
	store_mailbox_close(&mbox);

	redisContext *ctx = test_redis_ctx();
	redisReply *r = redisCommand(ctx, "HLEN %s", "/mail/{threads}/threads");
	TEST_ASSERT(r != NULL && r->type == REDIS_REPLY_INTEGER);
	if (r != NULL)
		TEST_ASSERT_INT_EQ(r->integer, 102);   /* p, r, m0..m99 */
	freeReplyObject(r);

	r = redisCommand(ctx, "HEXISTS %s %s", "/mail/{threads}/threads", "<m99@x>");
	TEST_ASSERT(r != NULL && r->integer == 1);
	freeReplyObject(r);
	r = redisCommand(ctx, "HEXISTS %s %s", "/mail/{threads}/threads", "<m100@x>");
	TEST_ASSERT(r != NULL && r->integer == 0);
	freeReplyObject(r);
	redisFree(ctx);
	buffer_deinit(&parent);
	buffer_deinit(&reply);
	buffer_deinit(&many);
	store_user_close(&user);
	store_destroy(&store);
}

static void test_setup(void)
{
	loop = ioloop_create();
	TEST_ASSERT_INT_EQ(test_redis_start(), 0);
}

static void test_teardown(void)
{
	test_redis_stop();
	ioloop_destroy(&loop);
}

TEST_MAIN(TEST(test_setup), TEST(test_mailbox_list), TEST(test_append_flags_changes),
	  TEST(test_copy_move_content), TEST(test_prefetch), TEST(test_watch_across_stores),
	  TEST(test_unavailable_and_recovery), TEST(test_hash_tag_discipline),
	  TEST(test_thread_linking),
	  TEST(test_teardown))
