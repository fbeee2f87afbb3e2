/* Selected state: CHECK, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, STORE, COPY, MOVE,
 * IDLE (RFC 3501 6.4, RFC 4315, RFC 6851, RFC 2177, RFC 3691). */
#include "commands.h"
#include "admin-report.h"
#include "client.h"
#include "flags.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-parser.h"
#include "imap-seqset.h"
#include "ioloop.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* Parse the set argument and resolve it to sequence numbers; false = reply set. */
static bool get_seqs(struct client_command *cmd, const struct imap_arg *arg,
		     unsigned int **seqs_r, unsigned int *count_r)
{
	const char *str;
	const char *error;
	struct imap_seqset *set;
	if (!imap_arg_get_atom(arg, &str) || imap_seqset_parse(str, &set, &error) < 0) {
		command_bad(cmd, "%s: Invalid sequence set.", cmd->name);
		return false;
	}
	view_resolve_set(cmd->client->view, set, cmd->uid, seqs_r, count_r);
	imap_seqset_destroy(&set);
	return true;
}

static uint32_t *seqs_to_uids(const struct imap_view *view, const unsigned int *seqs,
			      unsigned int count)
{
	uint32_t *uids = i_new(uint32_t, count + 1);
	for (unsigned int i = 0; i < count; i++)
		uids[i] = view_uid(view, seqs[i]);
	return uids;
}

static bool cmd_check(struct client_command *cmd)
{
	view_request_poll(cmd->client->view);
	command_ok(cmd, "CHECK completed.");
	return true;
}

static bool close_mailbox(struct client_command *cmd, bool expunge)
{
	struct client *client = cmd->client;
	struct store_error error;
	if (!imap_arg_is_eol(&cmd->args[0])) {
		command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		return true;
	}
	/* CLOSE expunges silently, and never on a read-only selection (RFC 3501 6.4.2). */
	if (expunge && !view_is_readonly(client->view) &&
	    store_mailbox_expunge(view_mailbox(client->view), NULL, 0, &error) < 0) {
		command_store_error(cmd, &error);
		return true;
	}
	view_close(&client->view);
	client->state = CLIENT_STATE_AUTHENTICATED;
	admin_report_session_changed(client);
	command_ok(cmd, "%s completed.", cmd->name);
	return true;
}

static bool cmd_close(struct client_command *cmd) { return close_mailbox(cmd, true); }
static bool cmd_unselect(struct client_command *cmd) { return close_mailbox(cmd, false); }

static bool cmd_expunge(struct client_command *cmd)
{
	struct client *client = cmd->client;
	struct store_error error;
	unsigned int *seqs = NULL, count = 0;
	uint32_t *uids = NULL;

	if (cmd->uid) {
		if (!get_seqs(cmd, &cmd->args[0], &seqs, &count))
			return true;
		uids = seqs_to_uids(client->view, seqs, count);
	} else if (!imap_arg_is_eol(&cmd->args[0])) {
		command_bad(cmd, "EXPUNGE: Invalid arguments.");
		return true;
	}
	if (view_is_readonly(client->view))
		command_no(cmd, "[READ-ONLY] Mailbox is read-only.");
	else if (store_mailbox_expunge(view_mailbox(client->view), uids, count, &error) < 0)
		command_store_error(cmd, &error);
	else
		command_ok(cmd, "%s completed.", cmd->name);
	free(seqs);
	free(uids);
	return true;
}

/* ---- STORE ---- */

struct store_request {
	enum store_flags_mode mode;
	bool silent;
	struct flag_list flags;
};

static bool store_parse(struct client_command *cmd, const struct imap_arg *args,
			struct store_request *req)
{
	const char *item;
	memset(req, 0, sizeof(*req));
	if (!imap_arg_get_atom(&args[0], &item))
		return false;
	req->mode = item[0] == '+' ? STORE_FLAGS_ADD :
		    item[0] == '-' ? STORE_FLAGS_REMOVE : STORE_FLAGS_REPLACE;
	if (item[0] == '+' || item[0] == '-')
		item++;
	if (strcasecmp(item, "FLAGS.SILENT") == 0)
		req->silent = true;
	else if (strcasecmp(item, "FLAGS") != 0)
		return false;
	if (flag_list_parse(&args[1], true, &req->flags) < 0 || !imap_arg_is_eol(&args[2]))
		return false;
	(void)cmd;
	return true;
}

static void store_send_fetch(struct client_command *cmd, const unsigned int *seqs,
			     unsigned int count)
{
	struct imap_view *view = cmd->client->view;
	struct buffer line;
	buffer_init(&line, 0);
	for (unsigned int i = 0; i < count; i++) {
		buffer_reset(&line);
		buffer_printf(&line, "* %u FETCH (FLAGS ", seqs[i]);
		view_append_flags(view, seqs[i], &line);
		if (cmd->uid)
			buffer_printf(&line, " UID %u", view_uid(view, seqs[i]));
		buffer_append_str(&line, ")\r\n");
		client_send(cmd->client, buffer_data(&line), buffer_len(&line));
	}
	buffer_deinit(&line);
}

static bool cmd_store(struct client_command *cmd)
{
	struct client *client = cmd->client;
	struct store_request req;
	struct store_error error;
	unsigned int *seqs, count;

	if (!get_seqs(cmd, &cmd->args[0], &seqs, &count))
		return true;
	if (!store_parse(cmd, &cmd->args[1], &req)) {
		free(seqs);
		command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		return true;
	}
	if (view_is_readonly(client->view)) {
		command_no(cmd, "[READ-ONLY] Mailbox is read-only.");
	} else {
		uint32_t *uids = seqs_to_uids(client->view, seqs, count);
		struct imap_seqset *quiet = imap_seqset_create();
		for (unsigned int i = 0; i < count; i++)
			imap_seqset_add(quiet, uids[i]);
		if (store_mailbox_update_flags(view_mailbox(client->view), uids, count, req.mode,
					       req.flags.system,
					       (const char *const *)req.flags.keywords,
					       req.flags.keyword_count, &error) < 0) {
			command_store_error(cmd, &error);
		} else {
			/* Take in our own change quietly, then report the new flags. */
			view_request_poll(client->view);
			view_sync(client, cmd->uid, cmd->uid, quiet);
			if (!req.silent)
				store_send_fetch(cmd, seqs, count);
			command_ok(cmd, "%s completed.", cmd->name);
		}
		imap_seqset_destroy(&quiet);
		free(uids);
	}
	flag_list_free(&req.flags);
	free(seqs);
	return true;
}

/* ---- COPY / MOVE ---- */

static bool copy_or_move(struct client_command *cmd, bool move)
{
	struct client *client = cmd->client;
	struct store_error error;
	unsigned int *seqs, count, copied;
	uint32_t uidvalidity;

	if (!get_seqs(cmd, &cmd->args[0], &seqs, &count))
		return true;
	char *dest = command_get_mailbox(cmd, &cmd->args[1]);
	if (dest == NULL || !imap_arg_is_eol(&cmd->args[2])) {
		if (dest != NULL)
			command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		free(seqs);
		free(dest);
		return true;
	}
	uint32_t *uids = seqs_to_uids(client->view, seqs, count);
	uint32_t *src_uids = i_new(uint32_t, count + 1), *dest_uids = i_new(uint32_t, count + 1);
	if (move && view_is_readonly(client->view)) {
		command_no(cmd, "[READ-ONLY] Mailbox is read-only.");
	} else if (store_mailbox_copy(view_mailbox(client->view), uids, count, dest, move,
				      &uidvalidity, src_uids, dest_uids, &copied, &error) < 0) {
		if (error.code == STORE_ERR_NONEXISTENT)
			command_no(cmd, "[TRYCREATE] Mailbox does not exist.");
		else
			command_store_error(cmd, &error);
	} else {
		struct buffer src_set, dest_set;
		buffer_init(&src_set, 0);
		buffer_init(&dest_set, 0);
		imap_seqset_append_uids(&src_set, src_uids, copied);
		imap_seqset_append_uids(&dest_set, dest_uids, copied);
		if (copied == 0)
			command_ok(cmd, "%s completed.", cmd->name);
		else if (!move)
			command_ok(cmd, "[COPYUID %u %s %s] %s completed.", uidvalidity,
				   buffer_str(&src_set), buffer_str(&dest_set), cmd->name);
		else {
			/* RFC 6851: COPYUID in an untagged OK before the EXPUNGEs. */
			client_sendf(client, "* OK [COPYUID %u %s %s] Moved.\r\n", uidvalidity,
				     buffer_str(&src_set), buffer_str(&dest_set));
			command_ok(cmd, "%s completed.", cmd->name);
		}
		buffer_deinit(&src_set);
		buffer_deinit(&dest_set);
	}
	free(uids);
	free(src_uids);
	free(dest_uids);
	free(seqs);
	free(dest);
	return true;
}

static bool cmd_copy(struct client_command *cmd) { return copy_or_move(cmd, false); }
static bool cmd_move(struct client_command *cmd) { return copy_or_move(cmd, true); }

/* ---- IDLE ---- */

struct idle_context {
	struct timeout *keepalive;
};

static bool idle_line(struct client_command *cmd, const char *line, size_t len);

static void idle_push(void *context)
{
	struct client *client = context;
	/* Deferred: the IDLE may have ended (or the client gone) in between. */
	if (client->destroyed || client->command == NULL ||
	    client->command->on_line != idle_line)
		return;
	if (client->view != NULL && view_changed(client->view)) {
		view_sync(client, true, false, NULL);
		client_flush(client);
	}
}

static void idle_changed(void *context)
{
	struct client_command *cmd = context;
	/* Called from inside another session's store operation: push from the loop. */
	ioloop_defer(cmd->client->loop, idle_push, cmd->client);
}

static void idle_keepalive(void *context)
{
	struct client_command *cmd = context;
	client_send_str(cmd->client, "* OK Still here\r\n");
	client_flush(cmd->client);
}

static void idle_cancel(struct client_command *cmd)
{
	struct idle_context *ctx = cmd->context;
	if (cmd->client->view != NULL)
		view_set_change_callback(cmd->client->view, NULL, NULL);
	timeout_remove(&ctx->keepalive);
	free(ctx);
	cmd->context = NULL;
}

static bool idle_line(struct client_command *cmd, const char *line, size_t len)
{
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		command_ok(cmd, "IDLE terminated.");
	else
		command_bad(cmd, "Expected DONE.");
	idle_cancel(cmd);
	cmd->on_line = NULL;
	return true;
}

static bool cmd_idle(struct client_command *cmd)
{
	struct client *client = cmd->client;
	struct idle_context *ctx = i_new0(struct idle_context);
	if (!imap_arg_is_eol(&cmd->args[0])) {
		free(ctx);
		command_bad(cmd, "IDLE: Invalid arguments.");
		return true;
	}
	cmd->context = ctx;
	cmd->cancel = idle_cancel;
	cmd->on_line = idle_line;
	client_send_str(client, "+ idling\r\n");
	if (client->view != NULL) {
		view_request_poll(client->view);
		view_sync(client, true, false, NULL);
		view_set_change_callback(client->view, idle_changed, cmd);
	}
	ctx->keepalive = timeout_add(client->loop, client->set->idle_keepalive_secs * 1000,
				     idle_keepalive, cmd);
	client_flush(client);
	return false;
}

const struct command_def cmd_select_defs[] = {
	{ "CHECK", cmd_check, CMD_AUTH | CMD_SELECTED },
	{ "CLOSE", cmd_close, CMD_AUTH | CMD_SELECTED },
	{ "UNSELECT", cmd_unselect, CMD_AUTH | CMD_SELECTED },
	{ "EXPUNGE", cmd_expunge, CMD_AUTH | CMD_SELECTED | CMD_UID },
	{ "STORE", cmd_store, CMD_AUTH | CMD_SELECTED | CMD_UID | CMD_DEFER_EXPUNGE },
	{ "COPY", cmd_copy, CMD_AUTH | CMD_SELECTED | CMD_UID },
	{ "MOVE", cmd_move, CMD_AUTH | CMD_SELECTED | CMD_UID },
	{ "IDLE", cmd_idle, CMD_AUTH },
	{ NULL, NULL, 0 },
};
