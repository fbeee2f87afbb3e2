#ifndef PYMAP_IMAP_ADMIN_REPORT_H
#define PYMAP_IMAP_ADMIN_REPORT_H
/* The worker's link to the admin service (admin.sock, protocol "pymap-admin"): it
 * reports this worker's sessions and counters and ends a user's sessions when asked
 * ("worker.kick"). After each (re)connection it sends every session once
 * ("worker.report"); from then on only the sessions that changed or ended
 * ("worker.update"), coalesced to at most one message a second, so the cost follows
 * the changes and not the number of sessions. The link is optional: when the admin
 * service is not there, reports wait and are retried. */

struct ioloop;
struct client;

void admin_report_init(struct ioloop *loop, const char *socket_path);
void admin_report_deinit(void);
/* A session appeared, logged in, or selected/closed a mailbox: report it soon. */
void admin_report_session_changed(struct client *client);
/* A session ends (called before it is freed). */
void admin_report_session_closed(struct client *client);

#endif
