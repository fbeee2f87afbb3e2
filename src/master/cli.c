#include "cli.h"
#include "config.h"
#include "alloc.h"

#include <stdio.h>
#include <string.h>

enum cli_arg { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };
enum cli_special {
	SPECIAL_NONE, SPECIAL_CONFIG, SPECIAL_CHECK, SPECIAL_VERSION, SPECIAL_HELP,
	SPECIAL_LIST,   /* repeatable: values are joined into a list */
	SPECIAL_SETUID, SPECIAL_SETGID,
};

struct cli_flag {
	const char *name;
	enum cli_arg arg;
	const char *section, *key;
	const char *value;          /* for ARG_NONE/ARG_OPTIONAL without a value */
	enum cli_special special;
};

static const struct cli_flag global_flags[] = {
	{ "-c", ARG_REQUIRED, NULL, NULL, NULL, SPECIAL_CONFIG },
	{ "--check-config", ARG_NONE, NULL, NULL, NULL, SPECIAL_CHECK },
	{ "--version", ARG_NONE, NULL, NULL, NULL, SPECIAL_VERSION },
	{ "--help", ARG_NONE, NULL, NULL, NULL, SPECIAL_HELP },
	{ "-h", ARG_NONE, NULL, NULL, NULL, SPECIAL_HELP },
	{ "--debug", ARG_NONE, "server", "debug", "yes", SPECIAL_NONE },
	{ "--pid-file", ARG_REQUIRED, "server", "pid_file", NULL, SPECIAL_NONE },
	{ "--set-uid", ARG_REQUIRED, NULL, NULL, NULL, SPECIAL_SETUID },
	{ "--set-gid", ARG_REQUIRED, NULL, NULL, NULL, SPECIAL_SETGID },
	{ "--host", ARG_REQUIRED, "server", "host", NULL, SPECIAL_LIST },
	{ "--port", ARG_REQUIRED, "server", "port", NULL, SPECIAL_NONE },
	{ "--tls-port", ARG_REQUIRED, "server", "tls_port", NULL, SPECIAL_NONE },
	{ "--cert", ARG_REQUIRED, "tls", "cert", NULL, SPECIAL_NONE },
	{ "--key", ARG_REQUIRED, "tls", "key", NULL, SPECIAL_NONE },
	{ "--no-tls", ARG_NONE, "tls", "enabled", "no", SPECIAL_NONE },
	{ "--no-service", ARG_REQUIRED, "server", "disabled_services", NULL, SPECIAL_LIST },
	{ "--run-dir", ARG_REQUIRED, "server", "run_dir", NULL, SPECIAL_NONE },
	{ "--workers", ARG_REQUIRED, "server", "workers", NULL, SPECIAL_NONE },
	{ NULL, ARG_NONE, NULL, NULL, NULL, SPECIAL_NONE }
};

static const struct cli_flag dict_flags[] = {
	{ "--demo-data", ARG_OPTIONAL, "dict", "demo_data", "yes", SPECIAL_NONE },
	{ "--demo-user", ARG_REQUIRED, "dict", "demo_user", NULL, SPECIAL_NONE },
	{ "--demo-password", ARG_REQUIRED, "dict", "demo_password", NULL, SPECIAL_NONE },
	{ NULL, ARG_NONE, NULL, NULL, NULL, SPECIAL_NONE }
};

static const struct cli_flag maildir_flags[] = {
	{ "--layout", ARG_REQUIRED, "maildir", "layout", NULL, SPECIAL_NONE },
	{ "--colon", ARG_REQUIRED, "maildir", "colon", NULL, SPECIAL_NONE },
	{ NULL, ARG_NONE, NULL, NULL, NULL, SPECIAL_NONE }
};

static const struct cli_flag redis_flags[] = {
	{ "--address", ARG_REQUIRED, "redis", "address", NULL, SPECIAL_NONE },
	{ "--data-address", ARG_REQUIRED, "redis", "data_address", NULL, SPECIAL_NONE },
	{ "--separator", ARG_REQUIRED, "redis", "separator", NULL, SPECIAL_NONE },
	{ "--prefix", ARG_REQUIRED, "redis", "prefix", NULL, SPECIAL_NONE },
	{ "--users-prefix", ARG_REQUIRED, "redis", "users_prefix", NULL, SPECIAL_NONE },
	{ NULL, ARG_NONE, NULL, NULL, NULL, SPECIAL_NONE }
};

struct cli_backend {
	const char *name;
	const struct cli_flag *flags;
	const char *positional_key;   /* maildir DIR */
};

static const struct cli_backend backends[] = {
	{ "dict", dict_flags, NULL },
	{ "maildir", maildir_flags, "base_dir" },
	{ "redis", redis_flags, NULL },
};

const char *cli_usage(void)
{
	return "usage: pymap [-c FILE] [--check-config] [--version] [--debug]\n"
	       "             [--pid-file NAME] [--set-uid USER] [--set-gid GROUP]\n"
	       "             [--host IFACE]... [--port NUM] [--tls-port NUM]\n"
	       "             [--cert FILE] [--key FILE] [--no-tls] [--no-service NAME]...\n"
	       "             [--run-dir DIR] [--workers N]\n"
	       "             [dict [--demo-data [DIR]] [--demo-user U] [--demo-password P]\n"
	       "             | maildir DIR [--layout ++|fs] [--colon C]\n"
	       "             | redis [--address URL] [--data-address URL] [--separator C]\n"
	       "                     [--prefix P] [--users-prefix P]]\n";
}

static void add_override(struct cli_options *opts, const char *section, const char *key,
			 const char *value, const char *origin, bool list)
{
	for (unsigned int i = 0; i < opts->override_count; i++) {
		struct cli_override *o = &opts->overrides[i];
		if (strcmp(o->section, section) != 0 || strcmp(o->key, key) != 0)
			continue;
		char *old = o->value;
		o->value = list ? i_strdup_printf("%s, %s", old, value) : i_strdup(value);
		i_free(old);
		i_free(o->origin);
		o->origin = i_strdup(origin);
		return;
	}
	opts->overrides = i_reallocarray(opts->overrides, opts->override_count + 1,
					 sizeof(*opts->overrides));
	opts->overrides[opts->override_count++] = (struct cli_override){
		section, key, i_strdup(value), i_strdup(origin)
	};
}

static const struct cli_flag *find_flag(const struct cli_flag *flags, const char *name,
					size_t len)
{
	for (; flags->name != NULL; flags++) {
		if (strlen(flags->name) == len && strncmp(flags->name, name, len) == 0)
			return flags;
	}
	return NULL;
}

static void apply_flag(struct cli_options *opts, const struct cli_flag *flag,
		       const char *value)
{
	static const char *const user_keys[] = { "imap_user", "auth_user", "admin_user" };
	static const char *const group_keys[] = { "imap_group", "auth_group", "admin_group" };
	switch (flag->special) {
	case SPECIAL_CONFIG:
		i_free(opts->config_path);
		opts->config_path = i_strdup(value);
		break;
	case SPECIAL_CHECK: opts->check_config = true; break;
	case SPECIAL_VERSION: opts->version = true; break;
	case SPECIAL_HELP: opts->help = true; break;
	case SPECIAL_SETUID:
	case SPECIAL_SETGID:
		for (unsigned int i = 0; i < 3; i++) {
			add_override(opts, "users", flag->special == SPECIAL_SETUID ?
				     user_keys[i] : group_keys[i], value, flag->name, false);
		}
		break;
	case SPECIAL_LIST:
	case SPECIAL_NONE:
		add_override(opts, flag->section, flag->key, value, flag->name,
			     flag->special == SPECIAL_LIST);
		break;
	}
}

/* Parse one flag at argv[*i]; advances *i past its value. */
static int parse_flag(const struct cli_flag *flags, int argc, char *argv[], int *i,
		      struct cli_options *opts, char **error_r)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t len = eq != NULL && arg[1] == '-' ? (size_t)(eq - arg) : strlen(arg);
	const struct cli_flag *flag = find_flag(flags, arg, len);
	if (flag == NULL) {
		*error_r = i_strdup_printf("unrecognized argument: %.*s", (int)len, arg);
		return -1;
	}
	const char *value = flag->value;
	if (eq != NULL && len < strlen(arg)) {
		if (flag->arg == ARG_NONE) {
			*error_r = i_strdup_printf("%s: takes no value", flag->name);
			return -1;
		}
		value = eq + 1;
	} else if (flag->arg == ARG_REQUIRED) {
		if (*i + 1 >= argc) {
			*error_r = i_strdup_printf("%s: expected one argument", flag->name);
			return -1;
		}
		value = argv[++*i];
	} else if (flag->arg == ARG_OPTIONAL && *i + 1 < argc && argv[*i + 1][0] != '-') {
		value = argv[++*i];
	}
	apply_flag(opts, flag, value);
	return 0;
}

static int parse_backend(const struct cli_backend *backend, int argc, char *argv[], int i,
			 struct cli_options *opts, char **error_r)
{
	bool have_positional = false;
	add_override(opts, "backend", "type", backend->name, backend->name, false);
	for (; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if (parse_flag(backend->flags, argc, argv, &i, opts, error_r) < 0)
				return -1;
		} else if (backend->positional_key != NULL && !have_positional) {
			add_override(opts, backend->name, backend->positional_key, argv[i],
				     backend->name, false);
			have_positional = true;
		} else {
			*error_r = i_strdup_printf("unrecognized argument: %s", argv[i]);
			return -1;
		}
	}
	if (backend->positional_key != NULL && !have_positional) {
		*error_r = i_strdup_printf("%s: the following argument is required: DIR",
					   backend->name);
		return -1;
	}
	return 0;
}

int cli_parse(int argc, char *argv[], struct cli_options *opts_r, char **error_r)
{
	struct cli_options opts;
	memset(&opts, 0, sizeof(opts));
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			if (parse_flag(global_flags, argc, argv, &i, &opts, error_r) < 0)
				goto fail;
			continue;
		}
		for (unsigned int b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
			if (strcmp(argv[i], backends[b].name) == 0) {
				if (parse_backend(&backends[b], argc, argv, i + 1, &opts,
						  error_r) < 0)
					goto fail;
				*opts_r = opts;
				return 0;
			}
		}
		*error_r = i_strdup_printf("invalid backend '%s' (choose from dict, maildir, "
					   "redis)", argv[i]);
		goto fail;
	}
	*opts_r = opts;
	return 0;
fail:
	cli_options_free(&opts);
	return -1;
}

void cli_options_free(struct cli_options *opts)
{
	for (unsigned int i = 0; i < opts->override_count; i++) {
		i_free(opts->overrides[i].value);
		i_free(opts->overrides[i].origin);
	}
	i_free(opts->overrides);
	i_free(opts->config_path);
	memset(opts, 0, sizeof(*opts));
}

void cli_apply(const struct cli_options *opts, struct config *cfg)
{
	for (unsigned int i = 0; i < opts->override_count; i++) {
		const struct cli_override *o = &opts->overrides[i];
		config_set(cfg, o->section, o->key, o->value, o->origin);
	}
}
