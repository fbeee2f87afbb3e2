/* Header-field helpers: see mime-header.h. */
#include "mime-header.h"

#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "mime-charset.h"
#include "mime-decode.h"

#define IS_WSP(c) ((c) == ' ' || (c) == '\t')

enum mime_header_line mime_header_classify(const unsigned char *line, size_t len,
					   size_t *name_len_r)
{
	if (len == 0)
		return MIME_HEADER_LINE_BLANK;
	if (IS_WSP(line[0]))
		return MIME_HEADER_LINE_CONTINUATION;
	size_t i = 0;
	while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	size_t name_len = i;
	while (i < len && IS_WSP(line[i]))
		i++;
	if (name_len == 0 || i >= len || line[i] != ':')
		return MIME_HEADER_LINE_GARBAGE;
	*name_len_r = name_len;
	return MIME_HEADER_LINE_FIELD;
}

void mime_header_iter_init(struct mime_header_iter *iter, const void *data, size_t len)
{
	iter->data = data;
	iter->len = len;
	iter->pos = 0;
}

/* End of the line starting at pos (index of LF, or len), and the content length. */
static size_t line_end(const unsigned char *d, size_t len, size_t pos, size_t *content_r)
{
	const unsigned char *lf = memchr(d + pos, '\n', len - pos);
	size_t end = lf == NULL ? len : (size_t)(lf - d);
	size_t content = end - pos;
	if (lf != NULL && content > 0 && d[end - 1] == '\r')
		content--;
	*content_r = content;
	return end;
}

int mime_header_iter_next(struct mime_header_iter *iter, struct mime_header_field *field_r)
{
	const unsigned char *d = iter->data;
	size_t content, name_len, start = iter->pos;
	if (start >= iter->len)
		return 0;
	size_t end = line_end(d, iter->len, start, &content);
	if (mime_header_classify(d + start, content, &name_len) != MIME_HEADER_LINE_FIELD)
		return 0;
	size_t value_start = start + name_len;
	while (d[value_start] != ':')
		value_start++;
	value_start++;
	size_t value_end = start + content;
	size_t next = end < iter->len ? end + 1 : end;
	while (next < iter->len && IS_WSP(d[next])) {
		end = line_end(d, iter->len, next, &content);
		value_end = next + content;
		next = end < iter->len ? end + 1 : end;
	}
	field_r->name = d + start;
	field_r->name_len = name_len;
	field_r->value = d + value_start;
	field_r->value_len = value_end - value_start;
	field_r->start = start;
	field_r->end = next;
	iter->pos = next;
	return 1;
}

void mime_header_unfold(const void *value, size_t len, struct buffer *out)
{
	const unsigned char *v = value;
	size_t start = 0, end = len;
	while (start < end && (IS_WSP(v[start]) || v[start] == '\r' || v[start] == '\n'))
		start++;
	while (end > start && (IS_WSP(v[end - 1]) || v[end - 1] == '\r' || v[end - 1] == '\n'))
		end--;
	for (size_t i = start; i < end; i++) {
		if (v[i] != '\r' && v[i] != '\n' && v[i] != '\0')
			buffer_append_c(out, v[i]);
	}
}

/* ---- structured value tokenizer (RFC 2045 5.1) ---------------------------------- */

struct tok {
	const unsigned char *v;
	size_t len, pos;
};

static void skip_cfws(struct tok *t)
{
	unsigned int depth = 0;
	while (t->pos < t->len) {
		unsigned char c = t->v[t->pos];
		if (depth > 0 && c == '\\' && t->pos + 1 < t->len) {
			t->pos += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !IS_WSP(c) && c != '\r' && c != '\n')
			return;
		t->pos++;
	}
}

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL || c <= 32 || c == 127;
}

static char *read_token(struct tok *t)
{
	size_t start = t->pos;
	while (t->pos < t->len && !is_tspecial(t->v[t->pos]))
		t->pos++;
	return t->pos == start ? NULL : i_strndup((const char *)t->v + start, t->pos - start);
}

static char *read_quoted(struct tok *t)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	t->pos++;  /* opening quote */
	while (t->pos < t->len && t->v[t->pos] != '"') {
		if (t->v[t->pos] == '\\' && t->pos + 1 < t->len)
			t->pos++;
		if (t->v[t->pos] != '\r' && t->v[t->pos] != '\n' && t->v[t->pos] != '\0')
			buffer_append_c(&buf, t->v[t->pos]);
		t->pos++;
	}
	if (t->pos < t->len)
		t->pos++;  /* closing quote; unterminated ones run to the end */
	return buffer_steal_str(&buf);
}

/* Lenient value: quoted-string, token, or raw text up to ';' (trimmed). */
static char *read_value(struct tok *t)
{
	if (t->pos < t->len && t->v[t->pos] == '"')
		return read_quoted(t);
	size_t start = t->pos;
	while (t->pos < t->len && t->v[t->pos] != ';')
		t->pos++;
	size_t end = t->pos;
	while (end > start && (t->v[end - 1] <= 32))
		end--;
	return i_strndup((const char *)t->v + start, end - start);
}

static void skip_to_semicolon(struct tok *t)
{
	while (t->pos < t->len && t->v[t->pos] != ';') {
		if (t->v[t->pos] == '"')
			free(read_quoted(t));
		else
			t->pos++;
	}
}

static void params_add(struct mime_header_params *params, char *name, char *value)
{
	params->items = i_reallocarray(params->items, params->count + 1, sizeof(*params->items));
	params->items[params->count].name = name;
	params->items[params->count].value = value;
	params->count++;
}

static void parse_raw_params(struct tok *t, struct mime_header_params *raw)
{
	for (;;) {
		skip_cfws(t);
		if (t->pos >= t->len || raw->count >= MIME_HEADER_MAX_PARAMS * 2)
			return;
		if (t->v[t->pos] != ';') {
			skip_to_semicolon(t);
			continue;
		}
		t->pos++;
		skip_cfws(t);
		char *name = read_token(t);
		skip_cfws(t);
		if (name == NULL || t->pos >= t->len || t->v[t->pos] != '=') {
			free(name);
			skip_to_semicolon(t);
			continue;
		}
		t->pos++;
		skip_cfws(t);
		params_add(raw, name, read_value(t));
	}
}

void mime_header_params_free(struct mime_header_params *params)
{
	for (unsigned int i = 0; i < params->count; i++) {
		free(params->items[i].name);
		free(params->items[i].value);
	}
	i_free(params->items);
	params->count = 0;
}

/* ---- RFC 2231: parameter value continuations and charsets ---------------------- */

/* Split "name*3*" into base length, section (-1 none) and the extended flag.
 * Returns false for a plain name. */
static bool split_2231(const char *name, size_t *base_len_r, int *section_r, bool *ext_r)
{
	const char *star = strchr(name, '*');
	if (star == NULL)
		return false;
	const char *p = star + 1;
	int section = -1;
	if (*p >= '0' && *p <= '9') {
		section = 0;
		while (*p >= '0' && *p <= '9' && section < 10000)
			section = section * 10 + (*p++ - '0');
	}
	bool ext = section < 0 || *p == '*';  /* "name*" or "name*N*" */
	if (section >= 0 && ext)
		p++;
	if (*p != '\0')
		return false;
	*base_len_r = (size_t)(star - name);
	*section_r = section < 0 ? 0 : section;
	*ext_r = ext;
	return true;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void pct_decode(const char *s, struct buffer *out)
{
	for (; *s != '\0'; s++) {
		int hi, lo;
		if (*s == '%' && (hi = hexval((unsigned char)s[1])) >= 0 &&
		    (lo = hexval((unsigned char)s[2])) >= 0) {
			buffer_append_c(out, (unsigned char)(hi * 16 + lo));
			s += 2;
		} else {
			buffer_append_c(out, (unsigned char)*s);
		}
	}
}

/* Index of the raw 2231 entry for base/section, or -1. */
static int find_section(const struct mime_header_params *raw, const char *base, size_t base_len,
			int section, bool *ext_r)
{
	for (unsigned int i = 0; i < raw->count; i++) {
		size_t blen;
		int sec;
		bool ext;
		if (split_2231(raw->items[i].name, &blen, &sec, &ext) && blen == base_len &&
		    sec == section && strncasecmp(raw->items[i].name, base, blen) == 0) {
			*ext_r = ext;
			return (int)i;
		}
	}
	return -1;
}

/* Join the sections 0..n of base and convert the charset of section 0. */
static char *join_2231(const struct mime_header_params *raw, const char *base, size_t base_len)
{
	struct buffer bytes;
	char *charset = NULL;
	bool ext;
	buffer_init(&bytes, 0);
	for (int sec = 0; sec < MIME_HEADER_MAX_PARAM_SECTIONS; sec++) {
		int i = find_section(raw, base, base_len, sec, &ext);
		if (i < 0)
			break;
		const char *v = raw->items[i].value;
		if (ext && sec == 0) {
			const char *q1 = strchr(v, '\''), *q2 = q1 == NULL ? NULL : strchr(q1 + 1, '\'');
			if (q2 != NULL) {
				charset = i_strndup(v, (size_t)(q1 - v));
				v = q2 + 1;
			}
		}
		if (ext)
			pct_decode(v, &bytes);
		else
			buffer_append_str(&bytes, v);
	}
	struct buffer utf8;
	buffer_init(&utf8, 0);
	if (charset == NULL || *charset == '\0' ||
	    mime_charset_to_utf8(charset, buffer_data(&bytes), buffer_len(&bytes), &utf8) < 0) {
		buffer_reset(&utf8);
		buffer_append(&utf8, buffer_data(&bytes), buffer_len(&bytes));
	}
	free(charset);
	buffer_deinit(&bytes);
	return buffer_steal_str(&utf8);
}

static int find_param(const struct mime_header_params *params, const char *name, size_t len)
{
	for (unsigned int i = 0; i < params->count; i++) {
		if (strlen(params->items[i].name) == len &&
		    strncasecmp(params->items[i].name, name, len) == 0)
			return (int)i;
	}
	return -1;
}

/* Merge the raw list: plain parameters as they are, RFC 2231 ones joined and decoded
 * (an RFC 2231 value replaces a plain one of the same name). */
static void merge_2231(const struct mime_header_params *raw, struct mime_header_params *out)
{
	for (unsigned int i = 0; i < raw->count && out->count < MIME_HEADER_MAX_PARAMS; i++) {
		const char *name = raw->items[i].name;
		size_t base_len;
		int sec;
		bool ext;
		if (!split_2231(name, &base_len, &sec, &ext)) {
			if (find_param(out, name, strlen(name)) < 0)
				params_add(out, i_strdup(name), i_strdup(raw->items[i].value));
			continue;
		}
		if (sec != 0 || find_section(raw, name, base_len, 0, &ext) != (int)i)
			continue;
		int have = find_param(out, name, base_len);
		char *value = join_2231(raw, name, base_len);
		if (have >= 0) {
			free(out->items[have].value);
			out->items[have].value = value;
		} else {
			params_add(out, i_strndup(name, base_len), value);
		}
	}
}

static void params_from_tok(struct tok *t, struct mime_header_params *params_r)
{
	struct mime_header_params raw = { NULL, 0 };
	params_r->items = NULL;
	params_r->count = 0;
	parse_raw_params(t, &raw);
	merge_2231(&raw, params_r);
	mime_header_params_free(&raw);
}

int mime_header_parse_content_type(const void *value, size_t len, char **type_r,
				   char **subtype_r, struct mime_header_params *params_r)
{
	struct tok t = { value, len, 0 };
	skip_cfws(&t);
	char *type = read_token(&t);
	skip_cfws(&t);
	if (type == NULL || t.pos >= t.len || t.v[t.pos] != '/') {
		free(type);
		return -1;
	}
	t.pos++;
	skip_cfws(&t);
	char *subtype = read_token(&t);
	if (subtype == NULL) {
		free(type);
		return -1;
	}
	params_from_tok(&t, params_r);
	*type_r = type;
	*subtype_r = subtype;
	return 0;
}

int mime_header_parse_disposition(const void *value, size_t len, char **token_r,
				  struct mime_header_params *params_r)
{
	struct tok t = { value, len, 0 };
	skip_cfws(&t);
	char *token = read_token(&t);
	if (token == NULL)
		return -1;
	params_from_tok(&t, params_r);
	*token_r = token;
	return 0;
}

/* ---- RFC 2047 encoded words ----------------------------------------------------- */

static void decode_q(const unsigned char *s, size_t len, struct buffer *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
		if (s[i] == '_') {
			buffer_append_c(out, ' ');
		} else if (s[i] == '=' && hi >= 0 && lo >= 0) {
			buffer_append_c(out, (unsigned char)(hi * 16 + lo));
			i += 2;
		} else {
			buffer_append_c(out, s[i]);
		}
	}
}

/* Decode the encoded word at v + pos into out; returns its end, or 0 when it is not a
 * valid encoded word or its charset is unknown (nothing appended then). */
static size_t decode_word(const unsigned char *v, size_t len, size_t pos, struct buffer *out)
{
	size_t p = pos + 2, cs_start = p;
	while (p < len && v[p] != '?' && v[p] > 32 && v[p] < 127)
		p++;
	if (p >= len || v[p] != '?' || p == cs_start || p - cs_start > 64)
		return 0;
	char charset[65];
	memcpy(charset, v + cs_start, p - cs_start);
	charset[p - cs_start] = '\0';
	char *star = strchr(charset, '*');  /* RFC 2231 section 5 language suffix */
	if (star != NULL)
		*star = '\0';
	p++;
	if (p + 1 >= len || v[p + 1] != '?' || ((v[p] | 0x20) != 'q' && (v[p] | 0x20) != 'b'))
		return 0;
	bool is_b = (v[p] | 0x20) == 'b';
	size_t text_start = p + 2;
	for (p = text_start; p + 1 < len && !(v[p] == '?' && v[p + 1] == '='); p++) {
		if (v[p] <= 32 || v[p] >= 127)
			return 0;
	}
	if (p + 1 >= len)
		return 0;
	struct buffer bytes;
	buffer_init(&bytes, 0);
	if (is_b) {
		struct mime_decoder dec;
		mime_decoder_init(&dec, MIME_CTE_BASE64);
		mime_decoder_feed(&dec, v + text_start, p - text_start, &bytes);
		mime_decoder_finish(&dec, &bytes);
	} else {
		decode_q(v + text_start, p - text_start, &bytes);
	}
	size_t mark = buffer_len(out);
	int ret = mime_charset_to_utf8(charset, buffer_data(&bytes), buffer_len(&bytes), out);
	buffer_deinit(&bytes);
	if (ret < 0) {
		buffer_truncate(out, mark);
		return 0;
	}
	return p + 2;
}

static bool at_word(const unsigned char *v, size_t n, size_t i)
{
	return i + 1 < n && v[i] == '=' && v[i + 1] == '?';
}

void mime_header_decode_2047(const void *value, size_t len, struct buffer *out)
{
	struct buffer unfolded;
	buffer_init(&unfolded, 0);
	mime_header_unfold(value, len, &unfolded);
	const unsigned char *v = buffer_data(&unfolded);
	size_t n = buffer_len(&unfolded), i = 0, end;
	bool after_word = false;
	while (i < n) {
		if (after_word && IS_WSP(v[i])) {
			size_t j = i;
			while (j < n && IS_WSP(v[j]))
				j++;
			if (at_word(v, n, j) && (end = decode_word(v, n, j, out)) != 0) {
				i = end;
				continue;
			}
			buffer_append(out, v + i, j - i);
			i = j;
			after_word = false;
		} else if (at_word(v, n, i) && (end = decode_word(v, n, i, out)) != 0) {
			i = end;
			after_word = true;
		} else {
			buffer_append_c(out, v[i++]);
			after_word = false;
		}
	}
	buffer_deinit(&unfolded);
}
