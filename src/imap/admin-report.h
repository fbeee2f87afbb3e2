#ifndef PYMAP_IMAP_ADMIN_REPORT_H
#define PYMAP_IMAP_ADMIN_REPORT_H
/* The worker's link to the admin service (admin.sock, protocol "pymap-admin"): it
 * reports this worker's sessions and counters ("worker.report", coalesced to at most
 * one a second) and ends a user's sessions when asked ("worker.kick"). The link is
 * optional: when the admin service is not there, reports wait and are retried. */

struct ioloop;

void admin_report_init(struct ioloop *loop, const char *socket_path);
void admin_report_deinit(void);
/* Sessions changed: send a report soon. */
void admin_report_changed(void);

#endif
