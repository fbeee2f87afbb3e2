#ifndef PYMAP_ADMIN_TOKEN_H
#define PYMAP_ADMIN_TOKEN_H
/* Bearer tokens of the admin service (pymap-inventory.md 4.3), as macaroons
 * (admin-macaroon.h). Called by admin-server.c (verify a request's "token") and the
 * login op (mint).
 *
 * - Admin token: identifier "", caveat "role = admin", optional "time < ISO-8601";
 *   signed with the admin key itself. A Python pymap admin token made with the same
 *   key verifies here.
 * - Login token: identifier = 32 random hex digits, caveats "authcid = USER",
 *   optional "authzid = USER", optional "time < ISO-8601"; signed with a per-token
 *   key HMAC-SHA256(admin key, "pymap-login-token:" identifier), so no token state is
 *   kept: every token dies with the admin key (a restart without a configured key).
 * Every failure (bad format, signature, expired, unknown caveat) is one answer:
 * invalid. */
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ADMIN_TOKEN_KEY_BYTES 32

/* 0 valid: *admin_r, and *user_r (malloc'ed: the user the token acts as: authzid,
 * else authcid; NULL for an admin token). -1 invalid with a static *error_r for the
 * log. */
int admin_token_verify(const char *token, const unsigned char *key, size_t key_len,
		       time_t now, bool *admin_r, char **user_r, const char **error_r);
/* Serialized tokens (malloc'ed). expires 0 = no "time <" caveat. */
char *admin_token_mint_admin(const unsigned char *key, size_t key_len, time_t expires);
char *admin_token_mint_login(const unsigned char *key, size_t key_len, const char *authcid,
			     const char *authzid, time_t expires);

/* "time < " timestamps: ISO-8601 "YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM|-HH:MM]" (no
 * zone = UTC). 0 with *t_r, -1 on bad syntax. Formatting writes
 * "YYYY-MM-DDTHH:MM:SS+00:00" (Python's aware isoformat). */
int admin_token_parse_time(const char *str, time_t *t_r);
void admin_token_format_time(time_t t, char buf[32]);

#endif
