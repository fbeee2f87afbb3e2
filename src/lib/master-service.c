#include "master-service.h"
#include "master-proto.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"
#include "restrict.h"
#include "strnum.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASTER_SERVICE_MAX_CONFIG_BYTES (16 * 1024 * 1024)
#define MASTER_SERVICE_MAX_LISTENERS 64

struct master_service {
	unsigned int last_sessions, last_available;
	char *role;
	uint32_t generation;
	json_t *config;
	unsigned int listener_count;
	int listener_fds[MASTER_SERVICE_MAX_LISTENERS];
	char *listener_names[MASTER_SERVICE_MAX_LISTENERS];

	struct ioloop *loop;
	struct io *dead_io;
	master_stop_callback_t *on_stop;
	void *context;
	bool status_broken;
};

static void set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		log_fatal_errno(MASTER_EXIT_CONFIG, "descriptor %d missing: not started by "
				"the pymap master", fd);
	fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static json_t *read_config_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		log_fatal_errno(MASTER_EXIT_CONFIG, "config descriptor %d", fd);
	if (st.st_size <= 0 || st.st_size > MASTER_SERVICE_MAX_CONFIG_BYTES)
		log_fatal(MASTER_EXIT_CONFIG, "config descriptor %d: bad size %lld", fd,
			  (long long)st.st_size);
	size_t size = (size_t)st.st_size, pos = 0;
	char *data = i_malloc(size + 1);
	/* pread: the descriptor's offset is shared with every other child. */
	while (pos < size) {
		ssize_t n = pread(fd, data + pos, size - pos, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			log_fatal_errno(MASTER_EXIT_CONFIG, "read config descriptor %d", fd);
		pos += (size_t)n;
	}
	json_error_t jerr;
	json_t *config = json_loadb(data, size, 0, &jerr);
	i_free(data);
	if (config == NULL || !json_is_object(config))
		log_fatal(MASTER_EXIT_CONFIG, "config descriptor %d: invalid JSON: %s", fd,
			  config == NULL ? jerr.text : "not an object");
	return config;
}

static void read_listeners(struct master_service *service)
{
	const char *count_str = getenv(MASTER_ENV_LISTEN_COUNT);
	const char *names = getenv(MASTER_ENV_LISTEN_NAMES);
	unsigned int count = 0;
	if (count_str != NULL && str_to_uint(count_str, &count) < 0)
		log_fatal(MASTER_EXIT_CONFIG, "%s: not a number", MASTER_ENV_LISTEN_COUNT);
	if (count > MASTER_SERVICE_MAX_LISTENERS)
		log_fatal(MASTER_EXIT_CONFIG, "%s: too many listeners", MASTER_ENV_LISTEN_COUNT);
	char *copy = i_strdup(names != NULL ? names : ""), *save = NULL;
	char *name = strtok_r(copy, ",", &save);
	for (unsigned int i = 0; i < count; i++) {
		service->listener_fds[i] = MASTER_LISTEN_FD_FIRST + (int)i;
		set_cloexec(service->listener_fds[i]);
		service->listener_names[i] = i_strdup(name != NULL ? name : "");
		if (name != NULL)
			name = strtok_r(NULL, ",", &save);
	}
	i_free(copy);
	service->listener_count = count;
}

struct master_service *master_service_init(const char *role, int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	const char *debug = getenv(MASTER_ENV_DEBUG);
	log_init(role, debug != NULL && strcmp(debug, "1") == 0);
	const char *env_role = getenv(MASTER_ENV_ROLE);
	if (env_role == NULL)
		log_fatal(MASTER_EXIT_CONFIG, "%s is not set: this program is started by the "
			  "pymap master, not by hand", MASTER_ENV_ROLE);
	if (strcmp(env_role, role) != 0)
		log_fatal(MASTER_EXIT_CONFIG, "started as role '%s', expected '%s'", env_role,
			  role);
	/* SIGPIPE: peers and the master may vanish; writes report EPIPE instead.
	 * SIGINT: Ctrl-C reaches the whole process group; the master decides. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);

	struct master_service *service = i_new0(struct master_service);
	service->role = i_strdup(role);
	const char *gen = getenv(MASTER_ENV_GENERATION);
	if (gen != NULL && str_to_uint32(gen, &service->generation) < 0)
		log_fatal(MASTER_EXIT_CONFIG, "%s: not a number", MASTER_ENV_GENERATION);
	set_cloexec(MASTER_STATUS_FD);
	set_cloexec(MASTER_DEAD_FD);
	service->config = read_config_fd(MASTER_CONFIG_FD);
	close(MASTER_CONFIG_FD);
	read_listeners(service);
	return service;
}

void master_service_deinit(struct master_service **_service)
{
	struct master_service *service = *_service;
	if (service == NULL)
		return;
	*_service = NULL;
	io_remove(&service->dead_io);
	if (service->loop != NULL) {
		ioloop_signal_remove(service->loop, SIGTERM);
		ioloop_signal_remove(service->loop, SIGUSR1);
		ioloop_signal_remove(service->loop, SIGUSR2);
	}
	for (unsigned int i = 0; i < service->listener_count; i++)
		i_free(service->listener_names[i]);
	json_decref(service->config);
	i_free(service->role);
	i_free(service);
}

const json_t *master_service_config(const struct master_service *service)
{
	return service->config;
}

static const json_t *config_lookup(const struct master_service *service,
				   const char *section, const char *key)
{
	return json_object_get(json_object_get(service->config, section), key);
}

const char *master_service_config_str(const struct master_service *service,
				      const char *section, const char *key, const char *def)
{
	const json_t *value = config_lookup(service, section, key);
	return json_is_string(value) ? json_string_value(value) : def;
}

long long master_service_config_int(const struct master_service *service,
				    const char *section, const char *key, long long def)
{
	const json_t *value = config_lookup(service, section, key);
	return json_is_integer(value) ? (long long)json_integer_value(value) : def;
}

bool master_service_config_bool(const struct master_service *service,
				const char *section, const char *key, bool def)
{
	const json_t *value = config_lookup(service, section, key);
	if (json_is_boolean(value))
		return json_is_true(value);
	if (json_is_string(value))
		return json_string_length(value) > 0;
	return def;
}

const char *master_service_role(const struct master_service *service)
{
	return service->role;
}

uint32_t master_service_generation(const struct master_service *service)
{
	return service->generation;
}

unsigned int master_service_listener_count(const struct master_service *service)
{
	return service->listener_count;
}

int master_service_listener_fd(const struct master_service *service, unsigned int idx)
{
	i_assert(idx < service->listener_count);
	return service->listener_fds[idx];
}

const char *master_service_listener_name(const struct master_service *service,
					 unsigned int idx)
{
	i_assert(idx < service->listener_count);
	return service->listener_names[idx];
}

void master_service_drop_privileges(struct master_service *service)
{
	char user_key[64], group_key[64];
	snprintf(user_key, sizeof(user_key), "%s_user", service->role);
	snprintf(group_key, sizeof(group_key), "%s_group", service->role);
	const char *user = master_service_config_str(service, "users", user_key, NULL);
	const char *group = master_service_config_str(service, "users", group_key, NULL);
	if (user == NULL || group == NULL)
		log_fatal(MASTER_EXIT_CONFIG, "config has no [users] %s/%s", user_key, group_key);
	bool allow_root = master_service_config_bool(service, "server", "allow_root", false);
	const char *error;
	if (restrict_access(user, group, allow_root, &error) < 0)
		log_fatal(MASTER_EXIT_CONFIG, "dropping privileges to %s:%s failed: %s", user,
			  group, error);
	log_debug("running as user %s (uid %u), group %s (gid %u)", user,
		  (unsigned int)getuid(), group, (unsigned int)getgid());
}

static void service_stop(struct master_service *service, enum master_stop_kind kind)
{
	if (service->on_stop != NULL)
		service->on_stop(kind, service->context);
}

static void service_signal(int signo, void *context)
{
	struct master_service *service = context;
	if (signo == SIGUSR1) {
		log_reopen();
		return;
	}
	service_stop(service, signo == SIGTERM ? MASTER_STOP_SHUTDOWN : MASTER_STOP_RETIRE);
}

static void service_master_dead(void *context)
{
	struct master_service *service = context;
	char buf[64];
	ssize_t n = read(MASTER_DEAD_FD, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		return;  /* the master never writes; ignore */
	io_remove(&service->dead_io);
	log_info("master process is gone: finishing sessions");
	service_stop(service, MASTER_STOP_RETIRE);
}

void master_service_attach(struct master_service *service, struct ioloop *loop,
			   master_stop_callback_t *on_stop, void *context)
{
	service->loop = loop;
	service->on_stop = on_stop;
	service->context = context;
	ioloop_signal_add(loop, SIGTERM, service_signal, service);
	ioloop_signal_add(loop, SIGUSR1, service_signal, service);
	ioloop_signal_add(loop, SIGUSR2, service_signal, service);
	fcntl(MASTER_DEAD_FD, F_SETFL, fcntl(MASTER_DEAD_FD, F_GETFL) | O_NONBLOCK);
	service->dead_io = io_add(loop, MASTER_DEAD_FD, IO_READ, service_master_dead, service);
}

static void status_write(struct master_service *service, uint32_t request)
{
	if (service->status_broken)
		return;
	struct master_status status = {
		.pid = getpid(),
		.generation = service->generation,
		.sessions = service->last_sessions,
		.available = service->last_available,
		.request = request,
	};
	ssize_t n;
	do {
		n = write(MASTER_STATUS_FD, &status, sizeof(status));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		/* EPIPE: the master is gone; the dead pipe tells the loop. */
		service->status_broken = true;
	}
}

void master_service_report(struct master_service *service, unsigned int sessions,
			   unsigned int available)
{
	service->last_sessions = sessions;
	service->last_available = available;
	status_write(service, MASTER_REQUEST_NONE);
}

void master_service_request_reload(struct master_service *service)
{
	status_write(service, MASTER_REQUEST_RELOAD);
}

int master_service_find_listener(const struct master_service *service, const char *name)
{
	for (unsigned int i = 0; i < master_service_listener_count(service); i++) {
		if (strcmp(master_service_listener_name(service, i), name) == 0)
			return master_service_listener_fd(service, i);
	}
	return -1;
}
