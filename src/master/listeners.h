#ifndef PYMAP_MASTER_LISTENERS_H
#define PYMAP_MASTER_LISTENERS_H
/* Every listening socket of pymap, created by the master before any child exists:
 * "imap" (TCP, [server] host x port), "imaps" (implicit TLS, [server] tls_port, only
 * with a [tls] cert), "auth" ([server] auth_socket) and "admin" ([server] admin_socket).
 * Sockets handed over by systemd (LISTEN_FDS, named by LISTEN_FDNAMES) replace the
 * ones of the same name. Children get them by descriptor number (services.c).
 * Called by main.c. */
#include <stdbool.h>

struct config;

struct listener {
	char *name;       /* imap, imaps, auth, admin */
	char *desc;       /* "127.0.0.1:143", "[::]:143", "/run/pymap/auth.sock" */
	int fd;           /* close-on-exec, non-blocking */
	bool unlink;      /* a UNIX socket file we created */
};

struct listeners {
	struct listener *items;
	unsigned int count;
};

/* Return 0, or -1 after logging one line naming the address that failed. */
int listeners_open(struct listeners *ls, const struct config *cfg);
void listeners_close(struct listeners *ls);

#endif
