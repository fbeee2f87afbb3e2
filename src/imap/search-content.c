#include "search-content.h"
#include "buffer.h"
#include "mime/mime-charset.h"
#include "mime/mime-date.h"
#include "mime/mime-decode.h"
#include "mime/mime-header.h"
#include "mime/mime-tree.h"
#include "store/store.h"

#include <string.h>
#include <strings.h>

#define SEARCH_MAX_DECODED_BYTES (64 * 1024 * 1024)

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool search_text_contains(const void *hay, size_t len, const char *needle)
{
	const unsigned char *h = hay, *n = (const unsigned char *)needle;
	size_t nlen = strlen(needle);
	if (nlen == 0)
		return true;
	unsigned char first = ascii_lower(n[0]);
	for (size_t i = 0; i + nlen <= len; i++) {
		if (ascii_lower(h[i]) != first)
			continue;
		size_t k = 1;
		while (k < nlen && ascii_lower(h[i + k]) == ascii_lower(n[k]))
			k++;
		if (k == nlen)
			return true;
	}
	return false;
}

static bool field_value_matches(const struct mime_header_field *field, const char *value)
{
	struct buffer decoded;
	buffer_init(&decoded, SEARCH_MAX_DECODED_BYTES);
	mime_header_decode_2047(field->value, field->value_len, &decoded);
	bool match = search_text_contains(buffer_data(&decoded), buffer_len(&decoded), value);
	buffer_deinit(&decoded);
	return match;
}

static bool header_block_matches(const void *data, size_t len, const char *name,
				 const char *value)
{
	struct mime_header_iter iter;
	struct mime_header_field field;
	mime_header_iter_init(&iter, data, len);
	while (mime_header_iter_next(&iter, &field) > 0) {
		if (name != NULL && (field.name_len != strlen(name) ||
				     strncasecmp((const char *)field.name, name, field.name_len) != 0))
			continue;
		if (value[0] == '\0' || field_value_matches(&field, value))
			return true;
	}
	return false;
}

bool search_header_matches(const struct store_content *content, const struct mime_tree *tree,
			   const char *field, const char *value)
{
	const struct mime_part *root = mime_tree_root(tree);
	return header_block_matches(content->data + root->hdr_start,
				    root->body_start - root->hdr_start, field, value);
}

static bool text_part_matches(const struct store_content *content,
			      const struct mime_tree *tree, const struct mime_part *part,
			      const char *value)
{
	struct buffer decoded, utf8;
	bool match = false;
	buffer_init(&decoded, SEARCH_MAX_DECODED_BYTES);
	if (mime_decode_part(tree, content->data, content->size, part, &decoded) ==
	    MIME_DECODE_OK) {
		const char *charset = mime_tree_param(tree, part, "charset");
		buffer_init(&utf8, SEARCH_MAX_DECODED_BYTES);
		if (charset != NULL && mime_charset_is_known(charset) &&
		    mime_charset_to_utf8(charset, buffer_data(&decoded), buffer_len(&decoded),
					 &utf8) == 0)
			match = search_text_contains(buffer_data(&utf8), buffer_len(&utf8), value);
		else
			match = search_text_contains(buffer_data(&decoded), buffer_len(&decoded),
						     value);
		buffer_deinit(&utf8);
	}
	buffer_deinit(&decoded);
	return match;
}

bool search_body_matches(const struct store_content *content, const struct mime_tree *tree,
			 const char *value, bool with_headers)
{
	for (uint32_t i = 0; i < tree->part_count; i++) {
		const struct mime_part *part = mime_tree_part(tree, i);
		if (with_headers && header_block_matches(content->data + part->hdr_start,
							 part->body_start - part->hdr_start,
							 NULL, value))
			return true;
		if ((part->flags & MIME_PART_FLAG_TEXT) != 0 &&
		    text_part_matches(content, tree, part, value))
			return true;
	}
	return false;
}

int search_sent_day(const struct store_content *content, const struct mime_tree *tree,
		    time_t *day_r)
{
	const struct mime_part *root = mime_tree_root(tree);
	struct mime_header_iter iter;
	struct mime_header_field field;
	mime_header_iter_init(&iter, content->data + root->hdr_start,
			      root->body_start - root->hdr_start);
	while (mime_header_iter_next(&iter, &field) > 0) {
		time_t t;
		int tz;
		if (field.name_len != 4 || strncasecmp((const char *)field.name, "Date", 4) != 0)
			continue;
		if (mime_date_parse((const char *)field.value, field.value_len, &t, &tz) < 0)
			return -1;
		t += (time_t)tz * 60;
		*day_r = t - ((t % 86400) + 86400) % 86400;
		return 0;
	}
	return -1;
}
