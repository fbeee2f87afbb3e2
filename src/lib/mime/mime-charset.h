#ifndef PYMAP_MIME_CHARSET_H
#define PYMAP_MIME_CHARSET_H
/* Charset conversion to UTF-8 through iconv, for RFC 2047 encoded words and RFC 2231
 * parameter values (mime-header.c) and for SEARCH on decoded text. */
#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

/* Whether iconv knows the charset (US-ASCII and UTF-8 always count as known). */
bool mime_charset_is_known(const char *charset);
/* Append the UTF-8 form of in to out. Invalid input sequences become U+FFFD.
 * Returns 0, or -1 when the charset is unknown or out is full (out unchanged then only
 * for an unknown charset). */
int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct buffer *out);

#endif
