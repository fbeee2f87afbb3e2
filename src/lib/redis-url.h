#ifndef PYMAP_REDIS_URL_H
#define PYMAP_REDIS_URL_H
/* Parsing of Redis addresses as given in [redis] address / data_address:
 *   redis://[[user]:password@]host[:port][/db][?timeout=MS&connect_timeout=MS]
 *   rediss://...          (TLS, redis-net.c; extra query parameters below)
 *   unix://[[user]:password@]/path/to/socket[?db=N&timeout=MS&connect_timeout=MS]
 * user, password and host may be percent-encoded; an IPv6 host is written [::1].
 * TLS parameters (rediss:// only; values percent-encoded):
 *   tls_ca_file=PATH      PEM CA bundle to verify the server (default: system CAs)
 *   tls_cert_file=PATH    client certificate chain (PEM), with tls_key_file
 *   tls_key_file=PATH     client private key (PEM, unencrypted)
 *   tls_server_name=NAME  name for SNI and certificate verification (default: host)
 * Called by redis-conn.c, redis-net.c and the unit tests. */
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
	char *tls_ca_file;            /* NULL: the system's default CA store */
	char *tls_cert_file;          /* client certificate, NULL: none */
	char *tls_key_file;           /* its key (NULL with a cert: the cert file) */
	char *tls_server_name;        /* NULL: host */
};

/* 0, or -1 with a static *error_r. Free with redis_url_free(). */
int redis_url_parse(const char *str, struct redis_url *url_r,
		    const char **error_r);
/* A deep copy with host/port replaced (a cluster node of the same deployment: same
 * credentials, database and TLS settings; a unix:// URL becomes redis://). */
void redis_url_copy_node(const struct redis_url *url, const char *host, unsigned int port,
			 struct redis_url *copy_r);
void redis_url_free(struct redis_url *url);
/* "host:port/db" or "unix:/path/db": for log messages (no credentials). Allocated. */
char *redis_url_describe(const struct redis_url *url);

#endif
