#include "admin-report.h"
#include "client.h"
#include "view.h"
#include "alloc.h"
#include "buffer.h"
#include "ioloop.h"
#include "ipc.h"
#include "log.h"
#include "store/store.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ADMIN_REPORT_DELAY_MSECS 1000
#define ADMIN_REPORT_RETRY_MSECS 5000
#define ADMIN_REPORT_TIMEOUT_MSECS 10000
/* Well under IPC_DEFAULT_MAX_MESSAGE_BYTES with the envelope around the sessions. */
#define ADMIN_REPORT_PART_BYTES (32 * 1024)
/* Ended sessions remembered between two reports before a whole report is cheaper. */
#define ADMIN_REPORT_MAX_REMOVED 100000

static struct ioloop *report_loop;
static char *report_path;
static struct ipc_conn *report_conn;
static struct timeout *report_timer;
static bool report_warned;
/* The admin service has no report from this connection yet: send all sessions. */
static bool report_full_needed = true;
/* Sessions created or changed since the last report (intrusive list in struct client)
 * and the ids of sessions ended since then. */
static struct client *dirty_head;
#define REPORT_ID_SIZE sizeof(((struct client *)0)->session_id)
static struct buffer removed_ids;   /* REPORT_ID_SIZE bytes (NUL-terminated) each */

static const struct ipc_settings admin_ipc_settings = {
	.protocol = "pymap-admin", .major = 1, .minor = 0,
};

static void report_schedule(unsigned int msecs);

static void dirty_unlink(struct client *client)
{
	if (!client->report_dirty)
		return;
	if (client->report_prev != NULL)
		client->report_prev->report_next = client->report_next;
	else
		dirty_head = client->report_next;
	if (client->report_next != NULL)
		client->report_next->report_prev = client->report_prev;
	client->report_prev = client->report_next = NULL;
	client->report_dirty = false;
}

static void dirty_clear(void)
{
	while (dirty_head != NULL)
		dirty_unlink(dirty_head);
	buffer_reset(&removed_ids);
}

static json_t *session_json(const struct client *client)
{
	const char *mailbox = client->view == NULL ? NULL :
		store_mailbox_name(view_mailbox(client->view));
	return json_pack("{s:s, s:s?, s:s, s:s?, s:I, s:b}", "session", client->session_id,
			 "user", client->username, "remote", client->remote_ip,
			 "mailbox", mailbox, "since", (json_int_t)client->connected_at,
			 "tls", client->tls != NULL);
}

static void report_reply(json_t *reply, int fd, void *context);

static json_t *report_stats(unsigned int authenticated)
{
	const struct client_counters *counters = client_counters();
	return json_pack("{s:i, s:i, s:I, s:I}", "connections", (int)client_count(),
			 "sessions", (int)authenticated, "commands", (json_int_t)counters->commands,
			 "logins", (json_int_t)counters->logins);
}

static void report_send_part(json_t *sessions, unsigned int authenticated, unsigned int part,
			     bool last)
{
	json_t *report = json_pack("{s:s, s:o, s:o, s:i, s:b}", "op", "worker.report",
				   "sessions", sessions, "stats", report_stats(authenticated),
				   "part", (int)part, "last", last);
	ipc_conn_request(report_conn, report, -1, ADMIN_REPORT_TIMEOUT_MSECS, report_reply, NULL);
	json_decref(report);
}

static unsigned int authenticated_count(void)
{
	unsigned int authenticated = 0;
	for (const struct client *c = client_first(); c != NULL; c = c->next)
		authenticated += !c->destroyed && c->username != NULL;
	return authenticated;
}

static void update_send_part(json_t *upsert, json_t *remove, unsigned int authenticated)
{
	json_t *update = json_pack("{s:s, s:o, s:o, s:o}", "op", "worker.update",
				   "upsert", upsert, "remove", remove,
				   "stats", report_stats(authenticated));
	ipc_conn_request(report_conn, update, -1, ADMIN_REPORT_TIMEOUT_MSECS, report_reply, NULL);
	json_decref(update);
}

/* A report cut into messages of at most ADMIN_REPORT_PART_BYTES of JSON each, so a
 * worker with 10,000 sessions stays under the IPC message limit. */
struct report_parts {
	bool update;                    /* worker.update (upsert + remove), else worker.report */
	json_t *upsert, *remove;        /* the part being filled; remove only in an update */
	size_t bytes;
	unsigned int authenticated, n;
};

static void parts_start(struct report_parts *p)
{
	p->upsert = json_array();
	p->remove = p->update ? json_array() : NULL;
	p->bytes = 0;
}

static void parts_send(struct report_parts *p, bool last)
{
	if (p->update)
		update_send_part(p->upsert, p->remove, p->authenticated);
	else
		report_send_part(p->upsert, p->authenticated, p->n++, last);
}

static void parts_add(struct report_parts *p, bool remove, json_t *item, size_t bytes)
{
	size_t items = json_array_size(p->upsert) + json_array_size(p->remove);
	if (p->bytes + bytes > ADMIN_REPORT_PART_BYTES && items > 0) {
		parts_send(p, false);
		parts_start(p);
	}
	json_array_append_new(remove ? p->remove : p->upsert, item);
	p->bytes += bytes;
}

static void parts_add_session(struct report_parts *p, const struct client *client)
{
	json_t *session = session_json(client);
	parts_add(p, false, session, json_dumpb(session, NULL, 0, JSON_COMPACT) + 1);
}

/* All sessions. */
static void report_send_all(void)
{
	struct report_parts p = { .authenticated = authenticated_count() };
	parts_start(&p);
	for (const struct client *c = client_first(); c != NULL; c = c->next) {
		if (!c->destroyed)
			parts_add_session(&p, c);
	}
	parts_send(&p, true);
	dirty_clear();
	report_full_needed = false;
}

/* Only what changed since the last report: the cost follows the changes, not the
 * number of sessions. */
static void report_send_changes(void)
{
	struct report_parts p = { .update = true, .authenticated = authenticated_count() };
	parts_start(&p);
	for (size_t off = 0; off < buffer_len(&removed_ids); off += REPORT_ID_SIZE)
		parts_add(&p, true, json_string(buffer_str(&removed_ids) + off), REPORT_ID_SIZE + 3);
	buffer_reset(&removed_ids);
	while (dirty_head != NULL) {
		struct client *c = dirty_head;
		dirty_unlink(c);
		parts_add_session(&p, c);
	}
	parts_send(&p, true);
}

/* worker.kick from the admin service. */
static void on_message(struct ipc_conn *conn, json_t *msg, int fd, void *context)
{
	(void)context;
	if (fd >= 0)
		close(fd);
	const char *op = json_string_value(json_object_get(msg, "op"));
	const char *user = json_string_value(json_object_get(msg, "user"));
	if (op == NULL || strcmp(op, "worker.kick") != 0 || user == NULL) {
		json_t *reply = ipc_reply_error(msg, "BADREQUEST", "Unknown op.");
		ipc_conn_send(conn, reply, -1);
		json_decref(reply);
		return;
	}
	unsigned int kicked = client_disconnect_user(user,
		"[UNAVAILABLE] Disconnected by the administrator.");
	log_info("admin: ended %u session(s) of %s", kicked, user);
	json_t *reply = ipc_reply_ok(msg);
	json_object_set_new(reply, "kicked", json_integer(kicked));
	ipc_conn_send(conn, reply, -1);
	json_decref(reply);
}

static void on_close(struct ipc_conn *conn, const char *reason, void *context)
{
	(void)context;
	log_debug("admin report: connection closed: %s", reason);
	if (conn == report_conn)
		ipc_conn_destroy(&report_conn);
	report_schedule(ADMIN_REPORT_RETRY_MSECS);
}

static int report_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(report_path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, report_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (!report_warned)
			log_info("admin report: connect(%s): %m (will retry)", report_path);
		report_warned = true;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	report_warned = false;
	report_full_needed = true;
	report_conn = ipc_conn_create(report_loop, fd, &admin_ipc_settings, on_message,
				      on_close, NULL);
	return 0;
}

static void report_reply(json_t *reply, int fd, void *context)
{
	(void)context;
	if (fd >= 0)
		close(fd);
	if (reply != NULL && json_is_true(json_object_get(reply, "ok")))
		return;
	if (reply != NULL)
		log_warning("admin report refused: %s",
			    json_string_value(json_object_get(reply, "message")));
	/* The changes in it are gone from the dirty list: the next report is whole. */
	report_full_needed = true;
	report_schedule(ADMIN_REPORT_RETRY_MSECS);
}

static void report_send(void *context)
{
	(void)context;
	timeout_remove(&report_timer);
	if (report_conn == NULL && report_connect() < 0) {
		report_schedule(ADMIN_REPORT_RETRY_MSECS);
		return;
	}
	if (report_full_needed)
		report_send_all();
	else
		report_send_changes();
}

static void report_schedule(unsigned int msecs)
{
	if (report_timer == NULL && report_loop != NULL)
		report_timer = timeout_add(report_loop, msecs, report_send, NULL);
}

void admin_report_init(struct ioloop *loop, const char *socket_path)
{
	report_loop = loop;
	report_path = i_strdup(socket_path);
	buffer_init(&removed_ids, ADMIN_REPORT_MAX_REMOVED * REPORT_ID_SIZE);
	report_schedule(0);
}

void admin_report_deinit(void)
{
	/* requests still waiting get their callback now (which may schedule a timer) */
	ipc_conn_destroy(&report_conn);
	timeout_remove(&report_timer);
	i_free(report_path);
	dirty_clear();
	buffer_deinit(&removed_ids);
	report_loop = NULL;
}

void admin_report_session_changed(struct client *client)
{
	if (!client->report_dirty && !client->destroyed) {
		client->report_dirty = true;
		client->report_prev = NULL;
		client->report_next = dirty_head;
		if (dirty_head != NULL)
			dirty_head->report_prev = client;
		dirty_head = client;
	}
	report_schedule(ADMIN_REPORT_DELAY_MSECS);
}

void admin_report_session_closed(struct client *client)
{
	dirty_unlink(client);
	if (report_full_needed) {
		/* the next report is a whole one anyway */
	} else if (buffer_append(&removed_ids, client->session_id, REPORT_ID_SIZE) < 0) {
		/* ADMIN_REPORT_MAX_REMOVED: a flood of disconnects while the admin service
		 * is away: start over */
		report_full_needed = true;
		buffer_reset(&removed_ids);
	}
	report_schedule(ADMIN_REPORT_DELAY_MSECS);
}
