#ifndef PYMAP_MIME_HEADER_H
#define PYMAP_MIME_HEADER_H
/* Header-field helpers (RFC 5322 2.2, RFC 2045 5.1, RFC 2231, RFC 2047): classify header
 * lines, iterate the fields of a header block, unfold values, parse "type/subtype;
 * params" and "token; params" values and decode encoded words to UTF-8.
 * Used by mime-parser.c (while parsing), mime-section.c (HEADER.FIELDS) and by the IMAP
 * worker for SEARCH HEADER/SUBJECT/FROM... */
#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

/* Limits for parameter lists (RFC 2231 sections included). */
#define MIME_HEADER_MAX_PARAMS 64
#define MIME_HEADER_MAX_PARAM_SECTIONS 100

enum mime_header_line {
	MIME_HEADER_LINE_BLANK,        /* empty line: end of the header */
	MIME_HEADER_LINE_CONTINUATION, /* starts with SP or HTAB: folded */
	MIME_HEADER_LINE_FIELD,        /* "name:" with a valid field name */
	MIME_HEADER_LINE_GARBAGE,      /* anything else: ends the header */
};

/* Classify one header line (without its line break). For a field, *name_len_r is the
 * length of the name (trailing WSP before the colon excluded, obsolete syntax). */
enum mime_header_line mime_header_classify(const unsigned char *line, size_t len,
					   size_t *name_len_r);

struct mime_header_field {
	const unsigned char *name;
	size_t name_len;
	const unsigned char *value;  /* raw, still folded, after the colon */
	size_t value_len;            /* without the final line break */
	size_t start, end;           /* field bytes in the block incl. the final line break */
};

struct mime_header_iter {
	const unsigned char *data;
	size_t len, pos;
};

/* Iterate the fields of a header block; stops at a blank or garbage line. */
void mime_header_iter_init(struct mime_header_iter *iter, const void *data, size_t len);
/* Returns 1 with *field_r filled, 0 at the end. */
int mime_header_iter_next(struct mime_header_iter *iter, struct mime_header_field *field_r);

/* Append the unfolded value: CR and LF removed (RFC 5322 2.2.3), NUL bytes dropped,
 * leading and trailing whitespace trimmed. */
void mime_header_unfold(const void *value, size_t len, struct buffer *out);

struct mime_header_param {
	char *name;   /* without RFC 2231 section/extension marks */
	char *value;  /* UTF-8 when RFC 2231 encoded with a known charset, else as is */
};

struct mime_header_params {
	struct mime_header_param *items;
	unsigned int count;
};

/* Parse "type/subtype *(; param)" (Content-Type). Returns 0 with the lower-case-preserved
 * type and subtype copied (malloc'ed, caller frees), or -1 when the value has no valid
 * type/subtype (RFC 2045 5.2: treat as text/plain). Parameters are parsed leniently:
 * broken ones are skipped. */
int mime_header_parse_content_type(const void *value, size_t len, char **type_r,
				   char **subtype_r, struct mime_header_params *params_r);
/* Parse "token *(; param)" (Content-Disposition). -1 when there is no token. */
int mime_header_parse_disposition(const void *value, size_t len, char **token_r,
				  struct mime_header_params *params_r);
void mime_header_params_free(struct mime_header_params *params);

/* Append value with RFC 2047 encoded words decoded to UTF-8; white space between two
 * encoded words is dropped; unknown charsets and malformed words are kept as written;
 * the rest is copied (unfolded). Never fails; out's limit silently truncates. */
void mime_header_decode_2047(const void *value, size_t len, struct buffer *out);

#endif
