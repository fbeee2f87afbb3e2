/* Redis Cluster key slots and redirections (see redis-cluster.h). */
#include "redis-cluster.h"
#include "strnum.h"

#include <string.h>

/* CRC16-CCITT as Redis Cluster uses it (XMODEM: polynomial 0x1021, init 0, no
 * reflection), bit by bit: keys are short. */
static unsigned int crc16(const unsigned char *data, size_t len)
{
	unsigned int crc = 0;
	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned int)data[i] << 8;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) != 0 ? ((crc << 1) ^ 0x1021) & 0xffff :
			      (crc << 1) & 0xffff;
	}
	return crc;
}

unsigned int redis_cluster_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open != NULL) {
		size_t rest = len - (size_t)(open + 1 - key);
		const char *close = memchr(open + 1, '}', rest);
		if (close != NULL && close > open + 1) {
			key = open + 1;
			len = (size_t)(close - key);
		}
	}
	return crc16((const unsigned char *)key, len) % REDIS_CLUSTER_SLOTS;
}

/* "slot host:port" (host may be an IPv6 address: the port follows the last ':'). */
static int parse_target(const char *str, size_t len, struct redis_redirect *redirect_r)
{
	const char *space = memchr(str, ' ', len);
	uint64_t slot, port;
	if (space == NULL || str_to_uint64_n(str, (size_t)(space - str), &slot) < 0 ||
	    slot >= REDIS_CLUSTER_SLOTS)
		return -1;
	const char *addr = space + 1;
	size_t alen = len - (size_t)(addr - str);
	const char *colon = memrchr(addr, ':', alen);
	if (colon == NULL)
		return -1;
	size_t hlen = (size_t)(colon - addr);
	if (str_to_uint64_n(colon + 1, alen - hlen - 1, &port) < 0 || port == 0 ||
	    port > 65535 || hlen >= sizeof(redirect_r->host) ||
	    memchr(addr, '\0', hlen) != NULL || memchr(addr, ' ', hlen) != NULL)
		return -1;
	if (hlen == 1 && addr[0] == '?')
		hlen = 0;   /* unknown endpoint: the host we asked */
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		addr++;     /* [IPv6]:port */
		hlen -= 2;
	}
	memcpy(redirect_r->host, addr, hlen);
	redirect_r->host[hlen] = '\0';
	redirect_r->slot = (unsigned int)slot;
	redirect_r->port = (unsigned int)port;
	return 0;
}

int redis_cluster_parse_redirect(const char *str, size_t len,
				 struct redis_redirect *redirect_r)
{
	struct redis_redirect redirect;
	size_t skip;
	memset(&redirect, 0, sizeof(redirect));
	if (len >= 6 && memcmp(str, "MOVED ", 6) == 0) {
		skip = 6;
	} else if (len >= 4 && memcmp(str, "ASK ", 4) == 0) {
		redirect.ask = true;
		skip = 4;
	} else {
		return 0;
	}
	if (parse_target(str + skip, len - skip, &redirect) < 0)
		return -1;
	*redirect_r = redirect;
	return 1;
}
