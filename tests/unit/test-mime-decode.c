/* Transfer-encoding decoders on known vectors (RFC 4648 section 10 for base64,
 * RFC 2045 6.7 rules for quoted-printable), fed whole and one byte at a time. */
#include "test.h"
#include "mime-test-util.h"
#include "mime/mime-decode.h"
#include "mime/mime-parser.h"

static void decode(enum mime_cte cte, const char *in, size_t len, bool bytewise,
		   struct buffer *out)
{
	struct mime_decoder dec;
	mime_decoder_init(&dec, cte);
	if (!bytewise) {
		mime_decoder_feed(&dec, in, len, out);
	} else {
		for (size_t i = 0; i < len; i++)
			mime_decoder_feed(&dec, in + i, 1, out);
	}
	mime_decoder_finish(&dec, out);
}

static void check(enum mime_cte cte, const char *in, const char *expect, size_t expect_len)
{
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct buffer out;
		buffer_init(&out, 0);
		decode(cte, in, strlen(in), bytewise, &out);
		if (!test_mem_eq(buffer_data(&out), buffer_len(&out), expect, expect_len))
			test_fail(__FILE__, __LINE__, "decode \"%s\" (bytewise %d): \"%s\"", in,
				  bytewise, buffer_str(&out));
		buffer_deinit(&out);
	}
}

#define CHECK(cte, in, lit) check(cte, in, lit, sizeof(lit) - 1)

static void test_base64_vectors(void)
{
	CHECK(MIME_CTE_BASE64, "", "");
	CHECK(MIME_CTE_BASE64, "Zg==", "f");
	CHECK(MIME_CTE_BASE64, "Zm8=", "fo");
	CHECK(MIME_CTE_BASE64, "Zm9v", "foo");
	CHECK(MIME_CTE_BASE64, "Zm9vYg==", "foob");
	CHECK(MIME_CTE_BASE64, "Zm9vYmE=", "fooba");
	CHECK(MIME_CTE_BASE64, "Zm9vYmFy", "foobar");
	CHECK(MIME_CTE_BASE64, "AAEC/w==", "\x00\x01\x02\xff");
	CHECK(MIME_CTE_BASE64, "+/+/", "\xfb\xff\xbf");
}

static void test_base64_lenient(void)
{
	CHECK(MIME_CTE_BASE64, "Zm9v\r\nYmFy\r\n", "foobar");
	CHECK(MIME_CTE_BASE64, " Z m9\tv*!Y mFy", "foobar");
	CHECK(MIME_CTE_BASE64, "Zg", "f");           /* missing padding */
	CHECK(MIME_CTE_BASE64, "Zm8", "fo");
	CHECK(MIME_CTE_BASE64, "Zm9vY", "foo");      /* dangling char dropped */
	CHECK(MIME_CTE_BASE64, "Zg==Zm8=", "ffo");   /* concatenated blocks */
	CHECK(MIME_CTE_BASE64, "====", "");
}

static void test_qp(void)
{
	CHECK(MIME_CTE_QP, "a=3Db", "a=b");
	CHECK(MIME_CTE_QP, "caf=C3=A9", "caf\xc3\xa9");
	CHECK(MIME_CTE_QP, "caf=c3=a9", "caf\xc3\xa9");          /* lower-case hex */
	CHECK(MIME_CTE_QP, "soft=\r\nbreak", "softbreak");
	CHECK(MIME_CTE_QP, "soft=\nbreak", "softbreak");
	CHECK(MIME_CTE_QP, "soft=  \r\nbreak", "softbreak");       /* blanks after "=" */
	CHECK(MIME_CTE_QP, "trail  \r\nx\t\r\n", "trail\r\nx\r\n"); /* trailing blanks go */
	CHECK(MIME_CTE_QP, "mid  dle", "mid  dle");
	CHECK(MIME_CTE_QP, "bare\nlf", "bare\nlf");
	CHECK(MIME_CTE_QP, "bad=G1", "bad=G1");
	CHECK(MIME_CTE_QP, "bad=4", "bad=4");
	CHECK(MIME_CTE_QP, "bad=4x", "bad=4x");
	CHECK(MIME_CTE_QP, "end=", "end");
	CHECK(MIME_CTE_QP, "eq= x", "eq= x");
	CHECK(MIME_CTE_QP, "lone\rcr", "lone\rcr");
	CHECK(MIME_CTE_QP, "=3D=3d", "==");
	CHECK(MIME_CTE_QP, "end  ", "end");
}

static void test_identity_and_names(void)
{
	CHECK(MIME_CTE_8BIT, "a=3D\r\n", "a=3D\r\n");
	TEST_ASSERT_INT_EQ(mime_decode_cte(NULL), MIME_CTE_7BIT);
	TEST_ASSERT_INT_EQ(mime_decode_cte(""), MIME_CTE_7BIT);
	TEST_ASSERT_INT_EQ(mime_decode_cte("BASE64"), MIME_CTE_BASE64);
	TEST_ASSERT_INT_EQ(mime_decode_cte(" Quoted-Printable (comment)"), MIME_CTE_QP);
	TEST_ASSERT_INT_EQ(mime_decode_cte("8Bit"), MIME_CTE_8BIT);
	TEST_ASSERT_INT_EQ(mime_decode_cte("binary"), MIME_CTE_BINARY);
	TEST_ASSERT_INT_EQ(mime_decode_cte("x-uuencode"), MIME_CTE_UNKNOWN);
	TEST_ASSERT_INT_EQ(mime_decode_cte("base64x"), MIME_CTE_UNKNOWN);
}

static void test_bounded_output(void)
{
	struct buffer out;
	struct mime_decoder dec;
	buffer_init(&out, 4);
	mime_decoder_init(&dec, MIME_CTE_BASE64);
	TEST_ASSERT_INT_EQ(mime_decoder_feed(&dec, "Zm9vYmFy", 8, &out), -1);
	TEST_ASSERT(buffer_len(&out) <= 4);
	buffer_deinit(&out);
}

static void test_parts_of_corpus(void)
{
	size_t len;
	unsigned char *msg = mime_test_read("encodings.eml", &len);
	struct mime_tree *tree = mime_parse(msg, len);
	const struct mime_part *root = mime_tree_root(tree);
	static const struct { const char *data; size_t len; } expect[] = {
		{ "Hello, World!", 13 }, { "a=b\r\nsoftbreak", 14 },
		{ "\xc3\xa9t\xc3\xa9", 5 }, { "\x00\x01\xff", 3 },
	};
	for (uint32_t i = 0; i < 4; i++) {
		struct buffer out;
		uint64_t size;
		const struct mime_part *part = mime_tree_child(tree, root, i + 1);
		buffer_init(&out, 0);
		TEST_ASSERT_INT_EQ(mime_decode_part(tree, msg, len, part, &out), MIME_DECODE_OK);
		TEST_ASSERT_MEM_EQ(buffer_data(&out), buffer_len(&out), expect[i].data, expect[i].len);
		TEST_ASSERT_INT_EQ(mime_decode_part_size(tree, msg, len, part, &size), MIME_DECODE_OK);
		TEST_ASSERT_UINT_EQ(size, expect[i].len);
		buffer_deinit(&out);
	}
	struct buffer out;
	uint64_t size;
	buffer_init(&out, 0);
	TEST_ASSERT_INT_EQ(mime_decode_part(tree, msg, len, mime_tree_child(tree, root, 5), &out),
			   MIME_DECODE_UNKNOWN_CTE);
	TEST_ASSERT_INT_EQ(mime_decode_part_size(tree, msg, len, mime_tree_child(tree, root, 5),
						 &size), MIME_DECODE_UNKNOWN_CTE);
	TEST_ASSERT_INT_EQ(buffer_len(&out), 0);
	buffer_deinit(&out);
	mime_tree_destroy(&tree);
	free(msg);
}

static void check_part(const struct mime_tree *tree, const unsigned char *msg, size_t len,
		       const struct mime_part *part, const char *expect, size_t expect_len)
{
	struct buffer out;
	uint64_t size = 0;
	buffer_init(&out, 0);
	TEST_ASSERT_INT_EQ(mime_decode_part(tree, msg, len, part, &out), MIME_DECODE_OK);
	TEST_ASSERT_MEM_EQ(buffer_data(&out), buffer_len(&out), expect, expect_len);
	TEST_ASSERT_INT_EQ(mime_decode_part_size(tree, msg, len, part, &size), MIME_DECODE_OK);
	TEST_ASSERT_UINT_EQ(size, expect_len);
	buffer_deinit(&out);
}

/* RFC 3516 6: BINARY sends textual sections with CRLF line ends whatever the stored
 * form. bare-lf.eml part 1 is "one" LF "two" (the LF before "--b--" belongs to the
 * boundary, RFC 2046 5.1.1): BINARY[1] is "one" CRLF "two", 8 octets. */
static void test_text_parts_get_crlf(void)
{
	size_t len;
	unsigned char *msg = mime_test_read("bare-lf.eml", &len);
	struct mime_tree *tree = mime_parse(msg, len);
	check_part(tree, msg, len, mime_tree_child(tree, mime_tree_root(tree), 1),
		   "one\r\ntwo", 8);
	mime_tree_destroy(&tree);
	free(msg);

	/* A quoted-printable text part (default type) with a bare LF and a CRLF; an
	 * application part and a base64 text part whose data keeps its bare LFs. */
	static const char m[] =
		"Content-Type: multipart/mixed; boundary=x\n\n"
		"--x\nContent-Transfer-Encoding: quoted-printable\n\na=3D\nb\r\nc\n"
		"--x\nContent-Type: application/octet-stream\n\np\nq\n"
		"--x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\nYQpi\n"
		"--x--\n";
	const unsigned char *um = (const unsigned char *)m;
	tree = mime_parse(um, sizeof(m) - 1);
	const struct mime_part *root = mime_tree_root(tree);
	check_part(tree, um, sizeof(m) - 1, mime_tree_child(tree, root, 1), "a=\r\nb\r\nc", 8);
	check_part(tree, um, sizeof(m) - 1, mime_tree_child(tree, root, 2), "p\nq", 3);
	check_part(tree, um, sizeof(m) - 1, mime_tree_child(tree, root, 3), "a\nb", 3);
	mime_tree_destroy(&tree);
}

/* A text body is decoded 64 KiB of input at a time: a CRLF whose CR ends one chunk
 * and whose LF starts the next is not a bare LF (no second CR). */
static void test_crlf_across_chunks(void)
{
	static const char hdr[] = "Content-Type: text/plain\n\n";
	size_t head = sizeof(hdr) - 1, a_count = 64 * 1024 - 1;
	size_t len = head + a_count + 5;
	unsigned char *msg = i_malloc(len);
	memcpy(msg, hdr, head);
	memset(msg + head, 'a', a_count);
	memcpy(msg + head + a_count, "\r\nb\nc", 5);
	char *expect = i_malloc(a_count + 6);
	memset(expect, 'a', a_count);
	memcpy(expect + a_count, "\r\nb\r\nc", 6);
	struct mime_tree *tree = mime_parse(msg, len);
	check_part(tree, msg, len, mime_tree_root(tree), expect, a_count + 6);
	mime_tree_destroy(&tree);
	free(expect);
	free(msg);
}

TEST_MAIN(TEST(test_base64_vectors), TEST(test_base64_lenient), TEST(test_qp),
	  TEST(test_identity_and_names), TEST(test_bounded_output), TEST(test_parts_of_corpus),
	  TEST(test_text_parts_get_crlf), TEST(test_crlf_across_chunks))
