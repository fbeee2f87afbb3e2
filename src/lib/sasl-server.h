#ifndef PYMAP_SASL_SERVER_H
#define PYMAP_SASL_SERVER_H
/* The server side of the SASL mechanisms, as run by an IMAP worker for AUTHENTICATE:
 * the challenge/response exchange only. The worker sends the resulting credentials
 * to the auth process (sasl_server_auth_request), which decides.
 *
 *   PLAIN (RFC 4616): empty first challenge; response "[authzid] NUL authcid NUL
 *     passwd"; authcid and passwd must not be empty; an empty authzid means none.
 *   LOGIN (draft-murchison-sasl-login): challenges "Username:" and "Password:"; an
 *     initial response is the user name.
 *   CRAM-MD5 (RFC 2195): challenge "<random.time@host>"; response "user SP digest"
 *     (the last space separates, as pysasl parses it). No initial response allowed.
 *     The auth process can verify it only where it knows the clear-text secret: the
 *     dict backend's demo user. Hashed users-file passwords cannot do CRAM-MD5.
 *
 * Wire form (RFC 3501, RFC 4959): every client line is base64 (standard alphabet,
 * padding required); "*" cancels; an initial response "=" means an empty one.
 * Decoded responses are limited to SASL_SERVER_MAX_RESPONSE_BYTES and must be UTF-8.
 * Secrets are wiped when the object is destroyed. */
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define SASL_SERVER_MAX_RESPONSE_BYTES 8192

enum sasl_mech {
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
	SASL_MECH_CRAM_MD5,
};

enum sasl_server_result {
	SASL_SERVER_CHALLENGE,   /* send "+ " *challenge_r, then feed the next line */
	SASL_SERVER_DONE,        /* credentials are ready */
	SASL_SERVER_CANCELLED,   /* the client sent "*" */
	SASL_SERVER_ERROR,       /* malformed response: *error_r says why */
};

struct sasl_credentials {
	enum sasl_mech mech;
	char *authcid;
	char *authzid;     /* NULL when none was given (or it was empty) */
	char *password;    /* PLAIN, LOGIN */
	char *challenge;   /* CRAM-MD5: the challenge as sent (decoded) */
	char *response;    /* CRAM-MD5: the hex digest from the client */
};

struct sasl_server;

/* Case-insensitive mechanism name to enum: 0, or -1 when unknown. */
int sasl_mech_parse(const char *name, enum sasl_mech *mech_r);
const char *sasl_mech_name(enum sasl_mech mech);

/* hostname is used in the CRAM-MD5 challenge. */
struct sasl_server *sasl_server_create(enum sasl_mech mech, const char *hostname);
void sasl_server_destroy(struct sasl_server **server);

/* initial_response: NULL without SASL-IR, else the base64 text after the mechanism
 * name ("=" for empty). *challenge_r (base64, possibly "") stays valid until the next
 * call. */
enum sasl_server_result sasl_server_start(struct sasl_server *server,
					  const char *initial_response,
					  const char **challenge_r, const char **error_r);
/* line: the client's line without CRLF. */
enum sasl_server_result sasl_server_input(struct sasl_server *server, const char *line,
					  size_t len, const char **challenge_r,
					  const char **error_r);
/* After SASL_SERVER_DONE: borrowed until destroy. */
const struct sasl_credentials *sasl_server_credentials(const struct sasl_server *server);
/* The auth request for the credentials: {"op":"auth.login", mech, user, password,
 * [authzid], remote} or {"op":"auth.cram", user, challenge, response, remote}.
 * New reference; it holds the password, free it promptly. */
json_t *sasl_server_auth_request(const struct sasl_server *server, const char *remote);

#endif
