#ifndef PYMAP_MIME_DECODE_H
#define PYMAP_MIME_DECODE_H
/* Content-Transfer-Encoding decoders (RFC 2045 6.7, 6.8): streaming, bounded by the
 * output buffer's max_size. Used by FETCH BINARY/BINARY.SIZE (RFC 3516), by SEARCH
 * BODY/TEXT and by mime-header.c for "B" encoded words.
 *
 * Leniency (bad input is never an error, it decodes as follows):
 *  - base64: characters outside the alphabet (white space, line breaks, garbage) are
 *    skipped; "=" ends the current quantum (2 or 3 pending characters give 1 or 2 bytes)
 *    and decoding goes on after it (concatenated blocks); a single dangling character at
 *    the end is dropped.
 *  - quoted-printable: "=XX" with upper- or lower-case hex decodes; "=" followed by
 *    anything else is kept literally; "=" (optionally followed by blanks) before a line
 *    break is a soft line break; white space at the end of a line is removed (runs longer
 *    than 128 octets are kept, except for their last 128 octets); line breaks are kept as
 *    written (CRLF or bare LF); a lone CR is kept.
 *  - 7bit/8bit/binary: copied as is. */
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "mime-tree.h"

enum mime_cte {
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN,  /* the worker answers NO [UNKNOWN-CTE] */
};

/* Map a Content-Transfer-Encoding value (case-insensitive, surrounding blanks and
 * comments ignored); NULL or empty means 7bit (RFC 2045 6.1). */
enum mime_cte mime_decode_cte(const char *value);

struct mime_decoder {
	enum mime_cte cte;
	uint32_t acc;          /* base64: bits of the current quantum */
	unsigned int nchars;   /* base64: characters in acc */
	unsigned int state;    /* quoted-printable state */
	unsigned char hex1;    /* quoted-printable: first hex digit after "=" */
	unsigned char ws[128]; /* quoted-printable: pending blanks */
	size_t ws_len;
};

/* cte must not be MIME_CTE_UNKNOWN. */
void mime_decoder_init(struct mime_decoder *dec, enum mime_cte cte);
/* Append the decoded form of the next input chunk. 0, or -1 when out is full (out then
 * holds a prefix of the result). */
int mime_decoder_feed(struct mime_decoder *dec, const void *data, size_t len,
		      struct buffer *out);
/* Flush what the end of input completes. 0 or -1 as above. */
int mime_decoder_finish(struct mime_decoder *dec, struct buffer *out);

enum mime_decode_result {
	MIME_DECODE_OK = 0,
	MIME_DECODE_UNKNOWN_CTE = -1,
	MIME_DECODE_TOO_BIG = -2,
};

/* Append the decoded body of a part of msg (msg_len bytes, the message the tree was
 * parsed from). Multipart and message parts are copied raw (their encoding can only be
 * an identity one). A text part in 7bit, 8bit or quoted-printable is line-oriented:
 * its bare LFs come out as CRLF (RFC 3516 6: BINARY sends textual sections with CRLF
 * whatever the stored form); base64 and "binary" data is returned as decoded. */
enum mime_decode_result mime_decode_part(const struct mime_tree *tree, const void *msg,
					 size_t msg_len, const struct mime_part *part,
					 struct buffer *out);
/* The size mime_decode_part() would append, without keeping the data (BINARY.SIZE). */
enum mime_decode_result mime_decode_part_size(const struct mime_tree *tree, const void *msg,
					      size_t msg_len, const struct mime_part *part,
					      uint64_t *size_r);

#endif
