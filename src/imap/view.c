/* The selected-mailbox view of one session. */
#include "view.h"
#include "client.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-seqset.h"
#include "log.h"

#include <string.h>

struct view_msg {
	struct store_message_meta meta;
	bool recent;
	bool expunged;         /* by others, not announced yet */
};

struct imap_view {
	struct client *client;
	struct store_mailbox *mbox;
	struct store_watch *watch;
	struct store_mailbox_status status;
	uint64_t modseq;
	struct view_msg *msgs;
	unsigned int count, alloc;
	unsigned int announced;        /* EXISTS the client knows */
	unsigned int recent_count, announced_recent;
	unsigned int pending_expunges;
	uint32_t *flag_changes;        /* UIDs whose FLAGS must be announced */
	unsigned int flag_change_count, flag_change_alloc;
	char **keywords;
	unsigned int keyword_count;
	bool changed;
	void (*change_callback)(void *context);
	void *change_context;
};

static const struct { uint32_t bit; const char *name; } system_flags[] = {
	{ STORE_FLAG_ANSWERED, "\\Answered" }, { STORE_FLAG_DELETED, "\\Deleted" },
	{ STORE_FLAG_DRAFT, "\\Draft" }, { STORE_FLAG_FLAGGED, "\\Flagged" },
	{ 0, "\\Recent" }, { STORE_FLAG_SEEN, "\\Seen" },
};

static void view_watch_callback(void *context)
{
	struct imap_view *view = context;
	view->changed = true;
	if (view->change_callback != NULL)
		view->change_callback(view->change_context);
}

static void view_set_keywords(struct imap_view *view, char **keywords, unsigned int count)
{
	for (unsigned int i = 0; i < view->keyword_count; i++)
		free(view->keywords[i]);
	free(view->keywords);
	view->keywords = i_new(char *, count + 1);
	for (unsigned int i = 0; i < count; i++)
		view->keywords[i] = i_strdup(keywords[i]);
	view->keyword_count = count;
}

static void view_push(struct imap_view *view, const struct store_message_meta *meta)
{
	if (view->count == view->alloc) {
		view->alloc = view->alloc < 64 ? 64 : view->alloc * 2;
		view->msgs = i_reallocarray(view->msgs, view->alloc, sizeof(*view->msgs));
	}
	struct view_msg *msg = &view->msgs[view->count++];
	memset(msg, 0, sizeof(*msg));
	msg->meta = *meta;
}

/* Mark messages from first_uid on as recent for this session. */
static void view_mark_recent(struct imap_view *view, uint32_t first_uid)
{
	for (unsigned int i = view->count; i > 0; i--) {
		struct view_msg *msg = &view->msgs[i - 1];
		if (msg->meta.uid < first_uid)
			break;
		if (!msg->recent) {
			msg->recent = true;
			view->recent_count++;
		}
	}
}

int view_open(struct client *client, const char *name, bool readonly,
	      struct imap_view **view_r, struct store_error *error_r)
{
	struct store_mailbox *mbox;
	struct store_snapshot *snap;
	uint32_t first_recent;

	if (store_mailbox_open(client->user, name, readonly, &mbox, error_r) < 0)
		return -1;
	if (store_mailbox_snapshot(mbox, &snap, error_r) < 0 ||
	    store_mailbox_claim_recent(mbox, &first_recent, error_r) < 0) {
		store_mailbox_close(&mbox);
		return -1;
	}
	struct imap_view *view = i_new0(struct imap_view);
	view->client = client;
	view->mbox = mbox;
	view->status = snap->status;
	view->modseq = snap->modseq;
	for (unsigned int i = 0; i < snap->count; i++)
		view_push(view, &snap->msgs[i]);
	view->announced = view->count;
	view_set_keywords(view, snap->keywords, snap->keyword_count);
	store_snapshot_free(&snap);
	/* Recent: claimed now by this session, or (read-only) the mailbox's count. */
	if (store_mailbox_is_readonly(mbox))
		view->recent_count = view->status.recent;
	else
		view_mark_recent(view, first_recent);
	view->announced_recent = view->recent_count;
	view->watch = store_mailbox_watch(mbox, view_watch_callback, view);
	*view_r = view;
	return 0;
}

void view_close(struct imap_view **_view)
{
	struct imap_view *view = *_view;
	if (view == NULL)
		return;
	*_view = NULL;
	store_watch_remove(&view->watch);
	store_mailbox_close(&view->mbox);
	view_set_keywords(view, NULL, 0);
	free(view->keywords);
	free(view->msgs);
	free(view->flag_changes);
	free(view);
}

struct store_mailbox *view_mailbox(struct imap_view *view) { return view->mbox; }
const struct store_mailbox_status *view_status(const struct imap_view *view)
{ return &view->status; }
bool view_is_readonly(const struct imap_view *view)
{ return store_mailbox_is_readonly(view->mbox); }
unsigned int view_count(const struct imap_view *view) { return view->count; }
unsigned int view_recent_count(const struct imap_view *view) { return view->recent_count; }
uint32_t view_uid(const struct imap_view *view, unsigned int seq)
{ return view->msgs[seq - 1].meta.uid; }
const struct store_message_meta *view_meta(const struct imap_view *view, unsigned int seq)
{ return &view->msgs[seq - 1].meta; }
bool view_is_recent(const struct imap_view *view, unsigned int seq)
{ return view->msgs[seq - 1].recent; }
bool view_is_expunged(const struct imap_view *view, unsigned int seq)
{ return view->msgs[seq - 1].expunged; }
bool view_has_pending_expunges(const struct imap_view *view)
{ return view->pending_expunges > 0; }
unsigned int view_keyword_count(const struct imap_view *view) { return view->keyword_count; }
const char *view_keyword(const struct imap_view *view, unsigned int idx)
{ return view->keywords[idx]; }
bool view_changed(const struct imap_view *view) { return view->changed; }
void view_request_poll(struct imap_view *view) { view->changed = true; }

void view_set_change_callback(struct imap_view *view, void (*callback)(void *context),
			      void *context)
{
	view->change_callback = callback;
	view->change_context = context;
}

unsigned int view_seq_of_uid(const struct imap_view *view, uint32_t uid)
{
	unsigned int lo = 0, hi = view->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (view->msgs[mid].meta.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < view->count && view->msgs[lo].meta.uid == uid ? lo + 1 : 0;
}

/* ---- flags output ---- */

static void append_flag(struct buffer *out, bool *first, const char *name)
{
	if (!*first)
		buffer_append_c(out, ' ');
	buffer_append_str(out, name);
	*first = false;
}

void view_append_flags(const struct imap_view *view, unsigned int seq, struct buffer *out)
{
	const struct view_msg *msg = &view->msgs[seq - 1];
	bool first = true;
	buffer_append_c(out, '(');
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		bool set = system_flags[i].bit == 0 ? msg->recent :
			   (msg->meta.flags.system & system_flags[i].bit) != 0;
		if (set)
			append_flag(out, &first, system_flags[i].name);
	}
	for (unsigned int k = 0; k < view->keyword_count; k++) {
		if ((msg->meta.flags.keywords & ((uint64_t)1 << k)) != 0)
			append_flag(out, &first, view->keywords[k]);
	}
	buffer_append_c(out, ')');
}

static void append_flag_list(const struct imap_view *view, struct buffer *out, bool recent,
			     bool wildcard)
{
	bool first = true;
	buffer_append_c(out, '(');
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if (system_flags[i].bit != 0 || recent)
			append_flag(out, &first, system_flags[i].name);
	}
	for (unsigned int k = 0; k < view->keyword_count; k++)
		append_flag(out, &first, view->keywords[k]);
	if (wildcard)
		append_flag(out, &first, "\\*");
	buffer_append_c(out, ')');
}

void view_append_mailbox_flags(const struct imap_view *view, struct buffer *out)
{
	append_flag_list(view, out, true, false);
}

void view_append_permanent_flags(const struct imap_view *view, struct buffer *out)
{
	if (view_is_readonly(view)) {
		buffer_append_str(out, "()");
		return;
	}
	append_flag_list(view, out, false, view->keyword_count < STORE_MAX_KEYWORDS);
}

/* ---- sets ---- */

int view_resolve_set(const struct imap_view *view, struct imap_seqset *set, bool uid,
		     unsigned int **seqs_r, unsigned int *count_r)
{
	unsigned int alloc = 16, count = 0;
	unsigned int *seqs = i_new(unsigned int, alloc);
	unsigned int nranges;
	const struct imap_seq_range *ranges;

	if (view->count > 0)
		imap_seqset_resolve_star(set, uid ? view->msgs[view->count - 1].meta.uid :
					 view->count);
	else
		imap_seqset_resolve_star(set, uid ? (view->status.uidnext > 1 ?
						     view->status.uidnext - 1 : 1) : 1);
	ranges = imap_seqset_get_ranges(set, &nranges);
	for (unsigned int r = 0; r < nranges; r++) {
		/* Walk the view from the first message inside the range: linear overall. */
		unsigned int start = uid ? 0 : ranges[r].seq1 - 1;
		if (uid) {
			unsigned int lo = 0, hi = view->count;
			while (lo < hi) {
				unsigned int mid = lo + (hi - lo) / 2;
				if (view->msgs[mid].meta.uid < ranges[r].seq1)
					lo = mid + 1;
				else
					hi = mid;
			}
			start = lo;
		}
		for (unsigned int i = start; i < view->count; i++) {
			uint32_t key = uid ? view->msgs[i].meta.uid : i + 1;
			if (key > ranges[r].seq2)
				break;
			if (count == alloc) {
				alloc *= 2;
				seqs = i_reallocarray(seqs, alloc, sizeof(*seqs));
			}
			seqs[count++] = i + 1;
		}
	}
	*seqs_r = seqs;
	*count_r = count;
	return 0;
}

/* ---- sync ---- */

static void view_note_flag_change(struct imap_view *view, uint32_t uid)
{
	if (view->flag_change_count == view->flag_change_alloc) {
		view->flag_change_alloc = view->flag_change_alloc < 16 ? 16 :
					  view->flag_change_alloc * 2;
		view->flag_changes = i_reallocarray(view->flag_changes, view->flag_change_alloc,
						    sizeof(uint32_t));
	}
	view->flag_changes[view->flag_change_count++] = uid;
}

static void view_apply_change(struct imap_view *view, const struct store_change *change,
			      const struct imap_seqset *quiet_uids, bool *appended)
{
	uint32_t uid = change->meta.uid;
	unsigned int seq;

	switch (change->kind) {
	case STORE_CHANGE_APPEND:
		if (view->count == 0 || uid > view->msgs[view->count - 1].meta.uid) {
			view_push(view, &change->meta);
			*appended = true;
		}
		break;
	case STORE_CHANGE_FLAGS:
		seq = view_seq_of_uid(view, uid);
		if (seq == 0 || view->msgs[seq - 1].expunged)
			break;
		view->msgs[seq - 1].meta = change->meta;
		if (quiet_uids == NULL || !imap_seqset_contains(quiet_uids, uid))
			view_note_flag_change(view, uid);
		break;
	case STORE_CHANGE_EXPUNGE:
		seq = view_seq_of_uid(view, uid);
		if (seq != 0 && !view->msgs[seq - 1].expunged) {
			view->msgs[seq - 1].expunged = true;
			view->pending_expunges++;
		}
		break;
	}
}

/* Turn a fresh snapshot into changes against the view (when the change log no longer
 * reaches back to our modseq). Linear: both lists are in UID order. */
static void view_resync(struct imap_view *view, const struct store_snapshot *snap,
			bool *appended)
{
	unsigned int s = 0;
	struct store_change change;
	memset(&change, 0, sizeof(change));
	for (unsigned int i = 0; i < view->count; i++) {
		struct view_msg *msg = &view->msgs[i];
		while (s < snap->count && snap->msgs[s].uid < msg->meta.uid)
			s++;
		if (s == snap->count || snap->msgs[s].uid != msg->meta.uid) {
			change.kind = STORE_CHANGE_EXPUNGE;
			change.meta.uid = msg->meta.uid;
			view_apply_change(view, &change, NULL, appended);
		} else if (memcmp(&snap->msgs[s].flags, &msg->meta.flags, sizeof(msg->meta.flags)) != 0) {
			change.kind = STORE_CHANGE_FLAGS;
			change.meta = snap->msgs[s];
			view_apply_change(view, &change, NULL, appended);
		}
	}
	uint32_t last = view->count == 0 ? 0 : view->msgs[view->count - 1].meta.uid;
	for (s = 0; s < snap->count; s++) {
		if (snap->msgs[s].uid > last) {
			change.kind = STORE_CHANGE_APPEND;
			change.meta = snap->msgs[s];
			view_apply_change(view, &change, NULL, appended);
		}
	}
}

/* Fetch what changed in the store into the view. -1 when the mailbox is gone. */
static int view_update(struct imap_view *view, const struct imap_seqset *quiet_uids)
{
	struct store_changes *changes;
	struct store_error error;
	bool appended = false;
	int ret = store_mailbox_changes(view->mbox, view->modseq, &changes, &error);

	view->changed = false;
	if (ret < 0)
		return -1;
	if (ret == 0) {
		struct store_snapshot *snap;
		if (store_mailbox_snapshot(view->mbox, &snap, &error) < 0)
			return -1;
		view_resync(view, snap, &appended);
		view->modseq = snap->modseq;
		view->status = snap->status;
		view_set_keywords(view, snap->keywords, snap->keyword_count);
		store_snapshot_free(&snap);
	} else {
		for (unsigned int i = 0; i < changes->count; i++)
			view_apply_change(view, &changes->changes[i], quiet_uids, &appended);
		view->modseq = changes->modseq;
		view_set_keywords(view, changes->keywords, changes->keyword_count);
		store_changes_free(&changes);
	}
	if (appended) {
		uint32_t first_recent;
		if (store_mailbox_claim_recent(view->mbox, &first_recent, &error) == 0 &&
		    !store_mailbox_is_readonly(view->mbox))
			view_mark_recent(view, first_recent);
	}
	return 0;
}

/* Remove expunged messages, announcing those the client knows, highest first so the
 * numbers sent stay valid. */
static void view_send_expunges(struct imap_view *view, struct client *client)
{
	unsigned int keep = 0;
	for (unsigned int i = view->count; i > 0; i--) {
		if (view->msgs[i - 1].expunged && i <= view->announced)
			client_sendf(client, "* %u EXPUNGE\r\n", i);
	}
	for (unsigned int i = 0; i < view->count; i++) {
		struct view_msg *msg = &view->msgs[i];
		if (!msg->expunged) {
			view->msgs[keep++] = *msg;
			continue;
		}
		if (i < view->announced)
			view->announced--;
		if (msg->recent)
			view->recent_count--;
	}
	/* Messages appended after the announced ones keep their relative order. */
	view->count = keep;
	view->pending_expunges = 0;
}

static void view_send_flag_changes(struct imap_view *view, struct client *client,
				   bool send_uid)
{
	struct buffer line;
	buffer_init(&line, 0);
	for (unsigned int i = 0; i < view->flag_change_count; i++) {
		unsigned int seq = view_seq_of_uid(view, view->flag_changes[i]);
		if (seq == 0 || seq > view->announced || view->msgs[seq - 1].expunged)
			continue;
		buffer_reset(&line);
		buffer_printf(&line, "* %u FETCH (FLAGS ", seq);
		view_append_flags(view, seq, &line);
		if (send_uid)
			buffer_printf(&line, " UID %u", view->msgs[seq - 1].meta.uid);
		buffer_append_str(&line, ")\r\n");
		client_send(client, buffer_data(&line), buffer_len(&line));
	}
	view->flag_change_count = 0;
	buffer_deinit(&line);
}

void view_sync(struct client *client, bool allow_expunge, bool send_uid,
	       const struct imap_seqset *quiet_uids)
{
	struct imap_view *view = client->view;
	if (view->changed && view_update(view, quiet_uids) < 0) {
		client_disconnect(client, "Selected mailbox no longer exists.");
		return;
	}
	if (allow_expunge && view->pending_expunges > 0)
		view_send_expunges(view, client);
	if (view->count != view->announced) {
		client_sendf(client, "* %u EXISTS\r\n", view->count);
		view->announced = view->count;
	}
	if (view->recent_count != view->announced_recent) {
		client_sendf(client, "* %u RECENT\r\n", view->recent_count);
		view->announced_recent = view->recent_count;
	}
	view_send_flag_changes(view, client, send_uid);
}
