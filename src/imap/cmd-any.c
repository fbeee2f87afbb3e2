/* Commands valid in every state: CAPABILITY, NOOP, LOGOUT, ID (RFC 2971). */
#include "commands.h"
#include "client.h"
#include "view.h"
#include "imap-parser.h"
#include "imap-quote.h"
#include "build-config.h"

#define ID_MAX_PAIRS 30
#define ID_MAX_VALUE_BYTES 1024

static bool cmd_capability(struct client_command *cmd)
{
	if (!imap_arg_is_eol(&cmd->args[0])) {
		command_bad(cmd, "CAPABILITY: Invalid arguments.");
		return true;
	}
	client_sendf(cmd->client, "* CAPABILITY %s\r\n", commands_capability(cmd->client));
	command_ok(cmd, "Capabilities listed.");
	return true;
}

static bool cmd_noop(struct client_command *cmd)
{
	if (!imap_arg_is_eol(&cmd->args[0])) {
		command_bad(cmd, "NOOP: Invalid arguments.");
		return true;
	}
	if (cmd->client->view != NULL)
		view_request_poll(cmd->client->view);
	command_ok(cmd, "NOOP completed.");
	return true;
}

static bool cmd_logout(struct client_command *cmd)
{
	if (!imap_arg_is_eol(&cmd->args[0])) {
		command_bad(cmd, "LOGOUT: Invalid arguments.");
		return true;
	}
	client_send_str(cmd->client, "* BYE Logging out.\r\n");
	cmd->client->state = CLIENT_STATE_LOGOUT;
	command_ok(cmd, "Logout successful.");
	return true;
}

/* RFC 2971: ID NIL or a list of at most 30 field/value pairs, fields <= 30 octets,
 * values <= 1024 octets. */
static bool id_args_valid(const struct imap_arg *args)
{
	const struct imap_arg *list;
	unsigned int count;
	if (imap_arg_is_nil(&args[0]))
		return imap_arg_is_eol(&args[1]);
	if (!imap_arg_get_list(&args[0], &list, &count) || !imap_arg_is_eol(&args[1]) ||
	    count % 2 != 0 || count / 2 > ID_MAX_PAIRS)
		return false;
	for (unsigned int i = 0; i < count; i++) {
		const char *str;
		if (i % 2 == 0 ? !imap_arg_get_string(&list[i], &str) || list[i].len > 30 :
		    !imap_arg_get_nstring(&list[i], &str) || list[i].len > ID_MAX_VALUE_BYTES)
			return false;
	}
	return true;
}

static bool cmd_id(struct client_command *cmd)
{
	if (!id_args_valid(cmd->args)) {
		command_bad(cmd, "ID: Invalid arguments.");
		return true;
	}
	client_sendf(cmd->client, "* ID (\"name\" \"pymap\" \"version\" \"%s\")\r\n",
		     PYMAP_VERSION);
	command_ok(cmd, "ID completed.");
	return true;
}

const struct command_def cmd_any_defs[] = {
	{ "CAPABILITY", cmd_capability, CMD_NOAUTH | CMD_AUTH },
	{ "NOOP", cmd_noop, CMD_NOAUTH | CMD_AUTH },
	{ "LOGOUT", cmd_logout, CMD_NOAUTH | CMD_AUTH },
	{ "ID", cmd_id, CMD_NOAUTH | CMD_AUTH },
	{ NULL, NULL, 0 },
};
