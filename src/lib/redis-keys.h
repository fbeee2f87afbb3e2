#ifndef PYMAP_REDIS_KEYS_H
#define PYMAP_REDIS_KEYS_H
/* Redis key names shared by the redis store and redis-users.c (layout in
 * doc/redis.md). Every key of one user holds the same hash tag "{<user>}" with the
 * user name percent-encoded (bytes other than A-Z a-z 0-9 . _ @ + - become %XX), so
 * a tag never contains '{' or '}' and Redis Cluster puts all of a user's keys in one
 * slot. All functions return allocated strings. */

/* "{alice%40example.org}" */
char *redis_keys_tag(const char *username);
/* Mail keys of a user start with this base: "<prefix><sep>{tag}<sep>". */
char *redis_keys_mail_base(const char *prefix, char sep, const char *username);
/* The user record: "<users_prefix><sep>{tag}". */
char *redis_keys_user(const char *users_prefix, char sep, const char *username);
/* The set of all user names: "<users_prefix><sep>index". */
char *redis_keys_user_index(const char *users_prefix, char sep);

#endif
