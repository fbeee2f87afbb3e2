#ifndef PYMAP_MASTER_SYSTEMD_H
#define PYMAP_MASTER_SYSTEMD_H
/* The two systemd protocols the master speaks, without libsystemd:
 * - sd_notify: datagrams such as "READY=1" to $NOTIFY_SOCKET (a path, or "@name" for
 *   the abstract namespace). Without $NOTIFY_SOCKET every call does nothing.
 * - socket activation: $LISTEN_PID/$LISTEN_FDS/$LISTEN_FDNAMES describe descriptors
 *   3.. that systemd bound for us.
 * Called by main.c, supervise.c and listeners.c. */
#include <stdbool.h>

/* Read and unset $NOTIFY_SOCKET (children never see it). */
void systemd_notify_init(void);
void systemd_notify_deinit(void);
/* Send one message, e.g. "READY=1" or "STATUS=2 workers, 5 sessions". */
void systemd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct systemd_listen_fd {
	int fd;
	char name[64];   /* from LISTEN_FDNAMES, "" when missing */
};
/* The descriptors passed to this process (LISTEN_PID must be our pid), marked
 * close-on-exec; the variables are unset. Returns the count (0 when none) and the
 * array in *fds_r (caller frees). */
unsigned int systemd_listen_fds(struct systemd_listen_fd **fds_r);

#endif
