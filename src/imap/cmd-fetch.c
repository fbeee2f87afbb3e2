/* FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2). The response is produced one message
 * at a time and the command suspends whenever the output queue is full, so fetching
 * a 100k-message mailbox needs memory for one message's response, not the mailbox's.
 * Body sections of the whole message are sent by reference from the store. */
#include "commands.h"
#include "client.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-date.h"
#include "imap-parser.h"
#include "imap-seqset.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

enum fetch_item_kind {
	FETCH_UID, FETCH_FLAGS, FETCH_INTERNALDATE, FETCH_RFC822_SIZE, FETCH_EMAILID,
	FETCH_THREADID, FETCH_BODY_SECTION,
};

enum fetch_section { SECTION_ALL, SECTION_HEADER, SECTION_TEXT };

struct fetch_item {
	enum fetch_item_kind kind;
	enum fetch_section section;
	bool peek;
	const char *name;          /* as echoed: "BODY[]", "RFC822", "RFC822.HEADER" ... */
	bool partial;
	uint64_t partial_offset, partial_size;
};

struct fetch_context {
	struct fetch_item items[32];
	unsigned int item_count;
	bool need_content, sets_seen;
	unsigned int *seqs, seq_count, pos;
	struct imap_seqset *seen_changed;  /* UIDs whose \Seen this FETCH set */
};

static bool add_item(struct fetch_context *ctx, enum fetch_item_kind kind, const char *name)
{
	if (ctx->item_count == sizeof(ctx->items) / sizeof(ctx->items[0]))
		return false;
	struct fetch_item *item = &ctx->items[ctx->item_count++];
	memset(item, 0, sizeof(*item));
	item->kind = kind;
	item->name = name;
	return true;
}

static bool add_section(struct fetch_context *ctx, enum fetch_section section, bool peek,
			const char *name)
{
	if (!add_item(ctx, FETCH_BODY_SECTION, name))
		return false;
	ctx->items[ctx->item_count - 1].section = section;
	ctx->items[ctx->item_count - 1].peek = peek;
	ctx->need_content = true;
	ctx->sets_seen = ctx->sets_seen || !peek;
	return true;
}

/* "<offset.size>" after a section. */
static bool parse_partial(const char *p, struct fetch_item *item)
{
	char *end;
	if (*p == '\0')
		return true;
	if (*p != '<')
		return false;
	item->partial_offset = strtoull(p + 1, &end, 10);
	if (end == p + 1 || *end != '.')
		return false;
	p = end + 1;
	item->partial_size = strtoull(p, &end, 10);
	if (end == p || strcmp(end, ">") != 0 || item->partial_size == 0)
		return false;
	item->partial = true;
	return true;
}

static bool parse_body_item(struct fetch_context *ctx, const char *atom)
{
	bool peek = strncasecmp(atom, "BODY.PEEK[", 10) == 0;
	const char *p = atom + (peek ? 10 : 5);
	static const struct { const char *spec; enum fetch_section section; const char *name; }
	sections[] = {
		{ "]", SECTION_ALL, "BODY[]" },
		{ "HEADER]", SECTION_HEADER, "BODY[HEADER]" },
		{ "TEXT]", SECTION_TEXT, "BODY[TEXT]" },
	};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		size_t len = strlen(sections[i].spec);
		if (strncasecmp(p, sections[i].spec, len) != 0)
			continue;
		if (!add_section(ctx, sections[i].section, peek, sections[i].name))
			return false;
		return parse_partial(p + len, &ctx->items[ctx->item_count - 1]);
	}
	return false;
}

static bool parse_item(struct fetch_context *ctx, const char *atom)
{
	if (strcasecmp(atom, "UID") == 0) return add_item(ctx, FETCH_UID, "UID");
	if (strcasecmp(atom, "FLAGS") == 0) return add_item(ctx, FETCH_FLAGS, "FLAGS");
	if (strcasecmp(atom, "INTERNALDATE") == 0)
		return add_item(ctx, FETCH_INTERNALDATE, "INTERNALDATE");
	if (strcasecmp(atom, "RFC822.SIZE") == 0)
		return add_item(ctx, FETCH_RFC822_SIZE, "RFC822.SIZE");
	if (strcasecmp(atom, "EMAILID") == 0) return add_item(ctx, FETCH_EMAILID, "EMAILID");
	if (strcasecmp(atom, "THREADID") == 0) return add_item(ctx, FETCH_THREADID, "THREADID");
	if (strcasecmp(atom, "RFC822") == 0) return add_section(ctx, SECTION_ALL, false, "RFC822");
	if (strcasecmp(atom, "RFC822.HEADER") == 0)
		return add_section(ctx, SECTION_HEADER, true, "RFC822.HEADER");
	if (strcasecmp(atom, "RFC822.TEXT") == 0)
		return add_section(ctx, SECTION_TEXT, false, "RFC822.TEXT");
	if (strcasecmp(atom, "FAST") == 0)
		return parse_item(ctx, "FLAGS") && parse_item(ctx, "INTERNALDATE") &&
		       parse_item(ctx, "RFC822.SIZE");
	if (strncasecmp(atom, "BODY[", 5) == 0 || strncasecmp(atom, "BODY.PEEK[", 10) == 0)
		return parse_body_item(ctx, atom);
	/* ENVELOPE, BODYSTRUCTURE, BODY, ALL, FULL, part sections and BINARY need the
	 * message engine (src/lib/mime), which is not wired in yet. */
	return false;
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

/* Header: up to and including the blank line; text: after it. */
static void split_message(const unsigned char *data, size_t size, size_t *body_r)
{
	for (size_t i = 0; i + 1 < size; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n') {
			*body_r = i + 2;
			return;
		}
		if (data[i + 1] == '\r' && i + 2 < size && data[i + 2] == '\n') {
			*body_r = i + 3;
			return;
		}
	}
	*body_r = size;
}

static void send_section(struct client *client, struct buffer *line,
			 const struct fetch_item *item, struct store_content *content)
{
	size_t body, start = 0, end = content->size;
	split_message(content->data, content->size, &body);
	if (item->section == SECTION_HEADER)
		end = body;
	else if (item->section == SECTION_TEXT)
		start = body;
	if (item->partial) {
		start = item->partial_offset > end - start ? end : start + item->partial_offset;
		if (item->partial_size < end - start)
			end = start + item->partial_size;
		buffer_printf(line, "%s<%llu> ", item->name,
			      (unsigned long long)item->partial_offset);
	} else {
		buffer_printf(line, "%s ", item->name);
	}
	buffer_printf(line, "{%zu}\r\n", end - start);
	client_send(client, buffer_data(line), buffer_len(line));
	buffer_reset(line);
	client_send_content(client, content, start, end - start);
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
	case FETCH_BODY_SECTION: break;
	}
}

/* One message's response. Returns false when its content is gone (RFC 2180 4.1.2:
 * expunged by another session; the tagged OK then carries EXPUNGEISSUED). */
static bool fetch_one(struct client_command *cmd, struct fetch_context *ctx, unsigned int seq)
{
	struct client *client = cmd->client;
	struct imap_view *view = client->view;
	struct buffer line;
	bool first = true;
	bool flags_sent = false;

	buffer_init(&line, 0);
	buffer_printf(&line, "* %u FETCH (", seq);
	for (unsigned int i = 0; i < ctx->item_count; i++) {
		const struct fetch_item *item = &ctx->items[i];
		if (!first)
			buffer_append_c(&line, ' ');
		first = false;
		if (item->kind != FETCH_BODY_SECTION) {
			append_simple_item(&line, item, view, seq);
			flags_sent = flags_sent || item->kind == FETCH_FLAGS;
			continue;
		}
		struct store_content *content;
		struct store_error error;
		if (store_mailbox_get_content(view_mailbox(view), view_uid(view, seq),
					      &content, &error) < 0) {
			buffer_deinit(&line);
			return false;
		}
		send_section(client, &line, item, content);
	}
	if (!flags_sent && ctx->seen_changed != NULL &&
	    imap_seqset_contains(ctx->seen_changed, view_uid(view, seq))) {
		buffer_append_str(&line, " FLAGS ");
		view_append_flags(view, seq, &line);
	}
	buffer_append_str(&line, ")\r\n");
	client_send(client, buffer_data(&line), buffer_len(&line));
	buffer_deinit(&line);
	return true;
}

static void fetch_free(struct client_command *cmd)
{
	struct fetch_context *ctx = cmd->context;
	if (ctx == NULL)
		return;
	free(ctx->seqs);
	imap_seqset_destroy(&ctx->seen_changed);
	free(ctx);
	cmd->context = NULL;
}

static bool fetch_resume(struct client_command *cmd)
{
	struct fetch_context *ctx = cmd->context;
	while (ctx->pos < ctx->seq_count) {
		if (client_output_full(cmd->client))
			return false;
		unsigned int seq = ctx->seqs[ctx->pos++];
		if (view_is_expunged(cmd->client->view, seq) || !fetch_one(cmd, ctx, seq))
			cmd->expunge_issued = true;
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
					       STORE_FLAG_SEEN, NULL, 0, &error) == 0)
			view_sync(cmd->client, false, cmd->uid, ctx->seen_changed);
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
