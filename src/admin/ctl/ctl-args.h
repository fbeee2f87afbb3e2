#ifndef PYMAP_CTL_ARGS_H
#define PYMAP_CTL_ARGS_H
/* pymapctl's command line: global options, the sub-command and its options, as
 * pymap-admin has them (pymap-inventory.md 4.4) plus list-users, who, kick, stats and
 * reload. Pure parsing (no I/O), so tests/unit/test-admin-ctl-args.c can check it;
 * main.c and ctl-cmds.c use the result. */
#include <stdbool.h>

#define CTL_MAX_LIST 64

enum ctl_command {
	CTL_PING, CTL_CHECK, CTL_LOGIN, CTL_GET_USER, CTL_SET_USER, CTL_CHANGE_PASSWORD,
	CTL_DELETE_USER, CTL_APPEND, CTL_LIST_USERS, CTL_WHO, CTL_KICK, CTL_STATS, CTL_RELOAD,
};

struct ctl_args {
	enum ctl_command command;
	const char *command_name;
	const char *arg;              /* USER, or check's SERVICE (NULL when absent) */
	bool help, version, json;
	/* global */
	const char *path, *token_file, *config;
	/* login */
	const char *password, *password_file, *authzid, *expiration;
	bool ask_password, token_login, save;
	/* set-user, change-password */
	bool no_password, no_overwrite;
	const char *params[CTL_MAX_LIST];   /* "KEY=VAL" */
	unsigned int param_count;
	const char *roles[CTL_MAX_LIST];
	unsigned int role_count;
	/* append */
	const char *from, *to, *mailbox, *timestamp, *data;
	const char *flags[CTL_MAX_LIST];     /* --flag values and --seen ... as "\\Seen" */
	unsigned int flag_count;
};

/* Parse argv (argv[0] is the program). 0 ok; -1 with a one-line *error_r (static
 * storage, valid until the next call). --help/--version set the fields and return 0
 * without requiring a command. */
int ctl_args_parse(int argc, char *const argv[], struct ctl_args *args,
		   const char **error_r);
/* The usage text. */
const char *ctl_args_usage(void);

#endif
