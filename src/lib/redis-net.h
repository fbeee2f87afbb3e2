#ifndef PYMAP_REDIS_NET_H
#define PYMAP_REDIS_NET_H
/* The transport under our Redis connections: one socket (TCP, UNIX or TLS with
 * OpenSSL) in non-blocking mode, with hiredis used only for the protocol
 * (redisFormatCommandArgv builds requests, a redisReader parses replies). Debian's
 * hiredis 0.14 has neither TLS nor a pluggable transport, hence this module.
 *
 * Connecting (TCP connect plus TLS handshake) takes at most connect_timeout_ms (poll()
 * on a non-blocking socket). Then the socket is blocking with SO_RCVTIMEO/SO_SNDTIMEO
 * set to command_timeout_ms (one syscall per read or write, no poll), and each write
 * and each reply must complete within command_timeout_ms. The pub/sub listener
 * switches its connection to non-blocking (redis_net_set_nonblocking) and reads it on
 * the ioloop with redis_net_read_available / redis_net_next_reply; its writes then
 * wait with poll().
 *
 * TLS: the server certificate is verified against tls_ca_file or the system's CA
 * store, and its name against tls_server_name or the URL's host (an IP address is
 * checked against the certificate's IP SANs); SNI carries that name (not for IP
 * addresses). An optional client certificate and key come from the URL.
 *
 * Called by redis-conn.c and store-redis-watch.c. Errors are one line, in a static
 * buffer valid until the next call into this module. */
#include <stdbool.h>
#include <stddef.h>
#include <hiredis.h>

#include "redis-url.h"

struct redis_net;

/* Connect to the URL's host:port (or socket), TLS handshake for rediss://, then AUTH
 * and SELECT from the URL. NULL with *error_r on failure. */
struct redis_net *redis_net_connect(const struct redis_url *url, const char **error_r);
void redis_net_destroy(struct redis_net **net);
int redis_net_fd(const struct redis_net *net);

/* Write all bytes within the command timeout. 0, or -1 with *error_r. */
int redis_net_write(struct redis_net *net, const char *data, size_t len,
		    const char **error_r);
/* Wait for one reply within the command timeout (freeReplyObject it). 0, or -1 with
 * *error_r (timeout, EOF, protocol error). */
int redis_net_read_reply(struct redis_net *net, redisReply **reply_r, const char **error_r);
/* One command (argv form) and its reply, like the two calls above. */
int redis_net_command_argv(struct redis_net *net, int argc, const char **argv,
			   const size_t *lens, redisReply **reply_r, const char **error_r);

/* A reply may be at most this big: Redis's own proto-max-bulk-len default (512 MiB,
 * the largest value it stores) plus room for framing, and this many elements (each
 * costs a reply object of about 50 bytes). Past either the reply fails and the
 * connection is dropped. */
#define REDIS_NET_MAX_REPLY_BYTES ((size_t)513 * 1024 * 1024)
#define REDIS_NET_MAX_REPLY_OBJECTS ((size_t)4 * 1024 * 1024)
/* Other limits (the pub/sub listener's messages are small). */
void redis_net_set_reply_limits(struct redis_net *net, size_t max_bytes, size_t max_objects);

/* For a connection read from an event loop. 0, or -1 with *error_r. */
int redis_net_set_nonblocking(struct redis_net *net, const char **error_r);
/* Non-blocking connections only: read what has arrived (at most a few reads, so one
 * busy connection cannot hold the loop) into the parser. 0 (also when nothing was
 * there), -1 with *error_r on EOF or error. */
int redis_net_read_available(struct redis_net *net, const char **error_r);
/* Bytes OpenSSL has already decrypted (poll() does not see them): read on soon. */
bool redis_net_has_buffered(const struct redis_net *net);
/* A reply already parsed: 1 with *reply_r, 0 none yet, -1 protocol error. */
int redis_net_next_reply(struct redis_net *net, redisReply **reply_r, const char **error_r);

#endif
