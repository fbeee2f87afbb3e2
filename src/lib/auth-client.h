#ifndef PYMAP_AUTH_CLIENT_H
#define PYMAP_AUTH_CLIENT_H
/* A process's connection to the auth process (auth.sock, protocol "pymap-auth"): one
 * shared connection per process (the imap workers for LOGIN/AUTHENTICATE, the admin
 * service for its login op), (re)connected on demand, asynchronous requests on the
 * process's ioloop. When the auth process is down or restarting, requests fail as
 * temporary errors and the next request reconnects. */
#include <jansson.h>

struct ioloop;

/* reply NULL: auth unreachable or timed out (temporary failure). */
typedef void auth_reply_callback_t(json_t *reply, void *context);

void auth_client_init(struct ioloop *loop, const char *socket_path);
void auth_client_deinit(void);
/* Send request (borrowed; "id" is added). Returns a handle to cancel with, or NULL
 * when the callback already ran (connect failed: called with NULL at once). */
struct auth_request *auth_client_request(json_t *request, auth_reply_callback_t *callback,
					 void *context);
/* The caller is going away: the callback will not run. */
void auth_client_cancel(struct auth_request **request);

#endif
