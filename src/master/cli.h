#ifndef PYMAP_MASTER_CLI_H
#define PYMAP_MASTER_CLI_H
/* The pymap command line (the Python pymap's, plus -c, --check-config, --run-dir,
 * --workers, --tls-port): global flags, then the backend as a sub-command. Each value
 * becomes an override of a pymap.conf key, kept so a reload (SIGHUP) can apply the
 * same overrides to the re-read file. Called by main.c. */
#include <stdbool.h>

struct config;

struct cli_override {
	const char *section, *key;
	char *value;
	char *origin;       /* the flag, e.g. "--port" */
};

struct cli_options {
	char *config_path;      /* -c FILE, or NULL */
	bool check_config;
	bool version;
	bool help;
	struct cli_override *overrides;
	unsigned int override_count;
};

/* Return 0, or -1 with a one-line message in *error_r (the caller frees it). */
int cli_parse(int argc, char *argv[], struct cli_options *opts_r, char **error_r);
void cli_options_free(struct cli_options *opts);
/* Apply the overrides to cfg (errors are added to cfg). */
void cli_apply(const struct cli_options *opts, struct config *cfg);
/* The usage text for --help and errors. */
const char *cli_usage(void);

#endif
