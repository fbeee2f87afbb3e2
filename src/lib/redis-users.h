#ifndef PYMAP_REDIS_USERS_H
#define PYMAP_REDIS_USERS_H
/* User records of the redis backend, for the auth process (lookup at login) and the
 * admin service (user.get/set/delete/list). One string key per user,
 * "<users_prefix><sep>{<user>}" (redis-keys.h), holding a JSON object:
 *   {"password": "<hash>" (absent: no password login), "roles": ["admin", ...],
 *    "params": {"mailbox_path": ..., ...}, "etag": "<decimal 64-bit entity tag>"}
 * plus the set "<users_prefix><sep>index" of all user names (for list). The entity
 * tag is a new random 64-bit number on every set; set's create-only /
 * overwrite / previous-tag rules (pymap-inventory.md 3.4) are checked atomically in
 * a Lua script. Connection: [redis] address (redis-conn.c: timeouts, back-off). */
#include <stdint.h>
#include <jansson.h>

struct redis_users;

enum redis_users_mode {
	REDIS_USERS_CREATE,       /* only create */
	REDIS_USERS_OVERWRITE,    /* create or replace */
	REDIS_USERS_REPLACE_TAG,  /* replace when the stored entity tag matches */
};

/* Results of the calls below. */
#define REDIS_USERS_OK 0
#define REDIS_USERS_UNAVAILABLE (-1)  /* Redis down or timed out: temporary failure */
#define REDIS_USERS_NOTFOUND (-2)
#define REDIS_USERS_CONFLICT (-3)     /* exists (create) or entity tag mismatch */

/* From the effective config ([redis] address, users_prefix, separator). NULL with
 * *error_r (static) on a bad address. No connection is made yet. */
struct redis_users *redis_users_create(const json_t *config, const char **error_r);
void redis_users_destroy(struct redis_users **users);

/* The record (new reference; "etag" is a decimal string) or NOTFOUND/UNAVAILABLE. */
int redis_users_get(struct redis_users *users, const char *name, json_t **record_r);
/* Store {"password"?, "roles"?, "params"?} taken from record (other members are
 * ignored) with a new entity tag, returned in *tag_r. */
int redis_users_set(struct redis_users *users, const char *name, const json_t *record,
		    enum redis_users_mode mode, uint64_t previous_tag, uint64_t *tag_r);
/* previous_tag 0 = any. */
int redis_users_delete(struct redis_users *users, const char *name, uint64_t previous_tag);
/* Sorted array of names (new reference). */
int redis_users_list(struct redis_users *users, json_t **names_r);
/* The entity tag of a record from redis_users_get (0 when absent or malformed). */
uint64_t redis_users_record_tag(const json_t *record);

#endif
