#include "ipc.h"
#include "ipc-frame.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IPC_MIN_OUTPUT_LIMIT_BYTES (1024 * 1024)

struct ipc_request {
	struct ipc_request *prev, *next;
	struct ipc_conn *conn;
	json_int_t id;
	struct timeout *timeout;
	bool timed_out_quietly;   /* failed because the conn was already closed */
	ipc_reply_callback_t *callback;
	void *context;
};

struct ipc_conn {
	struct ioloop *loop;
	int fd;
	struct io *io;
	char *protocol;
	unsigned int major, minor;
	struct ipc_frame_input in;
	struct ipc_frame_output out;
	struct ucred cred;
	bool have_cred;
	bool hello_received;
	bool closed;      /* no more I/O; the owner still has to destroy */
	bool destroyed;   /* freed when the last dispatch returns */
	unsigned int refs;
	struct timeout *close_timeout;
	enum log_level close_level;
	char close_reason[IPC_FRAME_ERROR_MAX + 32];
	json_int_t last_id;
	struct ipc_request *requests, *requests_tail;
	ipc_message_callback_t *on_message;
	ipc_close_callback_t *on_close;
	void *context;
};

static void conn_io(void *context);

static const char *conn_name(const struct ipc_conn *conn)
{
	static char name[128];
	if (conn->have_cred)
		snprintf(name, sizeof(name), "ipc(%s, pid %ld)", conn->protocol,
			 (long)conn->cred.pid);
	else
		snprintf(name, sizeof(name), "ipc(%s)", conn->protocol);
	return name;
}

/* ---- lifetime ---- */

static void conn_shutdown(struct ipc_conn *conn)
{
	io_remove(&conn->io);
	timeout_remove(&conn->close_timeout);
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
	ipc_frame_input_deinit(&conn->in);
	ipc_frame_output_deinit(&conn->out);
}

static void request_unlink(struct ipc_conn *conn, struct ipc_request *req)
{
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		conn->requests = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	else
		conn->requests_tail = req->prev;
	req->prev = req->next = NULL;
	timeout_remove(&req->timeout);
}

/* Give every pending request its NULL reply. Callbacks may add requests (they end up
 * here too) or destroy the conn. */
static void fail_requests(struct ipc_conn *conn)
{
	while (conn->requests != NULL) {
		struct ipc_request *req = conn->requests;
		request_unlink(conn, req);
		req->callback(NULL, -1, req->context);
		free(req);
	}
}

static void conn_free(struct ipc_conn *conn)
{
	fail_requests(conn);
	conn_shutdown(conn);
	free(conn->protocol);
	free(conn);
}

static void conn_ref(struct ipc_conn *conn)
{
	conn->refs++;
}

static void conn_unref(struct ipc_conn *conn)
{
	i_assert(conn->refs > 0);
	if (--conn->refs == 0 && conn->destroyed)
		conn_free(conn);
}

/* The caller holds a reference. */
static void conn_close(struct ipc_conn *conn, enum log_level level, const char *reason)
{
	if (conn->closed)
		return;
	conn->closed = true;
	if (reason != conn->close_reason)
		snprintf(conn->close_reason, sizeof(conn->close_reason), "%s", reason);
	if (level != LOG_LEVEL_DEBUG || log_debug_enabled())
		log_msg(level, false, "%s: closing: %s", conn_name(conn), conn->close_reason);
	conn_shutdown(conn);
	fail_requests(conn);
	if (!conn->destroyed && conn->on_close != NULL)
		conn->on_close(conn, conn->close_reason, conn->context);
}

static void conn_close_timeout(void *context)
{
	struct ipc_conn *conn = context;
	conn_ref(conn);
	timeout_remove(&conn->close_timeout);
	conn_close(conn, conn->close_level, conn->close_reason);
	conn_unref(conn);
}

/* Close from the loop, not from inside an API call of the owner. */
static void conn_close_later(struct ipc_conn *conn, const char *reason,
			     enum log_level level)
{
	if (conn->closed || conn->close_timeout != NULL)
		return;
	conn->close_level = level;
	snprintf(conn->close_reason, sizeof(conn->close_reason), "%s", reason);
	io_set_condition(conn->io, 0);
	conn->close_timeout = timeout_add(conn->loop, 0, conn_close_timeout, conn);
}

/* A peer hanging up while data is in flight (ECONNRESET, EPIPE) is not an error. */
static void conn_close_errno(struct ipc_conn *conn, const char *what, bool later)
{
	char reason[128];
	bool hangup = errno == ECONNRESET || errno == EPIPE;
	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(errno));
	if (later)
		conn_close_later(conn, reason, hangup ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	else
		conn_close(conn, hangup ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, reason);
}

struct ipc_conn *ipc_conn_create(struct ioloop *loop, int fd, const struct ipc_settings *set,
				 ipc_message_callback_t *on_message,
				 ipc_close_callback_t *on_close, void *context)
{
	struct ipc_conn *conn = i_new0(struct ipc_conn);
	size_t max = set->max_message_bytes != 0 ? set->max_message_bytes :
		IPC_DEFAULT_MAX_MESSAGE_BYTES;
	size_t out_max = max * IPC_OUTPUT_LIMIT_FACTOR;
	socklen_t len = sizeof(conn->cred);

	i_assert(set->protocol != NULL && fd >= 0);
	conn->loop = loop;
	conn->fd = fd;
	conn->protocol = i_strdup(set->protocol);
	conn->major = set->major;
	conn->minor = set->minor;
	conn->on_message = on_message;
	conn->on_close = on_close;
	conn->context = context;
	conn->have_cred = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &conn->cred, &len) == 0 &&
		len == sizeof(conn->cred);
	ipc_frame_input_init(&conn->in, max, set->accept_fds);
	ipc_frame_output_init(&conn->out, max, out_max < IPC_MIN_OUTPUT_LIMIT_BYTES ?
			      IPC_MIN_OUTPUT_LIMIT_BYTES : out_max);
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		log_error_errno("%s: fcntl(O_NONBLOCK)", conn_name(conn));
	conn->io = io_add(loop, fd, IO_READ, conn_io, conn);

	json_t *hello = ipc_frame_hello(conn->protocol, conn->major, conn->minor);
	ipc_conn_send(conn, hello, -1);
	json_decref(hello);
	return conn;
}

void ipc_conn_destroy(struct ipc_conn **_conn)
{
	struct ipc_conn *conn = *_conn;
	if (conn == NULL)
		return;
	*_conn = NULL;
	if (conn->destroyed)
		return;
	conn->destroyed = true;
	conn->closed = true;
	conn_ref(conn);
	conn_shutdown(conn);
	fail_requests(conn);
	conn_unref(conn);
}

/* ---- output ---- */

static void conn_update_io(struct ipc_conn *conn)
{
	if (conn->closed || conn->close_timeout != NULL)
		return;
	io_set_condition(conn->io, IO_READ |
			 (ipc_frame_output_pending(&conn->out) > 0 ? IO_WRITE : 0));
}

/* Returns -1 when the conn failed (closed now, or later when inside an API call). */
static int conn_flush(struct ipc_conn *conn, bool from_api)
{
	if (ipc_frame_output_flush(&conn->out, conn->fd) < 0) {
		conn_close_errno(conn, "write", from_api);
		return -1;
	}
	conn_update_io(conn);
	return 0;
}

/* Returns 0 when queued, -1 when msg was refused. */
static int conn_queue(struct ipc_conn *conn, const json_t *msg, int fd)
{
	int ret = ipc_frame_output_add(&conn->out, msg, fd);
	if (ret == -1) {
		log_error("%s: message not sent: %s", conn_name(conn), conn->out.error);
		return -1;
	}
	if (ret == -2) {
		conn_close_later(conn, conn->out.error, LOG_LEVEL_ERROR);
		return -1;
	}
	(void)conn_flush(conn, true);
	return 0;
}

void ipc_conn_send(struct ipc_conn *conn, const json_t *msg, int fd)
{
	if (conn->closed || conn->close_timeout != NULL) {
		log_debug("%s: message not sent: connection closed", conn_name(conn));
		return;
	}
	(void)conn_queue(conn, msg, fd);
}

size_t ipc_conn_output_pending(const struct ipc_conn *conn)
{
	return ipc_frame_output_pending(&conn->out);
}

bool ipc_conn_is_closed(const struct ipc_conn *conn)
{
	return conn->closed;
}

const struct ucred *ipc_conn_peer_cred(const struct ipc_conn *conn)
{
	return conn->have_cred ? &conn->cred : NULL;
}

/* ---- requests ---- */

static void request_timeout(void *context)
{
	struct ipc_request *req = context;
	struct ipc_conn *conn = req->conn;

	conn_ref(conn);
	if (!req->timed_out_quietly)
		log_warning("%s: request %" JSON_INTEGER_FORMAT " timed out",
			    conn_name(conn), req->id);
	request_unlink(conn, req);
	req->callback(NULL, -1, req->context);
	free(req);
	conn_unref(conn);
}

void ipc_conn_request(struct ipc_conn *conn, json_t *request, int fd,
		      unsigned int timeout_msecs, ipc_reply_callback_t *callback,
		      void *context)
{
	struct ipc_request *req = i_new0(struct ipc_request);

	req->conn = conn;
	req->id = ++conn->last_id;
	req->callback = callback;
	req->context = context;
	req->prev = conn->requests_tail;
	if (conn->requests_tail != NULL)
		conn->requests_tail->next = req;
	else
		conn->requests = req;
	conn->requests_tail = req;
	json_object_set_new(request, "id", json_integer(req->id));

	if (conn->destroyed)
		return;  /* failed when the conn is freed */
	if (conn->closed || conn->close_timeout != NULL || conn_queue(conn, request, fd) < 0) {
		/* NULL from the loop (or from the close that is already scheduled). */
		req->timed_out_quietly = true;
		if (conn->close_timeout == NULL)
			req->timeout = timeout_add(conn->loop, 0, request_timeout, req);
		return;
	}
	if (timeout_msecs > 0)
		req->timeout = timeout_add(conn->loop, timeout_msecs, request_timeout, req);
}

static void conn_dispatch_reply(struct ipc_conn *conn, json_t *reply, int fd)
{
	const json_t *id = json_object_get(reply, "id");
	struct ipc_request *req = NULL;

	if (json_is_integer(id)) {
		for (req = conn->requests; req != NULL; req = req->next) {
			if (req->id == json_integer_value(id))
				break;
		}
	}
	if (req == NULL) {
		if (json_is_integer(id))
			log_warning("%s: ignoring a reply with unknown id %" JSON_INTEGER_FORMAT,
				    conn_name(conn), json_integer_value(id));
		else
			log_warning("%s: ignoring a reply without an integer id",
				    conn_name(conn));
		if (fd >= 0)
			close(fd);
		return;
	}
	request_unlink(conn, req);
	req->callback(reply, fd, req->context);
	free(req);
}

/* ---- input ---- */

static void conn_dispatch(struct ipc_conn *conn, json_t *msg, int fd)
{
	char error[IPC_FRAME_ERROR_MAX];

	if (!conn->hello_received) {
		if (fd >= 0) {
			close(fd);
			conn_close(conn, LOG_LEVEL_ERROR, "file descriptor sent with the hello");
		} else if (ipc_frame_check_hello(msg, conn->protocol, conn->major,
						 error, sizeof(error)) < 0) {
			conn_close(conn, LOG_LEVEL_ERROR, error);
		} else {
			conn->hello_received = true;
		}
		return;
	}
	if (json_object_get(msg, "ok") != NULL)
		conn_dispatch_reply(conn, msg, fd);
	else if (conn->on_message != NULL)
		conn->on_message(conn, msg, fd, conn->context);
	else if (fd >= 0)
		close(fd);
}

static void conn_dispatch_lines(struct ipc_conn *conn)
{
	while (!conn->closed) {
		json_t *msg;
		int fd;
		int ret = ipc_frame_input_next(&conn->in, &msg, &fd);
		if (ret == 0)
			break;
		if (ret < 0) {
			conn_close(conn, LOG_LEVEL_ERROR, conn->in.error);
			break;
		}
		conn_dispatch(conn, msg, fd);
		json_decref(msg);
	}
}

static void conn_read(struct ipc_conn *conn)
{
	int ret = ipc_frame_input_read(&conn->in, conn->fd);

	if (ret == 0)
		conn_close(conn, LOG_LEVEL_DEBUG, "EOF");
	else if (ret == -2)
		conn_close(conn, LOG_LEVEL_ERROR, conn->in.error);
	else if (ret == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
		conn_close_errno(conn, "read", false);
	else if (ret > 0)
		conn_dispatch_lines(conn);
}

static void conn_io(void *context)
{
	struct ipc_conn *conn = context;

	conn_ref(conn);
	if (ipc_frame_output_pending(&conn->out) > 0)
		(void)conn_flush(conn, false);
	if (!conn->closed && conn->close_timeout == NULL)
		conn_read(conn);
	conn_unref(conn);
}

/* ---- replies ---- */

static json_t *reply_new(const json_t *request, bool ok)
{
	json_t *reply = json_object();
	json_t *id = json_object_get(request, "id");

	if (json_is_integer(id))
		json_object_set_new(reply, "id", json_integer(json_integer_value(id)));
	json_object_set_new(reply, "ok", json_boolean(ok));
	return reply;
}

json_t *ipc_reply_ok(const json_t *request)
{
	return reply_new(request, true);
}

json_t *ipc_reply_error(const json_t *request, const char *code, const char *message)
{
	json_t *reply = reply_new(request, false);
	json_object_set_new(reply, "code", json_string(code));
	if (message != NULL)
		json_object_set_new(reply, "message", json_string(message));
	return reply;
}

json_t *ipc_reply_tempfail(const json_t *request, const char *reason)
{
	json_t *reply = reply_new(request, false);
	json_object_set_new(reply, "temp", json_true());
	json_object_set_new(reply, "reason", json_string(reason));
	return reply;
}

enum ipc_reply_kind ipc_reply_get_kind(const json_t *reply)
{
	const json_t *ok = json_object_get(reply, "ok");

	if (!json_is_boolean(ok) || json_is_true(json_object_get(reply, "temp")))
		return IPC_REPLY_TEMPFAIL;
	return json_is_true(ok) ? IPC_REPLY_OK : IPC_REPLY_ERROR;
}
