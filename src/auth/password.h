#ifndef PYMAP_AUTH_PASSWORD_H
#define PYMAP_AUTH_PASSWORD_H
/* Password hashes: verification of every format a pymap users file may hold, and new
 * hashes. Only the auth process links this (libxcrypt, libsodium, OpenSSL).
 *
 * The password is SASLprep'd (saslprep.h) before it is hashed or verified, as pymap
 * did; a password that SASLprep rejects never matches. Formats:
 *   $pbkdf2$R$SALT$DIGEST (SHA-1), $pbkdf2-sha256$..., $pbkdf2-sha512$...:
 *       PBKDF2-HMAC (OpenSSL), R rounds; SALT and DIGEST in standard base64 with
 *       padding (pysasl) or passlib's adapted base64 ('.' for '+', no padding);
 *   $argon2id$..., $argon2i$...: libsodium crypto_pwhash_str_verify;
 *   anything else: crypt(3) through libxcrypt crypt_rn ($y$, $gy$, $7$, $2b$, $6$, $5$,
 *       $1$, ... whatever this libxcrypt enables).
 * Results are compared in constant time.
 *
 * New hashes (password_hash) use a scheme name: "yescrypt" (default), "gost-yescrypt",
 * "scrypt", "bcrypt", "sha512-crypt", "sha256-crypt" (libxcrypt, random salt from
 * crypt_gensalt_rn), "argon2id" (libsodium, interactive limits) or "pbkdf2-sha256"
 * (pysasl's BuiltinHash format: 500000 rounds, 16-byte salt, standard base64; the one
 * choice the Python pymap can verify too). */
#include <stdbool.h>
#include <stddef.h>

enum password_verify_result {
	PASSWORD_UNUSABLE = -1,  /* the stored hash is malformed or its scheme unsupported */
	PASSWORD_MISMATCH = 0,
	PASSWORD_MATCH = 1,
};

/* A stored password field that means "no login" (pymap): empty, or starting with
 * '*' or '!'. */
bool password_is_disabled(const char *hash);

/* error_r (static text) is set for PASSWORD_UNUSABLE only; it never contains the hash. */
enum password_verify_result
password_verify(const char *password, size_t password_len, const char *hash,
		const char **error_r);

/* Known scheme name? */
bool password_scheme_is_valid(const char *scheme);
/* 0 with *hash_r (malloc'ed), or -1 with error_r. */
int password_hash(const char *password, size_t password_len, const char *scheme,
		  char **hash_r, const char **error_r);

/* For unknown users: verify password against a hash of scheme made at start-up, so a
 * lookup of a user that does not exist costs what a wrong password costs.
 * password_dummy_hash() returns that hash (made with yescrypt on first use if init was
 * not called; NULL if hashing failed); a caller may copy it and run password_verify()
 * against the copy elsewhere, ignoring the result.
 *
 * Threads: password_verify() and password_hash() touch no global state (crypt_rn with
 * its own crypt_data, OpenSSL PBKDF2, libsodium after sodium_init()) and may run in any
 * thread; the password_dummy_* functions use a global and belong to one thread. */
void password_dummy_init(const char *scheme);
const char *password_dummy_hash(void);
void password_dummy_verify(const char *password, size_t password_len);
void password_dummy_deinit(void);

#endif
