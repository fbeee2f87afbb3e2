#include "admin-report.h"
#include "client.h"
#include "view.h"
#include "alloc.h"
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

static struct ioloop *report_loop;
static char *report_path;
static struct ipc_conn *report_conn;
static struct timeout *report_timer;
static bool report_warned;

static const struct ipc_settings admin_ipc_settings = {
	.protocol = "pymap-admin", .major = 1, .minor = 0,
};

static void report_schedule(unsigned int msecs);

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

/* The sessions in parts of at most ADMIN_REPORT_PART_BYTES of JSON each, so a worker
 * with 10,000 sessions stays under the IPC message limit. */
static void report_send_all(void)
{
	json_t *part = json_array();
	size_t part_bytes = 0;
	unsigned int authenticated = 0, n = 0;
	for (const struct client *c = client_first(); c != NULL; c = c->next)
		authenticated += !c->destroyed && c->username != NULL;
	for (const struct client *c = client_first(); c != NULL; c = c->next) {
		if (c->destroyed)
			continue;
		json_t *session = session_json(c);
		size_t bytes = json_dumpb(session, NULL, 0, JSON_COMPACT) + 1;
		if (part_bytes + bytes > ADMIN_REPORT_PART_BYTES && json_array_size(part) > 0) {
			report_send_part(part, authenticated, n++, false);
			part = json_array();
			part_bytes = 0;
		}
		json_array_append_new(part, session);
		part_bytes += bytes;
	}
	report_send_part(part, authenticated, n, true);
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
	report_conn = ipc_conn_create(report_loop, fd, &admin_ipc_settings, on_message,
				      on_close, NULL);
	return 0;
}

static void report_reply(json_t *reply, int fd, void *context)
{
	(void)context;
	if (fd >= 0)
		close(fd);
	if (reply != NULL && !json_is_true(json_object_get(reply, "ok")))
		log_warning("admin report refused: %s",
			    json_string_value(json_object_get(reply, "message")));
}

static void report_send(void *context)
{
	(void)context;
	timeout_remove(&report_timer);
	if (report_conn == NULL && report_connect() < 0) {
		report_schedule(ADMIN_REPORT_RETRY_MSECS);
		return;
	}
	report_send_all();
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
	report_schedule(0);
}

void admin_report_deinit(void)
{
	timeout_remove(&report_timer);
	ipc_conn_destroy(&report_conn);
	i_free(report_path);
	report_loop = NULL;
}

void admin_report_changed(void)
{
	report_schedule(ADMIN_REPORT_DELAY_MSECS);
}
