#include "config.h"
#include "config-private.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"
#include "strnum.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum config_type {
	CONFIG_STR,       /* any text, may be empty */
	CONFIG_UINT,      /* decimal, min..max */
	CONFIG_BOOL,      /* yes/no, true/false, on/off, 1/0 */
	CONFIG_ENUM,      /* one of enum_values ("a|b|c") */
	CONFIG_LIST,      /* comma-separated words */
	CONFIG_CHAR,      /* exactly one character */
	CONFIG_BOOL_OR_STR, /* a boolean word, or else a non-empty string (a path) */
};

struct config_def {
	const char *section, *key;
	enum config_type type;
	const char *def;           /* default, as text in the file */
	unsigned long long min, max;
	const char *enum_values;
};

#define U(min, max) min, max, NULL
#define NOLIM 0, 0, NULL
#define UMAX 4294967295ULL

/* The schema. "" defaults marked (auto) are filled in by config_finish(). Keep
 * doc/pymap.conf.md and conf/pymap.conf in step with this table. */
static const struct config_def config_defs[] = {
	{ "server", "host", CONFIG_LIST, "0.0.0.0, ::", NOLIM },
	{ "server", "port", CONFIG_UINT, "143", U(1, 65535) },
	{ "server", "tls_port", CONFIG_UINT, "993", U(0, 65535) },
	{ "server", "run_dir", CONFIG_STR, "", NOLIM },                 /* auto */
	{ "server", "workers", CONFIG_UINT, "0", U(0, 1024) },          /* auto */
	{ "server", "debug", CONFIG_BOOL, "no", NOLIM },
	{ "server", "pid_file", CONFIG_STR, "pymap.pid", NOLIM },
	{ "server", "fqdn", CONFIG_STR, "", NOLIM },                    /* auto */
	{ "server", "log_file", CONFIG_STR, "", NOLIM },
	{ "server", "grace_period_secs", CONFIG_UINT, "10", U(0, 3600) },
	{ "server", "ready_timeout_secs", CONFIG_UINT, "30", U(1, 3600) },
	{ "server", "disabled_services", CONFIG_LIST, "", NOLIM },
	{ "server", "allow_root", CONFIG_BOOL, "no", NOLIM },
	{ "server", "auth_socket", CONFIG_STR, "", NOLIM },             /* auto */
	{ "server", "admin_socket", CONFIG_STR, "", NOLIM },            /* auto */
	{ "server", "libexec_dir", CONFIG_STR, "", NOLIM },             /* auto */
	{ "imap", "max_append_bytes", CONFIG_UINT, "1000000000", U(0, UMAX) },
	{ "imap", "max_line_bytes", CONFIG_UINT, "65536", U(1024, 16777216) },
	{ "imap", "login_timeout_secs", CONFIG_UINT, "60", U(1, 86400) },
	{ "imap", "autologout_secs", CONFIG_UINT, "1800", U(1, 86400) },
	{ "imap", "bad_command_limit", CONFIG_UINT, "5", U(0, 1000) },
	{ "imap", "client_limit", CONFIG_UINT, "1000", U(1, 1000000) },
	{ "imap", "write_timeout_secs", CONFIG_UINT, "300", U(1, 86400) },
	{ "imap", "idle_keepalive_secs", CONFIG_UINT, "120", U(1, 3600) },
	{ "imap", "plaintext_auth", CONFIG_ENUM, "loopback", 0, 0, "always|loopback|never" },
	{ "imap", "disable_search_keys", CONFIG_LIST, "", NOLIM },
	{ "tls", "enabled", CONFIG_BOOL, "yes", NOLIM },
	{ "tls", "cert", CONFIG_STR, "", NOLIM },
	{ "tls", "key", CONFIG_STR, "", NOLIM },
	{ "tls", "ciphers", CONFIG_STR, "", NOLIM },
	{ "tls", "min_version", CONFIG_ENUM, "TLSv1.2", 0, 0, "TLSv1.2|TLSv1.3" },
	{ "tls", "sni", CONFIG_LIST, "", NOLIM },
	{ "auth", "failure_delay_ms", CONFIG_UINT, "2000", U(0, 60000) },
	{ "auth", "lockout_threshold", CONFIG_UINT, "10", U(0, 1000000) },
	{ "auth", "lockout_window_secs", CONFIG_UINT, "300", U(1, 86400) },
	{ "auth", "hash_scheme", CONFIG_ENUM, "yescrypt", 0, 0,
	  "yescrypt|gost-yescrypt|scrypt|bcrypt|sha512-crypt|sha256-crypt|argon2id|pbkdf2-sha256" },
	{ "auth", "hash_threads", CONFIG_UINT, "0", U(0, 256) },        /* 0 = CPUs */
	{ "auth", "passwd_file", CONFIG_STR, "pymap-etc-passwd", NOLIM },
	{ "auth", "shadow_file", CONFIG_STR, "pymap-etc-shadow", NOLIM },
	{ "auth", "group_file", CONFIG_STR, "pymap-etc-group", NOLIM },
	{ "backend", "type", CONFIG_ENUM, "dict", 0, 0, "dict|maildir|redis" },
	{ "dict", "demo_data", CONFIG_BOOL_OR_STR, "no", NOLIM },
	{ "dict", "demo_user", CONFIG_STR, "demouser", NOLIM },
	{ "dict", "demo_password", CONFIG_STR, "demopass", NOLIM },
	{ "maildir", "base_dir", CONFIG_STR, "", NOLIM },
	{ "maildir", "layout", CONFIG_ENUM, "++", 0, 0, "++|fs" },
	{ "maildir", "colon", CONFIG_CHAR, ":", NOLIM },
	{ "redis", "address", CONFIG_STR, "redis://localhost", NOLIM },
	{ "redis", "data_address", CONFIG_STR, "", NOLIM },             /* auto */
	{ "redis", "separator", CONFIG_CHAR, "/", NOLIM },
	{ "redis", "prefix", CONFIG_STR, "/mail", NOLIM },
	{ "redis", "users_prefix", CONFIG_STR, "/users", NOLIM },
	{ "users", "imap_user", CONFIG_STR, "", NOLIM },                /* auto */
	{ "users", "imap_group", CONFIG_STR, "", NOLIM },               /* auto */
	{ "users", "auth_user", CONFIG_STR, "", NOLIM },                /* auto */
	{ "users", "auth_group", CONFIG_STR, "", NOLIM },               /* auto */
	{ "users", "admin_user", CONFIG_STR, "", NOLIM },               /* auto */
	{ "users", "admin_group", CONFIG_STR, "", NOLIM },              /* auto */
};
#define CONFIG_DEF_COUNT (sizeof(config_defs) / sizeof(config_defs[0]))

#define CONFIG_MAX_INCLUDE_DEPTH 8
#define CONFIG_MAX_LINE_BYTES 4096
#define CONFIG_MAX_ERRORS 100

struct config {
	json_t *root;
	char *origins[CONFIG_DEF_COUNT];   /* where each key was set; NULL = default */
	char **errors;
	unsigned int error_count;
	unsigned int include_depth;
	const char *include_stack[CONFIG_MAX_INCLUDE_DEPTH + 1];
};

void config_error_add(struct config *cfg, const char *origin, const char *fmt, ...)
{
	if (cfg->error_count >= CONFIG_MAX_ERRORS)
		return;
	char msg[1024];
	va_list args;
	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	cfg->errors = i_reallocarray(cfg->errors, cfg->error_count + 1, sizeof(char *));
	cfg->errors[cfg->error_count++] = i_strdup_printf("%s: %s", origin, msg);
}

static int config_def_find(const char *section, const char *key)
{
	for (unsigned int i = 0; i < CONFIG_DEF_COUNT; i++) {
		if (strcmp(config_defs[i].section, section) == 0 &&
		    strcmp(config_defs[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

static bool config_section_known(const char *section)
{
	for (unsigned int i = 0; i < CONFIG_DEF_COUNT; i++) {
		if (strcmp(config_defs[i].section, section) == 0)
			return true;
	}
	return false;
}

/* ---- values ---- */

static int parse_bool_word(const char *value, bool *bool_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (unsigned int i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*bool_r = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*bool_r = false;
			return 0;
		}
	}
	return -1;
}

static bool enum_contains(const char *values, const char *value)
{
	size_t len = strlen(value);
	for (const char *p = values; *p != '\0';) {
		const char *end = strchr(p, '|');
		size_t n = end == NULL ? strlen(p) : (size_t)(end - p);
		if (n == len && strncmp(p, value, n) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

static char *trim(char *str)
{
	while (isspace((unsigned char)*str))
		str++;
	size_t len = strlen(str);
	while (len > 0 && isspace((unsigned char)str[len - 1]))
		str[--len] = '\0';
	return str;
}

static json_t *parse_list(const char *value, const char **error_r)
{
	json_t *list = json_array();
	char *copy = i_strdup(value), *save = NULL;
	bool empty_item = false;
	if (*trim(copy) != '\0') {
		for (char *item = strtok_r(copy, ",", &save); item != NULL;
		     item = strtok_r(NULL, ",", &save)) {
			item = trim(item);
			if (*item == '\0')
				empty_item = true;
			json_array_append_new(list, json_string(item));
		}
		/* strtok_r skips empty fields: catch "a,,b", ",a" and "a," */
		if (strstr(value, ",,") != NULL || *trim(copy) == ',' ||
		    value[strlen(value) - 1] == ',')
			empty_item = true;
	}
	i_free(copy);
	if (empty_item) {
		json_decref(list);
		*error_r = "empty item in list";
		return NULL;
	}
	return list;
}

/* Convert text to the JSON value of def's type; NULL with *error_r on bad input. */
static json_t *config_parse_value(const struct config_def *def, const char *value,
				  const char **error_r)
{
	static char errbuf[256];
	bool b;
	uint64_t num;

	switch (def->type) {
	case CONFIG_STR:
		return json_string(value);
	case CONFIG_UINT:
		if (str_to_uint64(value, &num) < 0) {
			*error_r = "not a non-negative decimal number";
			return NULL;
		}
		if (num < def->min || num > def->max) {
			snprintf(errbuf, sizeof(errbuf), "%s is out of range %llu..%llu",
				 value, def->min, def->max);
			*error_r = errbuf;
			return NULL;
		}
		return json_integer((json_int_t)num);
	case CONFIG_BOOL:
		if (parse_bool_word(value, &b) < 0) {
			*error_r = "not a boolean (use yes or no)";
			return NULL;
		}
		return json_boolean(b);
	case CONFIG_ENUM:
		if (!enum_contains(def->enum_values, value)) {
			snprintf(errbuf, sizeof(errbuf), "invalid value '%s' (one of %s)",
				 value, def->enum_values);
			*error_r = errbuf;
			return NULL;
		}
		return json_string(value);
	case CONFIG_LIST:
		return parse_list(value, error_r);
	case CONFIG_CHAR:
		if (strlen(value) != 1) {
			*error_r = "must be exactly one character";
			return NULL;
		}
		return json_string(value);
	case CONFIG_BOOL_OR_STR:
		if (parse_bool_word(value, &b) == 0)
			return json_boolean(b);
		if (*value == '\0') {
			*error_r = "must be yes, no or a path";
			return NULL;
		}
		return json_string(value);
	}
	*error_r = "unknown type";
	return NULL;
}

static void config_store(struct config *cfg, unsigned int idx, json_t *value,
			 const char *origin)
{
	const struct config_def *def = &config_defs[idx];
	json_t *section = json_object_get(cfg->root, def->section);
	json_object_set_new(section, def->key, value);
	i_free(cfg->origins[idx]);
	cfg->origins[idx] = i_strdup(origin);
}

/* Parse and store; errors name origin and the key. */
static int config_assign(struct config *cfg, unsigned int idx, const char *value,
			 const char *origin)
{
	const char *error;
	json_t *json = config_parse_value(&config_defs[idx], value, &error);
	if (json == NULL) {
		config_error_add(cfg, origin, "[%s] %s: %s", config_defs[idx].section,
				 config_defs[idx].key, error);
		return -1;
	}
	config_store(cfg, idx, json, origin);
	return 0;
}

struct config *config_create(void)
{
	struct config *cfg = i_new0(struct config);
	cfg->root = json_object();
	for (unsigned int i = 0; i < CONFIG_DEF_COUNT; i++) {
		const struct config_def *def = &config_defs[i];
		if (json_object_get(cfg->root, def->section) == NULL)
			json_object_set_new(cfg->root, def->section, json_object());
		const char *error;
		json_t *value = config_parse_value(def, def->def, &error);
		if (value == NULL)
			log_panic("config: bad default for [%s] %s: %s", def->section,
				  def->key, error);
		json_object_set_new(json_object_get(cfg->root, def->section), def->key, value);
	}
	return cfg;
}

void config_destroy(struct config **_cfg)
{
	struct config *cfg = *_cfg;
	if (cfg == NULL)
		return;
	*_cfg = NULL;
	json_decref(cfg->root);
	for (unsigned int i = 0; i < CONFIG_DEF_COUNT; i++)
		i_free(cfg->origins[i]);
	for (unsigned int i = 0; i < cfg->error_count; i++)
		i_free(cfg->errors[i]);
	i_free(cfg->errors);
	i_free(cfg);
}

int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, const char *origin)
{
	int idx = config_def_find(section, key);
	if (idx < 0)
		log_panic("config_set: no key [%s] %s", section, key);
	return config_assign(cfg, (unsigned int)idx, value, origin);
}

/* ---- the file parser ---- */

struct config_parser {
	struct config *cfg;
	const char *name;
	unsigned int line;
	char *section;          /* NULL inside an unknown section: its keys are skipped */
	bool bad_section;
};

static int config_load_file_at(struct config *cfg, const char *path, const char *origin);

static char *include_path(const char *including, const char *path)
{
	if (path[0] == '/' || strchr(including, '/') == NULL)
		return i_strdup(path);
	const char *slash = strrchr(including, '/');
	return i_strdup_printf("%.*s/%s", (int)(slash - including), including, path);
}

static void parse_include(struct config_parser *p, const char *origin, char *arg)
{
	arg = trim(arg);
	if (*arg == '\0') {
		config_error_add(p->cfg, origin, "include: missing file name");
		return;
	}
	char *path = include_path(p->name, arg);
	config_load_file_at(p->cfg, path, origin);
	i_free(path);
}

static void parse_section(struct config_parser *p, const char *origin, char *line)
{
	size_t len = strlen(line);
	if (line[len - 1] != ']') {
		config_error_add(p->cfg, origin, "section header without ']'");
		p->bad_section = true;
		return;
	}
	line[len - 1] = '\0';
	char *name = trim(line + 1);
	i_free(p->section);
	p->bad_section = !config_section_known(name);
	if (p->bad_section)
		config_error_add(p->cfg, origin, "unknown section [%s]", name);
	else
		p->section = i_strdup(name);
}

static char *unquote(char *value)
{
	size_t len = strlen(value);
	if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
		value[len - 1] = '\0';
		return value + 1;
	}
	return value;
}

static void parse_assignment(struct config_parser *p, const char *origin, char *line)
{
	char *eq = strchr(line, '=');
	if (eq == NULL) {
		config_error_add(p->cfg, origin, "expected 'key = value', '[section]' or "
				 "'include FILE'");
		return;
	}
	*eq = '\0';
	char *key = trim(line), *value = unquote(trim(eq + 1));
	if (*key == '\0') {
		config_error_add(p->cfg, origin, "missing key before '='");
		return;
	}
	if (p->bad_section)
		return;
	const char *section = p->section == NULL ? "server" : p->section;
	int idx = config_def_find(section, key);
	if (idx < 0) {
		config_error_add(p->cfg, origin, "unknown key '%s' in [%s]", key, section);
		return;
	}
	const char *prev = p->cfg->origins[idx];
	if (prev != NULL && prev[0] != '-' && prev[0] != '$') {
		config_error_add(p->cfg, origin, "[%s] %s: already set at %s", section, key,
				 prev);
		return;
	}
	config_assign(p->cfg, (unsigned int)idx, value, origin);
}

static void config_parse_line(struct config_parser *p, char *raw)
{
	char origin[512];
	snprintf(origin, sizeof(origin), "%s:%u", p->name, p->line);
	char *line = trim(raw);
	if (*line == '\0' || *line == '#')
		return;
	if (*line == '[')
		parse_section(p, origin, line);
	else if (strncmp(line, "include", 7) == 0 && isspace((unsigned char)line[7]) &&
		 strchr(line, '=') == NULL)
		parse_include(p, origin, line + 8);
	else
		parse_assignment(p, origin, line);
}

int config_load_string(struct config *cfg, const char *name, const char *text)
{
	unsigned int errors_before = cfg->error_count;
	struct config_parser p = { .cfg = cfg, .name = name };
	const char *pos = text;

	while (*pos != '\0') {
		const char *end = strchr(pos, '\n');
		size_t len = end == NULL ? strlen(pos) : (size_t)(end - pos);
		p.line++;
		if (len >= CONFIG_MAX_LINE_BYTES) {
			char origin[512];
			snprintf(origin, sizeof(origin), "%s:%u", name, p.line);
			config_error_add(cfg, origin, "line longer than %d bytes",
					 CONFIG_MAX_LINE_BYTES);
		} else {
			char *line = i_strndup(pos, len);
			config_parse_line(&p, line);
			i_free(line);
		}
		pos += len + (end != NULL);
	}
	i_free(p.section);
	return cfg->error_count == errors_before ? 0 : -1;
}

static char *read_file(const char *path, const char **error_r)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		*error_r = strerror(errno);
		return NULL;
	}
	struct buffer buf;
	buffer_init(&buf, 1024 * 1024);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buffer_append(&buf, chunk, n) < 0) {
			*error_r = "file larger than 1 MB";
			break;
		}
	}
	if (ferror(f))
		*error_r = strerror(errno);
	bool failed = ferror(f) || n > 0;
	if (!failed && memchr(buffer_data(&buf), '\0', buffer_len(&buf)) != NULL) {
		*error_r = "contains a NUL byte";
		failed = true;
	}
	fclose(f);
	if (failed) {
		buffer_deinit(&buf);
		return NULL;
	}
	char *text = buffer_steal_str(&buf);
	buffer_deinit(&buf);
	return text;
}

static int config_load_file_at(struct config *cfg, const char *path, const char *origin)
{
	if (cfg->include_depth >= CONFIG_MAX_INCLUDE_DEPTH) {
		config_error_add(cfg, origin, "include %s: nested more than %d deep", path,
				 CONFIG_MAX_INCLUDE_DEPTH);
		return -1;
	}
	for (unsigned int i = 0; i < cfg->include_depth; i++) {
		if (strcmp(cfg->include_stack[i], path) == 0) {
			config_error_add(cfg, origin, "include %s: includes itself", path);
			return -1;
		}
	}
	const char *error = NULL;
	char *text = read_file(path, &error);
	if (text == NULL) {
		config_error_add(cfg, origin, "%s: %s", path, error);
		return -1;
	}
	cfg->include_stack[cfg->include_depth++] = path;
	int ret = config_load_string(cfg, path, text);
	cfg->include_depth--;
	i_free(text);
	return ret;
}

int config_load_file(struct config *cfg, const char *path)
{
	return config_load_file_at(cfg, path, "-c");
}

/* ---- results ---- */

unsigned int config_error_count(const struct config *cfg) { return cfg->error_count; }

const char *config_error(const struct config *cfg, unsigned int idx)
{
	i_assert(idx < cfg->error_count);
	return cfg->errors[idx];
}

const json_t *config_json(const struct config *cfg) { return cfg->root; }

const json_t *config_get(const struct config *cfg, const char *section, const char *key)
{
	json_t *value = json_object_get(json_object_get(cfg->root, section), key);
	if (value == NULL)
		log_panic("config: no key [%s] %s", section, key);
	return value;
}

const char *config_get_str(const struct config *cfg, const char *section, const char *key)
{
	const json_t *value = config_get(cfg, section, key);
	return json_is_string(value) ? json_string_value(value) : "";
}

long long config_get_int(const struct config *cfg, const char *section, const char *key)
{
	return json_integer_value(config_get(cfg, section, key));
}

bool config_get_bool(const struct config *cfg, const char *section, const char *key)
{
	const json_t *value = config_get(cfg, section, key);
	return json_is_true(value) || (json_is_string(value) && json_string_length(value) > 0);
}

static void value_to_text(struct buffer *out, const json_t *value)
{
	if (json_is_boolean(value)) {
		buffer_append_str(out, json_is_true(value) ? "yes" : "no");
	} else if (json_is_integer(value)) {
		buffer_printf(out, "%lld", (long long)json_integer_value(value));
	} else if (json_is_array(value)) {
		size_t i;
		json_t *item;
		json_array_foreach(value, i, item)
			buffer_printf(out, "%s%s", i > 0 ? ", " : "", json_string_value(item));
	} else {
		const char *str = json_string_value(value);
		size_t len = strlen(str);
		bool quote = len > 0 && (isspace((unsigned char)str[0]) || str[0] == '"' ||
					 isspace((unsigned char)str[len - 1]));
		buffer_printf(out, quote ? "\"%s\"" : "%s", str);
	}
}

char *config_to_text(const struct config *cfg)
{
	struct buffer out;
	buffer_init(&out, 0);
	const char *section = NULL;
	for (unsigned int i = 0; i < CONFIG_DEF_COUNT; i++) {
		const struct config_def *def = &config_defs[i];
		if (section == NULL || strcmp(section, def->section) != 0) {
			buffer_printf(&out, "%s[%s]\n", section == NULL ? "" : "\n", def->section);
			section = def->section;
		}
		buffer_printf(&out, "%s = ", def->key);
		value_to_text(&out, config_get(cfg, def->section, def->key));
		buffer_append_c(&out, '\n');
	}
	char *text = buffer_steal_str(&out);
	buffer_deinit(&out);
	return text;
}

const char *config_origin(const struct config *cfg, const char *section, const char *key)
{
	int idx = config_def_find(section, key);
	i_assert(idx >= 0);
	return cfg->origins[idx] == NULL ? "default" : cfg->origins[idx];
}

void config_fill(struct config *cfg, const char *section, const char *key, json_t *value)
{
	i_assert(config_def_find(section, key) >= 0);
	json_object_set_new(json_object_get(cfg->root, section), key, value);
}
