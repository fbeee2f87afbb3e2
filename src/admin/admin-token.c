/* Admin and login tokens on top of admin-macaroon (see admin-token.h). */
#include "admin-token.h"
#include "admin-macaroon.h"
#include "alloc.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#define LOGIN_KEY_PREFIX "pymap-login-token:"
#define CAVEAT_ROLE_ADMIN "role = admin"
#define CAVEAT_AUTHCID "authcid = "
#define CAVEAT_AUTHZID "authzid = "
#define CAVEAT_TIME "time < "

static bool has_prefix(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

static int parse_digits(const char **p, unsigned int n, int *value_r)
{
	int v = 0;
	for (unsigned int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*value_r = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int parse_zone(const char *p, long *offset_r)
{
	int hh, mm;
	if (*p == '\0' || strcmp(p, "Z") == 0) {
		*offset_r = 0;
		return 0;
	}
	int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
	if (sign == 0)
		return -1;
	p++;
	if (parse_digits(&p, 2, &hh) < 0 || expect(&p, ':') < 0 ||
	    parse_digits(&p, 2, &mm) < 0 || *p != '\0' || hh > 23 || mm > 59)
		return -1;
	*offset_r = sign * (hh * 3600L + mm * 60L);
	return 0;
}

int admin_token_parse_time(const char *str, time_t *t_r)
{
	struct tm tm;
	const char *p = str;
	long offset;
	memset(&tm, 0, sizeof(tm));
	if (parse_digits(&p, 4, &tm.tm_year) < 0 || expect(&p, '-') < 0 ||
	    parse_digits(&p, 2, &tm.tm_mon) < 0 || expect(&p, '-') < 0 ||
	    parse_digits(&p, 2, &tm.tm_mday) < 0 || expect(&p, 'T') < 0 ||
	    parse_digits(&p, 2, &tm.tm_hour) < 0 || expect(&p, ':') < 0 ||
	    parse_digits(&p, 2, &tm.tm_min) < 0 || expect(&p, ':') < 0 ||
	    parse_digits(&p, 2, &tm.tm_sec) < 0)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (parse_zone(p, &offset) < 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t_r = timegm(&tm) - offset;
	return 0;
}

void admin_token_format_time(time_t t, char buf[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

static void login_key(const unsigned char *key, size_t key_len, const char *identifier,
		      unsigned char out[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, key, key_len);
	crypto_auth_hmacsha256_update(&state, (const unsigned char *)LOGIN_KEY_PREFIX,
				      strlen(LOGIN_KEY_PREFIX));
	crypto_auth_hmacsha256_update(&state, (const unsigned char *)identifier,
				      strlen(identifier));
	crypto_auth_hmacsha256_final(&state, out);
}

static void add_time_caveat(struct admin_macaroon *m, time_t expires)
{
	char ts[32], caveat[64];
	if (expires == 0)
		return;
	admin_token_format_time(expires, ts);
	snprintf(caveat, sizeof(caveat), CAVEAT_TIME "%s", ts);
	admin_macaroon_add_caveat(m, caveat);
}

char *admin_token_mint_admin(const unsigned char *key, size_t key_len, time_t expires)
{
	struct admin_macaroon *m = admin_macaroon_create("", "", key, key_len);
	admin_macaroon_add_caveat(m, CAVEAT_ROLE_ADMIN);
	add_time_caveat(m, expires);
	char *token = admin_macaroon_serialize(m);
	admin_macaroon_free(&m);
	return token;
}

char *admin_token_mint_login(const unsigned char *key, size_t key_len, const char *authcid,
			     const char *authzid, time_t expires)
{
	unsigned char id_bytes[16], tkey[crypto_auth_hmacsha256_BYTES];
	char identifier[33];
	randombytes_buf(id_bytes, sizeof(id_bytes));
	sodium_bin2hex(identifier, sizeof(identifier), id_bytes, sizeof(id_bytes));
	login_key(key, key_len, identifier, tkey);
	struct admin_macaroon *m = admin_macaroon_create("", identifier, tkey, sizeof(tkey));
	sodium_memzero(tkey, sizeof(tkey));
	char *caveat = i_strdup_printf(CAVEAT_AUTHCID "%s", authcid);
	admin_macaroon_add_caveat(m, caveat);
	free(caveat);
	if (authzid != NULL && authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		caveat = i_strdup_printf(CAVEAT_AUTHZID "%s", authzid);
		admin_macaroon_add_caveat(m, caveat);
		free(caveat);
	}
	add_time_caveat(m, expires);
	char *token = admin_macaroon_serialize(m);
	admin_macaroon_free(&m);
	return token;
}

struct token_caveats {
	bool admin;
	const char *authcid, *authzid;
};

static int check_caveats(const struct admin_macaroon *m, time_t now,
			 struct token_caveats *c, const char **error_r)
{
	memset(c, 0, sizeof(*c));
	for (unsigned int i = 0; i < m->caveat_count; i++) {
		const char *cav = m->caveats[i];
		time_t t;
		if (strcmp(cav, CAVEAT_ROLE_ADMIN) == 0) {
			c->admin = true;
		} else if (has_prefix(cav, CAVEAT_AUTHCID) && c->authcid == NULL) {
			c->authcid = cav + strlen(CAVEAT_AUTHCID);
		} else if (has_prefix(cav, CAVEAT_AUTHZID) && c->authzid == NULL) {
			c->authzid = cav + strlen(CAVEAT_AUTHZID);
		} else if (has_prefix(cav, CAVEAT_TIME)) {
			if (admin_token_parse_time(cav + strlen(CAVEAT_TIME), &t) < 0) {
				*error_r = "bad time caveat";
				return -1;
			}
			if (now >= t) {
				*error_r = "token expired";
				return -1;
			}
		} else {
			*error_r = "unknown caveat";
			return -1;
		}
	}
	if (!c->admin && (c->authcid == NULL || c->authcid[0] == '\0')) {
		*error_r = "no authcid caveat";
		return -1;
	}
	return 0;
}

int admin_token_verify(const char *token, const unsigned char *key, size_t key_len,
		       time_t now, bool *admin_r, char **user_r, const char **error_r)
{
	struct admin_macaroon *m;
	struct token_caveats c;
	unsigned char tkey[crypto_auth_hmacsha256_BYTES];
	if (admin_macaroon_parse(token, &m, error_r) < 0)
		return -1;
	int ret = check_caveats(m, now, &c, error_r);
	if (ret == 0) {
		bool sig_ok;
		if (c.admin) {
			sig_ok = admin_macaroon_verify_signature(m, key, key_len);
		} else {
			login_key(key, key_len, m->identifier, tkey);
			sig_ok = admin_macaroon_verify_signature(m, tkey, sizeof(tkey));
			sodium_memzero(tkey, sizeof(tkey));
		}
		if (!sig_ok) {
			*error_r = "signature mismatch";
			ret = -1;
		}
	}
	if (ret == 0) {
		*admin_r = c.admin;
		*user_r = c.admin ? NULL : i_strdup(c.authzid != NULL ? c.authzid : c.authcid);
	}
	admin_macaroon_free(&m);
	return ret;
}
