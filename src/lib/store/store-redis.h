#ifndef PYMAP_STORE_REDIS_H
#define PYMAP_STORE_REDIS_H
/* Internals shared by the redis backend's files: store-redis.c (store, users, mailbox
 * list), store-redis-mbox.c (open mailboxes, messages), store-redis-lua.c (the Lua
 * scripts) and store-redis-watch.c (pub/sub change notification on the ioloop).
 * Nothing outside src/lib/store/store-redis*.c includes this. */
#include "store-private.h"
#include "redis-conn.h"

enum redis_script_id {
	REDIS_SCRIPT_CREATE,
	REDIS_SCRIPT_DELETE,
	REDIS_SCRIPT_RENAME,
	REDIS_SCRIPT_STATUS,
	REDIS_SCRIPT_SNAPSHOT,
	REDIS_SCRIPT_CHANGES,
	REDIS_SCRIPT_CLAIM,
	REDIS_SCRIPT_APPEND,
	REDIS_SCRIPT_FLAGS,
	REDIS_SCRIPT_EXPUNGE,
	REDIS_SCRIPT_COPY,
	REDIS_SCRIPT_FETCH,
	REDIS_SCRIPT_SETMIME,
	REDIS_SCRIPT_PREFETCH,
	REDIS_SCRIPT_DATA,
	REDIS_SCRIPT_COUNT
};

extern const char *const redis_lua_bodies[REDIS_SCRIPT_COUNT];
const char *redis_lua_prelude(void);

/* THREADID linking (RFC 8474): the append script looks a message's Message-ID,
 * In-Reply-To and References ids up in the user's "threads" hash (Message-ID ->
 * THREADID) and records them there. Ids longer than this are not passed; the hash
 * stops taking new ids at REDIS_THREAD_MAX_IDS (as the dict backend's index). */
#define REDIS_THREAD_MAX_ID_BYTES 998
#define REDIS_THREAD_MAX_IDS 4194304

/* Status items at the start of the status/snapshot/changes replies. */
#define REDIS_STATUS_ITEMS 8

struct redis_watcher;

struct redis_store {
	struct store base;
	struct redis_conn *conn;        /* mail data ([redis] data_address) */
	struct redis_url sub_url;       /* the same address, for the subscriber */
	struct redis_watcher *watcher;  /* created with the first watch */
	char *prefix;
	char sep;
	struct redis_script scripts[REDIS_SCRIPT_COUNT];
	char *script_text[REDIS_SCRIPT_COUNT];
};

struct redis_user {
	struct store_user base;
	char *key_base;                 /* "<prefix><sep>{tag}<sep>" */
};

struct redis_content;
struct redis_prefetched;

struct redis_mailbox {
	struct store_mailbox base;
	char id[STORE_ID_MAX_BYTES];
	/* The last message content fetched (at most REDIS_CONTENT_KEEP_BYTES), kept so
	 * that FETCH (ENVELOPE BODYSTRUCTURE ...) asks Redis once per message, not once
	 * per item. Dropped at the next sync (snapshot/changes), expunge and close. */
	struct redis_content *last;
	uint32_t last_uid;
	/* Read ahead by redis_prefetch (one script for a batch of FETCH's messages),
	 * handed out by redis_get_content; dropped with last. */
	struct redis_prefetched *prefetched;
	unsigned int prefetched_count;
	/* UIDs announced but not reached by the last batch (its byte budget ran out):
	 * asking for one of them prefetches again from there. */
	uint32_t *pending;
	unsigned int pending_count;
	enum store_prefetch pending_what;
};

#define REDIS_CONTENT_KEEP_BYTES (256 * 1024)
/* Bounds of one prefetch: messages, and bytes of MIME blobs plus message bytes. */
#define REDIS_PREFETCH_MAX_MESSAGES 256
#define REDIS_PREFETCH_MAX_BYTES (4 * 1024 * 1024)

#define REDIS_STORE(s) ((struct redis_store *)(s))
#define REDIS_USER(u) ((struct redis_user *)(u))

/* Run a script for user: argv are the script's ARGV[2...] (KEYS[1] and ARGV[1] are
 * added). 0 with *reply_r; -1 with error_r (UNAVAILABLE, or the script's error). */
int redis_run(struct store_user *user, enum redis_script_id script, int argc,
	      const char **argv, const size_t *lens, redisReply **reply_r,
	      struct store_error *error_r);
/* Reply parsing: the REDIS_STATUS_ITEMS status items at reply->element[0...]. */
int redis_parse_status(const redisReply *reply, struct store_mailbox_status *status_r,
		       json_t **keywords_r, struct store_error *error_r);
/* A message record (JSON) to meta. */
int redis_parse_record(const char *json, size_t len, struct store_message_meta *meta_r);
char **redis_keywords_copy(const json_t *keywords, unsigned int *count_r);
void redis_set_bad_reply(struct store_error *error_r, const char *what);

/* store-redis-mbox.c */
int redis_mailbox_open(struct store_user *user, const char *name, bool readonly,
		       struct store_mailbox **mbox_r, struct store_error *error_r);
void redis_mailbox_close(struct store_mailbox *mbox);
int redis_snapshot(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
		   struct store_error *error_r);
int redis_changes(struct store_mailbox *mbox, uint64_t since_modseq,
		  struct store_changes **changes_r, struct store_error *error_r);
int redis_claim_recent(struct store_mailbox *mbox, uint32_t *first_uid_r,
		       struct store_error *error_r);
int redis_append(struct store_user *user, const char *mailbox,
		 const struct store_append_msg *msgs, unsigned int count,
		 uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r);
int redis_update_flags(struct store_mailbox *mbox, const uint32_t *uids,
		       unsigned int count, enum store_flags_mode mode, uint32_t system_flags,
		       const char *const *keyword_names, unsigned int keyword_count,
		       struct store_error *error_r);
int redis_expunge(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		  struct store_error *error_r);
int redis_copy(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
	       const char *dest_name, bool move, uint32_t *uidvalidity_r,
	       uint32_t *src_uids_r, uint32_t *dest_uids_r, unsigned int *copied_r,
	       struct store_error *error_r);
int redis_get_content(struct store_mailbox *mbox, uint32_t uid,
		      struct store_content **content_r, struct store_error *error_r);
int redis_prefetch(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		   enum store_prefetch what, struct store_error *error_r);
void redis_set_parsed(struct store_content *content, void *parsed,
		      void (*free_parsed)(void *parsed));
/* Drop the mailbox's kept and prefetched content (see struct redis_mailbox). */
void redis_content_forget(struct store_mailbox *mbox);

/* store-redis-watch.c */
struct redis_watcher *redis_watcher_create(const struct redis_url *url, struct ioloop *loop);
void redis_watcher_destroy(struct redis_watcher **watcher);
struct store_watch *redis_watch(struct store_mailbox *mbox, store_watch_callback_t *callback,
				void *context);
void redis_watch_remove(struct store_watch *watch);
/* After a change made by this process: call this process's watches of the user's
 * mailboxes now (as the dict backend does), before the command answers; other
 * processes hear of it through pub/sub. */
void redis_notify_local(struct store_user *user);

#endif
