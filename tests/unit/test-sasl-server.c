#include "test.h"
#include "sasl-server.h"

#include <stdlib.h>
#include <sodium.h>

static struct sasl_server *start(enum sasl_mech mech, const char *ir,
				 enum sasl_server_result expect, const char **challenge_r)
{
	struct sasl_server *s = sasl_server_create(mech, "imap.example.org");
	const char *error = NULL;
	*challenge_r = NULL;
	TEST_ASSERT_INT_EQ(sasl_server_start(s, ir, challenge_r, &error), expect);
	return s;
}

static enum sasl_server_result input(struct sasl_server *s, const char *line,
				     const char **challenge_r, const char **error_r)
{
	return sasl_server_input(s, line, strlen(line), challenge_r, error_r);
}

static void test_mech_names(void)
{
	enum sasl_mech mech;
	TEST_ASSERT_INT_EQ(sasl_mech_parse("plain", &mech), 0);
	TEST_ASSERT_INT_EQ(mech, SASL_MECH_PLAIN);
	TEST_ASSERT_INT_EQ(sasl_mech_parse("Cram-Md5", &mech), 0);
	TEST_ASSERT_INT_EQ(mech, SASL_MECH_CRAM_MD5);
	TEST_ASSERT_INT_EQ(sasl_mech_parse("XOAUTH2", &mech), -1);
	TEST_ASSERT_STR_EQ(sasl_mech_name(SASL_MECH_LOGIN), "LOGIN");
}

/* RFC 4616 section 4 example: "\0tim\0tanstaaftanstaaf" */
static void test_plain_without_ir(void)
{
	const char *ch, *error;
	struct sasl_server *s = start(SASL_MECH_PLAIN, NULL, SASL_SERVER_CHALLENGE, &ch);
	TEST_ASSERT_STR_EQ(ch, "");   /* empty challenge: "+ " */
	TEST_ASSERT_INT_EQ(input(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", &ch, &error),
			   SASL_SERVER_DONE);
	const struct sasl_credentials *c = sasl_server_credentials(s);
	TEST_ASSERT_STR_EQ(c->authcid, "tim");
	TEST_ASSERT_STR_EQ(c->password, "tanstaaftanstaaf");
	TEST_ASSERT(c->authzid == NULL);
	json_t *req = sasl_server_auth_request(s, "127.0.0.1");
	char *text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	TEST_ASSERT_STR_EQ(text, "{\"mech\":\"PLAIN\",\"op\":\"auth.login\",\"password\":"
			   "\"tanstaaftanstaaf\",\"remote\":\"127.0.0.1\",\"user\":\"tim\"}");
	free(text);
	json_decref(req);
	sasl_server_destroy(&s);
	TEST_ASSERT(s == NULL);
}

/* RFC 4616 example with authzid "Ursel", authcid "Kurt", passwd "xipj3plmq" */
static void test_plain_with_ir_and_authzid(void)
{
	const char *ch;
	struct sasl_server *s = start(SASL_MECH_PLAIN, "VXJzZWwAS3VydAB4aXBqM3BsbXE=",
				      SASL_SERVER_DONE, &ch);
	const struct sasl_credentials *c = sasl_server_credentials(s);
	TEST_ASSERT_STR_EQ(c->authzid, "Ursel");
	TEST_ASSERT_STR_EQ(c->authcid, "Kurt");
	TEST_ASSERT_STR_EQ(c->password, "xipj3plmq");
	json_t *req = sasl_server_auth_request(s, "::1");
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(req, "authzid")), "Ursel");
	json_decref(req);
	sasl_server_destroy(&s);
}

static void test_plain_malformed(void)
{
	const char *ch, *error;
	/* "=" is an empty initial response (RFC 4959): not a valid PLAIN message */
	struct sasl_server *s = start(SASL_MECH_PLAIN, "=", SASL_SERVER_ERROR, &ch);
	sasl_server_destroy(&s);
	static const char *const bad[] = {
		"dGlt",                 /* "tim": no NULs */
		"AHRpbQA=",             /* "\0tim\0": empty password */
		"AAB0YW5z",             /* "\0\0tans": empty authcid */
		"YQB0aW0AcHcAeA==",     /* "a\0tim\0pw\0x": a third NUL */
		"AHRpbQB0YW5z!",        /* not base64 */
		"AHRpbQB0YW5",          /* missing padding */
		"AHRpbQD/",             /* "\0tim\0\xff": not UTF-8 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = start(SASL_MECH_PLAIN, NULL, SASL_SERVER_CHALLENGE, &ch);
		error = NULL;
		if (input(s, bad[i], &ch, &error) != SASL_SERVER_ERROR || error == NULL)
			test_fail(__FILE__, __LINE__, "bad PLAIN response %zu accepted", i);
		sasl_server_destroy(&s);
	}
}

static void test_cancel_and_size(void)
{
	const char *ch, *error;
	struct sasl_server *s = start(SASL_MECH_PLAIN, NULL, SASL_SERVER_CHALLENGE, &ch);
	TEST_ASSERT_INT_EQ(input(s, "*", &ch, &error), SASL_SERVER_CANCELLED);
	sasl_server_destroy(&s);

	size_t len = SASL_SERVER_MAX_RESPONSE_BYTES * 2;
	char *big = malloc(len + 1);
	memset(big, 'A', len);
	big[len] = '\0';
	s = start(SASL_MECH_PLAIN, NULL, SASL_SERVER_CHALLENGE, &ch);
	TEST_ASSERT_INT_EQ(sasl_server_input(s, big, len, &ch, &error), SASL_SERVER_ERROR);
	TEST_ASSERT_STR_EQ(error, "SASL response too long");
	sasl_server_destroy(&s);
	free(big);
}

static void test_login(void)
{
	const char *ch, *error;
	struct sasl_server *s = start(SASL_MECH_LOGIN, NULL, SASL_SERVER_CHALLENGE, &ch);
	TEST_ASSERT_STR_EQ(ch, "VXNlcm5hbWU6");   /* "Username:" */
	TEST_ASSERT_INT_EQ(input(s, "YWxpY2U=", &ch, &error), SASL_SERVER_CHALLENGE);
	TEST_ASSERT_STR_EQ(ch, "UGFzc3dvcmQ6");   /* "Password:" */
	TEST_ASSERT_INT_EQ(input(s, "c2VjcmV0", &ch, &error), SASL_SERVER_DONE);
	const struct sasl_credentials *c = sasl_server_credentials(s);
	TEST_ASSERT_STR_EQ(c->authcid, "alice");
	TEST_ASSERT_STR_EQ(c->password, "secret");
	TEST_ASSERT_INT_EQ(input(s, "eA==", &ch, &error), SASL_SERVER_ERROR);
	sasl_server_destroy(&s);

	/* with an initial response: it is the user name */
	s = start(SASL_MECH_LOGIN, "YWxpY2U=", SASL_SERVER_CHALLENGE, &ch);
	TEST_ASSERT_STR_EQ(ch, "UGFzc3dvcmQ6");
	TEST_ASSERT_INT_EQ(input(s, "", &ch, &error), SASL_SERVER_DONE);  /* empty password */
	TEST_ASSERT_STR_EQ(sasl_server_credentials(s)->password, "");
	sasl_server_destroy(&s);
}

static void test_cram_md5(void)
{
	const char *ch, *error;
	struct sasl_server *s = start(SASL_MECH_CRAM_MD5, "=", SASL_SERVER_ERROR, &ch);
	sasl_server_destroy(&s);

	s = start(SASL_MECH_CRAM_MD5, NULL, SASL_SERVER_CHALLENGE, &ch);
	unsigned char raw[256];
	size_t n;
	TEST_ASSERT_INT_EQ(sodium_base642bin(raw, sizeof(raw) - 1, ch, strlen(ch), NULL, &n,
					     NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	raw[n] = '\0';
	TEST_ASSERT(raw[0] == '<' && raw[n - 1] == '>');
	TEST_ASSERT(strstr((char *)raw, "@imap.example.org>") != NULL);
	/* RFC 2195 example response "tim b913a602c7eda7a495b4e6e7334d3890" */
	TEST_ASSERT_INT_EQ(input(s, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
				 &ch, &error), SASL_SERVER_DONE);
	const struct sasl_credentials *c = sasl_server_credentials(s);
	TEST_ASSERT_STR_EQ(c->authcid, "tim");
	TEST_ASSERT_STR_EQ(c->response, "b913a602c7eda7a495b4e6e7334d3890");
	TEST_ASSERT_STR_EQ(c->challenge, (char *)raw);
	json_t *req = sasl_server_auth_request(s, "127.0.0.1");
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(req, "op")), "auth.cram");
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(req, "challenge")), (char *)raw);
	json_decref(req);
	sasl_server_destroy(&s);

	s = start(SASL_MECH_CRAM_MD5, NULL, SASL_SERVER_CHALLENGE, &ch);
	TEST_ASSERT_INT_EQ(input(s, "dGlt", &ch, &error), SASL_SERVER_ERROR);  /* "tim" */
	sasl_server_destroy(&s);
}

TEST_MAIN(TEST(test_mech_names), TEST(test_plain_without_ir),
	  TEST(test_plain_with_ir_and_authzid), TEST(test_plain_malformed),
	  TEST(test_cancel_and_size), TEST(test_login), TEST(test_cram_md5))
