/* tls.c against a real OpenSSL client in the same process: both ends non-blocking on
 * a socketpair, pumped in a loop. Certificates and keys are generated at test time in
 * test_tmpdir() (never committed). */
#include "test.h"
#include "tls.h"
#include "alloc.h"
#include "ioloop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define PUMP_ROUNDS 2000

/* ---- certificates ---- */

struct cert_files {
	char cert[256], key[256];
};

static struct cert_files cert_one, cert_other, cert_wild, cert_two, cert_other2;
static char path_enc_key[256], path_garbage[256], path_missing[256];

static void write_pem_key(EVP_PKEY *pkey, const char *path, const char *passphrase)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		abort();
	}
	if (passphrase == NULL)
		PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	else
		PEM_write_PrivateKey(f, pkey, EVP_aes_128_cbc(), NULL, 0, NULL,
				     (void *)passphrase);
	fclose(f);
}

/* A self-signed P-256 certificate for cn, valid for an hour. */
static void make_cert(const char *cn, const char *base, struct cert_files *files_r)
{
	static long serial = 1;
	snprintf(files_r->cert, sizeof(files_r->cert), "%s/%s.pem", test_tmpdir(), base);
	snprintf(files_r->key, sizeof(files_r->key), "%s/%s.key", test_tmpdir(), base);
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x509 = X509_new();
	if (pkey == NULL || x509 == NULL)
		abort();
	X509_set_version(x509, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x509), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x509), -60);
	X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
	X509_set_pubkey(x509, pkey);
	X509_NAME *name = X509_get_subject_name(x509);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
				   -1, -1, 0);
	X509_set_issuer_name(x509, name);
	if (X509_sign(x509, pkey, EVP_sha256()) == 0)
		abort();
	FILE *f = fopen(files_r->cert, "w");
	if (f == NULL)
		abort();
	PEM_write_X509(f, x509);
	fclose(f);
	write_pem_key(pkey, files_r->key, NULL);
	if (strcmp(base, "one") == 0) {
		snprintf(path_enc_key, sizeof(path_enc_key), "%s/enc.key", test_tmpdir());
		write_pem_key(pkey, path_enc_key, "secret");
	}
	X509_free(x509);
	EVP_PKEY_free(pkey);
}

static void certs_setup(void)
{
	static bool done = false;
	if (done)
		return;
	done = true;
	signal(SIGPIPE, SIG_IGN);
	make_cert("default.test", "one", &cert_one);
	make_cert("other.test", "other", &cert_other);
	make_cert("wild.test", "wild", &cert_wild);
	make_cert("two.test", "two", &cert_two);
	make_cert("other2.test", "other2", &cert_other2);
	snprintf(path_garbage, sizeof(path_garbage), "%s/garbage.pem", test_tmpdir());
	FILE *f = fopen(path_garbage, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	snprintf(path_missing, sizeof(path_missing), "%s/missing.pem", test_tmpdir());
}

/* {"tls": {"cert": cert, "key": key, "ciphers": "", "min_version": "TLSv1.2"}} */
static json_t *tls_config(const char *cert, const char *key)
{
	return json_pack("{s:{s:b,s:s,s:s,s:s,s:s}}", "tls", "enabled", 1, "cert", cert,
			 "key", key, "ciphers", "", "min_version", "TLSv1.2");
}

static void config_set_str(json_t *config, const char *key, const char *value)
{
	json_object_set_new(json_object_get(config, "tls"), key, json_string(value));
}

static int init_with(json_t *config, const char **error_r)
{
	int ret = tls_server_init(config, error_r);
	json_decref(config);
	return ret;
}

/* ---- a client and a server on a socketpair ---- */

struct pair {
	int fds[2];               /* [0] server, [1] client */
	struct tls_conn *server;
	SSL_CTX *client_ctx;
	SSL *client;
};

static void pair_open(struct pair *p, const char *sni, int client_max_version,
		      const char *client_ciphers)
{
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds) < 0)
		abort();
	for (int i = 0; i < 2; i++)
		fcntl(p->fds[i], F_SETFL, fcntl(p->fds[i], F_GETFL) | O_NONBLOCK);
	p->server = tls_conn_create(p->fds[0]);
	p->client_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(p->client_ctx, TLS1_VERSION);
	if (client_max_version != 0)
		SSL_CTX_set_max_proto_version(p->client_ctx, client_max_version);
	if (client_ciphers != NULL) {
		SSL_CTX_set_security_level(p->client_ctx, 0);
		SSL_CTX_set_cipher_list(p->client_ctx, client_ciphers);
	}
	p->client = SSL_new(p->client_ctx);
	SSL_set_fd(p->client, p->fds[1]);
	SSL_set_connect_state(p->client);
	if (sni != NULL)
		SSL_set_tlsext_host_name(p->client, sni);
}

static void pair_close(struct pair *p)
{
	tls_conn_destroy(&p->server);
	SSL_free(p->client);
	SSL_CTX_free(p->client_ctx);
	if (p->fds[0] >= 0)
		close(p->fds[0]);
	if (p->fds[1] >= 0)
		close(p->fds[1]);
	ERR_clear_error();
}

/* 1 both done, -1 server failed, -2 client failed, 0 stuck. */
static int pair_handshake(struct pair *p)
{
	bool client_done = false;
	for (int i = 0; i < PUMP_ROUNDS; i++) {
		int ret = tls_conn_handshake(p->server);
		if (ret < 0)
			return -1;
		if (!client_done) {
			int c = SSL_do_handshake(p->client);
			int err = SSL_get_error(p->client, c);
			if (c == 1)
				client_done = true;
			else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
				return -2;
		}
		if (ret == 1 && client_done)
			return 1;
	}
	return 0;
}

/* Read exactly size bytes on the server, letting the client make progress. */
static bool server_read_exact(struct pair *p, char *buf, size_t size)
{
	size_t got = 0;
	char dummy[16];
	for (int i = 0; i < PUMP_ROUNDS && got < size; i++) {
		ssize_t n = tls_conn_read(p->server, buf + got, size - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || errno != EAGAIN)
			return false;
		(void)SSL_read(p->client, dummy, 0);
	}
	return got == size;
}

static bool client_read_exact(struct pair *p, char *buf, size_t size)
{
	size_t got = 0;
	for (int i = 0; i < PUMP_ROUNDS && got < size; i++) {
		int n = SSL_read(p->client, buf + got, (int)(size - got));
		if (n > 0)
			got += (size_t)n;
		else if (SSL_get_error(p->client, n) != SSL_ERROR_WANT_READ)
			return false;
	}
	return got == size;
}

/* The CN of the certificate the client received. */
static void client_peer_cn(struct pair *p, char *buf, size_t size)
{
	X509 *peer = SSL_get1_peer_certificate(p->client);
	buf[0] = '\0';
	if (peer == NULL)
		return;
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, (int)size);
	X509_free(peer);
}

static void check_handshake_cn(const char *sni, const char *expected_cn)
{
	struct pair p;
	char cn[128];
	pair_open(&p, sni, 0, NULL);
	TEST_ASSERT(p.server != NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	client_peer_cn(&p, cn, sizeof(cn));
	TEST_ASSERT_STR_EQ(cn, expected_cn);
	pair_close(&p);
}

/* ---- tests ---- */

static void test_not_configured(void)
{
	const char *error = NULL;
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config("", ""), &error), 0);
	TEST_ASSERT(tls_server_context() == NULL);
	TEST_ASSERT(tls_conn_create(0) == NULL);
	json_t *config = tls_config(cert_one.cert, cert_one.key);
	json_object_set_new(json_object_get(config, "tls"), "enabled", json_false());
	TEST_ASSERT_INT_EQ(init_with(config, &error), 0);
	TEST_ASSERT(tls_server_context() == NULL);
	struct tls_conn *conn = NULL;
	tls_conn_destroy(&conn);
	TEST_ASSERT(conn == NULL);
	tls_server_deinit();
}

static void test_handshake_and_data(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[64];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	TEST_ASSERT(tls_server_context() != NULL);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT(tls_conn_handshaking(p.server));
	TEST_ASSERT_INT_EQ(tls_conn_wanted_io(p.server, 0), IO_READ);
	/* Nothing from the client yet: the server waits to read. */
	TEST_ASSERT_INT_EQ(tls_conn_handshake(p.server), 0);
	TEST_ASSERT_INT_EQ(tls_conn_wanted_io(p.server, IO_WRITE), IO_READ);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT(!tls_conn_handshaking(p.server));
	TEST_ASSERT_INT_EQ(tls_conn_handshake(p.server), 1);
	TEST_ASSERT_STR_EQ(tls_conn_version(p.server), "TLSv1.3");
	TEST_ASSERT(SSL_version(p.client) >= TLS1_2_VERSION);
	TEST_ASSERT(strncmp(tls_conn_cipher(p.server), "TLS_", 4) == 0);

	/* client -> server */
	TEST_ASSERT_INT_EQ(SSL_write(p.client, "a CAPABILITY\r\n", 14), 14);
	TEST_ASSERT(server_read_exact(&p, buf, 14));
	TEST_ASSERT_MEM_EQ(buf, 14, "a CAPABILITY\r\n", 14);
	/* nothing more: EAGAIN, waiting to read */
	errno = 0;
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), -1);
	TEST_ASSERT_INT_EQ(errno, EAGAIN);
	TEST_ASSERT_INT_EQ(tls_conn_wanted_io(p.server, IO_READ), IO_READ);
	TEST_ASSERT_INT_EQ(tls_conn_wanted_io(p.server, IO_WRITE), 0);
	TEST_ASSERT_INT_EQ(tls_conn_pending(p.server), 0);
	/* server -> client */
	TEST_ASSERT_INT_EQ(tls_conn_write(p.server, "* OK hi\r\n", 9), 9);
	TEST_ASSERT(client_read_exact(&p, buf, 9));
	TEST_ASSERT_MEM_EQ(buf, 9, "* OK hi\r\n", 9);
	TEST_ASSERT_INT_EQ(tls_conn_write(p.server, "", 0), 0);
	pair_close(&p);
	tls_server_deinit();
	TEST_ASSERT(tls_server_context() == NULL);
}

static void test_pending_after_small_read(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_INT_EQ(SSL_write(p.client, "0123456789", 10), 10);
	TEST_ASSERT(server_read_exact(&p, buf, 4));
	TEST_ASSERT_MEM_EQ(buf, 4, "0123", 4);
	/* The rest of the record is decrypted and buffered: no socket readiness. */
	TEST_ASSERT_INT_EQ(tls_conn_pending(p.server), 6);
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), 6);
	TEST_ASSERT_MEM_EQ(buf, 6, "456789", 6);
	pair_close(&p);
	tls_server_deinit();
}

static void test_read_before_handshake_continues_it(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	bool got = false;
	for (int i = 0; i < PUMP_ROUNDS && !got; i++) {
		int c = SSL_do_handshake(p.client);
		if (c == 1)
			(void)SSL_write(p.client, "ping", 4);
		ssize_t n = tls_conn_read(p.server, buf, sizeof(buf));
		if (n == 4) {
			got = true;
		} else if (n < 0) {
			TEST_ASSERT_INT_EQ(errno, EAGAIN);
			TEST_ASSERT(tls_conn_wanted_io(p.server, IO_READ) != 0);
		} else {
			TEST_ASSERT(!"unexpected read result");
			break;
		}
	}
	TEST_ASSERT(got);
	TEST_ASSERT_MEM_EQ(buf, 4, "ping", 4);
	TEST_ASSERT(!tls_conn_handshaking(p.server));
	pair_close(&p);
	tls_server_deinit();
}

static void test_large_write_partial_and_wants_write(void)
{
	const char *error = NULL;
	struct pair p;
	const size_t total = 1024 * 1024;
	char *out = i_malloc(total), *in = i_malloc(total);
	size_t sent = 0, got = 0;
	bool saw_eagain = false;
	for (size_t i = 0; i < total; i++)
		out[i] = (char)('a' + (i * 7) % 26);
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	for (int round = 0; round < 100000 && got < total; round++) {
		while (sent < total) {
			/* The buffer may move between retries, the length only grows. */
			ssize_t n = tls_conn_write(p.server, out + sent, total - sent);
			if (n < 0) {
				TEST_ASSERT_INT_EQ(errno, EAGAIN);
				TEST_ASSERT_INT_EQ(tls_conn_wanted_io(p.server, IO_WRITE), IO_WRITE);
				saw_eagain = true;
				break;
			}
			sent += (size_t)n;
		}
		int n = SSL_read(p.client, in + got, (int)(total - got));
		if (n > 0)
			got += (size_t)n;
	}
	TEST_ASSERT(saw_eagain);
	TEST_ASSERT_UINT_EQ(sent, total);
	TEST_ASSERT_UINT_EQ(got, total);
	TEST_ASSERT(memcmp(in, out, total) == 0);
	pair_close(&p);
	tls_server_deinit();
	i_free(out);
	i_free(in);
}

static void test_close_notify_is_eof(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_INT_EQ(SSL_write(p.client, "bye", 3), 3);
	TEST_ASSERT(SSL_shutdown(p.client) >= 0);
	TEST_ASSERT(server_read_exact(&p, buf, 3));
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), 0);
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), 0);
	errno = 0;
	TEST_ASSERT_INT_EQ(tls_conn_write(p.server, "x", 1), -1);
	TEST_ASSERT_INT_EQ(errno, EPIPE);
	/* destroy answers with close_notify: the client sees a clean close */
	tls_conn_destroy(&p.server);
	TEST_ASSERT(p.server == NULL);
	int n = SSL_read(p.client, buf, sizeof(buf));
	TEST_ASSERT_INT_EQ(n, 0);
	TEST_ASSERT_INT_EQ(SSL_get_error(p.client, n), SSL_ERROR_ZERO_RETURN);
	pair_close(&p);
	tls_server_deinit();
}

static void test_tcp_close_without_close_notify_is_eof(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_INT_EQ(SSL_write(p.client, "abc", 3), 3);
	/* Take in the session tickets first: unread data would turn close into a reset. */
	TEST_ASSERT_INT_EQ(SSL_read(p.client, buf, sizeof(buf)), -1);
	close(p.fds[1]);
	p.fds[1] = -1;
	TEST_ASSERT(server_read_exact(&p, buf, 3));
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), 0);
	pair_close(&p);
	tls_server_deinit();
}

static void test_reset_keeps_errno(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	/* The session tickets are still unread: closing now resets the connection. */
	close(p.fds[1]);
	p.fds[1] = -1;
	errno = 0;
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), -1);
	TEST_ASSERT_INT_EQ(errno, ECONNRESET);
	errno = 0;
	TEST_ASSERT_INT_EQ(tls_conn_write(p.server, "x", 1), -1);
	TEST_ASSERT_INT_EQ(errno, EIO);
	pair_close(&p);
	tls_server_deinit();
}

static void test_plaintext_instead_of_handshake_fails(void)
{
	/* What a STARTTLS injection attempt looks like to the TLS layer: the bytes
	 * pipelined after STARTTLS are not a ClientHello. */
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(write(p.fds[1], "b CAPABILITY\r\n", 14), 14);
	TEST_ASSERT_INT_EQ(tls_conn_handshake(p.server), -1);
	TEST_ASSERT_INT_EQ(tls_conn_handshake(p.server), -1);
	errno = 0;
	TEST_ASSERT_INT_EQ(tls_conn_read(p.server, buf, sizeof(buf)), -1);
	TEST_ASSERT_INT_EQ(errno, EIO);
	pair_close(&p);
	tls_server_deinit();
}

static void test_client_eof_during_handshake_fails(void)
{
	const char *error = NULL;
	struct pair p;
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, 0, NULL);
	close(p.fds[1]);
	p.fds[1] = -1;
	TEST_ASSERT_INT_EQ(tls_conn_handshake(p.server), -1);
	pair_close(&p);
	tls_server_deinit();
}

static void test_versions(void)
{
	const char *error = NULL;
	struct pair p;
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	/* TLS 1.2 is accepted by default, TLS 1.1 is not. */
	pair_open(&p, NULL, TLS1_2_VERSION, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_STR_EQ(tls_conn_version(p.server), "TLSv1.2");
	pair_close(&p);
	pair_open(&p, NULL, TLS1_1_VERSION, "ALL:@SECLEVEL=0");
	TEST_ASSERT(pair_handshake(&p) < 0);
	pair_close(&p);

	json_t *config = tls_config(cert_one.cert, cert_one.key);
	config_set_str(config, "min_version", "1.3");
	TEST_ASSERT_INT_EQ(init_with(config, &error), 1);
	pair_open(&p, NULL, TLS1_2_VERSION, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), -1);
	pair_close(&p);
	pair_open(&p, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_STR_EQ(tls_conn_version(p.server), "TLSv1.3");
	pair_close(&p);

	config = tls_config(cert_one.cert, cert_one.key);
	config_set_str(config, "min_version", "TLSv1.0");
	TEST_ASSERT_INT_EQ(init_with(config, &error), -1);
	TEST_ASSERT(strstr(error, "min_version") != NULL);
	tls_server_deinit();
}

static void test_cipher_policy(void)
{
	const char *error = NULL;
	struct pair p;
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	/* The server's order wins: AES-GCM before ChaCha20 in the default list. */
	pair_open(&p, NULL, TLS1_2_VERSION,
		  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256");
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_STR_EQ(tls_conn_cipher(p.server), "ECDHE-ECDSA-AES128-GCM-SHA256");
	pair_close(&p);
	/* CBC with SHA-1 is not in the default list. */
	pair_open(&p, NULL, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA");
	TEST_ASSERT_INT_EQ(pair_handshake(&p), -1);
	pair_close(&p);

	json_t *config = tls_config(cert_one.cert, cert_one.key);
	config_set_str(config, "ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305");
	TEST_ASSERT_INT_EQ(init_with(config, &error), 1);
	pair_open(&p, NULL, TLS1_2_VERSION, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_STR_EQ(tls_conn_cipher(p.server), "ECDHE-ECDSA-CHACHA20-POLY1305");
	pair_close(&p);

	config = tls_config(cert_one.cert, cert_one.key);
	config_set_str(config, "ciphers", "NO-SUCH-CIPHER");
	TEST_ASSERT_INT_EQ(init_with(config, &error), -1);
	TEST_ASSERT(strstr(error, "[tls] ciphers") != NULL);
	TEST_ASSERT(strstr(error, "NO-SUCH-CIPHER") != NULL);
	tls_server_deinit();
}

static void test_no_renegotiation(void)
{
	const char *error = NULL;
	struct pair p;
	char buf[16];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	pair_open(&p, NULL, TLS1_2_VERSION, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&p), 1);
	TEST_ASSERT_INT_EQ(SSL_renegotiate(p.client), 1);
	(void)SSL_do_handshake(p.client);
	bool renegotiated = false, server_failed = false;
	for (int i = 0; i < 50; i++) {
		if (tls_conn_read(p.server, buf, sizeof(buf)) < 0 && errno == EIO)
			server_failed = true;
		int c = SSL_do_handshake(p.client);
		if (c == 1 && SSL_renegotiate_pending(p.client) == 0)
			renegotiated = true;
	}
	TEST_ASSERT(!renegotiated);
	/* The server answered no_renegotiation; OpenSSL's client then gives up with a
	 * fatal alert, which the server reads as a protocol error. */
	TEST_ASSERT(server_failed);
	pair_close(&p);
	tls_server_deinit();
}

static void test_bad_files_name_the_file(void)
{
	const char *error = NULL;
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(path_missing, cert_one.key), &error), -1);
	TEST_ASSERT(error != NULL && strstr(error, path_missing) != NULL);
	TEST_ASSERT(strchr(error, '\n') == NULL);
	TEST_ASSERT(tls_server_context() == NULL);

	TEST_ASSERT_INT_EQ(init_with(tls_config(path_garbage, cert_one.key), &error), -1);
	TEST_ASSERT(strstr(error, path_garbage) != NULL);

	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, path_missing), &error), -1);
	TEST_ASSERT(strstr(error, path_missing) != NULL);
	TEST_ASSERT(strstr(error, "[tls] key") != NULL);

	/* A key that belongs to another certificate. */
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_other.key), &error), -1);
	TEST_ASSERT(strstr(error, cert_other.key) != NULL);
	TEST_ASSERT(strstr(error, "does not match") != NULL);

	/* An encrypted key is refused, never prompted for. */
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, path_enc_key), &error), -1);
	TEST_ASSERT(strstr(error, path_enc_key) != NULL);
	TEST_ASSERT(tls_server_context() == NULL);
	ERR_clear_error();
}

static void test_sni_selects_certificate(void)
{
	const char *error = NULL;
	char wild[600];
	certs_setup();
	json_t *config = tls_config(cert_one.cert, cert_one.key);
	snprintf(wild, sizeof(wild), "*.Wild.test:%s:%s", cert_wild.cert, cert_wild.key);
	json_object_set_new(json_object_get(config, "tls"), "sni",
			    json_pack("[{s:s,s:s,s:s},s]", "name", "other.test", "cert",
				      cert_other.cert, "key", cert_other.key, wild));
	TEST_ASSERT_INT_EQ(init_with(config, &error), 1);
	check_handshake_cn(NULL, "default.test");
	check_handshake_cn("other.test", "other.test");
	check_handshake_cn("OTHER.Test", "other.test");
	check_handshake_cn("x.wild.test", "wild.test");
	check_handshake_cn("a.b.wild.test", "default.test");
	check_handshake_cn("wild.test", "default.test");
	check_handshake_cn("unknown.test", "default.test");
	tls_server_deinit();
}

static void test_sni_errors(void)
{
	const char *error = NULL;
	char item[600];
	certs_setup();
	json_t *config = tls_config(cert_one.cert, cert_one.key);
	snprintf(item, sizeof(item), "bad name!:%s:%s", cert_other.cert, cert_other.key);
	json_object_set_new(json_object_get(config, "tls"), "sni", json_pack("[s]", item));
	TEST_ASSERT_INT_EQ(init_with(config, &error), -1);
	TEST_ASSERT(strstr(error, "invalid server name") != NULL);

	config = tls_config(cert_one.cert, cert_one.key);
	snprintf(item, sizeof(item), "other.test:%s:%s", path_missing, cert_other.key);
	json_object_set_new(json_object_get(config, "tls"), "sni", json_pack("[s]", item));
	TEST_ASSERT_INT_EQ(init_with(config, &error), -1);
	TEST_ASSERT(strstr(error, path_missing) != NULL);

	config = tls_config(cert_one.cert, cert_one.key);
	json_object_set_new(json_object_get(config, "tls"), "sni", json_pack("[s]", "other.test"));
	TEST_ASSERT_INT_EQ(init_with(config, &error), -1);
	TEST_ASSERT(strstr(error, "NAME:CERT") != NULL);
	TEST_ASSERT(tls_server_context() == NULL);
}

static json_t *config_with_sni(const struct cert_files *def, const struct cert_files *other)
{
	json_t *config = tls_config(def->cert, def->key);
	json_object_set_new(json_object_get(config, "tls"), "sni",
			    json_pack("[{s:s,s:s,s:s}]", "name", "other.test", "cert",
				      other->cert, "key", other->key));
	return config;
}

static void test_reload_affects_new_connections_only(void)
{
	const char *error = NULL;
	struct pair before, established, after;
	char buf[16], cn[128];
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(config_with_sni(&cert_one, &cert_other), &error), 1);
	void *old_ctx = tls_server_context();
	pair_open(&established, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&established), 1);
	/* Created before the reload, handshakes after it (SNI callback of the old set). */
	pair_open(&before, "other.test", 0, NULL);

	json_t *config = config_with_sni(&cert_two, &cert_other2);
	TEST_ASSERT_INT_EQ(tls_server_reload(config, &error), 1);
	json_decref(config);
	TEST_ASSERT(tls_server_context() != old_ctx);

	TEST_ASSERT_INT_EQ(pair_handshake(&before), 1);
	client_peer_cn(&before, cn, sizeof(cn));
	TEST_ASSERT_STR_EQ(cn, "other.test");
	TEST_ASSERT_INT_EQ(SSL_write(established.client, "still", 5), 5);
	TEST_ASSERT(server_read_exact(&established, buf, 5));
	TEST_ASSERT_MEM_EQ(buf, 5, "still", 5);

	pair_open(&after, NULL, 0, NULL);
	TEST_ASSERT_INT_EQ(pair_handshake(&after), 1);
	client_peer_cn(&after, cn, sizeof(cn));
	TEST_ASSERT_STR_EQ(cn, "two.test");
	pair_close(&after);
	check_handshake_cn("other.test", "other2.test");

	/* A failed reload keeps the current context. */
	void *cur_ctx = tls_server_context();
	json_t *bad = tls_config(path_missing, cert_one.key);
	TEST_ASSERT_INT_EQ(tls_server_reload(bad, &error), -1);
	json_decref(bad);
	TEST_ASSERT(strstr(error, path_missing) != NULL);
	TEST_ASSERT(tls_server_context() == cur_ctx);
	check_handshake_cn(NULL, "two.test");

	/* Old connections outlive the process's references. */
	tls_server_deinit();
	TEST_ASSERT_INT_EQ(SSL_write(before.client, "late", 4), 4);
	TEST_ASSERT(server_read_exact(&before, buf, 4));
	TEST_ASSERT_MEM_EQ(buf, 4, "late", 4);
	pair_close(&before);
	pair_close(&established);
}

static void test_reload_without_cert_turns_tls_off(void)
{
	const char *error = NULL;
	certs_setup();
	TEST_ASSERT_INT_EQ(init_with(tls_config(cert_one.cert, cert_one.key), &error), 1);
	json_t *config = tls_config("", "");
	TEST_ASSERT_INT_EQ(tls_server_reload(config, &error), 0);
	json_decref(config);
	TEST_ASSERT(tls_server_context() == NULL);
}

static void test_section_object_accepted(void)
{
	/* The "tls" object itself works as well as the whole config. */
	const char *error = NULL;
	certs_setup();
	json_t *config = json_pack("{s:s,s:s}", "cert", cert_one.cert, "key", cert_one.key);
	TEST_ASSERT_INT_EQ(init_with(config, &error), 1);
	check_handshake_cn(NULL, "default.test");
	tls_server_deinit();
}

TEST_MAIN(TEST(test_not_configured), TEST(test_handshake_and_data),
	  TEST(test_pending_after_small_read), TEST(test_read_before_handshake_continues_it),
	  TEST(test_large_write_partial_and_wants_write), TEST(test_close_notify_is_eof),
	  TEST(test_tcp_close_without_close_notify_is_eof), TEST(test_reset_keeps_errno),
	  TEST(test_plaintext_instead_of_handshake_fails),
	  TEST(test_client_eof_during_handshake_fails), TEST(test_versions),
	  TEST(test_cipher_policy), TEST(test_no_renegotiation),
	  TEST(test_bad_files_name_the_file), TEST(test_sni_selects_certificate),
	  TEST(test_sni_errors), TEST(test_reload_affects_new_connections_only),
	  TEST(test_reload_without_cert_turns_tls_off), TEST(test_section_object_accepted))
