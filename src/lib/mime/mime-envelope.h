#ifndef PYMAP_MIME_ENVELOPE_H
#define PYMAP_MIME_ENVELOPE_H
/* FETCH ENVELOPE (RFC 3501 7.4.2) from a parsed tree, without the message bytes.
 * Called by the IMAP worker and by mime-bodystructure.c (message/rfc822 parts).
 *
 * Fields are the raw (unfolded, trimmed) header values: encoded words are not decoded.
 * Date, Subject, In-Reply-To, Message-ID: NIL when absent, else a string (also when
 * empty). Address lists: NIL when absent or without any address; Sender and Reply-To
 * take the From list when absent or empty. Groups are written with the group syntax
 * (start "(NIL NIL name NIL)", end "(NIL NIL NIL NIL)"). Strings are quoted or literals as
 * imap-quote.h decides. */
#include "buffer.h"
#include "mime-tree.h"

/* Append the envelope of msg: the root part or the child of a message/rfc822 part (a part
 * without envelope data gives all NIL fields). 0, or -1 when out is full (out is then
 * truncated back to its previous length). */
int mime_envelope_write(const struct mime_tree *tree, const struct mime_part *msg,
			struct buffer *out);

#endif
