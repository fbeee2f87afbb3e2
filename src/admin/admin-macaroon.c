/* pymacaroons v1 serialization and HMAC-SHA256 chain (see admin-macaroon.h). */
#include "admin-macaroon.h"
#include "alloc.h"
#include "buffer.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#define MACAROON_KEY_GENERATOR "macaroons-key-generator"

static void hmac_sha256(const unsigned char *key, size_t key_len, const void *msg,
			size_t msg_len, unsigned char out[ADMIN_MACAROON_SIG_BYTES])
{
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, key, key_len);
	crypto_auth_hmacsha256_update(&state, msg, msg_len);
	crypto_auth_hmacsha256_final(&state, out);
	sodium_memzero(&state, sizeof(state));
}

static void macaroon_initial_signature(const char *identifier, const unsigned char *root_key,
				       size_t key_len,
				       unsigned char out[ADMIN_MACAROON_SIG_BYTES])
{
	unsigned char derived[ADMIN_MACAROON_SIG_BYTES];
	hmac_sha256((const unsigned char *)MACAROON_KEY_GENERATOR,
		    strlen(MACAROON_KEY_GENERATOR), root_key, key_len, derived);
	hmac_sha256(derived, sizeof(derived), identifier, strlen(identifier), out);
	sodium_memzero(derived, sizeof(derived));
}

static void macaroon_chain(unsigned char sig[ADMIN_MACAROON_SIG_BYTES], const char *caveat)
{
	unsigned char next[ADMIN_MACAROON_SIG_BYTES];
	hmac_sha256(sig, ADMIN_MACAROON_SIG_BYTES, caveat, strlen(caveat), next);
	memcpy(sig, next, sizeof(next));
}

struct admin_macaroon *admin_macaroon_create(const char *location, const char *identifier,
					     const unsigned char *root_key, size_t key_len)
{
	struct admin_macaroon *m = i_new0(struct admin_macaroon);
	m->location = i_strdup(location);
	m->identifier = i_strdup(identifier);
	macaroon_initial_signature(identifier, root_key, key_len, m->signature);
	return m;
}

static void macaroon_push_caveat(struct admin_macaroon *m, const char *caveat, size_t len)
{
	m->caveats = i_reallocarray(m->caveats, m->caveat_count + 1, sizeof(char *));
	m->caveats[m->caveat_count++] = i_strndup(caveat, len);
}

void admin_macaroon_add_caveat(struct admin_macaroon *m, const char *caveat)
{
	macaroon_push_caveat(m, caveat, strlen(caveat));
	macaroon_chain(m->signature, caveat);
}

void admin_macaroon_free(struct admin_macaroon **_m)
{
	struct admin_macaroon *m = *_m;
	if (m == NULL)
		return;
	*_m = NULL;
	for (unsigned int i = 0; i < m->caveat_count; i++)
		free(m->caveats[i]);
	free(m->caveats);
	free(m->location);
	free(m->identifier);
	sodium_memzero(m->signature, sizeof(m->signature));
	free(m);
}

static void packet_append(struct buffer *buf, const char *key, const void *value,
			  size_t value_len)
{
	size_t total = 4 + strlen(key) + 1 + value_len + 1;
	buffer_printf(buf, "%04zx%s ", total, key);
	buffer_append(buf, value, value_len);
	buffer_append_c(buf, '\n');
}

char *admin_macaroon_serialize(const struct admin_macaroon *m)
{
	struct buffer raw;
	buffer_init(&raw, 0);
	packet_append(&raw, "location", m->location, strlen(m->location));
	packet_append(&raw, "identifier", m->identifier, strlen(m->identifier));
	for (unsigned int i = 0; i < m->caveat_count; i++)
		packet_append(&raw, "cid", m->caveats[i], strlen(m->caveats[i]));
	packet_append(&raw, "signature", m->signature, sizeof(m->signature));
	size_t out_len = sodium_base64_ENCODED_LEN(buffer_len(&raw),
						   sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = i_malloc(out_len);
	sodium_bin2base64(out, out_len, buffer_data(&raw), buffer_len(&raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	buffer_deinit(&raw);
	return out;
}

/* One packet at data[*pos]: its key and value (borrowed). */
static int packet_next(const unsigned char *data, size_t len, size_t *pos,
		       const char **key_r, size_t *key_len_r,
		       const unsigned char **value_r, size_t *value_len_r)
{
	size_t total = 0;
	if (len - *pos < 4)
		return -1;
	for (unsigned int i = 0; i < 4; i++) {
		unsigned char c = data[*pos + i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return -1;
		total = total * 16 + (size_t)v;
	}
	if (total < 4 + 2 || total > len - *pos || data[*pos + total - 1] != '\n')
		return -1;
	const unsigned char *body = data + *pos + 4, *space;
	size_t body_len = total - 5;
	space = memchr(body, ' ', body_len);
	if (space == NULL)
		return -1;
	*key_r = (const char *)body;
	*key_len_r = (size_t)(space - body);
	*value_r = space + 1;
	*value_len_r = body_len - *key_len_r - 1;
	*pos += total;
	return 0;
}

static bool key_is(const char *key, size_t key_len, const char *want)
{
	return key_len == strlen(want) && memcmp(key, want, key_len) == 0;
}

static int macaroon_parse_packets(const unsigned char *raw, size_t raw_len,
				  struct admin_macaroon *m, const char **error_r)
{
	size_t pos = 0;
	const char *key;
	const unsigned char *value;
	size_t key_len, value_len;
	bool have_sig = false;
	while (pos < raw_len) {
		if (packet_next(raw, raw_len, &pos, &key, &key_len, &value, &value_len) < 0 ||
		    have_sig) {
			*error_r = have_sig ? "data after the signature" : "malformed packet";
			return -1;
		}
		if (memchr(value, '\0', value_len) != NULL && !key_is(key, key_len, "signature")) {
			*error_r = "NUL in a packet";
			return -1;
		}
		if (key_is(key, key_len, "location") && m->location == NULL && m->identifier == NULL) {
			m->location = i_strndup((const char *)value, value_len);
		} else if (key_is(key, key_len, "identifier") && m->identifier == NULL) {
			m->identifier = i_strndup((const char *)value, value_len);
		} else if (key_is(key, key_len, "cid") && m->identifier != NULL) {
			if (m->caveat_count >= ADMIN_MACAROON_MAX_CAVEATS) {
				*error_r = "too many caveats";
				return -1;
			}
			macaroon_push_caveat(m, (const char *)value, value_len);
		} else if (key_is(key, key_len, "signature") && m->identifier != NULL &&
			   value_len == ADMIN_MACAROON_SIG_BYTES) {
			memcpy(m->signature, value, value_len);
			have_sig = true;
		} else {
			*error_r = "unexpected packet (third-party caveats are not supported)";
			return -1;
		}
	}
	if (!have_sig) {
		*error_r = "no signature";
		return -1;
	}
	if (m->location == NULL)
		m->location = i_strdup("");
	return 0;
}

int admin_macaroon_parse(const char *token, struct admin_macaroon **m_r,
			 const char **error_r)
{
	size_t len = strlen(token);
	while (len > 0 && token[len - 1] == '=')
		len--;
	if (len == 0 || len > ADMIN_MACAROON_MAX_TOKEN_BYTES) {
		*error_r = len == 0 ? "empty token" : "token too long";
		return -1;
	}
	unsigned char *raw = i_malloc(len);
	size_t raw_len;
	if (sodium_base642bin(raw, len, token, len, NULL, &raw_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		free(raw);
		*error_r = "token is not URL-safe base64";
		return -1;
	}
	struct admin_macaroon *m = i_new0(struct admin_macaroon);
	int ret = macaroon_parse_packets(raw, raw_len, m, error_r);
	free(raw);
	if (ret < 0) {
		admin_macaroon_free(&m);
		return -1;
	}
	*m_r = m;
	return 0;
}

bool admin_macaroon_verify_signature(const struct admin_macaroon *m,
				     const unsigned char *root_key, size_t key_len)
{
	unsigned char sig[ADMIN_MACAROON_SIG_BYTES];
	macaroon_initial_signature(m->identifier, root_key, key_len, sig);
	for (unsigned int i = 0; i < m->caveat_count; i++)
		macaroon_chain(sig, m->caveats[i]);
	bool ok = sodium_memcmp(sig, m->signature, sizeof(sig)) == 0;
	sodium_memzero(sig, sizeof(sig));
	return ok;
}
