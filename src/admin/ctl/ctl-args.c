/* pymapctl argument parsing (see ctl-args.h). */
#include "ctl-args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
	O_HELP, O_VERSION, O_JSON, O_PATH, O_TOKEN_FILE, O_CONFIG,
	O_PASSWORD, O_PASSWORD_FILE, O_ASK_PASSWORD, O_TOKEN, O_SAVE, O_AUTHZID, O_EXPIRATION,
	O_NO_PASSWORD, O_NO_OVERWRITE, O_PARAM, O_ROLE,
	O_FROM, O_TO, O_MAILBOX, O_TIMESTAMP, O_DATA, O_FLAG,
	O_SEEN, O_FLAGGED, O_DRAFT, O_DELETED, O_ANSWERED,
};
#define BIT(id) (1u << (id))
#define GLOBAL_OPTS (BIT(O_HELP) | BIT(O_VERSION) | BIT(O_JSON) | BIT(O_PATH) | \
		     BIT(O_TOKEN_FILE) | BIT(O_CONFIG))

static const struct opt_def {
	const char *name;
	char short_name;
	bool has_arg;
	enum opt_id id;
} opt_defs[] = {
	{ "help", 'h', false, O_HELP }, { "version", 0, false, O_VERSION },
	{ "json", 0, false, O_JSON }, { "path", 0, true, O_PATH },
	{ "token-file", 0, true, O_TOKEN_FILE }, { "config", 0, true, O_CONFIG },
	{ "password", 0, true, O_PASSWORD }, { "password-file", 0, true, O_PASSWORD_FILE },
	{ "ask-password", 'i', false, O_ASK_PASSWORD }, { "token", 't', false, O_TOKEN },
	{ "save", 's', false, O_SAVE }, { "authzid", 'z', true, O_AUTHZID },
	{ "expiration", 0, true, O_EXPIRATION }, { "no-password", 0, false, O_NO_PASSWORD },
	{ "no-overwrite", 0, false, O_NO_OVERWRITE }, { "param", 0, true, O_PARAM },
	{ "role", 0, true, O_ROLE }, { "from", 0, true, O_FROM }, { "to", 0, true, O_TO },
	{ "mailbox", 0, true, O_MAILBOX }, { "timestamp", 0, true, O_TIMESTAMP },
	{ "data", 0, true, O_DATA }, { "flag", 0, true, O_FLAG },
	{ "seen", 0, false, O_SEEN }, { "flagged", 0, false, O_FLAGGED },
	{ "draft", 0, false, O_DRAFT }, { "deleted", 0, false, O_DELETED },
	{ "answered", 0, false, O_ANSWERED },
};

static const struct cmd_def {
	const char *name;
	enum ctl_command command;
	unsigned int min_args, max_args;
	unsigned int opts;
} cmd_defs[] = {
	{ "ping", CTL_PING, 0, 0, 0 },
	{ "check", CTL_CHECK, 0, 1, 0 },
	{ "login", CTL_LOGIN, 1, 1, BIT(O_PASSWORD) | BIT(O_PASSWORD_FILE) |
	  BIT(O_ASK_PASSWORD) | BIT(O_TOKEN) | BIT(O_SAVE) | BIT(O_AUTHZID) | BIT(O_EXPIRATION) },
	{ "get-user", CTL_GET_USER, 1, 1, 0 },
	{ "set-user", CTL_SET_USER, 1, 1, BIT(O_PASSWORD_FILE) | BIT(O_NO_PASSWORD) |
	  BIT(O_PARAM) | BIT(O_ROLE) | BIT(O_NO_OVERWRITE) },
	{ "change-password", CTL_CHANGE_PASSWORD, 1, 1, BIT(O_PASSWORD_FILE) |
	  BIT(O_NO_PASSWORD) },
	{ "delete-user", CTL_DELETE_USER, 1, 1, 0 },
	{ "append", CTL_APPEND, 1, 1, BIT(O_FROM) | BIT(O_TO) | BIT(O_MAILBOX) |
	  BIT(O_TIMESTAMP) | BIT(O_DATA) | BIT(O_FLAG) | BIT(O_SEEN) | BIT(O_FLAGGED) |
	  BIT(O_DRAFT) | BIT(O_DELETED) | BIT(O_ANSWERED) },
	{ "list-users", CTL_LIST_USERS, 0, 0, 0 },
	{ "who", CTL_WHO, 0, 0, 0 },
	{ "kick", CTL_KICK, 1, 1, 0 },
	{ "stats", CTL_STATS, 0, 0, 0 },
	{ "reload", CTL_RELOAD, 0, 0, 0 },
};

static char error_buf[256];

static int fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(const char **error_r, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(error_buf, sizeof(error_buf), fmt, args);
	va_end(args);
	*error_r = error_buf;
	return -1;
}

const char *ctl_args_usage(void)
{
	return
	"usage: pymapctl [--path SOCKET] [--token-file FILE] [--config FILE] [--json] COMMAND ...\n"
	"commands:\n"
	"  ping                          server and protocol versions\n"
	"  check [SERVICE]               health (\"\", pymap.backend, auth, workers)\n"
	"  login USER (--password-file F | --password P | -i | -t) [-z AUTHZID]\n"
	"        [--expiration UNIXTIME] [-s]   get a bearer token (-s saves it)\n"
	"  get-user USER\n"
	"  set-user USER [--password-file F | --no-password] [--param K=V]... [--role R]...\n"
	"        [--no-overwrite]\n"
	"  change-password USER [--password-file F | --no-password]\n"
	"  delete-user USER\n"
	"  append USER [--from ADDR] [--to ADDR] [--mailbox NAME] [--timestamp SECS]\n"
	"        [--data FILE] [--flag F]... [--seen] [--flagged] [--draft] [--deleted]\n"
	"        [--answered]\n"
	"  list-users | who | kick USER | stats | reload\n"
	"environment: PYMAP_ADMIN_SOCKET, PYMAP_ADMIN_TOKEN, PYMAP_ADMIN_TOKEN_FILE,\n"
	"             PYMAP_ADMIN_CONFIG\n";
}

static const struct opt_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++) {
		if (strlen(opt_defs[i].name) == len && strncmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	}
	return NULL;
}

static const struct opt_def *find_short(char c)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++) {
		if (opt_defs[i].short_name == c)
			return &opt_defs[i];
	}
	return NULL;
}

static int list_add(const char **list, unsigned int *count, const char *value,
		    const char **error_r)
{
	if (*count >= CTL_MAX_LIST)
		return fail(error_r, "too many values (at most %d)", CTL_MAX_LIST);
	list[(*count)++] = value;
	return 0;
}

static bool is_number(const char *s)
{
	char *end;
	if (s[0] == '\0' || s[0] == '-')
		return false;
	(void)strtod(s, &end);
	return *end == '\0';
}

static int apply_opt(struct ctl_args *a, enum opt_id id, const char *v, const char **error_r)
{
	switch (id) {
	case O_HELP: a->help = true; break;
	case O_VERSION: a->version = true; break;
	case O_JSON: a->json = true; break;
	case O_PATH: a->path = v; break;
	case O_TOKEN_FILE: a->token_file = v; break;
	case O_CONFIG: a->config = v; break;
	case O_PASSWORD: a->password = v; break;
	case O_PASSWORD_FILE: a->password_file = v; break;
	case O_ASK_PASSWORD: a->ask_password = true; break;
	case O_TOKEN: a->token_login = true; break;
	case O_SAVE: a->save = true; break;
	case O_AUTHZID: a->authzid = v; break;
	case O_EXPIRATION:
		if (!is_number(v))
			return fail(error_r, "--expiration: not a number: %s", v);
		a->expiration = v;
		break;
	case O_NO_PASSWORD: a->no_password = true; break;
	case O_NO_OVERWRITE: a->no_overwrite = true; break;
	case O_PARAM:
		if (strchr(v, '=') == NULL || v[0] == '=')
			return fail(error_r, "--param: expected KEY=VAL, got: %s", v);
		return list_add(a->params, &a->param_count, v, error_r);
	case O_ROLE: return list_add(a->roles, &a->role_count, v, error_r);
	case O_FROM: a->from = v; break;
	case O_TO: a->to = v; break;
	case O_MAILBOX: a->mailbox = v; break;
	case O_TIMESTAMP:
		if (!is_number(v))
			return fail(error_r, "--timestamp: not a number: %s", v);
		a->timestamp = v;
		break;
	case O_DATA: a->data = v; break;
	case O_FLAG: return list_add(a->flags, &a->flag_count, v, error_r);
	case O_SEEN: return list_add(a->flags, &a->flag_count, "\\Seen", error_r);
	case O_FLAGGED: return list_add(a->flags, &a->flag_count, "\\Flagged", error_r);
	case O_DRAFT: return list_add(a->flags, &a->flag_count, "\\Draft", error_r);
	case O_DELETED: return list_add(a->flags, &a->flag_count, "\\Deleted", error_r);
	case O_ANSWERED: return list_add(a->flags, &a->flag_count, "\\Answered", error_r);
	}
	return 0;
}

/* One option at argv[*i]; *i is advanced past its value. */
static int parse_opt(struct ctl_args *a, const struct cmd_def *cmd, int argc,
		     char *const argv[], int *i, const char **error_r)
{
	const char *arg = argv[*i], *value = NULL;
	const struct opt_def *def;
	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		def = find_long(arg + 2, eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		value = eq != NULL ? eq + 1 : NULL;
	} else {
		def = arg[2] == '\0' ? find_short(arg[1]) : NULL;
	}
	unsigned int allowed = GLOBAL_OPTS | (cmd != NULL ? cmd->opts : 0);
	if (def == NULL || (BIT(def->id) & allowed) == 0)
		return fail(error_r, "unknown option %s%s%s", arg, cmd != NULL ? " for " : "",
			    cmd != NULL ? cmd->name : "");
	if (def->has_arg && value == NULL) {
		if (*i + 1 >= argc)
			return fail(error_r, "option %s needs a value", arg);
		value = argv[++*i];
	} else if (!def->has_arg && value != NULL) {
		return fail(error_r, "option --%s takes no value", def->name);
	}
	return apply_opt(a, def->id, value, error_r);
}

static int check_combinations(const struct ctl_args *a, const char **error_r)
{
	if (a->command == CTL_LOGIN) {
		int n = (a->password != NULL) + (a->password_file != NULL) + a->ask_password +
			a->token_login;
		if (n != 1)
			return fail(error_r, "login: give exactly one of --password, "
				    "--password-file, --ask-password, --token");
	}
	if (a->password_file != NULL && a->no_password)
		return fail(error_r, "--password-file and --no-password exclude each other");
	return 0;
}

static const struct cmd_def *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]); i++) {
		if (strcmp(cmd_defs[i].name, name) == 0)
			return &cmd_defs[i];
	}
	return NULL;
}

int ctl_args_parse(int argc, char *const argv[], struct ctl_args *args,
		   const char **error_r)
{
	const struct cmd_def *cmd = NULL;
	unsigned int npos = 0;
	bool only_pos = false;
	memset(args, 0, sizeof(*args));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!only_pos && strcmp(arg, "--") == 0) {
			only_pos = true;
		} else if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
			if (parse_opt(args, cmd, argc, argv, &i, error_r) < 0)
				return -1;
		} else if (cmd == NULL) {
			if ((cmd = find_cmd(arg)) == NULL)
				return fail(error_r, "unknown command: %s (see --help)", arg);
			args->command = cmd->command;
			args->command_name = cmd->name;
		} else if (npos++ >= cmd->max_args) {
			return fail(error_r, "%s: unexpected argument: %s", cmd->name, arg);
		} else {
			args->arg = arg;
		}
	}
	if (args->help || args->version)
		return 0;
	if (cmd == NULL)
		return fail(error_r, "no command given (see --help)");
	if (npos < cmd->min_args)
		return fail(error_r, "%s: missing USER argument", cmd->name);
	return check_combinations(args, error_r);
}
