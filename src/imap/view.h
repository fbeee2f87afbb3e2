#ifndef PYMAP_IMAP_VIEW_H
#define PYMAP_IMAP_VIEW_H
/* The selected mailbox as one session sees it (RFC 3501 2.3.1, 7.4.1; RFC 2180):
 * sequence numbers <-> UIDs, flags, this session's \Recent messages, and the changes
 * made by others that have not been announced yet. Changes arrive from the store's
 * change feed; view_sync() turns them into untagged EXPUNGE / EXISTS / RECENT /
 * FETCH FLAGS responses when the protocol allows. Expunges are held back after
 * FETCH, STORE and SEARCH by sequence number so numbers never shift under them. */
#include <stdbool.h>
#include <stdint.h>
#include "store/store.h"

struct client;
struct buffer;
struct imap_view;
struct imap_seqset;

int view_open(struct client *client, const char *name, bool readonly,
	      struct imap_view **view_r, struct store_error *error_r);
void view_close(struct imap_view **view);

struct store_mailbox *view_mailbox(struct imap_view *view);
const struct store_mailbox_status *view_status(const struct imap_view *view);
bool view_is_readonly(const struct imap_view *view);
unsigned int view_count(const struct imap_view *view);
unsigned int view_recent_count(const struct imap_view *view);
uint32_t view_uid(const struct imap_view *view, unsigned int seq);
const struct store_message_meta *view_meta(const struct imap_view *view, unsigned int seq);
bool view_is_recent(const struct imap_view *view, unsigned int seq);
/* Expunged by someone else but not announced yet (RFC 2180 4.1). */
bool view_is_expunged(const struct imap_view *view, unsigned int seq);
/* 0 when the UID is not in the view. */
unsigned int view_seq_of_uid(const struct imap_view *view, uint32_t uid);
bool view_has_pending_expunges(const struct imap_view *view);
/* The keyword table of the mailbox. */
unsigned int view_keyword_count(const struct imap_view *view);
const char *view_keyword(const struct imap_view *view, unsigned int idx);

/* "(\Seen \Recent $Label)" for message seq. */
void view_append_flags(const struct imap_view *view, unsigned int seq, struct buffer *out);
/* The "* FLAGS (...)" list and the PERMANENTFLAGS list of the mailbox. */
void view_append_mailbox_flags(const struct imap_view *view, struct buffer *out);
void view_append_permanent_flags(const struct imap_view *view, struct buffer *out);

/* Resolve a sequence set (or UID set when uid) to ascending sequence numbers in the
 * view; unknown UIDs are skipped. "*" means the last message. *seqs_r is malloc'ed. */
int view_resolve_set(const struct imap_view *view, struct imap_seqset *set, bool uid,
		     unsigned int **seqs_r, unsigned int *count_r);

/* Bring the view up to date and send untagged responses. quiet_uids (sorted, may be
 * NULL) lists messages whose flag changes are reported by the caller (STORE). */
void view_sync(struct client *client, bool allow_expunge, bool send_uid,
	       const struct imap_seqset *quiet_uids);
/* Ask the store at the next sync even without a change notification (NOOP, CHECK,
 * IDLE: RFC 3501 6.1.2 makes NOOP the way to poll; a notification may still be on
 * its way, e.g. an inotify event not read yet). */
void view_request_poll(struct imap_view *view);
/* Whether the store reported a change since the last sync (for IDLE). */
bool view_changed(const struct imap_view *view);
/* Set a callback for changes (IDLE): called from the loop, may be NULL. */
void view_set_change_callback(struct imap_view *view, void (*callback)(void *context),
			      void *context);

#endif
