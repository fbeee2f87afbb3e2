/* The dict backend: every user's mail in this process's memory, nothing persists.
 * The master runs exactly one imap worker with this backend, so every session sees
 * the same data (doc/pymap.conf.md). Message bytes are shared between copies through
 * a reference-counted blob that also carries the cached MIME parse.
 *
 * Change log: each mailbox keeps its recent changes (bounded); a session that fell
 * further behind than the log reaches is told to take a snapshot instead. */
#include "store-private.h"
#include "store-dict-demo.h"
#include "store-thread.h"
#include "alloc.h"
#include "log.h"
#include "llist.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DICT_CHANGE_LOG_MAX 20000
#define DICT_FIRST_UID 1
#define DICT_DEMO_DIR_FALLBACK "/usr/local/share/pymap/demo"

struct dict_blob {
	unsigned int refcount;
	unsigned char *data;
	size_t size;
	void *parsed;
	void (*free_parsed)(void *parsed);
};

struct dict_msg {
	struct store_message_meta meta;
	struct dict_blob *blob;
};

struct dict_watch {
	struct store_watch base;
	struct dict_mbox *mbox;
	store_watch_callback_t *callback;
	void *context;
	struct dict_watch *prev, *next;
};

struct dict_mbox {
	char *name;
	unsigned int refcount;     /* the user's list + open handles */
	bool deleted, readonly;
	uint32_t uidvalidity, uidnext, first_recent_uid;
	uint64_t modseq;
	char mailboxid[STORE_ID_MAX_BYTES];
	struct dict_msg *msgs;
	unsigned int count, alloc;
	char **keywords;
	unsigned int keyword_count;
	struct store_change *log;  /* changes with modseq > log_base_modseq */
	unsigned int log_count, log_alloc;
	uint64_t log_base_modseq;
	struct dict_watch *watches;
};

struct dict_user_data {
	char *name;
	struct dict_mbox **mboxes;  /* INBOX first, then creation order */
	unsigned int count, alloc;
	char **subs;
	unsigned int sub_count;
	struct store_thread_index *threads;
	struct dict_user_data *next;
};

struct dict_store {
	struct store base;
	char *demo_user;
	char *demo_dir;            /* NULL: no demo data */
	struct dict_user_data *users;
};

struct dict_user {
	struct store_user base;
	struct dict_user_data *data;
};

struct dict_mailbox {
	struct store_mailbox base;
	struct dict_mbox *mbox;
};

struct dict_content {
	struct store_content base;
	struct dict_blob *blob;
};

/* ---- blobs and mailboxes ---- */

static void blob_unref(struct dict_blob **_blob)
{
	struct dict_blob *blob = *_blob;
	*_blob = NULL;
	if (blob == NULL || --blob->refcount > 0)
		return;
	if (blob->free_parsed != NULL)
		blob->free_parsed(blob->parsed);
	free(blob->data);
	free(blob);
}

static struct dict_mbox *mbox_new(const char *name)
{
	struct dict_mbox *mbox = i_new0(struct dict_mbox);
	mbox->name = i_strdup(name);
	mbox->refcount = 1;
	mbox->uidvalidity = store_new_uidvalidity();
	mbox->uidnext = DICT_FIRST_UID;
	mbox->first_recent_uid = DICT_FIRST_UID;
	mbox->modseq = 1;
	mbox->log_base_modseq = 1;
	store_random_id('F', mbox->mailboxid);
	return mbox;
}

static void mbox_unref(struct dict_mbox **_mbox)
{
	struct dict_mbox *mbox = *_mbox;
	*_mbox = NULL;
	if (mbox == NULL || --mbox->refcount > 0)
		return;
	i_assert(mbox->watches == NULL);
	for (unsigned int i = 0; i < mbox->count; i++)
		blob_unref(&mbox->msgs[i].blob);
	for (unsigned int i = 0; i < mbox->keyword_count; i++)
		free(mbox->keywords[i]);
	free(mbox->keywords);
	free(mbox->msgs);
	free(mbox->log);
	free(mbox->name);
	free(mbox);
}

static void mbox_notify(struct dict_mbox *mbox)
{
	struct dict_watch *watch, *next;
	for (watch = mbox->watches; watch != NULL; watch = next) {
		next = watch->next;
		watch->callback(watch->context);
	}
}

static void mbox_log(struct dict_mbox *mbox, enum store_change_kind kind,
		     const struct store_message_meta *meta)
{
	if (mbox->log_count == DICT_CHANGE_LOG_MAX) {
		/* Drop the older half: sessions that far behind take a snapshot. */
		unsigned int drop = DICT_CHANGE_LOG_MAX / 2;
		mbox->log_base_modseq = mbox->log[drop - 1].meta.modseq;
		memmove(mbox->log, mbox->log + drop,
			(mbox->log_count - drop) * sizeof(*mbox->log));
		mbox->log_count -= drop;
	}
	if (mbox->log_count == mbox->log_alloc) {
		mbox->log_alloc = mbox->log_alloc == 0 ? 64 : mbox->log_alloc * 2;
		mbox->log = i_reallocarray(mbox->log, mbox->log_alloc, sizeof(*mbox->log));
	}
	struct store_change *change = &mbox->log[mbox->log_count++];
	memset(change, 0, sizeof(*change));
	change->kind = kind;
	change->meta = *meta;
}

static int mbox_find_uid(const struct dict_mbox *mbox, uint32_t uid)
{
	unsigned int lo = 0, hi = mbox->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (mbox->msgs[mid].meta.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mbox->count && mbox->msgs[lo].meta.uid == uid ? (int)lo : -1;
}

/* Map keyword names to bits, adding unknown ones to the table. */
static int mbox_keyword_mask(struct dict_mbox *mbox, const char *const *names,
			     unsigned int count, uint64_t *mask_r, struct store_error *error_r)
{
	uint64_t mask = 0;
	for (unsigned int i = 0; i < count; i++) {
		unsigned int k;
		for (k = 0; k < mbox->keyword_count; k++) {
			if (strcasecmp(mbox->keywords[k], names[i]) == 0)
				break;
		}
		if (k == mbox->keyword_count) {
			if (k == STORE_MAX_KEYWORDS) {
				store_error_set(error_r, STORE_ERR_LIMIT,
						"Too many keywords in this mailbox.");
				return -1;
			}
			mbox->keywords = i_reallocarray(mbox->keywords, k + 1, sizeof(char *));
			mbox->keywords[k] = i_strdup(names[i]);
			mbox->keyword_count++;
		}
		mask |= (uint64_t)1 << k;
	}
	*mask_r = mask;
	return 0;
}

static char **copy_keywords(const struct dict_mbox *mbox)
{
	char **keywords = i_new(char *, mbox->keyword_count + 1);
	for (unsigned int i = 0; i < mbox->keyword_count; i++)
		keywords[i] = i_strdup(mbox->keywords[i]);
	return keywords;
}

static void mbox_add_msg(struct dict_mbox *mbox, struct dict_blob *blob,
			 const struct store_message_meta *proto)
{
	if (mbox->count == mbox->alloc) {
		mbox->alloc = mbox->alloc == 0 ? 16 : mbox->alloc * 2;
		mbox->msgs = i_reallocarray(mbox->msgs, mbox->alloc, sizeof(*mbox->msgs));
	}
	struct dict_msg *msg = &mbox->msgs[mbox->count++];
	msg->meta = *proto;
	msg->meta.uid = mbox->uidnext++;
	msg->meta.modseq = ++mbox->modseq;
	msg->meta.size = blob->size;
	msg->blob = blob;
	blob->refcount++;
	mbox_log(mbox, STORE_CHANGE_APPEND, &msg->meta);
}

static void mbox_status(const struct dict_mbox *mbox, struct store_mailbox_status *status)
{
	memset(status, 0, sizeof(*status));
	status->uidvalidity = mbox->uidvalidity;
	status->uidnext = mbox->uidnext;
	status->messages = mbox->count;
	status->unseen = 0;
	for (unsigned int i = 0; i < mbox->count; i++) {
		if ((mbox->msgs[i].meta.flags.system & STORE_FLAG_SEEN) == 0)
			status->unseen++;
		if (mbox->msgs[i].meta.uid >= mbox->first_recent_uid)
			status->recent++;
	}
	status->highest_modseq = mbox->modseq;
	status->readonly = mbox->readonly;
	memcpy(status->mailboxid, mbox->mailboxid, sizeof(status->mailboxid));
}

/* ---- users ---- */

static struct dict_mbox *user_find(struct dict_user_data *data, const char *name,
				   unsigned int *idx_r)
{
	for (unsigned int i = 0; i < data->count; i++) {
		if (strcmp(data->mboxes[i]->name, name) == 0) {
			if (idx_r != NULL)
				*idx_r = i;
			return data->mboxes[i];
		}
	}
	return NULL;
}

static void user_add_mbox(struct dict_user_data *data, struct dict_mbox *mbox)
{
	if (data->count == data->alloc) {
		data->alloc = data->alloc == 0 ? 8 : data->alloc * 2;
		data->mboxes = i_reallocarray(data->mboxes, data->alloc, sizeof(*data->mboxes));
	}
	data->mboxes[data->count++] = mbox;
}

static struct dict_user_data *user_data_get(struct dict_store *store, const char *name,
					    bool *created_r)
{
	struct dict_user_data *data;
	*created_r = false;
	for (data = store->users; data != NULL; data = data->next) {
		if (strcmp(data->name, name) == 0)
			return data;
	}
	data = i_new0(struct dict_user_data);
	data->name = i_strdup(name);
	data->threads = store_thread_index_create();
	user_add_mbox(data, mbox_new("INBOX"));
	data->next = store->users;
	store->users = data;
	*created_r = true;
	return data;
}

static void user_data_free(struct dict_user_data *data)
{
	for (unsigned int i = 0; i < data->count; i++)
		mbox_unref(&data->mboxes[i]);
	for (unsigned int i = 0; i < data->sub_count; i++)
		free(data->subs[i]);
	free(data->subs);
	store_thread_index_destroy(&data->threads);
	free(data->mboxes);
	free(data->name);
	free(data);
}

static const char *config_get(const json_t *config, const char *section, const char *key)
{
	return json_string_value(json_object_get(json_object_get(config, section), key));
}

/* The demo set installed with pymap: <prefix>/share/pymap/demo, found relative to
 * the running binary (<prefix>/libexec/pymap/imap), which also holds in the build
 * tree. */
static char *default_demo_dir(void)
{
	char exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return i_strdup(DICT_DEMO_DIR_FALLBACK);
	exe[len] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash != NULL)
		*slash = '\0';
	return i_strdup_printf("%s/../../share/pymap/demo", exe);
}

/* [dict] demo_data: false/"no" = none, true/"yes" = the installed set, else a path. */
static char *demo_dir_from_config(const json_t *config)
{
	const json_t *value = json_object_get(json_object_get(config, "dict"), "demo_data");
	const char *str = json_string_value(value);
	if (json_is_true(value) || (str != NULL && strcasecmp(str, "yes") == 0))
		return default_demo_dir();
	if (str == NULL || str[0] == '\0' || strcasecmp(str, "no") == 0)
		return NULL;
	return i_strdup(str);
}

static int dict_create(const json_t *config, struct ioloop *loop, struct store **store_r,
		       const char **error_r)
{
	struct dict_store *store = i_new0(struct dict_store);
	(void)loop;
	(void)error_r;
	store->demo_user = i_strdup(config_get(config, "dict", "demo_user"));
	if (store->demo_user == NULL)
		store->demo_user = i_strdup("demouser");
	store->demo_dir = demo_dir_from_config(config);
	*store_r = &store->base;
	return 0;
}

static void dict_destroy(struct store *_store)
{
	struct dict_store *store = (struct dict_store *)_store;
	while (store->users != NULL) {
		struct dict_user_data *next = store->users->next;
		user_data_free(store->users);
		store->users = next;
	}
	free(store->demo_user);
	free(store->demo_dir);
	free(store);
}

static int dict_user_open(struct store *_store, const char *username, const json_t *params,
			  struct store_user **user_r, struct store_error *error_r)
{
	struct dict_store *store = (struct dict_store *)_store;
	struct dict_user *user = i_new0(struct dict_user);
	bool created;
	(void)params;
	user->base.store = _store;
	user->base.name = i_strdup(username);
	user->data = user_data_get(store, username, &created);
	*user_r = &user->base;
	if (created && store->demo_dir != NULL && strcmp(username, store->demo_user) == 0)
		return dict_demo_load(&user->base, store->demo_dir, error_r);
	return 0;
}

static void dict_user_close(struct store_user *_user)
{
	free(_user->name);
	free(_user);
}

#define USER_DATA(user) (((struct dict_user *)(user))->data)

static bool is_inferior(const char *name, const char *parent)
{
	size_t len = strlen(parent);
	return strncmp(name, parent, len) == 0 && name[len] == STORE_HIERARCHY_DELIMITER;
}

static bool has_name(char **names, unsigned int count, const char *name)
{
	for (unsigned int i = 0; i < count; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

static int dict_list(struct store_user *user, struct store_list_entry **entries_r,
		     unsigned int *count_r, struct store_error *error_r)
{
	struct dict_user_data *data = USER_DATA(user);
	/* Existing mailboxes plus the missing parents of each, parents first. */
	unsigned int alloc = 16, count = 0;
	struct store_list_entry *entries = i_new(struct store_list_entry, alloc);
	char **seen = i_new(char *, 1);
	(void)error_r;
	for (unsigned int i = 0; i < data->count; i++) {
		const char *name = data->mboxes[i]->name;
		for (const char *p = strchr(name, STORE_HIERARCHY_DELIMITER); ;
		     p = strchr(p + 1, STORE_HIERARCHY_DELIMITER)) {
			char *part = p == NULL ? i_strdup(name) : i_strndup(name, (size_t)(p - name));
			bool exists = p == NULL || user_find(data, part, NULL) != NULL;
			if (has_name(seen, count, part) || (p != NULL && exists)) {
				free(part);
			} else {
				if (count + 1 >= alloc) {
					alloc *= 2;
					entries = i_reallocarray(entries, alloc, sizeof(*entries));
				}
				seen = i_reallocarray(seen, count + 1, sizeof(char *));
				seen[count] = part;
				entries[count].name = i_strdup(part);
				entries[count].noselect = p != NULL;
				count++;
			}
			if (p == NULL)
				break;
		}
	}
	for (unsigned int i = 0; i < count; i++)
		free(seen[i]);
	free(seen);
	*entries_r = entries;
	*count_r = count;
	return 0;
}

static int dict_create_mailbox(struct store_user *user, const char *name,
			       char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r)
{
	struct dict_user_data *data = USER_DATA(user);
	if (user_find(data, name, NULL) != NULL) {
		store_error_set(error_r, STORE_ERR_ALREADYEXISTS, "Mailbox already exists.");
		return -1;
	}
	struct dict_mbox *mbox = mbox_new(name);
	user_add_mbox(data, mbox);
	memcpy(mailboxid_r, mbox->mailboxid, STORE_ID_MAX_BYTES);
	return 0;
}

static void mbox_mark_deleted(struct dict_mbox *mbox)
{
	mbox->deleted = true;
	mbox_notify(mbox);
}

static int dict_delete_mailbox(struct store_user *user, const char *name,
			       struct store_error *error_r)
{
	struct dict_user_data *data = USER_DATA(user);
	unsigned int idx;
	struct dict_mbox *mbox = user_find(data, name, &idx);
	if (mbox == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (strcmp(name, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Cannot delete INBOX.");
		return -1;
	}
	memmove(data->mboxes + idx, data->mboxes + idx + 1,
		(data->count - idx - 1) * sizeof(*data->mboxes));
	data->count--;
	mbox_mark_deleted(mbox);
	mbox_unref(&mbox);
	return 0;
}

static void rename_one(struct dict_mbox *mbox, const char *old_name, const char *new_name)
{
	char *renamed = i_strdup_printf("%s%s", new_name, mbox->name + strlen(old_name));
	free(mbox->name);
	mbox->name = renamed;
	/* Sessions that have it selected by name see it gone (RFC 2180 4.4). */
	mbox_notify(mbox);
}

static int dict_rename_mailbox(struct store_user *user, const char *old_name,
			       const char *new_name, struct store_error *error_r)
{
	struct dict_user_data *data = USER_DATA(user);
	struct dict_mbox *mbox = user_find(data, old_name, NULL);
	if (mbox == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (user_find(data, new_name, NULL) != NULL || strcmp(new_name, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERR_ALREADYEXISTS, "Mailbox already exists.");
		return -1;
	}
	if (is_inferior(new_name, old_name)) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Cannot rename a mailbox into itself.");
		return -1;
	}
	if (strcmp(old_name, "INBOX") == 0) {
		/* RFC 3501 6.3.5: INBOX's messages move, INBOX stays (empty, new ids);
		 * INBOX's inferiors are not renamed. INBOX is always the first entry. */
		i_assert(data->mboxes[0] == mbox);
		rename_one(mbox, old_name, new_name);
		data->mboxes[0] = mbox_new("INBOX");
		user_add_mbox(data, mbox);
		return 0;
	}
	for (unsigned int i = 0; i < data->count; i++) {
		struct dict_mbox *m = data->mboxes[i];
		if (m == mbox || is_inferior(m->name, old_name))
			rename_one(m, old_name, new_name);
	}
	return 0;
}

static int dict_subscribe(struct store_user *user, const char *name, bool subscribe,
			  struct store_error *error_r)
{
	struct dict_user_data *data = USER_DATA(user);
	(void)error_r;
	for (unsigned int i = 0; i < data->sub_count; i++) {
		if (strcmp(data->subs[i], name) != 0)
			continue;
		if (!subscribe) {
			free(data->subs[i]);
			data->subs[i] = data->subs[--data->sub_count];
		}
		return 0;
	}
	if (subscribe) {
		data->subs = i_reallocarray(data->subs, data->sub_count + 1, sizeof(char *));
		data->subs[data->sub_count++] = i_strdup(name);
	}
	return 0;
}

static int dict_subscriptions(struct store_user *user, struct store_list_entry **entries_r,
			      unsigned int *count_r, struct store_error *error_r)
{
	struct dict_user_data *data = USER_DATA(user);
	struct store_list_entry *entries = i_new(struct store_list_entry, data->sub_count + 1);
	(void)error_r;
	for (unsigned int i = 0; i < data->sub_count; i++)
		entries[i].name = i_strdup(data->subs[i]);
	*entries_r = entries;
	*count_r = data->sub_count;
	return 0;
}

static int dict_status(struct store_user *user, const char *name,
		       struct store_mailbox_status *status_r, struct store_error *error_r)
{
	struct dict_mbox *mbox = user_find(USER_DATA(user), name, NULL);
	if (mbox == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	mbox_status(mbox, status_r);
	return 0;
}

static int read_append_data(const struct store_append_msg *msg, struct dict_blob **blob_r,
			    struct store_error *error_r)
{
	struct dict_blob *blob = i_new0(struct dict_blob);
	blob->refcount = 1;  /* the caller's, until a mailbox takes its own */
	blob->data = i_malloc(msg->size + 1);
	blob->size = msg->size;
	if (msg->data != NULL) {
		memcpy(blob->data, msg->data, msg->size);
	} else {
		size_t done = 0;
		while (done < msg->size) {
			ssize_t n = pread(msg->fd, blob->data + done, msg->size - done, (off_t)done);
			if (n <= 0) {
				log_error_errno("dict append: pread of spooled message");
				store_error_set(error_r, STORE_ERR_SERVERBUG,
						"Could not read the message.");
				free(blob->data);
				free(blob);
				return -1;
			}
			done += (size_t)n;
		}
	}
	*blob_r = blob;
	return 0;
}

static int dict_append(struct store_user *user, const char *mailbox,
		       const struct store_append_msg *msgs, unsigned int count,
		       uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r)
{
	struct dict_mbox *mbox = user_find(USER_DATA(user), mailbox, NULL);
	if (mbox == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (mbox->readonly) {
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	/* Read everything and resolve every keyword first: all or nothing. */
	struct dict_blob **blobs = i_new(struct dict_blob *, count);
	uint64_t *masks = i_new(uint64_t, count);
	unsigned int keywords_before = mbox->keyword_count;
	int ret = 0;
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		ret = mbox_keyword_mask(mbox, msgs[i].keyword_names, msgs[i].keyword_count,
					&masks[i], error_r);
		if (ret == 0)
			ret = read_append_data(&msgs[i], &blobs[i], error_r);
	}
	if (ret < 0) {
		for (unsigned int i = 0; i < count; i++)
			blob_unref(&blobs[i]);
		while (mbox->keyword_count > keywords_before)
			free(mbox->keywords[--mbox->keyword_count]);
	} else {
		for (unsigned int i = 0; i < count; i++) {
			struct store_message_meta meta;
			memset(&meta, 0, sizeof(meta));
			meta.flags.system = msgs[i].flags.system & STORE_FLAGS_ALL;
			meta.flags.keywords = masks[i];
			meta.internal_date = msgs[i].internal_date;
			meta.internal_tz_min = msgs[i].internal_tz_min;
			store_random_id('M', meta.emailid);
			store_thread_assign(USER_DATA(user)->threads, blobs[i]->data, blobs[i]->size,
					    meta.threadid);
			mbox_add_msg(mbox, blobs[i], &meta);
			blob_unref(&blobs[i]);  /* the mailbox holds its own reference */
			uids_r[i] = mbox->msgs[mbox->count - 1].meta.uid;
		}
		*uidvalidity_r = mbox->uidvalidity;
		mbox_notify(mbox);
	}
	free(blobs);
	free(masks);
	return ret;
}

/* ---- open mailboxes ---- */

#define MBOX(m) (((struct dict_mailbox *)(m))->mbox)

static int mbox_check(struct store_mailbox *_mbox, struct store_error *error_r)
{
	if (MBOX(_mbox)->deleted || strcmp(MBOX(_mbox)->name, _mbox->name) != 0) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	return 0;
}

static int dict_mailbox_open(struct store_user *user, const char *name, bool readonly,
			     struct store_mailbox **mbox_r, struct store_error *error_r)
{
	struct dict_mbox *mbox = user_find(USER_DATA(user), name, NULL);
	if (mbox == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	struct dict_mailbox *handle = i_new0(struct dict_mailbox);
	handle->base.user = user;
	handle->base.name = i_strdup(name);
	handle->base.readonly = readonly || mbox->readonly;
	handle->mbox = mbox;
	mbox->refcount++;
	*mbox_r = &handle->base;
	return 0;
}

static void dict_mailbox_close(struct store_mailbox *_mbox)
{
	struct dict_mailbox *handle = (struct dict_mailbox *)_mbox;
	mbox_unref(&handle->mbox);
	free(handle->base.name);
	free(handle);
}

static int dict_snapshot(struct store_mailbox *_mbox, struct store_snapshot **snapshot_r,
			 struct store_error *error_r)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	if (mbox_check(_mbox, error_r) < 0)
		return -1;
	struct store_snapshot *snap = i_new0(struct store_snapshot);
	mbox_status(mbox, &snap->status);
	snap->modseq = mbox->modseq;
	snap->count = mbox->count;
	snap->msgs = i_new(struct store_message_meta, mbox->count + 1);
	for (unsigned int i = 0; i < mbox->count; i++)
		snap->msgs[i] = mbox->msgs[i].meta;
	snap->keyword_count = mbox->keyword_count;
	snap->keywords = copy_keywords(mbox);
	*snapshot_r = snap;
	return 0;
}

static int dict_changes(struct store_mailbox *_mbox, uint64_t since_modseq,
			struct store_changes **changes_r, struct store_error *error_r)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	if (mbox_check(_mbox, error_r) < 0)
		return -1;
	if (since_modseq < mbox->log_base_modseq)
		return 0;
	/* Binary search the first change after since_modseq. */
	unsigned int lo = 0, hi = mbox->log_count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (mbox->log[mid].meta.modseq <= since_modseq)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct store_changes *changes = i_new0(struct store_changes);
	changes->modseq = mbox->modseq;
	changes->count = mbox->log_count - lo;
	changes->changes = i_new(struct store_change, changes->count + 1);
	if (changes->count > 0)
		memcpy(changes->changes, mbox->log + lo, changes->count * sizeof(struct store_change));
	changes->keyword_count = mbox->keyword_count;
	changes->keywords = copy_keywords(mbox);
	*changes_r = changes;
	return 1;
}

static int dict_claim_recent(struct store_mailbox *_mbox, uint32_t *first_uid_r,
			     struct store_error *error_r)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	if (mbox_check(_mbox, error_r) < 0)
		return -1;
	if (_mbox->readonly) {
		*first_uid_r = mbox->uidnext;
		return 0;
	}
	*first_uid_r = mbox->first_recent_uid;
	mbox->first_recent_uid = mbox->uidnext;
	return 0;
}

static uint32_t apply_mode(uint32_t cur, uint32_t change, enum store_flags_mode mode)
{
	return mode == STORE_FLAGS_REPLACE ? change :
	       mode == STORE_FLAGS_ADD ? (cur | change) : (cur & ~change);
}

static uint64_t apply_mode64(uint64_t cur, uint64_t change, enum store_flags_mode mode)
{
	return mode == STORE_FLAGS_REPLACE ? change :
	       mode == STORE_FLAGS_ADD ? (cur | change) : (cur & ~change);
}

static int dict_update_flags(struct store_mailbox *_mbox, const uint32_t *uids,
			     unsigned int count, enum store_flags_mode mode,
			     uint32_t system_flags, const char *const *keyword_names,
			     unsigned int keyword_count, struct store_error *error_r)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	uint64_t mask = 0;
	bool changed = false;
	if (mbox_check(_mbox, error_r) < 0)
		return -1;
	if (mode != STORE_FLAGS_REMOVE &&
	    mbox_keyword_mask(mbox, keyword_names, keyword_count, &mask, error_r) < 0)
		return -1;
	if (mode == STORE_FLAGS_REMOVE) {
		/* Removing never adds to the table: unknown names match nothing. */
		for (unsigned int i = 0; i < keyword_count; i++) {
			for (unsigned int k = 0; k < mbox->keyword_count; k++) {
				if (strcasecmp(mbox->keywords[k], keyword_names[i]) == 0)
					mask |= (uint64_t)1 << k;
			}
		}
	}
	/* Both lists are in UID order: one merge pass. */
	unsigned int m = 0;
	for (unsigned int i = 0; i < count && m < mbox->count; i++) {
		while (m < mbox->count && mbox->msgs[m].meta.uid < uids[i])
			m++;
		if (m == mbox->count || mbox->msgs[m].meta.uid != uids[i])
			continue;
		struct store_message_meta *meta = &mbox->msgs[m].meta;
		uint32_t sys = apply_mode(meta->flags.system, system_flags & STORE_FLAGS_ALL, mode);
		uint64_t kw = apply_mode64(meta->flags.keywords, mask, mode);
		if (sys == meta->flags.system && kw == meta->flags.keywords)
			continue;
		meta->flags.system = sys;
		meta->flags.keywords = kw;
		meta->modseq = ++mbox->modseq;
		mbox_log(mbox, STORE_CHANGE_FLAGS, meta);
		changed = true;
	}
	if (changed)
		mbox_notify(mbox);
	return 0;
}

static bool uid_in_sorted(const uint32_t *uids, unsigned int count, unsigned int *pos,
			  uint32_t uid)
{
	while (*pos < count && uids[*pos] < uid)
		(*pos)++;
	return *pos < count && uids[*pos] == uid;
}

/* Remove the messages for which remove[i] is set; log each. */
static void mbox_remove(struct dict_mbox *mbox, const bool *remove)
{
	unsigned int keep = 0;
	for (unsigned int i = 0; i < mbox->count; i++) {
		if (!remove[i]) {
			mbox->msgs[keep++] = mbox->msgs[i];
			continue;
		}
		struct store_message_meta meta;
		memset(&meta, 0, sizeof(meta));
		meta.uid = mbox->msgs[i].meta.uid;
		meta.modseq = ++mbox->modseq;
		mbox_log(mbox, STORE_CHANGE_EXPUNGE, &meta);
		blob_unref(&mbox->msgs[i].blob);
	}
	mbox->count = keep;
}

static int dict_expunge(struct store_mailbox *_mbox, const uint32_t *uids,
			unsigned int count, struct store_error *error_r)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	if (mbox_check(_mbox, error_r) < 0)
		return -1;
	bool *remove = i_new(bool, mbox->count + 1);
	bool any = false;
	unsigned int pos = 0;
	for (unsigned int i = 0; i < mbox->count; i++) {
		const struct store_message_meta *meta = &mbox->msgs[i].meta;
		remove[i] = (meta->flags.system & STORE_FLAG_DELETED) != 0 &&
			    (uids == NULL || uid_in_sorted(uids, count, &pos, meta->uid));
		any = any || remove[i];
	}
	if (any) {
		mbox_remove(mbox, remove);
		mbox_notify(mbox);
	}
	free(remove);
	return 0;
}

static int dict_copy(struct store_mailbox *_mbox, const uint32_t *uids, unsigned int count,
		     const char *dest_name, bool move, uint32_t *uidvalidity_r,
		     uint32_t *src_uids_r, uint32_t *dest_uids_r, unsigned int *copied_r,
		     struct store_error *error_r)
{
	struct dict_mbox *src = MBOX(_mbox);
	struct dict_mbox *dest = user_find(USER_DATA(_mbox->user), dest_name, NULL);
	if (mbox_check(_mbox, error_r) < 0)
		return -1;
	if (dest == NULL) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		return -1;
	}
	if (dest->readonly) {
		store_error_set(error_r, STORE_ERR_READONLY, "Mailbox is read-only.");
		return -1;
	}
	bool *remove = i_new(bool, src->count + 1);
	unsigned int copied = 0, pos = 0;
	for (unsigned int i = 0; i < src->count; i++) {
		struct dict_msg *msg = &src->msgs[i];
		if (!uid_in_sorted(uids, count, &pos, msg->meta.uid))
			continue;
		struct store_message_meta meta = msg->meta;
		uint64_t mask = 0;
		/* Keywords are per mailbox: translate bits through names. */
		const char *names[STORE_MAX_KEYWORDS];
		unsigned int n = 0;
		for (unsigned int k = 0; k < src->keyword_count; k++) {
			if ((meta.flags.keywords & ((uint64_t)1 << k)) != 0)
				names[n++] = src->keywords[k];
		}
		if (mbox_keyword_mask(dest, names, n, &mask, error_r) < 0)
			mask = 0;  /* destination full: the copy keeps its system flags */
		meta.flags.keywords = mask;
		mbox_add_msg(dest, msg->blob, &meta);
		src_uids_r[copied] = msg->meta.uid;
		dest_uids_r[copied++] = dest->msgs[dest->count - 1].meta.uid;
		remove[i] = move;
	}
	if (move && copied > 0) {
		mbox_remove(src, remove);
		mbox_notify(src);
	}
	free(remove);
	*copied_r = copied;
	*uidvalidity_r = dest->uidvalidity;
	if (copied > 0)
		mbox_notify(dest);
	return 0;
}

static void dict_content_release(struct store_content *_content)
{
	struct dict_content *content = (struct dict_content *)_content;
	blob_unref(&content->blob);
	free(content);
}

static int dict_get_content(struct store_mailbox *_mbox, uint32_t uid,
			    struct store_content **content_r, struct store_error *error_r)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	int idx = mbox_find_uid(mbox, uid);
	if (idx < 0) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Message was expunged.");
		return -1;
	}
	struct dict_content *content = i_new0(struct dict_content);
	content->blob = mbox->msgs[idx].blob;
	content->blob->refcount++;
	content->base.data = content->blob->data;
	content->base.size = content->blob->size;
	content->base.parsed = content->blob->parsed;
	content->base.backend = &store_dict_vfuncs;
	content->base.release = dict_content_release;
	*content_r = &content->base;
	return 0;
}

static void dict_set_parsed(struct store_content *_content, void *parsed,
			    void (*free_parsed)(void *parsed))
{
	struct dict_blob *blob = ((struct dict_content *)_content)->blob;
	if (blob->free_parsed != NULL)
		blob->free_parsed(blob->parsed);
	blob->parsed = parsed;
	blob->free_parsed = free_parsed;
	_content->parsed = parsed;
}

static struct store_watch *dict_watch(struct store_mailbox *_mbox,
				      store_watch_callback_t *callback, void *context)
{
	struct dict_mbox *mbox = MBOX(_mbox);
	struct dict_watch *watch = i_new0(struct dict_watch);
	watch->base.store = _mbox->user->store;
	watch->mbox = mbox;
	watch->callback = callback;
	watch->context = context;
	watch->next = mbox->watches;
	if (mbox->watches != NULL)
		mbox->watches->prev = watch;
	mbox->watches = watch;
	return &watch->base;
}

static void dict_watch_remove(struct store_watch *_watch)
{
	struct dict_watch *watch = (struct dict_watch *)_watch;
	DLLIST_REMOVE(&watch->mbox->watches, watch);
	free(watch);
}

/* ---- demo loading support ---- */

void dict_demo_set_readonly(struct store_user *user, const char *mailbox)
{
	struct dict_mbox *mbox = user_find(USER_DATA(user), mailbox, NULL);
	if (mbox != NULL)
		mbox->readonly = true;
}

void dict_demo_keep_recent(struct store_user *user, const char *mailbox, uint32_t uid,
			   bool recent)
{
	/* Demo files mark some messages recent: the first recent UID is the lowest
	 * such UID; the loader appends in order, so older ones are claimed. */
	struct dict_mbox *mbox = user_find(USER_DATA(user), mailbox, NULL);
	if (mbox == NULL)
		return;
	if (!recent && mbox->first_recent_uid <= uid)
		mbox->first_recent_uid = uid + 1;
}

const struct store_vfuncs store_dict_vfuncs = {
	.name = "dict",
	.create = dict_create,
	.destroy = dict_destroy,
	.user_open = dict_user_open,
	.user_close = dict_user_close,
	.list = dict_list,
	.create_mailbox = dict_create_mailbox,
	.delete_mailbox = dict_delete_mailbox,
	.rename_mailbox = dict_rename_mailbox,
	.subscribe = dict_subscribe,
	.subscriptions = dict_subscriptions,
	.status = dict_status,
	.append = dict_append,
	.mailbox_open = dict_mailbox_open,
	.mailbox_close = dict_mailbox_close,
	.snapshot = dict_snapshot,
	.changes = dict_changes,
	.claim_recent = dict_claim_recent,
	.update_flags = dict_update_flags,
	.expunge = dict_expunge,
	.copy = dict_copy,
	.get_content = dict_get_content,
	.set_parsed = dict_set_parsed,
	.watch = dict_watch,
	.watch_remove = dict_watch_remove,
};
