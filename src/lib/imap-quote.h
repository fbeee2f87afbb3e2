#ifndef PYMAP_IMAP_QUOTE_H
#define PYMAP_IMAP_QUOTE_H
/* Writing IMAP strings (RFC 3501 section 4.3) into output buffers. Owned by lib; called
 * by the imap worker's responses, the MIME code (ENVELOPE, BODYSTRUCTURE) and tools.
 *
 * A string is written quoted when that is safe: at most IMAP_QUOTE_MAX_QUOTED_BYTES,
 * no CR, LF, NUL or byte >= 0x80; '"' and '\' are escaped with '\'. Otherwise it is
 * written as a literal "{n}\r\n" followed by the bytes (server-to-client literals
 * need no continuation).
 *
 * All functions append to dest and return 0, or -1 when dest's max_size would be
 * exceeded; on -1 dest is left unchanged. */
#include <stdbool.h>
#include <stddef.h>

struct buffer;

#define IMAP_QUOTE_MAX_QUOTED_BYTES 1024

/* string: quoted or literal. */
int imap_append_string(struct buffer *dest, const char *str);
int imap_append_string_data(struct buffer *dest, const void *data, size_t len);
/* nstring: NIL when str is NULL, else as imap_append_string(). */
int imap_append_nstring(struct buffer *dest, const char *str);
int imap_append_nstring_data(struct buffer *dest, const void *data, size_t len);
/* astring: a bare atom when str is non-empty, all ASTRING-CHARs (no "[" either, to
 * stay safe with parsers that treat brackets specially) and not "NIL" (any case);
 * else as imap_append_string(). */
int imap_append_astring(struct buffer *dest, const char *str);
/* literal8 for binary data (RFC 3516): "~{n}\r\n" + bytes. */
int imap_append_literal8(struct buffer *dest, const void *data, size_t len);
/* A mailbox name given in UTF-8: modified-UTF-7 encoded, then as an astring ("INBOX"
 * stays an atom). -1 also when name is not valid UTF-8 (dest unchanged). */
int imap_append_mailbox(struct buffer *dest, const char *utf8_name);

/* True if c is an ATOM-CHAR (RFC 3501: any CHAR except atom-specials). */
bool imap_is_atom_char(unsigned char c);
/* True if c is an ASTRING-CHAR (ATOM-CHAR or "]"). */
bool imap_is_astring_char(unsigned char c);

#endif
