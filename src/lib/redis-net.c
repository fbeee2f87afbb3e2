/* Redis transport: TCP / UNIX / TLS sockets with bounded waits (see redis-net.h). */
#include "redis-net.h"
#include "alloc.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define NET_READ_CHUNK 16384
/* The pub/sub connection reads at most this much per callback (other sessions go
 * on; what OpenSSL still holds is read in the next round). */
#define NET_READS_PER_CALLBACK 4
/* net_io: would block, wait for *wait_r. */
#define NET_AGAIN (-2)

struct redis_net {
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	redisReader *reader;
	unsigned int command_timeout_ms;
	/* Blocking socket with SO_RCVTIMEO/SO_SNDTIMEO = the command timeout (one
	 * syscall per read, no poll); false after redis_net_set_nonblocking(). */
	bool blocking;
	/* What the reply being parsed has cost so far (reset when one completes), against
	 * the limits: a broken or hostile server cannot make us allocate without bound. */
	size_t reply_bytes, reply_objects;
	size_t max_reply_bytes, max_reply_objects;
	bool reply_too_large;
	redisReplyObjectFunctions bounded_fn;    /* hiredis's, counting objects */
	const redisReplyObjectFunctions *hiredis_fn;
};

static char net_error[256];

static const char *net_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *net_fail(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(net_error, sizeof(net_error), fmt, args);
	va_end(args);
	return net_error;
}

/* The newest OpenSSL error as text (the queue is cleared). */
static const char *ssl_error_text(void)
{
	static char text[160];
	unsigned long err = ERR_get_error(), next;
	while ((next = ERR_get_error()) != 0)
		err = next;
	if (err == 0)
		return errno != 0 ? strerror(errno) : "connection closed";
	ERR_error_string_n(err, text, sizeof(text));
	return text;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 1 ready, 0 deadline passed, -1 poll error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return 0;
		int ret = poll(&pfd, 1, (int)(deadline - now));
		if (ret > 0)
			return 1;
		if (ret < 0 && errno != EINTR)
			return -1;
	}
}

/* Finish a non-blocking connect: 0 connected, -1 with errno. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
	int err = 0;
	socklen_t errlen = sizeof(err);
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return -1;
	int ret = wait_fd(fd, POLLOUT, deadline);
	if (ret <= 0) {
		errno = ret == 0 ? ETIMEDOUT : errno;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

static int connect_unix(const char *path, uint64_t deadline, const char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = net_fail("socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect_wait(fd, (struct sockaddr *)&sun, sizeof(sun), deadline) < 0) {
		*error_r = net_fail("connect to %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int connect_tcp(const char *host, unsigned int port, uint64_t deadline,
		       const char **error_r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int gai = getaddrinfo(host, portstr, &hints, &ai);
	if (gai != 0) {
		*error_r = net_fail("resolving %s: %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect_wait(fd, a->ai_addr, a->ai_addrlen, deadline) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		*error_r = net_fail("connect to %s:%u: %s", host, port,
				    strerror(err != 0 ? err : errno));
		return -1;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return fd;
}

/* Encrypted keys are refused, never prompted for. */
static int no_password(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf; (void)size; (void)rwflag; (void)userdata;
	return 0;
}

static SSL_CTX *tls_client_context(const struct redis_url *url, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = net_fail("TLS: %s", ssl_error_text());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_passwd_cb(ctx, no_password);
	const char *what = url->tls_ca_file;
	int ok = url->tls_ca_file != NULL ?
		SSL_CTX_load_verify_locations(ctx, url->tls_ca_file, NULL) :
		SSL_CTX_set_default_verify_paths(ctx);
	if (ok == 1 && url->tls_cert_file != NULL) {
		const char *key = url->tls_key_file != NULL ? url->tls_key_file :
				  url->tls_cert_file;
		what = url->tls_cert_file;
		ok = SSL_CTX_use_certificate_chain_file(ctx, url->tls_cert_file);
		if (ok == 1) {
			what = key;
			ok = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
			     SSL_CTX_check_private_key(ctx) == 1 ? 1 : 0;
		}
	}
	if (ok != 1) {
		*error_r = net_fail("TLS: %s: %s", what != NULL ? what : "system CA store",
				    ssl_error_text());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool is_ip_address(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static int tls_setup(struct redis_net *net, const struct redis_url *url, const char **error_r)
{
	const char *name = url->tls_server_name != NULL ? url->tls_server_name : url->host;
	net->ssl_ctx = tls_client_context(url, error_r);
	if (net->ssl_ctx == NULL)
		return -1;
	net->ssl = SSL_new(net->ssl_ctx);
	if (net->ssl == NULL || SSL_set_fd(net->ssl, net->fd) != 1) {
		*error_r = net_fail("TLS: %s", ssl_error_text());
		return -1;
	}
	int ok;
	if (is_ip_address(name)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(net->ssl), name);
	} else {
		ok = SSL_set_tlsext_host_name(net->ssl, name) == 1 &&
		     SSL_set1_host(net->ssl, name) == 1;
	}
	if (!ok) {
		*error_r = net_fail("TLS: bad server name %s", name);
		return -1;
	}
	return 0;
}

static int tls_handshake(struct redis_net *net, uint64_t deadline, const char **error_r)
{
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int ret = SSL_connect(net->ssl);
		if (ret == 1)
			return 0;
		int err = SSL_get_error(net->ssl, ret);
		short events = err == SSL_ERROR_WANT_READ ? POLLIN :
			       err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (events == 0) {
			long verify = SSL_get_verify_result(net->ssl);
			if (verify != X509_V_OK) {
				*error_r = net_fail("TLS certificate verification failed: %s",
						    X509_verify_cert_error_string(verify));
			} else {
				*error_r = net_fail("TLS handshake failed: %s", ssl_error_text());
			}
			return -1;
		}
		if (wait_fd(net->fd, events, deadline) <= 0) {
			*error_r = net_fail("TLS handshake timed out");
			return -1;
		}
	}
}

/* What an SSL_read/SSL_write result n <= 0 means: NET_AGAIN (*wait_r says for what),
 * 0 for the peer's close_notify on a read, else -1 with *error_r. */
static ssize_t ssl_failure(struct redis_net *net, int n, const char *what, short *wait_r,
			   const char **error_r)
{
	switch (SSL_get_error(net->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		*wait_r = POLLIN;
		return NET_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*wait_r = POLLOUT;
		return NET_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		if (strcmp(what, "read") == 0)
			return 0;
		/* fall through */
	default:
		*error_r = net_fail("TLS %s: %s", what, ssl_error_text());
		return -1;
	}
}

/* One read (writing=false) or write: >0 bytes, 0 EOF, -1 error (*error_r), NET_AGAIN
 * (*wait_r). The plain socket and the TLS session differ only in the calls made. */
static ssize_t net_io(struct redis_net *net, bool writing, void *buf, size_t size,
		      short *wait_r, const char **error_r)
{
	const char *what = writing ? "write" : "read";
	if (net->ssl == NULL) {
		ssize_t n = writing ? send(net->fd, buf, size, MSG_NOSIGNAL) :
				      read(net->fd, buf, size);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			*wait_r = writing ? POLLOUT : POLLIN;
			return NET_AGAIN;
		}
		*error_r = net_fail("%s: %s", what, strerror(errno));
		return -1;
	}
	int len = size > INT32_MAX ? INT32_MAX : (int)size;
	ERR_clear_error();
	errno = 0;
	int n = writing ? SSL_write(net->ssl, buf, len) : SSL_read(net->ssl, buf, len);
	return n > 0 ? n : ssl_failure(net, n, what, wait_r, error_r);
}

/* Before retrying an operation that would block: a blocking socket waits inside the
 * call itself (up to the socket timeout), so only the deadline is checked. */
static int net_wait(struct redis_net *net, short events, uint64_t deadline)
{
	if (net->blocking)
		return now_ms() < deadline ? 1 : 0;
	return wait_fd(net->fd, events, deadline);
}

int redis_net_write(struct redis_net *net, const char *data, size_t len,
		    const char **error_r)
{
	uint64_t deadline = now_ms() + net->command_timeout_ms;
	size_t off = 0;
	while (off < len) {
		short wait = 0;
		ssize_t n = net_io(net, true, (char *)data + off, len - off, &wait, error_r);
		if (n > 0) {
			off += (size_t)n;
			/* a peer that reads slowly must not stretch the command timeout */
			if (off < len && now_ms() >= deadline) {
				*error_r = net_fail("write timed out");
				return -1;
			}
			continue;
		}
		if (n != NET_AGAIN)
			return -1;
		if (net_wait(net, wait, deadline) <= 0) {
			*error_r = net_fail("write timed out");
			return -1;
		}
	}
	return 0;
}

/* hiredis's reply object functions, counting the objects of the reply being parsed:
 * a reply announcing more elements than the limit fails before hiredis allocates
 * them (NULL makes the reader fail). */
static bool reply_may_grow(const redisReadTask *task, size_t objects)
{
	struct redis_net *net = task->privdata;
	if (net->reply_objects + objects > net->max_reply_objects) {
		net->reply_too_large = true;
		return false;
	}
	net->reply_objects += objects;
	return true;
}

static void *bounded_string(const redisReadTask *task, char *str, size_t len)
{
	struct redis_net *net = task->privdata;
	return reply_may_grow(task, 1) ? net->hiredis_fn->createString(task, str, len) : NULL;
}

static void *bounded_array(const redisReadTask *task, int elements)
{
	struct redis_net *net = task->privdata;
	return reply_may_grow(task, 1 + (elements > 0 ? (size_t)elements : 0)) ?
		net->hiredis_fn->createArray(task, elements) : NULL;
}

static void *bounded_integer(const redisReadTask *task, long long value)
{
	struct redis_net *net = task->privdata;
	return reply_may_grow(task, 1) ? net->hiredis_fn->createInteger(task, value) : NULL;
}

static void *bounded_nil(const redisReadTask *task)
{
	struct redis_net *net = task->privdata;
	return reply_may_grow(task, 1) ? net->hiredis_fn->createNil(task) : NULL;
}

static int reader_init(struct redis_net *net)
{
	net->reader = redisReaderCreate();
	if (net->reader == NULL)
		return -1;
	net->hiredis_fn = net->reader->fn;
	net->bounded_fn = *net->reader->fn;
	net->bounded_fn.createString = bounded_string;
	net->bounded_fn.createArray = bounded_array;
	net->bounded_fn.createInteger = bounded_integer;
	net->bounded_fn.createNil = bounded_nil;
	net->reader->fn = &net->bounded_fn;
	net->reader->privdata = net;
	net->max_reply_bytes = REDIS_NET_MAX_REPLY_BYTES;
	net->max_reply_objects = REDIS_NET_MAX_REPLY_OBJECTS;
	return 0;
}

void redis_net_set_reply_limits(struct redis_net *net, size_t max_bytes, size_t max_objects)
{
	net->max_reply_bytes = max_bytes;
	net->max_reply_objects = max_objects;
}

static const char *reply_limit_error(struct redis_net *net)
{
	return net_fail("reply over the limit (%zu bytes, %zu elements): connection dropped",
			net->max_reply_bytes, net->max_reply_objects);
}

int redis_net_next_reply(struct redis_net *net, redisReply **reply_r, const char **error_r)
{
	void *reply = NULL;
	if (redisReaderGetReply(net->reader, &reply) != REDIS_OK) {
		*error_r = net->reply_too_large ? reply_limit_error(net) :
			net_fail("protocol error: %s", net->reader->errstr);
		return -1;
	}
	if (reply == NULL)
		return 0;
	/* the next reply starts its own count (bytes of it already read are not
	 * counted: at most what this one was allowed) */
	net->reply_bytes = net->reply_objects = 0;
	*reply_r = reply;
	return 1;
}

/* Read once (or report NET_AGAIN) and feed the parser. */
static ssize_t net_fill(struct redis_net *net, short *wait_r, const char **error_r)
{
	char buf[NET_READ_CHUNK];
	ssize_t n = net_io(net, false, buf, sizeof(buf), wait_r, error_r);
	if (n == 0)
		*error_r = net_fail("connection closed by Redis");
	if (n > 0) {
		net->reply_bytes += (size_t)n;
		if (net->reply_bytes > net->max_reply_bytes) {
			*error_r = reply_limit_error(net);
			return -1;
		}
		if (redisReaderFeed(net->reader, buf, (size_t)n) != REDIS_OK) {
			*error_r = net_fail("protocol error: %s", net->reader->errstr);
			return -1;
		}
	}
	return n == 0 ? -1 : n;
}

/* A blocking socket reads at once (the read waits up to the socket timeout; the
 * deadline bounds a reply that trickles in). A non-blocking one waits before each read
 * (a reply is rarely there the moment the request went out, so trying first would
 * cost a read() failing with EAGAIN), except when OpenSSL already holds decrypted
 * bytes or the last read filled the buffer. */
int redis_net_read_reply(struct redis_net *net, redisReply **reply_r, const char **error_r)
{
	uint64_t deadline = now_ms() + net->command_timeout_ms;
	short wait = POLLIN;
	bool more = false;     /* the last read filled the buffer: read on at once */
	bool first = true;     /* a blocking read waits up to the whole timeout: only once */
	for (;;) {
		int ret = redis_net_next_reply(net, reply_r, error_r);
		if (ret != 0)
			return ret > 0 ? 0 : -1;
		if (now_ms() >= deadline ||
		    ((!net->blocking || !first) && !more &&
		     (net->ssl == NULL || SSL_pending(net->ssl) == 0) &&
		     wait_fd(net->fd, wait, deadline) <= 0)) {
			*error_r = net_fail("no reply within %u ms", net->command_timeout_ms);
			return -1;
		}
		wait = POLLIN;
		ssize_t n = net_fill(net, &wait, error_r);
		if (n == -1)
			return -1;
		more = n == NET_READ_CHUNK;
		first = false;
	}
}

int redis_net_read_available(struct redis_net *net, const char **error_r)
{
	i_assert(!net->blocking);
	for (unsigned int i = 0; i < NET_READS_PER_CALLBACK; i++) {
		short wait = 0;
		ssize_t n = net_fill(net, &wait, error_r);
		if (n == -1)
			return -1;
		if (n == NET_AGAIN)
			return 0;
	}
	return 0;
}

bool redis_net_has_buffered(const struct redis_net *net)
{
	return net->ssl != NULL && SSL_pending(net->ssl) > 0;
}

int redis_net_command_argv(struct redis_net *net, int argc, const char **argv,
			   const size_t *lens, redisReply **reply_r, const char **error_r)
{
	char *cmd;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0) {
		*error_r = net_fail("out of memory formatting a command");
		return -1;
	}
	int ret = redis_net_write(net, cmd, (size_t)len, error_r);
	redisFreeCommand(cmd);
	if (ret < 0)
		return -1;
	return redis_net_read_reply(net, reply_r, error_r);
}

/* AUTH and SELECT from the URL. */
static int net_login(struct redis_net *net, const struct redis_url *url, const char **error_r)
{
	char db[16];
	const char *argv[3];
	redisReply *reply;
	int argc = 0;
	if (url->password != NULL) {
		argv[argc++] = "AUTH";
		if (url->username != NULL)
			argv[argc++] = url->username;
		argv[argc++] = url->password;
		if (redis_net_command_argv(net, argc, argv, NULL, &reply, error_r) < 0)
			return -1;
		bool ok = reply->type != REDIS_REPLY_ERROR;
		if (!ok)
			*error_r = net_fail("AUTH refused by Redis: %.100s", reply->str);
		freeReplyObject(reply);
		if (!ok)
			return -1;
	}
	if (url->db == 0)
		return 0;
	snprintf(db, sizeof(db), "%u", url->db);
	argv[0] = "SELECT";
	argv[1] = db;
	if (redis_net_command_argv(net, 2, argv, NULL, &reply, error_r) < 0)
		return -1;
	bool ok = reply->type != REDIS_REPLY_ERROR;
	if (!ok)
		*error_r = net_fail("SELECT %u refused by Redis: %.100s", url->db, reply->str);
	freeReplyObject(reply);
	return ok ? 0 : -1;
}

static int net_set_blocking(struct redis_net *net, const char **error_r)
{
	unsigned int ms = net->command_timeout_ms;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	int flags = fcntl(net->fd, F_GETFL);
	if (flags < 0 || fcntl(net->fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(net->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(net->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		*error_r = net_fail("socket setup: %s", strerror(errno));
		return -1;
	}
	net->blocking = true;
	return 0;
}

int redis_net_set_nonblocking(struct redis_net *net, const char **error_r)
{
	int flags = fcntl(net->fd, F_GETFL);
	if (flags < 0 || fcntl(net->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		*error_r = net_fail("socket setup: %s", strerror(errno));
		return -1;
	}
	net->blocking = false;
	return 0;
}

struct redis_net *redis_net_connect(const struct redis_url *url, const char **error_r)
{
	uint64_t deadline = now_ms() + url->connect_timeout_ms;
	int fd = url->kind == REDIS_URL_UNIX ? connect_unix(url->path, deadline, error_r) :
		 connect_tcp(url->host, url->port, deadline, error_r);
	if (fd < 0)
		return NULL;
	struct redis_net *net = i_new0(struct redis_net);
	net->fd = fd;
	net->command_timeout_ms = url->command_timeout_ms;
	if (reader_init(net) < 0) {
		*error_r = net_fail("out of memory");
		redis_net_destroy(&net);
		return NULL;
	}
	if ((url->kind == REDIS_URL_TLS && (tls_setup(net, url, error_r) < 0 ||
					    tls_handshake(net, deadline, error_r) < 0)) ||
	    net_set_blocking(net, error_r) < 0 || net_login(net, url, error_r) < 0) {
		redis_net_destroy(&net);
		return NULL;
	}
	return net;
}

void redis_net_destroy(struct redis_net **_net)
{
	struct redis_net *net = *_net;
	if (net == NULL)
		return;
	*_net = NULL;
	if (net->ssl != NULL)
		SSL_free(net->ssl);   /* no close_notify: the socket may be broken */
	if (net->ssl_ctx != NULL)
		SSL_CTX_free(net->ssl_ctx);
	if (net->reader != NULL)
		redisReaderFree(net->reader);
	close(net->fd);
	free(net);
}

int redis_net_fd(const struct redis_net *net)
{
	return net->fd;
}
