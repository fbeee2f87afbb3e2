/* Not-authenticated state: LOGIN, AUTHENTICATE, STARTTLS. The auth process decides;
 * the worker waits for it asynchronously, so a slow password hash never blocks other
 * sessions of this worker. */
#include "commands.h"
#include "client.h"
#include "auth-client.h"
#include "alloc.h"
#include "imap-parser.h"
#include "log.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

struct login_context {
	struct auth_request *request;
	json_t *reply;
	bool replied;
};

static void login_cancel(struct client_command *cmd)
{
	struct login_context *ctx = cmd->context;
	auth_client_cancel(&ctx->request);
	if (ctx->reply != NULL)
		json_decref(ctx->reply);
	free(ctx);
	cmd->context = NULL;
}

static void login_auth_reply(json_t *reply, void *context)
{
	struct client_command *cmd = context;
	struct login_context *ctx = cmd->context;
	ctx->request = NULL;
	ctx->replied = true;
	ctx->reply = reply == NULL ? NULL : json_incref(reply);
	client_wake(cmd->client);
}

/* Auth said yes: open the user's mail and enter the authenticated state. */
static void login_success(struct client_command *cmd, const json_t *user)
{
	struct client *client = cmd->client;
	struct store_error error;
	const char *name = json_string_value(json_object_get(user, "name"));

	if (name == NULL) {
		command_no(cmd, "[SERVERBUG] Invalid reply from the auth service.");
		return;
	}
	if (store_user_open(client->store, name, json_object_get(user, "params"),
			    &client->user, &error) < 0) {
		command_store_error(cmd, &error);
		return;
	}
	client->username = i_strdup(name);
	client->state = CLIENT_STATE_AUTHENTICATED;
	log_info("session=%s: logged in as %s", client->session_id, name);
	command_ok(cmd, "[CAPABILITY %s] Authentication successful.", commands_capability(client));
}

static bool login_resume(struct client_command *cmd)
{
	struct login_context *ctx = cmd->context;
	const json_t *reply = ctx->reply;

	if (!ctx->replied)
		return false;
	if (reply == NULL) {
		command_no(cmd, "[UNAVAILABLE] Authentication service unavailable, try again.");
	} else if (json_is_true(json_object_get(reply, "ok"))) {
		login_success(cmd, json_object_get(reply, "user"));
	} else if (json_is_true(json_object_get(reply, "temp"))) {
		command_no(cmd, "[UNAVAILABLE] Authentication temporarily unavailable.");
	} else {
		const char *code = json_string_value(json_object_get(reply, "code"));
		if (code != NULL && strcmp(code, "AUTHORIZATIONFAILED") == 0)
			command_no(cmd, "[AUTHORIZATIONFAILED] Authorization failed.");
		else
			command_no(cmd, "[AUTHENTICATIONFAILED] Invalid authentication credentials.");
	}
	login_cancel(cmd);
	return true;
}

/* Ask the auth process; the command suspends until it answers. */
static bool login_start(struct client_command *cmd, const char *mech, const char *user,
			const char *password, const char *authzid)
{
	struct login_context *ctx = i_new0(struct login_context);
	json_t *request = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "auth.login",
				    "mech", mech, "user", user, "password", password,
				    "remote", cmd->client->remote_ip);
	if (authzid != NULL && authzid[0] != '\0')
		json_object_set_new(request, "authzid", json_string(authzid));
	cmd->context = ctx;
	cmd->cancel = login_cancel;
	cmd->resume = login_resume;
	ctx->request = auth_client_request(request, login_auth_reply, cmd);
	json_decref(request);
	return login_resume(cmd);
}

static bool cmd_login(struct client_command *cmd)
{
	const char *user, *password;
	if (!imap_arg_get_astring(&cmd->args[0], &user) ||
	    !imap_arg_get_astring(&cmd->args[1], &password) || !imap_arg_is_eol(&cmd->args[2])) {
		command_bad(cmd, "LOGIN: Invalid arguments.");
		return true;
	}
	if (!commands_login_allowed(cmd->client)) {
		command_no(cmd, "[PRIVACYREQUIRED] LOGIN is disabled without TLS.");
		return true;
	}
	return login_start(cmd, "LOGIN", user, password, NULL);
}

static bool cmd_starttls(struct client_command *cmd)
{
	struct client *client = cmd->client;
	if (!imap_arg_is_eol(&cmd->args[0])) {
		command_bad(cmd, "STARTTLS: Invalid arguments.");
		return true;
	}
	if (!client->set->tls_available || client->tls != NULL) {
		command_no(cmd, "[CANNOT] STARTTLS not available.");
		return true;
	}
	/* The OK goes out in clear text before the handshake starts. */
	client_sendf(client, "%s OK Begin TLS negotiation now.\r\n", cmd->tag);
	client_flush(client);
	if (client->destroyed)
		return true;
	if (client_start_tls(client) < 0) {
		client_disconnect(client, NULL);
		return true;
	}
	/* The tagged reply was sent already: finish without another one. */
	cmd->reply_sent = true;
	return true;
}

const struct command_def cmd_login_defs[] = {
	{ "LOGIN", cmd_login, CMD_NOAUTH },
	{ "STARTTLS", cmd_starttls, CMD_NOAUTH },
	{ NULL, NULL, 0 },
};
