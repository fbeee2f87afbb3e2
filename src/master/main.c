/* pymap: the master daemon. The whole process graph in one place:
 *
 *   listeners (listeners.c)        children (services.c, supervise.c)
 *   imap  TCP host:port        ->  imap  x [server] workers   (libexec/pymap/imap)
 *   imaps TCP host:tls_port    ->  imap  (same workers)
 *   auth  UNIX auth_socket     ->  auth  x 1                  (libexec/pymap/auth)
 *   admin UNIX admin_socket    ->  admin x 1                  (libexec/pymap/admin)
 *
 * The master parses the command line (cli.c) and pymap.conf (lib/config.c), binds
 * every listener (or takes them from systemd), writes the pid file, then starts and
 * supervises the children. Signals: SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1
 * reopens logs. It stays root only to bind and to start children, which drop
 * privileges themselves (master-service.h). */
#include "build-config.h"
#include "cli.h"
#include "listeners.h"
#include "pidfile.h"
#include "supervise.h"
#include "systemd.h"
#include "config.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct master {
	struct cli_options opts;
	struct ioloop *loop;
	struct listeners listeners;
	struct supervisor *sup;
	struct pidfile *pidfile;
	int exit_code;
};

/* The file (if any), the command line over it, then the computed defaults. */
static struct config *master_load_config(const struct cli_options *opts)
{
	struct config_env env;
	config_env_init(&env);
	struct config *cfg = config_create();
	if (opts->config_path != NULL)
		config_load_file(cfg, opts->config_path);
	cli_apply(opts, cfg);
	config_finish(cfg, &env);
	config_env_deinit(&env);
	return cfg;
}

static void print_errors(const struct config *cfg, bool to_log)
{
	for (unsigned int i = 0; i < config_error_count(cfg); i++) {
		if (to_log)
			log_error("%s", config_error(cfg, i));
		else
			fprintf(stderr, "%s\n", config_error(cfg, i));
	}
}

static void open_log_file(const struct config *cfg)
{
	const char *path = config_get_str(cfg, "server", "log_file");
	if (path[0] == '\0')
		return;
	setenv("PYMAP_LOG_FILE", path, 1);
	log_reopen();
}

static int make_run_dir(const struct config *cfg)
{
	const char *dir = config_get_str(cfg, "server", "run_dir");
	if (mkdir(dir, geteuid() == 0 ? 0755 : 0700) < 0 && errno != EEXIST) {
		log_error_errno("run directory %s", dir);
		return -1;
	}
	return 0;
}

/* ---- signals ---- */

static const char *const listener_keys[][2] = {
	{ "server", "host" }, { "server", "port" }, { "server", "tls_port" },
	{ "server", "auth_socket" }, { "server", "admin_socket" }, { "tls", "cert" },
	{ "server", "run_dir" }, { "server", "pid_file" },
};

static void warn_restart_needed(const struct config *old, const struct config *cfg)
{
	for (unsigned int i = 0; i < sizeof(listener_keys) / sizeof(listener_keys[0]); i++) {
		const char *section = listener_keys[i][0], *key = listener_keys[i][1];
		if (!json_equal((json_t *)config_get(old, section, key),
				(json_t *)config_get(cfg, section, key)))
			log_warning("reload: [%s] %s changed: takes effect after a restart",
				    section, key);
	}
}

static void master_reload(struct master *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
		       (unsigned long long)ts.tv_sec * 1000000ULL +
		       (unsigned long long)ts.tv_nsec / 1000);
	log_info("SIGHUP: reloading the configuration");
	struct config *cfg = master_load_config(&m->opts);
	if (config_error_count(cfg) > 0) {
		print_errors(cfg, true);
		log_error("reload failed: keeping the old configuration");
		config_destroy(&cfg);
		systemd_notify("READY=1");
		return;
	}
	warn_restart_needed(supervisor_config(m->sup), cfg);
	log_set_debug(config_get_bool(cfg, "server", "debug"));
	if (supervisor_start(m->sup, cfg) < 0) {
		log_error("reload failed: keeping the old configuration");
		systemd_notify("READY=1");
	}
}

static void master_signal(int signo, void *context)
{
	struct master *m = context;
	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", strsignal(signo));
		supervisor_stop(m->sup, 0);
		break;
	case SIGHUP:
		master_reload(m);
		break;
	case SIGUSR1:
		log_reopen();
		log_info("SIGUSR1: log reopened");
		supervisor_signal_all(m->sup, SIGUSR1);
		break;
	}
}

static void master_done(int exit_code, void *context)
{
	struct master *m = context;
	m->exit_code = exit_code;
	log_info("stopped");
	ioloop_stop(m->loop);
}

/* ---- start-up ---- */

static int master_run(struct master *m, struct config *cfg)
{
	log_set_debug(config_get_bool(cfg, "server", "debug"));
	open_log_file(cfg);
	systemd_notify_init();
	const char *pid_path = config_get_str(cfg, "server", "pid_file");
	if (make_run_dir(cfg) < 0 ||
	    (pid_path[0] != '\0' && (m->pidfile = pidfile_create(pid_path)) == NULL)) {
		config_destroy(&cfg);
		return 1;
	}
	if (listeners_open(&m->listeners, cfg) < 0) {
		listeners_close(&m->listeners);
		pidfile_remove(&m->pidfile);
		config_destroy(&cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	m->loop = ioloop_create();
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	for (unsigned int i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		ioloop_signal_add(m->loop, signals[i], master_signal, m);
	m->sup = supervisor_create(m->loop, &m->listeners, master_done, m);
	log_info("pymap %s starting (pid %ld)", PYMAP_VERSION, (long)getpid());
	m->exit_code = supervisor_start(m->sup, cfg) < 0 ? 1 : 0;
	if (m->exit_code == 0)
		ioloop_run(m->loop);
	supervisor_destroy(&m->sup);
	ioloop_destroy(&m->loop);
	listeners_close(&m->listeners);
	pidfile_remove(&m->pidfile);
	systemd_notify_deinit();
	return m->exit_code;
}

/* Load the certificates and keys once as the workers will, so a bad file is an error
 * at start-up and in --check-config (naming the file), never at the first client. */
static int check_tls_files(const struct config *cfg)
{
	const char *error;
	int ret = tls_server_init(config_json(cfg), &error);
	if (ret < 0)
		fprintf(stderr, "pymap: error: %s\n", error);
	tls_server_deinit();
	return ret < 0 ? -1 : 0;
}

int main(int argc, char *argv[])
{
	struct master m;
	char *error;
	memset(&m, 0, sizeof(m));
	log_init("master", false);
	if (cli_parse(argc, argv, &m.opts, &error) < 0) {
		fprintf(stderr, "%spymap: error: %s\n", cli_usage(), error);
		i_free(error);
		return 2;
	}
	if (m.opts.help || m.opts.version) {
		if (m.opts.help)
			fputs(cli_usage(), stdout);
		else
			printf("pymap %s\n", PYMAP_VERSION);
		cli_options_free(&m.opts);
		return 0;
	}
	struct config *cfg = master_load_config(&m.opts);
	int ret;
	if (config_error_count(cfg) > 0) {
		print_errors(cfg, !m.opts.check_config);
		config_destroy(&cfg);
		ret = 1;
	} else if (check_tls_files(cfg) < 0) {
		config_destroy(&cfg);
		ret = 1;
	} else if (m.opts.check_config) {
		char *text = config_to_text(cfg);
		fputs(text, stdout);
		i_free(text);
		config_destroy(&cfg);
		ret = 0;
	} else {
		ret = master_run(&m, cfg);
	}
	cli_options_free(&m.opts);
	return ret;
}
