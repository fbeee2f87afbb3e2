/* Redis key names (see redis-keys.h). */
#include "redis-keys.h"
#include "alloc.h"

#include <stdbool.h>
#include <string.h>

static bool keep_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
}

char *redis_keys_tag(const char *username)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(username);
	char *out = i_malloc(len * 3 + 3), *p = out;
	*p++ = '{';
	for (const unsigned char *s = (const unsigned char *)username; *s != '\0'; s++) {
		if (keep_byte(*s)) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 0xf];
		}
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

char *redis_keys_mail_base(const char *prefix, char sep, const char *username)
{
	char *tag = redis_keys_tag(username);
	char *base = i_strdup_printf("%s%c%s%c", prefix, sep, tag, sep);
	free(tag);
	return base;
}

char *redis_keys_user(const char *users_prefix, char sep, const char *username)
{
	char *tag = redis_keys_tag(username);
	char *key = i_strdup_printf("%s%c%s", users_prefix, sep, tag);
	free(tag);
	return key;
}

char *redis_keys_user_index(const char *users_prefix, char sep)
{
	return i_strdup_printf("%s%cindex", users_prefix, sep);
}
