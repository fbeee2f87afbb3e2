/* Transfer-encoding decoders: see mime-decode.h. */
#include "mime-decode.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

enum qp_state { QP_NORMAL, QP_CR, QP_EQ, QP_EQ_HEX1, QP_EQ_WS, QP_EQ_CR };

#define DECODE_CHUNK_BYTES (64 * 1024)

enum mime_cte mime_decode_cte(const char *value)
{
	static const struct { const char *name; enum mime_cte cte; } names[] = {
		{ "7bit", MIME_CTE_7BIT }, { "8bit", MIME_CTE_8BIT },
		{ "binary", MIME_CTE_BINARY }, { "base64", MIME_CTE_BASE64 },
		{ "quoted-printable", MIME_CTE_QP },
	};
	if (value == NULL)
		return MIME_CTE_7BIT;
	while (*value == ' ' || *value == '\t')
		value++;
	size_t len = strcspn(value, " \t(");
	if (len == 0)
		return MIME_CTE_7BIT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == len && strncasecmp(value, names[i].name, len) == 0)
			return names[i].cte;
	}
	return MIME_CTE_UNKNOWN;
}

void mime_decoder_init(struct mime_decoder *dec, enum mime_cte cte)
{
	memset(dec, 0, sizeof(*dec));
	dec->cte = cte;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Emit the bytes a partial quantum of n characters holds (2 -> 1, 3 -> 2). */
static int b64_flush(struct mime_decoder *dec, struct buffer *out)
{
	unsigned char b[2];
	unsigned int n = dec->nchars;
	uint32_t acc = dec->acc;
	dec->acc = 0;
	dec->nchars = 0;
	if (n == 2) {
		b[0] = (unsigned char)(acc >> 4);
		return buffer_append(out, b, 1);
	}
	if (n == 3) {
		b[0] = (unsigned char)(acc >> 10);
		b[1] = (unsigned char)(acc >> 2);
		return buffer_append(out, b, 2);
	}
	return 0;
}

static int b64_feed(struct mime_decoder *dec, const unsigned char *p, size_t len,
		    struct buffer *out)
{
	unsigned char tmp[3 * 256];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(p[i]);
		if (v < 0) {
			if (p[i] == '=' && dec->nchars > 0) {
				if (buffer_append(out, tmp, n) < 0 || b64_flush(dec, out) < 0)
					return -1;
				n = 0;
			}
			continue;
		}
		dec->acc = (dec->acc << 6) | (uint32_t)v;
		if (++dec->nchars == 4) {
			tmp[n++] = (unsigned char)(dec->acc >> 16);
			tmp[n++] = (unsigned char)(dec->acc >> 8);
			tmp[n++] = (unsigned char)dec->acc;
			dec->acc = 0;
			dec->nchars = 0;
			if (n == sizeof(tmp)) {
				if (buffer_append(out, tmp, n) < 0)
					return -1;
				n = 0;
			}
		}
	}
	return buffer_append(out, tmp, n);
}

static int hexdigit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int qp_flush_ws(struct mime_decoder *dec, struct buffer *out)
{
	int ret = buffer_append(out, dec->ws, dec->ws_len);
	dec->ws_len = 0;
	return ret;
}

static int qp_add_ws(struct mime_decoder *dec, unsigned char c, struct buffer *out)
{
	if (dec->ws_len == sizeof(dec->ws) && qp_flush_ws(dec, out) < 0)
		return -1;
	dec->ws[dec->ws_len++] = c;
	return 0;
}

/* One character in the NORMAL state. */
static int qp_normal(struct mime_decoder *dec, unsigned char c, struct buffer *out)
{
	switch (c) {
	case ' ':
	case '\t':
		return qp_add_ws(dec, c, out);
	case '\r':
		dec->state = QP_CR;
		return 0;
	case '\n':
		dec->ws_len = 0;
		return buffer_append_c(out, '\n');
	case '=':
		dec->state = QP_EQ;
		return qp_flush_ws(dec, out);
	default:
		if (qp_flush_ws(dec, out) < 0)
			return -1;
		return buffer_append_c(out, c);
	}
}

static int qp_char(struct mime_decoder *dec, unsigned char c, struct buffer *out)
{
	int h;
	switch ((enum qp_state)dec->state) {
	case QP_NORMAL:
		return qp_normal(dec, c, out);
	case QP_CR:
		dec->state = QP_NORMAL;
		if (c == '\n') {
			dec->ws_len = 0;
			return buffer_append(out, "\r\n", 2);
		}
		if (qp_flush_ws(dec, out) < 0 || buffer_append_c(out, '\r') < 0)
			return -1;
		return qp_normal(dec, c, out);
	case QP_EQ:
		if ((h = hexdigit(c)) >= 0) {
			dec->hex1 = c;
			dec->state = QP_EQ_HEX1;
			return 0;
		}
		dec->state = c == '\r' ? QP_EQ_CR : c == '\n' ? QP_NORMAL :
			c == ' ' || c == '\t' ? QP_EQ_WS : QP_NORMAL;
		if (dec->state == QP_EQ_WS)
			return qp_add_ws(dec, c, out);
		if (dec->state == QP_NORMAL && c != '\n')
			return buffer_append_c(out, '=') < 0 ? -1 : qp_normal(dec, c, out);
		return 0;
	case QP_EQ_HEX1:
		dec->state = QP_NORMAL;
		if ((h = hexdigit(c)) >= 0)
			return buffer_append_c(out, (unsigned char)(hexdigit(dec->hex1) * 16 + h));
		if (buffer_append_c(out, '=') < 0 || buffer_append_c(out, dec->hex1) < 0)
			return -1;
		return qp_normal(dec, c, out);
	case QP_EQ_WS:
		if (c == ' ' || c == '\t')
			return qp_add_ws(dec, c, out);
		dec->state = c == '\r' ? QP_EQ_CR : QP_NORMAL;
		if (c == '\r' || c == '\n') {
			dec->ws_len = 0;
			return 0;
		}
		if (buffer_append_c(out, '=') < 0 || qp_flush_ws(dec, out) < 0)
			return -1;
		return qp_normal(dec, c, out);
	case QP_EQ_CR:
		dec->state = QP_NORMAL;
		return c == '\n' ? 0 : qp_normal(dec, c, out);
	}
	return 0;
}

int mime_decoder_feed(struct mime_decoder *dec, const void *data, size_t len,
		      struct buffer *out)
{
	const unsigned char *p = data;
	switch (dec->cte) {
	case MIME_CTE_BASE64:
		return b64_feed(dec, p, len, out);
	case MIME_CTE_QP:
		for (size_t i = 0; i < len; i++) {
			if (qp_char(dec, p[i], out) < 0)
				return -1;
		}
		return 0;
	default:
		return buffer_append(out, data, len);
	}
}

int mime_decoder_finish(struct mime_decoder *dec, struct buffer *out)
{
	int ret = 0;
	if (dec->cte == MIME_CTE_BASE64) {
		ret = b64_flush(dec, out);
	} else if (dec->cte == MIME_CTE_QP) {
		if (dec->state == QP_CR)
			ret = buffer_append_c(out, '\r');
		else if (dec->state == QP_EQ_HEX1)
			ret = buffer_append_c(out, '=') < 0 ? -1 : buffer_append_c(out, dec->hex1);
		dec->ws_len = 0;
		dec->state = QP_NORMAL;
	}
	return ret;
}

static enum mime_cte part_cte(const struct mime_tree *tree, const struct mime_part *part)
{
	if ((part->flags & (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE)) != 0 &&
	    (part->flags & MIME_PART_FLAG_OPAQUE) == 0)
		return MIME_CTE_BINARY;
	return mime_decode_cte(mime_tree_str(tree, part->fields[MIME_FIELD_ENCODING]));
}

/* RFC 3516 6: a textual, line-oriented section goes out with CRLF line ends whatever
 * the stored form. True for text parts in an encoding whose line breaks are textual
 * (7bit, 8bit, quoted-printable); "binary" and base64 data is left as decoded. */
static bool part_wants_crlf(const struct mime_part *part, enum mime_cte cte)
{
	return (part->flags & MIME_PART_FLAG_TEXT) != 0 &&
	       (cte == MIME_CTE_7BIT || cte == MIME_CTE_8BIT || cte == MIME_CTE_QP);
}

/* Append data, each LF not preceded by CR (*prev_cr carries the last byte's state
 * across calls) written as CRLF. 0, or -1 when out is full. */
static int append_crlf(const unsigned char *data, size_t len, bool *prev_cr,
		       struct buffer *out)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && !(i > 0 ? data[i - 1] == '\r' : *prev_cr)) {
			if (buffer_append(out, data + start, i - start) < 0 ||
			    buffer_append_c(out, '\r') < 0)
				return -1;
			start = i;
		}
	}
	if (len > 0)
		*prev_cr = data[len - 1] == '\r';
	return buffer_append(out, data + start, len - start);
}

/* Bare LFs in data (an LF not preceded by CR), with *prev_cr as in append_crlf(). */
static uint64_t count_bare_lf(const unsigned char *data, size_t len, bool *prev_cr)
{
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && !(i > 0 ? data[i - 1] == '\r' : *prev_cr))
			n++;
	}
	if (len > 0)
		*prev_cr = data[len - 1] == '\r';
	return n;
}

/* Decode the part's body DECODE_CHUNK_BYTES of input at a time: each decoded chunk is
 * appended to out (bare LFs as CRLF when the part wants it), or when out is NULL only
 * counted in *size_r. 0, or -1 when out is full. */
static int decode_body(const struct mime_part *part, enum mime_cte cte, const void *msg,
		       size_t msg_len, struct buffer *out, uint64_t *size_r)
{
	bool crlf = part_wants_crlf(part, cte), prev_cr = false;
	uint64_t pos = part->body_start, end = part->body_end > msg_len ? pos : part->body_end;
	uint64_t total = 0;
	struct mime_decoder dec;
	struct buffer chunk;
	int ret = 0;
	mime_decoder_init(&dec, cte);
	buffer_init(&chunk, 0);
	while (ret == 0 && pos <= end) {
		if (pos < end) {
			size_t n = end - pos > DECODE_CHUNK_BYTES ? DECODE_CHUNK_BYTES :
				   (size_t)(end - pos);
			mime_decoder_feed(&dec, (const unsigned char *)msg + pos, n, &chunk);
			pos += n;
		} else {
			mime_decoder_finish(&dec, &chunk);
			pos++;
		}
		const unsigned char *data = buffer_data(&chunk);
		size_t len = buffer_len(&chunk);
		if (out != NULL)
			ret = crlf ? append_crlf(data, len, &prev_cr, out) :
				     buffer_append(out, data, len);
		else
			total += len + (crlf ? count_bare_lf(data, len, &prev_cr) : 0);
		buffer_reset(&chunk);
	}
	buffer_deinit(&chunk);
	if (size_r != NULL)
		*size_r = total;
	return ret;
}

enum mime_decode_result mime_decode_part(const struct mime_tree *tree, const void *msg,
					 size_t msg_len, const struct mime_part *part,
					 struct buffer *out)
{
	enum mime_cte cte = part_cte(tree, part);
	if (cte == MIME_CTE_UNKNOWN)
		return MIME_DECODE_UNKNOWN_CTE;
	return decode_body(part, cte, msg, msg_len, out, NULL) < 0 ? MIME_DECODE_TOO_BIG :
		MIME_DECODE_OK;
}

enum mime_decode_result mime_decode_part_size(const struct mime_tree *tree, const void *msg,
					      size_t msg_len, const struct mime_part *part,
					      uint64_t *size_r)
{
	enum mime_cte cte = part_cte(tree, part);
	if (cte == MIME_CTE_UNKNOWN)
		return MIME_DECODE_UNKNOWN_CTE;
	(void)decode_body(part, cte, msg, msg_len, NULL, size_r);
	return MIME_DECODE_OK;
}
