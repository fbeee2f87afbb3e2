#ifndef PYMAP_REDIS_URL_H
#define PYMAP_REDIS_URL_H
/* Parsing of Redis addresses as given in [redis] address / data_address:
 *   redis://[[user]:password@]host[:port][/db][?timeout=MS&connect_timeout=MS]
 *   rediss://...          (TLS: refused, see redis_url_parse)
 *   unix://[[user]:password@]/path/to/socket[?db=N&timeout=MS&connect_timeout=MS]
 * user, password and host may be percent-encoded; an IPv6 host is written [::1].
 * Called by redis-conn.c and the unit tests. */
#include <stdbool.h>

#define REDIS_URL_DEFAULT_PORT 6379
#define REDIS_URL_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define REDIS_URL_DEFAULT_COMMAND_TIMEOUT_MS 3000

enum redis_url_kind { REDIS_URL_TCP, REDIS_URL_TLS, REDIS_URL_UNIX };

struct redis_url {
	enum redis_url_kind kind;
	char *host;                   /* TCP: host name or address (no brackets) */
	unsigned int port;
	char *path;                   /* UNIX: socket path */
	char *username;               /* NULL: AUTH password only (or no AUTH) */
	char *password;               /* NULL: no AUTH */
	unsigned int db;
	unsigned int connect_timeout_ms;
	unsigned int command_timeout_ms;
};

/* 0, or -1 with a static *error_r. With allow_tls false a rediss:// URL is refused
 * (this build's hiredis has no TLS support). Free with redis_url_free(). */
int redis_url_parse(const char *str, bool allow_tls, struct redis_url *url_r,
		    const char **error_r);
void redis_url_free(struct redis_url *url);
/* "host:port/db" or "unix:/path/db": for log messages (no credentials). Allocated. */
char *redis_url_describe(const struct redis_url *url);

#endif
