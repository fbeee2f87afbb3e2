#include "admin-workers.h"
#include "alloc.h"
#include "ipc.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WORKER_KICK_TIMEOUT_MSECS 5000

struct worker {
	struct ipc_conn *conn;
	pid_t pid;
	json_t *sessions;         /* object: session id -> session */
	json_t *stats;
	json_t *pending;          /* sessions of a report still arriving in parts */
	struct worker *next;
};

static struct worker *workers;

bool admin_workers_is_sibling(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parens: use the last ')'. */
	const char *p = strrchr(buf, ')');
	int ppid;
	char state;
	return p != NULL && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == getppid();
}

static struct worker *worker_find(const struct ipc_conn *conn, bool create)
{
	for (struct worker *w = workers; w != NULL; w = w->next) {
		if (w->conn == conn)
			return w;
	}
	if (!create)
		return NULL;
	struct worker *w = i_new0(struct worker);
	w->conn = (struct ipc_conn *)conn;
	w->next = workers;
	workers = w;
	return w;
}

/* Keep a copy of a session object under its id (one without an id is dropped). */
static void session_put(json_t *sessions, const json_t *session)
{
	const char *id = json_string_value(json_object_get(session, "session"));
	if (id != NULL)
		json_object_set_new(sessions, id, json_deep_copy(session));
}

static void worker_clear(struct worker *w)
{
	if (w->sessions != NULL)
		json_decref(w->sessions);
	if (w->stats != NULL)
		json_decref(w->stats);
	if (w->pending != NULL)
		json_decref(w->pending);
	w->sessions = w->stats = w->pending = NULL;
}

void admin_workers_update(struct ipc_conn *conn, pid_t pid, const json_t *sessions,
			  const json_t *stats, unsigned int part, bool last)
{
	struct worker *w = worker_find(conn, true);
	if (part == 0) {
		if (w->pending != NULL)
			json_decref(w->pending);
		w->pending = json_array();
	} else if (w->pending == NULL) {
		return;   /* a part without its beginning: wait for the next report */
	}
	json_array_extend(w->pending, (json_t *)sessions);
	if (!last)
		return;
	json_t *complete = json_object();
	size_t i;
	json_t *session;
	json_array_foreach(w->pending, i, session)
		session_put(complete, session);
	worker_clear(w);
	w->pid = pid;
	w->sessions = complete;
	w->stats = json_deep_copy(stats);
}

void admin_workers_apply(struct ipc_conn *conn, pid_t pid, const json_t *upsert,
			 const json_t *remove, const json_t *stats)
{
	struct worker *w = worker_find(conn, true);
	size_t i;
	json_t *item;
	if (w->sessions == NULL)
		w->sessions = json_object();
	json_array_foreach(remove, i, item) {
		if (json_is_string(item))
			json_object_del(w->sessions, json_string_value(item));
	}
	json_array_foreach(upsert, i, item)
		session_put(w->sessions, item);
	if (w->stats != NULL)
		json_decref(w->stats);
	w->pid = pid;
	w->stats = json_deep_copy(stats);
}

void admin_workers_forget(struct ipc_conn *conn)
{
	for (struct worker **wp = &workers; *wp != NULL; wp = &(*wp)->next) {
		if ((*wp)->conn != conn)
			continue;
		struct worker *w = *wp;
		*wp = w->next;
		worker_clear(w);
		free(w);
		return;
	}
}

json_t *admin_workers_sessions(void)
{
	json_t *all = json_array();
	for (struct worker *w = workers; w != NULL; w = w->next) {
		const char *id;
		json_t *session;
		json_object_foreach(w->sessions, id, session) {
			json_t *copy = json_deep_copy(session);
			json_object_set_new(copy, "worker_pid", json_integer(w->pid));
			json_array_append_new(all, copy);
		}
	}
	return all;
}

json_t *admin_workers_stats(void)
{
	json_t *per_worker = json_array(), *total = json_object();
	for (struct worker *w = workers; w != NULL; w = w->next) {
		const char *key;
		json_t *value;
		json_t *entry = json_deep_copy(w->stats);
		json_object_set_new(entry, "pid", json_integer(w->pid));
		json_array_append_new(per_worker, entry);
		json_object_foreach(w->stats, key, value) {
			json_int_t sum = json_integer_value(json_object_get(total, key));
			json_object_set_new(total, key, json_integer(sum + json_integer_value(value)));
		}
	}
	return json_pack("{s:o, s:o}", "workers", per_worker, "total", total);
}

static void kick_reply(json_t *reply, int fd, void *context)
{
	(void)context;
	if (fd >= 0)
		close(fd);
	if (reply == NULL)
		log_warning("admin: a worker did not answer worker.kick");
}

unsigned int admin_workers_kick(const char *user)
{
	unsigned int asked = 0;
	for (struct worker *w = workers; w != NULL; w = w->next) {
		json_t *request = json_pack("{s:s, s:s}", "op", "worker.kick", "user", user);
		ipc_conn_request(w->conn, request, -1, WORKER_KICK_TIMEOUT_MSECS, kick_reply, NULL);
		json_decref(request);
		asked++;
	}
	return asked;
}

void admin_workers_deinit(void)
{
	while (workers != NULL) {
		struct worker *w = workers;
		workers = w->next;
		worker_clear(w);
		free(w);
	}
}
