/* Dispatch from the public store API to the backend, and helpers shared by backends. */
#include "store-private.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

static const struct store_vfuncs *const store_backends[] = {
	&store_dict_vfuncs,
	&store_maildir_vfuncs,
	&store_redis_vfuncs,
};

int store_create(const json_t *config, struct ioloop *loop, struct store **store_r,
		 const char **error_r)
{
	const char *type = json_string_value(json_object_get(
		json_object_get(config, "backend"), "type"));
	if (type == NULL)
		type = "dict";
	for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++) {
		if (strcmp(store_backends[i]->name, type) != 0)
			continue;
		if (store_backends[i]->create(config, loop, store_r, error_r) < 0)
			return -1;
		(*store_r)->v = store_backends[i];
		(*store_r)->loop = loop;
		return 0;
	}
	*error_r = "unknown or not yet supported storage backend";
	return -1;
}

void store_destroy(struct store **_store)
{
	struct store *store = *_store;
	if (store == NULL)
		return;
	*_store = NULL;
	store->v->destroy(store);
}

const char *store_backend_name(const struct store *store) { return store->v->name; }

int store_check(struct store *store, struct store_error *error_r)
{
	return store->v->check == NULL ? 0 : store->v->check(store, error_r);
}

int store_user_open(struct store *store, const char *username, const json_t *params,
		    struct store_user **user_r, struct store_error *error_r)
{
	return store->v->user_open(store, username, params, user_r, error_r);
}

void store_user_close(struct store_user **_user)
{
	struct store_user *user = *_user;
	if (user == NULL)
		return;
	*_user = NULL;
	user->store->v->user_close(user);
}

const char *store_user_name(const struct store_user *user) { return user->name; }

#define USER_V(user) ((user)->store->v)
#define MBOX_V(mbox) ((mbox)->user->store->v)

int store_list(struct store_user *user, struct store_list_entry **entries_r,
	       unsigned int *count_r, struct store_error *error_r)
{
	return USER_V(user)->list(user, entries_r, count_r, error_r);
}

void store_list_free(struct store_list_entry **_entries, unsigned int count)
{
	struct store_list_entry *entries = *_entries;
	if (entries == NULL)
		return;
	*_entries = NULL;
	for (unsigned int i = 0; i < count; i++)
		free(entries[i].name);
	free(entries);
}

int store_create_mailbox(struct store_user *user, const char *name,
			 char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r)
{
	if (store_name_validate(name, error_r) < 0)
		return -1;
	return USER_V(user)->create_mailbox(user, name, mailboxid_r, error_r);
}

int store_delete_mailbox(struct store_user *user, const char *name,
			 struct store_error *error_r)
{
	return USER_V(user)->delete_mailbox(user, name, error_r);
}

int store_rename_mailbox(struct store_user *user, const char *old_name,
			 const char *new_name, struct store_error *error_r)
{
	if (store_name_validate(new_name, error_r) < 0)
		return -1;
	return USER_V(user)->rename_mailbox(user, old_name, new_name, error_r);
}

int store_subscribe(struct store_user *user, const char *name, bool subscribe,
		    struct store_error *error_r)
{
	if (store_name_validate(name, error_r) < 0)
		return -1;
	return USER_V(user)->subscribe(user, name, subscribe, error_r);
}

int store_subscriptions(struct store_user *user, struct store_list_entry **entries_r,
			unsigned int *count_r, struct store_error *error_r)
{
	return USER_V(user)->subscriptions(user, entries_r, count_r, error_r);
}

int store_status(struct store_user *user, const char *name,
		 struct store_mailbox_status *status_r, struct store_error *error_r)
{
	return USER_V(user)->status(user, name, status_r, error_r);
}

int store_append(struct store_user *user, const char *mailbox,
		 const struct store_append_msg *msgs, unsigned int count,
		 uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r)
{
	return USER_V(user)->append(user, mailbox, msgs, count, uidvalidity_r, uids_r, error_r);
}

int store_mailbox_open(struct store_user *user, const char *name, bool readonly,
		       struct store_mailbox **mbox_r, struct store_error *error_r)
{
	return USER_V(user)->mailbox_open(user, name, readonly, mbox_r, error_r);
}

void store_mailbox_close(struct store_mailbox **_mbox)
{
	struct store_mailbox *mbox = *_mbox;
	if (mbox == NULL)
		return;
	*_mbox = NULL;
	MBOX_V(mbox)->mailbox_close(mbox);
}

const char *store_mailbox_name(const struct store_mailbox *mbox) { return mbox->name; }
bool store_mailbox_is_readonly(const struct store_mailbox *mbox) { return mbox->readonly; }

int store_mailbox_snapshot(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
			   struct store_error *error_r)
{
	return MBOX_V(mbox)->snapshot(mbox, snapshot_r, error_r);
}

int store_mailbox_changes(struct store_mailbox *mbox, uint64_t since_modseq,
			  struct store_changes **changes_r, struct store_error *error_r)
{
	return MBOX_V(mbox)->changes(mbox, since_modseq, changes_r, error_r);
}

int store_mailbox_claim_recent(struct store_mailbox *mbox, uint32_t *first_uid_r,
			       struct store_error *error_r)
{
	return MBOX_V(mbox)->claim_recent(mbox, first_uid_r, error_r);
}

int store_mailbox_update_flags(struct store_mailbox *mbox, const uint32_t *uids,
			       unsigned int count, enum store_flags_mode mode,
			       uint32_t system_flags, const char *const *keyword_names,
			       unsigned int keyword_count, struct store_error *error_r)
{
	if (mbox->readonly) {
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	return MBOX_V(mbox)->update_flags(mbox, uids, count, mode, system_flags,
					  keyword_names, keyword_count, error_r);
}

int store_mailbox_expunge(struct store_mailbox *mbox, const uint32_t *uids,
			  unsigned int count, struct store_error *error_r)
{
	if (mbox->readonly) {
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	return MBOX_V(mbox)->expunge(mbox, uids, count, error_r);
}

int store_mailbox_copy(struct store_mailbox *mbox, const uint32_t *uids,
		       unsigned int count, const char *dest_name, bool move,
		       uint32_t *uidvalidity_r, uint32_t *src_uids_r, uint32_t *dest_uids_r,
		       unsigned int *copied_r, struct store_error *error_r)
{
	if (move && mbox->readonly) {
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	return MBOX_V(mbox)->copy(mbox, uids, count, dest_name, move, uidvalidity_r,
				  src_uids_r, dest_uids_r, copied_r, error_r);
}

int store_mailbox_get_content(struct store_mailbox *mbox, uint32_t uid,
			      struct store_content **content_r, struct store_error *error_r)
{
	return MBOX_V(mbox)->get_content(mbox, uid, content_r, error_r);
}

int store_mailbox_prefetch(struct store_mailbox *mbox, const uint32_t *uids,
			   unsigned int count, enum store_prefetch what,
			   struct store_error *error_r)
{
	if (MBOX_V(mbox)->prefetch == NULL || count == 0)
		return 0;
	return MBOX_V(mbox)->prefetch(mbox, uids, count, what, error_r);
}

int store_content_load(struct store_content *content, struct store_error *error_r)
{
	if (content->data != NULL || content->load == NULL)
		return 0;
	return content->load(content, error_r);
}

void store_content_release(struct store_content **_content)
{
	struct store_content *content = *_content;
	if (content == NULL)
		return;
	*_content = NULL;
	content->release(content);
}

struct store_watch *store_mailbox_watch(struct store_mailbox *mbox,
					store_watch_callback_t *callback, void *context)
{
	return MBOX_V(mbox)->watch(mbox, callback, context);
}

void store_watch_remove(struct store_watch **_watch)
{
	struct store_watch *watch = *_watch;
	if (watch == NULL)
		return;
	*_watch = NULL;
	watch->store->v->watch_remove(watch);
}

void store_content_set_parsed(struct store_content *content, void *parsed,
			      void (*free_parsed)(void *parsed))
{
	content->backend->set_parsed(content, parsed, free_parsed);
}

void store_snapshot_free(struct store_snapshot **_snapshot)
{
	struct store_snapshot *snapshot = *_snapshot;
	if (snapshot == NULL)
		return;
	*_snapshot = NULL;
	free(snapshot->msgs);
	for (unsigned int i = 0; i < snapshot->keyword_count; i++)
		free(snapshot->keywords[i]);
	free(snapshot->keywords);
	free(snapshot);
}

void store_changes_free(struct store_changes **_changes)
{
	struct store_changes *changes = *_changes;
	if (changes == NULL)
		return;
	*_changes = NULL;
	free(changes->changes);
	for (unsigned int i = 0; i < changes->keyword_count; i++)
		free(changes->keywords[i]);
	free(changes->keywords);
	free(changes);
}

void store_error_set(struct store_error *error, enum store_error_code code,
		     const char *fmt, ...)
{
	va_list args;
	error->code = code;
	va_start(args, fmt);
	vsnprintf(error->message, sizeof(error->message), fmt, args);
	va_end(args);
}

static size_t utf8_sequence_length(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t len = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 :
		     (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (len == 0 || (len == 2 && p[0] < 0xc2) || (len == 4 && p[0] > 0xf4))
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

int store_name_validate(const char *name, struct store_error *error_r)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len = strlen(name);

	if (len == 0 || len > STORE_MAX_MAILBOX_NAME_BYTES) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Invalid mailbox name length.");
		return -1;
	}
	if (name[0] == STORE_HIERARCHY_DELIMITER || name[len - 1] == STORE_HIERARCHY_DELIMITER ||
	    strstr(name, "//") != NULL) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Invalid mailbox hierarchy.");
		return -1;
	}
	while (*p != '\0') {
		size_t seq = utf8_sequence_length(p);
		if (seq == 0 || *p < 0x20 || *p == 0x7f) {
			store_error_set(error_r, STORE_ERR_CANNOT, "Invalid mailbox name.");
			return -1;
		}
		p += seq;
	}
	return 0;
}

void store_random_id(char prefix, char id_r[STORE_ID_MAX_BYTES])
{
	unsigned char raw[16];
	randombytes_buf(raw, sizeof(raw));
	id_r[0] = prefix;
	sodium_bin2hex(id_r + 1, STORE_ID_MAX_BYTES - 1, raw, sizeof(raw));
}

uint32_t store_new_uidvalidity(void)
{
	/* Time-based, and strictly increasing within a process so a mailbox deleted and
	 * created again in the same second still gets a new UIDVALIDITY. */
	static uint32_t last;
	uint32_t value = (uint32_t)time(NULL);
	if (value <= last)
		value = last + 1;
	if (value == 0)
		value = 1;
	last = value;
	return value;
}

uint32_t store_count_unseen(const struct store_message_meta *msgs, unsigned int count)
{
	uint32_t unseen = 0;
	for (unsigned int i = 0; i < count; i++) {
		if ((msgs[i].flags.system & STORE_FLAG_SEEN) == 0)
			unseen++;
	}
	return unseen;
}
