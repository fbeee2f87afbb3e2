/* The redis backend: every user's mail in Redis, shared by any number of pymap
 * processes and machines (doc/redis.md has the key layout and the scripts). This file
 * holds the store, users, the mailbox list and the helpers the other store-redis
 * files use. Round trips are synchronous with bounded timeouts (redis-conn.c); every
 * change is one Lua script, so it is atomic against other sessions anywhere. */
#include "store-redis.h"
#include "redis-keys.h"
#include "alloc.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *config_get(const json_t *config, const char *section, const char *key)
{
	return json_string_value(json_object_get(json_object_get(config, section), key));
}

static int redis_create(const json_t *config, struct ioloop *loop, struct store **store_r,
			const char **error_r)
{
	const char *address = config_get(config, "redis", "data_address");
	const char *sep = config_get(config, "redis", "separator");
	const char *prefix = config_get(config, "redis", "prefix");
	struct redis_url url;
	(void)loop;
	if (address == NULL || address[0] == '\0')
		address = config_get(config, "redis", "address");
	if (address == NULL)
		address = "redis://localhost";
	if (redis_url_parse(address, &url, error_r) < 0)
		return -1;
	struct redis_store *store = i_new0(struct redis_store);
	if (redis_url_parse(address, &store->sub_url, error_r) < 0)
		i_assert(false);
	store->conn = redis_conn_create(&url);
	store->sep = sep != NULL && sep[0] != '\0' ? sep[0] : '/';
	store->prefix = i_strdup(prefix != NULL ? prefix : "/mail");
	for (unsigned int i = 0; i < REDIS_SCRIPT_COUNT; i++) {
		store->script_text[i] = i_strdup_printf("%s%s", redis_lua_prelude(),
							redis_lua_bodies[i]);
		redis_script_init(&store->scripts[i], store->script_text[i]);
	}
	*store_r = &store->base;
	return 0;
}

/* Health: Redis answers PING within the command timeout. */
static int redis_check(struct store *_store, struct store_error *error_r)
{
	struct redis_store *store = (struct redis_store *)_store;
	redisReply *reply;
	if (redis_conn_command(store->conn, &reply, "PING") < 0) {
		store_error_set(error_r, STORE_ERR_UNAVAILABLE, "Redis is unreachable.");
		return -1;
	}
	bool ok = reply->type == REDIS_REPLY_STATUS;
	freeReplyObject(reply);
	if (!ok) {
		store_error_set(error_r, STORE_ERR_UNAVAILABLE, "Redis refused PING.");
		return -1;
	}
	return 0;
}

static void redis_destroy(struct store *_store)
{
	struct redis_store *store = REDIS_STORE(_store);
	redis_watcher_destroy(&store->watcher);
	redis_conn_destroy(&store->conn);
	redis_url_free(&store->sub_url);
	for (unsigned int i = 0; i < REDIS_SCRIPT_COUNT; i++)
		free(store->script_text[i]);
	free(store->prefix);
	free(store);
}

static void set_unavailable(struct store_error *error_r)
{
	store_error_set(error_r, STORE_ERR_UNAVAILABLE,
			"Mail storage is unavailable, try again later.");
}

void redis_set_bad_reply(struct store_error *error_r, const char *what)
{
	log_error("redis store: unexpected reply to %s", what);
	store_error_set(error_r, STORE_ERR_SERVERBUG, "Internal storage error.");
}

static const struct {
	const char *name;
	enum store_error_code code;
} script_errors[] = {
	{ "NONEXISTENT", STORE_ERR_NONEXISTENT },
	{ "ALREADYEXISTS", STORE_ERR_ALREADYEXISTS },
	{ "LIMIT", STORE_ERR_LIMIT },
	{ "CANNOT", STORE_ERR_CANNOT },
	{ "INUSE", STORE_ERR_INUSE },
};

/* A script error "CODE message" (Redis may append " script: ..." details). */
static void set_script_error(const char *str, struct store_error *error_r)
{
	for (size_t i = 0; i < sizeof(script_errors) / sizeof(script_errors[0]); i++) {
		size_t len = strlen(script_errors[i].name);
		if (strncmp(str, script_errors[i].name, len) != 0 || str[len] != ' ')
			continue;
		const char *msg = str + len + 1;
		const char *end = strstr(msg, " script:");
		int msglen = end == NULL ? (int)strlen(msg) : (int)(end - msg);
		store_error_set(error_r, script_errors[i].code, "%.*s", msglen, msg);
		return;
	}
	if (strncmp(str, "BUSY", 4) == 0 || strncmp(str, "LOADING", 7) == 0 ||
	    strncmp(str, "TRYAGAIN", 8) == 0 || strncmp(str, "CLUSTERDOWN", 11) == 0 ||
	    strncmp(str, "MASTERDOWN", 10) == 0 || strncmp(str, "READONLY", 8) == 0) {
		set_unavailable(error_r);
		return;
	}
	if (strncmp(str, "OOM", 3) == 0) {
		store_error_set(error_r, STORE_ERR_OVERQUOTA, "Mail storage is full.");
		return;
	}
	log_error("redis store: script failed: %.300s", str);
	store_error_set(error_r, STORE_ERR_SERVERBUG, "Internal storage error.");
}

/* Scripts that change mailboxes (and publish). */
static const bool script_changes[REDIS_SCRIPT_COUNT] = {
	[REDIS_SCRIPT_DELETE] = true, [REDIS_SCRIPT_RENAME] = true,
	[REDIS_SCRIPT_APPEND] = true, [REDIS_SCRIPT_FLAGS] = true,
	[REDIS_SCRIPT_EXPUNGE] = true, [REDIS_SCRIPT_COPY] = true,
};

int redis_run(struct store_user *user, enum redis_script_id script, int argc,
	      const char **argv, const size_t *lens, redisReply **reply_r,
	      struct store_error *error_r)
{
	struct redis_store *store = REDIS_STORE(user->store);
	const char **av = i_new(const char *, (size_t)argc + 2);
	size_t *al = i_new(size_t, (size_t)argc + 2);
	char sep[2] = { store->sep, '\0' };
	redisReply *reply;
	av[0] = REDIS_USER(user)->key_base;
	al[0] = strlen(av[0]);
	av[1] = sep;
	al[1] = 1;
	for (int i = 0; i < argc; i++) {
		av[i + 2] = argv[i];
		al[i + 2] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	int ret = redis_conn_eval(store->conn, &store->scripts[script], 1, argc + 2, av, al,
				  &reply);
	free(av);
	free(al);
	if (ret < 0) {
		set_unavailable(error_r);
		return -1;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		set_script_error(reply->str, error_r);
		freeReplyObject(reply);
		return -1;
	}
	*reply_r = reply;
	if (script_changes[script])
		redis_notify_local(user);
	return 0;
}

static int reply_uint(const redisReply *r, uint64_t *num_r)
{
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
		*num_r = (uint64_t)r->integer;
		return 0;
	}
	return -1;
}

int redis_parse_status(const redisReply *reply, struct store_mailbox_status *status_r,
		       json_t **keywords_r, struct store_error *error_r)
{
	uint64_t num[6];
	const redisReply *const *e = (const redisReply *const *)reply->element;
	memset(status_r, 0, sizeof(*status_r));
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < REDIS_STATUS_ITEMS ||
	    e[0]->type != REDIS_REPLY_STRING || e[0]->len >= STORE_ID_MAX_BYTES ||
	    e[7]->type != REDIS_REPLY_STRING) {
		redis_set_bad_reply(error_r, "status");
		return -1;
	}
	for (unsigned int i = 0; i < 6; i++) {
		if (reply_uint(e[i + 1], &num[i]) < 0) {
			redis_set_bad_reply(error_r, "status");
			return -1;
		}
	}
	memcpy(status_r->mailboxid, e[0]->str, e[0]->len);
	status_r->uidvalidity = (uint32_t)num[0];
	status_r->uidnext = (uint32_t)num[1];
	status_r->messages = (uint32_t)num[2];
	status_r->unseen = (uint32_t)num[3];
	status_r->recent = (uint32_t)num[4];
	status_r->highest_modseq = num[5];
	if (keywords_r != NULL) {
		*keywords_r = json_loadb(e[7]->str, e[7]->len, 0, NULL);
		if (!json_is_array(*keywords_r)) {
			json_decref(*keywords_r);
			*keywords_r = json_array();
		}
	}
	return 0;
}

char **redis_keywords_copy(const json_t *keywords, unsigned int *count_r)
{
	size_t n = json_array_size(keywords);
	char **out = i_new(char *, n + 1);
	unsigned int count = 0;
	for (size_t i = 0; i < n && i < STORE_MAX_KEYWORDS; i++) {
		const char *name = json_string_value(json_array_get(keywords, i));
		out[count++] = i_strdup(name != NULL ? name : "");
	}
	*count_r = count;
	return out;
}

static void copy_id(char dest[STORE_ID_MAX_BYTES], const json_t *value)
{
	const char *str = json_string_value(value);
	dest[0] = '\0';
	if (str != NULL && strlen(str) < STORE_ID_MAX_BYTES)
		strcpy(dest, str);
}

int redis_parse_record(const char *json, size_t len, struct store_message_meta *meta_r)
{
	json_t *rec = json_loadb(json, len, 0, NULL);
	json_t *kw, *value;
	size_t i;
	if (!json_is_object(rec) || !json_is_integer(json_object_get(rec, "u"))) {
		json_decref(rec);
		return -1;
	}
	memset(meta_r, 0, sizeof(*meta_r));
	meta_r->uid = (uint32_t)json_integer_value(json_object_get(rec, "u"));
	meta_r->flags.system = (uint32_t)json_integer_value(json_object_get(rec, "f")) &
			       STORE_FLAGS_ALL;
	kw = json_object_get(rec, "k");   /* an empty list may come back as {} */
	json_array_foreach(kw, i, value) {
		json_int_t bit = json_integer_value(value);
		if (bit >= 0 && bit < STORE_MAX_KEYWORDS)
			meta_r->flags.keywords |= (uint64_t)1 << bit;
	}
	meta_r->size = (uint64_t)json_integer_value(json_object_get(rec, "s"));
	meta_r->internal_date = json_integer_value(json_object_get(rec, "d"));
	meta_r->internal_tz_min = (int16_t)json_integer_value(json_object_get(rec, "z"));
	meta_r->modseq = (uint64_t)json_integer_value(json_object_get(rec, "m"));
	copy_id(meta_r->emailid, json_object_get(rec, "e"));
	copy_id(meta_r->threadid, json_object_get(rec, "t"));
	json_decref(rec);
	return 0;
}

/* ---- users ---- */

static int create_mailbox(struct store_user *user, const char *name, bool if_missing,
			  char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r)
{
	char id[STORE_ID_MAX_BYTES], seed[24];
	redisReply *reply;
	store_random_id('F', id);
	snprintf(seed, sizeof(seed), "%u", store_new_uidvalidity());
	const char *argv[] = { name, id, seed, if_missing ? "1" : "0" };
	if (redis_run(user, REDIS_SCRIPT_CREATE, 4, argv, NULL, &reply, error_r) < 0)
		return -1;
	int ret = 0;
	if (reply->type != REDIS_REPLY_STRING || reply->len >= STORE_ID_MAX_BYTES) {
		redis_set_bad_reply(error_r, "create");
		ret = -1;
	} else if (mailboxid_r != NULL) {
		memcpy(mailboxid_r, reply->str, reply->len);
		mailboxid_r[reply->len] = '\0';
	}
	freeReplyObject(reply);
	return ret;
}

static int redis_user_open(struct store *_store, const char *username, const json_t *params,
			   struct store_user **user_r, struct store_error *error_r)
{
	struct redis_store *store = REDIS_STORE(_store);
	struct redis_user *user = i_new0(struct redis_user);
	(void)params;
	user->base.store = _store;
	user->base.name = i_strdup(username);
	user->key_base = redis_keys_mail_base(store->prefix, store->sep, username);
	/* INBOX always exists (created at the first login). */
	if (create_mailbox(&user->base, "INBOX", true, NULL, error_r) < 0) {
		free(user->key_base);
		free(user->base.name);
		free(user);
		return -1;
	}
	*user_r = &user->base;
	return 0;
}

static void redis_user_close(struct store_user *_user)
{
	struct redis_user *user = REDIS_USER(_user);
	free(user->key_base);
	free(user->base.name);
	free(user);
}

/* A plain command on one of the user's keys: argv[1] is the key suffix. */
static int user_command(struct store_user *user, int argc, const char **argv,
			redisReply **reply_r, struct store_error *error_r)
{
	struct redis_store *store = REDIS_STORE(user->store);
	char *key = i_strdup_printf("%s%s", REDIS_USER(user)->key_base, argv[1]);
	const char **av = i_memdup(argv, sizeof(*argv) * (size_t)argc);
	av[1] = key;
	int ret = redis_conn_commandv(store->conn, argc, av, NULL, reply_r);
	free(av);
	free(key);
	if (ret < 0) {
		set_unavailable(error_r);
		return -1;
	}
	if ((*reply_r)->type == REDIS_REPLY_ERROR) {
		set_script_error((*reply_r)->str, error_r);
		freeReplyObject(*reply_r);
		return -1;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	if (strcmp(*x, "INBOX") == 0 || strcmp(*y, "INBOX") == 0)
		return strcmp(*x, "INBOX") == 0 ? (strcmp(*y, "INBOX") == 0 ? 0 : -1) : 1;
	return strcmp(*x, *y);
}

/* Sorted names from an array reply of strings (NULL on a bad reply). */
static char **reply_names(const redisReply *reply, unsigned int *count_r)
{
	if (reply->type != REDIS_REPLY_ARRAY)
		return NULL;
	char **names = i_new(char *, reply->elements + 1);
	unsigned int count = 0;
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		if (e->type == REDIS_REPLY_STRING && strlen(e->str) == e->len)
			names[count++] = i_strdup(e->str);
	}
	qsort(names, count, sizeof(*names), name_cmp);
	*count_r = count;
	return names;
}

static bool sorted_has(char **names, unsigned int count, const char *name)
{
	return bsearch(&name, names, count, sizeof(*names), name_cmp) != NULL;
}

static int redis_list(struct store_user *user, struct store_list_entry **entries_r,
		      unsigned int *count_r, struct store_error *error_r)
{
	const char *argv[] = { "HKEYS", "mailboxes" };
	redisReply *reply;
	unsigned int n, count = 0;
	if (user_command(user, 2, argv, &reply, error_r) < 0)
		return -1;
	char **names = reply_names(reply, &n);
	freeReplyObject(reply);
	if (names == NULL) {
		redis_set_bad_reply(error_r, "HKEYS");
		return -1;
	}
	/* Existing mailboxes in name order (parents sort before children) plus the
	 * missing parents of each as \Noselect. */
	struct store_list_entry *entries = i_new(struct store_list_entry, n * 2 + 1);
	unsigned int alloc = n * 2 + 1;
	for (unsigned int i = 0; i < n; i++) {
		for (char *p = strchr(names[i], '/'); p != NULL; p = strchr(p + 1, '/')) {
			char *parent = i_strndup(names[i], (size_t)(p - names[i]));
			bool known = sorted_has(names, n, parent);
			for (unsigned int j = 0; j < count && !known; j++)
				known = strcmp(entries[j].name, parent) == 0;
			if (known) {
				free(parent);
				continue;
			}
			if (count + 2 > alloc) {
				alloc *= 2;
				entries = i_reallocarray(entries, alloc, sizeof(*entries));
			}
			entries[count].name = parent;
			entries[count++].noselect = true;
		}
		if (count + 1 > alloc) {
			alloc *= 2;
			entries = i_reallocarray(entries, alloc, sizeof(*entries));
		}
		entries[count].name = names[i];
		entries[count++].noselect = false;
	}
	free(names);
	*entries_r = entries;
	*count_r = count;
	return 0;
}

static int redis_create_mailbox(struct store_user *user, const char *name,
				char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r)
{
	return create_mailbox(user, name, false, mailboxid_r, error_r);
}

static int simple_script(struct store_user *user, enum redis_script_id script, int argc,
			 const char **argv, struct store_error *error_r)
{
	redisReply *reply;
	if (redis_run(user, script, argc, argv, NULL, &reply, error_r) < 0)
		return -1;
	freeReplyObject(reply);
	return 0;
}

static int redis_delete_mailbox(struct store_user *user, const char *name,
				struct store_error *error_r)
{
	if (strcmp(name, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Cannot delete INBOX.");
		return -1;
	}
	const char *argv[] = { name };
	return simple_script(user, REDIS_SCRIPT_DELETE, 1, argv, error_r);
}

static int redis_rename_mailbox(struct store_user *user, const char *old_name,
				const char *new_name, struct store_error *error_r)
{
	size_t len = strlen(old_name);
	char id[STORE_ID_MAX_BYTES], seed[24];
	if (strncmp(new_name, old_name, len) == 0 && new_name[len] == STORE_HIERARCHY_DELIMITER &&
	    strcmp(old_name, "INBOX") != 0) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Cannot rename a mailbox into itself.");
		return -1;
	}
	store_random_id('F', id);
	snprintf(seed, sizeof(seed), "%u", store_new_uidvalidity());
	const char *argv[] = { old_name, new_name, id, seed };
	return simple_script(user, REDIS_SCRIPT_RENAME, 4, argv, error_r);
}

static int redis_subscribe(struct store_user *user, const char *name, bool subscribe,
			   struct store_error *error_r)
{
	const char *argv[] = { subscribe ? "SADD" : "SREM", "subscribed", name };
	redisReply *reply;
	if (user_command(user, 3, argv, &reply, error_r) < 0)
		return -1;
	freeReplyObject(reply);
	return 0;
}

static int redis_subscriptions(struct store_user *user, struct store_list_entry **entries_r,
			       unsigned int *count_r, struct store_error *error_r)
{
	const char *argv[] = { "SMEMBERS", "subscribed" };
	redisReply *reply;
	unsigned int n;
	if (user_command(user, 2, argv, &reply, error_r) < 0)
		return -1;
	char **names = reply_names(reply, &n);
	freeReplyObject(reply);
	if (names == NULL) {
		redis_set_bad_reply(error_r, "SMEMBERS");
		return -1;
	}
	struct store_list_entry *entries = i_new(struct store_list_entry, n + 1);
	for (unsigned int i = 0; i < n; i++) {
		entries[i].name = names[i];
		entries[i].noselect = false;
	}
	free(names);
	*entries_r = entries;
	*count_r = n;
	return 0;
}

static int redis_status(struct store_user *user, const char *name,
			struct store_mailbox_status *status_r, struct store_error *error_r)
{
	const char *argv[] = { name };
	redisReply *reply;
	if (redis_run(user, REDIS_SCRIPT_STATUS, 1, argv, NULL, &reply, error_r) < 0)
		return -1;
	int ret = redis_parse_status(reply, status_r, NULL, error_r);
	freeReplyObject(reply);
	return ret;
}

const struct store_vfuncs store_redis_vfuncs = {
	.name = "redis",
	.create = redis_create,
	.destroy = redis_destroy,
	.check = redis_check,
	.user_open = redis_user_open,
	.user_close = redis_user_close,
	.list = redis_list,
	.create_mailbox = redis_create_mailbox,
	.delete_mailbox = redis_delete_mailbox,
	.rename_mailbox = redis_rename_mailbox,
	.subscribe = redis_subscribe,
	.subscriptions = redis_subscriptions,
	.status = redis_status,
	.append = redis_append,
	.mailbox_open = redis_mailbox_open,
	.mailbox_close = redis_mailbox_close,
	.snapshot = redis_snapshot,
	.changes = redis_changes,
	.claim_recent = redis_claim_recent,
	.update_flags = redis_update_flags,
	.expunge = redis_expunge,
	.copy = redis_copy,
	.get_content = redis_get_content,
	.prefetch = redis_prefetch,
	.set_parsed = redis_set_parsed,
	.watch = redis_watch,
	.watch_remove = redis_watch_remove,
};
