/* User records per backend for the admin service (see admin-users.h). */
#include "admin-users.h"
#include "admin-users-redis.h"
#include "redis-users.h"
#include "admin-error.h"
#include "alloc.h"
#include "log.h"
#include "users-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define LOCK_STALE_SECS 600
#define TAG_MASK 0x7fffffffffffffffULL   /* JSON integers are signed 64-bit */

enum users_backend { USERS_DICT, USERS_MAILDIR, USERS_REDIS, USERS_OTHER };

struct admin_users {
	enum users_backend backend;
	char *backend_name;
	char *demo_user;
	char *passwd_path, *shadow_path, *group_path, *lock_path;
	unsigned int lock_timeout_msecs;
	struct redis_users *redis;
	const char *redis_error;
};

/* The three files of one maildir base dir, read together. */
struct users_files {
	struct users_file *passwd, *shadow, *group;
};

static char *join_path(const char *dir, const char *name, const char *def)
{
	return i_strdup_printf("%s/%s", dir, name != NULL ? name : def);
}

struct admin_users *admin_users_create(const struct admin_users_settings *set)
{
	struct admin_users *users = i_new0(struct admin_users);
	users->backend = strcmp(set->backend, "dict") == 0 ? USERS_DICT :
		strcmp(set->backend, "maildir") == 0 ? USERS_MAILDIR :
		strcmp(set->backend, "redis") == 0 ? USERS_REDIS : USERS_OTHER;
	if (users->backend == USERS_REDIS) {
		users->redis = redis_users_create(set->config, &users->redis_error);
		if (users->redis == NULL)
			log_error("admin: redis users: %s", users->redis_error);
	}
	users->backend_name = i_strdup(set->backend);
	users->demo_user = i_strdup(set->demo_user != NULL ? set->demo_user : "demouser");
	const char *base = set->base_dir != NULL ? set->base_dir : "";
	users->passwd_path = join_path(base, set->passwd_name, USERS_FILE_PASSWD_NAME);
	users->shadow_path = join_path(base, set->shadow_name, USERS_FILE_SHADOW_NAME);
	users->group_path = join_path(base, set->group_name, USERS_FILE_GROUP_NAME);
	users->lock_path = i_strdup_printf("%s.lock", users->passwd_path);
	users->lock_timeout_msecs = set->lock_timeout_msecs != 0 ? set->lock_timeout_msecs : 5000;
	return users;
}

void admin_users_destroy(struct admin_users **_users)
{
	struct admin_users *users = *_users;
	if (users == NULL)
		return;
	*_users = NULL;
	free(users->backend_name);
	free(users->demo_user);
	free(users->passwd_path);
	free(users->shadow_path);
	free(users->group_path);
	free(users->lock_path);
	redis_users_destroy(&users->redis);
	free(users);
}

bool admin_users_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == ',')
			return false;
	}
	return true;
}

/* Returns true when the backend can answer; sets err otherwise. */
static bool backend_supported(struct admin_users *users, struct admin_error *err)
{
	if (users->backend == USERS_OTHER) {
		admin_error_temp(err, "users of the %s backend: not implemented yet",
				 users->backend_name);
		return false;
	}
	if (users->backend == USERS_REDIS && users->redis == NULL) {
		admin_error_temp(err, "redis users: %s", users->redis_error);
		return false;
	}
	return true;
}

/* ---- maildir files ---- */

static void files_free(struct users_files *f)
{
	users_file_destroy(&f->passwd);
	users_file_destroy(&f->shadow);
	users_file_destroy(&f->group);
}

static int files_read(struct admin_users *users, struct users_files *f,
		      struct admin_error *err)
{
	const char *error;
	memset(f, 0, sizeof(*f));
	if (users_file_read(users->passwd_path, USERS_FILE_PASSWD, &f->passwd, NULL, &error) < 0 ||
	    users_file_read(users->shadow_path, USERS_FILE_SHADOW, &f->shadow, NULL, &error) < 0 ||
	    users_file_read(users->group_path, USERS_FILE_GROUP, &f->group, NULL, &error) < 0) {
		log_error("admin: users files: %s", error);
		admin_error_temp(err, "cannot read the users files");
		files_free(f);
		return -1;
	}
	return 0;
}

static int lock_take(struct admin_users *users, struct admin_error *err)
{
	unsigned int waited = 0, delay = 10;
	for (;;) {
		int fd = open(users->lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		struct stat st;
		if (errno != EEXIST) {
			log_error_errno("admin: open(%s)", users->lock_path);
			admin_error_temp(err, "cannot lock the users files");
			return -1;
		}
		if (stat(users->lock_path, &st) == 0 && time(NULL) - st.st_mtime > LOCK_STALE_SECS) {
			log_warning("admin: removing stale lock %s", users->lock_path);
			unlink(users->lock_path);
			continue;
		}
		if (waited >= users->lock_timeout_msecs) {
			admin_error_temp(err, "users files are locked (%s)", users->lock_path);
			return -1;
		}
		usleep(delay * 1000);
		waited += delay;
		delay = delay < 200 ? delay * 2 : 200;
	}
}

static void lock_release(struct admin_users *users)
{
	if (unlink(users->lock_path) < 0)
		log_error_errno("admin: unlink(%s)", users->lock_path);
}

static bool list_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t item = end != NULL ? (size_t)(end - p) : strlen(p);
		if (item == len && memcmp(p, name, len) == 0)
			return true;
		p += item + (end != NULL ? 1 : 0);
	}
	return false;
}

/* Roles of name, sorted: the groups that list it, plus admin for uid 0. */
static json_t *user_roles(const struct users_files *f, const char *name)
{
	json_t *roles = json_array();
	const struct users_file_record *pw = users_file_get(f->passwd, name);
	bool admin = pw != NULL && strcmp(pw->fields[USERS_PASSWD_UID], "0") == 0;
	for (unsigned int i = 0; i < f->group->count; i++) {
		char **fields = f->group->records[i].fields;
		if (list_has(fields[USERS_GROUP_USERS], name)) {
			json_array_append_new(roles, json_string(fields[0]));
			if (strcmp(fields[0], "admin") == 0)
				admin = false;
		}
	}
	if (admin)
		json_array_append_new(roles, json_string("admin"));
	return roles;
}

static const char *user_mailbox_path(const struct users_file_record *pw)
{
	const char *home = pw->fields[USERS_PASSWD_HOME_DIR];
	return home[0] != '\0' ? home : pw->fields[0];
}

static uint64_t user_tag(const struct users_files *f, const char *name)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state state;
	const struct users_file_record *rec[2] = {
		users_file_get(f->passwd, name), users_file_get(f->shadow, name)
	};
	enum users_file_kind kinds[2] = { USERS_FILE_PASSWD, USERS_FILE_SHADOW };
	crypto_hash_sha256_init(&state);
	for (unsigned int i = 0; i < 2; i++) {
		char *line = rec[i] != NULL ? users_file_format_line(kinds[i], rec[i]->fields) :
			i_strdup("");
		crypto_hash_sha256_update(&state, (const unsigned char *)line, strlen(line) + 1);
		free(line);
	}
	json_t *roles = user_roles(f, name);
	char *text = json_dumps(roles, JSON_COMPACT);
	crypto_hash_sha256_update(&state, (const unsigned char *)text, strlen(text));
	free(text);
	json_decref(roles);
	crypto_hash_sha256_final(&state, digest);
	uint64_t tag = 0;
	for (unsigned int i = 0; i < 8; i++)
		tag = tag << 8 | digest[i];
	return tag & TAG_MASK;
}

static json_t *maildir_record(const struct users_files *f, const char *name)
{
	const struct users_file_record *pw = users_file_get(f->passwd, name);
	const struct users_file_record *sh = users_file_get(f->shadow, name);
	json_t *data = json_object();
	if (sh != NULL)
		json_object_set_new(data, "password",
				    json_string(sh->fields[USERS_SHADOW_PASSWORD]));
	json_object_set_new(data, "roles", user_roles(f, name));
	json_object_set_new(data, "params", json_pack("{s:s}", "mailbox_path",
						      user_mailbox_path(pw)));
	return json_pack("{s:s, s:I, s:o}", "user", name, "entity_tag",
			 (json_int_t)user_tag(f, name), "data", data);
}

/* ---- get / list / lookup ---- */

static json_t *dict_record(struct admin_users *users)
{
	return json_pack("{s:s, s:{s:[], s:{}}}", "user", users->demo_user, "data",
			 "roles", "params");
}

int admin_users_get(struct admin_users *users, const char *name, json_t **record_r,
		    struct admin_error *err)
{
	struct users_files f;
	if (!backend_supported(users, err))
		return -1;
	if (users->backend == USERS_REDIS)
		return admin_users_redis_get(users->redis, name, record_r, err);
	if (users->backend == USERS_DICT) {
		if (strcmp(name, users->demo_user) != 0) {
			admin_error_set(err, ADMIN_ERR_NOTFOUND, "User not found.");
			return -1;
		}
		*record_r = dict_record(users);
		return 0;
	}
	if (files_read(users, &f, err) < 0)
		return -1;
	int ret = 0;
	if (users_file_get(f.passwd, name) == NULL) {
		admin_error_set(err, ADMIN_ERR_NOTFOUND, "User not found.");
		ret = -1;
	} else {
		*record_r = maildir_record(&f, name);
	}
	files_free(&f);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int admin_users_list(struct admin_users *users, json_t **names_r, struct admin_error *err)
{
	struct users_files f;
	if (!backend_supported(users, err))
		return -1;
	if (users->backend == USERS_REDIS)
		return admin_users_redis_list(users->redis, names_r, err);
	if (users->backend == USERS_DICT) {
		*names_r = json_pack("[s]", users->demo_user);
		return 0;
	}
	if (files_read(users, &f, err) < 0)
		return -1;
	const char **names = i_reallocarray(NULL, f.passwd->count + 1, sizeof(char *));
	for (unsigned int i = 0; i < f.passwd->count; i++)
		names[i] = f.passwd->records[i].fields[0];
	qsort(names, f.passwd->count, sizeof(char *), cmp_str);
	*names_r = json_array();
	for (unsigned int i = 0; i < f.passwd->count; i++)
		json_array_append_new(*names_r, json_string(names[i]));
	free(names);
	files_free(&f);
	return 0;
}

int admin_users_lookup(struct admin_users *users, const char *name, json_t **params_r,
		       struct admin_error *err)
{
	struct users_file *passwd;
	const char *error;
	if (!backend_supported(users, err))
		return -1;
	if (users->backend == USERS_REDIS)
		return admin_users_redis_lookup(users->redis, name, params_r, err);
	if (users->backend == USERS_DICT) {
		if (strcmp(name, users->demo_user) != 0)
			return 0;
		*params_r = json_object();
		return 1;
	}
	if (users_file_read(users->passwd_path, USERS_FILE_PASSWD, &passwd, NULL, &error) < 0) {
		log_error("admin: users files: %s", error);
		admin_error_temp(err, "cannot read the users files");
		return -1;
	}
	const struct users_file_record *pw = users_file_get(passwd, name);
	if (pw != NULL)
		*params_r = json_pack("{s:s}", "mailbox_path", user_mailbox_path(pw));
	users_file_destroy(&passwd);
	return pw != NULL ? 1 : 0;
}

/* ---- set / delete (maildir) ---- */

static int check_update(const char *name, const struct admin_users_update *u,
			const char **path_r, struct admin_error *err)
{
	size_t i;
	json_t *item;
	const char *key;
	*path_r = name;
	if (u->roles != NULL) {
		json_array_foreach(u->roles, i, item) {
			if (!json_is_string(item) || !admin_users_name_valid(json_string_value(item))) {
				admin_error_set(err, ADMIN_ERR_BADREQUEST, "Invalid role name.");
				return -1;
			}
		}
	}
	if (u->params == NULL)
		return 0;
	json_object_foreach((json_t *)u->params, key, item) {
		if (strcmp(key, "mailbox_path") != 0) {
			admin_error_set(err, ADMIN_ERR_BADREQUEST,
					"Unsupported param %.64s (maildir: mailbox_path only).", key);
			return -1;
		}
		if (!json_is_string(item) || !admin_users_name_valid(json_string_value(item))) {
			admin_error_set(err, ADMIN_ERR_BADREQUEST, "Invalid mailbox_path.");
			return -1;
		}
		*path_r = json_string_value(item);
	}
	return 0;
}

static json_t *sorted_roles(const json_t *roles)
{
	json_t *out = json_array();
	size_t i;
	json_t *item;
	if (roles == NULL)
		return out;
	const char **names = i_reallocarray(NULL, json_array_size(roles) + 1, sizeof(char *));
	size_t n = 0;
	json_array_foreach(roles, i, item) {
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup = dup || strcmp(names[j], json_string_value(item)) == 0;
		if (!dup)
			names[n++] = json_string_value(item);
	}
	qsort(names, n, sizeof(char *), cmp_str);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(names[i]));
	free(names);
	return out;
}

static int check_rules(const struct users_files *f, const char *name,
		       const struct admin_users_update *u, const char *path,
		       struct admin_error *err)
{
	const struct users_file_record *pw = users_file_get(f->passwd, name);
	if ((u->mode == ADMIN_USERS_CREATE && pw != NULL) ||
	    (u->mode == ADMIN_USERS_REPLACE_TAG &&
	     (pw == NULL || user_tag(f, name) != u->previous_tag))) {
		admin_error_set(err, ADMIN_ERR_CANNOTREPLACE, "Cannot replace user.");
		return -1;
	}
	if (u->may_change_privileges)
		return 0;
	json_t *old_roles = pw != NULL ? user_roles(f, name) : json_array();
	json_t *a = sorted_roles(old_roles), *b = sorted_roles(u->roles);
	bool same = json_equal(a, b) &&
		strcmp(pw != NULL ? user_mailbox_path(pw) : name, path) == 0;
	json_decref(old_roles);
	json_decref(a);
	json_decref(b);
	if (!same) {
		admin_error_set(err, ADMIN_ERR_NOTALLOWED,
				"Cannot assign roles or mailbox_path.");
		return -1;
	}
	return 0;
}

static bool roles_has(const json_t *roles, const char *role)
{
	size_t i;
	json_t *item;
	if (roles == NULL)
		return false;
	json_array_foreach(roles, i, item) {
		if (strcmp(json_string_value(item), role) == 0)
			return true;
	}
	return false;
}

/* The group record's user list without name, plus name when add. */
static char *group_list_update(const char *list, const char *name, bool add)
{
	json_t *names = json_array();
	for (const char *p = list; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > 0 && (len != strlen(name) || memcmp(p, name, len) != 0))
			json_array_append_new(names, json_stringn(p, len));
		p += len + (end != NULL ? 1 : 0);
	}
	if (add)
		json_array_append_new(names, json_string(name));
	json_t *sorted = sorted_roles(names);
	size_t i, total = 1;
	json_t *item;
	json_array_foreach(sorted, i, item)
		total += json_string_length(item) + 1;
	char *out = i_malloc(total);
	json_array_foreach(sorted, i, item) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, json_string_value(item));
	}
	json_decref(names);
	json_decref(sorted);
	return out;
}

static void groups_update(struct users_file *group, const char *name, const json_t *roles)
{
	for (unsigned int i = 0; i < group->count; i++) {
		char **fields = group->records[i].fields;
		bool want = roles_has(roles, fields[0]);
		if (!want && !list_has(fields[USERS_GROUP_USERS], name))
			continue;
		char *list = group_list_update(fields[USERS_GROUP_USERS], name, want);
		const char *nf[4] = { fields[0], fields[1], fields[2], list };
		users_file_set(group, nf, 4);
		free(list);
	}
	size_t i;
	json_t *item;
	if (roles == NULL)
		return;
	json_array_foreach(roles, i, item) {
		const char *role = json_string_value(item);
		if (users_file_get(group, role) == NULL) {
			const char *nf[4] = { role, "x", "", name };
			users_file_set(group, nf, 4);
		}
	}
}

static int files_write(struct users_files *f, struct admin_error *err)
{
	const char *error;
	if (users_file_write(f->shadow, 0640, &error) < 0 ||
	    users_file_write(f->group, 0644, &error) < 0 ||
	    users_file_write(f->passwd, 0644, &error) < 0) {
		log_error("admin: writing the users files: %s", error);
		admin_error_temp(err, "cannot write the users files");
		return -1;
	}
	return 0;
}

static int maildir_set_locked(struct admin_users *users, const char *name,
			      const struct admin_users_update *u, const char *path,
			      uint64_t *tag_r, struct admin_error *err)
{
	struct users_files f;
	if (files_read(users, &f, err) < 0)
		return -1;
	if (check_rules(&f, name, u, path, err) < 0) {
		files_free(&f);
		return -1;
	}
	const struct users_file_record *sh = users_file_get(f.shadow, name);
	char *hash = i_strdup(u->keep_password ?
		(sh != NULL ? sh->fields[USERS_SHADOW_PASSWORD] : "*") :
		(u->password_hash != NULL ? u->password_hash : "*"));
	const char *pw_fields[7] = { name, "x", "", "", "", path, "" };
	const char *sh_fields[9] = { name, hash, "", "", "", "", "", "", "" };
	users_file_set(f.shadow, sh_fields, 9);
	groups_update(f.group, name, u->roles);
	users_file_set(f.passwd, pw_fields, 7);
	i_free_secret(hash, strlen(hash));
	int ret = files_write(&f, err);
	if (ret == 0)
		*tag_r = user_tag(&f, name);
	files_free(&f);
	return ret;
}

int admin_users_set(struct admin_users *users, const char *name,
		    const struct admin_users_update *update, uint64_t *tag_r,
		    struct admin_error *err)
{
	const char *path;
	if (!backend_supported(users, err))
		return -1;
	if (users->backend == USERS_DICT) {
		admin_error_set(err, ADMIN_ERR_CANNOT, "dict users are fixed");
		return -1;
	}
	if (!admin_users_name_valid(name)) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "Invalid user name.");
		return -1;
	}
	if (users->backend == USERS_REDIS)
		return admin_users_redis_set(users->redis, name, update, tag_r, err);
	if (check_update(name, update, &path, err) < 0 || lock_take(users, err) < 0)
		return -1;
	int ret = maildir_set_locked(users, name, update, path, tag_r, err);
	lock_release(users);
	return ret;
}

static int maildir_delete_locked(struct admin_users *users, const char *name,
				 struct admin_error *err)
{
	struct users_files f;
	if (files_read(users, &f, err) < 0)
		return -1;
	int ret = 0;
	if (users_file_remove(f.passwd, name) == 0) {
		admin_error_set(err, ADMIN_ERR_NOTFOUND, "User not found.");
		ret = -1;
	} else {
		const char *error;
		users_file_remove(f.shadow, name);
		groups_update(f.group, name, NULL);
		/* passwd first: from then on the user does not exist. */
		if (users_file_write(f.passwd, 0644, &error) < 0 ||
		    users_file_write(f.shadow, 0640, &error) < 0 ||
		    users_file_write(f.group, 0644, &error) < 0) {
			log_error("admin: writing the users files: %s", error);
			admin_error_temp(err, "cannot write the users files");
			ret = -1;
		}
	}
	files_free(&f);
	return ret;
}

int admin_users_delete(struct admin_users *users, const char *name,
		       struct admin_error *err)
{
	if (!backend_supported(users, err))
		return -1;
	if (users->backend == USERS_DICT) {
		admin_error_set(err, ADMIN_ERR_CANNOT, "dict users are fixed");
		return -1;
	}
	if (users->backend == USERS_REDIS)
		return admin_users_redis_delete(users->redis, name, err);
	if (lock_take(users, err) < 0)
		return -1;
	int ret = maildir_delete_locked(users, name, err);
	lock_release(users);
	return ret;
}
