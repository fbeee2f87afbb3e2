/* FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2; BINARY RFC 3516). The response is
 * produced one message at a time and the command suspends whenever the output queue is
 * full, so fetching a 100k-message mailbox needs memory for one message's response,
 * not the mailbox's. Byte ranges of the message are sent by reference from the store.
 * Structure items come from the message engine's parse, cached with the message by
 * the store so a second FETCH does not parse again. */
#include "commands.h"
#include "client.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-date.h"
#include "imap-parser.h"
#include "imap-seqset.h"
#include "mime/mime-bodystructure.h"
#include "mime/mime-decode.h"
#include "mime/mime-envelope.h"
#include "mime/mime-parser.h"
#include "mime/mime-section.h"
#include "mime/mime-tree.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fetch_item_kind {
	FETCH_UID, FETCH_FLAGS, FETCH_INTERNALDATE, FETCH_RFC822_SIZE, FETCH_EMAILID,
	FETCH_THREADID, FETCH_ENVELOPE, FETCH_BODYSTRUCTURE, FETCH_BODY,
	FETCH_BODY_SECTION, FETCH_BINARY, FETCH_BINARY_SIZE,
};

struct fetch_item {
	enum fetch_item_kind kind;
	struct mime_section section;   /* BODY[...], BINARY[...], RFC822* */
	bool peek;
	char name[96];                 /* as echoed: "BODY[1.MIME]", "RFC822.HEADER" ... */
	bool partial;
	uint64_t partial_offset, partial_size;
};

struct fetch_context {
	struct fetch_item items[32];
	unsigned int item_count;
	bool need_content, sets_seen;
	unsigned int *seqs, seq_count, pos;
	unsigned int prefetch_end;         /* seqs[] before this index were prefetched */
	enum store_prefetch prefetch_what;
	struct imap_seqset *seen_changed;  /* UIDs whose \Seen this FETCH set */
};

static struct fetch_item *add_item(struct fetch_context *ctx, enum fetch_item_kind kind,
				   const char *name)
{
	if (ctx->item_count == sizeof(ctx->items) / sizeof(ctx->items[0]))
		return NULL;
	struct fetch_item *item = &ctx->items[ctx->item_count++];
	memset(item, 0, sizeof(*item));
	item->kind = kind;
	snprintf(item->name, sizeof(item->name), "%s", name);
	if (kind >= FETCH_ENVELOPE)
		ctx->need_content = true;
	if (kind >= FETCH_BODY_SECTION)
		ctx->prefetch_what = STORE_PREFETCH_FULL;
	return item;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT: sections of the whole message. */
static bool add_rfc822(struct fetch_context *ctx, const char *name,
		       enum mime_section_kind kind, bool peek)
{
	struct fetch_item *item = add_item(ctx, FETCH_BODY_SECTION, name);
	if (item == NULL)
		return false;
	item->section.kind = kind;
	item->peek = peek;
	ctx->sets_seen = ctx->sets_seen || !peek;
	return true;
}

/* "<offset.size>" after a section. */
static bool parse_partial(const char *p, struct fetch_item *item)
{
	char *end;
	if (*p == '\0')
		return true;
	if (*p != '<' || p[1] < '0' || p[1] > '9')
		return false;
	item->partial_offset = strtoull(p + 1, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	p = end + 1;
	item->partial_size = strtoull(p, &end, 10);
	if (strcmp(end, ">") != 0 || item->partial_size == 0)
		return false;
	item->partial = true;
	return true;
}

/* BINARY sections name parts only: "" or "1.2.3". */
static bool binary_spec_valid(const struct mime_section *sec)
{
	return sec->kind == MIME_SECTION_BODY;
}

/* BODY[...]<p>, BODY.PEEK[...]<p>, BINARY[...]<p>, BINARY.PEEK[...]<p>, BINARY.SIZE[...] */
static bool parse_section_item(struct fetch_context *ctx, const char *atom)
{
	static const struct { const char *prefix; enum fetch_item_kind kind; bool peek;
			      const char *echo; } forms[] = {
		{ "BODY[", FETCH_BODY_SECTION, false, "BODY" },
		{ "BODY.PEEK[", FETCH_BODY_SECTION, true, "BODY" },
		{ "BINARY[", FETCH_BINARY, false, "BINARY" },
		{ "BINARY.PEEK[", FETCH_BINARY, true, "BINARY" },
		{ "BINARY.SIZE[", FETCH_BINARY_SIZE, true, "BINARY.SIZE" },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t plen = strlen(forms[i].prefix);
		if (strncasecmp(atom, forms[i].prefix, plen) != 0)
			continue;
		const char *spec = atom + plen, *close = strchr(spec, ']');
		const char *error;
		if (close == NULL || (size_t)(close - spec) > 64)
			return false;
		struct fetch_item *item = add_item(ctx, forms[i].kind, "");
		if (item == NULL ||
		    mime_section_parse(spec, (size_t)(close - spec), &item->section, &error) < 0)
			return false;
		snprintf(item->name, sizeof(item->name), "%s[%.*s]", forms[i].echo,
			 (int)(close - spec), spec);
		item->peek = forms[i].peek;
		ctx->sets_seen = ctx->sets_seen || !item->peek;
		if (forms[i].kind != FETCH_BODY_SECTION && !binary_spec_valid(&item->section))
			return false;
		if (forms[i].kind == FETCH_BINARY_SIZE)
			return close[1] == '\0';
		return parse_partial(close + 1, item);
	}
	return false;
}

static bool parse_item(struct fetch_context *ctx, const char *atom);

static bool parse_macro(struct fetch_context *ctx, const char *atom)
{
	static const char *const fast[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL };
	static const char *const all[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL };
	static const char *const full[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
					    "BODY", NULL };
	const char *const *list = strcasecmp(atom, "FAST") == 0 ? fast :
				  strcasecmp(atom, "ALL") == 0 ? all : full;
	for (; *list != NULL; list++) {
		if (!parse_item(ctx, *list))
			return false;
	}
	return true;
}

static bool parse_item(struct fetch_context *ctx, const char *atom)
{
	static const struct { const char *name; enum fetch_item_kind kind; } simple[] = {
		{ "UID", FETCH_UID }, { "FLAGS", FETCH_FLAGS },
		{ "INTERNALDATE", FETCH_INTERNALDATE }, { "RFC822.SIZE", FETCH_RFC822_SIZE },
		{ "EMAILID", FETCH_EMAILID }, { "THREADID", FETCH_THREADID },
		{ "ENVELOPE", FETCH_ENVELOPE }, { "BODYSTRUCTURE", FETCH_BODYSTRUCTURE },
		{ "BODY", FETCH_BODY },
	};
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strcasecmp(atom, simple[i].name) == 0)
			return add_item(ctx, simple[i].kind, simple[i].name) != NULL;
	}
	if (strcasecmp(atom, "RFC822") == 0)
		return add_rfc822(ctx, "RFC822", MIME_SECTION_BODY, false);
	if (strcasecmp(atom, "RFC822.HEADER") == 0)
		return add_rfc822(ctx, "RFC822.HEADER", MIME_SECTION_HEADER, true);
	if (strcasecmp(atom, "RFC822.TEXT") == 0)
		return add_rfc822(ctx, "RFC822.TEXT", MIME_SECTION_TEXT, false);
	if (strcasecmp(atom, "FAST") == 0 || strcasecmp(atom, "ALL") == 0 ||
	    strcasecmp(atom, "FULL") == 0)
		return parse_macro(ctx, atom);
	return parse_section_item(ctx, atom);
}

static bool parse_items(struct fetch_context *ctx, const struct imap_arg *arg)
{
	const struct imap_arg *list;
	unsigned int count;
	const char *atom;
	if (imap_arg_get_atom(arg, &atom))
		return parse_item(ctx, atom) && imap_arg_is_eol(arg + 1);
	if (!imap_arg_get_list(arg, &list, &count) || count == 0 || !imap_arg_is_eol(arg + 1))
		return false;
	for (unsigned int i = 0; i < count; i++) {
		if (!imap_arg_get_atom(&list[i], &atom) || !parse_item(ctx, atom))
			return false;
	}
	return true;
}

static void free_tree(void *tree)
{
	struct mime_tree *t = tree;
	mime_tree_destroy(&t);
}

/* The message's parse, from the store's cache or parsed now and cached; NULL when
 * the bytes could not be read (expunged meanwhile). */
static const struct mime_tree *content_tree(struct store_content *content)
{
	struct store_error error;
	if (content->parsed != NULL)
		return content->parsed;
	if (store_content_load(content, &error) < 0)
		return NULL;
	store_content_set_parsed(content, mime_parse(content->data, content->size), free_tree);
	return content->parsed;
}

/* Apply <offset.size> to [start, end) and write "NAME<offset> " to line. */
static void apply_partial(const struct fetch_item *item, struct buffer *line,
			  uint64_t *start, uint64_t *end)
{
	if (!item->partial) {
		buffer_printf(line, "%s ", item->name);
		return;
	}
	uint64_t len = *end - *start;
	*start += item->partial_offset > len ? len : item->partial_offset;
	if (item->partial_size < *end - *start)
		*end = *start + item->partial_size;
	buffer_printf(line, "%s<%llu> ", item->name, (unsigned long long)item->partial_offset);
}

/* Send line so far, then a literal of data (copied) or of a content range (by
 * reference). A {n} literal may not hold NUL (RFC 3501 9, CHAR8): outside BINARY a NUL
 * is sent as 0x80, as Dovecot does; BINARY uses ~{n} only when the data has a NUL
 * (RFC 3516 4.3). */
static void send_literal(struct client *client, struct buffer *line, bool binary,
			 const void *data, struct store_content *content, uint64_t start,
			 uint64_t end)
{
	const unsigned char *bytes = content != NULL ? content->data : data;
	size_t size = end - start;
	bool has_nul = size > 0 && memchr(bytes + start, '\0', size) != NULL;

	buffer_printf(line, "%s{%zu}\r\n", binary && has_nul ? "~" : "", size);
	client_send(client, buffer_data(line), buffer_len(line));
	buffer_reset(line);
	if (has_nul && !binary) {
		unsigned char *copy = i_memdup(bytes + start, size);
		for (unsigned char *p = memchr(copy, '\0', size); p != NULL;
		     p = memchr(p, '\0', size - (size_t)(p - copy)))
			*p = 0x80;
		client_send(client, copy, size);
		free(copy);
		store_content_release(&content);
	} else if (content == NULL) {
		client_send(client, bytes + start, size);
	} else {
		client_send_content(client, content, start, size);
	}
}

static void send_body_section(struct client *client, struct buffer *line,
			      const struct fetch_item *item, struct store_content *content)
{
	const struct mime_tree *tree = content_tree(content);
	const struct mime_part *part;
	uint64_t start = 0, end = 0;
	int found = mime_section_resolve(tree, &item->section, &start, &end, &part);

	if (found > 0 && (item->section.kind == MIME_SECTION_HEADER_FIELDS ||
			  item->section.kind == MIME_SECTION_HEADER_FIELDS_NOT)) {
		struct buffer fields;
		buffer_init(&fields, 0);
		mime_section_filter_header(content->data + start, end - start,
					   item->section.fields, item->section.field_count,
					   item->section.kind == MIME_SECTION_HEADER_FIELDS_NOT,
					   &fields);
		uint64_t fstart = 0, fend = buffer_len(&fields);
		apply_partial(item, line, &fstart, &fend);
		send_literal(client, line, false, buffer_data(&fields), NULL, fstart, fend);
		buffer_deinit(&fields);
		store_content_release(&content);
		return;
	}
	if (found <= 0)
		start = end = 0;
	apply_partial(item, line, &start, &end);
	send_literal(client, line, false, NULL, content, start, end);
}

/* BINARY[...] and BINARY.SIZE[...]: the decoded body of a part. false = unknown
 * transfer encoding (RFC 3516: NO [UNKNOWN-CTE]). */
static bool send_binary(struct client *client, struct buffer *line,
			const struct fetch_item *item, struct store_content *content)
{
	const struct mime_tree *tree = content_tree(content);
	const struct mime_part *part = NULL;
	uint64_t start, end;
	struct buffer decoded;
	bool ok = true;

	if (mime_section_resolve(tree, &item->section, &start, &end, &part) <= 0)
		part = NULL;
	buffer_init(&decoded, 0);
	if (part != NULL && item->section.path_len == 0) {
		/* BINARY[] is the whole message. */
		buffer_append(&decoded, content->data, content->size);
	} else if (part != NULL) {
		ok = mime_decode_part(tree, content->data, content->size, part, &decoded) ==
		     MIME_DECODE_OK;
	}
	if (ok && item->kind == FETCH_BINARY_SIZE) {
		buffer_printf(line, "%s %zu", item->name, buffer_len(&decoded));
	} else if (ok) {
		uint64_t dstart = 0, dend = buffer_len(&decoded);
		apply_partial(item, line, &dstart, &dend);
		send_literal(client, line, true, buffer_data(&decoded), NULL, dstart, dend);
	}
	buffer_deinit(&decoded);
	store_content_release(&content);
	return ok;
}

/* content is borrowed. false when the message's bytes are gone. */
static bool append_structure(struct buffer *line, const struct fetch_item *item,
			     struct store_content *content)
{
	const struct mime_tree *tree = content_tree(content);
	if (tree == NULL)
		return false;
	buffer_printf(line, "%s ", item->name);
	if (item->kind == FETCH_ENVELOPE)
		mime_envelope_write(tree, mime_tree_root(tree), line);
	else
		mime_bodystructure_write(tree, mime_tree_root(tree),
					 item->kind == FETCH_BODYSTRUCTURE, line);
	return true;
}

static void append_simple_item(struct buffer *line, const struct fetch_item *item,
			       const struct imap_view *view, unsigned int seq)
{
	const struct store_message_meta *meta = view_meta(view, seq);
	char date[IMAP_DATE_TIME_BUF_SIZE];
	switch (item->kind) {
	case FETCH_UID: buffer_printf(line, "UID %u", meta->uid); break;
	case FETCH_FLAGS:
		buffer_append_str(line, "FLAGS ");
		view_append_flags(view, seq, line);
		break;
	case FETCH_INTERNALDATE:
		buffer_printf(line, "INTERNALDATE \"%s\"",
			      imap_date_time_format(meta->internal_date, meta->internal_tz_min, date));
		break;
	case FETCH_RFC822_SIZE:
		buffer_printf(line, "RFC822.SIZE %llu", (unsigned long long)meta->size);
		break;
	case FETCH_EMAILID: buffer_printf(line, "EMAILID (%s)", meta->emailid); break;
	case FETCH_THREADID:
		if (meta->threadid[0] == '\0')
			buffer_append_str(line, "THREADID NIL");
		else
			buffer_printf(line, "THREADID (%s)", meta->threadid);
		break;
	default: break;
	}
}

/* One message's response. Returns -1 when its content is gone (RFC 2180 4.1.2:
 * expunged by another session; the tagged OK then carries EXPUNGEISSUED), -2 for an
 * unknown transfer encoding in BINARY, else 0. */
static int fetch_one(struct client_command *cmd, struct fetch_context *ctx, unsigned int seq)
{
	struct client *client = cmd->client;
	struct imap_view *view = client->view;
	struct buffer line;
	struct store_content *shared = NULL;
	bool flags_sent = false;
	int ret = 0;

	buffer_init(&line, 0);
	buffer_printf(&line, "* %u FETCH (", seq);
	for (unsigned int i = 0; i < ctx->item_count && ret == 0; i++) {
		const struct fetch_item *item = &ctx->items[i];
		struct store_content *content;
		struct store_error error;
		if (i > 0)
			buffer_append_c(&line, ' ');
		if (item->kind < FETCH_ENVELOPE) {
			append_simple_item(&line, item, view, seq);
			flags_sent = flags_sent || item->kind == FETCH_FLAGS;
			continue;
		}
		bool structure = item->kind != FETCH_BODY_SECTION && item->kind != FETCH_BINARY &&
				 item->kind != FETCH_BINARY_SIZE;
		/* Structure items share one content (and its cached parse); sections take
		 * their own, which may be written out by reference. */
		if (structure && shared == NULL &&
		    store_mailbox_get_content(view_mailbox(view), view_uid(view, seq),
					      &shared, &error) < 0) {
			ret = -1;
		} else if (structure) {
			if (!append_structure(&line, item, shared))
				ret = -1;
		} else if (store_mailbox_get_content(view_mailbox(view), view_uid(view, seq),
						     &content, &error) < 0) {
			ret = -1;
		} else if (store_content_load(content, &error) < 0) {
			store_content_release(&content);
			ret = -1;
		} else if (item->kind == FETCH_BODY_SECTION) {
			send_body_section(client, &line, item, content);
		} else if (!send_binary(client, &line, item, content)) {
			ret = -2;
		}
	}
	store_content_release(&shared);
	if (ret == 0 && !flags_sent && ctx->seen_changed != NULL &&
	    imap_seqset_contains(ctx->seen_changed, view_uid(view, seq))) {
		buffer_append_str(&line, " FLAGS ");
		view_append_flags(view, seq, &line);
	}
	/* A response already started on the wire must be completed. */
	buffer_append_str(&line, ")\r\n");
	client_send(client, buffer_data(&line), buffer_len(&line));
	buffer_deinit(&line);
	return ret;
}

static void fetch_free(struct client_command *cmd)
{
	struct fetch_context *ctx = cmd->context;
	if (ctx == NULL)
		return;
	for (unsigned int i = 0; i < ctx->item_count; i++)
		mime_section_free(&ctx->items[i].section);
	free(ctx->seqs);
	imap_seqset_destroy(&ctx->seen_changed);
	free(ctx);
	cmd->context = NULL;
}

/* Tell the store which messages the next FETCH_PREFETCH_BATCH steps read, so a
 * backend with a round trip per message (redis) reads them in one. A failure only
 * loses the read-ahead: each message is then read on its own. */
#define FETCH_PREFETCH_BATCH 128
static void fetch_prefetch(struct client_command *cmd, struct fetch_context *ctx)
{
	struct imap_view *view = cmd->client->view;
	uint32_t uids[FETCH_PREFETCH_BATCH];
	unsigned int count = 0, i = ctx->pos;
	struct store_error error;

	for (; i < ctx->seq_count && count < FETCH_PREFETCH_BATCH; i++) {
		if (!view_is_expunged(view, ctx->seqs[i]))
			uids[count++] = view_uid(view, ctx->seqs[i]);
	}
	ctx->prefetch_end = i;
	if (count > 1)
		(void)store_mailbox_prefetch(view_mailbox(view), uids, count,
					     ctx->prefetch_what, &error);
}

static bool fetch_resume(struct client_command *cmd)
{
	struct fetch_context *ctx = cmd->context;
	while (ctx->pos < ctx->seq_count) {
		if (client_output_full(cmd->client))
			return false;
		if (ctx->need_content && ctx->pos >= ctx->prefetch_end)
			fetch_prefetch(cmd, ctx);
		unsigned int seq = ctx->seqs[ctx->pos++];
		int ret = view_is_expunged(cmd->client->view, seq) ? -1 : fetch_one(cmd, ctx, seq);
		if (ret == -1)
			cmd->expunge_issued = true;
		if (ret == -2) {
			command_no(cmd, "[UNKNOWN-CTE] Unknown content transfer encoding.");
			fetch_free(cmd);
			return true;
		}
	}
	command_ok(cmd, "%s completed.", cmd->name);
	fetch_free(cmd);
	return true;
}

/* Non-PEEK body fetches set \Seen first (RFC 3501 6.4.5), in one store call. */
static void fetch_set_seen(struct client_command *cmd, struct fetch_context *ctx)
{
	struct imap_view *view = cmd->client->view;
	struct store_error error;
	uint32_t *uids = i_new(uint32_t, ctx->seq_count + 1);
	unsigned int count = 0;
	for (unsigned int i = 0; i < ctx->seq_count; i++) {
		unsigned int seq = ctx->seqs[i];
		if (!view_is_expunged(view, seq) &&
		    (view_meta(view, seq)->flags.system & STORE_FLAG_SEEN) == 0)
			uids[count++] = view_uid(view, seq);
	}
	if (count > 0) {
		ctx->seen_changed = imap_seqset_create();
		for (unsigned int i = 0; i < count; i++)
			imap_seqset_add(ctx->seen_changed, uids[i]);
		if (store_mailbox_update_flags(view_mailbox(view), uids, count, STORE_FLAGS_ADD,
					       STORE_FLAG_SEEN, NULL, 0, &error) == 0) {
			view_request_poll(view);
			view_sync(cmd->client, false, cmd->uid, ctx->seen_changed);
		}
	}
	free(uids);
}

static bool cmd_fetch(struct client_command *cmd)
{
	struct fetch_context *ctx = i_new0(struct fetch_context);
	const char *set_str, *error;
	struct imap_seqset *set;

	cmd->context = ctx;
	cmd->cancel = fetch_free;
	if (!imap_arg_get_atom(&cmd->args[0], &set_str) ||
	    imap_seqset_parse(set_str, &set, &error) < 0) {
		command_bad(cmd, "%s: Invalid sequence set.", cmd->name);
		fetch_free(cmd);
		return true;
	}
	if (!parse_items(ctx, &cmd->args[1])) {
		imap_seqset_destroy(&set);
		command_bad(cmd, "%s: Invalid or unsupported fetch attributes.", cmd->name);
		fetch_free(cmd);
		return true;
	}
	/* RFC 3501 6.4.8: UID FETCH always returns UID. */
	bool has_uid = false;
	for (unsigned int i = 0; i < ctx->item_count; i++)
		has_uid = has_uid || ctx->items[i].kind == FETCH_UID;
	if (cmd->uid && !has_uid)
		add_item(ctx, FETCH_UID, "UID");
	view_resolve_set(cmd->client->view, set, cmd->uid, &ctx->seqs, &ctx->seq_count);
	imap_seqset_destroy(&set);
	if (ctx->sets_seen && !view_is_readonly(cmd->client->view))
		fetch_set_seen(cmd, ctx);
	cmd->resume = fetch_resume;
	return fetch_resume(cmd);
}

const struct command_def cmd_fetch_defs[] = {
	{ "FETCH", cmd_fetch, CMD_AUTH | CMD_SELECTED | CMD_UID | CMD_DEFER_EXPUNGE },
	{ NULL, NULL, 0 },
};
