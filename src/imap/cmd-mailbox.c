/* Authenticated state: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * LIST, LSUB, STATUS, APPEND (RFC 3501 6.3, RFC 3502 MULTIAPPEND, RFC 4315 APPENDUID). */
#include "commands.h"
#include "admin-report.h"
#include "client.h"
#include "flags.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-date.h"
#include "imap-parser.h"
#include "imap-quote.h"
#include "imap-seqset.h"
#include "imap-utf7.h"
#include "log.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APPEND_MAX_MESSAGES 1000

/* The command's args must end after n arguments; else a BAD reply is set. */
static bool args_end(struct client_command *cmd, unsigned int n)
{
	unsigned int i = 0;
	while (i < n && !imap_arg_is_eol(&cmd->args[i]))
		i++;
	if (i == n && imap_arg_is_eol(&cmd->args[n]))
		return true;
	command_bad(cmd, "%s: Invalid arguments.", cmd->name);
	return false;
}

/* ---- SELECT / EXAMINE ---- */

static uint32_t first_unseen_seq(const struct imap_view *view)
{
	for (unsigned int seq = 1; seq <= view_count(view); seq++) {
		if ((view_meta(view, seq)->flags.system & STORE_FLAG_SEEN) == 0)
			return seq;
	}
	return 0;
}

static void select_send_info(struct client *client, struct imap_view *view)
{
	const struct store_mailbox_status *status = view_status(view);
	struct buffer flags;
	uint32_t unseen = first_unseen_seq(view);

	buffer_init(&flags, 0);
	view_append_mailbox_flags(view, &flags);
	client_sendf(client, "* FLAGS %s\r\n", buffer_str(&flags));
	buffer_reset(&flags);
	view_append_permanent_flags(view, &flags);
	client_sendf(client, "* OK [PERMANENTFLAGS %s] %s\r\n", buffer_str(&flags),
		     view_is_readonly(view) ? "Read-only mailbox." : "Flags permitted.");
	buffer_deinit(&flags);
	client_sendf(client, "* %u EXISTS\r\n", view_count(view));
	client_sendf(client, "* %u RECENT\r\n", view_recent_count(view));
	if (unseen != 0)
		client_sendf(client, "* OK [UNSEEN %u] First unseen message.\r\n", unseen);
	client_sendf(client, "* OK [UIDNEXT %u] Predicted next UID.\r\n", status->uidnext);
	client_sendf(client, "* OK [UIDVALIDITY %u] UIDs valid.\r\n", status->uidvalidity);
	client_sendf(client, "* OK [MAILBOXID (%s)] Object ID.\r\n", status->mailboxid);
}

static bool select_or_examine(struct client_command *cmd, bool readonly)
{
	struct client *client = cmd->client;
	struct store_error error;
	struct imap_view *view;
	char *name = command_get_mailbox(cmd, &cmd->args[0]);

	if (name == NULL)
		return true;
	/* RFC 4466 select-params are accepted only as an empty list here. */
	if (!imap_arg_is_eol(&cmd->args[1])) {
		free(name);
		command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		return true;
	}
	/* The previous selection ends first, even when this one fails (RFC 3501 6.3.1). */
	view_close(&client->view);
	client->state = CLIENT_STATE_AUTHENTICATED;
	admin_report_session_changed(client);   /* now, or after the view opened */
	if (view_open(client, name, readonly, &view, &error) < 0) {
		free(name);
		command_store_error(cmd, &error);
		return true;
	}
	free(name);
	client->view = view;
	client->state = CLIENT_STATE_SELECTED;
	select_send_info(client, view);
	command_ok(cmd, "[%s] Selected mailbox.", view_is_readonly(view) ? "READ-ONLY" : "READ-WRITE");
	return true;
}

static bool cmd_select(struct client_command *cmd) { return select_or_examine(cmd, false); }
static bool cmd_examine(struct client_command *cmd) { return select_or_examine(cmd, true); }

/* ---- CREATE / DELETE / RENAME / SUBSCRIBE ---- */

static bool cmd_create(struct client_command *cmd)
{
	struct store_error error;
	char mailboxid[STORE_ID_MAX_BYTES];
	char *name = command_get_mailbox(cmd, &cmd->args[0]);
	if (name == NULL || !args_end(cmd, 1)) {
		free(name);
		return true;
	}
	size_t len = strlen(name);
	/* A trailing delimiter only says the client intends to create children. */
	if (len > 1 && name[len - 1] == STORE_HIERARCHY_DELIMITER)
		name[len - 1] = '\0';
	if (strcmp(name, "INBOX") == 0)
		command_no(cmd, "[ALREADYEXISTS] Cannot create INBOX.");
	else if (store_create_mailbox(cmd->client->user, name, mailboxid, &error) < 0)
		command_store_error(cmd, &error);
	else
		command_ok(cmd, "[MAILBOXID (%s)] CREATE completed.", mailboxid);
	free(name);
	return true;
}

static bool cmd_delete(struct client_command *cmd)
{
	struct store_error error;
	char *name = command_get_mailbox(cmd, &cmd->args[0]);
	if (name == NULL || !args_end(cmd, 1)) {
		free(name);
		return true;
	}
	if (strcmp(name, "INBOX") == 0)
		command_no(cmd, "[CANNOT] Cannot delete INBOX.");
	else if (store_delete_mailbox(cmd->client->user, name, &error) < 0)
		command_store_error(cmd, &error);
	else
		command_ok(cmd, "DELETE completed.");
	free(name);
	return true;
}

static bool cmd_rename(struct client_command *cmd)
{
	struct store_error error;
	char *from = command_get_mailbox(cmd, &cmd->args[0]);
	char *to = from == NULL ? NULL : command_get_mailbox(cmd, &cmd->args[1]);
	if (to != NULL && args_end(cmd, 2)) {
		if (strcmp(to, "INBOX") == 0)
			command_no(cmd, "[ALREADYEXISTS] Cannot rename to INBOX.");
		else if (store_rename_mailbox(cmd->client->user, from, to, &error) < 0)
			command_store_error(cmd, &error);
		else
			command_ok(cmd, "RENAME completed.");
	}
	free(from);
	free(to);
	return true;
}

static bool subscribe(struct client_command *cmd, bool on)
{
	struct store_error error;
	char *name = command_get_mailbox(cmd, &cmd->args[0]);
	if (name == NULL || !args_end(cmd, 1)) {
		free(name);
		return true;
	}
	if (store_subscribe(cmd->client->user, name, on, &error) < 0)
		command_store_error(cmd, &error);
	else
		command_ok(cmd, "%s completed.", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	free(name);
	return true;
}

static bool cmd_subscribe(struct client_command *cmd) { return subscribe(cmd, true); }
static bool cmd_unsubscribe(struct client_command *cmd) { return subscribe(cmd, false); }

/* ---- LIST / LSUB ---- */

/* RFC 3501 6.3.8: '*' matches anything, '%' anything but the delimiter. */
static bool pattern_match(const char *pattern, const char *name)
{
	for (; *pattern != '\0'; pattern++, name++) {
		if (*pattern == '*' || *pattern == '%') {
			/* Collapse runs of wildcards; try every split. Bounded by the name
			 * length times the number of wildcards (patterns are short). */
			bool star = *pattern == '*';
			for (;;) {
				if (pattern_match(pattern + 1, name))
					return true;
				if (*name == '\0' || (!star && *name == STORE_HIERARCHY_DELIMITER))
					return false;
				name++;
			}
		}
		if (*pattern != *name)
			return false;
	}
	return *name == '\0';
}

static bool list_match(const char *pattern, const char *name)
{
	/* INBOX matches case-insensitively. */
	if (strncasecmp(pattern, "INBOX", 5) == 0 &&
	    (pattern[5] == '\0' || pattern[5] == STORE_HIERARCHY_DELIMITER) &&
	    strncmp(name, "INBOX", 5) == 0) {
		return pattern_match(pattern + 5, name + 5);
	}
	return pattern_match(pattern, name);
}

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct store_list_entry *)a)->name,
		      ((const struct store_list_entry *)b)->name);
}

/* Does any name in the sorted array start with "name/"? */
static bool has_children(const struct store_list_entry *sorted, unsigned int count,
			 const char *name)
{
	size_t len = strlen(name);
	unsigned int lo = 0, hi = count;
	char *prefix = i_strdup_printf("%s%c", name, STORE_HIERARCHY_DELIMITER);
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if (strcmp(sorted[mid].name, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	bool found = lo < count && strncmp(sorted[lo].name, prefix, len + 1) == 0;
	free(prefix);
	return found;
}

static void list_send(struct client *client, const char *cmd_name, const char *name,
		      bool noselect, bool children)
{
	struct buffer line;
	buffer_init(&line, 0);
	buffer_printf(&line, "* %s (%s%s) \"/\" ", cmd_name, noselect ? "\\Noselect " : "",
		      children ? "\\HasChildren" : "\\HasNoChildren");
	imap_append_mailbox(&line, name);
	buffer_append_str(&line, "\r\n");
	client_send(client, buffer_data(&line), buffer_len(&line));
	buffer_deinit(&line);
}

static char *list_pattern(struct client_command *cmd)
{
	const char *ref, *mailbox;
	struct buffer utf8;
	if (!imap_arg_get_astring(&cmd->args[0], &ref) ||
	    !imap_arg_get_astring(&cmd->args[1], &mailbox) || !imap_arg_is_eol(&cmd->args[2])) {
		command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		return NULL;
	}
	char *full = i_strdup_printf("%s%s", mailbox[0] == STORE_HIERARCHY_DELIMITER ? "" : ref,
				     mailbox);
	buffer_init(&utf8, 0);
	if (imap_utf7_to_utf8(full, &utf8) < 0) {
		free(full);
		buffer_deinit(&utf8);
		command_bad(cmd, "%s: Invalid mailbox name (modified UTF-7).", cmd->name);
		return NULL;
	}
	free(full);
	char *pattern = buffer_steal_str(&utf8);
	buffer_deinit(&utf8);
	return pattern;
}

static bool list_or_lsub(struct client_command *cmd, bool lsub)
{
	struct client *client = cmd->client;
	struct store_list_entry *all, *subs = NULL;
	unsigned int count, sub_count = 0;
	struct store_error error;
	char *pattern = list_pattern(cmd);

	if (pattern == NULL)
		return true;
	if (pattern[0] == '\0' && !lsub) {
		/* RFC 3501 6.3.8: the hierarchy delimiter and root. */
		client_send_str(client, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		command_ok(cmd, "LIST completed.");
		free(pattern);
		return true;
	}
	if (store_list(client->user, &all, &count, &error) < 0 ||
	    (lsub && store_subscriptions(client->user, &subs, &sub_count, &error) < 0)) {
		command_store_error(cmd, &error);
		free(pattern);
		return true;
	}
	struct store_list_entry *sorted = i_new(struct store_list_entry, count + 1);
	if (count > 0) {
		memcpy(sorted, all, count * sizeof(*all));
		qsort(sorted, count, sizeof(*sorted), compare_entries);
	}
	struct store_list_entry *names = lsub ? subs : all;
	unsigned int names_count = lsub ? sub_count : count;
	for (unsigned int i = 0; i < names_count; i++) {
		if (!list_match(pattern, names[i].name))
			continue;
		bool noselect = names[i].noselect;
		if (lsub) {
			struct store_list_entry key = { .name = names[i].name };
			struct store_list_entry *found = bsearch(&key, sorted, count,
								 sizeof(*sorted), compare_entries);
			noselect = found == NULL || found->noselect;
		}
		list_send(client, lsub ? "LSUB" : "LIST", names[i].name, noselect,
			  has_children(sorted, count, names[i].name));
	}
	free(sorted);
	store_list_free(&all, count);
	store_list_free(&subs, sub_count);
	free(pattern);
	command_ok(cmd, "%s completed.", lsub ? "LSUB" : "LIST");
	return true;
}

static bool cmd_list(struct client_command *cmd) { return list_or_lsub(cmd, false); }
static bool cmd_lsub(struct client_command *cmd) { return list_or_lsub(cmd, true); }

/* ---- STATUS ---- */

static bool status_append_item(struct buffer *out, const char *item,
			       const struct store_mailbox_status *status, unsigned int recent)
{
	if (strcasecmp(item, "MESSAGES") == 0)
		buffer_printf(out, "MESSAGES %u", status->messages);
	else if (strcasecmp(item, "RECENT") == 0)
		buffer_printf(out, "RECENT %u", recent);
	else if (strcasecmp(item, "UIDNEXT") == 0)
		buffer_printf(out, "UIDNEXT %u", status->uidnext);
	else if (strcasecmp(item, "UIDVALIDITY") == 0)
		buffer_printf(out, "UIDVALIDITY %u", status->uidvalidity);
	else if (strcasecmp(item, "UNSEEN") == 0)
		buffer_printf(out, "UNSEEN %u", status->unseen);
	else if (strcasecmp(item, "MAILBOXID") == 0)
		buffer_printf(out, "MAILBOXID (%s)", status->mailboxid);
	else
		return false;
	return true;
}

static bool cmd_status(struct client_command *cmd)
{
	struct client *client = cmd->client;
	struct store_mailbox_status status;
	struct store_error error;
	const struct imap_arg *items;
	unsigned int count;
	char *name = command_get_mailbox(cmd, &cmd->args[0]);

	if (name == NULL)
		return true;
	if (!imap_arg_get_list(&cmd->args[1], &items, &count) || count == 0 ||
	    !imap_arg_is_eol(&cmd->args[2])) {
		free(name);
		command_bad(cmd, "STATUS: Invalid arguments.");
		return true;
	}
	if (store_status(client->user, name, &status, &error) < 0) {
		free(name);
		command_store_error(cmd, &error);
		return true;
	}
	unsigned int recent = status.recent;
	if (client->view != NULL && strcmp(store_mailbox_name(view_mailbox(client->view)), name) == 0)
		recent = view_recent_count(client->view);
	struct buffer line;
	buffer_init(&line, 0);
	buffer_append_str(&line, "* STATUS ");
	imap_append_mailbox(&line, name);
	buffer_append_str(&line, " (");
	for (unsigned int i = 0; i < count; i++) {
		const char *item;
		if (i > 0)
			buffer_append_c(&line, ' ');
		if (!imap_arg_get_atom(&items[i], &item) ||
		    !status_append_item(&line, item, &status, recent)) {
			buffer_deinit(&line);
			free(name);
			command_bad(cmd, "STATUS: Invalid status item.");
			return true;
		}
	}
	buffer_append_str(&line, ")\r\n");
	client_send(client, buffer_data(&line), buffer_len(&line));
	buffer_deinit(&line);
	free(name);
	command_ok(cmd, "STATUS completed.");
	return true;
}

/* ---- APPEND ---- */

struct append_batch {
	struct store_append_msg msgs[APPEND_MAX_MESSAGES];
	struct flag_list flags[APPEND_MAX_MESSAGES];
	unsigned int count;
};

/* One "[flags] [date-time] literal" group; returns the args after it, or NULL. */
static const struct imap_arg *append_parse_one(const struct imap_arg *args,
					       struct store_append_msg *msg,
					       struct flag_list *flags)
{
	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
	if (args->type == IMAP_ARG_LIST) {
		if (flag_list_parse(args, false, flags) < 0 || flags->recent)
			return NULL;
		args++;
	}
	msg->internal_date = time(NULL);
	const char *date;
	if (args->type == IMAP_ARG_STRING && imap_arg_get_string(args, &date)) {
		time_t t;
		int tz;
		if (imap_date_time_parse(date, &t, &tz) < 0)
			return NULL;
		msg->internal_date = t;
		msg->internal_tz_min = (int16_t)tz;
		args++;
	}
	if (args->type != IMAP_ARG_LITERAL)
		return NULL;
	msg->size = args->len;
	if (args->literal_fd >= 0)
		msg->fd = args->literal_fd;
	else
		msg->data = (const unsigned char *)args->str;
	msg->flags.system = flags->system;
	msg->keyword_names = flags->keywords;
	msg->keyword_count = flags->keyword_count;
	return args + 1;
}

static bool cmd_append(struct client_command *cmd)
{
	struct append_batch *batch = i_new0(struct append_batch);
	struct store_error error;
	const struct imap_arg *args = cmd->args + 1;
	char *name = command_get_mailbox(cmd, &cmd->args[0]);

	while (name != NULL && !imap_arg_is_eol(args)) {
		if (batch->count == APPEND_MAX_MESSAGES) {
			command_no(cmd, "[LIMIT] Too many messages in one APPEND.");
			break;
		}
		args = append_parse_one(args, &batch->msgs[batch->count], &batch->flags[batch->count]);
		batch->count++;
		if (args == NULL) {
			command_bad(cmd, "APPEND: Invalid arguments.");
			break;
		}
	}
	if (name != NULL && cmd->reply == NULL) {
		uint32_t uidvalidity, *uids = i_new(uint32_t, batch->count + 1);
		if (batch->count == 0) {
			command_bad(cmd, "APPEND: Invalid arguments.");
		} else if (store_append(cmd->client->user, name, batch->msgs, batch->count,
					&uidvalidity, uids, &error) < 0) {
			if (error.code == STORE_ERR_NONEXISTENT)
				command_no(cmd, "[TRYCREATE] Mailbox does not exist.");
			else
				command_store_error(cmd, &error);
		} else {
			struct buffer set;
			buffer_init(&set, 0);
			imap_seqset_append_uids(&set, uids, batch->count);
			command_ok(cmd, "[APPENDUID %u %s] APPEND completed.", uidvalidity,
				   buffer_str(&set));
			buffer_deinit(&set);
		}
		free(uids);
	}
	for (unsigned int i = 0; i < batch->count; i++)
		flag_list_free(&batch->flags[i]);
	free(batch);
	free(name);
	return true;
}

const struct command_def cmd_mailbox_defs[] = {
	{ "SELECT", cmd_select, CMD_AUTH },
	{ "EXAMINE", cmd_examine, CMD_AUTH },
	{ "CREATE", cmd_create, CMD_AUTH },
	{ "DELETE", cmd_delete, CMD_AUTH },
	{ "RENAME", cmd_rename, CMD_AUTH },
	{ "SUBSCRIBE", cmd_subscribe, CMD_AUTH },
	{ "UNSUBSCRIBE", cmd_unsubscribe, CMD_AUTH },
	{ "LIST", cmd_list, CMD_AUTH },
	{ "LSUB", cmd_lsub, CMD_AUTH },
	{ "STATUS", cmd_status, CMD_AUTH },
	{ "APPEND", cmd_append, CMD_AUTH },
	{ NULL, NULL, 0 },
};
