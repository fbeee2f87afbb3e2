#ifndef PYMAP_IMAP_CLIENT_H
#define PYMAP_IMAP_CLIENT_H
/* One IMAP connection in a worker: the socket (plain or TLS), bounded input, output
 * with backpressure, the command parser, session state and timeouts.
 *
 * Commands run one at a time. A command may suspend (waiting for the auth process, or
 * for output to drain in a large FETCH); input is not read while one runs, so a
 * client that pipelines cannot make the worker buffer without bound.
 *
 * Output: client_send*() append to an output buffer; a command that produces a lot
 * checks client_output_full() and returns "not finished" to be resumed when the
 * socket has drained. Message bytes can be queued by reference
 * (client_send_content) so a large body is written from the store's memory or mapping
 * without a copy. */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "buffer.h"

struct ioloop;
struct store;
struct store_user;
struct store_content;
struct imap_parser;
struct imap_view;
struct client_command;
struct tls_conn;

enum client_state {
	CLIENT_STATE_NOT_AUTHENTICATED,
	CLIENT_STATE_AUTHENTICATED,
	CLIENT_STATE_SELECTED,
	CLIENT_STATE_LOGOUT,
};

struct client_settings {
	unsigned int login_timeout_secs;       /* before authentication */
	unsigned int autologout_secs;          /* idle authenticated session, >= 1800 */
	unsigned int write_timeout_secs;       /* output pending and not drained */
	unsigned int idle_keepalive_secs;      /* "* OK Still here" during IDLE */
	unsigned int bad_command_limit;        /* consecutive BADs before BYE */
	uint64_t max_append_bytes;             /* APPENDLIMIT */
	unsigned int max_line_bytes;
	const char *fqdn;
	const char *auth_socket_path;
	const char *plaintext_auth;            /* "loopback", "always", "never" */
	bool tls_available;                    /* STARTTLS possible */
};

struct client {
	struct client *prev, *next;
	struct ioloop *loop;
	const struct client_settings *set;
	struct store *store;
	int fd;
	struct io *io;
	char remote_ip[64];
	bool remote_loopback;
	char session_id[17];
	time_t connected_at;

	struct tls_conn *tls;                  /* NULL for plain text */
	bool tls_implicit;

	struct buffer input;
	struct buffer output;
	struct buffer output_tail;             /* queued after out_content */
	struct store_content *out_content;     /* queued by reference after output */
	size_t out_content_pos, out_content_end;

	struct imap_parser *parser;
#define CLIENT_MAX_SPOOL_FILES 64
	int spool_fds[CLIENT_MAX_SPOOL_FILES]; /* APPEND literals of the current command */
	unsigned int spool_count;
	bool literal_too_big;                  /* the rejected literal was over a limit */
	struct client_command *command;        /* running command, or NULL */
	enum client_state state;
	unsigned int bad_count;

	char *username;
	struct store_user *user;
	struct imap_view *view;                /* selected mailbox */

	struct timeout *to_idle;               /* login timeout / autologout */
	struct timeout *to_write;
	struct client *report_prev, *report_next; /* admin-report.c's changed sessions */
	bool report_dirty;                     /* on that list */
	bool input_blocked;                    /* a command runs: don't parse more */
	bool disconnecting;                    /* flush output, then close */
	bool wake_pending;                     /* client_wake() queued, not yet run */
	bool destroyed;
};

/* Takes ownership of fd. */
struct client *client_create(struct ioloop *loop, int fd, const struct client_settings *set,
			     struct store *store, bool tls_implicit);
/* Send "* BYE reason" (if reason != NULL), flush what can be flushed, close. */
void client_disconnect(struct client *client, const char *bye_reason);
/* End every client (worker shutdown). */
void client_disconnect_all(const char *bye_reason);
/* End every session of user; returns how many. */
unsigned int client_disconnect_user(const char *user, const char *bye_reason);
unsigned int client_count(void);
/* The list of clients (follow ->next). */
struct client *client_first(void);

/* Counters since the worker started. */
struct client_counters {
	uint64_t commands;
	uint64_t logins;
};
const struct client_counters *client_counters(void);
struct client_counters *client_counters_mut(void);

void client_send(struct client *client, const void *data, size_t size);
void client_send_str(struct client *client, const char *str);
void client_sendf(struct client *client, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Queue size bytes of content from offset, by reference (takes a new reference to
 * content's lifetime by keeping it until written: the caller passes ownership). */
void client_send_content(struct client *client, struct store_content *content,
			 size_t offset, size_t size);
/* True when the command producing output should pause until it drains. */
bool client_output_full(const struct client *client);
/* Write what the socket takes now. */
void client_flush(struct client *client);

/* Resume reading commands after a suspended command finished. */
void client_command_finished(struct client *client);
/* Called by a suspended command when it wants to be run again (output drained, auth
 * replied): the client resumes it from the loop. */
void client_wake(struct client *client);

/* Reset the autologout / login timer after activity. */
void client_touch(struct client *client);

/* Switch the connection to TLS now (STARTTLS after the OK was sent, or at accept for
 * implicit TLS). Returns -1 when no TLS is configured. */
int client_start_tls(struct client *client);

#endif
