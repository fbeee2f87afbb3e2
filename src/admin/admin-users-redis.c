#include "admin-users-redis.h"
#include "admin-error.h"
#include "admin-users.h"
#include "redis-users.h"

#include <string.h>

#define TAG_MASK 0x7fffffffffffffffULL   /* JSON integers are signed 64-bit */

/* Map a redis-users result to an admin error; returns -1. */
static int redis_error(int ret, struct admin_error *err)
{
	if (ret == REDIS_USERS_NOTFOUND)
		admin_error_set(err, ADMIN_ERR_NOTFOUND, "User not found.");
	else if (ret == REDIS_USERS_CONFLICT)
		admin_error_set(err, ADMIN_ERR_CANNOTREPLACE, "Cannot replace user.");
	else
		admin_error_temp(err, "Redis is unavailable");
	return -1;
}

int admin_users_redis_get(struct redis_users *redis, const char *name, json_t **record_r,
			  struct admin_error *err)
{
	json_t *rec;
	int ret = redis_users_get(redis, name, &rec);
	if (ret < 0)
		return redis_error(ret, err);
	json_t *data = json_object();
	json_t *password = json_object_get(rec, "password");
	if (json_is_string(password))
		json_object_set(data, "password", password);
	json_t *roles = json_object_get(rec, "roles");
	json_object_set_new(data, "roles", json_is_array(roles) ? json_deep_copy(roles) : json_array());
	json_t *params = json_object_get(rec, "params");
	json_object_set_new(data, "params", json_is_object(params) ? json_deep_copy(params) :
			    json_object());
	*record_r = json_pack("{s:s, s:I, s:o}", "user", name, "entity_tag",
			      (json_int_t)(redis_users_record_tag(rec) & TAG_MASK), "data", data);
	json_decref(rec);
	return 0;
}

static bool same_privileges(const json_t *old, const struct admin_users_update *u)
{
	const json_t *old_roles = json_object_get(old, "roles");
	const json_t *old_params = json_object_get(old, "params");
	json_t *empty_array = json_array(), *empty_object = json_object();
	bool same = json_equal(old_roles != NULL ? old_roles : empty_array,
			       u->roles != NULL ? u->roles : empty_array) &&
		    json_equal(old_params != NULL ? old_params : empty_object,
			       u->params != NULL ? u->params : empty_object);
	json_decref(empty_array);
	json_decref(empty_object);
	return same;
}

int admin_users_redis_set(struct redis_users *redis, const char *name,
			  const struct admin_users_update *u, uint64_t *tag_r,
			  struct admin_error *err)
{
	json_t *old = NULL;
	int ret = redis_users_get(redis, name, &old);
	if (ret < 0 && ret != REDIS_USERS_NOTFOUND)
		return redis_error(ret, err);
	if (!u->may_change_privileges && !same_privileges(old, u)) {
		json_decref(old);
		admin_error_set(err, ADMIN_ERR_NOTALLOWED, "Cannot assign roles or params.");
		return -1;
	}
	json_t *record = json_object();
	const char *hash = u->keep_password ?
		json_string_value(json_object_get(old, "password")) : u->password_hash;
	if (hash != NULL)
		json_object_set_new(record, "password", json_string(hash));
	json_object_set_new(record, "roles", u->roles != NULL ? json_deep_copy(u->roles) : json_array());
	json_object_set_new(record, "params", u->params != NULL ? json_deep_copy(u->params) :
			    json_object());
	json_decref(old);
	enum redis_users_mode mode = u->mode == ADMIN_USERS_CREATE ? REDIS_USERS_CREATE :
		u->mode == ADMIN_USERS_OVERWRITE ? REDIS_USERS_OVERWRITE : REDIS_USERS_REPLACE_TAG;
	uint64_t tag;
	ret = redis_users_set(redis, name, record, mode, u->previous_tag, &tag);
	json_decref(record);
	if (ret < 0)
		return redis_error(ret, err);
	*tag_r = tag & TAG_MASK;
	return 0;
}

int admin_users_redis_delete(struct redis_users *redis, const char *name,
			     struct admin_error *err)
{
	int ret = redis_users_delete(redis, name, 0);
	return ret < 0 ? redis_error(ret, err) : 0;
}

int admin_users_redis_list(struct redis_users *redis, json_t **names_r,
			   struct admin_error *err)
{
	int ret = redis_users_list(redis, names_r);
	return ret < 0 ? redis_error(ret, err) : 0;
}

int admin_users_redis_lookup(struct redis_users *redis, const char *name, json_t **params_r,
			     struct admin_error *err)
{
	json_t *rec;
	int ret = redis_users_get(redis, name, &rec);
	if (ret == REDIS_USERS_NOTFOUND)
		return 0;
	if (ret < 0)
		return redis_error(ret, err);
	json_t *params = json_object_get(rec, "params");
	*params_r = json_is_object(params) ? json_deep_copy(params) : json_object();
	json_decref(rec);
	return 1;
}
