/* User records in Redis (see redis-users.h). */
#include "redis-users.h"
#include "redis-conn.h"
#include "redis-keys.h"
#include "alloc.h"
#include "strnum.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

/* KEYS[1] record; ARGV: mode (create|overwrite|tag), previous tag, new JSON. */
static const char set_script[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if ARGV[1] == 'create' and cur then return redis.error_reply('CONFLICT') end\n"
	"if ARGV[1] == 'tag' then\n"
	"  if not cur then return redis.error_reply('NOTFOUND') end\n"
	"  local ok, rec = pcall(cjson.decode, cur)\n"
	"  if not ok or type(rec) ~= 'table' or rec.etag ~= ARGV[2] then\n"
	"    return redis.error_reply('CONFLICT')\n"
	"  end\n"
	"end\n"
	"redis.call('SET', KEYS[1], ARGV[3])\n"
	"return 1\n";

/* KEYS[1] record; ARGV: previous tag or '' for any. */
static const char delete_script[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if not cur then return redis.error_reply('NOTFOUND') end\n"
	"if ARGV[1] ~= '' then\n"
	"  local ok, rec = pcall(cjson.decode, cur)\n"
	"  if not ok or type(rec) ~= 'table' or rec.etag ~= ARGV[1] then\n"
	"    return redis.error_reply('CONFLICT')\n"
	"  end\n"
	"end\n"
	"redis.call('DEL', KEYS[1])\n"
	"return 1\n";

struct redis_users {
	struct redis_conn *conn;
	char *prefix;
	char sep;
	struct redis_script set, del;
};

static const char *config_get(const json_t *config, const char *key)
{
	return json_string_value(json_object_get(json_object_get(config, "redis"), key));
}

struct redis_users *redis_users_create(const json_t *config, const char **error_r)
{
	const char *address = config_get(config, "address");
	const char *prefix = config_get(config, "users_prefix");
	const char *sep = config_get(config, "separator");
	struct redis_url url;
	if (redis_url_parse(address != NULL ? address : "redis://localhost", &url,
			    error_r) < 0)
		return NULL;
	struct redis_users *users = i_new0(struct redis_users);
	users->conn = redis_conn_create(&url);
	users->prefix = i_strdup(prefix != NULL ? prefix : "/users");
	users->sep = sep != NULL && sep[0] != '\0' ? sep[0] : '/';
	redis_script_init(&users->set, set_script);
	redis_script_init(&users->del, delete_script);
	return users;
}

void redis_users_destroy(struct redis_users **_users)
{
	struct redis_users *users = *_users;
	if (users == NULL)
		return;
	*_users = NULL;
	redis_conn_destroy(&users->conn);
	free(users->prefix);
	free(users);
}

uint64_t redis_users_record_tag(const json_t *record)
{
	uint64_t tag;
	const char *str = json_string_value(json_object_get(record, "etag"));
	return str != NULL && str_to_uint64(str, &tag) == 0 ? tag : 0;
}

int redis_users_get(struct redis_users *users, const char *name, json_t **record_r)
{
	char *key = redis_keys_user(users->prefix, users->sep, name);
	const char *argv[] = { "GET", key };
	redisReply *reply;
	int ret = redis_conn_commandv(users->conn, 2, argv, NULL, &reply);
	free(key);
	if (ret < 0)
		return REDIS_USERS_UNAVAILABLE;
	ret = REDIS_USERS_NOTFOUND;
	if (reply->type == REDIS_REPLY_STRING) {
		json_t *record = json_loadb(reply->str, reply->len, 0, NULL);
		if (json_is_object(record)) {
			*record_r = record;
			ret = REDIS_USERS_OK;
		} else {
			json_decref(record);   /* a corrupt record is no user */
		}
	} else if (reply->type == REDIS_REPLY_ERROR) {
		ret = REDIS_USERS_UNAVAILABLE;
	}
	freeReplyObject(reply);
	return ret;
}

static int error_code(const redisReply *reply)
{
	/* Redis 7 prefixes a one-word error with "ERR ". */
	if (strstr(reply->str, "CONFLICT") != NULL)
		return REDIS_USERS_CONFLICT;
	if (strstr(reply->str, "NOTFOUND") != NULL)
		return REDIS_USERS_NOTFOUND;
	return REDIS_USERS_UNAVAILABLE;
}

/* Keep the set of names in step (a separate key: outside the user's slot). */
static void index_update(struct redis_users *users, const char *cmd, const char *name)
{
	char *key = redis_keys_user_index(users->prefix, users->sep);
	const char *argv[] = { cmd, key, name };
	redisReply *reply;
	if (redis_conn_commandv(users->conn, 3, argv, NULL, &reply) == 0)
		freeReplyObject(reply);
	free(key);
}

static json_t *new_record(const json_t *record, uint64_t tag)
{
	json_t *out = json_object();
	const json_t *roles = json_object_get(record, "roles");
	const json_t *params = json_object_get(record, "params");
	const json_t *password = json_object_get(record, "password");
	char tagstr[24];
	if (json_is_string(password))
		json_object_set(out, "password", (json_t *)password);
	json_object_set_new(out, "roles", json_is_array(roles) ? json_deep_copy(roles) :
				json_array());
	json_object_set_new(out, "params", json_is_object(params) ? json_deep_copy(params) :
				json_object());
	snprintf(tagstr, sizeof(tagstr), "%llu", (unsigned long long)tag);
	json_object_set_new(out, "etag", json_string(tagstr));
	return out;
}

int redis_users_set(struct redis_users *users, const char *name, const json_t *record,
		    enum redis_users_mode mode, uint64_t previous_tag, uint64_t *tag_r)
{
	uint64_t tag = 0;
	char prev[24];
	while (tag == 0)
		randombytes_buf(&tag, sizeof(tag));
	snprintf(prev, sizeof(prev), "%llu", (unsigned long long)previous_tag);
	json_t *rec = new_record(record, tag);
	char *json = json_dumps(rec, JSON_COMPACT);
	char *key = redis_keys_user(users->prefix, users->sep, name);
	const char *argv[] = { key, mode == REDIS_USERS_CREATE ? "create" :
			       mode == REDIS_USERS_OVERWRITE ? "overwrite" : "tag", prev, json };
	redisReply *reply;
	int ret = redis_conn_eval(users->conn, &users->set, 1, 4, argv, NULL, &reply);
	json_decref(rec);
	free(json);
	free(key);
	if (ret < 0)
		return REDIS_USERS_UNAVAILABLE;
	ret = reply->type == REDIS_REPLY_ERROR ? error_code(reply) : REDIS_USERS_OK;
	freeReplyObject(reply);
	if (ret == REDIS_USERS_OK) {
		index_update(users, "SADD", name);
		*tag_r = tag;
	}
	return ret;
}

int redis_users_delete(struct redis_users *users, const char *name, uint64_t previous_tag)
{
	char prev[24] = "";
	if (previous_tag != 0)
		snprintf(prev, sizeof(prev), "%llu", (unsigned long long)previous_tag);
	char *key = redis_keys_user(users->prefix, users->sep, name);
	const char *argv[] = { key, prev };
	redisReply *reply;
	int ret = redis_conn_eval(users->conn, &users->del, 1, 2, argv, NULL, &reply);
	free(key);
	if (ret < 0)
		return REDIS_USERS_UNAVAILABLE;
	ret = reply->type == REDIS_REPLY_ERROR ? error_code(reply) : REDIS_USERS_OK;
	freeReplyObject(reply);
	if (ret == REDIS_USERS_OK || ret == REDIS_USERS_NOTFOUND)
		index_update(users, "SREM", name);
	return ret;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

int redis_users_list(struct redis_users *users, json_t **names_r)
{
	char *key = redis_keys_user_index(users->prefix, users->sep);
	const char *argv[] = { "SMEMBERS", key };
	redisReply *reply;
	int ret = redis_conn_commandv(users->conn, 2, argv, NULL, &reply);
	free(key);
	if (ret < 0)
		return REDIS_USERS_UNAVAILABLE;
	if (reply->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		return REDIS_USERS_UNAVAILABLE;
	}
	json_t **items = i_new(json_t *, reply->elements + 1);
	size_t n = 0;
	for (size_t i = 0; i < reply->elements; i++) {
		json_t *s = json_stringn(reply->element[i]->str, reply->element[i]->len);
		if (s != NULL)
			items[n++] = s;
	}
	freeReplyObject(reply);
	qsort(items, n, sizeof(*items), cmp_json_str);
	json_t *names = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, items[i]);
	free(items);
	*names_r = names;
	return REDIS_USERS_OK;
}
