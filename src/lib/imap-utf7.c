/* Modified UTF-7 (RFC 3501 section 5.1.3) <-> UTF-8; see imap-utf7.h. */
#include "imap-utf7.h"
#include "buffer.h"

#include <stdint.h>
#include <string.h>

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == ',') return 63;
	return -1;
}

static bool is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Decode one strict UTF-8 sequence; returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp_r)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;

	if (c < 0x80) { *cp_r = c; return c == 0 ? 0 : 1; }
	if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
	else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
	else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
	else return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL terminator */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

static int utf8_append(struct buffer *dest, uint32_t cp)
{
	unsigned char out[4];
	size_t len;

	if (cp < 0x80) {
		out[0] = (unsigned char)cp; len = 1;
	} else if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6)); len = 2;
	} else if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12)); len = 3;
	} else {
		out[0] = (unsigned char)(0xf0 | (cp >> 18)); len = 4;
	}
	for (size_t i = 1; i < len; i++)
		out[i] = (unsigned char)(0x80 | ((cp >> (6 * (len - 1 - i))) & 0x3f));
	return buffer_append(dest, out, len);
}

bool imap_utf7_utf8_is_valid(const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	uint32_t cp;
	while (*s != '\0') {
		size_t len = utf8_decode(s, &cp);
		if (len == 0)
			return false;
		s += len;
	}
	return true;
}

/* ---- decoding --------------------------------------------------------------------- */

/* Decode the base64 part of a shift starting at s (after "&"). On success returns the
 * position of the terminating "-" and appends the characters to dest. */
static const unsigned char *decode_shift(const unsigned char *s, struct buffer *dest)
{
	uint32_t bits = 0, high = 0;
	unsigned int nbits = 0;
	bool any = false;

	for (; *s != '-'; s++) {
		int v = b64_value(*s);
		if (v < 0)
			return NULL; /* bad character or end of string */
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1U << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return NULL; /* high surrogate not followed by a low one */
			unit = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return NULL; /* lone low surrogate */
		}
		if (unit == 0 || is_direct(unit))
			return NULL; /* must not be encoded */
		if (utf8_append(dest, unit) < 0)
			return NULL;
		any = true;
	}
	/* leftover: fewer than 6 bits, all zero; no dangling surrogate */
	if (!any || high != 0 || nbits >= 6 || bits != 0)
		return NULL;
	return s;
}

static int utf7_decode(const char *src, struct buffer *dest)
{
	const unsigned char *s = (const unsigned char *)src;
	bool after_shift = false;

	while (*s != '\0') {
		if (!is_direct(*s))
			return -1;
		if (*s != '&') {
			if (buffer_append_c(dest, *s++) < 0)
				return -1;
			after_shift = false;
		} else if (s[1] == '-') {
			if (buffer_append_c(dest, '&') < 0)
				return -1;
			s += 2;
			after_shift = false;
		} else {
			if (after_shift)
				return -1; /* "&AOk-&AOk-" must be one shift */
			s = decode_shift(s + 1, dest);
			if (s == NULL)
				return -1;
			s++;
			after_shift = true;
		}
	}
	return 0;
}

int imap_utf7_to_utf8(const char *src, struct buffer *dest)
{
	size_t orig_len = buffer_len(dest);
	if (utf7_decode(src, dest) < 0) {
		buffer_truncate(dest, orig_len);
		return -1;
	}
	return 0;
}

bool imap_utf7_is_valid(const char *src)
{
	struct buffer tmp;
	buffer_init(&tmp, 0);
	int ret = utf7_decode(src, &tmp);
	buffer_deinit(&tmp);
	return ret == 0;
}

/* ---- encoding --------------------------------------------------------------------- */

struct b64_state {
	uint32_t bits;
	unsigned int nbits;
};

static int b64_add_unit(struct buffer *dest, struct b64_state *st, uint32_t unit)
{
	st->bits = (st->bits << 16) | unit;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		if (buffer_append_c(dest, b64_chars[(st->bits >> st->nbits) & 0x3f]) < 0)
			return -1;
	}
	st->bits &= (1U << st->nbits) - 1;
	return 0;
}

static int b64_flush(struct buffer *dest, struct b64_state *st)
{
	if (st->nbits > 0 &&
	    buffer_append_c(dest, b64_chars[(st->bits << (6 - st->nbits)) & 0x3f]) < 0)
		return -1;
	st->bits = 0;
	st->nbits = 0;
	return buffer_append_c(dest, '-');
}

/* Encode the run of non-direct characters starting at *sp as one shift. */
static int encode_shift(const unsigned char **sp, struct buffer *dest)
{
	const unsigned char *s = *sp;
	struct b64_state st = { 0, 0 };
	uint32_t cp;

	if (buffer_append_c(dest, '&') < 0)
		return -1;
	while (*s != '\0' && !is_direct(*s)) {
		size_t len = utf8_decode(s, &cp);
		if (len == 0)
			return -1;
		s += len;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (b64_add_unit(dest, &st, 0xd800 | (cp >> 10)) < 0 ||
			    b64_add_unit(dest, &st, 0xdc00 | (cp & 0x3ff)) < 0)
				return -1;
		} else if (b64_add_unit(dest, &st, cp) < 0) {
			return -1;
		}
	}
	*sp = s;
	return b64_flush(dest, &st);
}

static int utf7_encode(const char *src, struct buffer *dest)
{
	const unsigned char *s = (const unsigned char *)src;

	while (*s != '\0') {
		if (*s == '&') {
			if (buffer_append(dest, "&-", 2) < 0)
				return -1;
			s++;
		} else if (is_direct(*s)) {
			if (buffer_append_c(dest, *s++) < 0)
				return -1;
		} else if (encode_shift(&s, dest) < 0) {
			return -1;
		}
	}
	return 0;
}

int imap_utf7_from_utf8(const char *src, struct buffer *dest)
{
	size_t orig_len = buffer_len(dest);
	if (utf7_encode(src, dest) < 0) {
		buffer_truncate(dest, orig_len);
		return -1;
	}
	return 0;
}
