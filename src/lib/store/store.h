#ifndef PYMAP_STORE_H
#define PYMAP_STORE_H
/* The mailbox storage interface (DESIGN.md section 5). The IMAP code, the admin
 * service and delivery speak only this; each backend (store-dict.c, later maildir and
 * redis) implements struct store_vfuncs.
 *
 * Model:
 * - A struct store is one backend instance per process, made from the effective config.
 * - A struct store_user is one user's mail, opened after authentication.
 * - A struct store_mailbox is one open mailbox handle (one per SELECT or operation).
 * - Every mailbox has a modification sequence: each append, flag change and expunge
 *   gets a new, larger modseq. A reader keeps the modseq it has seen and asks for the
 *   changes since then (store_mailbox_changes); when the backend no longer has them it
 *   says so and the reader takes a fresh snapshot. This is how sessions see each other's
 *   changes without rescanning a 100k-message mailbox on every command.
 * - Mailbox names are UTF-8 with '/' as the hierarchy delimiter; "INBOX" is always
 *   spelled in upper case here (the IMAP layer folds its case).
 *
 * Errors: functions return 0 on success, -1 on failure with a struct store_error that
 * tells the IMAP layer which response code to use. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

struct ioloop;
struct store_vfuncs;

#define STORE_HIERARCHY_DELIMITER '/'
#define STORE_MAX_KEYWORDS 64          /* per mailbox: keywords are a 64-bit mask */
#define STORE_MAX_MAILBOX_NAME_BYTES 1024
#define STORE_ID_MAX_BYTES 48         /* MAILBOXID / EMAILID / THREADID incl. NUL */

enum store_error_code {
	STORE_ERR_NONE = 0,
	STORE_ERR_NONEXISTENT,   /* mailbox or message does not exist */
	STORE_ERR_ALREADYEXISTS,
	STORE_ERR_READONLY,
	STORE_ERR_CANNOT,        /* operation not possible (e.g. delete INBOX) */
	STORE_ERR_LIMIT,         /* a limit (keywords, name length) was hit */
	STORE_ERR_OVERQUOTA,     /* disk full / quota */
	STORE_ERR_INUSE,         /* locked by someone else: try again */
	STORE_ERR_UNAVAILABLE,   /* backend down or timed out: try again */
	STORE_ERR_SERVERBUG,     /* internal error (logged) */
};

struct store_error {
	enum store_error_code code;
	char message[200];       /* human-readable, safe to send to the client */
};

/* System flags as a bit mask. \Recent is not stored: it is session state. */
enum store_flag {
	STORE_FLAG_SEEN = 0x01,
	STORE_FLAG_ANSWERED = 0x02,
	STORE_FLAG_FLAGGED = 0x04,
	STORE_FLAG_DELETED = 0x08,
	STORE_FLAG_DRAFT = 0x10,
};
#define STORE_FLAGS_ALL 0x1f

struct store_flags {
	uint32_t system;          /* enum store_flag bits */
	uint64_t keywords;        /* bit i = keyword i of the mailbox's keyword table */
};

enum store_flags_mode { STORE_FLAGS_REPLACE, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/* What SELECT, FETCH FLAGS/UID/RFC822.SIZE/INTERNALDATE and SEARCH on metadata need,
 * without reading message content. */
struct store_message_meta {
	uint32_t uid;
	struct store_flags flags;
	uint64_t size;
	int64_t internal_date;    /* Unix time */
	int16_t internal_tz_min;  /* its zone offset, minutes east of UTC */
	uint64_t modseq;          /* of the last change to this message */
	char emailid[STORE_ID_MAX_BYTES];
	char threadid[STORE_ID_MAX_BYTES]; /* "" when none */
};

struct store_mailbox_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint32_t recent;          /* messages not yet claimed as \Recent by any session */
	uint32_t unseen;
	uint64_t highest_modseq;
	bool readonly;
	char mailboxid[STORE_ID_MAX_BYTES];
};

/* A consistent view of a whole mailbox. msgs are in ascending UID order. */
struct store_snapshot {
	struct store_mailbox_status status;
	uint64_t modseq;          /* the state this snapshot reflects */
	unsigned int count;
	struct store_message_meta *msgs;
	unsigned int keyword_count;
	char **keywords;          /* keyword table: name of bit i */
};
void store_snapshot_free(struct store_snapshot **snapshot);

enum store_change_kind { STORE_CHANGE_APPEND, STORE_CHANGE_FLAGS, STORE_CHANGE_EXPUNGE };
struct store_change {
	enum store_change_kind kind;
	struct store_message_meta meta;   /* for EXPUNGE only meta.uid is set */
};
/* Changes after a given modseq, in the order they happened. keywords is the full
 * keyword table now (it only grows while a mailbox exists). */
struct store_changes {
	uint64_t modseq;          /* the state after applying all of them */
	unsigned int count;
	struct store_change *changes;
	unsigned int keyword_count;
	char **keywords;
};
void store_changes_free(struct store_changes **changes);

/* Message content, borrowed from the backend until store_content_release(). data is
 * the whole message (in memory or mapped); parsed is the backend's cached MIME parse
 * (opaque to the store, NULL when not cached yet; see store_content_set_parsed). */
struct store_content {
	const unsigned char *data;
	size_t size;
	void *parsed;
	/* private to the backend */
	const struct store_vfuncs *backend;
	void (*release)(struct store_content *content);
	/* NULL when data is set at once; else fills data (see store_content_load) */
	int (*load)(struct store_content *content, struct store_error *error_r);
};
void store_content_release(struct store_content **content);
/* Make data available. A backend may hand out a content whose size and cached parse
 * are known but whose bytes are not read yet (maildir with a cached parse: FETCH
 * ENVELOPE/BODYSTRUCTURE then never opens the message file). Call this before using
 * data; 0, or -1 with error_r (e.g. STORE_ERR_NONEXISTENT: expunged meanwhile). */
int store_content_load(struct store_content *content, struct store_error *error_r);

/* A message to append: the bytes come from memory or from a descriptor (a spool
 * file written while the client sent the literal). */
struct store_append_msg {
	const unsigned char *data;  /* or NULL: read size bytes from fd at offset 0 */
	int fd;
	size_t size;
	struct store_flags flags;   /* keyword bits refer to keyword_names below */
	const char *const *keyword_names;
	unsigned int keyword_count;
	int64_t internal_date;
	int16_t internal_tz_min;
};

struct store_list_entry {
	char *name;               /* UTF-8, '/' delimited */
	bool noselect;            /* exists only as a parent of others */
};

/* Change notification: called from the ioloop after another session (or process)
 * changed the mailbox. Callers then use store_mailbox_changes(). */
typedef void store_watch_callback_t(void *context);

struct store;
struct store_user;
struct store_mailbox;
struct store_watch;

/* ---- backends ---- */

/* Create the backend named in config [backend] type. Fatal errors are returned as -1
 * with error_r (static or allocated for the process lifetime). */
int store_create(const json_t *config, struct ioloop *loop, struct store **store_r,
		 const char **error_r);
void store_destroy(struct store **store);
const char *store_backend_name(const struct store *store);
/* Is the backend usable right now (health checks: Redis answers, the base directory
 * is there)? 0, or -1 with error_r saying why. */
int store_check(struct store *store, struct store_error *error_r);

/* Open the mail of an authenticated user. params are from the auth reply
 * (mailbox_path, ...); borrowed. */
int store_user_open(struct store *store, const char *username, const json_t *params,
		    struct store_user **user_r, struct store_error *error_r);
void store_user_close(struct store_user **user);
const char *store_user_name(const struct store_user *user);

/* ---- mailbox list ---- */

/* All mailboxes (INBOX first, then in the backend's order, parents before children).
 * *entries_r is an array of *count_r entries; free with store_list_free. */
int store_list(struct store_user *user, struct store_list_entry **entries_r,
	       unsigned int *count_r, struct store_error *error_r);
void store_list_free(struct store_list_entry **entries, unsigned int count);
int store_create_mailbox(struct store_user *user, const char *name,
			 char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r);
int store_delete_mailbox(struct store_user *user, const char *name,
			 struct store_error *error_r);
/* Renames inferiors too. Renaming INBOX moves its messages to the new name and
 * leaves an empty INBOX (RFC 3501 6.3.5). */
int store_rename_mailbox(struct store_user *user, const char *old_name,
			 const char *new_name, struct store_error *error_r);
int store_subscribe(struct store_user *user, const char *name, bool subscribe,
		    struct store_error *error_r);
/* Subscribed names (existing or not); free with store_list_free. */
int store_subscriptions(struct store_user *user, struct store_list_entry **entries_r,
			unsigned int *count_r, struct store_error *error_r);
int store_status(struct store_user *user, const char *name,
		 struct store_mailbox_status *status_r, struct store_error *error_r);

/* ---- open mailboxes ---- */

int store_mailbox_open(struct store_user *user, const char *name, bool readonly,
		       struct store_mailbox **mbox_r, struct store_error *error_r);
void store_mailbox_close(struct store_mailbox **mbox);
const char *store_mailbox_name(const struct store_mailbox *mbox);
bool store_mailbox_is_readonly(const struct store_mailbox *mbox);

int store_mailbox_snapshot(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
			   struct store_error *error_r);
/* 1 with *changes_r (possibly empty), 0 when changes since that modseq are no longer
 * known (take a snapshot instead), -1 on error (e.g. the mailbox was deleted:
 * STORE_ERR_NONEXISTENT). */
int store_mailbox_changes(struct store_mailbox *mbox, uint64_t since_modseq,
			  struct store_changes **changes_r, struct store_error *error_r);
/* Claim the \Recent messages for this (read-write) session: every UID from
 * *first_uid_r up to the current UIDNEXT is recent for the caller and for nobody
 * else. *first_uid_r is UIDNEXT when there are none. */
int store_mailbox_claim_recent(struct store_mailbox *mbox, uint32_t *first_uid_r,
			       struct store_error *error_r);

/* Append count messages atomically: all or none. uids_r[count] receives the new UIDs;
 * *uidvalidity_r the mailbox's UIDVALIDITY. */
int store_append(struct store_user *user, const char *mailbox,
		 const struct store_append_msg *msgs, unsigned int count,
		 uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r);
/* Change flags on the given UIDs (ascending; missing ones are skipped). Keyword names
 * are added to the mailbox's table as needed (STORE_ERR_LIMIT past the maximum). */
int store_mailbox_update_flags(struct store_mailbox *mbox, const uint32_t *uids,
			       unsigned int count, enum store_flags_mode mode,
			       uint32_t system_flags, const char *const *keyword_names,
			       unsigned int keyword_count, struct store_error *error_r);
/* Expunge the given UIDs (ascending) if they have \Deleted; uids NULL = every
 * \Deleted message. */
int store_mailbox_expunge(struct store_mailbox *mbox, const uint32_t *uids,
			  unsigned int count, struct store_error *error_r);
/* Copy (or move: copy + expunge as one step) UIDs to another mailbox of the same
 * user. src_uids_r/dest_uids_r (caller-allocated, count each) receive the pairs that
 * were copied; *copied_r how many. */
int store_mailbox_copy(struct store_mailbox *mbox, const uint32_t *uids,
		       unsigned int count, const char *dest_name, bool move,
		       uint32_t *uidvalidity_r, uint32_t *src_uids_r, uint32_t *dest_uids_r,
		       unsigned int *copied_r, struct store_error *error_r);
/* The content of one message. STORE_ERR_NONEXISTENT when it was expunged. */
int store_mailbox_get_content(struct store_mailbox *mbox, uint32_t uid,
			      struct store_content **content_r, struct store_error *error_r);
/* What FETCH will use of the messages it announces with store_mailbox_prefetch. */
enum store_prefetch {
	STORE_PREFETCH_STRUCTURE,  /* the cached parse (ENVELOPE, BODYSTRUCTURE, BODY) */
	STORE_PREFETCH_FULL,       /* the bytes too (BODY[...], BINARY[...]) */
};
/* A hint: the caller is about to call store_mailbox_get_content() for these UIDs. A
 * backend that pays a round trip per message (redis) reads them in one, within its own
 * bounds on count and bytes, and keeps them until get_content hands them out; what was
 * not asked for is freed at the next prefetch, sync (snapshot/changes), expunge or
 * close. Backends without it do nothing. 0, or -1 with error_r; either way
 * get_content still works (it reads what was not prefetched itself). */
int store_mailbox_prefetch(struct store_mailbox *mbox, const uint32_t *uids,
			   unsigned int count, enum store_prefetch what,
			   struct store_error *error_r);
/* Hand the backend a parse result to cache with the message (it takes ownership and
 * frees it with free_parsed when the message goes away). */
void store_content_set_parsed(struct store_content *content, void *parsed,
			      void (*free_parsed)(void *parsed));

/* Be told when the mailbox changes (any session, any process). */
struct store_watch *store_mailbox_watch(struct store_mailbox *mbox,
					store_watch_callback_t *callback, void *context);
void store_watch_remove(struct store_watch **watch);

/* ---- helpers shared by backends ---- */
void store_error_set(struct store_error *error, enum store_error_code code,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Validate a mailbox name: UTF-8, no control characters, no empty levels, not too
 * long. -1 with STORE_ERR_CANNOT and a message otherwise. */
int store_name_validate(const char *name, struct store_error *error_r);

#endif
