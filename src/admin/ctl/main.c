/* pymapctl: the admin CLI. Talks pymap-admin (doc/ipc.md) to admin.sock; see
 * doc/admin.md. Exit 0 on success, 1 on failure with one line on stderr. */
#include "ctl-args.h"
#include "ctl-cmds.h"
#include "admin-client.h"
#include "alloc.h"
#include "build-config.h"
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_TIMEOUT_MSECS 60000

/* [pymap-admin] key from an INI file (pymap-admin's config), malloc'ed or NULL. */
static char *config_value(const char *path, const char *want)
{
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	char line[4096], *value = NULL;
	bool in_section = false;
	while (f != NULL && value == NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '[') {
			in_section = strncmp(p, "[pymap-admin]", 13) == 0;
			continue;
		}
		char *eq = strchr(p, '=');
		if (!in_section || eq == NULL || *p == '#' || *p == ';')
			continue;
		char *end = eq;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - p) == strlen(want) && strncmp(p, want, strlen(want)) == 0)
			value = i_strdup(eq + 1 + strspn(eq + 1, " \t"));
	}
	if (f != NULL)
		fclose(f);
	return value;
}

static char *default_file(const char *name)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *path = xdg != NULL && xdg[0] != '\0' ? i_strdup_printf("%s/pymap/%s", xdg, name) :
		i_strdup_printf("%s/.config/pymap/%s", home != NULL ? home : "", name);
	if (access(path, R_OK) == 0)
		return path;
	free(path);
	return NULL;
}

static char *find_token(const struct ctl_args *a, const char *config, char **token_file_r)
{
	const char *env = getenv("PYMAP_ADMIN_TOKEN"), *env_file = getenv("PYMAP_ADMIN_TOKEN_FILE");
	char *file = a->token_file != NULL ? i_strdup(a->token_file) : config_value(config, "token_file");
	if (file == NULL && env_file != NULL && env_file[0] != '\0')
		file = i_strdup(env_file);
	*token_file_r = file;
	if (env != NULL && env[0] != '\0')
		return i_strdup(env);
	char *path = file != NULL ? i_strdup(file) : default_file("pymap-admin.token");
	char *token = NULL;
	if (path != NULL && access(path, R_OK) == 0)
		token = ctl_read_first_line(path);
	free(path);
	if (token != NULL && token[0] == '\0') {
		free(token);
		token = NULL;
	}
	return token;
}

int main(int argc, char *argv[])
{
	struct ctl_args args;
	struct ctl_context ctx;
	const char *error;
	if (ctl_args_parse(argc, argv, &args, &error) < 0) {
		fprintf(stderr, "pymapctl: %s\n", error);
		return 1;
	}
	if (args.help || args.version) {
		fputs(args.help ? ctl_args_usage() : "pymapctl " PYMAP_VERSION "\n", stdout);
		return 0;
	}
	const char *env_config = getenv("PYMAP_ADMIN_CONFIG");
	char *config = args.config != NULL ? i_strdup(args.config) :
		env_config != NULL && env_config[0] != '\0' ? i_strdup(env_config) :
		default_file("pymap-admin.conf");
	char *conf_path = args.path == NULL ? config_value(config, "path") : NULL;
	char *path = admin_client_socket_path(args.path != NULL ? args.path : conf_path);
	char *token_file = NULL, *token = find_token(&args, config, &token_file);

	memset(&ctx, 0, sizeof(ctx));
	ctx.args = &args;
	ctx.socket_path = path;
	ctx.token = token;
	ctx.token_file = token_file;
	int ret = 1;
	ctx.client = admin_client_connect(path, CTL_TIMEOUT_MSECS, &error);
	if (ctx.client == NULL)
		fprintf(stderr, "pymapctl: admin service not reachable: %s\n", error);
	else
		ret = ctl_cmd_run(&ctx);
	ipc_client_destroy(&ctx.client);
	free(config);
	free(conf_path);
	free(path);
	free(token_file);
	if (token != NULL)
		i_free_secret(token, strlen(token));
	return ret;
}
