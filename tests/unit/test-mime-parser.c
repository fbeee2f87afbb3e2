/* The parser: offsets by hand, every corpus file parsed whole and in small chunks to the
 * same tree (compared through the cache blob), mutilated corpus without crashes, and the
 * limits (nesting bomb, 100k parts, long lines) staying bounded and linear. Also the
 * cache blob: round trip, and refusal of truncated/corrupt blobs. */
#include "test.h"
#include "mime-test-util.h"
#include "mime/mime-bodystructure.h"
#include "mime/mime-cache.h"
#include "mime/mime-parser.h"

#include <dirent.h>
#include <time.h>

static const char *const corpus[] = {
	"plain.eml", "multipart-mixed.eml", "nested-rfc822.eml", "alternative.eml",
	"rfc2231.eml", "encodings.eml", "groups.eml", "bare-lf.eml",
	"missing-final-boundary.eml", "boundary-in-header.eml", "headers-only.eml",
	"nul-bytes.eml", "long-lines.eml", "duplicate-headers.eml", "garbage-content-type.eml",
	"garbage-header-line.eml", "no-boundary-param.eml", "digest.eml",
};
#define CORPUS_COUNT (sizeof(corpus) / sizeof(corpus[0]))

static void blob_of(const struct mime_tree *tree, struct buffer *out)
{
	buffer_init(out, 0);
	TEST_ASSERT_INT_EQ(mime_cache_serialize(tree, out), 0);
}

static void test_offsets_multipart(void)
{
	size_t len;
	unsigned char *msg = mime_test_read("multipart-mixed.eml", &len);
	struct mime_tree *tree = mime_parse(msg, len);
	const struct mime_part *root = mime_tree_root(tree);
	/* header: 13 + 16 + 19 + 46 bytes of fields, then the blank line */
	TEST_ASSERT_UINT_EQ(root->hdr_start, 0);
	TEST_ASSERT_UINT_EQ(root->body_start, 13 + 16 + 19 + 46 + 2);
	TEST_ASSERT_UINT_EQ(root->body_end, len);
	TEST_ASSERT_UINT_EQ(tree->size, 293);
	TEST_ASSERT_UINT_EQ(tree->part_count, 3);
	const struct mime_part *p1 = mime_tree_child(tree, root, 1);
	/* "preamble\r\n--XX\r\n" follows the header */
	TEST_ASSERT_UINT_EQ(p1->hdr_start, 96 + 10 + 6);
	TEST_ASSERT_UINT_EQ(p1->body_start, 112 + 2);
	TEST_ASSERT_UINT_EQ(p1->body_end, 114 + 5);
	TEST_ASSERT_UINT_EQ(p1->body_lines, 1);
	TEST_ASSERT((p1->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0);
	const struct mime_part *p2 = mime_tree_child(tree, root, 2);
	TEST_ASSERT_UINT_EQ(p2->hdr_start, 119 + 2 + 6);
	TEST_ASSERT_MEM_EQ(msg + p2->body_start, 6, "AAEC\r\n", 6);
	TEST_ASSERT_UINT_EQ(p2->body_end - p2->body_start, 4);
	TEST_ASSERT(mime_tree_child(tree, root, 3) == NULL);
	TEST_ASSERT_STR_EQ(mime_tree_param(tree, root, "BOUNDARY"), "XX");
	mime_tree_destroy(&tree);
	free(msg);
}

static void test_chunked_equals_whole(void)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64 };
	for (size_t f = 0; f < CORPUS_COUNT; f++) {
		size_t len;
		unsigned char *msg = mime_test_read(corpus[f], &len);
		struct mime_tree *whole = mime_parse(msg, len);
		struct buffer a;
		blob_of(whole, &a);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct mime_parser *p = mime_parser_create();
			for (size_t pos = 0; pos < len; pos += chunks[c])
				mime_parser_feed(p, msg + pos, len - pos < chunks[c] ? len - pos : chunks[c]);
			struct mime_tree *tree = mime_parser_finish(&p);
			TEST_ASSERT(p == NULL);
			struct buffer b;
			blob_of(tree, &b);
			if (!test_mem_eq(buffer_data(&a), buffer_len(&a), buffer_data(&b), buffer_len(&b)))
				test_fail(__FILE__, __LINE__, "%s: chunks of %zu differ", corpus[f], chunks[c]);
			buffer_deinit(&b);
			mime_tree_destroy(&tree);
		}
		buffer_deinit(&a);
		mime_tree_destroy(&whole);
		free(msg);
	}
}

static void parse_and_write(const unsigned char *msg, size_t len)
{
	struct mime_tree *tree = mime_parse(msg, len);
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(mime_bodystructure_write(tree, mime_tree_root(tree), true, &buf), 0);
	for (uint32_t i = 0; i < tree->part_count; i++) {
		const struct mime_part *p = &tree->parts[i];
		TEST_ASSERT(p->hdr_start <= p->body_start && p->body_start <= p->body_end &&
			    p->body_end <= len);
	}
	buffer_deinit(&buf);
	mime_tree_destroy(&tree);
}

/* Every prefix of every corpus file (truncated mail) and byte flips must parse. */
static void test_mutilated_corpus(void)
{
	for (size_t f = 0; f < CORPUS_COUNT; f++) {
		size_t len;
		unsigned char *msg = mime_test_read(corpus[f], &len);
		size_t step = len > 1000 ? 97 : 1;
		for (size_t cut = 0; cut <= len; cut += step)
			parse_and_write(msg, cut);
		for (size_t i = 0; i < len; i += step) {
			unsigned char saved = msg[i];
			msg[i] = saved == '\n' ? 'x' : saved == '-' ? '\n' : '\0';
			parse_and_write(msg, len);
			msg[i] = saved;
		}
		free(msg);
	}
}

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *nesting_bomb(unsigned int levels, size_t *len_r)
{
	struct buffer b;
	buffer_init(&b, 0);
	for (unsigned int i = 0; i < levels; i++)
		buffer_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n--b%u\r\n",
			      i, i);
	buffer_append_str(&b, "\r\nleaf\r\n");
	for (unsigned int i = levels; i-- > 0;)
		buffer_printf(&b, "--b%u--\r\n", i);
	*len_r = buffer_len(&b);
	return (unsigned char *)buffer_steal_str(&b);
}

static void test_nesting_bomb(void)
{
	size_t len;
	unsigned char *msg = nesting_bomb(5000, &len);
	double t0 = now_secs();
	struct mime_tree *tree = mime_parse(msg, len);
	double t = now_secs() - t0;
	TEST_ASSERT((tree->flags & MIME_TREE_FLAG_LIMITED) != 0);
	uint32_t max_depth = 0;
	for (uint32_t i = 0; i < tree->part_count; i++)
		max_depth = tree->parts[i].depth > max_depth ? tree->parts[i].depth : max_depth;
	TEST_ASSERT(max_depth < MIME_PARSER_MAX_DEPTH);
	TEST_ASSERT(tree->part_count <= MIME_PARSER_MAX_DEPTH);
	TEST_ASSERT(t < 2.0);
	struct buffer buf;
	buffer_init(&buf, 0);
	TEST_ASSERT_INT_EQ(mime_bodystructure_write(tree, mime_tree_root(tree), true, &buf), 0);
	buffer_deinit(&buf);
	mime_tree_destroy(&tree);
	free(msg);
}

static unsigned char *many_parts(unsigned int n, size_t *len_r)
{
	struct buffer b;
	buffer_init(&b, 0);
	buffer_append_str(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (unsigned int i = 0; i < n; i++)
		buffer_append_str(&b, "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n");
	buffer_append_str(&b, "--p--\r\n");
	*len_r = buffer_len(&b);
	return (unsigned char *)buffer_steal_str(&b);
}

static double time_parse(const unsigned char *msg, size_t len, uint32_t *parts_r)
{
	double t0 = now_secs();
	struct mime_tree *tree = mime_parse(msg, len);
	double t = now_secs() - t0;
	*parts_r = tree->part_count;
	mime_tree_destroy(&tree);
	return t;
}

static void test_many_parts_linear(void)
{
	size_t len1, len2;
	uint32_t parts1, parts2;
	unsigned char *m1 = many_parts(10000, &len1), *m2 = many_parts(100000, &len2);
	double t1 = time_parse(m1, len1, &parts1), t2 = time_parse(m2, len2, &parts2);
	TEST_ASSERT_UINT_EQ(parts1, MIME_PARSER_MAX_PARTS);
	TEST_ASSERT_UINT_EQ(parts2, MIME_PARSER_MAX_PARTS);
	/* ten times the input must not cost much more than ten times the time */
	if (t2 > 30 * t1 + 0.05)
		test_fail(__FILE__, __LINE__, "not linear: %.3fs vs %.3fs", t2, t1);
	free(m1);
	free(m2);
}

static void test_huge_header_line_bounded(void)
{
	size_t len = 4 * 1024 * 1024;
	unsigned char *msg = i_malloc(len);
	memcpy(msg, "Subject: ", 9);
	memset(msg + 9, 'a', len - 9);
	struct mime_tree *tree = mime_parse(msg, len);
	const struct mime_envelope_raw *env = &tree->envelopes[0];
	TEST_ASSERT_UINT_EQ(env->fields[MIME_ENV_SUBJECT].len, MIME_PARSER_MAX_FIELD_BYTES - 9);
	TEST_ASSERT(buffer_len(&tree->arena) < 2 * MIME_PARSER_MAX_FIELD_BYTES);
	TEST_ASSERT_UINT_EQ(mime_tree_root(tree)->body_end, len);
	mime_tree_destroy(&tree);
	free(msg);
}

static void test_cache_round_trip(void)
{
	for (size_t f = 0; f < CORPUS_COUNT; f++) {
		size_t len;
		unsigned char *msg = mime_test_read(corpus[f], &len);
		struct mime_tree *tree = mime_parse(msg, len), *loaded = NULL;
		struct buffer a, b, s1, s2;
		blob_of(tree, &a);
		TEST_ASSERT_INT_EQ(mime_cache_deserialize(buffer_data(&a), buffer_len(&a), &loaded), 0);
		if (loaded == NULL) {
			test_fail(__FILE__, __LINE__, "%s: blob refused", corpus[f]);
			continue;
		}
		blob_of(loaded, &b);
		TEST_ASSERT_MEM_EQ(buffer_data(&a), buffer_len(&a), buffer_data(&b), buffer_len(&b));
		buffer_init(&s1, 0);
		buffer_init(&s2, 0);
		mime_bodystructure_write(tree, mime_tree_root(tree), true, &s1);
		mime_bodystructure_write(loaded, mime_tree_root(loaded), true, &s2);
		TEST_ASSERT_STR_EQ(buffer_str(&s1), buffer_str(&s2));
		/* every truncation and many single-byte changes are refused or load safely */
		for (size_t cut = 0; cut < buffer_len(&a); cut++) {
			struct mime_tree *t = NULL;
			TEST_ASSERT_INT_EQ(mime_cache_deserialize(buffer_data(&a), cut, &t), -1);
		}
		for (size_t i = 0; i < buffer_len(&a); i += 3) {
			struct mime_tree *t = NULL;
			a.data[a.skip + i] ^= 0x41;
			if (mime_cache_deserialize(buffer_data(&a), buffer_len(&a), &t) == 0) {
				buffer_reset(&s2);
				mime_bodystructure_write(t, mime_tree_root(t), true, &s2);
				mime_tree_destroy(&t);
			}
			a.data[a.skip + i] ^= 0x41;
		}
		buffer_deinit(&a);
		buffer_deinit(&b);
		buffer_deinit(&s1);
		buffer_deinit(&s2);
		mime_tree_destroy(&tree);
		mime_tree_destroy(&loaded);
		free(msg);
	}
	struct mime_tree *t = NULL;
	TEST_ASSERT_INT_EQ(mime_cache_deserialize("PMC\x02", 4, &t), -1);
}

TEST_MAIN(TEST(test_offsets_multipart), TEST(test_chunked_equals_whole),
	  TEST(test_mutilated_corpus), TEST(test_nesting_bomb), TEST(test_many_parts_linear),
	  TEST(test_huge_header_line_bounded), TEST(test_cache_round_trip))
