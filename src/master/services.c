#include "services.h"
#include "listeners.h"
#include "config.h"
#include "master-proto.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SERVICE_MAX_FDS 64
#define SERVICE_MAX_ENV 16

const struct service_role service_roles[] = {
	{ "auth", { "auth", NULL }, true },
	{ "imap", { "imap", "imaps", NULL }, true },
	{ "admin", { "admin", NULL }, false },
};
const unsigned int service_role_count = sizeof(service_roles) / sizeof(service_roles[0]);

int service_config_memfd(const struct config *cfg)
{
	char *json = json_dumps(config_json(cfg), JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (json == NULL)
		log_panic("json_dumps(config) failed");
	size_t len = strlen(json), pos = 0;
	int fd = memfd_create("pymap-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		log_error_errno("memfd_create");
		free(json);
		return -1;
	}
	while (pos < len) {
		ssize_t n = write(fd, json + pos, len - pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error_errno("write(config memfd)");
			close(fd);
			free(json);
			return -1;
		}
		pos += (size_t)n;
	}
	free(json);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		log_warning_errno("sealing the config memfd");
	return fd;
}

static bool role_wants(const struct service_role *role, const char *name)
{
	for (unsigned int i = 0; role->listeners[i] != NULL; i++) {
		if (strcmp(role->listeners[i], name) == 0)
			return true;
	}
	return false;
}

struct spawn_plan {
	int fds[SERVICE_MAX_FDS];     /* source descriptors, in target order from 3 */
	unsigned int fd_count;
	char *env[SERVICE_MAX_ENV + 1];
	unsigned int env_count;
};

static void plan_env(struct spawn_plan *plan, const char *name, const char *value)
{
	if (value != NULL && plan->env_count < SERVICE_MAX_ENV)
		plan->env[plan->env_count++] = i_strdup_printf("%s=%s", name, value);
}

static void plan_build(struct spawn_plan *plan, const struct service_spawn *spawn,
		       int status_w)
{
	char names[512] = "", num[32];
	size_t len = 0;
	memset(plan, 0, sizeof(*plan));
	plan->fds[plan->fd_count++] = status_w;
	plan->fds[plan->fd_count++] = spawn->dead_fd;
	plan->fds[plan->fd_count++] = spawn->config_fd;
	for (unsigned int i = 0; i < spawn->listeners->count; i++) {
		const struct listener *l = &spawn->listeners->items[i];
		int fd = listener_worker_fd(l, spawn->instance);
		if (!role_wants(spawn->role, l->name) || fd < 0 ||
		    plan->fd_count >= SERVICE_MAX_FDS)
			continue;
		plan->fds[plan->fd_count++] = fd;
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
					len > 0 ? "," : "", l->name);
		if (len >= sizeof(names))
			len = sizeof(names) - 1;
	}
	plan_env(plan, MASTER_ENV_ROLE, spawn->role->name);
	snprintf(num, sizeof(num), "%u", plan->fd_count - 3);
	plan_env(plan, MASTER_ENV_LISTEN_COUNT, num);
	plan_env(plan, MASTER_ENV_LISTEN_NAMES, names);
	snprintf(num, sizeof(num), "%u", spawn->generation);
	plan_env(plan, MASTER_ENV_GENERATION, num);
	plan_env(plan, MASTER_ENV_DEBUG, spawn->debug ? "1" : "0");
	if (spawn->log_file[0] != '\0')
		plan_env(plan, MASTER_ENV_LOG_FILE, spawn->log_file);
	plan_env(plan, "TZ", getenv("TZ"));
	plan_env(plan, "JOURNAL_STREAM", getenv("JOURNAL_STREAM"));
	/* Sanitizer settings of test builds (ignored by normal builds). */
	plan_env(plan, "ASAN_OPTIONS", getenv("ASAN_OPTIONS"));
	plan_env(plan, "UBSAN_OPTIONS", getenv("UBSAN_OPTIONS"));
	plan_env(plan, "LSAN_OPTIONS", getenv("LSAN_OPTIONS"));
	plan->env[plan->env_count] = NULL;
}

static void plan_free(struct spawn_plan *plan)
{
	for (unsigned int i = 0; i < plan->env_count; i++)
		i_free(plan->env[i]);
}

/* In the child, between fork and exec: signals back to defaults, descriptors into
 * the contract's places, everything else closed. */
static void __attribute__((noreturn))
child_exec(const struct spawn_plan *plan, const char *binary)
{
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);

	int first = MASTER_STATUS_FD, moved[SERVICE_MAX_FDS];
	for (unsigned int i = 0; i < plan->fd_count; i++) {
		moved[i] = fcntl(plan->fds[i], F_DUPFD_CLOEXEC, first + (int)plan->fd_count);
		if (moved[i] < 0)
			_exit(127);
	}
	for (unsigned int i = 0; i < plan->fd_count; i++) {
		if (dup2(moved[i], first + (int)i) < 0)
			_exit(127);
	}
	close_range((unsigned int)first + plan->fd_count, ~0U, 0);
	int null_fd = open("/dev/null", O_RDONLY);
	if (null_fd >= 0 && null_fd != STDIN_FILENO) {
		dup2(null_fd, STDIN_FILENO);
		close(null_fd);
	}
	char *const argv[] = { (char *)binary, NULL };
	execve(binary, argv, plan->env);
	_exit(127);
}

pid_t service_spawn(const struct service_spawn *spawn, int *status_fd_r)
{
	int status_pipe[2];
	if (pipe2(status_pipe, O_CLOEXEC) < 0) {
		log_error_errno("service %s: pipe", spawn->role->name);
		return -1;
	}
	struct spawn_plan plan;
	plan_build(&plan, spawn, status_pipe[1]);
	pid_t pid = fork();
	if (pid == 0)
		child_exec(&plan, spawn->binary);
	plan_free(&plan);
	close(status_pipe[1]);
	if (pid < 0) {
		log_error_errno("service %s: fork", spawn->role->name);
		close(status_pipe[0]);
		return -1;
	}
	fcntl(status_pipe[0], F_SETFL, O_NONBLOCK);
	*status_fd_r = status_pipe[0];
	return pid;
}
