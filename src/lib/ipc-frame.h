#ifndef PYMAP_IPC_FRAME_H
#define PYMAP_IPC_FRAME_H
/* The wire format of pymap IPC (doc/ipc.md), shared by the event-loop connection
 * (ipc.c) and the blocking client (ipc-client.c); nothing else should need it.
 *
 * Input: a bounded buffer that never holds more than one maximal line plus its '\n';
 * lines are split on '\n' and parsed with jansson; a received descriptor is tied to
 * the line that contains the last byte of the read that delivered it.
 * Output: serialised lines plus a queue of descriptors, each sent with the first byte
 * of its line in a sendmsg() that carries no byte of any other line.
 * Hello: building and checking {"hello":PROTOCOL,"major":M,"minor":N}. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "buffer.h"

#define IPC_FRAME_ERROR_MAX 200

struct ipc_frame_input {
	struct buffer buf;       /* max_size = max_line + 1 */
	size_t max_line;         /* bytes before the '\n' */
	size_t scanned;          /* bytes already known to hold no '\n' */
	bool accept_fds;
	int fd;                  /* received, not yet tied to a complete line; or -1 */
	size_t fd_pos;           /* offset in buf of the last byte read with fd */
	char error[IPC_FRAME_ERROR_MAX];
};

struct ipc_frame_fd {
	uint64_t offset;         /* stream offset of the first byte of its line */
	size_t len;              /* length of the line including '\n' */
	int fd;
};

struct ipc_frame_output {
	struct buffer buf;       /* max_size = output limit */
	size_t max_line;
	uint64_t sent;           /* stream offset of buffer_data(&buf)[0] */
	struct ipc_frame_fd *fds;
	size_t fds_head, fds_count, fds_alloc;
	char error[IPC_FRAME_ERROR_MAX];
};

void ipc_frame_input_init(struct ipc_frame_input *in, size_t max_line, bool accept_fds);
/* Closes a descriptor that never got its line. */
void ipc_frame_input_deinit(struct ipc_frame_input *in);
/* One recvmsg() into the buffer. Returns bytes read (> 0), 0 on EOF, -1 on a socket
 * error (errno; EAGAIN when nothing is ready) or -2 on a protocol error (in->error):
 * an unwanted descriptor, or a second one before the first found its line. */
int ipc_frame_input_read(struct ipc_frame_input *in, int sock);
/* Take the next complete line: 1 with *msg_r (new reference, always an object) and
 * *fd_r (-1 or a descriptor the caller now owns), 0 when more input is needed, -1 on
 * a protocol error (in->error): line too long, invalid JSON, not an object. */
int ipc_frame_input_next(struct ipc_frame_input *in, json_t **msg_r, int *fd_r);

void ipc_frame_output_init(struct ipc_frame_output *out, size_t max_line, size_t max_queued);
/* Closes the duplicates of unsent descriptors. */
void ipc_frame_output_deinit(struct ipc_frame_output *out);
/* Serialise msg (an object) as one line; fd >= 0 is duplicated and queued with it.
 * 0 ok; -1 (out->error, nothing queued) when msg is not an object, the line exceeds
 * max_line or the descriptor cannot be duplicated; -2 (out->error, nothing queued)
 * when the queue limit would be exceeded. */
int ipc_frame_output_add(struct ipc_frame_output *out, const json_t *msg, int fd);
static inline size_t ipc_frame_output_pending(const struct ipc_frame_output *out)
{ return buffer_len(&out->buf); }
/* Write as much as the socket takes. 1 all sent, 0 output remains (EAGAIN), -1 on a
 * socket error (errno). */
int ipc_frame_output_flush(struct ipc_frame_output *out, int sock);

/* New reference: the hello object. */
json_t *ipc_frame_hello(const char *protocol, unsigned int major, unsigned int minor);
/* Check the peer's first message. 0 when it is a hello for protocol with the same
 * major version; -1 with a one-line error_r (written into error, size bytes) that
 * names both sides. */
int ipc_frame_check_hello(const json_t *msg, const char *protocol, unsigned int major,
			  char *error, size_t size);

#endif
