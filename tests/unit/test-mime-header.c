/* Header helpers: RFC 2047 encoded words (RFC 2047 section 8 examples), RFC 2231
 * parameters (RFC 2231 examples), field iteration/unfolding and address edge cases. */
#include "test.h"
#include "mime/mime-address.h"
#include "mime/mime-header.h"

#include <stdlib.h>

static void check_2047(const char *in, const char *expect)
{
	struct buffer out;
	buffer_init(&out, 0);
	mime_header_decode_2047(in, strlen(in), &out);
	TEST_ASSERT_STR_EQ(buffer_str(&out), expect);
	buffer_deinit(&out);
}

static void test_encoded_words(void)
{
	/* RFC 2047 section 8 */
	check_2047("(=?ISO-8859-1?Q?a?=)", "(a)");
	check_2047("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	check_2047("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	check_2047("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
	check_2047("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
	check_2047("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	check_2047("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
	check_2047("=?ISO-8859-1?Q?Gr=FC=DFe?= =?UTF-8?B?YXVz?= Berlin", "Gr\xc3\xbc\xc3\x9f" "eaus Berlin"); /* adjacent words join */
	check_2047("=?UTF-8*de?Q?J=C3=B6rg?=", "J\xc3\xb6rg");
	/* unknown charset and malformed words stay as written */
	check_2047("=?x-no-such?Q?abc?= x", "=?x-no-such?Q?abc?= x");
	check_2047("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=");
	check_2047("=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?=");
	check_2047("=?UTF-8?Q?abc", "=?UTF-8?Q?abc");
	/* invalid UTF-8 becomes U+FFFD */
	check_2047("=?UTF-8?Q?=FF?=", "\xef\xbf\xbd");
	check_2047("plain \xc3\xa9", "plain \xc3\xa9");
}

static void test_params(void)
{
	struct mime_header_params params;
	char *type, *subtype;
	const char *v = "Message/External-Body (c) ; access-type=URL;\r\n"
		" URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"";
	TEST_ASSERT_INT_EQ(mime_header_parse_content_type(v, strlen(v), &type, &subtype, &params), 0);
	TEST_ASSERT_STR_EQ(type, "Message");
	TEST_ASSERT_STR_EQ(subtype, "External-Body");
	TEST_ASSERT_INT_EQ(params.count, 2);
	TEST_ASSERT_STR_EQ(params.items[0].name, "access-type");
	TEST_ASSERT_STR_EQ(params.items[1].name, "URL");
	TEST_ASSERT_STR_EQ(params.items[1].value, "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
	free(type);
	free(subtype);
	mime_header_params_free(&params);

	v = "attachment; filename=\"old.txt\"; filename*=iso-8859-1'de'%E4.txt; x=\"a\\\"b\"";
	char *token;
	TEST_ASSERT_INT_EQ(mime_header_parse_disposition(v, strlen(v), &token, &params), 0);
	TEST_ASSERT_STR_EQ(token, "attachment");
	TEST_ASSERT_INT_EQ(params.count, 2);
	TEST_ASSERT_STR_EQ(params.items[0].value, "\xc3\xa4.txt");
	TEST_ASSERT_STR_EQ(params.items[1].value, "a\"b");
	free(token);
	mime_header_params_free(&params);

	v = "text/plain; broken; =x; charset=us-ascii; t*=unknown-cs''%41";
	TEST_ASSERT_INT_EQ(mime_header_parse_content_type(v, strlen(v), &type, &subtype, &params), 0);
	TEST_ASSERT_INT_EQ(params.count, 2);
	TEST_ASSERT_STR_EQ(params.items[0].value, "us-ascii");
	TEST_ASSERT_STR_EQ(params.items[1].value, "A");
	free(type);
	free(subtype);
	mime_header_params_free(&params);
	TEST_ASSERT_INT_EQ(mime_header_parse_content_type("text", 4, &type, &subtype, &params), -1);
	TEST_ASSERT_INT_EQ(mime_header_parse_content_type("/x", 2, &type, &subtype, &params), -1);
}

static void test_iter_and_unfold(void)
{
	const char *h = "A: 1\r\nLong: x\r\n\ty\r\n z\r\nB : 2\r\n\r\nbody";
	struct mime_header_iter iter;
	struct mime_header_field f;
	struct buffer buf;
	mime_header_iter_init(&iter, h, strlen(h));
	TEST_ASSERT_INT_EQ(mime_header_iter_next(&iter, &f), 1);
	TEST_ASSERT_MEM_EQ(f.name, f.name_len, "A", 1);
	TEST_ASSERT_INT_EQ(mime_header_iter_next(&iter, &f), 1);
	TEST_ASSERT_MEM_EQ(f.name, f.name_len, "Long", 4);
	TEST_ASSERT_INT_EQ(f.start, 6);
	TEST_ASSERT_INT_EQ(f.end, 6 + 9 + 4 + 4);
	buffer_init(&buf, 0);
	mime_header_unfold(f.value, f.value_len, &buf);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "x\ty z");
	buffer_deinit(&buf);
	TEST_ASSERT_INT_EQ(mime_header_iter_next(&iter, &f), 1);
	TEST_ASSERT_MEM_EQ(f.name, f.name_len, "B", 1);
	TEST_ASSERT_INT_EQ(mime_header_iter_next(&iter, &f), 0);
	size_t n;
	TEST_ASSERT_INT_EQ(mime_header_classify((const unsigned char *)"no colon", 8, &n),
			   MIME_HEADER_LINE_GARBAGE);
	TEST_ASSERT_INT_EQ(mime_header_classify((const unsigned char *)": x", 3, &n),
			   MIME_HEADER_LINE_GARBAGE);
}

static void test_address_edge_cases(void)
{
	struct mime_address_list l;
	const char *v = "John (comment) \"Q.\" Doe <john@(c)example.com>, bare, <>, ,"
		" \"quoted local\"@x.y, @only.host";
	mime_address_parse(v, strlen(v), &l);
	TEST_ASSERT_INT_EQ(l.count, 4);
	TEST_ASSERT_STR_EQ(l.items[0].name, "John Q. Doe");
	TEST_ASSERT_STR_EQ(l.items[0].mailbox, "john");
	TEST_ASSERT_STR_EQ(l.items[0].domain, "example.com");
	TEST_ASSERT_STR_EQ(l.items[1].mailbox, "bare");
	TEST_ASSERT_STR_EQ(l.items[1].domain, MIME_ADDRESS_MISSING_DOMAIN);
	TEST_ASSERT_STR_EQ(l.items[2].mailbox, "\"quoted local\"");
	TEST_ASSERT_STR_EQ(l.items[2].domain, "x.y");
	TEST_ASSERT_STR_EQ(l.items[3].mailbox, "");
	TEST_ASSERT_STR_EQ(l.items[3].domain, "only.host");
	mime_address_list_free(&l);
	v = "g: a@b, : ; x@y";  /* stray ":" inside a group is skipped */
	mime_address_parse(v, strlen(v), &l);
	TEST_ASSERT_INT_EQ(l.count, 4);
	TEST_ASSERT(l.items[2].mailbox == NULL && l.items[2].domain == NULL);
	TEST_ASSERT_STR_EQ(l.items[3].mailbox, "x");
	mime_address_list_free(&l);
	mime_address_parse("<<<>>>,,;;:::\"", 14, &l);
	mime_address_list_free(&l);
}

TEST_MAIN(TEST(test_encoded_words), TEST(test_params), TEST(test_iter_and_unfold),
	  TEST(test_address_edge_cases))
