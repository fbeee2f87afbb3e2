/* The redis backend: open mailboxes and messages (snapshot, change log, \Recent,
 * append, flags, expunge, copy/move, content). Each operation is one Lua script
 * (store-redis-lua.c); see store-redis.c for the store and mailbox list. */
#include "store-redis.h"
#include "store-thread.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"
#include "mime/mime-cache.h"
#include "mime/mime-parser.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MBOX_ARGS(m) ((struct redis_mailbox *)(m))->id, (m)->name

int redis_mailbox_open(struct store_user *user, const char *name, bool readonly,
		       struct store_mailbox **mbox_r, struct store_error *error_r)
{
	struct store_mailbox_status status;
	const char *argv[] = { name };
	redisReply *reply;
	if (redis_run(user, REDIS_SCRIPT_STATUS, 1, argv, NULL, &reply, error_r) < 0)
		return -1;
	int ret = redis_parse_status(reply, &status, NULL, error_r);
	freeReplyObject(reply);
	if (ret < 0)
		return -1;
	struct redis_mailbox *mbox = i_new0(struct redis_mailbox);
	mbox->base.user = user;
	mbox->base.name = i_strdup(name);
	mbox->base.readonly = readonly;
	memcpy(mbox->id, status.mailboxid, sizeof(mbox->id));
	*mbox_r = &mbox->base;
	return 0;
}

void redis_mailbox_close(struct store_mailbox *mbox)
{
	redis_content_forget(mbox);
	free(mbox->name);
	free(mbox);
}

static int uid_cmp(const void *a, const void *b)
{
	const struct store_message_meta *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int redis_snapshot(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
		   struct store_error *error_r)
{
	const char *argv[] = { MBOX_ARGS(mbox) };
	redisReply *reply;
	json_t *keywords;
	redis_content_forget(mbox);
	if (redis_run(mbox->user, REDIS_SCRIPT_SNAPSHOT, 2, argv, NULL, &reply, error_r) < 0)
		return -1;
	struct store_snapshot *snap = i_new0(struct store_snapshot);
	if (redis_parse_status(reply, &snap->status, &keywords, error_r) < 0) {
		freeReplyObject(reply);
		free(snap);
		return -1;
	}
	snap->status.readonly = mbox->readonly;
	snap->modseq = snap->status.highest_modseq;
	snap->msgs = i_new(struct store_message_meta, reply->elements + 1);
	for (size_t i = REDIS_STATUS_ITEMS; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		if (e->type == REDIS_REPLY_STRING &&
		    redis_parse_record(e->str, e->len, &snap->msgs[snap->count]) == 0)
			snap->count++;
	}
	qsort(snap->msgs, snap->count, sizeof(*snap->msgs), uid_cmp);
	snap->keywords = redis_keywords_copy(keywords, &snap->keyword_count);
	json_decref(keywords);
	freeReplyObject(reply);
	*snapshot_r = snap;
	return 0;
}

/* One log entry: ["a"|"f"|"x", record]. */
static int parse_change(const redisReply *e, struct store_change *change_r)
{
	json_t *entry = json_loadb(e->str, e->len, 0, NULL);
	const char *kind = json_string_value(json_array_get(entry, 0));
	json_t *rec = json_array_get(entry, 1);
	int ret = -1;
	memset(change_r, 0, sizeof(*change_r));
	if (kind != NULL && json_is_object(rec)) {
		char *str = json_dumps(rec, JSON_COMPACT);
		ret = str == NULL ? -1 : redis_parse_record(str, strlen(str), &change_r->meta);
		free(str);
		change_r->kind = kind[0] == 'a' ? STORE_CHANGE_APPEND :
				 kind[0] == 'f' ? STORE_CHANGE_FLAGS : STORE_CHANGE_EXPUNGE;
	}
	json_decref(entry);
	return ret;
}

int redis_changes(struct store_mailbox *mbox, uint64_t since_modseq,
		  struct store_changes **changes_r, struct store_error *error_r)
{
	char since[24];
	struct store_mailbox_status status;
	json_t *keywords;
	redisReply *reply;
	snprintf(since, sizeof(since), "%llu", (unsigned long long)since_modseq);
	redis_content_forget(mbox);
	const char *argv[] = { MBOX_ARGS(mbox), since };
	if (redis_run(mbox->user, REDIS_SCRIPT_CHANGES, 3, argv, NULL, &reply, error_r) < 0)
		return -1;
	if (redis_parse_status(reply, &status, &keywords, error_r) < 0) {
		freeReplyObject(reply);
		return -1;
	}
	const redisReply *known = reply->elements > REDIS_STATUS_ITEMS ?
		reply->element[REDIS_STATUS_ITEMS] : NULL;
	if (known == NULL || known->type != REDIS_REPLY_STRING || known->str[0] != '1') {
		json_decref(keywords);
		freeReplyObject(reply);
		return 0;
	}
	struct store_changes *changes = i_new0(struct store_changes);
	changes->modseq = status.highest_modseq;
	changes->changes = i_new(struct store_change, reply->elements + 1);
	for (size_t i = REDIS_STATUS_ITEMS + 1; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		if (e->type == REDIS_REPLY_STRING &&
		    parse_change(e, &changes->changes[changes->count]) == 0)
			changes->count++;
	}
	changes->keywords = redis_keywords_copy(keywords, &changes->keyword_count);
	json_decref(keywords);
	freeReplyObject(reply);
	*changes_r = changes;
	return 1;
}

int redis_claim_recent(struct store_mailbox *mbox, uint32_t *first_uid_r,
		       struct store_error *error_r)
{
	const char *argv[] = { MBOX_ARGS(mbox) };
	redisReply *reply;
	if (mbox->readonly) {
		struct store_mailbox_status status;
		if (store_status(mbox->user, mbox->name, &status, error_r) < 0)
			return -1;
		*first_uid_r = status.uidnext;
		return 0;
	}
	if (redis_run(mbox->user, REDIS_SCRIPT_CLAIM, 2, argv, NULL, &reply, error_r) < 0)
		return -1;
	int ret = 0;
	if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
		*first_uid_r = (uint32_t)reply->integer;
	else {
		redis_set_bad_reply(error_r, "claim");
		ret = -1;
	}
	freeReplyObject(reply);
	return ret;
}

/* ---- append ---- */

#define APPEND_ARGS_PER_MSG 9

struct append_msg_args {
	char flags[16], date[24], tz[16], emailid[STORE_ID_MAX_BYTES];
	char threadid[STORE_ID_MAX_BYTES];   /* used when no named id is known */
	char *keywords;          /* JSON array */
	unsigned char *data;     /* NULL: borrowed from the caller */
	struct buffer mime;
	struct buffer thread_ids; /* "\n"-separated, own Message-ID first */
};

static int read_spooled(const struct store_append_msg *msg, unsigned char **data_r,
			struct store_error *error_r)
{
	unsigned char *data = i_malloc(msg->size + 1);
	size_t done = 0;
	while (done < msg->size) {
		ssize_t n = pread(msg->fd, data + done, msg->size - done, (off_t)done);
		if (n <= 0) {
			log_error_errno("redis append: pread of spooled message");
			store_error_set(error_r, STORE_ERR_SERVERBUG, "Could not read the message.");
			free(data);
			return -1;
		}
		done += (size_t)n;
	}
	*data_r = data;
	return 0;
}

/* The ids the append script looks up and records in the user's threads hash: the
 * Message-ID first, then In-Reply-To/References, joined with "\n" (extraction
 * removes white space, so no id contains one). An id longer than
 * REDIS_THREAD_MAX_ID_BYTES is skipped (store_thread_ids_read cuts such ids off
 * before their closing '>'). */
static bool thread_id_usable(const char *id)
{
	size_t len = id == NULL ? 0 : strlen(id);
	return len >= 2 && len <= REDIS_THREAD_MAX_ID_BYTES && id[len - 1] == '>';
}

static void thread_ids_arg(const unsigned char *data, size_t size, struct buffer *out)
{
	struct store_thread_ids ids;
	store_thread_ids_read(data, size, &ids);
	for (unsigned int i = 0; i <= ids.ref_count; i++) {
		const char *id = i == 0 ? ids.own : ids.refs[i - 1];
		if (!thread_id_usable(id))
			continue;
		if (buffer_len(out) > 0)
			buffer_append_c(out, '\n');
		buffer_append_str(out, id);
	}
	store_thread_ids_free(&ids);
}

static int prepare_msg(const struct store_append_msg *msg, struct append_msg_args *args,
		       struct store_error *error_r)
{
	json_t *kw = json_array();
	snprintf(args->flags, sizeof(args->flags), "%u", msg->flags.system & STORE_FLAGS_ALL);
	snprintf(args->date, sizeof(args->date), "%lld", (long long)msg->internal_date);
	snprintf(args->tz, sizeof(args->tz), "%d", msg->internal_tz_min);
	store_random_id('M', args->emailid);
	args->threadid[0] = 'T';
	strcpy(args->threadid + 1, args->emailid + 1);
	/* As the dict backend: every name given is set on the message. */
	for (unsigned int i = 0; i < msg->keyword_count; i++)
		json_array_append_new(kw, json_string(msg->keyword_names[i]));
	args->keywords = json_dumps(kw, JSON_COMPACT);
	json_decref(kw);
	buffer_init(&args->mime, 0);
	buffer_init(&args->thread_ids, 0);
	if (msg->data == NULL && read_spooled(msg, &args->data, error_r) < 0)
		return -1;
	const unsigned char *data = args->data != NULL ? args->data : msg->data;
	thread_ids_arg(data, msg->size, &args->thread_ids);
	/* Parse once now and store the result next to the message: FETCH never parses. */
	struct mime_tree *tree = mime_parse(data, msg->size);
	if (mime_cache_serialize(tree, &args->mime) < 0)
		buffer_reset(&args->mime);
	mime_tree_destroy(&tree);
	return 0;
}

static void append_args_free(struct append_msg_args *args, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		free(args[i].keywords);
		free(args[i].data);
		buffer_deinit(&args[i].mime);
		buffer_deinit(&args[i].thread_ids);
	}
	free(args);
}

static void fill_append_argv(const struct store_append_msg *msg,
			     struct append_msg_args *args, const char **av, size_t *al)
{
	const char *strs[] = { args->flags, args->keywords, args->date, args->tz,
			       args->emailid, args->threadid };
	for (unsigned int i = 0; i < 6; i++) {
		av[i] = strs[i];
		al[i] = strlen(strs[i]);
	}
	av[6] = (const char *)(args->data != NULL ? args->data : msg->data);
	al[6] = msg->size;
	av[7] = (const char *)buffer_data(&args->mime);
	al[7] = buffer_len(&args->mime);
	if (av[7] == NULL)
		av[7] = "";
	av[8] = buffer_str(&args->thread_ids);
	al[8] = buffer_len(&args->thread_ids);
}

static int append_reply(const redisReply *reply, unsigned int count, uint32_t *uidvalidity_r,
			uint32_t *uids_r, struct store_error *error_r)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != count + 1) {
		redis_set_bad_reply(error_r, "append");
		return -1;
	}
	for (size_t i = 0; i <= count; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
			redis_set_bad_reply(error_r, "append");
			return -1;
		}
	}
	*uidvalidity_r = (uint32_t)reply->element[0]->integer;
	for (unsigned int i = 0; i < count; i++)
		uids_r[i] = (uint32_t)reply->element[i + 1]->integer;
	return 0;
}

int redis_append(struct store_user *user, const char *mailbox,
		 const struct store_append_msg *msgs, unsigned int count,
		 uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r)
{
	struct append_msg_args *args = i_new(struct append_msg_args, count + 1);
	int argc = 2 + (int)count * APPEND_ARGS_PER_MSG;
	const char **av = i_new(const char *, (size_t)argc);
	size_t *al = i_new(size_t, (size_t)argc);
	char countstr[16];
	redisReply *reply;
	int ret = 0;
	memset(args, 0, sizeof(*args) * (count + 1));
	snprintf(countstr, sizeof(countstr), "%u", count);
	av[0] = mailbox; al[0] = strlen(mailbox);
	av[1] = countstr; al[1] = strlen(countstr);
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		ret = prepare_msg(&msgs[i], &args[i], error_r);
		fill_append_argv(&msgs[i], &args[i], av + 2 + i * APPEND_ARGS_PER_MSG,
				 al + 2 + i * APPEND_ARGS_PER_MSG);
	}
	/* Acknowledged only once the script ran: Redis has the messages. */
	if (ret == 0)
		ret = redis_run(user, REDIS_SCRIPT_APPEND, argc, av, al, &reply, error_r);
	if (ret == 0) {
		ret = append_reply(reply, count, uidvalidity_r, uids_r, error_r);
		freeReplyObject(reply);
	}
	append_args_free(args, count);
	free(av);
	free(al);
	return ret;
}
