#ifndef PYMAP_FDPASS_H
#define PYMAP_FDPASS_H
/* Sending and receiving one file descriptor with SCM_RIGHTS next to stream data on a
 * UNIX socket. Used by ipc.c (the JSON-line framing) and by nothing else; the rules
 * that tie a descriptor to one message are in ipc.h and doc/ipc.md.
 *
 * On a stream socket a descriptor travels with the first byte of the sendmsg() that
 * carried it, and the kernel ends a recvmsg() at the latest inside that sendmsg's
 * data: a read that delivers a descriptor returns data whose last byte was sent
 * together with the descriptor. */
#include <stddef.h>
#include <sys/types.h>

/* Maximum number of descriptors one recvmsg() can report (more are discarded by the
 * kernel and the read fails with EPROTO). */
#define FDPASS_MAX_RECV_FDS 8

/* Send up to size bytes (size > 0) of data; when fd >= 0 attach it (the caller keeps
 * its own copy). Returns the number of bytes sent like send(2), or -1 with errno
 * (EAGAIN on a full non-blocking socket). When the return value is > 0 the
 * descriptor went with it. MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE. */
ssize_t fdpass_send(int sock, int fd, const void *data, size_t size);

/* Receive up to size bytes. *fd_r is set to a received descriptor (close-on-exec) or
 * -1. Returns bytes read, 0 on EOF, or -1 with errno; errno EPROTO when more than one
 * descriptor arrived or the control data was truncated: every received descriptor
 * is closed then and the data read is lost (treat it as a protocol error). */
ssize_t fdpass_recv(int sock, int *fd_r, void *data, size_t size);

#endif
