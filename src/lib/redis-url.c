/* Redis address parsing (see redis-url.h for the accepted forms). */
#include "redis-url.h"
#include "alloc.h"
#include "strnum.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [str, str+len) into a new string; NULL on bad escapes or NUL. */
static char *pct_decode(const char *str, size_t len)
{
	char *out = i_malloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (str[i] != '%') {
			out[o++] = str[i];
			continue;
		}
		int hi = i + 2 < len ? hexval(str[i + 1]) : -1;
		int lo = i + 2 < len ? hexval(str[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static int parse_ms(const char *value, size_t len, unsigned int *ms_r)
{
	uint64_t num;
	if (str_to_uint64_n(value, len, &num) < 0 || num == 0 || num > 600000)
		return -1;
	*ms_r = (unsigned int)num;
	return 0;
}

/* tls_*=value: 0 set, -1 bad value (empty, bad escape, repeated), 1 not a TLS key. */
static int parse_tls_param(const char *key, size_t klen, const char *value, size_t vlen,
			   struct redis_url *url)
{
	static const char *const names[] = {
		"tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name",
	};
	char **fields[] = {
		&url->tls_ca_file, &url->tls_cert_file, &url->tls_key_file,
		&url->tls_server_name,
	};
	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) != klen || memcmp(key, names[i], klen) != 0)
			continue;
		if (*fields[i] != NULL || vlen == 0)
			return -1;
		*fields[i] = pct_decode(value, vlen);
		return *fields[i] == NULL ? -1 : 0;
	}
	return 1;
}

/* timeout, connect_timeout, db: 0 or -1 (bad value or unknown key). */
static int parse_plain_param(const char *key, size_t klen, const char *value, size_t vlen,
			     struct redis_url *url)
{
	uint64_t db;
	if (klen == 7 && memcmp(key, "timeout", 7) == 0)
		return parse_ms(value, vlen, &url->command_timeout_ms);
	if (klen == 15 && memcmp(key, "connect_timeout", 15) == 0)
		return parse_ms(value, vlen, &url->connect_timeout_ms);
	if (klen == 2 && memcmp(key, "db", 2) == 0) {
		if (str_to_uint64_n(value, vlen, &db) < 0 || db > 100000)
			return -1;
		url->db = (unsigned int)db;
		return 0;
	}
	return -1;
}

/* key=value&key=value */
static int parse_query(const char *query, struct redis_url *url, const char **error_r)
{
	while (*query != '\0') {
		const char *end = strchr(query, '&');
		size_t len = end == NULL ? strlen(query) : (size_t)(end - query);
		const char *eq = memchr(query, '=', len);
		if (eq == NULL) {
			*error_r = "redis URL: query parameter without '='";
			return -1;
		}
		size_t klen = (size_t)(eq - query), vlen = len - klen - 1;
		int ret = parse_tls_param(query, klen, eq + 1, vlen, url);
		if (ret == 1)
			ret = parse_plain_param(query, klen, eq + 1, vlen, url);
		if (ret < 0) {
			*error_r = "redis URL: bad or unknown query parameter (timeout, "
				   "connect_timeout, db, tls_ca_file, tls_cert_file, tls_key_file, "
				   "tls_server_name)";
			return -1;
		}
		query += len + (end == NULL ? 0 : 1);
	}
	return 0;
}

/* [user]:password@ at the start of authority [str, str+len). */
static int parse_userinfo(const char *str, size_t len, struct redis_url *url,
			  const char **error_r)
{
	const char *colon = memchr(str, ':', len);
	if (colon == NULL) {
		/* "password@" alone: the common redis-cli form is ":password@", but
		 * accept a bare password too. */
		url->password = pct_decode(str, len);
	} else {
		if (colon > str)
			url->username = pct_decode(str, (size_t)(colon - str));
		url->password = pct_decode(colon + 1, len - (size_t)(colon - str) - 1);
		if (colon > str && url->username == NULL)
			url->password = (free(url->password), NULL);
	}
	if (url->password == NULL) {
		*error_r = "redis URL: bad percent-encoding in credentials";
		return -1;
	}
	return 0;
}

static int parse_hostport(const char *str, size_t len, struct redis_url *url,
			  const char **error_r)
{
	const char *port = NULL;
	size_t hostlen = len;
	if (len > 0 && str[0] == '[') {
		const char *close = memchr(str, ']', len);
		if (close == NULL) {
			*error_r = "redis URL: unterminated [IPv6] address";
			return -1;
		}
		url->host = i_strndup(str + 1, (size_t)(close - str - 1));
		if (close + 1 < str + len) {
			if (close[1] != ':') {
				*error_r = "redis URL: junk after [IPv6] address";
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(str, ':', len);
		if (colon != NULL) {
			hostlen = (size_t)(colon - str);
			port = colon + 1;
		}
		url->host = pct_decode(str, hostlen);
	}
	if (url->host == NULL || url->host[0] == '\0') {
		*error_r = "redis URL: missing host";
		return -1;
	}
	if (port != NULL) {
		uint64_t num;
		if (str_to_uint64_n(port, (size_t)(str + len - port), &num) < 0 ||
		    num == 0 || num > 65535) {
			*error_r = "redis URL: bad port";
			return -1;
		}
		url->port = (unsigned int)num;
	}
	return 0;
}

static int parse_db_path(const char *str, size_t len, struct redis_url *url,
			 const char **error_r)
{
	uint64_t db;
	if (len == 0)
		return 0;
	if (str_to_uint64_n(str, len, &db) < 0 || db > 100000) {
		*error_r = "redis URL: bad database number";
		return -1;
	}
	url->db = (unsigned int)db;
	return 0;
}

static int parse_rest(const char *rest, struct redis_url *url, const char **error_r)
{
	const char *query = strchr(rest, '?');
	size_t len = query == NULL ? strlen(rest) : (size_t)(query - rest);
	if (query != NULL && parse_query(query + 1, url, error_r) < 0)
		return -1;
	const char *at = memrchr(rest, '@', len);
	if (at != NULL) {
		if (parse_userinfo(rest, (size_t)(at - rest), url, error_r) < 0)
			return -1;
		len -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	if (url->kind == REDIS_URL_UNIX) {
		url->path = pct_decode(rest, len);
		if (url->path == NULL || url->path[0] != '/') {
			*error_r = "redis URL: unix:// needs an absolute socket path";
			return -1;
		}
		return 0;
	}
	const char *slash = memchr(rest, '/', len);
	size_t hostlen = slash == NULL ? len : (size_t)(slash - rest);
	if (parse_hostport(rest, hostlen, url, error_r) < 0)
		return -1;
	if (slash == NULL)
		return 0;
	return parse_db_path(slash + 1, len - hostlen - 1, url, error_r);
}

int redis_url_parse(const char *str, struct redis_url *url_r,
		    const char **error_r)
{
	struct redis_url url;
	const char *rest;
	memset(&url, 0, sizeof(url));
	url.port = REDIS_URL_DEFAULT_PORT;
	url.connect_timeout_ms = REDIS_URL_DEFAULT_CONNECT_TIMEOUT_MS;
	url.command_timeout_ms = REDIS_URL_DEFAULT_COMMAND_TIMEOUT_MS;
	if (strncmp(str, "redis://", 8) == 0) {
		url.kind = REDIS_URL_TCP;
		rest = str + 8;
	} else if (strncmp(str, "rediss://", 9) == 0) {
		url.kind = REDIS_URL_TLS;
		rest = str + 9;
	} else if (strncmp(str, "unix://", 7) == 0) {
		url.kind = REDIS_URL_UNIX;
		rest = str + 7;
	} else {
		*error_r = "redis URL: scheme must be redis://, rediss:// or unix://";
		return -1;
	}
	if (parse_rest(rest, &url, error_r) < 0) {
		redis_url_free(&url);
		return -1;
	}
	if (url.kind != REDIS_URL_TLS && (url.tls_ca_file != NULL || url.tls_cert_file != NULL ||
					  url.tls_key_file != NULL || url.tls_server_name != NULL)) {
		redis_url_free(&url);
		*error_r = "redis URL: tls_* parameters need rediss://";
		return -1;
	}
	if (url.tls_key_file != NULL && url.tls_cert_file == NULL) {
		redis_url_free(&url);
		*error_r = "redis URL: tls_key_file without tls_cert_file";
		return -1;
	}
	*url_r = url;
	return 0;
}

void redis_url_free(struct redis_url *url)
{
	i_free(url->host);
	i_free(url->path);
	i_free(url->username);
	i_free(url->tls_ca_file);
	i_free(url->tls_cert_file);
	i_free(url->tls_key_file);
	i_free(url->tls_server_name);
	if (url->password != NULL)
		i_free_secret(url->password, strlen(url->password));
	url->password = NULL;
}

void redis_url_copy_node(const struct redis_url *url, const char *host, unsigned int port,
			 struct redis_url *copy_r)
{
	struct redis_url copy = *url;
	copy.kind = url->kind == REDIS_URL_UNIX ? REDIS_URL_TCP : url->kind;
	copy.host = i_strdup(host);
	copy.port = port;
	copy.path = NULL;
	copy.username = i_strdup(url->username);
	copy.password = i_strdup(url->password);
	copy.tls_ca_file = i_strdup(url->tls_ca_file);
	copy.tls_cert_file = i_strdup(url->tls_cert_file);
	copy.tls_key_file = i_strdup(url->tls_key_file);
	copy.tls_server_name = i_strdup(url->tls_server_name);
	*copy_r = copy;
}

char *redis_url_describe(const struct redis_url *url)
{
	if (url->kind == REDIS_URL_UNIX)
		return i_strdup_printf("unix:%s/%u", url->path, url->db);
	return i_strdup_printf("%s%s%s:%u/%u", strchr(url->host, ':') != NULL ? "[" : "",
			       url->host, strchr(url->host, ':') != NULL ? "]" : "",
			       url->port, url->db);
}
