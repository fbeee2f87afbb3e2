#ifndef PYMAP_MASTER_LISTENERS_H
#define PYMAP_MASTER_LISTENERS_H
/* Every listening socket of pymap, created by the master before any child exists:
 * "imap" (TCP, [server] host x port), "imaps" (implicit TLS, [server] tls_port, only
 * with a [tls] cert), "auth" ([server] auth_socket) and "admin" ([server] admin_socket).
 * Sockets handed over by systemd (LISTEN_FDS, named by LISTEN_FDNAMES) replace the
 * ones of the same name. Children get them by descriptor number (services.c).
 *
 * Per-worker sockets: every TCP listener the master binds itself (not one from
 * systemd) is a SO_REUSEPORT group with one socket per imap worker slot, so the
 * kernel spreads new connections evenly over the workers by a hash of the
 * addresses; worker slot i always gets socket i (also after a respawn or reload).
 * Sockets from systemd and UNIX sockets are shared by every child of the role
 * (imap workers accept with EPOLLEXCLUSIVE). Called by main.c and supervise.c. */
#include <stdbool.h>
#include <sys/socket.h>

struct config;

struct listener {
	char *name;       /* imap, imaps, auth, admin */
	char *desc;       /* "127.0.0.1:143", "[::]:143", "/run/pymap/auth.sock" */
	int fd;           /* close-on-exec, non-blocking; -1 for a per-worker listener */
	bool unlink;      /* a UNIX socket file we created */
	/* Per-worker listener (TCP bound here with SO_REUSEPORT): the socket of each
	 * imap worker slot, -1 where closed (its worker died, see supervise.c). */
	int *worker_fds;
	unsigned int worker_fd_count;
	struct sockaddr_storage addr;   /* where the per-worker sockets are bound */
	socklen_t addr_len;
};

struct listeners {
	struct listener *items;
	unsigned int count;
};

/* Return 0, or -1 after logging one line naming the address that failed. */
int listeners_open(struct listeners *ls, const struct config *cfg);
void listeners_close(struct listeners *ls);

/* Give every per-worker listener exactly count sockets: bind the missing ones of
 * slots below count, close those of slots from count on. A bind failure is logged;
 * that slot then shares another slot's socket. */
void listeners_set_workers(struct listeners *ls, unsigned int count);
/* Close slot's sockets (its worker died) so that the kernel hashes new connections
 * over the live workers only; listeners_worker_open() binds them again. */
void listeners_worker_close(struct listeners *ls, unsigned int slot);
void listeners_worker_open(struct listeners *ls, unsigned int slot);
/* The descriptor imap worker slot gets for l: its own socket, l->fd when shared,
 * or another slot's socket when its own could not be bound; -1 when none is open. */
int listener_worker_fd(const struct listener *l, unsigned int slot);

#endif
