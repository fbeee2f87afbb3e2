#ifndef PYMAP_ADMIN_MACAROON_H
#define PYMAP_ADMIN_MACAROON_H
/* Macaroons in the Python pymap's token format (pymap-inventory.md 4.3): pymacaroons
 * version 1 serialization and the HMAC-SHA256 signature chain, first-party caveats
 * only. Used by the admin service (admin-token.c) to mint and verify bearer tokens.
 *
 * Wire form: URL-safe base64 without padding of packets "NNNN<key> <value>\n" where
 * NNNN is the packet's total length in 4 lower-case hex digits; keys "location",
 * "identifier", one "cid" per caveat, then "signature" (32 raw bytes).
 * Signature: k = HMAC(key="macaroons-key-generator", msg=root key);
 * s = HMAC(k, identifier); s = HMAC(s, caveat) for each caveat in order. */
#include <stdbool.h>
#include <stddef.h>

#define ADMIN_MACAROON_SIG_BYTES 32
#define ADMIN_MACAROON_MAX_TOKEN_BYTES 4096
#define ADMIN_MACAROON_MAX_CAVEATS 16

struct admin_macaroon {
	char *location;
	char *identifier;
	char **caveats;           /* caveat_count strings */
	unsigned int caveat_count;
	unsigned char signature[ADMIN_MACAROON_SIG_BYTES];
};

/* A new macaroon signed with root_key (no caveats yet). */
struct admin_macaroon *admin_macaroon_create(const char *location, const char *identifier,
					     const unsigned char *root_key, size_t key_len);
/* Add a first-party caveat and extend the signature. */
void admin_macaroon_add_caveat(struct admin_macaroon *m, const char *caveat);
void admin_macaroon_free(struct admin_macaroon **m);

/* Serialized token (malloc'ed). */
char *admin_macaroon_serialize(const struct admin_macaroon *m);
/* Parse a serialized token; trailing '=' padding is accepted. 0, or -1 with a static
 * *error_r (malformed base64 or packets, third-party caveats, too long). */
int admin_macaroon_parse(const char *token, struct admin_macaroon **m_r,
			 const char **error_r);
/* true when the signature chain recomputed from root_key matches (constant time). */
bool admin_macaroon_verify_signature(const struct admin_macaroon *m,
				     const unsigned char *root_key, size_t key_len);

#endif
