/* Synchronous Redis connection with timeouts, back-off and script caching. */
#include "redis-conn.h"
#include "alloc.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/sha.h>

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

struct redis_conn {
	struct redis_url url;
	redisContext *ctx;
	uint64_t retry_at_ms;       /* no attempt before this (monotonic) */
	unsigned int backoff_ms;
	bool up, logged_down;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	return tv;
}

static int raw_setup(redisContext *ctx, const struct redis_url *url, const char **error_r)
{
	redisReply *reply = NULL;
	if (url->password != NULL) {
		if (url->username != NULL)
			reply = redisCommand(ctx, "AUTH %s %s", url->username, url->password);
		else
			reply = redisCommand(ctx, "AUTH %s", url->password);
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			*error_r = reply == NULL ? "AUTH failed: connection lost" :
				   "AUTH refused by Redis";
			if (reply != NULL)
				freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	if (url->db != 0) {
		reply = redisCommand(ctx, "SELECT %u", url->db);
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			*error_r = "SELECT of the database failed";
			if (reply != NULL)
				freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	return 0;
}

redisContext *redis_conn_connect_raw(const struct redis_url *url, const char **error_r)
{
	struct timeval tv = ms_to_tv(url->connect_timeout_ms);
	redisContext *ctx = url->kind == REDIS_URL_UNIX ?
		redisConnectUnixWithTimeout(url->path, tv) :
		redisConnectWithTimeout(url->host, (int)url->port, tv);
	if (ctx == NULL || ctx->err != 0) {
		*error_r = "connection failed";
		if (ctx != NULL)
			redisFree(ctx);
		return NULL;
	}
	if (redisSetTimeout(ctx, ms_to_tv(url->command_timeout_ms)) != REDIS_OK ||
	    raw_setup(ctx, url, error_r) < 0) {
		if (ctx->err != 0)
			*error_r = "connection failed during setup";
		redisFree(ctx);
		return NULL;
	}
	return ctx;
}

struct redis_conn *redis_conn_create(struct redis_url *url)
{
	struct redis_conn *conn = i_new0(struct redis_conn);
	conn->url = *url;
	memset(url, 0, sizeof(*url));
	conn->up = true;
	conn->backoff_ms = BACKOFF_MIN_MS;
	return conn;
}

void redis_conn_destroy(struct redis_conn **_conn)
{
	struct redis_conn *conn = *_conn;
	if (conn == NULL)
		return;
	*_conn = NULL;
	if (conn->ctx != NULL)
		redisFree(conn->ctx);
	redis_url_free(&conn->url);
	free(conn);
}

const struct redis_url *redis_conn_url(const struct redis_conn *conn) { return &conn->url; }
bool redis_conn_is_up(const struct redis_conn *conn) { return conn->up; }

static void conn_failed(struct redis_conn *conn, const char *_why)
{
	char why[128];
	snprintf(why, sizeof(why), "%s", _why);   /* may point into the context */
	if (conn->ctx != NULL) {
		redisFree(conn->ctx);
		conn->ctx = NULL;
	}
	conn->up = false;
	conn->retry_at_ms = now_ms() + conn->backoff_ms;
	conn->backoff_ms = conn->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			   conn->backoff_ms * 2;
	if (!conn->logged_down) {
		char *where = redis_url_describe(&conn->url);
		log_error("redis %s: %s", where, why);
		free(where);
		conn->logged_down = true;
	}
}

static int conn_ensure(struct redis_conn *conn)
{
	const char *error;
	if (conn->ctx != NULL)
		return 0;
	if (!conn->up && now_ms() < conn->retry_at_ms)
		return -1;
	conn->ctx = redis_conn_connect_raw(&conn->url, &error);
	if (conn->ctx == NULL) {
		conn_failed(conn, error);
		return -1;
	}
	if (conn->logged_down) {
		char *where = redis_url_describe(&conn->url);
		log_info("redis %s: connected again", where);
		free(where);
	}
	conn->up = true;
	conn->logged_down = false;
	conn->backoff_ms = BACKOFF_MIN_MS;
	return 0;
}

int redis_conn_pipeline(struct redis_conn *conn, unsigned int count, const int *argcs,
			const char *const *const *argvs, const size_t *const *lens,
			redisReply **replies_r)
{
	if (conn_ensure(conn) < 0)
		return -1;
	for (unsigned int i = 0; i < count; i++)
		redisAppendCommandArgv(conn->ctx, argcs[i], (const char **)argvs[i], lens[i]);
	for (unsigned int i = 0; i < count; i++) {
		void *reply = NULL;
		if (redisGetReply(conn->ctx, &reply) != REDIS_OK || reply == NULL) {
			conn_failed(conn, conn->ctx->errstr[0] != '\0' ? conn->ctx->errstr :
				    "connection lost");
			for (unsigned int j = 0; j < i; j++)
				freeReplyObject(replies_r[j]);
			return -1;
		}
		replies_r[i] = reply;
	}
	return 0;
}

int redis_conn_commandv(struct redis_conn *conn, int argc, const char **argv,
			const size_t *lens, redisReply **reply_r)
{
	const char *const *argvs[1] = { argv };
	const size_t *lenss[1] = { lens };
	return redis_conn_pipeline(conn, 1, &argc, argvs, lenss, reply_r);
}

int redis_conn_command(struct redis_conn *conn, redisReply **reply_r, const char *fmt, ...)
{
	va_list args;
	if (conn_ensure(conn) < 0)
		return -1;
	va_start(args, fmt);
	void *reply = redisvCommand(conn->ctx, fmt, args);
	va_end(args);
	if (reply == NULL) {
		conn_failed(conn, conn->ctx->errstr[0] != '\0' ? conn->ctx->errstr :
			    "connection lost");
		return -1;
	}
	*reply_r = reply;
	return 0;
}

void redis_script_init(struct redis_script *script, const char *body)
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	static const char hex[] = "0123456789abcdef";
	SHA1((const unsigned char *)body, strlen(body), digest);
	for (unsigned int i = 0; i < SHA_DIGEST_LENGTH; i++) {
		script->sha1[i * 2] = hex[digest[i] >> 4];
		script->sha1[i * 2 + 1] = hex[digest[i] & 0xf];
	}
	script->sha1[40] = '\0';
	script->body = body;
}

static int eval_with(struct redis_conn *conn, const char *cmd, const char *first,
		     int nkeys, int argc, const char **argv, const size_t *lens,
		     redisReply **reply_r)
{
	const char **av = i_new(const char *, (size_t)argc + 3);
	size_t *al = i_new(size_t, (size_t)argc + 3);
	char nk[16];
	snprintf(nk, sizeof(nk), "%d", nkeys);
	av[0] = cmd; al[0] = strlen(cmd);
	av[1] = first; al[1] = strlen(first);
	av[2] = nk; al[2] = strlen(nk);
	for (int i = 0; i < argc; i++) {
		av[i + 3] = argv[i];
		al[i + 3] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	int ret = redis_conn_commandv(conn, argc + 3, av, al, reply_r);
	free(av);
	free(al);
	return ret;
}

int redis_conn_eval(struct redis_conn *conn, struct redis_script *script, int nkeys,
		    int argc, const char **argv, const size_t *lens, redisReply **reply_r)
{
	redisReply *reply;
	if (eval_with(conn, "EVALSHA", script->sha1, nkeys, argc, argv, lens, &reply) < 0)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(reply);
		if (eval_with(conn, "EVAL", script->body, nkeys, argc, argv, lens, &reply) < 0)
			return -1;
	}
	*reply_r = reply;
	return 0;
}
