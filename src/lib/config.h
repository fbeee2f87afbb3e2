#ifndef PYMAP_CONFIG_H
#define PYMAP_CONFIG_H
/* pymap.conf: the key table (every section and key with its type, default and limits),
 * the parser (`key = value`, `[section]`, `#` comment lines, `include FILE`) and the
 * effective configuration as one JSON object {"section": {"key": value}} with every
 * key present. Used by the master (src/master) for pymap.conf plus command-line
 * overrides, and by --check-config. Children never parse the file: the master hands
 * them the JSON (master-service.h). Reference: doc/pymap.conf.md.
 *
 * Errors are collected, not fatal: each is one "origin: message" line, where origin
 * is "file:line" or a command-line flag. A config with errors must not be used.
 *
 * Adding a key is one row in the table in config.c (and a line in the docs). */
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

struct config;

/* What config_finish() needs from the process, so tests can supply their own. */
struct config_env {
	uid_t uid;                /* effective uid of the master: 0 means root defaults */
	char *user, *group;       /* name of the invoking user and its primary group */
	char *runtime_dir;        /* $XDG_RUNTIME_DIR or NULL */
	char *admin_socket;       /* $PYMAP_ADMIN_SOCKET or NULL */
	char *cert_file, *key_file; /* $CERT_FILE / $KEY_FILE (override [tls]) or NULL */
	char *fqdn;               /* $FQDN, else the host name */
	char *libexec_dir;        /* where the child binaries are by default */
	unsigned int cpus;        /* default number of imap workers */
	bool check_files;         /* check that users, groups and TLS files exist */
};
/* Fill env from the running process; libexec_dir from /proc/self/exe. */
void config_env_init(struct config_env *env);
void config_env_deinit(struct config_env *env);

/* A config holding only the defaults (environment-dependent ones are filled in by
 * config_finish). */
struct config *config_create(void);
void config_destroy(struct config **cfg);

/* Parse a file and the files it includes. Return 0, or -1 when errors were added. */
int config_load_file(struct config *cfg, const char *path);
/* Parse text as if it were the file name (tests, and -c - is not supported). */
int config_load_string(struct config *cfg, const char *name, const char *text);
/* Set one key from the command line: value as it would appear in the file, origin
 * (e.g. "--port") names it in errors. Overrides the file. Return 0 or -1 (error added). */
int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, const char *origin);
/* Fill in the defaults that depend on env and check combinations of keys.
 * Return 0, or -1 when errors were added (also when earlier steps added some). */
int config_finish(struct config *cfg, const struct config_env *env);

unsigned int config_error_count(const struct config *cfg);
const char *config_error(const struct config *cfg, unsigned int idx);

/* The effective configuration, borrowed. */
const json_t *config_json(const struct config *cfg);
/* The effective configuration as pymap.conf text (what --check-config prints);
 * the caller frees it. */
char *config_to_text(const struct config *cfg);

/* Lookups; a key missing from the table is a bug (panic). List values are json arrays:
 * use config_get(). */
const json_t *config_get(const struct config *cfg, const char *section, const char *key);
const char *config_get_str(const struct config *cfg, const char *section, const char *key);
long long config_get_int(const struct config *cfg, const char *section, const char *key);
bool config_get_bool(const struct config *cfg, const char *section, const char *key);

#endif
