#ifndef PYMAP_TLS_H
#define PYMAP_TLS_H
/* TLS for server connections with OpenSSL: one process-wide server context built from
 * the [tls] config (certificate chain, key, ciphers, minimum version, SNI certificates),
 * and a non-blocking connection wrapper used by the imap worker for STARTTLS and
 * implicit TLS (port 993). Keys are read before privileges are dropped; a bad or
 * unreadable certificate or key is a start-up error naming the file.
 *
 * Config (the effective config root, or its "tls" object):
 *   enabled      false: TLS is not configured (init returns 0)
 *   cert, key    PEM certificate chain (leaf first) and PEM private key; cert "" = no TLS
 *   ciphers      OpenSSL cipher list for TLS 1.2 ("" = modern default: ECDHE/DHE with
 *                AES-GCM or ChaCha20-Poly1305); TLS 1.3 suites are OpenSSL's defaults
 *   min_version  "TLSv1.2" (default) or "TLSv1.3"; "1.2"/"1.3" are accepted too
 *   sni          optional array; each item either an object {"name","cert","key"} or a
 *                string "NAME:CERT[:KEY]" (KEY defaults to CERT; paths without ':').
 *                NAME is a host name, or "*.example.org" for one label. A client whose
 *                server name matches gets that certificate; others get cert/key.
 * Policy: server cipher preference, no compression, no renegotiation, a missing
 * close_notify from the client is a plain EOF, encrypted keys are refused (never
 * prompted for).
 *
 * Errors come back through error_r: one line naming the file, valid until the next
 * tls_server_* call. Connection failures are logged at info level. */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

struct tls_conn;

/* Build the server context from config (section "tls": cert, key, ciphers,
 * min_version, sni = list of {name, cert, key}). 0 when TLS is not configured (no
 * cert, or enabled = false), 1 when ready, -1 with error_r (names the file) on
 * failure. Calling it again replaces the context like tls_server_reload(). */
int tls_server_init(const json_t *config, const char **error_r);
/* Rebuild the context (certificate reload on SIGHUP); existing connections, including
 * those still handshaking, keep the old one. -1 keeps the old context. A config
 * without a certificate returns 0 and turns TLS off for new connections. */
int tls_server_reload(const json_t *config, const char **error_r);
/* Drop the process's reference; live connections keep theirs. */
void tls_server_deinit(void);
/* The current SSL_CTX (opaque here), NULL when TLS is not configured. */
void *tls_server_context(void);

/* Wrap a connected non-blocking socket (server side). NULL when TLS is not configured
 * (or OpenSSL fails, logged). The fd stays owned by the caller, who closes it after
 * tls_conn_destroy(). */
struct tls_conn *tls_conn_create(int fd);
/* Sends close_notify (best effort, never blocks) after a clean session, frees
 * everything, sets *conn to NULL. A NULL *conn is a no-op. */
void tls_conn_destroy(struct tls_conn **conn);
bool tls_conn_handshaking(const struct tls_conn *conn);
/* Continue the handshake: 1 done, 0 in progress (wait for tls_conn_wanted_io),
 * -1 failed (logged at info level). */
int tls_conn_handshake(struct tls_conn *conn);
/* Like read(2)/write(2): >0 bytes, 0 EOF (read: close_notify or a plain TCP close),
 * -1 with errno: EAGAIN when the operation must wait for readiness in the direction
 * tls_conn_wanted_io says, ECONNRESET/EPIPE when the socket said so, EIO for a TLS
 * protocol error (logged at info level). A write that returned EAGAIN must be retried
 * with at least the same bytes (the buffer may move). Before the handshake is done the
 * calls continue it implicitly. */
ssize_t tls_conn_read(struct tls_conn *conn, void *data, size_t size);
ssize_t tls_conn_write(struct tls_conn *conn, const void *data, size_t size);
/* Which IO_READ/IO_WRITE condition the connection needs in addition to the caller's
 * own wanted condition (renegotiation and handshakes may read when writing). While
 * handshaking this is the handshake's direction whatever wanted is; afterwards the
 * direction a blocked read (when wanted has IO_READ) or write (IO_WRITE) is waiting
 * for. */
int tls_conn_wanted_io(const struct tls_conn *conn, int wanted);
/* Bytes already decrypted and buffered inside OpenSSL (read them before waiting). */
size_t tls_conn_pending(const struct tls_conn *conn);
/* "TLSv1.3", cipher "TLS_AES_256_GCM_SHA384": borrowed, valid until destroy. */
const char *tls_conn_version(const struct tls_conn *conn);
const char *tls_conn_cipher(const struct tls_conn *conn);

#endif
