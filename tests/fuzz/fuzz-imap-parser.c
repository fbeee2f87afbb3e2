/* libFuzzer target for the IMAP command parser: the input is fed to a parser in
 * uneven pieces, every literal is accepted (small) or rejected (large), and errors
 * must leave the parser usable. Built by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "imap-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct imap_parser *parser)
{
	for (int rounds = 0; rounds < 10000; rounds++) {
		int ret = imap_parser_read(parser);
		if (ret == IMAP_PARSE_MORE)
			return;
		if (ret == IMAP_PARSE_LITERAL) {
			const struct imap_parser_literal *lit = imap_parser_get_literal(parser);
			if (lit->size > 4096 || imap_parser_literal_accept(parser) < 0)
				imap_parser_literal_reject(parser);
		} else if (ret == IMAP_PARSE_ERROR) {
			bool fatal;
			imap_parser_get_error(parser, &fatal);
			if (fatal)
				return;
		} else {
			unsigned int count;
			(void)imap_parser_get_args(parser, &count);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buffer input;
	struct imap_parser_settings set = { .max_line_bytes = 4096, .max_literal_mem_bytes = 65536 };
	buffer_init(&input, 0);
	struct imap_parser *parser = imap_parser_create(&input, &set);
	size_t pos = 0, step = 1;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		buffer_append(&input, data + pos, n);
		pos += n;
		step = step * 3 % 17 + 1;
		drain(parser);
	}
	imap_parser_destroy(&parser);
	buffer_deinit(&input);
	return 0;
}
