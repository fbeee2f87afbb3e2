#include "supervise.h"
#include "services.h"
#include "listeners.h"
#include "systemd.h"
#include "config.h"
#include "master-proto.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUPERVISE_TICK_MSECS 200
#define RESTART_DELAY_FIRST_MSECS 1000
#define RESTART_DELAY_MAX_MSECS 60000
#define RESTART_DELAY_WARN_MSECS 8000
/* A child that ran this long before dying was healthy: back-off starts over. */
#define RESTART_HEALTHY_MSECS 10000
#define STATUS_READ_MAX_RECORDS 32

struct generation {
	uint32_t id;
	struct config *cfg;
	int config_fd;
	unsigned int refs;    /* the supervisor while current, plus each child */
};

struct child;

struct slot {
	const struct service_role *role;
	unsigned int instance;
	char *binary;
	struct child *child;
	uint64_t restart_at;       /* 0: no restart scheduled */
	unsigned int delay_msecs;  /* back-off for the next restart */
	bool disabled;             /* exited with MASTER_EXIT_CONFIG */
};

struct child {
	pid_t pid;
	const struct service_role *role;
	struct slot *slot;         /* NULL once retired or stopping */
	struct generation *gen;
	int status_fd;
	struct io *status_io;
	bool ready, killed;
	uint64_t started_msecs, kill_at;
	unsigned int sessions, available;
	struct child *next;
};

struct supervisor {
	struct ioloop *loop;
	struct listeners *listeners;
	supervisor_done_callback_t *done;
	void *context;
	int dead_pipe[2];
	uint32_t last_generation;
	struct generation *current;
	struct slot *slots;
	unsigned int slot_count;
	struct child *children;
	struct timeout *tick;
	bool stopping, done_called, ready_sent;
	int exit_code;
	char last_status[128];
};

static void generation_unref(struct generation **_gen)
{
	struct generation *gen = *_gen;
	*_gen = NULL;
	if (gen == NULL || --gen->refs > 0)
		return;
	close(gen->config_fd);
	config_destroy(&gen->cfg);
	i_free(gen);
}

static unsigned int grace_msecs(const struct supervisor *sup)
{
	return 1000U * (unsigned int)config_get_int(sup->current->cfg, "server",
						    "grace_period_secs");
}

/* ---- children ---- */

static void child_status_read(void *context);

static bool role_is_imap(const struct service_role *role)
{
	return strcmp(role->name, "imap") == 0;
}

static void slot_spawn(struct supervisor *sup, struct slot *slot)
{
	const struct config *cfg = sup->current->cfg;
	if (role_is_imap(slot->role))
		listeners_worker_open(sup->listeners, slot->instance);
	struct service_spawn spawn = {
		.role = slot->role,
		.binary = slot->binary,
		.listeners = sup->listeners,
		.instance = slot->instance,
		.config_fd = sup->current->config_fd,
		.dead_fd = sup->dead_pipe[0],
		.generation = sup->current->id,
		.debug = config_get_bool(cfg, "server", "debug"),
		.log_file = config_get_str(cfg, "server", "log_file"),
	};
	int status_fd;
	slot->restart_at = 0;
	pid_t pid = service_spawn(&spawn, &status_fd);
	if (pid < 0) {
		slot->restart_at = ioloop_now_msecs(sup->loop) + slot->delay_msecs;
		return;
	}
	struct child *child = i_new0(struct child);
	child->pid = pid;
	child->role = slot->role;
	child->slot = slot;
	child->gen = sup->current;
	child->gen->refs++;
	child->status_fd = status_fd;
	child->started_msecs = ioloop_now_msecs(sup->loop);
	child->status_io = io_add(sup->loop, status_fd, IO_READ, child_status_read, child);
	child->next = sup->children;
	sup->children = child;
	slot->child = child;
	log_debug("service %s: started pid %ld (generation %u)", slot->role->name,
		  (long)pid, child->gen->id);
}

static void child_close_status(struct child *child)
{
	io_remove(&child->status_io);
	if (child->status_fd >= 0)
		close(child->status_fd);
	child->status_fd = -1;
}

/* A reload asked for by the admin service runs as if SIGHUP had come. */
static void child_request_reload(const struct child *child)
{
	if (strcmp(child->role->name, "admin") != 0) {
		log_warning("service %s: pid %ld asked for a reload: only admin may",
			    child->role->name, (long)child->pid);
		return;
	}
	log_info("reload requested by the admin service (pid %ld)", (long)child->pid);
	kill(getpid(), SIGHUP);
}

static void child_status_read(void *context)
{
	struct child *child = context;
	struct master_status records[STATUS_READ_MAX_RECORDS];
	ssize_t n = read(child->status_fd, records, sizeof(records));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		child_close_status(child);
		return;
	}
	for (size_t i = 0; i < (size_t)n / sizeof(records[0]); i++) {
		const struct master_status *st = &records[i];
		if (st->pid != child->pid || st->generation != child->gen->id) {
			log_debug("service %s: pid %ld: ignoring status for pid %ld generation %u",
				  child->role->name, (long)child->pid, (long)st->pid,
				  st->generation);
			continue;
		}
		if (!child->ready)
			log_debug("service %s: pid %ld is ready", child->role->name,
				  (long)child->pid);
		child->ready = true;
		child->sessions = st->sessions;
		child->available = st->available;
		if (st->request == MASTER_REQUEST_RELOAD)
			child_request_reload(child);
	}
}

static void child_kill(struct child *child, int signo)
{
	if (kill(child->pid, signo) < 0 && errno != ESRCH)
		log_error_errno("kill(%ld, %d)", (long)child->pid, signo);
}

static void child_retire(struct supervisor *sup, struct child *child, int signo)
{
	if (child->slot != NULL)
		child->slot->child = NULL;
	child->slot = NULL;
	child->kill_at = ioloop_now_msecs(sup->loop) + grace_msecs(sup);
	child_kill(child, signo);
}

/* ---- exits and restarts ---- */

static void describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended with wait status %#x", status);
}

static void slot_schedule_restart(struct supervisor *sup, struct slot *slot,
				  const struct child *child)
{
	uint64_t now = ioloop_now_msecs(sup->loop);
	if (child->ready && now - child->started_msecs >= RESTART_HEALTHY_MSECS)
		slot->delay_msecs = RESTART_DELAY_FIRST_MSECS;
	slot->restart_at = now + slot->delay_msecs;
	if (slot->delay_msecs >= RESTART_DELAY_WARN_MSECS)
		log_warning("service %s: crash loop, next restart in %u s", slot->role->name,
			    slot->delay_msecs / 1000);
	else
		log_info("service %s: restarting in %u s", slot->role->name,
			 slot->delay_msecs / 1000);
	slot->delay_msecs *= 2;
	if (slot->delay_msecs > RESTART_DELAY_MAX_MSECS)
		slot->delay_msecs = RESTART_DELAY_MAX_MSECS;
}

static void check_done(struct supervisor *sup)
{
	if (sup->stopping && sup->children == NULL && !sup->done_called) {
		sup->done_called = true;
		sup->done(sup->exit_code, sup->context);
	}
}

static void check_done_deferred(void *context)
{
	check_done(context);
}

/* An imap worker died: while it is down, its per-worker sockets would only collect
 * connections nobody accepts (for the restart delay: 1 s, up to 60 s in a crash
 * loop), so they are closed and the kernel hashes over the live workers' sockets.
 * Connections already queued on them are reset (or moved to a sibling socket with
 * sysctl net.ipv4.tcp_migrate_req = 1). Kept when no other worker is ready, so that
 * connections wait for the restart rather than being refused. */
static void slot_worker_died(struct supervisor *sup, const struct slot *slot)
{
	if (!role_is_imap(slot->role) || sup->stopping)
		return;
	for (unsigned int i = 0; i < sup->slot_count; i++) {
		const struct slot *other = &sup->slots[i];
		if (other != slot && role_is_imap(other->role) && other->child != NULL &&
		    other->child->ready) {
			listeners_worker_close(sup->listeners, slot->instance);
			return;
		}
	}
}

static void child_exited(struct supervisor *sup, struct child *child, int status)
{
	char how[128];
	describe_exit(status, how, sizeof(how));
	bool expected = child->slot == NULL;   /* retired or stopping */
	bool config_error = WIFEXITED(status) && WEXITSTATUS(status) == MASTER_EXIT_CONFIG;
	if (expected && !config_error && !child->killed)
		log_debug("service %s: pid %ld %s", child->role->name, (long)child->pid, how);
	else
		log_msg(expected ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, false,
			"service %s: pid %ld %s", child->role->name, (long)child->pid, how);

	struct slot *slot = child->slot;
	if (slot != NULL) {
		slot->child = NULL;
		slot_worker_died(sup, slot);
		if (config_error) {
			slot->disabled = true;
			/* never restarted: its sockets would collect connections for good */
			if (role_is_imap(slot->role))
				listeners_worker_close(sup->listeners, slot->instance);
			log_error("service %s: configuration error, not restarted",
				  slot->role->name);
			if (slot->role->required)
				supervisor_stop(sup, 1);
		} else if (!sup->stopping) {
			slot_schedule_restart(sup, slot, child);
		}
	}
	child_close_status(child);
	for (struct child **p = &sup->children; *p != NULL; p = &(*p)->next) {
		if (*p == child) {
			*p = child->next;
			break;
		}
	}
	generation_unref(&child->gen);
	i_free(child);
	check_done(sup);
}

static void supervise_reap(int signo, void *context)
{
	struct supervisor *sup = context;
	(void)signo;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *child = sup->children;
		while (child != NULL && child->pid != pid)
			child = child->next;
		if (child == NULL)
			log_warning("reaped unknown process %ld", (long)pid);
		else
			child_exited(sup, child, status);
	}
}

/* ---- periodic checks ---- */

static bool all_ready(const struct supervisor *sup)
{
	for (unsigned int i = 0; i < sup->slot_count; i++) {
		const struct slot *slot = &sup->slots[i];
		if (!slot->disabled && (slot->child == NULL || !slot->child->ready))
			return false;
	}
	return true;
}

static void update_status(struct supervisor *sup)
{
	unsigned int workers = 0, sessions = 0;
	for (struct child *c = sup->children; c != NULL; c = c->next) {
		if (strcmp(c->role->name, "imap") != 0)
			continue;
		sessions += c->sessions;
		workers += c->slot != NULL && c->ready;
	}
	char status[128];
	snprintf(status, sizeof(status), "%u imap workers, %u sessions", workers, sessions);
	if (strcmp(status, sup->last_status) != 0) {
		snprintf(sup->last_status, sizeof(sup->last_status), "%s", status);
		systemd_notify("STATUS=%s", status);
	}
}

static void check_child_timers(struct supervisor *sup, uint64_t now)
{
	unsigned int ready_msecs = 1000U *
		(unsigned int)config_get_int(sup->current->cfg, "server", "ready_timeout_secs");
	for (struct child *c = sup->children; c != NULL; c = c->next) {
		if (c->killed)
			continue;
		if (!c->ready && c->slot != NULL && now - c->started_msecs >= ready_msecs) {
			log_error("service %s: pid %ld sent no status within %u s: killing",
				  c->role->name, (long)c->pid, ready_msecs / 1000);
			c->killed = true;
			child_kill(c, SIGKILL);
		} else if (c->kill_at != 0 && now >= c->kill_at) {
			log_warning("service %s: pid %ld still running after the grace period: "
				    "killing", c->role->name, (long)c->pid);
			c->killed = true;
			child_kill(c, SIGKILL);
		}
	}
}

static void supervise_tick(void *context)
{
	struct supervisor *sup = context;
	uint64_t now = ioloop_now_msecs(sup->loop);
	check_child_timers(sup, now);
	if (!sup->stopping) {
		for (unsigned int i = 0; i < sup->slot_count; i++) {
			struct slot *slot = &sup->slots[i];
			if (slot->child == NULL && !slot->disabled && slot->restart_at != 0 &&
			    now >= slot->restart_at)
				slot_spawn(sup, slot);
		}
		if (!sup->ready_sent && all_ready(sup)) {
			sup->ready_sent = true;
			log_info("generation %u: all %u children ready", sup->current->id,
				 sup->slot_count);
			systemd_notify("READY=1");
		}
		update_status(sup);
	}
	check_done(sup);
}

/* ---- generations ---- */

static void slots_free(struct supervisor *sup)
{
	for (unsigned int i = 0; i < sup->slot_count; i++)
		i_free(sup->slots[i].binary);
	i_free(sup->slots);
	sup->slot_count = 0;
}

static bool service_disabled(const struct config *cfg, const char *name)
{
	size_t i;
	json_t *item;
	json_array_foreach(config_get(cfg, "server", "disabled_services"), i, item) {
		if (strcmp(json_string_value(item), name) == 0)
			return true;
	}
	return false;
}

static void slots_add_role(struct supervisor *sup, const struct config *cfg,
			   const struct service_role *role)
{
	if (service_disabled(cfg, role->name)) {
		log_info("service %s: disabled", role->name);
		return;
	}
	char *binary = i_strdup_printf("%s/%s", config_get_str(cfg, "server", "libexec_dir"),
				       role->name);
	if (access(binary, X_OK) < 0) {
		log_warning("service %s: %s not installed, not started", role->name, binary);
		i_free(binary);
		return;
	}
	unsigned int count = strcmp(role->name, "imap") == 0 ?
		(unsigned int)config_get_int(cfg, "server", "workers") : 1;
	sup->slots = i_reallocarray(sup->slots, sup->slot_count + count, sizeof(*sup->slots));
	for (unsigned int i = 0; i < count; i++) {
		sup->slots[sup->slot_count++] = (struct slot){
			.role = role, .instance = i, .binary = i_strdup(binary),
			.delay_msecs = RESTART_DELAY_FIRST_MSECS,
		};
	}
	i_free(binary);
}

int supervisor_start(struct supervisor *sup, struct config *cfg)
{
	int fd = service_config_memfd(cfg);
	if (fd < 0) {
		config_destroy(&cfg);
		return -1;
	}
	struct generation *gen = i_new0(struct generation);
	gen->id = ++sup->last_generation;
	gen->cfg = cfg;
	gen->config_fd = fd;
	gen->refs = 1;
	if (sup->current != NULL) {
		for (struct child *c = sup->children; c != NULL; c = c->next) {
			if (c->slot != NULL)
				child_retire(sup, c, SIGUSR2);
		}
		generation_unref(&sup->current);
	}
	slots_free(sup);
	sup->current = gen;
	sup->ready_sent = false;
	for (unsigned int i = 0; i < service_role_count; i++)
		slots_add_role(sup, cfg, &service_roles[i]);
	unsigned int workers = 0;
	for (unsigned int i = 0; i < sup->slot_count; i++)
		workers += role_is_imap(sup->slots[i].role);
	listeners_set_workers(sup->listeners, workers);
	for (unsigned int i = 0; i < sup->slot_count; i++)
		slot_spawn(sup, &sup->slots[i]);
	return 0;
}

const struct config *supervisor_config(const struct supervisor *sup)
{
	return sup->current->cfg;
}

void supervisor_stop(struct supervisor *sup, int exit_code)
{
	if (sup->stopping)
		return;
	sup->stopping = true;
	sup->exit_code = exit_code;
	systemd_notify("STOPPING=1");
	for (struct child *c = sup->children; c != NULL; c = c->next) {
		child_retire(sup, c, SIGTERM);
	}
	log_info("stopping: %s", sup->children == NULL ? "no children left" :
		 "waiting for the children to exit");
	ioloop_defer(sup->loop, check_done_deferred, sup);
}

void supervisor_signal_all(struct supervisor *sup, int signo)
{
	for (struct child *c = sup->children; c != NULL; c = c->next)
		child_kill(c, signo);
}

struct supervisor *supervisor_create(struct ioloop *loop, struct listeners *ls,
				     supervisor_done_callback_t *done, void *context)
{
	struct supervisor *sup = i_new0(struct supervisor);
	sup->loop = loop;
	sup->listeners = ls;
	sup->done = done;
	sup->context = context;
	if (pipe2(sup->dead_pipe, O_CLOEXEC) < 0)
		log_fatal_errno(1, "pipe");
	ioloop_signal_add(loop, SIGCHLD, supervise_reap, sup);
	sup->tick = timeout_add(loop, SUPERVISE_TICK_MSECS, supervise_tick, sup);
	return sup;
}

void supervisor_destroy(struct supervisor **_sup)
{
	struct supervisor *sup = *_sup;
	if (sup == NULL)
		return;
	*_sup = NULL;
	while (sup->children != NULL) {
		struct child *child = sup->children;
		sup->children = child->next;
		child_close_status(child);
		generation_unref(&child->gen);
		i_free(child);
	}
	timeout_remove(&sup->tick);
	ioloop_signal_remove(sup->loop, SIGCHLD);
	slots_free(sup);
	generation_unref(&sup->current);
	close(sup->dead_pipe[0]);
	close(sup->dead_pipe[1]);
	i_free(sup);
}
