#ifndef PYMAP_ADMIN_CLIENT_H
#define PYMAP_ADMIN_CLIENT_H
/* What pymapctl and pymap-lda share to reach the admin service: finding admin.sock
 * the way the daemon places it, and connecting with the pymap-admin protocol
 * (doc/ipc.md). Owned by the admin service's area (src/admin/). */
#include <stdbool.h>

struct ipc_client;

#define ADMIN_CLIENT_PROTOCOL "pymap-admin"
#define ADMIN_CLIENT_MAJOR 1
#define ADMIN_CLIENT_MINOR 0
/* Messages on admin.sock may be larger than the IPC default: sessions.list of a busy
 * server (about 150 bytes per session). The admin service truncates above it. */
#define ADMIN_MAX_MESSAGE_BYTES (4 * 1024 * 1024)

/* The socket path (malloc'ed): explicit (--path) when given, else $PYMAP_ADMIN_SOCKET
 * when set, else the first existing of the daemon's defaults: /run/pymap/admin.sock,
 * $XDG_RUNTIME_DIR/pymap/admin.sock, /tmp/pymap-UID/admin.sock (the root default
 * when none exists). */
char *admin_client_socket_path(const char *explicit_path);
/* Connect and exchange the hello. NULL with a one-line *error_r naming the path. */
struct ipc_client *admin_client_connect(const char *path, unsigned int timeout_msecs,
					const char **error_r);

/* The message to deliver as a descriptor the admin service can read from offset 0:
 * in_fd itself when it is a regular file positioned at 0 (*fd_r = in_fd, not to be
 * closed by the caller), else a memfd the input is copied into, streaming, binary
 * safe (*fd_r owned by the caller). 1 ok; 0 when the input is larger than limit
 * bytes (nothing more is read); -1 with *error_r on a read or write error. */
int admin_client_spool(int in_fd, unsigned long long limit, int *fd_r, const char **error_r);

#endif
