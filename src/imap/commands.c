/* Command dispatch: parse, check state, run, send updates and the tagged reply. */
#include "commands.h"
#include "client.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-parser.h"
#include "imap-utf7.h"
#include "log.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Literals outside APPEND: enough for any argument a real client sends. */
#define COMMAND_MAX_LITERAL_BYTES (64 * 1024)
/* Before authentication only LOGIN/AUTHENTICATE take literals: keep them small. */
#define COMMAND_MAX_PREAUTH_LITERAL_BYTES 8192
/* APPEND literals up to this size stay in memory; larger ones go to a spool file. */
#define COMMAND_MAX_MEMORY_APPEND_BYTES (256 * 1024)

static const struct command_def *const command_tables[] = {
	cmd_any_defs, cmd_login_defs, cmd_mailbox_defs, cmd_select_defs, cmd_fetch_defs,
	cmd_search_defs,
};


static const struct command_def *command_find(const char *name)
{
	for (size_t t = 0; t < sizeof(command_tables) / sizeof(command_tables[0]); t++) {
		for (const struct command_def *def = command_tables[t]; def->name != NULL; def++) {
			if (strcasecmp(def->name, name) == 0)
				return def;
		}
	}
	return NULL;
}

void commands_send_greeting(struct client *client)
{
	client_sendf(client, "* OK [CAPABILITY %s] Server ready %s\r\n",
		     commands_capability(client), client->set->fqdn);
	client_flush(client);
}

void command_reply(struct client_command *cmd, const char *status, const char *fmt, ...)
{
	va_list args;
	char text[512];
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	free(cmd->reply);
	cmd->reply = i_strdup_printf("%s %s", status, text);
	cmd->reply_is_bad = strcmp(status, "BAD") == 0;
}

static const char *store_error_code_name(enum store_error_code code)
{
	switch (code) {
	case STORE_ERR_NONE: return NULL;
	case STORE_ERR_NONEXISTENT: return "NONEXISTENT";
	case STORE_ERR_ALREADYEXISTS: return "ALREADYEXISTS";
	case STORE_ERR_READONLY: return "READ-ONLY";
	case STORE_ERR_CANNOT: return "CANNOT";
	case STORE_ERR_LIMIT: return "LIMIT";
	case STORE_ERR_OVERQUOTA: return "OVERQUOTA";
	case STORE_ERR_INUSE: return "INUSE";
	case STORE_ERR_UNAVAILABLE: return "UNAVAILABLE";
	case STORE_ERR_SERVERBUG: return "SERVERBUG";
	}
	return "SERVERBUG";
}

void command_store_error(struct client_command *cmd, const struct store_error *error)
{
	const char *code = store_error_code_name(error->code);
	if (code == NULL)
		command_no(cmd, "%s", error->message);
	else
		command_no(cmd, "[%s] %s", code, error->message);
}

char *command_get_mailbox(struct client_command *cmd, const struct imap_arg *arg)
{
	const char *name;
	struct buffer utf8;

	if (!imap_arg_get_astring(arg, &name)) {
		command_bad(cmd, "%s: Invalid arguments.", cmd->name);
		return NULL;
	}
	if (strcasecmp(name, "INBOX") == 0)
		return i_strdup("INBOX");
	buffer_init(&utf8, 0);
	if (imap_utf7_to_utf8(name, &utf8) < 0) {
		buffer_deinit(&utf8);
		command_bad(cmd, "%s: Invalid mailbox name (modified UTF-7).", cmd->name);
		return NULL;
	}
	char *result = buffer_steal_str(&utf8);
	buffer_deinit(&utf8);
	/* "INBOX/child" keeps its spelling; only the INBOX level folds case. */
	if (strncasecmp(result, "INBOX/", 6) == 0)
		memcpy(result, "INBOX", 5);
	return result;
}

/* ---- running ---- */

/* The spool files of the client's current command (APPEND literals). */
static void spool_close_all(struct client *client)
{
	for (unsigned int i = 0; i < client->spool_count; i++)
		close(client->spool_fds[i]);
	client->spool_count = 0;
}

static void command_free(struct client_command **_cmd)
{
	struct client_command *cmd = *_cmd;
	*_cmd = NULL;
	free(cmd->tag);
	free(cmd->reply);
	free(cmd);
}

static void command_count_bad(struct client *client, bool bad)
{
	if (!bad) {
		client->bad_count = 0;
		return;
	}
	if (++client->bad_count >= client->set->bad_command_limit)
		client_disconnect(client, "Too many invalid commands.");
}

/* Send updates and the tagged reply of a finished command. */
/* Detach cmd from its client: from here on an abort (the client going away) does not
 * see it, and the caller owns it. */
static void command_detach(struct client_command *cmd)
{
	struct client *client = cmd->client;
	if (client->command == cmd) {
		client->command = NULL;
		client->input_blocked = false;
	}
}

/* Send updates and the tagged reply of a finished command, then free it. */
static void command_finish(struct client_command *cmd)
{
	struct client *client = cmd->client;
	const struct command_def *def = cmd->def;

	command_detach(cmd);
	if (client->view != NULL && !client->destroyed) {
		/* Ask the store after every command: notifications (inotify, pub/sub) may
		 * still be on their way, even for this session's own changes. */
		view_request_poll(client->view);
		bool allow_expunge = def == NULL || (def->flags & CMD_DEFER_EXPUNGE) == 0 || cmd->uid;
		view_sync(client, allow_expunge, cmd->uid, NULL);
		if (!allow_expunge && client->view != NULL &&
		    view_has_pending_expunges(client->view))
			cmd->expunge_issued = true;
	}
	if (cmd->reply_sent) {
		command_free(&cmd);
		return;
	}
	if (cmd->reply == NULL)
		command_no(cmd, "[SERVERBUG] Internal error.");
	if (cmd->expunge_issued && strncmp(cmd->reply, "OK ", 3) == 0 && cmd->reply[3] != '[') {
		char *with_code = i_strdup_printf("OK [EXPUNGEISSUED] %s", cmd->reply + 3);
		free(cmd->reply);
		cmd->reply = with_code;
	}
	client_sendf(client, "%s %s\r\n", cmd->tag, cmd->reply);
	bool bad = cmd->reply_is_bad;
	command_free(&cmd);
	spool_close_all(client);
	/* Either of these may end the client. */
	command_count_bad(client, bad);
	if (client->destroyed)
		return;
	if (client->state == CLIENT_STATE_LOGOUT)
		client_disconnect(client, NULL);
	else
		client_touch(client);
}

/* Run one step of a command (its func, resume or on_line). A client that goes away
 * meanwhile only marks the command aborted; it is freed here. Returns 1 finished
 * (reply set), 0 suspended, -1 aborted (freed). */
static int command_step(struct client_command *cmd, bool (*step)(struct client_command *cmd))
{
	cmd->running = true;
	bool done = step(cmd);
	cmd->running = false;
	if (!cmd->aborted)
		return done ? 1 : 0;
	struct client *client = cmd->client;
	if (cmd->cancel != NULL)
		cmd->cancel(cmd);
	command_free(&cmd);
	spool_close_all(client);
	return -1;
}

static bool command_check_state(struct client_command *cmd)
{
	struct client *client = cmd->client;
	unsigned int flags = cmd->def->flags;

	if (cmd->uid && (flags & CMD_UID) == 0) {
		command_bad(cmd, "%s: Unknown command.", cmd->name);
		return false;
	}
	if (client->state == CLIENT_STATE_NOT_AUTHENTICATED && (flags & CMD_NOAUTH) == 0) {
		command_bad(cmd, "%s: Must authenticate first.", cmd->name);
		return false;
	}
	if (client->state != CLIENT_STATE_NOT_AUTHENTICATED && (flags & CMD_AUTH) == 0) {
		command_bad(cmd, "%s: Already authenticated.", cmd->name);
		return false;
	}
	if ((flags & CMD_SELECTED) != 0 && client->state != CLIENT_STATE_SELECTED) {
		command_bad(cmd, "%s: Must select a mailbox first.", cmd->name);
		return false;
	}
	return true;
}

/* Resolve "NAME" or "UID NAME" from the args; false with a BAD reply otherwise. */
static bool command_resolve(struct client_command *cmd, const struct imap_arg *args)
{
	const char *name;
	if (!imap_arg_get_atom(&args[0], &name)) {
		command_bad(cmd, "Command not given.");
		return false;
	}
	args++;
	if (strcasecmp(name, "UID") == 0) {
		if (!imap_arg_get_atom(&args[0], &name)) {
			command_bad(cmd, "UID: Command not given.");
			return false;
		}
		cmd->uid = true;
		args++;
	}
	snprintf(cmd->name, sizeof(cmd->name), "%s%.20s", cmd->uid ? "UID " : "", name);
	for (char *p = cmd->name; *p != '\0'; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	cmd->args = args;
	cmd->def = command_find(name);
	if (cmd->def == NULL) {
		command_bad(cmd, "%s: Unknown command.", cmd->name);
		return false;
	}
	return command_check_state(cmd);
}

static void command_run(struct client *client)
{
	struct client_command *cmd = i_new0(struct client_command);
	const char *tag = imap_parser_get_tag(client->parser);

	cmd->client = client;
	cmd->tag = i_strdup(tag != NULL ? tag : "*");
	client_counters_mut()->commands++;
	if (log_debug_enabled())
		log_debug("session=%s: C: %s <command>", client->session_id, cmd->tag);
	if (!command_resolve(cmd, imap_parser_get_args(client->parser, NULL))) {
		command_finish(cmd);
		return;
	}
	client->command = cmd;
	client->input_blocked = true;
	int ret = command_step(cmd, cmd->def->func);
	if (ret > 0)
		command_finish(cmd);
	else if (ret == 0)
		client->input_blocked = cmd->on_line == NULL;
}

static void command_parse_error(struct client *client)
{
	bool fatal;
	const char *error = imap_parser_get_error(client->parser, &fatal);
	const char *tag = imap_parser_get_tag(client->parser);

	spool_close_all(client);
	if (fatal) {
		log_info("session=%s: %s", client->session_id, error);
		client_disconnect(client, error);
		return;
	}
	if (client->literal_too_big) {
		client->literal_too_big = false;
		client_sendf(client, "%s NO [TOOBIG] Literal too big.\r\n", tag != NULL ? tag : "*");
		command_count_bad(client, false);
		return;
	}
	client_sendf(client, "%s BAD %s\r\n", tag != NULL ? tag : "*", error);
	command_count_bad(client, true);
}

static int spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	int fd = open(dir != NULL ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		log_error_errno("spool file for APPEND in %s", dir != NULL ? dir : "/tmp");
	return fd;
}

static void command_literal(struct client *client)
{
	const struct imap_parser_literal *lit = imap_parser_get_literal(client->parser);
	unsigned int count;
	const struct imap_arg *args = imap_parser_get_partial_args(client->parser, &count);
	bool append = client->state != CLIENT_STATE_NOT_AUTHENTICATED && count >= 1 &&
		      imap_arg_atom_equals(&args[0], "APPEND");
	uint64_t limit = append ? client->set->max_append_bytes :
		client->state == CLIENT_STATE_NOT_AUTHENTICATED ?
		COMMAND_MAX_PREAUTH_LITERAL_BYTES : COMMAND_MAX_LITERAL_BYTES;

	if (lit->size > limit) {
		/* RFC 7889: refuse before the data is sent (sync) or drain it (non-sync). */
		client->literal_too_big = true;
		imap_parser_literal_reject(client->parser);
		return;
	}
	if (append && lit->size > COMMAND_MAX_MEMORY_APPEND_BYTES &&
	    client->spool_count < CLIENT_MAX_SPOOL_FILES) {
		int fd = spool_open();
		if (fd < 0) {
			imap_parser_literal_reject(client->parser);
			return;
		}
		client->spool_fds[client->spool_count++] = fd;
		imap_parser_literal_accept_fd(client->parser, fd);
	} else if (imap_parser_literal_accept(client->parser) < 0) {
		client->literal_too_big = true;
		imap_parser_literal_reject(client->parser);
		return;
	}
	if (lit->sync) {
		client_send_str(client, "+ Ready for literal data\r\n");
		client_flush(client);
	}
}

static bool command_line_input(struct client *client)
{
	struct client_command *cmd = client->command;
	const char *line;
	size_t len;
	int ret = imap_parser_read_line(client->parser, &line, &len);
	if (ret == 0)
		return false;
	if (ret < 0) {
		client_disconnect(client, "Line too long.");
		return false;
	}
	cmd->running = true;
	bool done = cmd->on_line(cmd, line, len);
	cmd->running = false;
	if (cmd->aborted) {
		if (cmd->cancel != NULL)
			cmd->cancel(cmd);
		command_free(&cmd);
		spool_close_all(client);
		return false;
	}
	if (done)
		command_finish(cmd);
	return true;
}

void commands_process_input(struct client *client)
{
	while (!client->destroyed && !client->disconnecting) {
		if (client_output_full(client)) {
			/* Pause here until the socket drains; client_input resumes parsing
			 * what is left in the input buffer. */
			client_flush(client);
			if (client->destroyed || client_output_full(client))
				break;
		}
		if (client->command != NULL) {
			/* Only commands reading raw lines (IDLE, AUTHENTICATE) take input. */
			if (client->command->on_line == NULL || !command_line_input(client))
				break;
			continue;
		}
		int ret = imap_parser_read(client->parser);
		if (ret == IMAP_PARSE_MORE)
			break;
		if (ret == IMAP_PARSE_LITERAL)
			command_literal(client);
		else if (ret == IMAP_PARSE_ERROR)
			command_parse_error(client);
		else
			command_run(client);
	}
	if (!client->destroyed)
		client_flush(client);
}

void commands_resume(struct client *client)
{
	struct client_command *cmd = client->command;
	if (cmd == NULL || cmd->resume == NULL)
		return;
	if (command_step(cmd, cmd->resume) > 0) {
		command_finish(cmd);
		client_command_finished(client);
	}
}

void commands_abort(struct client *client)
{
	struct client_command *cmd = client->command;
	if (cmd == NULL) {
		spool_close_all(client);  /* a literal may be arriving without a command */
		return;
	}
	client->command = NULL;
	if (cmd->running) {
		/* Freed by command_step() once the running step returns. */
		cmd->aborted = true;
		return;
	}
	if (cmd->cancel != NULL)
		cmd->cancel(cmd);
	command_free(&cmd);
	spool_close_all(client);
}

void commands_client_destroyed(struct client *client)
{
	(void)client;
}

/* ---- capabilities ---- */

static bool client_plaintext_allowed(struct client *client)
{
	const char *policy = client->set->plaintext_auth;
	if (client->tls != NULL || strcmp(policy, "always") == 0)
		return true;
	return strcmp(policy, "loopback") == 0 && client->remote_loopback;
}

bool commands_cram_md5_available(struct client *client)
{
	/* The auth process can verify CRAM-MD5 only where it knows the clear-text
	 * secret: the dict backend's demo user. Hashed passwords cannot do it. */
	return strcmp(store_backend_name(client->store), "dict") == 0;
}

bool commands_login_allowed(struct client *client)
{
	return client_plaintext_allowed(client);
}

const char *commands_capability(struct client *client)
{
	static char caps[512];
	struct buffer buf;

	buffer_init(&buf, sizeof(caps) - 1);
	buffer_append_str(&buf, "IMAP4rev1 LITERAL+ ID");
	if (client->state == CLIENT_STATE_NOT_AUTHENTICATED) {
		if (client->set->tls_available && client->tls == NULL)
			buffer_append_str(&buf, " STARTTLS");
		if (client_plaintext_allowed(client))
			buffer_append_str(&buf, " AUTH=PLAIN AUTH=LOGIN");
		if (commands_cram_md5_available(client))
			buffer_append_str(&buf, " AUTH=CRAM-MD5");
		if (client_plaintext_allowed(client))
			buffer_append_str(&buf, " SASL-IR");
		else
			buffer_append_str(&buf, " LOGINDISABLED");
	} else {
		buffer_printf(&buf, " BINARY UIDPLUS MOVE CHILDREN UNSELECT"
			      " APPENDLIMIT=%llu IDLE OBJECTID MULTIAPPEND",
			      (unsigned long long)client->set->max_append_bytes);
	}
	snprintf(caps, sizeof(caps), "%s", buffer_str(&buf));
	buffer_deinit(&buf);
	return caps;
}
