#ifndef PYMAP_MIME_SECTION_H
#define PYMAP_MIME_SECTION_H
/* IMAP section specs (RFC 3501 6.4.5 BODY[section], RFC 3516 BINARY[section]) resolved
 * against a parsed tree into byte ranges of the message, or a produced header subset for
 * HEADER.FIELDS(.NOT). Called by the IMAP worker for FETCH.
 *
 * Part numbers: the parts of a multipart are numbered from 1; a non-multipart message
 * has one part, 1, its body; a message/rfc822 part's numbers address the parts of the
 * encapsulated message. [n] is the body of part n (for message/rfc822: the whole
 * encapsulated message); [n.MIME] its MIME header; [n.HEADER], [n.TEXT] and
 * [n.HEADER.FIELDS ...] need part n to be message/rfc822 and address the encapsulated
 * message; without a part path they address the message itself. Headers include the
 * blank line that ends them, when there is one. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "mime-tree.h"

#define MIME_SECTION_MAX_PATH 100
#define MIME_SECTION_MAX_FIELDS 100

enum mime_section_kind {
	MIME_SECTION_BODY,               /* [] or [path] */
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
};

struct mime_section {
	uint32_t path[MIME_SECTION_MAX_PATH];
	unsigned int path_len;
	enum mime_section_kind kind;
	char **fields;  /* HEADER.FIELDS(.NOT) names (malloc'ed) */
	unsigned int field_count;
};

/* Parse the text between the brackets, e.g. "1.2.HEADER.FIELDS (From \"To\")"
 * (case-insensitive keywords; names are atoms or quoted strings). 0, or -1 with
 * *error_r (static text) on bad syntax; sec_r is written only on success. */
int mime_section_parse(const char *spec, size_t len, struct mime_section *sec_r,
		       const char **error_r);
void mime_section_free(struct mime_section *sec);

/* Find the bytes of a section: [*start_r, *end_r) in the message and the part it names
 * (the message itself for an empty path). For HEADER.FIELDS(.NOT) the range is the header
 * to filter. 1 when found, 0 when the part does not exist or HEADER/TEXT/MIME do not
 * apply to it (the worker answers an empty string). */
int mime_section_resolve(const struct mime_tree *tree, const struct mime_section *sec,
			 uint64_t *start_r, uint64_t *end_r, const struct mime_part **part_r);

/* Append the section's data to out (HEADER.FIELDS filtered). 1 found, 0 not found
 * (nothing appended), -1 when out is full. */
int mime_section_fetch(const struct mime_tree *tree, const void *msg, size_t msg_len,
		       const struct mime_section *sec, struct buffer *out);

/* Append the fields of a header block whose names are (not) in the list, as written,
 * then its blank line when it has one. A field missing its final line break gets CRLF. */
int mime_section_filter_header(const void *header, size_t len, char *const *fields,
			       unsigned int field_count, bool exclude, struct buffer *out);

#endif
