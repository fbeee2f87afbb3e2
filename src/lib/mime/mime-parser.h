#ifndef PYMAP_MIME_PARSER_H
#define PYMAP_MIME_PARSER_H
/* Streaming, bounded RFC 5322 / MIME parser: bytes in, struct mime_tree out (offsets,
 * content fields, raw envelope fields). One pass, linear time, memory bounded by the
 * limits below whatever the input. Called by delivery/APPEND and by the storage
 * backends (once per message; the result is cached with mime-cache.h).
 *
 * Behaviour on broken input (never an error):
 *  - CRLF and bare LF line ends are both accepted, also mixed; NUL bytes are data.
 *  - A header line that is neither a field, a continuation nor blank ends the header;
 *    the body starts at that line (no blank line then).
 *  - A header without a body (no blank line) gives an empty body at the end of the part.
 *  - Duplicate fields: the first one counts.
 *  - A missing or unparsable Content-Type means text/plain; charset=us-ascii (RFC 2045
 *    5.2), or message/rfc822 inside multipart/digest (RFC 2046 5.1.5).
 *  - Boundary lines are recognised in bodies and in part headers, for every enclosing
 *    multipart (innermost first); an outer boundary closes the inner parts (missing final
 *    boundary). At the end of input every open part is closed.
 *  - multipart/message parts are not descended into (MIME_PART_FLAG_OPAQUE) when the
 *    depth limit is reached, when the part count limit is reached, when a multipart has
 *    no usable boundary, or when their transfer encoding is not 7bit/8bit/binary.
 *  - Past MIME_PARSER_MAX_PARTS, new body parts are not created: their bytes stay in the
 *    enclosing multipart's body between its parts.
 *  - Past MIME_PARSER_MAX_HEADER_FIELDS fields in one header the rest are skipped; a field
 *    longer than MIME_PARSER_MAX_FIELD_BYTES is cut there. */
#include <stddef.h>

#include "mime-tree.h"

#define MIME_PARSER_MAX_DEPTH 100
#define MIME_PARSER_MAX_PARTS 10000
#define MIME_PARSER_MAX_HEADER_FIELDS 1000
#define MIME_PARSER_MAX_FIELD_BYTES (64 * 1024)
#define MIME_PARSER_MAX_BOUNDARY_LEN 200

struct mime_parser;

struct mime_parser *mime_parser_create(void);
/* Feed the next chunk of the message (any size, including 0). */
void mime_parser_feed(struct mime_parser *parser, const void *data, size_t size);
/* End of the message: closes open parts, frees the parser (*parser = NULL) and returns
 * the tree (never NULL; the caller destroys it with mime_tree_destroy()). */
struct mime_tree *mime_parser_finish(struct mime_parser **parser);

/* Parse a whole message held in memory (or mapped). */
struct mime_tree *mime_parse(const void *data, size_t size);

#endif
