/* SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 8474 EMAILID/THREADID). Keys are parsed
 * into a tree once, then evaluated per message; keys on metadata never read message
 * content, and content keys use the message engine's parse cached with the message
 * (search-content.c: decoded headers and text parts). */
#include "commands.h"
#include "client.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-date.h"
#include "imap-parser.h"
#include "imap-seqset.h"
#include "mime/mime-parser.h"
#include "mime/mime-tree.h"
#include "search-content.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEARCH_MAX_DEPTH 32

enum key_kind {
	KEY_ALL, KEY_AND, KEY_OR, KEY_NOT, KEY_SEQSET, KEY_UIDSET, KEY_FLAG_SET,
	KEY_FLAG_UNSET, KEY_KEYWORD, KEY_UNKEYWORD, KEY_RECENT, KEY_NEW, KEY_OLD,
	KEY_LARGER, KEY_SMALLER, KEY_BEFORE, KEY_ON, KEY_SINCE, KEY_SENTBEFORE, KEY_SENTON,
	KEY_SENTSINCE, KEY_HEADER, KEY_BODY, KEY_TEXT, KEY_EMAILID, KEY_THREADID,
};

struct search_key {
	enum key_kind kind;
	uint32_t flag;
	uint64_t number;
	time_t date;
	const char *header, *value;
	struct imap_seqset *set;
	struct search_key *children;   /* AND/OR/NOT */
	unsigned int child_count;
};

static void key_free(struct search_key *key)
{
	for (unsigned int i = 0; i < key->child_count; i++)
		key_free(&key->children[i]);
	free(key->children);
	imap_seqset_destroy(&key->set);
}

static struct search_key *key_add_child(struct search_key *parent)
{
	parent->children = i_reallocarray(parent->children, parent->child_count + 1,
					  sizeof(struct search_key));
	struct search_key *child = &parent->children[parent->child_count++];
	memset(child, 0, sizeof(*child));
	return child;
}

static const struct { const char *name; enum key_kind kind; uint32_t flag; } flag_keys[] = {
	{ "ANSWERED", KEY_FLAG_SET, STORE_FLAG_ANSWERED },
	{ "DELETED", KEY_FLAG_SET, STORE_FLAG_DELETED },
	{ "DRAFT", KEY_FLAG_SET, STORE_FLAG_DRAFT },
	{ "FLAGGED", KEY_FLAG_SET, STORE_FLAG_FLAGGED },
	{ "SEEN", KEY_FLAG_SET, STORE_FLAG_SEEN },
	{ "UNANSWERED", KEY_FLAG_UNSET, STORE_FLAG_ANSWERED },
	{ "UNDELETED", KEY_FLAG_UNSET, STORE_FLAG_DELETED },
	{ "UNDRAFT", KEY_FLAG_UNSET, STORE_FLAG_DRAFT },
	{ "UNFLAGGED", KEY_FLAG_UNSET, STORE_FLAG_FLAGGED },
	{ "UNSEEN", KEY_FLAG_UNSET, STORE_FLAG_SEEN },
	{ "ALL", KEY_ALL, 0 }, { "RECENT", KEY_RECENT, 0 }, { "NEW", KEY_NEW, 0 },
	{ "OLD", KEY_OLD, 0 },
};

static const struct { const char *name; const char *header; } header_keys[] = {
	{ "FROM", "From" }, { "TO", "To" }, { "CC", "Cc" }, { "BCC", "Bcc" },
	{ "SUBJECT", "Subject" },
};

static const struct imap_arg *parse_key(const struct imap_arg *args, struct search_key *key,
					unsigned int depth);

static const struct imap_arg *parse_string_arg(const struct imap_arg *args, const char **str_r)
{
	return imap_arg_get_astring(args, str_r) ? args + 1 : NULL;
}

static const struct imap_arg *parse_date_key(const struct imap_arg *args,
					     struct search_key *key, enum key_kind kind)
{
	const char *str;
	key->kind = kind;
	if (!imap_arg_get_astring(args, &str) || imap_date_parse(str, &key->date) < 0)
		return NULL;
	return args + 1;
}

static const struct imap_arg *parse_named_key(const char *name, const struct imap_arg *args,
					      struct search_key *key, unsigned int depth)
{
	const char *str;
	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (strcasecmp(name, flag_keys[i].name) == 0) {
			key->kind = flag_keys[i].kind;
			key->flag = flag_keys[i].flag;
			return args;
		}
	}
	for (size_t i = 0; i < sizeof(header_keys) / sizeof(header_keys[0]); i++) {
		if (strcasecmp(name, header_keys[i].name) == 0) {
			key->kind = KEY_HEADER;
			key->header = header_keys[i].header;
			return parse_string_arg(args, &key->value);
		}
	}
	if (strcasecmp(name, "NOT") == 0) {
		key->kind = KEY_NOT;
		return parse_key(args, key_add_child(key), depth + 1);
	}
	if (strcasecmp(name, "OR") == 0) {
		key->kind = KEY_OR;
		args = parse_key(args, key_add_child(key), depth + 1);
		return args == NULL ? NULL : parse_key(args, key_add_child(key), depth + 1);
	}
	if (strcasecmp(name, "KEYWORD") == 0 || strcasecmp(name, "UNKEYWORD") == 0) {
		key->kind = name[0] == 'K' || name[0] == 'k' ? KEY_KEYWORD : KEY_UNKEYWORD;
		return imap_arg_get_atom(args, &key->value) ? args + 1 : NULL;
	}
	if (strcasecmp(name, "LARGER") == 0 || strcasecmp(name, "SMALLER") == 0) {
		char *end;
		key->kind = name[0] == 'L' || name[0] == 'l' ? KEY_LARGER : KEY_SMALLER;
		if (!imap_arg_get_atom(args, &str))
			return NULL;
		key->number = strtoull(str, &end, 10);
		return *end == '\0' && end != str ? args + 1 : NULL;
	}
	if (strcasecmp(name, "BEFORE") == 0) return parse_date_key(args, key, KEY_BEFORE);
	if (strcasecmp(name, "ON") == 0) return parse_date_key(args, key, KEY_ON);
	if (strcasecmp(name, "SINCE") == 0) return parse_date_key(args, key, KEY_SINCE);
	if (strcasecmp(name, "SENTBEFORE") == 0) return parse_date_key(args, key, KEY_SENTBEFORE);
	if (strcasecmp(name, "SENTON") == 0) return parse_date_key(args, key, KEY_SENTON);
	if (strcasecmp(name, "SENTSINCE") == 0) return parse_date_key(args, key, KEY_SENTSINCE);
	if (strcasecmp(name, "EMAILID") == 0 || strcasecmp(name, "THREADID") == 0) {
		key->kind = name[0] == 'E' || name[0] == 'e' ? KEY_EMAILID : KEY_THREADID;
		return imap_arg_get_atom(args, &key->value) ? args + 1 : NULL;
	}
	if (strcasecmp(name, "HEADER") == 0) {
		key->kind = KEY_HEADER;
		args = parse_string_arg(args, &key->header);
		return args == NULL ? NULL : parse_string_arg(args, &key->value);
	}
	if (strcasecmp(name, "BODY") == 0 || strcasecmp(name, "TEXT") == 0) {
		key->kind = name[0] == 'B' || name[0] == 'b' ? KEY_BODY : KEY_TEXT;
		return parse_string_arg(args, &key->value);
	}
	if (strcasecmp(name, "UID") == 0) {
		const char *error;
		key->kind = KEY_UIDSET;
		if (!imap_arg_get_atom(args, &str) || imap_seqset_parse(str, &key->set, &error) < 0)
			return NULL;
		return args + 1;
	}
	return NULL;
}

static const struct imap_arg *parse_key(const struct imap_arg *args, struct search_key *key,
					unsigned int depth)
{
	const struct imap_arg *list;
	const char *atom, *error;
	if (depth > SEARCH_MAX_DEPTH || imap_arg_is_eol(args))
		return NULL;
	if (imap_arg_get_list(args, &list, NULL)) {
		key->kind = KEY_AND;
		while (!imap_arg_is_eol(list)) {
			list = parse_key(list, key_add_child(key), depth + 1);
			if (list == NULL)
				return NULL;
		}
		return key->child_count == 0 ? NULL : args + 1;
	}
	if (!imap_arg_get_atom(args, &atom))
		return NULL;
	if ((atom[0] >= '0' && atom[0] <= '9') || atom[0] == '*') {
		key->kind = KEY_SEQSET;
		return imap_seqset_parse(atom, &key->set, &error) < 0 ? NULL : args + 1;
	}
	return parse_named_key(atom, args + 1, key, depth);
}

/* ---- evaluation ---- */

struct search_message {
	struct imap_view *view;
	unsigned int seq;
	struct store_content *content;  /* loaded on demand */
	bool content_failed;
};

static void free_tree(void *tree)
{
	struct mime_tree *t = tree;
	mime_tree_destroy(&t);
}

/* The message content with its parse (cached by the store), or NULL when the message
 * is gone. */
static const struct store_content *search_content(struct search_message *m)
{
	struct store_error error;
	if (m->content == NULL && !m->content_failed &&
	    (store_mailbox_get_content(view_mailbox(m->view), view_uid(m->view, m->seq),
				       &m->content, &error) < 0 ||
	     store_content_load(m->content, &error) < 0)) {
		store_content_release(&m->content);
		m->content_failed = true;
	}
	if (m->content != NULL && m->content->parsed == NULL)
		store_content_set_parsed(m->content, mime_parse(m->content->data, m->content->size),
					 free_tree);
	return m->content;
}

static bool sent_day_compare(struct search_message *m, const struct search_key *key)
{
	const struct store_content *c = search_content(m);
	time_t day;
	if (c == NULL || search_sent_day(c, c->parsed, &day) < 0)
		return false;
	return key->kind == KEY_SENTBEFORE ? day < key->date :
	       key->kind == KEY_SENTON ? day == key->date : day >= key->date;
}

static bool keyword_set(const struct imap_view *view, const struct store_message_meta *meta,
			const char *name)
{
	for (unsigned int k = 0; k < view_keyword_count(view); k++) {
		if (strcasecmp(view_keyword(view, k), name) == 0)
			return (meta->flags.keywords & ((uint64_t)1 << k)) != 0;
	}
	return false;
}

static bool key_match(const struct search_key *key, struct search_message *m)
{
	const struct store_message_meta *meta = view_meta(m->view, m->seq);
	const struct store_content *c;
	time_t day = (time_t)(meta->internal_date + meta->internal_tz_min * 60);
	day -= day % 86400;
	switch (key->kind) {
	case KEY_ALL: return true;
	case KEY_AND:
		for (unsigned int i = 0; i < key->child_count; i++) {
			if (!key_match(&key->children[i], m))
				return false;
		}
		return true;
	case KEY_OR: return key_match(&key->children[0], m) || key_match(&key->children[1], m);
	case KEY_NOT: return !key_match(&key->children[0], m);
	case KEY_SEQSET: return imap_seqset_contains(key->set, m->seq);
	case KEY_UIDSET: return imap_seqset_contains(key->set, meta->uid);
	case KEY_FLAG_SET: return (meta->flags.system & key->flag) != 0;
	case KEY_FLAG_UNSET: return (meta->flags.system & key->flag) == 0;
	case KEY_KEYWORD: return keyword_set(m->view, meta, key->value);
	case KEY_UNKEYWORD: return !keyword_set(m->view, meta, key->value);
	case KEY_RECENT: return view_is_recent(m->view, m->seq);
	case KEY_NEW:
		return view_is_recent(m->view, m->seq) && (meta->flags.system & STORE_FLAG_SEEN) == 0;
	case KEY_OLD: return !view_is_recent(m->view, m->seq);
	case KEY_LARGER: return meta->size > key->number;
	case KEY_SMALLER: return meta->size < key->number;
	case KEY_BEFORE: return day < key->date;
	case KEY_ON: return day == key->date;
	case KEY_SINCE: return day >= key->date;
	case KEY_SENTBEFORE: case KEY_SENTON: case KEY_SENTSINCE:
		return sent_day_compare(m, key);
	case KEY_HEADER:
		c = search_content(m);
		return c != NULL && search_header_matches(c, c->parsed, key->header, key->value);
	case KEY_BODY: case KEY_TEXT:
		c = search_content(m);
		return c != NULL && search_body_matches(c, c->parsed, key->value,
							key->kind == KEY_TEXT);
	case KEY_EMAILID: return strcmp(meta->emailid, key->value) == 0;
	case KEY_THREADID: return strcmp(meta->threadid, key->value) == 0;
	}
	return false;
}

/* Resolve "*" in every set of the tree against the current view. */
static void key_resolve(struct search_key *key, const struct imap_view *view)
{
	unsigned int count = view_count(view);
	if (key->set != NULL)
		imap_seqset_resolve_star(key->set, key->kind == KEY_UIDSET ?
			(count == 0 ? 1 : view_uid(view, count)) : (count == 0 ? 1 : count));
	for (unsigned int i = 0; i < key->child_count; i++)
		key_resolve(&key->children[i], view);
}

static bool parse_charset(struct client_command *cmd, const struct imap_arg **args)
{
	const char *charset;
	if (!imap_arg_atom_equals(*args, "CHARSET"))
		return true;
	if (!imap_arg_get_astring(*args + 1, &charset))
		return false;
	if (strcasecmp(charset, "US-ASCII") != 0 && strcasecmp(charset, "UTF-8") != 0) {
		command_no(cmd, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset.");
		return false;
	}
	*args += 2;
	return true;
}

/* Messages looked at per step: a search over 100,000 messages yields to the other
 * sessions of the worker between steps (content keys read messages, so fewer). */
#define SEARCH_STEP_META 4096
#define SEARCH_STEP_CONTENT 128

struct search_context {
	struct search_key root;
	struct buffer line;             /* "* SEARCH n n n ..." so far */
	unsigned int seq;               /* next message to look at */
	bool content;                   /* some key reads message content */
};

static bool key_needs_content(const struct search_key *key)
{
	switch (key->kind) {
	case KEY_SENTBEFORE: case KEY_SENTON: case KEY_SENTSINCE:
	case KEY_HEADER: case KEY_BODY: case KEY_TEXT:
		return true;
	default:
		break;
	}
	for (unsigned int i = 0; i < key->child_count; i++) {
		if (key_needs_content(&key->children[i]))
			return true;
	}
	return false;
}

static void search_free(struct client_command *cmd)
{
	struct search_context *ctx = cmd->context;
	if (ctx == NULL)
		return;
	key_free(&ctx->root);
	buffer_deinit(&ctx->line);
	free(ctx);
	cmd->context = NULL;
}

/* Tell the store which messages this step reads (one round trip for a batch on
 * redis); a failure only loses the read-ahead. */
static void search_prefetch(struct imap_view *view, unsigned int first, unsigned int last)
{
	uint32_t uids[SEARCH_STEP_CONTENT];
	unsigned int count = 0;
	struct store_error error;
	for (unsigned int seq = first; seq <= last && count < SEARCH_STEP_CONTENT; seq++)
		uids[count++] = view_uid(view, seq);
	if (count > 1)
		(void)store_mailbox_prefetch(view_mailbox(view), uids, count,
					     STORE_PREFETCH_FULL, &error);
}

static bool search_resume(struct client_command *cmd)
{
	struct search_context *ctx = cmd->context;
	struct client *client = cmd->client;
	unsigned int count = view_count(client->view);
	unsigned int step = ctx->content ? SEARCH_STEP_CONTENT : SEARCH_STEP_META;
	unsigned int last = count - ctx->seq + 1 > step ? ctx->seq + step - 1 : count;

	if (ctx->content && ctx->seq <= last)
		search_prefetch(client->view, ctx->seq, last);
	for (; ctx->seq <= last; ctx->seq++) {
		struct search_message m = { .view = client->view, .seq = ctx->seq };
		if (key_match(&ctx->root, &m))
			buffer_printf(&ctx->line, " %u",
				      cmd->uid ? view_uid(client->view, ctx->seq) : ctx->seq);
		store_content_release(&m.content);
	}
	if (ctx->seq <= count) {
		client_wake(client);    /* the next step after the other sessions' turn */
		return false;
	}
	buffer_append_str(&ctx->line, "\r\n");
	client_send(client, buffer_data(&ctx->line), buffer_len(&ctx->line));
	search_free(cmd);
	command_ok(cmd, "%s completed.", cmd->name);
	return true;
}

static bool cmd_search(struct client_command *cmd)
{
	struct client *client = cmd->client;
	const struct imap_arg *args = cmd->args;
	struct search_context *ctx = i_new0(struct search_context);

	cmd->context = ctx;
	cmd->cancel = search_free;
	ctx->root.kind = KEY_AND;
	if (!parse_charset(cmd, &args)) {
		if (cmd->reply == NULL)
			command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		search_free(cmd);
		return true;
	}
	while (args != NULL && !imap_arg_is_eol(args))
		args = parse_key(args, key_add_child(&ctx->root), 0);
	if (args == NULL || ctx->root.child_count == 0) {
		search_free(cmd);
		command_bad(cmd, "%s: Invalid search criteria.", cmd->name);
		return true;
	}
	key_resolve(&ctx->root, client->view);
	ctx->content = key_needs_content(&ctx->root);
	ctx->seq = 1;
	buffer_init(&ctx->line, 0);
	buffer_append_str(&ctx->line, "* SEARCH");
	cmd->resume = search_resume;
	return search_resume(cmd);
}

const struct command_def cmd_search_defs[] = {
	{ "SEARCH", cmd_search, CMD_AUTH | CMD_SELECTED | CMD_UID | CMD_DEFER_EXPUNGE },
	{ NULL, NULL, 0 },
};
