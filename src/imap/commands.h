#ifndef PYMAP_IMAP_COMMANDS_H
#define PYMAP_IMAP_COMMANDS_H
/* Reading commands from a client and running them: the command table, state checks,
 * literal continuation decisions, the BAD counter, untagged updates before each tagged
 * reply, and suspended commands. Each command lives in a cmd-*.c file. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct imap_arg;
struct store_error;

void commands_send_greeting(struct client *client);
/* Parse and run what is in the client's input buffer. */
void commands_process_input(struct client *client);
/* Run the suspended command again (output drained, reply arrived). */
void commands_resume(struct client *client);
/* The client is going away: cancel a running command. */
void commands_abort(struct client *client);
void commands_client_destroyed(struct client *client);

/* ---- for cmd-*.c ---- */

enum command_flags {
	CMD_NOAUTH = 0x01,         /* allowed before login */
	CMD_AUTH = 0x02,           /* allowed after login */
	CMD_SELECTED = 0x04,       /* needs a selected mailbox */
	CMD_UID = 0x08,            /* has a UID form */
	CMD_DEFER_EXPUNGE = 0x10,  /* no EXPUNGE responses after it (RFC 3501 7.4.1) */
};

struct client_command;
/* Returns true when the command finished (a reply was set), false when it suspended
 * (it set cmd->resume and will be resumed). */
typedef bool command_func_t(struct client_command *cmd);

struct command_def {
	const char *name;
	command_func_t *func;
	unsigned int flags;
};

struct client_command {
	struct client *client;
	char *tag;
	const struct command_def *def;
	char name[32];               /* upper case, "UID FETCH" for UID commands */
	bool uid;
	const struct imap_arg *args; /* after the command name */
	char *reply;                 /* "OK ...", "NO ...", "BAD ..." without the tag */
	bool reply_is_bad;
	command_func_t *resume;      /* set by a suspending command */
	/* Set by a suspended command that reads raw lines (IDLE, AUTHENTICATE): true
	 * when the line finished the command (reply set). */
	bool (*on_line)(struct client_command *cmd, const char *line, size_t len);
	void (*cancel)(struct client_command *cmd);
	void *context;
	bool expunge_issued;         /* RFC 5530 EXPUNGEISSUED for the tagged OK */
	bool reply_sent;             /* the command sent its tagged reply itself */
	bool running;                /* inside its func/resume/on_line right now */
	bool aborted;                /* the client went away while it was running */
};

void command_reply(struct client_command *cmd, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define command_ok(cmd, ...) command_reply(cmd, "OK", __VA_ARGS__)
#define command_no(cmd, ...) command_reply(cmd, "NO", __VA_ARGS__)
#define command_bad(cmd, ...) command_reply(cmd, "BAD", __VA_ARGS__)
/* "NO [CODE] message" from a store error. */
void command_store_error(struct client_command *cmd, const struct store_error *error);
/* Whether LOGIN and plaintext SASL are allowed now (TLS, loopback, config). */
bool commands_login_allowed(struct client *client);
/* Whether AUTH=CRAM-MD5 is offered (dict backend only). */
bool commands_cram_md5_available(struct client *client);
/* The capability list for the client's current state (no leading "* "). */
const char *commands_capability(struct client *client);

/* Mailbox name argument (astring in modified UTF-7) -> UTF-8 with INBOX folded.
 * Returns a malloc'ed string, or NULL (and sets a BAD reply) when invalid. */
char *command_get_mailbox(struct client_command *cmd, const struct imap_arg *arg);

/* Tables from the cmd-*.c files. */
extern const struct command_def cmd_any_defs[];
extern const struct command_def cmd_login_defs[];
extern const struct command_def cmd_mailbox_defs[];
extern const struct command_def cmd_select_defs[];
extern const struct command_def cmd_fetch_defs[];
extern const struct command_def cmd_search_defs[];

#endif
