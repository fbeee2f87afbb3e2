/* The pymap-admin op table and the handlers of every op but mail.append
 * (admin-deliver.c). See admin-ops.h; the table is documented in doc/ipc.md. */
#include "admin-ops.h"
#include "auth-client.h"
#include "admin-client.h"
#include "admin-workers.h"
#include "admin-error.h"
#include "admin-users.h"
#include "alloc.h"
#include "ipc.h"
#include "log.h"
#include "master-service.h"
#include "build-config.h"
#include "store/store.h"
#include "llist.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUTH_CALL_TIMEOUT_MSECS 10000
#define AUTH_PING_TIMEOUT_MSECS 1000

static const char *req_str(const json_t *request, const char *key)
{
	return json_string_value(json_object_get(request, key));
}

static const char *req_user(const json_t *request, struct admin_error *err)
{
	const char *user = req_str(request, "user");
	if (user == NULL || user[0] == '\0')
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "user is required.");
	return user == NULL || user[0] == '\0' ? NULL : user;
}

static const struct ipc_settings auth_ipc_settings = {
	.protocol = "pymap-auth", .major = 1, .minor = 0,
};

/* An auth reply that is not ok as an admin error (temporary or with a code we know). */
static void auth_reply_error(const json_t *reply, struct admin_error *err)
{
	if (ipc_reply_get_kind(reply) == IPC_REPLY_TEMPFAIL) {
		const char *reason = req_str(reply, "reason");
		admin_error_temp(err, "%s", reason != NULL ? reason : "auth service failure");
		return;
	}
	const char *code = req_str(reply, "code"), *msg = req_str(reply, "message");
	/* Map the auth codes we know onto static strings. */
	code = code != NULL && strcmp(code, "AUTHORIZATIONFAILED") == 0 ?
		ADMIN_ERR_AUTHORIZATIONFAILED : code != NULL &&
		strcmp(code, "NOTFOUND") == 0 ? ADMIN_ERR_NOTFOUND : code != NULL &&
		strcmp(code, "AUTHENTICATIONFAILED") == 0 ?
		ADMIN_ERR_AUTHENTICATIONFAILED : ADMIN_ERR_BADREQUEST;
	admin_error_set(err, code, "%s", msg != NULL ? msg : "auth service refused");
}

int admin_auth_call(struct admin_context *ctx, json_t *request, json_t **reply_r,
		    struct admin_error *err)
{
	const char *error;
	json_t *reply = NULL;
	int fd = -1;
	struct ipc_client *client = ipc_client_connect(ctx->auth_socket, &auth_ipc_settings,
						       AUTH_CALL_TIMEOUT_MSECS, &error);
	if (client == NULL || ipc_client_call(client, request, -1, &reply, &fd, &error) < 0) {
		log_error("admin: auth service: %s", error);
		admin_error_temp(err, "auth service unavailable");
		ipc_client_destroy(&client);
		return -1;
	}
	ipc_client_destroy(&client);
	if (fd >= 0)
		close(fd);
	if (ipc_reply_get_kind(reply) == IPC_REPLY_OK) {
		*reply_r = reply;
		return 0;
	}
	auth_reply_error(reply, err);
	json_decref(reply);
	return -1;
}

/* ---- ping, health ---- */

static int op_ping(struct admin_context *ctx, const struct admin_caller *caller,
		   const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)caller; (void)request; (void)fd; (void)err;
	json_object_set_new(reply, "server_version", json_string(PYMAP_VERSION));
	json_object_set_new(reply, "protocol", json_pack("{s:s, s:i, s:i}", "name",
		ADMIN_PROTOCOL, "major", ADMIN_PROTOCOL_MAJOR, "minor", ADMIN_PROTOCOL_MINOR));
	json_object_set_new(reply, "backend", json_string(ctx->backend));
	json_object_set_new(reply, "max_append_bytes",
			    json_integer((json_int_t)ctx->max_append_bytes));
	return 0;
}

static const char *health_backend(struct admin_context *ctx)
{
	if (strcmp(ctx->backend, "dict") == 0)
		return "SERVING";   /* in the imap worker's memory: up while it is */
	if (ctx->store == NULL)
		return "NOT_SERVING";
	struct store_error error;
	if (store_check(ctx->store, &error) < 0)
		return "NOT_SERVING";
	if (strcmp(ctx->backend, "maildir") == 0) {
		const json_t *md = json_object_get(ctx->config, "maildir");
		const char *dir = json_string_value(json_object_get(md, "base_dir"));
		struct stat st;
		if (dir == NULL || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return "NOT_SERVING";
	}
	return "SERVING";
}

static const char *health_auth(struct admin_context *ctx)
{
	const char *error;
	struct ipc_client *client = ipc_client_connect(ctx->auth_socket, &auth_ipc_settings,
						       AUTH_PING_TIMEOUT_MSECS, &error);
	if (client == NULL)
		return "NOT_SERVING";
	ipc_client_destroy(&client);
	return "SERVING";
}

/* SERVING while an imap worker is connected to us and reporting (admin-workers.c);
 * UNKNOWN before the first report (just after start) or when none is connected. */
static const char *health_workers(void)
{
	json_t *stats = admin_workers_stats();
	bool any = json_array_size(json_object_get(stats, "workers")) > 0;
	json_decref(stats);
	return any ? "SERVING" : "UNKNOWN";
}

static int op_health(struct admin_context *ctx, const struct admin_caller *caller,
		     const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)caller; (void)fd;
	const char *service = req_str(request, "service");
	const char *backend = health_backend(ctx), *auth = health_auth(ctx);
	const char *workers = health_workers();
	json_t *services = json_pack("{s:s, s:s, s:s}", "pymap.backend", backend, "auth", auth,
				     "workers", workers);
	bool all = strcmp(backend, "SERVING") == 0 && strcmp(auth, "SERVING") == 0;
	json_object_set_new(services, "", json_string(all ? "SERVING" : "NOT_SERVING"));
	const char *status = json_string_value(json_object_get(services,
		service != NULL ? service : ""));
	if (status == NULL) {
		json_decref(services);
		admin_error_set(err, ADMIN_ERR_NOTFOUND, "Unknown service.");
		return -1;
	}
	json_object_set_new(reply, "status", json_string(status));
	json_object_del(services, "");
	json_object_set_new(reply, "services", services);
	return 0;
}

/* ---- login ---- */

/* A login waiting for the auth service's password check (which takes a hash, or the
 * failure delay on a wrong password): the service goes on serving meanwhile. */
struct login_wait {
	struct admin_context *ctx;
	struct ipc_conn *conn;          /* the caller's; NULL once it closed */
	json_t *request, *reply;        /* the caller's request, our prepared reply */
	struct auth_request *auth;
	char *user, *authzid;
	time_t expires;
	struct login_wait *prev, *next; /* ctx->login_waits */
};

static void login_wait_free(struct login_wait *w)
{
	struct admin_context *ctx = w->ctx;
	DLLIST_REMOVE(&ctx->login_waits, w);
	auth_client_cancel(&w->auth);
	json_decref(w->request);
	json_decref(w->reply);
	free(w->user);
	free(w->authzid);
	free(w);
}

static void login_send_token(json_t *reply, const struct admin_context *ctx,
			     const char *user, const char *authzid, time_t expires)
{
	char *token = admin_token_mint_login(ctx->admin_key, sizeof(ctx->admin_key), user,
					     authzid, expires);
	json_object_set_new(reply, "bearer_token", json_string(token));
	free(token);
}

static void login_auth_reply(json_t *auth_reply, void *context)
{
	struct login_wait *w = context;
	struct admin_error err;
	json_t *reply = w->reply;
	w->auth = NULL;              /* the request is done: nothing left to cancel */
	memset(&err, 0, sizeof(err));
	if (ipc_reply_get_kind(auth_reply) == IPC_REPLY_OK) {
		login_send_token(reply, w->ctx, w->user, w->authzid, w->expires);
		json_incref(reply);
	} else {
		if (auth_reply == NULL)
			admin_error_temp(&err, "auth service unavailable");
		else
			auth_reply_error(auth_reply, &err);
		if (err.temp)
			log_warning("admin: login: temporary failure: %s", err.message);
		else if (strcmp(err.code, ADMIN_ERR_AUTHENTICATIONFAILED) == 0)
			admin_error_set(&err, ADMIN_ERR_AUTHENTICATIONFAILED, "Invalid credentials.");
		reply = admin_error_reply(w->request, &err);
	}
	if (w->conn != NULL)
		ipc_conn_send(w->conn, reply, -1);
	json_decref(reply);
	login_wait_free(w);
}

/* Ask auth to check the password; the reply goes out from login_auth_reply(). */
static int login_check_password(struct admin_context *ctx, const struct admin_caller *caller,
				const json_t *request, json_t *reply, const char *user,
				const char *password, const char *authzid, time_t expires)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "auth.login", "mech",
				"PLAIN", "user", user, "password", password, "remote", "admin");
	if (authzid != NULL)
		json_object_set_new(req, "authzid", json_string(authzid));
	struct login_wait *w = i_new0(struct login_wait);
	w->ctx = ctx;
	w->conn = caller->conn;
	/* what the reply needs (its id), without holding the password while we wait */
	w->request = json_copy((json_t *)request);
	json_object_del(w->request, "password");
	w->reply = json_incref(reply);
	w->user = i_strdup(user);
	w->authzid = authzid != NULL ? i_strdup(authzid) : NULL;
	w->expires = expires;
	w->next = ctx->login_waits;
	if (w->next != NULL)
		w->next->prev = w;
	ctx->login_waits = w;
	/* may call login_auth_reply() at once (auth unreachable), which frees w */
	struct auth_request *auth = auth_client_request(req, login_auth_reply, w);
	if (auth != NULL)
		w->auth = auth;
	json_decref(req);
	return ADMIN_OP_PENDING;
}

static int op_login(struct admin_context *ctx, const struct admin_caller *caller,
		    const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)fd;
	const char *user = req_user(request, err), *password = req_str(request, "password");
	const char *authzid = req_str(request, "authzid");
	const json_t *exp = json_object_get(request, "token_expiration");
	if (user == NULL)
		return -1;
	if (exp != NULL && !json_is_number(exp)) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "token_expiration is a number.");
		return -1;
	}
	time_t expires = exp != NULL ? (time_t)json_number_value(exp) : 0;
	if (password != NULL)
		return login_check_password(ctx, caller, request, reply, user, password,
					    authzid, expires);
	if (!caller->admin &&
	    (caller->token_user == NULL || strcmp(caller->token_user, user) != 0)) {
		admin_error_set(err, ADMIN_ERR_AUTHENTICATIONFAILED, "Invalid credentials.");
		return -1;
	}
	login_send_token(reply, ctx, user, authzid, expires);
	return 0;
}

void admin_ops_conn_closed(struct admin_context *ctx, const struct ipc_conn *conn)
{
	for (struct login_wait *w = ctx->login_waits; w != NULL; w = w->next) {
		if (w->conn == conn)
			w->conn = NULL;   /* the answer has nowhere to go: dropped when it comes */
	}
}

void admin_ops_deinit(struct admin_context *ctx)
{
	while (ctx->login_waits != NULL)
		login_wait_free(ctx->login_waits);
}

/* ---- users ---- */

static int op_user_get(struct admin_context *ctx, const struct admin_caller *caller,
		       const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)caller; (void)fd;
	const char *user = req_user(request, err);
	json_t *record;
	if (user == NULL || admin_users_get(ctx->users, user, &record, err) < 0)
		return -1;
	json_object_update(reply, record);
	json_decref(record);
	return 0;
}

static int hash_password(struct admin_context *ctx, const char *password, char **hash_r,
			 struct admin_error *err)
{
	json_t *reply, *req = json_pack("{s:s, s:s}", "op", "auth.hash", "password", password);
	int ret = admin_auth_call(ctx, req, &reply, err);
	json_decref(req);
	if (ret < 0)
		return -1;
	const char *hash = req_str(reply, "hash");
	if (hash == NULL) {
		json_decref(reply);
		admin_error_temp(err, "auth.hash returned no hash");
		return -1;
	}
	*hash_r = i_strdup(hash);
	json_decref(reply);
	return 0;
}

static int set_mode(const json_t *request, struct admin_users_update *u,
		    struct admin_error *err)
{
	const json_t *overwrite = json_object_get(request, "overwrite");
	const json_t *tag = json_object_get(request, "previous_entity_tag");
	if ((overwrite != NULL && !json_is_boolean(overwrite)) ||
	    (tag != NULL && !json_is_integer(tag)) || (overwrite != NULL && tag != NULL)) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST,
				"Give overwrite (boolean) or previous_entity_tag (integer), not both.");
		return -1;
	}
	u->mode = tag != NULL ? ADMIN_USERS_REPLACE_TAG : json_is_true(overwrite) ?
		ADMIN_USERS_OVERWRITE : ADMIN_USERS_CREATE;
	u->previous_tag = tag != NULL ? (uint64_t)json_integer_value(tag) : 0;
	return 0;
}

static int set_fields(const json_t *request, struct admin_users_update *u,
		      const char **password_r, struct admin_error *err)
{
	const json_t *pw = json_object_get(request, "password");
	u->roles = json_object_get(request, "roles");
	u->params = json_object_get(request, "params");
	if ((pw != NULL && !json_is_string(pw)) ||
	    (u->roles != NULL && !json_is_array(u->roles)) ||
	    (u->params != NULL && !json_is_object(u->params))) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST,
				"password is a string, roles a list, params an object.");
		return -1;
	}
	if (pw != NULL && (json_string_length(pw) == 0 ||
			   strlen(json_string_value(pw)) != json_string_length(pw))) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "Invalid password.");
		return -1;
	}
	*password_r = json_string_value(pw);
	return 0;
}

static int set_with_password(struct admin_context *ctx, const char *user,
			     struct admin_users_update *u, const char *password,
			     json_t *reply, struct admin_error *err)
{
	char *hash = NULL;
	uint64_t tag = 0;
	if (password != NULL && hash_password(ctx, password, &hash, err) < 0)
		return -1;
	u->password_hash = hash;
	int ret = admin_users_set(ctx->users, user, u, &tag, err);
	if (hash != NULL)
		i_free_secret(hash, strlen(hash));
	if (ret < 0)
		return -1;
	json_object_set_new(reply, "user", json_string(user));
	if (tag != 0)
		json_object_set_new(reply, "entity_tag", json_integer((json_int_t)tag));
	log_info("admin: user %s set", user);
	return 0;
}

static int op_user_set(struct admin_context *ctx, const struct admin_caller *caller,
		       const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)fd;
	struct admin_users_update u;
	const char *user = req_user(request, err), *password = NULL;
	memset(&u, 0, sizeof(u));
	u.may_change_privileges = caller->admin;
	if (user == NULL || set_mode(request, &u, err) < 0 ||
	    set_fields(request, &u, &password, err) < 0)
		return -1;
	if (strcmp(ctx->backend, "dict") == 0) {
		/* Answer before hashing: nothing can change. */
		uint64_t tag;
		return admin_users_set(ctx->users, user, &u, &tag, err);
	}
	return set_with_password(ctx, user, &u, password, reply, err);
}

static int op_user_change_password(struct admin_context *ctx,
				   const struct admin_caller *caller, const json_t *request,
				   int fd, json_t *reply, struct admin_error *err)
{
	(void)fd; (void)caller;
	struct admin_users_update u;
	const char *user = req_user(request, err), *password = NULL;
	json_t *record;
	memset(&u, 0, sizeof(u));
	if (user == NULL || set_fields(request, &u, &password, err) < 0 ||
	    admin_users_get(ctx->users, user, &record, err) < 0)
		return -1;
	const json_t *data = json_object_get(record, "data");
	u.roles = json_object_get(data, "roles");
	u.params = json_object_get(data, "params");
	u.mode = ADMIN_USERS_REPLACE_TAG;
	u.previous_tag = (uint64_t)json_integer_value(json_object_get(record, "entity_tag"));
	u.may_change_privileges = true;   /* they stay as they are */
	int ret = strcmp(ctx->backend, "dict") == 0 ?
		admin_users_set(ctx->users, user, &u, &u.previous_tag, err) :
		set_with_password(ctx, user, &u, password, reply, err);
	json_decref(record);
	return ret;
}

static int op_user_delete(struct admin_context *ctx, const struct admin_caller *caller,
			  const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)caller; (void)fd;
	const char *user = req_user(request, err);
	if (user == NULL || admin_users_delete(ctx->users, user, err) < 0)
		return -1;
	json_object_set_new(reply, "user", json_string(user));
	log_info("admin: user %s deleted", user);
	return 0;
}

static int op_user_list(struct admin_context *ctx, const struct admin_caller *caller,
			const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)caller; (void)request; (void)fd;
	json_t *names;
	if (admin_users_list(ctx->users, &names, err) < 0)
		return -1;
	json_object_set_new(reply, "users", names);
	return 0;
}

/* ---- sessions, stats, reload ---- */

static int op_sessions_list(struct admin_context *ctx, const struct admin_caller *caller,
			    const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)ctx; (void)caller; (void)request; (void)fd; (void)err;
	json_t *sessions = admin_workers_sessions();
	/* Keep the reply under the message limit: drop the tail and say so. */
	size_t size = json_dumpb(sessions, NULL, 0, JSON_COMPACT);
	bool truncated = false;
	while (size > ADMIN_MAX_MESSAGE_BYTES - 4096 && json_array_size(sessions) > 0) {
		json_t *last = json_array_get(sessions, json_array_size(sessions) - 1);
		size -= json_dumpb(last, NULL, 0, JSON_COMPACT) + 1;
		json_array_remove(sessions, json_array_size(sessions) - 1);
		truncated = true;
	}
	json_object_set_new(reply, "sessions", sessions);
	if (truncated)
		json_object_set_new(reply, "truncated", json_true());
	return 0;
}

static int op_sessions_kick(struct admin_context *ctx, const struct admin_caller *caller,
			    const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)ctx; (void)fd;
	const char *user = req_user(request, err);
	if (user == NULL)
		return -1;
	unsigned int workers = admin_workers_kick(user);
	log_info("admin: uid %u ends the sessions of %s (%u workers asked)",
		 (unsigned int)caller->uid, user, workers);
	json_object_set_new(reply, "user", json_string(user));
	json_object_set_new(reply, "workers", json_integer(workers));
	return 0;
}

static int op_stats(struct admin_context *ctx, const struct admin_caller *caller,
		    const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)ctx; (void)caller; (void)request; (void)fd; (void)err;
	json_t *stats = admin_workers_stats();
	json_object_update(reply, stats);
	json_decref(stats);
	return 0;
}

/* From an imap worker (a sibling child of the same master) only. */
static int op_worker_report(struct admin_context *ctx, const struct admin_caller *caller,
			    const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)ctx; (void)fd; (void)reply;
	const json_t *sessions = json_object_get(request, "sessions");
	const json_t *stats = json_object_get(request, "stats");
	if (!admin_workers_is_sibling(caller->pid)) {
		admin_error_set(err, ADMIN_ERR_NOTALLOWED, "worker.report is for imap workers");
		return -1;
	}
	if (!json_is_array(sessions) || !json_is_object(stats)) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "sessions (array) and stats (object)");
		return -1;
	}
	const json_t *part = json_object_get(request, "part"), *last = json_object_get(request, "last");
	if ((part != NULL && (!json_is_integer(part) || json_integer_value(part) < 0)) ||
	    (last != NULL && !json_is_boolean(last))) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "part (integer >= 0), last (boolean)");
		return -1;
	}
	admin_workers_update(caller->conn, caller->pid, sessions, stats,
			     part != NULL ? (unsigned int)json_integer_value(part) : 0,
			     last == NULL || json_is_true(last));
	return 0;
}

/* From an imap worker only: its sessions changed since its last report or update. */
static int op_worker_update(struct admin_context *ctx, const struct admin_caller *caller,
			    const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)ctx; (void)fd; (void)reply;
	const json_t *upsert = json_object_get(request, "upsert");
	const json_t *remove = json_object_get(request, "remove");
	const json_t *stats = json_object_get(request, "stats");
	if (!admin_workers_is_sibling(caller->pid)) {
		admin_error_set(err, ADMIN_ERR_NOTALLOWED, "worker.update is for imap workers");
		return -1;
	}
	if (!json_is_array(upsert) || !json_is_array(remove) || !json_is_object(stats)) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST,
				"upsert (array), remove (array) and stats (object)");
		return -1;
	}
	admin_workers_apply(caller->conn, caller->pid, upsert, remove, stats);
	return 0;
}

static int op_reload(struct admin_context *ctx, const struct admin_caller *caller,
		     const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	(void)request; (void)fd;
	pid_t master = getppid();
	if (ctx->service == NULL || master <= 1) {
		admin_error_temp(err, "the master is gone");
		return -1;
	}
	/* Through the status pipe: works when the master runs as root and this
	 * process does not (a signal would be refused). */
	master_service_request_reload(ctx->service);
	log_info("admin: reload requested by uid %u", (unsigned int)caller->uid);
	json_object_set_new(reply, "master_pid", json_integer(master));
	return 0;
}

#define T_USER "`user`"
const struct admin_op admin_ops[] = {
	{ "ping", ADMIN_ACCESS_ANY, op_ping, "–",
	  "`server_version`, `protocol` {`name`, `major`, `minor`}, `backend`, `max_append_bytes`",
	  "–" },
	{ "health", ADMIN_ACCESS_ANY, op_health, "`service`?",
	  "`status`, `services` {`pymap.backend`, `auth`, `workers`}", "`NOTFOUND`" },
	{ "login", ADMIN_ACCESS_ANY, op_login,
	  "`user`, `password`?, `authzid`?, `token_expiration`?", "`bearer_token`",
	  "`BADREQUEST`, `AUTHENTICATIONFAILED`, `AUTHORIZATIONFAILED`" },
	{ "user.get", ADMIN_ACCESS_SELF, op_user_get, T_USER,
	  "`user`, `entity_tag`?, `data` {`password`?, `roles`, `params`}",
	  "`BADREQUEST`, `NOTFOUND`" },
	{ "user.set", ADMIN_ACCESS_SELF, op_user_set,
	  "`user`, `password`?, `roles`?, `params`?, `overwrite`? or `previous_entity_tag`?",
	  "`user`, `entity_tag`?",
	  "`BADREQUEST`, `CANNOTREPLACE`, `NOTALLOWED`, `CANNOT`" },
	{ "user.change-password", ADMIN_ACCESS_SELF, op_user_change_password,
	  "`user`, `password`?", "`user`, `entity_tag`?",
	  "`BADREQUEST`, `NOTFOUND`, `CANNOTREPLACE`, `CANNOT`" },
	{ "user.delete", ADMIN_ACCESS_SELF, op_user_delete, T_USER, "`user`",
	  "`BADREQUEST`, `NOTFOUND`, `CANNOT`" },
	{ "user.list", ADMIN_ACCESS_ADMIN, op_user_list, "–", "`users`", "–" },
	{ "mail.append", ADMIN_ACCESS_SELF, admin_deliver_op,
	  "`user`, `mailbox`?, `flags`?, `when`?, `sender`?, `recipient`?, descriptor",
	  "`mailbox`, `uidvalidity`, `uid`",
	  "`BADREQUEST`, `NOTFOUND`, `NONEXISTENT`, `READONLY`, `TOOBIG`, `CANNOT`, "
	  "`NOTIMPLEMENTED`" },
	{ "sessions.list", ADMIN_ACCESS_ADMIN, op_sessions_list, "–",
	  "`sessions` [{`session`, `user`, `remote`, `mailbox`, `since`, `tls`, `worker_pid`}], `truncated`?",
	  "–" },
	{ "sessions.kick", ADMIN_ACCESS_ADMIN, op_sessions_kick, T_USER, "`user`, `workers`",
	  "`BADREQUEST`" },
	{ "stats", ADMIN_ACCESS_ADMIN, op_stats, "–",
	  "`workers` [{`pid`, `connections`, `sessions`, `commands`, `logins`}], `total`", "–" },
	{ "worker.report", ADMIN_ACCESS_ADMIN, op_worker_report,
	  "`sessions` (as in sessions.list, without `worker_pid`), `stats`, `part`?, `last`?", "–",
	  "`BADREQUEST`, `NOTALLOWED`" },
	{ "worker.update", ADMIN_ACCESS_ADMIN, op_worker_update,
	  "`upsert` (sessions as in worker.report), `remove` (session ids), `stats`", "–",
	  "`BADREQUEST`, `NOTALLOWED`" },
	{ "reload", ADMIN_ACCESS_ADMIN, op_reload, "–", "`master_pid`", "–" },
};
const unsigned int admin_op_count = sizeof(admin_ops) / sizeof(admin_ops[0]);

const struct admin_op *admin_op_find(const char *name)
{
	for (unsigned int i = 0; name != NULL && i < admin_op_count; i++) {
		if (strcmp(admin_ops[i].name, name) == 0)
			return &admin_ops[i];
	}
	return NULL;
}
