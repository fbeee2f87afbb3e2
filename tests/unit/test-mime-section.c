/* Section specs (RFC 3501 6.4.5) on the corpus; expected bytes written by hand. */
#include "test.h"
#include "mime-test-util.h"
#include "mime/mime-parser.h"
#include "mime/mime-section.h"

/* Fetch spec from file; expect NULL for "no such section". */
static void check(const char *file, const char *spec, const char *expect)
{
	size_t len;
	const char *error;
	struct mime_section sec;
	unsigned char *msg = mime_test_read(file, &len);
	struct mime_tree *tree = mime_parse(msg, len);
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(mime_section_parse(spec, strlen(spec), &sec, &error), 0);
	int ret = mime_section_fetch(tree, msg, len, &sec, &buf);
	if (expect == NULL) {
		if (ret != 0)
			test_fail(__FILE__, __LINE__, "%s[%s] found: \"%s\"", file, spec, buffer_str(&buf));
	} else if (ret != 1) {
		test_fail(__FILE__, __LINE__, "%s[%s] not found", file, spec);
	} else if (!test_mem_eq(buffer_data(&buf), buffer_len(&buf), expect, strlen(expect))) {
		test_fail(__FILE__, __LINE__, "%s[%s]: \"%s\" != \"%s\"", file, spec,
			  buffer_str(&buf), expect);
	}
	mime_section_free(&sec);
	buffer_deinit(&buf);
	mime_tree_destroy(&tree);
	free(msg);
}

static void test_parse_syntax(void)
{
	struct mime_section sec;
	const char *error;
	const char *bad[] = { "0", "1.", ".1", "1..2", "HEADER.FIELDS", "HEADER.FIELDS ()",
			      "HEADER.FIELDS (A", "MIME", "1.MIMEX", "TEXTX", "1.2.3x",
			      "HEADER.FIELDS (A)x", "4294967296" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mime_section_parse(bad[i], strlen(bad[i]), &sec, &error) == 0) {
			test_fail(__FILE__, __LINE__, "accepted [%s]", bad[i]);
			mime_section_free(&sec);
		}
	}
	const char *spec = "4.2.header.fields.not (From \"X-Y z\")";
	TEST_ASSERT_INT_EQ(mime_section_parse(spec, strlen(spec), &sec, &error), 0);
	TEST_ASSERT_INT_EQ(sec.path_len, 2);
	TEST_ASSERT_INT_EQ(sec.path[0], 4);
	TEST_ASSERT_INT_EQ(sec.path[1], 2);
	TEST_ASSERT_INT_EQ(sec.kind, MIME_SECTION_HEADER_FIELDS_NOT);
	TEST_ASSERT_INT_EQ(sec.field_count, 2);
	TEST_ASSERT_STR_EQ(sec.fields[0], "From");
	TEST_ASSERT_STR_EQ(sec.fields[1], "X-Y z");
	mime_section_free(&sec);
}

#define PLAIN_HEADER "From: Alice Example <alice@example.com>\r\n" \
	"To: bob@example.org, \"Carol, C.\" <carol@example.net>\r\n" \
	"Subject: Hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n" \
	"Message-ID: <a1@example.com>\r\n\r\n"

static void test_plain(void)
{
	check("plain.eml", "", PLAIN_HEADER "Line one\r\nLine two\r\n");
	check("plain.eml", "HEADER", PLAIN_HEADER);
	check("plain.eml", "TEXT", "Line one\r\nLine two\r\n");
	/* a non-multipart message has one part, its body */
	check("plain.eml", "1", "Line one\r\nLine two\r\n");
	check("plain.eml", "2", NULL);
	check("plain.eml", "1.1", NULL);
	check("plain.eml", "1.HEADER", NULL);
	check("plain.eml", "HEADER.FIELDS (subject FROM)",
	      "From: Alice Example <alice@example.com>\r\nSubject: Hello\r\n\r\n");
	check("plain.eml", "HEADER.FIELDS.NOT (From To Date Message-ID)", "Subject: Hello\r\n\r\n");
	check("plain.eml", "HEADER.FIELDS (X-None)", "\r\n");
}

static void test_multipart(void)
{
	check("multipart-mixed.eml", "1", "hello");
	check("multipart-mixed.eml", "1.MIME", "\r\n");
	check("multipart-mixed.eml", "2", "AAEC");
	check("multipart-mixed.eml", "2.MIME",
	      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
	      "Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9.bin\r\n\r\n");
	check("multipart-mixed.eml", "TEXT",
	      "preamble\r\n--XX\r\n\r\nhello\r\n--XX\r\nContent-Type: application/octet-stream\r\n"
	      "Content-Transfer-Encoding: base64\r\n"
	      "Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9.bin\r\n\r\nAAEC\r\n"
	      "--XX--\r\nepilogue\r\n");
	check("multipart-mixed.eml", "3", NULL);
	check("multipart-mixed.eml", "2.HEADER", NULL);
	check("multipart-mixed.eml", "2.1", NULL);
}

#define INNER "From: inner@example.com\r\nSubject: inner\r\n\r\ninner body"
#define MID_HEADER "From: mid@example.com\r\nSubject: mid\r\n" \
	"Content-Type: multipart/mixed; boundary=m\r\n\r\n"
#define MID_TEXT "--m\r\n\r\nmid text\r\n--m\r\nContent-Type: message/rfc822\r\n\r\n" INNER \
	"\r\n--m--"

static void test_nested(void)
{
	check("nested-rfc822.eml", "1", "top");
	check("nested-rfc822.eml", "1.MIME", "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	check("nested-rfc822.eml", "2", MID_HEADER MID_TEXT);
	check("nested-rfc822.eml", "2.MIME", "Content-Type: message/rfc822\r\n\r\n");
	check("nested-rfc822.eml", "2.HEADER", MID_HEADER);
	check("nested-rfc822.eml", "2.TEXT", MID_TEXT);
	check("nested-rfc822.eml", "2.HEADER.FIELDS (Subject)", "Subject: mid\r\n\r\n");
	check("nested-rfc822.eml", "2.1", "mid text");
	check("nested-rfc822.eml", "2.1.MIME", "\r\n");
	check("nested-rfc822.eml", "2.2", INNER);
	check("nested-rfc822.eml", "2.2.MIME", "Content-Type: message/rfc822\r\n\r\n");
	check("nested-rfc822.eml", "2.2.HEADER", "From: inner@example.com\r\nSubject: inner\r\n\r\n");
	check("nested-rfc822.eml", "2.2.TEXT", "inner body");
	check("nested-rfc822.eml", "2.2.1", "inner body");
	check("nested-rfc822.eml", "2.2.1.1", NULL);
	check("nested-rfc822.eml", "2.2.2", NULL);
	check("nested-rfc822.eml", "2.3", NULL);
	check("nested-rfc822.eml", "1.TEXT", NULL);
	check("nested-rfc822.eml", "3", NULL);
}

static void test_broken(void)
{
	check("headers-only.eml", "HEADER", "From: h@example.com\r\nSubject: no body\r\n");
	check("headers-only.eml", "TEXT", "");
	check("headers-only.eml", "HEADER.FIELDS (Subject)", "Subject: no body\r\n");
	check("boundary-in-header.eml", "1.MIME", "Content-Type: text/plain");
	check("boundary-in-header.eml", "1", "");
	check("boundary-in-header.eml", "2", "body");
	check("boundary-in-header.eml", "2.MIME", "X-Note: --q\r\n\r\n");
	check("bare-lf.eml", "1", "one\ntwo");
	check("bare-lf.eml", "HEADER.FIELDS (subject)", "Subject: bare LF\n\n");
	check("garbage-header-line.eml", "HEADER", "Subject: garbage line\r\n");
	check("garbage-header-line.eml", "TEXT", "this is not a header\r\nmore\r\n");
	check("missing-final-boundary.eml", "2", "second\r\n");
	check("no-boundary-param.eml", "1", NULL);
	check("digest.eml", "1.HEADER", "Subject: digested\r\n\r\n");
	check("digest.eml", "1.1", "hi");
}

static void test_folded_field_kept(void)
{
	check("alternative.eml", "HEADER.FIELDS (CONTENT-TYPE)",
	      "Content-Type: multipart/alternative;\r\n boundary=\"alt-1\"\r\n\r\n");
	/* a last field without line break gets one */
	struct buffer buf;
	char *names[] = { "b" };
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(mime_section_filter_header("A: 1\nB: 2", 9, names, 1, false, &buf), 0);
	TEST_ASSERT_STR_EQ(buffer_str(&buf), "B: 2\r\n");
	buffer_deinit(&buf);
}

TEST_MAIN(TEST(test_parse_syntax), TEST(test_plain), TEST(test_multipart), TEST(test_nested),
	  TEST(test_broken), TEST(test_folded_field_kept))
