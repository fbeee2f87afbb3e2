/* The second half of config: defaults that depend on the process (root or not, CPUs,
 * host name, environment) and checks that involve more than one key. */
#include "config-private.h"
#include "alloc.h"
#include "strnum.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *exe_libexec_dir(void)
{
	char path[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (len <= 0)
		return i_strdup("/usr/local/libexec/pymap");
	path[len] = '\0';
	/* <prefix>/sbin/pymap -> <prefix>/libexec/pymap */
	for (unsigned int i = 0; i < 2; i++) {
		char *slash = strrchr(path, '/');
		if (slash != NULL)
			*slash = '\0';
	}
	return i_strdup_printf("%s/libexec/pymap", path);
}

void config_env_init(struct config_env *env)
{
	memset(env, 0, sizeof(*env));
	env->uid = geteuid();
	struct passwd *pw = getpwuid(env->uid);
	env->user = pw != NULL ? i_strdup(pw->pw_name) : i_strdup_printf("%u", env->uid);
	struct group *gr = getgrgid(getegid());
	env->group = gr != NULL ? i_strdup(gr->gr_name) : i_strdup_printf("%u", getegid());
	env->runtime_dir = i_strdup(getenv("XDG_RUNTIME_DIR"));
	env->admin_socket = i_strdup(getenv("PYMAP_ADMIN_SOCKET"));
	env->cert_file = i_strdup(getenv("CERT_FILE"));
	env->key_file = i_strdup(getenv("KEY_FILE"));
	char host[256] = "localhost";
	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	env->fqdn = i_strdup(getenv("FQDN") != NULL ? getenv("FQDN") : host);
	env->libexec_dir = exe_libexec_dir();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	env->cpus = cpus < 1 ? 1 : (cpus > 1024 ? 1024 : (unsigned int)cpus);
	env->check_files = true;
}

void config_env_deinit(struct config_env *env)
{
	i_free(env->user);
	i_free(env->group);
	i_free(env->runtime_dir);
	i_free(env->admin_socket);
	i_free(env->cert_file);
	i_free(env->key_file);
	i_free(env->fqdn);
	i_free(env->libexec_dir);
}

static bool is_unset(const struct config *cfg, const char *section, const char *key)
{
	return *config_get_str(cfg, section, key) == '\0';
}

static void fill_str(struct config *cfg, const char *section, const char *key,
		     const char *value)
{
	config_fill(cfg, section, key, json_string(value));
}

static void fill_paths(struct config *cfg, const struct config_env *env)
{
	char *path;
	if (is_unset(cfg, "server", "run_dir")) {
		if (env->uid == 0)
			path = i_strdup("/run/pymap");
		else if (env->runtime_dir != NULL && env->runtime_dir[0] == '/')
			path = i_strdup_printf("%s/pymap", env->runtime_dir);
		else
			path = i_strdup_printf("/tmp/pymap-%u", (unsigned int)env->uid);
		fill_str(cfg, "server", "run_dir", path);
		i_free(path);
	}
	const char *run_dir = config_get_str(cfg, "server", "run_dir");
	const char *pid_file = config_get_str(cfg, "server", "pid_file");
	if (pid_file[0] != '\0' && pid_file[0] != '/') {
		path = i_strdup_printf("%s/%s", run_dir, pid_file);
		fill_str(cfg, "server", "pid_file", path);
		i_free(path);
	}
	if (is_unset(cfg, "server", "auth_socket")) {
		path = i_strdup_printf("%s/auth.sock", run_dir);
		fill_str(cfg, "server", "auth_socket", path);
		i_free(path);
	}
	if (is_unset(cfg, "server", "admin_socket")) {
		path = env->admin_socket != NULL && env->admin_socket[0] != '\0' ?
			i_strdup(env->admin_socket) : i_strdup_printf("%s/admin.sock", run_dir);
		fill_str(cfg, "server", "admin_socket", path);
		i_free(path);
	}
	if (is_unset(cfg, "server", "libexec_dir"))
		fill_str(cfg, "server", "libexec_dir", env->libexec_dir);
}

static void fill_users(struct config *cfg, const struct config_env *env)
{
	static const char *const roles[] = { "imap", "auth", "admin" };
	for (unsigned int i = 0; i < 3; i++) {
		char user_key[32], group_key[32];
		snprintf(user_key, sizeof(user_key), "%s_user", roles[i]);
		snprintf(group_key, sizeof(group_key), "%s_group", roles[i]);
		const char *root_name = strcmp(roles[i], "auth") == 0 ? "pymap-auth" : "pymap";
		if (is_unset(cfg, "users", user_key))
			fill_str(cfg, "users", user_key, env->uid == 0 ? root_name : env->user);
		if (is_unset(cfg, "users", group_key))
			fill_str(cfg, "users", group_key, env->uid == 0 ? root_name : env->group);
	}
}

static void fill_defaults(struct config *cfg, const struct config_env *env)
{
	if (env->cert_file != NULL && env->cert_file[0] != '\0')
		config_set(cfg, "tls", "cert", env->cert_file, "$CERT_FILE");
	if (env->key_file != NULL && env->key_file[0] != '\0')
		config_set(cfg, "tls", "key", env->key_file, "$KEY_FILE");
	fill_paths(cfg, env);
	fill_users(cfg, env);
	if (is_unset(cfg, "server", "fqdn"))
		fill_str(cfg, "server", "fqdn", env->fqdn);
	if (is_unset(cfg, "redis", "data_address"))
		fill_str(cfg, "redis", "data_address", config_get_str(cfg, "redis", "address"));
	/* The dict backend keeps all mail in the worker's memory: one worker only. */
	if (strcmp(config_get_str(cfg, "backend", "type"), "dict") == 0)
		config_fill(cfg, "server", "workers", json_integer(1));
	else if (config_get_int(cfg, "server", "workers") == 0)
		config_fill(cfg, "server", "workers", json_integer(env->cpus));
}

static void key_error(struct config *cfg, const char *section, const char *key,
		      const char *message)
{
	config_error_add(cfg, config_origin(cfg, section, key), "[%s] %s: %s", section, key,
			 message);
}

static bool account_exists(const char *name, bool group)
{
	unsigned int id;
	if (str_to_uint(name, &id) == 0)
		return true;
	return group ? getgrnam(name) != NULL : getpwnam(name) != NULL;
}

static void check_accounts(struct config *cfg)
{
	static const char *const keys[] = {
		"imap_user", "imap_group", "auth_user", "auth_group", "admin_user", "admin_group"
	};
	for (unsigned int i = 0; i < 6; i++) {
		const char *name = config_get_str(cfg, "users", keys[i]);
		bool group = strstr(keys[i], "_group") != NULL;
		if (!account_exists(name, group)) {
			char msg[300];
			bool is_default = strcmp(config_origin(cfg, "users", keys[i]), "default") == 0;
			snprintf(msg, sizeof(msg), "unknown %s '%s'%s", group ? "group" : "user",
				 name, is_default ? " (the default as root: create it with "
				 "useradd --system, or set --set-uid/--set-gid or [users])" : "");
			key_error(cfg, "users", keys[i], msg);
		}
	}
}

static void check_readable(struct config *cfg, const char *section, const char *key)
{
	const char *path = config_get_str(cfg, section, key);
	if (path[0] != '\0' && access(path, R_OK) < 0) {
		char msg[PATH_MAX + 64];
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		key_error(cfg, section, key, msg);
	}
}

static void check_services(struct config *cfg)
{
	size_t i;
	json_t *item;
	json_array_foreach(config_get(cfg, "server", "disabled_services"), i, item) {
		const char *name = json_string_value(item);
		if (strcmp(name, "imap") != 0 && strcmp(name, "auth") != 0 &&
		    strcmp(name, "admin") != 0) {
			char msg[300];
			snprintf(msg, sizeof(msg), "unknown service '%s' (imap, auth or admin)",
				 name);
			key_error(cfg, "server", "disabled_services", msg);
		}
	}
}

static void check_combinations(struct config *cfg, const struct config_env *env)
{
	if (json_array_size(config_get(cfg, "server", "host")) == 0)
		key_error(cfg, "server", "host", "at least one address is needed");
	if (strcmp(config_get_str(cfg, "backend", "type"), "maildir") == 0 &&
	    is_unset(cfg, "maildir", "base_dir"))
		key_error(cfg, "maildir", "base_dir", "required with backend maildir");
	bool cert = !is_unset(cfg, "tls", "cert"), key = !is_unset(cfg, "tls", "key");
	if (key && !cert)
		key_error(cfg, "tls", "key", "set without [tls] cert");
	if (cert && config_get_int(cfg, "server", "tls_port") ==
	    config_get_int(cfg, "server", "port"))
		key_error(cfg, "server", "tls_port", "same as [server] port");
	check_services(cfg);
	if (env->check_files) {
		check_readable(cfg, "tls", "cert");
		check_readable(cfg, "tls", "key");
		check_accounts(cfg);
	}
}

int config_finish(struct config *cfg, const struct config_env *env)
{
	fill_defaults(cfg, env);
	check_combinations(cfg, env);
	return config_error_count(cfg) == 0 ? 0 : -1;
}
