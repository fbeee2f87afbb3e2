#ifndef PYMAP_IPC_H
#define PYMAP_IPC_H
/* IPC between pymap processes and with pymapctl/pymap-lda (DESIGN.md section 3):
 * newline-delimited JSON objects (jansson, JSON_COMPACT) over UNIX stream sockets.
 *
 * - Framing: one object per line; a size limit is applied before parsing; an over-long
 *   or malformed message closes that connection with a logged reason, never a crash.
 * - Handshake: each side's first message is {"hello":PROTOCOL,"major":M,"minor":N}.
 *   A different protocol name or major version closes the connection with a log line
 *   naming both; minor versions only add fields.
 * - Requests carry "id" (integer) and "op"; replies carry the same "id" and "ok".
 *   Three kinds of answer: ok:true; ok:false with a permanent "code"; ok:false with
 *   "temp":true and a "reason" (backend down, timeout).
 * - File descriptors (a message to deliver) travel with SCM_RIGHTS next to the JSON
 *   line that mentions them; at most one descriptor per message.
 *
 * Ownership: a struct ipc_conn owns its socket fd. Callbacks may destroy the conn. */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <jansson.h>

struct ioloop;

#define IPC_DEFAULT_MAX_MESSAGE_BYTES (64 * 1024)

struct ipc_settings {
	const char *protocol;          /* e.g. "pymap-auth" */
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
 * The owner must still ipc_conn_destroy() it (may do so inside this callback). */
typedef void ipc_close_callback_t(struct ipc_conn *conn, const char *reason,
				  void *context);
/* Reply to ipc_conn_request(): reply is borrowed; NULL when the connection closed or
 * the timeout passed first (treat as a temporary failure). fd as above. */
typedef void ipc_reply_callback_t(json_t *reply, int fd, void *context);

/* Takes ownership of fd (non-blocking is set here) and sends the hello at once. */
struct ipc_conn *ipc_conn_create(struct ioloop *loop, int fd, const struct ipc_settings *set,
				 ipc_message_callback_t *on_message,
				 ipc_close_callback_t *on_close, void *context);
void ipc_conn_destroy(struct ipc_conn **conn);

/* Queue msg (borrowed) and optionally a descriptor (duplicated: the caller keeps
 * its own). Output is buffered without blocking the loop. */
void ipc_conn_send(struct ipc_conn *conn, const json_t *msg, int fd);
/* Send request (borrowed) with a fresh "id"; callback runs once with the reply, or
 * with NULL on close/timeout. Outstanding callbacks get NULL on destroy. */
void ipc_conn_request(struct ipc_conn *conn, json_t *request, int fd,
		      unsigned int timeout_msecs, ipc_reply_callback_t *callback,
		      void *context);
/* The peer's credentials (SO_PEERCRED), read when the connection was created. */
const struct ucred *ipc_conn_peer_cred(const struct ipc_conn *conn);

/* Reply builders: copy "id" from request. New references. */
json_t *ipc_reply_ok(const json_t *request);
json_t *ipc_reply_error(const json_t *request, const char *code, const char *message);
json_t *ipc_reply_tempfail(const json_t *request, const char *reason);

/* Blocking client for command-line tools and tests. */
struct ipc_client;
struct ipc_client *ipc_client_connect(const char *path, const struct ipc_settings *set,
				      unsigned int timeout_msecs, const char **error_r);
/* Send request (an "id" is added) and wait for its reply. 0 ok, -1 error (error_r,
 * valid until the next call). *fd_r receives a passed descriptor or -1. */
int ipc_client_call(struct ipc_client *client, json_t *request, int send_fd,
		    json_t **reply_r, int *fd_r, const char **error_r);
void ipc_client_destroy(struct ipc_client **client);

#endif
