/* Writing IMAP strings; see imap-quote.h. */
#include "imap-quote.h"
#include "imap-utf7.h"
#include "buffer.h"

#include <string.h>
#include <strings.h>

bool imap_is_atom_char(unsigned char c)
{
	/* atom-specials: ( ) { SP CTL % * " \ ] */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

bool imap_is_astring_char(unsigned char c)
{
	return c == ']' || imap_is_atom_char(c);
}

static bool can_quote(const unsigned char *data, size_t len)
{
	if (len > IMAP_QUOTE_MAX_QUOTED_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\0' || data[i] == '\r' || data[i] == '\n' || data[i] >= 0x80)
			return false;
	}
	return true;
}

/* One reservation of the exact size instead of an append per byte: ENVELOPE and
 * BODYSTRUCTURE are mostly quoted strings. */
static int append_quoted(struct buffer *dest, const unsigned char *data, size_t len)
{
	size_t escapes = 0, o = 0;
	for (size_t i = 0; i < len; i++)
		escapes += data[i] == '"' || data[i] == '\\';
	unsigned char *out = buffer_reserve(dest, len + escapes + 2);
	if (out == NULL)
		return -1;
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '"' || data[i] == '\\')
			out[o++] = '\\';
		out[o++] = data[i];
	}
	out[o++] = '"';
	buffer_commit(dest, o);
	return 0;
}

static int append_literal(struct buffer *dest, const char *prefix,
			  const void *data, size_t len)
{
	if (buffer_printf(dest, "%s{%zu}\r\n", prefix, len) < 0)
		return -1;
	return buffer_append(dest, data, len);
}

/* Run fn; on failure restore dest's length. */
static int finish(struct buffer *dest, size_t orig_len, int ret)
{
	if (ret < 0)
		buffer_truncate(dest, orig_len);
	return ret;
}

int imap_append_string_data(struct buffer *dest, const void *data, size_t len)
{
	size_t orig_len = buffer_len(dest);
	int ret = can_quote(data, len) ? append_quoted(dest, data, len) :
		append_literal(dest, "", data, len);
	return finish(dest, orig_len, ret);
}

int imap_append_string(struct buffer *dest, const char *str)
{
	return imap_append_string_data(dest, str, strlen(str));
}

int imap_append_nstring(struct buffer *dest, const char *str)
{
	if (str == NULL)
		return buffer_append(dest, "NIL", 3);
	return imap_append_string(dest, str);
}

int imap_append_nstring_data(struct buffer *dest, const void *data, size_t len)
{
	if (data == NULL)
		return buffer_append(dest, "NIL", 3);
	return imap_append_string_data(dest, data, len);
}

static bool can_be_atom(const char *str)
{
	if (*str == '\0' || strcasecmp(str, "NIL") == 0)
		return false;
	for (const unsigned char *s = (const unsigned char *)str; *s != '\0'; s++) {
		if (!imap_is_astring_char(*s) || *s == '[')
			return false;
	}
	return true;
}

int imap_append_astring(struct buffer *dest, const char *str)
{
	if (can_be_atom(str))
		return buffer_append_str(dest, str);
	return imap_append_string(dest, str);
}

int imap_append_literal8(struct buffer *dest, const void *data, size_t len)
{
	size_t orig_len = buffer_len(dest);
	return finish(dest, orig_len, append_literal(dest, "~", data, len));
}

int imap_append_mailbox(struct buffer *dest, const char *utf8_name)
{
	struct buffer tmp;
	int ret;

	buffer_init(&tmp, 0);
	ret = imap_utf7_from_utf8(utf8_name, &tmp);
	if (ret == 0)
		ret = imap_append_astring(dest, buffer_str(&tmp));
	buffer_deinit(&tmp);
	return ret;
}
