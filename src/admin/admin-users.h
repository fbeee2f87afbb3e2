#ifndef PYMAP_ADMIN_USERS_H
#define PYMAP_ADMIN_USERS_H
/* User records as the admin service edits them (user.get/set/delete/list/
 * change-password, and the existence check of mail.append), per backend:
 * - dict: the demo user only; it cannot be changed (CANNOT "dict users are fixed").
 * - maildir: the pymap-format users files in [maildir] base_dir (users-file.h),
 *   written whole under pymap's lock file "pymap-etc-passwd.lock". Entity tags are
 *   derived from the user's lines (a hash), so the create-only / overwrite /
 *   previous_entity_tag rules (pymap-inventory.md 3.4) hold here too.
 * - redis: JSON records in Redis (redis-users.h), via admin-users-redis.c; entity
 *   tags are kept in the records, the rules are checked atomically in Redis.
 * The caller (admin-ops.c) has already hashed the password (auth.hash) and checked
 * who may act on whom. */
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct admin_error;

struct admin_users_settings {
	const char *backend;      /* "dict", "maildir", "redis" */
	const char *demo_user;    /* dict */
	const char *base_dir;     /* maildir */
	const char *passwd_name, *shadow_name, *group_name;  /* NULL = pymap's names */
	unsigned int lock_timeout_msecs;                      /* 0 = 5000 */
	const json_t *config;     /* redis: the effective config ([redis] address...) */
};

enum admin_users_set_mode {
	ADMIN_USERS_CREATE,       /* only create: an existing user -> CANNOTREPLACE */
	ADMIN_USERS_OVERWRITE,    /* create or replace */
	ADMIN_USERS_REPLACE_TAG,  /* replace when the entity tag still matches */
};

struct admin_users_update {
	const char *password_hash;   /* NULL: no password (maildir writes "*") */
	const json_t *roles;         /* array of strings, or NULL = none */
	const json_t *params;        /* object, or NULL = defaults */
	enum admin_users_set_mode mode;
	uint64_t previous_tag;       /* for ADMIN_USERS_REPLACE_TAG */
	bool keep_password;          /* change nothing about the password (set roles only) */
	/* false for a caller acting on itself without the admin role: roles and
	 * mailbox_path may not change (NOTALLOWED). */
	bool may_change_privileges;
};

struct admin_users;
struct admin_users *admin_users_create(const struct admin_users_settings *set);
void admin_users_destroy(struct admin_users **users);

/* The record {"user":NAME,"entity_tag":N?,"data":{"password":HASH?,"roles":[...],
 * "params":{...}}} as *record_r (new reference). 0, or -1 with err (NOTFOUND). */
int admin_users_get(struct admin_users *users, const char *name, json_t **record_r,
		    struct admin_error *err);
/* 0 with *tag_r (0 when the backend has none), or -1 with err. */
int admin_users_set(struct admin_users *users, const char *name,
		    const struct admin_users_update *update, uint64_t *tag_r,
		    struct admin_error *err);
int admin_users_delete(struct admin_users *users, const char *name,
		       struct admin_error *err);
/* Names, sorted (array of strings, new reference). */
int admin_users_list(struct admin_users *users, json_t **names_r, struct admin_error *err);
/* For delivery: 1 exists with *params_r (object, new reference: mailbox_path...),
 * 0 unknown, -1 err (temporary). */
int admin_users_lookup(struct admin_users *users, const char *name, json_t **params_r,
		       struct admin_error *err);
/* Whether name is acceptable as a user or role name: 1..255 bytes, no control
 * characters, no ',' (the group file's list separator). */
bool admin_users_name_valid(const char *name);

#endif
