#ifndef PYMAP_REDIS_CLUSTER_H
#define PYMAP_REDIS_CLUSTER_H
/* Redis Cluster helpers: the hash slot of a key (CRC16/XMODEM of the key, or of its
 * hash tag: the bytes between the first '{' and the next '}' when not empty, mod
 * 16384) and the parsing of "-MOVED slot host:port" / "-ASK slot host:port" error
 * replies. Pure functions; used by redis-conn.c and the unit tests. */
#include <stdbool.h>
#include <stddef.h>

#define REDIS_CLUSTER_SLOTS 16384

struct redis_redirect {
	bool ask;                 /* -ASK (one command, after ASKING) vs. -MOVED */
	unsigned int slot;
	char host[256];           /* "" when the reply gave none: the same host */
	unsigned int port;
};

unsigned int redis_cluster_key_slot(const char *key, size_t len);
/* An error reply's text: 1 with *redirect_r for a MOVED/ASK redirection, 0 when it is
 * another error, -1 when it starts like one but is malformed. */
int redis_cluster_parse_redirect(const char *str, size_t len,
				 struct redis_redirect *redirect_r);

#endif
