/* Not-authenticated state: LOGIN, AUTHENTICATE, STARTTLS. The auth process decides;
 * the worker waits for it asynchronously, so a slow password hash never blocks other
 * sessions of this worker. */
#include "commands.h"
#include "client.h"
#include "admin-report.h"
#include "auth-client.h"
#include "alloc.h"
#include "imap-parser.h"
#include "log.h"
#include "sasl-server.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

struct login_context {
	struct auth_request *request;
	struct sasl_server *sasl;
	json_t *reply;
	bool replied;
};

static void login_cancel(struct client_command *cmd)
{
	struct login_context *ctx = cmd->context;
	auth_client_cancel(&ctx->request);
	sasl_server_destroy(&ctx->sasl);
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
	client_counters_mut()->logins++;
	admin_report_session_changed(client);
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

/* Ask the auth process (request is consumed); the command suspends until it
 * answers. */
static bool login_ask_auth(struct client_command *cmd, json_t *request)
{
	struct login_context *ctx = cmd->context;
	cmd->resume = login_resume;
	cmd->on_line = NULL;
	ctx->request = auth_client_request(request, login_auth_reply, cmd);
	json_decref(request);
	return login_resume(cmd);
}

static struct login_context *login_context_new(struct client_command *cmd)
{
	struct login_context *ctx = i_new0(struct login_context);
	cmd->context = ctx;
	cmd->cancel = login_cancel;
	return ctx;
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
	login_context_new(cmd);
	return login_ask_auth(cmd, json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "auth.login",
					     "mech", "LOGIN", "user", user, "password", password,
					     "remote", cmd->client->remote_ip));
}

/* ---- AUTHENTICATE (RFC 3501 6.2.2, RFC 4959 SASL-IR) ---- */

/* Act on one step of the SASL exchange; true when the command is finished. */
static bool authenticate_step(struct client_command *cmd, enum sasl_server_result result,
			      const char *challenge, const char *error)
{
	struct login_context *ctx = cmd->context;
	switch (result) {
	case SASL_SERVER_CHALLENGE:
		client_sendf(cmd->client, "+ %s\r\n", challenge);
		client_flush(cmd->client);
		return false;
	case SASL_SERVER_DONE:
		return login_ask_auth(cmd, sasl_server_auth_request(ctx->sasl,
								    cmd->client->remote_ip));
	case SASL_SERVER_CANCELLED:
		command_bad(cmd, "AUTHENTICATE cancelled.");
		break;
	case SASL_SERVER_ERROR:
		command_bad(cmd, "AUTHENTICATE: %s", error);
		break;
	}
	login_cancel(cmd);
	cmd->on_line = NULL;
	return true;
}

static bool authenticate_line(struct client_command *cmd, const char *line, size_t len)
{
	struct login_context *ctx = cmd->context;
	const char *challenge = NULL, *error = NULL;
	enum sasl_server_result result = sasl_server_input(ctx->sasl, line, len, &challenge, &error);
	if (authenticate_step(cmd, result, challenge, error))
		return true;
	/* Waiting for the auth process: the next step is a resume, not a line. */
	if (cmd->on_line == NULL) {
		cmd->client->input_blocked = true;
		return false;
	}
	return false;
}

static bool cmd_authenticate(struct client_command *cmd)
{
	const char *mech_name, *initial = NULL, *challenge = NULL, *error = NULL;
	enum sasl_mech mech;

	if (!imap_arg_get_atom(&cmd->args[0], &mech_name) ||
	    (!imap_arg_is_eol(&cmd->args[1]) &&
	     (!imap_arg_get_atom(&cmd->args[1], &initial) || !imap_arg_is_eol(&cmd->args[2])))) {
		command_bad(cmd, "AUTHENTICATE: Invalid arguments.");
		return true;
	}
	if (sasl_mech_parse(mech_name, &mech) < 0 ||
	    (mech == SASL_MECH_CRAM_MD5 && !commands_cram_md5_available(cmd->client))) {
		command_no(cmd, "[CANNOT] Unsupported authentication mechanism.");
		return true;
	}
	/* CRAM-MD5 never sends the secret: allowed without TLS. */
	if (mech != SASL_MECH_CRAM_MD5 && !commands_login_allowed(cmd->client)) {
		command_no(cmd, "[PRIVACYREQUIRED] Plaintext authentication is disabled without TLS.");
		return true;
	}
	struct login_context *ctx = login_context_new(cmd);
	ctx->sasl = sasl_server_create(mech, cmd->client->set->fqdn);
	cmd->on_line = authenticate_line;
	enum sasl_server_result result = sasl_server_start(ctx->sasl, initial, &challenge, &error);
	return authenticate_step(cmd, result, challenge, error);
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
	admin_report_session_changed(client);   /* "tls": true */
	/* The tagged reply was sent already: finish without another one. */
	cmd->reply_sent = true;
	return true;
}

const struct command_def cmd_login_defs[] = {
	{ "LOGIN", cmd_login, CMD_NOAUTH },
	{ "AUTHENTICATE", cmd_authenticate, CMD_NOAUTH },
	{ "STARTTLS", cmd_starttls, CMD_NOAUTH },
	{ NULL, NULL, 0 },
};
