/* libFuzzer target for the message engine: parse the input whole and in uneven chunks
 * (the trees must serialise identically), write ENVELOPE, BODY and BODYSTRUCTURE, fetch
 * a few sections, decode every leaf part, and round-trip the cache blob.
 * Not built by the Makefile yet; by hand, e.g.:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. -Isrc/lib \
 *     tests/fuzz/fuzz-mime.c src/lib/mime/ *.c src/lib/alloc.c src/lib/buffer.c \
 *     src/lib/log.c src/lib/imap-quote.c src/lib/imap-utf7.c -lsodium -o fuzz-mime
 *   ./fuzz-mime tests/data/mail/ */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mime/mime-bodystructure.h"
#include "mime/mime-cache.h"
#include "mime/mime-decode.h"
#include "mime/mime-envelope.h"
#include "mime/mime-parser.h"
#include "mime/mime-section.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const sections[] = {
	"", "HEADER", "TEXT", "1", "1.MIME", "2.HEADER", "1.2.TEXT",
	"HEADER.FIELDS (From Subject)", "2.HEADER.FIELDS.NOT (To)", "1.1.1.1",
};

static void fetch_sections(const struct mime_tree *tree, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		struct mime_section sec;
		struct buffer out;
		const char *error;
		if (mime_section_parse(sections[i], strlen(sections[i]), &sec, &error) < 0)
			abort();
		buffer_init(&out, 0);
		(void)mime_section_fetch(tree, data, size, &sec, &out);
		buffer_deinit(&out);
		mime_section_free(&sec);
	}
}

static void check_tree(const struct mime_tree *tree, const uint8_t *data, size_t size)
{
	struct buffer out;
	buffer_init(&out, 0);
	if (mime_envelope_write(tree, mime_tree_root(tree), &out) < 0 ||
	    mime_bodystructure_write(tree, mime_tree_root(tree), false, &out) < 0 ||
	    mime_bodystructure_write(tree, mime_tree_root(tree), true, &out) < 0)
		abort();
	for (uint32_t i = 0; i < tree->part_count; i++) {
		uint64_t dsize;
		buffer_reset(&out);
		(void)mime_decode_part(tree, data, size, &tree->parts[i], &out);
		(void)mime_decode_part_size(tree, data, size, &tree->parts[i], &dsize);
	}
	buffer_deinit(&out);
	fetch_sections(tree, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_tree *whole = mime_parse(data, size), *loaded = NULL;
	struct mime_parser *parser = mime_parser_create();
	size_t step = size % 13 + 1;
	for (size_t pos = 0; pos < size; pos += step)
		mime_parser_feed(parser, data + pos, size - pos < step ? size - pos : step);
	struct mime_tree *chunked = mime_parser_finish(&parser);
	struct buffer a, b;
	buffer_init(&a, 0);
	buffer_init(&b, 0);
	mime_cache_serialize(whole, &a);
	mime_cache_serialize(chunked, &b);
	if (buffer_len(&a) != buffer_len(&b) || memcmp(buffer_data(&a), buffer_data(&b), buffer_len(&a)) != 0)
		abort();
	if (mime_cache_deserialize(buffer_data(&a), buffer_len(&a), &loaded) < 0)
		abort();
	check_tree(whole, data, size);
	/* the input itself as a (hostile) cache blob */
	struct mime_tree *hostile = NULL;
	if (mime_cache_deserialize(data, size, &hostile) == 0) {
		struct buffer out;
		buffer_init(&out, 0);
		mime_bodystructure_write(hostile, mime_tree_root(hostile), true, &out);
		buffer_deinit(&out);
		mime_tree_destroy(&hostile);
	}
	buffer_deinit(&a);
	buffer_deinit(&b);
	mime_tree_destroy(&loaded);
	mime_tree_destroy(&whole);
	mime_tree_destroy(&chunked);
	return 0;
}
