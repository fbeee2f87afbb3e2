#include "ipc-frame.h"
#include "alloc.h"
#include "fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IPC_FRAME_READ_CHUNK_BYTES 16384

/* ---- input ---- */

void ipc_frame_input_init(struct ipc_frame_input *in, size_t max_line, bool accept_fds)
{
	memset(in, 0, sizeof(*in));
	buffer_init(&in->buf, max_line + 1);
	in->max_line = max_line;
	in->accept_fds = accept_fds;
	in->fd = -1;
}

void ipc_frame_input_deinit(struct ipc_frame_input *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	buffer_deinit(&in->buf);
}

static int input_take_fd(struct ipc_frame_input *in, int fd)
{
	if (!in->accept_fds) {
		close(fd);
		snprintf(in->error, sizeof(in->error),
			 "peer sent a file descriptor, which this socket does not accept");
		return -2;
	}
	if (in->fd >= 0) {
		close(fd);
		snprintf(in->error, sizeof(in->error),
			 "peer sent two file descriptors for one message");
		return -2;
	}
	in->fd = fd;
	in->fd_pos = buffer_len(&in->buf) - 1;
	return 0;
}

int ipc_frame_input_read(struct ipc_frame_input *in, int sock)
{
	size_t room = in->buf.max_size - buffer_len(&in->buf);
	int fd;

	if (room == 0) {
		snprintf(in->error, sizeof(in->error), "message exceeds %zu bytes",
			 in->max_line);
		return -2;
	}
	if (room > IPC_FRAME_READ_CHUNK_BYTES)
		room = IPC_FRAME_READ_CHUNK_BYTES;
	unsigned char *dest = buffer_reserve(&in->buf, room);
	ssize_t ret = fdpass_recv(sock, &fd, dest, room);
	if (ret < 0 && errno == EPROTO) {
		snprintf(in->error, sizeof(in->error),
			 "peer sent more than one file descriptor at once");
		return -2;
	}
	if (ret <= 0)
		return (int)ret;
	buffer_commit(&in->buf, (size_t)ret);
	if (fd >= 0 && input_take_fd(in, fd) < 0)
		return -2;
	return (int)ret;
}

/* jansson's text may quote the input ("near '...'"): keep only the description, a
 * message may hold a password. */
static void input_json_error(struct ipc_frame_input *in, const json_error_t *jerr)
{
	char text[sizeof(jerr->text)];
	memcpy(text, jerr->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	char *near = strstr(text, " near ");
	if (near != NULL)
		*near = '\0';
	snprintf(in->error, sizeof(in->error), "invalid JSON at byte %d: %s",
		 jerr->position, text);
}

static json_t *input_parse(struct ipc_frame_input *in, const unsigned char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES, &jerr);

	if (msg == NULL) {
		input_json_error(in, &jerr);
		return NULL;
	}
	if (!json_is_object(msg)) {
		snprintf(in->error, sizeof(in->error), "message is not a JSON object");
		json_decref(msg);
		return NULL;
	}
	return msg;
}

int ipc_frame_input_next(struct ipc_frame_input *in, json_t **msg_r, int *fd_r)
{
	const unsigned char *data = buffer_data(&in->buf);
	size_t len = buffer_len(&in->buf);
	const unsigned char *nl = memchr(data + in->scanned, '\n', len - in->scanned);

	if (nl == NULL) {
		in->scanned = len;
		if (len <= in->max_line)
			return 0;
		snprintf(in->error, sizeof(in->error), "message exceeds %zu bytes",
			 in->max_line);
		return -1;
	}
	size_t line_len = (size_t)(nl - data);
	if (line_len > in->max_line) {
		snprintf(in->error, sizeof(in->error), "message exceeds %zu bytes",
			 in->max_line);
		return -1;
	}
	int fd = -1;
	if (in->fd >= 0 && in->fd_pos <= line_len) {
		fd = in->fd;
		in->fd = -1;
	}
	json_t *msg = input_parse(in, data, line_len);
	buffer_consume(&in->buf, line_len + 1);
	in->scanned = 0;
	if (in->fd >= 0)
		in->fd_pos -= line_len + 1;
	if (msg == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*msg_r = msg;
	*fd_r = fd;
	return 1;
}

/* ---- output ---- */

void ipc_frame_output_init(struct ipc_frame_output *out, size_t max_line, size_t max_queued)
{
	memset(out, 0, sizeof(*out));
	buffer_init(&out->buf, max_queued);
	out->max_line = max_line;
}

void ipc_frame_output_deinit(struct ipc_frame_output *out)
{
	for (size_t i = 0; i < out->fds_count; i++)
		close(out->fds[out->fds_head + i].fd);
	i_free(out->fds);
	out->fds_head = out->fds_count = out->fds_alloc = 0;
	buffer_deinit(&out->buf);
}

static void output_push_fd(struct ipc_frame_output *out, int fd, uint64_t offset, size_t len)
{
	if (out->fds_head + out->fds_count == out->fds_alloc) {
		if (out->fds_head > 0) {
			memmove(out->fds, out->fds + out->fds_head,
				out->fds_count * sizeof(*out->fds));
			out->fds_head = 0;
		} else {
			out->fds_alloc = out->fds_alloc == 0 ? 4 : out->fds_alloc * 2;
			out->fds = i_reallocarray(out->fds, out->fds_alloc, sizeof(*out->fds));
		}
	}
	struct ipc_frame_fd *entry = &out->fds[out->fds_head + out->fds_count++];
	entry->offset = offset;
	entry->len = len;
	entry->fd = fd;
}

static int output_check(struct ipc_frame_output *out, const char *line, size_t len)
{
	if (line == NULL) {
		snprintf(out->error, sizeof(out->error), "message is not a JSON object");
		return -1;
	}
	if (len > out->max_line) {
		snprintf(out->error, sizeof(out->error),
			 "message of %zu bytes exceeds the limit of %zu", len, out->max_line);
		return -1;
	}
	if (buffer_reserve(&out->buf, len + 1) == NULL) {
		snprintf(out->error, sizeof(out->error),
			 "output queue full (%zu bytes): the peer is not reading",
			 buffer_len(&out->buf));
		return -2;
	}
	return 0;
}

int ipc_frame_output_add(struct ipc_frame_output *out, const json_t *msg, int fd)
{
	char *line = json_is_object(msg) ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t len = line == NULL ? 0 : strlen(line);
	int dup_fd = -1;

	int ret = output_check(out, line, len);
	if (ret == 0 && fd >= 0 && (dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		snprintf(out->error, sizeof(out->error), "dup(fd %d): %s", fd, strerror(errno));
		ret = -1;
	}
	if (ret == 0) {
		uint64_t offset = out->sent + buffer_len(&out->buf);
		buffer_append(&out->buf, line, len);
		buffer_append_c(&out->buf, '\n');
		if (dup_fd >= 0)
			output_push_fd(out, dup_fd, offset, len + 1);
	}
	free(line);
	return ret;
}

int ipc_frame_output_flush(struct ipc_frame_output *out, int sock)
{
	while (buffer_len(&out->buf) > 0) {
		size_t len = buffer_len(&out->buf);
		struct ipc_frame_fd *next = out->fds_count == 0 ? NULL : &out->fds[out->fds_head];
		int fd = -1;

		if (next != NULL && next->offset == out->sent) {
			/* The descriptor goes with its line's first byte and no other line. */
			fd = next->fd;
			if (len > next->len)
				len = next->len;
		} else if (next != NULL && next->offset - out->sent < len) {
			len = (size_t)(next->offset - out->sent);
		}
		ssize_t ret = fdpass_send(sock, fd, buffer_data(&out->buf), len);
		if (ret < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if (fd >= 0) {
			close(fd);
			out->fds_head++;
			if (--out->fds_count == 0)
				out->fds_head = 0;
		}
		buffer_consume(&out->buf, (size_t)ret);
		out->sent += (uint64_t)ret;
	}
	return 1;
}

/* ---- hello ---- */

json_t *ipc_frame_hello(const char *protocol, unsigned int major, unsigned int minor)
{
	json_t *hello = json_object();
	json_object_set_new(hello, "hello", json_string(protocol));
	json_object_set_new(hello, "major", json_integer(major));
	json_object_set_new(hello, "minor", json_integer(minor));
	return hello;
}

/* A peer's protocol name for the log: printable ASCII only, bounded. */
static void sanitize_name(const char *name, char *dest, size_t size)
{
	size_t i;
	for (i = 0; name[i] != '\0' && i + 1 < size; i++)
		dest[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
	dest[i] = '\0';
}

int ipc_frame_check_hello(const json_t *msg, const char *protocol, unsigned int major,
			  char *error, size_t size)
{
	const json_t *name = json_object_get(msg, "hello");
	const json_t *peer_major = json_object_get(msg, "major");
	const json_t *peer_minor = json_object_get(msg, "minor");
	char peer_name[65];

	if (!json_is_string(name) || !json_is_integer(peer_major) ||
	    !json_is_integer(peer_minor)) {
		snprintf(error, size, "expected a hello for %s %u first, got another message",
			 protocol, major);
		return -1;
	}
	if (strcmp(json_string_value(name), protocol) == 0 &&
	    json_integer_value(peer_major) == (json_int_t)major)
		return 0;
	sanitize_name(json_string_value(name), peer_name, sizeof(peer_name));
	snprintf(error, size, "protocol mismatch: peer speaks %s %" JSON_INTEGER_FORMAT
		 ".%" JSON_INTEGER_FORMAT ", we speak %s %u", peer_name,
		 json_integer_value(peer_major), json_integer_value(peer_minor), protocol, major);
	return -1;
}
