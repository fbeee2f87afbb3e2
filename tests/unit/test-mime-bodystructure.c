/* ENVELOPE, BODY and BODYSTRUCTURE of the corpus, expected strings written by hand from
 * RFC 3501 7.4.2 (sizes are body octets, text lines counted in the body; the line break
 * before a boundary belongs to the boundary, RFC 2046 5.1.1). */
#include "test.h"
#include "mime-test-util.h"
#include "mime/mime-bodystructure.h"
#include "mime/mime-envelope.h"
#include "mime/mime-parser.h"

#define US_ASCII "(\"charset\" \"us-ascii\")"
#define ALICE "((\"Alice Example\" NIL \"alice\" \"example.com\"))"

static void check(const char *file, const char *envelope, const char *body,
		  const char *bodystructure)
{
	size_t len;
	unsigned char *msg = mime_test_read(file, &len);
	struct mime_tree *tree = mime_parse(msg, len);
	struct buffer buf;
	buffer_init(&buf, 0);
	if (envelope != NULL) {
		TEST_ASSERT_INT_EQ(mime_envelope_write(tree, mime_tree_root(tree), &buf), 0);
		TEST_ASSERT_STR_EQ(buffer_str(&buf), envelope);
		buffer_reset(&buf);
	}
	if (body != NULL) {
		TEST_ASSERT_INT_EQ(mime_bodystructure_write(tree, mime_tree_root(tree), false, &buf), 0);
		TEST_ASSERT_STR_EQ(buffer_str(&buf), body);
		buffer_reset(&buf);
	}
	TEST_ASSERT_INT_EQ(mime_bodystructure_write(tree, mime_tree_root(tree), true, &buf), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), bodystructure);
	buffer_deinit(&buf);
	mime_tree_destroy(&tree);
	free(msg);
}

static void test_plain(void)
{
	check("plain.eml",
	      "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello\" " ALICE " " ALICE " " ALICE
	      " ((NIL NIL \"bob\" \"example.org\")(\"Carol, C.\" NIL \"carol\" \"example.net\"))"
	      " NIL NIL NIL \"<a1@example.com>\")",
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 20 2)",
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 20 2 NIL NIL NIL NIL)");
}

static void test_multipart_mixed(void)
{
	check("multipart-mixed.eml", NULL,
	      "((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 5 1)"
	      "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4) \"mixed\")",
	      "((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)"
	      "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4 NIL "
	      "(\"attachment\" (\"filename\" {9}\r\ncaf\xc3\xa9.bin)) NIL NIL)"
	      " \"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)");
}

#define ENV_SUBJ_FROM(subj, mbox) \
	"(NIL \"" subj "\" ((NIL NIL \"" mbox "\" \"example.com\")) ((NIL NIL \"" mbox \
	"\" \"example.com\")) ((NIL NIL \"" mbox "\" \"example.com\")) NIL NIL NIL NIL NIL)"

static void test_nested_rfc822(void)
{
	check("nested-rfc822.eml", ENV_SUBJ_FROM("outer", "outer"),
	      "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 3 1)"
	      "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 196 " ENV_SUBJ_FROM("mid", "mid")
	      " ((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 8 1)"
	      "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 53 " ENV_SUBJ_FROM("inner", "inner")
	      " (\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 10 1) 4) \"mixed\") 15)"
	      " \"mixed\")",
	      "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL)"
	      "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 196 " ENV_SUBJ_FROM("mid", "mid")
	      " ((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 8 1 NIL NIL NIL NIL)"
	      "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 53 " ENV_SUBJ_FROM("inner", "inner")
	      " (\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) 4"
	      " NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"m\") NIL NIL NIL) 15 NIL NIL NIL NIL)"
	      " \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)");
}

#define JOERG "((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\"))"

static void test_alternative(void)
{
	check("alternative.eml",
	      "(NIL \"=?ISO-8859-1?Q?Gr=FC=DFe?= =?UTF-8?B?YXVz?= Berlin\" " JOERG " " JOERG " "
	      JOERG " NIL NIL NIL NIL NIL)", NULL,
	      "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 23 2"
	      " NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") \"<h1@example.de>\""
	      " \"HTML version\" \"7BIT\" 9 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL (\"de\" \"en\")"
	      " \"http://example.de/x.html\") \"alternative\" (\"boundary\" \"alt-1\") NIL NIL NIL)");
}

static void test_rfc2231(void)
{
	check("rfc2231.eml", NULL, NULL,
	      "(\"application\" \"x-stuff\" (\"title\" \"This is even more ***fun*** isn't it!\")"
	      " NIL NIL \"7BIT\" 6 NIL (\"attachment\" (\"filename\" \"longname.txt\")) NIL NIL)");
}

static void test_encodings(void)
{
	check("encodings.eml", NULL,
	      "((\"text\" \"plain\" NIL NIL NIL \"base64\" 20 1)"
	      "(\"text\" \"plain\" NIL NIL NIL \"quoted-printable\" 21 3)"
	      "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 5 1)"
	      "(\"application\" \"octet-stream\" NIL NIL NIL \"binary\" 3)"
	      "(\"application\" \"octet-stream\" NIL NIL NIL \"x-uuencode\" 11) \"mixed\")",
	      "((\"text\" \"plain\" NIL NIL NIL \"base64\" 20 1 NIL NIL NIL NIL)"
	      "(\"text\" \"plain\" NIL NIL NIL \"quoted-printable\" 21 3 NIL NIL NIL NIL)"
	      "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 5 1 NIL NIL NIL NIL)"
	      "(\"application\" \"octet-stream\" NIL NIL NIL \"binary\" 3 NIL NIL NIL NIL)"
	      "(\"application\" \"octet-stream\" NIL NIL NIL \"x-uuencode\" 11 NIL NIL NIL NIL)"
	      " \"mixed\" (\"boundary\" \"e\") NIL NIL NIL)");
}

#define JOE "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))"

static void test_groups_and_defaults(void)
{
	check("groups.eml",
	      "(NIL \"\" " JOE " " JOE " ((NIL \"@route1,@route2\" \"user\" \"host.test\"))"
	      " ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
	      "(\"Who?\" NIL \"one\" \"y.test\"))"
	      " ((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\""
	      " \"example.net\"))"
	      " ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	      "(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)"
	      "(NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL)",
	      NULL, "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL)");
}

static void test_bare_lf(void)
{
	check("bare-lf.eml", ENV_SUBJ_FROM("bare LF", "lf"), NULL,
	      "((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 7 2 NIL NIL NIL NIL)"
	      " \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
}

static void test_malformed(void)
{
	check("missing-final-boundary.eml", NULL, NULL,
	      "((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)"
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 8 1 NIL NIL NIL NIL)"
	      " \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)");
	check("boundary-in-header.eml", NULL, NULL,
	      "((\"text\" \"plain\" NIL NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)"
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 4 1 NIL NIL NIL NIL)"
	      " \"mixed\" (\"boundary\" \"q\") NIL NIL NIL)");
	check("headers-only.eml",
	      "(NIL \"no body\" ((NIL NIL \"h\" \"example.com\")) ((NIL NIL \"h\" \"example.com\"))"
	      " ((NIL NIL \"h\" \"example.com\")) NIL NIL NIL NIL NIL)", NULL,
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)");
	check("nul-bytes.eml", ENV_SUBJ_FROM("nulbyte", "n"), NULL,
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)");
	check("long-lines.eml", NULL, NULL,
	      "((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 5000 1 NIL NIL NIL NIL)"
	      " \"mixed\" (\"boundary\" \"L\") NIL NIL NIL)");
	check("duplicate-headers.eml",
	      "(NIL \"first\" NIL NIL NIL NIL NIL NIL NIL NIL)", NULL,
	      "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL)");
	check("garbage-content-type.eml", NULL, NULL,
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL)");
	check("garbage-header-line.eml",
	      "(NIL \"garbage line\" NIL NIL NIL NIL NIL NIL NIL NIL)", NULL,
	      "(\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 28 2 NIL NIL NIL NIL)");
	check("no-boundary-param.eml", NULL, NULL,
	      "((\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)"
	      " \"mixed\" NIL NIL NIL NIL)");
	check("digest.eml", NULL, NULL,
	      "((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 23"
	      " (NIL \"digested\" NIL NIL NIL NIL NIL NIL NIL NIL)"
	      " (\"text\" \"plain\" " US_ASCII " NIL NIL \"7BIT\" 2 1 NIL NIL NIL NIL) 3"
	      " NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)");
}

static void test_long_subject_is_literal(void)
{
	size_t len;
	unsigned char *msg = mime_test_read("long-lines.eml", &len);
	struct mime_tree *tree = mime_parse(msg, len);
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(mime_envelope_write(tree, mime_tree_root(tree), &buf), 0);
	TEST_ASSERT(strncmp(buffer_str(&buf), "(NIL {2000}\r\nsss", 16) == 0);
	TEST_ASSERT(strcmp(buffer_str(&buf) + 13 + 2000, " NIL NIL NIL NIL NIL NIL NIL NIL)") == 0);
	buffer_deinit(&buf);
	/* a full output buffer leaves it as it was */
	buffer_init(&buf, 100);
	buffer_append_str(&buf, "* 1 FETCH (");
	TEST_ASSERT_INT_EQ(mime_envelope_write(tree, mime_tree_root(tree), &buf), -1);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "* 1 FETCH (");
	buffer_deinit(&buf);
	mime_tree_destroy(&tree);
	free(msg);
}

TEST_MAIN(TEST(test_plain), TEST(test_multipart_mixed), TEST(test_nested_rfc822),
	  TEST(test_alternative), TEST(test_rfc2231), TEST(test_encodings),
	  TEST(test_groups_and_defaults), TEST(test_bare_lf), TEST(test_malformed),
	  TEST(test_long_subject_is_literal))
