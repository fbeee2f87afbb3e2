#ifndef PYMAP_ADMIN_OPS_H
#define PYMAP_ADMIN_OPS_H
/* The operations of the pymap-admin protocol: one table (admin_ops) with each op's
 * handler, who may call it, and its documented fields, reply and errors, which
 * tests/unit/test-admin-ops.c checks against the table in doc/ipc.md.
 * admin-server.c authorizes the caller and then runs the handler. */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>
#include "admin-token.h"

#define ADMIN_PROTOCOL "pymap-admin"
#define ADMIN_PROTOCOL_MAJOR 1
#define ADMIN_PROTOCOL_MINOR 0

struct ioloop;
struct master_service;
struct store;
struct admin_users;
struct admin_error;
struct ipc_conn;

/* Everything a handler may use; owned by admin-server.c. */
struct admin_context {
	struct ioloop *loop;
	struct master_service *service; /* for reload requests to the master */
	const json_t *config;
	struct admin_users *users;
	struct store *store;            /* NULL when the backend could not be created */
	const char *store_error;        /* why store is NULL */
	const char *backend;            /* [backend] type */
	const char *auth_socket;
	unsigned long long max_append_bytes;
	unsigned char admin_key[ADMIN_TOKEN_KEY_BYTES];
	struct login_wait *login_waits; /* logins waiting for the auth service */
};

/* Who is asking, after admin-server.c looked at SO_PEERCRED and the token. */
struct admin_caller {
	struct ipc_conn *conn;    /* the caller's connection (worker.report, worker.kick) */
	uid_t uid;
	pid_t pid;
	bool admin;               /* root, the service's own uid, the admin group, admin token */
	const char *token_user;   /* a valid login token acts as this user; else NULL */
};

enum admin_access {
	ADMIN_ACCESS_ANY,         /* everyone (ping, health, login) */
	ADMIN_ACCESS_SELF,        /* admins, or a token for the request's "user" */
	ADMIN_ACCESS_ADMIN,       /* admins only */
};

/* Fill reply (already {"id":..,"ok":true}) and return 0, or return -1 with err, or
 * return ADMIN_OP_PENDING when the answer comes later (login waits for the auth
 * service without blocking the others: the handler keeps its own references and
 * sends the reply on caller->conn itself). fd is the descriptor passed with the
 * request, or -1; the handler does not close it. */
#define ADMIN_OP_PENDING 1
typedef int admin_op_func_t(struct admin_context *ctx, const struct admin_caller *caller,
			    const json_t *request, int fd, json_t *reply,
			    struct admin_error *err);

struct admin_op {
	const char *name;
	enum admin_access access;
	admin_op_func_t *func;
	/* The doc/ipc.md cells: fields, reply members, permanent error codes. */
	const char *doc_fields, *doc_reply, *doc_errors;
};

/* The caller's connection closed: answers still coming for it are dropped. */
void admin_ops_conn_closed(struct admin_context *ctx, const struct ipc_conn *conn);
/* Drop every waiting request (service shutdown). */
void admin_ops_deinit(struct admin_context *ctx);

extern const struct admin_op admin_ops[];
extern const unsigned int admin_op_count;
const struct admin_op *admin_op_find(const char *name);

/* mail.append (admin-deliver.c). */
int admin_deliver_op(struct admin_context *ctx, const struct admin_caller *caller,
		     const json_t *request, int fd, json_t *reply, struct admin_error *err);
/* Parse a flag list (["\\Seen","$Label"]) into system bits and keywords (borrowed
 * from flags). 0, or -1 with err (BADREQUEST). Exposed for tests. */
int admin_deliver_parse_flags(const json_t *flags, unsigned int *system_r,
			      const char ***keywords_r, unsigned int *keyword_count_r,
			      struct admin_error *err);

/* A blocking request to the auth process (auth.sock): 0 with *reply_r (ok:true),
 * -1 with err (the auth error's code, or a temporary failure). */
int admin_auth_call(struct admin_context *ctx, json_t *request, json_t **reply_r,
		    struct admin_error *err);

#endif
