/* Connection handling of one IMAP client: socket I/O, output queue, timeouts. */
#include "client.h"
#include "admin-report.h"
#include "commands.h"
#include "view.h"
#include "tls.h"
#include "alloc.h"
#include "imap-parser.h"
#include "ioloop.h"
#include "log.h"
#include "store/store.h"
#include "llist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sodium.h>

#define CLIENT_READ_CHUNK_BYTES 16384
#define CLIENT_DISCONNECT_GRACE_MSECS 5000
#define CLIENT_OUTPUT_HIGH_WATER_BYTES (128 * 1024)
/* Input kept between reads: a line up to the limit plus one read's worth. */
#define CLIENT_INPUT_SLACK_BYTES (CLIENT_READ_CHUNK_BYTES * 2)

static struct client *clients;
static unsigned int clients_count;

static void client_input(void *context);
static void client_flush_output(struct client *client);
static void client_update_io(struct client *client);
static void client_destroy(struct client *client);

static struct client_counters counters;

unsigned int client_count(void) { return clients_count; }
struct client *client_first(void) { return clients; }
const struct client_counters *client_counters(void) { return &counters; }
struct client_counters *client_counters_mut(void) { return &counters; }

static void client_set_remote(struct client *client)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	strcpy(client->remote_ip, "unknown");
	if (getpeername(client->fd, (struct sockaddr *)&addr, &len) < 0)
		return;
	if (addr.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;
		inet_ntop(AF_INET, &in->sin_addr, client->remote_ip, sizeof(client->remote_ip));
		client->remote_loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (addr.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, client->remote_ip, sizeof(client->remote_ip));
		client->remote_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
			(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
	} else if (addr.ss_family == AF_UNIX) {
		strcpy(client->remote_ip, "local");
		client->remote_loopback = true;
	}
}

static void client_idle_timeout(void *context)
{
	struct client *client = context;
	timeout_remove(&client->to_idle);
	client_disconnect(client, client->state == CLIENT_STATE_NOT_AUTHENTICATED ?
			  "Login timeout." : "Autologout; idle for too long.");
}

void client_touch(struct client *client)
{
	unsigned int secs = client->state == CLIENT_STATE_NOT_AUTHENTICATED ?
		client->set->login_timeout_secs : client->set->autologout_secs;
	timeout_remove(&client->to_idle);
	client->to_idle = timeout_add(client->loop, secs * 1000, client_idle_timeout, client);
}

struct client *client_create(struct ioloop *loop, int fd, const struct client_settings *set,
			     struct store *store, bool tls_implicit)
{
	struct client *client = i_new0(struct client);
	unsigned char raw[8];

	client->loop = loop;
	client->set = set;
	client->store = store;
	client->fd = fd;
	client->tls_implicit = tls_implicit;
	client->connected_at = time(NULL);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	client_set_remote(client);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(client->session_id, sizeof(client->session_id), raw, sizeof(raw));
	buffer_init(&client->input, set->max_line_bytes + CLIENT_INPUT_SLACK_BYTES);
	buffer_init(&client->output, 0);
	buffer_init(&client->output_tail, 0);
	struct imap_parser_settings parser_set = { .max_line_bytes = set->max_line_bytes };
	client->parser = imap_parser_create(&client->input, &parser_set);
	client->state = CLIENT_STATE_NOT_AUTHENTICATED;
	client->io = io_add(loop, fd, IO_READ, client_input, client);

	client->next = clients;
	if (clients != NULL)
		clients->prev = client;
	clients = client;
	clients_count++;
	admin_report_session_changed(client);

	log_info("session=%s: connect from %s%s", client->session_id, client->remote_ip,
		 tls_implicit ? " (TLS)" : "");
	if (tls_implicit && client_start_tls(client) < 0) {
		client_disconnect(client, NULL);
		return client;
	}
	commands_send_greeting(client);
	client_touch(client);
	return client;
}

/* ---- output ---- */

/* While message content is queued by reference, later output goes to output_tail so
 * the order on the wire is: output, content, output_tail. */
static struct buffer *client_out(struct client *client)
{
	return client->out_content != NULL ? &client->output_tail : &client->output;
}

/* How much of an output chunk the debug log shows: one line, no CRLF. */
static size_t debug_len(const void *data, size_t size)
{
	const char *nl = memchr(data, '\r', size);
	size_t len = nl == NULL ? size : (size_t)(nl - (const char *)data);
	return len > 200 ? 200 : len;
}

void client_send(struct client *client, const void *data, size_t size)
{
	if (client->destroyed)
		return;
	buffer_append(client_out(client), data, size);
	if (log_debug_enabled() && size > 0)
		log_debug("session=%s: S: %.*s", client->session_id,
			  (int)debug_len(data, size), (const char *)data);
}

void client_send_str(struct client *client, const char *str)
{
	client_send(client, str, strlen(str));
}

void client_sendf(struct client *client, const char *fmt, ...)
{
	va_list args;
	struct buffer *out = client_out(client);
	size_t before = buffer_len(out);
	va_start(args, fmt);
	buffer_vprintf(out, fmt, args);
	va_end(args);
	if (log_debug_enabled()) {
		size_t len = buffer_len(out) - before;
		const char *text = buffer_str(out) + before;
		log_debug("session=%s: S: %.*s", client->session_id, (int)debug_len(text, len),
			  text);
	}
}

void client_send_content(struct client *client, struct store_content *content,
			 size_t offset, size_t size)
{
	/* Small pieces, or a second piece while one is still queued (callers wait for
	 * client_output_full() to clear, so this is rare and bounded), are copied. */
	if (size <= 4096 || client->out_content != NULL) {
		client_send(client, content->data + offset, size);
		store_content_release(&content);
		return;
	}
	client->out_content = content;
	client->out_content_pos = offset;
	client->out_content_end = offset + size;
}

bool client_output_full(const struct client *client)
{
	return client->out_content != NULL ||
	       buffer_len(&client->output) >= CLIENT_OUTPUT_HIGH_WATER_BYTES;
}

static ssize_t client_write_raw(struct client *client, const void *data, size_t size)
{
	if (client->tls != NULL)
		return tls_conn_write(client->tls, data, size);
	return write(client->fd, data, size);
}

static ssize_t client_read_raw(struct client *client, void *data, size_t size)
{
	if (client->tls != NULL)
		return tls_conn_read(client->tls, data, size);
	return read(client->fd, data, size);
}

static void client_write_timeout(void *context)
{
	struct client *client = context;
	timeout_remove(&client->to_write);
	log_info("session=%s: write timeout: client stopped reading", client->session_id);
	client_destroy(client);
}

/* Returns false when the connection failed. */
static bool flush_bytes(struct client *client, const unsigned char *data, size_t size,
			size_t *written_r)
{
	*written_r = 0;
	while (*written_r < size) {
		ssize_t n = client_write_raw(client, data + *written_r, size - *written_r);
		if (n > 0) {
			*written_r += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return true;
		if (n < 0 && errno != EPIPE && errno != ECONNRESET)
			log_warning_errno("session=%s: write", client->session_id);
		return false;
	}
	return true;
}

void client_flush(struct client *client)
{
	bool was_full = client_output_full(client);
	client_flush_output(client);
	/* A command paused on a full queue (FETCH) continues once it has drained. */
	if (was_full && !client->destroyed && !client_output_full(client) &&
	    client->command != NULL && client->command->resume != NULL)
		client_wake(client);
}

static void client_flush_output(struct client *client)
{
	size_t written;
	if (client->destroyed)
		return;
	/* Bytes in output that precede the content are those queued before it; the
	 * content path copies any earlier content out, so order is: output, content. */
	if (!flush_bytes(client, buffer_data(&client->output), buffer_len(&client->output),
			 &written)) {
		client_destroy(client);
		return;
	}
	buffer_consume(&client->output, written);
	if (buffer_len(&client->output) == 0 && client->out_content != NULL) {
		struct store_content *c = client->out_content;
		if (!flush_bytes(client, c->data + client->out_content_pos,
				 client->out_content_end - client->out_content_pos, &written)) {
			client_destroy(client);
			return;
		}
		client->out_content_pos += written;
		if (client->out_content_pos == client->out_content_end) {
			struct buffer tmp = client->output;
			store_content_release(&client->out_content);
			client->output = client->output_tail;
			client->output_tail = tmp;
			client_flush_output(client);
			return;
		}
	}
	bool pending = buffer_len(&client->output) > 0 || client->out_content != NULL;
	if (pending && client->to_write == NULL)
		client->to_write = timeout_add(client->loop, client->set->write_timeout_secs * 1000,
					       client_write_timeout, client);
	else if (!pending)
		timeout_remove(&client->to_write);
	else if (written > 0)
		timeout_reset(client->to_write);
	if (!pending && client->disconnecting) {
		client_destroy(client);
		return;
	}
	client_update_io(client);
}

/* ---- input ---- */

static void client_update_io(struct client *client)
{
	bool pending = buffer_len(&client->output) > 0 || client->out_content != NULL;
	int cond = 0;
	if (client->destroyed || client->io == NULL)
		return;
	if (client->tls != NULL && tls_conn_handshaking(client->tls)) {
		/* Only the handshake's own direction: queued output (the greeting) must
		 * not make a writable socket wake us in a loop. */
		cond = tls_conn_wanted_io(client->tls, 0);
		io_set_condition(client->io, cond != 0 ? cond : IO_READ);
		return;
	}
	if (pending)
		cond |= IO_WRITE;
	if (!client->input_blocked && !client->disconnecting && !pending)
		cond |= IO_READ;
	if (client->tls != NULL)
		cond |= tls_conn_wanted_io(client->tls, cond);
	io_set_condition(client->io, cond);
}

static void client_read_input(struct client *client)
{
	unsigned char *dest = buffer_reserve(&client->input, CLIENT_READ_CHUNK_BYTES);
	if (dest == NULL) {
		/* The parser consumes what it can; a full buffer means one line is over
		 * the limit, which the parser reports itself. */
		commands_process_input(client);
		return;
	}
	ssize_t n = client_read_raw(client, dest, CLIENT_READ_CHUNK_BYTES);
	if (n == 0) {
		log_info("session=%s: disconnected", client->session_id);
		client_destroy(client);
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		if (errno != ECONNRESET)
			log_info("session=%s: read: %s", client->session_id, strerror(errno));
		client_destroy(client);
		return;
	}
	buffer_commit(&client->input, (size_t)n);
	commands_process_input(client);
	/* OpenSSL may hold decrypted bytes that epoll cannot report: read again soon. */
	if (!client->destroyed && client->tls != NULL && tls_conn_pending(client->tls) > 0)
		ioloop_defer(client->loop, client_input, client);
}

static void client_input(void *context)
{
	struct client *client = context;
	if (client->destroyed)
		return;
	bool had_output = buffer_len(&client->output) > 0 || client->out_content != NULL;

	if (client->tls != NULL && tls_conn_handshaking(client->tls)) {
		if (tls_conn_handshake(client->tls) < 0) {
			client_destroy(client);
			return;
		}
		client_update_io(client);
		return;
	}
	if (had_output) {
		client_flush(client);
		if (client->destroyed)
			return;
		if (!client_output_full(client) && client->command != NULL)
			commands_resume(client);
		if (client->destroyed)
			return;
	}
	bool idle_output = buffer_len(&client->output) == 0 && client->out_content == NULL;
	/* Pipelined commands left in the buffer while output was draining run first. */
	if (!client->input_blocked && !client->disconnecting && idle_output &&
	    buffer_len(&client->input) > 0) {
		commands_process_input(client);
		if (client->destroyed)
			return;
		idle_output = buffer_len(&client->output) == 0 && client->out_content == NULL;
	}
	if (!client->input_blocked && !client->disconnecting && idle_output)
		client_read_input(client);
	if (!client->destroyed)
		client_update_io(client);
}

void client_command_finished(struct client *client)
{
	client->input_blocked = false;
	client_flush(client);
	if (client->destroyed)
		return;
	/* Pipelined commands may already be in the input buffer. */
	if (!client->disconnecting && buffer_len(&client->input) > 0)
		commands_process_input(client);
	if (!client->destroyed)
		client_update_io(client);
}

static void client_wake_callback(void *context)
{
	struct client *client = context;
	client->wake_pending = false;
	if (client->command != NULL)
		commands_resume(client);
	if (!client->destroyed)
		client_update_io(client);
}

void client_wake(struct client *client)
{
	/* one wake at a time: a command that yields runs one step per loop round */
	if (client->wake_pending || client->destroyed)
		return;   /* (a destroyed client is freed by a callback queued before) */
	client->wake_pending = true;
	ioloop_defer(client->loop, client_wake_callback, client);
}

/* ---- TLS ---- */

int client_start_tls(struct client *client)
{
	if (tls_server_context() == NULL)
		return -1;
	client->tls = tls_conn_create(client->fd);
	if (client->tls == NULL)
		return -1;
	/* Input pipelined after STARTTLS before the handshake is discarded
	 * (command injection defence, CVE-2011-0411 class). */
	buffer_reset(&client->input);
	imap_parser_reset(client->parser);
	if (tls_conn_handshake(client->tls) < 0)
		return -1;
	client_update_io(client);
	return 0;
}

/* ---- teardown ---- */

static void client_free(void *context)
{
	struct client *client = context;
	free(client);
}

static void client_destroy(struct client *client)
{
	if (client->destroyed)
		return;
	client->destroyed = true;
	commands_abort(client);
	if (client->view != NULL)
		view_close(&client->view);
	store_user_close(&client->user);
	store_content_release(&client->out_content);
	io_remove(&client->io);
	timeout_remove(&client->to_idle);
	timeout_remove(&client->to_write);
	tls_conn_destroy(&client->tls);
	close(client->fd);
	imap_parser_destroy(&client->parser);
	buffer_deinit(&client->input);
	buffer_deinit(&client->output);
	buffer_deinit(&client->output_tail);
	free(client->username);
	DLLIST_REMOVE(&clients, client);
	clients_count--;
	admin_report_session_closed(client);
	commands_client_destroyed(client);
	/* Callers up the stack may still look at client->destroyed. */
	ioloop_defer(client->loop, client_free, client);
}

void client_disconnect(struct client *client, const char *bye_reason)
{
	if (client->destroyed || client->disconnecting)
		return;
	if (client->tls != NULL && tls_conn_handshaking(client->tls)) {
		/* Nothing can be said to a client that never finished the handshake. */
		log_info("session=%s: %s (during the TLS handshake)", client->session_id,
			 bye_reason != NULL ? bye_reason : "disconnecting");
		client_destroy(client);
		return;
	}
	if (bye_reason != NULL)
		client_sendf(client, "* BYE %s\r\n", bye_reason);
	client->disconnecting = true;
	client->state = CLIENT_STATE_LOGOUT;
	timeout_remove(&client->to_idle);
	/* The last words get a short grace period, not the full write timeout. */
	timeout_remove(&client->to_write);
	client->to_write = timeout_add(client->loop, CLIENT_DISCONNECT_GRACE_MSECS,
				       client_write_timeout, client);
	client_flush(client);
}

unsigned int client_disconnect_user(const char *user, const char *bye_reason)
{
	struct client *client, *next;
	unsigned int count = 0;
	for (client = clients; client != NULL; client = next) {
		next = client->next;
		if (client->username != NULL && strcmp(client->username, user) == 0 &&
		    !client->disconnecting && !client->destroyed) {
			client_disconnect(client, bye_reason);
			count++;
		}
	}
	return count;
}

void client_disconnect_all(const char *bye_reason)
{
	struct client *client, *next;
	for (client = clients; client != NULL; client = next) {
		next = client->next;
		client_disconnect(client, bye_reason);
	}
}
