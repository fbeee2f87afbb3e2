#include "lockout.h"
#include "alloc.h"
#include "log.h"

#include <string.h>

struct lockout_entry {
	char *key;                 /* "ip:1.2.3.4" or "user:alice"; NULL = empty slot */
	unsigned int failures;
	uint64_t window_start;
	uint64_t locked_until;     /* 0 = not locked */
	bool tombstone;
};

struct lockout {
	struct lockout_settings set;
	struct lockout_entry *slots;
	unsigned int size, used;   /* used counts live keys and tombstones */
	bool cap_logged;
};

struct lockout *lockout_create(const struct lockout_settings *set)
{
	struct lockout *l = i_new0(struct lockout);
	l->set = *set;
	l->size = 1024;
	l->slots = i_new(struct lockout_entry, l->size);
	memset(l->slots, 0, l->size * sizeof(*l->slots));
	return l;
}

void lockout_destroy(struct lockout **_l)
{
	struct lockout *l = *_l;
	if (l == NULL)
		return;
	*_l = NULL;
	for (unsigned int i = 0; i < l->size; i++)
		free(l->slots[i].key);
	free(l->slots);
	free(l);
}

static unsigned int key_hash(const char *key)
{
	unsigned int h = 2166136261u;
	for (const unsigned char *p = (const void *)key; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static struct lockout_entry *find(struct lockout *l, const char *key)
{
	unsigned int mask = l->size - 1;
	for (unsigned int i = key_hash(key) & mask;; i = (i + 1) & mask) {
		struct lockout_entry *e = &l->slots[i];
		if (e->key == NULL && !e->tombstone)
			return NULL;
		if (e->key != NULL && strcmp(e->key, key) == 0)
			return e;
	}
}

static bool entry_expired(const struct lockout *l, const struct lockout_entry *e,
			  uint64_t now)
{
	return now >= e->locked_until && now >= e->window_start + l->set.window_secs;
}

/* Rebuild into a table of new_size without expired entries and tombstones. */
static void rehash(struct lockout *l, unsigned int new_size, uint64_t now)
{
	struct lockout_entry *old = l->slots;
	unsigned int old_size = l->size;
	l->slots = i_new(struct lockout_entry, new_size);
	memset(l->slots, 0, new_size * sizeof(*l->slots));
	l->size = new_size;
	l->used = 0;
	for (unsigned int i = 0; i < old_size; i++) {
		if (old[i].key == NULL)
			continue;
		if (entry_expired(l, &old[i], now)) {
			free(old[i].key);
			continue;
		}
		unsigned int j = key_hash(old[i].key) & (new_size - 1);
		while (l->slots[j].key != NULL)
			j = (j + 1) & (new_size - 1);
		l->slots[j] = old[i];
		l->used++;
	}
	free(old);
}

static struct lockout_entry *find_or_add(struct lockout *l, const char *key, uint64_t now)
{
	struct lockout_entry *e = find(l, key);
	if (e != NULL)
		return e;
	if ((l->used + 1) * 2 > l->size) {
		rehash(l, l->size, now);    /* first drop expired keys and tombstones */
		if ((l->used + 1) * 2 > l->size && l->size < LOCKOUT_MAX_ENTRIES * 4)
			rehash(l, l->size * 2, now);
	}
	if (l->used >= LOCKOUT_MAX_ENTRIES || (l->used + 1) * 2 > l->size) {
		if (!l->cap_logged)
			log_warning("auth lockout: table full (%u keys), not tracking new ones",
				    l->used);
		l->cap_logged = true;
		return NULL;
	}
	unsigned int mask = l->size - 1, i = key_hash(key) & mask;
	while (l->slots[i].key != NULL)
		i = (i + 1) & mask;
	e = &l->slots[i];
	if (!e->tombstone)
		l->used++;
	memset(e, 0, sizeof(*e));
	e->key = i_strdup(key);
	e->window_start = now;
	return e;
}

static char *make_key(const char *kind, const char *value)
{
	return i_strdup_printf("%s:%s", kind, value);
}

static bool key_locked(struct lockout *l, const char *kind, const char *value,
		       uint64_t now)
{
	if (value == NULL || l->set.threshold == 0)
		return false;
	char *key = make_key(kind, value);
	struct lockout_entry *e = find(l, key);
	free(key);
	return e != NULL && now < e->locked_until;
}

bool lockout_is_locked(struct lockout *l, const char *remote, const char *user,
		       uint64_t now_secs)
{
	return key_locked(l, "ip", remote, now_secs) || key_locked(l, "user", user, now_secs);
}

static void key_failure(struct lockout *l, const char *kind, const char *value,
			uint64_t now)
{
	char *key = make_key(kind, value);
	struct lockout_entry *e = find_or_add(l, key, now);
	free(key);
	if (e == NULL)
		return;
	if (now >= e->window_start + l->set.window_secs && now >= e->locked_until) {
		e->failures = 0;
		e->window_start = now;
	}
	e->failures++;
	if (e->failures >= l->set.threshold && now >= e->locked_until) {
		e->locked_until = now + l->set.window_secs;
		/* logged once per window: only when the lock starts */
		log_warning("auth: %s %s locked out for %u s after %u failed logins",
			    kind, value, l->set.window_secs, e->failures);
	}
}

void lockout_failure(struct lockout *l, const char *remote, const char *user,
		     uint64_t now_secs)
{
	if (l->set.threshold == 0)
		return;
	if (remote != NULL)
		key_failure(l, "ip", remote, now_secs);
	if (user != NULL)
		key_failure(l, "user", user, now_secs);
}

static void key_clear(struct lockout *l, const char *kind, const char *value)
{
	char *key = make_key(kind, value);
	struct lockout_entry *e = find(l, key);
	free(key);
	/* (a locked key never gets here: its attempts are refused unchecked) */
	if (e == NULL)
		return;
	free(e->key);
	e->key = NULL;
	e->tombstone = true;
}

void lockout_success(struct lockout *l, const char *remote, const char *user)
{
	if (remote != NULL)
		key_clear(l, "ip", remote);
	if (user != NULL)
		key_clear(l, "user", user);
}

unsigned int lockout_entry_count(const struct lockout *l)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < l->size; i++)
		n += l->slots[i].key != NULL;
	return n;
}
