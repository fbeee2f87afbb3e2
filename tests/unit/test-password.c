#include "test.h"
#include "src/auth/password.h"

#include <stdlib.h>

/* Fixture hashes were made by independent tools (tests/data/users/README.md):
 * Python hashlib.pbkdf2_hmac, mkpasswd (whois), the argon2 CLI. */
struct vector { const char *password, *hash; };
static const struct vector vectors[] = {
	{ "testpass", "$pbkdf2$1$$FzEpdTtdOaIFkUucxV4PjfW88BE=" },
	{ "alicepass", "$pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$+1JtMv6a1i6oQJxsOqSE5yoc5rqEN/LGx+vWatewxAE=" },
	{ "bobpass", "$pbkdf2-sha256$29000$.//..//..//..//..//.AQ$5Gbd.myWSZ4v2GID1LfTbwz3O4rsr4JzmLAVWO0iE.s" },
	{ "carolpass", "$pbkdf2-sha512$2000$c2FsdHNhbHQ=$xI3R26pWvctFUcvYjOA55Cl0YF+447582PfYIL5j4rVrx+4IIwXU6hWCebEzxJkPFdgyW/MyK08Oct+96DVrrg==" },
	{ "davepass", "$pbkdf2$1000$.P8BAg$lBAMjgAs.GafilZ8DfZ3QsSK2.o" },
	{ "erinpass", "$y$j9T$duy9Sn99B6HTY/WtThTS21$mpvUazV4zityTKYiGjB849IESowLaIJ4F1HEWFMIlM0" },
	{ "frankpass", "$6$saltsaltsalt$hnnPRpu/.VFGbNlf/v8EAac/CZ95QrXq22ICKxzCHlSzZpclsLMjsdDtc7sEOMDPHH821zlNpKdCRi1KwmfCl." },
	{ "gracepass", "$2b$05$SRSTNifLyJWyCnKYHqS/8uRHCUqvbmv2SjL4VbG.OB9KEkrU/fHzK" },
	{ "heidipass", "$5$VM736czUb7T.1QMl$1Vok1cBLZKngk.MrX0REkFmAUdNF8iJ6c84qAPaQhp/" },
	{ "ivanpass", "$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzYWx0$1jT8oggBicRb4VPyC69+Bgmr6ETzgBWP8DQgVytjfTQ" },
	{ "judypass", "$argon2i$v=19$m=4096,t=2,p=1$b3RoZXJzYWx0c2FsdA$4mEbByKQWWe14LAvTKnuqz6LF1Hg77J4fQaORyMz138" },
};

static enum password_verify_result verify(const char *password, const char *hash)
{
	const char *error = NULL;
	return password_verify(password, strlen(password), hash, &error);
}

static void test_known_vectors_match(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		if (verify(vectors[i].password, vectors[i].hash) != PASSWORD_MATCH)
			test_fail(__FILE__, __LINE__, "vector %zu (%.12s...) did not match",
				  i, vectors[i].hash);
	}
}

static void test_wrong_passwords(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		if (verify("wrongpass", vectors[i].hash) != PASSWORD_MISMATCH)
			test_fail(__FILE__, __LINE__, "vector %zu accepted a wrong password", i);
	}
	TEST_ASSERT_INT_EQ(verify("testpas", vectors[0].hash), PASSWORD_MISMATCH);
	TEST_ASSERT_INT_EQ(verify("", vectors[0].hash), PASSWORD_MISMATCH);
	const char *error;
	TEST_ASSERT_INT_EQ(password_verify("testpass\0x", 10, vectors[0].hash, &error),
			   PASSWORD_MISMATCH);
	TEST_ASSERT_INT_EQ(password_verify("erinpass\0x", 10, vectors[5].hash, &error),
			   PASSWORD_MISMATCH);
}

static void test_saslprep_applied(void)
{
	/* hashlib.pbkdf2_hmac('sha256', b'pass word', b'nbsp', 1000) */
	const char *nbsp = "$pbkdf2-sha256$1000$bmJzcA==$3kAJE2rKKUeGNRjoTKbrvSGrWV6ftfDA9BJYAKCE/vU=";
	/* hashlib.pbkdf2_hmac('sha256', b'IX', b'nfkc', 1000) */
	const char *nfkc = "$pbkdf2-sha256$1000$bmZrYw==$XYMAbD9oI4QRmESbkRYoIhws8PqfAe9Qz58hckaBZMw=";
	TEST_ASSERT_INT_EQ(verify("pass word", nbsp), PASSWORD_MATCH);
	TEST_ASSERT_INT_EQ(verify("pass\xc2\xa0word", nbsp), PASSWORD_MATCH);   /* U+00A0 */
	TEST_ASSERT_INT_EQ(verify("IX", nfkc), PASSWORD_MATCH);
	TEST_ASSERT_INT_EQ(verify("\xe2\x85\xa8", nfkc), PASSWORD_MATCH);      /* U+2168 */
	TEST_ASSERT_INT_EQ(verify("I\xc2\xadX", nfkc), PASSWORD_MATCH);         /* soft hyphen */
	/* prohibited characters never match */
	TEST_ASSERT_INT_EQ(verify("IX\x07", nfkc), PASSWORD_MISMATCH);
}

static void test_disabled_and_unusable(void)
{
	const char *error = NULL;
	TEST_ASSERT(password_is_disabled(""));
	TEST_ASSERT(password_is_disabled("*"));
	TEST_ASSERT(password_is_disabled("!$pbkdf2$1$$FzEpdTtdOaIFkUucxV4PjfW88BE="));
	TEST_ASSERT(!password_is_disabled(vectors[0].hash));
	TEST_ASSERT_INT_EQ(verify("testpass", "!$pbkdf2$1$$FzEpdTtdOaIFkUucxV4PjfW88BE="),
			   PASSWORD_MISMATCH);
	TEST_ASSERT_INT_EQ(verify("testpass", "*"), PASSWORD_MISMATCH);

	static const char *const bad[] = {
		"$pbkdf2-md5$1$$AAAA", "$pbkdf2$0$$FzEpdTtdOaIFkUucxV4PjfW88BE=",
		"$pbkdf2$x$$FzEpdTtdOaIFkUucxV4PjfW88BE=", "$pbkdf2$1$$",
		"$pbkdf2$1$a#b$FzEpdTtdOaIFkUucxV4PjfW88BE=", "$pbkdf2$1$$FzEp$extra",
		"$pbkdf2$1$", "$unknown$c2FsdA$AAAA", "plaintext?",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (password_verify("testpass", 8, bad[i], &error) != PASSWORD_UNUSABLE ||
		    error == NULL)
			test_fail(__FILE__, __LINE__, "bad hash %zu was not unusable", i);
	}
	/* digest longer than SHA-512 output is refused, not overflowed */
	char long_hash[300] = "$pbkdf2-sha512$1$$";
	for (int i = 0; i < 120; i++)
		strcat(long_hash, "AA");
	TEST_ASSERT_INT_EQ(verify("x", long_hash), PASSWORD_UNUSABLE);
}

static void test_hash_round_trip(void)
{
	static const char *const schemes[] = {
		"yescrypt", "sha512-crypt", "bcrypt", "argon2id", "pbkdf2-sha256",
	};
	static const char *const prefixes[] = {
		"$y$", "$6$", "$2b$", "$argon2id$", "$pbkdf2-sha256$500000$",
	};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		char *hash = NULL;
		const char *error;
		TEST_ASSERT(password_scheme_is_valid(schemes[i]));
		TEST_ASSERT_INT_EQ(password_hash("s3cret\xc2\xa0x", 9, schemes[i], &hash, &error), 0);
		if (hash == NULL)
			continue;
		TEST_ASSERT(strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0);
		/* hashed after SASLprep: the plain-space form verifies */
		TEST_ASSERT_INT_EQ(verify("s3cret x", hash), PASSWORD_MATCH);
		TEST_ASSERT_INT_EQ(verify("s3cret y", hash), PASSWORD_MISMATCH);
		free(hash);
	}
	char *hash = NULL;
	const char *error;
	TEST_ASSERT(!password_scheme_is_valid("md5"));
	TEST_ASSERT_INT_EQ(password_hash("x", 1, "md5", &hash, &error), -1);
	TEST_ASSERT_INT_EQ(password_hash("\x07", 1, "yescrypt", &hash, &error), -1);
	TEST_ASSERT(hash == NULL);
}

static void test_dummy(void)
{
	password_dummy_init("yescrypt");
	password_dummy_verify("whatever", 8);   /* must not crash; no result */
	password_dummy_deinit();
	password_dummy_verify("again", 5);      /* lazily re-created */
	password_dummy_deinit();
	/* the hash the auth server copies into its pool jobs for unknown users */
	password_dummy_init("sha512-crypt");
	const char *hash = password_dummy_hash();
	TEST_ASSERT(hash != NULL && strncmp(hash, "$6$", 3) == 0);
	TEST_ASSERT_INT_EQ(verify("whatever", hash), PASSWORD_MISMATCH);
	TEST_ASSERT(password_dummy_hash() == hash);   /* the same until deinit */
	password_dummy_deinit();
	hash = password_dummy_hash();              /* lazily made with yescrypt */
	TEST_ASSERT(hash != NULL && strncmp(hash, "$y$", 3) == 0);
	password_dummy_deinit();
}

/* A password SASLprep rejects is checked against the user's own hash (no global
 * dummy: this runs in hash threads) and never matches, even when its prefix does. */
static void test_saslprep_rejected_uses_own_hash(void)
{
	password_dummy_deinit();
	TEST_ASSERT_INT_EQ(verify("frankpass\x07", vectors[6].hash), PASSWORD_MISMATCH);
	TEST_ASSERT_INT_EQ(verify("\x07", vectors[5].hash), PASSWORD_MISMATCH);
	TEST_ASSERT_INT_EQ(verify("frankpass", vectors[6].hash), PASSWORD_MATCH);
}

TEST_MAIN(TEST(test_known_vectors_match), TEST(test_wrong_passwords),
	  TEST(test_saslprep_applied), TEST(test_disabled_and_unusable),
	  TEST(test_hash_round_trip), TEST(test_dummy),
	  TEST(test_saslprep_rejected_uses_own_hash))
