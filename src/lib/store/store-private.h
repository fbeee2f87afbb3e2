#ifndef PYMAP_STORE_PRIVATE_H
#define PYMAP_STORE_PRIVATE_H
/* What a storage backend implements. Only store.c and the backends include this.
 * Backends embed struct store / store_user / store_mailbox as their first member. */
#include "store.h"

struct store_vfuncs {
	const char *name;
	int (*create)(const json_t *config, struct ioloop *loop, struct store **store_r,
		      const char **error_r);
	void (*destroy)(struct store *store);
	/* Optional: NULL means always usable. */
	int (*check)(struct store *store, struct store_error *error_r);

	int (*user_open)(struct store *store, const char *username, const json_t *params,
			 struct store_user **user_r, struct store_error *error_r);
	void (*user_close)(struct store_user *user);

	int (*list)(struct store_user *user, struct store_list_entry **entries_r,
		    unsigned int *count_r, struct store_error *error_r);
	int (*create_mailbox)(struct store_user *user, const char *name,
			      char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r);
	int (*delete_mailbox)(struct store_user *user, const char *name,
			      struct store_error *error_r);
	int (*rename_mailbox)(struct store_user *user, const char *old_name,
			      const char *new_name, struct store_error *error_r);
	int (*subscribe)(struct store_user *user, const char *name, bool subscribe,
			 struct store_error *error_r);
	int (*subscriptions)(struct store_user *user, struct store_list_entry **entries_r,
			     unsigned int *count_r, struct store_error *error_r);
	int (*status)(struct store_user *user, const char *name,
		      struct store_mailbox_status *status_r, struct store_error *error_r);
	int (*append)(struct store_user *user, const char *mailbox,
		      const struct store_append_msg *msgs, unsigned int count,
		      uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r);

	int (*mailbox_open)(struct store_user *user, const char *name, bool readonly,
			    struct store_mailbox **mbox_r, struct store_error *error_r);
	void (*mailbox_close)(struct store_mailbox *mbox);
	int (*snapshot)(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
			struct store_error *error_r);
	int (*changes)(struct store_mailbox *mbox, uint64_t since_modseq,
		       struct store_changes **changes_r, struct store_error *error_r);
	int (*claim_recent)(struct store_mailbox *mbox, uint32_t *first_uid_r,
			    struct store_error *error_r);
	int (*update_flags)(struct store_mailbox *mbox, const uint32_t *uids,
			    unsigned int count, enum store_flags_mode mode,
			    uint32_t system_flags, const char *const *keyword_names,
			    unsigned int keyword_count, struct store_error *error_r);
	int (*expunge)(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		       struct store_error *error_r);
	int (*copy)(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		    const char *dest_name, bool move, uint32_t *uidvalidity_r,
		    uint32_t *src_uids_r, uint32_t *dest_uids_r, unsigned int *copied_r,
		    struct store_error *error_r);
	int (*get_content)(struct store_mailbox *mbox, uint32_t uid,
			   struct store_content **content_r, struct store_error *error_r);
	/* Optional: NULL means no read-ahead (store_mailbox_prefetch does nothing). */
	int (*prefetch)(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
			enum store_prefetch what, struct store_error *error_r);
	void (*set_parsed)(struct store_content *content, void *parsed,
			   void (*free_parsed)(void *parsed));
	struct store_watch *(*watch)(struct store_mailbox *mbox,
				     store_watch_callback_t *callback, void *context);
	void (*watch_remove)(struct store_watch *watch);
};

struct store {
	const struct store_vfuncs *v;
	struct ioloop *loop;
};

struct store_user {
	struct store *store;
	char *name;
};

struct store_mailbox {
	struct store_user *user;
	char *name;
	bool readonly;
};

struct store_watch {
	struct store *store;
};

extern const struct store_vfuncs store_dict_vfuncs;
extern const struct store_vfuncs store_maildir_vfuncs;
extern const struct store_vfuncs store_redis_vfuncs;

/* Random object ids: prefix + 32 lowercase hex (libsodium randomness). */
void store_random_id(char prefix, char id_r[STORE_ID_MAX_BYTES]);
/* A new UIDVALIDITY: time-based, never 0. */
uint32_t store_new_uidvalidity(void);
/* Count the messages without \Seen. */
uint32_t store_count_unseen(const struct store_message_meta *msgs, unsigned int count);

#endif
