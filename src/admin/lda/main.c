/* pymap-lda: local delivery agent for MTAs. Reads the message from stdin (streamed
 * into a memfd unless stdin is a regular file), asks the admin service to store it
 * (mail.append, doc/ipc.md) and prints one SMTP-enhanced-status line on stdout. Exit
 * status per sysexits; 0 only when the store confirmed the append. See doc/admin.md. */
#include "lda-args.h"
#include "admin-client.h"
#include "alloc.h"
#include "build-config.h"
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define LDA_DEFAULT_TIMEOUT_SECS 300

static int finish(int status, const char *line, const char *detail)
{
	printf("%s%s%s\n", line, detail != NULL ? ": " : "", detail != NULL ? detail : "");
	fflush(stdout);
	return status;
}

/* ping: the server's append limit. */
static int server_limit(struct ipc_client *client, unsigned long long *limit_r,
			const char **error_r)
{
	json_t *reply, *req = json_pack("{s:s}", "op", "ping");
	int fd = -1;
	int ret = ipc_client_call(client, req, -1, &reply, &fd, error_r);
	json_decref(req);
	if (ret < 0)
		return -1;
	if (fd >= 0)
		close(fd);
	json_t *limit = json_object_get(reply, "max_append_bytes");
	*limit_r = json_is_integer(limit) ? (unsigned long long)json_integer_value(limit) :
		~0ULL;
	json_decref(reply);
	return 0;
}

static json_t *append_request(const struct lda_args *a)
{
	const char *token = getenv("PYMAP_ADMIN_TOKEN");
	json_t *flags = json_array();
	for (unsigned int i = 0; i < a->flag_count; i++)
		json_array_append_new(flags, json_string(a->flags[i]));
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "op", "mail.append",
				"user", a->user, "mailbox", a->mailbox != NULL ? a->mailbox : "INBOX",
				"sender", a->from != NULL ? a->from : "",
				"recipient", a->to != NULL ? a->to : a->user, "flags", flags,
				"when", (json_int_t)time(NULL));
	if (token != NULL && token[0] != '\0')
		json_object_set_new(req, "token", json_string(token));
	return req;
}

static int deliver(struct ipc_client *client, const struct lda_args *a)
{
	unsigned long long limit;
	const char *error, *status_line;
	int fd = -1, reply_fd = -1;
	json_t *reply = NULL;
	if (server_limit(client, &limit, &error) < 0)
		return finish(EX_TEMPFAIL, "4.3.0 Admin service failed", error);
	int spooled = admin_client_spool(STDIN_FILENO, limit, &fd, &error);
	if (spooled == 0)
		return finish(EX_DATAERR, "5.3.4 Message too big for system", NULL);
	if (spooled < 0)
		return finish(EX_TEMPFAIL, "4.3.0 Cannot read the message", error);
	json_t *req = append_request(a);
	int ret = ipc_client_call(client, req, fd, &reply, &reply_fd, &error);
	json_decref(req);
	if (fd != STDIN_FILENO)
		close(fd);
	if (ret < 0)
		return finish(EX_TEMPFAIL, "4.4.2 Admin service failed", error);
	if (reply_fd >= 0)
		close(reply_fd);
	int status = lda_reply_status(reply, &status_line);
	const char *detail = json_string_value(json_object_get(reply,
		status == EX_OK ? "mailbox" : ipc_reply_get_kind(reply) == IPC_REPLY_TEMPFAIL ?
		"reason" : "message"));
	char buf[300];
	if (status == EX_OK) {
		snprintf(buf, sizeof(buf), "%s, UID %lld", detail != NULL ? detail : "",
			 json_integer_value(json_object_get(reply, "uid")));
		detail = buf;
	}
	status = finish(status, status_line, detail);
	json_decref(reply);
	return status;
}

int main(int argc, char *argv[])
{
	struct lda_args args;
	const char *error;
	if (lda_args_parse(argc, argv, &args, &error) < 0) {
		fprintf(stderr, "pymap-lda: %s\n%s", error, lda_args_usage());
		return finish(EX_TEMPFAIL, "4.3.5 pymap-lda usage error", error);
	}
	if (args.help || args.version) {
		fputs(args.help ? lda_args_usage() : "pymap-lda " PYMAP_VERSION "\n", stdout);
		return EX_OK;
	}
	char *path = admin_client_socket_path(args.path);
	unsigned int timeout = args.timeout_secs != 0 ? args.timeout_secs :
		LDA_DEFAULT_TIMEOUT_SECS;
	struct ipc_client *client = admin_client_connect(path, timeout * 1000, &error);
	int status;
	if (client == NULL)
		status = finish(EX_TEMPFAIL, "4.3.0 Connection failed", error);
	else
		status = deliver(client, &args);
	ipc_client_destroy(&client);
	free(path);
	return status;
}
