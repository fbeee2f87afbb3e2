#ifndef PYMAP_MASTER_PIDFILE_H
#define PYMAP_MASTER_PIDFILE_H
/* The master's pid file: created, locked (flock) for the life of the master so a
 * second master on the same run directory refuses to start, removed at exit.
 * Called by main.c. */

struct pidfile;

/* NULL after logging why (e.g. "already running (pid 123)"). */
struct pidfile *pidfile_create(const char *path);
/* Unlink and close. */
void pidfile_remove(struct pidfile **pf);

#endif
