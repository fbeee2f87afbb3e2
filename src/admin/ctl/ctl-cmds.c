/* pymapctl sub-commands (see ctl-cmds.h). */
#include "ctl-cmds.h"
#include "admin-client.h"
#include "alloc.h"
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define CTL_MAX_PASSWORD 4096

char *ctl_read_first_line(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t size = 0;
	if (f == NULL) {
		fprintf(stderr, "pymapctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	ssize_t n = getline(&line, &size, f);
	fclose(f);
	if (n < 0) {
		free(line);
		return i_strdup("");
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

static char *ask_password(void)
{
	struct termios old, quiet;
	char buf[CTL_MAX_PASSWORD];
	FILE *tty = fopen("/dev/tty", "r+");
	if (tty == NULL || !isatty(fileno(tty))) {
		if (tty != NULL)
			fclose(tty);
		fprintf(stderr, "pymapctl: no terminal to ask for the password: use "
			"--password-file FILE or --no-password\n");
		return NULL;
	}
	fputs("Password: ", tty);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	char *ok = fgets(buf, sizeof(buf), tty);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputs("\n", tty);
	fclose(tty);
	if (ok == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	char *pw = i_strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

/* The password for set-user / change-password / login; *none_r for --no-password. */
static int get_password(const struct ctl_args *a, char **password_r)
{
	*password_r = NULL;
	if (a->no_password || a->token_login)
		return 0;
	if (a->password != NULL)
		*password_r = i_strdup(a->password);
	else if (a->password_file != NULL)
		*password_r = ctl_read_first_line(a->password_file);
	else
		*password_r = ask_password();
	return *password_r == NULL ? -1 : 0;
}

static void print_json(const json_t *reply)
{
	json_t *copy = json_deep_copy(reply);
	json_object_del(copy, "id");
	char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	puts(text);
	free(text);
	json_decref(copy);
}

/* Send request; 0 with *reply_r ok:true, else 1 after printing the error. */
static int call(struct ctl_context *ctx, json_t *request, int fd, json_t **reply_r)
{
	json_t *reply;
	int reply_fd = -1;
	const char *error;
	if (ctx->token != NULL)
		json_object_set_new(request, "token", json_string(ctx->token));
	if (ipc_client_call(ctx->client, request, fd, &reply, &reply_fd, &error) < 0) {
		fprintf(stderr, "pymapctl: %s\n", error);
		return 1;
	}
	if (reply_fd >= 0)
		close(reply_fd);
	enum ipc_reply_kind kind = ipc_reply_get_kind(reply);
	if (ctx->args->json)
		print_json(reply);
	if (kind == IPC_REPLY_OK) {
		*reply_r = reply;
		return 0;
	}
	const char *code = json_string_value(json_object_get(reply, "code"));
	const char *msg = json_string_value(json_object_get(reply, "message"));
	const char *reason = json_string_value(json_object_get(reply, "reason"));
	if (kind == IPC_REPLY_TEMPFAIL)
		fprintf(stderr, "pymapctl: temporary failure: %s\n",
			reason != NULL ? reason : "no reason given");
	else
		fprintf(stderr, "pymapctl: %s (%s)\n", msg != NULL ? msg : "failed",
			code != NULL ? code : "?");
	json_decref(reply);
	return 1;
}

static const char *rstr(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v != NULL ? v : "";
}

static void print_list(const char *label, const json_t *list)
{
	size_t i;
	json_t *item;
	printf("%s:", label);
	json_array_foreach(list, i, item)
		printf("%s%s", i == 0 ? " " : ", ", json_string_value(item));
	printf("\n");
}

static void print_user(const json_t *reply)
{
	const json_t *data = json_object_get(reply, "data"), *tag, *value;
	const char *key;
	printf("user: %s\n", rstr(reply, "user"));
	if ((tag = json_object_get(reply, "entity_tag")) != NULL)
		printf("entity_tag: %lld\n", (long long)json_integer_value(tag));
	if (json_object_get(data, "password") != NULL)
		printf("password: %s\n", rstr(data, "password"));
	print_list("roles", json_object_get(data, "roles"));
	json_object_foreach((json_t *)json_object_get(data, "params"), key, value)
		printf("param: %s=%s\n", key, json_string_value(value));
}

static int save_token(struct ctl_context *ctx, const char *token)
{
	char *path = ctx->token_file != NULL ? i_strdup(ctx->token_file) : NULL;
	if (path == NULL) {
		const char *home = getenv("HOME");
		char *dir = i_strdup_printf("%s/.config/pymap", home != NULL ? home : "/");
		mkdir(dir, 0700);
		path = i_strdup_printf("%s/pymap-admin.token", dir);
		free(dir);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && fchmod(fd, 0600) == 0 && dprintf(fd, "%s\n", token) > 0;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "pymapctl: %s: %s\n", path, strerror(errno));
	else if (!ctx->args->json)
		fprintf(stderr, "Token saved to %s\n", path);
	free(path);
	return ok ? 0 : 1;
}

static json_t *request_for_user(const char *op, const char *user)
{
	json_t *req = json_pack("{s:s}", "op", op);
	if (user != NULL)
		json_object_set_new(req, "user", json_string(user));
	return req;
}

static int cmd_login(struct ctl_context *ctx, json_t *req, json_t **reply_r)
{
	const struct ctl_args *a = ctx->args;
	char *password;
	if (get_password(a, &password) < 0)
		return 1;
	if (password != NULL)
		json_object_set_new(req, "password", json_string(password));
	if (a->authzid != NULL)
		json_object_set_new(req, "authzid", json_string(a->authzid));
	if (a->expiration != NULL)
		json_object_set_new(req, "token_expiration", json_real(atof(a->expiration)));
	if (password != NULL)
		i_free_secret(password, strlen(password));
	int ret = call(ctx, req, -1, reply_r);
	if (ret != 0)
		return ret;
	const char *token = rstr(*reply_r, "bearer_token");
	if (!a->json)
		printf("%s\n", token);
	return a->save ? save_token(ctx, token) : 0;
}

static int cmd_set_user(struct ctl_context *ctx, json_t *req, json_t **reply_r)
{
	const struct ctl_args *a = ctx->args;
	char *password;
	if (get_password(a, &password) < 0)
		return 1;
	if (password != NULL) {
		json_object_set_new(req, "password", json_string(password));
		i_free_secret(password, strlen(password));
	}
	if (a->command == CTL_SET_USER) {
		json_t *roles = json_array(), *params = json_object();
		for (unsigned int i = 0; i < a->role_count; i++)
			json_array_append_new(roles, json_string(a->roles[i]));
		for (unsigned int i = 0; i < a->param_count; i++) {
			const char *eq = strchr(a->params[i], '=');
			char *key = i_strndup(a->params[i], (size_t)(eq - a->params[i]));
			json_object_set_new(params, key, json_string(eq + 1));
			free(key);
		}
		json_object_set_new(req, "roles", roles);
		json_object_set_new(req, "params", params);
		json_object_set_new(req, "overwrite", json_boolean(!a->no_overwrite));
	}
	int ret = call(ctx, req, -1, reply_r);
	if (ret == 0 && !a->json)
		printf("%s %s\n", a->command == CTL_SET_USER ? "User set:" : "Password changed:",
		       rstr(*reply_r, "user"));
	return ret;
}

static int cmd_append(struct ctl_context *ctx, json_t *req, json_t **reply_r)
{
	const struct ctl_args *a = ctx->args;
	int in_fd = 0, fd = -1;
	const char *error;
	if (a->data != NULL && (in_fd = open(a->data, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "pymapctl: %s: %s\n", a->data, strerror(errno));
		return 1;
	}
	int spooled = admin_client_spool(in_fd, ~0ULL, &fd, &error);
	if (spooled <= 0) {
		fprintf(stderr, "pymapctl: %s\n", spooled < 0 ? error : "message too big");
		return 1;
	}
	json_t *flags = json_array();
	for (unsigned int i = 0; i < a->flag_count; i++)
		json_array_append_new(flags, json_string(a->flags[i]));
	json_object_set_new(req, "flags", flags);
	json_object_set_new(req, "when", json_integer(a->timestamp != NULL ?
		(json_int_t)atof(a->timestamp) : (json_int_t)time(NULL)));
	json_object_set_new(req, "sender", json_string(a->from != NULL ? a->from : ""));
	json_object_set_new(req, "recipient", json_string(a->to != NULL ? a->to : a->arg));
	if (a->mailbox != NULL)
		json_object_set_new(req, "mailbox", json_string(a->mailbox));
	int ret = call(ctx, req, fd, reply_r);
	if (fd != in_fd)
		close(fd);
	if (in_fd != 0)
		close(in_fd);
	if (ret == 0 && !a->json)
		printf("Delivered to %s: UIDVALIDITY %lld, UID %lld\n", rstr(*reply_r, "mailbox"),
		       json_integer_value(json_object_get(*reply_r, "uidvalidity")),
		       json_integer_value(json_object_get(*reply_r, "uid")));
	return ret;
}

static int cmd_check(struct ctl_context *ctx, json_t *req, json_t **reply_r)
{
	const char *key;
	json_t *value;
	json_object_set_new(req, "service", json_string(ctx->args->arg != NULL ?
							 ctx->args->arg : ""));
	int ret = call(ctx, req, -1, reply_r);
	if (ret != 0)
		return ret;
	const char *status = rstr(*reply_r, "status");
	bool serving = strcmp(status, "SERVING") == 0;
	if (!ctx->args->json) {
		fprintf(serving ? stdout : stderr, "%s\n", status);
		if (ctx->args->arg == NULL || ctx->args->arg[0] == '\0') {
			json_object_foreach(json_object_get(*reply_r, "services"), key, value)
				fprintf(serving ? stdout : stderr, "  %s: %s\n", key,
					json_string_value(value));
		}
	}
	return serving ? 0 : 1;
}

static void print_sessions(const json_t *sessions)
{
	size_t i;
	json_t *s;
	printf("%-20s %-16s %-20s %-20s %s\n", "USER", "FROM", "MAILBOX", "SINCE", "WORKER");
	json_array_foreach(sessions, i, s) {
		time_t since = (time_t)json_integer_value(json_object_get(s, "since"));
		struct tm tm;
		char when[32];
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&since, &tm));
		const char *user = json_string_value(json_object_get(s, "user"));
		const char *mailbox = json_string_value(json_object_get(s, "mailbox"));
		printf("%-20s %-16s %-20s %-20s %lld%s\n", user != NULL ? user : "(login)",
		       rstr(s, "remote"), mailbox != NULL ? mailbox : "-", when,
		       json_integer_value(json_object_get(s, "worker_pid")),
		       json_is_true(json_object_get(s, "tls")) ? " tls" : "");
	}
}

static void print_counters(const char *label, const json_t *c)
{
	printf("%s: connections %lld, sessions %lld, commands %lld, logins %lld\n", label,
	       json_integer_value(json_object_get(c, "connections")),
	       json_integer_value(json_object_get(c, "sessions")),
	       json_integer_value(json_object_get(c, "commands")),
	       json_integer_value(json_object_get(c, "logins")));
}

static void print_stats(const json_t *r)
{
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(r, "workers"), i, w) {
		char label[32];
		snprintf(label, sizeof(label), "worker %lld", json_integer_value(json_object_get(w, "pid")));
		print_counters(label, w);
	}
	print_counters("total", json_object_get(r, "total"));
}

static int cmd_simple(struct ctl_context *ctx, json_t *req, json_t **reply_r)
{
	const struct ctl_args *a = ctx->args;
	int ret = call(ctx, req, -1, reply_r);
	if (ret != 0 || a->json)
		return ret;
	const json_t *r = *reply_r;
	size_t i;
	json_t *item;
	switch (a->command) {
	case CTL_PING:
		printf("pymap %s, protocol %s %lld.%lld, backend %s\n", rstr(r, "server_version"),
		       rstr(json_object_get(r, "protocol"), "name"),
		       json_integer_value(json_object_get(json_object_get(r, "protocol"), "major")),
		       json_integer_value(json_object_get(json_object_get(r, "protocol"), "minor")),
		       rstr(r, "backend"));
		break;
	case CTL_GET_USER: print_user(r); break;
	case CTL_DELETE_USER: printf("User deleted: %s\n", rstr(r, "user")); break;
	case CTL_LIST_USERS:
		json_array_foreach(json_object_get(r, "users"), i, item)
			printf("%s\n", json_string_value(item));
		break;
	case CTL_RELOAD:
		printf("Reload requested (master pid %lld)\n",
		       json_integer_value(json_object_get(r, "master_pid")));
		break;
	case CTL_WHO: print_sessions(json_object_get(r, "sessions")); break;
	case CTL_KICK:
		printf("Ending the sessions of %s (%lld workers asked)\n", rstr(r, "user"),
		       json_integer_value(json_object_get(r, "workers")));
		break;
	case CTL_STATS: print_stats(r); break;
	default: print_json(r); break;
	}
	return 0;
}

static const char *const command_ops[] = {
	[CTL_PING] = "ping", [CTL_CHECK] = "health", [CTL_LOGIN] = "login",
	[CTL_GET_USER] = "user.get", [CTL_SET_USER] = "user.set",
	[CTL_CHANGE_PASSWORD] = "user.change-password", [CTL_DELETE_USER] = "user.delete",
	[CTL_APPEND] = "mail.append", [CTL_LIST_USERS] = "user.list",
	[CTL_WHO] = "sessions.list", [CTL_KICK] = "sessions.kick", [CTL_STATS] = "stats",
	[CTL_RELOAD] = "reload",
};

int ctl_cmd_run(struct ctl_context *ctx)
{
	const struct ctl_args *a = ctx->args;
	json_t *reply = NULL;
	json_t *req = request_for_user(command_ops[a->command],
				       a->command == CTL_CHECK ? NULL : a->arg);
	int ret;
	switch (a->command) {
	case CTL_LOGIN: ret = cmd_login(ctx, req, &reply); break;
	case CTL_SET_USER:
	case CTL_CHANGE_PASSWORD: ret = cmd_set_user(ctx, req, &reply); break;
	case CTL_APPEND: ret = cmd_append(ctx, req, &reply); break;
	case CTL_CHECK: ret = cmd_check(ctx, req, &reply); break;
	default: ret = cmd_simple(ctx, req, &reply); break;
	}
	json_decref(req);
	json_decref(reply);
	return ret;
}
