#ifndef PYMAP_CTL_CMDS_H
#define PYMAP_CTL_CMDS_H
/* pymapctl's sub-commands: each builds its pymap-admin request from the parsed
 * arguments (ctl-args.h), sends it over the admin socket and prints the reply
 * (human-readable, or the JSON reply with --json). Called by main.c. */
#include "ctl-args.h"

struct ipc_client;

struct ctl_context {
	const struct ctl_args *args;
	struct ipc_client *client;
	const char *socket_path;
	const char *token;          /* sent as "token" when not NULL */
	const char *token_file;     /* where login -s saves (NULL = default) */
};

/* Run the command; returns the exit status (0 ok, 1 failure, after printing one
 * error line on stderr). */
int ctl_cmd_run(struct ctl_context *ctx);
/* The first line of path (without its line ending), malloc'ed, or NULL with a
 * message printed. */
char *ctl_read_first_line(const char *path);

#endif
