#ifndef PYMAP_IMAP_UTF7_H
#define PYMAP_IMAP_UTF7_H
/* Mailbox names in IMAP's modified UTF-7 (RFC 3501 section 5.1.3) <-> UTF-8. Owned by
 * lib; called by the imap worker (LIST/SELECT/... names), imap-quote.c and tools.
 *
 * Modified UTF-7: printable US-ASCII 0x20-0x7e stands for itself except "&", which is
 * written "&-"; everything else is UTF-16 in modified base64 ("," instead of "/", no
 * padding) between "&" and "-".
 *
 * The decoder is strict and returns -1 for anything an RFC-conforming encoder would
 * not produce: bytes outside 0x20-0x7e, a shift that is not terminated by "-", bad
 * base64 characters, an empty shift other than "&-", non-zero leftover bits, a shift
 * whose base64 length leaves a partial 16-bit unit, printable ASCII or "&" encoded in
 * base64, two adjacent shifts ("&..-&..-", must be one), unpaired or reversed UTF-16
 * surrogates, and U+0000. The encoder takes UTF-8 and rejects invalid UTF-8 (overlong
 * forms, surrogates, > U+10FFFF, truncated sequences) and U+0000.
 *
 * Both append to dest and return 0, or -1 leaving dest unchanged (also when dest's
 * max_size would be exceeded). */
#include <stdbool.h>

struct buffer;

int imap_utf7_to_utf8(const char *src, struct buffer *dest);
int imap_utf7_from_utf8(const char *src, struct buffer *dest);
/* True if src is valid (canonical) modified UTF-7. */
bool imap_utf7_is_valid(const char *src);
/* True if src is valid UTF-8 (same rules as the encoder). */
bool imap_utf7_utf8_is_valid(const char *src);

#endif
