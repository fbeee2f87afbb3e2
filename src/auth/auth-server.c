#include "auth-server.h"
#include "hash-pool.h"
#include "redis-users.h"
#include "lockout.h"
#include "password.h"
#include "alloc.h"
#include "ioloop.h"
#include "ipc.h"
#include "log.h"
#include "saslprep.h"
#include "users-file.h"
#include "llist.h"

#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#define AUTH_FAILED_MSG "Invalid authentication credentials."
#define AUTH_BUSY_REASON "auth: too many password hashes in progress"

struct delayed_reply {
	struct auth_server *server;
	struct ipc_conn *conn;
	json_t *reply;
	struct timeout *timeout;
	struct delayed_reply *prev, *next;
};

struct auth_server {
	struct ioloop *loop;
	struct auth_server_settings set;
	char *demo_hash;
	struct users_db *db;
	struct redis_users *redis;
	struct lockout *lockout;
	struct delayed_reply *delayed;
	struct hash_pool *pool;
	struct auth_job *jobs;      /* in the pool; unlinked when done */
	size_t job_bytes;           /* their passwords' lengths */
};

/* A user as the ops see it, from either source. */
struct auth_user {
	const char *name;
	const char *mailbox_path;
	const char *hash;          /* NULL: cannot log in */
	const char *hash_origin;   /* "file:line" for log lines; never the hash */
	char **roles;
	struct users_db_user db_user;
	bool from_db;
	json_t *redis_record;
	char origin_buf[512];
};

enum auth_job_kind { AUTH_JOB_LOGIN, AUTH_JOB_HASH };

/* One password hashed in the pool (auth.login, auth.hash). The hash thread reads the
 * inputs and writes the outputs; everything else is the loop thread's. */
struct auth_job {
	struct auth_server *server;
	struct ipc_conn *conn;          /* NULL once the connection has closed */
	json_t *request;                /* a copy without "password" */
	enum auth_job_kind kind;
	/* inputs (owned copies) */
	char *password;
	size_t password_len;
	char *hash;                     /* login: the user's hash, or the dummy's */
	char *scheme;                   /* hash: scheme of the new hash */
	/* outputs */
	enum password_verify_result result;
	int hash_ret;
	const char *error;              /* static text */
	char *new_hash;
	/* login, loop thread only */
	bool have_user;                 /* user holds a lookup result */
	bool may_login;                 /* false: unknown or disabled, a dummy check */
	struct auth_user user;
	struct auth_job *prev, *next;
};

struct auth_server *auth_server_create(struct ioloop *loop,
				       const struct auth_server_settings *set,
				       const char **error_r)
{
	if (!password_scheme_is_valid(set->hash_scheme)) {
		*error_r = "[auth] hash_scheme: unknown scheme";
		return NULL;
	}
	if (sodium_init() < 0) {
		/* before any thread: libsodium picks its implementations here */
		*error_r = "sodium_init() failed";
		return NULL;
	}
	struct auth_server *server = i_new0(struct auth_server);
	server->loop = loop;
	server->set = *set;
	password_dummy_init(set->hash_scheme);
	if (set->backend == AUTH_BACKEND_DICT &&
	    password_hash(set->demo_password, strlen(set->demo_password), set->hash_scheme,
			  &server->demo_hash, error_r) < 0) {
		*error_r = "[dict] demo_password cannot be hashed (SASLprep rejects it)";
		password_dummy_deinit();
		free(server);
		return NULL;
	}
	if (set->backend == AUTH_BACKEND_REDIS) {
		server->redis = redis_users_create(set->config, error_r);
		if (server->redis == NULL) {
			password_dummy_deinit();
			free(server);
			return NULL;
		}
	}
	if (set->backend == AUTH_BACKEND_MAILDIR) {
		struct users_db_settings db_set = {
			.base_dir = set->base_dir, .passwd_name = set->passwd_file,
			.shadow_name = set->shadow_file, .group_name = set->group_file,
		};
		const char *error;
		server->db = users_db_create(&db_set);
		(void)users_db_refresh(server->db, &error);   /* logged there */
	}
	struct lockout_settings lset = {
		.threshold = set->lockout_threshold, .window_secs = set->lockout_window_secs,
	};
	server->lockout = lockout_create(&lset);
	server->pool = hash_pool_create(loop, set->hash_threads, AUTH_HASH_MAX_JOBS, error_r);
	if (server->pool == NULL) {
		auth_server_destroy(&server);
		return NULL;
	}
	log_debug("auth: %u password hashing threads",
		  hash_pool_thread_count(server->pool));
	return server;
}

static void delayed_free(struct delayed_reply *d)
{
	struct auth_server *server = d->server;
	DLLIST_REMOVE(&server->delayed, d);
	timeout_remove(&d->timeout);
	json_decref(d->reply);
	free(d);
}

void auth_server_destroy(struct auth_server **_server)
{
	struct auth_server *server = *_server;
	if (server == NULL)
		return;
	*_server = NULL;
	/* jobs still in the pool are dropped (their done callbacks only free them) */
	for (struct auth_job *job = server->jobs; job != NULL; job = job->next)
		job->conn = NULL;
	hash_pool_destroy(&server->pool);
	while (server->delayed != NULL)
		delayed_free(server->delayed);
	users_db_destroy(&server->db);
	redis_users_destroy(&server->redis);
	lockout_destroy(&server->lockout);
	if (server->demo_hash != NULL)
		i_free_secret(server->demo_hash, strlen(server->demo_hash));
	password_dummy_deinit();
	free(server);
}

void auth_server_conn_closed(struct auth_server *server, struct ipc_conn *conn)
{
	struct delayed_reply *d = server->delayed, *next;
	for (struct auth_job *job = server->jobs; job != NULL; job = job->next) {
		if (job->conn == conn)
			job->conn = NULL;   /* its result is dropped when it comes */
	}
	for (; d != NULL; d = next) {
		next = d->next;
		if (d->conn == conn)
			delayed_free(d);
	}
}

static void delayed_send(void *context)
{
	struct delayed_reply *d = context;
	ipc_conn_send(d->conn, d->reply, -1);
	delayed_free(d);
}

/* Takes the reply reference. */
static void reply_later(struct auth_server *server, struct ipc_conn *conn, json_t *reply)
{
	if (server->set.failure_delay_ms == 0) {
		ipc_conn_send(conn, reply, -1);
		json_decref(reply);
		return;
	}
	struct delayed_reply *d = i_new0(struct delayed_reply);
	d->server = server;
	d->conn = conn;
	d->reply = reply;
	d->next = server->delayed;
	if (d->next != NULL)
		d->next->prev = d;
	server->delayed = d;
	d->timeout = timeout_add(server->loop, server->set.failure_delay_ms, delayed_send, d);
}

static void reply_now(struct ipc_conn *conn, json_t *reply)
{
	ipc_conn_send(conn, reply, -1);
	json_decref(reply);
}

/* ---- users ---- */

static void auth_user_free(struct auth_user *user)
{
	if (user->from_db)
		users_db_user_free(&user->db_user);
	else
		free(user->roles);
	json_decref(user->redis_record);
	user->redis_record = NULL;
	user->roles = NULL;
}

static int lookup_redis_user(struct auth_server *server, const char *name,
			     struct auth_user *user_r, const char **reason_r)
{
	json_t *rec;
	int ret = redis_users_get(server->redis, name, &rec);
	if (ret == REDIS_USERS_NOTFOUND)
		return 0;
	if (ret < 0) {
		*reason_r = "redis unavailable";
		return -1;
	}
	const json_t *roles = json_object_get(rec, "roles");
	user_r->redis_record = rec;
	user_r->name = name;
	user_r->hash = json_string_value(json_object_get(rec, "password"));
	user_r->mailbox_path = json_string_value(json_object_get(json_object_get(rec, "params"),
								  "mailbox_path"));
	user_r->hash_origin = "redis user record";
	user_r->roles = i_new(char *, json_array_size(roles) + 1);
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(roles); i++) {
		const char *role = json_string_value(json_array_get(roles, i));
		if (role != NULL)
			user_r->roles[n++] = (char *)role;
	}
	user_r->roles[n] = NULL;
	return 1;
}

/* 1 found, 0 unknown, -1 temporary failure (*reason_r). */
static int lookup_user(struct auth_server *server, const char *name,
		       struct auth_user *user_r, const char **reason_r)
{
	memset(user_r, 0, sizeof(*user_r));
	switch (server->set.backend) {
	case AUTH_BACKEND_DICT:
		if (strcmp(name, server->set.demo_user) != 0)
			return 0;
		user_r->name = server->set.demo_user;
		user_r->hash = server->demo_hash;
		user_r->hash_origin = "[dict] demo_password";
		user_r->roles = i_new(char *, 1);
		user_r->roles[0] = NULL;
		return 1;
	case AUTH_BACKEND_REDIS:
		return lookup_redis_user(server, name, user_r, reason_r);
	case AUTH_BACKEND_MAILDIR:
		break;
	}
	const char *error;
	(void)users_db_refresh(server->db, &error);   /* keeps the old data on failure */
	if (users_db_lookup(server->db, name, &user_r->db_user) <= 0)
		return 0;
	user_r->from_db = true;
	user_r->name = user_r->db_user.name;
	user_r->mailbox_path = user_r->db_user.mailbox_path;
	user_r->hash = user_r->db_user.hash;
	user_r->roles = user_r->db_user.roles;
	snprintf(user_r->origin_buf, sizeof(user_r->origin_buf), "%s:%u",
		 user_r->db_user.shadow_path, user_r->db_user.shadow_line);
	user_r->hash_origin = user_r->origin_buf;
	return 1;
}

static bool user_has_role(const struct auth_user *user, const char *role)
{
	for (char **r = user->roles; r != NULL && *r != NULL; r++) {
		if (strcmp(*r, role) == 0)
			return true;
	}
	return false;
}

/* {name, mailbox_path?, params:{mailbox_path?}, roles:[...]}: never a secret. */
static json_t *user_json(const struct auth_user *user)
{
	json_t *params = json_object(), *roles = json_array();
	json_t *obj = json_pack("{s:s}", "name", user->name);
	if (user->mailbox_path != NULL) {
		json_object_set_new(obj, "mailbox_path", json_string(user->mailbox_path));
		json_object_set_new(params, "mailbox_path", json_string(user->mailbox_path));
	}
	for (char **r = user->roles; r != NULL && *r != NULL; r++)
		json_array_append_new(roles, json_string(*r));
	json_object_set_new(obj, "params", params);
	json_object_set_new(obj, "roles", roles);
	return obj;
}

static json_t *reply_user(const json_t *request, const struct auth_user *user)
{
	json_t *reply = ipc_reply_ok(request);
	json_object_set_new(reply, "user", user_json(user));
	return reply;
}

static json_t *reply_unavailable(const json_t *request, const char *reason)
{
	json_t *reply = ipc_reply_tempfail(request, reason);
	json_object_set_new(reply, "code", json_string("UNAVAILABLE"));
	return reply;
}

static const char *req_str(const json_t *request, const char *key)
{
	return json_string_value(json_object_get(request, key));
}

/* ---- ops ---- */

static uint64_t now_secs(struct auth_server *server)
{
	return ioloop_now_msecs(server->loop) / 1000;
}

static void login_failed(struct auth_server *server, struct ipc_conn *conn,
			 const json_t *request, const char *user, const char *remote)
{
	lockout_failure(server->lockout, remote, user, now_secs(server));
	log_info("auth: login failed: user=%s remote=%s", user, remote != NULL ? remote : "-");
	reply_later(server, conn, ipc_reply_error(request, "AUTHENTICATIONFAILED",
						  AUTH_FAILED_MSG));
}

/* Authenticated as user; act as authzid when given (needs role admin or sudo). */
static void login_authorize(struct auth_server *server, struct ipc_conn *conn,
			    const json_t *request, struct auth_user *user,
			    const char *authzid)
{
	struct auth_user target;
	const char *reason;
	if (authzid == NULL || authzid[0] == '\0' || strcmp(authzid, user->name) == 0) {
		reply_now(conn, reply_user(request, user));
		return;
	}
	if (!user_has_role(user, "admin") && !user_has_role(user, "sudo")) {
		reply_now(conn, ipc_reply_error(request, "AUTHORIZATIONFAILED",
						"Authorization failed."));
		return;
	}
	int ret = lookup_user(server, authzid, &target, &reason);
	if (ret < 0)
		reply_now(conn, reply_unavailable(request, reason));
	else if (ret == 0)
		reply_now(conn, ipc_reply_error(request, "AUTHORIZATIONFAILED",
						"Authorization failed."));
	else
		reply_now(conn, reply_user(request, &target));
	if (ret > 0)
		auth_user_free(&target);
}

/* ---- jobs in the hash pool ---- */

static struct auth_job *auth_job_new(struct auth_server *server, struct ipc_conn *conn,
				     const json_t *request, enum auth_job_kind kind)
{
	const json_t *pw = json_object_get(request, "password");
	struct auth_job *job = i_new0(struct auth_job);
	job->server = server;
	job->conn = conn;
	job->kind = kind;
	/* shallow copy: the members are shared, the password is not kept */
	job->request = json_copy((json_t *)request);
	json_object_del(job->request, "password");
	job->password_len = json_string_length(pw);
	job->password = i_memdup(json_string_value(pw), job->password_len + 1);
	return job;
}

static void auth_job_free(struct auth_job *job)
{
	i_free_secret(job->password, job->password_len);
	if (job->hash != NULL)
		i_free_secret(job->hash, strlen(job->hash));
	free(job->scheme);
	free(job->new_hash);
	if (job->have_user)
		auth_user_free(&job->user);
	json_decref(job->request);
	free(job);
}

/* Runs in a hash thread: only the job's own strings. */
static void auth_job_work(void *context)
{
	struct auth_job *job = context;
	if (job->kind == AUTH_JOB_HASH) {
		job->hash_ret = password_hash(job->password, job->password_len, job->scheme,
					      &job->new_hash, &job->error);
	} else if (job->hash != NULL) {
		job->result = password_verify(job->password, job->password_len, job->hash,
					      &job->error);
	} else {
		job->result = PASSWORD_MISMATCH;
	}
	/* the secret is not needed any more: wipe it now, not when the loop gets here */
	sodium_memzero(job->password, job->password_len);
}

static void login_done(struct auth_job *job)
{
	struct auth_server *server = job->server;
	const char *name = req_str(job->request, "user"), *remote = req_str(job->request, "remote");
	if (!job->may_login) {
		login_failed(server, job->conn, job->request, name, remote);
		return;
	}
	if (job->result == PASSWORD_UNUSABLE)
		log_error("auth: user %s: unusable password hash (%s): %s",
			  job->user.name, job->user.hash_origin, job->error);
	if (job->result != PASSWORD_MATCH) {
		login_failed(server, job->conn, job->request, name, remote);
		return;
	}
	/* failures of parallel attempts may have locked this key meanwhile: a success
	 * is not given past the lockout, as when requests were checked one by one */
	if (lockout_is_locked(server->lockout, remote, name, now_secs(server))) {
		reply_later(server, job->conn, reply_unavailable(job->request,
			"Too many failed logins, try again later."));
		return;
	}
	lockout_success(server->lockout, remote, name);
	login_authorize(server, job->conn, job->request, &job->user,
			req_str(job->request, "authzid"));
}

static void hash_done(struct auth_job *job)
{
	if (job->hash_ret < 0) {
		reply_now(job->conn, ipc_reply_error(job->request, "BADREQUEST", job->error));
		return;
	}
	json_t *reply = ipc_reply_ok(job->request);
	json_object_set_new(reply, "hash", json_string(job->new_hash));
	reply_now(job->conn, reply);
}

/* Back on the loop thread. */
static void auth_job_done(void *context, bool ran)
{
	struct auth_job *job = context;
	struct auth_server *server = job->server;
	DLLIST_REMOVE(&server->jobs, job);
	server->job_bytes -= job->password_len;
	if (ran && job->conn != NULL) {
		if (job->kind == AUTH_JOB_LOGIN)
			login_done(job);
		else
			hash_done(job);
	}
	auth_job_free(job);
}

/* Hand job to the pool; when it is full, answer busy (a temporary failure). */
static void auth_job_submit(struct auth_job *job)
{
	struct auth_server *server = job->server;
	if (server->job_bytes + job->password_len > AUTH_HASH_MAX_BYTES ||
	    hash_pool_submit(server->pool, auth_job_work, auth_job_done, job) < 0) {
		reply_now(job->conn, reply_unavailable(job->request, AUTH_BUSY_REASON));
		auth_job_free(job);
		return;
	}
	job->next = server->jobs;
	if (job->next != NULL)
		job->next->prev = job;
	server->jobs = job;
	server->job_bytes += job->password_len;
}

static void op_login(struct auth_server *server, struct ipc_conn *conn,
		     const json_t *request)
{
	const char *name = req_str(request, "user"), *password = req_str(request, "password");
	const char *remote = req_str(request, "remote"), *reason = NULL;
	if (name == NULL || password == NULL) {
		reply_now(conn, ipc_reply_error(request, "BADREQUEST",
						"user and password are required"));
		return;
	}
	if (lockout_is_locked(server->lockout, remote, name, now_secs(server))) {
		reply_later(server, conn, reply_unavailable(request,
			"Too many failed logins, try again later."));
		return;
	}
	struct auth_job *job = auth_job_new(server, conn, request, AUTH_JOB_LOGIN);
	/* the copy shares the "user" string: the lookup result may point into it */
	int ret = lookup_user(server, req_str(job->request, "user"), &job->user, &reason);
	if (ret < 0) {
		reply_now(conn, reply_unavailable(request, reason));
		auth_job_free(job);
		return;
	}
	job->have_user = ret > 0;
	job->may_login = ret > 0 && !password_is_disabled(job->user.hash);
	/* an unknown user costs what a wrong password costs */
	const char *hash = job->may_login ? job->user.hash : password_dummy_hash();
	job->hash = hash == NULL ? NULL : i_strdup(hash);
	auth_job_submit(job);
}

/* RFC 2195: hex(HMAC-MD5(secret, challenge)); only the dict demo user's clear-text
 * secret is known, so only it can use CRAM-MD5. */
static bool cram_check(struct auth_server *server, const char *name,
		       const char *challenge, const char *response)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char hex[2 * 16 + 1], *secret;
	const char *error;
	if (server->set.backend != AUTH_BACKEND_DICT ||
	    strcmp(name, server->set.demo_user) != 0 ||
	    saslprep(server->set.demo_password, strlen(server->set.demo_password),
		     &secret, &error) < 0)
		return false;
	HMAC(EVP_md5(), secret, (int)strlen(secret), (const unsigned char *)challenge,
	     strlen(challenge), mac, &mac_len);
	i_free_secret(secret, strlen(secret));
	if (mac_len != 16)
		return false;
	sodium_bin2hex(hex, sizeof(hex), mac, mac_len);
	return strlen(response) == 32 && CRYPTO_memcmp(hex, response, 32) == 0;
}

static void op_cram(struct auth_server *server, struct ipc_conn *conn,
		    const json_t *request)
{
	const char *name = req_str(request, "user"), *remote = req_str(request, "remote");
	const char *challenge = req_str(request, "challenge");
	const char *response = req_str(request, "response"), *reason;
	struct auth_user user;
	if (name == NULL || challenge == NULL || response == NULL) {
		reply_now(conn, ipc_reply_error(request, "BADREQUEST",
						"user, challenge and response are required"));
		return;
	}
	if (lockout_is_locked(server->lockout, remote, name, now_secs(server))) {
		reply_later(server, conn, reply_unavailable(request,
			"Too many failed logins, try again later."));
		return;
	}
	if (!cram_check(server, name, challenge, response)) {
		login_failed(server, conn, request, name, remote);
		return;
	}
	if (lookup_user(server, name, &user, &reason) <= 0) {
		login_failed(server, conn, request, name, remote);
		return;
	}
	lockout_success(server->lockout, remote, name);
	reply_now(conn, reply_user(request, &user));
	auth_user_free(&user);
}

static void op_user(struct auth_server *server, struct ipc_conn *conn,
		    const json_t *request)
{
	const char *name = req_str(request, "user"), *reason = NULL;
	struct auth_user user;
	if (name == NULL) {
		reply_now(conn, ipc_reply_error(request, "BADREQUEST", "user is required"));
		return;
	}
	int ret = lookup_user(server, name, &user, &reason);
	if (ret < 0) {
		reply_now(conn, reply_unavailable(request, reason));
	} else if (ret == 0) {
		reply_now(conn, ipc_reply_error(request, "NOTFOUND", "No such user."));
	} else {
		reply_now(conn, reply_user(request, &user));
		auth_user_free(&user);
	}
}

static void op_hash(struct auth_server *server, struct ipc_conn *conn,
		    const json_t *request)
{
	const char *scheme = req_str(request, "scheme");
	if (!json_is_string(json_object_get(request, "password"))) {
		reply_now(conn, ipc_reply_error(request, "BADREQUEST", "password is required"));
		return;
	}
	if (scheme == NULL)
		scheme = server->set.hash_scheme;
	if (!password_scheme_is_valid(scheme)) {
		reply_now(conn, ipc_reply_error(request, "BADREQUEST", "unknown hash scheme"));
		return;
	}
	struct auth_job *job = auth_job_new(server, conn, request, AUTH_JOB_HASH);
	job->scheme = i_strdup(scheme);
	auth_job_submit(job);
}

static const struct {
	const char *op;
	void (*func)(struct auth_server *, struct ipc_conn *, const json_t *);
} auth_ops[] = {
	{ "auth.login", op_login },
	{ "auth.cram", op_cram },
	{ "auth.user", op_user },
	{ "auth.hash", op_hash },
};

void auth_server_handle(struct auth_server *server, struct ipc_conn *conn,
			const json_t *request)
{
	const char *op = req_str(request, "op");
	for (size_t i = 0; op != NULL && i < sizeof(auth_ops) / sizeof(auth_ops[0]); i++) {
		if (strcmp(auth_ops[i].op, op) == 0) {
			auth_ops[i].func(server, conn, request);
			return;
		}
	}
	log_info("auth: unknown op %s", op == NULL ? "(none)" : op);
	reply_now(conn, ipc_reply_error(request, "BADREQUEST", "Unknown op."));
}
