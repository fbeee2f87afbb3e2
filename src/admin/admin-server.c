/* Authorization and dispatch for the admin service (see admin-server.h). */
#include "admin-server.h"
#include "admin-error.h"
#include "admin-ops.h"
#include "admin-users.h"
#include "alloc.h"
#include "auth-client.h"
#include "ipc.h"
#include "log.h"
#include "store/store.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define MAX_PEER_GROUPS 256

struct admin_server {
	struct admin_context ctx;
	struct admin_users_settings users_set;
	bool have_admin_gid;
	gid_t admin_gid;
};

static const char *cfg_str(const json_t *config, const char *section, const char *key,
			   const char *def)
{
	const char *v = json_string_value(json_object_get(json_object_get(config, section), key));
	return v != NULL ? v : def;
}

static void server_init_users(struct admin_server *server, const json_t *config)
{
	struct admin_users_settings *set = &server->users_set;
	set->backend = server->ctx.backend;
	set->demo_user = cfg_str(config, "dict", "demo_user", "demouser");
	set->base_dir = cfg_str(config, "maildir", "base_dir", "");
	set->passwd_name = cfg_str(config, "auth", "passwd_file", NULL);
	set->shadow_name = cfg_str(config, "auth", "shadow_file", NULL);
	set->group_name = cfg_str(config, "auth", "group_file", NULL);
	set->config = config;
	server->ctx.users = admin_users_create(set);
}

struct admin_server *admin_server_create(struct ioloop *loop, const json_t *config,
					 struct master_service *service)
{
	struct admin_server *server = i_new0(struct admin_server);
	struct admin_context *ctx = &server->ctx;
	const char *error = NULL;
	ctx->loop = loop;
	ctx->service = service;
	ctx->config = config;
	ctx->backend = cfg_str(config, "backend", "type", "dict");
	ctx->auth_socket = cfg_str(config, "server", "auth_socket", "auth.sock");
	json_t *limit = json_object_get(json_object_get(config, "imap"), "max_append_bytes");
	ctx->max_append_bytes = json_is_integer(limit) ?
		(unsigned long long)json_integer_value(limit) : 1000000000ULL;
	randombytes_buf(ctx->admin_key, sizeof(ctx->admin_key));
	auth_client_init(loop, ctx->auth_socket);
	server_init_users(server, config);
	/* dict mail lives in the imap worker: a store here would be a second, private
	 * copy, so delivery refuses it (admin-deliver.c) and none is created. */
	if (strcmp(ctx->backend, "dict") != 0 && store_create(config, loop, &ctx->store, &error) < 0) {
		log_error("admin: storage backend %s: %s (delivery answers with a temporary "
			  "failure)", ctx->backend, error);
		ctx->store = NULL;
		ctx->store_error = error;
	}
	const char *group = cfg_str(config, "users", "admin_group", "");
	struct group *gr = group[0] != '\0' ? getgrnam(group) : NULL;
	if (gr != NULL) {
		server->have_admin_gid = true;
		server->admin_gid = gr->gr_gid;
	}
	return server;
}

void admin_server_destroy(struct admin_server **_server)
{
	struct admin_server *server = *_server;
	if (server == NULL)
		return;
	*_server = NULL;
	admin_ops_deinit(&server->ctx);
	auth_client_deinit();
	store_destroy(&server->ctx.store);
	admin_users_destroy(&server->ctx.users);
	sodium_memzero(server->ctx.admin_key, sizeof(server->ctx.admin_key));
	free(server);
}

static bool peer_in_admin_group(struct admin_server *server, const struct ucred *cred)
{
	if (!server->have_admin_gid)
		return false;
	if (cred->gid == server->admin_gid)
		return true;
	struct passwd *pw = getpwuid(cred->uid);
	gid_t groups[MAX_PEER_GROUPS];
	int count = MAX_PEER_GROUPS;
	if (pw == NULL || getgrouplist(pw->pw_name, pw->pw_gid, groups, &count) < 0)
		return false;
	for (int i = 0; i < count; i++) {
		if (groups[i] == server->admin_gid)
			return true;
	}
	return false;
}

static void refuse(struct ipc_conn *conn, const json_t *request,
		   const struct admin_caller *caller, const char *code, const char *why)
{
	struct admin_error err;
	log_warning("admin: refused %s from uid %u (pid %d): %s",
		    json_string_value(json_object_get(request, "op")),
		    (unsigned int)caller->uid, (int)caller->pid, why);
	admin_error_set(&err, code, "%s", why);
	json_t *reply = admin_error_reply(request, &err);
	ipc_conn_send(conn, reply, -1);
	json_decref(reply);
}

/* 0 when the caller may run op; otherwise the refusal was sent. */
static int authorize(struct admin_server *server, struct ipc_conn *conn,
		     const json_t *request, const struct admin_op *op,
		     struct admin_caller *caller, char **token_user_r)
{
	const char *token = json_string_value(json_object_get(request, "token")), *error;
	const char *user = json_string_value(json_object_get(request, "user"));
	bool token_admin = false;
	if (!caller->admin && token != NULL) {
		if (admin_token_verify(token, server->ctx.admin_key, sizeof(server->ctx.admin_key),
				       time(NULL), &token_admin, token_user_r, &error) < 0) {
			log_info("admin: token of uid %u rejected: %s", (unsigned int)caller->uid,
				 error);
			refuse(conn, request, caller, ADMIN_ERR_AUTHENTICATIONFAILED,
			       "Invalid token.");
			return -1;
		}
		caller->admin = token_admin;
		caller->token_user = *token_user_r;
	}
	if (caller->admin || op->access == ADMIN_ACCESS_ANY)
		return 0;
	if (op->access == ADMIN_ACCESS_SELF && caller->token_user != NULL && user != NULL &&
	    strcmp(caller->token_user, user) == 0)
		return 0;
	if (caller->token_user == NULL)
		refuse(conn, request, caller, ADMIN_ERR_NOTALLOWED,
		       "Not allowed: not an admin, and no token.");
	else
		refuse(conn, request, caller, ADMIN_ERR_AUTHORIZATIONFAILED,
		       "Not allowed: the token is for another user.");
	return -1;
}

static void run_op(struct admin_server *server, struct ipc_conn *conn,
		   const json_t *request, int fd, const struct admin_op *op,
		   const struct admin_caller *caller)
{
	struct admin_error err;
	memset(&err, 0, sizeof(err));
	json_t *reply = ipc_reply_ok(request);
	int ret = op->func(&server->ctx, caller, request, fd, reply, &err);
	if (ret == ADMIN_OP_PENDING) {
		json_decref(reply);     /* the handler holds its own reference */
		return;
	}
	if (ret < 0) {
		json_decref(reply);
		if (err.temp)
			log_warning("admin: %s: temporary failure: %s", op->name, err.message);
		reply = admin_error_reply(request, &err);
	}
	ipc_conn_send(conn, reply, -1);
	json_decref(reply);
}

void admin_server_conn_closed(struct admin_server *server, const struct ipc_conn *conn)
{
	admin_ops_conn_closed(&server->ctx, conn);
}

void admin_server_handle(struct admin_server *server, struct ipc_conn *conn,
			 const json_t *request, int fd)
{
	const struct ucred *cred = ipc_conn_peer_cred(conn);
	const struct admin_op *op = admin_op_find(
		json_string_value(json_object_get(request, "op")));
	struct admin_caller caller;
	char *token_user = NULL;
	memset(&caller, 0, sizeof(caller));
	caller.conn = conn;
	caller.uid = cred != NULL ? cred->uid : (uid_t)-1;
	caller.pid = cred != NULL ? cred->pid : 0;
	caller.admin = cred != NULL && (cred->uid == 0 || cred->uid == getuid() ||
					peer_in_admin_group(server, cred));
	if (op == NULL) {
		struct admin_error err;
		admin_error_set(&err, ADMIN_ERR_BADREQUEST, "Unknown op.");
		json_t *reply = admin_error_reply(request, &err);
		ipc_conn_send(conn, reply, -1);
		json_decref(reply);
	} else if (authorize(server, conn, request, op, &caller, &token_user) == 0) {
		run_op(server, conn, request, fd, op, &caller);
	}
	free(token_user);
	if (fd >= 0)
		close(fd);
}
