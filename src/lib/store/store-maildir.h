#ifndef PYMAP_STORE_MAILDIR_H
#define PYMAP_STORE_MAILDIR_H
/* The maildir backend's internal interface, shared by its modules:
 *   store-maildir.c         store, users, folder list, create/delete/rename, subscriptions
 *   store-maildir-sync.c    one folder's state: index load, directory scan, UIDs, locks
 *   store-maildir-commit.c  what a writer leaves at unlock: uidlist records, index delta
 *   store-maildir-folder.c  the process's table of shared folder states; keywords;
 *                           STATUS
 *   store-maildir-mbox.c    open folders: snapshot, changes, recent, flags, expunge,
 *                           content
 *   store-maildir-save.c    append and copy/move: tmp/ -> new/|cur/, crash safe
 *   maildir-mime.c          the per-folder MIME parse cache (pymap-mime)
 *   maildir-watch.c         inotify change feed
 *   maildir-threads.c       the per-user THREADID index (pymap-threads)
 * Only store.c (through store_maildir_vfuncs) calls into the backend from outside. */
#include "store-private.h"
#include "maildir-index.h"
#include "maildir-names.h"
#include "maildir-mime.h"

struct maildir_lock;

struct maildir_store {
	struct store base;
	char *base_dir;
	enum maildir_layout layout;
	char colon;
};

struct maildir_user {
	struct store_user base;
	char *root;                  /* the user's maildir (INBOX) */
	enum maildir_layout layout;
	char colon;
};

/* One folder on disk, shared by every handle, STATUS, APPEND and COPY of it in this
 * process (refcounted; found by its directory path): a change is synced once per
 * process, not once per session, and a second SELECT or STATUS of an unchanged folder
 * costs a few stat calls. Unreferenced folders stay cached (a few, bounded by their
 * message count) until evicted. Each session keeps its own view (by modseq) in the
 * IMAP layer; the folder is only ever changed synchronously, within one call. */
struct maildir_folder {
	char *name;                  /* IMAP name it was first opened as (for logs) */
	char *path;                  /* folder directory */
	char *root;                  /* its user's maildir (the thread index's place) */
	char colon;                  /* the info separator of its user's maildir */
	bool fine_clock;             /* local fs with ns mtimes (maildir_fs_has_fine_clock) */
	struct maildir_state state;
	struct maildir_keywords kw;
	struct maildir_stamp st_index;   /* the index file we last read or wrote */
	struct maildir_index_pos ipos;   /* where the state stands in that file */
	uint64_t dir_ino;            /* the folder directory when opened */
	struct maildir_lock *lock;   /* held during an update */
	struct maildir_stamp kw_stamp;   /* dovecot-keywords as read into kw */
	bool can_write;
	/* While locked: the uidlist, either read whole or (uidlist_partial) holding only
	 * the records added under this lock, which are then appended to the file as
	 * Dovecot does (the file's own records are not read). The first uidlist_on_disk
	 * records are in the file already; uidlist_rewrite: the file must be replaced
	 * (its header changed or records were dropped). */
	struct maildir_uidlist *uidlist;
	struct maildir_stamp uidlist_stamp;   /* the file the list was read from */
	unsigned int uidlist_on_disk;
	bool uidlist_dirty, uidlist_rewrite, uidlist_partial;
	/* what the state looked like when the lock was taken: unlock writes the index
	 * only when something differs, as a delta of the changes since then */
	struct maildir_state lock_sig;   /* header fields only, no arrays */
	bool rescanned;                  /* rescanned under this lock: write a snapshot */
	bool wrote_new, wrote_cur;       /* renamed or removed files in new/, cur/ under it */
	uint32_t *touched;               /* renamed without a change (new/ -> cur/) */
	unsigned int touched_count, touched_alloc;
	bool index_stale;                /* the index file is missing or unreadable */
	struct maildir_mime *mime;       /* the MIME parse cache, opened on first use */
	uint64_t round_mark;             /* push round it was last checked in (maildir-round.h) */
	/* the process's table of folders (store-maildir-folder.c) */
	unsigned int refcount;
	bool in_table;
	struct maildir_folder *hash_next;
	struct maildir_folder *idle_prev, *idle_next;   /* when refcount is 0 */
};

struct maildir_mailbox {
	struct store_mailbox base;
	struct maildir_folder *folder;
};

/* ---- store-maildir-sync.c ---- */
/* The process's shared state of folder name (which must exist: STORE_ERR_NONEXISTENT
 * otherwise), referenced; not yet refreshed. */
int maildir_folder_get(struct maildir_user *user, const char *name,
		       struct maildir_folder **folder_r, struct store_error *error_r);
void maildir_folder_ref(struct maildir_folder *folder);
void maildir_folder_unref(struct maildir_folder **folder);
/* The folder of this directory in the table, or NULL (not referenced). */
struct maildir_folder *maildir_folder_lookup(const char *path);
/* Forget every unreferenced folder (tests, memory pressure). */
void maildir_folders_flush(void);
/* Bring mb->state up to date with the disk (cheap when nothing changed). */
int maildir_mbox_refresh(struct maildir_folder *mb, struct store_error *error_r);
/* Take the folder's uidlist lock and bring the state up to date under it (with
 * force, rescan the directories even when the stamps match). */
int maildir_mbox_lock(struct maildir_folder *mb, bool force, struct store_error *error_r);
/* Rescan the directories now (locked mb): a message file was not found under the
 * name the state has (renamed by someone else in a moment the stamps could not show). */
int maildir_mbox_rescan(struct maildir_folder *mb, struct store_error *error_r);
/* The path of a file in the folder (malloc'ed). */
char *maildir_folder_file(const struct maildir_folder *mb, const char *name);
/* Read the folder's uidlist whole (locked): a missing or bad one gives a new list
 * (new UIDVALIDITY and GUID) marked to be written. */
struct maildir_uidlist *maildir_mbox_read_uidlist(struct maildir_folder *mb);
/* Our own change of a directory: its deadline for another look, a second after the
 * first change not yet checked (not moved by later ones). */
void maildir_state_settle_later(int64_t *settle_ns);
/* EMAILID (the record's E, else derived from the folder GUID and UID) and THREADID
 * (the record's T, else none) of a uidlist record's extension fields ext. */
void maildir_derive_ids(const struct maildir_uidlist *list, const char *ext, uint32_t uid,
			char emailid_r[STORE_ID_MAX_BYTES], char threadid_r[STORE_ID_MAX_BYTES]);

/* (store-maildir-folder.c) Resolve keyword names to letters, adding them to
 * dovecot-keywords (locked mb). With add=false unknown names are skipped. */
int maildir_mbox_keywords(struct maildir_folder *mb, const char *const *names,
			  unsigned int count, bool add, uint32_t *letters_r,
			  struct store_error *error_r);
/* Stamps of new/, cur/, dovecot-uidlist and dovecot-keywords of folder dir (missing
 * or unreadable: zeroed). */
void maildir_folder_stamps(const char *dir, struct maildir_stamp st[4]);
/* Whether the state (a whole one, or just an index header) can be trusted with the
 * stamps st of now: the same stamps, and no directory due to be listed again. */
bool maildir_state_stamps_trusted(const struct maildir_state *state,
				  const struct maildir_stamp st[4]);
/* Path of a message file (malloc'ed). */
char *maildir_msg_path(const struct maildir_folder *mb, const struct maildir_msg *msg);
/* Map errno of a failed write to a store error (and log it). */
void maildir_set_errno_error(struct store_error *error_r, const char *what);
/* Folder directory of an IMAP name (malloc'ed); -1 with STORE_ERR_CANNOT. */
int maildir_folder_path(struct maildir_user *user, const char *name, char **path_r,
			struct store_error *error_r);
/* A new modseq base: microseconds since the epoch (larger than any earlier one). */
uint64_t maildir_modseq_base(void);
/* (store-maildir-folder.c) STATUS of a folder this process has no state of, from
 * the index header alone when its stamps still match the disk: 1 answered, 0 not
 * possible (use a folder state). */
int maildir_status_from_index(struct maildir_user *user, const char *name,
			      struct store_mailbox_status *status_r);
void maildir_status_from_state(const struct maildir_folder *mb,
			       struct store_mailbox_status *status_r);

/* ---- store-maildir-commit.c ---- */
/* The uidlist for a writer (locked mb): when the stamps say the file is what the state
 * was built from, a list of just the records to add (the file's are not read). */
struct maildir_uidlist *maildir_mbox_uidlist_for_appends(struct maildir_folder *mb);
/* Write the index (and the uidlist when dirty) and drop the lock. */
void maildir_mbox_unlock(struct maildir_folder *mb);
/* Write the uidlist now (locked mb); -1 with an error. */
int maildir_mbox_write_uidlist(struct maildir_folder *mb, struct store_error *error_r);
/* A message renamed under the lock without a change of its own (its new name must
 * reach the index). */
void maildir_mbox_touch(struct maildir_folder *mb, uint32_t uid);
/* Append a new message to the state (locked): UID from the uidlist, a new modseq, an
 * APPEND change; the uidlist gets its record. */
struct maildir_msg *maildir_mbox_add_new(struct maildir_folder *mb, const char *name,
					 bool in_new, const struct store_message_meta *meta);

/* ---- store-maildir-mbox.c ---- */
int maildir_mailbox_open(struct store_user *user, const char *name, bool readonly,
			 struct store_mailbox **mbox_r, struct store_error *error_r);
void maildir_mailbox_close(struct store_mailbox *mbox);
int maildir_snapshot(struct store_mailbox *mbox, struct store_snapshot **snapshot_r,
		     struct store_error *error_r);
int maildir_changes(struct store_mailbox *mbox, uint64_t since_modseq,
		    struct store_changes **changes_r, struct store_error *error_r);
int maildir_claim_recent(struct store_mailbox *mbox, uint32_t *first_uid_r,
			 struct store_error *error_r);
int maildir_update_flags(struct store_mailbox *mbox, const uint32_t *uids,
			 unsigned int count, enum store_flags_mode mode,
			 uint32_t system_flags, const char *const *keyword_names,
			 unsigned int keyword_count, struct store_error *error_r);
int maildir_expunge(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		    struct store_error *error_r);
int maildir_get_content(struct store_mailbox *mbox, uint32_t uid,
			struct store_content **content_r, struct store_error *error_r);
void maildir_set_parsed(struct store_content *content, void *parsed,
			void (*free_parsed)(void *parsed));
/* Expunge the messages at the given state indexes (locked mb): unlink + log. */
void maildir_mbox_remove(struct maildir_folder *mb, const bool *remove);

/* ---- store-maildir-save.c ---- */
int maildir_append(struct store_user *user, const char *mailbox,
		   const struct store_append_msg *msgs, unsigned int count,
		   uint32_t *uidvalidity_r, uint32_t *uids_r, struct store_error *error_r);
int maildir_copy(struct store_mailbox *mbox, const uint32_t *uids, unsigned int count,
		 const char *dest_name, bool move, uint32_t *uidvalidity_r,
		 uint32_t *src_uids_r, uint32_t *dest_uids_r, unsigned int *copied_r,
		 struct store_error *error_r);

/* ---- maildir-watch.c ---- */
struct store_watch *maildir_watch(struct store_mailbox *mbox,
				  store_watch_callback_t *callback, void *context);
void maildir_watch_remove(struct store_watch *watch);

#endif
