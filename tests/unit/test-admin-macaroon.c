/* Macaroon format and admin/login tokens (src/admin/admin-macaroon.c, admin-token.c).
 * Known answers: pymap's test admin token (pymap-inventory.md 7.2/4.3, root key
 * "testadmintoken") and a token computed independently from the pymacaroons spec
 * (HMAC-SHA256 chain) with Python's hmac module. */
#include "test.h"
#include "src/admin/admin-macaroon.h"
#include "src/admin/admin-token.h"

#include <stdlib.h>
#include <string.h>

#define PYMAP_ADMIN_TOKEN \
	"MDAwZWxvY2F0aW9uIAowMDEwaWRlbnRpZmllciAKMDAxNWNpZCByb2xlID0gYWRtaW4KMDAyZnNp" \
	"Z25hdHVyZSDND4TS4f6mH9ty0DHCwqB0IIuk_IqIUFgse0OVeHT7cAo"
#define PY_TOKEN2 \
	"MDAxM2xvY2F0aW9uIHB5bWFwCjAwMTZpZGVudGlmaWVyIGFiYzEyMwowMDE4Y2lkIGF1dGhjaWQg" \
	"PSBhbGljZQowMDE2Y2lkIGF1dGh6aWQgPSBib2IKMDAyOWNpZCB0aW1lIDwgMjAzMC0wMS0wMVQw" \
	"MDowMDowMCswMDowMAowMDJmc2lnbmF0dXJlIHbFKdz92rF-TwGSnJtg2JyNkZ5RC-q5q8lhCJNS" \
	"10C6Cg"

static const unsigned char root[] = "testadmintoken";
#define ROOT_LEN (sizeof(root) - 1)

static void test_pymap_admin_token_parses_and_verifies(void)
{
	struct admin_macaroon *m = NULL;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(admin_macaroon_parse(PYMAP_ADMIN_TOKEN, &m, &error), 0);
	if (m == NULL)
		return;
	TEST_ASSERT_STR_EQ(m->location, "");
	TEST_ASSERT_STR_EQ(m->identifier, "");
	TEST_ASSERT_INT_EQ(m->caveat_count, 1);
	TEST_ASSERT_STR_EQ(m->caveats[0], "role = admin");
	TEST_ASSERT(admin_macaroon_verify_signature(m, root, ROOT_LEN));
	TEST_ASSERT(!admin_macaroon_verify_signature(m, (const unsigned char *)"x", 1));
	char *again = admin_macaroon_serialize(m);
	TEST_ASSERT_STR_EQ(again, PYMAP_ADMIN_TOKEN);
	free(again);
	admin_macaroon_free(&m);
	TEST_ASSERT(m == NULL);
}

static void test_mint_admin_matches_pymap(void)
{
	char *token = admin_token_mint_admin(root, ROOT_LEN, 0);
	TEST_ASSERT_STR_EQ(token, PYMAP_ADMIN_TOKEN);
	free(token);
}

static void test_independent_chain_with_three_caveats(void)
{
	struct admin_macaroon *m = admin_macaroon_create("pymap", "abc123",
		(const unsigned char *)"secretkey", 9);
	admin_macaroon_add_caveat(m, "authcid = alice");
	admin_macaroon_add_caveat(m, "authzid = bob");
	admin_macaroon_add_caveat(m, "time < 2030-01-01T00:00:00+00:00");
	char *token = admin_macaroon_serialize(m);
	TEST_ASSERT_STR_EQ(token, PY_TOKEN2);
	free(token);
	admin_macaroon_free(&m);
	/* and with '=' padding, as some clients send it */
	const char *error;
	TEST_ASSERT_INT_EQ(admin_macaroon_parse(PY_TOKEN2 "==", &m, &error), 0);
	TEST_ASSERT(m != NULL && m->caveat_count == 3);
	TEST_ASSERT(m != NULL && admin_macaroon_verify_signature(m,
		(const unsigned char *)"secretkey", 9));
	admin_macaroon_free(&m);
}

static void test_malformed_tokens(void)
{
	struct admin_macaroon *m = NULL;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(admin_macaroon_parse("", &m, &error), -1);
	TEST_ASSERT_INT_EQ(admin_macaroon_parse("!!!!", &m, &error), -1);
	/* "0010identifier \n" only: no signature */
	TEST_ASSERT_INT_EQ(admin_macaroon_parse("MDAxMGlkZW50aWZpZXIgCg", &m, &error), -1);
	TEST_ASSERT_STR_EQ(error, "no signature");
	/* length field larger than the data */
	TEST_ASSERT_INT_EQ(admin_macaroon_parse("MDBmZmlkZW50aWZpZXIgCg", &m, &error), -1);
	/* the admin token cut short */
	TEST_ASSERT_INT_EQ(admin_macaroon_parse("MDAwZWxvY2F0aW9uIAowMDEwaWRlbnRpZmllciAK"
						"MDAxNWNpZCByb2xlID0gYWRtaW4K", &m, &error), -1);
	TEST_ASSERT(m == NULL);
	char big[ADMIN_MACAROON_MAX_TOKEN_BYTES + 10];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	TEST_ASSERT_INT_EQ(admin_macaroon_parse(big, &m, &error), -1);
}

static void test_verify_admin_token(void)
{
	bool admin = false;
	char *user = (char *)"unset";
	const char *error;
	TEST_ASSERT_INT_EQ(admin_token_verify(PYMAP_ADMIN_TOKEN, root, ROOT_LEN, 1700000000,
					      &admin, &user, &error), 0);
	TEST_ASSERT(admin);
	TEST_ASSERT(user == NULL);
	TEST_ASSERT_INT_EQ(admin_token_verify(PYMAP_ADMIN_TOKEN, (const unsigned char *)"other",
					      5, 1700000000, &admin, &user, &error), -1);
	TEST_ASSERT_STR_EQ(error, "signature mismatch");
}

static void test_login_tokens(void)
{
	unsigned char key[32];
	memset(key, 7, sizeof(key));
	bool admin = true;
	char *user = NULL;
	const char *error;
	char *t = admin_token_mint_login(key, sizeof(key), "alice", NULL, 0);
	TEST_ASSERT_INT_EQ(admin_token_verify(t, key, sizeof(key), 1700000000, &admin, &user,
					      &error), 0);
	TEST_ASSERT(!admin);
	TEST_ASSERT_STR_EQ(user, "alice");
	free(user);
	user = NULL;
	key[0] ^= 1;
	TEST_ASSERT_INT_EQ(admin_token_verify(t, key, sizeof(key), 1700000000, &admin, &user,
					      &error), -1);
	key[0] ^= 1;
	free(t);
	/* authzid and expiry: 2023-11-14T22:13:20Z = 1700000000 */
	t = admin_token_mint_login(key, sizeof(key), "alice", "bob", 1700000000);
	TEST_ASSERT_INT_EQ(admin_token_verify(t, key, sizeof(key), 1699999999, &admin, &user,
					      &error), 0);
	TEST_ASSERT_STR_EQ(user, "bob");
	free(user);
	user = NULL;
	TEST_ASSERT_INT_EQ(admin_token_verify(t, key, sizeof(key), 1700000000, &admin, &user,
					      &error), -1);
	TEST_ASSERT_STR_EQ(error, "token expired");
	free(t);
}

static void test_appended_caveat_breaks_signature(void)
{
	unsigned char key[32] = { 1 };
	struct admin_macaroon *m;
	const char *error;
	bool admin;
	char *user = NULL;
	char *t = admin_token_mint_login(key, sizeof(key), "alice", NULL, 0);
	TEST_ASSERT_INT_EQ(admin_macaroon_parse(t, &m, &error), 0);
	free(t);
	/* swap authcid without re-signing from the root: the chain no longer matches */
	free(m->caveats[0]);
	m->caveats[0] = strdup("authcid = mallory");
	t = admin_macaroon_serialize(m);
	TEST_ASSERT_INT_EQ(admin_token_verify(t, key, sizeof(key), 0, &admin, &user, &error), -1);
	free(t);
	/* a holder may legally add caveats (attenuation); an unknown one is refused */
	free(m->caveats[0]);
	m->caveats[0] = strdup("authcid = alice");
	admin_macaroon_add_caveat(m, "color = blue");
	t = admin_macaroon_serialize(m);
	TEST_ASSERT_INT_EQ(admin_token_verify(t, key, sizeof(key), 0, &admin, &user, &error), -1);
	TEST_ASSERT_STR_EQ(error, "unknown caveat");
	free(t);
	admin_macaroon_free(&m);
}

static void test_time_parsing(void)
{
	time_t t = 0;
	char buf[32];
	TEST_ASSERT_INT_EQ(admin_token_parse_time("2023-11-14T22:13:20", &t), 0);
	TEST_ASSERT_INT_EQ(t, 1700000000);
	TEST_ASSERT_INT_EQ(admin_token_parse_time("2023-11-14T23:13:20.123456+01:00", &t), 0);
	TEST_ASSERT_INT_EQ(t, 1700000000);
	TEST_ASSERT_INT_EQ(admin_token_parse_time("2023-11-14T22:13:20Z", &t), 0);
	TEST_ASSERT_INT_EQ(t, 1700000000);
	TEST_ASSERT_INT_EQ(admin_token_parse_time("2023-11-14 22:13:20", &t), -1);
	TEST_ASSERT_INT_EQ(admin_token_parse_time("2023-13-14T22:13:20", &t), -1);
	TEST_ASSERT_INT_EQ(admin_token_parse_time("2023-11-14T22:13:20+1", &t), -1);
	admin_token_format_time(1700000000, buf);
	TEST_ASSERT_STR_EQ(buf, "2023-11-14T22:13:20+00:00");
}

TEST_MAIN(TEST(test_pymap_admin_token_parses_and_verifies), TEST(test_mint_admin_matches_pymap),
	  TEST(test_independent_chain_with_three_caveats), TEST(test_malformed_tokens),
	  TEST(test_verify_admin_token), TEST(test_login_tokens),
	  TEST(test_appended_caveat_breaks_signature), TEST(test_time_parsing))
