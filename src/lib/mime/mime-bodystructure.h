#ifndef PYMAP_MIME_BODYSTRUCTURE_H
#define PYMAP_MIME_BODYSTRUCTURE_H
/* FETCH BODY and BODYSTRUCTURE (RFC 3501 7.4.2, formal syntax "body") from a parsed tree,
 * without the message bytes. Called by the IMAP worker.
 *
 *  - Sizes are body octets in their transfer encoding; text and message/rfc822 parts add
 *    their body's line count (mime-tree.h). Multipart children are written one after the
 *    other without spaces, then the subtype.
 *  - Type, subtype, encoding and parameters are written as found in the header (case
 *    kept); defaults: "text" "plain" ("charset" "us-ascii") and encoding "7BIT".
 *    RFC 2231 parameters are written joined and decoded to UTF-8 under their plain name.
 *  - Extension data (BODYSTRUCTURE only): single parts md5, disposition, language,
 *    location; multiparts parameters, disposition, language, location. Language is a
 *    string for one tag and a list for several.
 *  - A multipart without parsed children (no boundary, limits) is written with one empty
 *    text/plain part, since the grammar needs at least one; a message/rfc822 part without
 *    a parsed message gets an all-NIL envelope and an empty text/plain body. */
#include <stdbool.h>

#include "buffer.h"
#include "mime-tree.h"

/* Append the body structure of part (normally mime_tree_root()). extended: BODYSTRUCTURE,
 * else BODY. 0, or -1 when out is full (out truncated back). */
int mime_bodystructure_write(const struct mime_tree *tree, const struct mime_part *part,
			     bool extended, struct buffer *out);

#endif
