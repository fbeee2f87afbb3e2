#ifndef PYMAP_IPC_H
#define PYMAP_IPC_H
/* IPC between pymap processes and with pymapctl/pymap-lda (DESIGN.md section 3,
 * doc/ipc.md): newline-delimited JSON objects (jansson, JSON_COMPACT) over UNIX
 * stream sockets. ipc_conn_* runs on an ioloop (master, auth, admin, imap);
 * ipc_client_* is a blocking client for command-line tools and tests.
 *
 * - Framing: one object per line. A line longer than max_message_bytes (not
 *   counting its '\n') closes the connection before it is parsed and without
 *   buffering past the limit; invalid JSON, a non-object and EOF close it too, with a
 *   logged reason, never a crash. Outgoing messages obey the same limit.
 * - Handshake: each side's first message is {"hello":PROTOCOL,"major":M,"minor":N}.
 *   Any other message first, a different protocol name or a different major version
 *   closes the connection with a log line naming both sides; minor versions only add
 *   fields, so a different minor is accepted.
 * - Requests carry "id" (integer) and "op"; replies carry the same "id" and "ok". A
 *   message with an "ok" member is a reply; anything else goes to on_message.
 *   Three kinds of answer: ok:true; ok:false with a permanent "code" (and a
 *   "message"); ok:false with "temp":true and a "reason" (backend down, timeout).
 * - File descriptors (a message to deliver) travel with SCM_RIGHTS, at most one per
 *   message: the sender passes it with the first byte of that message's line, in a
 *   sendmsg() that carries bytes of no other line; the receiver ties it to the line
 *   that contains the last byte of the read that delivered it. A descriptor on a
 *   connection with accept_fds false closes the connection (and is closed).
 *
 * Ownership: a struct ipc_conn owns its socket fd. Callbacks may call
 * ipc_conn_destroy() on their own connection: the memory is freed only after the
 * callback returns, and nothing more is dispatched for it. */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <jansson.h>

struct ioloop;

#define IPC_DEFAULT_MAX_MESSAGE_BYTES (64 * 1024)
/* Output queued for a peer that does not read is bounded by this many times the
 * message limit (at least 1 MiB); past it the connection is closed. */
#define IPC_OUTPUT_LIMIT_FACTOR 64

struct ipc_settings {
	const char *protocol;          /* e.g. "pymap-auth" (copied) */
	unsigned int major, minor;
	size_t max_message_bytes;      /* 0 = IPC_DEFAULT_MAX_MESSAGE_BYTES */
	bool accept_fds;               /* refuse (close) when a peer sends a descriptor */
};

struct ipc_conn;

/* msg is borrowed for the duration of the call. fd is -1, or a descriptor that the
 * callback now owns (close it when done). Not called for the hello message. */
typedef void ipc_message_callback_t(struct ipc_conn *conn, json_t *msg, int fd,
				    void *context);
/* The connection is closed (EOF, error, protocol violation); reason is for the log.
 * The owner must still ipc_conn_destroy() it (may do so inside this callback).
 * Not called after ipc_conn_destroy(). */
typedef void ipc_close_callback_t(struct ipc_conn *conn, const char *reason,
				  void *context);
/* Reply to ipc_conn_request(): reply is borrowed; NULL when the connection closed or
 * was destroyed or the timeout passed first (treat as a temporary failure). fd as
 * above. Runs exactly once, never from inside ipc_conn_request() itself. */
typedef void ipc_reply_callback_t(json_t *reply, int fd, void *context);

/* Takes ownership of fd (non-blocking is set here; close-on-exec is the caller's
 * business), reads SO_PEERCRED and queues the hello at once. */
struct ipc_conn *ipc_conn_create(struct ioloop *loop, int fd, const struct ipc_settings *set,
				 ipc_message_callback_t *on_message,
				 ipc_close_callback_t *on_close, void *context);
/* Closes the socket and any descriptor not yet delivered; pending requests get their
 * callback with NULL (inside this call). Sets *conn to NULL. */
void ipc_conn_destroy(struct ipc_conn **conn);

/* Queue msg (borrowed, an object) and optionally a descriptor (duplicated: the
 * caller keeps its own). Output is written without blocking the loop; IO_WRITE is
 * watched only while output is pending. On a closed connection this does nothing;
 * a message over the limit is logged and dropped; a full output queue closes the
 * connection from the loop (never from inside this call). */
void ipc_conn_send(struct ipc_conn *conn, const json_t *msg, int fd);
/* Set request's "id" to a fresh integer (ids increase from 1 per connection) and
 * send it; callback runs once with the reply, or with NULL on close, destroy or
 * after timeout_msecs (0 = no timeout). A reply that arrives after its timeout has
 * an unknown id: it is logged and ignored. */
void ipc_conn_request(struct ipc_conn *conn, json_t *request, int fd,
		      unsigned int timeout_msecs, ipc_reply_callback_t *callback,
		      void *context);
/* The peer's credentials (SO_PEERCRED), read when the connection was created; NULL
 * when the socket could not tell. */
const struct ucred *ipc_conn_peer_cred(const struct ipc_conn *conn);
/* Bytes queued and not yet written (for tests and flow control). */
size_t ipc_conn_output_pending(const struct ipc_conn *conn);
/* True once closed (EOF, error, protocol violation). */
bool ipc_conn_is_closed(const struct ipc_conn *conn);

/* Reply builders: copy "id" from request. New references. */
json_t *ipc_reply_ok(const json_t *request);
json_t *ipc_reply_error(const json_t *request, const char *code, const char *message);
json_t *ipc_reply_tempfail(const json_t *request, const char *reason);

/* Which of the three kinds of answer a reply is. NULL (no reply), a reply without a
 * boolean "ok", and "ok":false with "temp":true are IPC_REPLY_TEMPFAIL. */
enum ipc_reply_kind { IPC_REPLY_OK, IPC_REPLY_ERROR, IPC_REPLY_TEMPFAIL };
enum ipc_reply_kind ipc_reply_get_kind(const json_t *reply);

/* Blocking client for command-line tools and tests (src/lib/ipc-client.c). The
 * timeout bounds connect + hello, and each ipc_client_call() as a whole. Errors are
 * one line, e.g. "connect(/run/pymap/admin.sock): No such file or directory";
 * ipc_client_connect's error_r stays valid until the next ipc_client_connect() in
 * the same thread. */
struct ipc_client;
struct ipc_client *ipc_client_connect(const char *path, const struct ipc_settings *set,
				      unsigned int timeout_msecs, const char **error_r);
/* Send request (its "id" is set) with send_fd (-1 or a descriptor the caller keeps)
 * and wait for the reply with that id; other messages are skipped. 0 ok with
 * *reply_r (new reference) and *fd_r (a passed descriptor the caller owns, or -1);
 * -1 error (error_r, valid until the next call); after an error the client is
 * unusable and only ipc_client_destroy() is left. */
int ipc_client_call(struct ipc_client *client, json_t *request, int send_fd,
		    json_t **reply_r, int *fd_r, const char **error_r);
void ipc_client_destroy(struct ipc_client **client);

#endif
