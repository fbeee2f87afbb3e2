#include "sasl-server.h"
#include "alloc.h"
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sodium.h>

enum sasl_step { STEP_START, STEP_RESPONSE, STEP_USERNAME, STEP_PASSWORD, STEP_DONE };

struct sasl_server {
	enum sasl_mech mech;
	enum sasl_step step;
	char *hostname;
	char *challenge64;            /* last challenge sent, base64 */
	struct sasl_credentials creds;
};

static const char *const mech_names[] = {
	[SASL_MECH_PLAIN] = "PLAIN",
	[SASL_MECH_LOGIN] = "LOGIN",
	[SASL_MECH_CRAM_MD5] = "CRAM-MD5",
};

int sasl_mech_parse(const char *name, enum sasl_mech *mech_r)
{
	for (unsigned int i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++) {
		if (strcasecmp(name, mech_names[i]) == 0) {
			*mech_r = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

const char *sasl_mech_name(enum sasl_mech mech)
{
	return mech_names[mech];
}

struct sasl_server *sasl_server_create(enum sasl_mech mech, const char *hostname)
{
	struct sasl_server *server = i_new0(struct sasl_server);
	server->mech = mech;
	server->creds.mech = mech;
	server->hostname = i_strdup(hostname == NULL ? "localhost" : hostname);
	return server;
}

static void free_secret_str(char **str)
{
	if (*str != NULL) {
		i_free_secret(*str, strlen(*str));
		*str = NULL;
	}
}

void sasl_server_destroy(struct sasl_server **_server)
{
	struct sasl_server *server = *_server;
	if (server == NULL)
		return;
	*_server = NULL;
	i_free(server->creds.authcid);
	i_free(server->creds.authzid);
	free_secret_str(&server->creds.password);
	i_free(server->creds.challenge);
	free_secret_str(&server->creds.response);
	i_free(server->challenge64);
	i_free(server->hostname);
	free(server);
}

static bool utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		unsigned int n;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) n = 1;
		else if (c >= 0xe0 && c <= 0xef) n = 2;
		else if (c >= 0xf0 && c <= 0xf4) n = 3;
		else return false;
		if (i + n >= len)
			return false;
		for (unsigned int k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		}
		/* overlong 3/4-byte forms, surrogates and > U+10FFFF */
		if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0) ||
		    (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))
			return false;
		i += n + 1;
	}
	return true;
}

/* Decode one client line; *out_r is malloc'ed and NUL-terminated (may hold NULs). */
static int decode_line(const char *line, size_t len, unsigned char **out_r,
		       size_t *len_r, const char **error_r)
{
	size_t max = len / 4 * 3 + 1, n;
	if (len > SASL_SERVER_MAX_RESPONSE_BYTES / 3 * 4 + 4) {
		*error_r = "SASL response too long";
		return -1;
	}
	unsigned char *out = i_malloc(max + 1);
	if (len % 4 != 0 ||
	    sodium_base642bin(out, max, line, len, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		i_free_secret(out, max + 1);
		*error_r = "Invalid base64 in SASL response";
		return -1;
	}
	out[n] = '\0';
	*out_r = out;
	*len_r = n;
	return 0;
}

static void set_challenge(struct sasl_server *server, const char *text)
{
	size_t len = strlen(text);
	size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	i_free(server->challenge64);
	server->challenge64 = i_malloc(size);
	sodium_bin2base64(server->challenge64, size, (const unsigned char *)text, len,
			  sodium_base64_VARIANT_ORIGINAL);
}

/* authzid NUL authcid NUL passwd */
static enum sasl_server_result plain_response(struct sasl_server *server,
					      const unsigned char *data, size_t len,
					      const char **error_r)
{
	const unsigned char *nul1 = memchr(data, '\0', len);
	const unsigned char *nul2 = nul1 == NULL ? NULL :
		memchr(nul1 + 1, '\0', len - (nul1 + 1 - data));
	if (nul2 == NULL || memchr(nul2 + 1, '\0', len - (nul2 + 1 - data)) != NULL ||
	    nul2 == nul1 + 1 || nul2 + 1 == data + len) {
		*error_r = "Invalid auth response";
		return SASL_SERVER_ERROR;
	}
	if (nul1 > data)
		server->creds.authzid = i_strndup((const char *)data, nul1 - data);
	server->creds.authcid = i_strndup((const char *)nul1 + 1, nul2 - nul1 - 1);
	server->creds.password = i_strndup((const char *)nul2 + 1, data + len - nul2 - 1);
	server->step = STEP_DONE;
	return SASL_SERVER_DONE;
}

static enum sasl_server_result cram_response(struct sasl_server *server,
					     const unsigned char *data, size_t len,
					     const char **error_r)
{
	const unsigned char *sp = NULL;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == ' ')
			sp = data + i;
	}
	if (sp == NULL || sp + 1 == data + len || memchr(data, '\0', len) != NULL) {
		*error_r = "Invalid auth response";
		return SASL_SERVER_ERROR;
	}
	server->creds.authcid = i_strndup((const char *)data, sp - data);
	server->creds.response = i_strndup((const char *)sp + 1, data + len - sp - 1);
	server->step = STEP_DONE;
	return SASL_SERVER_DONE;
}

static enum sasl_server_result login_response(struct sasl_server *server,
					      const unsigned char *data, size_t len,
					      const char **challenge_r, const char **error_r)
{
	if (memchr(data, '\0', len) != NULL) {
		*error_r = "Invalid auth response";
		return SASL_SERVER_ERROR;
	}
	if (server->step == STEP_USERNAME) {
		server->creds.authcid = i_strndup((const char *)data, len);
		server->step = STEP_PASSWORD;
		set_challenge(server, "Password:");
		*challenge_r = server->challenge64;
		return SASL_SERVER_CHALLENGE;
	}
	server->creds.password = i_strndup((const char *)data, len);
	server->step = STEP_DONE;
	return SASL_SERVER_DONE;
}

static enum sasl_server_result handle_data(struct sasl_server *server,
					   const unsigned char *data, size_t len,
					   const char **challenge_r, const char **error_r)
{
	if (!utf8_valid(data, len)) {
		*error_r = "SASL response is not UTF-8";
		return SASL_SERVER_ERROR;
	}
	switch (server->mech) {
	case SASL_MECH_PLAIN:
		return plain_response(server, data, len, error_r);
	case SASL_MECH_CRAM_MD5:
		return cram_response(server, data, len, error_r);
	case SASL_MECH_LOGIN:
		break;
	}
	return login_response(server, data, len, challenge_r, error_r);
}

enum sasl_server_result sasl_server_input(struct sasl_server *server, const char *line,
					  size_t len, const char **challenge_r,
					  const char **error_r)
{
	unsigned char *data;
	size_t data_len;
	if (server->step == STEP_START || server->step == STEP_DONE) {
		*error_r = "Unexpected SASL response";
		return SASL_SERVER_ERROR;
	}
	if (len == 1 && line[0] == '*')
		return SASL_SERVER_CANCELLED;
	if (decode_line(line, len, &data, &data_len, error_r) < 0)
		return SASL_SERVER_ERROR;
	enum sasl_server_result ret = handle_data(server, data, data_len, challenge_r, error_r);
	i_free_secret(data, data_len + 1);
	return ret;
}

static void cram_make_challenge(struct sasl_server *server)
{
	uint32_t r = randombytes_random();
	char *text = i_strdup_printf("<%u.%lld@%s>", r, (long long)time(NULL),
				     server->hostname);
	server->creds.challenge = text;
	set_challenge(server, text);
}

enum sasl_server_result sasl_server_start(struct sasl_server *server,
					  const char *initial_response,
					  const char **challenge_r, const char **error_r)
{
	i_assert(server->step == STEP_START);
	server->step = server->mech == SASL_MECH_LOGIN ? STEP_USERNAME : STEP_RESPONSE;
	if (server->mech == SASL_MECH_CRAM_MD5) {
		if (initial_response != NULL) {
			*error_r = "CRAM-MD5 does not take an initial response";
			return SASL_SERVER_ERROR;
		}
		cram_make_challenge(server);
		*challenge_r = server->challenge64;
		return SASL_SERVER_CHALLENGE;
	}
	if (initial_response == NULL) {
		set_challenge(server, server->mech == SASL_MECH_LOGIN ? "Username:" : "");
		*challenge_r = server->challenge64;
		return SASL_SERVER_CHALLENGE;
	}
	if (strcmp(initial_response, "=") == 0)
		initial_response = "";
	return sasl_server_input(server, initial_response, strlen(initial_response),
				 challenge_r, error_r);
}

const struct sasl_credentials *sasl_server_credentials(const struct sasl_server *server)
{
	i_assert(server->step == STEP_DONE);
	return &server->creds;
}

json_t *sasl_server_auth_request(const struct sasl_server *server, const char *remote)
{
	const struct sasl_credentials *c = sasl_server_credentials(server);
	json_t *req;
	if (c->mech == SASL_MECH_CRAM_MD5) {
		req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "auth.cram",
				"user", c->authcid, "challenge", c->challenge,
				"response", c->response, "remote", remote);
	} else {
		req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "auth.login",
				"mech", sasl_mech_name(c->mech), "user", c->authcid,
				"password", c->password, "remote", remote);
		if (c->authzid != NULL)
			json_object_set_new(req, "authzid", json_string(c->authzid));
	}
	i_assert(req != NULL);
	return req;
}
