/* pymap-lda argument parsing and reply -> exit status mapping (see lda-args.h). */
#include "lda-args.h"
#include "ipc.h"
#include "strnum.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static char error_buf[256];

const char *lda_args_usage(void)
{
	return "usage: pymap-lda [--from SENDER] [--to RECIPIENT] [--mailbox NAME] "
	       "[--flag FLAG]... [--path SOCKET] [--timeout SECS] USER\n"
	       "  the message is read from stdin; exit status per sysexits(3)\n";
}

static const char *opt_value(int argc, char *const argv[], int *i, const char *eq)
{
	if (eq != NULL)
		return eq + 1;
	return *i + 1 < argc ? argv[++*i] : NULL;
}

static int set_opt(struct lda_args *a, const char *name, const char *v)
{
	unsigned int n;
	if (strcmp(name, "from") == 0 || strcmp(name, "f") == 0)
		a->from = v;
	else if (strcmp(name, "to") == 0 || strcmp(name, "a") == 0)
		a->to = v;
	else if (strcmp(name, "mailbox") == 0 || strcmp(name, "m") == 0)
		a->mailbox = v;
	else if (strcmp(name, "path") == 0)
		a->path = v;
	else if (strcmp(name, "d") == 0)
		a->user = v;
	else if (strcmp(name, "timeout") == 0 && str_to_uint(v, &n) == 0 && n > 0)
		a->timeout_secs = n;
	else if (strcmp(name, "flag") == 0 && a->flag_count < LDA_MAX_FLAGS)
		a->flags[a->flag_count++] = v;
	else
		return -1;
	return 0;
}

int lda_args_parse(int argc, char *const argv[], struct lda_args *args,
		   const char **error_r)
{
	memset(args, 0, sizeof(*args));
	bool only_pos = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!only_pos && strcmp(arg, "--") == 0) {
			only_pos = true;
		} else if (!only_pos && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			args->help = true;
		} else if (!only_pos && strcmp(arg, "--version") == 0) {
			args->version = true;
		} else if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
			const char *name = arg + (arg[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
			char opt[32];
			snprintf(opt, sizeof(opt), "%.*s", eq != NULL ? (int)(eq - name) :
				 (int)strlen(name), name);
			const char *v = opt_value(argc, argv, &i, eq);
			if (v == NULL || set_opt(args, opt, v) < 0) {
				snprintf(error_buf, sizeof(error_buf), "%s: %s", arg,
					 v == NULL ? "needs a value" : "unknown option or bad value");
				*error_r = error_buf;
				return -1;
			}
		} else if (args->user == NULL) {
			args->user = arg;
		} else {
			snprintf(error_buf, sizeof(error_buf), "unexpected argument: %s", arg);
			*error_r = error_buf;
			return -1;
		}
	}
	if (args->user == NULL && !args->help && !args->version) {
		*error_r = "no USER given";
		return -1;
	}
	return 0;
}

static const struct {
	const char *code;
	int status;
	const char *line;
} code_map[] = {
	{ "NOTFOUND", EX_NOUSER, "5.1.1 User unknown" },
	{ "TOOBIG", EX_DATAERR, "5.3.4 Message too big for system" },
	{ "NOTALLOWED", EX_NOPERM, "5.7.1 Delivery not authorized" },
	{ "AUTHORIZATIONFAILED", EX_NOPERM, "5.7.1 Delivery not authorized" },
	{ "AUTHENTICATIONFAILED", EX_NOPERM, "5.7.8 Authentication credentials invalid" },
	{ "READONLY", EX_NOPERM, "5.2.0 Mailbox is read-only" },
	{ "NONEXISTENT", EX_TEMPFAIL, "4.2.0 Mailbox does not exist" },
	{ "NOTIMPLEMENTED", EX_TEMPFAIL, "4.3.0 Delivery not possible with this backend" },
};

int lda_reply_status(const json_t *reply, const char **status_r)
{
	enum ipc_reply_kind kind = ipc_reply_get_kind(reply);
	if (kind == IPC_REPLY_OK) {
		*status_r = "2.0.0 Message delivered";
		return EX_OK;
	}
	if (kind == IPC_REPLY_TEMPFAIL) {
		*status_r = reply == NULL ? "4.4.2 Connection lost or timed out" :
			"4.3.0 Temporary failure, try again later";
		return EX_TEMPFAIL;
	}
	const char *code = json_string_value(json_object_get(reply, "code"));
	for (size_t i = 0; code != NULL && i < sizeof(code_map) / sizeof(code_map[0]); i++) {
		if (strcmp(code_map[i].code, code) == 0) {
			*status_r = code_map[i].line;
			return code_map[i].status;
		}
	}
	/* Anything else (a bad request, an unknown code): keep the message queued. */
	*status_r = "4.3.0 Message not delivered, try again later";
	return EX_TEMPFAIL;
}
