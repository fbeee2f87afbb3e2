/* The redis backend: flag updates, expunge, copy/move and message content with its
 * cached MIME parse. Each change is one Lua script (store-redis-lua.c). */
#include "store-redis.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"
#include "mime/mime-cache.h"
#include "mime/mime-tree.h"

#include <stdio.h>
#include <string.h>

#define MBOX_ID(m) (((struct redis_mailbox *)(m))->id)

/* UIDs as decimal strings after fixed leading arguments. */
static void uid_args(const uint32_t *uids, unsigned int count, char **strs,
		     const char **av)
{
	for (unsigned int i = 0; i < count; i++) {
		strs[i] = i_strdup_printf("%u", uids[i]);
		av[i] = strs[i];
	}
}

static void free_strs(char **strs, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		free(strs[i]);
	free(strs);
}

static char *keyword_json(const char *const *names, unsigned int count)
{
	json_t *kw = json_array();
	for (unsigned int i = 0; i < count; i++)
		json_array_append_new(kw, json_string(names[i]));
	char *str = json_dumps(kw, JSON_COMPACT);
	json_decref(kw);
	return str;
}

static int run_with_uids(struct store_mailbox *mbox, enum redis_script_id script,
			 const char **fixed, unsigned int nfixed, const uint32_t *uids,
			 unsigned int count, redisReply **reply_r, struct store_error *error_r)
{
	const char **av = i_new(const char *, nfixed + count + 1);
	char **strs = i_new(char *, count + 1);
	memcpy(av, fixed, sizeof(*av) * nfixed);
	uid_args(uids, count, strs, av + nfixed);
	int ret = redis_run(mbox->user, script, (int)(nfixed + count), av, NULL, reply_r,
			    error_r);
	free_strs(strs, count);
	free(av);
	return ret;
}

int redis_update_flags(struct store_mailbox *mbox, const uint32_t *uids,
		       unsigned int count, enum store_flags_mode mode, uint32_t system_flags,
		       const char *const *keyword_names, unsigned int keyword_count,
		       struct store_error *error_r)
{
	char sys[16];
	char *kw = keyword_json(keyword_names, keyword_count);
	redisReply *reply;
	snprintf(sys, sizeof(sys), "%u", system_flags & STORE_FLAGS_ALL);
	const char *fixed[] = { MBOX_ID(mbox), mbox->name,
				mode == STORE_FLAGS_REPLACE ? "r" : mode == STORE_FLAGS_ADD ? "a" : "d",
				sys, kw };
	int ret = run_with_uids(mbox, REDIS_SCRIPT_FLAGS, fixed, 5, uids, count, &reply,
				error_r);
	free(kw);
	if (ret == 0)
		freeReplyObject(reply);
	return ret;
}

int redis_expunge(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		  struct store_error *error_r)
{
	const char *fixed[] = { MBOX_ID(mbox), mbox->name, uids == NULL ? "all" : "list" };
	redisReply *reply;
	redis_content_forget(mbox);
	if (run_with_uids(mbox, REDIS_SCRIPT_EXPUNGE, fixed, 3, uids, uids == NULL ? 0 : count,
			  &reply, error_r) < 0)
		return -1;
	freeReplyObject(reply);
	return 0;
}

int redis_copy(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
	       const char *dest_name, bool move, uint32_t *uidvalidity_r,
	       uint32_t *src_uids_r, uint32_t *dest_uids_r, unsigned int *copied_r,
	       struct store_error *error_r)
{
	const char *fixed[] = { MBOX_ID(mbox), mbox->name, dest_name, move ? "1" : "0" };
	redisReply *reply;
	if (move)
		redis_content_forget(mbox);
	if (run_with_uids(mbox, REDIS_SCRIPT_COPY, fixed, 4, uids, count, &reply, error_r) < 0)
		return -1;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 1 ||
	    (reply->elements - 1) / 2 > count) {
		freeReplyObject(reply);
		redis_set_bad_reply(error_r, "copy");
		return -1;
	}
	for (size_t i = 0; i < reply->elements; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
			freeReplyObject(reply);
			redis_set_bad_reply(error_r, "copy");
			return -1;
		}
	}
	*uidvalidity_r = (uint32_t)reply->element[0]->integer;
	*copied_r = (unsigned int)(reply->elements - 1) / 2;
	for (unsigned int i = 0; i < *copied_r; i++) {
		src_uids_r[i] = (uint32_t)reply->element[1 + i * 2]->integer;
		dest_uids_r[i] = (uint32_t)reply->element[2 + i * 2]->integer;
	}
	freeReplyObject(reply);
	return 0;
}

/* ---- content ---- */

struct redis_content {
	struct store_content base;
	unsigned int refs;          /* callers holding it, +1 while the mailbox keeps it */
	redisReply *reply;          /* owns data; NULL until loaded */
	struct store_user *user;
	char emailid[STORE_ID_MAX_BYTES];
	bool cached;                /* the MIME blob in Redis was usable */
	void (*free_parsed)(void *parsed);
};

struct redis_prefetched {
	uint32_t uid;
	struct redis_content *content;   /* NULL once handed out */
};

static void free_tree(void *parsed)
{
	struct mime_tree *tree = parsed;
	mime_tree_destroy(&tree);
}

static void redis_content_release(struct store_content *_content)
{
	struct redis_content *content = (struct redis_content *)_content;
	if (--content->refs > 0)
		return;
	if (content->free_parsed != NULL)
		content->free_parsed(content->base.parsed);
	if (content->reply != NULL)
		freeReplyObject(content->reply);
	free(content);
}

static void prefetched_forget(struct redis_mailbox *mbox)
{
	for (unsigned int i = 0; i < mbox->prefetched_count; i++) {
		if (mbox->prefetched[i].content != NULL)
			redis_content_release(&mbox->prefetched[i].content->base);
	}
	free(mbox->prefetched);
	mbox->prefetched = NULL;
	mbox->prefetched_count = 0;
	free(mbox->pending);
	mbox->pending = NULL;
	mbox->pending_count = 0;
}

void redis_content_forget(struct store_mailbox *_mbox)
{
	struct redis_mailbox *mbox = (struct redis_mailbox *)_mbox;
	if (mbox->last != NULL)
		redis_content_release(&mbox->last->base);
	mbox->last = NULL;
	mbox->last_uid = 0;
	prefetched_forget(mbox);
}

static void content_keep(struct store_mailbox *_mbox, uint32_t uid,
			 struct redis_content *content)
{
	struct redis_mailbox *mbox = (struct redis_mailbox *)_mbox;
	if (mbox->last != NULL)
		redis_content_release(&mbox->last->base);
	mbox->last = NULL;
	mbox->last_uid = 0;
	if (content->base.size > REDIS_CONTENT_KEEP_BYTES)
		return;
	content->refs++;
	mbox->last = content;
	mbox->last_uid = uid;
}

/* A message's content does not change while its UID exists: the kept one is
 * reused (one Redis round trip per message for several FETCH items), and a
 * prefetched one is handed out (and kept) without a round trip. */
static bool content_kept(struct store_mailbox *_mbox, uint32_t uid,
			 struct store_content **content_r)
{
	struct redis_mailbox *mbox = (struct redis_mailbox *)_mbox;
	if (mbox->last != NULL && mbox->last_uid == uid) {
		mbox->last->refs++;
		*content_r = &mbox->last->base;
		return true;
	}
	for (unsigned int i = 0; i < mbox->prefetched_count; i++) {
		struct redis_content *content = mbox->prefetched[i].content;
		if (mbox->prefetched[i].uid != uid || content == NULL)
			continue;
		/* The list's reference becomes the caller's. */
		mbox->prefetched[i].content = NULL;
		content_keep(_mbox, uid, content);
		*content_r = &content->base;
		return true;
	}
	return false;
}

/* The bytes of a content prefetched without them (its MIME blob was enough until
 * something needs the bytes: a section, or a blob of another version). */
static int redis_content_load(struct store_content *_content, struct store_error *error_r)
{
	struct redis_content *content = (struct redis_content *)_content;
	const char *argv[] = { content->emailid };
	redisReply *reply;
	if (redis_run(content->user, REDIS_SCRIPT_DATA, 1, argv, NULL, &reply, error_r) < 0)
		return -1;
	if (reply->type != REDIS_REPLY_STRING) {
		freeReplyObject(reply);
		redis_set_bad_reply(error_r, "data");
		return -1;
	}
	content->reply = reply;
	content->base.data = (const unsigned char *)reply->str;
	content->base.size = reply->len;
	return 0;
}

/* A content from its parts: data (a string reply it takes over, or NULL: loaded on
 * demand), the MIME cache blob and the email id. */
static struct redis_content *
content_new(struct store_mailbox *mbox, redisReply *data, uint64_t size,
	    const redisReply *mime, const redisReply *emailid)
{
	struct redis_content *content = i_new0(struct redis_content);
	struct mime_tree *tree;
	content->refs = 1;
	content->reply = data;
	content->user = mbox->user;
	memcpy(content->emailid, emailid->str, emailid->len);
	content->base.size = data != NULL ? data->len : size;
	content->base.data = data != NULL ? (const unsigned char *)data->str : NULL;
	content->base.backend = &store_redis_vfuncs;
	content->base.release = redis_content_release;
	content->base.load = redis_content_load;
	if (mime->len > 0 &&
	    mime_cache_deserialize(mime->str, mime->len, &tree) == 0) {
		content->base.parsed = tree;
		content->free_parsed = free_tree;
		content->cached = true;
	}
	return content;
}

static bool prefetch_more(struct store_mailbox *mbox, uint32_t uid);

int redis_get_content(struct store_mailbox *mbox, uint32_t uid,
		      struct store_content **content_r, struct store_error *error_r)
{
	char uidstr[16];
	redisReply *reply;
	if (content_kept(mbox, uid, content_r) ||
	    (prefetch_more(mbox, uid) && content_kept(mbox, uid, content_r)))
		return 0;
	snprintf(uidstr, sizeof(uidstr), "%u", uid);
	const char *argv[] = { MBOX_ID(mbox), uidstr };
	if (redis_run(mbox->user, REDIS_SCRIPT_FETCH, 2, argv, NULL, &reply, error_r) < 0)
		return -1;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING ||
	    reply->element[2]->type != REDIS_REPLY_STRING ||
	    reply->element[2]->len >= STORE_ID_MAX_BYTES) {
		freeReplyObject(reply);
		redis_set_bad_reply(error_r, "fetch");
		return -1;
	}
	struct redis_content *content =
		content_new(mbox, reply->element[0], 0, reply->element[1], reply->element[2]);
	reply->element[0] = NULL;   /* now owned by content */
	freeReplyObject(reply);
	content_keep(mbox, uid, content);
	*content_r = &content->base;
	return 0;
}

/* ---- prefetch ---- */

#define PREFETCH_ITEMS 5   /* UID, size, email id, MIME blob, bytes or nil */

/* The count of UIDs dealt with, then PREFETCH_ITEMS per message. */
static bool prefetch_reply_valid(const redisReply *reply, unsigned int count)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % PREFETCH_ITEMS != 1 ||
	    (reply->elements - 1) / PREFETCH_ITEMS > count ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[0]->integer < 0 || reply->element[0]->integer > count)
		return false;
	for (size_t i = 1; i < reply->elements; i += PREFETCH_ITEMS) {
		redisReply **e = reply->element + i;
		if (e[0]->type != REDIS_REPLY_INTEGER || e[1]->type != REDIS_REPLY_INTEGER ||
		    e[0]->integer <= 0 || e[0]->integer > UINT32_MAX || e[1]->integer < 0 ||
		    e[2]->type != REDIS_REPLY_STRING || e[2]->len >= STORE_ID_MAX_BYTES ||
		    e[3]->type != REDIS_REPLY_STRING ||
		    (e[4]->type != REDIS_REPLY_STRING && e[4]->type != REDIS_REPLY_NIL))
			return false;
	}
	return true;
}

static void prefetch_store(struct store_mailbox *_mbox, redisReply *reply)
{
	struct redis_mailbox *mbox = (struct redis_mailbox *)_mbox;
	unsigned int n = (unsigned int)(reply->elements / PREFETCH_ITEMS);
	mbox->prefetched = i_new(struct redis_prefetched, n + 1);
	for (unsigned int i = 0; i < n; i++) {
		redisReply **e = reply->element + 1 + (size_t)i * PREFETCH_ITEMS;
		redisReply *data = e[4]->type == REDIS_REPLY_STRING ? e[4] : NULL;
		struct redis_content *content =
			content_new(_mbox, data, (uint64_t)e[1]->integer, e[3], e[2]);
		if (data != NULL)
			e[4] = NULL;   /* now owned by content */
		mbox->prefetched[i].uid = (uint32_t)e[0]->integer;
		mbox->prefetched[i].content = content;
	}
	mbox->prefetched_count = n;
}

int redis_prefetch(struct store_mailbox *_mbox, const uint32_t *uids, unsigned int count,
		   enum store_prefetch what, struct store_error *error_r)
{
	struct redis_mailbox *mbox = (struct redis_mailbox *)_mbox;
	char budget[24];
	redisReply *reply;

	unsigned int count_all = count;
	prefetched_forget(mbox);
	if (count > REDIS_PREFETCH_MAX_MESSAGES)
		count = REDIS_PREFETCH_MAX_MESSAGES;
	snprintf(budget, sizeof(budget), "%u", (unsigned int)REDIS_PREFETCH_MAX_BYTES);
	const char *fixed[] = { MBOX_ID(mbox), what == STORE_PREFETCH_FULL ? "f" : "s",
				budget };
	if (run_with_uids(_mbox, REDIS_SCRIPT_PREFETCH, fixed, 3, uids, count, &reply,
			  error_r) < 0)
		return -1;
	if (!prefetch_reply_valid(reply, count)) {
		freeReplyObject(reply);
		redis_set_bad_reply(error_r, "prefetch");
		return -1;
	}
	prefetch_store(_mbox, reply);
	unsigned int done = (unsigned int)reply->element[0]->integer;
	freeReplyObject(reply);
	if (done < count_all) {
		/* uids may be the old pending list (prefetch_more frees it): copy. */
		mbox->pending_count = count_all - done;
		mbox->pending = i_memdup(uids + done, sizeof(*uids) * mbox->pending_count);
		mbox->pending_what = what;
	}
	return 0;
}

/* uid was announced but the last batch stopped before it: read the next batch from
 * there. false when uid was not announced or the read failed (the caller reads the
 * one message). */
static bool prefetch_more(struct store_mailbox *_mbox, uint32_t uid)
{
	struct redis_mailbox *mbox = (struct redis_mailbox *)_mbox;
	struct store_error error;
	unsigned int i;
	for (i = 0; i < mbox->pending_count && mbox->pending[i] != uid; i++)
		;
	if (i == mbox->pending_count)
		return false;
	uint32_t *rest = mbox->pending;
	unsigned int count = mbox->pending_count - i;
	mbox->pending = NULL;
	mbox->pending_count = 0;
	int ret = redis_prefetch(_mbox, rest + i, count, mbox->pending_what, &error);
	free(rest);
	return ret == 0;
}

/* The IMAP layer parsed a message whose cached blob was missing or of another
 * version: write the new blob back so the next FETCH finds it. */
static void write_back(struct redis_content *content, const struct mime_tree *tree)
{
	struct buffer blob;
	struct store_error error;
	redisReply *reply;
	buffer_init(&blob, 0);
	if (mime_cache_serialize(tree, &blob) == 0) {
		const char *argv[] = { content->emailid, (const char *)buffer_data(&blob) };
		size_t lens[] = { strlen(content->emailid), buffer_len(&blob) };
		if (redis_run(content->user, REDIS_SCRIPT_SETMIME, 2, argv, lens, &reply,
			      &error) == 0)
			freeReplyObject(reply);
	}
	buffer_deinit(&blob);
}

void redis_set_parsed(struct store_content *_content, void *parsed,
		      void (*free_parsed)(void *parsed))
{
	struct redis_content *content = (struct redis_content *)_content;
	if (content->free_parsed != NULL)
		content->free_parsed(content->base.parsed);
	content->base.parsed = parsed;
	content->free_parsed = free_parsed;
	/* The only producer of parse results is the message engine (cmd-fetch.c): a
	 * struct mime_tree, the same type this backend hands out from its cache. */
	if (!content->cached && parsed != NULL) {
		write_back(content, parsed);
		content->cached = true;
	}
}
