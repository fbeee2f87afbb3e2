/* The blocking IPC client of ipc.h (ipc_client_*): pymapctl, pymap-lda and tests.
 * Same wire format as ipc_conn (ipc-frame.c); every wait is a poll() bounded by the
 * client's timeout. */
#include "ipc.h"
#include "ipc-frame.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct ipc_client {
	int fd;
	char *path;
	char *protocol;
	unsigned int major;
	unsigned int timeout_msecs;
	struct ipc_frame_input in;
	struct ipc_frame_output out;
	json_int_t last_id;
	bool broken;
	char error[IPC_FRAME_ERROR_MAX + 256];
};

static _Thread_local char connect_error[IPC_FRAME_ERROR_MAX + 256];

static uint64_t now_msecs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t client_deadline(const struct ipc_client *client)
{
	return client->timeout_msecs == 0 ? UINT64_MAX : now_msecs() + client->timeout_msecs;
}

static void client_error(struct ipc_client *client, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void client_error(struct ipc_client *client, const char *fmt, ...)
{
	va_list args;
	int len = snprintf(client->error, sizeof(client->error), "%s: ", client->path);
	va_start(args, fmt);
	vsnprintf(client->error + len, sizeof(client->error) - (size_t)len, fmt, args);
	va_end(args);
	client->broken = true;
}

/* Wait until events are ready. -1 (client->error) on timeout or poll failure. */
static int client_poll(struct ipc_client *client, short events, uint64_t deadline,
		       const char *waiting_for)
{
	for (;;) {
		uint64_t now = now_msecs();
		int wait = deadline == UINT64_MAX ? -1 :
			(deadline <= now ? 0 : (int)(deadline - now));
		struct pollfd pfd = { .fd = client->fd, .events = events };
		int ret = poll(&pfd, 1, wait);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR) {
			client_error(client, "poll: %s", strerror(errno));
			return -1;
		}
		if (ret == 0 && wait == 0) {
			client_error(client, "timed out waiting for %s", waiting_for);
			return -1;
		}
	}
}

static int client_flush(struct ipc_client *client, uint64_t deadline)
{
	for (;;) {
		int ret = ipc_frame_output_flush(&client->out, client->fd);
		if (ret == 1)
			return 0;
		if (ret < 0) {
			client_error(client, "write: %s", strerror(errno));
			return -1;
		}
		if (client_poll(client, POLLOUT, deadline, "the server to read") < 0)
			return -1;
	}
}

/* Next message: 0 with *msg_r and *fd_r, or -1 (client->error). */
static int client_read_message(struct ipc_client *client, uint64_t deadline,
			       const char *waiting_for, json_t **msg_r, int *fd_r)
{
	for (;;) {
		int ret = ipc_frame_input_next(&client->in, msg_r, fd_r);
		if (ret > 0)
			return 0;
		if (ret < 0) {
			client_error(client, "%s", client->in.error);
			return -1;
		}
		ret = ipc_frame_input_read(&client->in, client->fd);
		if (ret > 0)
			continue;
		if (ret == 0)
			client_error(client, "connection closed by the server");
		else if (ret == -2)
			client_error(client, "%s", client->in.error);
		else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (client_poll(client, POLLIN, deadline, waiting_for) == 0)
				continue;
		} else
			client_error(client, "read: %s", strerror(errno));
		return -1;
	}
}

static int client_hello(struct ipc_client *client, const struct ipc_settings *set)
{
	uint64_t deadline = client_deadline(client);
	char error[IPC_FRAME_ERROR_MAX];
	json_t *msg;
	int fd;

	msg = ipc_frame_hello(set->protocol, set->major, set->minor);
	int ret = ipc_frame_output_add(&client->out, msg, -1);
	json_decref(msg);
	if (ret < 0) {
		client_error(client, "%s", client->out.error);
		return -1;
	}
	if (client_flush(client, deadline) < 0 ||
	    client_read_message(client, deadline, "the server's hello", &msg, &fd) < 0)
		return -1;
	if (fd >= 0)
		close(fd);
	ret = ipc_frame_check_hello(msg, set->protocol, set->major, error, sizeof(error));
	json_decref(msg);
	if (ret < 0 || fd >= 0) {
		client_error(client, "%s", ret < 0 ? error : "file descriptor sent with the hello");
		return -1;
	}
	return 0;
}

/* A connected socket, or -1 with connect_error set. */
static int client_socket(const char *path, unsigned int timeout_msecs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = timeout_msecs / 1000, .tv_usec = (timeout_msecs % 1000) * 1000
	};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(connect_error, sizeof(connect_error), "connect(%s): %s", path,
			 strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(connect_error, sizeof(connect_error), "socket(AF_UNIX): %s",
			 strerror(errno));
		return -1;
	}
	/* A UNIX connect() waits for room in the listener's backlog up to SO_SNDTIMEO. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(connect_error, sizeof(connect_error), "connect(%s): %s", path,
			 errno == EAGAIN ? "Timed out" : strerror(errno));
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(connect_error, sizeof(connect_error), "fcntl(%s): %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct ipc_client *ipc_client_connect(const char *path, const struct ipc_settings *set,
				      unsigned int timeout_msecs, const char **error_r)
{
	size_t max = set->max_message_bytes != 0 ? set->max_message_bytes :
		IPC_DEFAULT_MAX_MESSAGE_BYTES;
	int fd = client_socket(path, timeout_msecs);
	if (fd < 0) {
		*error_r = connect_error;
		return NULL;
	}
	struct ipc_client *client = i_new0(struct ipc_client);
	client->fd = fd;
	client->path = i_strdup(path);
	client->protocol = i_strdup(set->protocol);
	client->major = set->major;
	client->timeout_msecs = timeout_msecs;
	ipc_frame_input_init(&client->in, max, set->accept_fds);
	ipc_frame_output_init(&client->out, max, 0);
	if (client_hello(client, set) < 0) {
		snprintf(connect_error, sizeof(connect_error), "%s", client->error);
		*error_r = connect_error;
		ipc_client_destroy(&client);
		return NULL;
	}
	return client;
}

static bool is_reply_to(const json_t *msg, json_int_t id)
{
	const json_t *msg_id = json_object_get(msg, "id");
	return json_object_get(msg, "ok") != NULL && json_is_integer(msg_id) &&
		json_integer_value(msg_id) == id;
}

static int client_wait_reply(struct ipc_client *client, json_int_t id, uint64_t deadline,
			     json_t **reply_r, int *fd_r)
{
	for (;;) {
		json_t *msg;
		int fd;
		if (client_read_message(client, deadline, "the reply", &msg, &fd) < 0)
			return -1;
		if (is_reply_to(msg, id)) {
			*reply_r = msg;
			*fd_r = fd;
			return 0;
		}
		/* Not ours (a late reply, an event): skip it. */
		json_decref(msg);
		if (fd >= 0)
			close(fd);
	}
}

int ipc_client_call(struct ipc_client *client, json_t *request, int send_fd,
		    json_t **reply_r, int *fd_r, const char **error_r)
{
	uint64_t deadline = client_deadline(client);
	json_int_t id = ++client->last_id;

	if (client->broken) {
		client_error(client, "connection unusable after an earlier error");
		*error_r = client->error;
		return -1;
	}
	json_object_set_new(request, "id", json_integer(id));
	if (ipc_frame_output_add(&client->out, request, send_fd) < 0) {
		client_error(client, "%s", client->out.error);
		client->broken = false;  /* nothing was sent */
		*error_r = client->error;
		return -1;
	}
	if (client_flush(client, deadline) < 0 ||
	    client_wait_reply(client, id, deadline, reply_r, fd_r) < 0) {
		*error_r = client->error;
		return -1;
	}
	return 0;
}

void ipc_client_destroy(struct ipc_client **_client)
{
	struct ipc_client *client = *_client;
	if (client == NULL)
		return;
	*_client = NULL;
	ipc_frame_input_deinit(&client->in);
	ipc_frame_output_deinit(&client->out);
	if (client->fd >= 0)
		close(client->fd);
	free(client->path);
	free(client->protocol);
	free(client);
}
