#include "password.h"
#include "alloc.h"
#include "buffer.h"
#include "saslprep.h"
#include "strnum.h"

#include <crypt.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#define PBKDF2_MAX_DIGEST_BYTES 64
#define PBKDF2_MAX_SALT_BYTES 1024
#define PBKDF2_MAX_ROUNDS 100000000U
#define PBKDF2_NEW_ROUNDS 500000
#define PBKDF2_NEW_SALT_BYTES 16

static char *dummy_hash;

bool password_is_disabled(const char *hash)
{
	return hash == NULL || hash[0] == '\0' || hash[0] == '*' || hash[0] == '!';
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '.') return 62;   /* '.' is passlib's adapted base64 */
	if (c == '/') return 63;
	return -1;
}

/* Base64 with or without '=' padding, '+' or '.'; returns the length or -1. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
	unsigned int acc = 0, bits = 0;
	size_t n = 0;
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == out_size)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	return (int)n;
}

static const EVP_MD *pbkdf2_md(const char *name, size_t len)
{
	if (len == 6 && memcmp(name, "pbkdf2", 6) == 0)
		return EVP_sha1();
	if (len == 13 && memcmp(name, "pbkdf2-sha256", 13) == 0)
		return EVP_sha256();
	if (len == 13 && memcmp(name, "pbkdf2-sha512", 13) == 0)
		return EVP_sha512();
	return NULL;
}

/* "$pbkdf2[-shaN]$ROUNDS$SALT$DIGEST" */
static enum password_verify_result
pbkdf2_verify(const char *password, size_t len, const char *hash, const char **error_r)
{
	const char *p1 = strchr(hash + 1, '$');
	const char *p2 = p1 == NULL ? NULL : strchr(p1 + 1, '$');
	const char *p3 = p2 == NULL ? NULL : strchr(p2 + 1, '$');
	unsigned char salt[PBKDF2_MAX_SALT_BYTES], want[PBKDF2_MAX_DIGEST_BYTES];
	unsigned char got[PBKDF2_MAX_DIGEST_BYTES];
	uint64_t rounds;
	int salt_len, want_len;
	const EVP_MD *md = p1 == NULL ? NULL : pbkdf2_md(hash + 1, p1 - hash - 1);

	if (md == NULL || p3 == NULL || strchr(p3 + 1, '$') != NULL ||
	    str_to_uint64_n(p1 + 1, p2 - p1 - 1, &rounds) < 0 ||
	    rounds == 0 || rounds > PBKDF2_MAX_ROUNDS ||
	    (salt_len = b64_decode(p2 + 1, p3 - p2 - 1, salt, sizeof(salt))) < 0 ||
	    (want_len = b64_decode(p3 + 1, strlen(p3 + 1), want, sizeof(want))) <= 0) {
		*error_r = "malformed pbkdf2 hash";
		return PASSWORD_UNUSABLE;
	}
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, salt_len, (int)rounds, md,
			      want_len, got) != 1) {
		*error_r = "PBKDF2 failed";
		return PASSWORD_UNUSABLE;
	}
	int eq = CRYPTO_memcmp(got, want, (size_t)want_len) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return eq ? PASSWORD_MATCH : PASSWORD_MISMATCH;
}

static enum password_verify_result
argon2_verify(const char *password, size_t len, const char *hash)
{
	/* libsodium cannot tell a malformed string from a mismatch: both fail */
	return crypto_pwhash_str_verify(hash, password, len) == 0 ?
		PASSWORD_MATCH : PASSWORD_MISMATCH;
}

static enum password_verify_result
crypt_verify(const char *password, size_t len, const char *hash, const char **error_r)
{
	struct crypt_data *data;
	enum password_verify_result ret;
	if (memchr(password, '\0', len) != NULL)
		return PASSWORD_MISMATCH;   /* crypt(3) phrases are C strings */
	data = i_new0(struct crypt_data);
	const char *out = crypt_rn(password, hash, data, sizeof(*data));
	if (out == NULL || out[0] == '*') {
		*error_r = "hash not supported by crypt(3)";
		ret = PASSWORD_UNUSABLE;
	} else if (strlen(out) != strlen(hash)) {
		/* a wrong password gives a string of the same length: this one is not a
		 * complete hash (e.g. just a setting, or a truncated line) */
		*error_r = "hash not in the form crypt(3) produces";
		ret = PASSWORD_UNUSABLE;
	} else {
		ret = CRYPTO_memcmp(out, hash, strlen(hash)) == 0 ?
			PASSWORD_MATCH : PASSWORD_MISMATCH;
	}
	i_free_secret(data, sizeof(*data));
	return ret;
}

static enum password_verify_result
verify_prepared(const char *password, size_t len, const char *hash, const char **error_r)
{
	if (strncmp(hash, "$pbkdf2", 7) == 0)
		return pbkdf2_verify(password, len, hash, error_r);
	if (strncmp(hash, "$argon2id$", 10) == 0 || strncmp(hash, "$argon2i$", 9) == 0)
		return argon2_verify(password, len, hash);
	return crypt_verify(password, len, hash, error_r);
}

enum password_verify_result
password_verify(const char *password, size_t password_len, const char *hash,
		const char **error_r)
{
	char *prepared;
	const char *prep_error;
	if (password_is_disabled(hash))
		return PASSWORD_MISMATCH;
	if (saslprep(password, password_len, &prepared, &prep_error) < 0) {
		/* still spend the time a verification takes (against this hash, not the
		 * shared dummy: this function runs in the auth process's hash threads) */
		(void)verify_prepared("", 0, hash, &prep_error);
		return PASSWORD_MISMATCH;
	}
	size_t len = strlen(prepared);
	enum password_verify_result ret = verify_prepared(prepared, len, hash, error_r);
	i_free_secret(prepared, len);
	return ret;
}

static const struct {
	const char *name, *prefix;
} crypt_schemes[] = {
	{ "yescrypt", "$y$" },
	{ "gost-yescrypt", "$gy$" },
	{ "scrypt", "$7$" },
	{ "bcrypt", "$2b$" },
	{ "sha512-crypt", "$6$" },
	{ "sha256-crypt", "$5$" },
};

static const char *crypt_prefix(const char *scheme)
{
	for (size_t i = 0; i < sizeof(crypt_schemes) / sizeof(crypt_schemes[0]); i++) {
		if (strcmp(crypt_schemes[i].name, scheme) == 0)
			return crypt_schemes[i].prefix;
	}
	return NULL;
}

bool password_scheme_is_valid(const char *scheme)
{
	return crypt_prefix(scheme) != NULL || strcmp(scheme, "argon2id") == 0 ||
	       strcmp(scheme, "pbkdf2-sha256") == 0;
}

static int hash_crypt(const char *password, const char *prefix, char **hash_r,
		      const char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	int ret = -1;
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed (scheme not enabled in libxcrypt?)";
		return -1;
	}
	data = i_new0(struct crypt_data);
	const char *out = crypt_rn(password, setting, data, sizeof(*data));
	if (out == NULL || out[0] == '*') {
		*error_r = "crypt failed";
	} else {
		*hash_r = i_strdup(out);
		ret = 0;
	}
	i_free_secret(data, sizeof(*data));
	return ret;
}

static int hash_argon2id(const char *password, size_t len, char **hash_r,
			 const char **error_r)
{
	char out[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str_alg(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE,
				  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		*error_r = "argon2id hashing failed (out of memory?)";
		return -1;
	}
	*hash_r = i_strdup(out);
	return 0;
}

/* pysasl BuiltinHash: $pbkdf2-sha256$500000$<b64 salt>$<b64 digest> */
static int hash_pbkdf2(const char *password, size_t len, char **hash_r,
		       const char **error_r)
{
	unsigned char salt[PBKDF2_NEW_SALT_BYTES], digest[32];
	char salt64[sodium_base64_ENCODED_LEN(sizeof(salt), sodium_base64_VARIANT_ORIGINAL)];
	char digest64[sodium_base64_ENCODED_LEN(sizeof(digest),
						sodium_base64_VARIANT_ORIGINAL)];
	randombytes_buf(salt, sizeof(salt));
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, sizeof(salt), PBKDF2_NEW_ROUNDS,
			      EVP_sha256(), sizeof(digest), digest) != 1) {
		*error_r = "PBKDF2 failed";
		return -1;
	}
	sodium_bin2base64(salt64, sizeof(salt64), salt, sizeof(salt),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(digest64, sizeof(digest64), digest, sizeof(digest),
			  sodium_base64_VARIANT_ORIGINAL);
	*hash_r = i_strdup_printf("$pbkdf2-sha256$%d$%s$%s", PBKDF2_NEW_ROUNDS, salt64,
				  digest64);
	return 0;
}

int password_hash(const char *password, size_t password_len, const char *scheme,
		  char **hash_r, const char **error_r)
{
	char *prepared;
	const char *prefix = crypt_prefix(scheme);
	int ret;
	if (!password_scheme_is_valid(scheme)) {
		*error_r = "unknown hash scheme";
		return -1;
	}
	if (saslprep(password, password_len, &prepared, error_r) < 0)
		return -1;
	size_t len = strlen(prepared);
	if (prefix != NULL)
		ret = hash_crypt(prepared, prefix, hash_r, error_r);
	else if (strcmp(scheme, "argon2id") == 0)
		ret = hash_argon2id(prepared, len, hash_r, error_r);
	else
		ret = hash_pbkdf2(prepared, len, hash_r, error_r);
	i_free_secret(prepared, len);
	return ret;
}

void password_dummy_init(const char *scheme)
{
	unsigned char raw[16];
	char random_password[sizeof(raw) * 2 + 1];
	const char *error;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(random_password, sizeof(random_password), raw, sizeof(raw));
	i_free(dummy_hash);
	if (password_hash(random_password, strlen(random_password), scheme,
			  &dummy_hash, &error) < 0)
		dummy_hash = NULL;
}

const char *password_dummy_hash(void)
{
	if (dummy_hash == NULL)
		password_dummy_init("yescrypt");
	return dummy_hash;
}

void password_dummy_verify(const char *password, size_t password_len)
{
	const char *error, *hash = password_dummy_hash();
	if (hash != NULL)
		(void)verify_prepared(password, password_len, hash, &error);
}

void password_dummy_deinit(void)
{
	i_free(dummy_hash);
}
