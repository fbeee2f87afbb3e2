/* TLS server context and non-blocking connections with OpenSSL (see tls.h).
 *
 * Each build of the configuration is a "generation": the main SSL_CTX plus one SSL_CTX
 * per SNI name. Connections hold a reference to the generation they were created
 * with, so a reload never frees the SNI table a handshake in progress may still
 * consult; OpenSSL refcounts the SSL_CTXs themselves. */
#include "tls.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* TLS 1.2 suites: forward-secret key exchange with AEAD only (TLS 1.3 suites are all
 * AEAD and keep OpenSSL's default order). */
#define TLS_DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"
/* Sessions and tickets: short lifetime, one ticket per handshake. Each process (and
 * each reload) has its own ticket key, so resumption never outlives the key. */
#define TLS_SESSION_TIMEOUT_SECS 600
#define TLS_TICKETS_PER_HANDSHAKE 1
#define TLS_SESSION_ID_CONTEXT "pymap-imap"
#define TLS_MAX_SNI_ENTRIES 256
#define TLS_MAX_SERVER_NAME_BYTES 253
#define TLS_ERROR_MAX_BYTES 1024
#define TLS_REASON_MAX_BYTES 256

struct tls_sni {
	char *name;                 /* lower case; "*.example.org" matches one label */
	SSL_CTX *ctx;
};

struct tls_gen {
	unsigned int refcount;      /* the process (while current) + each connection */
	SSL_CTX *ctx;
	struct tls_sni *sni;
	unsigned int sni_count;
};

struct tls_conn {
	SSL *ssl;
	struct tls_gen *gen;
	int handshake_want;         /* IO_* the handshake waits for */
	int read_want, write_want;  /* IO_* a blocked read / write waits for; 0 = none */
	bool handshake_done;
	bool failed;                /* fatal error: no more I/O, no close_notify */
	bool eof;                   /* peer closed (close_notify or TCP EOF) */
};

struct tls_settings {
	const char *cert, *key, *ciphers;
	int min_version;
	const json_t *sni;
};

static struct tls_gen *tls_current;
static char tls_error_buf[TLS_ERROR_MAX_BYTES];

/* ---- errors ---- */

static const char *set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *set_error(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	vsnprintf(tls_error_buf, sizeof(tls_error_buf), fmt, args);
	va_end(args);
	return tls_error_buf;
}

/* The first (most specific) queued OpenSSL error as one line; clears the queue. */
static void openssl_reason(char *buf, size_t size)
{
	unsigned long code = ERR_get_error();
	if (code == 0)
		snprintf(buf, size, "unknown OpenSSL error");
	else
		ERR_error_string_n(code, buf, size);
	ERR_clear_error();
}

/* Was the last queued error a certificate/key mismatch? */
static bool openssl_key_mismatch(void)
{
	unsigned long code = ERR_peek_last_error();
	return ERR_GET_LIB(code) == ERR_LIB_X509 &&
	       (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
		ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH);
}

/* ---- settings ---- */

static const char *json_str(const json_t *obj, const char *key)
{
	const json_t *value = json_object_get(obj, key);
	return json_is_string(value) ? json_string_value(value) : "";
}

static int parse_min_version(const char *value, int *version_r)
{
	if (*value == '\0' || strcmp(value, "TLSv1.2") == 0 || strcmp(value, "1.2") == 0)
		*version_r = TLS1_2_VERSION;
	else if (strcmp(value, "TLSv1.3") == 0 || strcmp(value, "1.3") == 0)
		*version_r = TLS1_3_VERSION;
	else
		return -1;
	return 0;
}

/* 0 not configured, 1 ok, -1 error. */
static int parse_settings(const json_t *config, struct tls_settings *set_r,
			  const char **error_r)
{
	const json_t *sec = json_object_get(config, "tls");
	if (!json_is_object(sec))
		sec = config;
	if (json_is_false(json_object_get(sec, "enabled")))
		return 0;
	set_r->cert = json_str(sec, "cert");
	if (*set_r->cert == '\0')
		return 0;
	set_r->key = json_str(sec, "key");
	if (*set_r->key == '\0')
		set_r->key = set_r->cert;
	set_r->ciphers = json_str(sec, "ciphers");
	if (*set_r->ciphers == '\0')
		set_r->ciphers = TLS_DEFAULT_CIPHERS;
	const char *min = json_str(sec, "min_version");
	if (parse_min_version(min, &set_r->min_version) < 0) {
		*error_r = set_error("[tls] min_version: unsupported value \"%s\" "
				     "(TLSv1.2 or TLSv1.3)", min);
		return -1;
	}
	set_r->sni = json_object_get(sec, "sni");
	return 1;
}

/* ---- one SSL_CTX ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *context)
{
	(void)buf; (void)size; (void)rwflag; (void)context;
	return -1;
}

static int ctx_setup_policy(SSL_CTX *ctx, const struct tls_settings *set,
			    const char **error_r)
{
	char reason[TLS_REASON_MAX_BYTES];
	uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_NO_RENEGOTIATION
	options |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_NO_CLIENT_RENEGOTIATION
	options |= SSL_OP_NO_CLIENT_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	SSL_CTX_set_options(ctx, options);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(ctx, set->min_version) != 1) {
		openssl_reason(reason, sizeof(reason));
		*error_r = set_error("[tls] min_version: %s", reason);
		return -1;
	}
	if (SSL_CTX_set_cipher_list(ctx, set->ciphers) != 1) {
		openssl_reason(reason, sizeof(reason));
		*error_r = set_error("[tls] ciphers: no usable cipher in \"%s\": %s",
				     set->ciphers, reason);
		return -1;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SESSION_ID_CONTEXT,
				       sizeof(TLS_SESSION_ID_CONTEXT) - 1);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT_SECS);
	SSL_CTX_set_num_tickets(ctx, TLS_TICKETS_PER_HANDSHAKE);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	return 0;
}

static void warn_if_expired(SSL_CTX *ctx, const char *cert)
{
	X509 *x509 = SSL_CTX_get0_certificate(ctx);
	if (x509 != NULL && X509_cmp_current_time(X509_get0_notAfter(x509)) < 0)
		log_warning("[tls] cert %s: the certificate has expired", cert);
}

static int ctx_load_files(SSL_CTX *ctx, const char *cert, const char *key,
			  const char **error_r)
{
	char reason[TLS_REASON_MAX_BYTES];
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		openssl_reason(reason, sizeof(reason));
		*error_r = set_error("[tls] cert %s: cannot load the certificate chain: %s",
				     cert, reason);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		bool mismatch = openssl_key_mismatch();
		openssl_reason(reason, sizeof(reason));
		if (mismatch)
			*error_r = set_error("[tls] key %s does not match the certificate %s: %s",
					     key, cert, reason);
		else
			*error_r = set_error("[tls] key %s: cannot load the private key "
					     "(it must be PEM, not encrypted): %s", key, reason);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_reason(reason, sizeof(reason));
		*error_r = set_error("[tls] key %s does not match the certificate %s: %s",
				     key, cert, reason);
		return -1;
	}
	warn_if_expired(ctx, cert);
	return 0;
}

static SSL_CTX *ctx_create(const struct tls_settings *set, const char *cert,
			   const char *key, const char **error_r)
{
	char reason[TLS_REASON_MAX_BYTES];
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		openssl_reason(reason, sizeof(reason));
		*error_r = set_error("[tls] cannot create a TLS context: %s", reason);
		return NULL;
	}
	if (ctx_setup_policy(ctx, set, error_r) < 0 ||
	    ctx_load_files(ctx, cert, key, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- SNI ---- */

/* Lower-cased copy of a valid server name pattern, or NULL. */
static char *sni_name_normalize(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > TLS_MAX_SERVER_NAME_BYTES)
		return NULL;
	const char *p = name;
	if (strncmp(name, "*.", 2) == 0)
		p += 2;
	if (*p == '\0' || *p == '.')
		return NULL;
	for (; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return NULL;
	}
	char *copy = i_strdup(name);
	for (char *q = copy; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return copy;
}

static const struct tls_sni *sni_find(const struct tls_gen *gen, const char *name)
{
	for (unsigned int i = 0; i < gen->sni_count; i++) {
		if (strcasecmp(gen->sni[i].name, name) == 0)
			return &gen->sni[i];
	}
	const char *dot = strchr(name, '.');
	if (dot == NULL || dot == name)
		return NULL;
	for (unsigned int i = 0; i < gen->sni_count; i++) {
		const char *pattern = gen->sni[i].name;
		if (pattern[0] == '*' && strcasecmp(pattern + 1, dot) == 0)
			return &gen->sni[i];
	}
	return NULL;
}

static int sni_callback(SSL *ssl, int *alert, void *context)
{
	const struct tls_gen *gen = context;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	const struct tls_sni *sni = sni_find(gen, name);
	if (sni == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_set_SSL_CTX(ssl, sni->ctx) == NULL) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

static int sni_add(struct tls_gen *gen, const struct tls_settings *set, const char *name,
		   const char *cert, const char *key, const char **error_r)
{
	if (gen->sni_count >= TLS_MAX_SNI_ENTRIES) {
		*error_r = set_error("[tls] sni: more than %u names", TLS_MAX_SNI_ENTRIES);
		return -1;
	}
	char *norm = sni_name_normalize(name);
	if (norm == NULL) {
		*error_r = set_error("[tls] sni: invalid server name \"%s\"", name);
		return -1;
	}
	if (*cert == '\0') {
		*error_r = set_error("[tls] sni: no certificate for \"%s\"", name);
		i_free(norm);
		return -1;
	}
	SSL_CTX *ctx = ctx_create(set, cert, *key == '\0' ? cert : key, error_r);
	if (ctx == NULL) {
		i_free(norm);
		return -1;
	}
	gen->sni = i_reallocarray(gen->sni, gen->sni_count + 1, sizeof(*gen->sni));
	gen->sni[gen->sni_count].name = norm;
	gen->sni[gen->sni_count].ctx = ctx;
	gen->sni_count++;
	return 0;
}

/* "NAME:CERT[:KEY]" */
static int sni_add_string(struct tls_gen *gen, const struct tls_settings *set,
			  const char *item, const char **error_r)
{
	char *copy = i_strdup(item);
	char *name = copy, *cert = strchr(copy, ':'), *key = NULL;
	int ret;
	if (cert == NULL) {
		*error_r = set_error("[tls] sni: \"%s\" is not NAME:CERT[:KEY]", item);
		i_free(copy);
		return -1;
	}
	*cert++ = '\0';
	key = strchr(cert, ':');
	if (key != NULL)
		*key++ = '\0';
	ret = sni_add(gen, set, name, cert, key == NULL ? "" : key, error_r);
	i_free(copy);
	return ret;
}

static int sni_add_item(struct tls_gen *gen, const struct tls_settings *set,
			const json_t *item, const char **error_r)
{
	if (json_is_string(item))
		return sni_add_string(gen, set, json_string_value(item), error_r);
	if (!json_is_object(item)) {
		*error_r = set_error("[tls] sni: each item must be NAME:CERT[:KEY] or "
				     "{\"name\", \"cert\", \"key\"}");
		return -1;
	}
	return sni_add(gen, set, json_str(item, "name"), json_str(item, "cert"),
		       json_str(item, "key"), error_r);
}

static int sni_load(struct tls_gen *gen, const struct tls_settings *set,
		    const char **error_r)
{
	size_t idx;
	const json_t *item;
	if (set->sni == NULL || json_is_null(set->sni))
		return 0;
	if (json_is_string(set->sni)) {
		if (json_string_length(set->sni) == 0)
			return 0;
		return sni_add_string(gen, set, json_string_value(set->sni), error_r);
	}
	if (!json_is_array(set->sni)) {
		*error_r = set_error("[tls] sni: must be a list");
		return -1;
	}
	json_array_foreach(set->sni, idx, item) {
		if (sni_add_item(gen, set, item, error_r) < 0)
			return -1;
	}
	return 0;
}

/* ---- generations ---- */

static void gen_unref(struct tls_gen **gen_p)
{
	struct tls_gen *gen = *gen_p;
	*gen_p = NULL;
	if (gen == NULL)
		return;
	i_assert(gen->refcount > 0);
	if (--gen->refcount > 0)
		return;
	for (unsigned int i = 0; i < gen->sni_count; i++) {
		SSL_CTX_free(gen->sni[i].ctx);
		i_free(gen->sni[i].name);
	}
	i_free(gen->sni);
	SSL_CTX_free(gen->ctx);
	i_free(gen);
}

static struct tls_gen *gen_create(const struct tls_settings *set, const char **error_r)
{
	struct tls_gen *gen = i_new0(struct tls_gen);
	gen->refcount = 1;
	gen->ctx = ctx_create(set, set->cert, set->key, error_r);
	if (gen->ctx == NULL || sni_load(gen, set, error_r) < 0) {
		gen_unref(&gen);
		return NULL;
	}
	if (gen->sni_count > 0) {
		/* The argument lives as long as any connection of this generation. */
		SSL_CTX_set_tlsext_servername_callback(gen->ctx, sni_callback);
		SSL_CTX_set_tlsext_servername_arg(gen->ctx, gen);
	}
	return gen;
}

int tls_server_reload(const json_t *config, const char **error_r)
{
	struct tls_settings set;
	memset(&set, 0, sizeof(set));
	int ret = parse_settings(config, &set, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		gen_unref(&tls_current);
		return 0;
	}
	struct tls_gen *gen = gen_create(&set, error_r);
	if (gen == NULL)
		return -1;
	gen_unref(&tls_current);
	tls_current = gen;
	return 1;
}

int tls_server_init(const json_t *config, const char **error_r)
{
	return tls_server_reload(config, error_r);
}

void tls_server_deinit(void)
{
	gen_unref(&tls_current);
}

void *tls_server_context(void)
{
	return tls_current == NULL ? NULL : tls_current->ctx;
}

/* ---- connections ---- */

/* "1.2.3.4:993", "[::1]:993" or "fd 7" for log lines. */
static void conn_peer_name(const struct tls_conn *conn, char *buf, size_t size)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	char ip[INET6_ADDRSTRLEN];
	int fd = SSL_get_fd(conn->ssl);
	snprintf(buf, size, "fd %d", fd);
	if (getpeername(fd, (struct sockaddr *)&addr, &len) < 0)
		return;
	if (addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&addr;
		if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) != NULL)
			snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
	} else if (addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;
		if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)) != NULL)
			snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
	}
}

struct tls_conn *tls_conn_create(int fd)
{
	char reason[TLS_REASON_MAX_BYTES];
	if (tls_current == NULL)
		return NULL;
	ERR_clear_error();
	SSL *ssl = SSL_new(tls_current->ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		openssl_reason(reason, sizeof(reason));
		log_error("TLS: cannot set up a connection: %s", reason);
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	struct tls_conn *conn = i_new0(struct tls_conn);
	conn->ssl = ssl;
	conn->gen = tls_current;
	conn->gen->refcount++;
	conn->handshake_want = IO_READ;   /* the client speaks first */
	return conn;
}

void tls_conn_destroy(struct tls_conn **conn_p)
{
	struct tls_conn *conn = *conn_p;
	if (conn == NULL)
		return;
	*conn_p = NULL;
	if (conn->handshake_done && !conn->failed) {
		/* Best effort close_notify on a non-blocking socket; never waits. */
		(void)SSL_shutdown(conn->ssl);
	}
	ERR_clear_error();
	SSL_free(conn->ssl);
	gen_unref(&conn->gen);
	i_free(conn);
}

bool tls_conn_handshaking(const struct tls_conn *conn)
{
	return !conn->handshake_done;
}

static void conn_check_handshake(struct tls_conn *conn)
{
	if (!conn->handshake_done && SSL_is_init_finished(conn->ssl)) {
		conn->handshake_done = true;
		conn->handshake_want = 0;
		log_debug("TLS handshake done: %s %s", tls_conn_version(conn),
			  tls_conn_cipher(conn));
	}
}

/* Why a fatal error happened, for the log. */
static void conn_error_reason(int ssl_err, int saved_errno, char *buf, size_t size)
{
	if (ssl_err == SSL_ERROR_SSL)
		openssl_reason(buf, size);
	else if (ssl_err == SSL_ERROR_SYSCALL && saved_errno != 0)
		snprintf(buf, size, "%s", strerror(saved_errno));
	else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, size, "connection closed by the peer");
	else
		snprintf(buf, size, "SSL_get_error() = %d", ssl_err);
	ERR_clear_error();
}

int tls_conn_handshake(struct tls_conn *conn)
{
	char reason[TLS_REASON_MAX_BYTES], peer[INET6_ADDRSTRLEN + 16];
	if (conn->handshake_done)
		return 1;
	if (conn->failed)
		return -1;
	ERR_clear_error();
	errno = 0;
	int ret = SSL_do_handshake(conn->ssl);
	int saved_errno = errno;
	if (ret == 1) {
		conn_check_handshake(conn);
		return 1;
	}
	int err = SSL_get_error(conn->ssl, ret);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		conn->handshake_want = err == SSL_ERROR_WANT_READ ? IO_READ : IO_WRITE;
		return 0;
	}
	conn->failed = true;
	conn_error_reason(err, saved_errno, reason, sizeof(reason));
	conn_peer_name(conn, peer, sizeof(peer));
	log_info("TLS handshake with %s failed: %s", peer, reason);
	return -1;
}

/* A read or write returned ret <= 0: set *want_r and errno and return what the
 * caller returns (-1, or 0 for EOF). */
static ssize_t conn_io_error(struct tls_conn *conn, int ret, int saved_errno,
			     int *want_r, bool reading)
{
	char reason[TLS_REASON_MAX_BYTES], peer[INET6_ADDRSTRLEN + 16];
	int err = SSL_get_error(conn->ssl, ret);
	*want_r = 0;
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		*want_r = err == SSL_ERROR_WANT_READ ? IO_READ : IO_WRITE;
		if (!conn->handshake_done)
			conn->handshake_want = *want_r;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		conn->eof = true;
		ERR_clear_error();
		if (reading)
			return 0;
		errno = EPIPE;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		conn->failed = true;
		if (saved_errno == 0 && reading) {
			conn->eof = true;
			return 0;
		}
		errno = saved_errno != 0 ? saved_errno : EPIPE;
		return -1;
	default:
		conn->failed = true;
		conn_error_reason(err, saved_errno, reason, sizeof(reason));
		conn_peer_name(conn, peer, sizeof(peer));
		log_info("TLS %s %s failed: %s", reading ? "read from" : "write to",
			 peer, reason);
		errno = EIO;
		return -1;
	}
}

ssize_t tls_conn_read(struct tls_conn *conn, void *data, size_t size)
{
	if (size == 0 || conn->eof)
		return 0;
	if (conn->failed) {
		errno = EIO;
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	int ret = SSL_read(conn->ssl, data, size > INT_MAX ? INT_MAX : (int)size);
	int saved_errno = errno;
	conn_check_handshake(conn);
	if (ret > 0) {
		conn->read_want = 0;
		return ret;
	}
	return conn_io_error(conn, ret, saved_errno, &conn->read_want, true);
}

ssize_t tls_conn_write(struct tls_conn *conn, const void *data, size_t size)
{
	if (size == 0)
		return 0;
	if (conn->failed || conn->eof) {
		errno = conn->eof ? EPIPE : EIO;
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	int ret = SSL_write(conn->ssl, data, size > INT_MAX ? INT_MAX : (int)size);
	int saved_errno = errno;
	conn_check_handshake(conn);
	if (ret > 0) {
		conn->write_want = 0;
		return ret;
	}
	return conn_io_error(conn, ret, saved_errno, &conn->write_want, false);
}

int tls_conn_wanted_io(const struct tls_conn *conn, int wanted)
{
	int cond = 0;
	if (!conn->handshake_done)
		return conn->handshake_want;
	if ((wanted & IO_READ) != 0)
		cond |= conn->read_want;
	if ((wanted & IO_WRITE) != 0)
		cond |= conn->write_want;
	return cond;
}

size_t tls_conn_pending(const struct tls_conn *conn)
{
	int n = SSL_pending(conn->ssl);
	return n > 0 ? (size_t)n : 0;
}

const char *tls_conn_version(const struct tls_conn *conn)
{
	return SSL_get_version(conn->ssl);
}

const char *tls_conn_cipher(const struct tls_conn *conn)
{
	const char *name = SSL_get_cipher_name(conn->ssl);
	return name == NULL ? "(none)" : name;
}
