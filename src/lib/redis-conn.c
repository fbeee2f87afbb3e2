/* Synchronous Redis connection with timeouts, back-off, cluster redirections and
 * script caching (see redis-conn.h). */
#include "redis-conn.h"
#include "redis-cluster.h"
#include "redis-net.h"
#include "alloc.h"
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#include <time.h>
#include <openssl/sha.h>

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define MAX_REDIRECTS 5

static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";

struct redis_node {
	struct redis_url url;        /* node 0: the configured address */
	struct redis_net *net;
	uint64_t retry_at_ms;        /* no attempt before this (monotonic) */
	uint64_t last_used;
	unsigned int backoff_ms;
	bool up, logged_down;
};

struct redis_conn {
	struct redis_node nodes[REDIS_CONN_MAX_NODES];
	unsigned int node_count;
	uint8_t *slot_node;          /* NULL until a MOVED: slot -> node index */
	uint64_t use_counter;
	bool up;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void node_init(struct redis_node *node)
{
	node->up = true;
	node->backoff_ms = BACKOFF_MIN_MS;
}

static void node_clear(struct redis_node *node)
{
	redis_net_destroy(&node->net);
	redis_url_free(&node->url);
	memset(node, 0, sizeof(*node));
}

struct redis_conn *redis_conn_create(struct redis_url *url)
{
	struct redis_conn *conn = i_new0(struct redis_conn);
	conn->nodes[0].url = *url;
	memset(url, 0, sizeof(*url));
	node_init(&conn->nodes[0]);
	conn->node_count = 1;
	conn->up = true;
	return conn;
}

void redis_conn_destroy(struct redis_conn **_conn)
{
	struct redis_conn *conn = *_conn;
	if (conn == NULL)
		return;
	*_conn = NULL;
	for (unsigned int i = 0; i < conn->node_count; i++)
		node_clear(&conn->nodes[i]);
	free(conn->slot_node);
	free(conn);
}

const struct redis_url *redis_conn_url(const struct redis_conn *conn)
{
	return &conn->nodes[0].url;
}

bool redis_conn_is_up(const struct redis_conn *conn) { return conn->up; }

static void node_failed(struct redis_node *node, const char *_why)
{
	char why[256];
	snprintf(why, sizeof(why), "%s", _why);   /* may point into a static buffer */
	redis_net_destroy(&node->net);
	node->up = false;
	node->retry_at_ms = now_ms() + node->backoff_ms;
	node->backoff_ms = node->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			   node->backoff_ms * 2;
	if (!node->logged_down) {
		char *where = redis_url_describe(&node->url);
		log_error("redis %s: %s", where, why);
		free(where);
		node->logged_down = true;
	}
}

static int node_ensure(struct redis_node *node)
{
	const char *error;
	if (node->net != NULL)
		return 0;
	if (!node->up && now_ms() < node->retry_at_ms)
		return -1;
	node->net = redis_net_connect(&node->url, &error);
	if (node->net == NULL) {
		node_failed(node, error);
		return -1;
	}
	if (node->logged_down) {
		char *where = redis_url_describe(&node->url);
		log_info("redis %s: connected again", where);
		free(where);
	}
	node->up = true;
	node->logged_down = false;
	node->backoff_ms = BACKOFF_MIN_MS;
	return 0;
}

/* After a node failed, its slots go back to the first node, which answers MOVED with
 * the current owner (a fail-over may have moved them to a replica). */
static void slot_map_forget(struct redis_conn *conn, const struct redis_node *node)
{
	uint8_t idx = (uint8_t)(node - conn->nodes);
	if (conn->slot_node == NULL || idx == 0)
		return;
	for (unsigned int slot = 0; slot < REDIS_CLUSTER_SLOTS; slot++) {
		if (conn->slot_node[slot] == idx)
			conn->slot_node[slot] = 0;
	}
}

/* Write data and read nreplies replies into replies_r (all, or -1 with none; a node
 * other than the first then loses its slots). */
static int node_send(struct redis_conn *conn, struct redis_node *node, const char *data,
		     size_t len, unsigned int nreplies, redisReply **replies_r)
{
	const char *error;
	if (node_ensure(node) < 0) {
		slot_map_forget(conn, node);
		return -1;
	}
	node->last_used = ++conn->use_counter;
	if (redis_net_write(node->net, data, len, &error) < 0) {
		node_failed(node, error);
		slot_map_forget(conn, node);
		return -1;
	}
	for (unsigned int i = 0; i < nreplies; i++) {
		if (redis_net_read_reply(node->net, &replies_r[i], &error) < 0) {
			node_failed(node, error);
			slot_map_forget(conn, node);
			for (unsigned int j = 0; j < i; j++)
				freeReplyObject(replies_r[j]);
			return -1;
		}
	}
	return 0;
}

/* The node for host:port, added when new (the least recently used one is replaced
 * when the table is full). */
static struct redis_node *node_get(struct redis_conn *conn, const char *host,
				   unsigned int port)
{
	unsigned int victim = 1;
	for (unsigned int i = 0; i < conn->node_count; i++) {
		const struct redis_url *url = &conn->nodes[i].url;
		if (url->host != NULL && strcmp(url->host, host) == 0 && url->port == port)
			return &conn->nodes[i];
		if (i > 0 && conn->nodes[i].last_used < conn->nodes[victim].last_used)
			victim = i;
	}
	if (conn->node_count < REDIS_CONN_MAX_NODES) {
		victim = conn->node_count++;
	} else {
		node_clear(&conn->nodes[victim]);
		slot_map_forget(conn, &conn->nodes[victim]);
	}
	struct redis_node *node = &conn->nodes[victim];
	redis_url_copy_node(&conn->nodes[0].url, host, port, &node->url);
	node_init(node);
	return node;
}

static void slot_map_set(struct redis_conn *conn, unsigned int slot,
			 const struct redis_node *node)
{
	if (conn->slot_node == NULL)
		conn->slot_node = i_new(uint8_t, REDIS_CLUSTER_SLOTS);  /* zeroed */
	conn->slot_node[slot] = (uint8_t)(node - conn->nodes);
}

static bool arg_is(const char *const *argv, const size_t *lens, int i, const char *word)
{
	size_t len = lens != NULL ? lens[i] : strlen(argv[i]);
	return len == strlen(word) && strncasecmp(argv[i], word, len) == 0;
}

/* The node for a command: by the slot of its first key once the map exists. */
static struct redis_node *route(struct redis_conn *conn, int argc, const char *const *argv,
				const size_t *lens)
{
	int key = 1;
	if (conn->slot_node == NULL || argc < 2)
		return &conn->nodes[0];
	if (arg_is(argv, lens, 0, "EVALSHA") || arg_is(argv, lens, 0, "EVAL")) {
		if (argc < 4 || arg_is(argv, lens, 2, "0"))
			return &conn->nodes[0];
		key = 3;
	}
	size_t len = lens != NULL ? lens[key] : strlen(argv[key]);
	return &conn->nodes[conn->slot_node[redis_cluster_key_slot(argv[key], len)]];
}

/* Follow MOVED/ASK replies of one command (cmd, len) first sent to the node named
 * origin_host (NULL for a UNIX socket; a copy, as node_get may replace that node while
 * an earlier command of the same pipeline is redirected). 0 with *reply_io the final
 * reply, -1 (reply freed, NULL) when a node was unreachable. */
static int follow_redirects(struct redis_conn *conn, const char *origin_host,
			    const char *cmd, size_t len, redisReply **reply_io)
{
	struct redis_node *node = NULL;    /* where the last redirection went */
	for (unsigned int hops = 0; hops < MAX_REDIRECTS; hops++) {
		redisReply *reply = *reply_io, *replies[2];
		struct redis_redirect rd;
		if (reply->type != REDIS_REPLY_ERROR ||
		    redis_cluster_parse_redirect(reply->str, reply->len, &rd) != 1)
			return 0;
		const char *asked = node != NULL ? node->url.host : origin_host;
		if (rd.host[0] == '\0' && asked == NULL)
			return 0;    /* no host to go to: the error goes up */
		if (rd.host[0] == '\0')    /* copied: node_get may replace a node */
			snprintf(rd.host, sizeof(rd.host), "%s", asked);
		node = node_get(conn, rd.host, rd.port);
		freeReplyObject(reply);
		*reply_io = NULL;
		if (!rd.ask) {
			slot_map_set(conn, rd.slot, node);
			if (node_send(conn, node, cmd, len, 1, reply_io) < 0)
				return -1;
			continue;
		}
		char *both = i_malloc(sizeof(asking_cmd) - 1 + len);
		memcpy(both, asking_cmd, sizeof(asking_cmd) - 1);
		memcpy(both + sizeof(asking_cmd) - 1, cmd, len);
		int ret = node_send(conn, node, both, sizeof(asking_cmd) - 1 + len, 2, replies);
		free(both);
		if (ret < 0)
			return -1;
		freeReplyObject(replies[0]);
		*reply_io = replies[1];
	}
	return 0;
}

/* Send the formatted commands [buf + offs[i], buf + offs[i + 1]) to node as one
 * pipeline, then follow redirections per command. */
static int conn_roundtrip(struct redis_conn *conn, struct redis_node *node, const char *buf,
			  const size_t *offs, unsigned int count, redisReply **replies_r)
{
	char *origin_host = node->url.host != NULL ? i_strdup(node->url.host) : NULL;
	int ret = node_send(conn, node, buf, offs[count], count, replies_r);
	for (unsigned int i = 0; ret == 0 && i < count; i++) {
		ret = follow_redirects(conn, origin_host, buf + offs[i], offs[i + 1] - offs[i],
				       &replies_r[i]);
		if (ret < 0) {
			for (unsigned int j = 0; j < count; j++) {
				if (j != i)
					freeReplyObject(replies_r[j]);
			}
		}
	}
	free(origin_host);
	conn->up = ret == 0;
	return ret;
}

int redis_conn_pipeline(struct redis_conn *conn, unsigned int count, const int *argcs,
			const char *const *const *argvs, const size_t *const *lens,
			redisReply **replies_r)
{
	if (count == 0)
		return 0;
	char **cmds = i_new(char *, count);
	size_t *offs = i_new(size_t, count + 1);
	for (unsigned int i = 0; i < count; i++) {
		int len = redisFormatCommandArgv(&cmds[i], argcs[i], (const char **)argvs[i],
						 lens[i]);
		if (len < 0)
			i_assert(!"out of memory formatting a Redis command");
		offs[i + 1] = offs[i] + (size_t)len;
	}
	/* One command (an APPEND's message bytes) is sent as formatted, not copied. */
	char *buf = cmds[0];
	if (count > 1) {
		buf = i_malloc(offs[count]);
		for (unsigned int i = 0; i < count; i++) {
			memcpy(buf + offs[i], cmds[i], offs[i + 1] - offs[i]);
			redisFreeCommand(cmds[i]);
		}
	}
	struct redis_node *node = route(conn, argcs[0], argvs[0], lens[0]);
	int ret = conn_roundtrip(conn, node, buf, offs, count, replies_r);
	if (count > 1)
		free(buf);
	else
		redisFreeCommand(buf);
	free(offs);
	free(cmds);
	return ret;
}

int redis_conn_commandv(struct redis_conn *conn, int argc, const char **argv,
			const size_t *lens, redisReply **reply_r)
{
	const char *const *argvs[1] = { argv };
	const size_t *lenss[1] = { lens };
	return redis_conn_pipeline(conn, 1, &argc, argvs, lenss, reply_r);
}

/* printf-style commands carry no key we could route by: they go to the first node
 * (redirections are still followed). */
int redis_conn_command(struct redis_conn *conn, redisReply **reply_r, const char *fmt, ...)
{
	char *cmd;
	va_list args;
	va_start(args, fmt);
	int len = redisvFormatCommand(&cmd, fmt, args);
	va_end(args);
	if (len < 0)
		i_assert(!"bad Redis command format");
	size_t offs[2] = { 0, (size_t)len };
	int ret = conn_roundtrip(conn, &conn->nodes[0], cmd, offs, 1, reply_r);
	redisFreeCommand(cmd);
	return ret;
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
