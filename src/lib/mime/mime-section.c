/* Section specs: see mime-section.h. */
#include "mime-section.h"

#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "mime-header.h"

struct spec {
	const char *s;
	size_t len, pos;
};

static bool take_word(struct spec *sp, const char *word)
{
	size_t n = strlen(word);
	if (sp->len - sp->pos < n || strncasecmp(sp->s + sp->pos, word, n) != 0)
		return false;
	sp->pos += n;
	return true;
}

static int parse_number(struct spec *sp, uint32_t *num_r)
{
	uint64_t num = 0;
	size_t start = sp->pos;
	if (sp->pos >= sp->len || sp->s[sp->pos] < '1' || sp->s[sp->pos] > '9')
		return -1;
	while (sp->pos < sp->len && sp->s[sp->pos] >= '0' && sp->s[sp->pos] <= '9' &&
	       sp->pos - start < 10)
		num = num * 10 + (uint64_t)(sp->s[sp->pos++] - '0');
	if (num > UINT32_MAX - 1)
		return -1;
	*num_r = (uint32_t)num;
	return 0;
}

/* One header-fld-name: atom or quoted string. */
static char *parse_name(struct spec *sp)
{
	struct buffer name;
	buffer_init(&name, 0);
	if (sp->pos < sp->len && sp->s[sp->pos] == '"') {
		for (sp->pos++; sp->pos < sp->len && sp->s[sp->pos] != '"'; sp->pos++) {
			if (sp->s[sp->pos] == '\\' && sp->pos + 1 < sp->len)
				sp->pos++;
			buffer_append_c(&name, (unsigned char)sp->s[sp->pos]);
		}
		if (sp->pos >= sp->len) {
			buffer_deinit(&name);
			return NULL;
		}
		sp->pos++;
	} else {
		while (sp->pos < sp->len && strchr(" ()\"", sp->s[sp->pos]) == NULL &&
		       (unsigned char)sp->s[sp->pos] > 32)
			buffer_append_c(&name, (unsigned char)sp->s[sp->pos++]);
	}
	if (buffer_len(&name) == 0 && (sp->pos == 0 || sp->s[sp->pos - 1] != '"')) {
		buffer_deinit(&name);
		return NULL;
	}
	return buffer_steal_str(&name);
}

static int parse_field_list(struct spec *sp, struct mime_section *sec)
{
	if (!take_word(sp, " ("))
		return -1;
	for (;;) {
		char *name = parse_name(sp);
		if (name == NULL || sec->field_count >= MIME_SECTION_MAX_FIELDS) {
			free(name);
			return -1;
		}
		sec->fields = i_reallocarray(sec->fields, sec->field_count + 1, sizeof(char *));
		sec->fields[sec->field_count++] = name;
		if (take_word(sp, ")"))
			return 0;
		if (!take_word(sp, " "))
			return -1;
	}
}

static int parse_text(struct spec *sp, struct mime_section *sec)
{
	if (take_word(sp, "HEADER.FIELDS.NOT")) {
		sec->kind = MIME_SECTION_HEADER_FIELDS_NOT;
		return parse_field_list(sp, sec);
	}
	if (take_word(sp, "HEADER.FIELDS")) {
		sec->kind = MIME_SECTION_HEADER_FIELDS;
		return parse_field_list(sp, sec);
	}
	if (take_word(sp, "HEADER"))
		sec->kind = MIME_SECTION_HEADER;
	else if (take_word(sp, "TEXT"))
		sec->kind = MIME_SECTION_TEXT;
	else if (sec->path_len > 0 && take_word(sp, "MIME"))
		sec->kind = MIME_SECTION_MIME;
	else
		return -1;
	return 0;
}

int mime_section_parse(const char *spec, size_t len, struct mime_section *sec_r,
		       const char **error_r)
{
	struct spec sp = { spec, len, 0 };
	struct mime_section *sec = i_new0(struct mime_section);
	int ret = 0;
	sec->kind = MIME_SECTION_BODY;
	while (ret == 0 && sp.pos < sp.len && spec[sp.pos] >= '0' && spec[sp.pos] <= '9') {
		if (sec->path_len >= MIME_SECTION_MAX_PATH ||
		    parse_number(&sp, &sec->path[sec->path_len++]) < 0)
			ret = -1;
		else if (sp.pos < sp.len && !take_word(&sp, "."))
			ret = -1;
		else if (sp.pos == sp.len && spec[sp.pos - 1] == '.')
			ret = -1;
	}
	if (ret == 0 && sp.pos < sp.len)
		ret = parse_text(&sp, sec);
	if (ret == 0 && sp.pos != sp.len)
		ret = -1;
	if (ret < 0) {
		mime_section_free(sec);
		free(sec);
		*error_r = "Invalid section";
		return -1;
	}
	*sec_r = *sec;
	free(sec);
	return 0;
}

void mime_section_free(struct mime_section *sec)
{
	for (unsigned int i = 0; i < sec->field_count; i++)
		free(sec->fields[i]);
	i_free(sec->fields);
	sec->field_count = 0;
}

/* Walk the part path; NULL when a number names nothing. */
static const struct mime_part *walk_path(const struct mime_tree *tree,
					 const struct mime_section *sec)
{
	const struct mime_part *node = mime_tree_root(tree);
	bool in_message = true;
	for (unsigned int i = 0; i < sec->path_len && node != NULL; i++) {
		if (!in_message && (node->flags & MIME_PART_FLAG_MESSAGE) != 0) {
			node = mime_tree_part(tree, node->first_child);
			in_message = true;
			if (node == NULL)
				return NULL;
		}
		if ((node->flags & MIME_PART_FLAG_MULTIPART) != 0)
			node = mime_tree_child(tree, node, sec->path[i]);
		else if (!in_message || sec->path[i] != 1)
			return NULL;
		in_message = false;
	}
	return node;
}

int mime_section_resolve(const struct mime_tree *tree, const struct mime_section *sec,
			 uint64_t *start_r, uint64_t *end_r, const struct mime_part **part_r)
{
	const struct mime_part *node = walk_path(tree, sec), *msg = node;
	if (node == NULL)
		return 0;
	bool msg_text = sec->kind != MIME_SECTION_BODY && sec->kind != MIME_SECTION_MIME;
	if (msg_text && sec->path_len > 0) {
		if ((node->flags & MIME_PART_FLAG_MESSAGE) == 0 || node->first_child == MIME_NONE)
			return 0;
		msg = mime_tree_part(tree, node->first_child);
	}
	uint64_t start, end;
	if (sec->kind == MIME_SECTION_BODY && sec->path_len == 0) {
		start = 0;
		end = tree->size;
	} else if (sec->kind == MIME_SECTION_BODY || sec->kind == MIME_SECTION_TEXT) {
		start = msg->body_start;
		end = msg->body_end;
	} else {
		start = msg->hdr_start;
		end = msg->body_start;
	}
	*start_r = start;
	*end_r = end;
	*part_r = sec->kind == MIME_SECTION_BODY || sec->kind == MIME_SECTION_MIME ? node : msg;
	return 1;
}

static bool field_listed(const struct mime_header_field *f, char *const *fields,
			 unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		if (strlen(fields[i]) == f->name_len &&
		    strncasecmp((const char *)f->name, fields[i], f->name_len) == 0)
			return true;
	}
	return false;
}

int mime_section_filter_header(const void *header, size_t len, char *const *fields,
			       unsigned int field_count, bool exclude, struct buffer *out)
{
	struct mime_header_iter iter;
	struct mime_header_field f;
	const unsigned char *h = header;
	size_t mark = buffer_len(out);
	int ret = 0;
	mime_header_iter_init(&iter, header, len);
	while (mime_header_iter_next(&iter, &f) > 0) {
		if (field_listed(&f, fields, field_count) == exclude)
			continue;
		ret |= buffer_append(out, h + f.start, f.end - f.start);
		if (f.end == f.start || h[f.end - 1] != '\n')
			ret |= buffer_append(out, "\r\n", 2);
	}
	if (iter.pos < len && (h[iter.pos] == '\n' || (h[iter.pos] == '\r' &&
						       iter.pos + 1 < len && h[iter.pos + 1] == '\n')))
		ret |= buffer_append(out, h + iter.pos, h[iter.pos] == '\n' ? 1 : 2);
	if (ret != 0) {
		buffer_truncate(out, mark);
		return -1;
	}
	return 0;
}

int mime_section_fetch(const struct mime_tree *tree, const void *msg, size_t msg_len,
		       const struct mime_section *sec, struct buffer *out)
{
	uint64_t start, end;
	const struct mime_part *part;
	if (mime_section_resolve(tree, sec, &start, &end, &part) == 0)
		return 0;
	if (end > msg_len || start > end)
		return 0;
	const unsigned char *p = (const unsigned char *)msg + start;
	if (sec->kind == MIME_SECTION_HEADER_FIELDS || sec->kind == MIME_SECTION_HEADER_FIELDS_NOT)
		return mime_section_filter_header(p, end - start, sec->fields, sec->field_count,
			sec->kind == MIME_SECTION_HEADER_FIELDS_NOT, out) < 0 ? -1 : 1;
	return buffer_append(out, p, end - start) < 0 ? -1 : 1;
}
