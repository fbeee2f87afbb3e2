#ifndef PYMAP_ADMIN_USERS_REDIS_H
#define PYMAP_ADMIN_USERS_REDIS_H
/* The redis backend's side of admin-users.h: user records in Redis through
 * redis-users.h (the same records the auth process reads at login). Same contracts
 * as the admin_users_* functions. */
#include <stdint.h>
#include <jansson.h>

struct admin_error;
struct admin_users_update;
struct redis_users;

int admin_users_redis_get(struct redis_users *redis, const char *name, json_t **record_r,
			  struct admin_error *err);
int admin_users_redis_set(struct redis_users *redis, const char *name,
			  const struct admin_users_update *update, uint64_t *tag_r,
			  struct admin_error *err);
int admin_users_redis_delete(struct redis_users *redis, const char *name,
			     struct admin_error *err);
int admin_users_redis_list(struct redis_users *redis, json_t **names_r,
			   struct admin_error *err);
int admin_users_redis_lookup(struct redis_users *redis, const char *name, json_t **params_r,
			     struct admin_error *err);

#endif
